"""GloVe text files (plain or .gz, any dimension) -> embedding matrices.

Format: `word v1 ... vd` per line, space separated, UTF-8. A word2vec-style header line
(`count dim`) is skipped. Only the vectors of wanted words are parsed, so reading the 400k-word
6B file takes about a second; the other lines are only checked for their field count.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import pathlib
from typing import Iterable, Iterator, Mapping

from absl import logging
import numpy as np

from msfml_jax.data.json_fields import DataError
from msfml_jax.data.vocab import Vocab, PAD_ID

# Rows of words without a pretrained vector: uniform in [-UNK_SCALE, UNK_SCALE] (C-GCN uses
# uniform init before copying GloVe in; a small range keeps them below GloVe's norms).
UNK_SCALE = 0.1


@dataclasses.dataclass
class GloveVectors:
  """The vectors found for the wanted words."""
  dim: int
  vectors: dict[str, np.ndarray]

  def words(self) -> set[str]:
    return set(self.vectors)


def _open_lines(path: pathlib.Path) -> Iterator[bytes]:
  opener = gzip.open if path.suffix == ".gz" else open
  with opener(path, "rb") as f:
    yield from f


def _is_header(fields: list[bytes]) -> bool:
  return len(fields) == 2 and all(f.isdigit() for f in fields)


def _parse_vector(line: bytes, dim: int, where: str) -> tuple[str, np.ndarray]:
  """Splits a full line; the word is everything before the last `dim` fields (840B has a
  few words with spaces)."""
  parts = line.rstrip(b"\r\n").rstrip(b" ").split(b" ")
  try:
    values = np.array([float(v) for v in parts[-dim:]], np.float32)
    word = b" ".join(parts[:-dim]).decode("utf-8")
  except (ValueError, UnicodeDecodeError) as e:
    raise DataError(f"{where}: malformed GloVe line ({e})") from None
  return word, values


def load_vectors(path: str | os.PathLike, wanted: Iterable[str]) -> GloveVectors:
  """Reads the vectors of `wanted` words from a GloVe text file.

  The dimension comes from the first line (or the word2vec header). A line with fewer than
  dim + 1 fields, or a wanted word's unparsable value, raises DataError naming file and line.
  The first occurrence of a word wins.
  """
  path = pathlib.Path(path)
  if not path.is_file():
    raise DataError(f"{path}: GloVe file not found")
  wanted_bytes = {w.encode("utf-8") for w in wanted}
  dim = 0
  vectors: dict[str, np.ndarray] = {}
  for line_no, line in enumerate(_open_lines(path), start=1):
    if dim == 0:
      fields = line.split()
      if line_no == 1 and _is_header(fields):
        dim = int(fields[1])
        continue
      dim = len(fields) - 1
      if dim < 1:
        raise DataError(f"{path}:{line_no}: cannot detect the vector dimension")
    # Field count check without splitting: dim spaces at least (words with spaces have more).
    if line.rstrip(b"\r\n ").count(b" ") < dim:
      if not line.strip():
        continue
      raise DataError(f"{path}:{line_no}: malformed GloVe line (fewer than {dim + 1} fields)")
    if line[:line.find(b" ")] in wanted_bytes:
      word, values = _parse_vector(line, dim, f"{path}:{line_no}")
      if word.encode("utf-8") in wanted_bytes:  # not "a b" when "a" is wanted
        vectors.setdefault(word, values)
  if dim == 0:
    raise DataError(f"{path}: empty GloVe file")
  return GloveVectors(dim=dim, vectors=vectors)


def coverage(vocab: Vocab, covered: set[str],
             counts: Mapping[str, int] | None = None) -> dict[str, float]:
  """Fraction of vocabulary types (and of token occurrences, given `counts`) with a vector.

  `<pad>`/`<unk>` are not counted.
  """
  types = vocab.itos[2:] if vocab.has_specials else list(vocab.itos)
  found = sum(w in covered for w in types)
  result = {"types": len(types), "types_covered": found,
            "type_coverage": found / max(len(types), 1)}
  if counts is not None:
    total = sum(counts.values())
    hit = sum(c for w, c in counts.items() if w in covered)
    result.update(tokens=total, tokens_covered=hit, token_coverage=hit / max(total, 1))
  return result


def build_embedding_matrix(vocab: Vocab, path: str | os.PathLike, seed: int,
                           vectors: GloveVectors | None = None,
                           counts: Mapping[str, int] | None = None
                           ) -> tuple[np.ndarray, dict[str, float]]:
  """Returns a float32 [len(vocab), d] matrix and its coverage statistics.

  Row 0 (`<pad>`) is zero; words without a GloVe vector (and `<unk>`) get uniform
  [-UNK_SCALE, UNK_SCALE] values from `seed`. Pass `vectors` when the file was already read
  (by `load_vectors`) and `counts` (normalised word -> train count) for token coverage.
  """
  if vectors is None:
    vectors = load_vectors(path, vocab.itos)
  rng = np.random.default_rng(seed)
  matrix = rng.uniform(-UNK_SCALE, UNK_SCALE, (len(vocab), vectors.dim)).astype(np.float32)
  for i, w in enumerate(vocab.itos):
    v = vectors.vectors.get(w)
    if v is not None:
      matrix[i] = v
  if vocab.has_specials:
    matrix[PAD_ID] = 0.0
  stats = coverage(vocab, vectors.words(), counts)
  logging.info("GloVe %s (d=%d): %d/%d vocabulary types covered (%.1f%%)%s", path,
               vectors.dim, stats["types_covered"], stats["types"],
               100 * stats["type_coverage"],
               f", {100 * stats['token_coverage']:.1f}% of train tokens" if counts else "")
  return matrix, stats
