"""docs/results.md's judgement of the 50-epoch probes of configs/semeval.py (`PAPER_PROBES`):
each against the first 50 epochs of configs/semeval.py's run with the same seed, under the
rule declared with them (`PAPER_PROBE_MARGIN`, both branches alive)."""

from __future__ import annotations

import pathlib
import statistics
import sys
from typing import Any, Mapping, Sequence

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
# pylint: disable=wrong-import-position
from report_common import (DASH, Entry, baseline_pairs, fmt, fmt_signed, in_suite, max_dead,
                           no_runs, settings_text, table, values_over)

# Epoch windows of the comparison: the first ten, the ten before the judged ones, the judged.
WINDOWS = ((1, 10), (31, 40), (41, 50))
DEAD_LIMIT = 0.5


def window_mean(entry: Entry, split: str, key: str, first: int, last: int) -> float | None:
  """Mean of `key` over the entry's `split` lines of epochs first..last; None unless all are
  there (a baseline longer than the probe is read over the probe's epochs only)."""
  values = values_over(entry, split, key, range(first, last + 1))
  return statistics.fmean(values) if len(values) == last - first + 1 else None


def _pairs(entries: Sequence[Entry], declared: Any) -> list[tuple[Entry, Entry]]:
  """(probe, its baseline) for every PAPER_PROBES run in results/."""
  probes = [e for e in in_suite(entries, "semeval_probe") if e.name in declared.PAPER_PROBES]
  return baseline_pairs(entries, probes, lambda e: declared.paper_probe_baseline(
      e.name, e.flat_config.get("seed")))


def _beside(probe_value: Any, base_value: Any, digits: int = 2) -> str:
  """"probe (baseline)"."""
  return f"{fmt(probe_value, digits)} ({fmt(base_value, digits)})"


def _judged_rates(probe: Entry, base: Entry) -> list[float | None]:
  """The probe's and its baseline's mean learning rate over the judged window: the
  on-plateau rule cuts it after a noisy rise of the training loss, so runs reach the judged
  epochs at different rates."""
  first, last = WINDOWS[-1]
  return [window_mean(run, "train_epoch", "learning_rate", first, last) for run in (probe, base)]


def _judged(probe: Entry, base: Entry) -> tuple[float | None, bool]:
  """The probe's judged-window mean minus its baseline's, and whether both of its branches
  stay below DEAD_LIMIT at every epoch."""
  first, last = WINDOWS[-1]
  mine, theirs = (window_mean(run, "test", "macro_f1", first, last) for run in (probe, base))
  delta = None if mine is None or theirs is None else mine - theirs
  # A removed branch ("removed") is not alive.
  alive = all(isinstance(v, (int, float)) and v < DEAD_LIMIT
              for v in (max_dead(probe, k, last) for k in ("x_dead", "y_dead")))
  return delta, alive


def _met(delta: float | None, alive: bool, margin: float) -> bool:
  # A tolerance so that a mean exactly at the margin is not lost to float rounding.
  return delta is not None and delta >= margin - 1e-9 and alive


def _change(probe: Entry, declared: Any) -> str:
  """The probe's overrides of configs/semeval.py, its seed left out."""
  return settings_text({k: v for k, v in declared.PAPER_PROBES[probe.name].items()
                        if k != "seed"})


def _row(probe: Entry, base: Entry, declared: Any) -> list[str]:
  runs = (probe, base)
  means = [[window_mean(run, "test", "macro_f1", first, last) for run in runs]
           for first, last in WINDOWS]
  first_judged, last = WINDOWS[-1]
  delta, alive = _judged(probe, base)
  raw = [window_mean(run, "test_raw", "macro_f1", first_judged, last) for run in runs]
  rates = _judged_rates(probe, base)
  dead = [[max_dead(run, k, last) for run in runs] for k in ("x_dead", "y_dead")]
  met = _met(delta, alive, declared.PAPER_PROBE_MARGIN)
  return ([probe.name, _change(probe, declared), str(probe.flat_config.get("seed")),
           f"{base.suite}/{base.name}"] + [_beside(*pair) for pair in means]
          + [fmt_signed(delta), _beside(*raw), _beside(*rates, digits=3)]
          + [_beside(*pair) for pair in dead]
          + ["yes" if met else "no"])


