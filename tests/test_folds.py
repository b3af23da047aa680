"""The PubMed cross-validation driver: `main --folds=...` runs each fold and averages them."""

import json
import pathlib
import subprocess
import sys

import pytest

from msfml_jax import paths

REPO = pathlib.Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not (paths.resolve_data_dir("") / "pubmed/binary").exists(),
                                reason="PubMed data not found (set MSFML_DATA)")


def test_two_folds_are_run_and_averaged(tmp_path):
  cmd = [sys.executable, "-m", "msfml_jax.main", "--config=configs/pubmed.py:binary,binary",
         f"--workdir={tmp_path / 'cv'}", f"--config.cache_dir={tmp_path / 'cache'}",
         "--folds=0,1", "--config.max_train_examples=32", "--config.max_eval_examples=24",
         "--config.num_epochs=1", "--config.batch_size=8", "--config.model.hidden_dim=16",
         "--config.model.lstm_hidden=8", "--config.model.pos_dim=4",
         "--config.model.position_dim=4", "--config.data.dev_holdout=16"]
  proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
  assert proc.returncode == 0, proc.stderr[-5000:]
  summary = json.loads((tmp_path / "cv" / "cv_results.json").read_text())
  assert summary["folds"] == [0, 1] and len(summary["per_fold"]) == 2
  for fold in (0, 1):
    results = json.loads((tmp_path / "cv" / f"fold{fold}" / "results.json").read_text())
    assert results["config"]["data"]["fold"] == fold
  accuracies = [f["accuracy"] for f in summary["per_fold"]]
  assert summary["mean"]["accuracy"] == pytest.approx(sum(accuracies) / 2)
  assert summary["mean"]["num_folds"] == 2
  assert "accuracy_cross" in summary["mean"]
