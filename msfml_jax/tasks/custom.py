"""Your own data: records in the documented schema (docs/data_format.md), any label set.

Files are JSON lines (one record per line; a JSON array is accepted too), each record checked
against `record.schema.json` and then for consistency (lengths, head range, spans). Labels:
`data.label_file` (one per line, in order), else the labels of the training split sorted
(the negative one first), logged. `data.negative_label` ("" = every label is scored) is left
out of micro and macro P/R/F1 (`evaluate.relation_scores`). `data.num_entities` (2 or 3)
entities per record. `tools/prepare_data.py` writes such files from labelled text.
"""

from __future__ import annotations

import functools
import json
import pathlib
from typing import Any, Callable, Iterator, Sequence

from absl import logging
import fastjsonschema
import jsonschema
import ml_collections

from msfml_jax import evaluate
from msfml_jax.data import readers
from msfml_jax.data import validate as graph_rules
from msfml_jax.data.json_fields import DataError
from msfml_jax.tasks import base

SCHEMA_PATH = pathlib.Path(__file__).with_name("record.schema.json")
ENTITY_NAMES = ("e1", "e2", "e3")


@functools.lru_cache(maxsize=1)
def _schema() -> dict:
  return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def _fast_check() -> Callable[[Any], Any]:
  """The schema compiled to Python (fastjsonschema, ~30x faster than jsonschema here)."""
  return fastjsonschema.compile(_schema())


def iter_raw(path: pathlib.Path) -> Iterator[tuple[str, int, Any]]:
  """(where, index, object) per record: JSON lines (blank lines skipped) or a JSON array."""
  try:
    text = path.read_text(encoding="utf-8")
  except FileNotFoundError:
    raise DataError(f"{path}: file not found") from None
  except UnicodeDecodeError as e:
    raise DataError(f"{path}: not UTF-8 text ({e})") from None
  if text.lstrip().startswith("["):
    try:
      items = json.loads(text)
    except json.JSONDecodeError as e:
      raise DataError(f"{path}: invalid or truncated JSON ({e})") from None
    for i, item in enumerate(items):
      yield f"{path}: record {i}", i, item
    return
  index = 0
  for number, line in enumerate(text.splitlines(), 1):
    if not line.strip():
      continue
    try:
      item = json.loads(line)
    except json.JSONDecodeError as e:
      raise DataError(f"{path}: line {number}: not JSON ({e})") from None
    yield f"{path}: line {number}", index, item
    index += 1


def validate(raw: Any, where: str) -> None:
  """The schema check: the first problem as a DataError naming the field.

  Valid records take the compiled check only; a failing one is explained by jsonschema's
  `best_match`, whose messages name the field and the rule.
  """
  try:
    _fast_check()(raw)
    return
  except fastjsonschema.JsonSchemaException:
    pass
  error = jsonschema.exceptions.best_match(jsonschema.Draft7Validator(_schema()).iter_errors(raw))
  if error is not None:
    field = ".".join(str(p) for p in error.absolute_path) or "(record)"
    raise DataError(f"{where}: field '{field}': {error.message}")


def record_from_json(raw: Any, where: str, index: int, num_entities: int,
                     labels: set[str] | None, source: str = "") -> readers.Record:
  """One schema-valid, consistent record -> Record (every problem a DataError)."""
  validate(raw, where)
  tokens, n = raw["tokens"], len(raw["tokens"])
  for field in ("pos", "heads", "deprels"):
    if len(raw[field]) != n:
      raise DataError(f"{where}: field '{field}': length {len(raw[field])} != {n} tokens")
  for i, h in enumerate(raw["heads"]):
    if h > n:
      raise DataError(f"{where}: field 'heads': head {h} of token {i} out of range [0, {n}]")
  if 0 not in raw["heads"]:
    raise DataError(f"{where}: field 'heads': no root (no head == 0)")
  spans = [tuple(s) for s in raw["spans"]]
  if len(spans) != num_entities:
    raise DataError(f"{where}: field 'spans': {len(spans)} entities, data.num_entities is "
                    f"{num_entities}")
  for slot, (start, end) in enumerate(spans):
    if not start <= end < n:
      raise DataError(f"{where}: field 'spans.{slot}': span [{start}, {end}] reversed or out "
                      f"of range for {n} tokens")
  types = raw.get("entity_types")
  if types is not None and len(types) != len(spans):
    raise DataError(f"{where}: field 'entity_types': {len(types)} types for {len(spans)} "
                    "entities")
  if labels is not None and raw["label"] not in labels:
    raise DataError(f"{where}: field 'label': unknown label {raw['label']!r}")
  return readers.Record(str(raw.get("id", index)), list(tokens), list(raw["pos"]),
                        list(raw["heads"]), list(raw["deprels"]), spans, raw["label"],
                        "next" in raw["deprels"], list(types) if types else None, None,
                        source)


def read_custom(path: pathlib.Path, num_entities: int,
                labels: Sequence[str] | None) -> list[readers.Record]:
  """Every record of a custom-task file."""
  allowed = set(labels) if labels is not None else None
  return [record_from_json(raw, where, i, num_entities, allowed, readers.source_name(path, i))
          for where, i, raw in iter_raw(path)]


class Custom(base.Task):
  """Any label set in the documented record schema."""

  name = "custom"

  def validation_fields(self, config: ml_collections.ConfigDict) -> graph_rules.Fields:
    return graph_rules.Fields(tuple(f"spans.{k}" for k in range(self.num_entities(config))),
                              token="tokens", head="heads")
  default_main_metric = "micro_f1"  # = accuracy when data.negative_label is ""

  def reader(self, config: ml_collections.ConfigDict) -> base.Reader:
    labels = self.label_names(config)
    n = self.num_entities(config)
    return lambda path: read_custom(path, n, labels)

  def label_names(self, config: ml_collections.ConfigDict) -> list[str]:
    negative = self.negative_label(config)
    if config.data.label_file:
      path = readers.resolve_path(config, config.data.label_file)
      labels = readers.read_label_file(path)
      where = str(path)
    else:
      path = readers.resolve_path(config, config.data.train_file)
      found = {raw.get("label") if isinstance(raw, dict) else None
               for _, _, raw in iter_raw(path)}
      found = sorted(x for x in found if isinstance(x, str) and x)
      labels = ([negative] if negative in found else []) + [x for x in found if x != negative]
      where = f"{path} (train labels)"
      logging.info("custom task: %d labels from %s: %s", len(labels), path, labels)
    if negative is not None and negative not in labels:
      raise DataError(f"{where}: data.negative_label {negative!r} is not among the labels "
                      f"{labels} (set data.negative_label='' to score every label)")
    if len(labels) < 2:
      raise DataError(f"{where}: {len(labels)} label(s) {labels}; a classifier needs two")
    return labels

  def negative_label(self, config: ml_collections.ConfigDict) -> str | None:
    return config.data.negative_label or None

  def entity_slots(self, config: ml_collections.ConfigDict) -> tuple[str, ...]:
    n = config.data.num_entities
    if n not in (2, 3):
      raise ValueError(f"data.num_entities must be 2 or 3, got {n}")
    return ENTITY_NAMES[:n]

  def score(self, config: ml_collections.ConfigDict, pred: Any, gold: Any,
            label_names: Sequence[str], cross_sentence: Any = None) -> dict[str, Any]:
    del cross_sentence
    return evaluate.relation_scores(pred, gold, label_names, self.negative_label(config))


TASK = Custom()
