"""Tests for PLM post-training (§3.3.2) and the cached PLM word vectors for MSFML."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # Before transformers is imported anywhere.

import shutil

import jax
import numpy as np
import pytest

from msfml_jax import config_base, paths
from msfml_jax.data import cache, readers
from msfml_jax.plm import convert, features, pipeline, posttrain

import conftest

transformers = pytest.importorskip("transformers")

MINILM = paths.resolve_data_dir("") / "plm" / "all-MiniLM-L6-v2"
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt",
                    "special_tokens_map.json")


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
  """A randomly initialised 2-layer BERT of width 32 with MiniLM's tokenizer files."""
  if not (MINILM / "tokenizer.json").exists():
    pytest.skip(f"MiniLM tokenizer not found at {MINILM}")
  import torch
  torch.manual_seed(0)
  config = transformers.BertConfig(
      vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
      intermediate_size=64, max_position_embeddings=128)
  path = tmp_path_factory.mktemp("tiny_bert")
  transformers.BertModel(config).save_pretrained(path)
  for name in _TOKENIZER_FILES:
    if (MINILM / name).exists():
      shutil.copy(MINILM / name, path / name)
  return path


def _posttrain_config(data_dir, model_dir, **overrides):
  c = config_base.base_config()
  c.data_dir = str(data_dir)
  c.plm = pipeline.plm_config(str(model_dir))
  t = c.plm.posttrain
  t.num_epochs, t.batch_size, t.learning_rate, t.max_length = 6, 8, 1e-3, 64
  t.max_train_examples, t.max_eval_examples = 30, 16
  t.update(overrides)
  return c


def _record(tokens, spans, label, types=None):
  return readers.Record("0", tokens, ["NN"] * len(tokens), [0] * len(tokens),
                        ["dep"] * len(tokens), spans, label, False, types)


def test_posttrain_semeval_lowers_loss_and_exports(tiny_bert, shared_data_dir, tmp_path):
  config = _posttrain_config(shared_data_dir, tiny_bert)
  result = posttrain.posttrain(config, tmp_path / "out", progress=False)
  losses = result["epoch_losses"]
  assert len(losses) == 6 and losses[-1] < 0.8 * losses[0], losses
  assert result["entity_types"] == []  # SemEval: the type task is skipped
  assert 0.0 <= result["test_accuracy"] <= 1.0
  # The output loads like a HF checkpoint, with the markers in vocabulary and embeddings.
  enc_config, params, tokenizer = pipeline.load_encoder(tmp_path / "out")
  marker_ids = tokenizer.convert_tokens_to_ids(list(features.DEFAULT_MARKERS))
  assert len(set(marker_ids)) == 3 and tokenizer.unk_token_id not in marker_ids
  table = params["embeddings"]["word_embeddings"]["embedding"]
  assert table.shape[0] == enc_config.vocab_size == len(tokenizer) == 30525
  assert tokenizer.tokenize("[E1] storm [E1]") == ["[E1]", "storm", "[E1]"]
  # Post-training changed the encoder (marker rows included).
  _, base = convert.load_checkpoint(tiny_bert)
  assert not np.allclose(table[:30522], base["embeddings"]["word_embeddings"]["embedding"])


