"""Tests of the model modules: shapes for every ablation, padding invariance, the GCN algebra."""

from __future__ import annotations

import itertools

import jax
import flax.linen as nn
import jax.numpy as jnp
import jraph
import ml_collections
import numpy as np
import pytest

from msfml_jax import config_base
from msfml_jax import losses
from msfml_jax import steps
from msfml_jax.models import embeddings
from msfml_jax.models import fusion
from msfml_jax.models import mscnn
from msfml_jax.models import msfml
from msfml_jax.models import msgcn

VOCAB, NUM_POS, WORD_DIM, NUM_CLASSES = 30, 8, 10, 5
T_DIM = WORD_DIM + 2 * 4 + 4     # t^wop width of tiny_config() with two entities


def tiny_config(**overrides) -> ml_collections.ConfigDict:
  m = config_base.model_config()
  m.hidden_dim = 16
  m.lstm_hidden = 8
  m.pos_dim = 4
  m.position_dim = 4
  m.max_relative_position = 5
  m.word_dim = WORD_DIM
  m.update(overrides)
  return m


def word_matrix(seed: int = 0) -> np.ndarray:
  w = np.random.default_rng(seed).normal(size=(VOCAB, WORD_DIM)).astype(np.float32)
  w[0] = 0.0
  return w


def make_batch(lengths, length: int, num_entities: int = 2, seed: int = 0,
               plm_dim: int = 0) -> dict[str, np.ndarray]:
  """A random but well-formed batch (docs/design.md): random trees, random hypernodes."""
  rng = np.random.default_rng(seed)
  b, e, l = len(lengths), num_entities, length
  batch = {
      "tokens": np.zeros((b, l), np.int32), "pos": np.zeros((b, l), np.int32),
      "deprel": np.zeros((b, l), np.int32), "positions": np.zeros((b, e, l), np.int32),
      "entity_mask": np.zeros((b, e, l), bool), "mask": np.zeros((b, l), bool),
      "adj": np.zeros((b, l, l), np.float32), "assign": np.zeros((b, l, l), np.float32),
      "coarse_adj": np.zeros((b, l, l), np.float32),
      "label": rng.integers(0, NUM_CLASSES, b).astype(np.int32),
      "weight": np.array([float(n > 0) for n in lengths], np.float32),
      "length": np.array(lengths, np.int32), "cross_sentence": np.zeros((b,), bool),
      "index": np.array([i if n else -1 for i, n in enumerate(lengths)], np.int32),
  }
  if plm_dim:
    batch["word_vectors"] = np.zeros((b, l, plm_dim), np.float32)
  for i, n in enumerate(lengths):
    if n == 0:
      continue
    batch["tokens"][i, :n] = rng.integers(2, VOCAB, n)
    batch["pos"][i, :n] = rng.integers(1, NUM_POS, n)
    batch["deprel"][i, :n] = rng.integers(1, 5, n)
    batch["mask"][i, :n] = True
    if plm_dim:
      batch["word_vectors"][i, :n] = rng.normal(size=(n, plm_dim))
    idx = np.arange(n)
    for k in range(e):
      start = rng.integers(0, n)
      end = min(n - 1, start + rng.integers(0, 2))
      batch["positions"][i, k, :n] = np.where(idx < start, idx - start,
                                              np.where(idx > end, idx - end, 0))
      batch["entity_mask"][i, k, start:end + 1] = True
    adj = np.eye(n, dtype=np.float32)
    for j in range(1, n):
      h = rng.integers(0, j)
      adj[j, h] = adj[h, j] = 1.0
    # Merge a random pair of tokens into one hypernode, the rest stay singletons.
    cluster = np.arange(n)
    if n >= 3:
      a, c = rng.choice(n, 2, replace=False)
      cluster[max(a, c)] = min(a, c)
    _, cluster = np.unique(cluster, return_inverse=True)
    assign = np.zeros((n, n), np.float32)
    assign[idx, cluster] = 1.0
    batch["adj"][i, :n, :n] = adj
    batch["assign"][i, :n, :n] = assign
    batch["coarse_adj"][i, :n, :n] = np.minimum(assign.T @ adj @ assign, 1.0)
  return batch


