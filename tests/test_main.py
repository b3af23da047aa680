"""End to end: the real `python -m msfml_jax.main` on the in-repo SemEval fixture
(configs/semeval_fixture.py), so it runs on a clone without ../shared/data.

The module's run is never written to: tests that resume or refuse work on a copy, so no test
depends on another's order.
"""

import json
import logging
import os
import pathlib
import shutil
import subprocess
import sys
from types import SimpleNamespace

import jax
import pytest

from conftest import FIXTURE_CONFIG, load_config_file
from msfml_jax import checkpoints, config_base, paths, train

REPO = pathlib.Path(__file__).resolve().parent.parent
FIXTURE_TEST_RECORDS = 100


def run_main(workdir, cache_dir, *overrides, config=FIXTURE_CONFIG, env=None, check=True):
  cmd = [sys.executable, "-m", "msfml_jax.main", f"--config={config}",
         f"--workdir={workdir}", f"--config.cache_dir={cache_dir}", *overrides]
  proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900,
                        env={**os.environ, **(env or {})})
  if check:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
  return proc


def read_metrics(workdir):
  return [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def main_run(tmp_path_factory):
  """(workdir, cache) of one 3-epoch `main` run; read only."""
  root = tmp_path_factory.mktemp("main")
  workdir, cache = root / "run", root / "cache"
  run_main(workdir, cache, "--config.num_epochs=3")
  return workdir, cache


def _copy(main_run, tmp_path) -> pathlib.Path:
  return shutil.copytree(main_run[0], tmp_path / "run")


def test_main_writes_metrics_results_checkpoints(main_run):
  workdir, _ = main_run
  lines = read_metrics(workdir)
  test_lines = [l for l in lines if l["split"] == "test"]
  assert [l["epoch"] for l in test_lines] == [1, 2, 3]
  assert "macro_f1" in test_lines[-1]["metrics"]
  results = json.loads((workdir / "results.json").read_text())
  assert results["config"]["data"]["task"] == "semeval"
  assert 0.0 <= results["final"]["test"]["macro_f1"] <= 100.0
  environment = results["environment"]  # what else the numbers depend on
  assert environment["packages"]["jax"] == jax.__version__
  assert environment["platform"] == "cpu" and environment["device_count"] >= 1
  assert environment["cpu"] and environment["packages"]["flax"]
  assert list((workdir / "checkpoints").iterdir()), "no checkpoint written"
  assert list((workdir / "best").iterdir()), "no best checkpoint written"
  predictions = (workdir / "predictions.jsonl").read_text().splitlines()
  assert len(predictions) == FIXTURE_TEST_RECORDS
  row = json.loads(predictions[0])
  assert set(row) >= {"id", "gold", "prediction", "probabilities"}
  assert abs(sum(row["probabilities"].values()) - 1.0) < 1e-3
  assert not (workdir / "lock.json").exists(), "the workdir lock is released at the end"
  events = list((workdir / "tensorboard").glob("events.out.tfevents.*"))
  assert events and events[0].stat().st_size > 1000, "no TensorBoard scalars written"


def test_training_starts_without_importing_torch(tmp_path):
  # tensorboardX is imported with torch hidden (msfml_jax/reporting.py); torch still imports
  # afterwards for whoever needs it (stanza), and the writer writes.
  script = ("import sys; from msfml_jax import reporting, train; "
            "assert 'torch' not in sys.modules; import torch; "
            f"w = reporting.SummaryWriter({str(tmp_path)!r}); w.add_scalar('a', 1.0, 1); w.close()")
  proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                        text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert list(tmp_path.glob("events.out.tfevents.*"))


def test_training_loss_goes_down(main_run):
  workdir, _ = main_run
  # Epoch means: single batches of 16 are too noisy to compare.
  losses = [l["metrics"]["loss"] for l in read_metrics(workdir) if l["split"] == "train_epoch"]
  assert len(losses) == 3
  assert losses[-1] < losses[0], losses


def test_rerun_resumes_from_latest_checkpoint(main_run, tmp_path, caplog):
  """In process (what it checks is the loop's resume, not the command line)."""
  workdir, cache = main_run
  workdir = _copy(main_run, tmp_path)
  first = json.loads((workdir / "results.json").read_text())
  before = first["steps"]
  config = load_config_file()
  config.cache_dir, config.num_epochs = str(cache), 4
  with caplog.at_level(logging.INFO):
    results = train.train_and_evaluate(config, str(workdir))
  assert "Resuming from" in caplog.text
  assert results["steps"] == before + before // 3  # exactly one more epoch of steps
  # The run's wall time continues from its checkpoint; wall_seconds is this invocation's.
  assert 0 < first["wall_seconds"] <= first["total_wall_seconds"]
  assert results["total_wall_seconds"] > results["wall_seconds"] > 0
  # (the checkpoint holds the total at its save, a moment before results.json was written)
  assert results["total_wall_seconds"] >= first["total_wall_seconds"] + results["wall_seconds"] - 5


def test_incompatible_checkpoint_is_refused_in_one_line_with_exit_2(main_run, tmp_path):
  workdir = _copy(main_run, tmp_path)
  proc = run_main(workdir, main_run[1], "--config.model.hidden_dim=48", check=False)
  assert proc.returncode == 2, proc.stderr[-3000:]
  assert "Traceback" not in proc.stderr
  errors = [l for l in proc.stderr.splitlines() if l.startswith("error: ")]
  assert len(errors) == 1 and "IncompatibleCheckpointError" in errors[0]
  assert "model.hidden_dim: 32 -> 48" in errors[0]


def test_resume_refuses_a_setting_the_old_allowlist_missed(main_run, tmp_path):
  workdir = _copy(main_run, tmp_path)
  config = load_config_file()
  config.cache_dir, config.loss.hard_negatives = str(main_run[1]), False
  with pytest.raises(checkpoints.IncompatibleCheckpointError,
                     match="loss.hard_negatives: True -> False"):
    train.train_and_evaluate(config, str(workdir))


def test_main_with_plm_word_vectors(tmp_path):
  """configs/semeval_plm.py end to end with the local MiniLM encoder, on a tiny slice."""
  if not (paths.resolve_data_dir("") / "plm/all-MiniLM-L6-v2/model.safetensors").exists():
    pytest.skip("MiniLM checkpoint not found")
  proc = run_main(tmp_path / "run", tmp_path / "cache", "--config.max_train_examples=64",
                  "--config.max_eval_examples=32", "--config.num_epochs=2",
                  "--config.batch_size=16", "--config.model.hidden_dim=32",
                  "--config.model.lstm_hidden=16", "--config.data.buckets=(32,64,128)",
                  config="configs/semeval_plm.py", env={"HF_HUB_OFFLINE": "1"})
  assert "PLM vectors: cache miss" in proc.stderr
  results = json.loads((tmp_path / "run" / "results.json").read_text())
  assert results["config"]["model"]["word_input"] == "plm"
  assert "macro_f1" in results["final"]["test"]


def test_negative_label_id_comes_from_the_task_and_is_refused_without_one():
  """loss.negative_anchor_triplets=False finds the task's negative label among the labels;
  a task without one is a config error, not a silent no-op."""
  config = load_config_file()
  dataset = SimpleNamespace(label_names=["Other", "Cause-Effect", "Component-Whole"])
  assert train.negative_label_id(config, dataset) is None     # the default keeps every anchor
  config.loss.negative_anchor_triplets = False
  config.data.task = "semeval"
  assert train.negative_label_id(config, dataset) == 0
  config.data.task, config.data.negative_label = "custom", ""
  with pytest.raises(config_base.ConfigError, match="has none"):
    train.negative_label_id(config, dataset)
