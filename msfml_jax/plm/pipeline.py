"""PLM word vectors for MSFML (paper §3.3.2): model directory -> cached flat [T, H] arrays.

`config.plm.model` names a HF BERT / RoBERTa checkpoint directory, a post-trained output
directory of `posttrain.py` (the same layout: config.json, model.safetensors, tokenizer
files), or a model name in the local HF cache. `load_word_vectors(config, dataset)` runs the
encoder over every record (entity markers inserted when `config.plm.markers`) and returns
per split a flat [T, H] array aligned with `SplitArrays.offsets`, which
`batching.make_batch(..., word_vectors=...)` takes as is.

Vectors are cached in `<dataset cache dir>-plm-<key[:16]>/<split>.npy`, keyed by the dataset
cache key, a hash of the model directory's files and the marker / window / dtype settings.
`save_model_dir` writes such a directory (post-training output) from our encoder params.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pathlib
from typing import Any

from absl import logging
import jax
import ml_collections
import numpy as np
import tqdm

from msfml_jax import paths
from msfml_jax.config_base import plm_config  # re-exported: pipeline.plm_config
from msfml_jax.data import cache, cache_key, readers
from msfml_jax.plm import convert, encoder as encoder_lib, features

VECTORS_VERSION = 1
DEFAULT_MODEL = "plm/all-MiniLM-L6-v2"
_CHUNK = 256  # records per encoder pass (bounds memory, drives the progress bar)


def resolve_model_dir(name: str, data_dir: str = "") -> pathlib.Path:
  """An absolute dir; a relative one under data_dir, else under the cwd; else a cached name."""
  path = pathlib.Path(name).expanduser()
  if path.is_absolute():
    candidates = [path]
  else:
    candidates = [paths.resolve_data_dir(data_dir) / path, path.resolve()]
  for candidate in candidates:
    if (candidate / "config.json").is_file():
      return candidate
  try:
    from huggingface_hub import snapshot_download  # Only for names, offline cache only.
    return pathlib.Path(snapshot_download(name, local_files_only=True))
  except Exception:  # pylint: disable=broad-except
    raise FileNotFoundError(
        f"PLM {name!r}: no config.json in {[str(c) for c in candidates]} and not in the "
        "local Hugging Face cache (set config.plm.model to a checkpoint directory)") from None


def load_tokenizer(model_dir: pathlib.Path, model_type: str) -> Any:
  """The fast tokenizer of `model_dir` (RoBERTa's with add_prefix_space for split words)."""
  from transformers import AutoTokenizer  # Heavy import, only needed here.
  kwargs = {"add_prefix_space": True} if model_type == "roberta" else {}
  return AutoTokenizer.from_pretrained(str(model_dir), use_fast=True, **kwargs)


def load_encoder(model_dir: pathlib.Path, markers: bool = True
                 ) -> tuple[encoder_lib.EncoderConfig, encoder_lib.Params, Any]:
  """(config, params, tokenizer); with `markers`, [E1]-[E3] are added and rows appended.

  A post-trained directory already has the markers, so nothing changes for it.
  """
  config, params = convert.load_checkpoint(model_dir)
  tokenizer = load_tokenizer(model_dir, config.model_type)
  if markers:
    size = features.add_marker_tokens(tokenizer)
    if size > config.vocab_size:
      params = encoder_lib.resize_token_embeddings(params, size)
      config = dataclasses.replace(config, vocab_size=size)
  return config, params, tokenizer


def max_pieces(config: encoder_lib.EncoderConfig, requested: int) -> int:
  """`requested` capped by the encoder's position table (RoBERTa's starts at pad_id + 1)."""
  offset = config.pad_token_id + 1 if config.model_type == "roberta" else 0
  return min(requested, config.max_position_embeddings - offset)


def to_hf_state_dict(params: encoder_lib.Params) -> dict[str, np.ndarray]:
  """Our encoder params -> HF BertModel / RobertaModel tensor names (convert.py inverted)."""
  # pylint: disable=protected-access
  layer_names = {v: k for k, v in convert._LAYER_RULES.items()}
  embed_names = {v: k for k, v in convert._EMBEDDING_RULES.items()}
  # pylint: enable=protected-access
  out = {}
  for path, value in jax.tree_util.tree_flatten_with_path(params)[0]:
    keys = tuple(k.key for k in path)
    value = np.asarray(value, np.float32)
    if keys[0] == "embeddings":
      module = f"embeddings.{embed_names[keys[1:-1]]}"
    else:
      module = f"encoder.layer.{keys[0].split('_')[1]}.{layer_names[keys[1:-1]]}"
    if keys[-1] == "kernel":
      value = value.T
    out[f"{module}.{'bias' if keys[-1] == 'bias' else 'weight'}"] = np.ascontiguousarray(value)
  return out


def save_model_dir(output: pathlib.Path, base_dir: pathlib.Path, config: Any,
                   params: encoder_lib.Params, tokenizer: Any, info: dict) -> None:
  """Writes the post-trained encoder and tokenizer as a HF checkpoint directory."""
  from safetensors.numpy import save_file  # Only needed here.
  output.mkdir(parents=True, exist_ok=True)
  hf_config = convert.load_hf_config(base_dir)
  hf_config.vocab_size = config.vocab_size
  hf_config.save_pretrained(str(output))
  save_file(to_hf_state_dict(params), str(output / "model.safetensors"),
            metadata={"format": "pt"})
  tokenizer.save_pretrained(str(output))
  (output / "posttrain.json").write_text(json.dumps(info, indent=1))


def model_fingerprint(model_dir: pathlib.Path) -> str:
  """sha256 over the names and contents of the directory's files (weights and tokenizer)."""
  h = hashlib.sha256()
  for path in sorted(p for p in model_dir.iterdir() if p.is_file()):
    h.update(f"{path.name}:{cache_key.file_fingerprint(path)};".encode())
  return h.hexdigest()


def vectors_key(config: ml_collections.ConfigDict, dataset_key: str,
                model_dir: pathlib.Path) -> str:
  """The cache key of the word vectors."""
  p = config.plm
  payload = {"version": VECTORS_VERSION, "dataset": dataset_key,
             "model": model_fingerprint(model_dir), "markers": bool(p.markers),
             "max_length": int(p.max_length), "dtype": p.vector_dtype}
  return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def check_alignment(records: dict[str, list[readers.Record]], dataset: cache.Dataset) -> None:
  """Raises unless the re-read records match the cached splits record by record."""
  for name, split in dataset.splits.items():
    recs = records.get(name)
    if recs is None or len(recs) != len(split):
      raise ValueError(
          f"split {name!r}: {len(split)} cached records but {len(recs or [])} read from the "
          "data files; the dataset cache does not match the config (rebuild it)")
    lengths = np.fromiter((len(r.tokens) for r in recs), np.int64, len(recs))
    ids = np.asarray([r.id for r in recs], dtype=str)
    bad = np.flatnonzero((lengths != split.lengths) | (ids != split.ids))
    if len(bad):
      i = int(bad[0])
      raise ValueError(
          f"split {name!r} record {i}: cache has id {split.ids[i]!r} with {split.lengths[i]} "
          f"tokens, the data file ({recs[i].source}) id {recs[i].id!r} with "
          f"{lengths[i]} tokens; the dataset cache is stale (rebuild it)")


def compute_split_vectors(encoder_fn: features.EncoderFn, tokenizer: Any,
                          records: list[readers.Record], plm: ml_collections.ConfigDict,
                          max_length: int, desc: str = "", progress: bool = True
                          ) -> np.ndarray:
  """Flat [T, H] word vectors of `records` in record order (encoded sorted by length)."""
  lengths = np.fromiter((len(r.tokens) for r in records), np.int64, len(records))
  offsets = np.concatenate([[0], np.cumsum(lengths)])
  order = np.argsort(lengths, kind="stable")  # similar lengths batch with little padding
  markers = None if plm.markers else ()
  out = None
  for start in tqdm.trange(0, len(order), _CHUNK, desc=desc, disable=not progress,
                           mininterval=2.0):
    chunk = [records[i] for i in order[start:start + _CHUNK]]
    vectors = features.word_vectors_for_records(
        encoder_fn, tokenizer, [r.tokens for r in chunk], [r.spans for r in chunk],
        max_length=max_length, marker_tokens=markers, batch_size=plm.batch_size)
    if out is None:
      out = np.zeros((int(offsets[-1]), vectors[0].shape[-1]), plm.vector_dtype)
    for i, v in zip(order[start:start + _CHUNK], vectors):
      out[offsets[i]:offsets[i + 1]] = v
  return out if out is not None else np.zeros((0, 0), plm.vector_dtype)


def _write_atomic(directory: pathlib.Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
  """Writes the vector cache atomically (a killed run leaves no partial cache)."""
  with cache.atomic_directory(directory) as tmp:
    for name, array in arrays.items():
      np.save(tmp / f"{name}.npy", array, allow_pickle=False)
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))


