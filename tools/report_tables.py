"""The tables of docs/results.md, one function per section, from the run summaries in results/.

`tools/report.py` writes them between the document's markers. Numbers are means ± sample
standard deviations (n − 1) over seeds or folds; the paper's numbers come from
`msfml_jax/paper.py`. No number in these tables is typed by hand.

Which test score a run contributes: with a dev split (PubMed, TACRED) the test metrics of the
best-on-dev epoch; without one (SemEval, as in the paper) the last epoch's.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import statistics
import sys
from typing import Any, Callable, Mapping, Sequence

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))
from msfml_jax import paper  # pylint: disable=wrong-import-position
import reproduce  # pylint: disable=wrong-import-position

DASH = "—"
AGGCN = "aggcn_macro_f1"


# --- Reading results/ --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Entry:
  """One run's summaries: results/<suite>/<name>/."""
  suite: str
  name: str
  results: dict[str, Any]
  rows: list[dict[str, Any]]   # metrics.jsonl
  command: str

  @property
  def config(self) -> dict[str, Any]:
    return self.results["config"]

  @property
  def flat_config(self) -> dict[str, Any]:
    return reproduce.flatten(self.config)


def _read_jsonl(path: pathlib.Path) -> list[dict[str, Any]]:
  rows = []
  for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
    if line.strip():
      try:
        rows.append(json.loads(line))
      except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{n}: not a JSON line ({e})") from e
  return rows


def read_entry(folder: pathlib.Path) -> Entry:
  """results/<suite>/<run>/ as an Entry; a missing or malformed summary is an error."""
  suite, name = folder.parent.name, folder.name
  hint = f"collect it with: python tools/reproduce.py --suite={suite} --collect_only"
  paths = {f: folder / f for f in ("results.json", reproduce.COMMAND_FILE)}
  for path in paths.values():
    if not path.is_file():
      raise ValueError(f"{path} is missing ({hint})")
  try:
    results = json.loads(paths["results.json"].read_text(encoding="utf-8"))
  except json.JSONDecodeError as e:
    raise ValueError(f"{paths['results.json']}: not valid JSON ({e})") from e
  for field in ("final", "config"):
    if field not in results:
      raise ValueError(f"{paths['results.json']}: no {field!r} field (not a finished run?)")
  metrics = folder / "metrics.jsonl"
  rows = _read_jsonl(metrics) if metrics.is_file() else []
  command = paths[reproduce.COMMAND_FILE].read_text(encoding="utf-8").strip()
  return Entry(suite, name, results, rows, command)


def read_results(results_dir: pathlib.Path) -> list[Entry]:
  """Every results/<suite>/<run>/ that holds a results.json or a command.txt, sorted."""
  if not results_dir.is_dir():
    return []
  folders = {p.parent for pattern in ("*/*/results.json", f"*/*/{reproduce.COMMAND_FILE}")
             for p in results_dir.glob(pattern)}
  return [read_entry(f) for f in sorted(folders)]


# --- Numbers -----------------------------------------------------------------------------------

def test_metrics(entry: Entry) -> dict[str, float]:
  """The test score the run reports: best-on-dev epoch with a dev split, else the last."""
  best = entry.results.get("best") or {}
  if best.get("split") == "dev" and "test" in best.get("metrics", {}):
    return best["metrics"]["test"]
  return entry.results["final"].get("test", {})


def main_metric(entry: Entry) -> str:
  """The run's selection metric, as the training loop recorded it."""
  metric = (entry.results.get("best") or {}).get("metric")
  if metric:
    return metric
  return next((m for m in ("macro_f1", "micro_f1", "accuracy")
               if m in entry.results["final"].get("test", {})), "accuracy")


_BRANCH = {"x_dead": "model.mscnn", "y_dead": "model.msgcn"}


def max_dead(entry: Entry, key: str) -> float | str | None:
  """Max over epochs of the epoch-mean `key` (x_dead / y_dead); "removed" without the branch."""
  if entry.flat_config.get(_BRANCH[key]) == "none":
    return "removed"
  values = [r["metrics"][key] for r in entry.rows
            if r.get("split") == "train_epoch" and key in r.get("metrics", {})]
  return max(values) if values else None


