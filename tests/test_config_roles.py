"""config_base.FIELD_ROLES: every config field is classified once; the cache key and resume
safety both follow it; `config_base.check` refuses bad values."""

from __future__ import annotations

import re

import pytest

from msfml_jax import checkpoints, config_base
from msfml_jax.data import cache_key


def test_every_field_of_base_config_is_classified():
  unclassified = [name for name in config_base.flat_fields(config_base.base_config())
                  if config_base.field_role(name) is None]
  assert not unclassified, (
      f"config fields without a role: {unclassified}. Classify each in "
      f"msfml_jax/config_base.py:FIELD_ROLES as ARRAYS (changes the preprocessed arrays: "
      f"cache key + refused on resume), TRAINING (changes what is trained: refused on resume) "
      f"or FREE (may change on resume), next to the entries of its group.")


def test_no_stale_roles():
  fields = config_base.flat_fields(config_base.base_config())
  stale = [entry for entry in config_base.FIELD_ROLES
           if not any(f == entry or f.startswith(entry + ".") for f in fields)]
  assert not stale, f"FIELD_ROLES entries that match no field of base_config(): {stale}"


def test_cache_key_and_resume_safety_follow_the_one_classification():
  config = config_base.base_config()
  keyed = set(cache_key.key_inputs(config))
  for name in config.data:
    role = config_base.field_role(f"data.{name}")
    assert (name in keyed) == (role == config_base.ARRAYS), name
  saved = config.to_dict()
  for name, value in config_base.flat_fields(config).items():
    changed = config_base.base_config()
    changed.update_from_flattened_dict({name: _other(value)})
    refused = bool(checkpoints.config_differences(saved, changed))
    assert refused == (config_base.field_role(name) != config_base.FREE), name


def _other(value):
  if isinstance(value, bool):
    return not value
  if isinstance(value, (int, float)):
    return value + 1
  if isinstance(value, str):
    return value + "x"
  return tuple(value) + (value[-1],) if value else ("x",)


def test_fields_the_old_allowlist_missed_are_refused_on_resume():
  saved = config_base.base_config().to_dict()
  for name, value in (("data.label_file", "labels.txt"), ("data.num_folds", 4),
                      ("loss.hard_negatives", False), ("optim.momentum", 0.9)):
    changed = config_base.base_config()
    changed.update_from_flattened_dict({name: value})
    assert checkpoints.config_differences(saved, changed) == [
        f"{name}: {saved_value(saved, name)!r} -> {value!r}"]


def test_a_setting_newer_than_the_checkpoint_resumes_only_at_its_default():
  saved = config_base.base_config().to_dict()
  del saved["model"]["word_dropout"]            # written before the field existed
  assert checkpoints.config_differences(saved, config_base.base_config()) == []
  changed = config_base.base_config()
  changed.model.word_dropout = 0.04
  assert checkpoints.config_differences(saved, changed) == [
      "model.word_dropout: (absent, i.e. the default 0.0) -> 0.04"]


def test_newer_setting_difference_compares_as_json_and_ignores_free_fields():
  # A tuple default compares equal to the list a JSON file holds; FREE fields never differ.
  assert config_base.newer_setting_difference("model.mscnn_kernels", [3, 4, 5]) is None
  assert config_base.newer_setting_difference("model.mscnn_kernels", (3, 5)) == (
      "model.mscnn_kernels: (absent, i.e. the default [3, 4, 5]) -> [3, 5]")
  assert config_base.field_role("num_epochs") == config_base.FREE
  assert config_base.newer_setting_difference("num_epochs", 999) is None


def saved_value(saved: dict, name: str):
  for part in name.split("."):
    saved = saved[part]
  return saved


def test_unlisted_fields_fall_on_the_safe_side():
  assert config_base.field_role("data.some_new_field") is None
  assert config_base.in_cache_key("data.some_new_field")
  assert config_base.resume_sensitive("some_new_field")


def test_word_dropout_with_plm_input_is_refused():
  config = config_base.base_config()
  config.update_from_flattened_dict({"model.word_input": "plm", "plm.model": "enc",
                                     "model.word_dropout": 0.04})
  with pytest.raises(config_base.ConfigError, match="would do nothing"):
    config_base.check(config)


@pytest.mark.parametrize("field,value,words", [
    ("data.task", "semval", "data.task='semval' is not one of semeval, tacred, pubmed"),
    ("model.mscnn", "dilated", "model.mscnn='dilated' is not one of"),
    ("batch_size", 0, "batch_size=0 must be an integer >= 1"),
    ("model.word_dropout", 1.0, "model.word_dropout=1.0 must be in [0, 1)"),
    ("model.word_input", "plm", "model.word_input='plm' needs plm.model"),
    ("data.fold", 5, "data.fold=5 must be < data.num_folds=5"),
    ("data.buckets", (), "data.buckets=() must be positive integers"),
    ("optim.average_start_epoch", 3, "optim.average_start_epoch needs optim.ema_decay > 0"),
])
def test_check_names_the_bad_field(field, value, words):
  config = config_base.base_config()
  config.update_from_flattened_dict({field: value})
  with pytest.raises(config_base.ConfigError, match=re.escape(words)):
    config_base.check(config)
