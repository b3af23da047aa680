"""The optimizer: learning-rate schedules (per epoch, AGGCN's on-plateau rule) and the
branches' learning-rate scales."""

import jax
import jax.numpy as jnp
import numpy as np

from msfml_jax import config_base, steps

PARAMS = {"msgcn": {"w": jnp.ones(3)}, "mscnn": {"w": jnp.ones(3)}, "bilstm": {"w": jnp.ones(3)}}


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


def test_mscnn_lr_scale_scales_only_the_lexical_branch():
  scaled = _one_update(_sgd_config(learning_rate=0.2, mscnn_lr_scale=0.5))
  np.testing.assert_allclose(scaled["mscnn"]["w"], -0.1)
  np.testing.assert_allclose(scaled["msgcn"]["w"], -0.2)
  np.testing.assert_allclose(scaled["bilstm"]["w"], -0.2)


def test_on_plateau_rule_is_aggcns():
  # Cartus/AGGCN semeval/train.py: after epoch > decay_epoch, x lr_decay when the epoch's
  # training loss rose by more than 0.001 over the previous epoch's.
  optim = _sgd_config(decay_rule="on_plateau", decay_epoch=5, lr_decay=0.9)
  rule = lambda epoch, loss, prev: steps.plateau_lr_scale(optim, 1.0, epoch, loss, prev)
  assert rule(6, 0.5021, 0.5) == 0.9                 # rose by 0.0021, epoch 6 > 5
  assert rule(6, 0.5005, 0.5) == 1.0                 # rose by less than 0.001
  assert rule(6, 0.4, 0.5) == 1.0                    # fell
  assert rule(5, 0.9, 0.5) == 1.0                    # not after decay_epoch yet
  assert rule(6, 0.9, None) == 1.0                   # no previous epoch
  per_epoch = _sgd_config(decay_rule="per_epoch")
  assert steps.plateau_lr_scale(per_epoch, 1.0, 9, 0.9, 0.1) == 1.0
  # The schedule itself is constant under on_plateau; TrainState.lr_scale carries the decay.
  schedule = steps.make_schedule(_sgd_config(decay_rule="on_plateau", learning_rate=0.5), 10)
  assert float(schedule(0)) == float(schedule(10_000)) == 0.5


def test_train_state_lr_scale_scales_the_update():
  import flax.linen as nn  # pylint: disable=import-outside-toplevel

  class Tiny(nn.Module):
    @nn.compact
    def __call__(self, batch, train):
      del train
      out = nn.Dense(3, name="classifier")(batch["x"])
      zeros = jnp.zeros((out.shape[0], 2))
      return {"logits": out, "z": zeros + out[:, :2], "x": zeros, "y": zeros}

  batch = {"x": jnp.ones((1, 4, 2)), "label": jnp.array([[0, 1, 2, 0]]),
           "weight": jnp.ones((1, 4))}
  loss_config = steps.ml_collections.ConfigDict({"msml": False, "pooled_l2": 0.0})
  tx = steps.make_optimizer(_sgd_config(learning_rate=0.1), 10)
  state = steps.create_train_state(Tiny(), {"x": jnp.ones((2, 2))}, tx, seed=0)
  deltas = []
  for scale in (1.0, 0.25):
    s = state.replace(lr_scale=jnp.float32(scale))
    new, _ = steps.train_step(s, batch, loss_config=loss_config, has_features=False)
    deltas.append(new.params["classifier"]["kernel"] - state.params["classifier"]["kernel"])
  np.testing.assert_allclose(deltas[1], 0.25 * deltas[0], rtol=1e-4, atol=1e-6)
  assert np.abs(deltas[0]).max() > 0
