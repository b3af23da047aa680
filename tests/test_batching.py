"""SplitArrays and fixed-shape batches: shapes, padding, weights, graphs, buckets, eval order."""

from __future__ import annotations

import json

import jax
import ml_collections
import numpy as np
import pytest

from msfml_jax import config_base
from msfml_jax.data import arrays, batching, graphs
from msfml_jax.models import dense_graphs
from msfml_jax.data.readers import Record
from msfml_jax.data.vocab import Vocab, Vocabs

LABELS = ["Other", "Cause-Effect", "Component-Whole"]


def _record(i: int, n: int, rng: np.random.Generator) -> Record:
  heads = [0] + [int(rng.integers(1, t + 1)) for t in range(1, n)]
  deprels = ["root"] + [["nsubj", "dobj", "det", "prep", "pobj", "amod"][rng.integers(6)]
                        for _ in range(n - 1)]
  pos = [["NN", "VB", "IN", "DT"][rng.integers(4)] for _ in range(n)]
  a = int(rng.integers(0, n))
  spans = [(a, a), (n - 1, n - 1)]
  return Record(str(i), [f"w{rng.integers(20)}" for _ in range(n)], pos, heads, deprels, spans,
                LABELS[i % 3], i % 2 == 0, ["PERSON", "ORG"] if i % 2 else None,
                f"{LABELS[i % 3]}(e1,e2)" if i % 3 else None, f"fake:{i}")


def _vocabs() -> Vocabs:
  return Vocabs(word=Vocab.with_specials([f"w{k}" for k in range(15)], lowercase=True),
                pos=Vocab.with_specials(["NN", "VB", "IN", "DT"]),
                deprel=Vocab.with_specials(["root", "nsubj", "dobj", "det", "prep", "pobj"]),
                label=Vocab(LABELS, has_specials=False))


@pytest.fixture(scope="module")
def split_and_records():
  rng = np.random.default_rng(0)
  lengths = [3, 40, 1, 17, 64, 5, 33, 8, 2, 120, 31, 12]
  records = [_record(i, n, rng) for i, n in enumerate(lengths)]
  return arrays.records_to_arrays(records, _vocabs(), 2), records


def _config(**data) -> ml_collections.ConfigDict:
  c = config_base.base_config()
  for k, v in data.items():
    c.data[k] = v
  return c


def test_records_to_arrays_fields(split_and_records):
  split, records = split_and_records
  assert len(split) == len(records) and split.offsets[-1] == sum(len(r.tokens) for r in records)
  r, lo = records[3], split.offsets[3]
  assert split.heads[lo:lo + 17].tolist() == [h - 1 if h > 0 else -1 for h in r.heads]
  s, e = r.spans[0]
  pos = split.positions[lo:lo + 17, 0]
  assert pos.tolist() == [t - s if t < s else (t - e if t > e else 0) for t in range(17)]
  assert split.entity_mask[lo + s, 0] and split.entity_mask[lo:lo + 17, 0].sum() == 1
  g = graphs.coarsen_graph(r.heads, r.deprels, r.pos, r.spans)
  assert split.coarse_ids[lo:lo + 17].tolist() == g.coarse_ids.tolist()
  assert split.num_coarse[3] == g.num_coarse
  assert split.ids.tolist()[:2] == ["0", "1"] and split.labels.tolist()[:3] == [0, 1, 2]
  assert split.label_directed[0] == "" and split.entity_types[1].tolist() == ["PERSON", "ORG"]
  assert split.entity_types[0].tolist() == ["", ""]
  for name, value in vars(split).items():  # the cache stores every field as .npy
    assert isinstance(value, np.ndarray) and value.dtype.kind != "O", name


def test_make_batch_shapes_padding_and_graphs(split_and_records):
  split, _ = split_and_records
  idx = np.array([5, 0, -1, 3, 7])
  b = batching.make_batch(split, idx, 8, 32)
  shapes = {"tokens": (8, 32), "pos": (8, 32), "deprel": (8, 32), "positions": (8, 2, 32),
            "entity_mask": (8, 2, 32), "mask": (8, 32), "heads": (8, 32),
            "coarse_ids": (8, 32), "label": (8,), "weight": (8,),
            "length": (8,), "cross_sentence": (8,), "index": (8,)}
  graph = b.pop("coarse_graph")
  assert {k: v.shape for k, v in b.items()} == shapes
  assert all(v.dtype.itemsize <= 4 for v in b.values())   # no float32 [B, L, L] in a batch
  assert graph.senders.shape == graph.receivers.shape == (8, 32)
  assert graph.n_node.shape == graph.n_edge.shape == (8, 2)
  assert (graph.n_node.sum(1) == 33).all() and (graph.n_edge.sum(1) == 32).all()
  b["coarse_graph"] = graph
  b.update(jax.device_get(dense_graphs.dense_graphs(b)))
  assert b["index"].tolist() == [5, 0, -1, 3, 7, -1, -1, -1]
  assert b["weight"].tolist() == [1, 1, 0, 1, 1, 0, 0, 0]
  assert (b["mask"].sum(1) == b["length"]).all()
  assert b["length"].tolist() == [5, 3, 0, 17, 8, 0, 0, 0]
  pad = b["weight"] == 0
  for k in ("tokens", "adj", "assign", "coarse_adj", "entity_mask", "label"):
    assert not b[k][pad].any(), k
  assert (b["adj"] == b["adj"].transpose(0, 2, 1)).all()
  assert (b["coarse_adj"] == b["coarse_adj"].transpose(0, 2, 1)).all()
  diag = np.diagonal(b["adj"], axis1=1, axis2=2)
  np.testing.assert_array_equal(diag, b["mask"])
  np.testing.assert_array_equal(b["assign"].sum(-1), b["mask"])
  coarse_diag = np.diagonal(b["coarse_adj"], axis1=1, axis2=2).sum(1)
  assert coarse_diag.tolist() == [split.num_coarse[i] if i >= 0 else 0 for i in b["index"]]


