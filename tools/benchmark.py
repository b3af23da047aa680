"""Training/evaluation speed and memory of a config, printed as one JSON object.

  python tools/benchmark.py --config=configs/semeval.py [--steps=40] [--config.batch_size=50]
  python tools/benchmark.py --config=configs/semeval.py --mode=loop [--epochs=2]

--mode=step (default) times the jitted train step alone on ready device batches. Reports:
compile seconds (first train step's shape), training samples/s (each real member of a
triplet counts as a sample, padding rows do not; a batch of a new shape is timed on its
second run, after its compile), evaluation samples/s, peak RSS, and the achieved FLOP/s of
the train step from XLA's cost analysis (which counts a `lax.scan` body once, so the
LSTM's share is undercounted).

--mode=loop runs `--epochs` full epochs through the real training code (`train_and_evaluate`:
batching, transfer, step, metrics, hard-negative refresh, evaluation, checkpoints; the
persistent compilation cache off, so compiles are counted cold) and reports:
  loop_samples_per_s      training samples/s of the last epoch's training loop (the
                          `samples_per_s` of its train_epoch record in metrics.jsonl)
  step_samples_per_s      the jitted step alone on every batch of the timed epoch's plan
                          (as --mode=step)
  loop_to_step_ratio      loop_samples_per_s / step_samples_per_s
  epoch_seconds           wall time of the last epoch, end-of-epoch work included
  end_of_epoch_seconds    of which hard-negative refresh, evaluation and checkpoint
  h2d_mb_per_step         MB of every array transferred for a training step (epoch mean)
  compile_count, compile_seconds   XLA compilations (and trace + lower + compile seconds)
                          during the loop run
  pipeline_batches_per_s  training batches built and transferred per second by one thread
                          (the host pipeline alone, --steps batches)
  peak_rss_mb
"""

from __future__ import annotations

import collections
import json
import pathlib
import resource
import sys
import tempfile
import time

import jax
import numpy as np
from absl import app, flags
from ml_collections import config_flags

# The checkout this file is in, not whichever msfml_jax is installed (as the other tools).
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from msfml_jax import train  # pylint: disable=wrong-import-position

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file.")
_STEPS = flags.DEFINE_integer("steps", 40, "Timed training steps.")
_EVAL_RECORDS = flags.DEFINE_integer("eval_records", 1000, "Records in the evaluation timing.")
_MODE = flags.DEFINE_enum("mode", "step", ["step", "loop"], "step: the jitted step alone; "
                          "loop: full epochs through the training code.")
_EPOCHS = flags.DEFINE_integer("epochs", 2, "--mode=loop: epochs run (the last one is timed).")


def _flops(compiled) -> float:
  analysis = compiled.cost_analysis()
  if isinstance(analysis, (list, tuple)):
    analysis = analysis[0]
  return float((analysis or {}).get("flops", 0.0))


def epoch_plan(run, epoch: int):
  """The training plan of `epoch` (no hard negatives). Falls back to the sampler call of
  checkouts before `train.epoch_plan`, so that this file can time an older commit (the
  'before' of docs/results.md) on the same terms."""
  if hasattr(train, "epoch_plan"):
    return train.epoch_plan(run, epoch, None)
  return run.sampler.plan(epoch, run.global_batch, None, with_triplets=run.config.loss.msml)


def _step_timing(run, state, plan, steps: int):
  """(samples/s of the jitted step alone, shape counts, timed seconds, FLOPs, state).

  Every one of the first `steps` batches is timed; a batch whose shape is new runs once
  untimed first (its compile), so rare long buckets count as often as the loop meets them.
  Samples are the real (weight 1) members of each triplet, not padding rows.
  """
  seen, timed, samples, flops, shapes = set(), 0.0, 0, 0.0, collections.Counter()
  flops_by_shape = {}
  for b in range(min(steps, len(plan))):
    batch = jax.block_until_ready(train.train_batch(run, plan, b))
    shape = batch["tokens"].shape
    if shape not in seen:  # compile this shape outside the timed region
      seen.add(shape)
      flops_by_shape[shape] = _flops(run.train_step.lower(state, batch).compile())
      state, metrics = run.train_step(state, batch)  # the state is donated: keep the new one
      jax.block_until_ready(metrics["loss"])
    t = time.perf_counter()
    state, metrics = run.train_step(state, batch)
    jax.block_until_ready(metrics["loss"])
    timed += time.perf_counter() - t
    samples += int(np.asarray(batch["weight"]).sum())
    flops += flops_by_shape[shape]
    shapes[str(shape)] += 1
  return samples / timed if timed else None, shapes, timed, flops, state


