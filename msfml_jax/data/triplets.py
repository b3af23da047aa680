"""Anchor triplets (S, S+, S-) for metric learning (paper §3.2, §4.3).

Everything here is a pure function of (seed, epoch, hard-negative table), so a resumed run
rebuilds exactly the batches it would have seen: nothing about the data order lives only in
memory.
"""

from __future__ import annotations

import dataclasses

import numpy as np

# Batches are formed inside chunks of this many batches after sorting by length, so most
# batches fall in a small bucket while the order stays random (the usual bucketed shuffle).
_SORT_CHUNK_BATCHES = 50


@dataclasses.dataclass(frozen=True)
class EpochPlan:
  """The training batches of one epoch: record indices [num_batches, B] per triplet role.

  Unused slots of the last batch hold -1 (padding examples with weight 0).
  """
  anchors: np.ndarray
  positives: np.ndarray
  negatives: np.ndarray

  def __len__(self) -> int:
    return self.anchors.shape[0]


def epoch_rng(seed: int, epoch: int, stream: int) -> np.random.Generator:
  """An independent, reproducible generator per (seed, epoch, stream)."""
  return np.random.default_rng([seed, epoch, stream])


def hard_negative_classes(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
  """The class the model ranks highest after the gold one, per record (§4.3).

  When the model is right this is its second choice; when it is wrong it is the wrongly
  predicted class, the one hardest to tell apart from the gold class either way.
  """
  masked = np.array(logits, dtype=np.float32, copy=True)
  masked[np.arange(len(labels)), labels] = -np.inf
  return masked.argmax(axis=-1).astype(np.int32)


class TripletSampler:
  """Samples S+ (same class) and S- (hard-negative or random other class) per anchor."""

  def __init__(self, labels: np.ndarray, lengths: np.ndarray, num_classes: int, seed: int):
    self.labels = np.asarray(labels, np.int32)
    self.lengths = np.asarray(lengths, np.int32)
    self.num_classes = num_classes
    self.seed = seed
    self.members = [np.flatnonzero(self.labels == c) for c in range(num_classes)]
    self.present = np.array([len(m) > 0 for m in self.members])

  def _sample_member(self, classes: np.ndarray, rng: np.random.Generator,
                     exclude: np.ndarray | None = None) -> np.ndarray:
    """One random training record of each requested class, other than `exclude[i]` if given.

    S+ must be another sentence of the anchor's class (§3.2): the anchor itself would make
    d(z, z+) = 0 up to dropout. A class with one member can only offer the anchor itself.
    """
    out = np.empty(len(classes), np.int64)
    for c in np.unique(classes):
      where = np.flatnonzero(classes == c)
      members = self.members[c]
      if exclude is None or len(members) < 2:
        out[where] = rng.choice(members, size=len(where))
        continue
      # Draw among the other len - 1 members: skip past the excluded record's position.
      pos = np.searchsorted(members, exclude[where])
      pick = rng.integers(0, len(members) - 1, size=len(where))
      out[where] = members[pick + (pick >= pos)]
    return out

  def _negative_classes(self, anchor_labels: np.ndarray, hard: np.ndarray | None,
                        rng: np.random.Generator) -> np.ndarray:
    """Hard-negative class where known and valid, else a random other present class."""
    others = [np.flatnonzero(self.present & (np.arange(self.num_classes) != c))
              for c in range(self.num_classes)]
    random_cls = np.array([rng.choice(others[c]) if len(others[c]) else c
                           for c in anchor_labels], np.int64)
    if hard is None:
      return random_cls
    use_hard = (hard != anchor_labels) & (hard >= 0) & self.present[np.clip(hard, 0, None)]
    return np.where(use_hard, hard, random_cls)

  def plan(self, epoch: int, batch_size: int, hard_negatives: np.ndarray | None,
           with_triplets: bool = True, rows: int = 0) -> EpochPlan:
    """The epoch's batches, with length-sorted chunks and shuffled batch order.

    `rows` > batch_size appends padding slots (-1) to every batch: the same records in the
    same batches, in [num_batches, rows] arrays (config.batch_row_multiple).
    """
    rng_order = epoch_rng(self.seed, epoch, 0)
    rng_pos = epoch_rng(self.seed, epoch, 1)
    rng_neg = epoch_rng(self.seed, epoch, 2)
    n = len(self.labels)
    anchors = rng_order.permutation(n)
    a_labels = self.labels[anchors]
    if with_triplets:
      positives = self._sample_member(a_labels, rng_pos, exclude=anchors)
      hard = None if hard_negatives is None else hard_negatives[anchors]
      negatives = self._sample_member(self._negative_classes(a_labels, hard, rng_neg), rng_neg)
    else:
      positives = negatives = anchors
    # Length-sorted chunks: a triplet's length is its longest member's.
    longest = np.maximum.reduce([self.lengths[anchors], self.lengths[positives],
                                 self.lengths[negatives]])
    chunk = batch_size * _SORT_CHUNK_BATCHES
    order = np.concatenate([s + np.argsort(longest[s:s + chunk], kind="stable")
                            for s in range(0, n, chunk)])
    num_batches = -(-n // batch_size)
    pad = num_batches * batch_size - n

    def to_batches(idx: np.ndarray) -> np.ndarray:
      idx = np.concatenate([idx[order], np.full(pad, -1, np.int64)])
      idx = idx.reshape(num_batches, batch_size)
      return np.pad(idx, ((0, 0), (0, max(rows - batch_size, 0))), constant_values=-1)

    batch_order = rng_order.permutation(num_batches)
    return EpochPlan(*(to_batches(x)[batch_order] for x in (anchors, positives, negatives)))
