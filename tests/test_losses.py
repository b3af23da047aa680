"""Tests of the training losses (eq. 11-16) on hand-computed vectors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from msfml_jax import config_base
from msfml_jax import losses


def test_relation_triplet_loss_hand_computed():
  z = jnp.zeros((3, 2))
  z_pos = jnp.array([[1.0, 0.0], [1.0, 0.0], [0.0, 3.0]])    # d^2 = 1, 1, 9
  z_neg = jnp.array([[0.0, 1.0], [0.0, 2.0], [1.0, 1.0]])    # d^2 = 1, 4, 2
  # max(1 - 1 + 1, 0) = 1; max(1 - 4 + 1, 0) = 0 (the hinge); max(9 - 2 + 1, 0) = 8.
  np.testing.assert_allclose(losses.relation_triplet_loss(z, z_pos, z_neg, 1.0), [1, 0, 8])
  np.testing.assert_allclose(losses.relation_triplet_loss(z, z_pos, z_neg, 0.5), [0.5, 0, 7.5])
  np.testing.assert_allclose(
      losses.relation_triplet_loss(z, z_pos, z_neg, 1.0, weight=jnp.array([1.0, 1.0, 0.0])),
      [1, 0, 0])


def test_feature_triplet_loss_hand_computed():
  x = jnp.array([[0.0, 0.0], [0.0, 0.0]])
  y = jnp.array([[1.0, 1.0], [0.0, 0.0]])                     # d(x, y)^2 = 2, 0
  y_pos = jnp.array([[2.0, 0.0], [0.0, 0.5]])                 # 4, 0.25
  y_neg = jnp.array([[0.0, 1.0], [3.0, 0.0]])                 # 1, 9
  # Row 0: max(2 - 4 + 1, 0) + max(2 - 1 + 1, 0) = 0 + 2.
  # Row 1: max(0 - 0.25 + 1, 0) + max(0 - 9 + 1, 0) = 0.75 + 0.
  np.testing.assert_allclose(losses.feature_triplet_loss(x, y, y_pos, y_neg, 1.0), [2.0, 0.75])
  np.testing.assert_allclose(
      losses.feature_triplet_loss(x, y, y_pos, y_neg, 1.0, weight=jnp.array([0.0, 1.0])),
      [0.0, 0.75])


def test_cross_entropy():
  logits = jnp.array([[0.0, 0.0], [np.log(3.0), 0.0]])
  np.testing.assert_allclose(losses.cross_entropy(logits, jnp.array([1, 0])),
                             [np.log(2.0), -np.log(0.75)], rtol=1e-6)


def _triplet_outputs(b: int = 2, d: int = 3, c: int = 4, seed: int = 0):
  rng = np.random.default_rng(seed)
  out = {k: jnp.asarray(rng.normal(size=(3 * b, d)), jnp.float32) for k in ("z", "x", "y")}
  out["logits"] = jnp.asarray(rng.normal(size=(3 * b, c)), jnp.float32)
  labels = jnp.asarray(rng.integers(0, c, 3 * b), jnp.int32)
  return out, labels


def _reference(out, labels, weights, cfg, has_features, no_triplets_for=None):
  """total_loss written out example by example with numpy; anchors labelled
  `no_triplets_for` get cross-entropy only."""
  out = {k: np.asarray(v, np.float64) for k, v in out.items()}
  labels, weights = np.asarray(labels), np.asarray(weights)
  if cfg.normalize_embeddings:
    for k in ("z", "x", "y"):
      out[k] = out[k] / np.maximum(np.linalg.norm(out[k], axis=-1, keepdims=True), 1e-12)
  b = len(labels) // 3
  logp = out["logits"] - np.log(np.exp(out["logits"]).sum(-1, keepdims=True))
  ce = -logp[np.arange(3 * b), labels]
  sq = lambda u, v: ((u - v) ** 2).sum()
  total = rel_sum = rep_sum = 0.0
  for i in range(b):
    a, p, n = i, i + b, i + 2 * b
    if not weights[a] or labels[a] == no_triplets_for:
      continue
    rel = max(sq(out["z"][a], out["z"][p]) - sq(out["z"][a], out["z"][n]) + cfg.margin_rel, 0)
    rep = 0.0
    if has_features:
      own = sq(out["x"][a], out["y"][a])
      rep = (max(own - sq(out["x"][a], out["y"][p]) + cfg.margin_rep, 0)
             + max(own - sq(out["x"][a], out["y"][n]) + cfg.margin_rep, 0))
    rel_sum += rel
    rep_sum += rep
  num = weights[:b].sum()
  ce_mean = (ce[:b] * weights[:b]).sum() / num
  total = ce_mean + cfg.alpha * rel_sum / num + cfg.beta * rep_sum / num
  return total, ce_mean, rel_sum / num, rep_sum / num


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("has_features", [True, False])
def test_total_loss_matches_reference(has_features, normalize):
  cfg = config_base.loss_config()
  cfg.alpha, cfg.beta = 0.5, 0.25
  cfg.normalize_embeddings = normalize
  out, labels = _triplet_outputs(b=3)
  weights = jnp.array([1.0, 0.0, 1.0] * 3)      # the second anchor is batch padding
  loss, metrics = losses.total_loss(out, labels, weights, cfg, has_features)
  total, ce, rel, rep = _reference(out, labels, weights, cfg, has_features)
  np.testing.assert_allclose(loss, total, rtol=1e-5)
  np.testing.assert_allclose(metrics["ce"], ce, rtol=1e-5)
  np.testing.assert_allclose(metrics["rel"], rel, rtol=1e-5)
  np.testing.assert_allclose(metrics["rep"], rep, rtol=1e-5)
  assert set(metrics) == {"loss", "ce", "rel", "rep", "pooled_l2", "accuracy"}
  pred = np.asarray(out["logits"]).argmax(-1)[[0, 2]]
  np.testing.assert_allclose(metrics["accuracy"], np.mean(pred == np.asarray(labels)[[0, 2]]))


def test_negative_anchors_get_cross_entropy_only():
  """loss.negative_anchor_triplets=False: anchors of the negative label have no triplet terms,
  the rest keep theirs, averaged over every real anchor as before."""
  cfg = config_base.loss_config()
  cfg.alpha, cfg.beta = 0.5, 0.25
  out, labels = _triplet_outputs(b=4, seed=3)
  labels = labels.at[:4].set(jnp.array([0, 2, 0, 1]))   # anchors 0 and 2 are negatives
  weights = jnp.ones(12)
  kept, kept_metrics = losses.total_loss(out, labels, weights, cfg, True)
  cfg.negative_anchor_triplets = False
  loss, metrics = losses.total_loss(out, labels, weights, cfg, True, negative_label=0)
  total, ce, rel, rep = _reference(out, labels, weights, cfg, True, no_triplets_for=0)
  np.testing.assert_allclose([loss, metrics["ce"], metrics["rel"], metrics["rep"]],
                             [total, ce, rel, rep], rtol=1e-5)
  assert metrics["ce"] == kept_metrics["ce"] and metrics["rel"] < kept_metrics["rel"]
  # Negative records still serve as S- (the negative block's labels play no part).
  _, swapped = losses.total_loss(out, labels.at[8:].set(0), weights, cfg, True,
                                 negative_label=0)
  np.testing.assert_allclose(swapped["rel"], metrics["rel"], rtol=1e-6)
  with pytest.raises(ValueError, match="negative label"):
    losses.total_loss(out, labels, weights, cfg, True)


def test_total_loss_without_msml_is_cross_entropy():
  cfg = config_base.loss_config()
  cfg.msml = False
  out, labels = _triplet_outputs(b=2)
  out = {k: v[:3] for k, v in out.items()}        # a plain (non-triplet) batch of 3
  labels, weights = labels[:3], jnp.array([1.0, 1.0, 0.0])
  loss, metrics = losses.total_loss(out, labels, weights, cfg, True)
  ce = losses.cross_entropy(out["logits"], labels)
  np.testing.assert_allclose(loss, (ce[0] + ce[1]) / 2, rtol=1e-6)
  assert metrics["rel"] == 0 and metrics["rep"] == 0 and metrics["ce"] == loss


@pytest.mark.parametrize("msml", [True, False])
def test_pooled_l2_is_aggcns_pooling_penalty(msml):
  """loss.pooled_l2 adds coef * mean over real samples of ||pooled||^2 (AGGCN pooling_l2)."""
  cfg = config_base.loss_config()
  cfg.msml = msml
  out, labels = _triplet_outputs(b=2)
  pooled = jax.random.normal(jax.random.key(5), (6, 4))
  out = dict(out, pooled=pooled)
  weights = jnp.array([1.0, 0.0, 1.0, 1.0, 1.0, 0.0])
  base, _ = losses.total_loss(out, labels, weights, cfg, True)
  cfg.pooled_l2 = 0.002
  loss, metrics = losses.total_loss(out, labels, weights, cfg, True)
  sq = np.asarray(pooled) ** 2
  expected = sq.sum(1)[[0, 2, 3, 4]].mean()
  np.testing.assert_allclose(metrics["pooled_l2"], expected, rtol=1e-5)
  np.testing.assert_allclose(loss - base, 0.002 * expected, rtol=1e-4)


def test_total_loss_ce_on_all_and_normalized():
  cfg = config_base.loss_config()
  cfg.ce_on = "all"
  cfg.alpha = cfg.beta = 0.0
  out, labels = _triplet_outputs(b=2)
  loss, _ = losses.total_loss(out, labels, jnp.ones(6), cfg, True)
  np.testing.assert_allclose(loss, losses.cross_entropy(out["logits"], labels).mean(),
                             rtol=1e-6)
  # Normalised embeddings: scaling z does not change the relation loss.
  cfg.ce_on, cfg.alpha, cfg.normalize_embeddings = "anchor", 1.0, True
  _, m1 = losses.total_loss(out, labels, jnp.ones(6), cfg, True)
  _, m2 = losses.total_loss(dict(out, z=out["z"] * 7.0), labels, jnp.ones(6), cfg, True)
  np.testing.assert_allclose(m1["rel"], m2["rel"], rtol=1e-5)
  assert float(m1["rel"]) <= 4.0 + cfg.margin_rel       # distances of unit vectors are <= 2


def test_total_loss_gradients_finite():
  cfg = config_base.loss_config()
  cfg.normalize_embeddings = True
  out, labels = _triplet_outputs(b=2)
  out["x"] = jnp.zeros_like(out["x"])             # zero vectors (a component switched off)
  weights = jnp.array([1.0, 0.0] * 3)
  grads = jax.grad(lambda o: losses.total_loss(o, labels, weights, cfg, True)[0])(out)
  assert all(np.all(np.isfinite(g)) for g in jax.tree_util.tree_leaves(grads))
  # Padding anchors (and their positives / negatives) receive no gradient.
  assert not np.any(grads["logits"][1]) and not np.any(np.asarray(grads["z"])[[1, 3, 5]])


def test_feature_centering_subtracts_the_real_samples_mean_and_blocks_shared_shifts():
  """loss.feature_centering=batch: the feature loss on x, y minus their mean over real samples
  (hand-computed through the numpy reference), blind to a shift every sample shares."""
  cfg = config_base.loss_config()
  cfg.alpha, cfg.beta, cfg.feature_centering = 0.0, 1.0, "batch"
  out, labels = _triplet_outputs(b=3, seed=3)
  weights = jnp.array([1.0, 0.0, 1.0] * 3)
  _, metrics = losses.total_loss(out, labels, weights, cfg, True)
  w = np.asarray(weights)[:, None]
  centred = {k: np.asarray(v) for k, v in out.items()}
  for k in ("x", "y"):
    centred[k] = centred[k] - (centred[k] * w).sum(0) / w.sum()
  _, _, _, rep = _reference(centred, labels, weights, cfg, True)
  np.testing.assert_allclose(metrics["rep"], rep, rtol=1e-5)
  # A shift shared by every sample (a unit's bias) changes neither the loss nor, therefore,
  # gets a gradient from it; padding rows do not enter the mean.
  shift = jnp.array([0.0, -2.0, 3.0])
  padded = dict(out, x=out["x"].at[1].set(100.0))
  for shifted in (dict(out, x=out["x"] + shift, y=out["y"] - shift), padded):
    _, m = losses.total_loss(shifted, labels, weights, cfg, True)
    np.testing.assert_allclose(m["rep"], metrics["rep"], rtol=1e-5)
  grad = jax.grad(lambda s: losses.total_loss(dict(out, x=out["x"] + s), labels, weights,
                                              cfg, True)[0])(jnp.zeros(3))
  np.testing.assert_allclose(grad, 0.0, atol=1e-6)
  cfg.feature_centering = "none"
  _, plain = losses.total_loss(out, labels, weights, cfg, True)
  assert abs(float(plain["rep"]) - float(metrics["rep"])) > 1e-3
