"""Preemptible training: exact resume after SIGKILL, SIGTERM checkpoints, damaged
checkpoints, the divergence guard, a concurrent second run and a two-process (multi-host) run
on CPU, all on the in-repo SemEval fixture (configs/semeval_fixture.py).

The reference run trains in this process (the same config as the subprocesses'); kill -9,
SIGTERM, the damaged checkpoint's log and the processes' exit codes need real processes.
"""

import json
import os
import pathlib
import random
import shutil
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from conftest import FIXTURE_CONFIG, load_config_file, xla_flags
from msfml_jax import train
from msfml_jax import workdir as workdir_lib

REPO = pathlib.Path(__file__).resolve().parent.parent

# 96 records, batch 16: 6 steps per epoch, 18 steps in all; a checkpoint every 2 steps.
OVERRIDES = {"max_train_examples": 96, "max_eval_examples": 48, "num_epochs": 3,
             "log_every_steps": 1, "checkpoint_every_steps": 2, "keep_checkpoints": 3}
SMALL = [f"--config={FIXTURE_CONFIG}"] + [f"--config.{k}={v}" for k, v in OVERRIDES.items()]
TOTAL_STEPS = 18


def small_config(cache, **changes):
  config = load_config_file()
  config.update_from_flattened_dict({**OVERRIDES, **changes, "cache_dir": str(cache)})
  return config


def _cmd(workdir, cache, *extra):
  return [sys.executable, "-m", "msfml_jax.main", *SMALL, f"--workdir={workdir}",
          f"--config.cache_dir={cache}", *extra]


def run_to_end(workdir, cache, *extra, env=None):
  proc = subprocess.run(_cmd(workdir, cache, *extra), cwd=REPO, capture_output=True, text=True,
                        timeout=900, env={**os.environ, **(env or {})})
  return proc


def start(workdir, cache, *extra):
  return subprocess.Popen(_cmd(workdir, cache, *extra), cwd=REPO, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)


def wait_for_step(proc, workdir, step, timeout=600):
  """Blocks until metrics.jsonl shows `step` training steps (or the process ends)."""
  deadline = time.time() + timeout
  path = pathlib.Path(workdir) / "metrics.jsonl"
  while time.time() < deadline and proc.poll() is None:
    if path.exists():
      steps = [json.loads(l)["step"] for l in path.read_text().splitlines() if '"train"' in l]
      if steps and max(steps) >= step:
        return max(steps)
    time.sleep(0.02)
  raise AssertionError(f"training did not reach step {step}")


def checkpoint_steps(workdir):
  return sorted(int(p.name) for p in (pathlib.Path(workdir) / "checkpoints").iterdir()
                if p.name.isdigit())


def load_params(workdir, step=None):
  step = step if step is not None else checkpoint_steps(workdir)[-1]
  path = (pathlib.Path(workdir) / "checkpoints" / str(step) / "state").resolve()
  checkpointer = ocp.StandardCheckpointer()
  metadata = checkpointer.metadata(path).item_metadata
  # Restore onto this process's one device, whatever topology wrote the checkpoint.
  device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
  target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device),
                        metadata, is_leaf=lambda m: hasattr(m, "shape"))
  tree = checkpointer.restore(path, target)
  flat = {}

  def walk(prefix, node):
    if isinstance(node, dict):
      for k, v in node.items():
        walk(f"{prefix}/{k}", v)
    else:
      flat[prefix] = np.asarray(node)

  walk("", tree["params"])
  return flat


def assert_same_params(a, b):
  assert a.keys() == b.keys()
  for k in a:
    assert np.array_equal(a[k], b[k]), f"{k} differs"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  """(workdir, cache) of the uninterrupted run, trained in this process; read only."""
  root = tmp_path_factory.mktemp("ref")
  train.train_and_evaluate(small_config(root / "cache"), str(root / "run"))
  assert checkpoint_steps(root / "run")[-1] == TOTAL_STEPS
  return root / "run", root / "cache"


def test_sigkill_at_random_step_then_resume_is_bit_identical(reference, tmp_path):
  ref_dir, cache = reference
  workdir = tmp_path / "killed"
  for kill_at in sorted(random.sample(range(2, TOTAL_STEPS - 4), 2)):
    proc = start(workdir, cache)
    reached = wait_for_step(proc, workdir, kill_at)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"killed at step {reached}"
  assert (workdir / "lock.json").exists()  # kill -9 leaves its lock behind ...
  proc = run_to_end(workdir, cache)
  assert proc.returncode == 0, proc.stderr[-5000:]
  assert "Taking over the stale lock" in proc.stderr  # ... which the next run takes over
  assert "Resuming from" in proc.stderr
  assert_same_params(load_params(ref_dir), load_params(workdir))


