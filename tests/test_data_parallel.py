"""Data parallelism: 8 (forced host) devices give the same loss and update as one device."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from msfml_jax import paths

REPO = pathlib.Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not (paths.resolve_data_dir("") / "semeval/train.json").exists(),
                                reason="SemEval data not found (set MSFML_DATA)")

_SCRIPT = """
import json, sys
import jax, numpy as np
from msfml_jax import train
from configs import tiny
config = tiny.get_config()
config.cache_dir = sys.argv[1]
config.max_train_examples = 64
run = train.setup(config, sys.argv[2])
state = train.initial_state(run)
plan = run.sampler.plan(0, run.global_batch, None)
losses = []
for b in range(2):
  state, metrics = run.train_step(state, train.train_batch(run, plan, b))
  losses.append(float(metrics["loss"]))
leaf = np.asarray(jax.tree.leaves(state.params)[0]).ravel()[:5].tolist()
print(json.dumps({"devices": jax.device_count(), "losses": losses, "leaf": leaf}))
"""


def _run(devices, tmp_path):
  env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
         "PYTHONPATH": str(REPO)}
  proc = subprocess.run([sys.executable, "-c", _SCRIPT, str(tmp_path / "cache"),
                         str(tmp_path / f"w{devices}")], cwd=REPO, capture_output=True,
                        text=True, timeout=600, env=env)
  assert proc.returncode == 0, proc.stderr[-4000:]
  return json.loads(proc.stdout.strip().splitlines()[-1])


def test_eight_devices_match_one(tmp_path):
  one, eight = _run(1, tmp_path), _run(8, tmp_path)
  assert one["devices"] == 1 and eight["devices"] == 8
  for a, b in zip(one["losses"], eight["losses"]):
    assert abs(a - b) < 1e-4 * max(1.0, abs(a)), (one, eight)
  for a, b in zip(one["leaf"], eight["leaf"]):
    assert abs(a - b) < 1e-5, (one, eight)
