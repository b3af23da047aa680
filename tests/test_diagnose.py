"""tools/diagnose_branches.py: per-layer dead units, and reading a checkpoint whose config
predates today's settings (config_base.from_saved)."""

from __future__ import annotations

import importlib.util
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from msfml_jax import config_base
from msfml_jax.data import batching, cache
from msfml_jax.models import msfml

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _load(path: pathlib.Path):
  spec = importlib.util.spec_from_file_location(path.stem, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_layer_report_finds_a_killed_layer(tmp_path):
  tool = _load(ROOT / "tools" / "diagnose_branches.py")
  config = _load(ROOT / "configs" / "tacred_fixture.py").get_config()
  config.cache_dir = str(tmp_path / "cache")
  dataset = cache.load_dataset(config, progress=False)
  model = msfml.create_model(config, dataset)
  batches = list(batching.eval_batches(dataset.splits["train"], config))
  params = model.init({"params": jax.random.key(0), "dropout": jax.random.key(1)},
                      batches[0], train=False)["params"]
  alive = tool.layer_report(model, params, batches)
  assert {"mscnn", "mscnn/combine", "msgcn", "msgcn/combine", "msgcn/original_0"} <= set(alive)
  assert all(0.0 <= s["dead_units"] <= 1.0 and 0.0 <= s["zero_frac"] <= 1.0
             for s in alive.values())
  assert alive["msgcn/combine"]["dead_units"] < 0.5
  # A bias far below every pre-activation kills every unit of the layer, and of the branch.
  killed = jax.tree.map(lambda x: x, params)
  killed["msgcn"]["combine"]["bias"] = jnp.full_like(params["msgcn"]["combine"]["bias"], -1e3)
  dead = tool.layer_report(model, killed, batches)
  assert dead["msgcn/combine"]["dead_units"] == 1.0 and dead["msgcn"]["dead_units"] == 1.0
  assert dead["msgcn/combine"]["bias_mean"] == -1e3
  assert dead["mscnn/combine"] == alive["mscnn/combine"]   # the other branch is untouched


def test_from_saved_fills_settings_newer_than_the_checkpoint():
  saved = config_base.base_config().to_dict()
  del saved["model"]["branch_norm"]           # a checkpoint written before the setting
  saved["model"]["hidden_dim"] = 7
  saved["data"]["buckets"] = [16, 32]         # JSON has lists
  config = config_base.from_saved(saved)
  assert config.model.branch_norm == "none" and config.model.hidden_dim == 7
  assert config.data.buckets == (16, 32)
  np.testing.assert_equal(config.to_dict()["optim"], config_base.optim_config().to_dict())
