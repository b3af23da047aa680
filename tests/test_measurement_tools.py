"""tools/compare_parses.py and tools/score_predictions.py (the figures of docs/results.md)."""

from __future__ import annotations

import importlib.util
import pathlib

import pytest

TOOLS = pathlib.Path(__file__).resolve().parent.parent / "tools"


def _tool(name: str):
  spec = importlib.util.spec_from_file_location(f"tool_{name}", TOOLS / f"{name}.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_compare_parses_counts_only_records_with_equal_tokens():
  prepared = [{"tokens": ["a", "b"], "pos": ["X", "Y"], "heads": [2, 0],
               "deprels": ["dep", "root"], "spans": [[0, 0], [1, 1]]},
              {"tokens": ["c"], "pos": ["X"], "heads": [0], "deprels": ["root"],
               "spans": [[0, 0], [0, 0]]}]
  reference = [{"token": ["a", "b"], "stanford_pos": ["X", "Z"], "stanford_head": ["0", "0"],
                "stanford_deprel": ["dep", "root"], "subj_start": 0, "subj_end": 0,
                "obj_start": 1, "obj_end": 1},
               {"token": ["d"], "stanford_pos": ["X"], "stanford_head": [0],
                "stanford_deprel": ["root"], "subj_start": 0, "subj_end": 0, "obj_start": 0,
                "obj_end": 0}]
  out = _tool("compare_parses").compare(prepared, reference)
  assert (out["equal_token_records"], out["tokens"], out["equal_spans_records"]) == (1, 2, 1)
  assert (out["heads_pct"], out["deprels_pct"], out["heads_and_deprels_pct"],
          out["pos_pct"]) == (50.0, 100.0, 50.0, 50.0)


def test_score_predictions_applies_each_tasks_scorer():
  rows = [{"gold": g, "prediction": p} for g, p in
          [("Cause-Effect", "Cause-Effect"), ("Other", "Cause-Effect"),
           ("Message-Topic", "Other"), ("Other", "Other")]]
  score_rows = _tool("score_predictions").score_rows
  semeval, custom = score_rows(rows, "semeval"), score_rows(rows, "custom", "Other")
  assert semeval["macro_f1"] == pytest.approx(custom["macro_f1"]) == pytest.approx(100 / 3)
  assert semeval["accuracy"] == custom["accuracy"] == 50.0


@pytest.mark.parametrize("mode", ["step", "loop"])
def test_benchmark_prints_its_named_fields(mode, tmp_path):
  """tools/benchmark.py on the in-repo fixture: the JSON fields issue 11 names (values are
  measurements, so only their presence and sanity are checked, never a speed)."""
  import json, subprocess, sys  # pylint: disable=import-outside-toplevel,multiple-imports
  out = subprocess.run(
      [sys.executable, str(TOOLS / "benchmark.py"), "--config=configs/semeval_fixture.py",
       f"--mode={mode}", "--epochs=2", "--steps=3", "--eval_records=20",
       f"--config.cache_dir={tmp_path}", "--config.max_train_examples=48",
       "--config.batch_size=8", "--config.batch_row_multiple=8"],
      cwd=TOOLS.parent, capture_output=True, text=True, check=True, timeout=600)
  report = json.loads(out.stdout)
  if mode == "step":
    assert report["train_samples_per_s"] > 0 and report["eval_samples_per_s"] > 0
    return
  for key in ("loop_samples_per_s", "step_samples_per_s", "loop_to_step_ratio",
              "h2d_mb_per_step", "compile_count", "compile_seconds", "pipeline_batches_per_s",
              "peak_rss_mb"):
    assert report[key] is not None and report[key] > 0, key
  assert report["final_step"] == 2 * report["steps_per_epoch"] == 12