def pad_batch(batch: dict[str, np.ndarray], length: int, extra_rows: int) -> dict[str, np.ndarray]:
  """The same examples in a longer bucket plus empty batch-padding rows; junk distances on
  padding tokens check that they are masked."""
  old = batch["mask"].shape[1]
  token_axes = {"tokens": (1,), "pos": (1,), "deprel": (1,), "mask": (1,), "positions": (2,),
                "entity_mask": (2,), "adj": (1, 2), "assign": (1, 2), "coarse_adj": (1, 2),
                "word_vectors": (1,)}
  out = {}
  for key, v in batch.items():
    widths = [(0, 0)] * v.ndim
    widths[0] = (0, extra_rows)
    for ax in token_axes.get(key, ()):
      widths[ax] = (0, length - old)
    fill = 7 if key == "positions" else 0
    out[key] = np.pad(v, widths, constant_values=fill)
  return out


def init_and_apply(config, batch, train=False, word_embeddings=None, num_entities=2):
  model = msfml.MSFML(config, NUM_CLASSES, VOCAB, NUM_POS, num_entities)
  params = msfml.init_params(model, batch, word_embeddings=word_embeddings)
  out = model.apply({"params": params}, batch, train=train,
                    rngs={"dropout": jax.random.key(1)})
  return model, params, out


# --- Embeddings --------------------------------------------------------------------------


def test_embedder_concatenation_and_padding():
  cfg = tiny_config(input_dropout=0.0)
  batch = make_batch([5, 3, 0], 8)
  w = word_matrix()
  emb = embeddings.Embedder(cfg, VOCAB, NUM_POS)
  params = emb.init(jax.random.key(0), batch, train=False)
  params = {"params": embeddings.write_word_matrix(params["params"], w)}
  t = emb.apply(params, batch, train=False)
  assert t.shape == (3, 8, WORD_DIM + 2 * cfg.position_dim + cfg.pos_dim) == (3, 8, T_DIM)
  np.testing.assert_allclose(params["params"]["word_embed"]["embedding"], w)
  np.testing.assert_allclose(t[0, :5, :WORD_DIM], w[batch["tokens"][0, :5]])
  assert not np.any(np.asarray(t)[~batch["mask"]])
  # Distances beyond +-max are clipped to the table's first/last row.
  ids = embeddings.relative_position_ids(jnp.array([-100, -5, 0, 5, 100]), 5)
  np.testing.assert_array_equal(ids, [0, 0, 5, 10, 10])


def test_embedder_plm_and_frozen_words():
  cfg = tiny_config(word_input="plm", input_dropout=0.0)
  batch = make_batch([4, 2, 0], 8, plm_dim=12)
  emb = embeddings.Embedder(cfg, VOCAB, NUM_POS)
  params = emb.init(jax.random.key(0), batch, train=False)
  assert "word_embed" not in params["params"]
  assert emb.apply(params, batch, train=False).shape == (3, 8, 12 + 2 * 4 + 4)

  cfg = tiny_config(freeze_word_embeddings=True)
  emb = embeddings.Embedder(cfg, VOCAB, NUM_POS)
  params = emb.init(jax.random.key(0), batch, train=False)
  with pytest.raises(ValueError, match="word embedding matrix has shape"):
    embeddings.write_word_matrix(params["params"], word_matrix()[:, :3])
  grads = jax.grad(lambda p: emb.apply(p, batch, train=False).sum())(params)
  assert not np.any(grads["params"]["word_embed"]["embedding"])
  assert np.any(grads["params"]["pos_embed"]["embedding"])


def test_word_dropout_reads_the_unk_row_on_real_tokens_only():
  tokens = jnp.asarray(np.random.default_rng(0).integers(2, VOCAB, (64, 50)), jnp.int32)
  mask = jnp.arange(50)[None, :] < jnp.arange(64)[:, None] % 50 + 1   # lengths 1..50
  dropped = np.asarray(embeddings.drop_words(tokens, mask, 0.25, jax.random.key(3)))
  changed = dropped != np.asarray(tokens)
  assert np.all(dropped[changed] == 1)                    # <unk> (vocab.UNK_ID)
  assert not np.any(changed[~np.asarray(mask)])           # padding ids never change
  assert abs(changed.sum() / np.asarray(mask).sum() - 0.25) < 0.03

  # Through the Embedder: in training a dropped token carries the <unk> row; evaluation and
  # rate 0 never drop, and rate 0 draws no rng (same output as a model without the field).
  batch = make_batch([8, 8, 8], 8)
  w = word_matrix()
  out = {}
  for rate in (0.0, 0.5):
    emb = embeddings.Embedder(tiny_config(input_dropout=0.0, word_dropout=rate), VOCAB, NUM_POS)
    params = emb.init(jax.random.key(0), batch, train=False)
    params = {"params": embeddings.write_word_matrix(params["params"], w)}
    rngs = {"dropout": jax.random.key(7)}
    out[rate] = np.asarray(emb.apply(params, batch, train=True, rngs=rngs))[..., :WORD_DIM]
    np.testing.assert_allclose(emb.apply(params, batch, train=False)[..., :WORD_DIM],
                               w[batch["tokens"]])
  np.testing.assert_allclose(out[0.0], w[batch["tokens"]])
  unk = np.all(out[0.5] == w[1], axis=-1) & (np.asarray(batch["tokens"]) != 1)
  kept = np.all(out[0.5] == w[batch["tokens"]], axis=-1)
  assert np.all(unk | kept) and 0 < unk.sum() < unk.size


