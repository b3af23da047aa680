"""Data parallelism over every visible device (and every host) with jit + NamedSharding.

Parameters are replicated; batches are split along their example axis. Each process builds
only its own rows of every global batch and `make_array_from_process_local_data` assembles
the global array, so the same code runs on one CPU, one GPU, a TPU VM or a pod slice.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import AxisType, NamedSharding, PartitionSpec as P

DATA_AXIS = "data"


def make_mesh() -> jax.sharding.Mesh:
  """A 1-D mesh over all devices of all processes (Auto axes: classic jit sharding)."""
  return jax.make_mesh((jax.device_count(),), (DATA_AXIS,), axis_types=(AxisType.Auto,))


def replicated(mesh: jax.sharding.Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def example_sharding(mesh: jax.sharding.Mesh, example_axis: int) -> NamedSharding:
  """Shards axis `example_axis` (0 for eval batches, 1 for stacked triplets) over devices."""
  return NamedSharding(mesh, P(*([None] * example_axis), DATA_AXIS))


def global_batch_size(batch_size: int) -> int:
  """Rounds a batch size up so that every device gets the same number of examples."""
  n = jax.device_count()
  return -(-batch_size // n) * n


def process_rows(global_rows: int) -> slice:
  """The rows of a global batch this process builds and feeds."""
  per_process = global_rows // jax.process_count()
  start = jax.process_index() * per_process
  return slice(start, start + per_process)


def to_global(local_batch: Any, mesh: jax.sharding.Mesh, example_axis: int) -> Any:
  """Assembles this process's rows of every leaf (graphs too) into global, sharded arrays."""
  sharding = example_sharding(mesh, example_axis)
  nproc = jax.process_count()

  def assemble(x: np.ndarray) -> jax.Array:
    shape = list(x.shape)
    shape[example_axis] *= nproc
    return jax.make_array_from_process_local_data(sharding, x, tuple(shape))

  return jax.tree.map(assemble, local_batch)


def to_host(x: Any) -> Any:
  """Gathers (possibly multi-host) global arrays, any pytree of them, onto every host as
  numpy, in one transfer."""
  if jax.process_count() == 1:
    return jax.device_get(x)
  return multihost_utils.process_allgather(x, tiled=True)
