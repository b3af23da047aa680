"""Orbax checkpoints: the latest few for resuming, plus the best by the selection metric.

A checkpoint holds three items: `state` (params, optimizer state, step, dropout key),
`tables` (the hard-negative table, numpy) and `loop` (JSON: epoch, position in the epoch,
best-so-far metric, the config). With the data order derived from (seed, epoch) that is
everything that decides the rest of the run, so a resumed run is bit-identical.
"""

from __future__ import annotations

import pathlib
from typing import Any

import jax
import ml_collections
import orbax.checkpoint as ocp
from absl import logging

from msfml_jax import cli, config_base


class IncompatibleCheckpointError(cli.UserError, RuntimeError):
  """The checkpoint was written by a run whose config differs in a setting that matters."""


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
  out = {}
  for k, v in d.items():
    key = f"{prefix}{k}"
    if isinstance(v, dict):
      out.update(_flatten(v, key + "."))
    else:
      out[key] = list(v) if isinstance(v, tuple) else v
  return out


def config_differences(saved: dict[str, Any], current: ml_collections.ConfigDict) -> list[str]:
  """Resume-sensitive settings (`config_base.resume_sensitive`: those that change the arrays
  or what is trained) that differ, as 'name: saved -> current'."""
  old, new = _flatten(saved), _flatten(current.to_dict())
  diffs = []
  for key in sorted(set(old) | set(new)):
    if not config_base.resume_sensitive(key):  # the one classification: config_base.FIELD_ROLES
      continue
    if key not in old:  # a setting newer than the checkpoint: only its default resumes
      difference = config_base.newer_setting_difference(key, new.get(key))
      if difference:
        diffs.append(difference)
      else:
        logging.warning("Checkpoint config has no setting %s; assuming it ran with %r.", key,
                        new.get(key))
      continue
    if old.get(key) != new.get(key):
      diffs.append(f"{key}: {old.get(key)!r} -> {new.get(key)!r}")
  return diffs


def _brief(error: Exception, limit: int = 300) -> str:
  """An Orbax/TensorStore error on one short line (their messages embed kilobytes of spec)."""
  text = cli.one_line(error).split(" [tensorstore_spec")[0]
  return text if len(text) <= limit else text[:limit] + " ..."


def _is_structure_mismatch(error: Exception) -> bool:
  """Orbax's error for a readable checkpoint whose tree differs from the target's."""
  return isinstance(error, ValueError) and "tree structures do not match" in str(error)


def _manager(directory: pathlib.Path, keep: int) -> ocp.CheckpointManager:
  options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True,
                                         enable_async_checkpointing=False)
  return ocp.CheckpointManager(directory.resolve(), options=options)


class Checkpointer:
  """`checkpoints/` keeps the latest `keep` steps, `best/` the best one."""

  def __init__(self, workdir: str | pathlib.Path, keep: int):
    workdir = pathlib.Path(workdir)
    self.latest = _manager(workdir / "checkpoints", keep)
    self.best = _manager(workdir / "best", 1)

  def save(self, step: int, state: Any, tables: dict[str, Any], loop: dict[str, Any],
           best: bool = False) -> None:
    """Saves synchronously (a kill -9 mid-save leaves only an unfinished temp directory)."""
    args = ocp.args.Composite(state=ocp.args.StandardSave(state),
                              tables=ocp.args.StandardSave(tables),
                              loop=ocp.args.JsonSave(loop))
    managers = [self.latest] + ([self.best] if best else [])
    for manager in managers:
      if step not in manager.all_steps():
        manager.save(step, args=args, force=True)
      manager.wait_until_finished()

  def restore_latest(self, state_template: Any, tables_template: dict[str, Any],
                     config: ml_collections.ConfigDict):
    """(state, tables, loop) of the newest readable checkpoint, or None when there is none.

    A damaged checkpoint is skipped with a warning naming it; one from an incompatible
    config raises IncompatibleCheckpointError naming the settings that differ.
    """
    abstract_state = jax.tree.map(ocp.utils.to_shape_dtype_struct, state_template)
    abstract_tables = jax.tree.map(ocp.utils.to_shape_dtype_struct, tables_template)
    for step in sorted(self.latest.all_steps(), reverse=True):
      path = self.latest.directory / str(step)
      try:
        loop = self.latest.restore(step, args=ocp.args.Composite(loop=ocp.args.JsonRestore()))["loop"]
      except Exception as e:  # pylint: disable=broad-except
        self._set_aside(path, e)
        continue
      diffs = config_differences(loop.get("config", {}), config)
      if diffs:
        raise IncompatibleCheckpointError(
            f"Checkpoint {path} was written with a different config; these settings differ "
            f"(saved -> current): {'; '.join(diffs)}. Use a new --workdir or the old settings.")
      try:
        restored = self.latest.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state),
            tables=ocp.args.StandardRestore(abstract_tables)))
      except Exception as e:  # pylint: disable=broad-except
        if _is_structure_mismatch(e):
          raise IncompatibleCheckpointError(
              f"Checkpoint {path} holds parameters or optimizer state of another structure "
              f"than this code and config build ({e}). It was written by another version or "
              f"model setting; use a new --workdir.") from e
        self._set_aside(path, e)
        continue
      logging.info("Resuming from %s", path)
      return restored["state"], restored["tables"], loop
    return None

  def _set_aside(self, path: pathlib.Path, error: Exception) -> None:
    """Renames a damaged checkpoint out of the step list (kept for inspection), so the resumed
    run can write that step again."""
    target = path.with_name(f"{path.name}.damaged")
    n = 1
    while target.exists():
      target, n = path.with_name(f"{path.name}.damaged{n}"), n + 1
    logging.warning("Skipping damaged checkpoint %s (%s: %s); moved to %s", path,
                    type(error).__name__, _brief(error), target)
    if jax.process_index() == 0:
      path.rename(target)
    self.latest.reload()

  def close(self) -> None:
    self.latest.close()
    self.best.close()