# --- MSCNN -------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [
    {}, {"combine": "sum"}, {"vertical": False},
    {"kernels": (3,), "dilation": 1, "vertical": False, "combine": "sum"}])
def test_mscnn_shapes_and_mask(kwargs):
  # Shapes as in the model tests below, so that eagerly compiled ops are shared.
  t = jax.random.normal(jax.random.key(0), (3, 8, T_DIM))
  mask = jnp.arange(8)[None, :] < jnp.array([[8], [4], [0]])
  t = t * mask[..., None]
  module = mscnn.MSCNN(16, **kwargs)
  params = module.init(jax.random.key(1), t, mask)
  h = module.apply(params, t, mask)
  assert h.shape == (3, 8, 16)
  assert not np.any(np.asarray(h)[~np.asarray(mask)])
  if not (kwargs.get("combine") == "sum" and kwargs.get("vertical", True)):
    # ReLU outputs; a summed vertical branch is a linear projection of its ReLU maps.
    assert np.all(np.asarray(h) >= 0)


def test_vertical_conv_equals_image_convolution():
  """The matmul form equals ReLU(conv (kernel (1, d/2), VALID) on [B, L, d, 1]), flattened,
  then a linear projection: f acts on the feature maps (eq. 2), not after the projection."""
  module = mscnn.VerticalConv(5, channels=3)
  t = jax.random.normal(jax.random.key(0), (2, 4, 12))
  params = module.init(jax.random.key(1), t)["params"]
  params = dict(params, bias=jnp.arange(3.0), proj_bias=jnp.ones(5))
  assert params["kernel"].shape == (6, 3)                     # d / 2 = 6
  assert params["proj_kernel"].shape == ((12 - 6 + 1) * 3, 5)
  conv = jax.lax.conv_general_dilated(
      t[..., None], params["kernel"][None, :, None, :], (1, 1), "VALID",
      dimension_numbers=("NHWC", "HWIO", "NHWC")) + params["bias"]
  expected = jax.nn.relu(conv).reshape(2, 4, -1) @ params["proj_kernel"] + params["proj_bias"]
  np.testing.assert_allclose(module.apply({"params": params}, t), expected,
                             rtol=1e-5, atol=1e-5)


def test_dilated_conv_skips_neighbours():
  """Kernel 3 with dilation 2: token 0 sees tokens 0 and 2 (and 4 for kernel 5), not 1."""
  module = mscnn.MSCNN(4, kernels=(3,), dilation=2, vertical=False, combine="sum")
  mask = jnp.ones((1, 6), bool)
  t = jax.random.normal(jax.random.key(0), (1, 6, 3))
  params = module.init(jax.random.key(1), t, mask)
  pre = lambda t: module.apply(params, t, mask, capture_intermediates=True)[1][
      "intermediates"]["horizontal_3"]["__call__"][0]
  jac = jax.jacobian(lambda t: pre(t)[0, 2].sum())(t)[0]    # d conv(token 2) / d t
  touched = np.any(np.asarray(jac) != 0, axis=-1)
  np.testing.assert_array_equal(touched, [True, False, True, False, True, False])


# --- GCN ---------------------------------------------------------------------------------


PATH_ADJ = np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1]], np.float32)   # 0-1-2 with self loops


def test_gcn_layer_hand_computed():
  h = jnp.array([[[1.0], [2.0], [3.0]]])
  layer = msgcn.GCNLayer(2)
  params = {"params": {"linear": {"kernel": jnp.array([[1.0, -1.0]])}}}
  out = layer.apply(params, h, jnp.asarray(PATH_ADJ)[None])
  # Degrees 2, 3, 2: row 0 = 1/2 * 1 + 1/sqrt(6) * 2, row 1 = (1 + 3)/sqrt(6) + 2/3,
  # row 2 = 2/sqrt(6) + 3/2; the second feature is negative everywhere, ReLU -> 0.
  s6 = np.sqrt(6.0)
  expected = np.array([[0.5 + 2 / s6, 0.0], [4 / s6 + 2 / 3, 0.0], [2 / s6 + 1.5, 0.0]])
  np.testing.assert_allclose(out[0], expected, rtol=1e-6)


