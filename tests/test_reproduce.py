"""configs/suites.py and tools/reproduce.py: the declared suites, commands that parse back to
the declared configs, run states, and the smoke suite trained end to end, skipped, resumed."""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
from absl import flags
from ml_collections import config_flags

REPO = pathlib.Path(__file__).resolve().parent.parent


def _load_reproduce():
  spec = importlib.util.spec_from_file_location("reproduce_tool", REPO / "tools" / "reproduce.py")
  module = importlib.util.module_from_spec(spec)
  sys.modules[spec.name] = module
  spec.loader.exec_module(module)
  return module


reproduce = _load_reproduce()
suites = reproduce.load_suites()


def test_suites_declare_the_issue_runs():
  ablation = {r.name: r for r in suites.get_suite("semeval_ablation")}
  assert sorted(ablation) == sorted(f"M{m}_seed{s}" for m in range(1, 7) for s in (1, 2, 3))
  assert {r.config for r in ablation.values()} == {suites.SEMEVAL_SCHEDULE.config}
  schedule = suites.SEMEVAL_SCHEDULE.overrides
  assert ablation["M1_seed2"].all_overrides() == {**schedule, "model.mscnn": "none", "seed": 2}
  assert ablation["M2_seed1"].all_overrides() == {**schedule, "model.msgcn": "none", "seed": 1}
  assert ablation["M3_seed1"].all_overrides() == {**schedule, "loss.msml": False, "seed": 1}
  assert ablation["M4_seed1"].all_overrides() == {**schedule, "model.mscnn": "plain", "seed": 1}
  assert ablation["M5_seed3"].all_overrides() == {**schedule, "model.msgcn": "plain", "seed": 3}
  assert ablation["M6_seed1"].all_overrides() == {**schedule, "seed": 1}

  pubmed = {r.name: r for r in suites.get_suite("pubmed")}
  assert sorted(pubmed) == sorted(f"{s}_multi_fold{k}" for s in ("ternary", "binary")
                                  for k in range(5))
  # The paper's alpha / beta per setting (§5.1.2), through configs/pubmed.py.
  for name, arity, alpha, beta in (("ternary_multi_fold3", "ternary", 0.7, 0.03),
                                   ("binary_multi_fold0", "binary", 0.1, 0.07)):
    config = reproduce.expected_config(suites, pubmed[name])
    assert (config["data"]["arity"], config["data"]["label_set"]) == (arity, "multi")
    assert config["data"]["fold"] == int(name[-1])
    assert (config["loss"]["alpha"], config["loss"]["beta"]) == (alpha, beta)
  # configs/pubmed.py centres the feature loss; the suites' runs keep what they trained with.
  assert suites.load_config_file("configs/pubmed.py:ternary,multi").loss.feature_centering == (
      "batch")
  assert {reproduce.expected_config(suites, r)["loss"]["feature_centering"]
          for r in [*pubmed.values(), *suites.get_suite("pubmed_binary_class")]} == {"none"}
  binary_class = suites.get_suite("pubmed_binary_class")
  assert {reproduce.expected_config(suites, r)["data"]["label_set"] for r in binary_class} == {
      "binary"}
  # A PubMed probe differs from the `pubmed` run of its fold in its change alone.
  probe = {r.name: r for r in suites.get_suite("pubmed_probe")}["ternary_multi_fold0_center"]
  probe_config = reproduce.flatten(reproduce.expected_config(suites, probe))
  base_config = reproduce.flatten(reproduce.expected_config(suites, pubmed["ternary_multi_fold0"]))
  assert {k for k in probe_config if probe_config[k] != base_config.get(k)} == {
      "loss.feature_centering"}
  assert suites.pubmed_probe_baseline(probe.name) == "pubmed/ternary_multi_fold0"
  for name in suites.PUBMED_PROBES:   # every probe's baseline is a declared run
    base_suite, base_run = suites.pubmed_probe_baseline(name).split("/")
    assert base_run in {r.name for r in suites.get_suite(base_suite)}, name

  sweep = [reproduce.expected_config(suites, r) for r in suites.get_suite("semeval_sweep")]
  points = [(c["loss"]["alpha"], c["loss"]["beta"]) for c in sweep]
  alpha0, beta0 = suites.sweep_defaults()
  assert (alpha0, beta0) == (0.5, 0.03)  # configs/semeval_fast.py, the paper's SemEval values
  assert points == [(a, 0.03) for a in (0.1, 0.3, 0.5, 0.7, 0.9)] + [
      (0.5, b) for b in (0.01, 0.05, 0.07, 0.09)]  # the default point once
  assert {c["seed"] for c in sweep} == {suites.SWEEP_SEED}

  # The runs trained before configs/semeval.py adopted tail46 keep the defaults they had.
  old = {"model.input_dropout": 0.3, "model.word_dropout": 0.0, "model.rnn_dropout": 0.0,
         "model.gcn_dropout": 0.0, "optim.min_learning_rate": 0.0, "optim.ema_decay": 0.0,
         "optim.average_start_epoch": 0}
  assert suites.PRE_TAIL46_DEFAULTS == old
  centred = {"loss.feature_centering": "batch"}
  floor02 = {**suites.AGGCN_DROPOUTS, **centred, "optim.min_learning_rate": 0.2,
             "optim.ema_decay": 0.999}
  tail46 = {**floor02, "optim.average_start_epoch": 46}
  assert [(r.name, r.config, r.all_overrides()) for r in suites.get_suite("semeval_paper")] == [
      ("semeval", "configs/semeval.py", {**old, "loss.feature_centering": "none"}),
      ("semeval_aggcn_dropout", "configs/semeval.py",
       {**old, **suites.AGGCN_DROPOUTS, "loss.feature_centering": "none"}),
      ("semeval_center", "configs/semeval.py", {**old, **centred}),
      ("semeval_center_dropout", "configs/semeval.py",
       {**old, **suites.AGGCN_DROPOUTS, **centred}),
      ("semeval_center_dropout_ema", "configs/semeval.py",
       {**old, **suites.AGGCN_DROPOUTS, **centred, "optim.min_learning_rate": 0.1,
        "optim.ema_decay": 0.999}),
      ("semeval_center_dropout_floor02_ema", "configs/semeval.py", {**old, **floor02}),
      ("semeval_center_dropout_floor02_tail46", "configs/semeval.py", tail46),
      ("semeval_center_dropout_floor02_tail46_seed1", "configs/semeval.py",
       {**tail46, "seed": 1}),
      ("semeval_center_dropout_floor02_tail46_seed2", "configs/semeval.py",
       {**tail46, "seed": 2}),
      ("semeval_center_dropout_floor02_tail46_seed3", "configs/semeval.py",
       {**tail46, "seed": 3})]
  # The adopted run is what the README's first command (configs/semeval.py as is) trains.
  paper = suites.get_suite("semeval_paper")
  assert reproduce.expected_config(suites, suites.Run("x", "configs/semeval.py")) == (
      reproduce.expected_config(suites, paper[6]))
  # ... and the pins keep the earlier runs what they were: semeval_center was the default.
  assert reproduce.config_differences(
      reproduce.expected_config(suites, paper[2]),
      reproduce.expected_config(suites, suites.Run("x", "configs/semeval.py"))) != []
  with pytest.raises(ValueError, match="unknown suite 'nope'"):
    suites.get_suite("nope")
  # A misspelt field is an error, not a silently ignored override.
  with pytest.raises(ValueError, match=r"run 'typo' .*no config field 'model.mscn'"):
    reproduce.expected_config(suites, suites.Run("typo", "configs/semeval.py",
                                                 {"model.mscn": "none"}))


