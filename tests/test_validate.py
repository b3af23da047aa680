"""data/validate.py: graph rules, empty tokens, overlapping spans, lengths, empty splits.

Each bad record is a DataError naming the file, the record index and the field; PubMed's
conventions (head -1 for `self`, `next`-linked sentence roots, its cycles and overlapping
slots) stay valid, and every record of the real files passes (skipped without the data).
"""

from __future__ import annotations

import logging

import pytest

from conftest import semeval_config, semeval_record, write_json
from msfml_jax import config_base, tasks
from msfml_jax.data import readers, validate
from msfml_jax.tasks import pubmed, semeval


def _set(**fields):
  def mutate(rec):
    rec.update(fields)
  return mutate


# (mutation of record 1, field the message must name, words it must contain)
BAD_GRAPHS = {
    "two_roots": (_set(stanford_head=[2, 0, 0, 5, 3]), "stanford_head", "2 roots"),
    "own_head": (_set(stanford_head=[2, 3, 0, 4, 3]), "stanford_head", "token 3 is its own head"),
    "cycle": (_set(stanford_head=[2, 1, 0, 5, 3]), "stanford_head", "head cycle"),
    "long_cycle": (_set(stanford_head=[4, 3, 0, 5, 1]), "stanford_head", "head cycle"),
    "empty_token": (_set(token=["The", "", "caused", "the", "flood"]), "token",
                    "token 1 is empty"),
    "blank_token": (_set(token=["The", "storm", "caused", " ", "flood"]), "token",
                    "token 3 is empty"),
    "overlapping_spans": (_set(subj_start=1, subj_end=2, obj_start=2, obj_end=4), "obj_start",
                          "overlaps entity 1's span [1, 2] ('subj_start')"),
    "same_span": (_set(obj_start=1, obj_end=1), "obj_start", "overlaps"),
}


@pytest.mark.parametrize("case", sorted(BAD_GRAPHS))
def test_bad_graph_names_file_index_field(tmp_path, case):
  mutate, field, words = BAD_GRAPHS[case]
  bad = semeval_record(1)
  mutate(bad)
  config = semeval_config(tmp_path, [semeval_record(0), bad])
  with pytest.raises(readers.DataError) as err:
    readers.load_splits(config)
  message = str(err.value)
  assert "semeval/train.json: record 1" in message, message
  assert f"'{field}'" in message and words in message, message


def _pubmed_record(i: int, **fields) -> dict:
  """Two sentences linked by `next` (root of sentence 2 hangs under root 1), a `self` token."""
  rec = {"id": str(i), "relation": "None",
         "token": ["gefitinib", "treat", "egfr", ".", "l858r", "respond"],
         "stanford_pos": ["NN", "VB", "NN", ".", "NN", "VB"],
         "stanford_head": [2, 0, 2, -1, 6, 2],
         "stanford_deprel": ["nsubj", "root", "dobj", "self", "nsubj", "next"],
         "first_start": 0, "first_end": 0, "second_start": 2, "second_end": 2,
         "third_start": 4, "third_end": 4}
  rec.update(fields)
  return rec


def _pubmed_config(tmp_path, records):
  c = config_base.base_config()
  c.data_dir = str(tmp_path / "data")
  c.cache_dir = str(tmp_path / "cache")
  c.data.glove_file = ""
  c.data.task = "pubmed"
  c.data.train_file = c.data.test_file = "pubmed"
  c.data.num_folds = 2
  for k in range(2):
    write_json(tmp_path / "data" / "pubmed" / f"fold{k}.json", records)
  return c


def test_pubmed_conventions_stay_valid_and_tolerated_graphs_are_logged(tmp_path, caplog):
  records = [_pubmed_record(0),
             # the real folds' two-token cycle (a <-> c-prot) and overlapping slots
             _pubmed_record(1, stanford_head=[2, 0, 4, 3, 6, 2]),
             _pubmed_record(2, first_start=0, first_end=2, second_start=2, second_end=2)]
  with caplog.at_level(logging.INFO):
    splits = readers.load_splits(_pubmed_config(tmp_path, records))
  assert len(splits["test"]) == 3 and splits["test"][0].cross_sentence
  assert "kept 1 records with a head cycle and 1 with overlapping entity spans" in caplog.text


@pytest.mark.parametrize("heads,words", [([2, 0, 2, -1, 0, 2], "2 roots"),
                                         ([2, 0, 3, -1, 6, 2], "token 2 is its own head")])
def test_pubmed_still_needs_one_root_and_no_self_loop(tmp_path, heads, words):
  config = _pubmed_config(tmp_path, [_pubmed_record(0), _pubmed_record(1, stanford_head=heads)])
  with pytest.raises(readers.DataError, match=rf"fold\d.json: record 1: field 'stanford_head'.*{words}"):
    readers.load_splits(config)


