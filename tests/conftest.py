"""Shared pytest fixtures: the shared real data (skipped when absent) and small configs."""

from __future__ import annotations

import json
import pathlib
import sys

import pytest

# `pytest` (unlike `python -m pytest`) does not put the repository on sys.path and the package
# need not be installed.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from msfml_jax import config_base, paths  # pylint: disable=wrong-import-position


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
