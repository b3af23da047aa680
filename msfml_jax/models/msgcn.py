"""Multi-scale syntactic features h^dep = y (paper §4.2.2, eq. 4-5).

Graphs are dense, batched and padded: `adj` [B, L, L] (self loops on real tokens), `assign`
[B, L, L] (token i -> coarse node c) and `coarse_adj` [B, L, L] (self loops on real coarse
nodes). Padding rows and columns are zero, so they have degree 0 and stay inert.

Our reading of the three scales:
  original: `num_layers` GCN layers on the dependency graph, h_o.
  coarsened: a hypernode is the sum of its members, h_c = assign^T h_o; one GCN layer on
    coarse_adj gives h_c'. ('He' and 'table' share a hypernode, so 'on', a neighbour of
    'table', reaches 'He' in this one layer.)
  refined: the hypernode is split again, each token getting its hypernode's embedding plus its
    own, assign h_c' + h_o; one GCN layer on the refined adjacency. "The adjacency of the
    refined graph equals that of its coarsened graph" is read as the token-level graph that
    coarse_adj induces: i ~ j when their hypernodes are adjacent (or the same),
    min(assign coarse_adj assign^T, 1), with self loops on real tokens (`refined="lifted"`).
    The other reading, that refining "restores the original topological structure", uses the
    dependency adjacency itself (`refined="original"`, model.refined_adjacency).
  y = f(Linear([h_o ; assign h_c' ; h_r])): every token keeps its original, lifted coarse and
    refined views, and a linear layer mixes the three scales (`output="combine"`); or y = h_r,
    the refined graph's GCN output, the last of the three operations (`output="refined"`,
    eq. 4-5 read literally: no layer of ours after the paper's GCNs).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from msfml_jax.models import mscnn


def normalize_adjacency(adj: jax.Array) -> jax.Array:
  """D^-1/2 A D^-1/2 with D the row sums of A (A already holds the self loops).

  Rows of degree 0 (padding) get a zero scale instead of inf.
  """
  deg = adj.sum(-1)
  inv_sqrt = jnp.where(deg > 0, jax.lax.rsqrt(jnp.maximum(deg, 1e-12)), 0.0)
  return adj * inv_sqrt[..., :, None] * inv_sqrt[..., None, :]


def coarsen(h: jax.Array, assign: jax.Array) -> jax.Array:
  """Hypernode embeddings: the sum of their members' embeddings, assign^T h."""
  return jnp.einsum("bic,bid->bcd", assign, h)


def lift(h_coarse: jax.Array, assign: jax.Array) -> jax.Array:
  """Each token gets its hypernode's embedding, assign h_c."""
  return jnp.einsum("bic,bcd->bid", assign, h_coarse)


def refined_adjacency(assign: jax.Array, coarse_adj: jax.Array, mask: jax.Array) -> jax.Array:
  """Token graph induced by the coarse graph, with self loops on real tokens."""
  induced = jnp.einsum("bic,bcd,bjd->bij", assign, coarse_adj, assign)
  induced = jnp.minimum(induced, 1.0)
  eye = jnp.eye(mask.shape[-1], dtype=induced.dtype) * mask[..., None].astype(induced.dtype)
  return jnp.maximum(induced, eye)


class GCNLayer(nn.Module):
  """h' = ReLU(D^-1/2 A D^-1/2 h W) (eq. 4), no bias so padding rows stay exactly zero."""
  features: int

  @nn.compact
  def __call__(self, h: jax.Array, adj: jax.Array) -> jax.Array:
    hw = nn.Dense(self.features, use_bias=False, name="linear")(h)
    return nn.relu(jnp.einsum("bij,bjd->bid", normalize_adjacency(adj), hw))


class MSGCN(nn.Module):
  """Multi-scale GCN: t^wop [B, L, d] -> h^dep [B, L, features], zero on padding.

  Attributes:
    features: output and hidden width (model.hidden_dim).
    num_layers: GCN layers on the original graph (model.gcn_layers).
    multi_scale: False is the plain GCN of the ablation (original graph only).
    refined: the refined graph's adjacency, "lifted" | "original" (model.refined_adjacency).
    output: "combine" | "refined" (model.msgcn_output, module docstring).
    norm: "layernorm" puts a bias-free LayerNorm before the combining layer's ReLU,
      "token_layernorm" centres each unit over the record's tokens first (model.branch_norm,
      `mscnn.branch_activation`).
    unit: f of the combining layer (model.branch_unit, `mscnn.branch_activation`).
    dropout: dropout on a GCN layer's output where it feeds another GCN layer (C-GCN's and
      AGGCN's `gcn_dropout`, model.gcn_dropout); the branch's output y is not dropped.
  """
  features: int
  num_layers: int = 2
  multi_scale: bool = True
  refined: str = "lifted"
  norm: str = "none"
  output: str = "combine"
  unit: str = "relu"
  dropout: float = 0.0

  @nn.compact
  def __call__(self, t: jax.Array, adj: jax.Array, assign: jax.Array,
               coarse_adj: jax.Array, mask: jax.Array,
               refined_adj: jax.Array | None = None, train: bool = False) -> jax.Array:
    """`refined_adj`: the refined adjacency when already built (`dense_graphs`: a gather by
    coarse ids); None computes it here by products. `train` turns the dropout on."""
    if self.num_layers < 1:
      raise ValueError("model.gcn_layers must be >= 1")
    # At rate 0 nn.Dropout returns its input and draws no rng.
    drop = nn.Dropout(self.dropout, deterministic=not train, name="dropout")
    h = t
    for i in range(self.num_layers):
      h = GCNLayer(self.features, name=f"original_{i}")(drop(h) if i else h, adj)
    if not self.multi_scale:
      return h
    coarse = GCNLayer(self.features, name="coarse")(coarsen(drop(h), assign), coarse_adj)
    lifted = lift(coarse, assign)
    if self.refined == "lifted":
      if refined_adj is None:  # else built already (dense_graphs: a gather by coarse ids)
        refined_adj = refined_adjacency(assign, coarse_adj, mask)
    elif self.refined == "original":
      refined_adj = adj
    else:
      raise ValueError(f"unknown model.refined_adjacency {self.refined!r} (lifted | original)")
    refined = GCNLayer(self.features, name="refined")(drop(lifted + h), refined_adj)
    if self.output == "refined":
      return refined * mask[..., None].astype(refined.dtype)
    if self.output != "combine":
      raise ValueError(f"unknown model.msgcn_output {self.output!r} (combine | refined)")
    y = mscnn.branch_activation(nn.Dense(self.features, name="combine")(
        jnp.concatenate([h, lifted, refined], axis=-1)), self.norm, mask, self.unit)
    # The combining layer's bias would make padding rows non-zero.
    return y * mask[..., None].astype(y.dtype)
