"""Shared pytest fixtures: the shared real data (skipped when absent) and small configs."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import sys
import tempfile

import pytest

# `pytest` (unlike `python -m pytest`) does not put the repository on sys.path and the package
# need not be installed.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from msfml_jax import config_base, paths  # pylint: disable=wrong-import-position


_XLA_CACHE = pytest.StashKey[str]()
_XLA_FLAGS = pytest.StashKey[str | None]()


def pytest_configure(config):
  """One XLA compilation cache and optimisation level for the whole session (both xdist
  workers and every training subprocess, which inherit the environment). Set by the
  controlling process only, before the workers start; undone at the end."""
  if hasattr(config, "workerinput"):
    return
  config.stash[_XLA_FLAGS] = os.environ.get("XLA_FLAGS")
  # The tests' programs are tiny and each is compiled once or twice, so XLA's CPU backend
  # spends far longer optimising their code than running it (18 s against 4 s to compile one
  # model's init on a 2-core host without AVX-512). Level 0 compiles the same programs into
  # less optimised machine code.
  if "--xla_backend_optimization_level" not in (config.stash[_XLA_FLAGS] or ""):
    os.environ["XLA_FLAGS"] = xla_flags("--xla_backend_optimization_level=0")
  if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
    return
  # Tests train the same fixture programs in many separate cache directories, and each
  # would otherwise compile them again.
  config.stash[_XLA_CACHE] = tempfile.mkdtemp(prefix="msfml_test_xla_")
  os.environ["JAX_COMPILATION_CACHE_DIR"] = config.stash[_XLA_CACHE]
  # A size limit turns on JAX's file lock around cache reads and writes (without one, a
  # process may read an entry another is still writing).
  os.environ["JAX_COMPILATION_CACHE_MAX_SIZE"] = str(8 << 30)


def xla_flags(*flags: str) -> str:
  """XLA_FLAGS for a test process: the session's flags with `flags` set over them, e.g.
  xla_flags("--xla_force_host_platform_device_count=8") for a child with eight devices."""
  names = {f.split("=")[0] for f in flags}
  kept = [f for f in os.environ.get("XLA_FLAGS", "").split() if f.split("=")[0] not in names]
  return " ".join(kept + list(flags))


def pytest_unconfigure(config):
  if _XLA_FLAGS in config.stash:
    if config.stash[_XLA_FLAGS] is None:
      os.environ.pop("XLA_FLAGS", None)
    else:
      os.environ["XLA_FLAGS"] = config.stash[_XLA_FLAGS]
  directory = config.stash.get(_XLA_CACHE, None)
  if directory:
    os.environ.pop("JAX_COMPILATION_CACHE_DIR", None)
    os.environ.pop("JAX_COMPILATION_CACHE_MAX_SIZE", None)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def shared_data_dir() -> pathlib.Path:
  """The real data directory (paths.resolve_data_dir("")); skips when it lacks the data."""
  data_dir = paths.resolve_data_dir("")
  if not (data_dir / "semeval" / "train.json").is_file():
    pytest.skip(f"shared data not found under {data_dir} (set MSFML_DATA to run this test)")
  return data_dir


def write_json(path: pathlib.Path, obj) -> pathlib.Path:
  """Writes `obj` as JSON to `path` (parents created) and returns the path."""
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(json.dumps(obj))
  return path


def preparsed(raw: dict) -> dict:
  """A dataset record in the pre-parsed layout of parse.records_from_preparsed."""
  return {"id": raw["id"], "tokens": raw["token"], "pos": raw["stanford_pos"],
          "heads": raw["stanford_head"], "deprels": raw["stanford_deprel"],
          "spans": [[raw["subj_start"], raw["subj_end"]], [raw["obj_start"], raw["obj_end"]]],
          "label": raw["relation"]}


def semeval_record(i: int = 0, relation: str = "Cause-Effect",
                   directed: str | None = "Cause-Effect(e1,e2)") -> dict:
  """A valid 5-token SemEval record."""
  rec = {"id": str(i), "relation": relation,
         "token": ["The", "storm", "caused", "the", "flood"],
         "stanford_pos": ["DT", "NN", "VBD", "DT", "NN"],
         "stanford_head": [2, 3, 0, 5, 3],
         "stanford_deprel": ["det", "nsubj", "root", "det", "dobj"],
         "subj_start": 1, "subj_end": 1, "obj_start": 4, "obj_end": 4}
  if directed is not None:
    rec["relation_directed"] = directed
  return rec


def semeval_config(tmp_path: pathlib.Path, train: list[dict], test: list[dict] | None = None):
  """A SemEval config whose data_dir and cache_dir are under tmp_path, without GloVe."""
  c = config_base.base_config()
  c.data_dir = str(tmp_path / "data")
  c.cache_dir = str(tmp_path / "cache")
  c.data.glove_file = ""
  write_json(tmp_path / "data" / "semeval" / "train.json", train)
  write_json(tmp_path / "data" / "semeval" / "test.json", test if test is not None else train)
  return c


# --- Shared by test_predict.py, test_notebooks.py and test_sweep.py ---------------------------

@pytest.fixture(scope="session")
def tiny_cache_dir(tmp_path_factory) -> pathlib.Path:
  """One dataset cache for every test that trains on configs/tiny.py (built once)."""
  return tmp_path_factory.mktemp("tiny_cache")


REPO = pathlib.Path(__file__).resolve().parent.parent
FIXTURE_CONFIG = "configs/semeval_fixture.py"  # the in-repo SemEval fixture: no data needed
FIXTURE_TEST = REPO / "tests" / "fixtures" / "semeval" / "test.json"


def load_config_file(name: str = FIXTURE_CONFIG):
  """get_config() of a config file of the repository (`configs/...py`)."""
  import importlib.util  # pylint: disable=import-outside-toplevel
  spec = importlib.util.spec_from_file_location("config_file_" + pathlib.Path(name).stem,
                                                REPO / name)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def tiny_config(cache_dir: pathlib.Path, overrides: dict | None = None):
  """configs/semeval_fixture.py (the in-repo SemEval fixture, one bucket so jit compiles each
  step once) with 96 training records; `overrides` maps dotted field names to values
  ({"loss.alpha": 0.1})."""
  c = load_config_file()
  c.cache_dir = str(cache_dir)
  c.max_train_examples = 96
  c.max_eval_examples = 100
  c.update_from_flattened_dict(overrides or {})
  return c


@pytest.fixture(scope="session")
def tiny_run(tiny_cache_dir, tmp_path_factory) -> pathlib.Path:
  """The workdir of one finished 2-epoch run of `tiny_config` (checkpoints, metrics.jsonl,
  predictions.jsonl, results.json), trained in this process. Tests must not write into it
  (copy it first): no test may depend on another's order."""
  from msfml_jax import train  # pylint: disable=import-outside-toplevel (jax is slow to import)
  workdir = tmp_path_factory.mktemp("tiny_run")
  train.train_and_evaluate(tiny_config(tiny_cache_dir), str(workdir))
  return workdir


@pytest.fixture(scope="session")
def stanza_tiny_models(tmp_path_factory) -> dict[str, str]:
  """Throw-away stanza tokenize/pos/depparse models (tests/fixtures/stanza), trained in a child
  process because stanza's trainers reseed global generators: {processor: path}."""
  pytest.importorskip("stanza")
  import subprocess  # pylint: disable=import-outside-toplevel
  out = tmp_path_factory.mktemp("stanza_tiny_models")
  script = pathlib.Path(__file__).parent / "fixtures" / "stanza" / "train_tiny_models.py"
  result = subprocess.run([sys.executable, str(script), str(out)], capture_output=True,
                          text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
  assert result.returncode == 0, result.stderr[-3000:]
  return {name: str(out / f"{name}.pt") for name in ("tokenize", "pos", "depparse")}
