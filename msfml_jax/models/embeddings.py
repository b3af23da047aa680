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

Batch = dict[str, Any]


def relative_position_ids(positions: jax.Array, max_relative_position: int) -> jax.Array:
  """Signed token-to-entity distances -> ids in [0, 2 * max_relative_position]."""
  clipped = jnp.clip(positions, -max_relative_position, max_relative_position)
  return clipped + max_relative_position


def matrix_init(matrix: np.ndarray):
  """An initializer returning a fixed matrix (pretrained word vectors)."""

  def init(key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
    del key
    if tuple(shape) != matrix.shape:
      raise ValueError(f"word embedding matrix has shape {matrix.shape}, expected {shape}")
    return jnp.asarray(matrix, dtype)

  return init


class Embedder(nn.Module):
  """Maps a batch to t^wop [B, L, d], zero on padding tokens, after input dropout.

  Attributes:
    config: the model config (word_input, freeze_word_embeddings, pos_dim, position_dim,
      max_relative_position, input_dropout, and word_dim when no matrix is given).
    vocab_size: rows of the word table (ignored for PLM input).
    num_pos: rows of the POS table (0 = pad).
    word_embeddings: initial word vectors [vocab_size, word_dim] (row 0 = pad) or None for a
      random table of `config.word_dim` (default 50) columns.
  """
  config: ml_collections.ConfigDict
  vocab_size: int
  num_pos: int
  word_embeddings: np.ndarray | None = None

  @nn.compact
  def __call__(self, batch: Batch, train: bool) -> jax.Array:
    cfg = self.config
    if cfg.word_input == "plm":
      words = jnp.asarray(batch["word_vectors"], jnp.float32)
    elif cfg.word_input == "glove":
      if self.word_embeddings is not None:
        dim = self.word_embeddings.shape[1]
        init = matrix_init(np.asarray(self.word_embeddings))
      else:
        dim = cfg.get("word_dim", 50)
        init = nn.initializers.normal(stddev=1.0)
      words = nn.Embed(self.vocab_size, dim, embedding_init=init, name="word_embed")(
          batch["tokens"])
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
