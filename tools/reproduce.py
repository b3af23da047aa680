"""Runs a named suite of trainings (configs/suites.py) and copies their summaries to results/.

  python tools/reproduce.py --list
  python tools/reproduce.py --suite=semeval_ablation
  python tools/reproduce.py --suite=semeval_ablation --runs=M6_seed1,M1_seed1 --dry_run
  python tools/reproduce.py --suite=pubmed --collect_only

Run R of suite S trains with the normal entry point, in a child process, into runs/S/R:

  python -m msfml_jax.main --config=CONFIG --workdir=runs/S/R --config.FIELD=VALUE ...

- A run whose runs/S/R/results.json was written by exactly the config the suite declares is
  finished and is skipped (settings newer than the run, absent from its results.json, ran
  as their defaults: the suite asking for another value is a difference, as on resume).
  So is a run with no workdir whose committed results/S/R/results.json was (a fresh clone:
  checkpoints are not committed; move results/S/R away to retrain it).
- An interrupted run (no complete results.json) is started again with the same command into
  the same workdir: the training loop resumes exactly from the latest checkpoint there (and
  refuses, naming it, a changed setting that matters to the checkpoint). So does a finished
  run whose suite now asks for more epochs: only the new epochs are trained.
- A finished run whose other settings differ from the suite's is not touched (resuming would
  relabel a model trained with the old settings): the differences are listed, the other runs
  go on, the exit status is 1. Move its workdir away to train it afresh.
- Ctrl-C or SIGTERM asks the running training to checkpoint and stop (it gets SIGTERM); the
  same command continues it later. A training stopped from outside stops the suite too.
- After each finished run, results/S/R/ gets results.json and metrics.jsonl (copied) and
  command.txt (the exact command; no checkpoints, no predictions), which
  `tools/report.py` reads. `--collect_only` does only that, for runs trained by hand with
  `python -m msfml_jax.main ... --workdir=runs/S/R` (their config is checked against the
  suite's; environment settings such as `cache_dir` or `checkpoint_every_steps` may differ
  and are then written into command.txt as overrides).
"""

from __future__ import annotations

import importlib.util
import json
import pathlib
import shlex
import shutil
import signal
import subprocess
import sys
from typing import Any, Mapping, Sequence

from absl import app, flags

from msfml_jax import config_base

REPO = pathlib.Path(__file__).resolve().parent.parent
SUMMARY_FILES = ("results.json", "metrics.jsonl")
COMMAND_FILE = "command.txt"
# Settings that do not change what is trained: they may differ between the suite and a run
# trained by hand (command.txt then lists the run's values).
ENVIRONMENT_FIELDS = ("data_dir", "cache_dir", "checkpoint_every_steps", "keep_checkpoints",
                      "distributed")


def load_suites(path: pathlib.Path = REPO / "configs" / "suites.py"):
  """configs/suites.py as a module (configs/ is not a package)."""
  spec = importlib.util.spec_from_file_location("msfml_suites", path)
  module = importlib.util.module_from_spec(spec)
  sys.modules[spec.name] = module  # dataclasses look their module up by name
  spec.loader.exec_module(module)
  return module


# --- Configs and commands ----------------------------------------------------------------------

def expected_config(suites, run) -> dict[str, Any]:
  """The config `run` trains with, as results.json stores it (JSON types)."""
  try:
    config = suites.run_config(run)
  except (KeyError, AttributeError, TypeError, ValueError) as e:
    raise ValueError(f"configs/suites.py, run {run.name!r} ({run.config}, overrides "
                     f"{run.all_overrides()}): {e.args[0] if isinstance(e, KeyError) else e}") from e
  return json.loads(json.dumps(config.to_dict(), default=str))


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
  """{"a": {"b": 1}} -> {"a.b": 1}."""
  out = {}
  for k, v in d.items():
    if isinstance(v, Mapping):
      out.update(flatten(v, f"{prefix}{k}."))
    else:
      out[f"{prefix}{k}"] = v
  return out


def config_differences(saved: Mapping[str, Any], expected: Mapping[str, Any],
                       ignore: Sequence[str] = ENVIRONMENT_FIELDS) -> list[str]:
  """'field: saved -> expected' for every setting that differs.

  A setting newer than the run (absent from `saved`) ran as its default, so one that
  matters to the model (`config_base.resume_sensitive`) differs when the suite asks for
  another value, as `msfml_jax.checkpoints` decides on resume.
  """
  old, new = flatten(saved), flatten(expected)
  diffs = {k: f"{k}: {old[k]!r} -> {new[k]!r}" for k in set(old) & set(new)
           if k not in ignore and old[k] != new[k]}
  for k in set(new) - set(old):
    difference = config_base.newer_setting_difference(k, new[k])
    if difference:
      diffs[k] = difference
  return [diffs[k] for k in sorted(diffs)]


