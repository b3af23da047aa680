"""The task registry: everything that differs between datasets, one module per task.

A task (`base.Task`) declares its input files and reader, its label set and order, its
negative label (or none), its entities (number, names, types where the data has them), its
main metric, its scorer and the extra fields of `predictions.jsonl`. The rest of the code asks
the task of a config, `tasks.get(config)`, and never tests a task's name.

Adding a dataset: one module here (a `Task` subclass and `TASK = ...`), its entry in
`TASKS`, and a config file under `configs/` that sets `data.task` to its name.
"""

from __future__ import annotations

from typing import Any, Mapping

from msfml_jax.tasks import custom, pubmed, semeval, tacred
from msfml_jax.tasks.base import Task

TASKS: dict[str, Task] = {t.name: t for t in (semeval.TASK, tacred.TASK, pubmed.TASK,
                                              custom.TASK)}


def get(config_or_name: Any) -> Task:
  """The task of a config (`config.data.task`, a ConfigDict or a plain dict) or of a name."""
  if isinstance(config_or_name, str):
    name = config_or_name
  elif isinstance(config_or_name, Mapping):
    name = config_or_name["data"]["task"]
  else:
    name = config_or_name.data.task
  if name not in TASKS:
    raise ValueError(f"unknown data.task {name!r} (one of {', '.join(TASKS)})")
  return TASKS[name]


__all__ = ["TASKS", "Task", "get"]
