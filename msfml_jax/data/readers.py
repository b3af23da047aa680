"""Readers: dataset files -> lists of `Record` (see docs/design.md).

The per-dataset formats, label sets and file layouts live in the task registry
(`msfml_jax/tasks/`, one module per task); this module holds what they share: the `Record`,
path resolution, label files and the split logic (dev hold-out, length filter). Every problem
raises `DataError` naming the file, the record index and the field.
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


def resolve_path(config: ml_collections.ConfigDict, name: str) -> pathlib.Path:
  """A config path: absolute as is, else relative to the resolved data_dir."""
  path = pathlib.Path(name).expanduser()
  return path if path.is_absolute() else paths.resolve_data_dir(config.data_dir) / path


def source_name(path: pathlib.Path, index: int) -> str:
  """`folder/file:index`, the `Record.source` of record `index` of `path`."""
  return f"{path.parent.name}/{path.name}:{index}"


def read_label_file(path: pathlib.Path) -> list[str]:
  """One label per non-blank line, in order; duplicates are an error."""
  try:
    labels = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
              if line.strip()]
  except FileNotFoundError:
    raise DataError(f"{path}: label file not found") from None
  seen = set()
  for number, label in enumerate(labels, 1):
    if label in seen:
      raise DataError(f"{path}: label {label!r} repeated (label {number})")
    seen.add(label)
  if not labels:
    raise DataError(f"{path}: no labels")
  return labels


# ---------------------------------------------------------------------------------------------
# What the configured task declares (msfml_jax.tasks); imported late: tasks import this module.

def _task(config: ml_collections.ConfigDict):
  from msfml_jax import tasks  # pylint: disable=import-outside-toplevel
  return tasks.get(config)


def label_names(config: ml_collections.ConfigDict) -> list[str]:
  """The fixed label order of the configured task; index = label id."""
  return _task(config).label_names(config)


def num_entities(config: ml_collections.ConfigDict) -> int:
  """Entity slots per record of the configured task."""
  return _task(config).num_entities(config)


def input_files(config: ml_collections.ConfigDict) -> dict[str, pathlib.Path]:
  """Every file the configured splits are read from (also what the cache key hashes)."""
  return _task(config).input_files(config)


# ---------------------------------------------------------------------------------------------
# Splits.

def _hold_out(train: list[Record], n: int, seed: int) -> tuple[list[Record], list[Record]]:
  """Splits `n` records off train with a seeded permutation; both keep the file order."""
  if n >= len(train):
    raise DataError(f"data.dev_holdout {n} >= {len(train)} train records: the train split "
                    f"would be empty")
  dev_idx = set(np.random.default_rng(seed).permutation(len(train))[:n].tolist())
  dev = [r for i, r in enumerate(train) if i in dev_idx]
  rest = [r for i, r in enumerate(train) if i not in dev_idx]
  return rest, dev


def _read_checked(task, config: ml_collections.ConfigDict):
  """path -> records of `task`'s reader, each checked by `validate` (graph, tokens, spans)
  under the task's `graph_rules`."""
  read, fields = task.reader(config), task.validation_fields(config)

  def read_and_check(path: pathlib.Path) -> list[Record]:
    records = read(path)
    validate.check_records(path, records, fields, task.graph_rules)
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
  task = _task(config)
  read = _read_checked(task, config)
  files = task.input_files(config)
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
