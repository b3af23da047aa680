"""Contextualised word vectors for RE records (paper §3.3.2).

Entity markers ([E1] ... [E1], [E2] ... [E2], [E3] ... [E3]) are inserted around each
entity's words, the marked words are tokenised into word pieces, the encoder runs over
[CLS] pieces [SEP] (long records in overlapping windows), and piece vectors are averaged
back onto the original words; marker and special-token vectors are dropped.

Usage:
  new_size = add_marker_tokens(tokenizer)
  params = resize_token_embeddings(params, new_size)   # and EncoderConfig(vocab_size=new_size)
  vectors = word_vectors_for_records(make_encoder_fn(config, params), tokenizer, tokens, spans)
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import numpy as np

from msfml_jax.plm.encoder import Encoder, EncoderConfig, Params

DEFAULT_MARKERS = ("[E1]", "[E2]", "[E3]")
# input_ids [B, T], attention_mask [B, T] -> hidden states [B, T, H].
EncoderFn = Callable[[np.ndarray, np.ndarray], Any]
Span = tuple[int, int]  # Inclusive 0-based word indices, as in data.readers.Record.spans.


def add_marker_tokens(tokenizer: Any, markers: Sequence[str] = DEFAULT_MARKERS) -> int:
  """Adds the markers as special (never split) tokens; returns the new vocabulary size."""
  tokenizer.add_tokens(list(markers), special_tokens=True)
  return len(tokenizer)


def make_encoder_fn(config: EncoderConfig, params: Params, precision: Any = None) -> EncoderFn:
  """Returns a jitted inference function of our `Encoder` for `word_vectors_for_records`."""
  model = Encoder(config, precision=precision)
  apply = jax.jit(lambda p, ids, mask: model.apply({"params": p}, ids, mask))
  params = jax.device_put(params)
  return lambda ids, mask: apply(params, ids, mask)


def insert_markers(words: Sequence[str], spans: Sequence[Span], markers: Sequence[str]
                   ) -> tuple[list[str], list[int]]:
  """Returns (marked words, original word index per marked word, -1 for markers).

  Entity k's span is wrapped in markers[k]; a span opening and closing at the same word
  nests (opened in entity order, closed in reverse) so markers never cross.
  """
  if len(spans) > len(markers):
    raise ValueError(f"{len(spans)} entities but only {len(markers)} marker tokens")
  marked, origin = [], []
  for i, word in enumerate(words):
    for k, (start, _) in enumerate(spans):
      if start == i:
        marked.append(markers[k])
        origin.append(-1)
    marked.append(word)
    origin.append(i)
    for k in reversed(range(len(spans))):
      if spans[k][1] == i:
        marked.append(markers[k])
        origin.append(-1)
  return marked, origin


def word_pieces(tokenizer: Any, marked: list[str], origin: list[int]
                ) -> tuple[np.ndarray, np.ndarray]:
  """Tokenises marked words; returns (piece ids, original word index per piece, -1 = marker).

  Words the tokenizer drops entirely (e.g. zero-width spaces) are replaced by the unknown
  token so every original word keeps at least one piece.
  """
  enc = tokenizer(marked, is_split_into_words=True, add_special_tokens=False)
  covered = {w for w in enc.word_ids() if w is not None}
  if len(covered) < len(marked):
    marked = [w if i in covered else tokenizer.unk_token for i, w in enumerate(marked)]
    enc = tokenizer(marked, is_split_into_words=True, add_special_tokens=False)
  word_of_piece = np.array([origin[w] for w in enc.word_ids()], dtype=np.int64)
  return np.asarray(enc["input_ids"], dtype=np.int32), word_of_piece


def window_starts(num_pieces: int, window: int) -> list[int]:
  """Starts of windows of `window` pieces, overlapping by half, that cover every piece."""
  if num_pieces <= window:
    return [0]
  stride = max(1, window // 2)
  starts = list(range(0, num_pieces - window, stride))
  return starts + [num_pieces - window]


def _bucket(length: int, max_length: int) -> int:
  """Pads sequence lengths to powers of two (>= 16) so jit compiles few shapes."""
  return min(max_length, max(16, 1 << (length - 1).bit_length()))


def _encode_windows(encoder_fn: EncoderFn, tokenizer: Any, windows: list[np.ndarray],
                    max_length: int, batch_size: int) -> list[np.ndarray]:
  """Runs [CLS] window [SEP] through the encoder; returns the window pieces' vectors."""
  out = []
  for b in range(0, len(windows), batch_size):
    chunk = windows[b:b + batch_size]
    length = _bucket(max(len(w) for w in chunk) + 2, max_length)
    ids = np.full((len(chunk), length), tokenizer.pad_token_id, dtype=np.int32)
    mask = np.zeros_like(ids)
    for r, w in enumerate(chunk):
      ids[r, :len(w) + 2] = [tokenizer.cls_token_id, *w, tokenizer.sep_token_id]
      mask[r, :len(w) + 2] = 1
    hidden = np.asarray(encoder_fn(ids, mask), dtype=np.float32)
    out.extend(hidden[r, 1:len(w) + 1] for r, w in enumerate(chunk))
  return out


