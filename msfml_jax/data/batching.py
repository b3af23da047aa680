"""Fixed-shape numpy batches from `SplitArrays` (the batch table in docs/design.md).

Every record is padded to a length bucket (`config.data.buckets`), never truncated, so jit
sees a bounded set of shapes. `make_batch` is on the training hot path and is vectorised over
all tokens of the batch.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import jax
import jraph
import ml_collections
import numpy as np

from msfml_jax.data.arrays import SplitArrays, ragged_gather

# Values are numpy arrays, except `coarse_graph`: a jraph.GraphsTuple of numpy arrays.
Batch = dict[str, np.ndarray | jraph.GraphsTuple]
# PLM word vectors: flat float32 [T, H] in the split's token order, or one [n_i, H] per record.
WordVectors = np.ndarray | Sequence[np.ndarray]


def bucket_length(n: int, buckets: Sequence[int], record: str = "") -> int:
  """The smallest bucket >= n; a record longer than every bucket is an error, not truncated.

  `record` names the record in the error message.
  """
  fitting = [b for b in buckets if b >= n]
  if not fitting:
    what = f"record {record}" if record else "a record"
    raise ValueError(
        f"{what} has {n} tokens, more than the largest bucket {max(buckets)}; records are "
        f"never truncated: add a bucket >= {n} to config.data.buckets (e.g. "
        f"{1 << (int(n) - 1).bit_length()})")
  return min(fitting)


def _describe(split: SplitArrays, i: int) -> str:
  return f"{i} (id {str(split.ids[i])!r})"


def _check_fits(split: SplitArrays, indices: np.ndarray, length: int) -> None:
  too_long = indices[split.lengths[indices] > length]
  if len(too_long):
    i = int(too_long[0])
    raise ValueError(f"record {_describe(split, i)} has {split.lengths[i]} tokens, more than "
                     f"the batch length {length}; records are never truncated: pad to a "
                     "larger bucket (add one to config.data.buckets if none is large enough)")


def empty_coarse_graphs(batch_size: int, length: int) -> jraph.GraphsTuple:
  """B empty coarse graphs, row r being `jraph.pad_with_graphs(empty, length + 1, length)`.

  Row r of the batch's `coarse_graph` is record r's coarse graph padded as jraph does it: two
  graphs per row (the record's and jraph's padding graph), n_node [B, 2] summing to L + 1,
  n_edge [B, 2] summing to L (a record has fewer than L coarse edges), senders/receivers
  [B, L] local node ids, the padding edges pointing at the first padding node.
  """
  b, l = batch_size, length
  return jraph.GraphsTuple(
      nodes=None, edges=None, globals=None,
      senders=np.zeros((b, l), np.int32), receivers=np.zeros((b, l), np.int32),
      n_node=np.tile(np.array([0, l + 1], np.int32), (b, 1)),
      n_edge=np.tile(np.array([0, l], np.int32), (b, 1)))


def _empty_batch(batch_size: int, length: int, num_entities: int) -> Batch:
  b, l, e = batch_size, length, num_entities
  return {
      "tokens": np.zeros((b, l), np.int32), "pos": np.zeros((b, l), np.int32),
      "deprel": np.zeros((b, l), np.int32), "positions": np.zeros((b, e, l), np.int32),
      "entity_mask": np.zeros((b, e, l), bool), "mask": np.zeros((b, l), bool),
      "heads": np.full((b, l), -1, np.int32), "coarse_ids": np.full((b, l), -1, np.int32),
      "coarse_graph": empty_coarse_graphs(b, l), "label": np.zeros((b,), np.int32),
      "weight": np.zeros((b,), np.float32), "length": np.zeros((b,), np.int32),
      "cross_sentence": np.zeros((b,), bool), "index": np.full((b,), -1, np.int32),
  }


def example_batch(num_entities: int, length: int, plm_width: int = 0) -> Batch:
  """An all-padding batch of one row: what parameter initialisation needs (shapes only)."""
  batch = _empty_batch(1, length, num_entities)
  if plm_width:
    batch["word_vectors"] = np.zeros((1, length, plm_width), np.float32)
  return batch


def _fill_tokens(batch: Batch, split: SplitArrays, idx: np.ndarray, rows_of: np.ndarray
                 ) -> None:
  """Token features, head indices and coarse-node ids, for all tokens at once."""
  rows, col, src = ragged_gather(split.offsets[idx], split.lengths[idx])
  rows = rows_of[rows]
  for key in ("tokens", "pos", "deprel", "heads", "coarse_ids"):
    batch[key][rows, col] = getattr(split, key)[src]
  batch["positions"][rows, :, col] = split.positions[src]
  batch["entity_mask"][rows, :, col] = split.entity_mask[src]
  batch["mask"][rows, col] = True


def _fill_coarse(batch: Batch, split: SplitArrays, idx: np.ndarray, rows_of: np.ndarray
                 ) -> None:
  """Each record's coarse edges (i < j, both directions are built on the device), padded
  like `jraph.pad_with_graphs(graph, L + 1, L)` (see `empty_coarse_graphs`)."""
  graph = batch["coarse_graph"]
  length = graph.senders.shape[1]
  starts = split.coarse_edge_offsets[idx]
  counts = split.coarse_edge_offsets[idx + 1] - starts
  num_coarse = split.num_coarse[idx]
  # jraph's padding edges join the first padding node, whose index is the real node count.
  graph.senders[rows_of] = graph.receivers[rows_of] = num_coarse[:, None]
  rows, slot, src = ragged_gather(starts, counts)
  graph.senders[rows_of[rows], slot] = split.coarse_edges[src, 0]
  graph.receivers[rows_of[rows], slot] = split.coarse_edges[src, 1]
  graph.n_node[rows_of] = np.stack([num_coarse, length + 1 - num_coarse], -1)
  graph.n_edge[rows_of] = np.stack([counts, length - counts], -1)


def _word_vectors(split: SplitArrays, vectors: WordVectors, idx: np.ndarray, rows_of: np.ndarray,
                  batch_size: int, length: int) -> np.ndarray:
  """[B, L, H] from flat [T, H] vectors (split token order) or a list of [n_i, H] arrays."""
  flat = isinstance(vectors, np.ndarray)
  dim = vectors.shape[-1] if flat else np.shape(vectors[0])[-1]
  out = np.zeros((batch_size, length, dim), np.float32)
  if flat:
    rows, col, src = ragged_gather(split.offsets[idx], split.lengths[idx])
    out[rows_of[rows], col] = vectors[src]
  else:
    for row, i in zip(rows_of, idx):
      out[row, :split.lengths[i]] = vectors[i]
  return out


def make_batch(split: SplitArrays, indices: np.ndarray, batch_size: int, length: int,
               word_vectors: WordVectors | None = None) -> Batch:
  """The records `indices` padded to [batch_size, length] (docs/design.md batch table).

  Rows beyond len(indices), and rows whose index is -1, are padding: weight 0, index -1,
  all features zero. `word_vectors` (PLM input) is a float32 [T, H] array in the split's token
  order or a list of per-record [n_i, H] arrays; it adds `word_vectors` [B, L, H].
  """
  indices = np.asarray(indices, np.int64).reshape(-1)
  if len(indices) > batch_size:
    raise ValueError(f"{len(indices)} records do not fit a batch of {batch_size}")
  rows_of = np.flatnonzero(indices >= 0)
  idx = indices[rows_of]
  _check_fits(split, idx, length)
  batch = _empty_batch(batch_size, length, split.num_entities)
  _fill_tokens(batch, split, idx, rows_of)
  _fill_coarse(batch, split, idx, rows_of)
  batch["label"][rows_of] = split.labels[idx]
  batch["weight"][rows_of] = 1.0
  batch["length"][rows_of] = split.lengths[idx]
  batch["cross_sentence"][rows_of] = split.cross_sentence[idx]
  batch["index"][rows_of] = idx
  if word_vectors is not None:
    batch["word_vectors"] = _word_vectors(split, word_vectors, idx, rows_of, batch_size, length)
  return batch


def eval_batch_size(length: int, config: ml_collections.ConfigDict) -> int:
  """Records per eval batch of bucket `length`, capped by `max_tokens_per_batch`."""
  d = config.data
  return max(1, min(d.eval_batch_size, d.max_tokens_per_batch // length))


def eval_plan(lengths: np.ndarray, config: ml_collections.ConfigDict
              ) -> list[tuple[np.ndarray, int, int]]:
  """(record indices, batch size, bucket length) of every eval batch, records sorted by length.

  At most one batch shape per bucket: the last batch of a bucket is padded to full size.
  """
  lengths = np.asarray(lengths)
  order = np.argsort(lengths, kind="stable")
  if not len(order):
    return []
  buckets = sorted(config.data.buckets)
  bucket_length(int(lengths[order[-1]]), buckets, str(int(order[-1])))
  bucket_of = np.asarray(buckets)[np.searchsorted(buckets, lengths[order])]
  plan = []
  for length in np.unique(bucket_of):
    members = order[bucket_of == length]
    size = eval_batch_size(int(length), config)
    plan += [(members[s:s + size], size, int(length)) for s in range(0, len(members), size)]
  return plan


def eval_batches(split: SplitArrays, config: ml_collections.ConfigDict,
                 word_vectors: WordVectors | None = None) -> Iterator[Batch]:
  """Every record exactly once, sorted by length and grouped by bucket (see `eval_plan`)."""
  if len(split):  # the too-long error names the record's id too
    longest = int(np.argmax(split.lengths))
    bucket_length(int(split.lengths[longest]), config.data.buckets, _describe(split, longest))
  for indices, size, length in eval_plan(split.lengths, config):
    yield make_batch(split, indices, size, length, word_vectors)


def stack(batches: Sequence[Batch]) -> Batch:
  """Stacks batches of the same shapes along a new leading axis (every leaf, graphs too)."""
  return jax.tree.map(lambda *leaves: np.stack(leaves), *batches)


def concatenate(batches: Sequence[Batch]) -> Batch:
  """Concatenates batches of the same keys along the example axis (every leaf)."""
  return jax.tree.map(lambda *leaves: np.concatenate(leaves), *batches)


def stack_triplet(anchor: Batch, positive: Batch, negative: Batch) -> Batch:
  """Stacks three batches of the same shapes into [3, B, ...] (anchor, positive, negative)."""
  for other in (positive, negative):
    if other.keys() != anchor.keys():
      raise ValueError(f"triplet batches have different keys: {sorted(anchor)} vs "
                       f"{sorted(other)}")
    for k, v in anchor.items():
      shapes = [np.shape(x) for x in jax.tree.leaves(v)]
      other_shapes = [np.shape(x) for x in jax.tree.leaves(other[k])]
      if other_shapes != shapes:
        raise ValueError(f"triplet batches differ in {k!r}: {shapes} vs {other_shapes}")
  return stack([anchor, positive, negative])
