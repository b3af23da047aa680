"""Flax (linen) BERT / RoBERTa encoder (paper §3.3.2: contextualised word embeddings).

transformers is our source of configs, tokenizers and checkpoints (see `convert.py`); this
module is pure JAX so it runs under `jax.jit` on any backend. The parameter tree mirrors
HF's layout with linen names:

  embeddings/{word_embeddings, position_embeddings, token_type_embeddings}/embedding,
  embeddings/layer_norm/{scale, bias},
  layer_{i}/attention/{query, key, value, output}/{kernel, bias},
  layer_{i}/{attention_norm, output_norm}/{scale, bias},
  layer_{i}/{intermediate, output}/{kernel, bias}.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array
Params = dict[str, Any]

# Activations by HF `hidden_act` name. "gelu" is the exact erf form; the "new" / tanh
# variants are the approximation (GPT-2 style), a real numeric difference (~1e-3).
ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "gelu": lambda x: nn.gelu(x, approximate=False),
    "gelu_new": lambda x: nn.gelu(x, approximate=True),
    "gelu_pytorch_tanh": lambda x: nn.gelu(x, approximate=True),
    "gelu_fast": lambda x: nn.gelu(x, approximate=True),
    "relu": nn.relu,
    "silu": nn.silu,
    "swish": nn.silu,
}


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
  """Architecture of a BERT-family encoder (the subset of HF's config we use)."""
  vocab_size: int
  hidden_size: int = 768
  num_layers: int = 12
  num_heads: int = 12
  intermediate_size: int = 3072
  hidden_act: str = "gelu"
  layer_norm_eps: float = 1e-12
  max_position_embeddings: int = 512
  type_vocab_size: int = 2
  pad_token_id: int = 0
  hidden_dropout: float = 0.1
  attention_dropout: float = 0.1
  # "roberta": position ids start at pad_token_id + 1 and skip padding (HF's
  # create_position_ids_from_input_ids); "bert": plain 0..T-1.
  model_type: str = "bert"


def position_ids_from_input_ids(input_ids: Array, padding_idx: int) -> Array:
  """RoBERTa position ids: padding_idx + 1 + rank among non-padding tokens; pads get padding_idx."""
  mask = (input_ids != padding_idx).astype(jnp.int32)
  return jnp.cumsum(mask, axis=-1) * mask + padding_idx


def _dense(features: int, precision: Any, dtype: Any, name: str) -> nn.Dense:
  return nn.Dense(features, precision=precision, dtype=dtype, name=name,
                  kernel_init=nn.initializers.normal(0.02))


class Embeddings(nn.Module):
  """Word + position + token-type embeddings, then LayerNorm and dropout."""
  config: EncoderConfig
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, input_ids: Array, token_type_ids: Array, position_ids: Array,
               deterministic: bool) -> Array:
    cfg = self.config
    init = nn.initializers.normal(0.02)
    embed = lambda n, name: nn.Embed(n, cfg.hidden_size, embedding_init=init, name=name)
    x = (embed(cfg.vocab_size, "word_embeddings")(input_ids)
         + embed(cfg.max_position_embeddings, "position_embeddings")(position_ids)
         + embed(cfg.type_vocab_size, "token_type_embeddings")(token_type_ids))
    x = nn.LayerNorm(epsilon=cfg.layer_norm_eps, dtype=self.dtype, name="layer_norm")(x)
    return nn.Dropout(cfg.hidden_dropout)(x, deterministic=deterministic)


class SelfAttention(nn.Module):
  """Multi-head self-attention over the key-padding `mask` [B, T] (True = real token)."""
  config: EncoderConfig
  precision: Any = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, mask: Array, deterministic: bool) -> Array:
    cfg = self.config
    head_dim = cfg.hidden_size // cfg.num_heads
    split = lambda t: t.reshape(t.shape[:-1] + (cfg.num_heads, head_dim))
    q, k, v = (split(_dense(cfg.hidden_size, self.precision, self.dtype, n)(x))
               for n in ("query", "key", "value"))
    scores = jnp.einsum("bqhd,bkhd->bhqk", q, k, precision=self.precision)
    scores = scores / jnp.sqrt(head_dim).astype(scores.dtype)
    # Masked keys get the most negative finite value (as HF does): a fully padded row
    # then softmaxes to uniform instead of NaN.
    scores = jnp.where(mask[:, None, None, :], scores, jnp.finfo(scores.dtype).min)
    probs = jax.nn.softmax(scores.astype(jnp.float32), axis=-1).astype(self.dtype)
    probs = nn.Dropout(cfg.attention_dropout)(probs, deterministic=deterministic)
    ctx = jnp.einsum("bhqk,bkhd->bqhd", probs, v, precision=self.precision)
    ctx = ctx.reshape(ctx.shape[:2] + (cfg.hidden_size,))
    return _dense(cfg.hidden_size, self.precision, self.dtype, "output")(ctx)


