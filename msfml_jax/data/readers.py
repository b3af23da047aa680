"""Readers: dataset files -> lists of `Record` (see docs/design.md).

Formats (details in the shared data README):
  * SemEval-2010 Task 8 and TACRED: TACRED-style JSON arrays (`token`, `stanford_*`,
    `subj_*`, `obj_*`); SemEval heads may be strings (AGGCN's CoreNLP file).
  * PubMed n-ary: AGGCN's folds `fold{k}.json` with `first_*`, `second_*` (`third_*`) spans,
    heads -1 for `self` tokens.
Every problem raises `DataError` naming the file, the record index and the field.
"""

from __future__ import annotations

import dataclasses
import pathlib

from absl import logging
import ml_collections
import numpy as np

from msfml_jax import paths
from msfml_jax.data import json_fields as jf
from msfml_jax.data import validate
from msfml_jax.data.json_fields import DataError  # re-exported


@dataclasses.dataclass
class Record:
  """One relation instance (field meanings in docs/design.md)."""
  id: str
  tokens: list[str]
  pos: list[str]
  heads: list[int]
  deprels: list[str]
  spans: list[tuple[int, int]]
  label: str
  cross_sentence: bool
  entity_types: list[str] | None
  label_directed: str | None = None
  source: str = ""


SEMEVAL_RELATIONS = (
    "Cause-Effect", "Component-Whole", "Content-Container", "Entity-Destination",
    "Entity-Origin", "Instrument-Agency", "Member-Collection", "Message-Topic",
    "Product-Producer")
SEMEVAL_OTHER = "Other"
TACRED_NEGATIVE = "no_relation"
PUBMED_NEGATIVE = "None"
PUBMED_RELATIONS = ("resistance", "resistance or non-response", "response", "sensitivity")
PUBMED_SLOTS = {"ternary": (("first", "drug"), ("second", "gene"), ("third", "mutation")),
                "binary": (("first", "drug"), ("second", "mutation"))}


def resolve_path(config: ml_collections.ConfigDict, name: str) -> pathlib.Path:
  """A config path: absolute as is, else relative to the resolved data_dir."""
  path = pathlib.Path(name).expanduser()
  return path if path.is_absolute() else paths.resolve_data_dir(config.data_dir) / path


def _source(path: pathlib.Path, index: int) -> str:
  return f"{path.parent.name}/{path.name}:{index}"


# ---------------------------------------------------------------------------------------------
# Labels.

def semeval_directed_labels() -> list[str]:
  """Other, then the 18 directed labels sorted."""
  return [SEMEVAL_OTHER] + sorted(f"{r}({d})" for r in SEMEVAL_RELATIONS
                                  for d in ("e1,e2", "e2,e1"))


def _tacred_labels(config: ml_collections.ConfigDict) -> list[str]:
  """label_file order, else the train labels sorted with no_relation first."""
  if config.data.label_file:
    path = resolve_path(config, config.data.label_file)
    try:
      labels = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
      raise DataError(f"{path}: label file not found") from None
    if len(set(labels)) != len(labels):
      raise DataError(f"{path}: duplicate labels")
    return labels
  path = resolve_path(config, config.data.train_file)
  found = {jf.get(r, f"{path}: record {i}", "relation")
           for i, r in enumerate(jf.read_json_array(path))}
  return [TACRED_NEGATIVE] + sorted(found - {TACRED_NEGATIVE})


def label_names(config: ml_collections.ConfigDict) -> list[str]:
  """The fixed label order of the configured task; index = label id."""
  d = config.data
  if d.task == "semeval":
    if d.directed:
      return semeval_directed_labels()
    return [SEMEVAL_OTHER] + sorted(SEMEVAL_RELATIONS)
  if d.task == "tacred":
    return _tacred_labels(config)
  if d.task == "pubmed":
    if d.label_set == "binary":
      return ["No", "Yes"]
    if d.label_set == "multi":
      return [PUBMED_NEGATIVE] + sorted(PUBMED_RELATIONS)
    raise ValueError(f"unknown data.label_set {d.label_set!r}")
  raise ValueError(f"unknown data.task {d.task!r}")


