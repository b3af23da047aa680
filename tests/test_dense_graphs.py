"""Integer graphs -> dense matrices on the device (models/dense_graphs.py) equal the host-built
matrices of the previous batch contract, on real SemEval and PubMed records and on the
in-repo TACRED fixture; the loss and gradients of a fixed batch are unchanged."""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import jraph
import numpy as np
import pytest

from msfml_jax import config_base, losses
from msfml_jax.data import arrays, batching, graphs, readers, vocab
from msfml_jax.models import dense_graphs, msfml, msgcn
from msfml_jax.tasks import pubmed, semeval, tacred

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"


def host_dense(split: arrays.SplitArrays, batch: batching.Batch) -> dict[str, np.ndarray]:
  """The previous contract: `adj`, `assign`, `coarse_adj` [B, L, L] float32 built on the host
  from each record with data/graphs.py (what make_batch shipped until the integer graphs)."""
  b, length = batch["mask"].shape
  out = {k: np.zeros((b, length, length), np.float32) for k in ("adj", "assign", "coarse_adj")}
  for row, i in enumerate(batch["index"]):
    if i < 0:
      continue
    lo, hi = split.offsets[i], split.offsets[i + 1]
    heads = split.heads[lo:hi] + 1                      # back to 1-based, 0 = root / none
    out["adj"][row] = graphs.adjacency_matrix(heads, length)
    out["assign"][row] = graphs.assignment_matrix(split.coarse_ids[lo:hi], length)
    edges = split.coarse_edges[split.coarse_edge_offsets[i]:split.coarse_edge_offsets[i + 1]]
    out["coarse_adj"][row] = graphs.coarse_adjacency_matrix(edges, split.num_coarse[i], length)
  return out


def _arrays(records, config, num_entities):
  vocabs = vocab.build_vocabs({"train": records}, config)
  return arrays.records_to_arrays(records, vocabs, num_entities)


def _check_equal(split: arrays.SplitArrays, indices: np.ndarray, rows: int, length: int):
  batch = batching.make_batch(split, indices, rows, length)
  device = jax.device_get(jax.jit(dense_graphs.dense_graphs)(batch))
  host = host_dense(split, batch)
  for k in host:
    np.testing.assert_array_equal(device[k], host[k], err_msg=k)
  mask = jnp.asarray(batch["mask"])
  refined = msgcn.refined_adjacency(jnp.asarray(host["assign"]), jnp.asarray(host["coarse_adj"]),
                                    mask)
  np.testing.assert_array_equal(device["refined_adj"], np.asarray(refined))
  return batch


def _by_length(split, count, rng):
  """`count` records spread over the length range (short and the longest ones included)."""
  order = np.argsort(split.lengths, kind="stable")
  picked = np.unique(np.concatenate([order[-3:], order[:3], rng.choice(order, count)]))
  return picked


def test_padded_rows_follow_jraph_pad_with_graphs():
  config = _tacred_config()
  records = _tacred_records(config)
  split = _arrays(records, config, 2)
  length = batching.bucket_length(int(split.lengths.max()), config.data.buckets)
  batch = batching.make_batch(split, np.array([0, 1, -1, 2, 3, 4, 5]), 8, length)
  graph = batch["coarse_graph"]
  for row, i in enumerate(batch["index"]):
    if i < 0:
      continue
    edges = split.coarse_edges[split.coarse_edge_offsets[i]:split.coarse_edge_offsets[i + 1]]
    one = jraph.GraphsTuple(nodes=None, edges=None, globals=None,
                            senders=edges[:, 0].astype(np.int32),
                            receivers=edges[:, 1].astype(np.int32),
                            n_node=np.array([split.num_coarse[i]], np.int32),
                            n_edge=np.array([len(edges)], np.int32))
    padded = jraph.pad_with_graphs(one, length + 1, length)
    for field in ("senders", "receivers", "n_node", "n_edge"):
      np.testing.assert_array_equal(getattr(graph, field)[row], getattr(padded, field), field)


