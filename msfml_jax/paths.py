"""Where data and caches live.

`data_dir` resolution order (first that applies):
  1. the config's `data_dir` when it is set,
  2. the `MSFML_DATA` environment variable,
  3. `../shared/data` relative to the current directory or to the repository, when it exists,
  4. `~/.cache/msfml_jax/data` (where `tools/download_data.py` puts things).
The cache of preprocessed arrays goes to `cache_dir`, else `$MSFML_CACHE`, else
`~/.cache/msfml_jax/cache`.
"""

from __future__ import annotations

import os
import pathlib

_REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_DOWNLOAD_DIR = pathlib.Path("~/.cache/msfml_jax/data").expanduser()


def resolve_data_dir(configured: str = "") -> pathlib.Path:
  """Returns the data directory following the documented resolution order."""
  if configured:
    return pathlib.Path(configured).expanduser()
  if os.environ.get("MSFML_DATA"):
    return pathlib.Path(os.environ["MSFML_DATA"]).expanduser()
  for candidate in (pathlib.Path.cwd() / ".." / "shared" / "data",
                    _REPO_ROOT.parent / "shared" / "data"):
    if candidate.is_dir():
      return candidate.resolve()
  return DEFAULT_DOWNLOAD_DIR


def resolve_cache_dir(configured: str = "") -> pathlib.Path:
  """Returns the directory for cached preprocessed arrays."""
  if configured:
    return pathlib.Path(configured).expanduser()
  if os.environ.get("MSFML_CACHE"):
    return pathlib.Path(os.environ["MSFML_CACHE"]).expanduser()
  return pathlib.Path("~/.cache/msfml_jax/cache").expanduser()


def resolve_compilation_cache_dir(configured: str, cache_dir: str = "") -> pathlib.Path | None:
  """JAX's persistent compilation cache directory (`config.compilation_cache_dir`): relative
  paths are inside the cache directory, "" disables the cache (None). JAX's own
  `JAX_COMPILATION_CACHE_DIR`, when set, replaces a configured directory: one cache shared
  by runs whatever their cache directories (a test session, a sweep over data caches)."""
  if not configured:
    return None
  if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
    return pathlib.Path(os.environ["JAX_COMPILATION_CACHE_DIR"]).expanduser()
  path = pathlib.Path(configured).expanduser()
  return path if path.is_absolute() else resolve_cache_dir(cache_dir) / path
