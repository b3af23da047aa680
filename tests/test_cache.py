"""The preprocessed-array cache: hits, invalidation, atomic writes, the preprocess tool; where
the XLA compilation cache goes."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

from msfml_jax import paths
from msfml_jax.data import cache

_REPO = pathlib.Path(__file__).resolve().parent.parent


def _fixture_config(tmp_path: pathlib.Path, copy_data: bool = False):
  """configs/tacred_fixture.py with the cache (and optionally a data copy) under tmp_path."""
  spec = importlib.util.spec_from_file_location("tf", _REPO / "configs" / "tacred_fixture.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config()
  config.cache_dir = str(tmp_path / "cache")
  if copy_data:
    shutil.copytree(config.data_dir, tmp_path / "data", dirs_exist_ok=True)
    config.data_dir = str(tmp_path / "data")
  return config


def _assert_same_split(a, b):
  for field in dataclasses.fields(a):
    x, y = getattr(a, field.name), getattr(b, field.name)
    if isinstance(x, np.ndarray):
      assert x.dtype == y.dtype and x.shape == y.shape, field.name
      np.testing.assert_array_equal(x, y, err_msg=field.name)
    else:
      assert x == y, field.name


def test_miss_then_hit_roundtrip(tmp_path):
  config = _fixture_config(tmp_path)
  built, first = cache.load_dataset_with_report(config, progress=False)
  loaded, second = cache.load_dataset_with_report(config, progress=False)
  assert not first.hit and second.hit and first.directory == second.directory
  assert first.directory.name.startswith("tacred-") and len(first.directory.name) == 7 + 16
  assert first.records == {"train": 5, "test": 3, "dev": 3}
  assert loaded.cache_key == built.cache_key and loaded.label_names == built.label_names
  assert loaded.num_entities == 2 and loaded.embeddings is None
  assert loaded.vocab.word.itos == built.vocab.word.itos
  assert loaded.vocab.word.lowercase == built.vocab.word.lowercase
  for name in built.splits:
    _assert_same_split(built.splits[name], loaded.splits[name])
  assert [p.name for p in first.directory.parent.iterdir()] == [first.directory.name]


@pytest.mark.parametrize("field,value", [("lowercase", False), ("min_freq", 2),
                                         ("max_train_length", 8)])
def test_key_setting_change_invalidates(tmp_path, field, value):
  config = _fixture_config(tmp_path)
  _, first = cache.load_dataset_with_report(config, progress=False)
  config.data[field] = value
  _, second = cache.load_dataset_with_report(config, progress=False)
  assert not second.hit and second.directory != first.directory


def test_non_key_setting_keeps_cache(tmp_path):
  config = _fixture_config(tmp_path)
  cache.load_dataset(config, progress=False)
  config.data.buckets = (64,)
  config.seed = 7  # no dev hold-out: the seed does not change the arrays
  assert cache.load_dataset_with_report(config, progress=False)[1].hit


def test_input_file_change_invalidates(tmp_path):
  config = _fixture_config(tmp_path, copy_data=True)
  _, first = cache.load_dataset_with_report(config, progress=False)
  train_path = tmp_path / "data" / "tacred" / "train.json"
  data = json.loads(train_path.read_text())
  data[0]["token"][0] = "Augusta"
  train_path.write_text(json.dumps(data))
  dataset, second = cache.load_dataset_with_report(config, progress=False)
  assert not second.hit and second.directory != first.directory
  assert "augusta" in dataset.vocab.word.stoi


def test_killed_build_leaves_no_cache(tmp_path, monkeypatch):
  config = _fixture_config(tmp_path)

  def crash(directory, split):
    raise KeyboardInterrupt

  monkeypatch.setattr(cache, "save_split", crash)
  with pytest.raises(KeyboardInterrupt):
    cache.load_dataset(config, progress=False)
  assert list((tmp_path / "cache").iterdir()) == []
  monkeypatch.undo()
  assert not cache.load_dataset_with_report(config, progress=False)[1].hit


def test_damaged_cache_is_rebuilt(tmp_path):
  config = _fixture_config(tmp_path)
  _, first = cache.load_dataset_with_report(config, progress=False)
  (first.directory / "train" / "tokens.npy").unlink()
  dataset, second = cache.load_dataset_with_report(config, progress=False)
  assert not second.hit and len(dataset.splits["train"].lengths) == 5
  assert cache.load_dataset_with_report(config, progress=False)[1].hit


def test_glove_embeddings_in_cache(tmp_path):
  config = _fixture_config(tmp_path)
  glove_path = tmp_path / "glove.txt"
  glove_path.write_text("ada 1 2 3 4\nlondon 5 6 7 8\nthe 0 0 0 1\n")
  config.data.glove_file = str(glove_path)
  dataset, report = cache.load_dataset_with_report(config, progress=False)
  assert dataset.embeddings.shape == (len(dataset.vocab.word), 4)
  np.testing.assert_array_equal(dataset.embeddings[dataset.vocab.word.stoi["london"]], [5, 6, 7, 8])
  assert report.meta["glove_coverage"]["types_covered"] == 3  # ada, london, the
  again, hit = cache.load_dataset_with_report(config, progress=False)
  assert hit.hit and np.array_equal(again.embeddings, dataset.embeddings)
  glove_path.write_text("ada 1 2 3 4\n")
  assert not cache.load_dataset_with_report(config, progress=False)[1].hit


def test_preprocess_tool_reports_hit(tmp_path):
  command = [sys.executable, str(_REPO / "tools" / "preprocess.py"),
             "--config=" + str(_REPO / "configs" / "tacred_fixture.py"),
             f"--config.cache_dir={tmp_path / 'cache'}", "--noprogress"]
  first = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
  assert "train: 5 records" in first.stdout and "cache miss" in first.stdout
  second = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
  assert "cache hit" in second.stdout and "records/s" in second.stdout


def test_compilation_cache_dir_resolution(tmp_path, monkeypatch):
  monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
  assert paths.resolve_compilation_cache_dir("xla", str(tmp_path)) == tmp_path / "xla"
  assert paths.resolve_compilation_cache_dir(str(tmp_path / "abs"), "ignored") == tmp_path / "abs"
  assert paths.resolve_compilation_cache_dir("", str(tmp_path)) is None
  # JAX's own variable replaces a configured directory but does not re-enable a disabled one.
  monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "shared"))
  assert paths.resolve_compilation_cache_dir("xla", str(tmp_path)) == tmp_path / "shared"
  assert paths.resolve_compilation_cache_dir("", str(tmp_path)) is None
