"""Post-training a BERT / RoBERTa encoder on the RE training set (paper §3.3.2).

Input: [CLS] with entity markers around each entity ([E1] ... [E1], [E2] ... [E2], [E3] ...
[E3]). Each entity vector is the mean of its word pieces' hidden states (with its markers when
`plm.posttrain.pool_markers`). Two tasks: entity-type prediction from the entity vectors, only
when the data has types (PubMed slots, TACRED subj/obj types; not SemEval), and relation
classification from [CLS] (+) the entity vectors, to which the softmax-weighted type
embeddings are added first.

Output directory (loadable like any HF checkpoint: `convert.load_checkpoint`,
`pipeline.load_encoder`, or transformers' BertModel/RobertaModel):
  config.json, model.safetensors   the encoder only, HF tensor names, vocab with the markers
  tokenizer files                  tokenizer.save_pretrained, markers included
  posttrain.json                   labels, entity types, metrics
  checkpoints/                     Orbax: the full train state after each epoch (resumable)

  python -m msfml_jax.plm.posttrain --config=configs/semeval_plm.py --output=DIR
then train MSFML on its vectors with --config.plm.model=DIR.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time
from typing import Any

from absl import app, flags
import flax.linen as nn
from flax.training import train_state
import jax
import jax.numpy as jnp
from ml_collections import config_flags
import numpy as np
import optax
import orbax.checkpoint as ocp
import tqdm

from msfml_jax.data import readers
from msfml_jax.plm import encoder as encoder_lib, features, pipeline


@dataclasses.dataclass
class Examples:
  """Encoded records: [CLS] marked pieces [SEP] and each entity's piece mask."""
  ids: list[np.ndarray]          # int32 [n_i] per record
  entity_mask: list[np.ndarray]  # bool [E, n_i] per record
  labels: np.ndarray             # int32 [N]
  types: np.ndarray              # int32 [N, E], -1 = no type


def _crop_start(word_of_piece: np.ndarray, window: int) -> int:
  """Start of a `window`-piece crop centred on the markers (all entities when they fit)."""
  n = len(word_of_piece)
  if n <= window:
    return 0
  marks = np.flatnonzero(word_of_piece < 0)
  lo, hi = int(marks[0]), int(marks[-1])
  start = lo - (window - (hi - lo + 1)) // 2 if hi - lo < window else lo
  return int(np.clip(start, 0, n - window))


def encode_record(record: readers.Record, tokenizer: Any, max_length: int,
                  pool_markers: bool) -> tuple[np.ndarray, np.ndarray]:
  """(ids [n], entity mask [E, n]) of one record, cropped to `max_length` pieces."""
  markers = features.DEFAULT_MARKERS
  ids, word_of_piece = features.word_pieces(
      tokenizer, *features.insert_markers(record.tokens, record.spans, markers))
  mask = np.stack([(word_of_piece >= s) & (word_of_piece <= e) for s, e in record.spans])
  if pool_markers:
    marker_ids = tokenizer.convert_tokens_to_ids(list(markers[:len(record.spans)]))
    mask |= ids[None, :] == np.asarray(marker_ids)[:, None]
  start = _crop_start(word_of_piece, max_length - 2)
  ids, mask = ids[start:start + max_length - 2], mask[:, start:start + max_length - 2]
  ids = np.concatenate([[tokenizer.cls_token_id], ids, [tokenizer.sep_token_id]])
  return ids.astype(np.int32), np.pad(mask, ((0, 0), (1, 1)))


def encode_records(records: list[readers.Record], tokenizer: Any, label_names: list[str],
                   type_names: list[str], max_length: int, pool_markers: bool) -> Examples:
  """Encodes `records`; labels and types become ids (unknown types -1)."""
  encoded = [encode_record(r, tokenizer, max_length, pool_markers) for r in records]
  type_id = {t: i for i, t in enumerate(type_names)}
  types = [[type_id.get(t, -1) for t in (r.entity_types or [""] * len(r.spans))]
           for r in records]
  return Examples([e[0] for e in encoded], [e[1] for e in encoded],
                  np.asarray([label_names.index(r.label) for r in records], np.int32),
                  np.asarray(types, np.int32).reshape(len(records), -1))


def entity_type_names(records: list[readers.Record]) -> list[str]:
  """Sorted entity types of the training records; [] when any record has none (SemEval)."""
  if not records or any(r.entity_types is None for r in records):
    return []
  return sorted({t for r in records for t in r.entity_types})


