"""Sweeps the loss weights alpha and beta (eq. 16) as in the paper's Fig. 6-7.

  python tools/sweep.py --config=configs/semeval.py --workdir=runs/sweep_semeval
  python tools/sweep.py --config=configs/tiny.py --alpha=0.1,0.5 --beta=0.03,0.07 \\
      --workdir=/tmp/sweep --config.num_epochs=1

The grid:
  - only --alpha and/or only --beta given, or neither (the default): one parameter at a time,
    like the paper's figures: every alpha (default 0.1, 0.5, 0.9) with beta fixed at the
    config's `loss.beta`, then every beta (default 0.01, 0.05, 0.09) with alpha fixed at the
    config's `loss.alpha` (a point in both lists runs once);
  - both --alpha and --beta given: their full product.
Each point trains with `train.train_and_evaluate` into DIR/alpha{a}_beta{b} (a killed sweep
run again skips finished points and resumes the interrupted one from its checkpoint). Then
DIR/sweep.csv gets one row per point: alpha, beta, the main metric (named in `metric`, value
in `value`) and every final test metric; DIR/sweep.png plots the main metric against alpha
and against beta. Any config field can be overridden with --config.FIELD=VALUE.
"""

from __future__ import annotations

import copy
import csv
import json
import pathlib
import sys
from typing import Any, Sequence

from absl import flags, logging
from ml_collections import config_flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from msfml_jax import cli, plotting, tasks, train  # pylint: disable=g-import-not-at-top

DEFAULT_ALPHAS = (0.1, 0.5, 0.9)
DEFAULT_BETAS = (0.01, 0.05, 0.09)


def grid(alphas: Sequence[float] | None, betas: Sequence[float] | None, base_alpha: float,
         base_beta: float) -> list[tuple[float, float]]:
  """(alpha, beta) points: the product when both lists are given, else one axis at a time."""
  if alphas and betas:
    return [(a, b) for a in alphas for b in betas]
  points = [(a, base_beta) for a in alphas or DEFAULT_ALPHAS]
  points += [(base_alpha, b) for b in betas or DEFAULT_BETAS]
  return list(dict.fromkeys(points))  # drops repeats, keeps the order


def point_dir(workdir: pathlib.Path, alpha: float, beta: float) -> pathlib.Path:
  return workdir / f"alpha{alpha:g}_beta{beta:g}"


def point_config(config, alpha: float, beta: float):
  cfg = copy.deepcopy(config)
  with cfg.unlocked():
    cfg.loss.alpha, cfg.loss.beta = float(alpha), float(beta)
  return cfg


def _finished(workdir: pathlib.Path, config) -> dict[str, Any] | None:
  """results.json of an earlier run of exactly this config, else None."""
  path = workdir / "results.json"
  if not path.is_file():
    return None
  results = json.loads(path.read_text())
  same = results.get("config") == json.loads(json.dumps(config.to_dict(), default=str))
  return results if same else None


def run_point(config, workdir: pathlib.Path) -> dict[str, Any]:
  """Final test metrics of one point, training unless results.json already has them."""
  results = _finished(workdir, config)
  if results is None:
    results = train.train_and_evaluate(config, str(workdir))
    if results.get("preempted"):
      raise SystemExit(f"preempted during {workdir}: run the same command again to resume")
  else:
    logging.info("%s: finished earlier, reusing its results.json", workdir)
  final = results["final"]
  split = "test" if "test" in final else next(iter(final))
  return final[split]


def run_sweep(config, workdir: str | pathlib.Path,
              points: Sequence[tuple[float, float]]) -> list[dict[str, Any]]:
  """Trains every point; returns CSV rows (alpha, beta, metric, value, test metrics...)."""
  workdir = pathlib.Path(workdir)
  metric = tasks.get(config).selection_metric(config)
  rows = []
  for i, (alpha, beta) in enumerate(points, 1):
    logging.info("sweep point %d/%d: alpha=%g beta=%g", i, len(points), alpha, beta)
    metrics = run_point(point_config(config, alpha, beta), point_dir(workdir, alpha, beta))
    rows.append({"alpha": alpha, "beta": beta, "metric": metric,
                 "value": metrics.get(metric, float("nan")), **metrics})
  return rows


def write_csv(rows: Sequence[dict[str, Any]], path: pathlib.Path) -> None:
  """One row per point; columns: alpha, beta, metric, value, then every metric in order seen."""
  columns = list(dict.fromkeys(k for row in rows for k in row))
  with open(path, "w", newline="", encoding="utf-8") as f:
    writer = csv.DictWriter(f, fieldnames=columns, restval="")
    writer.writeheader()
    writer.writerows(rows)


def write_outputs(rows: Sequence[dict[str, Any]], workdir: str | pathlib.Path) -> None:
  """DIR/sweep.csv and DIR/sweep.png."""
  workdir = pathlib.Path(workdir)
  write_csv(rows, workdir / "sweep.csv")
  fig = plotting.plot_sweep(rows, "value", label=rows[0]["metric"])
  fig.savefig(workdir / "sweep.png", dpi=120)


def _floats(values: Sequence[str] | None) -> list[float] | None:
  return [float(v) for v in values] if values else None


def main(argv: Sequence[str]) -> None:
  del argv
  f = flags.FLAGS
  config = f.config
  points = grid(_floats(f.alpha), _floats(f.beta), config.loss.alpha, config.loss.beta)
  workdir = pathlib.Path(f.workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  rows = run_sweep(config, workdir, points)
  write_outputs(rows, workdir)
  for row in rows:
    print(f"alpha={row['alpha']:g} beta={row['beta']:g} {row['metric']}={row['value']:.2f}")
  print(f"wrote {workdir / 'sweep.csv'} and {workdir / 'sweep.png'}")


def define_flags() -> None:
  """Flags, defined on demand so that importing this file (tests) defines none."""
  config_flags.DEFINE_config_file("config", None, "Config file.", lock_config=True)
  flags.DEFINE_string("workdir", None, "Sweep directory (one subdirectory per point).")
  flags.DEFINE_list("alpha", None, f"alpha values (default {DEFAULT_ALPHAS}, see module doc).")
  flags.DEFINE_list("beta", None, f"beta values (default {DEFAULT_BETAS}, see module doc).")


if __name__ == "__main__":
  define_flags()
  flags.mark_flags_as_required(["config", "workdir"])
  cli.run(main)