def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
  """Mean and sample standard deviation (n - 1; None for one value)."""
  mean = statistics.fmean(values)
  return mean, (statistics.stdev(values) if len(values) > 1 else None)


def fmt(value: Any, digits: int = 2) -> str:
  if value is None:
    return DASH
  if isinstance(value, str):
    return value
  return f"{value:.{digits}f}"


def fmt_signed(value: float | None) -> str:
  return DASH if value is None else f"{value:+.2f}"


def fmt_mean_std(values: Sequence[float], signed: bool = False) -> str:
  """'80.20 ± 0.35' (n > 1), '80.20' (n = 1), '—' (none)."""
  if not values:
    return DASH
  mean, std = mean_std(values)
  text = fmt_signed(mean) if signed else fmt(mean)
  return text if std is None else f"{text} ± {std:.2f}"


def worst(values: Sequence[Any]) -> Any:
  """The largest of numbers; "removed" when every value is; None when there is nothing."""
  numbers = [v for v in values if isinstance(v, (int, float))]
  if numbers:
    return max(numbers)
  return "removed" if values and all(v == "removed" for v in values) else None


def fmt_wall(seconds: float | None) -> str:
  if seconds is None:
    return DASH
  return f"{seconds:,.0f} s" + (f" ({seconds / 60:.0f} min)" if seconds >= 60 else "")


def run_wall(entry: Entry) -> str:
  """The run's wall time over all its invocations; "*" marks a last-invocation-only figure."""
  total = entry.results.get("total_wall_seconds")
  if total is not None:
    return fmt_wall(total)
  last = entry.results.get("wall_seconds")
  return DASH if last is None else fmt_wall(last) + " *"


def metric_values(entries: Sequence[Entry], metric: str) -> list[float]:
  return [test_metrics(e)[metric] for e in entries if metric in test_metrics(e)]


def table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> str:
  """A Markdown table; `align` is one character per column: l (default) or r."""
  marks = ["---:" if a == "r" else "---" for a in align.ljust(len(header), "l")]
  lines = ["| " + " | ".join(header) + " |", "|" + "|".join(marks) + "|"]
  lines += ["| " + " | ".join(row) + " |" for row in rows]
  return "\n".join(lines)


def no_runs(suite: str) -> str:
  return f"_No runs yet: `python tools/reproduce.py --suite={suite}`._"


def in_suite(entries: Sequence[Entry], *suites: str) -> list[Entry]:
  return [e for e in entries if e.suite in suites]


# --- Sections ----------------------------------------------------------------------------------

def ablation_model(entry: Entry, ablations: Mapping[str, Mapping[str, Any]]) -> str:
  """The Table 6 row (M1-M6) whose switches the run's config has (configs/suites.py)."""
  flat = entry.flat_config
  hits = [m for m, switches in ablations.items()
          if switches and all(flat.get(k) == v for k, v in switches.items())]
  if len(hits) > 1:
    raise ValueError(f"results/{entry.suite}/{entry.name}: config matches several ablations "
                     f"{hits}")
  if hits:
    return hits[0]
  return next(m for m, switches in ablations.items() if not switches)


