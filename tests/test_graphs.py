"""Graph coarsening (paper §4.2.2): relation groups, the paper's example in UD and Stanford-basic
form, PubMed quirks, unknown labels, coarse-graph invariants and the dense builders."""

from __future__ import annotations

import numpy as np
import pytest

from msfml_jax.data import graphs

# "He is sitting on the table"; entities He (0) and table (5).
TOKENS = ["He", "is", "sitting", "on", "the", "table"]
POS = ["PRP", "VBZ", "VBG", "IN", "DT", "NN"]
SPANS = [(0, 0), (5, 5)]
UD_HEADS = [3, 3, 0, 6, 6, 3]
BASIC_HEADS = [3, 3, 0, 3, 6, 4]  # on prep-> sitting, table pobj-> on
BASIC_DEPRELS = ["nsubj", "aux", "root", "prep", "det", "pobj"]


def _ud_deprels(oblique: str) -> list[str]:
  return ["nsubj", "aux", "root", "case", "det", oblique]


def _hops(adj: np.ndarray, source: int) -> np.ndarray:
  """BFS distances over a 0/1 adjacency (-1 = unreachable)."""
  dist = np.full(len(adj), -1)
  dist[source], frontier, d = 0, [source], 0
  while frontier:
    d += 1
    nxt = [j for i in frontier for j in np.flatnonzero(adj[i]) if dist[j] < 0]
    for j in nxt:
      dist[j] = d
    frontier = nxt
  return dist


@pytest.mark.parametrize("label,group", [
    ("nsubj", "noun"), ("nmod", "noun"), ("obl", "noun"), ("dobj", "noun"), ("pobj", "noun"),
    ("nsubj:pass", "noun"), ("nmod:poss", "noun"), ("nmod:of", "noun"), ("prep_of", "noun"),
    ("dative", "noun"), ("attr", "noun"), ("agent", "noun"), ("npadvmod", "noun"),
    ("acl:relcl", "clause"), ("relcl", "clause"), ("rcmod", "clause"), ("vmod", "clause"),
    ("prepc_by", "clause"), ("conj_and", "coordination"), ("cc", "coordination"),
    ("nn(", "compound"), ("compound", "compound"), ("nn", "compound"), ("det(", "function"),
    ("dep(Co", "dep"), ("prep(-ACP", "function"), ("case", "function"), ("prep", "function"),
    ("aux:pass", "function"), ("compound:prt", "function"), ("amod", "modifier"),
    ("nummod", "modifier"), ("num", "modifier"), ("punct", "punct"), ("ROOT", "root"),
    ("next", "next"), ("self", "self")])
def test_relation_group_table(label, group):
  assert graphs.relation_group(label) == group


def test_unknown_labels_get_their_own_group_and_are_collected():
  assert graphs.relation_group("zzfoo") == "other:zzfoo"
  assert graphs.relation_group("ZZFOO") == "other:zzfoo"
  assert graphs.relation_group("zzbar") != graphs.relation_group("zzfoo")
  assert {"zzfoo", "zzbar"} <= graphs.unknown_labels()
  # Identical unknown labels merge, different ones do not: V -> a, b (zzfoo), c (zzbar).
  g = graphs.coarsen_graph([0, 1, 1, 1], ["root", "zzfoo", "zzfoo", "zzbar"],
                           ["VB", "NN", "NN", "NN"], [(1, 1), (3, 3)])
  assert g.coarse_ids.tolist() == [0, 1, 1, 2]


@pytest.mark.parametrize("oblique", ["nmod", "obl"])
def test_paper_example_ud(oblique):
  g = graphs.coarsen_graph(UD_HEADS, _ud_deprels(oblique), POS, SPANS)
  ids = g.coarse_ids
  assert ids[0] == ids[5]                      # He/table: one hypernode under 'sitting'
  assert len({ids[1], ids[2], ids[0]}) == 3    # 'is' and 'sitting' stay apart
  assert ids.tolist() == [0, 1, 2, 3, 3, 0]    # 'on/the' merge under the entity 'table'
  adj = graphs.adjacency_matrix(UD_HEADS, 8)
  assert _hops(adj[:6, :6] - np.eye(6), 0)[3] == 3        # He -> on: 3 hops in the tree
  coarse = graphs.coarse_adjacency_matrix(g.coarse_edges, g.num_coarse, 8)
  assert coarse[ids[0], ids[3]] == 1                       # ... one step when coarsened


def test_stanford_basic_form_coarsens_like_ud():
  basic = graphs.coarsen_graph(BASIC_HEADS, BASIC_DEPRELS, POS, SPANS)
  ud = graphs.coarsen_graph(UD_HEADS, _ud_deprels("nmod"), POS, SPANS)
  assert basic.coarse_ids.tolist() == ud.coarse_ids.tolist()
  coarse = graphs.coarse_adjacency_matrix(basic.coarse_edges, basic.num_coarse, 6)
  assert coarse[basic.coarse_ids[0], basic.coarse_ids[3]] == 1


def test_spacy_agent_and_collapsed_agent_coarsen_alike():
  # "He was hit by a car": spaCy hangs 'car' under 'by'; collapsed CoreNLP drops 'by'.
  pos = ["PRP", "VBD", "VBN", "IN", "DT", "NN"]
  spacy = graphs.coarsen_graph([3, 3, 0, 3, 6, 4],
                               ["nsubjpass", "auxpass", "root", "agent", "det", "pobj"],
                               pos, [(0, 0), (5, 5)])
  collapsed = graphs.coarsen_graph([3, 3, 0, -1, 6, 3],
                                   ["nsubjpass", "auxpass", "root", "self", "det", "agent"],
                                   pos, [(0, 0), (5, 5)])
  for g in (spacy, collapsed):
    assert g.coarse_ids[0] == g.coarse_ids[5]


