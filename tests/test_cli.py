"""Refusals reach the user as one line on stderr and exit status 2 (3 for divergence); the
traceback appears with --verbosity=1 (msfml_jax/cli.py). Subprocesses: the real commands."""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import pytest

from msfml_jax import cli, workdir

REPO = pathlib.Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "semeval" / "train.json"


def _run(args, tmp_path, timeout=300):
  return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True,
                        timeout=timeout, env={**os.environ, "JAX_PLATFORMS": "cpu"})


def _assert_one_line_refusal(proc, *words):
  assert proc.returncode == cli.EXIT_REFUSED, proc.stderr[-3000:]
  assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
  errors = [l for l in proc.stderr.splitlines() if l.startswith("error: ")]
  assert len(errors) == 1, proc.stderr[-3000:]
  for w in words:
    assert w in errors[0], errors[0]
  return errors[0]


def _bad_train_file(tmp_path) -> pathlib.Path:
  records = json.loads(FIXTURE.read_text())[:3]
  records[1]["stanford_head"] = [0] * len(records[1]["token"])  # every token a root
  path = tmp_path / "bad.json"
  path.write_text(json.dumps(records))
  return path


def _preprocess(tmp_path, *overrides):
  return _run(["tools/preprocess.py", "--config=configs/semeval_fixture.py",
               f"--config.cache_dir={tmp_path / 'cache'}", *overrides], tmp_path)


def test_preprocess_bad_record_is_one_line_and_exit_2(tmp_path):
  bad = _bad_train_file(tmp_path)
  proc = _preprocess(tmp_path, f"--config.data.train_file={bad}")
  _assert_one_line_refusal(proc, "DataError", f"{bad}: record 1: field 'stanford_head'", "roots")
  verbose = _preprocess(tmp_path, f"--config.data.train_file={bad}", "--verbosity=1")
  assert verbose.returncode == 2 and "Traceback" in verbose.stderr


def test_preprocess_bad_config_value_and_empty_split(tmp_path):
  _assert_one_line_refusal(_preprocess(tmp_path, "--config.data.task=semval"),
                           "ConfigError", "data.task='semval' is not one of")
  empty = tmp_path / "empty.json"
  empty.write_text("[]")
  _assert_one_line_refusal(_preprocess(tmp_path, f"--config.data.test_file={empty}"),
                           "the test split is empty", str(empty))


def test_main_on_a_locked_workdir_exits_at_once_naming_the_holder(tmp_path):
  sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
  try:
    run = tmp_path / "run"
    run.mkdir()
    (run / workdir.LOCK_FILE).write_text(json.dumps(
        {"pid": sleeper.pid, "host": socket.gethostname(), "started": "now", "command": "main"}))
    start = time.time()
    proc = _run(["-m", "msfml_jax.main", "--config=configs/semeval_fixture.py",
                 f"--workdir={run}", f"--config.cache_dir={tmp_path / 'cache'}"], tmp_path)
    _assert_one_line_refusal(proc, "WorkdirLocked", f"PID {sleeper.pid}",
                             f"host {socket.gethostname()}")
    assert not (tmp_path / "cache").exists(), "refused before any work"
    print(f"refused after {time.time() - start:.1f} s")
  finally:
    sleeper.kill()
    sleeper.wait()


def test_main_unwritable_workdir(tmp_path):
  blocker = tmp_path / "file"  # a file where a directory must go (works as root too)
  blocker.write_text("")
  proc = _run(["-m", "msfml_jax.main", "--config=configs/semeval_fixture.py",
               f"--workdir={blocker / 'run'}", f"--config.cache_dir={tmp_path / 'cache'}"],
              tmp_path)
  _assert_one_line_refusal(proc, "WorkdirError", f"cannot write to workdir {blocker / 'run'}")


def test_predict_without_checkpoints_is_one_line(tmp_path):
  (tmp_path / "in.jsonl").write_text('"The <e1>storm</e1> caused the <e2>flood</e2>."\n')
  proc = _run(["-m", "msfml_jax.predict", f"--workdir={tmp_path}",
               f"--input={tmp_path / 'in.jsonl'}"], tmp_path)
  _assert_one_line_refusal(proc, "NoCheckpointError", "no readable checkpoint")


def test_guarded_in_process(capsys):
  def refuses(argv):
    raise workdir.WorkdirError("cannot write to workdir /x:\nPermission denied")
  with pytest.raises(SystemExit) as exit_info:
    cli.guarded(refuses)([])
  assert exit_info.value.code == 2
  assert capsys.readouterr().err == (
      "error: WorkdirError: cannot write to workdir /x: Permission denied\n")

  def bug(argv):
    raise KeyError("a bug keeps its traceback")
  with pytest.raises(KeyError):
    cli.guarded(bug)([])


def test_predict_missing_parser_models_is_one_line_and_orbax_is_quiet(tiny_run, tmp_path):
  (tmp_path / "in.jsonl").write_text('"The <e1>storm</e1> caused the <e2>flood</e2>."\n')
  proc = _run(["-m", "msfml_jax.predict", f"--workdir={tiny_run}",
               f"--input={tmp_path / 'in.jsonl'}", f"--stanza_dir={tmp_path / 'no_stanza'}",
               "--parser=stanza"], tmp_path)
  _assert_one_line_refusal(proc, "StanzaModelsMissing", "stanza.download(")
  assert "restored" in proc.stderr  # the checkpoint was read ...
  orbax_info = [l for l in proc.stderr.splitlines() if l.startswith("I") and any(
      m in l for m in ("checkpoint_manager.py", "event_tracking.py", "checkpointer.py"))]
  assert not orbax_info, orbax_info  # ... without Orbax's INFO lines


def test_prediction_input_follows_the_graph_rules(tiny_run):
  from msfml_jax import predict  # pylint: disable=import-outside-toplevel
  extractor = predict.Extractor.from_workdir(tiny_run, checkpoint="latest")
  good = {"tokens": ["The", "storm", "caused", "the", "flood"], "pos": ["DT", "NN", "VBD", "DT", "NN"],
          "heads": [2, 3, 0, 5, 3], "deprels": ["det", "nsubj", "root", "det", "dobj"],
          "spans": [[1, 1], [4, 4]]}
  rows = extractor.predict([good, dict(good, heads=[2, 0, 0, 5, 3]),
                            dict(good, spans=[[1, 2], [2, 4]])])
  assert "error" not in rows[0] and rows[0]["prediction"] in extractor.label_names
  assert "2 roots" in rows[1]["error"] and "overlaps entity 1's span" in rows[2]["error"]
