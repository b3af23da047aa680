"""Entry point: python -m msfml_jax.main --config=configs/semeval.py --workdir=DIR.

Any config field can be overridden with --config.FIELD=VALUE (ml_collections). For PubMed,
--folds=all runs the five cross-validation folds into DIR/fold{k} and averages them.
Refusals (bad data or config, a locked or unwritable workdir, an incompatible checkpoint) are
one line on stderr and exit status 2; --verbosity=1 adds the traceback (msfml_jax/cli.py).
"""

from __future__ import annotations

import copy
import json
import os
import pathlib

import jax
from absl import flags, logging
from ml_collections import config_flags

from msfml_jax import cli, config_base, evaluate, reporting, train

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints and metrics.")
_FOLDS = flags.DEFINE_string("folds", "", "'all' or a comma list of folds to run (PubMed).")


def maybe_initialize_distributed(config) -> None:
  """Multi-host: jax.distributed.initialize when the config or the environment asks for it.

  On a Cloud TPU pod slice the arguments are discovered automatically; elsewhere set
  JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and JAX_PROCESS_ID.
  """
  if config.distributed or os.environ.get("JAX_COORDINATOR_ADDRESS"):
    kwargs = {}
    if os.environ.get("JAX_COORDINATOR_ADDRESS"):
      kwargs = {"coordinator_address": os.environ["JAX_COORDINATOR_ADDRESS"],
                "num_processes": int(os.environ["JAX_NUM_PROCESSES"]),
                "process_id": int(os.environ["JAX_PROCESS_ID"])}
    jax.distributed.initialize(**kwargs)
    logging.info("process %d of %d, %d local / %d global devices", jax.process_index(),
                 jax.process_count(), jax.local_device_count(), jax.device_count())


def run_folds(config, workdir: pathlib.Path, folds: list[int]) -> dict:
  """Cross-validation: one run per fold, then the mean and std of every final test metric."""
  per_fold = []
  for fold in folds:
    cfg = copy.deepcopy(config)
    with cfg.unlocked():
      cfg.data.fold = fold
    results = train.train_and_evaluate(cfg, str(workdir / f"fold{fold}"))
    if results.get("preempted"):
      return results
    per_fold.append(results["best"].get("metrics", {}).get("test") or results["final"]["test"])
  summary = {"folds": folds, "per_fold": per_fold, "mean": evaluate.average_folds(per_fold)}
  reporting.write_json(workdir / "cv_results.json", summary)
  return summary


def main(argv):
  del argv
  config = _CONFIG.value
  config_base.check(config)
  maybe_initialize_distributed(config)
  workdir = pathlib.Path(_WORKDIR.value)
  if _FOLDS.value:
    folds = (list(range(config.data.num_folds)) if _FOLDS.value == "all"
             else [int(f) for f in _FOLDS.value.split(",")])
    results = run_folds(config, workdir, folds)
  else:
    results = train.train_and_evaluate(config, str(workdir))
  print(json.dumps(headline(results), indent=2, default=str))


def headline(results: dict) -> dict:
  """The summary printed at the end: overall metrics, not the per-relation breakdown."""
  out = {k: results[k] for k in ("preempted", "step") if k in results}
  if "final" in results:
    out["final"] = {split: reporting.overall_metrics(m) for split, m in results["final"].items()}
    out["best"] = {k: v for k, v in results.get("best", {}).items() if k != "metrics"}
  if "mean" in results:
    out["cross_validation"] = reporting.overall_metrics(results["mean"])
  return out


if __name__ == "__main__":
  flags.mark_flags_as_required(["config", "workdir"])
  cli.run(main)
