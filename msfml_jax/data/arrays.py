"""Records -> `SplitArrays`: flat (ragged) numpy arrays of one split, as the cache stores them.

Token fields are flat over the split's tokens; `offsets[i]:offsets[i + 1]` is record i. Coarse
edges are flat over edges with their own `coarse_edge_offsets`. Every field is a numpy array
(strings as numpy str arrays), so the cache can save each one as a .npy file without pickles.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import tqdm

from msfml_jax.data import graphs, readers, vocab as vocab_lib


@dataclasses.dataclass
class SplitArrays:
  """One split's arrays (N records, T tokens, K coarse edges, E entity slots)."""
  offsets: np.ndarray              # int64 [N + 1]
  tokens: np.ndarray               # int32 [T] word ids
  pos: np.ndarray                  # int32 [T]
  deprel: np.ndarray               # int32 [T]
  heads: np.ndarray                # int32 [T] 0-based head index within the record, -1 = none
  coarse_ids: np.ndarray           # int32 [T] token -> coarse node of its record
  positions: np.ndarray            # int32 [T, E] signed distance to entity e's span, 0 inside
  entity_mask: np.ndarray          # bool [T, E]
  coarse_edge_offsets: np.ndarray  # int64 [N + 1]
  coarse_edges: np.ndarray         # int32 [K, 2] coarse node ids within the record
  labels: np.ndarray               # int32 [N]
  lengths: np.ndarray              # int32 [N]
  num_coarse: np.ndarray           # int32 [N]
  spans: np.ndarray                # int32 [N, E, 2] inclusive
  cross_sentence: np.ndarray       # bool [N]
  ids: np.ndarray                  # str [N]
  label_directed: np.ndarray       # str [N], "" when absent
  entity_types: np.ndarray         # str [N, E], "" when absent

  def __len__(self) -> int:
    return len(self.lengths)

  @property
  def num_entities(self) -> int:
    return self.spans.shape[1]

  def take(self, indices: Sequence[int] | np.ndarray) -> "SplitArrays":
    """The records at `indices` (in that order) as a new SplitArrays."""
    idx = np.asarray(indices, np.int64).reshape(-1)
    starts, counts = self.offsets[idx], self.lengths[idx].astype(np.int64)
    _, _, src = ragged_gather(starts, counts)
    e_starts = self.coarse_edge_offsets[idx]
    e_counts = self.coarse_edge_offsets[idx + 1] - e_starts
    _, _, e_src = ragged_gather(e_starts, e_counts)
    token_fields = ("tokens", "pos", "deprel", "heads", "coarse_ids", "positions",
                    "entity_mask")
    record_fields = ("labels", "lengths", "num_coarse", "spans", "cross_sentence", "ids",
                     "label_directed", "entity_types")
    return SplitArrays(
        offsets=_offsets(counts), coarse_edge_offsets=_offsets(e_counts),
        coarse_edges=self.coarse_edges[e_src],
        **{f: getattr(self, f)[src] for f in token_fields},
        **{f: getattr(self, f)[idx] for f in record_fields})


def _offsets(counts: np.ndarray) -> np.ndarray:
  out = np.zeros(len(counts) + 1, np.int64)
  np.cumsum(counts, out=out[1:])
  return out


def ragged_gather(starts: np.ndarray, counts: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Flat indices of the ragged rows `starts[r] : starts[r] + counts[r]`, all at once.

  Returns (row, position within the row, flat source index), each [sum(counts)].
  """
  counts = np.asarray(counts, np.int64)
  rows = np.repeat(np.arange(len(counts)), counts)
  local = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
  return rows, local, np.repeat(np.asarray(starts, np.int64), counts) + local


def _check_record(r: readers.Record, num_entities: int) -> None:
  n = len(r.tokens)
  if not len(r.pos) == len(r.heads) == len(r.deprels) == n:
    raise ValueError(f"{r.source or r.id}: tokens, pos, heads and deprels differ in length")
  if len(r.spans) != num_entities:
    raise ValueError(f"{r.source or r.id}: {len(r.spans)} entity spans, expected "
                     f"{num_entities}")


def _relative_positions(spans: np.ndarray, lengths: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
  """positions int32 [T, E] and entity_mask bool [T, E] for all tokens at once."""
  rows, local, _ = ragged_gather(np.zeros(len(lengths), np.int64), lengths)
  local = local[:, None]
  start, end = spans[rows, :, 0], spans[rows, :, 1]
  positions = np.where(local < start, local - start, np.where(local > end, local - end, 0))
  return positions.astype(np.int32), (local >= start) & (local <= end)


def _coarsen_all(records: Sequence[readers.Record], progress: bool
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
  """coarse_ids [T], num_coarse [N], coarse_edges [K, 2], edge counts [N]."""
  ids: list[int] = []
  edges: list[tuple[int, int]] = []
  num, counts = [], []
  for r in tqdm.tqdm(records, desc="coarsening", disable=not progress, mininterval=1.0):
    r_ids, r_num, r_edges = graphs.coarsen_lists(r.heads, r.deprels, r.pos, r.spans)
    ids += r_ids
    edges += r_edges
    num.append(r_num)
    counts.append(len(r_edges))
  return (np.asarray(ids, np.int32), np.asarray(num, np.int32),
          np.asarray(edges, np.int32).reshape(-1, 2), np.asarray(counts, np.int64))


def _strings(values: list, shape: tuple[int, ...]) -> np.ndarray:
  return np.asarray(values, dtype=str).reshape(shape) if values else np.zeros(shape, "<U1")


def records_to_arrays(records: Sequence[readers.Record], vocabs: vocab_lib.Vocabs,
                      num_entities: int, progress: bool = False) -> SplitArrays:
  """Indexes, coarsens and flattens `records` (vectorised except the per-record coarsening)."""
  for r in records:
    _check_record(r, num_entities)
  n = len(records)
  lengths = np.fromiter((len(r.tokens) for r in records), np.int64, n)
  offsets = _offsets(lengths)
  heads = np.fromiter((h for r in records for h in r.heads), np.int32, int(offsets[-1]))
  spans = np.asarray([r.spans for r in records], np.int32).reshape(n, num_entities, 2)
  positions, entity_mask = _relative_positions(spans, lengths)
  coarse_ids, num_coarse, coarse_edges, edge_counts = _coarsen_all(records, progress)
  try:
    labels = np.fromiter((vocabs.label.index(r.label) for r in records), np.int32, n)
  except KeyError as e:
    raise ValueError(f"label {e} is not in the label vocabulary") from None
  return SplitArrays(
      offsets=offsets,
      tokens=vocabs.word.lookup([t for r in records for t in r.tokens]),
      pos=vocabs.pos.lookup([p for r in records for p in r.pos]),
      deprel=vocabs.deprel.lookup([d for r in records for d in r.deprels]),
      heads=np.where(heads > 0, heads - 1, -1).astype(np.int32),
      coarse_ids=coarse_ids, positions=positions, entity_mask=entity_mask,
      coarse_edge_offsets=_offsets(edge_counts), coarse_edges=coarse_edges,
      labels=labels, lengths=lengths.astype(np.int32), num_coarse=num_coarse, spans=spans,
      cross_sentence=np.fromiter((r.cross_sentence for r in records), bool, n),
      ids=_strings([r.id for r in records], (n,)),
      label_directed=_strings([r.label_directed or "" for r in records], (n,)),
      entity_types=_strings([t for r in records for t in (r.entity_types or [""] * num_entities)],
                            (n, num_entities)))
