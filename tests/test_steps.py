"""The optimizer: learning-rate schedules (per epoch, AGGCN's on-plateau rule, the floor),
the branches' learning-rate scales and the parameters' moving average."""

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


def test_min_learning_rate_floors_both_rules():
  # on_plateau: cuts stop at the floor (0.1 of a 0.5 rate = scale 0.2), never below it.
  optim = _sgd_config(decay_rule="on_plateau", decay_epoch=0, lr_decay=0.5,
                      learning_rate=0.5, min_learning_rate=0.1)
  scale, scales = 1.0, []
  for _ in range(4):
    scale = steps.plateau_lr_scale(optim, scale, 9, 0.9, 0.1)  # the loss rose: a cut
    scales.append(scale)
  np.testing.assert_allclose(scales, [0.5, 0.25, 0.2, 0.2])
  # A scale already below a floor set later is kept (a resumed run does not jump up).
  assert steps.plateau_lr_scale(optim, 0.1, 9, 0.9, 0.1) == 0.1
  # per_epoch: the staircase stops at the floor; without one it goes on down.
  floored = steps.make_schedule(_sgd_config(learning_rate=0.1, decay_epoch=0, lr_decay=0.5,
                                            min_learning_rate=0.03), 10)
  np.testing.assert_allclose([floored(s) for s in (0, 10, 20, 30)], [0.1, 0.05, 0.03, 0.03],
                             rtol=1e-6)
  free = steps.make_schedule(_sgd_config(learning_rate=0.1, decay_epoch=0, lr_decay=0.5), 10)
  np.testing.assert_allclose(free(30), 0.0125, rtol=1e-6)


def test_warmup_ramps_the_rate_then_leaves_the_decay_where_it_was():
  # 2 epochs of 10 steps: step s trains at (s + 1) / 20 of the rate, then the schedule as
  # without warm-up (the per-epoch decay still starts after epoch decay_epoch + 1).
  optim = _sgd_config(learning_rate=0.1, decay_epoch=2, lr_decay=0.5, warmup_epochs=2.0)
  warm = steps.make_schedule(optim, 10)
  np.testing.assert_allclose([warm(s) for s in (0, 9, 19, 29, 30, 40)],
                             [0.005, 0.05, 0.1, 0.1, 0.05, 0.025], rtol=1e-6)
  # Under on_plateau the ramp multiplies the constant rate (lr_scale multiplies both).
  plateau = steps.make_schedule(_sgd_config(decay_rule="on_plateau", learning_rate=0.5,
                                            warmup_epochs=0.5), 10)
  np.testing.assert_allclose([plateau(s) for s in (0, 4, 5, 1000)], [0.1, 0.5, 0.5, 0.5],
                             rtol=1e-6)


def test_update_average_warms_up_then_uses_the_decay():
  average, params = {"w": jnp.zeros(2)}, {"w": jnp.ones(2)}
  # Step 0: decay min(0.999, 1/10) = 0.1, so the average moves 90% of the way.
  np.testing.assert_allclose(steps.update_average(average, params, jnp.int32(0), 0.999)["w"],
                             0.9, rtol=1e-6)
  # Late steps: the configured decay.
  np.testing.assert_allclose(
      steps.update_average(average, params, jnp.int32(100_000), 0.999)["w"], 0.001, rtol=1e-4)


def test_update_average_from_a_start_step_is_the_uniform_mean_of_every_later_step():
  rng = np.random.default_rng(0)
  history = [{"w": jnp.asarray(rng.normal(size=3), jnp.float32)} for _ in range(8)]
  average = {"w": jnp.full(3, 100.0)}  # whatever the moving average held before
  for step, params in enumerate(history):
    average = steps.update_average(average, params, jnp.int32(step), 0.999, start_step=3)
    if step == 2:  # before the start: the moving average, which still remembers the 100s
      assert not np.allclose(average["w"], params["w"], atol=0.1)
  np.testing.assert_allclose(average["w"], np.mean([h["w"] for h in history[3:]], 0),
                             rtol=1e-5, atol=1e-6)


