"""Train state, optimizer and the jit-compiled train/eval steps (no Python side effects)."""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax
from flax import traverse_util
from flax.training import train_state

from msfml_jax import losses
from msfml_jax.models import msfml


class TrainState(train_state.TrainState):
  """Flax TrainState plus the dropout key (dropout of step s uses fold_in(key, s)), the
  learning-rate factor of `optim.decay_rule="on_plateau"` (1.0 otherwise), which depends on
  the training history and so is checkpointed with the parameters, and the moving average of
  the parameters (`optim.ema_decay` > 0; None, an empty subtree, otherwise)."""
  dropout_key: jax.Array
  lr_scale: jax.Array
  ema_params: Any = None


def averaged(state: TrainState) -> TrainState:
  """The state whose `params` are what evaluation and prediction use: the moving average
  when the run keeps one, else the trained parameters."""
  return state if state.ema_params is None else state.replace(params=state.ema_params)


def update_average(average: Any, params: Any, step: jax.Array, decay: float,
                   start_step: int | None = None) -> Any:
  """One Polyak-averaging step with TF ExponentialMovingAverage's warm-up: the decay is
  min(decay, (1 + step) / (10 + step)), so early averages are not dominated by the
  initialisation (at decay 0.999 the initial parameters would weigh 0.85 after 160 steps).
  With a `start_step`, from that step on the decay is n / (n + 1) at the n-th step since
  it (n = 0 restarts the average at `params`): the uniform mean of every step's parameters
  from `start_step` (tail averaging), a function of the step alone so resume is exact."""
  rate = jnp.minimum(decay, (1.0 + step) / (10.0 + step))
  if start_step is not None:
    since = (step - start_step).astype(jnp.float32)
    rate = jnp.where(since >= 0, since / (since + 1.0), rate)
  return optax.incremental_update(params, average, step_size=1.0 - rate)


def make_schedule(optim: ml_collections.ConfigDict, steps_per_epoch: int) -> optax.Schedule:
  """`per_epoch`: x lr_decay at the end of every epoch after `decay_epoch` (1-based, as in
  AGGCN/C-GCN: epochs 1..decay_epoch+1 train at the full rate); a function of the step alone,
  so a resumed run gets the same rates. `on_plateau`: the constant rate, which
  `TrainState.lr_scale` multiplies (see `plateau_lr_scale`). Either is multiplied by a linear
  warm-up over the first `optim.warmup_epochs` epochs (0 = none), which leaves the decay's
  epochs where they are."""
  schedule = _decay_schedule(optim, steps_per_epoch)
  warmup_steps = optim.get("warmup_epochs", 0.0) * steps_per_epoch
  if warmup_steps <= 0:
    return schedule
  return lambda step: schedule(step) * jnp.minimum(1.0, (step + 1.0) / warmup_steps)


def _decay_schedule(optim: ml_collections.ConfigDict, steps_per_epoch: int) -> optax.Schedule:
  if optim.decay_rule == "on_plateau":
    return optax.constant_schedule(optim.learning_rate)
  if optim.decay_rule != "per_epoch":
    raise ValueError(f"unknown optim.decay_rule {optim.decay_rule!r} (per_epoch | on_plateau)")
  return optax.exponential_decay(
      init_value=optim.learning_rate,
      transition_steps=steps_per_epoch,
      decay_rate=optim.lr_decay,
      transition_begin=max(0, optim.decay_epoch) * steps_per_epoch,
      staircase=True,
      end_value=optim.get("min_learning_rate", 0.0) or None)  # the floor


def _decay_mask(decay_word_embeddings: bool):
  """Every parameter decays, except the word table when `decay_word_embeddings` is False (a
  frozen table must keep its GloVe values; the rows of words seen only at test time get no
  gradient, so decay would only shrink them)."""
  def mask(params):
    flat = traverse_util.flatten_dict(params)
    return traverse_util.unflatten_dict(
        {k: decay_word_embeddings or "word_embed" not in k for k in flat})
  return mask


