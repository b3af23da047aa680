"""TACRED (and its layout): micro-F1 over the relations, `no_relation` excluded.

Records: TACRED JSON arrays with `subj_type`/`obj_type` as entity types. Labels: the
`data.label_file` order, else the train labels sorted with no_relation first. A label set
without `no_relation` is refused: use the `custom` task with `data.negative_label`.
"""

from __future__ import annotations

import pathlib
from typing import Any, Sequence

import ml_collections

from msfml_jax import evaluate
from msfml_jax.data import json_fields as jf
from msfml_jax.data import readers
from msfml_jax.tasks import base

NEGATIVE = "no_relation"


def read_tacred(path: pathlib.Path, labels: Sequence[str]) -> list[readers.Record]:
  """TACRED JSON with subj_type/obj_type as entity types; labels must be in `labels`."""
  allowed = set(labels)
  records = []
  for i, raw in enumerate(jf.read_json_array(path)):
    where = f"{path}: record {i}"
    tokens, pos, heads, deprels = jf.parse_tokens(raw, where)
    spans = [jf.span(raw, where, p, len(tokens)) for p in ("subj", "obj")]
    types = [jf.get(raw, where, "subj_type"), jf.get(raw, where, "obj_type")]
    label = jf.label(raw, where, "relation", allowed)
    records.append(readers.Record(str(jf.get(raw, where, "id")), tokens, pos, heads, deprels,
                                  spans, label, False, types, None,
                                  readers.source_name(path, i)))
  return records


class Tacred(base.Task):
  """TACRED: 42 labels, micro-F1 without no_relation (TACRED's scorer.py)."""

  name = "tacred"
  default_main_metric = "micro_f1"

  def reader(self, config: ml_collections.ConfigDict) -> base.Reader:
    labels = self.label_names(config)
    return lambda path: read_tacred(path, labels)

  def label_names(self, config: ml_collections.ConfigDict) -> list[str]:
    if config.data.label_file:
      path = readers.resolve_path(config, config.data.label_file)
      labels = readers.read_label_file(path)
      if NEGATIVE not in labels:
        raise jf.DataError(
            f"{path}: no '{NEGATIVE}' label; TACRED's scorer excludes that class by name. For "
            "another label set use data.task='custom' with data.negative_label "
            "(configs/custom.py)")
      return labels
    path = readers.resolve_path(config, config.data.train_file)
    found = {jf.get(r, f"{path}: record {i}", "relation")
             for i, r in enumerate(jf.read_json_array(path))}
    return [NEGATIVE] + sorted(found - {NEGATIVE})

  def negative_label(self, config: ml_collections.ConfigDict) -> str | None:
    del config
    return NEGATIVE

  def score(self, config: ml_collections.ConfigDict, pred: Any, gold: Any,
            label_names: Sequence[str], cross_sentence: Any = None) -> dict[str, Any]:
    del cross_sentence
    return evaluate.tacred_scores(pred, gold, label_names, self.negative_label(config))


TASK = Tacred()