def make_batch(ex: Examples, idx: np.ndarray, batch_size: int, pad_id: int,
               max_length: int) -> dict[str, np.ndarray]:
  """Records `idx` padded to [batch_size, bucketed length]; padding rows get weight 0."""
  length = min(max_length, max(16, 1 << (max(len(ex.ids[i]) for i in idx) - 1).bit_length()))
  num_entities = ex.types.shape[1]
  batch = {"ids": np.full((batch_size, length), pad_id, np.int32),
           "mask": np.zeros((batch_size, length), np.int32),
           "entity_mask": np.zeros((batch_size, num_entities, length), bool),
           "label": np.zeros(batch_size, np.int32), "weight": np.zeros(batch_size, np.float32),
           "types": np.full((batch_size, num_entities), -1, np.int32)}
  for row, i in enumerate(idx):
    n = len(ex.ids[i])
    batch["ids"][row, :n], batch["mask"][row, :n] = ex.ids[i], 1
    batch["entity_mask"][row, :, :n] = ex.entity_mask[i]
  batch["label"][:len(idx)], batch["types"][:len(idx)] = ex.labels[idx], ex.types[idx]
  batch["weight"][:len(idx)] = 1.0
  return batch


class PostTrainModel(nn.Module):
  """Encoder + entity-type head + relation head (paper §3.3.2)."""
  encoder: encoder_lib.EncoderConfig
  num_labels: int
  num_types: int  # 0 = no entity-type task

  @nn.compact
  def __call__(self, ids: jax.Array, mask: jax.Array, entity_mask: jax.Array, *,
               deterministic: bool = True) -> dict[str, jax.Array]:
    h = encoder_lib.Encoder(self.encoder, name="encoder")(ids, mask,
                                                           deterministic=deterministic)
    weights = entity_mask.astype(h.dtype)
    entities = jnp.einsum("bet,bth->beh", weights, h)
    entities /= jnp.maximum(weights.sum(-1, keepdims=True), 1.0)  # cropped-away entity: 0
    out = {}
    if self.num_types:
      out["type_logits"] = nn.Dense(self.num_types, name="type_head")(entities)
      table = self.param("type_embeddings", nn.initializers.normal(0.02),
                         (self.num_types, self.encoder.hidden_size))
      entities = entities + jax.nn.softmax(out["type_logits"]) @ table
    features_ = jnp.concatenate([h[:, 0], entities.reshape(h.shape[0], -1)], axis=-1)
    features_ = nn.Dropout(self.encoder.hidden_dropout)(features_, deterministic=deterministic)
    out["logits"] = nn.Dense(self.num_labels, name="relation_head")(features_)
    return out


def losses(out: dict[str, jax.Array], batch: dict[str, jax.Array], type_weight: float
           ) -> tuple[jax.Array, dict[str, jax.Array]]:
  """Weighted relation CE plus `type_weight` * entity-type CE (when the model has types)."""
  w = batch["weight"]
  rel = optax.softmax_cross_entropy_with_integer_labels(out["logits"], batch["label"])
  metrics = {"relation_loss": (rel * w).sum() / jnp.maximum(w.sum(), 1.0)}
  loss = metrics["relation_loss"]
  if "type_logits" in out:
    valid = (batch["types"] >= 0) * w[:, None]
    typ = optax.softmax_cross_entropy_with_integer_labels(out["type_logits"],
                                                          jnp.maximum(batch["types"], 0))
    metrics["type_loss"] = (typ * valid).sum() / jnp.maximum(valid.sum(), 1.0)
    loss = loss + type_weight * metrics["type_loss"]
  return loss, dict(metrics, loss=loss)


def make_optimizer(t: Any, total_steps: int) -> optax.GradientTransformation:
  """AdamW with linear warmup and decay; no weight decay on biases, LayerNorm, vectors."""
  warmup = int(t.warmup_fraction * total_steps)
  schedule = optax.join_schedules([
      optax.linear_schedule(0.0, t.learning_rate, max(warmup, 1)),
      optax.linear_schedule(t.learning_rate, 0.0, max(total_steps - warmup, 1))], [warmup])
  decay_mask = lambda params: jax.tree.map(lambda p: p.ndim >= 2, params)
  return optax.chain(optax.clip_by_global_norm(t.max_grad_norm),
                     optax.adamw(schedule, weight_decay=t.weight_decay, mask=decay_mask))


def make_steps(model: PostTrainModel, type_weight: float):
  """(jitted train step, jitted predict step)."""
  def train_step(state, batch, key):
    def loss_fn(params):
      out = model.apply({"params": params}, batch["ids"], batch["mask"], batch["entity_mask"],
                        deterministic=False, rngs={"dropout": jax.random.fold_in(key, state.step)})
      return losses(out, batch, type_weight)
    grads, metrics = jax.grad(loss_fn, has_aux=True)(state.params)
    return state.apply_gradients(grads=grads), metrics

  def predict(params, batch):
    out = model.apply({"params": params}, batch["ids"], batch["mask"], batch["entity_mask"])
    return out["logits"].argmax(-1)
  return jax.jit(train_step, donate_argnums=0), jax.jit(predict)


def accuracy(predict, params, ex: Examples, batch_size: int, pad_id: int, max_length: int
             ) -> float:
  """Relation accuracy over `ex` (batched by length)."""
  order = np.argsort([len(i) for i in ex.ids], kind="stable")
  correct = 0
  for start in range(0, len(order), batch_size):
    idx = order[start:start + batch_size]
    batch = make_batch(ex, idx, batch_size, pad_id, max_length)
    correct += int((np.asarray(predict(params, batch))[:len(idx)] == ex.labels[idx]).sum())
  return correct / max(len(order), 1)


