"""Record-level checks that a reader's field checks cannot make: the dependency graph, empty
tokens, overlapping entity spans, record lengths against the buckets, empty splits.

Every check raises `DataError` naming the file, the record index and the field (see
`json_fields.fail`; `Fields` gives the names the task's files use). The rules a task's data
follows are its `Task.graph_rules` (msfml_jax/tasks/), checked by `readers.load_splits` for
every task's reader:

  * exactly one root (head 0) per record. Multi-sentence records (PubMed, predict's parsed
    text) link each sentence root to the previous one with a `next` edge, so they too have
    one head-0 token;
  * no token is its own head;
  * no cycle in the heads (a token's head chain must end at the root or at a token without a
    head). PubMed's collapsed CoreNLP dependencies are not trees: their `self` tokens have
    head -1, and 6 records of the public folds hold a two-token cycle (`a` <-> `c-prot`,
    a parser artefact in a repeated sentence). Those files are the published benchmark,
    so the PubMed rules accept cycles and log how many records have one;
  * no empty (or whitespace-only) token;
  * entity spans do not overlap. PubMed's n-ary slots overlap in 204 records of the public
    folds (`erlotinib/gefitinib` both drug and part of the mutation span, the same token as
    drug and gene): its rules accept overlaps and log the count. The model handles overlaps
    (one mask and one position feature per slot), but in SemEval and TACRED an overlap can
    only be an annotation error, so it is refused there.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping, Sequence

from absl import logging

from msfml_jax.data import json_fields as jf
from msfml_jax.data.json_fields import DataError


@dataclasses.dataclass(frozen=True)
class GraphRules:
  """What a task's records may contain beyond a plain dependency tree."""
  no_head: bool = False         # head -1: a token without an edge (PubMed's `self`)
  cycles: bool = False          # head cycles (collapsed dependencies); counted and logged
  overlapping_spans: bool = False  # entity spans may share tokens; counted and logged


TREE = GraphRules()
COLLAPSED = GraphRules(no_head=True, cycles=True, overlapping_spans=True)


@dataclasses.dataclass(frozen=True)
class Fields:
  """The names, in the task's files, of the fields the messages point at."""
  spans: tuple[str, ...]        # the field naming each entity's span (`subj_start`, ...)
  token: str = "token"
  head: str = "stanford_head"


def find_cycle(heads: Sequence[int]) -> list[int] | None:
  """0-based tokens of one head cycle (heads 1-based, 0 = root, -1 = none), or None."""
  state = [0] * len(heads)  # 0 unseen, 1 on the current chain, 2 known to end
  for start in range(len(heads)):
    chain, j = [], start
    while 0 <= j < len(heads) and state[j] == 0:
      state[j] = 1
      chain.append(j)
      j = heads[j] - 1 if heads[j] > 0 else -1
    if 0 <= j < len(heads) and state[j] == 1:
      return chain[chain.index(j):]
    for k in chain:
      state[k] = 2
  return None


@dataclasses.dataclass
class Tolerated:
  """Counts of what a task's rules accept but a tree would not (logged per file)."""
  cycles: int = 0
  overlapping_spans: int = 0


def check_record(where: str, tokens: Sequence[str], heads: Sequence[int],
                 spans: Sequence[tuple[int, int]], fields: Fields,
                 rules: GraphRules = TREE, tolerated: Tolerated | None = None) -> None:
  """Raises DataError for the first problem of one record.

  heads: 1-based, 0 = root, -1 = no head, already range-checked. fields: the field names
  the messages use.
  """
  for i, token in enumerate(tokens):
    if not token.strip():
      raise jf.fail(where, fields.token, f"token {i} is empty ({token!r})")
  roots = [i for i, h in enumerate(heads) if h == 0]
  if len(roots) != 1:
    raise jf.fail(where, fields.head,
                  f"{len(roots)} roots (head 0 at tokens {roots}); a record needs exactly one "
                  f"(link further sentence roots to the previous one with a 'next' edge)")
  for i, h in enumerate(heads):
    if h == i + 1:
      raise jf.fail(where, fields.head, f"token {i} is its own head")
    if h < 0 and not rules.no_head:
      raise jf.fail(where, fields.head, f"token {i} has no head ({h})")
  cycle = find_cycle(heads)
  if cycle is not None:
    if not rules.cycles:
      raise jf.fail(where, fields.head, f"tokens {cycle} form a head cycle "
                    f"({' -> '.join(str(t) for t in cycle + cycle[:1])})")
    if tolerated is not None:
      tolerated.cycles += 1
  overlap = _overlapping(spans)
  if overlap is not None:
    a, b = overlap
    if not rules.overlapping_spans:
      raise jf.fail(where, fields.spans[b],
                    f"entity span {list(spans[b])} overlaps entity {a + 1}'s span "
                    f"{list(spans[a])} ('{fields.spans[a]}')")
    if tolerated is not None:
      tolerated.overlapping_spans += 1


def _overlapping(spans: Sequence[tuple[int, int]]) -> tuple[int, int] | None:
  for b in range(len(spans)):
    for a in range(b):
      if spans[a][0] <= spans[b][1] and spans[b][0] <= spans[a][1]:
        return a, b
  return None


def check_records(path, records, fields: Fields, rules: GraphRules) -> None:
  """`check_record` for every record read from `path` (record index = position in the file);
  logs how many records use what `rules` tolerate."""
  tolerated = Tolerated()
  for i, r in enumerate(records):
    check_record(f"{path}: record {i}", r.tokens, r.heads, r.spans, fields, rules, tolerated)
  if tolerated.cycles or tolerated.overlapping_spans:
    logging.info("%s: kept %d records with a head cycle and %d with overlapping entity spans "
                 "(allowed for this task)", path, tolerated.cycles, tolerated.overlapping_spans)


# ---------------------------------------------------------------------------------------------
# Lengths and splits.

def too_long_message(where: str, n: int, buckets: Sequence[int], train: bool) -> str:
  """The error for a record of `n` tokens that no bucket holds; says which setting to change."""
  fix = (f"add a bucket >= {n} to data.buckets (e.g. {1 << (int(n) - 1).bit_length()})")
  if train:
    fix += f", or set data.max_train_length <= {max(buckets)} to drop such training records"
  return (f"{where}: field 'token': {n} tokens, more than the largest bucket "
          f"{max(buckets)} (records are never truncated); {fix}")


def check_lengths(split: str, lengths: Sequence[int], where: Callable[[int], str],
                  buckets: Sequence[int]) -> None:
  """Raises DataError for the first record of `split` longer than every bucket; `where(i)`
  names record i. Training records past `data.max_train_length` must already be dropped."""
  largest = max(buckets)
  for i, n in enumerate(lengths):
    if n > largest:
      raise DataError(too_long_message(where(i), int(n), buckets, train=split == "train"))


def check_not_empty(splits: Mapping[str, Sequence], files: Mapping[str, str],
                    dropped: int = 0) -> None:
  """Raises DataError naming the split and its files when a split has no records."""
  for name, records in splits.items():
    if len(records) == 0:
      why = (f"all {dropped} records were dropped by data.max_train_length"
             if name == "train" and dropped else "it has no records")
      raise DataError(f"the {name} split is empty: {why} ({files.get(name, '?')})")