def test_every_command_parses_back_to_the_declared_config(monkeypatch, tmp_path):
  """command.txt is exact: main's own flag parser turns it into the config reproduce expects."""
  monkeypatch.chdir(REPO)
  for suite in suites.SUITES:
    for run in suites.get_suite(suite):
      args = reproduce.command_args(run, tmp_path / suite / run.name)
      assert args[:2] == ["-m", "msfml_jax.main"]
      argv = ["main", *args[2:]]
      values = flags.FlagValues()
      config_flags.DEFINE_config_file("config", None, "", flag_values=values, lock_config=True,
                                      sys_argv=argv)
      flags.DEFINE_string("workdir", None, "", flag_values=values)
      values(argv)
      parsed = json.loads(json.dumps(values.config.to_dict(), default=str))
      assert parsed == reproduce.expected_config(suites, run), (suite, run.name)
      assert values.workdir == str(tmp_path / suite / run.name)
  run = suites.Run("x", "configs/tacred_fixture.py", {"data.buckets": (16, 32), "loss.beta": 0.07})
  text = reproduce.command_text(reproduce.command_args(run, REPO / "runs" / "s" / "x"))
  assert text == ("python -m msfml_jax.main --config=configs/tacred_fixture.py "
                  "--workdir=runs/s/x '--config.data.buckets=(16, 32)' --config.loss.beta=0.07")


