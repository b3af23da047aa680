"""What every table of docs/results.md shares: reading results/ and formatting numbers.

Numbers are means ± sample standard deviations (n − 1) over seeds or folds. Which test score
a run contributes: with a dev split (PubMed, TACRED) the test metrics of the best-on-dev
epoch; without one (SemEval, as in the paper) the last epoch's.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import statistics
import sys
from typing import Any, Callable, Mapping, Sequence

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
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


def read_jsonl(path: pathlib.Path) -> list[dict[str, Any]]:
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
  rows = read_jsonl(metrics) if metrics.is_file() else []
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


def max_dead(entry: Entry, key: str, last_epoch: int | None = None) -> float | str | None:
  """Max over epochs (up to `last_epoch`, if given) of the epoch-mean `key` (x_dead /
  y_dead); "removed" without the branch."""
  if entry.flat_config.get(_BRANCH[key]) == "none":
    return "removed"
  values = [r["metrics"][key] for r in entry.rows
            if r.get("split") == "train_epoch" and key in r.get("metrics", {})
            and (last_epoch is None or r["epoch"] <= last_epoch)]
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


def per_epoch(entry: Entry, split: str, key: str) -> dict[int, float]:
  """epoch -> `key` of the entry's `split` lines."""
  return {r["epoch"]: r["metrics"][key] for r in entry.rows
          if r.get("split") == split and key in r.get("metrics", {})}


def values_over(entry: Entry, split: str, key: str, epochs: Sequence[int]) -> list[float]:
  """`key` of the entry's `split` lines of those epochs (the ones it has)."""
  values = per_epoch(entry, split, key)
  return [values[ep] for ep in epochs if ep in values]


def trajectory(values: Mapping[int, float]) -> str:
  """The values in epoch order, as "75.00 88.00"; DASH for none."""
  return " ".join(f"{values[e]:.2f}" for e in sorted(values)) if values else DASH


def settings_text(settings: Mapping[str, Any]) -> str:
  """`k=v` for each setting, as --config.k=v parses it back; DASH for none."""
  return ", ".join(f"`{k}={reproduce.format_value(v)}`" for k, v in settings.items()) or DASH


def reports_with_commands(folder: pathlib.Path, pattern: str) -> list[tuple[pathlib.Path, str]]:
  """(file, "- `NAME`: `command`") for each `pattern` file of `folder`, sorted (none when the
  folder is absent). The command is NAME.command.txt beside the file; a missing one is an error."""
  out = []
  for path in sorted(folder.glob(pattern)) if folder.is_dir() else []:
    command = path.with_name(path.stem + ".command.txt")
    if not command.is_file():
      raise ValueError(f"{path}: {command.name} is missing beside it")
    out.append((path, f"- `{path.stem}`: `{command.read_text(encoding='utf-8').strip()}`"))
  return out


def baseline_pairs(entries: Sequence[Entry], probes: Sequence[Entry],
                   baseline_of: Callable[[Entry], str]) -> list[tuple[Entry, Entry]]:
  """(probe, its baseline) for each of `probes`; `baseline_of(probe)` names the baseline as
  "SUITE/RUN", which must be among `entries` (else an error naming the suite to run)."""
  by_path = {f"{e.suite}/{e.name}": e for e in entries}
  pairs = []
  for e in probes:
    base_path = baseline_of(e)
    if base_path not in by_path:
      raise ValueError(f"results/{e.suite}/{e.name} is measured against {base_path}, which "
                       f"results/ lacks (python tools/reproduce.py "
                       f"--suite={base_path.split('/')[0]})")
    pairs.append((e, by_path[base_path]))
  return pairs
