"""The parameters' moving average (`optim.ema_decay`) through training, resume and prediction,
on the in-repo SemEval fixture (conftest.tiny_config), trained in this process."""

import json
import pathlib

import jax
import numpy as np
import pytest

from conftest import FIXTURE_TEST, preparsed, tiny_config
from msfml_jax import checkpoints, predict, steps, train

AVERAGED = {"optim.ema_decay": 0.9, "num_epochs": 2}


def _metrics(workdir: pathlib.Path) -> list[dict]:
  return [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]


def _latest_state(workdir: pathlib.Path, config) -> steps.TrainState:
  """The state of `workdir`'s newest checkpoint, restored through the training code."""
  run = train.setup(config, workdir)
  try:
    restored = run.checkpointer.restore_latest(train.initial_state(run), {
        "hard_negatives": np.zeros(len(run.splits["train"]), np.int32)}, config)
  finally:
    run.checkpointer.close()
    run.log.close()
  return restored[0]


@pytest.fixture(scope="module")
def averaged_run(tiny_cache_dir, tmp_path_factory) -> pathlib.Path:
  """A finished 2-epoch run with the moving average; read only."""
  workdir = tmp_path_factory.mktemp("averaged_run")
  train.train_and_evaluate(tiny_config(tiny_cache_dir, AVERAGED), str(workdir))
  return workdir


def test_eval_splits_are_scored_with_the_average_and_the_trained_parameters(averaged_run):
  lines = _metrics(averaged_run)
  averaged = [l for l in lines if l["split"] == "test"]
  raw = [l for l in lines if l["split"] == "test_raw"]
  assert [l["epoch"] for l in averaged] == [l["epoch"] for l in raw] == [1, 2]
  assert {"macro_f1", "aggcn_macro_f1"} <= averaged[-1]["metrics"].keys()
  # Two different models: after 12 steps at decay <= 0.9 the average trails the parameters.
  assert any(a["metrics"] != r["metrics"] for a, r in zip(averaged, raw))
  results = json.loads((averaged_run / "results.json").read_text())
  assert results["final"]["test"]["macro_f1"] == averaged[-1]["metrics"]["macro_f1"]


def test_prediction_restores_the_average(averaged_run, tiny_cache_dir):
  state = _latest_state(averaged_run, tiny_config(tiny_cache_dir, AVERAGED))
  differs = jax.tree.map(lambda a, b: bool(np.any(np.asarray(a) != np.asarray(b))),
                         state.params, state.ema_params)
  assert any(jax.tree.leaves(differs))
  extractor = predict.Extractor.from_workdir(averaged_run, checkpoint="latest")
  for got, want in zip(jax.tree.leaves(extractor.params), jax.tree.leaves(state.ema_params)):
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
  # ... so its probabilities are the ones training wrote for the test split.
  expected = [json.loads(l) for l in (averaged_run / "predictions.jsonl").read_text().splitlines()]
  items = [preparsed(r) for r in json.loads(FIXTURE_TEST.read_text())[:5]]
  for row, want in zip(extractor.predict(items), expected):
    np.testing.assert_allclose(list(row["probabilities"].values()),
                               list(want["probabilities"].values()), atol=2e-5)


def test_resume_continues_the_average_exactly(averaged_run, tiny_cache_dir, tmp_path):
  # One epoch, then the same command for two: the average equals the straight run's.
  workdir = tmp_path / "resumed"
  train.train_and_evaluate(tiny_config(tiny_cache_dir, {**AVERAGED, "num_epochs": 1}),
                           str(workdir))
  config = tiny_config(tiny_cache_dir, AVERAGED)
  train.train_and_evaluate(config, str(workdir))
  resumed, straight = _latest_state(workdir, config), _latest_state(averaged_run, config)
  for a, b in zip(jax.tree.leaves(resumed.ema_params), jax.tree.leaves(straight.ema_params)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_a_run_without_the_average_refuses_to_resume_with_it(averaged_run, tiny_cache_dir,
                                                             tmp_path):
  workdir = tmp_path / "plain"
  train.train_and_evaluate(tiny_config(tiny_cache_dir, {"num_epochs": 1}), str(workdir))
  with pytest.raises(checkpoints.IncompatibleCheckpointError, match="optim.ema_decay"):
    train.train_and_evaluate(tiny_config(tiny_cache_dir, AVERAGED), str(workdir))


def test_tail_average_changes_only_the_average(averaged_run, tiny_cache_dir, tmp_path):
  # Averaging from epoch 2: the same training, and at the end the mean of epoch 2's steps.
  workdir = tmp_path / "tail"
  config = tiny_config(tiny_cache_dir, {**AVERAGED, "optim.average_start_epoch": 2})
  train.train_and_evaluate(config, str(workdir))
  tail, ema = _latest_state(workdir, config), _latest_state(averaged_run, config)
  for a, b in zip(jax.tree.leaves(tail.params), jax.tree.leaves(ema.params)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  assert any(np.any(np.asarray(a) != np.asarray(b))
             for a, b in zip(jax.tree.leaves(tail.ema_params), jax.tree.leaves(ema.ema_params)))
  raw = [l["metrics"] for l in _metrics(workdir) if l["split"] == "test_raw"]
  assert raw == [l["metrics"] for l in _metrics(averaged_run) if l["split"] == "test_raw"]