def format_value(value: Any) -> str:
  """A config value as `--config.FIELD=` parses it back (ml_collections flag syntax)."""
  if isinstance(value, (list, tuple)):
    return repr(tuple(value))
  return str(value)


def display_path(path: pathlib.Path) -> str:
  """`path` relative to the repository root when it lies inside it, else absolute."""
  path = path.resolve()
  try:
    return str(path.relative_to(REPO))
  except ValueError:
    return str(path)


def command_args(run, workdir: pathlib.Path,
                 extra: Mapping[str, Any] | None = None) -> list[str]:
  """The arguments after `python`: the normal training entry point, run from the repo root."""
  overrides = {**run.all_overrides(), **(extra or {})}
  return ["-m", "msfml_jax.main", f"--config={run.config}",
          f"--workdir={display_path(workdir)}",
          *(f"--config.{k}={format_value(v)}" for k, v in overrides.items())]


def command_text(args: Sequence[str]) -> str:
  return shlex.join(["python", *args])


# --- State of a workdir ------------------------------------------------------------------------

def read_results(workdir: pathlib.Path) -> dict[str, Any] | None:
  """results.json of a run that finished (not preempted), else None."""
  path = workdir / "results.json"
  if not path.is_file():
    return None
  try:
    results = json.loads(path.read_text(encoding="utf-8"))
  except json.JSONDecodeError as e:
    raise ValueError(f"{path}: not valid JSON ({e}); delete it to train the run again") from e
  if results.get("preempted") or "final" not in results or "config" not in results:
    return None
  return results


def run_state(workdir: pathlib.Path, expected: Mapping[str, Any]) -> tuple[str, list[str]]:
  """The state of a run's workdir and, for the last two, the settings that differ:

  new (nothing there), interrupted (no complete results.json: resume), finished (results.json
  of the declared config), more_epochs (finished with fewer epochs than declared: resume,
  which trains only the new epochs), changed (finished with other settings: refused, since
  resuming would only relabel a model trained with the old ones).
  """
  results = read_results(workdir)
  if results is not None:
    diffs = config_differences(results["config"], expected)
    if not diffs:
      return "finished", []
    saved_epochs, epochs = results["config"].get("num_epochs"), expected.get("num_epochs")
    only_epochs = diffs == [f"num_epochs: {saved_epochs!r} -> {epochs!r}"]
    more = only_epochs and isinstance(saved_epochs, int) and saved_epochs < epochs
    return ("more_epochs" if more else "changed"), diffs
  if workdir.is_dir() and any(workdir.iterdir()):
    return "interrupted", []
  return "new", []


def is_recorded(summary_dir: pathlib.Path, expected: Mapping[str, Any]) -> bool:
  """Whether results/<suite>/<run>/ holds the summary of a finished run of the declared config.

  A fresh clone has the committed summaries but no runs/ (checkpoints are not committed): such
  a run is done and is not trained again.
  """
  return run_state(summary_dir, expected)[0] == "finished"


def collect(run, workdir: pathlib.Path, results_dir: pathlib.Path,
            expected: Mapping[str, Any]) -> pathlib.Path:
  """Copies a finished run's summaries and writes its command into results_dir/<run>/."""
  out = results_dir / run.name
  out.mkdir(parents=True, exist_ok=True)
  for name in SUMMARY_FILES:
    if (workdir / name).is_file():
      shutil.copyfile(workdir / name, out / name)
  write_command(run, workdir, out, expected)
  return out


def write_command(run, workdir: pathlib.Path, summary_dir: pathlib.Path,
                  expected: Mapping[str, Any]) -> bool:
  """Writes summary_dir/command.txt: the command that trains `run` into `workdir` as
  configs/suites.py declares it now (a changed default adds the pins that keep the run what it
  was), with the environment settings its results.json ran with. True if the file changed."""
  saved = flatten(read_results(summary_dir)["config"])
  wanted = flatten(expected)
  extra = {k: saved[k] for k in ENVIRONMENT_FIELDS
           if k in saved and k in wanted and saved[k] != wanted[k]}
  text = command_text(command_args(run, workdir, extra)) + fork_note(run) + "\n"
  path = summary_dir / COMMAND_FILE
  if path.is_file() and path.read_text(encoding="utf-8") == text:
    return False
  path.write_text(text, encoding="utf-8")
  return True