def test_pubmed_quirks():
  # s1: "mutation(0) confer(1) of(2, self) resistance(3) to(4, self) drug(5) and(6, self)
  #      gene(7)"; s2: "it(8) respond(9)"; s2's root hangs on s1's root by `next`.
  heads = [2, 0, -1, 2, -1, 4, -1, 6, 10, 2]
  deprels = ["nsubj", "root", "self", "dobj", "self", "prep_to", "self", "conj_and", "nsubj",
             "next"]
  pos = ["NN", "VBP", "IN", "NN", "TO", "NN", "CC", "NN", "PRP", "VBP"]
  spans = [(0, 0), (5, 5), (7, 7)]
  g = graphs.coarsen_graph(heads, deprels, pos, spans)
  ids = g.coarse_ids
  assert ids[0] == ids[3]                          # nsubj + dobj under 'confer'
  assert ids[5] != ids[0] and ids[7] != ids[0]     # prep_to, conj_and: single dependents
  assert len({ids[2], ids[4], ids[6]}) == 3        # `self` tokens never merge ...
  adj = graphs.adjacency_matrix(heads, 12)
  for t in (2, 4, 6):                              # ... and have no edge, only a self loop
    assert adj[t].sum() == 1 and adj[t, t] == 1
  assert adj[1, 9] == adj[9, 1] == 1               # the `next` edge is kept
  edges = {tuple(e) for e in g.coarse_edges.tolist()}
  assert (min(ids[1], ids[9]), max(ids[1], ids[9])) in edges


def test_collapsed_prep_and_conj_merge_with_same_group():
  # 'inhibit' with nsubj + prep_of children (both noun); 'egfr' with two conj_and children.
  heads = [2, 0, 2, 3, 3]
  deprels = ["nsubj", "root", "prep_of", "conj_and", "conj_or"]
  g = graphs.coarsen_graph(heads, deprels, ["NN", "VB", "NN", "NN", "NN"], [(0, 0), (2, 2)])
  assert g.coarse_ids.tolist() == [0, 1, 0, 2, 2]


def test_next_and_self_never_merge():
  # root 0 with two `next` children and two headed `self` children.
  g = graphs.coarsen_graph([0, 1, 1, 1, 1], ["root", "next", "next", "self", "self"],
                           ["VB"] * 5, [(0, 0), (1, 1)])
  assert g.num_coarse == 5


def _random_tree(rng, n):
  heads = [0] + [int(rng.integers(1, t + 1)) for t in range(1, n)]
  order = rng.permutation(n)                       # relabel so the root is anywhere
  inv = np.argsort(order)
  new_heads = [0] * n
  for t, h in enumerate(heads):
    new_heads[inv[t]] = 0 if h == 0 else int(inv[h - 1]) + 1
  return new_heads


@pytest.mark.parametrize("seed", range(20))
def test_coarse_graph_invariants(seed):
  rng = np.random.default_rng(seed)
  n = int(rng.integers(2, 40))
  heads = _random_tree(rng, n)
  labels = ["nsubj", "obj", "nmod", "det", "case", "amod", "conj", "punct", "prep", "pobj"]
  deprels = ["root" if h == 0 else labels[rng.integers(len(labels))] for h in heads]
  pos = [["VB", "NN", "IN", "DT"][rng.integers(4)] for _ in heads]
  g = graphs.coarsen_graph(heads, deprels, pos, [(0, 0), (n - 1, n - 1)])
  ids = g.coarse_ids
  first = [int(np.flatnonzero(ids == c)[0]) for c in range(g.num_coarse)]
  assert set(ids.tolist()) == set(range(g.num_coarse))   # contiguous
  assert first == sorted(first)                         # ordered by first member
  e = g.coarse_edges
  assert (e[:, 0] < e[:, 1]).all() and len({tuple(x) for x in e.tolist()}) == len(e)
  expected = {tuple(sorted((ids[t], ids[h - 1]))) for t, h in enumerate(heads)
              if h > 0 and ids[t] != ids[h - 1]}
  assert {tuple(x) for x in e.tolist()} == expected     # tree edges mapped through ids


def test_dense_builders():
  heads, length = [2, 0, 2, -1], 6
  adj = graphs.adjacency_matrix(heads, length)
  assert (adj == adj.T).all()
  assert adj.diagonal().tolist() == [1, 1, 1, 1, 0, 0]
  assert adj[0, 1] == adj[2, 1] == 1 and adj[3].sum() == 1 and adj[4:].sum() == 0
  assign = graphs.assignment_matrix(np.array([0, 1, 0, 2]), length)
  assert assign.sum(1).tolist() == [1, 1, 1, 1, 0, 0] and assign[2, 0] == 1
  coarse = graphs.coarse_adjacency_matrix(np.array([[0, 1]]), 3, length)
  assert (coarse == coarse.T).all() and coarse.diagonal().tolist() == [1, 1, 1, 0, 0, 0]
  assert coarse[0, 1] == 1 and coarse[0, 2] == 0


def test_graphs_tuple_matches_adjacency():
  heads = _random_tree(np.random.default_rng(3), 12)
  heads[4] = -1
  gt = graphs.to_graphs_tuple(heads)
  dense = np.eye(12, dtype=np.float32)
  dense[gt.senders, gt.receivers] = 1.0
  np.testing.assert_array_equal(dense, graphs.adjacency_matrix(heads, 12))
  assert int(gt.n_node[0]) == 12 and int(gt.n_edge[0]) == 2 * 10