def test_entity_type_loss_only_with_types(tiny_bert):
  enc_config, params, tokenizer = pipeline.load_encoder(tiny_bert)
  assert pipeline.max_pieces(enc_config, 512) == 128  # capped by the position table
  words = ["Gefitinib", "targets", "EGFR", "with", "T790M", "."]
  typed = [_record(words, [(0, 0), (2, 2), (4, 4)], "response", ["drug", "gene", "mutation"]),
           _record(words, [(2, 2), (0, 0), (4, 4)], "None", ["drug", "gene", "mutation"])]
  untyped = [_record(words[:3], [(0, 0), (2, 2)], "Other")]
  assert posttrain.entity_type_names(typed) == ["drug", "gene", "mutation"]
  assert posttrain.entity_type_names(untyped) == []
  for records, labels, types in ((typed, ["None", "response"], ["drug", "gene", "mutation"]),
                                 (untyped, ["Other"], [])):
    ex = posttrain.encode_records(records, tokenizer, labels, types, 32, pool_markers=False)
    batch = posttrain.make_batch(ex, np.arange(len(records)), 4, tokenizer.pad_token_id, 32)
    model = posttrain.PostTrainModel(enc_config, len(labels), len(types))
    variables = model.init(jax.random.key(0), batch["ids"], batch["mask"],
                           batch["entity_mask"])
    out = model.apply(variables, batch["ids"], batch["mask"], batch["entity_mask"])
    loss, metrics = posttrain.losses(out, batch, type_weight=1.0)
    assert ("type_loss" in metrics) == bool(types)
    assert ("type_head" in variables["params"]) == bool(types)
    assert np.isfinite(loss)
    # Each entity mask covers exactly its word's pieces (markers excluded by default).
    assert ex.entity_mask[0].sum(-1).min() >= 1
    assert not ex.entity_mask[0][:, ex.ids[0] == tokenizer.convert_tokens_to_ids("[E1]")].any()


def test_long_records_are_cropped_around_entities(tiny_bert):
  _, _, tokenizer = pipeline.load_encoder(tiny_bert)
  words = [f"w{i}" for i in range(200)]
  record = _record(words, [(150, 151), (160, 160)], "Other")
  ids, mask = posttrain.encode_record(record, tokenizer, 48, pool_markers=True)
  assert len(ids) == 48 and ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
  marker_ids = tokenizer.convert_tokens_to_ids(["[E1]", "[E2]"])
  assert [(ids == m).sum() for m in marker_ids] == [2, 2]
  assert (mask.sum(-1) > 2).all()  # markers pooled with the words' pieces


def test_hf_state_dict_round_trip(tiny_bert):
  enc_config, params = convert.load_checkpoint(tiny_bert)
  again = convert.convert_state_dict(pipeline.to_hf_state_dict(params), enc_config)
  jax.tree.map(np.testing.assert_array_equal, params, again)


def test_load_word_vectors_aligned_and_cached(tiny_bert, tmp_path, monkeypatch):
  long = conftest.semeval_record(1)
  long["token"] = ["The"] + ["very"] * 40 + ["storm", "caused", "the", "flood"]
  long.update(stanford_pos=["DT"] * 45, stanford_head=[0] + [1] * 44,
              stanford_deprel=["root"] + ["dep"] * 44, subj_start=41, subj_end=41,
              obj_start=44, obj_end=44)
  config = conftest.semeval_config(tmp_path, [conftest.semeval_record(0), long],
                                   [conftest.semeval_record(2)])
  config.model.word_input = "plm"
  config.plm = pipeline.plm_config(str(tiny_bert))
  config.plm.max_length = 16  # the long record needs several windows
  dataset = cache.load_dataset(config, progress=False)
  vectors = pipeline.load_word_vectors(config, dataset, progress=False)
  assert sorted(vectors) == sorted(dataset.splits)
  for name, split in dataset.splits.items():
    assert vectors[name].shape == (int(split.offsets[-1]), 32)
    assert np.isfinite(vectors[name]).all() and np.abs(vectors[name]).sum(-1).min() > 0
  # Second call: read from the cache, the encoder is not run again.
  monkeypatch.setattr(features, "word_vectors_for_records",
                      lambda *a, **k: pytest.fail("recomputed instead of cached"))
  again = pipeline.load_word_vectors(config, dataset, progress=False)
  for name in vectors:
    np.testing.assert_array_equal(again[name], vectors[name])
  # A different marker setting is a different cache entry.
  with_markers = pipeline.vectors_directory(config, dataset)
  config.plm.markers = False
  assert pipeline.vectors_directory(config, dataset) != with_markers


def test_alignment_mismatch_is_an_error(tmp_path):
  config = conftest.semeval_config(tmp_path, [conftest.semeval_record(0)])
  dataset = cache.load_dataset(config, progress=False)
  records = readers.load_splits(config)
  records["train"][0].tokens.append("extra")
  with pytest.raises(ValueError, match="stale"):
    pipeline.check_alignment(records, dataset)
