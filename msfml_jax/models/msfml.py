"""The MSFML model (paper §4, Fig. 2): MSFL features, the joint representation z and the
classifier (eq. 10, 15).

  t^wop -> MSCNN -> x = h^lex ┐ conv+gate -> h^loc ┐
  t^wop -> MSGCN -> y = h^dep ┘                    ├ bi-attention -> h = h~glo (+) h~loc
  t^wop -> Bi-LSTM ---------------------> h^glo ---┘
  z = Linear([maxpool(h); e_1; ...; e_n]),  logits = Linear(dropout(z))

Ablations come from the config alone: `mscnn` and `msgcn` in {"multi", "plain", "none"}.
With one of them off h^loc is the other's output; with both off h = h^glo.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from msfml_jax.models import dense_graphs
from msfml_jax.models import embeddings
from msfml_jax.models import fusion
from msfml_jax.models import mscnn
from msfml_jax.models import msgcn
from msfml_jax.models import pooling

Batch = dict[str, Any]


def pool_entities(h: jax.Array, entity_mask: jax.Array, how: str) -> jax.Array:
  """e^h: h [B, L, D] pooled over each entity's tokens, entity_mask [B, E, L] -> [B, E, D]."""
  h = h[:, None, :, :]
  if how == "max":
    return pooling.masked_max(h, entity_mask)
  if how == "mean":
    return pooling.masked_mean(h, entity_mask)
  raise ValueError(f"unknown model.entity_pooling {how!r}")


def lexical_encoder(config: ml_collections.ConfigDict) -> mscnn.MSCNN | None:
  """The MSCNN of `config.mscnn` (multi | plain | none)."""
  if config.mscnn == "none":
    return None
  if config.mscnn == "plain":
    return mscnn.MSCNN(config.hidden_dim, kernels=(3,), dilation=1, vertical=False,
                       combine="sum", name="cnn")
  if config.mscnn == "multi":
    return mscnn.MSCNN(config.hidden_dim, kernels=tuple(config.mscnn_kernels),
                       dilation=config.mscnn_dilation, vertical=config.mscnn_vertical,
                       vertical_channels=config.get("mscnn_vertical_channels", 4),
                       combine=config.mscnn_combine, norm=config.branch_norm,
                       unit=config.get("branch_unit", "relu"), name="mscnn")
  raise ValueError(f"unknown model.mscnn {config.mscnn!r}")


def syntactic_encoder(config: ml_collections.ConfigDict) -> msgcn.MSGCN | None:
  """The MSGCN of `config.msgcn` (multi | plain | none)."""
  if config.msgcn == "none":
    return None
  if config.msgcn in ("plain", "multi"):
    return msgcn.MSGCN(config.hidden_dim, num_layers=config.gcn_layers,
                       multi_scale=config.msgcn == "multi",
                       refined=config.refined_adjacency, norm=config.branch_norm,
                       output=config.msgcn_output, dropout=config.get("gcn_dropout", 0.0),
                       unit=config.get("branch_unit", "relu"),
                       name="msgcn" if config.msgcn == "multi" else "gcn")
  raise ValueError(f"unknown model.msgcn {config.msgcn!r}")


