"""The custom task: schema validation, labels, negative label, entities, dev, the registry."""

from __future__ import annotations

import json
import logging
import pathlib
import re

import pytest

from msfml_jax import config_base, tasks
from msfml_jax.data import readers
from msfml_jax.data.json_fields import DataError


def record(label: str = "Cause-Effect", **change) -> dict:
  """A valid 5-token record of the custom schema."""
  rec = {"id": "r", "tokens": ["The", "storm", "caused", "the", "flood"],
         "pos": ["DT", "NN", "VBD", "DT", "NN"], "heads": [2, 3, 0, 5, 3],
         "deprels": ["det", "nsubj", "root", "det", "dobj"], "spans": [[1, 1], [4, 4]],
         "label": label}
  rec.update(change)
  return {k: v for k, v in rec.items() if v is not None}


def write_jsonl(path: pathlib.Path, records: list) -> pathlib.Path:
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text("".join(json.dumps(r) + "\n" for r in records))
  return path


def custom_config(tmp_path: pathlib.Path, train: list, test: list | None = None, **data):
  c = config_base.base_config()
  c.data_dir, c.cache_dir = str(tmp_path / "data"), str(tmp_path / "cache")
  c.data.task, c.data.glove_file = "custom", ""
  c.data.train_file, c.data.test_file = "mine/train.jsonl", "mine/test.jsonl"
  write_jsonl(tmp_path / "data" / "mine" / "train.jsonl", train)
  write_jsonl(tmp_path / "data" / "mine" / "test.jsonl", test if test is not None else train)
  c.data.update(data)
  return c


def test_reads_records_and_takes_labels_from_train(tmp_path, caplog):
  train = [record("Other"), record("Cause-Effect", entity_types=["EVENT", "EVENT"]),
           record("Other", id=None)]
  config = custom_config(tmp_path, train, negative_label="Other")
  with caplog.at_level(logging.INFO):
    splits = readers.load_splits(config)
    labels = readers.label_names(config)
  assert labels == ["Other", "Cause-Effect"]  # negative first, then sorted
  assert "2 labels from" in caplog.text
  rec = splits["train"][1]
  assert rec.spans == [(1, 1), (4, 4)] and rec.entity_types == ["EVENT", "EVENT"]
  assert rec.heads == [2, 3, 0, 5, 3] and not rec.cross_sentence
  assert [r.id for r in splits["train"]] == ["r", "r", "2"]  # no id: the record index


def test_json_array_files_and_three_entities(tmp_path):
  train = [record(spans=[[0, 0], [1, 1], [4, 4]], label=x) for x in ("a", "b")]
  config = custom_config(tmp_path, [], num_entities=3)
  (tmp_path / "data" / "mine" / "train.jsonl").write_text(json.dumps(train))
  config.data.test_file = config.data.train_file
  assert tasks.get(config).entity_slots(config) == ("e1", "e2", "e3")
  assert [len(r.spans) for r in readers.load_splits(config)["test"]] == [3, 3]


@pytest.mark.parametrize("change,message", [
    ({"heads": None}, r"line 2: field '\(record\)': 'heads' is a required property"),
    ({"heads": [2, 3, 0, 5, "x"]}, r"line 2: field 'heads.4': 'x' is not of type 'integer'"),
    ({"heads": [2, 3, 0, 5]}, r"line 2: field 'heads': length 4 != 5 tokens"),
    ({"heads": [2, 3, 1, 5, 3]}, r"field 'heads': no root"),
    ({"heads": [2, 3, 0, 9, 3]}, r"field 'heads': head 9 of token 3 out of range"),
    ({"tokens": ["The", "", "caused", "the", "flood"]}, r"field 'tokens.1': '' should be non-empty"),
    ({"spans": [[1, 1]]}, r"field 'spans': \[\[1, 1\]\] should be non-empty|is too short"),
    ({"spans": [[1, 1], [4, 5]]}, r"field 'spans.1': span \[4, 5\] reversed or out of range"),
    ({"spans": [[1, 1], [0, 0], [4, 4]]}, r"3 entities, data.num_entities is 2"),
    ({"entity_types": ["A"]}, r"field 'entity_types'"),
    ({"label": 3}, r"field 'label': 3 is not of type 'string'"),
])
def test_bad_records_name_file_line_and_field(tmp_path, change, message):
  config = custom_config(tmp_path, [record(), record(**change)], test=[record()])
  config.data.label_file = str(write_jsonl(tmp_path / "labels.txt", []))
  (tmp_path / "labels.txt").write_text("Other\nCause-Effect\n")
  with pytest.raises(DataError, match=message) as e:
    readers.load_splits(config)
  assert "mine/train.jsonl: line 2" in str(e.value)


