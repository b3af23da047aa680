"""docs/results.md's PubMed tables: Table 2's analog over the folds and the `pubmed_probe`
changes against their baseline folds."""

from __future__ import annotations

import pathlib
import sys
from typing import Any, Mapping, Sequence

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))
# pylint: disable=wrong-import-position
from msfml_jax import paper
from report_common import (DASH, Entry, baseline_pairs, fmt, fmt_mean_std, in_suite, max_dead,
                           metric_values, no_runs, per_epoch, settings_text, table,
                           test_metrics, trajectory, worst)


_CENTRING = "loss.feature_centering"


def _pubmed_table_runs(entries: Sequence[Entry], declared: Any) -> list[Entry]:
  """Table 2's runs: the `pubmed` suites', and the `pubmed_probe` runs whose only change is
  the feature loss's centring (Table 2's folds with the other reading of that switch)."""
  probes = getattr(declared, "PUBMED_PROBES", {})
  return (in_suite(entries, "pubmed", "pubmed_binary_class")
          + [e for e in in_suite(entries, "pubmed_probe")
             if set(probes.get(e.name, ((), 0, {}))[2]) == {_CENTRING}])


def _pubmed_group(e: Entry) -> tuple[str, str, str]:
  """(arity, label set, feature-loss centring) of a PubMed run."""
  return (e.config["data"]["arity"], e.config["data"]["label_set"],
          str(e.flat_config.get(_CENTRING)))


def _pubmed_row(setting: str, centring: str, runs: Sequence[Entry],
                published: Mapping[str, float]) -> list[str]:
  """One Table 2 row: the folds of `runs`, their accuracies and the paper's beside them."""
  folds = sorted(e.config["data"]["fold"] for e in runs)
  return [setting, centring, str(len(runs)), ", ".join(str(f) for f in folds) or DASH,
          fmt_mean_std(metric_values(runs, "accuracy")), fmt(published.get("cross"), 1),
          fmt_mean_std(metric_values(runs, "accuracy_single")), fmt(published.get("single"), 1),
          fmt_mean_std(metric_values(runs, "accuracy_cross")),
          fmt(worst([max_dead(e, "x_dead") for e in runs])),
          fmt(worst([max_dead(e, "y_dead") for e in runs]))]


def pubmed_section(entries: Sequence[Entry], context: Mapping[str, Any]) -> str:
  """Table 2 analog: Cross (all records) and Single accuracy per setting (and feature-loss
  centring) over the folds."""
  entries = _pubmed_table_runs(entries, context["suites"])
  if not entries:
    return no_runs("pubmed")
  source = paper.PUBMED_ACCURACY_SOURCE
  groups: dict[tuple[str, str, str], list[Entry]] = {}
  for e in entries:
    groups.setdefault(_pubmed_group(e), []).append(e)
  rows = []
  for (arity, labels), published in paper.PUBMED_ACCURACY.items():
    # Uncentred (the suites') first; a setting without runs keeps its row.
    centrings = sorted((c for a, l, c in groups if (a, l) == (arity, labels)),
                       key=lambda c: c != "none") or [DASH]
    for centring in centrings:
      rows.append(_pubmed_row(f"{arity}, {labels}-class", centring,
                              groups.get((arity, labels, centring), []), published))
  header = ["setting", "feature loss centring", "folds", "fold ids", "Cross: all test records",
            f"paper Cross ({source})",
            "Single: single-sentence records", f"paper Single ({source})",
            "multi-sentence records only", "max x_dead", "max y_dead"]
  notes = ("Test accuracy of each fold's best-on-dev epoch (dev: records held out of the "
           "training folds), mean ± sample std over folds. The paper's \"Cross\" is the "
           "accuracy on all records and \"Single\" on single-sentence ones (its multi-class "
           "columns give Cross only); our Single scores the model trained on all records on "
           "the single-sentence test records. **The folds share identical records** (the same "
           "record occurs in a training fold and in the test fold; see "
           "`../shared/data/README.md`), as in every published number on this data, so "
           "scores above the paper's are expected and are not evidence of a better model. "
           "max x_dead / y_dead: the largest epoch-mean fraction of dead MSCNN / MSGCN "
           "features in any fold and epoch. Feature loss centring: `loss.feature_centering` "
           "(`none`: the `pubmed` suites; `batch`: the `pubmed_probe` runs of those folds). "
           "Commands: the runs table.")
  return table(header, rows, "lllrrrrrrrr") + "\n\n" + notes


