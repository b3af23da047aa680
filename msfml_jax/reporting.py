"""What a run leaves in its workdir: metrics.jsonl, TensorBoard events, results, predictions."""

from __future__ import annotations

import importlib.metadata
import json
import pathlib
import platform
import sys
from typing import Any, Sequence

import jax
import numpy as np


def _import_summary_writer():
  """tensorboardX's SummaryWriter, imported without torch.

  tensorboardX's writer imports torch when it can, only to accept torch tensors, which we
  never pass; that import costs 1.4 s of every training's start (most of a test's or a short
  job's import time) where torch is installed (stanza needs it). A None entry in sys.modules
  makes that import fail as if torch were absent; it is removed again at once, so a later
  `import torch` works.
  """
  hide_torch = "torch" not in sys.modules
  if hide_torch:
    sys.modules["torch"] = None
  try:
    from tensorboardX import SummaryWriter  # pylint: disable=import-outside-toplevel
  finally:
    if hide_torch:
      del sys.modules["torch"]
  return SummaryWriter


SummaryWriter = _import_summary_writer()


def _jsonable(x: Any) -> Any:
  if isinstance(x, dict):
    return {str(k): _jsonable(v) for k, v in x.items()}
  if isinstance(x, (list, tuple)):
    return [_jsonable(v) for v in x]
  if isinstance(x, np.ndarray):
    return x.tolist()
  if isinstance(x, (np.floating, np.integer, np.bool_)):
    return x.item()
  return x


def overall_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
  """The metrics over all labels: without the per-label entries (`p/<label>`, `f1/<label>`,
  `undirected/...`), whose keys are the ones with a "/"."""
  return {k: v for k, v in metrics.items() if "/" not in k}


def scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
  """The numeric entries of a metrics dict (drops confusion matrices, tables...)."""
  return {k: float(v) for k, v in metrics.items()
          if isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool)}


class MetricsLog:
  """Appends one JSON line per evaluation and mirrors scalars to TensorBoard (process 0)."""

  def __init__(self, workdir: str | pathlib.Path):
    self.workdir = pathlib.Path(workdir)
    self.enabled = jax.process_index() == 0
    self.writer = SummaryWriter(str(self.workdir / "tensorboard")) if self.enabled else None

  def write(self, step: int, epoch: int, split: str, metrics: dict[str, Any]) -> None:
    if not self.enabled:
      return
    scalars = scalar_metrics(metrics)
    line = {"step": int(step), "epoch": int(epoch), "split": split, "metrics": scalars}
    with open(self.workdir / "metrics.jsonl", "a", encoding="utf-8") as f:
      f.write(json.dumps(line) + "\n")
    for name, value in scalars.items():
      self.writer.add_scalar(f"{split}/{name}", value, step)
    self.writer.flush()

  def close(self) -> None:
    if self.writer is not None:
      self.writer.close()


ENVIRONMENT_PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy")


def environment() -> dict[str, Any]:
  """What a run's numbers depend on besides its config: package versions and the devices.

  The same config and seed give bit-identical runs on one machine (tests/test_preemption.py),
  but not always across machines: XLA compiles for the processor it finds, and packages
  move. results.json records both so two summaries can be told apart.
  """
  versions = {}
  for name in ENVIRONMENT_PACKAGES:
    try:
      versions[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      versions[name] = None
  device = jax.devices()[0]
  return {"packages": versions, "python": platform.python_version(),
          "platform": device.platform, "device_kind": device.device_kind,
          "device_count": jax.device_count(), "process_count": jax.process_count(),
          "machine": platform.machine(), "cpu": _cpu_model()}


def _cpu_model() -> str:
  """The host CPU's model name (Linux /proc/cpuinfo), else what `platform` knows."""
  try:
    for line in pathlib.Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
      if line.startswith("model name"):
        return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor()


def write_json(path: str | pathlib.Path, obj: Any) -> None:
  if jax.process_index() == 0:
    pathlib.Path(path).write_text(json.dumps(_jsonable(obj), indent=2) + "\n", encoding="utf-8")


def write_predictions(path: str | pathlib.Path, ids: Sequence[str], gold: np.ndarray,
                      probs: np.ndarray, label_names: Sequence[str],
                      extra: dict[str, Sequence[Any]] | None = None) -> None:
  """One JSON line per record: id, gold, predicted label and every label's probability."""
  if jax.process_index() != 0:
    return
  with open(path, "w", encoding="utf-8") as f:
    for i, record_id in enumerate(ids):
      row = {"id": str(record_id), "gold": label_names[int(gold[i])],
             "prediction": label_names[int(probs[i].argmax())],
             "probabilities": {name: round(float(p), 6) for name, p in zip(label_names, probs[i])}}
      for key, values in (extra or {}).items():
        row[key] = _jsonable(values[i])
      f.write(json.dumps(row) + "\n")