def test_make_batch_matches_per_record_builders(split_and_records):
  split, records = split_and_records
  idx = np.array([1, 9, 4])
  b = batching.make_batch(split, idx, 3, 128)
  b.update(jax.device_get(dense_graphs.dense_graphs(b)))
  for row, i in enumerate(idx):
    r = records[i]
    g = graphs.coarsen_graph(r.heads, r.deprels, r.pos, r.spans)
    np.testing.assert_array_equal(b["adj"][row], graphs.adjacency_matrix(r.heads, 128))
    np.testing.assert_array_equal(b["assign"][row], graphs.assignment_matrix(g.coarse_ids, 128))
    np.testing.assert_array_equal(
        b["coarse_adj"][row], graphs.coarse_adjacency_matrix(g.coarse_edges, g.num_coarse, 128))
    n = len(r.tokens)
    np.testing.assert_array_equal(b["positions"][row, :, :n], split.positions[
        split.offsets[i]:split.offsets[i + 1]].T)


def test_take_keeps_records(split_and_records):
  split, _ = split_and_records
  sub = split.take([9, 2, 4])
  assert len(sub) == 3 and sub.ids.tolist() == ["9", "2", "4"]
  a = batching.make_batch(sub, np.arange(3), 3, 128)
  b = batching.make_batch(split, np.array([9, 2, 4]), 3, 128)
  for k in a:
    if k != "index":
      jax.tree.map(lambda x, y: np.testing.assert_array_equal(x, y, err_msg=k), a[k], b[k])
  assert len(split.take(np.arange(0))) == 0


def test_word_vectors_flat_and_per_record(split_and_records):
  split, _ = split_and_records
  flat = np.random.default_rng(1).normal(size=(int(split.offsets[-1]), 4)).astype(np.float32)
  per_record = [flat[split.offsets[i]:split.offsets[i + 1]] for i in range(len(split))]
  idx = np.array([3, 0])
  a = batching.make_batch(split, idx, 3, 32, word_vectors=flat)["word_vectors"]
  b = batching.make_batch(split, idx, 3, 32, word_vectors=per_record)["word_vectors"]
  assert a.shape == (3, 32, 4)
  np.testing.assert_array_equal(a, b)
  np.testing.assert_array_equal(a[0, :17], per_record[3])
  assert not a[0, 17:].any() and not a[2].any()


def test_bucket_length_and_too_long_errors(split_and_records):
  split, _ = split_and_records
  buckets = (32, 64, 128)
  assert [batching.bucket_length(n, buckets) for n in (1, 32, 33, 128)] == [32, 32, 64, 128]
  with pytest.raises(ValueError, match=r"record 7 .*2000 tokens.*bucket >= 2000"):
    batching.bucket_length(2000, buckets, "7")
  with pytest.raises(ValueError, match=r"record 9 \(id '9'\) has 120 tokens.*larger bucket"):
    batching.make_batch(split, np.array([0, 9]), 2, 64)
  with pytest.raises(ValueError, match=r"record 9 \(id '9'\).*config.data.buckets"):
    list(batching.eval_batches(split, _config(buckets=(32, 64))))


def test_eval_batches_cover_every_record_once(split_and_records):
  split, _ = split_and_records
  config = _config(buckets=(32, 64, 128), eval_batch_size=4, max_tokens_per_batch=256)
  seen, shapes, lengths = [], set(), []
  for b in batching.eval_batches(split, config):
    real = b["index"][b["index"] >= 0]
    seen += real.tolist()
    lengths += split.lengths[real].tolist()
    shapes.add(b["tokens"].shape)
    assert (split.lengths[real] <= b["tokens"].shape[1]).all()
  assert sorted(seen) == list(range(len(split)))
  assert lengths == sorted(lengths)
  assert shapes == {(4, 32), (4, 64), (2, 128)}   # 256 // 128 = 2 records per batch


def test_stack_triplet(split_and_records):
  split, _ = split_and_records
  a, p, n = (batching.make_batch(split, np.array(i), 2, 32) for i in ([0, 2], [3], [5, 7]))
  t = batching.stack_triplet(a, p, n)
  assert t["heads"].shape == (3, 2, 32) and t["coarse_graph"].senders.shape == (3, 2, 32)
  assert t["index"].tolist() == [[0, 2], [3, -1], [5, 7]]
  with pytest.raises(ValueError, match="differ"):
    batching.stack_triplet(a, p, batching.make_batch(split, np.array([0]), 2, 64))


def _lengths(path) -> np.ndarray:
  return np.array([len(r["token"]) for r in json.loads(path.read_text())])


def test_shapes_bounded_on_real_data(shared_data_dir):
  config = config_base.base_config()
  files = [shared_data_dir / "semeval" / "train.json", shared_data_dir / "semeval" / "test.json"]
  files += sorted((shared_data_dir / "pubmed").glob("*/fold*.json"))
  lengths = np.concatenate([_lengths(f) for f in files])
  plan = batching.eval_plan(lengths, config)
  shapes = {(size, length) for _, size, length in plan}
  assert len(shapes) <= len(config.data.buckets)
  assert max(length for _, length in shapes) == 1536      # the 1302-token PubMed record
  assert all(size * length <= config.data.max_tokens_per_batch or size == 1
             for size, length in shapes)
  assert sorted(np.concatenate([i for i, _, _ in plan]).tolist()) == list(range(len(lengths)))