def ablation_section(entries: Sequence[Entry], context: Mapping[str, Any]) -> str:
  """Table 6 analog: SemEval macro-F1 per model, Δ against M6 paired by seed, the paper's."""
  suite = "semeval_ablation"
  entries = in_suite(entries, suite)
  if not entries:
    return no_runs(suite)
  ablations = context["suites"].ABLATIONS
  by_model = {m: [] for m in ablations}
  for e in entries:
    by_model[ablation_model(e, ablations)].append(e)
  full = next(m for m, switches in ablations.items() if not switches)
  full_paper = paper.ABLATION_SEMEVAL[full][1]

  def paired_deltas(runs: Sequence[Entry], metric: str) -> list[float]:
    ref = {e.config["seed"]: test_metrics(e).get(metric) for e in by_model[full]}
    return [test_metrics(e)[metric] - ref[e.config["seed"]] for e in runs
            if metric in test_metrics(e) and ref.get(e.config["seed"]) is not None]

  rows = []
  for model, runs in by_model.items():
    name, paper_f1 = paper.ABLATION_SEMEVAL[model]
    is_full = model == full
    rows.append([
        f"{model} {name}", str(len(runs)),
        fmt_mean_std(metric_values(runs, "macro_f1")),
        DASH if is_full else fmt_mean_std(paired_deltas(runs, "macro_f1"), signed=True),
        fmt_mean_std(metric_values(runs, AGGCN)),
        DASH if is_full else fmt_mean_std(paired_deltas(runs, AGGCN), signed=True),
        fmt(worst([max_dead(e, "x_dead") for e in runs])),
        fmt(worst([max_dead(e, "y_dead") for e in runs])),
        fmt(paper_f1, 1), DASH if is_full else fmt_signed(paper_f1 - full_paper)])
  header = ["model", "runs", "macro-F1 (official)", f"Δ vs {full}", "AGGCN macro-F1",
            f"Δ vs {full} (AGGCN)", "max x_dead", "max y_dead",
            f"paper ({paper.ABLATION_SEMEVAL_SOURCE})", "paper Δ"]
  notes = (f"Last-epoch test scores, mean ± sample std over seeds; Δ: mean ± std of the "
           f"difference to {full} trained with the same seed. max x_dead / y_dead: the largest "
           f"epoch-mean fraction of dead MSCNN / MSGCN features in any run and epoch. The "
           f"paper's numbers use GloVe 840B-300d and 150 epochs. Commands: the runs table "
           f"(results/{suite}/*/command.txt).")
  return table(header, rows, "lrrrrrrrrr") + "\n\n" + notes


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
  rows = []
  for (arity, labels), published in paper.PUBMED_ACCURACY.items():
    # Uncentred (the suites') first; a setting without runs keeps its row.
    centrings = sorted({_pubmed_group(e)[2] for e in entries
                        if _pubmed_group(e)[:2] == (arity, labels)},
                       key=lambda c: c != "none") or [DASH]
    for centring in centrings:
      runs = [e for e in entries if _pubmed_group(e) == (arity, labels, centring)]
      rows.append(_pubmed_row(f"{arity}, {labels}-class", centring, runs, published))
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
  by_path = {f"{e.suite}/{e.name}": e for e in entries}
  pairs = []
  for e in in_suite(entries, "pubmed_probe"):
    base_path = declared.pubmed_probe_baseline(e.name)
    if base_path not in by_path:
      raise ValueError(f"results/pubmed_probe/{e.name} is measured against {base_path}, which "
                       f"results/ lacks (python tools/reproduce.py "
                       f"--suite={base_path.split('/')[0]})")
    pairs.append((e, by_path[base_path]))
  return pairs


def _pubmed_probe_summary(pairs: Sequence[tuple[Entry, Entry]], declared: Any) -> str:
  """One row per (setting, change) over its folds: the probe's and the baseline's best-on-dev
  test accuracy, their paired difference and the worst y_dead of either."""
  groups: dict[tuple[str, str], list[tuple[Entry, Entry]]] = {}
  for probe, base in pairs:
    (arity, labels), _, change = declared.PUBMED_PROBES[probe.name]
    groups.setdefault((f"{arity} {labels}-class", _settings(change)), []).append((probe, base))
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
  """`pubmed_probe`: one change on one fold, epoch by epoch against the `pubmed` suite's run
  of the same setting and fold (its baseline), and a summary over the folds."""
  declared = context["suites"]
  pairs = _pubmed_probe_pairs(entries, declared)
  if not pairs:
    return no_runs("pubmed_probe")
  rows = []
  for e, base in pairs:
    change = declared.PUBMED_PROBES[e.name][2]
    for label, run in ((e.name, e), (f"baseline: {base.suite}/{base.name}", base)):
      # The declared change (the baseline's older results.json lacks fields added since).
      rows.append([label, _settings(change) if run is e else DASH,
                   fmt(test_metrics(run).get("accuracy")),
                   _trajectory(_per_epoch(run, "dev", "accuracy")),
                   _trajectory(_per_epoch(run, "test", "accuracy")),
                   _trajectory(_per_epoch(run, "train_epoch", "x_dead")),
                   _trajectory(_per_epoch(run, "train_epoch", "y_dead")),
                   _trajectory(_per_epoch(run, "train_epoch", "rep"))])
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