def _tacred_records(config):
  return [r for name in ("train", "dev", "test")
          for r in tacred.read_tacred(FIXTURES / "tacred" / f"{name}.json",
                                       readers.label_names(config))]


def _tacred_config():
  c = config_base.base_config()
  c.data.task = "tacred"
  c.data.label_file = str(FIXTURES / "tacred" / "labels.txt")
  return c


def test_tacred_fixture_matches_host_built():
  config = _tacred_config()
  records = _tacred_records(config)
  split = _arrays(records, config, 2)
  n = min(len(split), 12)
  length = batching.bucket_length(int(split.lengths[:n].max()), config.data.buckets)
  _check_equal(split, np.arange(n), n + 2, length)


def test_semeval_records_match_host_built(shared_data_dir):
  config = config_base.base_config()
  records = semeval.read_semeval(shared_data_dir / "semeval" / "train.json", False)
  split = _arrays(records, config, 2)
  rng = np.random.default_rng(0)
  for length in (32, 64, 128):
    fits = np.flatnonzero(split.lengths <= length)
    idx = rng.choice(fits, 40, replace=False)
    _check_equal(split, idx, 44, length)
  longest = np.argsort(split.lengths)[-8:]
  _check_equal(split, longest, 8, 128)


def test_pubmed_records_match_host_built(shared_data_dir):
  config = config_base.base_config()
  config.data.task = "pubmed"
  records = pubmed.read_pubmed_fold(shared_data_dir / "pubmed" / "ternary" / "fold0.json",
                                     "ternary", "multi")
  split = _arrays(records, config, 3)
  picked = _by_length(split, 20, np.random.default_rng(0))
  for start in range(0, len(picked), 8):
    idx = picked[start:start + 8]
    length = batching.bucket_length(int(split.lengths[idx].max()), config.data.buckets)
    _check_equal(split, idx, 8, length)


def test_loss_and_gradients_equal_host_built_batch():
  """Fixed triplet batch: loss and every gradient equal with device-built and host-built
  matrices (1e-6)."""
  config = _tacred_config()
  records = _tacred_records(config)
  split = _arrays(records, config, 2)
  length = batching.bucket_length(int(split.lengths.max()), config.data.buckets)
  n = len(split)
  roles = [np.arange(n)[k::3][:4] for k in range(3)]
  parts = [batching.make_batch(split, r, 4, length) for r in roles]
  new = batching.stack(parts)
  old = batching.stack([{**{k: v for k, v in p.items()
                            if k not in ("heads", "coarse_ids", "coarse_graph")},
                         **host_dense(split, p)} for p in parts])
  model_config = config.model
  model_config.word_dim = 16
  model_config.hidden_dim, model_config.lstm_hidden = 32, 16
  model = msfml.MSFML(model_config, num_classes=len(readers.label_names(config)),
                      vocab_size=int(split.tokens.max()) + 1, num_pos=int(split.pos.max()) + 1,
                      num_entities=2)
  example = batching.example_batch(2, length)
  params = model.init({"params": jax.random.key(0), "dropout": jax.random.key(0)}, example,
                      train=False)["params"]

  def loss(params, batch):
    flat = jax.tree.map(lambda v: v.reshape((-1,) + v.shape[2:]), batch)
    out = model.apply({"params": params}, flat, train=True,
                      rngs={"dropout": jax.random.key(1)})
    return losses.total_loss(out, flat["label"], flat["weight"], config.loss, True)[0]

  grad = jax.jit(jax.value_and_grad(loss))
  (l_new, g_new), (l_old, g_old) = grad(params, new), grad(params, old)
  assert np.isfinite(l_new)
  np.testing.assert_allclose(l_new, l_old, rtol=1e-6, atol=1e-6)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6), g_new, g_old)
