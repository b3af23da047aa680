"""Scores a file of predictions with one or more tasks' scorers (docs/results.md).

  python tools/score_predictions.py --predictions=W/predictions.jsonl --tasks=semeval,custom \
      --negative_label=Other

Reads JSON lines with `gold` and `prediction` (a run's predictions.jsonl, or the output of
`python -m msfml_jax.predict` on inputs that carry a label; rows with `error` are counted and
left out) and prints, per task, the scalar metrics of its scorer (`tasks.get(name).score`).
`--negative_label` and `--directed` set the config the scorers read (custom, SemEval).
"""

from __future__ import annotations

import json
import pathlib
import sys

from absl import app, flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
# pylint: disable=g-import-not-at-top,wrong-import-position
from msfml_jax import config_base, reporting, tasks

_PREDICTIONS = flags.DEFINE_string("predictions", None, "JSON lines with gold and prediction.")
_TASKS = flags.DEFINE_list("tasks", ["custom"], "Scorers to apply (task names).")
_NEGATIVE = flags.DEFINE_string("negative_label", "", "data.negative_label (custom).")
_DIRECTED = flags.DEFINE_bool("directed", False, "data.directed (SemEval).")


def score_rows(rows: list[dict], task_name: str, negative_label: str = "",
               directed: bool = False) -> dict:
  """The scalar metrics of `task_name`'s scorer on rows with `gold` and `prediction`."""
  config = config_base.base_config()
  config.data.update(task=task_name, negative_label=negative_label, directed=directed)
  task = tasks.get(config)
  found = sorted({r["gold"] for r in rows} | {r["prediction"] for r in rows})
  if task_name in ("semeval", "pubmed"):  # fixed label sets, no file needed
    labels = task.label_names(config)
  else:
    labels = ([negative_label] if negative_label else []) + [x for x in found
                                                             if x != negative_label]
  metrics = task.score(config, [r["prediction"] for r in rows], [r["gold"] for r in rows],
                       labels, cross_sentence=[bool(r.get("cross_sentence")) for r in rows])
  return reporting.scalar_metrics(metrics)


def main(argv):
  del argv
  with open(_PREDICTIONS.value, encoding="utf-8") as f:
    rows = [json.loads(line) for line in f if line.strip()]
  failed = [r for r in rows if "error" in r]
  scored = [r for r in rows if "error" not in r and "gold" in r]
  out = {"rows": len(rows), "failed": len(failed), "scored": len(scored)}
  for name in _TASKS.value:
    metrics = score_rows(scored, name, _NEGATIVE.value, _DIRECTED.value)
    out[name] = {k: round(v, 4) for k, v in reporting.overall_metrics(metrics).items()}
  print(json.dumps(out, indent=1))


if __name__ == "__main__":
  flags.mark_flags_as_required(["predictions"])
  app.run(main)
