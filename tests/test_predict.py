"""msfml_jax.predict: pre-parsed and raw-text input, bad lines, agreement with training.

Uses the session's tiny training run (conftest.tiny_run, on the in-repo SemEval fixture); the
raw-text test drives the tiny stanza models of tests/fixtures/stanza.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest

from conftest import FIXTURE_TEST, preparsed
from msfml_jax import checkpoints, parse, predict

REPO = pathlib.Path(__file__).resolve().parent.parent


def _training_predictions(workdir: pathlib.Path) -> list[dict]:
  with open(workdir / "predictions.jsonl", encoding="utf-8") as f:
    return [json.loads(line) for line in f]


def _test_records(n: int) -> list[dict]:
  """The first n test records of the run's data (the fixture), as the dataset file has them."""
  return json.loads(FIXTURE_TEST.read_text())[:n]


@pytest.fixture(scope="module")
def extractor(tiny_run):
  # predictions.jsonl of a SemEval run (no dev split) comes from the last epoch: `latest`.
  return predict.Extractor.from_workdir(tiny_run, checkpoint="latest")


def test_preparsed_records_agree_with_training_predictions(extractor, tiny_run):
  expected = _training_predictions(tiny_run)
  items = [preparsed(r) for r in _test_records(len(expected))]
  rows = extractor.predict(items)
  assert len(rows) == len(expected) == 100
  labels = extractor.label_names
  for i, (row, want) in enumerate(zip(rows, expected)):
    assert row["index"] == i and row["id"] == want["id"] and "error" not in row
    assert list(row["probabilities"]) == labels
    probs = np.array(list(row["probabilities"].values()))
    assert probs.sum() == pytest.approx(1.0, abs=1e-4)
    assert row["prediction"] == labels[int(probs.argmax())] == want["prediction"]
    np.testing.assert_allclose(probs, list(want["probabilities"].values()), atol=2e-5)
    assert row["gold"] == want["gold"]
  first = _test_records(1)[0]
  assert rows[0]["entities"] == [first["token"][first["subj_start"]],
                                 first["token"][first["obj_start"]]]


def test_a_copied_workdir_predicts_without_the_data_or_the_cache(tiny_run, tmp_path):
  # Training stores the vocabularies in <workdir>/dataset/; point the cache and the data
  # elsewhere (empty) to show that prediction needs nothing else.
  copy = tmp_path / "moved_run"
  shutil.copytree(tiny_run, copy)
  assert (copy / "dataset" / "vocab" / "word.json").is_file()
  moved = predict.Extractor.from_workdir(copy, checkpoint="latest",
                                         cache_dir=str(tmp_path / "empty_cache"),
                                         data_dir=str(tmp_path / "no_data"))
  expected = _training_predictions(tiny_run)[:10]
  rows = moved.predict([preparsed(r) for r in _test_records(10)])
  assert [r["prediction"] for r in rows] == [w["prediction"] for w in expected]
  assert not (tmp_path / "empty_cache").exists()  # no dataset cache was built


def _run_predict(tiny_run, lines: list[str], tmp_path, *flags_: str):
  (tmp_path / "in.txt").write_text("\n".join(lines) + "\n")
  result = subprocess.run(
      [sys.executable, "-m", "msfml_jax.predict", f"--workdir={tiny_run}",
       f"--input={tmp_path / 'in.txt'}", f"--output={tmp_path / 'out.jsonl'}",
       "--batch_size=4", *flags_],
      capture_output=True, text=True, timeout=300, cwd=REPO,
      env={**os.environ, "JAX_PLATFORMS": "cpu"})
  rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
  return result, rows


