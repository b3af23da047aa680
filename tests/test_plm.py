"""Tests for the Flax BERT / RoBERTa encoder: parity with transformers, conversion, resizing."""

import dataclasses
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # Before transformers is imported anywhere.

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from msfml_jax import paths
from msfml_jax.plm import convert
from msfml_jax.plm import encoder as encoder_lib
from msfml_jax.plm import features
from msfml_jax.plm import parity

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

TOLERANCE = 1e-4
MINILM = paths.resolve_data_dir("") / "plm" / "all-MiniLM-L6-v2"
PAD = 1  # RoBERTa's pad_token_id.
# Right padding, left padding and no padding: positions must skip pads like HF's.
ROBERTA_IDS = np.array([
    [0, 5, 17, 42, 99, 2, PAD, PAD, PAD],
    [PAD, PAD, 0, 8, 8, 61, 33, 70, 2],
    [0, 3, 4, 5, 6, 7, 9, 10, 2],
], dtype=np.int32)


def _tiny_roberta(hidden_act: str = "gelu") -> "torch.nn.Module":
  torch.manual_seed(0)
  config = transformers.RobertaConfig(
      vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
      intermediate_size=64, max_position_embeddings=32, type_vocab_size=1, pad_token_id=PAD,
      bos_token_id=0, eos_token_id=2, hidden_act=hidden_act)
  return transformers.RobertaModel(config).eval()


@pytest.fixture(scope="module", params=["safetensors", "bin", "gelu_new"])
def roberta_dir(request, tmp_path_factory):
  """A tiny random RoBERTa saved as safetensors, as pytorch_model.bin, and with gelu_new."""
  model = _tiny_roberta("gelu_new" if request.param == "gelu_new" else "gelu")
  path = tmp_path_factory.mktemp(f"roberta_{request.param}")
  model.save_pretrained(path)
  if request.param == "bin":
    # transformers 5 only writes safetensors; write the legacy pickle by hand.
    os.remove(path / "model.safetensors")
    torch.save(model.state_dict(), path / "pytorch_model.bin")
  return path


def test_roberta_parity(roberta_dir):
  mask = (ROBERTA_IDS != PAD).astype(np.int32)
  result = parity.compare(roberta_dir, ROBERTA_IDS, mask)
  assert result.num_tokens == int(mask.sum())
  assert result.max_abs_diff <= TOLERANCE


def test_minilm_parity():
  if not (MINILM / "config.json").exists():
    pytest.skip(f"MiniLM checkpoint not found at {MINILM}")
  batch = parity.tokenize(MINILM)
  assert (batch["attention_mask"] == 0).any(), "the batch should exercise padding"
  result = parity.compare(MINILM, batch["input_ids"], batch["attention_mask"],
                          batch["token_type_ids"])
  assert result.max_abs_diff <= TOLERANCE


def test_position_ids_match_hf():
  hf = transformers.models.roberta.modeling_roberta.RobertaEmbeddings
  expected = hf.create_position_ids_from_input_ids(torch.as_tensor(ROBERTA_IDS), PAD).numpy()
  ours = encoder_lib.position_ids_from_input_ids(jnp.asarray(ROBERTA_IDS), PAD)
  np.testing.assert_array_equal(np.asarray(ours), expected)


@pytest.mark.parametrize("name", sorted(encoder_lib.ACTIVATIONS))
def test_activations_match_hf(name):
  # Random tiny models keep activations near 0, where exact and tanh GELU agree; check the
  # functions themselves on a wide range instead.
  x = np.linspace(-6, 6, 1001, dtype=np.float32)
  expected = transformers.activations.ACT2FN[name](torch.as_tensor(x)).numpy()
  np.testing.assert_allclose(encoder_lib.ACTIVATIONS[name](jnp.asarray(x)), expected, atol=1e-6)


def test_all_layers_match_hf(tmp_path):
  model = _tiny_roberta()
  model.save_pretrained(tmp_path)
  mask = (ROBERTA_IDS != PAD).astype(np.int32)
  with torch.no_grad():
    theirs = model(input_ids=torch.as_tensor(ROBERTA_IDS), attention_mask=torch.as_tensor(mask),
                   output_hidden_states=True).hidden_states
  config, params = convert.load_checkpoint(tmp_path)
  apply = jax.jit(lambda p, x, m: encoder_lib.Encoder(config, precision="highest").apply(
      {"params": p}, x, m, output_all_layers=True))
  last, ours = apply(params, ROBERTA_IDS, mask)
  assert len(ours) == config.num_layers + 1
  np.testing.assert_array_equal(np.asarray(last), np.asarray(ours[-1]))
  real = mask.astype(bool)
  for mine, hf in zip(ours, theirs):
    np.testing.assert_allclose(np.asarray(mine)[real], hf.numpy()[real], atol=TOLERANCE)


def test_dropout_only_in_training():
  config = encoder_lib.EncoderConfig(vocab_size=50, hidden_size=16, num_layers=1, num_heads=2,
                                     intermediate_size=32, max_position_embeddings=16)
  model = encoder_lib.Encoder(config)
  ids = jnp.arange(12).reshape(2, 6)
  params = model.init(jax.random.key(0), ids)["params"]
  eval_a = model.apply({"params": params}, ids)
  eval_b = model.apply({"params": params}, ids)
  train = model.apply({"params": params}, ids, deterministic=False,
                      rngs={"dropout": jax.random.key(1)})
  np.testing.assert_array_equal(eval_a, eval_b)
  assert not np.allclose(eval_a, train)