def test_gcn_layer_matches_jraph():
  rng = np.random.default_rng(0)
  h = rng.normal(size=(3, 4)).astype(np.float32)
  w = rng.normal(size=(4, 5)).astype(np.float32)
  senders, receivers = np.nonzero(PATH_ADJ)
  graph = jraph.GraphsTuple(nodes=jnp.asarray(h), edges=None, senders=jnp.asarray(senders),
                            receivers=jnp.asarray(receivers), n_node=jnp.array([3]),
                            n_edge=jnp.array([len(senders)]), globals=None)
  conv = jraph.GraphConvolution(update_node_fn=lambda n: n @ w, add_self_edges=False,
                                symmetric_normalization=True)
  expected = jax.nn.relu(conv(graph).nodes)
  out = msgcn.GCNLayer(5).apply({"params": {"linear": {"kernel": jnp.asarray(w)}}},
                                jnp.asarray(h)[None], jnp.asarray(PATH_ADJ)[None])
  np.testing.assert_allclose(out[0], expected, rtol=1e-5, atol=1e-6)


def paper_example(pad_to: int = 8):
  """'He is sitting on the table': He-nsubj, is-aux, table-obl -> sitting; on-case, the-det
  -> table. Hypernode {He, table}; is, sitting, on, the stay single. Padded to `pad_to`."""
  he, is_, sitting, on, the, table = range(6)
  adj = np.zeros((pad_to, pad_to), np.float32)
  for a, b in [(he, sitting), (is_, sitting), (table, sitting), (on, table), (the, table)]:
    adj[a, b] = adj[b, a] = 1.0
  adj[range(6), range(6)] = 1.0
  cluster = [0, 1, 2, 3, 4, 0]                      # He and table -> coarse node 0
  assign = np.zeros((pad_to, pad_to), np.float32)
  assign[range(6), cluster] = 1.0
  coarse = np.zeros((pad_to, pad_to), np.float32)
  for a, b in [(0, 2), (1, 2), (3, 0), (4, 0)]:     # He/table-sitting, is-sitting, on-, the-
    coarse[a, b] = coarse[b, a] = 1.0
  coarse[range(5), range(5)] = 1.0
  mask = np.arange(pad_to) < 6
  return [jnp.asarray(a)[None] for a in (adj, assign, coarse, mask)]


def test_coarsen_lift_and_refined_adjacency():
  adj, assign, coarse_adj, mask = paper_example()
  np.testing.assert_array_equal(  # the coarse graph is the one the assignment induces
      np.minimum(np.einsum("bic,bij,bjd->bcd", assign, adj, assign), 1), coarse_adj)
  h = jax.random.normal(jax.random.key(0), (1, 8, 3)) * mask[..., None]
  hc = msgcn.coarsen(h, assign)
  np.testing.assert_allclose(hc[0, 0], h[0, 0] + h[0, 5], rtol=1e-6)
  np.testing.assert_allclose(hc[0, 3], h[0, 3], rtol=1e-6)
  lifted = msgcn.lift(hc, assign)
  np.testing.assert_allclose(lifted[0, 0], lifted[0, 5], rtol=1e-6)
  refined = np.asarray(msgcn.refined_adjacency(assign, coarse_adj, mask))[0]
  # He (and table): itself, table (same hypernode), sitting, on, the; not 'is'.
  np.testing.assert_array_equal(refined[0], [1, 0, 1, 1, 1, 1, 0, 0])
  np.testing.assert_array_equal(refined[0], refined[5])
  np.testing.assert_array_equal(refined[1], [0, 1, 1, 0, 0, 0, 0, 0])
  np.testing.assert_array_equal(refined, refined.T)
  assert not refined[6:].any() and not refined[:, 6:].any()