class _Tiny(steps.nn.Module):
  @steps.nn.compact
  def __call__(self, batch, train):
    del train
    out = steps.nn.Dense(3, name="classifier")(batch["x"])
    zeros = jnp.zeros((out.shape[0], 2))
    return {"logits": out, "z": zeros + out[:, :2], "x": zeros, "y": zeros}


_BATCH = {"x": jnp.ones((1, 4, 2)), "label": jnp.array([[0, 1, 2, 0]]),
          "weight": jnp.ones((1, 4))}
_LOSS = steps.ml_collections.ConfigDict({"msml": False, "pooled_l2": 0.0})


def test_train_step_keeps_the_moving_average_and_evaluation_uses_it():
  tx = steps.make_optimizer(_sgd_config(learning_rate=0.1), 10)
  plain = steps.create_train_state(_Tiny(), {"x": jnp.ones((2, 2))}, tx, seed=0)
  assert plain.ema_params is None and steps.averaged(plain) is plain
  state = steps.create_train_state(_Tiny(), {"x": jnp.ones((2, 2))}, tx, seed=0, average=True)
  start = state.params["classifier"]["kernel"]
  np.testing.assert_array_equal(state.ema_params["classifier"]["kernel"], start)
  trained, _ = steps.train_step(state, _BATCH, loss_config=_LOSS, has_features=False,
                                ema_decay=0.999)
  new = trained.params["classifier"]["kernel"]
  assert np.abs(new - start).max() > 0
  # Step 0's decay is 0.1: the average is 0.1 * old + 0.9 * new.
  np.testing.assert_allclose(trained.ema_params["classifier"]["kernel"], 0.1 * start + 0.9 * new,
                             rtol=1e-5, atol=1e-7)
  # The trained parameters are exactly those of a run without the average.
  unaveraged, _ = steps.train_step(plain, _BATCH, loss_config=_LOSS, has_features=False)
  np.testing.assert_array_equal(unaveraged.params["classifier"]["kernel"], new)
  np.testing.assert_array_equal(steps.averaged(trained).params["classifier"]["kernel"],
                                trained.ema_params["classifier"]["kernel"])


def test_train_state_lr_scale_scales_the_update():
  batch, loss_config = _BATCH, _LOSS
  tx = steps.make_optimizer(_sgd_config(learning_rate=0.1), 10)
  state = steps.create_train_state(_Tiny(), {"x": jnp.ones((2, 2))}, tx, seed=0)
  deltas = []
  for scale in (1.0, 0.25):
    s = state.replace(lr_scale=jnp.float32(scale))
    new, _ = steps.train_step(s, batch, loss_config=loss_config, has_features=False)
    deltas.append(new.params["classifier"]["kernel"] - state.params["classifier"]["kernel"])
  np.testing.assert_allclose(deltas[1], 0.25 * deltas[0], rtol=1e-4, atol=1e-6)
  assert np.abs(deltas[0]).max() > 0


def test_decay_word_embeddings_false_leaves_only_the_word_table_undecayed():
  # With zero gradients an update is the decay alone: -lr * weight_decay * param.
  params = {"embedder": {"word_embed": {"embedding": jnp.full(3, 2.0)},
                         "pos_embed": {"embedding": jnp.full(3, 2.0)}},
            "bilstm": {"w": jnp.full(3, 2.0)}}
  zeros = jax.tree.map(jnp.zeros_like, params)
  for flag, word_update in ((True, -0.1 * 0.5 * 2.0), (False, 0.0)):
    tx = steps.make_optimizer(_sgd_config(learning_rate=0.1, weight_decay=0.5,
                                          decay_word_embeddings=flag), 10)
    updates, _ = tx.update(zeros, tx.init(params), params)
    np.testing.assert_allclose(updates["embedder"]["word_embed"]["embedding"], word_update)
    np.testing.assert_allclose(updates["embedder"]["pos_embed"]["embedding"], -0.1)
    np.testing.assert_allclose(updates["bilstm"]["w"], -0.1)
