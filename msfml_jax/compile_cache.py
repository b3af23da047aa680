"""JAX's persistent compilation cache (`config.compilation_cache_dir`, on by default).

A resumed or repeated run loads its XLA programs from the cache instead of compiling them
again. Programs that compile faster than `MIN_COMPILE_SECONDS` are not worth a disk entry.
"""

from __future__ import annotations

import pathlib

import jax
import ml_collections
from absl import logging

from msfml_jax import paths

MIN_COMPILE_SECONDS = 0.2


def enable(config: ml_collections.ConfigDict) -> pathlib.Path | None:
  """Points JAX's compilation cache at the config's directory; returns it (None: disabled).

  Takes effect for programs compiled after the call (call it before the first jit).
  """
  directory = paths.resolve_compilation_cache_dir(config.get("compilation_cache_dir", ""),
                                                  config.cache_dir)
  if directory is None:
    jax.config.update("jax_compilation_cache_dir", None)
    return None
  directory.mkdir(parents=True, exist_ok=True)
  jax.config.update("jax_compilation_cache_dir", str(directory))
  jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
  logging.info("JAX compilation cache: %s", directory)
  return directory
