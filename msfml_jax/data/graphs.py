"""Dependency graphs and the paper's graph coarsening (§4.2.2).

Coarsening ("merge the nodes having the same relation type with a core node into hypernodes"):
  * Core nodes are entity tokens (in any span), verbs (POS VB*) and prepositions (POS IN/TO,
    or deprel `prep`/`case`).
  * The neighbours of a core node are its dependents. Those whose dependency labels fall in
    the same relation group (`RELATION_GROUPS`, e.g. nsubj and nmod are both "noun") merge
    into one hypernode when there are at least two of them. (The head is left out: a word
    has one head, and merging a head with a dependent would mix opposite directions.)
  * Core tokens are visited in token order, greedily. Each token counts as the dependent of
    one word only, so it can join at most one hypernode and the order never changes the
    result; a core node may itself be in one hypernode and head another ('table' joins
    'He/table' under 'sitting' and heads 'on/the').
  * Stanford-basic/spaCy parses hang the object under the preposition (verb -prep-> on
    -pobj-> table) where UD hangs it under the verb (sitting -obl-> table -case-> on). For
    grouping only, a `pobj`/`pcomp` dependent of a `prep`/`agent`/`dative` word counts as a
    dependent of the preposition's head, and the preposition as a "function" dependent of its
    (first) object, so both label styles coarsen alike. The coarse edges are still the
    original tree edges.
  * `root`, `next` (PubMed sentence links) and `self` (PubMed: no edge) never merge.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Sequence

from absl import logging
import numpy as np

NOUN, MODIFIER, CLAUSE, FUNCTION = "noun", "modifier", "clause", "function"
COMPOUND, COORDINATION, PUNCT, DEP = "compound", "coordination", "punct", "dep"
UNKNOWN_PREFIX = "other:"  # unknown labels: one group per normalised label

# Normalised label (lower case, UD subtype kept) -> relation group. Covers Stanford basic and
# collapsed (CoreNLP, PubMed), spaCy ClearNLP and UD v1/v2 labels. Loosely UD's taxonomy:
# nominals / modifier words / clauses / function words, plus multiword, coordination, punct.
RELATION_GROUPS: dict[str, str] = {
    # Nominal arguments, obliques and nominal dependents.
    **dict.fromkeys(
        ["nsubj", "nsubjpass", "nsubj:pass", "dobj", "obj", "iobj", "nmod", "nmod:poss",
         "nmod:tmod", "nmod:npmod", "obl", "obl:tmod", "obl:npmod", "obl:agent", "pobj",
         "dative", "attr", "agent", "npadvmod", "npmod", "tmod", "poss", "appos", "abbrev",
         "expl", "vocative", "dislocated"], NOUN),
    # Modifier words.
    **dict.fromkeys(
        ["amod", "advmod", "nummod", "num", "number", "quantmod", "neg", "discourse", "intj",
         "meta"], MODIFIER),
    # Clausal dependents.
    **dict.fromkeys(
        ["csubj", "csubjpass", "csubj:pass", "ccomp", "xcomp", "advcl", "acl", "acl:relcl",
         "relcl", "rcmod", "vmod", "partmod", "infmod", "purpcl", "pcomp", "prepc",
         "parataxis", "acomp", "oprd", "list"], CLAUSE),
    # Function words (`prep` is the uncollapsed preposition word, like UD `case`).
    **dict.fromkeys(
        ["det", "det:predet", "predet", "aux", "auxpass", "aux:pass", "cop", "mark", "complm",
         "case", "prep", "prt", "compound:prt", "possessive", "clf", "rel"], FUNCTION),
    # Multiword expressions and names.
    **dict.fromkeys(["compound", "nn", "mwe", "fixed", "flat", "flat:name", "flat:foreign",
                     "name", "goeswith", "hyphen"], COMPOUND),
    **dict.fromkeys(["conj", "cc", "cc:preconj", "preconj"], COORDINATION),
    PUNCT: PUNCT,
    DEP: DEP,  # unspecified dependency: merges only with other `dep`s
    # Special: never merged.
    "root": "root", "next": "next", "self": "self",
}
# Collapsed labels name the object, not the word: `prep_of`/`prepc_by` label the noun/clause.
COLLAPSED_GROUPS = {"prep": NOUN, "prepc": CLAUSE}
NEVER_MERGE = frozenset({"root", "next", "self"})
PREPOSITION_LABELS = frozenset({"prep", "case"})
PREPOSITION_POS = frozenset({"IN", "TO"})
# Stanford-basic/spaCy preposition words and the dependents that UD would hang on their head.
PREP_LIKE = frozenset({"prep", "agent", "dative"})
PREP_OBJECTS = frozenset({"pobj", "pcomp"})

_unknown_labels: set[str] = set()


@functools.lru_cache(maxsize=None)
def normalize_label(deprel: str) -> str:
  """Lower case, cut at a malformed `(` (PubMed `nn(`, `dep(Co`), UD subtypes kept."""
  return deprel.strip().lower().split("(", 1)[0]


@functools.lru_cache(maxsize=None)
def relation_group(deprel: str) -> str:
  """The relation group of a dependency label (see `RELATION_GROUPS`).

  Collapsed labels use the part before `_` (`conj_and` -> coordination, `prep_of` -> noun),
  UD subtypes fall back to their base (`nmod:of` -> noun). Unknown labels get their own group
  `other:<label>`, are collected (`unknown_labels()`) and logged once.
  """
  label = normalize_label(deprel)
  if label in RELATION_GROUPS:
    return RELATION_GROUPS[label]
  if "_" in label:
    base = label.split("_", 1)[0]
    group = COLLAPSED_GROUPS.get(base) or RELATION_GROUPS.get(base)
    if group is not None:
      return group
  base = label.split(":", 1)[0]
  if base in RELATION_GROUPS:
    return RELATION_GROUPS[base]
  if label not in _unknown_labels:
    _unknown_labels.add(label)
    logging.warning("unknown dependency label %r: its own relation group", deprel)
  return UNKNOWN_PREFIX + label


def unknown_labels() -> set[str]:
  """Normalised labels that `relation_group` did not know, seen so far in this process."""
  return set(_unknown_labels)


@dataclasses.dataclass
class CoarseGraph:
  """The coarsened graph of one record.

  Attributes:
    coarse_ids: int32 [n], token -> coarse node, contiguous ids ordered by first member token.
    num_coarse: number of coarse nodes.
    coarse_edges: int32 [K, 2], undirected (i < j), deduplicated, no self loops, sorted.
  """
  coarse_ids: np.ndarray
  num_coarse: int
  coarse_edges: np.ndarray


def _core_tokens(pos: Sequence[str], labels: Sequence[str],
                 spans: Sequence[tuple[int, int]]) -> list[int]:
  """Entity, verb and preposition tokens, in token order."""
  core = [p.startswith("VB") or p in PREPOSITION_POS or l.split(":", 1)[0] in PREPOSITION_LABELS
          for p, l in zip(pos, labels)]
  for start, end in spans:
    core[start:end + 1] = [True] * (end + 1 - start)
  return [i for i, c in enumerate(core) if c]


def _grouping_attachment(parents: list[int], labels: list[str],
                         groups: list[str]) -> tuple[list[int], list[str]]:
  """Who each token counts as a dependent of for merging, and in which group.

  Applies the prep/pobj rewrite of the module docstring; otherwise the tree itself.
  """
  attach, group = list(parents), list(groups)
  for obj, prep in enumerate(parents):
    if (prep >= 0 and labels[obj] in PREP_OBJECTS and labels[prep] in PREP_LIKE
        and parents[prep] >= 0):
      attach[obj] = parents[prep]
      if attach[prep] == parents[prep]:  # the preposition goes to its first object only
        attach[prep], group[prep] = obj, FUNCTION
  return attach, group


def _merge(parents: list[int], labels: list[str], groups: list[str],
           core: list[int]) -> list[int]:
  """Representative (first member) of each token's hypernode; itself when unmerged."""
  attach, group = _grouping_attachment(parents, labels, groups)
  dependents: list[list[int]] = [[] for _ in parents]
  for t, a in enumerate(attach):
    if a >= 0 and group[t] not in NEVER_MERGE:
      dependents[a].append(t)
  rep = list(range(len(parents)))
  for c in core:
    by_group: dict[str, list[int]] = {}
    for t in dependents[c]:
      by_group.setdefault(group[t], []).append(t)
    for members in by_group.values():
      if len(members) >= 2:
        for t in members:  # members are in token order: members[0] is the first
          rep[t] = members[0]
  return rep


