"""Preemptible training: exact resume after SIGKILL, SIGTERM checkpoints, damaged
checkpoints, the divergence guard and a two-process (multi-host) run on CPU."""

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

from msfml_jax import paths

REPO = pathlib.Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not (paths.resolve_data_dir("") / "semeval/train.json").exists(),
                                reason="SemEval data not found (set MSFML_DATA)")

# 96 records, batch 16: 6 steps per epoch, 18 steps in all; a checkpoint every 2 steps.
SMALL = ["--config=configs/tiny.py", "--config.max_train_examples=96",
         "--config.max_eval_examples=48", "--config.num_epochs=3", "--config.log_every_steps=1",
         "--config.checkpoint_every_steps=2", "--config.keep_checkpoints=3"]
TOTAL_STEPS = 18


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
    time.sleep(0.05)
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
  root = tmp_path_factory.mktemp("ref")
  proc = run_to_end(root / "run", root / "cache")
  assert proc.returncode == 0, proc.stderr[-5000:]
  assert checkpoint_steps(root / "run")[-1] == TOTAL_STEPS
  return root / "run", root / "cache"


def test_sigkill_at_random_step_then_resume_is_bit_identical(reference, tmp_path):
  ref_dir, cache = reference
  workdir = tmp_path / "killed"
  for kill_at in sorted(random.sample(range(2, TOTAL_STEPS - 1), 2)):
    proc = start(workdir, cache)
    reached = wait_for_step(proc, workdir, kill_at)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"killed at step {reached}"
  proc = run_to_end(workdir, cache)
  assert proc.returncode == 0, proc.stderr[-5000:]
  assert "Resuming from" in proc.stderr
  assert_same_params(load_params(ref_dir), load_params(workdir))


def test_sigterm_checkpoints_and_exits_zero_then_resumes(reference, tmp_path):
  ref_dir, cache = reference
  workdir = tmp_path / "term"
  proc = start(workdir, cache)
  reached = wait_for_step(proc, workdir, 7)
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
  assert "Skipping damaged checkpoint" in proc.stderr and str(latest) in proc.stderr
  assert "Resuming from" in proc.stderr
  assert_same_params(load_params(ref_dir), load_params(workdir))


def test_divergence_stops_and_keeps_last_good_checkpoint(reference, tmp_path):
  ref_dir, cache = reference
  workdir = tmp_path / "nan"
  shutil.copytree(ref_dir, workdir)
  proc = run_to_end(workdir, cache, "--config.num_epochs=5", "--config.optim.learning_rate=1e30",
                    "--config.checkpoint_every_steps=0")
  assert proc.returncode != 0
  assert "Loss became" in proc.stderr
  assert checkpoint_steps(workdir)[-1] == TOTAL_STEPS
  params = load_params(workdir)
  assert all(np.isfinite(v).all() for v in params.values())


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def test_two_processes_match_one_process_with_two_devices(reference, tmp_path):
  _, cache = reference
  single = run_to_end(tmp_path / "single", cache,
                      env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
  assert single.returncode == 0, single.stderr[-5000:]
  port = _free_port()
  procs = []
  for pid in range(2):
    env = {**os.environ, "JAX_COORDINATOR_ADDRESS": f"127.0.0.1:{port}",
           "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": str(pid),
           "XLA_FLAGS": "--xla_force_host_platform_device_count=1"}
    procs.append(subprocess.Popen(_cmd(tmp_path / "multi", cache), cwd=REPO, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
  outs = [p.communicate(timeout=900) for p in procs]
  for p, (_, err) in zip(procs, outs):
    assert p.returncode == 0, err[-5000:]
  assert "process 1 of 2" in outs[1][1]
  assert checkpoint_steps(tmp_path / "multi")[-1] == TOTAL_STEPS
  a, b = load_params(tmp_path / "single"), load_params(tmp_path / "multi")
  for k in a:
    np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6, err_msg=k)
