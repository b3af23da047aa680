"""The optimizer: learning-rate schedule and the graph branch's learning-rate scale."""

import jax
import jax.numpy as jnp
import numpy as np

from msfml_jax import config_base, steps

PARAMS = {"msgcn": {"w": jnp.ones(3)}, "bilstm": {"w": jnp.ones(3)}}


def _sgd_config(**overrides):
  optim = config_base.optim_config()
  optim.weight_decay = 0.0
  optim.max_grad_norm = 1e9
  optim.update(overrides)
  return optim


def _one_update(optim):
  grads = jax.tree.map(jnp.ones_like, PARAMS)
  tx = steps.make_optimizer(optim, steps_per_epoch=10)
  updates, _ = tx.update(grads, tx.init(PARAMS), PARAMS)
  return updates


def test_schedule_decays_once_per_epoch_after_decay_epoch():
  # AGGCN/C-GCN's convention: the rate is multiplied at the end of every epoch > decay_epoch
  # (1-based), so with decay_epoch 2 epochs 1-3 train at the full rate and epoch 4 at half.
  schedule = steps.make_schedule(_sgd_config(learning_rate=0.1, decay_epoch=2, lr_decay=0.5), 10)
  np.testing.assert_allclose([schedule(s) for s in (0, 29, 30, 39, 40)],
                             [0.1, 0.1, 0.05, 0.05, 0.025], rtol=1e-6)


def test_msgcn_lr_scale_scales_only_the_graph_branch():
  plain = _one_update(_sgd_config(learning_rate=0.2))
  scaled = _one_update(_sgd_config(learning_rate=0.2, msgcn_lr_scale=0.25))
  np.testing.assert_allclose(plain["msgcn"]["w"], -0.2)
  np.testing.assert_allclose(scaled["msgcn"]["w"], -0.05)
  np.testing.assert_allclose(scaled["bilstm"]["w"], plain["bilstm"]["w"])


def test_msgcn_lr_scale_keeps_the_optimizer_state_structure():
  # A run may change the scale and resume from checkpoints written without it.
  plain = steps.make_optimizer(_sgd_config(momentum=0.9), 10).init(PARAMS)
  scaled = steps.make_optimizer(_sgd_config(momentum=0.9, msgcn_lr_scale=0.5), 10).init(PARAMS)
  assert jax.tree.structure(plain) == jax.tree.structure(scaled)