def test_find_cycle():
  assert validate.find_cycle([2, 3, 0]) is None
  assert validate.find_cycle([2, 0, -1, 3]) is None
  assert sorted(validate.find_cycle([0, 3, 4, 2])) == [1, 2, 3]


# --------------------------------------------------------------------- lengths, empty splits

def _long_record(i: int, n: int) -> dict:
  return {"id": str(i), "relation": "Other", "relation_directed": "Other",
          "token": ["w"] * n, "stanford_pos": ["NN"] * n, "stanford_head": [0] + [1] * (n - 1),
          "stanford_deprel": ["root"] + ["dep"] * (n - 1),
          "subj_start": 0, "subj_end": 0, "obj_start": 1, "obj_end": 1}


def test_train_record_over_the_largest_bucket_names_file_record_and_length(tmp_path):
  config = semeval_config(tmp_path, [semeval_record(0), _long_record(1, 40)],
                          [semeval_record(0)])
  config.data.buckets = (8, 32)
  with pytest.raises(readers.DataError) as err:
    readers.load_splits(config)
  message = str(err.value)
  assert "semeval/train.json: record 1" in message and "40 tokens" in message
  assert "largest bucket 32" in message and "data.buckets" in message
  assert "data.max_train_length" in message  # training records may be dropped instead
  config.data.max_train_length = 32          # ... and then they are, with a logged count
  assert len(readers.load_splits(config)["train"]) == 1


def test_eval_record_over_the_largest_bucket_says_which_setting_to_raise(tmp_path):
  config = semeval_config(tmp_path, [semeval_record(0)],
                          [semeval_record(0), semeval_record(1), _long_record(2, 40)])
  config.data.buckets = (8, 32)
  config.data.max_train_length = 32  # never drops evaluation records
  with pytest.raises(readers.DataError, match=r"semeval/test.json: record 2: .*40 tokens.*"
                     r"add a bucket >= 40 to data.buckets \(e.g. 64\)$"):
    readers.load_splits(config)


def test_cache_hit_with_smaller_buckets_is_refused_at_load(tmp_path):
  from msfml_jax.data import cache  # pylint: disable=import-outside-toplevel
  config = semeval_config(tmp_path, [semeval_record(0)], [semeval_record(0), _long_record(1, 40)])
  config.data.buckets = (64,)
  cache.load_dataset(config, progress=False)
  config.data.buckets = (32,)  # not in the cache key: the cached arrays are reused
  with pytest.raises(readers.DataError, match=r"test: record 1 \(id 1\).*40 tokens"):
    cache.load_dataset(config, progress=False)


def test_max_train_length_drops_with_a_logged_count(tmp_path, caplog):
  config = semeval_config(tmp_path, [semeval_record(0), _long_record(1, 9)])
  config.data.max_train_length = 8
  with caplog.at_level(logging.INFO):
    splits = readers.load_splits(config)
  assert len(splits["train"]) == 1 and len(splits["test"]) == 2
  assert "dropped 1 of 2 train records" in caplog.text


@pytest.mark.parametrize("case,words", [
    ("empty_train", r"the train split is empty: it has no records \(.*semeval/train.json\)"),
    ("empty_test", r"the test split is empty: it has no records \(.*semeval/test.json\)"),
    ("all_dropped", r"the train split is empty: all 1 records were dropped by "
                    r"data.max_train_length"),
    ("holdout", r"data.dev_holdout 1 >= 1 train records"),
])
def test_empty_split_names_the_split_and_its_file(tmp_path, case, words):
  train = [] if case == "empty_train" else [semeval_record(0)]
  config = semeval_config(tmp_path, train, [] if case == "empty_test" else [semeval_record(0)])
  if case == "all_dropped":
    config.data.max_train_length = 3
  if case == "holdout":
    config.data.dev_holdout = 1
  with pytest.raises(readers.DataError, match=words):
    readers.load_splits(config)


# ------------------------------------------------------------------------- real shared data

def test_every_real_record_passes(shared_data_dir):
  """Every record of the real SemEval (both parses) and PubMed (both arities) files."""
  config = config_base.base_config()
  files = [(shared_data_dir / "semeval" / f, "semeval")
           for f in ("train.json", "test.json", "test_corenlp_aggcn.json")]
  for arity in ("binary", "ternary"):
    files += [(p, arity) for p in sorted((shared_data_dir / "pubmed" / arity).glob("*.json"))]
  total = 0
  for path, kind in files:
    if kind == "semeval":
      records, task = semeval.read_semeval(path, False), tasks.get("semeval")
    else:
      config.data.arity = kind
      records, task = pubmed.read_pubmed_fold(path, kind, "multi"), tasks.get("pubmed")
    validate.check_records(path, records, task.validation_fields(config), task.graph_rules)
    total += len(records)
  assert total == 8000 + 2717 * 2 + 6087 + 6987
