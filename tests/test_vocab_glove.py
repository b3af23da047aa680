"""Vocabularies and GloVe reading (small synthetic GloVe files only)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from conftest import semeval_config, semeval_record
from msfml_jax.data import glove, readers, vocab

GLOVE_LINES = ["the 0.1 0.2 0.3", "storm 1 2 3", "flood -1 -2 -3.5", "unused 9 9 9"]


def _write_glove(path, lines, gz=False):
  text = "\n".join(lines) + "\n"
  if gz:
    with gzip.open(path, "wt", encoding="utf-8") as f:
      f.write(text)
  else:
    path.write_text(text, encoding="utf-8")
  return path


def test_vocab_lookup_specials_and_roundtrip(tmp_path):
  v = vocab.Vocab.with_specials(["the", "storm", "the"], lowercase=True)
  assert v.itos == ["<pad>", "<unk>", "the", "storm"] and len(v) == 4
  ids = v.lookup(["The", "STORM", "flood"])
  assert ids.dtype == np.int32 and ids.tolist() == [2, 3, vocab.UNK_ID]
  v.save(tmp_path / "v.json")
  loaded = vocab.Vocab.load(tmp_path / "v.json")
  assert loaded.itos == v.itos and loaded.lowercase and loaded.lookup(["Storm"]).tolist() == [3]


def test_label_vocab_has_no_specials():
  labels = vocab.Vocab(["Other", "Cause-Effect"], has_specials=False)
  assert labels.index("Cause-Effect") == 1 and labels.lookup(["Other"]).tolist() == [0]
  with pytest.raises(KeyError):
    labels.index("Friend-Of")


def test_build_vocabs_min_freq_and_glove_words(tmp_path):
  train = [semeval_record(0), semeval_record(1)]
  test_rec = dict(semeval_record(2), token=["A", "tornado", "caused", "a", "xyzzy"])
  config = semeval_config(tmp_path, train, [test_rec])
  splits = readers.load_splits(config)
  config.data.min_freq = 3  # every train word occurs twice (or 4x for "the")
  v = vocab.build_vocabs(splits, config, glove_words={"tornado", "storm"})
  assert "the" in v.word.stoi and "storm" in v.word.stoi   # frequent / in GloVe
  assert "caused" not in v.word.stoi                        # rare, not in GloVe
  assert "tornado" in v.word.stoi and "xyzzy" not in v.word.stoi  # test word: GloVe only
  assert v.label.itos == readers.label_names(config)
  assert v.pos.itos[:2] == ["<pad>", "<unk>"] and "root" in v.deprel.stoi
  v.save_dir(tmp_path / "vocab")
  loaded = vocab.Vocabs.load_dir(tmp_path / "vocab")
  assert loaded.word.itos == v.word.itos and loaded.label.itos == v.label.itos


@pytest.mark.parametrize("gz", [False, True])
def test_glove_plain_and_gz(tmp_path, gz):
  path = _write_glove(tmp_path / ("g.txt.gz" if gz else "g.txt"), GLOVE_LINES, gz)
  vectors = glove.load_vectors(path, {"storm", "flood", "missing"})
  assert vectors.dim == 3 and set(vectors.vectors) == {"storm", "flood"}
  np.testing.assert_allclose(vectors.vectors["flood"], [-1, -2, -3.5])


def test_glove_word2vec_header_and_spaces_in_words(tmp_path):
  path = _write_glove(tmp_path / "g.txt", ["2 3", "a b 1 2 3", "storm 4 5 6"])
  vectors = glove.load_vectors(path, {"storm", "a"})
  # the header sets dim; the 840B-style word "a b" is not the token "a"
  assert vectors.dim == 3 and set(vectors.vectors) == {"storm"}


@pytest.mark.parametrize("bad_line,words", [("storm 1 2", "fewer than 4 fields"),
                                            ("storm 1 x 3", "malformed")])
def test_glove_malformed_line_names_file_and_line(tmp_path, bad_line, words):
  path = _write_glove(tmp_path / "g.txt", ["the 1 2 3", bad_line])
  with pytest.raises(readers.DataError, match=words) as err:
    glove.load_vectors(path, {"storm"})
  assert f"{path}:2" in str(err.value)


def test_embedding_matrix_and_coverage(tmp_path):
  path = _write_glove(tmp_path / "g.txt.gz", GLOVE_LINES, gz=True)
  v = vocab.Vocab.with_specials(["the", "storm", "caused", "flood"], lowercase=True)
  counts = {"the": 4, "storm": 2, "caused": 2, "flood": 2}
  matrix, stats = glove.build_embedding_matrix(v, path, seed=0, counts=counts)
  assert matrix.shape == (6, 3) and matrix.dtype == np.float32
  assert not matrix[vocab.PAD_ID].any()
  np.testing.assert_allclose(matrix[v.stoi["storm"]], [1, 2, 3])
  assert np.abs(matrix[v.stoi["caused"]]).max() <= glove.UNK_SCALE
  assert stats["types"] == 4 and stats["types_covered"] == 3
  assert stats["tokens"] == 10 and stats["tokens_covered"] == 8
  assert stats["token_coverage"] == pytest.approx(0.8)
  again, _ = glove.build_embedding_matrix(v, path, seed=0)
  np.testing.assert_array_equal(matrix, again)