def plateau_lr_scale(optim: ml_collections.ConfigDict, lr_scale: float, epoch: int,
                     train_loss: float, previous_loss: float | None) -> float:
  """AGGCN's rule (Cartus/AGGCN `semeval/train.py`): after 1-based `epoch` > decay_epoch, an
  epoch whose mean training loss rose by more than 0.001 multiplies the rate by lr_decay,
  down to the floor `optim.min_learning_rate`."""
  if (optim.decay_rule == "on_plateau" and epoch > optim.decay_epoch
      and previous_loss is not None and train_loss - previous_loss > 0.001):
    floor = optim.get("min_learning_rate", 0.0) / optim.learning_rate
    return max(lr_scale * optim.lr_decay, min(floor, lr_scale))
  return lr_scale


def _scale_branches(inner: optax.GradientTransformation,
                    scales: dict[str, float]) -> optax.GradientTransformation:
  """Multiplies the updates of the named top-level modules (`msgcn`, `cnn`, ...) by a scale.

  Wraps `inner` instead of chaining a masked transform, so the optimizer state has the same
  structure for every scale: a run can change the scale and resume from its checkpoints.
  """
  def update(updates, state, params=None):
    updates, state = inner.update(updates, state, params)
    scaled = {k: jax.tree.map(lambda u, s=scales[k]: u * s, v) if k in scales else v
              for k, v in updates.items()}
    if not isinstance(updates, dict):  # e.g. a FrozenDict
      scaled = type(updates)(scaled)
    return scaled, state
  return optax.GradientTransformation(inner.init, update)


def make_optimizer(optim: ml_collections.ConfigDict, steps_per_epoch: int,
                   freeze_word_embeddings: bool = False) -> optax.GradientTransformation:
  """SGD with weight decay (the paper's L2 term, lambda) and gradient clipping.

  `optim.msgcn_lr_scale` / `optim.mscnn_lr_scale` != 1 scale the graph / lexical branch's
  updates: their ReLU units die at learning rates the rest of the model trains well with
  (docs/results.md).
  """
  tx = optax.chain(
      optax.clip_by_global_norm(optim.max_grad_norm),
      optax.add_decayed_weights(optim.weight_decay, mask=_decay_mask(
          optim.get("decay_word_embeddings", True) and not freeze_word_embeddings)),
      optax.sgd(make_schedule(optim, steps_per_epoch), momentum=optim.momentum or None))
  scales = {name: scale for names, scale in ((("msgcn", "gcn"), optim.msgcn_lr_scale),
                                             (("mscnn", "cnn"), optim.mscnn_lr_scale))
            for name in names if scale != 1.0}
  return _scale_branches(tx, scales) if scales else tx


def create_train_state(model: nn.Module, example_batch: dict[str, Any],
                       tx: optax.GradientTransformation, seed: int,
                       word_embeddings: Any = None, sharding: Any = None,
                       average: bool = False) -> TrainState:
  """Initialises parameters (`msfml.init_params`, pretrained word vectors written in), the
  optimizer state and, with `average`, the parameters' moving average in one jitted program,
  placed with `sharding` (e.g. replicated)."""
  def create(batch, matrix):
    init_key, dropout_key = jax.random.split(jax.random.key(seed))
    params = msfml.init_variables(model, batch, init_key, matrix)
    return TrainState.create(apply_fn=model.apply, params=params, tx=tx,
                             dropout_key=jax.random.key_data(dropout_key),
                             lr_scale=jnp.ones((), jnp.float32),
                             ema_params=jax.tree.map(jnp.copy, params) if average else None)

  return jax.jit(create, out_shardings=sharding)(example_batch, word_embeddings)


