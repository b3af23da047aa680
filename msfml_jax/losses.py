"""Training losses (paper eq. 11-16): cross-entropy plus multi-scale metric learning.

Distances are squared Euclidean. The per-example functions return [B]; `total_loss` masks
them with the example weights and averages over real anchors. L2 regularisation (lambda in
eq. 16) is either the optimizer's weight decay (`optim.weight_decay`) or, as in AGGCN whose
settings the paper follows, a penalty on the pooled sentence representation
(`loss.pooled_l2`, `pooled_l2_penalty` here).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import optax


def squared_distance(a: jax.Array, b: jax.Array) -> jax.Array:
  """d(a, b)^2 over the last axis."""
  return jnp.sum(jnp.square(a - b), axis=-1)


def l2_normalize(v: jax.Array, eps: float = 1e-12) -> jax.Array:
  """v / ||v|| over the last axis (zero vectors stay zero)."""
  return v * jax.lax.rsqrt(jnp.maximum(jnp.sum(jnp.square(v), -1, keepdims=True), eps))


def relation_triplet_loss(z: jax.Array, z_pos: jax.Array, z_neg: jax.Array, margin: float,
                          weight: jax.Array | None = None) -> jax.Array:
  """max(d(z, z+)^2 - d(z, z-)^2 + m1, 0) per example (eq. 11), times `weight` if given."""
  loss = jax.nn.relu(squared_distance(z, z_pos) - squared_distance(z, z_neg) + margin)
  return loss if weight is None else loss * weight


def feature_triplet_loss(x: jax.Array, y: jax.Array, y_pos: jax.Array, y_neg: jax.Array,
                         margin: float, weight: jax.Array | None = None) -> jax.Array:
  """loss_1^rep + loss_2^rep per example (eq. 12-14), times `weight` if given.

  The lexical feature x of a sentence must be closer to its own syntactic feature y than to
  the y+ of the positive and the y- of the negative sample.
  """
  d_own = squared_distance(x, y)
  loss = (jax.nn.relu(d_own - squared_distance(x, y_pos) + margin)
          + jax.nn.relu(d_own - squared_distance(x, y_neg) + margin))
  return loss if weight is None else loss * weight


def center(v: jax.Array, weights: jax.Array) -> jax.Array:
  """v minus its mean over the rows whose weight is 1 (the batch's real samples)."""
  mean = (v * weights[:, None]).sum(0) / jnp.maximum(weights.sum(), 1.0)
  return v - mean


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Softmax cross-entropy per example (eq. 15)."""
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels)


def _weighted_mean(values: jax.Array, weights: jax.Array) -> jax.Array:
  return (values * weights).sum() / jnp.maximum(weights.sum(), 1.0)


def pooled_l2_penalty(pooled: jax.Array, weights: jax.Array) -> jax.Array:
  """AGGCN's `pooling_l2` term without its coefficient: mean over real samples of
  ||maxpool(h)||^2 (Cartus/AGGCN `trainer.py`: `(pooling_output ** 2).sum(1).mean()`)."""
  return _weighted_mean(jnp.sum(jnp.square(pooled), -1), weights)


def total_loss(outputs: dict[str, jax.Array], labels: jax.Array, weights: jax.Array,
               loss_config: ml_collections.ConfigDict,
               has_features: bool = True,
               negative_label: int | None = None) -> tuple[jax.Array, dict[str, Any]]:
  """Eq. 16 (without lambda): CE + alpha * rel + beta * rep, averaged over real anchors.

  Args:
    outputs: the model's output dict over a flattened triplet batch: [3B, ...] in the order
      anchor block, positive block, negative block. With `loss_config.msml` False the batch is
      not a triplet batch: every example is an anchor and the loss is the cross-entropy.
    labels: [3B] (or [B]) label ids.
    weights: [3B] (or [B]) 1 for real examples, 0 for batch padding.
    loss_config: config.loss (msml, alpha, beta, margin_rel, margin_rep,
      normalize_embeddings, ce_on, negative_anchor_triplets, feature_centering).
    has_features: both x and y exist (MSCNN and MSGCN on); else the feature loss is 0.
    negative_label: the task's negative label id; with `loss_config.negative_anchor_triplets`
      False, triplets whose anchor has it get no relation or feature term (still averaged
      over every real anchor, so the other anchors' terms keep their weight).

  Returns:
    (loss, metrics) with metrics loss, ce, rel, rep, pooled_l2 (the penalty before its
    coefficient `loss_config.pooled_l2`, over every real sample), accuracy (on anchors).
  """
  logits = outputs["logits"]
  weights = weights.astype(logits.dtype)
  correct = (logits.argmax(-1) == labels).astype(logits.dtype)
  ce_all = cross_entropy(logits, labels)
  zero = jnp.zeros((), logits.dtype)
  pooled = pooled_l2_penalty(outputs["pooled"], weights) if "pooled" in outputs else zero
  penalty = loss_config.pooled_l2 * pooled

  if not loss_config.msml:
    ce = _weighted_mean(ce_all, weights)
    return ce + penalty, {"loss": ce + penalty, "ce": ce, "rel": zero, "rep": zero,
                          "pooled_l2": pooled, "accuracy": _weighted_mean(correct, weights)}

  n = logits.shape[0]
  if n % 3:
    raise ValueError(f"a triplet batch needs 3B examples, got {n}")
  split = lambda v: v.reshape((3, n // 3) + v.shape[1:])
  w_a, w_p, w_n = split(weights)
  # A triplet term counts only when all three of its samples are real.
  w_triplet = w_a * w_p * w_n
  if not loss_config.get("negative_anchor_triplets", True):
    if negative_label is None:
      raise ValueError("loss.negative_anchor_triplets=False needs the task's negative label")
    w_triplet = w_triplet * (split(labels)[0] != negative_label).astype(w_triplet.dtype)

  if loss_config.ce_on == "anchor":
    ce = _weighted_mean(split(ce_all)[0], w_a)
  elif loss_config.ce_on == "all":
    # Mean over every real sample, so that alpha and beta keep their weight relative to CE.
    ce = _weighted_mean(ce_all, weights)
  else:
    raise ValueError(f"unknown loss.ce_on {loss_config.ce_on!r}")

  norm = l2_normalize if loss_config.normalize_embeddings else (lambda v: v)
  z, z_pos, z_neg = split(norm(outputs["z"]))
  rel = relation_triplet_loss(z, z_pos, z_neg, loss_config.margin_rel, w_triplet)
  rel = rel.sum() / jnp.maximum(w_a.sum(), 1.0)
  if has_features:
    x_all, y_all = outputs["x"], outputs["y"]
    if loss_config.feature_centering == "batch":
      x_all, y_all = center(x_all, weights), center(y_all, weights)
    x = split(norm(x_all))[0]
    y, y_pos, y_neg = split(norm(y_all))
    rep = feature_triplet_loss(x, y, y_pos, y_neg, loss_config.margin_rep, w_triplet)
    rep = rep.sum() / jnp.maximum(w_a.sum(), 1.0)
  else:
    rep = zero

  loss = ce + loss_config.alpha * rel + loss_config.beta * rep + penalty
  accuracy = _weighted_mean(split(correct)[0], w_a)
  return loss, {"loss": loss, "ce": ce, "rel": rel, "rep": rep, "pooled_l2": pooled,
                "accuracy": accuracy}