def coarsen_lists(heads: Sequence[int], deprels: Sequence[str], pos: Sequence[str],
                  spans: Sequence[tuple[int, int]]) -> tuple[list[int], int, list[tuple[int, int]]]:
  """`coarsen_graph` on plain lists (the fast path of `arrays.records_to_arrays`)."""
  parents = [h - 1 if h > 0 else -1 for h in heads]
  labels = [normalize_label(d) for d in deprels]
  groups = [relation_group(d) for d in deprels]
  rep = _merge(parents, labels, groups, _core_tokens(pos, labels, spans))
  ids = [0] * len(rep)
  num = 0
  for t, r in enumerate(rep):  # rep[t] <= t, so the first member is numbered first
    if r == t:
      ids[t], num = num, num + 1
    else:
      ids[t] = ids[r]
  edges = set()
  for t, p in enumerate(parents):
    if p >= 0 and ids[t] != ids[p]:
      edges.add((min(ids[t], ids[p]), max(ids[t], ids[p])))
  return ids, num, sorted(edges)


def coarsen_graph(heads: Sequence[int], deprels: Sequence[str], pos: Sequence[str],
                  spans: Sequence[tuple[int, int]]) -> CoarseGraph:
  """Coarsens one dependency tree (heads 1-based, 0 = root, -1 = no head; inclusive spans)."""
  ids, num, edges = coarsen_lists(list(heads), deprels, pos, spans)
  return CoarseGraph(np.asarray(ids, np.int32), num,
                     np.asarray(edges, np.int32).reshape(-1, 2))