def test_coarse_layer_brings_on_to_he():
  """'on' is 3 hops from 'He' in the parse; through the hypernode {He, table} it is 1."""
  adj, assign, coarse_adj, mask = paper_example()
  he, on = 0, 3
  t = jax.random.uniform(jax.random.key(0), (1, 8, 6)) * mask[..., None]
  layer = msgcn.GCNLayer(16)
  p1 = layer.init(jax.random.key(1), t, adj)
  p2 = layer.init(jax.random.key(2), jnp.ones((1, 8, 16)), adj)

  def scales(t):
    h = layer.apply(p2, layer.apply(p1, t, adj), adj)      # two layers on the original graph
    coarse = layer.apply(p2, msgcn.coarsen(h, assign), coarse_adj)
    return h, msgcn.lift(coarse, assign)

  grad_original = jax.grad(lambda t: scales(t)[0][0, he].sum())(t)
  grad_coarse = jax.grad(lambda t: scales(t)[1][0, he].sum())(t)
  assert not np.any(grad_original[0, on])
  assert np.any(grad_coarse[0, on])

  # The same through the modules: multi-scale sees 'on' from 'He' with one layer, plain does not.
  for multi, depends in [(True, True), (False, False)]:
    module = msgcn.MSGCN(16, num_layers=1, multi_scale=multi)
    params = module.init(jax.random.key(3), t, adj, assign, coarse_adj, mask)
    g = jax.grad(lambda t: module.apply(params, t, adj, assign, coarse_adj, mask)[0, he].sum())(t)
    assert bool(np.any(g[0, on])) == depends
    y = module.apply(params, t, adj, assign, coarse_adj, mask)
    assert y.shape == (1, 8, 16) and not np.any(y[0, 6:])


def test_refined_adjacency_original_uses_the_dependency_graph():
  """model.refined_adjacency="original": the refined layer runs on adj itself (the reading
  in which refining restores the original topology), recomputed here layer by layer."""
  adj, assign, coarse_adj, mask = paper_example()
  t = jax.random.uniform(jax.random.key(0), (1, 8, 6)) * mask[..., None]
  module = msgcn.MSGCN(16, num_layers=1, refined="original")
  params = module.init(jax.random.key(3), t, adj, assign, coarse_adj, mask)["params"]
  gcn = lambda name, h, a: msgcn.GCNLayer(16).apply({"params": params[name]}, h, a)
  h = gcn("original_0", t, adj)
  lifted = msgcn.lift(gcn("coarse", msgcn.coarsen(h, assign), coarse_adj), assign)
  refined = gcn("refined", lifted + h, adj)
  combine = nn.Dense(16).apply({"params": params["combine"]},
                               jnp.concatenate([h, lifted, refined], -1))
  expected = jax.nn.relu(combine) * mask[..., None]
  np.testing.assert_allclose(module.apply({"params": params}, t, adj, assign, coarse_adj, mask),
                             expected, rtol=1e-5, atol=1e-6)
  lifted_module = msgcn.MSGCN(16, num_layers=1, refined="lifted")
  assert not np.allclose(lifted_module.apply({"params": params}, t, adj, assign, coarse_adj, mask),
                         expected)
  with pytest.raises(ValueError, match="refined_adjacency"):
    msgcn.MSGCN(16, num_layers=1, refined="nope").init(jax.random.key(3), t, adj, assign,
                                                       coarse_adj, mask)


def test_gcn_dropout_only_on_outputs_that_feed_another_gcn_layer():
  """model.gcn_dropout: C-GCN's / AGGCN's placement, between GCN layers; y itself is kept."""
  adj, assign, coarse_adj, mask = paper_example()
  t = jax.random.uniform(jax.random.key(0), (1, 8, 6)) * mask[..., None]
  args = (t, adj, assign, coarse_adj, mask)
  rngs = {"dropout": jax.random.key(4)}
  for layers, multi, dropped in [(1, False, False), (2, False, True), (1, True, True)]:
    plain = msgcn.MSGCN(16, num_layers=layers, multi_scale=multi)
    params = plain.init(jax.random.key(3), *args)
    module = msgcn.MSGCN(16, num_layers=layers, multi_scale=multi, dropout=0.5)
    reference = plain.apply(params, *args)
    np.testing.assert_allclose(module.apply(params, *args), reference)   # evaluation: off
    np.testing.assert_allclose(plain.apply(params, *args, train=True, rngs=rngs), reference)
    y = module.apply(params, *args, train=True, rngs=rngs)
    # One plain layer: its output is y, never dropped; else some inner output is.
    assert (not np.allclose(y, reference)) == dropped
    assert not np.any(y[0, 6:])                                           # padding stays 0


def test_rnn_dropout_on_the_bilstm_outputs_in_training_only():
  batch = make_batch([6, 4, 0], 8)
  _, params, out = init_and_apply(tiny_config(), batch, train=True)
  model = msfml.MSFML(tiny_config(rnn_dropout=0.5), NUM_CLASSES, VOCAB, NUM_POS, 2)
  rngs = {"dropout": jax.random.key(1)}
  dropped = model.apply({"params": params}, batch, train=True, rngs=rngs)
  assert not np.allclose(dropped["logits"], out["logits"])
  _, _, eval_out = init_and_apply(tiny_config(), batch)
  np.testing.assert_allclose(model.apply({"params": params}, batch, train=False)["logits"],
                             eval_out["logits"], rtol=1e-6)


