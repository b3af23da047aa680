"""Token input representation t^wop (paper §3.3.1).

Each token is the concatenation word (+) position_e1 (+) ... (+) position_eE (+) POS. The
word part is a GloVe-initialised lookup table, or the contextual vectors the batch carries
when `word_input == "plm"` (§3.3.2).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from msfml_jax.data.vocab import UNK_ID

Batch = dict[str, Any]


def relative_position_ids(positions: jax.Array, max_relative_position: int) -> jax.Array:
  """Signed token-to-entity distances -> ids in [0, 2 * max_relative_position]."""
  clipped = jnp.clip(positions, -max_relative_position, max_relative_position)
  return clipped + max_relative_position


def drop_words(tokens: jax.Array, mask: jax.Array, rate: float, key: jax.Array) -> jax.Array:
  """Word dropout (AGGCN's `--word_dropout`): each real token becomes `<unk>` with `rate`.

  Training then also fits the `<unk>` row, the one every out-of-vocabulary test word reads.
  """
  drop = jax.random.bernoulli(key, rate, tokens.shape) & mask.astype(bool)
  return jnp.where(drop, UNK_ID, tokens)


def write_word_matrix(embedder_params: Any, matrix: np.ndarray) -> Any:
  """`embedder_params` with the word table replaced by `matrix` (pretrained vectors).

  The matrix is data, not part of the module: initialisation draws a random table of the
  same shape and this writes the pretrained one over it (`msfml.init_params`).
  """
  table = embedder_params["word_embed"]["embedding"]
  if tuple(table.shape) != tuple(np.shape(matrix)):
    raise ValueError(f"word embedding matrix has shape {np.shape(matrix)}, expected "
                     f"{tuple(table.shape)} (vocabulary size, model.word_dim)")
  word_embed = {**embedder_params["word_embed"], "embedding": jnp.asarray(matrix, table.dtype)}
  return {**embedder_params, "word_embed": word_embed}


class Embedder(nn.Module):
  """Maps a batch to t^wop [B, L, d], zero on padding tokens, after input dropout.

  Attributes:
    config: the model config (word_input, freeze_word_embeddings, pos_dim, position_dim,
      max_relative_position, word_dropout, input_dropout, and word_dim when no matrix is
      given).
    vocab_size: rows of the word table (ignored for PLM input).
    num_pos: rows of the POS table (0 = pad).
  The word table has `config.word_dim` (default 50) columns and is initialised at random;
  pretrained vectors are written into the parameters afterwards (`write_word_matrix`).
  """
  config: ml_collections.ConfigDict
  vocab_size: int
  num_pos: int

  @nn.compact
  def __call__(self, batch: Batch, train: bool) -> jax.Array:
    cfg = self.config
    if cfg.word_input == "plm":
      words = jnp.asarray(batch["word_vectors"], jnp.float32)
    elif cfg.word_input == "glove":
      tokens = batch["tokens"]
      # No rng is drawn at rate 0, so runs without word dropout keep their dropout streams.
      if train and cfg.get("word_dropout", 0.0) > 0:
        tokens = drop_words(tokens, batch["mask"], cfg.word_dropout, self.make_rng("dropout"))
      words = nn.Embed(self.vocab_size, cfg.get("word_dim", 50),
                       embedding_init=nn.initializers.normal(stddev=1.0), name="word_embed")(
                           tokens)
    else:
      raise ValueError(f"unknown model.word_input {cfg.word_input!r}")
    if cfg.freeze_word_embeddings:
      # The table stays a parameter (checkpoints keep it) but gets no gradient.
      words = jax.lax.stop_gradient(words)

    # One position table shared by all entities: a distance means the same for each of them.
    max_rel = cfg.max_relative_position
    position_ids = relative_position_ids(batch["positions"], max_rel)      # [B, E, L]
    positions = nn.Embed(2 * max_rel + 1, cfg.position_dim, name="position_embed")(
        position_ids)                                                       # [B, E, L, P]
    b, e, l, p = positions.shape
    positions = positions.transpose(0, 2, 1, 3).reshape(b, l, e * p)
    pos = nn.Embed(self.num_pos, cfg.pos_dim, name="pos_embed")(batch["pos"])

    t = jnp.concatenate([words, positions, pos], axis=-1)
    # Zero padding tokens so that every 'SAME' convolution sees them as its own zero padding:
    # then a real token's features do not depend on the bucket length.
    t = t * batch["mask"][..., None].astype(t.dtype)
    return nn.Dropout(cfg.input_dropout, deterministic=not train)(t)