class MSFML(nn.Module):
  """Multi-scale feature learning + classifier.

  Attributes:
    config: the model config (config_base.model_config()).
    num_classes: relation labels C.
    vocab_size: word vocabulary size (rows of `word_embeddings`).
    num_pos: POS vocabulary size.
    num_entities: entity slots E of the batch (2, or 3 for ternary PubMed).
  Pretrained word vectors are not an attribute: `init_params` writes them into the params.
  """
  config: ml_collections.ConfigDict
  num_classes: int
  vocab_size: int
  num_pos: int
  num_entities: int

  @nn.compact
  def __call__(self, batch: Batch, train: bool) -> dict[str, jax.Array]:
    """Returns {"logits": [B, C], "z": [B, Dz], "x": [B, D], "y": [B, D], "pooled": [B, D_h]}
    (pooled = f(h) of eq. 10, the target of `loss.pooled_l2`)."""
    cfg = self.config
    mask = jnp.asarray(batch["mask"], bool)
    entity_mask = jnp.asarray(batch["entity_mask"], bool)
    if entity_mask.shape[1] != self.num_entities:
      raise ValueError(f"batch has {entity_mask.shape[1]} entity slots, model expects "
                       f"{self.num_entities}")
    batch_size = mask.shape[0]

    t = embeddings.Embedder(cfg, self.vocab_size, self.num_pos, name="embedder")(batch, train)
    t = t.astype(cfg.get("dtype", "float32"))  # the compute dtype (steps.compute_params)
    if cfg.get("width_multiple", 0):
      # Zero columns: every first layer's contraction becomes a multiple of the unit.
      extra = round_up(t.shape[-1], cfg.width_multiple) - t.shape[-1]
      t = jnp.pad(t, ((0, 0), (0, 0), (0, extra)))

    cnn = lexical_encoder(cfg)
    gcn = syntactic_encoder(cfg)
    h_lex = cnn(t, mask) if cnn is not None else None
    h_dep = None
    if gcn is not None:
      g = dense_graphs.dense_graphs(batch, t.dtype)  # built here, on the device
      h_dep = gcn(t, g["adj"], g["assign"], g["coarse_adj"], mask, refined_adj=g["refined_adj"],
                  train=train)
    if h_lex is not None and h_dep is not None:
      h_loc = fusion.ConvGate(cfg.hidden_dim, name="conv_gate")(h_lex, h_dep, mask)
    else:
      h_loc = h_lex if h_lex is not None else h_dep

    h_glo = fusion.BiLSTM(cfg.lstm_hidden, cfg.get("lstm_impl", "scan"),
                          name="bilstm")(t, mask)
    # AGGCN's rnn_dropout on the BiLSTM's outputs (rate 0: no rng drawn).
    h_glo = nn.Dropout(cfg.get("rnn_dropout", 0.0), deterministic=not train,
                       name="rnn_dropout")(h_glo)
    if 2 * cfg.lstm_hidden != cfg.hidden_dim and h_loc is not None:
      # Bi-attention takes dot products between h^glo and h^loc: bring them to one width.
      h_glo = nn.Dense(cfg.hidden_dim, name="glo_proj")(h_glo) * mask[..., None]

    if h_loc is not None:
      temperature = {"none": 1.0, "sqrt_d": float(np.sqrt(h_loc.shape[-1]))}[cfg.attention_scale]
      h = jnp.concatenate(fusion.bi_attention(h_glo, h_loc, mask, temperature), axis=-1)
    else:
      h = h_glo

    pooled = pooling.masked_max(h, mask)
    features = [pooled]
    entities = pool_entities(h, entity_mask, cfg.entity_pooling)      # [B, E, D_h]
    features.append(entities.reshape(batch_size, -1))
    z = nn.Dense(cfg.hidden_dim, name="joint")(jnp.concatenate(features, axis=-1))   # eq. 10
    logits = nn.Dense(self.num_classes, name="classifier")(
        nn.Dropout(cfg.dropout, deterministic=not train)(z))                        # eq. 15

    zeros = jnp.zeros((batch_size, cfg.hidden_dim), z.dtype)
    outputs = {
        "logits": logits,
        "z": z,
        "pooled": pooled,
        "x": pooling.masked_max(h_lex, mask) if h_lex is not None else zeros,
        "y": pooling.masked_max(h_dep, mask) if h_dep is not None else zeros,
    }
    return {k: v.astype(jnp.float32) for k, v in outputs.items()}  # losses in float32


def round_up(n: int, multiple: int) -> int:
  """n rounded up to a multiple of `multiple` (n itself when multiple is 0)."""
  return -(-n // multiple) * multiple if multiple else n


def has_features(config: ml_collections.ConfigDict) -> bool:
  """Whether both x and y exist, i.e. the feature-level triplet loss applies."""
  return config.mscnn != "none" and config.msgcn != "none"


def create_model(config: ml_collections.ConfigDict, dataset: Any) -> MSFML:
  """MSFML for a full config and a `Dataset` (data/cache.py): sizes come from the dataset.

  The word table gets the pretrained matrix's width, else `config.data.word_dim` columns;
  the matrix itself goes into the parameters (`init_params(model, batch, word_embeddings=
  dataset.embeddings)`).
  """
  model_config = config.model
  multiple = model_config.get("width_multiple", 0)
  if "word_dim" not in model_config or multiple:
    model_config = ml_collections.ConfigDict(model_config.to_dict())  # the caller's stays
  if "word_dim" not in model_config:
    model_config.word_dim = (config.data.word_dim if dataset.embeddings is None
                             else int(np.shape(dataset.embeddings)[1]))
  if multiple:
    model_config.hidden_dim = round_up(model_config.hidden_dim, multiple)
    # h^glo = [forward; backward] is 2 * lstm_hidden wide: a multiple when each half is one
    # of multiple / 2 (4 * lstm_hidden gate columns, too).
    model_config.lstm_hidden = round_up(model_config.lstm_hidden, max(multiple // 2, 1))
  return MSFML(model_config,
               num_classes=len(dataset.label_names),
               vocab_size=len(dataset.vocab.word),
               num_pos=len(dataset.vocab.pos),
               num_entities=dataset.num_entities)


def init_variables(model: MSFML, example_batch: Batch, key: jax.Array,
                   word_embeddings: jax.Array | None = None) -> Any:
  """Traceable body of `init_params` (for callers that jit a larger init, `steps`)."""
  params = model.init({"params": key, "dropout": key}, example_batch, train=False)["params"]
  if word_embeddings is not None and model.config.word_input == "glove":
    params = {**params, "embedder": embeddings.write_word_matrix(params["embedder"],
                                                                 word_embeddings)}
  return params


def init_params(model: MSFML, example_batch: Batch, seed: int = 0,
                word_embeddings: np.ndarray | None = None) -> Any:
  """The model's initial parameters, computed by one jitted program (training and
  prediction both start here; prediction only needs their shapes: `jax.eval_shape`).

  `example_batch` fixes the input shapes only (`batching.example_batch`); `word_embeddings`
  [vocab_size, word_dim] is written over the random word table.
  """
  return jax.jit(lambda batch, matrix: init_variables(model, batch, jax.random.key(seed), matrix)
                 )(example_batch, word_embeddings)


def count_parameters(params: Any) -> int:
  """Total number of scalars in a parameter tree."""
  return int(sum(np.prod(np.shape(p)) for p in jax.tree_util.tree_leaves(params)))
