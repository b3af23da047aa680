"""Readers: malformed-input errors, label settings, real SemEval/PubMed counts, TACRED fixture."""

from __future__ import annotations

import json
import pathlib

import pytest

from conftest import semeval_config, semeval_record, write_json
from msfml_jax import config_base
from msfml_jax.data import readers
from msfml_jax.tasks import semeval as semeval_task

_REPO = pathlib.Path(__file__).resolve().parent.parent


def _set(field, value):
  def mutate(rec):
    rec[field] = value
  return mutate


def _delete(field):
  def mutate(rec):
    del rec[field]
  return mutate


# (mutation of record 1, field the message must name, words it must contain)
MALFORMED = {
    "span_out_of_range": (_set("obj_end", 9), "obj_end", "out of range"),
    "span_negative": (_set("subj_start", -1), "subj_start", "out of range"),
    "span_reversed": (lambda r: r.update(subj_start=2, subj_end=1), "subj_start", "reversed"),
    "pos_length": (_set("stanford_pos", ["DT"]), "stanford_pos", "length"),
    "deprel_length": (_set("stanford_deprel", ["det"] * 6), "stanford_deprel", "length"),
    "head_length": (_set("stanford_head", [2, 0]), "stanford_head", "length"),
    "head_out_of_range": (_set("stanford_head", [2, 3, 0, 9, 3]), "stanford_head", "range"),
    "head_minus_one": (_set("stanford_head", [2, 3, 0, -1, 3]), "stanford_head", "range"),
    "head_not_int": (_set("stanford_head", [2, 3, 0, "x", 3]), "stanford_head", "integer"),
    "no_root": (_set("stanford_head", [2, 3, 2, 5, 3]), "stanford_head", "no root"),
    "unknown_label": (_set("relation", "Friend-Of"), "relation", "unknown label"),
    "unknown_directed": (_set("relation_directed", "Cause-Effect(x)"), "relation_directed",
                         "unknown label"),
    "missing_token": (_delete("token"), "token", "missing"),
    "missing_span": (_delete("obj_start"), "obj_start", "missing"),
    "tokens_not_strings": (_set("token", [1, 2, 3, 4, 5]), "token", "strings"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_record_names_file_index_field(tmp_path, case):
  mutate, field, words = MALFORMED[case]
  bad = semeval_record(1)
  mutate(bad)
  config = semeval_config(tmp_path, [semeval_record(0), bad])
  with pytest.raises(readers.DataError) as err:
    readers.load_splits(config)
  message = str(err.value)
  assert "semeval/train.json" in message and "record 1" in message
  assert f"'{field}'" in message and words in message


@pytest.mark.parametrize("text,words", [
    ('[{"id": "0", "token": ["a"', "truncated"),
    ('{"id": "0"}', "expected a JSON array"),
    ("", "truncated"),
])
def test_bad_json_file(tmp_path, text, words):
  config = semeval_config(tmp_path, [semeval_record(0)])
  (tmp_path / "data" / "semeval" / "train.json").write_text(text)
  with pytest.raises(readers.DataError, match=words) as err:
    readers.load_splits(config)
  assert "semeval/train.json" in str(err.value)


def test_missing_file_is_data_error(tmp_path):
  config = semeval_config(tmp_path, [semeval_record(0)])
  config.data.test_file = "semeval/nope.json"
  with pytest.raises(readers.DataError, match="nope.json"):
    readers.load_splits(config)


def test_semeval_label_settings_and_styles(tmp_path):
  records = [semeval_record(0), semeval_record(1, "Other", "Other"),
             # AGGCN/DCL style: directed label in `relation`, no relation_directed.
             dict(semeval_record(2, "Component-Whole(e2,e1)", None)),
             # AGGCN's CoreNLP file: heads as strings.
             dict(semeval_record(3), stanford_head=["2", "3", "0", "5", "3"])]
  config = semeval_config(tmp_path, records)
  train = readers.load_splits(config)["train"]
  assert [r.label for r in train] == ["Cause-Effect", "Other", "Component-Whole", "Cause-Effect"]
  assert train[2].label_directed == "Component-Whole(e2,e1)"
  assert train[3].heads == [2, 3, 0, 5, 3]
  assert train[0].spans == [(1, 1), (4, 4)] and train[0].entity_types is None
  assert train[0].source == "semeval/train.json:0"
  config.data.directed = True
  train = readers.load_splits(config)["train"]
  assert [r.label for r in train] == ["Cause-Effect(e1,e2)", "Other", "Component-Whole(e2,e1)",
                                      "Cause-Effect(e1,e2)"]


def test_semeval_directed_needs_directed_labels(tmp_path):
  config = semeval_config(tmp_path, [semeval_record(0, "Cause-Effect", None)])
  config.data.directed = True
  with pytest.raises(readers.DataError, match="'relation_directed': missing"):
    readers.load_splits(config)


def test_label_orders():
  c = config_base.base_config()
  names = readers.label_names(c)
  assert names[0] == "Other" and len(names) == 10 and names[1:] == sorted(names[1:])
  c.data.directed = True
  names = readers.label_names(c)
  assert names[0] == "Other" and len(names) == 19 and names[1:] == sorted(names[1:])
  c.data.task = "pubmed"
  assert readers.label_names(c) == ["None", "resistance", "resistance or non-response",
                                    "response", "sensitivity"]
  c.data.label_set = "binary"
  assert readers.label_names(c) == ["No", "Yes"]
  assert readers.num_entities(c) == 3
  c.data.arity = "binary"
  assert readers.num_entities(c) == 2


def _tacred_fixture_config():
  import importlib.util  # pylint: disable=g-import-not-at-top
  spec = importlib.util.spec_from_file_location("tf", _REPO / "configs" / "tacred_fixture.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def test_tacred_fixture():
  config = _tacred_fixture_config()
  splits = readers.load_splits(config)
  assert {k: len(v) for k, v in splits.items()} == {"train": 5, "dev": 3, "test": 3}
  assert splits["train"][0].entity_types == ["PERSON", "CITY"]
  names = readers.label_names(config)
  assert names[0] == "no_relation" and len(names) == 42
  config.data.label_file = ""
  names = readers.label_names(config)
  assert names[0] == "no_relation" and names[1:] == sorted(names[1:]) and len(names) == 5


def test_tacred_unknown_label(tmp_path):
  config = _tacred_fixture_config()
  data = json.loads((pathlib.Path(config.data_dir) / "tacred" / "dev.json").read_text())
  data[2]["relation"] = "per:favourite_colour"
  config.data.dev_file = str(write_json(tmp_path / "dev.json", data))
  with pytest.raises(readers.DataError, match=r"dev.json: record 2: field 'relation'"):
    readers.load_splits(config)


# ------------------------------------------------------------------------- real shared data

def test_semeval_real(shared_data_dir):
  c = config_base.base_config()
  c.data_dir = str(shared_data_dir)
  splits = readers.load_splits(c)
  assert len(splits["train"]) == 8000 and len(splits["test"]) == 2717
  assert sum(r.label == "Other" for r in splits["train"]) == 1410
  c.data.directed = True
  train = readers.load_splits(c)["train"]
  assert sum(r.label == "Entity-Destination(e2,e1)" for r in train) == 1
  assert len({r.label for r in train}) == 19


def test_semeval_corenlp_string_heads(shared_data_dir):
  path = shared_data_dir / "semeval" / "test_corenlp_aggcn.json"
  records = semeval_task.read_semeval(path, directed=False)
  assert len(records) == 2717 and all(isinstance(h, int) for h in records[0].heads)
  assert records[0].label == "Message-Topic"


def _pubmed_config(data_dir, arity="ternary", label_set="multi"):
  c = config_base.base_config()
  c.data_dir = str(data_dir)
  c.data.task = "pubmed"
  c.data.train_file = c.data.test_file = f"pubmed/{arity}"
  c.data.arity, c.data.label_set = arity, label_set
  return c


def test_pubmed_ternary_folds(shared_data_dir):
  c = _pubmed_config(shared_data_dir)
  splits = readers.load_splits(c)
  assert len(splits["test"]) == 1474 and len(splits["train"]) == 5513
  assert sum(r.cross_sentence for r in splits["test"]) == 1474 - 423
  rec = splits["test"][0]
  assert len(rec.spans) == 3 and rec.entity_types == ["drug", "gene", "mutation"]
  assert any(h == -1 for r in splits["test"] for h in r.heads)
  c.data.dev_holdout = 200
  held = readers.load_splits(c)
  assert len(held["train"]) == 5313 and len(held["dev"]) == 200
  assert [r.source for r in readers.load_splits(c)["dev"]] == [r.source for r in held["dev"]]
  c.seed += 1
  assert [r.source for r in readers.load_splits(c)["dev"]] != [r.source for r in held["dev"]]


def test_pubmed_binary_labels(shared_data_dir):
  c = _pubmed_config(shared_data_dir, "binary", "binary")
  test = readers.load_splits(c)["test"]
  assert len(test) == 1256 and sum(r.cross_sentence for r in test) == 1256 - 577
  assert sum(r.label == "No" for r in test) == 597 and sum(r.label == "Yes" for r in test) == 659
  assert test[0].entity_types == ["drug", "mutation"] and len(test[0].spans) == 2