def paper_run_section(entries: Sequence[Entry], context: Mapping[str, Any]) -> str:
  """configs/semeval.py run once: its score, its wall time and its command."""
  del context
  suite = "semeval_paper"
  entries = in_suite(entries, suite)
  if not entries:
    return no_runs(suite)
  rows = [[e.name, fmt(test_metrics(e).get("macro_f1")), fmt(test_metrics(e).get(AGGCN)),
           fmt(last_epochs_mean(e, "test")), fmt(last_epochs_mean(e, "test_raw")),
           fmt(last_epoch_f1(e, "test_raw")),
           best_on_test(e), fmt(paper.SEMEVAL_MACRO_F1, 1), str(e.results.get("epochs", DASH)),
           fmt(max_dead(e, "x_dead")), fmt(max_dead(e, "y_dead")),
           run_wall(e), f"`{e.command}`"] for e in entries]
  header = ["run", "macro-F1 (official, last epoch)", "AGGCN macro-F1",
            f"mean of the last {LAST_EPOCHS} epochs",
            f"trained parameters: mean of the last {LAST_EPOCHS}", "trained parameters: last epoch",
            "best epoch on test (optimistic)", f"paper ({paper.SEMEVAL_MACRO_F1_SOURCE})",
            "epochs", "max x_dead", "max y_dead", "wall time", "command"]
  notes = (f"Mean of the last {LAST_EPOCHS} epochs: the official macro-F1 averaged over the "
           f"run's last {LAST_EPOCHS} test evaluations, the figure the adoption rules in "
           "`configs/suites.py` compare. Runs with `optim.ema_decay` > 0 are scored with the "
           "moving average of the parameters (as they predict); the two \"trained "
           "parameters\" columns score the parameters SGD trained in the same run "
           "(`test_raw` in metrics.jsonl), i.e. what the average adds. "
           "Best epoch on test: the highest official macro-F1 over the epochs, and its epoch. "
           "SemEval has no dev split; AGGCN's SemEval code (whose setting the paper follows) "
           "has none either: it saves a checkpoint every epoch and `eval.py` scores a chosen "
           "one on the test set. An epoch picked by its test score is an optimistic figure, "
           "shown to compare scales; the paper tests the last epoch's checkpoint (§5.1.2), "
           "and so does our result. " + _WALL_NOTE)
  return table(header, rows, "lrrrrrrrrrrrl") + "\n\n" + notes


LAST_EPOCHS = 10


def _split_f1(entry: Entry, split: str) -> list[float]:
  """Official macro-F1 of each epoch's `split` line, in epoch order."""
  return [r["metrics"]["macro_f1"] for r in entry.rows
          if r.get("split") == split and "macro_f1" in r.get("metrics", {})]


def last_epochs_mean(entry: Entry, split: str) -> float | None:
  """Mean macro-F1 of the last LAST_EPOCHS `split` evaluations (None without any)."""
  values = _split_f1(entry, split)[-LAST_EPOCHS:]
  return sum(values) / len(values) if values else None


def last_epoch_f1(entry: Entry, split: str) -> float | None:
  values = _split_f1(entry, split)
  return values[-1] if values else None


def best_on_test(entry: Entry) -> str:
  """"F1 (epoch N)" of the run's best epoch when it was selected on the test split."""
  best = entry.results.get("best") or {}
  if best.get("split") != "test" or best.get("value") is None:
    return DASH
  return f"{fmt(best['value'])} (epoch {best['epoch']})"


_WALL_NOTE = ("Wall time: `total_wall_seconds` of results.json, the run's training and "
              "evaluation over all its invocations (a resumed run continues its total). * marks "
              "`wall_seconds`, the last invocation alone, for runs whose results.json predates "
              "the total or whose first segments were checkpointed before it: a run resumed "
              "then counts only its last segment.")


def sweep_points(entries: Sequence[Entry]) -> dict[tuple[float, float], list[Entry]]:
  points: dict[tuple[float, float], list[Entry]] = {}
  for e in entries:
    key = (float(e.config["loss"]["alpha"]), float(e.config["loss"]["beta"]))
    points.setdefault(key, []).append(e)
  return points


