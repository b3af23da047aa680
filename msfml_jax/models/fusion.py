"""Joint representations (paper §4.2.3): conv+gate (eq. 6), Bi-LSTM (eq. 7), bi-attention
(eq. 8-9)."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.linen.recurrent import DenseParams


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


GATES = ("i", "f", "g", "o")


class LSTMWeights(nn.Module):
  """The parameters of one LSTM direction, named and initialised as flax's
  `OptimizedLSTMCell` (kernels ii..io without bias, hi..ho with bias), so checkpoints and the
  initial values are those of `nn.RNN(nn.OptimizedLSTMCell)`.

  Returns the input kernel [D, 4H] and the recurrent kernel [H, 4H] and bias [4H], gates
  concatenated in the order i, f, g, o.
  """
  hidden: int

  @nn.compact
  def __call__(self, in_features: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    dummy_in = jnp.zeros((1, in_features))
    dummy_h = jnp.zeros((1, self.hidden))
    w_in, w_h, b_h = [], [], []
    for gate in GATES:
      kernel, _ = DenseParams(self.hidden, use_bias=False, name=f"i{gate}")(dummy_in)
      w_in.append(kernel)
      kernel, bias = DenseParams(self.hidden, use_bias=True,
                                 kernel_init=nn.initializers.orthogonal(),
                                 name=f"h{gate}")(dummy_h)
      w_h.append(kernel)
      b_h.append(bias)
    return (jnp.concatenate(w_in, -1), jnp.concatenate(w_h, -1), jnp.concatenate(b_h, -1))


def lstm_scan(x_proj: jax.Array, w_h: jax.Array, b_h: jax.Array,
              mask: jax.Array | None = None, reverse: bool = False) -> jax.Array:
  """The LSTM recurrence over time-projected inputs x_proj [B, L, 4H] -> h [B, L, H].

  The input projection x W_in was taken outside for all time steps at once; each step only
  adds h W_h + b. Gates and the cell state are float32 whatever the compute dtype. With
  `mask` the state is reset to zero on padding, so a `reverse` scan starts each sentence at
  its last real token, as flax's `flip_sequences` does, without any gather.
  """
  batch, _, four_h = x_proj.shape
  hidden = four_h // 4

  def step(carry, inputs):
    xw_t, real_t = inputs
    c, h = carry
    gates = (xw_t + h.astype(w_h.dtype) @ w_h).astype(jnp.float32) + b_h
    i, f, g, o = jnp.split(gates, 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    if real_t is not None:
      c, h = (jnp.where(real_t[:, None], v, 0.0) for v in (c, h))
    return (c, h), h

  zeros = jnp.zeros((batch, hidden), jnp.float32)
  xs = (jnp.swapaxes(x_proj, 0, 1), None if mask is None else jnp.swapaxes(mask, 0, 1))
  _, hs = jax.lax.scan(step, (zeros, zeros), xs, reverse=reverse)
  return jnp.swapaxes(hs, 0, 1)


class BiLSTM(nn.Module):
  """h^glo [B, L, 2 * hidden] (eq. 7), zero on padding.

  The backward direction starts at each sentence's last real token, so padding never enters
  a real token's state. Two implementations with the same parameters (names and initial
  values: checkpoints load in either) and the same function (tests/test_lstm.py):
    "scan": flax's `Bidirectional(RNN(OptimizedLSTMCell))` with `seq_lengths`, the input
      projection inside the recurrence (the faster one on CPU, docs/results.md);
    "hoisted": the input projection of both directions as one [B*L, D] x [D, 8H] matmul
      outside the `lax.scan`, the recurrence doing only h W_h (the usual GPU layout).
  """
  hidden: int
  impl: str = "scan"

  @nn.compact
  def __call__(self, t: jax.Array, mask: jax.Array) -> jax.Array:
    if self.impl == "scan":
      lengths = mask.sum(-1).astype(jnp.int32)
      rnn = nn.Bidirectional(nn.RNN(nn.OptimizedLSTMCell(self.hidden)),
                             nn.RNN(nn.OptimizedLSTMCell(self.hidden)))
      h = rnn(t, seq_lengths=lengths)
    elif self.impl == "hoisted":
      # The names flax's Bidirectional gives its two cells (checkpoint compatibility).
      fwd = LSTMWeights(self.hidden, name="OptimizedLSTMCell_0")(t.shape[-1])
      bwd = LSTMWeights(self.hidden, name="OptimizedLSTMCell_1")(t.shape[-1])
      w_in = jnp.concatenate([fwd[0], bwd[0]], -1).astype(t.dtype)
      x_fwd, x_bwd = jnp.split(t @ w_in, 2, axis=-1)               # [B, L, 4H] each
      h_fwd = lstm_scan(x_fwd, fwd[1].astype(t.dtype), fwd[2])
      h_bwd = lstm_scan(x_bwd, bwd[1].astype(t.dtype), bwd[2], mask=mask, reverse=True)
      h = jnp.concatenate([h_fwd, h_bwd], -1).astype(t.dtype)
    else:
      raise ValueError(f"unknown model.lstm_impl {self.impl!r} (scan | hoisted)")
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