def test_sigterm_checkpoints_and_exits_zero_then_resumes(reference, tmp_path):
  ref_dir, cache = reference
  workdir = tmp_path / "term"
  proc = start(workdir, cache)
  reached = wait_for_step(proc, workdir, 7)
  # A second run on the same workdir stops at once, naming the holder; the first goes on.
  # In process, so that it is refused while the first still runs (test_cli.py checks the
  # command line's one-line message and exit status 2 for a locked workdir).
  with pytest.raises(workdir_lib.WorkdirLocked,
                     match=f"in use by PID {proc.pid} on host {socket.gethostname()}"):
    train.train_and_evaluate(small_config(cache), str(workdir))
  proc.send_signal(signal.SIGTERM)
  _, err = proc.communicate(timeout=300)
  assert proc.returncode == 0, err[-3000:]
  assert "SIGTERM" in err
  assert checkpoint_steps(workdir)[-1] >= reached  # saved at a step boundary after the signal
  proc = run_to_end(workdir, cache)
  assert proc.returncode == 0, proc.stderr[-5000:]
  assert_same_params(load_params(ref_dir), load_params(workdir))


def test_damaged_latest_checkpoint_is_skipped(reference, tmp_path):
  ref_dir, cache = reference
  workdir = tmp_path / "damaged"
  shutil.copytree(ref_dir, workdir)
  latest = workdir / "checkpoints" / str(TOTAL_STEPS)
  for f in (latest / "state").rglob("*"):
    if f.is_file():
      f.write_bytes(b"\0garbage")
  proc = run_to_end(workdir, cache)
  assert proc.returncode == 0, proc.stderr[-5000:]
  warnings = [l for l in proc.stderr.splitlines() if "damaged checkpoint" in l]
  assert len(warnings) == 1 and str(latest) in warnings[0], warnings  # one line, named
  assert len(warnings[0]) < 800, warnings[0]
  assert "Event loop is closed" not in proc.stderr and "Traceback" not in proc.stderr
  assert "Resuming from" in proc.stderr
  assert_same_params(load_params(ref_dir), load_params(workdir))


def test_divergence_stops_and_keeps_last_good_checkpoint(reference, tmp_path):
  ref_dir, cache = reference
  workdir = tmp_path / "nan"
  shutil.copytree(ref_dir, workdir)
  config = small_config(cache, num_epochs=5, checkpoint_every_steps=0)
  config.optim.learning_rate = 1e30
  with pytest.raises(train.DivergenceError, match="Loss became") as err:
    train.train_and_evaluate(config, str(workdir))
  assert err.value.exit_code == 3
  assert checkpoint_steps(workdir)[-1] == TOTAL_STEPS
  params = load_params(workdir)
  assert all(np.isfinite(v).all() for v in params.values())
  assert not (workdir / "lock.json").exists()  # released on the way out


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _two_processes(workdir, cache):
  """Runs the small config as two JAX processes with one CPU device each."""
  port = _free_port()
  procs = []
  for pid in range(2):
    env = {**os.environ, "JAX_COORDINATOR_ADDRESS": f"127.0.0.1:{port}",
           "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": str(pid),
           "XLA_FLAGS": xla_flags("--xla_force_host_platform_device_count=1")}
    procs.append(subprocess.Popen(_cmd(workdir, cache), cwd=REPO, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
  return procs, [p.communicate(timeout=900) for p in procs]


def test_two_processes_match_one_process_with_two_devices(reference, tmp_path):
  _, cache = reference
  single = run_to_end(tmp_path / "single", cache,
                      env={"XLA_FLAGS": xla_flags("--xla_force_host_platform_device_count=2")})
  assert single.returncode == 0, single.stderr[-5000:]
  # A locked workdir: process 0 finds the lock and every process stops with exit status 2.
  holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
  try:
    (tmp_path / "multi").mkdir()
    (tmp_path / "multi" / "lock.json").write_text(json.dumps(
        {"pid": holder.pid, "host": socket.gethostname(), "started": "now", "command": "x"}))
    procs, outs = _two_processes(tmp_path / "multi", cache)
    assert [p.returncode for p in procs] == [2, 2], [e[-2000:] for _, e in outs]
    assert f"PID {holder.pid}" in outs[0][1]
    assert "process 0 could not take the workdir lock" in outs[1][1]
  finally:
    holder.kill()
    holder.wait()
  (tmp_path / "multi" / "lock.json").unlink()
  procs, outs = _two_processes(tmp_path / "multi", cache)
  for p, (_, err) in zip(procs, outs):
    assert p.returncode == 0, err[-5000:]
  assert "process 1 of 2" in outs[1][1]
  assert checkpoint_steps(tmp_path / "multi")[-1] == TOTAL_STEPS
  assert not (tmp_path / "multi" / "lock.json").exists()
  a, b = load_params(tmp_path / "single"), load_params(tmp_path / "multi")
  for k in a:
    np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6, err_msg=k)
