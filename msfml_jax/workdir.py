"""The workdir lock: one training process (or one multi-host run) per workdir.

`<workdir>/lock.json` holds the holder's PID, host and start time; the holder touches it every
HEARTBEAT_S seconds. A second process on a locked workdir stops at once with a message naming
the holder. A lock whose PID no longer runs on this host (a run killed with kill -9) is stale
and is taken over with a warning; so is a lock from another host that has not been touched
for STALE_AFTER_S seconds (a preempted VM, a Colab session that ended, on shared storage).
A fresh lock of another host is refused with a message saying how to remove it. In a
multi-host run process 0 takes the lock for every process (the workdir is shared) and tells
the others the outcome, so they all stop together.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import pathlib
import socket
import sys
import threading
import time
from typing import Iterator

from absl import logging

from msfml_jax import cli

LOCK_FILE = "lock.json"
HEARTBEAT_S = 60
STALE_AFTER_S = 600


class WorkdirError(cli.UserError):
  """The workdir cannot be created or written."""


class WorkdirLocked(cli.UserError):
  """Another live process holds the workdir."""


def make_writable_dir(directory: pathlib.Path, what: str = "workdir") -> pathlib.Path:
  """Creates `directory` (and parents); WorkdirError naming it when that is not possible."""
  directory = pathlib.Path(directory)
  try:
    directory.mkdir(parents=True, exist_ok=True)
    if not os.access(directory, os.W_OK | os.X_OK):
      raise PermissionError(13, "Permission denied")
  except OSError as e:
    raise WorkdirError(f"cannot write to {what} {directory}: {e.strerror or e}") from e
  return directory


def _pid_alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:  # it exists, owned by someone else
    return True
  return True


def _read_holder(path: pathlib.Path) -> dict | None:
  try:
    return json.loads(path.read_text())
  except FileNotFoundError:
    return None
  except (OSError, ValueError):
    return {}  # unreadable or half-written: treated as held by an unknown process


def _age(path: pathlib.Path) -> float:
  try:
    return time.time() - path.stat().st_mtime
  except FileNotFoundError:
    return 0.0


def _heartbeat(path: pathlib.Path, stop: threading.Event) -> None:
  """Touches the lock every HEARTBEAT_S seconds until `stop` is set."""
  while not stop.wait(HEARTBEAT_S):
    with contextlib.suppress(OSError):
      os.utime(path)


def _describe(holder: dict) -> str:
  return (f"PID {holder.get('pid', '?')} on host {holder.get('host', '?')} "
          f"(since {holder.get('started', '?')})")


def acquire(workdir: pathlib.Path) -> pathlib.Path:
  """Takes `<workdir>/lock.json` for this process; raises WorkdirLocked or WorkdirError."""
  workdir = make_writable_dir(workdir)
  path = workdir / LOCK_FILE
  me = {"pid": os.getpid(), "host": socket.gethostname(),
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv)}
  for _ in range(3):
    try:
      fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
      holder = _read_holder(path)
      if holder is None:
        continue  # released meanwhile
      pid = holder.get("pid")
      if holder.get("host") == me["host"] and isinstance(pid, int) and not _pid_alive(pid):
        why = "that process no longer runs"
      elif holder.get("host") != me["host"] and _age(path) > STALE_AFTER_S:
        why = f"not touched for {_age(path):.0f} s (its heartbeat is every {HEARTBEAT_S} s)"
      else:
        why = None
      if why:
        logging.warning("Taking over the stale lock %s of %s: %s.", path, _describe(holder), why)
        with contextlib.suppress(FileNotFoundError):
          path.unlink()
        continue
      raise WorkdirLocked(
          f"workdir {workdir} is in use by {_describe(holder)}, command: "
          f"{holder.get('command', '?')!r}. Wait for it to end or use another --workdir; if "
          f"that process is dead (e.g. its host is gone), delete {path}.") from None
    except OSError as e:
      raise WorkdirError(f"cannot write to workdir {workdir}: {e.strerror or e}") from e
    with os.fdopen(fd, "w") as f:
      json.dump(me, f)
    return path
  raise WorkdirLocked(f"workdir {workdir}: could not take {path} (it keeps changing)")


def release(path: pathlib.Path) -> None:
  """Removes the lock if this process still holds it."""
  holder = _read_holder(path)
  if holder and holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
    with contextlib.suppress(FileNotFoundError):
      path.unlink()


def _agree(error: cli.UserError | None) -> None:
  """Multi-host: process 0's outcome, broadcast to every process (raised everywhere)."""
  import jax  # pylint: disable=import-outside-toplevel
  if jax.process_count() == 1:
    if error is not None:
      raise error
    return
  import numpy as np  # pylint: disable=import-outside-toplevel
  from jax.experimental import multihost_utils  # pylint: disable=import-outside-toplevel
  failed = int(multihost_utils.broadcast_one_to_all(np.int32(error is not None)))
  if error is not None:
    raise error
  if failed:
    raise WorkdirLocked("process 0 could not take the workdir lock (its log says why)")


@contextlib.contextmanager
def locked(workdir: str | pathlib.Path) -> Iterator[None]:
  """Holds the workdir lock for the duration (process 0 only in a multi-host run)."""
  import jax  # pylint: disable=import-outside-toplevel
  path, error = None, None
  if jax.process_index() == 0:
    try:
      path = acquire(pathlib.Path(workdir))
    except cli.UserError as e:
      error = e
  _agree(error)
  stop = threading.Event()
  if path is not None:
    threading.Thread(target=_heartbeat, args=(path, stop), daemon=True,
                     name="workdir-lock-heartbeat").start()
  try:
    yield
  finally:
    stop.set()
    if path is not None:
      release(path)
