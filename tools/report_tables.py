"""The tables of docs/results.md, one function per section, from the run summaries in results/.

`tools/report.py` writes them between the document's markers (`SECTIONS`). The paper's numbers
come from `msfml_jax/paper.py`. No number in these tables is typed by hand. Shared reading and
formatting: report_common.py; the PubMed sections: report_pubmed.py; the judgement of the
50-epoch probes of configs/semeval.py: report_paper_probes.py.
"""

from __future__ import annotations

import json
import pathlib
import statistics
import sys
from typing import Any, Callable, Mapping, Sequence

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))
# pylint: disable=wrong-import-position
from msfml_jax import config_base, paper
import reproduce
from report_common import (AGGCN, DASH, Entry, fmt, fmt_mean_std, fmt_signed, in_suite,
                           main_metric, max_dead, metric_values, no_runs, per_epoch, read_jsonl,
                           read_results, reports_with_commands, run_wall, settings_text, table,
                           test_metrics, trajectory, values_over, worst)
from report_paper_probes import paper_probe_section
from report_pubmed import pubmed_probe_section, pubmed_section

__all__ = ["SECTIONS", "Entry", "in_suite", "metric_values", "read_results", "sweep_points"]


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


def paper_run_section(entries: Sequence[Entry], context: Mapping[str, Any]) -> str:
  """configs/semeval.py and its candidates: each run's score, wall time and command, then
  the mean over seeds of each config run with several."""
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
  return (table(header, rows, "lrrrrrrrrrrrl") + "\n\n" + notes
          + _seed_summary(entries, context["suites"]))


def _seed_summary(entries: Sequence[Entry], suites) -> str:
  """Mean ± std over the runs that differ only in their seed, one row per such config."""
  current = _config_key(reproduce.expected_config(
      suites, suites.Run("current", "configs/semeval.py", {})))
  rows = []
  for runs in _seed_groups(entries):
    if len(runs) < 2:
      continue
    rows.append([", ".join(e.name for e in runs),
                 "yes" if _config_key(runs[0].config) == current else "no",
                 ", ".join(str(e.config["seed"]) for e in runs), str(len(runs)),
                 fmt_mean_std(metric_values(runs, "macro_f1")),
                 fmt_mean_std(metric_values(runs, AGGCN)),
                 fmt_mean_std([v for e in runs if (v := last_epochs_mean(e, "test")) is not None]),
                 fmt(worst([max_dead(e, "x_dead") for e in runs])),
                 fmt(worst([max_dead(e, "y_dead") for e in runs]))])
  if not rows:
    return ""
  header = ["runs (same config, other seeds)", "configs/semeval.py as it stands", "seeds",
            "n", "macro-F1 (official, last epoch)", "AGGCN macro-F1",
            f"mean of the last {LAST_EPOCHS} epochs", "max x_dead", "max y_dead"]
  environment = ", ".join(f"`{f}`" for f in reproduce.ENVIRONMENT_FIELDS)
  notes = ("Over seeds: the runs above whose configs differ only in `seed` (and settings that do "
           f"not change what is trained: {environment}), mean ± sample std. \"As it stands\": "
           "the config is what `configs/semeval.py` trains today, i.e. what the README's first "
           "command gives with that seed.")
  return "\n\n" + table(header, rows, "llrrrrrrr") + "\n\n" + notes


def _config_key(config: Mapping[str, Any]) -> str:
  """The config without its seed and environment settings, as a comparable string; a setting
  newer than the run is its default (the code that wrote the run behaved as the default).
  Not reproduce.config_differences: that one ignores every setting that does not affect
  resume (`optim.average_start_epoch`), which would put a run before tail averaging in the
  same group as the runs averaged from epoch 46."""
  flat = {**config_base.json_defaults(), **reproduce.flatten(config)}
  return json.dumps({k: v for k, v in flat.items()
                     if k != "seed" and k not in reproduce.ENVIRONMENT_FIELDS}, sort_keys=True)


def _seed_groups(entries: Sequence[Entry]) -> list[list[Entry]]:
  """The entries grouped by config up to the seed, in order of first appearance."""
  groups: dict[str, list[Entry]] = {}
  for e in entries:
    groups.setdefault(_config_key(e.config), []).append(e)
  return list(groups.values())


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


def _mean(values: Sequence[float]) -> float | None:
  return statistics.fmean(values) if values else None