def test_cli_reports_bad_lines_and_predicts_the_rest(tiny_run, tmp_path):
  raw = _test_records(6)
  lines = [json.dumps(r) for r in raw[:2]]              # dataset fields work as they are
  lines.append("{this is not json")                      # line 3
  lines.append(json.dumps(dict(preparsed(raw[2]), spans=[[0, 0]])))  # line 4: one entity
  lines.append("")                                       # blank: skipped, counted
  lines += [json.dumps(preparsed(r)) for r in raw[3:]]  # lines 6-8
  lines.append("   ")                                    # blank
  result, rows = _run_predict(tiny_run, lines, tmp_path)
  # The contract: one row per non-blank line, in order, with its line number; a summary on
  # stderr; exit 1 because lines failed.
  assert result.returncode == 1, result.stderr[-3000:]
  assert [r["line"] for r in rows] == [1, 2, 3, 4, 6, 7, 8]
  errors = {r["line"]: r["error"] for r in rows if "error" in r}
  assert set(errors) == {3, 4}
  assert "not JSON" in errors[3] and "1 entities, this model expects 2" in errors[4]
  assert "line 3: ParseError: not JSON" in result.stderr
  assert "5 predicted, 2 failed, 2 blank" in result.stderr and "sentences/s" in result.stderr
  assert [r["id"] for r in rows if "error" not in r] == ["0", "1", "3", "4", "5"]
  allowed, rows_allowed = _run_predict(tiny_run, lines, tmp_path, "--allow_errors")
  assert allowed.returncode == 0 and rows_allowed == rows


def test_cli_exits_0_when_no_line_failed(tiny_run, tmp_path):
  lines = [json.dumps(preparsed(r)) for r in _test_records(2)]
  result, rows = _run_predict(tiny_run, ["", *lines], tmp_path)
  assert result.returncode == 0, result.stderr[-3000:]
  assert [r["line"] for r in rows] == [2, 3] and all("prediction" in r for r in rows)
  assert "2 predicted, 0 failed, 1 blank" in result.stderr


def test_checkpoint_must_hold_exactly_the_model_parameters(extractor, tiny_run):
  directory, step, _ = checkpoints.find_checkpoint(tiny_run, "latest")
  abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), extractor.params)
  checkpoints.check_structure(directory, step, abstract)
  abstract["classifier"]["scale"] = jax.ShapeDtypeStruct((3,), np.float32)
  with pytest.raises(checkpoints.IncompatibleCheckpointError,
                     match=r"\['classifier'\]\['scale'\]: checkpoint missing, model \(3,\)"):
    checkpoints.check_structure(directory, step, abstract)


def test_best_checkpoint_and_missing_workdir(tiny_run, tmp_path):
  directory, step, config = checkpoints.find_checkpoint(tiny_run, "best")
  assert directory.name == "best" and step > 0 and config.data.task == "semeval"
  copy = shutil.copytree(tiny_run, tmp_path / "run", ignore=shutil.ignore_patterns("best"))
  assert checkpoints.find_checkpoint(copy, "best")[0] == copy / "checkpoints"  # falls back
  with pytest.raises(FileNotFoundError, match="no readable checkpoint"):
    checkpoints.find_checkpoint(tmp_path / "run" / "tensorboard")
  with pytest.raises(ValueError, match="checkpoint must be one of"):
    checkpoints.find_checkpoint(tiny_run, "final")


def test_raw_text_through_stanza(extractor, stanza_tiny_models):
  extractor.parser = parse.Parser(model_paths=stanza_tiny_models)
  text = "The company fabricates plastic chairs."
  rows = extractor.predict([
      "The <e1>company</e1> fabricates plastic <e2>chairs</e2>.",
      {"id": "r2", "text": text, "spans": [[4, 11], [23, 37]], "label": "Product-Producer"},
      {"text": "Bees make <e1>honey</e1> in the <e2>hive</e2>. The tumor grew quickly."},
      "The <e1>company</e1> fabricates <e2>chairs",
      {"text": text, "spans": [[6, 11], [31, 37]]},
  ])
  assert [r["entities"] for r in rows[:3]] == [["company", "chairs"],
                                               ["company", "plastic chairs"], ["honey", "hive"]]
  for row in rows[:3]:
    assert row["prediction"] in extractor.label_names and len(row["probabilities"]) == 10
  assert rows[1]["id"] == "r2" and rows[1]["gold"] == "Product-Producer"
  assert "never closed" in rows[3]["error"] and "does not align" in rows[4]["error"]