def sweep_section(entries: Sequence[Entry], context: Mapping[str, Any]) -> str:
  """Fig. 7 analog: macro-F1 against α at the default β and against β at the default α."""
  suite = "semeval_sweep"
  entries = in_suite(entries, suite)
  if not entries:
    return no_runs(suite)
  alpha0, beta0 = context["suites"].sweep_defaults()
  points = sweep_points(entries)
  parts = []
  for axis, fixed, on_axis in (("α", f"β = {beta0:g}", lambda a, b: b == beta0),
                               ("β", f"α = {alpha0:g}", lambda a, b: a == alpha0)):
    selected = sorted(p for p in points if on_axis(*p))
    key = (lambda p: p[0]) if axis == "α" else (lambda p: p[1])
    rows = [[f"{key(p):g}", str(len(points[p])),
             fmt_mean_std(metric_values(points[p], "macro_f1")),
             fmt_mean_std(metric_values(points[p], AGGCN)),
             fmt(worst([max_dead(e, "x_dead") for e in points[p]])),
             fmt(worst([max_dead(e, "y_dead") for e in points[p]]))]
            for p in sorted(selected, key=key)]
    parts.append(f"{axis} at {fixed}:\n\n" + table(
        [axis, "runs", "macro-F1 (official, last epoch)", "AGGCN macro-F1", "max x_dead",
         "max y_dead"], rows, "lrrrrr") if rows else f"{axis} at {fixed}: no runs yet.")
  figure = context.get("figures", {}).get("semeval_sweep")
  if figure:
    parts.append(f"![macro-F1 against α and β]({figure})")
  parts.append(f"The paper's {paper.SWEEP_SOURCE} plots these curves without values; its "
               f"chosen point scores {paper.SEMEVAL_MACRO_F1:.1f} "
               f"({paper.SEMEVAL_MACRO_F1_SOURCE}, 150 epochs, GloVe 840B-300d). "
               f"Commands: the runs table.")
  return "\n\n".join(parts)


def runs_section(entries: Sequence[Entry], context: Mapping[str, Any]) -> str:
  """Every run in results/: its score, the dead-feature maxima, epochs, wall time, command."""
  del context
  if not entries:
    return "_No runs yet: `python tools/reproduce.py --suite=NAME` (see configs/suites.py)._"
  rows = []
  for e in entries:
    metric = main_metric(e)
    last = e.results["final"].get("test", {})
    rows.append([f"{e.suite}/{e.name}", metric, fmt(last.get(metric)), fmt(last.get(AGGCN)),
                 fmt(max_dead(e, "x_dead")), fmt(max_dead(e, "y_dead")),
                 str(e.results.get("epochs", DASH)), run_wall(e),
                 f"`{e.command}`"])
  header = ["run", "metric", "test, last epoch", "AGGCN macro-F1", "max x_dead", "max y_dead",
            "epochs", "wall time", "command"]
  return table(header, rows, "llrrrrrrl") + "\n\n" + _WALL_NOTE


def _per_epoch(entry: Entry, split: str, key: str) -> dict[int, float]:
  return {r["epoch"]: r["metrics"][key] for r in entry.rows
          if r.get("split") == split and key in r.get("metrics", {})}


def _trajectory(values: Mapping[int, float]) -> str:
  return " ".join(f"{values[e]:.2f}" for e in sorted(values)) if values else DASH


def _mean(values: Sequence[float]) -> float | None:
  return statistics.fmean(values) if values else None


def _over(entry: Entry, split: str, key: str, epochs: Sequence[int]) -> list[float]:
  """`key` of the entry's `split` lines of those epochs (the ones it has)."""
  values = _per_epoch(entry, split, key)
  return [values[ep] for ep in epochs if ep in values]


def _changes(entry: Entry, parent: Entry) -> str:
  """The settings `entry` trains with that differ from `parent`'s (environment fields and
  num_epochs left out)."""
  mine, theirs = entry.flat_config, parent.flat_config
  skip = set(reproduce.ENVIRONMENT_FIELDS) | {"num_epochs"}
  return _settings({k: mine.get(k) for k in sorted(mine.keys() | theirs.keys())
                    if k not in skip and mine.get(k) != theirs.get(k)})


def _settings(settings: Mapping[str, Any]) -> str:
  """`k=v` for each setting, as --config.k=v parses it back; DASH for none."""
  return ", ".join(f"`{k}={reproduce.format_value(v)}`" for k, v in settings.items()) or DASH


