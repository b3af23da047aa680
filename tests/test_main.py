"""End to end: the real `python -m msfml_jax.main` on the tiny SemEval config."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from msfml_jax import paths

REPO = pathlib.Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not (paths.resolve_data_dir("") / "semeval/train.json").exists(),
                                reason="SemEval data not found (set MSFML_DATA)")


def run_main(workdir, cache_dir, *overrides, env=None, check=True):
  cmd = [sys.executable, "-m", "msfml_jax.main", "--config=configs/tiny.py",
         f"--workdir={workdir}", f"--config.cache_dir={cache_dir}", *overrides]
  proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900,
                        env={**os.environ, **(env or {})})
  if check:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
  return proc


def read_metrics(workdir):
  return [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
  root = tmp_path_factory.mktemp("main")
  workdir, cache = root / "run", root / "cache"
  run_main(workdir, cache, "--config.num_epochs=3")
  return workdir, cache


def test_main_writes_metrics_results_checkpoints(tiny_run):
  workdir, _ = tiny_run
  lines = read_metrics(workdir)
  test_lines = [l for l in lines if l["split"] == "test"]
  assert [l["epoch"] for l in test_lines] == [1, 2, 3]
  assert "macro_f1" in test_lines[-1]["metrics"]
  results = json.loads((workdir / "results.json").read_text())
  assert results["config"]["data"]["task"] == "semeval"
  assert 0.0 <= results["final"]["test"]["macro_f1"] <= 100.0
  assert list((workdir / "checkpoints").iterdir()), "no checkpoint written"
  assert list((workdir / "best").iterdir()), "no best checkpoint written"
  predictions = (workdir / "predictions.jsonl").read_text().splitlines()
  assert len(predictions) == 200  # max_eval_examples
  row = json.loads(predictions[0])
  assert set(row) >= {"id", "gold", "prediction", "probabilities"}
  assert abs(sum(row["probabilities"].values()) - 1.0) < 1e-3


def test_training_loss_goes_down(tiny_run):
  workdir, _ = tiny_run
  # Epoch means: single batches of 16 are too noisy to compare.
  losses = [l["metrics"]["loss"] for l in read_metrics(workdir) if l["split"] == "train_epoch"]
  assert len(losses) == 3
  assert losses[-1] < losses[0], losses


def test_rerun_resumes_from_latest_checkpoint(tiny_run, tmp_path):
  workdir, cache = tiny_run
  before = json.loads((workdir / "results.json").read_text())["steps"]
  proc = run_main(workdir, cache, "--config.num_epochs=4")
  assert "Resuming from" in proc.stderr
  after = json.loads((workdir / "results.json").read_text())["steps"]
  assert after == before + before // 3  # exactly one more epoch of steps


def test_incompatible_checkpoint_is_refused(tiny_run):
  workdir, cache = tiny_run
  proc = run_main(workdir, cache, "--config.model.hidden_dim=48", check=False)
  assert proc.returncode != 0
  assert "model.hidden_dim: 32 -> 48" in proc.stderr


def test_main_with_plm_word_vectors(tmp_path):
  """configs/semeval_plm.py end to end with the local MiniLM encoder, on a tiny slice."""
  if not (paths.resolve_data_dir("") / "plm/all-MiniLM-L6-v2/model.safetensors").exists():
    pytest.skip("MiniLM checkpoint not found")
  cmd = [sys.executable, "-m", "msfml_jax.main", "--config=configs/semeval_plm.py",
         f"--workdir={tmp_path / 'run'}", f"--config.cache_dir={tmp_path / 'cache'}",
         "--config.max_train_examples=64", "--config.max_eval_examples=32",
         "--config.num_epochs=2", "--config.batch_size=16", "--config.model.hidden_dim=32",
         "--config.model.lstm_hidden=16", "--config.data.buckets=(32,64,128)"]
  proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900,
                        env={**os.environ, "HF_HUB_OFFLINE": "1"})
  assert proc.returncode == 0, proc.stderr[-5000:]
  assert "PLM vectors: cache miss" in proc.stderr
  results = json.loads((tmp_path / "run" / "results.json").read_text())
  assert results["config"]["model"]["word_input"] == "plm"
  assert "macro_f1" in results["final"]["test"]
