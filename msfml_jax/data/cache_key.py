"""The cache key: sha256 over input file contents, cache-relevant config fields, the source of
the preprocessing modules and CACHE_VERSION.

Files up to FULL_HASH_LIMIT bytes (all of SemEval, PubMed, TACRED and the 68 MB GloVe 6B-50d
file; sha256 runs at about 1 GB/s here) are hashed in full. Larger files (the 2 GB
glove.840B.300d.zip, its 5.6 GB text) are fingerprinted by size, mtime and their first and
last MiB, which catches every replaced or truncated download but not an in-place edit of the
middle that keeps size and mtime.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib

import ml_collections

from msfml_jax import config_base
from msfml_jax.data import readers
from msfml_jax.data.json_fields import DataError

# Bump when the array layout or any preprocessing rule changes. 2: batches carry the graphs as
# integers (heads, coarse ids, coarse edges) instead of dense matrices.
CACHE_VERSION = 2
FULL_HASH_LIMIT = 1 << 30
_EDGE_BYTES = 1 << 20
# Modules whose code shapes the arrays: their source is part of the key, so editing them
# rebuilds caches instead of silently reusing stale arrays (CACHE_VERSION still documents
# deliberate format changes).
_CODE_MODULES = ("readers.py", "json_fields.py", "vocab.py", "glove.py", "arrays.py",
                 "graphs.py", "cache.py")
# `config.data` fields that do not change the arrays (batching only), from the one
# classification of every field, config_base.FIELD_ROLES; all others (and any field not yet
# classified) are keyed.
NON_KEY_FIELDS = frozenset(k for k in config_base.data_config()
                           if not config_base.in_cache_key(f"data.{k}"))


def file_fingerprint(path: pathlib.Path) -> str:
  """sha256 of the file, or of (size, mtime, first and last MiB) over FULL_HASH_LIMIT."""
  try:
    stat = path.stat()
  except FileNotFoundError:
    raise DataError(f"{path}: input file not found") from None
  h = hashlib.sha256()
  with open(path, "rb") as f:
    if stat.st_size <= FULL_HASH_LIMIT:
      while chunk := f.read(1 << 22):
        h.update(chunk)
      return h.hexdigest()
    h.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    h.update(f.read(_EDGE_BYTES))
    f.seek(-_EDGE_BYTES, os.SEEK_END)
    h.update(f.read(_EDGE_BYTES))
  return "quick:" + h.hexdigest()


def key_inputs(config: ml_collections.ConfigDict) -> dict:
  """The config values the arrays depend on (JSON-friendly)."""
  fields = {k: (list(v) if isinstance(v, tuple) else v)
            for k, v in sorted(config.data.items()) if config_base.in_cache_key(f"data.{k}")}
  if config.data.dev_holdout > 0:  # the seed only picks the held-out records
    fields["seed"] = config.seed
  return fields


def input_paths(config: ml_collections.ConfigDict) -> dict[str, pathlib.Path]:
  """Every file the build reads: split files, label file, GloVe file."""
  files = readers.input_files(config)
  if config.data.glove_file:
    files["glove"] = readers.resolve_path(config, config.data.glove_file)
  return files


def code_fingerprint() -> str:
  """sha256 over the source of the preprocessing modules and of the task registry (readers,
  label sets, the record schema; missing ones are skipped)."""
  h = hashlib.sha256()
  here = pathlib.Path(__file__).resolve().parent
  task_files = sorted((here.parent / "tasks").glob("*.py")) + sorted(
      (here.parent / "tasks").glob("*.json"))
  for path in [here / name for name in _CODE_MODULES] + task_files:
    if path.is_file():
      h.update(path.name.encode() + b"\0" + path.read_bytes())
  return h.hexdigest()


def compute_cache_key(config: ml_collections.ConfigDict) -> str:
  """sha256 hex digest identifying the preprocessed arrays of `config`."""
  payload = {
      "version": CACHE_VERSION,
      "code": code_fingerprint(),
      "config": key_inputs(config),
      "files": {name: file_fingerprint(p) for name, p in sorted(input_paths(config).items())},
  }
  return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