def word_vectors_for_records(encoder_fn: EncoderFn, tokenizer: Any,
                             records_tokens: list[list[str]], spans: list[Sequence[Span]],
                             max_length: int = 512, marker_tokens: Sequence[str] | None = None,
                             batch_size: int = 16) -> list[np.ndarray]:
  """Returns one float32 [n_words, H] array of contextual word vectors per record.

  Args:
    encoder_fn: input_ids [B, T], attention_mask [B, T] -> hidden states [B, T, H].
    tokenizer: a fast HF tokenizer (RoBERTa's needs add_prefix_space=True for pre-split
      words) that knows the marker tokens (see `add_marker_tokens`).
    records_tokens: each record's words.
    spans: each record's entity spans, inclusive 0-based word indices.
    max_length: most pieces per encoder call, [CLS] and [SEP] included; longer records
      are split into half-overlapping windows whose overlapping vectors are averaged.
    marker_tokens: markers for entities 1, 2, 3 (None = [E1], [E2], [E3]; () = none).
    batch_size: windows per encoder call.
  """
  markers = DEFAULT_MARKERS if marker_tokens is None else tuple(marker_tokens)
  _check_markers(tokenizer, markers)
  pieces = [word_pieces(tokenizer, *insert_markers(words, record_spans, markers))
            for words, record_spans in zip(records_tokens, spans)]
  window = max_length - 2
  jobs = [(r, s) for r, (ids, _) in enumerate(pieces) for s in window_starts(len(ids), window)]
  vectors = _encode_windows(encoder_fn, tokenizer,
                            [pieces[r][0][s:s + window] for r, s in jobs], max_length, batch_size)
  by_record: dict[int, list[tuple[int, np.ndarray]]] = {}
  for (r, s), v in zip(jobs, vectors):
    by_record.setdefault(r, []).append((s, v))
  return [_pool_words(pieces[r][1], by_record[r], len(records_tokens[r]))
          for r in range(len(records_tokens))]


def _pool_words(word_of_piece: np.ndarray, windows: list[tuple[int, np.ndarray]],
                num_words: int) -> np.ndarray:
  """Averages overlapping windows per piece, then pieces per original word."""
  dim = windows[0][1].shape[-1]
  piece_sum = np.zeros((len(word_of_piece), dim), np.float32)
  piece_count = np.zeros((len(word_of_piece), 1), np.float32)
  for start, v in windows:
    piece_sum[start:start + len(v)] += v
    piece_count[start:start + len(v)] += 1
  piece_vecs = piece_sum / np.maximum(piece_count, 1)
  real = word_of_piece >= 0
  word_sum = np.zeros((num_words, dim), np.float32)
  np.add.at(word_sum, word_of_piece[real], piece_vecs[real])
  counts = np.bincount(word_of_piece[real], minlength=num_words)[:, None]
  return word_sum / np.maximum(counts, 1)


def _check_markers(tokenizer: Any, markers: Sequence[str]) -> None:
  unknown = [m for m in markers if tokenizer.convert_tokens_to_ids(m) == tokenizer.unk_token_id]
  if unknown:
    raise ValueError(f"marker tokens {unknown} are not in the tokenizer's vocabulary; "
                     "call add_marker_tokens(tokenizer) and resize the embeddings")