def test_resize_token_embeddings_keeps_old_rows():
  config = encoder_lib.EncoderConfig(vocab_size=20, hidden_size=8, num_layers=1, num_heads=2,
                                     intermediate_size=16, max_position_embeddings=16)
  params = encoder_lib.Encoder(config).init(jax.random.key(0), jnp.zeros((1, 4), jnp.int32))
  params = params["params"]
  old = np.asarray(params["embeddings"]["word_embeddings"]["embedding"])
  grown = encoder_lib.resize_token_embeddings(params, 23, seed=3)
  table = np.asarray(grown["embeddings"]["word_embeddings"]["embedding"])
  assert table.shape == (23, 8)
  np.testing.assert_array_equal(table[:20], old)
  assert np.isfinite(table[20:]).all()
  assert not np.allclose(table[20], table[21]), "new rows should differ"
  np.testing.assert_allclose(table[20:].mean(0), old.mean(0), atol=0.05)
  # The rest of the tree is untouched, and the resized model applies to the new ids.
  assert grown["layer_0"] is params["layer_0"]
  bigger = encoder_lib.Encoder(dataclasses.replace(config, vocab_size=23))
  out = bigger.apply({"params": grown}, jnp.array([[0, 20, 21, 22]]))
  assert out.shape == (1, 4, 8)
  shrunk = encoder_lib.resize_token_embeddings(params, 10)
  np.testing.assert_array_equal(shrunk["embeddings"]["word_embeddings"]["embedding"], old[:10])


def test_convert_rejects_incomplete_checkpoint(tmp_path):
  model = _tiny_roberta()
  state = {k: v.numpy() for k, v in model.state_dict().items() if "layer.1." not in k}
  config = convert.encoder_config_from_hf(model.config)
  with pytest.raises(ValueError, match="layer_1"):
    convert.convert_state_dict(state, config)


def test_convert_strips_head_prefix():
  model = _tiny_roberta()
  config = convert.encoder_config_from_hf(model.config)
  plain = convert.convert_state_dict({k: v.numpy() for k, v in model.state_dict().items()},
                                     config)
  prefixed = convert.convert_state_dict(
      {f"roberta.{k}": v.numpy() for k, v in model.state_dict().items()}, config)
  jax.tree.map(np.testing.assert_array_equal, plain, prefixed)


# --- features.py: word vectors for records ---------------------------------------------------


@pytest.fixture(scope="module")
def minilm_tokenizer():
  if not (MINILM / "tokenizer.json").exists():
    pytest.skip(f"MiniLM tokenizer not found at {MINILM}")
  tokenizer = transformers.AutoTokenizer.from_pretrained(str(MINILM))
  features.add_marker_tokens(tokenizer)
  return tokenizer


def _id_encoder(calls):
  """A context-free fake encoder: each piece's vector is [its id, 1]."""
  def encode(ids, mask):
    calls.append(ids.shape)
    return np.stack([ids, mask], axis=-1).astype(np.float32)
  return encode


def test_word_vectors_align_pieces_to_words(minilm_tokenizer):
  words = ["He", "is", "unbelievably", "\u200b", "sitting", "on", "the", "table", "."]
  calls = []
  [vectors] = features.word_vectors_for_records(
      _id_encoder(calls), minilm_tokenizer, [words], [[(0, 0), (7, 7)]])
  assert vectors.shape == (len(words), 2)
  np.testing.assert_array_equal(vectors[:, 1], 1.0)  # Every word got real pieces only.
  for word, vec in zip(words, vectors):
    ids = minilm_tokenizer(word, add_special_tokens=False)["input_ids"] or [
        minilm_tokenizer.unk_token_id]
    assert vec[0] == pytest.approx(np.mean(ids)), word
  assert len(minilm_tokenizer("unbelievably", add_special_tokens=False)["input_ids"]) > 1


def test_word_vectors_windows_cover_long_records(minilm_tokenizer):
  words = [f"word{i}" for i in range(40)] + ["unbelievably"] * 5
  spans = [[(2, 4), (30, 30), (41, 43)]]
  full = features.word_vectors_for_records(_id_encoder([]), minilm_tokenizer, [words], spans)
  calls = []
  windowed = features.word_vectors_for_records(
      _id_encoder(calls), minilm_tokenizer, [words], spans, max_length=16, batch_size=4)
  assert len(calls) > 1 and all(shape[1] <= 16 for shape in calls)
  np.testing.assert_allclose(windowed[0], full[0], rtol=1e-6)


def test_word_vectors_with_minilm(minilm_tokenizer):
  config, params = convert.load_checkpoint(MINILM)
  params = encoder_lib.resize_token_embeddings(params, len(minilm_tokenizer))
  config = dataclasses.replace(config, vocab_size=len(minilm_tokenizer))
  records = [["He", "is", "sitting", "on", "the", "table", "."], ["Paris"]]
  out = features.word_vectors_for_records(
      features.make_encoder_fn(config, params), minilm_tokenizer, records,
      [[(0, 0), (5, 5)], [(0, 0)]])
  assert [v.shape for v in out] == [(7, 384), (1, 384)]
  assert all(np.isfinite(v).all() for v in out)


def test_word_vectors_reject_unknown_markers(minilm_tokenizer):
  with pytest.raises(ValueError, match="add_marker_tokens"):
    features.word_vectors_for_records(_id_encoder([]), minilm_tokenizer, [["a"]], [[(0, 0)]],
                                      marker_tokens=("[X1]",))
