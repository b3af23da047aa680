"""The padded dense graph matrices of a batch, built on the device from its integer graphs.

A batch carries per token the head index (`heads` [B, L], -1 = none) and the coarse-node id
(`coarse_ids` [B, L], -1 on padding), and per record its coarse graph's edges
(`coarse_graph`, a `jraph.GraphsTuple` whose row r is record r's graph padded with jraph's
convention, see `batching.empty_coarse_graphs`). Inside the jitted step they become the
matrices MSGCN uses (docs/design.md, "padded dense adjacency"), equal to the host-built ones of
`data/graphs.py` (tests/test_dense_graphs.py):

  adj [B, L, L]         symmetric tree adjacency, self loops on real tokens
  assign [B, L, L]      token i -> its coarse node (zero rows on padding)
  coarse_adj [B, L, L]  symmetric coarse adjacency, self loops on real coarse nodes
  refined_adj [B, L, L] coarse_adj[c_i, c_j] for real tokens i, j plus self loops: the token
                        graph the coarse graph induces, a gather by coarse ids (O(L^2)) that
                        equals min(assign coarse_adj assign^T, 1) (`msgcn.refined_adjacency`).

Everything here is a pure function of the batch: shape-static, no host work.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import jraph


def _one_hot(ids: jax.Array, length: int, dtype: Any) -> jax.Array:
  """[..., L] ids -> [..., L, length]; ids outside [0, length) (e.g. -1) give zero rows."""
  return (ids[..., None] == jnp.arange(length, dtype=ids.dtype)).astype(dtype)


def dependency_adjacency(heads: jax.Array, mask: jax.Array, dtype: Any = jnp.float32
                         ) -> jax.Array:
  """adj [B, L, L] from 0-based heads [B, L] (-1 = no head) and the token mask."""
  length = heads.shape[-1]
  child_to_head = _one_hot(heads, length, bool)
  eye = jnp.eye(length, dtype=bool) & mask[..., None]
  return (child_to_head | jnp.swapaxes(child_to_head, -1, -2) | eye).astype(dtype)


def assignment(coarse_ids: jax.Array, dtype: Any = jnp.float32) -> jax.Array:
  """assign [B, L, L]: row i is token i's one-hot coarse node (padding ids -1: zero rows)."""
  return _one_hot(coarse_ids, coarse_ids.shape[-1], dtype)


def _coarse_adjacency_one(graph: jraph.GraphsTuple, length: int) -> jax.Array:
  """One record's [L, L] coarse adjacency from its jraph-padded graph (see module doc)."""
  real_edge = jraph.get_edge_padding_mask(graph)
  size = length + 1  # jraph's padding node lives at index num_coarse <= L
  adj = jnp.zeros((size, size), bool)
  adj = adj.at[graph.senders, graph.receivers].max(real_edge)
  adj = adj.at[graph.receivers, graph.senders].max(real_edge)
  real_node = jnp.arange(size) < graph.n_node[0]
  adj = adj | (jnp.eye(size, dtype=bool) & real_node[:, None])
  return adj[:length, :length]


def coarse_adjacency(graph: jraph.GraphsTuple, length: int, dtype: Any = jnp.float32
                     ) -> jax.Array:
  """coarse_adj [B, L, L] from the batch's per-row padded coarse graphs."""
  return jax.vmap(lambda g: _coarse_adjacency_one(g, length))(graph).astype(dtype)


def refined_adjacency(coarse_adj: jax.Array, coarse_ids: jax.Array, mask: jax.Array
                      ) -> jax.Array:
  """refined_adj [B, L, L] = coarse_adj[b, c_i, c_j] on real tokens, plus self loops."""
  ids = jnp.maximum(coarse_ids, 0)
  rows = jnp.take_along_axis(coarse_adj, ids[:, :, None], axis=1)       # [B, L, L]: c_i, d
  induced = jnp.take_along_axis(rows, ids[:, None, :], axis=2)           # [B, L, L]: c_i, c_j
  real = mask[:, :, None] & mask[:, None, :]
  eye = jnp.eye(mask.shape[-1], dtype=bool) & mask[..., None]
  return jnp.maximum(jnp.where(real, induced, 0), eye.astype(induced.dtype))


def dense_graphs(batch: dict[str, Any], dtype: Any = jnp.float32) -> dict[str, jax.Array]:
  """{"adj", "assign", "coarse_adj", "refined_adj"} [B, L, L] of a batch (module doc).

  A batch that already holds host-built dense `adj`, `assign` and `coarse_adj` (the contract
  before the integer graphs; tests compare against it) gets the refined adjacency by
  products instead.
  """
  if "adj" in batch:
    from msfml_jax.models import msgcn  # pylint: disable=import-outside-toplevel (cycle)
    dense = {k: jnp.asarray(batch[k], dtype) for k in ("adj", "assign", "coarse_adj")}
    return {**dense, "refined_adj": msgcn.refined_adjacency(
        dense["assign"], dense["coarse_adj"], jnp.asarray(batch["mask"], bool))}
  mask = jnp.asarray(batch["mask"], bool)
  coarse_ids = jnp.asarray(batch["coarse_ids"], jnp.int32)
  coarse = coarse_adjacency(batch["coarse_graph"], mask.shape[-1], dtype)
  return {"adj": dependency_adjacency(jnp.asarray(batch["heads"], jnp.int32), mask, dtype),
          "assign": assignment(coarse_ids, dtype), "coarse_adj": coarse,
          "refined_adj": refined_adjacency(coarse, coarse_ids, mask)}
