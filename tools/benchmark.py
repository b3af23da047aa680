"""Training/evaluation speed and memory of a config, printed as one JSON object.

  python tools/benchmark.py --config=configs/semeval.py [--steps=40] [--config.batch_size=50]

Reports: compile seconds (first train step's shape), training samples/s (each member of a
triplet counts as a sample; steps whose shape compiles are excluded), evaluation samples/s,
peak RSS, and the achieved FLOP/s of the train step from XLA's cost analysis.
"""

from __future__ import annotations

import collections
import json
import resource
import sys
import tempfile
import time

import jax
import numpy as np
from absl import app, flags
from ml_collections import config_flags

from msfml_jax import train

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file.")
_STEPS = flags.DEFINE_integer("steps", 40, "Timed training steps.")
_EVAL_RECORDS = flags.DEFINE_integer("eval_records", 1000, "Records in the evaluation timing.")


def _flops(compiled) -> float:
  analysis = compiled.cost_analysis()
  if isinstance(analysis, (list, tuple)):
    analysis = analysis[0]
  return float((analysis or {}).get("flops", 0.0))


def main(argv):
  del argv
  config = _CONFIG.value
  with tempfile.TemporaryDirectory() as workdir:
    run = train.setup(config, workdir)
    state = train.initial_state(run)
    plan = run.sampler.plan(0, run.global_batch, None, with_triplets=config.loss.msml)
    first = train.train_batch(run, plan, 0)
    t0 = time.perf_counter()
    compiled = run.train_step.lower(state, first).compile()
    compile_s = time.perf_counter() - t0
    flops_by_shape = {first["tokens"].shape: _flops(compiled)}
    seen, timed, samples, flops, shapes = set(), 0.0, 0, 0.0, collections.Counter()
    for b in range(min(_STEPS.value, len(plan))):
      batch = train.train_batch(run, plan, b)
      shape = batch["tokens"].shape
      t = time.perf_counter()
      state, metrics = run.train_step(state, batch)
      jax.block_until_ready(metrics["loss"])
      dt = time.perf_counter() - t
      if shape not in seen:  # this step compiled its shape: not steady-state
        seen.add(shape)
        if shape not in flops_by_shape:
          flops_by_shape[shape] = _flops(run.train_step.lower(state, batch).compile())
        continue
      timed += dt
      samples += int(np.prod(shape[:2]))
      flops += flops_by_shape[shape]
      shapes[str(shape)] += 1
    test = run.splits["test"]
    subset = test.take(np.arange(min(_EVAL_RECORDS.value, len(test))))
    train.predict_split(run, state, subset)  # compile
    t = time.perf_counter()
    train.predict_split(run, state, subset)
    eval_s = time.perf_counter() - t
    run.checkpointer.close()
  report = {
      "config": config.data.task, "devices": jax.device_count(),
      "backend": jax.default_backend(), "batch_size": config.batch_size,
      "compile_seconds": round(compile_s, 2),
      "train_samples_per_s": round(samples / timed, 1) if timed else None,
      "train_steps_timed": sum(shapes.values()), "train_step_shapes": dict(shapes),
      "eval_samples_per_s": round(len(subset) / eval_s, 1),
      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
      "train_step_gflops": round(flops / max(sum(shapes.values()), 1) / 1e9, 3),
      "achieved_gflop_per_s": round(flops / timed / 1e9, 2) if timed else None,
  }
  print(json.dumps(report, indent=2))
  sys.stdout.flush()


if __name__ == "__main__":
  flags.mark_flags_as_required(["config"])
  app.run(main)
