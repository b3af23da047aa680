"""Both Bi-LSTM implementations (models/fusion.py, model.lstm_impl) against flax's
Bidirectional(RNN(OptimizedLSTMCell)) with seq_lengths: same parameter tree and initial
values, same outputs and gradients on real tokens."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from msfml_jax.models import fusion


class FlaxBiLSTM(nn.Module):
  """The reference, written out here as flax's documentation uses it."""
  hidden: int

  @nn.compact
  def __call__(self, t, mask):
    lengths = mask.sum(-1).astype(jnp.int32)
    rnn = nn.Bidirectional(nn.RNN(nn.OptimizedLSTMCell(self.hidden)),
                           nn.RNN(nn.OptimizedLSTMCell(self.hidden)))
    h = rnn(t, seq_lengths=lengths)
    return h * mask[..., None]


def _inputs():
  t = jax.random.normal(jax.random.key(1), (3, 7, 5))
  lengths = np.array([7, 4, 1])
  mask = jnp.asarray(np.arange(7)[None, :] < lengths[:, None])
  return t * mask[..., None], mask


IMPLS = pytest.mark.parametrize("impl", ["scan", "hoisted"])


@IMPLS
def test_same_parameters_and_initial_values(impl):
  t, mask = _inputs()
  ours = fusion.BiLSTM(6, impl).init(jax.random.key(0), t, mask)
  ref = FlaxBiLSTM(6).init(jax.random.key(0), t, mask)
  assert jax.tree_util.tree_structure(ours) == jax.tree_util.tree_structure(ref)
  jax.tree_util.tree_map(np.testing.assert_array_equal, ours, ref)


@IMPLS
def test_same_outputs_and_gradients(impl):
  t, mask = _inputs()
  params = FlaxBiLSTM(6).init(jax.random.key(0), t, mask)
  # Non-zero biases, so that a gate mix-up would show.
  params = jax.tree_util.tree_map(lambda p: p + 0.1 * jnp.ones_like(p), params)
  out = fusion.BiLSTM(6, impl).apply(params, t, mask)
  ref = FlaxBiLSTM(6).apply(params, t, mask)
  assert float(jnp.abs(ref).max()) > 0.05
  np.testing.assert_allclose(out, ref, atol=1e-6)
  # Padding stays zero, and the backward direction of the 1-token sentence saw nothing else.
  assert float(jnp.abs(out[2, 1:]).max()) == 0.0

  loss = lambda module: lambda p: jnp.sum(jnp.sin(module.apply(p, t, mask)))
  grads = jax.grad(loss(fusion.BiLSTM(6, impl)))(params)
  grads_ref = jax.grad(loss(FlaxBiLSTM(6)))(params)
  jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-6),
                         grads, grads_ref)


def test_hoisted_bfloat16_inputs_give_bfloat16_outputs():
  t, mask = _inputs()
  params = FlaxBiLSTM(6).init(jax.random.key(0), t, mask)
  out = fusion.BiLSTM(6, "hoisted").apply(params, t.astype(jnp.bfloat16), mask)
  ref = FlaxBiLSTM(6).apply(params, t, mask)
  assert out.dtype == jnp.bfloat16
  np.testing.assert_allclose(np.asarray(out, np.float32), ref, atol=3e-2)


def test_unknown_impl_is_refused():
  t, mask = _inputs()
  with pytest.raises(ValueError, match="model.lstm_impl"):
    fusion.BiLSTM(6, "cudnn").init(jax.random.key(0), t, mask)