def _flatten_triplet(batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
  """[3, B, ...] -> [3B, ...]: one forward pass over anchors, positives and negatives."""
  return jax.tree.map(lambda v: v.reshape((-1,) + v.shape[2:]), batch)


def _dead_features(outputs: dict[str, jax.Array], weight: jax.Array) -> dict[str, jax.Array]:
  """Fraction of pooled MSCNN (x) / MSGCN (y) features that are not positive on real examples:
  exactly 0 for ReLU units, and the same test (no token fires) for leaky or GELU units
  (model.branch_unit), whose max-pool is then negative or 0.

  A branch whose ReLU units have all died reads 1.0 here: the model then runs without it.
  """
  real = weight[:, None] > 0
  denom = jnp.maximum(real.sum() * outputs["x"].shape[-1], 1)
  return {f"{k}_dead": ((outputs[k] <= 0) & real).sum() / denom for k in ("x", "y")}


def compute_params(params: Any, dtype: str = "float32") -> Any:
  """The parameters in the compute dtype (`model.dtype`): float32 master weights stay as they
  are; with bfloat16 the activations and matmuls run in bfloat16 while gradients, optimizer
  state and losses stay float32 (the model returns float32 outputs)."""
  if dtype == "float32":
    return params
  if dtype != "bfloat16":
    raise ValueError(f"unknown model.dtype {dtype!r} (float32 | bfloat16)")
  return jax.tree.map(lambda p: p.astype(jnp.bfloat16)
                      if jnp.issubdtype(p.dtype, jnp.floating) else p, params)


def train_step(state: TrainState, batch: dict[str, jax.Array], *,
               loss_config: ml_collections.ConfigDict,
               has_features: bool,
               compute_dtype: str = "float32",
               ema_decay: float = 0.0,
               average_start_step: int | None = None,
               negative_label: int | None = None) -> tuple[TrainState, dict[str, jax.Array]]:
  """One SGD step over a stacked triplet batch [3, B, ...] (or [1, B, ...] without MSML),
  then the average's step when the state keeps one (`ema_decay`, `average_start_step`:
  see `update_average`). `negative_label`: the task's negative label id (losses.total_loss)."""
  flat = _flatten_triplet(batch)
  key = jax.random.fold_in(jax.random.wrap_key_data(state.dropout_key), state.step)

  def loss_fn(params):
    outputs = state.apply_fn({"params": compute_params(params, compute_dtype)}, flat,
                             train=True, rngs={"dropout": key})
    loss, metrics = losses.total_loss(outputs, flat["label"], flat["weight"], loss_config,
                                      has_features, negative_label)
    return loss, {**metrics, **_dead_features(outputs, flat["weight"])}

  (_, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  metrics["grad_norm"] = optax.tree.norm(grads)
  # SGD's update is linear in the rate, so scaling it is scaling the rate (on_plateau).
  updates, opt_state = state.tx.update(grads, state.opt_state, state.params)
  updates = jax.tree.map(lambda u: u * state.lr_scale.astype(u.dtype), updates)
  params = optax.apply_updates(state.params, updates)
  average = state.ema_params
  if average is not None:
    average = update_average(average, params, state.step, ema_decay, average_start_step)
  new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state,
                            ema_params=average)
  return new_state, metrics


def eval_step(state: TrainState, batch: dict[str, jax.Array],
              compute_dtype: str = "float32") -> jax.Array:
  """Logits (float32) for one evaluation batch [B, ...]."""
  return state.apply_fn({"params": compute_params(state.params, compute_dtype)}, batch,
                        train=False)["logits"]


def jit_steps(loss_config: ml_collections.ConfigDict, has_features: bool,
              compute_dtype: str = "float32", ema_decay: float = 0.0,
              average_start_step: int | None = None, negative_label: int | None = None):
  """The jitted (train_step, eval_step) pair; the train step donates the old state."""
  train = jax.jit(functools.partial(train_step, loss_config=loss_config,
                                    has_features=has_features, compute_dtype=compute_dtype,
                                    ema_decay=ema_decay,
                                    average_start_step=average_start_step,
                                    negative_label=negative_label),
                  donate_argnums=0)
  return train, jax.jit(functools.partial(eval_step, compute_dtype=compute_dtype))
