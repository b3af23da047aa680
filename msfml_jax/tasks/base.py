"""`Task`: what a dataset declares (see the package docstring)."""

from __future__ import annotations

import pathlib
from typing import Any, Callable, Sequence

import ml_collections
import numpy as np

from msfml_jax.data import readers, validate

Reader = Callable[[pathlib.Path], list[readers.Record]]


class Task:
  """Defaults shared by the tasks; every method takes the run's config.

  Subclasses set `name` and override what differs. Methods are pure functions of the config
  (and of the files it names), so a task object holds no state.
  """

  name: str = ""
  default_main_metric: str = "accuracy"
  # What the dependency graphs may contain beyond a plain tree (`validate.GraphRules`).
  graph_rules: validate.GraphRules = validate.TREE

  # --- data ------------------------------------------------------------------------------

  def input_files(self, config: ml_collections.ConfigDict) -> dict[str, pathlib.Path]:
    """Every file the splits are read from (also what the cache key hashes): train, test,
    dev and label files as configured."""
    d = config.data
    files = {"train": readers.resolve_path(config, d.train_file),
             "test": readers.resolve_path(config, d.test_file)}
    if d.dev_file:
      files["dev"] = readers.resolve_path(config, d.dev_file)
    if d.label_file:
      files["labels"] = readers.resolve_path(config, d.label_file)
    return files

  def reader(self, config: ml_collections.ConfigDict) -> Reader:
    """path -> records (labels checked against `label_names`)."""
    raise NotImplementedError

  # --- labels and entities ---------------------------------------------------------------

  def label_names(self, config: ml_collections.ConfigDict) -> list[str]:
    """The fixed label order; index = label id."""
    raise NotImplementedError

  def negative_label(self, config: ml_collections.ConfigDict) -> str | None:
    """The "no relation" class left out of precision and recall; None = every label scored."""
    del config
    return None

  def entity_slots(self, config: ml_collections.ConfigDict) -> tuple[str, ...]:
    """The entities' names, in slot order; also the `<name>_start`/`<name>_end` field
    prefixes of the dataset's records (prediction accepts those fields as they are)."""
    del config
    return ("subj", "obj")

  def validation_fields(self, config: ml_collections.ConfigDict) -> validate.Fields:
    """The field names `validate` messages use: TACRED-style `token`, `stanford_head` and
    `<slot>_start` by default."""
    return validate.Fields(tuple(f"{s}_start" for s in self.entity_slots(config)))

  def num_entities(self, config: ml_collections.ConfigDict) -> int:
    """Entity slots per record."""
    return len(self.entity_slots(config))

  def entity_types(self, config: ml_collections.ConfigDict) -> tuple[str, ...] | None:
    """Fixed entity types per slot (PubMed), None when the records carry their own or none."""
    del config
    return None

  # --- scoring ---------------------------------------------------------------------------

  def main_metric(self, config: ml_collections.ConfigDict) -> str:
    """The key checkpoints are selected by (`select_metric` overrides it)."""
    del config
    return self.default_main_metric

  def selection_metric(self, config: ml_collections.ConfigDict) -> str:
    """`config.select_metric`, else the main metric."""
    return config.get("select_metric") or self.main_metric(config)

  def score(self, config: ml_collections.ConfigDict, pred: Any, gold: Any,
            label_names: Sequence[str], cross_sentence: Any = None) -> dict[str, Any]:
    """Metrics of predictions against gold labels (ids or names), percentages 0-100."""
    raise NotImplementedError

  def prediction_extras(self, config: ml_collections.ConfigDict,
                        split: Any) -> dict[str, np.ndarray]:
    """Per-record fields added to `predictions.jsonl` (split: `arrays.SplitArrays`)."""
    del config
    return {"cross_sentence": split.cross_sentence}