def fork_section(entries: Sequence[Entry], context: Mapping[str, Any]) -> str:
  """Forks (`semeval_late`): each run continues another run from one of its checkpoints with
  a setting changed; its test macro-F1 over its own epochs against the parent's same epochs."""
  suite = "semeval_late"
  forks = in_suite(entries, suite)
  if not forks:
    return no_runs(suite)
  declared = {r.name: r for r in context["suites"].get_suite(suite)}
  by_path = {f"{e.suite}/{e.name}": e for e in entries}
  rows = []
  for e in forks:
    parent_path, step = declared[e.name].start_from
    parent = by_path.get(parent_path)
    if parent is None:
      raise ValueError(f"results/{suite}/{e.name} forks {parent_path}, which results/ lacks")
    start = max(r["epoch"] for r in parent.rows if r["step"] <= step)
    epochs = sorted(ep for ep in _per_epoch(e, "test", "macro_f1") if ep > start)
    trained = range(start + 1, e.results["epochs"] + 1)  # every epoch the fork trained
    fork_f1 = _mean(_over(e, "test", "macro_f1", epochs))
    parent_f1 = _mean(_over(parent, "test", "macro_f1", epochs))
    rows.append([e.name, _changes(e, parent), f"{parent_path}, epoch {start}",
                 f"{epochs[0]}-{epochs[-1]}" if epochs else DASH, fmt(fork_f1), fmt(parent_f1),
                 fmt_signed(fork_f1 - parent_f1 if None not in (fork_f1, parent_f1) else None),
                 fmt(_mean(_over(e, "test_raw", "macro_f1", epochs))),
                 fmt(_mean(_over(parent, "test_raw", "macro_f1", epochs))),
                 fmt(max(_over(e, "train_epoch", "x_dead", trained), default=None)),
                 fmt(max(_over(e, "train_epoch", "y_dead", trained), default=None)),
                 f"`{e.command}`"])
  header = ["run", "change against the parent", "forked from", "its epochs",
            "mean test macro-F1", "parent, same epochs", "difference",
            "trained parameters: mean", "parent's trained parameters", "max x_dead",
            "max y_dead", "command"]
  notes = ("Each run starts from the parent's checkpoint at the end of the epoch shown "
           "(`start_from` in configs/suites.py; `python tools/reproduce.py --suite=semeval_late` "
           "copies it) and trains its own epochs with the change; means are over those epochs' "
           "test lines, the parent's over the same epochs. With `optim.ema_decay` > 0 the test "
           "lines score the moving average, `test_raw` the trained parameters. Epoch-to-epoch "
           "noise in these means is a few tenths of a point.")
  return table(header, rows, "lllrrrrrrrrl") + "\n\n" + notes


def probe_section(entries: Sequence[Entry], context: Mapping[str, Any]) -> str:
  """The regime probes (`semeval_probe`): what each changes, its F1 and dead fractions by
  epoch (train-epoch means of x_dead / y_dead)."""
  runs = in_suite(entries, "semeval_probe")
  if not runs:
    return no_runs("semeval_probe")
  probes = getattr(context["suites"], "PROBES", {})
  rows = []
  for e in runs:
    f1 = _per_epoch(e, "test", "macro_f1")
    last = e.results["final"].get("test", {})
    rows.append([e.name, _settings(probes.get(e.name, {})), _trajectory(f1), fmt(last.get("macro_f1")),
                 fmt(last.get(AGGCN)), _trajectory(_per_epoch(e, "train_epoch", "x_dead")),
                 _trajectory(_per_epoch(e, "train_epoch", "y_dead"))])
  header = ["run", "changes against configs/semeval_fast.py at 8 epochs",
            "test macro-F1 by epoch", "last", "AGGCN macro-F1", "x_dead by epoch",
            "y_dead by epoch"]
  return table(header, rows, "lllrrll") + "\n\nCommands: the runs table."


