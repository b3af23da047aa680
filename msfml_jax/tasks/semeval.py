"""SemEval-2010 Task 8: 10 undirected classes (the paper's setting) or 19 directed ones.

Records: TACRED-style JSON arrays (`token`, `stanford_*`, `subj_*` = e1, `obj_*` = e2);
`relation` may be undirected or directed (`X(e2,e1)`), `relation_directed` optional; heads may
be strings (AGGCN's CoreNLP file). Negative class: Other. Main metric: the official scorer's
macro-F1 over the nine relations (`evaluate.semeval_scores`).
"""

from __future__ import annotations

import pathlib
from typing import Any, Sequence

import ml_collections
import numpy as np

from msfml_jax import evaluate
from msfml_jax.data import json_fields as jf
from msfml_jax.data import readers
from msfml_jax.tasks import base

RELATIONS = (
    "Cause-Effect", "Component-Whole", "Content-Container", "Entity-Destination",
    "Entity-Origin", "Instrument-Agency", "Member-Collection", "Message-Topic",
    "Product-Producer")
OTHER = evaluate.SEMEVAL_OTHER


def directed_labels() -> list[str]:
  """Other, then the 18 directed labels sorted."""
  return [OTHER] + sorted(f"{r}({d})" for r in RELATIONS for d in ("e1,e2", "e2,e1"))


def undirected_labels() -> list[str]:
  """Other, then the nine relations sorted."""
  return [OTHER] + sorted(RELATIONS)


def read_semeval(path: pathlib.Path, directed: bool) -> list[readers.Record]:
  """SemEval JSON; `relation` may be undirected or directed (`X(e2,e1)`), heads int or str."""
  directed_set = set(directed_labels())
  undirected_set = set(undirected_labels())
  records = []
  for i, raw in enumerate(jf.read_json_array(path)):
    where = f"{path}: record {i}"
    tokens, pos, heads, deprels = jf.parse_tokens(raw, where)
    spans = [jf.span(raw, where, p, len(tokens)) for p in ("subj", "obj")]
    relation = jf.get(raw, where, "relation")
    if "relation_directed" in raw:
      label_directed = jf.label(raw, where, "relation_directed", directed_set)
    elif relation in directed_set and relation != OTHER:
      label_directed = relation
    else:
      label_directed = None
    if directed:
      if label_directed is None and relation != OTHER:
        jf.label(raw, where, "relation_directed", directed_set)  # raises: missing
      label = label_directed or OTHER
    else:
      label = relation.split("(")[0] if isinstance(relation, str) else relation
      if label not in undirected_set:
        raise jf.fail(where, "relation", f"unknown label {relation!r}")
    records.append(readers.Record(str(jf.get(raw, where, "id")), tokens, pos, heads, deprels,
                                  spans, label, False, None, label_directed,
                                  readers.source_name(path, i)))
  return records


class SemEval(base.Task):
  """SemEval-2010 Task 8 (`data.directed` picks the 19-label setting)."""

  name = "semeval"
  default_main_metric = "macro_f1"  # in both settings the key holds the official score

  def reader(self, config: ml_collections.ConfigDict) -> base.Reader:
    return lambda path: read_semeval(path, bool(config.data.directed))

  def label_names(self, config: ml_collections.ConfigDict) -> list[str]:
    return directed_labels() if config.data.directed else undirected_labels()

  def negative_label(self, config: ml_collections.ConfigDict) -> str | None:
    del config
    return OTHER

  def score(self, config: ml_collections.ConfigDict, pred: Any, gold: Any,
            label_names: Sequence[str], cross_sentence: Any = None) -> dict[str, Any]:
    del cross_sentence
    return evaluate.semeval_scores(pred, gold, label_names, bool(config.data.directed))

  def prediction_extras(self, config: ml_collections.ConfigDict,
                        split: Any) -> dict[str, np.ndarray]:
    return dict(super().prediction_extras(config, split), label_directed=split.label_directed)


TASK = SemEval()