def num_entities(config: ml_collections.ConfigDict) -> int:
  """Entity slots per record: 3 for PubMed ternary, else 2."""
  return len(span_fields(config))


def span_fields(config: ml_collections.ConfigDict) -> tuple[str, ...]:
  """The JSON prefix of each entity span (`subj`, `obj`; PubMed `first`, `second`[, `third`])."""
  if config.data.task == "pubmed":
    return tuple(slot for slot, _ in PUBMED_SLOTS[config.data.arity])
  return ("subj", "obj")


# ---------------------------------------------------------------------------------------------
# Formats.

def read_semeval(path: pathlib.Path, directed: bool) -> list[Record]:
  """SemEval JSON; `relation` may be undirected or directed (`X(e2,e1)`), heads int or str."""
  directed_set = set(semeval_directed_labels())
  undirected_set = {SEMEVAL_OTHER, *SEMEVAL_RELATIONS}
  records = []
  for i, raw in enumerate(jf.read_json_array(path)):
    where = f"{path}: record {i}"
    tokens, pos, heads, deprels = jf.parse_tokens(raw, where)
    spans = [jf.span(raw, where, p, len(tokens)) for p in ("subj", "obj")]
    relation = jf.get(raw, where, "relation")
    if "relation_directed" in raw:
      label_directed = jf.label(raw, where, "relation_directed", directed_set)
    elif relation in directed_set and relation != SEMEVAL_OTHER:
      label_directed = relation
    else:
      label_directed = None
    if directed:
      if label_directed is None and relation != SEMEVAL_OTHER:
        jf.label(raw, where, "relation_directed", directed_set)  # raises: missing
      label = label_directed or SEMEVAL_OTHER
    else:
      label = relation.split("(")[0] if isinstance(relation, str) else relation
      if label not in undirected_set:
        raise jf.fail(where, "relation", f"unknown label {relation!r}")
    records.append(Record(str(jf.get(raw, where, "id")), tokens, pos, heads, deprels, spans,
                          label, False, None, label_directed, _source(path, i)))
  return records


def read_tacred(path: pathlib.Path, labels: list[str]) -> list[Record]:
  """TACRED JSON with subj_type/obj_type as entity types; labels must be in `labels`."""
  allowed = set(labels)
  records = []
  for i, raw in enumerate(jf.read_json_array(path)):
    where = f"{path}: record {i}"
    tokens, pos, heads, deprels = jf.parse_tokens(raw, where)
    spans = [jf.span(raw, where, p, len(tokens)) for p in ("subj", "obj")]
    types = [jf.get(raw, where, "subj_type"), jf.get(raw, where, "obj_type")]
    label = jf.label(raw, where, "relation", allowed)
    records.append(Record(str(jf.get(raw, where, "id")), tokens, pos, heads, deprels, spans,
                          label, False, types, None, _source(path, i)))
  return records


def read_pubmed_fold(path: pathlib.Path, arity: str, label_set: str) -> list[Record]:
  """One PubMed fold; `binary` label set maps None -> No and every relation -> Yes."""
  slots = PUBMED_SLOTS[arity]
  allowed = {PUBMED_NEGATIVE, *PUBMED_RELATIONS}
  types = [t for _, t in slots]
  records = []
  for i, raw in enumerate(jf.read_json_array(path)):
    where = f"{path}: record {i}"
    tokens, pos, heads, deprels = jf.parse_tokens(raw, where, allow_no_head=True)
    spans = [jf.span(raw, where, slot, len(tokens)) for slot, _ in slots]
    label = jf.label(raw, where, "relation", allowed)
    if label_set == "binary":
      label = "No" if label == PUBMED_NEGATIVE else "Yes"
    records.append(Record(str(jf.get(raw, where, "id")), tokens, pos, heads, deprels, spans,
                          label, "next" in deprels, list(types), None, _source(path, i)))
  return records


# ---------------------------------------------------------------------------------------------
# Splits.