def _results(config: dict, **extra) -> dict:
  return {"final": {"test": {"micro_f1": 1.0}}, "config": config, **extra}


def test_run_states_and_collect(tmp_path):
  run = suites.get_suite("smoke")[0]
  expected = reproduce.expected_config(suites, run)
  workdir = tmp_path / "runs" / "smoke" / run.name
  assert reproduce.run_state(workdir, expected) == ("new", [])
  workdir.mkdir(parents=True)
  (workdir / "checkpoints").mkdir()
  assert reproduce.run_state(workdir, expected) == ("interrupted", [])
  (workdir / "results.json").write_text(json.dumps({"preempted": True, "step": 3}))
  assert reproduce.run_state(workdir, expected) == ("interrupted", [])

  more = json.loads(json.dumps(expected))
  more["num_epochs"] = 2
  (workdir / "results.json").write_text(json.dumps(_results(more)))
  assert reproduce.run_state(workdir, expected) == ("changed", ["num_epochs: 2 -> 1"])
  fewer = json.loads(json.dumps(expected))
  fewer["num_epochs"] = 0
  (workdir / "results.json").write_text(json.dumps(_results(fewer)))
  assert reproduce.run_state(workdir, expected) == ("more_epochs", ["num_epochs: 0 -> 1"])
  fewer["optim"]["learning_rate"] = 0.3
  (workdir / "results.json").write_text(json.dumps(_results(fewer)))
  assert reproduce.run_state(workdir, expected) == ("changed", [
      "num_epochs: 0 -> 1", f"optim.learning_rate: 0.3 -> {expected['optim']['learning_rate']}"])

  # Settings newer than the run count as their defaults; environment settings may differ.
  by_hand = json.loads(json.dumps(expected))
  del by_hand["loss"]["margin_rep"]
  by_hand["cache_dir"] = "/elsewhere/cache"
  by_hand["checkpoint_every_steps"] = 100
  (workdir / "results.json").write_text(json.dumps(_results(by_hand)))
  (workdir / "metrics.jsonl").write_text('{"step": 1}\n')
  (workdir / "predictions.jsonl").write_text("{}\n")
  assert reproduce.run_state(workdir, expected) == ("finished", [])
  # ... but a newer setting the suite sets to another value than its default is a change.
  asks_more = json.loads(json.dumps(expected))
  asks_more["loss"]["margin_rep"] = 0.2
  assert reproduce.run_state(workdir, asks_more) == ("changed", [
      "loss.margin_rep: (absent, i.e. the default 1.0) -> 0.2"])
  out = reproduce.collect(run, workdir, tmp_path / "results" / "smoke", expected)
  assert sorted(p.name for p in out.iterdir()) == ["command.txt", "metrics.jsonl",
                                                    "results.json"]
  assert (out / "command.txt").read_text() == (
      f"python -m msfml_jax.main --config=configs/tacred_fixture.py --workdir={workdir} "
      "--config.num_epochs=1 --config.seed=1 --config.cache_dir=/elsewhere/cache "
      "--config.checkpoint_every_steps=100\n")

  (workdir / "results.json").write_text("{not json")
  with pytest.raises(ValueError, match="results.json: not valid JSON"):
    reproduce.run_state(workdir, expected)


def test_ctrl_c_asks_the_training_to_checkpoint(tmp_path):
  """SIGINT to the suite runner reaches the training as SIGTERM (its checkpoint signal)."""
  ready = tmp_path / "ready"
  child = ("import pathlib, signal, sys, time\n"
           "signal.signal(signal.SIGTERM, lambda *a: sys.exit(7))\n"
           f"pathlib.Path({str(ready)!r}).touch()\n"
           "time.sleep(60)\n")

  def interrupt():  # once the child is listening; never after it is gone
    for _ in range(1200):
      if ready.exists():
        os.kill(os.getpid(), signal.SIGINT)
        return
      time.sleep(0.05)

  threading.Thread(target=interrupt, daemon=True).start()
  with reproduce._Forwarder() as forwarder:  # pylint: disable=protected-access
    assert reproduce.train(["-c", child], forwarder) == 7
  assert forwarder.signal == signal.SIGINT


