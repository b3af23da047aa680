"""Accelerator-friendly shapes (issue 11, item 5): `batch_row_multiple` pads each role's
batch with inert rows; `model.width_multiple` rounds the widths up and zero-pads t."""

import json

import jax
import numpy as np

from msfml_jax import losses, train
from msfml_jax.data import triplets
from msfml_jax.models import msfml
from conftest import tiny_config


def test_plan_rows_pad_every_batch_with_empty_slots():
  labels = np.array([0, 1, 2] * 7)
  sampler = triplets.TripletSampler(labels, np.arange(21) % 5 + 3, 3, seed=0)
  plain = sampler.plan(0, 5, None)
  padded = sampler.plan(0, 5, None, rows=8)
  assert padded.anchors.shape == (5, 8)
  for role in ("anchors", "positives", "negatives"):
    np.testing.assert_array_equal(getattr(padded, role)[:, :5], getattr(plain, role))
    assert (getattr(padded, role)[:, 5:] == -1).all()


def test_padding_rows_leave_the_loss_and_gradients_unchanged(tiny_cache_dir, tmp_path):
  config = tiny_config(tiny_cache_dir, {"batch_size": 6, "model.dropout": 0.0,
                                        "model.input_dropout": 0.0})
  run = train.setup(config, tmp_path / "plain")
  padded_config = tiny_config(tiny_cache_dir, {"batch_size": 6, "batch_row_multiple": 8,
                                               "model.dropout": 0.0, "model.input_dropout": 0.0})
  padded_run = train.setup(padded_config, tmp_path / "padded")
  batch = train.train_batch(run, train.epoch_plan(run, 0, None), 0)
  padded = train.train_batch(padded_run, train.epoch_plan(padded_run, 0, None), 0)
  assert batch["tokens"].shape[1] == 6 and padded["tokens"].shape[1] == 8
  assert float(padded["weight"][:, 6:].sum()) == 0.0
  params = train.initial_state(run).params

  def loss(params, batch):
    flat = jax.tree.map(lambda v: v.reshape((-1,) + v.shape[2:]), batch)
    out = run.model.apply({"params": params}, flat, train=True,
                          rngs={"dropout": jax.random.key(1)})
    return losses.total_loss(out, flat["label"], flat["weight"], config.loss, True)[0]

  grad = jax.jit(jax.value_and_grad(loss))
  (l_plain, g_plain), (l_pad, g_pad) = grad(params, batch), grad(params, padded)
  np.testing.assert_allclose(l_pad, l_plain, rtol=1e-6)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
               g_pad, g_plain)
  run.checkpointer.close()
  padded_run.checkpointer.close()


def test_wide_padded_hoisted_model_trains(tiny_cache_dir, tmp_path):
  config = tiny_config(tiny_cache_dir, {"model.width_multiple": 128, "batch_row_multiple": 8,
                                        "model.lstm_impl": "hoisted",
                                        "num_epochs": 2, "max_eval_examples": 32,
                                        "compilation_cache_dir": ""})
  assert msfml.round_up(200, 128) == 256 and msfml.round_up(100, 0) == 100
  results = train.train_and_evaluate(config, str(tmp_path / "run"))
  run = train.setup(config, tmp_path / "shapes")
  params = train.initial_state(run).params
  hidden = msfml.round_up(config.model.hidden_dim, 128)
  assert run.model.config.hidden_dim == hidden == 2 * run.model.config.lstm_hidden
  assert params["joint"]["kernel"].shape[-1] == hidden
  assert "glo_proj" not in params  # h^glo already has hidden_dim columns
  # The token features padded to 128 columns: the BiLSTM's input kernel has 128 rows.
  assert params["bilstm"]["OptimizedLSTMCell_0"]["ii"]["kernel"].shape[0] == 128
  rows = [json.loads(l) for l in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
  loss = [r["metrics"]["loss"] for r in rows if r["split"] == "train_epoch"]
  assert len(loss) == 2 and np.isfinite(loss).all()
  assert results["steps"] == 2 * run.steps_per_epoch
  run.checkpointer.close()