def test_stack_and_refined_outputs_have_no_layer_after_the_papers():
  """mscnn_combine="stack": x is the four branches side by side (eq. 3); msgcn_output=
  "refined": y is the refined graph's GCN output (eq. 4-5). Neither adds a Dense + ReLU."""
  t = jax.random.normal(jax.random.key(0), (2, 7, T_DIM))
  mask = jnp.arange(7)[None, :] < jnp.array([[7], [4]])
  t = t * mask[..., None]
  cnn = mscnn.MSCNN(16, combine="stack")
  params = cnn.init(jax.random.key(1), t, mask)
  assert "combine" not in params["params"]
  x, inter = cnn.apply(params, t, mask, capture_intermediates=True)
  parts = [inter["intermediates"][f"horizontal_{k}"]["__call__"][0] for k in (3, 4, 5)]
  np.testing.assert_allclose(x[..., :12], jax.nn.relu(jnp.concatenate(parts, -1)) *
                             mask[..., None], rtol=1e-6)
  with pytest.raises(ValueError, match="divisible"):
    mscnn.MSCNN(18, combine="stack").init(jax.random.key(1), t, mask)
  adj, assign, coarse_adj, gmask = paper_example()
  tg = jax.random.uniform(jax.random.key(2), (1, 8, 6)) * gmask[..., None]
  gcn = msgcn.MSGCN(16, num_layers=1, output="refined")
  gparams = gcn.init(jax.random.key(3), tg, adj, assign, coarse_adj, gmask)
  assert "combine" not in gparams["params"]
  y, ginter = gcn.apply(gparams, tg, adj, assign, coarse_adj, gmask, capture_intermediates=True)
  np.testing.assert_allclose(y, ginter["intermediates"]["refined"]["__call__"][0], rtol=1e-6)


def test_branch_layernorm_keeps_half_the_units_firing():
  """model.branch_norm="layernorm": a bias-free LayerNorm before the combining ReLU, so a
  shared negative offset cannot switch every unit off (mscnn.branch_activation)."""
  pre = jax.random.normal(jax.random.key(0), (2, 7, 32)) * 0.1 - 5.0   # all negative
  assert not np.any(mscnn.branch_activation(pre, "none"))
  module = mscnn.MSCNN(16, norm="layernorm")
  t = jax.random.normal(jax.random.key(1), (2, 7, T_DIM))
  mask = jnp.ones((2, 7), bool)
  params = module.init(jax.random.key(2), t, mask)
  assert "norm" in params["params"] and "bias" not in params["params"]["norm"]

  class Activation(nn.Module):
    norm: str

    @nn.compact
    def __call__(self, x):
      return mscnn.branch_activation(x, self.norm)

  act = Activation("layernorm")
  fired = np.asarray(act.apply(act.init(jax.random.key(0), pre), pre) > 0)
  assert 0.3 < fired.mean() < 0.7
  with pytest.raises(ValueError, match="branch_norm"):
    Activation("batchnorm").init(jax.random.key(0), pre)


def test_token_layernorm_leaves_no_unit_off_at_every_token_of_a_record():
  """model.branch_norm="token_layernorm": a unit's offset shared by a record's tokens (which
  LayerNorm over units keeps) is removed first, so every unit fires at some real token of
  each record; padding tokens do not enter the mean."""

  class Activation(nn.Module):
    norm: str

    @nn.compact
    def __call__(self, x, mask):
      return mscnn.branch_activation(x, self.norm, mask)

  keys = jax.random.split(jax.random.key(3), 3)
  offsets = jax.random.normal(keys[0], (2, 1, 32)) * 5.0      # per record and unit
  pre = offsets + 0.1 * jax.random.normal(keys[1], (2, 7, 32))
  mask = jnp.array([[1] * 7, [1] * 4 + [0] * 3], bool)
  pooled = {}
  for norm in ("layernorm", "token_layernorm"):
    act = Activation(norm)
    out = np.asarray(act.apply(act.init(keys[2], pre, mask), pre, mask))
    pooled[norm] = np.stack([out[0].max(0), out[1, :4].max(0)])
  assert (pooled["layernorm"] == 0).mean() > 0.3             # the offset decides the sign
  assert (pooled["token_layernorm"] > 0).all()
  # The second record's mean is over its 4 real tokens: padding rows with huge values change
  # nothing at the real ones.
  act = Activation("token_layernorm")
  params = act.init(keys[2], pre, mask)
  padded = pre.at[1, 4:].set(1e3)
  np.testing.assert_allclose(act.apply(params, padded, mask)[1, :4],
                             act.apply(params, pre, mask)[1, :4], rtol=1e-5, atol=1e-6)
  with pytest.raises(ValueError, match="token mask"):
    act.init(keys[2], pre, None)


