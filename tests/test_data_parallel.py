"""Data parallelism: 8 (forced host) devices give the same loss and update as one device.

On the in-repo SemEval fixture; the one-device side runs in this process, the eight-device
side in a child (the device count is fixed when JAX starts)."""

import json
import os
import pathlib
import subprocess
import sys

from conftest import xla_flags

REPO = pathlib.Path(__file__).resolve().parent.parent


def two_steps(cache_dir: str, workdir: str) -> dict:
  """Loss of two training steps and a few parameters after them, on every visible device."""
  import jax  # pylint: disable=import-outside-toplevel
  import numpy as np  # pylint: disable=import-outside-toplevel
  from conftest import load_config_file  # pylint: disable=import-outside-toplevel
  from msfml_jax import train  # pylint: disable=import-outside-toplevel
  config = load_config_file()
  config.cache_dir = cache_dir
  config.max_train_examples = 64
  run = train.setup(config, workdir)
  state = train.initial_state(run)
  plan = run.sampler.plan(0, run.global_batch, None)
  losses = []
  for b in range(2):
    state, metrics = run.train_step(state, train.train_batch(run, plan, b))
    losses.append(float(metrics["loss"]))
  leaf = np.asarray(jax.tree.leaves(state.params)[0]).ravel()[:5].tolist()
  return {"devices": jax.device_count(), "losses": losses, "leaf": leaf}


_CHILD = """
import json, sys
sys.path.insert(0, "tests")
import test_data_parallel
print(json.dumps(test_data_parallel.two_steps(sys.argv[1], sys.argv[2])))
"""


def test_eight_devices_match_one(tmp_path):
  one = two_steps(str(tmp_path / "cache"), str(tmp_path / "w1"))
  env = {**os.environ, "XLA_FLAGS": xla_flags("--xla_force_host_platform_device_count=8"),
         "PYTHONPATH": str(REPO)}
  proc = subprocess.run([sys.executable, "-c", _CHILD, str(tmp_path / "cache"),
                         str(tmp_path / "w8")], cwd=REPO, capture_output=True, text=True,
                        timeout=600, env=env)
  assert proc.returncode == 0, proc.stderr[-4000:]
  eight = json.loads(proc.stdout.strip().splitlines()[-1])
  assert one["devices"] == 1 and eight["devices"] == 8
  for a, b in zip(one["losses"], eight["losses"]):
    assert abs(a - b) < 1e-4 * max(1.0, abs(a)), (one, eight)
  for a, b in zip(one["leaf"], eight["leaf"]):
    assert abs(a - b) < 1e-5, (one, eight)
