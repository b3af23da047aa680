"""Joint representations (paper §4.2.3): conv+gate (eq. 6), Bi-LSTM (eq. 7), bi-attention
(eq. 8-9)."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


def _expand_mask(mask: jax.Array, like: jax.Array) -> jax.Array:
  return mask[..., None].astype(like.dtype)


class ConvGate(nn.Module):
  """h^loc = y * g + y with g = tanh(y + conv(x)) (eq. 6): x gates the flow into y."""
  features: int
  kernel_size: int = 3

  @nn.compact
  def __call__(self, x: jax.Array, y: jax.Array, mask: jax.Array) -> jax.Array:
    # x is zero on padding, so the 'SAME' window matches an unpadded sentence.
    conv_x = nn.Conv(self.features, (self.kernel_size,), padding="SAME", name="conv")(x)
    g = jnp.tanh(y + conv_x)
    return (y * g + y) * _expand_mask(mask, y)


class BiLSTM(nn.Module):
  """h^glo [B, L, 2 * hidden] (eq. 7), zero on padding.

  `seq_lengths` makes the backward direction start at each sentence's last real token, so
  padding never enters a real token's state.
  """
  hidden: int

  @nn.compact
  def __call__(self, t: jax.Array, mask: jax.Array) -> jax.Array:
    lengths = mask.sum(-1).astype(jnp.int32)
    rnn = nn.Bidirectional(
        nn.RNN(nn.OptimizedLSTMCell(self.hidden), name="forward"),
        nn.RNN(nn.OptimizedLSTMCell(self.hidden), name="backward"),
        name="bilstm")
    h = rnn(t, seq_lengths=lengths)
    return h * _expand_mask(mask, h)


def bi_attention(h_glo: jax.Array, h_loc: jax.Array, mask: jax.Array,
                 temperature: float = 1.0) -> tuple[jax.Array, jax.Array]:
  """Bi-attention exactly as eq. 8-9, softmax over real tokens only.

  a_ij = softmax_j(h^loc_j . h^glo_i), h~glo_i = h^glo_i + sum_j a_ij h^glo_j; symmetrically
  b_ji = softmax_i(h^glo_i . h^loc_j), h~loc_j = h^loc_j + sum_i b_ji h^loc_i.
  (Eq. 9 sums h^glo under glo-loc weights; we keep that rather than the usual cross sum.)

  `temperature` divides the scores (1 = eq. 8; sqrt(D) = scaled dot-product attention,
  model.attention_scale).

  Returns:
    (h~glo, h~loc), both [B, L, D] and zero on padding.
  """
  scores = jnp.einsum("bid,bjd->bij", h_glo, h_loc) / temperature   # [B, L_glo, L_loc]
  neg = jnp.finfo(scores.dtype).min
  key_mask = mask[:, None, :]
  a = jax.nn.softmax(jnp.where(key_mask, scores, neg), axis=-1)
  scores_t = jnp.swapaxes(scores, 1, 2)                          # [B, L_loc, L_glo]
  b = jax.nn.softmax(jnp.where(key_mask, scores_t, neg), axis=-1)
  glo = h_glo + jnp.einsum("bij,bjd->bid", a, h_glo)
  loc = h_loc + jnp.einsum("bji,bid->bjd", b, h_loc)
  return glo * _expand_mask(mask, glo), loc * _expand_mask(mask, loc)
