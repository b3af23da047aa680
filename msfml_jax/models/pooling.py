"""Pooling over the real tokens of padded [..., L, D] features (mask [..., L])."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def masked_max(h: jax.Array, mask: jax.Array) -> jax.Array:
  """Max over axis -2 of h [..., L, D] where mask [..., L]; zeros where no token is real."""
  pooled = jnp.where(mask[..., None], h, -jnp.inf).max(axis=-2)
  return jnp.where(mask.any(-1)[..., None], pooled, 0.0)


def masked_mean(h: jax.Array, mask: jax.Array) -> jax.Array:
  """Mean over axis -2 of h [..., L, D] where mask [..., L]; zeros where no token is real."""
  m = mask[..., None].astype(h.dtype)
  return (h * m).sum(-2) / jnp.maximum(m.sum(-2), 1.0)
