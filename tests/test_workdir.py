"""The workdir lock: a live holder is refused with its PID and host, a dead one on this host
is taken over with a warning, a holder on another host is refused; the lock goes at the end."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time

import pytest

from msfml_jax import workdir


def _write_lock(directory, pid, host=None):
  directory.mkdir(parents=True, exist_ok=True)
  (directory / workdir.LOCK_FILE).write_text(json.dumps(
      {"pid": pid, "host": host or socket.gethostname(), "started": "then", "command": "main"}))


def test_lock_is_taken_and_released(tmp_path):
  with workdir.locked(tmp_path / "run"):
    holder = json.loads((tmp_path / "run" / workdir.LOCK_FILE).read_text())
    assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
    with pytest.raises(workdir.WorkdirLocked):  # not re-entrant: a second run in this process
      workdir.acquire(tmp_path / "run")
  assert not (tmp_path / "run" / workdir.LOCK_FILE).exists()


def test_live_holder_is_refused_with_pid_and_host(tmp_path):
  sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
  try:
    _write_lock(tmp_path, sleeper.pid)
    with pytest.raises(workdir.WorkdirLocked,
                       match=rf"in use by PID {sleeper.pid} on host {socket.gethostname()}"):
      workdir.acquire(tmp_path)
  finally:
    sleeper.kill()
    sleeper.wait()
  assert json.loads((tmp_path / workdir.LOCK_FILE).read_text())["pid"] == sleeper.pid


def test_stale_lock_is_taken_over_with_a_warning(tmp_path, caplog):
  dead = subprocess.Popen([sys.executable, "-c", "pass"])
  dead.wait()
  _write_lock(tmp_path, dead.pid)
  with caplog.at_level(logging.WARNING):
    with workdir.locked(tmp_path):
      assert json.loads((tmp_path / workdir.LOCK_FILE).read_text())["pid"] == os.getpid()
  assert f"stale lock" in caplog.text and f"PID {dead.pid}" in caplog.text


def test_lock_held_on_another_host_is_refused_until_its_heartbeat_stops(tmp_path, caplog):
  _write_lock(tmp_path, 1, host="some-other-host")
  with pytest.raises(workdir.WorkdirLocked, match="PID 1 on host some-other-host.*delete"):
    workdir.acquire(tmp_path)
  old = time.time() - workdir.STALE_AFTER_S - 5  # e.g. a Colab session that ended
  os.utime(tmp_path / workdir.LOCK_FILE, (old, old))
  with caplog.at_level(logging.WARNING):
    workdir.release(workdir.acquire(tmp_path))
  assert "not touched for" in caplog.text


def test_the_holder_touches_its_lock(tmp_path, monkeypatch):
  monkeypatch.setattr(workdir, "HEARTBEAT_S", 0.05)
  with workdir.locked(tmp_path):
    path = tmp_path / workdir.LOCK_FILE
    os.utime(path, (0, 0))
    deadline = time.time() + 10
    while path.stat().st_mtime == 0 and time.time() < deadline:
      time.sleep(0.05)
    assert path.stat().st_mtime > 0


def test_unwritable_workdir_is_a_workdir_error(tmp_path):
  if os.geteuid() == 0:
    blocker = tmp_path / "file"  # root ignores permissions: a file where a directory must go
    blocker.write_text("")
    target = blocker / "run"
  else:
    (tmp_path / "ro").mkdir(mode=0o500)
    target = tmp_path / "ro" / "run"
  with pytest.raises(workdir.WorkdirError, match=f"cannot write to workdir {target}"):
    workdir.acquire(target)