def _changes(entry: Entry, parent: Entry) -> str:
  """The settings `entry` trains with that differ from `parent`'s (environment fields and
  num_epochs left out)."""
  mine, theirs = entry.flat_config, parent.flat_config
  skip = set(reproduce.ENVIRONMENT_FIELDS) | {"num_epochs"}
  return settings_text({k: mine.get(k) for k in sorted(mine.keys() | theirs.keys())
                    if k not in skip and mine.get(k) != theirs.get(k)})


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
    epochs = sorted(ep for ep in per_epoch(e, "test", "macro_f1") if ep > start)
    trained = range(start + 1, e.results["epochs"] + 1)  # every epoch the fork trained
    fork_f1 = _mean(values_over(e, "test", "macro_f1", epochs))
    parent_f1 = _mean(values_over(parent, "test", "macro_f1", epochs))
    # A fork run to the parent's end is judged, like the parent, by its last epochs.
    last = epochs[-LAST_EPOCHS:]
    rows.append([e.name, _changes(e, parent), f"{parent_path}, epoch {start}",
                 f"{epochs[0]}-{epochs[-1]}" if epochs else DASH, fmt(fork_f1), fmt(parent_f1),
                 fmt_signed(fork_f1 - parent_f1 if None not in (fork_f1, parent_f1) else None),
                 f"{last[0]}-{last[-1]}" if last else DASH,
                 fmt(_mean(values_over(e, "test", "macro_f1", last))),
                 fmt(_mean(values_over(parent, "test", "macro_f1", last))),
                 fmt(_mean(values_over(e, "test_raw", "macro_f1", epochs))),
                 fmt(_mean(values_over(parent, "test_raw", "macro_f1", epochs))),
                 fmt(max(values_over(e, "train_epoch", "x_dead", trained), default=None)),
                 fmt(max(values_over(e, "train_epoch", "y_dead", trained), default=None)),
                 f"`{e.command}`"])
  header = ["run", "change against the parent", "forked from", "its epochs",
            "mean test macro-F1", "parent, same epochs", "difference",
            f"its last {LAST_EPOCHS} epochs",
            "mean test macro-F1 there", "parent, same epochs",
            "trained parameters: mean", "parent's trained parameters", "max x_dead",
            "max y_dead", "command"]
  notes = ("Each run starts from the parent's checkpoint at the end of the epoch shown "
           "(`start_from` in configs/suites.py; `python tools/reproduce.py --suite=semeval_late` "
           "copies it) and trains its own epochs with the change; means are over those epochs' "
           f"test lines, the parent's over the same epochs; the last {LAST_EPOCHS} of them are "
           "what a fork run to the parent's last epoch is judged by. With `optim.ema_decay` > 0 "
           "the test lines score the moving average, `test_raw` the trained parameters. "
           "Epoch-to-epoch noise in these means is a few tenths of a point.")
  return table(header, rows, "lllrrrrrrrrrrrl") + "\n\n" + notes


def probe_section(entries: Sequence[Entry], context: Mapping[str, Any]) -> str:
  """The regime probes (`semeval_probe`): what each changes, its F1 and dead fractions by
  epoch (train-epoch means of x_dead / y_dead)."""
  runs = in_suite(entries, "semeval_probe")
  if not runs:
    return no_runs("semeval_probe")
  probes = {name: (base, changes) for base, group in context["suites"].PROBE_GROUPS
            for name, changes in group.items()}
  rows = []
  for e in runs:
    f1 = per_epoch(e, "test", "macro_f1")
    last = e.results["final"].get("test", {})
    base, changes = probes.get(e.name, (None, {}))
    base_text = f"{base.config} at {base.overrides['num_epochs']} epochs" if base else DASH
    rows.append([e.name, base_text, settings_text(changes), trajectory(f1),
                 fmt(last.get("macro_f1")), fmt(last.get(AGGCN)),
                 trajectory(per_epoch(e, "train_epoch", "x_dead")),
                 trajectory(per_epoch(e, "train_epoch", "y_dead"))])
  header = ["run", "base", "changes against the base", "test macro-F1 by epoch", "last",
            "AGGCN macro-F1", "x_dead by epoch", "y_dead by epoch"]
  return table(header, rows, "llllrrll") + "\n\nCommands: the runs table."


def branch_death_section(entries: Sequence[Entry], context: Mapping[str, Any]) -> str:
  """The first training steps, layer by layer (`tools/diagnose_branches.py --config=...`):
  results/branch_death/NAME.jsonl with NAME.command.txt beside it."""
  del entries
  files = reports_with_commands(context["results_dir"] / "branch_death", "*.jsonl")
  if not files:
    return "_No runs yet: `python tools/diagnose_branches.py --config=...` (see the text)._"
  rows, commands = [], []
  for path, command in files:
    commands.append(command)
    for r in read_jsonl(path):
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


def tail_windows_section(entries: Sequence[Entry], context: Mapping[str, Any]) -> str:
  """Uniform means of a run's epoch-end parameters over windows of epochs
  (`tools/average_checkpoints.py`): results/tail_windows/RUN.jsonl, RUN.command.txt beside it."""
  del entries
  files = reports_with_commands(context["results_dir"] / "tail_windows", "*.jsonl")
  if not files:
    return ("_No runs yet: `python tools/average_checkpoints.py --workdir=runs/SUITE/RUN "
            "--epochs=A-B,...` (see the text)._")
  rows, commands = [], []
  for path, command in files:
    commands.append(command)
    rows += [[path.stem, r["epochs"], str(r["checkpoints"]), f"`{r['key']}`", r["split"],
              fmt(r.get("macro_f1")), fmt(r.get(AGGCN))] for r in read_jsonl(path)]
  header = ["run", "epochs averaged", "checkpoints", "parameters", "split", "macro-F1 (official)",
            "AGGCN macro-F1"]
  return table(header, rows, "llrllrr") + "\n\n" + "\n".join(commands)


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
  files = reports_with_commands(context["results_dir"] / "speed", "*.json")
  if not files:
    return ("_No runs yet: `python tools/benchmark.py --config=... > results/speed/NAME.json`, "
            "the command in NAME.command.txt._")
  loop_rows, step_rows, commands = [], [], []
  for path, command in files:
    commands.append(command)
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
    "paper_probes": paper_probe_section,
    "branch_death": branch_death_section,
    "ablation": ablation_section,
    "pubmed": pubmed_section,
    "pubmed_probe": pubmed_probe_section,
    "semeval_paper": paper_run_section,
    "semeval_late": fork_section,
    "tail_windows": tail_windows_section,
    "semeval_sweep": sweep_section,
    "runs": runs_section,
}