def test_branch_unit_gives_units_off_at_every_token_a_gradient():
  """model.branch_unit: leaky ReLU and GELU keep a gradient on a unit that is below zero at
  every token (ReLU's is exactly 0: the unit is dead), both encoders take the setting, and the
  dead fraction in metrics.jsonl counts such units whatever f is (pooled value <= 0)."""
  pre = jax.random.normal(jax.random.key(0), (2, 7, 8)) * 0.1 - 2.0   # all negative

  def grad_of(unit):
    return jax.grad(lambda p: mscnn.branch_activation(p, "none", unit=unit).sum())(pre)

  assert not np.any(grad_of("relu"))
  for unit in ("leaky_relu", "gelu"):
    out = np.asarray(mscnn.branch_activation(pre, "none", unit=unit))
    assert (out < 0).all() and np.all(np.asarray(grad_of(unit)) != 0)
    dead = steps._dead_features({"x": out.max(1), "y": np.maximum(out.max(1), 0)},
                                jnp.ones(2))
    assert float(dead["x_dead"]) == float(dead["y_dead"]) == 1.0
  with pytest.raises(ValueError, match="branch_unit"):
    mscnn.branch_activation(pre, "none", unit="tanh")
  config = config_base.model_config()
  config.branch_unit = "gelu"
  assert msfml.lexical_encoder(config).unit == msfml.syntactic_encoder(config).unit == "gelu"
  del config.branch_unit                 # a config saved before the setting: ReLU
  assert msfml.lexical_encoder(config).unit == "relu"


# --- Fusion ------------------------------------------------------------------------------


