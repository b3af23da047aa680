"""tools/sweep.py: the grid, a 2-point tiny sweep, its CSV and PNG, and the CLI reusing it."""

import csv
import importlib.util
import os
import pathlib
import subprocess
import sys

import conftest

REPO = pathlib.Path(__file__).resolve().parent.parent
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _load_sweep():
  spec = importlib.util.spec_from_file_location("sweep_tool", REPO / "tools" / "sweep.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


sweep = _load_sweep()


def test_grid_one_axis_at_a_time_or_product():
  assert sweep.grid(None, None, 0.5, 0.03) == [
      (0.1, 0.03), (0.5, 0.03), (0.9, 0.03), (0.5, 0.01), (0.5, 0.05), (0.5, 0.09)]
  assert sweep.grid([0.5, 0.7], None, 0.5, 0.05) == [
      (0.5, 0.05), (0.7, 0.05), (0.5, 0.01), (0.5, 0.09)]  # (0.5, 0.05) once
  assert sweep.grid([0.1, 0.5], [0.03, 0.07], 0.5, 0.03) == [
      (0.1, 0.03), (0.1, 0.07), (0.5, 0.03), (0.5, 0.07)]
  assert sweep.point_dir(pathlib.Path("d"), 0.1, 0.07) == pathlib.Path("d/alpha0.1_beta0.07")


def _read_csv(path: pathlib.Path) -> list[dict]:
  with open(path, newline="", encoding="utf-8") as f:
    return list(csv.DictReader(f))


def test_two_point_sweep_writes_csv_and_png(tiny_cache_dir, tmp_path):
  overrides = {"num_epochs": 1, "max_train_examples": 96, "max_eval_examples": 100}
  config = conftest.tiny_config(tiny_cache_dir, overrides)
  points = [(0.1, 0.03), (0.9, 0.03)]
  rows = sweep.run_sweep(config, tmp_path, points)
  sweep.write_outputs(rows, tmp_path)

  table = _read_csv(tmp_path / "sweep.csv")
  assert [(float(r["alpha"]), float(r["beta"])) for r in table] == points
  assert list(table[0])[:4] == ["alpha", "beta", "metric", "value"]
  for row in table:
    assert row["metric"] == "macro_f1" and float(row["value"]) == float(row["macro_f1"])
    assert {"accuracy", "micro_f1", "f1/Cause-Effect"} <= set(row)
    assert 0.0 <= float(row["accuracy"]) <= 100.0
  for alpha, beta in points:
    results = sweep.point_dir(tmp_path, alpha, beta) / "results.json"
    assert f'"alpha": {alpha}' in results.read_text()
  png = (tmp_path / "sweep.png").read_bytes()
  assert png.startswith(PNG_SIGNATURE) and len(png) > 5000

  # The command line with the same settings finds both points finished and only re-plots.
  (tmp_path / "sweep.png").unlink()
  result = subprocess.run(
      [sys.executable, "tools/sweep.py", f"--config={conftest.FIXTURE_CONFIG}", f"--workdir={tmp_path}",
       "--alpha=0.1,0.9", "--beta=0.03", f"--config.cache_dir={tiny_cache_dir}",
       *(f"--config.{k}={v}" for k, v in overrides.items())],
      capture_output=True, text=True, timeout=300, cwd=REPO,
      env={**os.environ, "JAX_PLATFORMS": "cpu"})
  assert result.returncode == 0, result.stderr[-3000:]
  assert "finished earlier" in result.stderr and "epoch 1/1" not in result.stderr
  assert _read_csv(tmp_path / "sweep.csv") == table
  assert (tmp_path / "sweep.png").read_bytes().startswith(PNG_SIGNATURE)
  assert "alpha=0.1 beta=0.03 macro_f1=" in result.stdout