def _over_seeds(pairs: Sequence[tuple[Entry, Entry]], declared: Any) -> str:
  """One row per change probed with two or more seeds: each seed's difference, their mean,
  and the rule on the mean (every run's branches alive), as declared with the later seeds."""
  by_change: dict[str, list[tuple[Entry, Entry]]] = {}
  for probe, base in pairs:
    by_change.setdefault(_change(probe, declared), []).append((probe, base))
  rows = []
  for change, runs in by_change.items():
    if len(runs) < 2:
      continue
    judged = [_judged(probe, base) for probe, base in runs]
    deltas = [d for d, _ in judged]
    mean = None if None in deltas else statistics.fmean(deltas)
    met = _met(mean, all(alive for _, alive in judged), declared.PAPER_PROBE_MARGIN)
    rows.append([change, ", ".join(p.name for p, _ in runs),
                 ", ".join(f"{p.flat_config.get('seed')}: {fmt_signed(d)}"
                           for (p, _), d in zip(runs, deltas)),
                 fmt_signed(mean), "yes" if met else "no"])
  if not rows:
    return ""
  first, last = WINDOWS[-1]
  header = ["change", "probes", f"difference by seed, epochs {first}-{last}",
            "mean difference", "rule met over seeds"]
  return ("\n\nA change probed with more than one seed is judged on the mean of its seeds' "
          "differences (the same margin, every run's branches alive):\n\n"
          + table(header, rows, "lllrl"))


def paper_probe_section(entries: Sequence[Entry], context: Mapping[str, Any]) -> str:
  """One row per 50-epoch probe of configs/semeval.py: its test macro-F1 means over the
  epoch windows beside its baseline's, the judged difference, and whether the rule is met;
  then each change probed with several seeds, judged on the mean of its differences."""
  declared = context["suites"]
  pairs = _pairs(entries, declared)
  if not pairs:
    return no_runs("semeval_probe")
  window_names = [f"epochs {a}-{b}" for a, b in WINDOWS]
  judged = window_names[-1]
  header = (["probe", "change", "seed", "baseline (its first 50 epochs)"] + window_names
            + [f"difference, {judged}", f"trained parameters (`test_raw`), {judged}",
               f"learning rate, {judged}", "max x_dead", "max y_dead", "rule met"])
  rows = [_row(probe, base, declared) for probe, base in pairs]
  notes = (f"Official test macro-F1 averaged over each window, the baseline's in brackets "
           f"(the `test` lines score the parameters' average, `test_raw` the trained ones); max "
           f"x_dead / y_dead: the largest train-epoch mean over epochs 1-50, the baseline's in "
           f"brackets; learning rate: the mean of the train-epoch lines' rate, which the "
           f"on-plateau rule cuts at different epochs in different runs. Rule "
           f"(`PAPER_PROBE_MARGIN` in configs/suites.py, fixed before the probes ran): the "
           f"{judged} mean at least {declared.PAPER_PROBE_MARGIN:.2f} above the baseline's, "
           f"with x_dead and y_dead below {DEAD_LIMIT} at every epoch. {DASH}: a window the "
           f"run does not cover.")
  return (table(header, rows, "llrlrrrrrrrrl") + "\n\n" + notes + _rate_note(pairs)
          + _over_seeds(pairs, declared))


def _rate_note(pairs: Sequence[tuple[Entry, Entry]]) -> str:
  """Whether the judged differences follow the differences in learning rate: their Pearson
  correlation over the probes that log both ("" for fewer than three)."""
  points = []
  for probe, base in pairs:
    delta, _ = _judged(probe, base)
    rate, base_rate = _judged_rates(probe, base)
    if None not in (delta, rate, base_rate):
      points.append((rate - base_rate, delta))
  if len(points) < 3 or len({x for x, _ in points}) < 2 or len({y for _, y in points}) < 2:
    return ""
  r = statistics.correlation(*zip(*points))
  first, last = WINDOWS[-1]
  return (f" Over the {len(points)} probes, the correlation of the rate's difference from "
          f"the baseline's with the F1 difference, epochs {first}-{last}: {r:+.2f}.")