# Reading a finished run's checkpoints (prediction, plots): parameters only.

CHECKPOINT_DIRS = {"best": "best", "latest": "checkpoints"}


class NoCheckpointError(cli.UserError, FileNotFoundError):
  """The workdir holds no readable checkpoint."""


def _reader(directory: pathlib.Path) -> ocp.CheckpointManager:
  """A manager that reads an existing directory (never creates or deletes)."""
  return ocp.CheckpointManager(directory.resolve(),
                               options=ocp.CheckpointManagerOptions(create=False))


def find_checkpoint(workdir: str | pathlib.Path, checkpoint: str = "best"
                    ) -> tuple[pathlib.Path, int, ml_collections.ConfigDict]:
  """(directory, step, config saved with it) of the newest readable checkpoint.

  `best` falls back to `latest`: a run stopped before its first evaluation has no best one.
  """
  if checkpoint not in CHECKPOINT_DIRS:
    raise ValueError(f"checkpoint must be one of {sorted(CHECKPOINT_DIRS)}, got {checkpoint!r}")
  workdir = pathlib.Path(workdir)
  names = ["best", "latest"] if checkpoint == "best" else ["latest"]
  for directory in [workdir / CHECKPOINT_DIRS[n] for n in names]:
    if not directory.is_dir():
      continue
    manager = _reader(directory)
    try:
      for step in sorted(manager.all_steps(), reverse=True):
        try:
          loop = manager.restore(step, args=ocp.args.Composite(loop=ocp.args.JsonRestore()))
        except Exception as e:  # pylint: disable=broad-except (orbax raises many kinds)
          logging.warning("skipping unreadable checkpoint %s/%d: %s", directory, step, _brief(e))
          continue
        return directory, step, config_base.from_saved(loop["loop"]["config"])
    finally:
      manager.close()
  raise NoCheckpointError(f"no readable checkpoint under {workdir}/best or "
                          f"{workdir}/checkpoints (is --workdir a training workdir?)")


def _shapes(tree: Any) -> dict[str, tuple[int, ...]]:
  return {jax.tree_util.keystr(path): tuple(leaf.shape)
          for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}


def check_structure(directory: pathlib.Path, step: int, abstract: Any,
                    key: str = "params") -> None:
  """Raises IncompatibleCheckpointError unless the checkpoint's `key` holds exactly the
  parameters the model has (a partial restore would silently skip missing or extra ones)."""
  saved = ocp.PyTreeCheckpointHandler().metadata(directory.resolve() / str(step) / "state")
  have, want = _shapes(saved.tree.get(key) or {}), _shapes(abstract)
  diffs = sorted(f"{k}: checkpoint {have.get(k, 'missing')}, model {want.get(k, 'missing')}"
                 for k in have.keys() | want.keys() if have.get(k) != want.get(k))
  if diffs:
    raise IncompatibleCheckpointError(
        f"{directory}/{step} does not fit the model built from its config by this code "
        f"(written by another version?); {len(diffs)} parameters differ: {'; '.join(diffs[:5])}")


def restore_params(directory: pathlib.Path, step: int, abstract: Any,
                   key: str = "params") -> Any:
  """Only the parameters of a training checkpoint (not the optimizer state), on one device:
  the trained ones (`params`) or their moving average (`ema_params`)."""
  check_structure(directory, step, abstract, key)
  sharding = jax.sharding.SingleDeviceSharding(jax.devices()[0])
  item = {key: jax.tree.map(
      lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=sharding), abstract)}
  restore = ocp.args.PyTreeRestore(item=item, partial_restore=True,
                                   restore_args=ocp.checkpoint_utils.construct_restore_args(item))
  manager = _reader(directory)
  try:
    return manager.restore(step, args=ocp.args.Composite(state=restore))["state"][key]
  finally:
    manager.close()
