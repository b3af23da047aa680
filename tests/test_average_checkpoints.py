"""tools/average_checkpoints.py: uniform means of a run's epoch-end parameters, scored on
the in-repo SemEval fixture (conftest.tiny_config), trained in this process."""

import functools
import importlib.util
import json
import pathlib

import jax
import numpy as np
import pytest

from conftest import tiny_config
from msfml_jax import checkpoints, cli, train

TOOL = pathlib.Path(__file__).resolve().parent.parent / "tools" / "average_checkpoints.py"
KEPT = {"optim.ema_decay": 0.9, "num_epochs": 3, "keep_checkpoints": 10}


@functools.cache  # the tool defines absl flags: load it once
def _tool():
  spec = importlib.util.spec_from_file_location("tool_average_checkpoints", TOOL)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.fixture(scope="module")
def kept_run(tiny_cache_dir, tmp_path_factory) -> pathlib.Path:
  """A finished 3-epoch run that kept every epoch-end checkpoint; read only."""
  workdir = tmp_path_factory.mktemp("kept_run")
  train.train_and_evaluate(tiny_config(tiny_cache_dir, KEPT), str(workdir))
  return workdir


def _logged(workdir: pathlib.Path, split: str, epoch: int) -> float:
  for line in (workdir / "metrics.jsonl").read_text().splitlines():
    row = json.loads(line)
    if row["split"] == split and row["epoch"] == epoch:
      return row["metrics"]["macro_f1"]
  raise AssertionError(f"no {split} line for epoch {epoch}")


def test_a_one_epoch_window_scores_what_training_logged(kept_run):
  tool = _tool()
  averaged = tool.score_windows(kept_run, [(3, 3), (2, 2)], key="ema_params")
  trained = tool.score_windows(kept_run, [(3, 3)], key="params")
  assert [r["epochs"] for r in averaged] == ["3-3", "2-2"]
  assert averaged[0]["macro_f1"] == pytest.approx(_logged(kept_run, "test", 3), abs=1e-4)
  assert averaged[1]["macro_f1"] == pytest.approx(_logged(kept_run, "test", 2), abs=1e-4)
  assert trained[0]["macro_f1"] == pytest.approx(_logged(kept_run, "test_raw", 3), abs=1e-4)
  assert trained[0]["checkpoints"] == 1 and "aggcn_macro_f1" in trained[0]


def test_the_window_mean_is_the_mean_of_its_checkpoints(kept_run, tiny_cache_dir, tmp_path):
  run = train.setup(tiny_config(tiny_cache_dir, KEPT), tmp_path)
  try:
    params = train.initial_state(run).params
    steps = [2 * run.steps_per_epoch, 3 * run.steps_per_epoch]
  finally:
    run.checkpointer.close()
    run.log.close()
  directory = kept_run / "checkpoints"
  mean = _tool().average_params(directory, steps, params, "params")
  each = [checkpoints.restore_params(directory, s, params, "params") for s in steps]
  differs = False
  for got, a, b in zip(*(jax.tree.leaves(t) for t in [mean] + each)):
    np.testing.assert_allclose(got, (np.asarray(a) + np.asarray(b)) / 2, rtol=1e-6, atol=1e-7)
    differs |= bool(np.any(np.asarray(a) != np.asarray(b)))
  assert differs  # two different checkpoints, so the mean is not one of them


def test_missing_epochs_and_bad_windows_are_named(kept_run):
  tool = _tool()
  with pytest.raises(tool.MissingCheckpointsError, match=r"epochs \[4, 5\]"):
    tool.score_windows(kept_run, [(2, 5)])
  assert tool.parse_window("76-150") == (76, 150) and tool.parse_window("7") == (7, 7)
  for bad in ("a-b", "9-3", "0-2"):
    with pytest.raises(cli.UserError, match="--epochs"):
      tool.parse_window(bad)