def fork_note(run) -> str:
  """For command.txt: where a fork (`start_from`) starts; empty for other runs."""
  if not run.start_from:
    return ""
  parent, step = run.start_from
  return f"  # starts from runs/{parent}/checkpoints/{step} (configs/suites.py start_from)"


def start_fork(run, workdir: pathlib.Path, runs_dir: pathlib.Path) -> None:
  """Seeds a new fork's workdir: the parent's checkpoint at the fork step and the parent's
  metrics.jsonl lines up to it. The training then resumes from there (and refuses, naming it,
  a changed setting that the checkpoint's state does not allow)."""
  parent, step = run.start_from
  source = runs_dir / parent / "checkpoints" / str(step)
  if not source.is_dir():
    raise FileNotFoundError(
        f"{run.name} starts from {display_path(source)}, which is not there: train {parent} "
        f"until its checkpoints/ holds step {step} (orbax keeps only the latest "
        f"`keep_checkpoints`: stop it there with --config.num_epochs, fork, then finish it; "
        f"a longer num_epochs resumes a finished run)")
  shutil.copytree(source, workdir / "checkpoints" / str(step))
  lines = (runs_dir / parent / "metrics.jsonl").read_text(encoding="utf-8").splitlines(True)
  (workdir / "metrics.jsonl").write_text(
      "".join(l for l in lines if json.loads(l)["step"] <= step), encoding="utf-8")


# --- Training ----------------------------------------------------------------------------------

class _Forwarder:
  """While a child trains: Ctrl-C / SIGTERM here sends it SIGTERM (checkpoint and exit)."""

  def __init__(self):
    self.child: subprocess.Popen | None = None
    self.signal: int | None = None

  def __enter__(self):
    self._previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
    return self

  def __exit__(self, *exc):
    for s, handler in self._previous.items():
      signal.signal(s, handler)

  def _handle(self, signum, frame):
    del frame
    self.signal = signum
    if self.child is not None and self.child.poll() is None:
      print("\nreproduce: asking the training to checkpoint and stop (SIGTERM)...", flush=True)
      self.child.send_signal(signal.SIGTERM)


def train(args: Sequence[str], forwarder: _Forwarder) -> int:
  """Runs `python ARGS` from the repository root; returns its exit status."""
  # A session of its own: a Ctrl-C in the terminal reaches only this process, which forwards
  # SIGTERM, so the training checkpoints instead of dying on KeyboardInterrupt.
  forwarder.child = subprocess.Popen([sys.executable, *args], cwd=REPO, start_new_session=True)
  try:
    return forwarder.child.wait()
  finally:
    forwarder.child = None


def select(runs: Sequence[Any], names: Sequence[str] | None, suite: str) -> list[Any]:
  if not names:
    return list(runs)
  known = {r.name: r for r in runs}
  unknown = [n for n in names if n not in known]
  if unknown:
    raise ValueError(f"suite {suite!r} has no run {', '.join(unknown)} "
                     f"(its runs: {', '.join(known)})")
  return [known[n] for n in names]