def vectors_directory(config: ml_collections.ConfigDict, dataset: cache.Dataset,
                      limits: dict[str, int] | None = None) -> pathlib.Path:
  """Where the word vectors of `config` and `dataset` are (or would be) cached."""
  model_dir = resolve_model_dir(config.plm.model, config.data_dir)
  key = vectors_key(config, dataset.cache_key, model_dir)
  if limits:
    key = hashlib.sha256(f"{key}{sorted(limits.items())}".encode()).hexdigest()
  base = cache.cache_directory(config, dataset.cache_key)
  return base.with_name(f"{base.name}-plm-{key[:16]}")


def load_word_vectors(config: ml_collections.ConfigDict, dataset: cache.Dataset,
                      progress: bool = True,
                      limits: dict[str, int] | None = None) -> dict[str, np.ndarray]:
  """Per split of `dataset`, flat [T, H] PLM word vectors aligned with its offsets.

  Computed once with the encoder of `config.plm.model` and cached; later calls memory-map
  the cached arrays (read-only). Usage: `batching.make_batch(..., word_vectors=v[split])`.
  `limits` (split -> N > 0) encodes only each split's first N records, for runs that use
  only those (`max_train_examples`, `max_eval_examples`); the vectors of a prefix are a
  prefix of the flat array, so the offsets still line up.
  """
  limits = {k: v for k, v in (limits or {}).items() if v}
  directory = vectors_directory(config, dataset, limits)
  if not (directory / "meta.json").is_file():
    model_dir = resolve_model_dir(config.plm.model, config.data_dir)
    logging.info("PLM vectors: cache miss, encoding with %s into %s", model_dir, directory)
    records = readers.load_splits(config)
    check_alignment(records, dataset)
    enc_config, params, tokenizer = load_encoder(model_dir, config.plm.markers)
    encoder_fn = features.make_encoder_fn(enc_config, params)
    max_length = max_pieces(enc_config, config.plm.max_length)
    arrays = {name: compute_split_vectors(encoder_fn, tokenizer,
                                          records[name][:limits.get(name, len(records[name]))],
                                          config.plm, max_length, f"PLM vectors {name}",
                                          progress)
              for name in dataset.splits}
    meta = {"model_dir": str(model_dir), "dataset_cache_key": dataset.cache_key,
            "markers": bool(config.plm.markers), "max_length": int(config.plm.max_length),
            "shapes": {n: list(a.shape) for n, a in arrays.items()}}
    _write_atomic(directory, arrays, meta)
  else:
    logging.info("PLM vectors: cache hit %s", directory)
  return {name: np.load(directory / f"{name}.npy", mmap_mode="r", allow_pickle=False)
          for name in dataset.splits}


def hidden_size(config: ml_collections.ConfigDict) -> int:
  """Hidden size of the run's PLM, read from its config.json (no weights are loaded)."""
  model_dir = resolve_model_dir(config.plm.model, config.data_dir)
  return int(json.loads((model_dir / "config.json").read_text())["hidden_size"])


def load_inference_encoder(config: ml_collections.ConfigDict) -> tuple[Any, Any, int, int]:
  """(encoder_fn, tokenizer, max pieces, hidden size) of the run's PLM (word_input "plm")."""
  model_dir = resolve_model_dir(config.plm.model, config.data_dir)
  enc_config, enc_params, tokenizer = load_encoder(model_dir, config.plm.markers)
  return (features.make_encoder_fn(enc_config, enc_params), tokenizer,
          max_pieces(enc_config, config.plm.max_length), enc_config.hidden_size)