def _cli(runs_dir: pathlib.Path, results_dir: pathlib.Path, env: dict, *args: str):
  result = subprocess.run(
      [sys.executable, "tools/reproduce.py", "--suite=smoke", f"--runs_dir={runs_dir}",
       f"--results_dir={results_dir}", *args],
      cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
  return result.stdout


def _epochs(metrics: pathlib.Path) -> list[int]:
  return [json.loads(l)["epoch"] for l in metrics.read_text().splitlines()
          if json.loads(l)["split"] == "train_epoch"]


def test_smoke_suite_trains_skips_and_resumes(tmp_path, monkeypatch, capsys):
  runs_dir, results_dir = tmp_path / "runs", tmp_path / "results"
  # A persistent compilation cache: the second and later trainings reuse the first's programs.
  env = {"MSFML_CACHE": str(tmp_path / "cache"), "JAX_PLATFORMS": "cpu",
         "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "xla"),
         "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}
  for k, v in env.items():
    monkeypatch.setenv(k, v)

  out = _cli(runs_dir, results_dir, dict(os.environ))
  assert "[1/2] smoke/seed1: training" in out and "[2/2] smoke/seed2: training" in out
  assert "smoke: 2 trained" in out
  for seed in (1, 2):
    summary = results_dir / "smoke" / f"seed{seed}"
    assert sorted(p.name for p in summary.iterdir()) == ["command.txt", "metrics.jsonl",
                                                         "results.json"]
    results = json.loads((summary / "results.json").read_text())
    assert results["config"]["seed"] == seed and results["epochs"] == 1
    assert (summary / "command.txt").read_text() == (
        f"python -m msfml_jax.main --config=configs/tacred_fixture.py "
        f"--workdir={runs_dir}/smoke/seed{seed} --config.num_epochs=1 --config.seed={seed}\n")
    assert (runs_dir / "smoke" / f"seed{seed}" / "checkpoints").is_dir()
    assert _epochs(summary / "metrics.jsonl") == [1]

  out = _cli(runs_dir, results_dir, dict(os.environ))
  assert out.count("finished earlier, skipped") == 2 and "training" not in out
  assert "smoke: 2 skipped" in out
  out = _cli(runs_dir, results_dir, dict(os.environ), "--dry_run", "--runs=seed2")
  assert out.startswith("[1/1] smoke/seed2: finished\n  python -m msfml_jax.main ")
  # Runs trained by hand into runs/<suite>/<run>: --collect_only copies their summaries.
  first = (results_dir / "smoke" / "seed1" / "results.json").read_text()
  shutil.rmtree(results_dir)
  out = _cli(runs_dir, results_dir, dict(os.environ), "--collect_only")
  assert "smoke: 2 collected" in out
  assert (results_dir / "smoke" / "seed1" / "results.json").read_text() == first

  # A fresh clone: results/ committed, runs/ absent. The recorded run is not trained again.
  # Its command.txt is rewritten when the suite's declaration of it changed (e.g. pins
  # added when a config file's default changed), and left alone otherwise.
  shutil.move(runs_dir / "smoke" / "seed1", tmp_path / "seed1_workdir")
  command = results_dir / "smoke" / "seed1" / "command.txt"
  current = command.read_text()
  command.write_text("python -m msfml_jax.main --config=configs/tacred_fixture.py\n")
  out = _cli(runs_dir, results_dir, dict(os.environ), "--runs=seed1")
  assert "[1/1] smoke/seed1: recorded in " in out and "training" not in out
  assert "its command.txt updated" in out and command.read_text() == current
  assert not (runs_dir / "smoke" / "seed1").exists()
  out = _cli(runs_dir, results_dir, dict(os.environ), "--runs=seed1")
  assert "recorded in " in out and "updated" not in out
  shutil.move(tmp_path / "seed1_workdir", runs_dir / "smoke" / "seed1")

  # The suite now asks for 2 epochs of seed2: the same workdir resumes after epoch 1.
  monkeypatch.setitem(suites.SUITES, "smoke", lambda: [
      suites.Run("seed2", "configs/tacred_fixture.py", {"num_epochs": 2}, seed=2)])
  capsys.readouterr()
  assert reproduce.reproduce("smoke", runs_dir, results_dir, suites_module=suites) == 0
  assert "[1/1] smoke/seed2: resuming (num_epochs: 1 -> 2)" in capsys.readouterr().out
  summary = results_dir / "smoke" / "seed2"
  assert _epochs(summary / "metrics.jsonl") == [1, 2]  # epoch 1 was not trained again
  assert json.loads((summary / "results.json").read_text())["epochs"] == 2
  assert "--config.num_epochs=2 --config.seed=2" in (summary / "command.txt").read_text()

  # A finished run whose suite now declares other settings is left alone, and said so.
  monkeypatch.setitem(suites.SUITES, "smoke", lambda: [
      suites.Run("seed1", "configs/tacred_fixture.py", {"num_epochs": 1, "loss.beta": 0.5},
                 seed=1)])
  before = (runs_dir / "smoke" / "seed1" / "results.json").read_text()
  assert reproduce.reproduce("smoke", runs_dir, results_dir, suites_module=suites) == 1
  out = capsys.readouterr().out
  assert "[1/1] smoke/seed1: NOT trained" in out and re.search(r"loss.beta: [0-9.]+ -> 0.5", out)
  assert (runs_dir / "smoke" / "seed1" / "results.json").read_text() == before

  # A fork: seed2's checkpoint at the end of epoch 1, trained on for epoch 2 with a higher
  # rate (a FREE field); epoch 1's lines are seed2's, epoch 2 is the fork's own.
  parent = runs_dir / "smoke" / "seed2"
  step1 = next(json.loads(l)["step"] for l in (parent / "metrics.jsonl").read_text().splitlines()
               if json.loads(l)["split"] == "train_epoch")
  fork = suites.Run("fork", "configs/tacred_fixture.py",
                    {"num_epochs": 2, "optim.learning_rate": 0.05}, seed=2,
                    start_from=("smoke/seed2", step1))
  monkeypatch.setitem(suites.SUITES, "smoke", lambda: [fork])
  capsys.readouterr()
  assert reproduce.reproduce("smoke", runs_dir, results_dir, suites_module=suites) == 0
  assert f"smoke/fork: training from runs/smoke/seed2/checkpoints/{step1}" in capsys.readouterr().out
  rows = [json.loads(l) for l in (results_dir / "smoke" / "fork" / "metrics.jsonl").read_text().splitlines()]
  parent_rows = [json.loads(l) for l in (parent / "metrics.jsonl").read_text().splitlines()]
  assert [r for r in rows if r["step"] <= step1] == [r for r in parent_rows if r["step"] <= step1]
  rates = [r["metrics"]["learning_rate"] for r in rows if r["split"] == "train_epoch"]
  assert rates[0] == [r["metrics"]["learning_rate"] for r in parent_rows
                      if r["split"] == "train_epoch"][0] and rates[1] == pytest.approx(0.05)
  assert (results_dir / "smoke" / "fork" / "command.txt").read_text().endswith(
      f"  # starts from runs/smoke/seed2/checkpoints/{step1} (configs/suites.py start_from)\n")
  # A fork point that is gone: one message naming it, nothing trained.
  gone = suites.Run("fork2", "configs/tacred_fixture.py", {"num_epochs": 2}, seed=2,
                    start_from=("smoke/seed2", 1))
  monkeypatch.setitem(suites.SUITES, "smoke", lambda: [gone])
  with pytest.raises(FileNotFoundError, match="checkpoints/1, which is not there"):
    reproduce.reproduce("smoke", runs_dir, results_dir, suites_module=suites)


def test_committed_results_match_their_declared_runs(tmp_path):
  """Each results/<suite>/<run>/ is the summary of the run configs/suites.py declares: a
  changed default (configs/semeval.py adopting a run) must pin the runs trained before it."""
  checked = 0
  for name in suites.SUITES:
    for run in suites.get_suite(name):
      summary = REPO / "results" / name / run.name
      if (summary / "results.json").is_file():
        state, diffs = reproduce.run_state(summary, reproduce.expected_config(suites, run))
        assert state == "finished", (name, run.name, state, diffs)
        # ... and its command.txt is the command that trains it as declared now.
        copy = tmp_path / name / run.name
        shutil.copytree(summary, copy)
        assert not reproduce.write_command(run, REPO / "runs" / name / run.name, copy,
                                           reproduce.expected_config(suites, run)), (
            name, run.name, (copy / "command.txt").read_text())
        checked += 1
  assert checked >= 40  # the committed ablation, sweep, probe, paper and PubMed runs


def test_results_are_committed_and_runs_are_not():
  """.gitignore keeps runs/ (checkpoints) out of git and lets results/ (summaries) in."""
  if shutil.which("git") is None or not (REPO / ".git").exists():
    pytest.skip("not a git checkout")

  def ignored(path: str) -> bool:
    return subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO).returncode == 0

  assert ignored("runs/semeval_ablation/M6_seed1/results.json")
  for name in ("results.json", "metrics.jsonl", "command.txt"):
    assert not ignored(f"results/semeval_ablation/M6_seed1/{name}")
