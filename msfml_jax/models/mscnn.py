"""Multi-scale lexical features h^lex = x (paper §4.2.1, eq. 1-3).

Horizontal branches: dilated 1-D convolutions over the tokens, one per kernel size, so that
non-adjacent tokens ('He' ... 'sitting') share a window. Vertical branch: a convolution of
kernel d/2 along the embedding dimension of each token, capturing patterns across the
dimensions of a word vector. Each branch is f(c) with f = ReLU (eq. 2); the branches are then
combined into one [B, L, hidden_dim] feature map.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from msfml_jax.models import pooling


# f of a branch's combining layer (model.branch_unit). ReLU is the paper's; the other two give
# a unit that is below zero at every token a gradient, so that it can fire again.
BRANCH_UNITS = {"relu": nn.relu, "leaky_relu": nn.leaky_relu, "gelu": nn.gelu}


def branch_activation(pre: jax.Array, norm: str, mask: jax.Array | None = None,
                      unit: str = "relu") -> jax.Array:
  """f of a branch's combining layer: `unit` (model.branch_unit, ReLU by default), after a
  bias-free LayerNorm for "layernorm".

  At the start of training the cross-entropy shrinks every feature (larger random features
  make random logits, and a higher loss). For a ReLU layer on a linear map with a bias the
  shrinking moves one direction shared by all tokens (the bias, and the weights along the
  mean input); at SGD rates of 0.5 a few steps push it past zero and the unit never fires
  again (docs/results.md: `msgcn/combine` loses 95% of its activations in 10 steps).
  LayerNorm removes exactly those directions (the mean over units and the scale of each
  token's pre-activations), so roughly half of the units fire at every token whatever the
  rate. No LayerNorm bias: it would bring the shared offset back.

  It does not remove a unit's own offset shared by a record's tokens: the combining layer
  reads non-negative inputs (ReLU outputs) whose mean over tokens is large, so a unit whose
  weights sum low sits below the other units at every token and its max-pool is 0 for that
  record (configs/semeval.py's seed-2 run: 23% of the MSGCN's units never fire on the test
  set, y_dead 0.43). "token_layernorm" first subtracts from each unit its mean over the
  record's real tokens (`mask` [B, L]), so every unit fires at some token of every record
  of two or more tokens; the token-shared part of the branch is then gone, and the BiLSTM
  path carries it.
  """
  if norm == "token_layernorm":
    if mask is None:
      raise ValueError("model.branch_norm='token_layernorm' needs the token mask")
    pre = nn.LayerNorm(use_bias=False, name="norm")(
        pre - pooling.masked_mean(pre, mask)[..., None, :])
  elif norm == "layernorm":
    pre = nn.LayerNorm(use_bias=False, name="norm")(pre)
  elif norm != "none":
    raise ValueError(f"unknown model.branch_norm {norm!r} (none | layernorm | token_layernorm)")
  if unit not in BRANCH_UNITS:
    raise ValueError(f"unknown model.branch_unit {unit!r} ({' | '.join(BRANCH_UNITS)})")
  return BRANCH_UNITS[unit](pre)


class VerticalConv(nn.Module):
  """Convolution along the embedding dimension, f = ReLU on its feature maps (eq. 1-2), then
  projected to `features` per token.

  Read [B, L, d] as an image [B, L, d, 1]: a kernel (1, k = d // 2) with `channels` maps
  slides over the d dimensions of one token (VALID), giving c = (d - k + 1) x channels values;
  f(c) = ReLU(c) is the branch's feature map, and a linear layer brings it to `features` so
  that it can be combined with the horizontal branches. No token mixing, so padding cannot
  leak in.

  The convolution is applied as one [d, (d - k + 1) * channels] matrix (a Toeplitz expansion
  of the kernel): the same function as the convolution, but one matmul per token, which XLA
  runs far faster than a one-input-channel convolution of width d / 2.
  """
  features: int
  channels: int = 4

  @nn.compact
  def __call__(self, t: jax.Array) -> jax.Array:
    d = t.shape[-1]
    k = max(d // 2, 1)
    positions = d - k + 1
    kernel = self.param("kernel", nn.initializers.lecun_normal(), (k, self.channels))
    bias = self.param("bias", nn.initializers.zeros_init(), (self.channels,))
    proj = self.param("proj_kernel", nn.initializers.lecun_normal(),
                      (positions * self.channels, self.features))
    proj_bias = self.param("proj_bias", nn.initializers.zeros_init(), (self.features,))
    # conv[p, c] = sum_i t[i] toeplitz[i, p, c] with toeplitz[i, p, c] = kernel[i - p, c].
    offset = np.arange(d)[:, None] - np.arange(positions)[None, :]
    valid = (offset >= 0) & (offset < k)
    toeplitz = jnp.where(valid[..., None], kernel[np.clip(offset, 0, k - 1)], 0.0)
    toeplitz = toeplitz.reshape(d, positions * self.channels)
    feature_maps = nn.relu(t @ toeplitz + jnp.tile(bias, positions))   # f(c), eq. 2
    return feature_maps @ proj + proj_bias


class MSCNN(nn.Module):
  """Multi-scale CNN over t^wop [B, L, d] -> h^lex [B, L, features], zero on padding.

  `kernels=(3,), dilation=1, vertical=False, combine="sum"` is the ordinary CNN of the
  ablation (`model.mscnn == "plain"`).

  Attributes:
    features: output width (model.hidden_dim); the width of every branch for "sum",
      features // number of branches for "concat".
    kernels: horizontal kernel sizes (model.mscnn_kernels).
    dilation: horizontal dilation rate r (model.mscnn_dilation).
    vertical: add the vertical branch (model.mscnn_vertical).
    vertical_channels: feature maps of the vertical convolution.
    combine: "concat" (branches concatenated, then a linear layer and f), "stack" (the
      branches concatenated and nothing else: x = [f(c_3); f(c_4); f(c_5); vertical], eq. 3
      read literally) or "sum".
    norm: "layernorm" puts a bias-free LayerNorm between the combining layer and its f,
      "token_layernorm" centres each unit over the record's tokens first (model.branch_norm;
      see `branch_activation`).
    unit: f of the combining layer (model.branch_unit; "concat" only).
  """
  features: int
  kernels: Sequence[int] = (3, 4, 5)
  dilation: int = 2
  vertical: bool = True
  vertical_channels: int = 4
  combine: str = "concat"
  norm: str = "none"
  unit: str = "relu"

  @nn.compact
  def __call__(self, t: jax.Array, mask: jax.Array) -> jax.Array:
    # "sum" adds the branches, so each needs the full width; "concat" splits the width over
    # the branches (TextCNN style), which keeps the combined map, and the cost, that of one
    # hidden_dim convolution instead of len(branches) of them.
    num_branches = len(self.kernels) + int(self.vertical)
    width = self.features if self.combine == "sum" else max(self.features // num_branches, 1)
    branches = []
    # t is zero on padding tokens, so 'SAME' windows crossing the end of a sentence see the
    # same zeros whatever the bucket length.
    for k in self.kernels:
      c = nn.Conv(width, (k,), kernel_dilation=(self.dilation,), padding="SAME",
                  name=f"horizontal_{k}")(t)
      branches.append(nn.relu(c))
    if self.vertical:
      branches.append(VerticalConv(width, self.vertical_channels, name="vertical")(t))
    if self.combine == "concat":
      h = branch_activation(nn.Dense(self.features, name="combine")(
          jnp.concatenate(branches, -1)), self.norm, mask, self.unit)
    elif self.combine == "stack":
      h = jnp.concatenate(branches, -1)
      if h.shape[-1] != self.features:
        raise ValueError(f"model.mscnn_combine='stack' needs hidden_dim ({self.features}) "
                         f"divisible by the {num_branches} branches")
    elif self.combine == "sum":
      h = sum(branches[1:], branches[0])
    else:
      raise ValueError(f"unknown model.mscnn_combine {self.combine!r}")
    return h * mask[..., None].astype(h.dtype)