def _pubmed_probe_pairs(entries: Sequence[Entry], declared: Any) -> list[tuple[Entry, Entry]]:
  """(probe, its baseline) for every `pubmed_probe` run in results/."""
  return baseline_pairs(entries, in_suite(entries, "pubmed_probe"),
                        lambda e: declared.pubmed_probe_baseline(e.name))


def _pubmed_probe_summary(pairs: Sequence[tuple[Entry, Entry]], declared: Any) -> str:
  """One row per (setting, change) over its folds: the probe's and the baseline's best-on-dev
  test accuracy, their paired difference and the worst y_dead of either."""
  groups: dict[tuple[str, str], list[tuple[Entry, Entry]]] = {}
  for probe, base in pairs:
    (arity, labels), _, change = declared.PUBMED_PROBES[probe.name]
    groups.setdefault((f"{arity} {labels}-class", settings_text(change)), []).append((probe, base))
  rows = []
  for (setting, change), group in groups.items():
    acc = [[test_metrics(run)["accuracy"] for run in pair] for pair in group]
    rows.append([setting, change, str(len(group)), fmt_mean_std([a for a, _ in acc]),
                 fmt_mean_std([b for _, b in acc]), fmt_mean_std([a - b for a, b in acc], True),
                 fmt(worst([max_dead(p, "y_dead") for p, _ in group])),
                 fmt(worst([max_dead(b, "y_dead") for _, b in group]))])
  header = ["setting", "change", "folds", "test accuracy with the change",
            "baseline", "difference (paired by fold)", "max y_dead with the change",
            "baseline max y_dead"]
  return table(header, rows, "llrrrrrr")


def pubmed_probe_section(entries: Sequence[Entry], context: Mapping[str, Any]) -> str:
  """`pubmed_probe`: one change on one fold, epoch by epoch against the `pubmed` (or
  `pubmed_binary_class`) run of the same setting and fold (its baseline), and a summary over
  the folds."""
  declared = context["suites"]
  pairs = _pubmed_probe_pairs(entries, declared)
  if not pairs:
    return no_runs("pubmed_probe")
  rows = []
  for e, base in pairs:
    change = declared.PUBMED_PROBES[e.name][2]
    for label, run in ((e.name, e), (f"baseline: {base.suite}/{base.name}", base)):
      # The declared change (the baseline's older results.json lacks fields added since).
      rows.append([label, settings_text(change) if run is e else DASH,
                   fmt(test_metrics(run).get("accuracy")),
                   trajectory(per_epoch(run, "dev", "accuracy")),
                   trajectory(per_epoch(run, "test", "accuracy")),
                   trajectory(per_epoch(run, "train_epoch", "x_dead")),
                   trajectory(per_epoch(run, "train_epoch", "y_dead")),
                   trajectory(per_epoch(run, "train_epoch", "rep"))])
  header = ["run", "change against the baseline", "test accuracy (best-on-dev epoch)",
            "dev accuracy by epoch", "test accuracy by epoch", "x_dead by epoch",
            "y_dead by epoch", "feature triplet loss `rep` by epoch"]
  notes = ("Each probe is followed by its baseline, the `pubmed` run of the same setting and "
           "fold with the same seed and epochs (`PUBMED_PROBES` in configs/suites.py). "
           "x_dead / y_dead / rep: train-epoch means (`rep` near 2·m2 = 2 is the feature "
           "loss's trivial value, where it trains nothing). The dev split is 200 records, so "
           "one record moves its accuracy by 0.5. Commands: the runs table.")
  summary = ("Over the folds (test accuracy at each run's best-on-dev epoch, mean ± std "
             "over folds; max y_dead: the worst epoch of any fold):\n\n"
             + _pubmed_probe_summary(pairs, declared))
  return "\n\n".join([table(header, rows, "llrlllll"), notes, summary])