def test_bi_attention_against_loops_and_mask():
  rng = np.random.default_rng(0)
  glo = rng.normal(size=(1, 4, 3)).astype(np.float32)
  loc = rng.normal(size=(1, 4, 3)).astype(np.float32)
  mask = np.array([[True, True, True, False]])
  glo[0, 3] = loc[0, 3] = 0.0
  out_glo, out_loc = fusion.bi_attention(jnp.asarray(glo), jnp.asarray(loc), jnp.asarray(mask))
  g, lo = glo[0, :3], loc[0, :3]
  s = g @ lo.T                                             # s[i, j] = h^glo_i . h^loc_j
  a = np.exp(s) / np.exp(s).sum(1, keepdims=True)          # softmax over j
  b = np.exp(s.T) / np.exp(s.T).sum(1, keepdims=True)      # softmax over i
  np.testing.assert_allclose(out_glo[0, :3], g + a @ g, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(out_loc[0, :3], lo + b @ lo, rtol=1e-5, atol=1e-6)
  assert not np.any(out_glo[0, 3]) and not np.any(out_loc[0, 3])
  # A temperature divides the scores (model.attention_scale="sqrt_d" uses sqrt(D)).
  scaled_glo, _ = fusion.bi_attention(jnp.asarray(glo), jnp.asarray(loc), jnp.asarray(mask), 2.0)
  a2 = np.exp(s / 2) / np.exp(s / 2).sum(1, keepdims=True)
  np.testing.assert_allclose(scaled_glo[0, :3], g + a2 @ g, rtol=1e-5, atol=1e-6)


def test_conv_gate_and_bilstm_shapes():
  mask = jnp.arange(8)[None, :] < jnp.array([[8], [2], [0]])
  x = jax.random.normal(jax.random.key(0), (3, 8, 16)) * mask[..., None]
  y = jax.nn.relu(jax.random.normal(jax.random.key(1), (3, 8, 16))) * mask[..., None]
  gate = fusion.ConvGate(16)
  h = gate.apply(gate.init(jax.random.key(2), x, y, mask), x, y, mask)
  assert h.shape == (3, 8, 16) and not np.any(h[1, 2:]) and not np.any(h[2])
  t = jax.random.normal(jax.random.key(0), (3, 8, T_DIM)) * mask[..., None]
  lstm = fusion.BiLSTM(8)
  h = lstm.apply(lstm.init(jax.random.key(3), t, mask), t, mask)
  assert h.shape == (3, 8, 16) and not np.any(h[1, 2:]) and not np.any(h[2])


# --- Full model --------------------------------------------------------------------------


ABLATIONS = list(itertools.product(["multi", "plain", "none"], repeat=2))


@pytest.mark.parametrize("cnn,gcn", ABLATIONS)
def test_model_shapes_every_ablation(cnn, gcn):
  cfg = tiny_config(mscnn=cnn, msgcn=gcn)
  batch = make_batch([6, 3, 0], 8)
  _, params, out = init_and_apply(cfg, batch, train=True, word_embeddings=word_matrix())
  assert out["logits"].shape == (3, NUM_CLASSES)
  assert out["z"].shape == (3, 16)
  assert out["x"].shape == out["y"].shape == (3, 16)
  assert np.any(out["x"]) == (cnn != "none")
  assert np.any(out["y"]) == (gcn != "none")
  assert ("mscnn" in params) == (cnn == "multi") and ("cnn" in params) == (cnn == "plain")
  assert ("msgcn" in params) == (gcn == "multi") and ("gcn" in params) == (gcn == "plain")
  assert all(np.all(np.isfinite(v)) for v in out.values())


def test_model_variants():
  """h^glo projection (2 * lstm_hidden != hidden_dim), mean entity pooling, three entities,
  summed MSCNN branches without the vertical one, one original GCN layer."""
  cfg = tiny_config(lstm_hidden=5, entity_pooling="mean", mscnn_combine="sum",
                    mscnn_vertical=False, gcn_layers=1)
  batch = make_batch([6, 3, 0], 8, num_entities=3)
  _, params, out = init_and_apply(cfg, batch, num_entities=3)
  assert "glo_proj" in params
  assert out["logits"].shape == (3, NUM_CLASSES) and out["z"].shape == (3, 16)
  with pytest.raises(ValueError, match="entity slots"):
    init_and_apply(cfg, make_batch([2], 8), num_entities=3)


@pytest.mark.parametrize("cnn,gcn", [("multi", "multi"), ("plain", "plain")])
def test_padding_invariance(cnn, gcn):
  cfg = tiny_config(mscnn=cnn, msgcn=gcn)
  batch = make_batch([7, 4, 1], 8, seed=3)
  model, params, _ = init_and_apply(cfg, batch, word_embeddings=word_matrix())
  # Zero-initialised biases would hide leaks (an LSTM fed zeros from a zero state stays at
  # zero), so perturb every parameter.
  rng = np.random.default_rng(7)
  params = jax.tree_util.tree_map(
      lambda p: p + 0.3 * rng.normal(size=p.shape).astype(np.float32), params)
  out = model.apply({"params": params}, batch, train=False)
  padded = pad_batch(batch, 13, extra_rows=2)
  # New shapes: one compiled program is cheaper than compiling every op eagerly.
  out_padded = jax.jit(model.apply, static_argnames="train")(
      {"params": params}, padded, train=False)
  for key in out:
    np.testing.assert_allclose(out_padded[key][:3], out[key], rtol=1e-5, atol=1e-5,
                               err_msg=key)


def test_jit_forward_backward_finite():
  cfg = tiny_config()
  lcfg = config_base.loss_config()
  single = make_batch([6, 4, 0], 8, seed=5)   # a batch-padding row (length 0, weight 0)
  triplet = {k: np.concatenate([v, v[::-1], np.roll(v, 1, 0)]) for k, v in single.items()}
  model = msfml.MSFML(cfg, NUM_CLASSES, VOCAB, NUM_POS, 2)
  params = msfml.init_params(model, single, word_embeddings=word_matrix())
  np.testing.assert_array_equal(params["embedder"]["word_embed"]["embedding"], word_matrix())

  @jax.jit
  def loss_and_grads(params, batch, key):
    def loss_fn(p):
      out = model.apply({"params": p}, batch, train=True, rngs={"dropout": key})
      return losses.total_loss(out, batch["label"], batch["weight"], lcfg,
                               msfml.has_features(cfg))
    return jax.value_and_grad(loss_fn, has_aux=True)(params)

  (loss, metrics), grads = loss_and_grads(params, triplet, jax.random.key(1))
  assert np.isfinite(loss) and set(metrics) == {"loss", "ce", "rel", "rep", "pooled_l2", "accuracy"}
  assert all(np.all(np.isfinite(g)) for g in jax.tree_util.tree_leaves(grads))
  assert np.any(grads["mscnn"]["horizontal_3"]["kernel"])
  assert np.any(grads["msgcn"]["coarse"]["linear"]["kernel"])
  assert msfml.count_parameters(params) == sum(
      x.size for x in jax.tree_util.tree_leaves(params))