# ---------------------------------------------------------------------------------------------
# Dense (padded) matrices of one record.

def adjacency_matrix(heads: Sequence[int], length: int) -> np.ndarray:
  """float32 [L, L] symmetric tree adjacency with self loops on the real tokens.

  `heads` are 1-based (0 = root and -1 = no head give no edge).
  """
  heads = np.asarray(heads, np.int64)
  adj = np.zeros((length, length), np.float32)
  n = len(heads)
  child = np.flatnonzero(heads > 0)
  adj[child, heads[child] - 1] = adj[heads[child] - 1, child] = 1.0
  adj[np.arange(n), np.arange(n)] = 1.0
  return adj


def assignment_matrix(coarse_ids: np.ndarray, length: int) -> np.ndarray:
  """float32 [L, L]: row i is token i's one-hot coarse node (zero rows for padding)."""
  assign = np.zeros((length, length), np.float32)
  assign[np.arange(len(coarse_ids)), np.asarray(coarse_ids)] = 1.0
  return assign


def coarse_adjacency_matrix(coarse_edges: np.ndarray, num_coarse: int,
                            length: int) -> np.ndarray:
  """float32 [L, L] symmetric coarse adjacency with self loops on the real coarse nodes."""
  adj = np.zeros((length, length), np.float32)
  edges = np.asarray(coarse_edges, np.int64).reshape(-1, 2)
  adj[edges[:, 0], edges[:, 1]] = adj[edges[:, 1], edges[:, 0]] = 1.0
  adj[np.arange(num_coarse), np.arange(num_coarse)] = 1.0
  return adj


def to_graphs_tuple(heads: Sequence[int], node_features: np.ndarray | None = None):
  """A `jraph.GraphsTuple` of the dependency tree: both directions of every edge, no self
  loops (jraph's GCN adds them); heads 1-based as above."""
  import jraph  # pylint: disable=g-import-not-at-top  (only users of jraph pay its import)
  heads = np.asarray(heads, np.int64)
  child = np.flatnonzero(heads > 0)
  parent = heads[child] - 1
  senders = np.concatenate([child, parent]).astype(np.int32)
  receivers = np.concatenate([parent, child]).astype(np.int32)
  return jraph.GraphsTuple(
      nodes=node_features, edges=None, senders=senders, receivers=receivers,
      n_node=np.array([len(heads)], np.int32), n_edge=np.array([len(senders)], np.int32),
      globals=None)