class TransformerLayer(nn.Module):
  """Post-LN transformer block: attention + residual + LN, FFN + residual + LN."""
  config: EncoderConfig
  precision: Any = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, mask: Array, deterministic: bool) -> Array:
    cfg = self.config
    drop = lambda h: nn.Dropout(cfg.hidden_dropout)(h, deterministic=deterministic)
    norm = lambda name: nn.LayerNorm(epsilon=cfg.layer_norm_eps, dtype=self.dtype, name=name)
    attn = SelfAttention(cfg, self.precision, self.dtype, name="attention")
    x = norm("attention_norm")(x + drop(attn(x, mask, deterministic)))
    h = _dense(cfg.intermediate_size, self.precision, self.dtype, "intermediate")(x)
    h = ACTIVATIONS[cfg.hidden_act](h)
    h = _dense(cfg.hidden_size, self.precision, self.dtype, "output")(h)
    return norm("output_norm")(x + drop(h))


class Encoder(nn.Module):
  """BERT / RoBERTa encoder returning hidden states [B, T, H].

  Attributes:
    config: the architecture.
    precision: matmul precision (e.g. "highest" for parity checks; None = backend default).
    dtype: computation dtype; parameters stay float32.
  """
  config: EncoderConfig
  precision: Any = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, input_ids: Array, attention_mask: Array | None = None,
               token_type_ids: Array | None = None, position_ids: Array | None = None, *,
               deterministic: bool = True, output_all_layers: bool = False
               ) -> Array | tuple[Array, tuple[Array, ...]]:
    """Encodes `input_ids` [B, T].

    Returns the last hidden states [B, T, H]; with `output_all_layers`, also the tuple of
    num_layers + 1 hidden states (embedding output first), like HF's `hidden_states`.
    """
    cfg = self.config
    if attention_mask is None:
      attention_mask = jnp.ones_like(input_ids)
    if token_type_ids is None:
      token_type_ids = jnp.zeros_like(input_ids)
    if position_ids is None:
      position_ids = self._default_position_ids(input_ids)
    x = Embeddings(cfg, self.dtype, name="embeddings")(
        input_ids, token_type_ids, position_ids, deterministic)
    mask = attention_mask.astype(bool)
    states = [x]
    for i in range(cfg.num_layers):
      x = TransformerLayer(cfg, self.precision, self.dtype, name=f"layer_{i}")(
          x, mask, deterministic)
      states.append(x)
    return (x, tuple(states)) if output_all_layers else x

  def _default_position_ids(self, input_ids: Array) -> Array:
    if self.config.model_type == "roberta":
      return position_ids_from_input_ids(input_ids, self.config.pad_token_id)
    return jnp.broadcast_to(jnp.arange(input_ids.shape[-1]), input_ids.shape)


def resize_token_embeddings(params: Params, new_size: int, seed: int = 0) -> Params:
  """Returns `params` with the word embedding matrix resized to `new_size` rows.

  Old rows are kept unchanged (truncated when shrinking). New rows (e.g. entity markers
  [E1], [E2], [E3]) start at the mean of the old rows plus a little Gaussian noise of
  1% of the per-dimension std, so markers sit inside the embedding distribution yet
  differ from one another. Build the module with `vocab_size=new_size` to apply them.
  """
  table = np.asarray(params["embeddings"]["word_embeddings"]["embedding"])
  old_size, dim = table.shape
  if new_size <= old_size:
    resized = table[:new_size]
  else:
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((new_size - old_size, dim)).astype(table.dtype)
    new_rows = table.mean(axis=0) + 0.01 * table.std(axis=0) * noise
    resized = np.concatenate([table, new_rows.astype(table.dtype)], axis=0)
  embeddings = dict(params["embeddings"])
  embeddings["word_embeddings"] = {"embedding": jnp.asarray(resized)}
  return {**params, "embeddings": embeddings}
