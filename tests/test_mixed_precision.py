"""model.dtype = bfloat16: activations in bfloat16, parameters, optimizer state and losses in
float32; a tiny training run stays finite and its loss falls."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from msfml_jax import steps, train
from conftest import tiny_config


def test_compute_params_casts_floats_only():
  params = {"w": jnp.ones((2, 2)), "n": jnp.arange(3)}
  cast = steps.compute_params(params, "bfloat16")
  assert cast["w"].dtype == jnp.bfloat16 and cast["n"].dtype == params["n"].dtype
  assert steps.compute_params(params, "float32") is params
  with pytest.raises(ValueError, match="model.dtype"):
    steps.compute_params(params, "float16")


def test_bfloat16_training_is_finite_and_learns(shared_data_dir, tiny_cache_dir, tmp_path):
  del shared_data_dir
  config = tiny_config(tiny_cache_dir, {"model.dtype": "bfloat16", "num_epochs": 3,
                                        "max_eval_examples": 32, "compilation_cache_dir": ""})
  results = train.train_and_evaluate(config, str(tmp_path / "run"))
  lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
  rows = [r for r in map(json.loads, lines) if r["split"] == "train_epoch"]
  loss = [r["metrics"]["loss"] for r in rows]
  assert len(loss) == 3 and np.isfinite(loss).all()
  assert loss[-1] < loss[0], loss
  run = train.setup(config, tmp_path / "shapes")
  state = train.initial_state(run)
  assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(state.params))
  assert results["steps"] == 3 * run.steps_per_epoch
