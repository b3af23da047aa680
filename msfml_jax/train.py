"""Training and evaluation loop: `train_and_evaluate(config, workdir)`.

The loop keeps no state that is not in the checkpoint or derived from the step: data order
and triplets come from (seed, epoch, hard-negative table), dropout from fold_in(key, step),
the learning rate from the optax schedule (times `state.lr_scale` under the on_plateau rule,
decided from checkpointed loss sums). Killing the process at any moment and running the
same command again therefore ends with the same parameters.
"""

from __future__ import annotations

import dataclasses
import pathlib
import signal
import time
from typing import Any, Iterator

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import logging
from tqdm import tqdm

from msfml_jax import checkpoints, cli, compile_cache, config_base, parallel, reporting, steps
from msfml_jax import tasks
from msfml_jax import workdir as workdir_lib
from msfml_jax.data import batching, cache, prefetch, triplets
from msfml_jax.models import msfml


class DivergenceError(cli.UserError, RuntimeError):
  """The loss became NaN or Inf; the last good checkpoint is left in place."""
  exit_code = cli.EXIT_DIVERGED


@dataclasses.dataclass
class Run:
  """Everything a training run needs, built once by `setup`."""
  config: ml_collections.ConfigDict
  workdir: pathlib.Path
  dataset: Any
  splits: dict[str, Any]
  model: Any
  mesh: Any
  sampler: triplets.TripletSampler
  steps_per_epoch: int
  global_batch: int
  train_step: Any
  eval_step: Any
  checkpointer: checkpoints.Checkpointer
  log: reporting.MetricsLog
  word_vectors: dict[str, np.ndarray]  # PLM input: flat [T, H] per split; empty with GloVe


def batch_rows(config: ml_collections.ConfigDict) -> int:
  """Rows of each role's global training batch: `batch_size` anchors (a multiple of the
  device count), rounded up to `batch_row_multiple` with padding rows when that is set."""
  rows = parallel.global_batch_size(config.batch_size)
  multiple = config.get("batch_row_multiple", 0)
  if multiple:
    rows = parallel.global_batch_size(msfml.round_up(rows, multiple))
  return rows


def epoch_plan(run: "Run", epoch: int, hard_negatives: np.ndarray | None) -> triplets.EpochPlan:
  """Epoch `epoch`'s training batches (record indices, -1 for padding rows)."""
  return run.sampler.plan(epoch, run.global_batch, hard_negatives,
                          with_triplets=run.config.loss.msml, rows=batch_rows(run.config))


def _limit(split, n: int):
  return split.take(np.arange(min(n, len(split)))) if n and n < len(split) else split


def negative_label_id(config: ml_collections.ConfigDict, dataset: cache.Dataset) -> int | None:
  """The id of the task's negative label when the loss needs it
  (`loss.negative_anchor_triplets` False), else None."""
  if config.loss.get("negative_anchor_triplets", True):
    return None
  negative = tasks.get(config).negative_label(config)
  if not negative or negative not in dataset.label_names:
    raise config_base.ConfigError(
        f"config: loss.negative_anchor_triplets=False needs a negative label among the "
        f"labels, and task {config.data.task!r} has none (a custom task sets "
        f"data.negative_label)")
  return dataset.label_names.index(negative)


