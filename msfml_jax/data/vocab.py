"""Vocabularies for words, POS tags, dependency labels and relation labels.

Word, POS and deprel vocabularies reserve index 0 for `<pad>` and 1 for `<unk>`; the label
vocabulary has neither (its order is the reader's fixed label order).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import pathlib
from typing import Iterable, Mapping, Sequence

import ml_collections
import numpy as np

from msfml_jax.data import readers

PAD = "<pad>"
UNK = "<unk>"
PAD_ID = 0
UNK_ID = 1
_VOCAB_FILES = ("word", "pos", "deprel", "label")


class Vocab:
  """A string <-> id map.

  Attributes:
    itos: id -> string.
    stoi: string -> id.
    lowercase: lower-case strings in `lookup` (word vocabularies).
    has_specials: whether ids 0/1 are `<pad>`/`<unk>`; unknown strings map to `<unk>` only
      then, otherwise `lookup`/`index` raise KeyError.
  """

  def __init__(self, itos: Sequence[str], lowercase: bool = False,
               has_specials: bool = True):
    self.itos = list(itos)
    self.stoi = {s: i for i, s in enumerate(self.itos)}
    self.lowercase = lowercase
    self.has_specials = has_specials
    if len(self.stoi) != len(self.itos):
      raise ValueError("vocabulary has duplicate entries")
    if has_specials and self.itos[:2] != [PAD, UNK]:
      raise ValueError(f"vocabulary must start with {PAD}, {UNK}")

  @classmethod
  def with_specials(cls, words: Iterable[str], lowercase: bool = False) -> "Vocab":
    """Returns `<pad>`, `<unk>`, then `words` (in the given order, duplicates dropped)."""
    itos = [PAD, UNK]
    seen = set(itos)
    for w in words:
      if w not in seen:
        seen.add(w)
        itos.append(w)
    return cls(itos, lowercase=lowercase, has_specials=True)

  def __len__(self) -> int:
    return len(self.itos)

  def __contains__(self, s: str) -> bool:
    return (s.lower() if self.lowercase else s) in self.stoi

  def index(self, s: str) -> int:
    """Returns the id of `s`; raises KeyError for an unknown label (no `<unk>` fallback in
    vocabularies without specials)."""
    if self.lowercase:
      s = s.lower()
    if self.has_specials:
      return self.stoi.get(s, UNK_ID)
    return self.stoi[s]

  def lookup(self, tokens: Sequence[str]) -> np.ndarray:
    """Maps strings to an int32 array of ids (unknown -> `<unk>`)."""
    if self.lowercase:
      tokens = [t.lower() for t in tokens]
    if not self.has_specials:
      return np.fromiter((self.stoi[t] for t in tokens), np.int32, len(tokens))
    get = self.stoi.get
    return np.fromiter((get(t, UNK_ID) for t in tokens), np.int32, len(tokens))

  def to_json(self) -> dict:
    return {"itos": self.itos, "lowercase": self.lowercase, "has_specials": self.has_specials}

  @classmethod
  def from_json(cls, d: Mapping) -> "Vocab":
    return cls(d["itos"], lowercase=d["lowercase"], has_specials=d["has_specials"])

  def save(self, path: str | os.PathLike) -> None:
    """Writes the vocabulary as JSON."""
    pathlib.Path(path).write_text(json.dumps(self.to_json(), ensure_ascii=False))

  @classmethod
  def load(cls, path: str | os.PathLike) -> "Vocab":
    """Reads a vocabulary written by `save`."""
    return cls.from_json(json.loads(pathlib.Path(path).read_text()))


@dataclasses.dataclass
class Vocabs:
  """The four vocabularies of a dataset."""
  word: Vocab
  pos: Vocab
  deprel: Vocab
  label: Vocab

  def save_dir(self, directory: str | os.PathLike) -> None:
    """Writes `word.json`, `pos.json`, `deprel.json`, `label.json` into `directory`."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name in _VOCAB_FILES:
      getattr(self, name).save(directory / f"{name}.json")

  @classmethod
  def load_dir(cls, directory: str | os.PathLike) -> "Vocabs":
    """Reads the vocabularies written by `save_dir`."""
    directory = pathlib.Path(directory)
    return cls(**{name: Vocab.load(directory / f"{name}.json") for name in _VOCAB_FILES})


def _by_count(counter: collections.Counter) -> list[str]:
  """Most frequent first, ties alphabetical, so the order is deterministic."""
  return [w for w, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))]


def build_vocabs(splits: Mapping[str, Sequence[readers.Record]],
                 config: ml_collections.ConfigDict,
                 glove_words: set[str] | None = None) -> Vocabs:
  """Builds the vocabularies from the records.

  Words: every train word seen at least `config.data.min_freq` times, plus every word of any
  split (dev/test included) that the pretrained vectors cover (`glove_words`). This is the
  C-GCN/AGGCN practice: a test word with a GloVe vector keeps its pretrained (frozen in
  meaning, if not in value) representation instead of collapsing to `<unk>`; no label or
  statistic of the test data is used. Words are lower-cased first when `config.data.lowercase`.
  POS tags and dependency labels come from train only; others map to `<unk>`.
  The label vocabulary is `readers.label_names(config)` in its fixed order.
  """
  lowercase = bool(config.data.lowercase)
  norm = (lambda t: t.lower()) if lowercase else (lambda t: t)
  train = splits["train"]
  word_counts = collections.Counter(norm(t) for r in train for t in r.tokens)
  words = [w for w in _by_count(word_counts) if word_counts[w] >= config.data.min_freq]
  if glove_words:
    extra = collections.Counter(norm(t) for recs in splits.values() for r in recs
                                for t in r.tokens)
    words += [w for w in _by_count(extra) if w in glove_words]
  pos = _by_count(collections.Counter(p for r in train for p in r.pos))
  deprel = _by_count(collections.Counter(d for r in train for d in r.deprels))
  return Vocabs(
      word=Vocab.with_specials(words, lowercase=lowercase),
      pos=Vocab.with_specials(pos),
      deprel=Vocab.with_specials(deprel),
      label=Vocab(readers.label_names(config), has_specials=False))