def reproduce(suite: str, runs_dir: pathlib.Path, results_dir: pathlib.Path,
              names: Sequence[str] | None = None, dry_run: bool = False,
              collect_only: bool = False, suites_module=None) -> int:
  """Trains (or only collects) the runs of `suite`; returns the exit status for the CLI."""
  suites = suites_module or load_suites()
  runs = select(suites.get_suite(suite), names, suite)
  counts = {"trained": 0, "skipped": 0, "collected": 0, "not finished": 0, "mismatched": 0}
  with _Forwarder() as forwarder:
    for i, run in enumerate(runs, 1):
      if forwarder.signal is not None:
        print(f"{suite}: stopped by signal {forwarder.signal} before {run.name}.", flush=True)
        return 128 + forwarder.signal
      tag = f"[{i}/{len(runs)}] {suite}/{run.name}"
      workdir = runs_dir / suite / run.name
      expected = expected_config(suites, run)
      args = command_args(run, workdir)
      state, diffs = run_state(workdir, expected)
      if state == "new" and is_recorded(results_dir / suite / run.name, expected):
        state = "recorded"
      if dry_run:
        print(f"{tag}: {state}\n  {command_text(args)}{fork_note(run)}", flush=True)
        for d in diffs:
          print(f"    differs: {d}")
        continue
      if state == "recorded":
        summary = results_dir / suite / run.name
        refreshed = write_command(run, workdir, summary, expected)
        print(f"{tag}: recorded in {display_path(summary)} (its workdir is not here), skipped"
              f"{'; its command.txt updated' if refreshed else ''}; move that folder away to "
              f"train the run again", flush=True)
        counts["skipped"] += 1
        continue
      if collect_only:
        if state == "finished":
          print(f"{tag}: collected into {collect(run, workdir, results_dir / suite, expected)}",
                flush=True)
          counts["collected"] += 1
        elif state in ("changed", "more_epochs"):
          print(f"{tag}: NOT collected: {workdir}/results.json was trained with another "
                f"config than configs/suites.py declares:\n    " + "\n    ".join(diffs),
                flush=True)
          counts["mismatched"] += 1
        else:
          print(f"{tag}: {state}, nothing to collect", flush=True)
          counts["not finished"] += 1
        continue
      if state == "finished":
        collect(run, workdir, results_dir / suite, expected)
        print(f"{tag}: finished earlier, skipped (summaries refreshed)", flush=True)
        counts["skipped"] += 1
        continue
      if state == "changed":
        print(f"{tag}: NOT trained: {workdir} holds a finished run of another config than "
              f"configs/suites.py declares:\n    " + "\n    ".join(diffs) + "\n  Move that "
              f"workdir away to train the run afresh.", flush=True)
        counts["mismatched"] += 1
        continue
      what = {"new": "training", "interrupted": "resuming",
              "more_epochs": "resuming (" + "; ".join(diffs) + ")"}[state]
      if state == "new" and run.start_from:
        start_fork(run, workdir, runs_dir)
        what = f"training from runs/{run.start_from[0]}/checkpoints/{run.start_from[1]}"
      print(f"{tag}: {what}\n  {command_text(args)}", flush=True)
      rc = train(args, forwarder)
      if forwarder.signal is not None:
        print(f"{tag}: stopped by signal {forwarder.signal}; run the same command to resume.",
              flush=True)
        return 128 + forwarder.signal
      if rc != 0:
        hint = (f" If the checkpoint in {workdir} was refused for a changed setting, move that "
                f"workdir away to train the run afresh." if state == "interrupted" else "")
        print(f"{tag}: FAILED (exit status {rc}, error above); stopping the suite.{hint}",
              flush=True)
        return 1
      if run_state(workdir, expected)[0] != "finished":
        print(f"{tag}: the training stopped before the end (SIGTERM?); run the same command "
              f"to resume.", flush=True)
        return 1
      print(f"{tag}: done, summaries in {collect(run, workdir, results_dir / suite, expected)}",
            flush=True)
      counts["trained"] += 1
  if not dry_run:
    print(f"{suite}: " + ", ".join(f"{v} {k}" for k, v in counts.items() if v), flush=True)
  return 1 if counts["mismatched"] else 0


# --- CLI ---------------------------------------------------------------------------------------

def list_suites(suites) -> str:
  lines = []
  for name in suites.SUITES:
    runs = suites.get_suite(name)
    lines.append(f"{name} ({len(runs)} runs): {', '.join(r.name for r in runs)}")
  return "\n".join(lines)


def main(argv: Sequence[str]) -> None:
  del argv
  f = flags.FLAGS
  suites = load_suites()
  if f.list:
    print(list_suites(suites))
    return
  if not f.suite:
    raise app.UsageError(f"--suite is required; suites:\n{list_suites(suites)}")
  try:
    status = reproduce(f.suite, pathlib.Path(f.runs_dir).resolve(),
                       pathlib.Path(f.results_dir).resolve(), f.runs, f.dry_run,
                       f.collect_only, suites)
  except (KeyError, ValueError, FileNotFoundError) as e:
    sys.exit(f"reproduce: {e}")
  sys.exit(status)


def define_flags() -> None:
  """Flags, defined on demand so that importing this file (tests) defines none."""
  flags.DEFINE_string("suite", None, "Suite name (configs/suites.py).")
  flags.DEFINE_list("runs", None, "Only these runs of the suite (comma list of names).")
  flags.DEFINE_bool("dry_run", False, "Print each run's state and command; train nothing.")
  flags.DEFINE_bool("collect_only", False,
                    "Copy the summaries of finished runs into results/; train nothing.")
  flags.DEFINE_bool("list", False, "List the suites and their runs.")
  flags.DEFINE_string("runs_dir", str(REPO / "runs"), "Workdirs: RUNS_DIR/<suite>/<run>.")
  flags.DEFINE_string("results_dir", str(REPO / "results"),
                      "Summaries: RESULTS_DIR/<suite>/<run>.")


if __name__ == "__main__":
  define_flags()
  app.run(main)