def input_files(config: ml_collections.ConfigDict) -> dict[str, pathlib.Path]:
  """Every file the configured splits are read from (also what the cache key hashes)."""
  d = config.data
  if d.task == "pubmed":
    if not 0 <= d.fold < d.num_folds:
      raise ValueError(f"data.fold {d.fold} not in [0, {d.num_folds})")
    folder = resolve_path(config, d.train_file)
    files = {f"train_fold{k}": folder / f"fold{k}.json"
             for k in range(d.num_folds) if k != d.fold}
    files["test"] = resolve_path(config, d.test_file) / f"fold{d.fold}.json"
    return files
  files = {"train": resolve_path(config, d.train_file),
           "test": resolve_path(config, d.test_file)}
  if d.dev_file:
    files["dev"] = resolve_path(config, d.dev_file)
  if d.label_file:
    files["labels"] = resolve_path(config, d.label_file)
  return files


def _reader(config: ml_collections.ConfigDict):
  """path -> records for the configured task (TACRED's label list is read once)."""
  d = config.data
  if d.task == "semeval":
    return lambda path: read_semeval(path, d.directed)
  if d.task == "tacred":
    labels = label_names(config)
    return lambda path: read_tacred(path, labels)
  if d.task == "pubmed":
    return lambda path: read_pubmed_fold(path, d.arity, d.label_set)
  raise ValueError(f"unknown data.task {d.task!r}")


def _hold_out(train: list[Record], n: int, seed: int) -> tuple[list[Record], list[Record]]:
  """Splits `n` records off train with a seeded permutation; both keep the file order."""
  if n >= len(train):
    raise DataError(f"data.dev_holdout {n} >= {len(train)} train records: the train split "
                    f"would be empty")
  dev_idx = set(np.random.default_rng(seed).permutation(len(train))[:n].tolist())
  dev = [r for i, r in enumerate(train) if i in dev_idx]
  rest = [r for i, r in enumerate(train) if i not in dev_idx]
  return rest, dev


def _read_checked(config: ml_collections.ConfigDict):
  """path -> records, each checked by `validate` (graph, tokens, spans) under its task's rules."""
  read, fields = _reader(config), span_fields(config)
  rules = validate.rules_for(config.data.task)

  def read_and_check(path: pathlib.Path) -> list[Record]:
    records = read(path)
    validate.check_records(path, records, fields, rules)
    return records
  return read_and_check


def _where(record: Record, files: dict[str, pathlib.Path]) -> str:
  """'<file>: record <i>' of a record read by this module (from its `source`)."""
  name, _, index = record.source.rpartition(":")
  by_source = {f"{p.parent.name}/{p.name}": p for p in files.values()}
  return f"{by_source.get(name, name)}: record {index}"


def load_splits(config: ml_collections.ConfigDict) -> dict[str, list[Record]]:
  """Reads train/test (and dev when configured: `dev_file` or `dev_holdout` > 0).

  PubMed: test = fold `fold`, train = the other folds in order. The dev hold-out is taken
  before the length filter so it does not depend on `max_train_length`; the filter applies
  to train only and its count is logged. Every record is validated (`validate`); a split left
  empty, or a record longer than the largest of `data.buckets`, is a DataError.
  """
  d = config.data
  if d.dev_file and d.dev_holdout > 0:
    raise ValueError("set either data.dev_file or data.dev_holdout, not both")
  read = _read_checked(config)
  files = input_files(config)
  train = [r for name, p in files.items() if name.startswith("train") for r in read(p)]
  splits = {"train": train, "test": read(files["test"])}
  if d.dev_file:
    splits["dev"] = read(files["dev"])
  elif d.dev_holdout > 0:
    splits["train"], splits["dev"] = _hold_out(train, d.dev_holdout, config.seed)
  dropped = 0
  if d.max_train_length > 0:
    kept = [r for r in splits["train"] if len(r.tokens) <= d.max_train_length]
    dropped = len(splits["train"]) - len(kept)
    logging.info("max_train_length=%d: dropped %d of %d train records", d.max_train_length,
                 dropped, len(splits["train"]))
    splits["train"] = kept
  split_files = {"train": ", ".join(str(p) for n, p in files.items() if n.startswith("train")),
                 "test": str(files["test"]),
                 "dev": str(files["dev"]) if d.dev_file else "held out of train"}
  validate.check_not_empty(splits, split_files, dropped)
  for name, records in splits.items():
    validate.check_lengths(name, [len(r.tokens) for r in records],
                           lambda i, records=records: _where(records[i], files), d.buckets)
  return splits