def branch_death_section(entries: Sequence[Entry], context: Mapping[str, Any]) -> str:
  """The first training steps, layer by layer (`tools/diagnose_branches.py --config=...`):
  results/branch_death/NAME.jsonl with NAME.command.txt beside it."""
  del entries
  folder = context["results_dir"] / "branch_death"
  files = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
  if not files:
    return "_No runs yet: `python tools/diagnose_branches.py --config=...` (see the text)._"
  rows, commands = [], []
  for path in files:
    command = path.with_name(path.stem + ".command.txt")
    if not command.is_file():
      raise ValueError(f"{path}: {command.name} is missing beside it")
    commands.append(f"- `{path.stem}`: `{command.read_text(encoding='utf-8').strip()}`")
    for r in _read_jsonl(path):
      m, layers = r.get("metrics", {}), r["layers"]
      gcn = layers.get("msgcn/norm") or layers.get("msgcn/combine") or {}
      cnn = layers.get("mscnn/norm") or layers.get("mscnn/combine") or {}
      rows.append([path.stem, str(r["step"]), fmt(m.get("y_dead")), fmt(m.get("x_dead")),
                   fmt(gcn.get("zero_frac")), fmt(gcn.get("dead_units")),
                   fmt(gcn.get("pre_mean"), 3),
                   fmt(gcn.get("pre_std"), 3), fmt(gcn.get("bias_mean"), 3),
                   fmt(layers.get("msgcn/original_1", {}).get("zero_frac")),
                   fmt(cnn.get("zero_frac"))])
  header = ["probe", "step", "y_dead (batch)", "x_dead (batch)", "msgcn/combine zeros",
            "its dead units", "its input mean", "its input std", "its bias mean", "msgcn/original_1 zeros",
            "mscnn/combine zeros"]
  return table(header, rows, "lrrrrrrrrrr") + "\n\n" + "\n".join(commands)


LOOP_FIELDS = ("loop_samples_per_s", "step_samples_per_s", "loop_to_step_ratio",
               "h2d_mb_per_step", "compile_count", "compile_seconds", "pipeline_batches_per_s",
               "end_of_epoch_seconds", "peak_rss_mb")
STEP_FIELDS = ("train_samples_per_s", "eval_samples_per_s", "compile_seconds", "peak_rss_mb")


def _speed_fmt(value: Any, key: str) -> str:
  if isinstance(value, int) and not isinstance(value, bool):
    return str(value)
  return fmt(value, 3 if key in ("h2d_mb_per_step", "loop_to_step_ratio") else 1)


def speed_section(entries: Sequence[Entry], context: Mapping[str, Any]) -> str:
  """`tools/benchmark.py` reports: results/speed/NAME.json (its JSON output) with
  NAME.command.txt beside it; one table for --mode=loop reports, one for the step mode."""
  del entries
  folder = context["results_dir"] / "speed"
  files = sorted(folder.glob("*.json")) if folder.is_dir() else []
  if not files:
    return ("_No runs yet: `python tools/benchmark.py --config=... > results/speed/NAME.json`, "
            "the command in NAME.command.txt._")
  loop_rows, step_rows, commands = [], [], []
  for path in files:
    command = path.with_name(path.stem + ".command.txt")
    if not command.is_file():
      raise ValueError(f"{path}: {command.name} is missing beside it")
    commands.append(f"- `{path.stem}`: `{command.read_text(encoding='utf-8').strip()}`")
    report = json.loads(path.read_text(encoding="utf-8"))
    if report.get("mode") == "loop":
      loop_rows.append([path.stem] + [_speed_fmt(report.get(k), k) for k in LOOP_FIELDS])
    else:
      step_rows.append([path.stem] + [_speed_fmt(report.get(k), k) for k in STEP_FIELDS])
  parts = []
  if loop_rows:
    parts.append(table(["loop report"] + [f"`{k}`" for k in LOOP_FIELDS], loop_rows,
                       "l" + "r" * len(LOOP_FIELDS)))
  if step_rows:
    parts.append(table(["step report"] + [f"`{k}`" for k in STEP_FIELDS], step_rows,
                       "l" + "r" * len(STEP_FIELDS)))
  return "\n\n".join(parts + ["\n".join(commands)])


SECTIONS: dict[str, Callable[[Sequence[Entry], Mapping[str, Any]], str]] = {
    "speed": speed_section,
    "semeval_probe": probe_section,
    "branch_death": branch_death_section,
    "ablation": ablation_section,
    "pubmed": pubmed_section,
    "pubmed_probe": pubmed_probe_section,
    "semeval_paper": paper_run_section,
    "semeval_late": fork_section,
    "semeval_sweep": sweep_section,
    "runs": runs_section,
}