def setup(config: ml_collections.ConfigDict, workdir: str | pathlib.Path) -> Run:
  workdir = pathlib.Path(workdir)
  workdir_lib.make_writable_dir(workdir)
  compile_cache.enable(config)
  log_devices()
  dataset = cache.load_dataset(config, progress=jax.process_index() == 0)
  if jax.process_index() == 0:
    cache.save_model_inputs(dataset, workdir / cache.MODEL_INPUTS_DIR)
  splits = {name: _limit(split, config.max_train_examples if name == "train"
                         else config.max_eval_examples)
            for name, split in dataset.splits.items()}
  global_batch = parallel.global_batch_size(config.batch_size)
  sampler = triplets.TripletSampler(splits["train"].labels, splits["train"].lengths,
                                    len(dataset.label_names), config.seed)
  steps_per_epoch = -(-len(splits["train"]) // global_batch)
  start_epoch = config.optim.get("average_start_epoch", 0)
  train_step, eval_step = steps.jit_steps(config.loss, msfml.has_features(config.model),
                                          config.model.get("dtype", "float32"),
                                          config.optim.ema_decay,
                                          (start_epoch - 1) * steps_per_epoch if start_epoch
                                          else None, negative_label_id(config, dataset))
  word_vectors = {}
  if config.model.word_input == "plm":
    from msfml_jax import plm  # pylint: disable=import-outside-toplevel (transformers is slow to import)
    limits = {name: config.max_train_examples if name == "train" else config.max_eval_examples
              for name in dataset.splits}
    word_vectors = plm.load_word_vectors(config, dataset, progress=jax.process_index() == 0,
                                         limits=limits)
  logging.info("train %d records, %d steps/epoch, %d devices, %d processes",
               len(splits["train"]), steps_per_epoch, jax.device_count(), jax.process_count())
  return Run(config, workdir, dataset, splits, msfml.create_model(config, dataset),
             parallel.make_mesh(), sampler, steps_per_epoch, global_batch, train_step,
             eval_step, checkpoints.Checkpointer(workdir, config.keep_checkpoints),
             reporting.MetricsLog(workdir), word_vectors)


def train_batch(run: Run, plan: triplets.EpochPlan, b: int) -> dict[str, jax.Array]:
  """The b-th batch of the epoch as a global [3 (or 1), B, ...] sharded array dict."""
  train = run.splits["train"]
  roles = (plan.anchors, plan.positives, plan.negatives) if run.config.loss.msml else (plan.anchors,)
  global_idx = [role[b] for role in roles]
  real = np.concatenate([i[i >= 0] for i in global_idx])
  longest = real[train.lengths[real].argmax()]
  length = batching.bucket_length(int(train.lengths[longest]), run.config.data.buckets,
                                  record=f"train record {longest} (id {train.ids[longest]})")
  rows = parallel.process_rows(batch_rows(run.config))
  parts = []
  for idx in global_idx:
    local = idx[rows]
    parts.append(batching.make_batch(train, local[local >= 0], rows.stop - rows.start, length,
                                     word_vectors=run.word_vectors.get("train")))
  return parallel.to_global(batching.stack(parts), run.mesh, example_axis=1)


def _pad_rows(batch: batching.Batch, rows: int) -> batching.Batch:
  """Pads the example axis with inert examples (weight 0, index -1) to `rows`."""
  n = len(batch["index"])
  if n == rows:
    return batch
  pad = batching.example_batch(batch["entity_mask"].shape[1], batch["mask"].shape[1],
                               batch["word_vectors"].shape[-1] if "word_vectors" in batch else 0)
  return batching.concatenate([batch] + [pad] * (rows - n))


def _eval_device_batches(run: Run, split, word_vectors) -> Iterator[tuple[np.ndarray, Any]]:
  """(record indices, global device batch) of every eval batch of `split`."""
  ndev = jax.device_count()
  for batch in batching.eval_batches(split, run.config, word_vectors=word_vectors):
    rows = -(-len(batch["index"]) // ndev) * ndev
    batch = _pad_rows(batch, rows)
    local = jax.tree.map(lambda v: v[parallel.process_rows(rows)], batch)
    yield batch["index"], parallel.to_global(local, run.mesh, 0)


def predict_split(run: Run, state, split, word_vectors: np.ndarray | None = None) -> np.ndarray:
  """Logits [N, C] for every record of `split`, in record order.

  One device pass: batches are built and transferred in the background, every eval step is
  dispatched without waiting, and the logits come back in one transfer at the end.
  """
  logits = np.zeros((len(split), len(run.dataset.label_names)), np.float32)
  indices, outputs = [], []
  with prefetch.Prefetcher(_eval_device_batches(run, split, word_vectors),
                           run.config.prefetch_batches) as batches:
    for index, batch in batches:
      indices.append(index)
      outputs.append(run.eval_step(state, batch))
      if len(outputs) > run.config.prefetch_batches:  # bound the work queued on the device
        outputs[-run.config.prefetch_batches - 1].block_until_ready()
  for index, out in zip(indices, parallel.to_host(outputs)):
    real = index >= 0
    logits[index[real]] = out[real]
  return logits


def evaluate_split(run: Run, state, name: str) -> tuple[dict[str, Any], np.ndarray]:
  split = run.splits[name]
  logits = predict_split(run, state, split, run.word_vectors.get(name))
  metrics = tasks.get(run.config).score(run.config, logits.argmax(-1), split.labels,
                                        run.dataset.label_names,
                                        cross_sentence=split.cross_sentence)
  return metrics, logits


def _softmax(logits: np.ndarray) -> np.ndarray:
  e = np.exp(logits - logits.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def write_test_predictions(run: Run, logits: np.ndarray) -> None:
  split = run.splits["test"]
  extra = tasks.get(run.config).prediction_extras(run.config, split)
  reporting.write_predictions(run.workdir / "predictions.jsonl", split.ids, split.labels,
                              _softmax(logits), run.dataset.label_names, extra)


def example_batch(run: Run) -> batching.Batch:
  """An all-padding batch of the smallest bucket: the shapes parameter initialisation needs."""
  vectors = run.word_vectors.get("train")
  width = np.shape(vectors)[-1] if vectors is not None else 0
  return batching.example_batch(run.dataset.num_entities, min(run.config.data.buckets), width)


def initial_state(run: Run):
  tx = steps.make_optimizer(run.config.optim, run.steps_per_epoch,
                            run.config.model.freeze_word_embeddings)
  return steps.create_train_state(run.model, example_batch(run), tx, run.config.seed,
                                  word_embeddings=run.dataset.embeddings,
                                  sharding=parallel.replicated(run.mesh),
                                  average=run.config.optim.ema_decay > 0)


class _Preemption:
  """SIGTERM (what a preemptible VM gets first) asks for a checkpoint at the next step.

  One process: a Python SIGTERM handler sets a flag. Several processes: JAX's preemption
  notifier (installed by jax.distributed) catches SIGTERM and Orbax's `reached_preemption`
  makes every host agree on the same step, so no Python handler is installed there.
  """

  def __init__(self, manager):
    self._manager = manager
    self._flag = False
    self._multi = jax.process_count() > 1
    self._previous = None if self._multi else signal.signal(signal.SIGTERM, self._handle)

  def _handle(self, signum, frame):
    del signum, frame
    logging.warning("SIGTERM received: checkpointing at the next step boundary, then exiting.")
    self._flag = True

  def requested(self, step: int) -> bool:
    if self._multi:
      return bool(self._manager.reached_preemption(step))
    return self._flag

  def restore(self):
    if self._previous is not None:
      signal.signal(signal.SIGTERM, self._previous)


@dataclasses.dataclass
class WallClock:
  """The run's wall time summed over its invocations: a resumed run continues its total.

  `before` is the total its checkpoint recorded, None when the checkpoint predates this record
  (the total is then unknown and results.json says so with None)."""
  before: float | None = 0.0
  start: float = dataclasses.field(default_factory=time.time)

  def elapsed(self) -> float:
    """Seconds of this invocation."""
    return time.time() - self.start

  def total(self) -> float | None:
    return None if self.before is None else self.before + self.elapsed()


def _loop_state(run: Run, epoch: int, batch: int, best: dict[str, Any],
                plateau: dict[str, Any], clock: WallClock) -> dict[str, Any]:
  """What the loop needs to resume: position, best-so-far, the config, the training-loss
  history of `optim.decay_rule="on_plateau"` (the previous epoch's mean and the current
  epoch's running sum, so that a run resumed mid-epoch decides on the same mean), and the
  wall time so far."""
  return {"epoch": epoch, "batch": batch, "best": best, "config": run.config.to_dict(),
          "plateau": plateau, "wall_seconds": clock.total()}


def _apply_plateau_rule(run: Run, state, epoch: int, plateau: dict[str, Any]):
  """End of 1-based `epoch`: AGGCN's decay decision; returns (state, new plateau record)."""
  if not plateau["count"]:
    return state, plateau
  mean = plateau["sum"] / plateau["count"]
  old = float(state.lr_scale)
  new = steps.plateau_lr_scale(run.config.optim, old, epoch, mean, plateau["previous"])
  if new != old:
    logging.info("Epoch %d: training loss %.4f rose from %.4f; lr x%g -> scale %.4g", epoch,
                 mean, plateau["previous"], run.config.optim.lr_decay, new)
    state = state.replace(lr_scale=jax.device_put(np.float32(new), state.lr_scale.sharding))
  return state, {"previous": mean, "sum": 0.0, "count": 0}


def _save(run: Run, state, tables, loop, best: bool = False) -> None:
  run.checkpointer.save(int(state.step), state, tables, loop, best=best)


def _selection_split(run: Run) -> str:
  return "dev" if "dev" in run.splits else "test"


def end_of_epoch(run: Run, state, epoch: int, tables: dict, best: dict,
                 plateau: dict[str, Any], clock: WallClock) -> tuple[dict, dict[str, Any]]:
  """Refreshes hard negatives, evaluates, saves; returns (best-so-far record, metrics).

  Hard negatives come from the trained parameters; the eval splits are scored with the
  moving average when the run keeps one (`optim.ema_decay`), and then also with the trained
  parameters, logged as `<split>_raw`, so one run measures what the average adds."""
  step = int(state.step)
  train_logits = predict_split(run, state, run.splits["train"], run.word_vectors.get("train"))
  tables["hard_negatives"] = triplets.hard_negative_classes(train_logits,
                                                            run.splits["train"].labels)
  results = {}
  for name in run.config.eval_splits:
    if name in run.splits:
      metrics, logits = evaluate_split(run, steps.averaged(state), name)
      run.log.write(step, epoch + 1, name, metrics)
      results[name] = (metrics, logits)
      if state.ema_params is not None:
        run.log.write(step, epoch + 1, f"{name}_raw", evaluate_split(run, state, name)[0])
  metric = tasks.get(run.config).selection_metric(run.config)
  sel = results.get(_selection_split(run))
  improved = sel is not None and sel[0][metric] > best.get("value", -np.inf)
  if improved:
    best = {"value": float(sel[0][metric]), "metric": metric, "step": step, "epoch": epoch + 1,
            "split": _selection_split(run),
            "metrics": {k: reporting.scalar_metrics(v[0]) for k, v in results.items()}}
  if "test" in results and (improved or "dev" not in run.splits):
    # With a dev split, test predictions come from the best-on-dev epoch; without one (SemEval,
    # as in the paper) from the latest epoch.
    write_test_predictions(run, results["test"][1])
  _save(run, state, tables, _loop_state(run, epoch + 1, 0, best, plateau, clock),
        best=improved)
  return best, {k: v[0] for k, v in results.items()}


@jax.jit
def _accumulate(sums: dict[str, jax.Array], metrics: dict[str, jax.Array]
                ) -> dict[str, jax.Array]:
  return jax.tree.map(jnp.add, sums, metrics)


class _MetricsWindow:
  """Training metrics summed on the device over the steps since the last fetch.

  The loop never waits for a step's metrics: it fetches the window every `log_every_steps`,
  before every checkpoint save and at the end of the epoch (one transfer each), and checks
  there that the loss stayed finite.
  """

  def __init__(self):
    self.sums, self.last, self.first_step, self.steps, self.losses = None, None, 0, 0, []

  def add(self, metrics: dict[str, jax.Array], step: int) -> None:
    if self.sums is None:
      self.sums, self.first_step = metrics, step
    else:
      self.sums = _accumulate(self.sums, metrics)
    self.last, self.steps = metrics, self.steps + 1
    self.losses.append(metrics["loss"])

  def fetch(self, run: Run) -> tuple[dict[str, float], int, list[float]]:
    """(mean metrics, steps, each step's loss) of the window, then empties it; raises
    DivergenceError. Per-step losses keep host sums independent of where windows end."""
    if not self.steps:
      return {}, 0, []
    sums, losses = parallel.to_host((self.sums, self.losses))
    means = {k: float(v) / self.steps for k, v in sums.items()}
    first, last = self.first_step, self.first_step + self.steps - 1
    steps = self.steps
    self.sums, self.steps, self.losses = None, 0, []
    if not np.isfinite(means["loss"]):
      window = f"step {first}" if first == last else f"steps {first}-{last}"
      raise DivergenceError(
          f"Loss became {means['loss']} in {window} (the loss is checked when metrics are "
          f"fetched, every log_every_steps): training stopped. The last good checkpoint is "
          f"kept in {run.checkpointer.latest.directory}; lower optim.learning_rate or "
          f"optim.max_grad_norm and run the same command to resume.")
    return means, steps, [float(l) for l in losses]


def _epoch_batches(run: Run, plan: triplets.EpochPlan, start: int
                   ) -> Iterator[tuple[int, dict[str, jax.Array]]]:
  for b in range(start, len(plan)):
    yield b, train_batch(run, plan, b)


def log_devices() -> None:
  """The backend, device kind and count, in the training log."""
  devices = jax.devices()
  logging.info("JAX backend %s: %d x %s (%d processes)", jax.default_backend(), len(devices),
               devices[0].device_kind, jax.process_count())


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Trains (resuming from `workdir` when it has a checkpoint), evaluates, writes results.

  Checks the config's values first and holds the workdir lock (`workdir.locked`) throughout.
  """
  config_base.check(config)
  with workdir_lib.locked(workdir):
    return _train_and_evaluate(config, workdir)


def _train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  run = setup(config, workdir)
  state = initial_state(run)
  tables = {"hard_negatives": np.full(len(run.splits["train"]), -1, np.int32)}
  start_epoch, start_batch, best = 0, 0, {}
  plateau = {"previous": None, "sum": 0.0, "count": 0}
  clock = WallClock()
  restored = run.checkpointer.restore_latest(state, tables, config)
  if restored is not None:
    state, tables, loop = restored
    tables = {k: np.asarray(v) for k, v in tables.items()}
    start_epoch, start_batch, best = loop["epoch"], loop["batch"], loop["best"]
    plateau = dict(loop.get("plateau") or plateau)
    clock.before = loop.get("wall_seconds")
  preemption = _Preemption(run.checkpointer.latest)
  last_metrics, final = {}, {}
  step = int(state.step)  # counted on the host from here: no per-step wait for the device
  try:
    for epoch in range(start_epoch, config.num_epochs):
      hard = tables["hard_negatives"] if config.loss.hard_negatives else None
      if hard is not None and (hard < 0).all():
        hard = None  # before the first refresh: random other class
      plan = epoch_plan(run, epoch, hard)
      bar = tqdm(total=len(plan) - start_batch, desc=f"epoch {epoch + 1}/{config.num_epochs}",
                 disable=jax.process_index() != 0, leave=False, dynamic_ncols=True)
      t_epoch, samples, sums, count = time.time(), 0, {}, 0
      window, in_flight = _MetricsWindow(), []

      def fetch():
        nonlocal count
        means, n, step_losses = window.fetch(run)
        for k, v in means.items():
          sums[k] = sums.get(k, 0.0) + v * n
        count += n
        for loss in step_losses:  # step by step, as the plateau rule's sum always was
          plateau["sum"], plateau["count"] = plateau["sum"] + loss, plateau["count"] + 1
        if means:
          bar.set_postfix(loss=f"{means['loss']:.3f}",
                          samples_per_s=f"{samples / max(time.time() - t_epoch, 1e-9):.0f}")
        return means

      with prefetch.Prefetcher(_epoch_batches(run, plan, start_batch),
                               config.prefetch_batches) as batches:
        for b, batch in batches:
          state, metrics = run.train_step(state, batch)
          step += 1
          window.add(metrics, step)
          samples += int(np.prod(batch["weight"].shape))
          bar.update(1)
          in_flight.append(metrics["loss"])
          if len(in_flight) > config.prefetch_batches:  # bound the work queued on the device
            in_flight.pop(0).block_until_ready()
          preempted = preemption.requested(step)
          save = b + 1 < len(plan) and (preempted or (
              config.checkpoint_every_steps and step % config.checkpoint_every_steps == 0))
          if step % config.log_every_steps == 0:
            run.log.write(step, epoch + 1, "train", fetch())
          elif save:
            fetch()  # never save a state whose loss was not checked
          if save:
            _save(run, state, tables, _loop_state(run, epoch, b + 1, best, plateau, clock))
            if preempted:
              logging.warning("Checkpoint saved at step %d after SIGTERM; exiting.", step)
              return {"preempted": True, "step": step}
      fetch()
      bar.close()
      start_batch = 0
      if count:  # the mean over the steps this process ran in the epoch
        last_metrics = {k: float(v) for k, v in parallel.to_host(window.last).items()}
        epoch_means = {k: v / count for k, v in sums.items()}
        epoch_means["epoch_seconds"] = time.time() - t_epoch  # the training loop's part
        epoch_means["samples_per_s"] = samples / max(epoch_means["epoch_seconds"], 1e-9)
        rate = steps.make_schedule(config.optim, run.steps_per_epoch)(step - 1)
        epoch_means["learning_rate"] = float(rate * state.lr_scale)
        run.log.write(step, epoch + 1, "train_epoch", epoch_means)
      state, plateau = _apply_plateau_rule(run, state, epoch + 1, plateau)
      best, final = end_of_epoch(run, state, epoch, tables, best, plateau, clock)
      if preemption.requested(step):
        logging.warning("Checkpoint saved at step %d after SIGTERM; exiting.", step)
        return {"preempted": True, "step": step}
    if restored is not None and start_epoch >= config.num_epochs:
      final = {name: evaluate_split(run, steps.averaged(state), name)[0]
               for name in config.eval_splits if name in run.splits}
  finally:
    preemption.restore()
    run.checkpointer.close()
    run.log.close()
  results = {"task": config.data.task, "steps": int(state.step),
             "epochs": config.num_epochs,
             # this invocation's seconds, and the run's over all its invocations (resumes)
             "wall_seconds": clock.elapsed(), "total_wall_seconds": clock.total(),
             "final": {k: reporting.scalar_metrics(v) for k, v in final.items()},
             "best": best, "last_train_metrics": last_metrics, "config": config.to_dict(),
             "environment": reporting.environment()}
  if "test" in final and "confusion_text" in final["test"]:
    results["test_confusion"] = final["test"]["confusion_text"]
  reporting.write_json(run.workdir / "results.json", results)
  return results
