"""Load time of SemEval train's arrays stored as numpy .npy files versus Arrow (`datasets`).

  python tools/bench_cache_storage.py [--config=configs/semeval.py] [--repeats=20]

Both layouts hold the same `SplitArrays`; "load" means getting every field back as numpy
arrays in the flat-over-tokens layout the batcher uses. Arrow is given its best case: one row
per record (list columns for token-level fields), read zero-copy through pyarrow.
The result is recorded in docs/cache.md.
"""

from __future__ import annotations

import dataclasses
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags
from ml_collections import config_flags
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
# pylint: disable=g-import-not-at-top,wrong-import-position
import datasets
import pyarrow as pa
from msfml_jax.data import arrays as arrays_lib
from msfml_jax.data import cache, readers, vocab as vocab_lib

_CONFIG = config_flags.DEFINE_config_file("config", str(
    pathlib.Path(__file__).resolve().parent.parent / "configs" / "semeval.py"), "Config.")
_REPEATS = flags.DEFINE_integer("repeats", 20, "Timed loads per storage (median reported).")


def _layout(split) -> dict[str, str]:
  """Field -> "<offsets>", "<record>" (leading dim N), "<json>" (not numpy) or the name of
  the offsets field it is ragged by (leading dim = that field's last value)."""
  offsets = {f.name: int(getattr(split, f.name)[-1]) for f in dataclasses.fields(split)
             if f.name.endswith("offsets")}
  n = len(split.offsets) - 1
  layout = {}
  for f in dataclasses.fields(split):
    value = getattr(split, f.name)
    if f.name in offsets:
      layout[f.name] = "<offsets>"
    elif not isinstance(value, np.ndarray) or value.dtype.kind == "O":
      layout[f.name] = "<json>"
    elif value.shape[0] == n:
      layout[f.name] = "<record>"
    else:
      layout[f.name] = next(o for o, total in offsets.items() if value.shape[0] == total)
  return layout


def _list_column(offsets: np.ndarray, value: np.ndarray) -> pa.ListArray:
  """Rows value[offsets[i]:offsets[i+1]] (inner dims flattened into the list)."""
  width = int(np.prod(value.shape[1:]))
  return pa.ListArray.from_arrays(pa.array((offsets * width).astype(np.int32)),
                                  pa.array(value.ravel()))


def save_arrow(split, directory: pathlib.Path) -> None:
  """One row per record; ragged fields as list columns, [N, ...] fields as fixed lists."""
  n = len(split.offsets) - 1
  columns = {}
  for name, kind in _layout(split).items():
    value = getattr(split, name)
    if kind == "<offsets>":
      continue
    if kind == "<record>" and value.ndim == 1:
      columns[name] = pa.array(value)
    elif kind == "<record>":
      columns[name] = _list_column(np.arange(n + 1), value)
    elif kind == "<json>":
      columns[name] = pa.array([np.asarray(v).tolist() for v in value])
    else:
      columns[name] = _list_column(getattr(split, kind), value)
  datasets.Dataset(pa.table(columns)).save_to_disk(str(directory))


def load_arrow(directory: pathlib.Path, layout: dict[str, str], shapes: dict):
  """Back to SplitArrays through pyarrow's zero-copy buffers (Arrow's best case)."""
  table = datasets.load_from_disk(str(directory)).data.table
  values = {}
  for name, kind in layout.items():
    if kind == "<offsets>":
      continue
    column = table.column(name).combine_chunks()
    if kind == "<json>":
      values[name] = column.to_pylist()
    elif kind == "<record>" and len(shapes[name]) == 1:
      values[name] = column.to_numpy(zero_copy_only=False)
    else:
      inner = shapes[name][1:]
      values[name] = column.values.to_numpy(zero_copy_only=False).reshape(-1, *inner)
      if kind != "<record>":
        values[kind] = column.offsets.to_numpy().astype(np.int64) // int(np.prod(inner))
  return arrays_lib.SplitArrays(**values)


def _check_same(a, b) -> None:
  for f in dataclasses.fields(a):
    if not np.array_equal(np.asarray(getattr(a, f.name)), np.asarray(getattr(b, f.name))):
      raise AssertionError(f"field {f.name} did not survive the round trip")


def _median_seconds(fn, repeats: int) -> float:
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def _import_seconds(module: str) -> float:
  """Wall time of a fresh interpreter importing `module` (what every training run pays)."""
  start = time.perf_counter()
  subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
  return time.perf_counter() - start


def main(argv: list[str]) -> None:
  del argv
  config = _CONFIG.value
  config.data.glove_file = ""  # storage only: no need for vectors
  records = readers.load_splits(config)["train"]
  vocabs = vocab_lib.build_vocabs({"train": records}, config)
  split = arrays_lib.records_to_arrays(records, vocabs, readers.num_entities(config),
                                       progress=False)
  layout = _layout(split)
  shapes = {f: getattr(split, f).shape for f in layout if layout[f] not in ("<json>", "<offsets>")}
  with tempfile.TemporaryDirectory() as tmp:
    tmp = pathlib.Path(tmp)
    cache.save_split(tmp / "npy", split)
    save_arrow(split, tmp / "arrow")
    size = lambda d: sum(p.stat().st_size for p in d.rglob("*") if p.is_file())
    results = {
        "npy (np.load)": (lambda: cache.load_split(tmp / "npy"), size(tmp / "npy")),
        "npy (mmap)": (lambda: cache.load_split(tmp / "npy", mmap=True), size(tmp / "npy")),
        "arrow (datasets)": (lambda: load_arrow(tmp / "arrow", layout, shapes),
                             size(tmp / "arrow")),
    }
    print(f"SemEval train: {len(records)} records, {int(split.offsets[-1])} tokens, "
          f"{len(layout)} fields; median of {_REPEATS.value} loads")
    for name, (fn, nbytes) in results.items():
      _check_same(split, fn())  # also warms the page cache and imports
      print(f"  {name:18s} {1000 * _median_seconds(fn, _REPEATS.value):8.2f} ms  "
            f"{nbytes / 1e6:6.2f} MB on disk")
  for module in ("numpy", "datasets"):
    print(f"  python -c 'import {module}': {_import_seconds(module):.2f} s")


if __name__ == "__main__":
  app.run(main)