def step_mode(config) -> dict:
  """Today's report: the jitted train step alone, and evaluation."""
  with tempfile.TemporaryDirectory() as workdir:
    run = train.setup(config, workdir)
    state = train.initial_state(run)
    plan = epoch_plan(run, 0)
    first = train.train_batch(run, plan, 0)
    t0 = time.perf_counter()
    run.train_step.lower(state, first).compile()
    compile_s = time.perf_counter() - t0
    rate, shapes, timed, flops, state = _step_timing(run, state, plan, _STEPS.value)
    test = run.splits["test"]
    subset = test.take(np.arange(min(_EVAL_RECORDS.value, len(test))))
    train.predict_split(run, state, subset)  # compile
    t = time.perf_counter()
    train.predict_split(run, state, subset)
    eval_s = time.perf_counter() - t
    run.checkpointer.close()
  return {
      "config": config.data.task, "devices": jax.device_count(),
      "backend": jax.default_backend(), "batch_size": config.batch_size,
      "compile_seconds": round(compile_s, 2),
      "train_samples_per_s": round(rate, 1) if rate else None,
      "train_steps_timed": sum(shapes.values()), "train_step_shapes": dict(shapes),
      "eval_samples_per_s": round(len(subset) / eval_s, 1),
      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
      "train_step_gflops": round(flops / max(sum(shapes.values()), 1) / 1e9, 3),
      "achieved_gflop_per_s": round(flops / timed / 1e9, 2) if timed else None,
  }


class _CompileCounter:
  """XLA compilations and their seconds, from jax.monitoring's duration events."""
  _EVENTS = ("/jax/core/compile/backend_compile_duration",
             "/jax/core/compile/jaxpr_trace_duration",
             "/jax/core/compile/jaxpr_to_mlir_module_duration")

  def __init__(self):
    self.active, self.count, self.seconds = False, 0, 0.0
    jax.monitoring.register_event_duration_secs_listener(self._listen)

  def _listen(self, event: str, duration: float, **kwargs) -> None:
    del kwargs
    if self.active and event in self._EVENTS:
      self.seconds += duration
      self.count += event == self._EVENTS[0]


def _pipeline(run, plan, steps: int) -> tuple[float, float]:
  """(MB per training batch over the whole epoch, batches/s of the host pipeline alone)."""
  nbytes, built_s, built = [], 0.0, 0
  for b in range(len(plan)):
    t = time.perf_counter()
    batch = jax.block_until_ready(train.train_batch(run, plan, b))
    if b < steps:
      built_s += time.perf_counter() - t
      built += 1
    nbytes.append(sum(x.nbytes for x in jax.tree.leaves(batch)))
  return float(np.mean(nbytes)) / 1e6, built / built_s


def loop_mode(config) -> dict:
  """Full epochs through `train.train_and_evaluate`, then the step alone on the same plan."""
  config.num_epochs = _EPOCHS.value
  if "compilation_cache_dir" in config:
    config.compilation_cache_dir = ""  # count cold compiles
  counter = _CompileCounter()
  ends = []
  end_of_epoch = train.end_of_epoch

  def timed_end_of_epoch(*args, **kwargs):  # instrumentation: when each epoch's work ends
    t = time.perf_counter()
    out = end_of_epoch(*args, **kwargs)
    ends.append((t, time.perf_counter()))
    return out

  train.end_of_epoch = timed_end_of_epoch
  with tempfile.TemporaryDirectory() as workdir:
    counter.active = True
    t_start = time.perf_counter()
    results = train.train_and_evaluate(config, workdir)
    counter.active = False
    rows = [json.loads(l) for l in (pathlib.Path(workdir) / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in rows if r["split"] == "train_epoch"]
    loop_rate = epochs[-1]["metrics"]["samples_per_s"]
    starts = [t_start] + [e for _, e in ends[:-1]]
    epoch_s = ends[-1][1] - starts[-1]
    end_s = ends[-1][1] - ends[-1][0]
  train.end_of_epoch = end_of_epoch
  with tempfile.TemporaryDirectory() as workdir:
    run = train.setup(config, workdir)
    # The timed (last) epoch's plan, every batch of it, as the loop ran them.
    plan = epoch_plan(run, config.num_epochs - 1)
    h2d_mb, pipeline_rate = _pipeline(run, plan, _STEPS.value)
    state = train.initial_state(run)
    step_rate, shapes, _, _, _ = _step_timing(run, state, plan, len(plan))
    run.checkpointer.close()
  return {
      "config": config.data.task, "mode": "loop", "devices": jax.device_count(),
      "backend": jax.default_backend(), "batch_size": config.batch_size,
      "train_records": len(run.splits["train"]), "steps_per_epoch": run.steps_per_epoch,
      "epochs": config.num_epochs, "final_step": results.get("steps"),
      "loop_samples_per_s": round(loop_rate, 1),
      "step_samples_per_s": round(step_rate, 1) if step_rate else None,
      "loop_to_step_ratio": round(loop_rate / step_rate, 3) if step_rate else None,
      "epoch_seconds": round(epoch_s, 2), "end_of_epoch_seconds": round(end_s, 2),
      "h2d_mb_per_step": round(h2d_mb, 3),
      "compile_count": counter.count, "compile_seconds": round(counter.seconds, 2),
      "pipeline_batches_per_s": round(pipeline_rate, 2),
      "step_timing_steps": sum(shapes.values()),
      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
  }


def main(argv):
  del argv
  config = _CONFIG.value
  report = loop_mode(config) if _MODE.value == "loop" else step_mode(config)
  print(json.dumps(report, indent=2))
  sys.stdout.flush()


if __name__ == "__main__":
  flags.mark_flags_as_required(["config"])
  app.run(main)
