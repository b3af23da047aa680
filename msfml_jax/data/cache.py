"""Preprocessed-array cache: `load_dataset(config)` builds the arrays once and reuses them.

Layout of `resolve_cache_dir(config.cache_dir)/<task>-<key[:16]>/`:
  meta.json                 cache key, key inputs, label names, counts, GloVe coverage
  vocab/{word,pos,deprel,label}.json
  embeddings.npy            only with a GloVe file
  <split>/<field>.npy       every numpy field of the split's `SplitArrays`
  <split>/fields.json       its other fields (lists, object arrays, None) as JSON
A cache directory is built under a temporary name and renamed into place, so a killed build
never leaves a half-written cache. Storage choice (numpy .npy vs Arrow): docs/cache.md.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import os
import pathlib
import shutil
import tempfile
import time
from typing import Iterator

from absl import logging
import ml_collections
import numpy as np

from msfml_jax import paths
from msfml_jax import workdir as workdir_lib
from msfml_jax.data import arrays as arrays_lib
from msfml_jax.data import cache_key as key_lib
from msfml_jax.data import glove, readers, validate, vocab as vocab_lib

CACHE_VERSION = key_lib.CACHE_VERSION
# Seed of the random rows of words GloVe lacks. Fixed, not config.seed, so runs that differ only
# in their seed share one cache (the key holds config.seed only when it picks the dev hold-out).
EMBEDDING_SEED = 0


@dataclasses.dataclass
class Dataset:
  """Everything the model and the training loop need (docs/design.md)."""
  splits: dict[str, arrays_lib.SplitArrays]
  vocab: vocab_lib.Vocabs
  label_names: list[str]
  embeddings: np.ndarray | None
  num_entities: int
  cache_key: str


@dataclasses.dataclass
class CacheReport:
  """How `load_dataset_with_report` got its Dataset (for tools/preprocess.py and logs)."""
  directory: pathlib.Path
  hit: bool
  seconds: float
  records: dict[str, int]
  meta: dict


def cache_directory(config: ml_collections.ConfigDict, key: str) -> pathlib.Path:
  """`<cache_dir>/<task>-<key[:16]>`."""
  return paths.resolve_cache_dir(config.cache_dir) / f"{config.data.task}-{key[:16]}"


# ---------------------------------------------------------------------------------------------
# Storage of one SplitArrays: .npy per numpy field, JSON for the rest.

def _json_value(value):
  if isinstance(value, np.ndarray):  # object arrays: JSON, so the cache holds no pickles
    return {"__ndarray__": value.tolist(), "dtype": str(value.dtype)}
  return value


def _from_json_value(value):
  if isinstance(value, dict) and "__ndarray__" in value:
    dtype = None if value["dtype"] == "object" else value["dtype"]
    return np.array(value["__ndarray__"], dtype=dtype if dtype else object)
  return value


def save_split(directory: pathlib.Path, split: arrays_lib.SplitArrays) -> None:
  """Writes every field of `split` into `directory`."""
  directory.mkdir(parents=True)
  others = {}
  for field in dataclasses.fields(split):
    value = getattr(split, field.name)
    if isinstance(value, np.ndarray) and value.dtype.kind != "O":
      np.save(directory / f"{field.name}.npy", value, allow_pickle=False)
    else:
      others[field.name] = _json_value(value)
  (directory / "fields.json").write_text(json.dumps(others, ensure_ascii=False))


def load_split(directory: pathlib.Path, mmap: bool = False) -> arrays_lib.SplitArrays:
  """Reads a split written by `save_split` (memory-mapped read-only with `mmap`)."""
  others = json.loads((directory / "fields.json").read_text())
  values = {}
  for field in dataclasses.fields(arrays_lib.SplitArrays):
    if field.name in others:
      values[field.name] = _from_json_value(others[field.name])
    else:
      values[field.name] = np.load(directory / f"{field.name}.npy",
                                   mmap_mode="r" if mmap else None, allow_pickle=False)
  return arrays_lib.SplitArrays(**values)


# ---------------------------------------------------------------------------------------------
# Build.

def _train_word_counts(records: list[readers.Record], lowercase: bool) -> collections.Counter:
  if lowercase:
    return collections.Counter(t.lower() for r in records for t in r.tokens)
  return collections.Counter(t for r in records for t in r.tokens)


def _embeddings(config: ml_collections.ConfigDict, splits: dict[str, list[readers.Record]],
                timings: dict[str, float]
                ) -> tuple[vocab_lib.Vocabs, np.ndarray | None, dict[str, float]]:
  """Vocabularies, the GloVe matrix (None without a GloVe file) and its coverage."""
  d = config.data
  if not d.glove_file:
    return vocab_lib.build_vocabs(splits, config, None), None, {}
  start = time.perf_counter()
  norm = str.lower if d.lowercase else str
  wanted = {norm(t) for records in splits.values() for r in records for t in r.tokens}
  glove_path = readers.resolve_path(config, d.glove_file)
  vectors = glove.load_vectors(glove_path, wanted)
  vocabs = vocab_lib.build_vocabs(splits, config, vectors.words())
  counts = _train_word_counts(splits["train"], d.lowercase)
  matrix, stats = glove.build_embedding_matrix(vocabs.word, glove_path, EMBEDDING_SEED,
                                               vectors=vectors, counts=counts)
  timings["glove_s"] = time.perf_counter() - start
  return vocabs, matrix, stats


def _build(config: ml_collections.ConfigDict, key: str, progress: bool) -> tuple[Dataset, dict]:
  """Reads, indexes and converts every split; returns the Dataset and its meta.json."""
  timings = {}
  start = time.perf_counter()
  splits = readers.load_splits(config)
  timings["read_s"] = time.perf_counter() - start
  vocabs, embeddings, coverage = _embeddings(config, splits, timings)
  entities = readers.num_entities(config)
  arrays = {}
  for name, records in splits.items():
    t = time.perf_counter()
    arrays[name] = arrays_lib.records_to_arrays(records, vocabs, entities, progress=progress)
    timings[f"arrays_{name}_s"] = time.perf_counter() - t
  timings["total_s"] = time.perf_counter() - start
  meta = {"cache_key": key, "cache_version": CACHE_VERSION,
          "key_inputs": key_lib.key_inputs(config),
          "records": {n: len(r) for n, r in splits.items()},
          "vocab_sizes": {n: len(getattr(vocabs, n)) for n in ("word", "pos", "deprel", "label")},
          "glove_coverage": coverage, "build_timings": timings}
  dataset = Dataset(arrays, vocabs, list(vocabs.label.itos), embeddings, entities, key)
  return dataset, meta


@contextlib.contextmanager
def atomic_directory(directory: pathlib.Path) -> Iterator[pathlib.Path]:
  """Yields a temporary sibling to fill, then renames it to `directory` (atomic on one
  filesystem): a killed build leaves at worst an unread `.<name>-*` directory, never a half
  cache. Losing a race to a concurrent build of the same directory is not an error."""
  try:
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
  except OSError as e:
    raise workdir_lib.WorkdirError(f"cannot write to {directory.parent}: {e.strerror or e}") from e
  try:
    yield tmp
    os.rename(tmp, directory)
  except OSError:
    shutil.rmtree(tmp, ignore_errors=True)
    if not (directory / "meta.json").is_file():  # not a concurrent build that won the race
      raise
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise


def _write(directory: pathlib.Path, dataset: Dataset, meta: dict) -> None:
  """Writes a dataset cache directory atomically."""
  with atomic_directory(directory) as tmp:
    dataset.vocab.save_dir(tmp / "vocab")
    if dataset.embeddings is not None:
      np.save(tmp / "embeddings.npy", dataset.embeddings, allow_pickle=False)
    for name, split in dataset.splits.items():
      save_split(tmp / name, split)
    meta = dict(meta, label_names=dataset.label_names, num_entities=dataset.num_entities)
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False))


def _read(directory: pathlib.Path) -> tuple[Dataset, dict]:
  """Loads a cache directory written by `_write`."""
  meta = json.loads((directory / "meta.json").read_text())
  embeddings = None
  if (directory / "embeddings.npy").is_file():
    embeddings = np.load(directory / "embeddings.npy", allow_pickle=False)
  splits = {name: load_split(directory / name) for name in meta["records"]}
  dataset = Dataset(splits, vocab_lib.Vocabs.load_dir(directory / "vocab"),
                    meta["label_names"], embeddings, meta["num_entities"], meta["cache_key"])
  return dataset, meta


def load_dataset_with_report(config: ml_collections.ConfigDict,
                             progress: bool = True) -> tuple[Dataset, CacheReport]:
  """`load_dataset` plus whether the cache was hit, the time taken and the record counts."""
  start = time.perf_counter()
  key = key_lib.compute_cache_key(config)
  directory = cache_directory(config, key)
  hit = (directory / "meta.json").is_file()
  if hit:
    try:
      dataset, meta = _read(directory)
      logging.info("cache hit: %s", directory)
    except (OSError, ValueError, KeyError, TypeError) as e:  # e.g. a file deleted by hand
      logging.warning("unreadable cache %s (%s): rebuilding", directory, e)
      shutil.rmtree(directory, ignore_errors=True)
      hit = False
  if hit:  # data.buckets is not in the key: a cache built for larger buckets may be reused
    for name, split in dataset.splits.items():
      validate.check_lengths(
          name, split.lengths,
          lambda i, name=name, split=split: f"{directory}/{name}: record {i} (id {split.ids[i]})",
          config.data.buckets)
  else:
    logging.info("cache miss: building %s", directory)
    dataset, meta = _build(config, key, progress)
    _write(directory, dataset, meta)
  report = CacheReport(directory, hit, time.perf_counter() - start, dict(meta["records"]), meta)
  return dataset, report


def load_dataset(config: ml_collections.ConfigDict, progress: bool = True) -> Dataset:
  """Builds (cache miss) or reads (cache hit) the preprocessed dataset of `config`."""
  return load_dataset_with_report(config, progress)[0]


# ---------------------------------------------------------------------------------------------
# The part of a Dataset that prediction needs, stored in the training workdir.

MODEL_INPUTS_DIR = "dataset"  # <workdir>/dataset/

def save_model_inputs(dataset: Dataset, directory: pathlib.Path) -> None:
  """Writes the vocabularies, label names, entity count and word-table shape to `directory`
  (a run's `<workdir>/dataset/`), so that a workdir predicts without the raw data or the
  cache; the word vectors themselves are in the checkpoint's parameters."""
  meta_file = directory / "meta.json"
  if meta_file.is_file():
    if json.loads(meta_file.read_text()).get("cache_key") == dataset.cache_key:
      return
    shutil.rmtree(directory)  # a workdir reused for other data: the new run's files win
  with atomic_directory(directory) as tmp:
    dataset.vocab.save_dir(tmp / "vocab")
    shape = None if dataset.embeddings is None else list(dataset.embeddings.shape)
    meta = {"label_names": dataset.label_names, "num_entities": dataset.num_entities,
            "cache_key": dataset.cache_key, "embeddings_shape": shape}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False))


def load_model_inputs(directory: pathlib.Path) -> Dataset:
  """A split-less Dataset from `save_model_inputs`; `embeddings` is a zero array of the saved
  shape (only its shape matters: the checkpoint restores the values)."""
  meta = json.loads((directory / "meta.json").read_text())
  shape = meta["embeddings_shape"]
  embeddings = None if shape is None else np.zeros(shape, np.float32)
  return Dataset({}, vocab_lib.Vocabs.load_dir(directory / "vocab"), meta["label_names"],
                 embeddings, meta["num_entities"], meta["cache_key"])