def test_bad_json_line_and_unknown_label(tmp_path):
  config = custom_config(tmp_path, [record()])
  path = tmp_path / "data" / "mine" / "train.jsonl"
  path.write_text(json.dumps(record()) + "\n{oops\n")
  with pytest.raises(DataError, match=r"train.jsonl: line 2: not JSON"):
    readers.load_splits(config)
  config = custom_config(tmp_path, [record("a"), record("b")], test=[record("c")])
  with pytest.raises(DataError, match=r"test.jsonl: line 1: field 'label': unknown label 'c'"):
    readers.load_splits(config)


def test_negative_label_must_be_a_label(tmp_path):
  config = custom_config(tmp_path, [record("a"), record("b")], negative_label="no_relation")
  with pytest.raises(DataError, match="negative_label 'no_relation' is not among"):
    readers.label_names(config)


def test_tacred_refuses_a_label_set_without_no_relation(tmp_path):
  c = config_base.base_config()
  c.data.task, c.data.label_file = "tacred", str(tmp_path / "labels.txt")
  (tmp_path / "labels.txt").write_text("Other\nCause-Effect\n")
  with pytest.raises(DataError, match="no 'no_relation' label.*data.task='custom'"):
    readers.label_names(c)


def test_label_file_order_and_dev_holdout(tmp_path):
  train = [record(x) for x in "abcabcabca"]
  config = custom_config(tmp_path, train, dev_holdout=3, negative_label="c")
  (tmp_path / "labels.txt").write_text("c\nb\na\n")
  config.data.label_file = str(tmp_path / "labels.txt")
  assert readers.label_names(config) == ["c", "b", "a"]
  splits = readers.load_splits(config)
  assert (len(splits["train"]), len(splits["dev"]), len(splits["test"])) == (7, 3, 10)


def test_custom_cache_builds(tmp_path):
  from msfml_jax.data import cache  # pylint: disable=import-outside-toplevel
  config = custom_config(tmp_path, [record("Other"), record("Cause-Effect")],
                         negative_label="Other")
  dataset = cache.load_dataset(config, progress=False)
  assert dataset.label_names == ["Other", "Cause-Effect"] and dataset.num_entities == 2
  assert list(dataset.splits["train"].labels) == [0, 1]


def test_no_task_branches_outside_the_registry():
  """Adding a dataset is one tasks/ module plus a config: no other code tests a task name."""
  repo = pathlib.Path(__file__).resolve().parent.parent
  pattern = re.compile(r"""task\s*(==|!=|\bin\b)\s*[\"'(\[{]|[\"']\s*==\s*\S*\.task\b""")
  offenders = []
  for path in sorted([*(repo / "msfml_jax").rglob("*.py"), *(repo / "tools").glob("*.py")]):
    if "tasks" in path.relative_to(repo).parts:
      continue
    for number, line in enumerate(path.read_text().splitlines(), 1):
      if pattern.search(line):
        offenders.append(f"{path.relative_to(repo)}:{number}: {line.strip()}")
  assert not offenders, "\n".join(offenders)