def init_state(model: PostTrainModel, enc_params: encoder_lib.Params, ex: Examples,
               t: Any, pad_id: int, max_length: int, seed: int) -> train_state.TrainState:
  """Random heads on the pretrained encoder, with AdamW over all the planned steps."""
  batch = make_batch(ex, np.arange(1), 1, pad_id, max_length)
  params = model.init(jax.random.key(seed), batch["ids"], batch["mask"],
                      batch["entity_mask"])["params"]
  params = dict(params, encoder=jax.tree.map(jnp.asarray, enc_params))
  steps = -(-len(ex.labels) // t.batch_size) * t.num_epochs
  return train_state.TrainState.create(apply_fn=model.apply, params=params,
                                       tx=make_optimizer(t, steps))


def train_epochs(state: train_state.TrainState, train_step, ex: Examples, t: Any,
                 pad_id: int, max_length: int, seed: int, manager: ocp.CheckpointManager,
                 progress: bool) -> tuple[train_state.TrainState, list[float]]:
  """Runs the epochs after `state.step` (data order from (seed, epoch): resumable)."""
  steps_per_epoch = -(-len(ex.labels) // t.batch_size)
  key, epoch_losses = jax.random.key(seed + 1), []
  for epoch in range(int(state.step) // steps_per_epoch, t.num_epochs):
    order = np.random.default_rng([seed, epoch]).permutation(len(ex.labels))
    bar = tqdm.trange(steps_per_epoch, desc=f"post-train epoch {epoch + 1}",
                      disable=not progress, mininterval=2.0)
    total = 0.0
    for b in bar:
      batch = make_batch(ex, order[b * t.batch_size:(b + 1) * t.batch_size], t.batch_size,
                         pad_id, max_length)
      state, metrics = train_step(state, batch, key)
      total += metrics["loss"]  # stays on device: no sync per step
      if b % 10 == 0:
        bar.set_postfix({k: f"{float(v):.3f}" for k, v in metrics.items()})
    epoch_losses.append(float(total) / steps_per_epoch)
    manager.save(int(state.step), args=ocp.args.StandardSave(state), force=True)
  manager.wait_until_finished()
  return state, epoch_losses


def posttrain(config: Any, output: str | pathlib.Path, progress: bool = True) -> dict:
  """Post-trains `config.plm.model` on the configured train split; returns the metrics."""
  output, t = pathlib.Path(output).resolve(), config.plm.posttrain
  base_dir = pipeline.resolve_model_dir(config.plm.model, config.data_dir)
  enc_config, enc_params, tokenizer = pipeline.load_encoder(base_dir, markers=True)
  splits = readers.load_splits(config)
  limit = lambda recs, n: recs[:n] if n else recs
  train = limit(splits["train"], t.max_train_examples)
  labels, types = readers.label_names(config), entity_type_names(train)
  max_length, pad = pipeline.max_pieces(enc_config, t.max_length), tokenizer.pad_token_id
  encode = lambda recs: encode_records(recs, tokenizer, labels, types, max_length,
                                       t.pool_markers)
  train_ex, test_ex = encode(train), encode(limit(splits["test"], t.max_eval_examples))
  model = PostTrainModel(enc_config, len(labels), len(types))
  state = init_state(model, enc_params, train_ex, t, pad, max_length, config.seed)
  manager = ocp.CheckpointManager(output / "checkpoints", options=ocp.CheckpointManagerOptions(
      max_to_keep=1, create=True, enable_async_checkpointing=False))
  if manager.latest_step() is not None:  # resume at the last finished epoch
    state = manager.restore(manager.latest_step(), args=ocp.args.StandardRestore(state))
  train_step, predict = make_steps(model, t.type_loss_weight)
  start = time.perf_counter()
  state, epoch_losses = train_epochs(state, train_step, train_ex, t, pad, max_length,
                                     config.seed, manager, progress)
  result = {"test_accuracy": accuracy(predict, state.params, test_ex, t.batch_size, pad,
                                      max_length),
            "steps": int(state.step), "seconds": time.perf_counter() - start,
            "epoch_losses": epoch_losses, "entity_types": types}
  pipeline.save_model_dir(output, base_dir, enc_config, state.params["encoder"], tokenizer,
                          dict(result, base_model=str(base_dir), labels=labels,
                               markers=list(features.DEFAULT_MARKERS), config=t.to_dict()))
  return result


def main(argv: list[str]) -> None:
  del argv
  result = posttrain(flags.FLAGS.config, flags.FLAGS.output)
  print(json.dumps(result, indent=1))
  print(f"test relation accuracy: {result['test_accuracy']:.4f}")


if __name__ == "__main__":
  # Flags are defined here, not at import, so the library can be imported next to
  # msfml_jax.main (which defines --config too).
  config_flags.DEFINE_config_file("config", None, "Config file (e.g. configs/semeval_plm.py).")
  flags.DEFINE_string("output", None, "Directory for the post-trained encoder.")
  flags.mark_flags_as_required(["config", "output"])
  app.run(main)
