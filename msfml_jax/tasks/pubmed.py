"""PubMed cross-sentence n-ary RE (Peng et al. 2017), AGGCN's five folds.

Records: `fold{k}.json` with `first_*`, `second_*` (`third_*`) spans and heads -1 for `self`
tokens; train = the folds other than `data.fold`. Entities drug, gene, mutation (ternary) or
drug, mutation (binary), typed as such. Main metric: accuracy, also split into single- and
cross-sentence records.
"""

from __future__ import annotations

import pathlib
from typing import Any, Sequence

import ml_collections

from msfml_jax import evaluate
from msfml_jax.data import json_fields as jf
from msfml_jax.data import readers, validate
from msfml_jax.tasks import base

NEGATIVE = "None"
RELATIONS = ("resistance", "resistance or non-response", "response", "sensitivity")
SLOTS = {"ternary": (("first", "drug"), ("second", "gene"), ("third", "mutation")),
         "binary": (("first", "drug"), ("second", "mutation"))}


def read_pubmed_fold(path: pathlib.Path, arity: str, label_set: str) -> list[readers.Record]:
  """One PubMed fold; `binary` label set maps None -> No and every relation -> Yes."""
  slots = SLOTS[arity]
  allowed = {NEGATIVE, *RELATIONS}
  types = [t for _, t in slots]
  records = []
  for i, raw in enumerate(jf.read_json_array(path)):
    where = f"{path}: record {i}"
    tokens, pos, heads, deprels = jf.parse_tokens(raw, where, allow_no_head=True)
    spans = [jf.span(raw, where, slot, len(tokens)) for slot, _ in slots]
    label = jf.label(raw, where, "relation", allowed)
    if label_set == "binary":
      label = "No" if label == NEGATIVE else "Yes"
    records.append(readers.Record(str(jf.get(raw, where, "id")), tokens, pos, heads, deprels,
                                  spans, label, "next" in deprels, list(types), None,
                                  readers.source_name(path, i)))
  return records


def _arity(config: ml_collections.ConfigDict) -> str:
  if config.data.arity not in SLOTS:
    raise ValueError(f"unknown data.arity {config.data.arity!r} (ternary | binary)")
  return config.data.arity


class PubMed(base.Task):
  """PubMed n-ary: `data.arity` ternary | binary, `data.label_set` multi | binary."""

  name = "pubmed"
  # Collapsed CoreNLP graphs: `self` tokens have head -1; the public folds hold head cycles
  # and overlapping slots, kept and counted (msfml_jax/data/validate.py).
  graph_rules = validate.COLLAPSED
  default_main_metric = "accuracy"

  def input_files(self, config: ml_collections.ConfigDict) -> dict[str, pathlib.Path]:
    d = config.data
    if not 0 <= d.fold < d.num_folds:
      raise ValueError(f"data.fold {d.fold} not in [0, {d.num_folds})")
    folder = readers.resolve_path(config, d.train_file)
    files = {f"train_fold{k}": folder / f"fold{k}.json"
             for k in range(d.num_folds) if k != d.fold}
    files["test"] = readers.resolve_path(config, d.test_file) / f"fold{d.fold}.json"
    return files

  def reader(self, config: ml_collections.ConfigDict) -> base.Reader:
    arity, label_set = _arity(config), config.data.label_set
    self.label_names(config)  # checks label_set
    return lambda path: read_pubmed_fold(path, arity, label_set)

  def label_names(self, config: ml_collections.ConfigDict) -> list[str]:
    if config.data.label_set == "binary":
      return ["No", "Yes"]
    if config.data.label_set == "multi":
      return [NEGATIVE] + sorted(RELATIONS)
    raise ValueError(f"unknown data.label_set {config.data.label_set!r} (multi | binary)")

  def negative_label(self, config: ml_collections.ConfigDict) -> str | None:
    return "No" if config.data.label_set == "binary" else NEGATIVE

  def entity_slots(self, config: ml_collections.ConfigDict) -> tuple[str, ...]:
    return tuple(slot for slot, _ in SLOTS[_arity(config)])

  def entity_types(self, config: ml_collections.ConfigDict) -> tuple[str, ...] | None:
    return tuple(t for _, t in SLOTS[_arity(config)])

  def score(self, config: ml_collections.ConfigDict, pred: Any, gold: Any,
            label_names: Sequence[str], cross_sentence: Any = None) -> dict[str, Any]:
    del config, label_names
    if cross_sentence is None:
      raise ValueError("pubmed scoring needs cross_sentence")
    return evaluate.pubmed_scores(pred, gold, cross_sentence)


TASK = PubMed()
