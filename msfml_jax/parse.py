"""Raw text -> `Record`s for prediction: entity markers, a stanza parser, pre-parsed input.

Multi-sentence input becomes one record, linked the way the PubMed data is: the root of
sentence k >= 2 gets head = the (1-based, record-level) index of the root of sentence k-1 and
deprel `next`, so every record has exactly one head-0 token and `cross_sentence` is True
exactly when some deprel is `next`.

Character spans are half-open `[start, end)` offsets into the text; token spans (the
`Record.spans` convention) are inclusive 0-based token indices.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from typing import Any, Mapping, Sequence

from msfml_jax import cli
from msfml_jax.data.readers import Record

ENTITY_TAGS = ("e1", "e2", "e3")
PROCESSORS = "tokenize,pos,lemma,depparse"  # depparse requires lemma in stanza
_MARKER = re.compile(r"</?(e[123])>")


class ParseError(ValueError):
  """Input that cannot become a Record (bad markers, misaligned or missing entities)."""


class StanzaModelsMissing(cli.UserError, FileNotFoundError):
  """stanza's model files are not where the Parser was told to look."""


def parse_marked_text(text: str) -> tuple[str, list[tuple[int, int]]]:
  """Removes `<e1>..</e1>`, `<e2>..</e2>`, `<e3>..</e3>` and returns the clean text and the
  half-open character span of each entity in slot order (e1, e2[, e3]).

  Markers must be balanced, not nested, non-empty, each used once, and numbered from e1
  without gaps.
  """
  clean, spans, open_tag, start, pos = [], {}, None, 0, 0
  for m in _MARKER.finditer(text):
    clean.append(text[pos:m.start()])
    pos, tag, offset = m.end(), m.group(1), sum(map(len, clean))
    if not m.group(0).startswith("</"):
      if open_tag is not None:
        raise ParseError(f"<{tag}> opens inside <{open_tag}> (nested entities): {text!r}")
      if tag in spans:
        raise ParseError(f"<{tag}> appears twice: {text!r}")
      open_tag, start = tag, offset
    elif tag != open_tag:
      raise ParseError(f"</{tag}> closes {'<' + open_tag + '>' if open_tag else 'nothing'}: "
                       f"{text!r}")
    else:
      if not "".join(clean)[start:offset].strip():
        raise ParseError(f"<{tag}> is empty: {text!r}")
      spans[tag], open_tag = (start, offset), None
  if open_tag is not None:
    raise ParseError(f"<{open_tag}> is never closed: {text!r}")
  clean.append(text[pos:])
  tags = [t for t in ENTITY_TAGS if t in spans]
  if tags != list(ENTITY_TAGS[:len(tags)]) or not tags:
    raise ParseError(f"entities must be <e1>, <e2>[, <e3>] without gaps; found {tags}: {text!r}")
  return "".join(clean), [spans[t] for t in tags]


def char_to_token_spans(offsets: Sequence[tuple[int, int]], char_spans: Sequence[tuple[int, int]],
                        text: str = "", expand: bool = False) -> list[tuple[int, int]]:
  """Maps half-open character spans to inclusive token spans.

  offsets: each token's `[start, end)` in the text. Whitespace at the edges of a span is
  ignored. A span must start at a token start and end at a token end, unless `expand`, which
  widens it to the tokens it touches; a span covering no token is an error either way.
  """
  result = []
  for slot, (start, end) in enumerate(char_spans, 1):
    if text:  # Trim whitespace so "<e1> chairs </e1>" still aligns.
      while start < end and text[start].isspace():
        start += 1
      while end > start and text[end - 1].isspace():
        end -= 1
    hit = [i for i, (s, e) in enumerate(offsets) if s < end and e > start]
    shown = repr(text[start:end]) if text else ""
    if not hit:
      raise ParseError(f"entity {slot} {shown} (chars {start}-{end}) covers no token")
    first, last = hit[0], hit[-1]
    if not expand and (offsets[first][0] != start or offsets[last][1] != end):
      tokens = [text[s:e] for s, e in offsets[first:last + 1]] if text else []
      raise ParseError(f"entity {slot} {shown} (chars {start}-{end}) does not align with token "
                       f"boundaries: it cuts into the tokens {tokens} at chars "
                       f"{offsets[first][0]}-{offsets[last][1]}; fix the markers or pass "
                       "expand=True")
    result.append((first, last))
  return result


def link_sentences(sentences: Sequence[Sequence[tuple[str, str, int, str]]]):
  """(text, pos, head, deprel) per word, per sentence, with sentence-level heads ->
  record-level (tokens, pos, heads, deprels) with the roots linked by `next` edges."""
  tokens, pos, heads, deprels, prev_root = [], [], [], [], 0
  for words in sentences:
    offset, root = len(tokens), 0
    for i, (text, tag, head, rel) in enumerate(words):
      tokens.append(text)
      pos.append(tag)
      if head == 0 and prev_root:  # Sentences 2..: root hangs off the previous root.
        heads.append(prev_root)
        deprels.append("next")
      else:
        heads.append(head + offset if head > 0 else head)
        deprels.append(rel)
      if head == 0 and not root:
        root = offset + i + 1
    prev_root = root or prev_root
  return tokens, pos, heads, deprels


def _missing(model_dir: str, lang: str, what: str) -> StanzaModelsMissing:
  command = (f'python -c "import stanza; stanza.download({lang!r}, model_dir={model_dir!r}, '
             f'processors={PROCESSORS!r})"')
  return StanzaModelsMissing(
      f"stanza models for '{lang}' not found: {what}. stanza cannot download at parse time "
      f"(download_method=None); download them once, with internet access:\n  {command}\n"
      "or pass model_paths=... for model files kept elsewhere, or parse the text yourself "
      "and use records_from_preparsed().")


class Parser:
  """A stanza Pipeline (tokenize, pos, lemma, depparse) that turns text into Records.

  Models come either from a stanza model directory laid out by `stanza.download`
  (`model_dir`, default stanza's own) or from explicit files: `model_paths` maps `tokenize`,
  `pos`, `depparse` and optionally `lemma` to `.pt` files (without `lemma` the identity
  lemmatizer is used; without `tokenize`, `pretokenized` must be True). Nothing is ever
  downloaded. `pretokenized=True` splits tokens at whitespace and sentences at newlines and
  also accepts lists of token lists. `pipeline_kwargs` go to `stanza.Pipeline` as they are
  (e.g. `pos_pretrain_path`, `depparse_batch_size`).
  """

  def __init__(self, model_dir: str | None = None, *, lang: str = "en",
               pretokenized: bool = False, model_paths: Mapping[str, str] | None = None,
               use_gpu: bool = False, pipeline_kwargs: Mapping[str, Any] | None = None):
    import stanza  # Deferred: stanza imports torch, which only parsing needs.
    from stanza.resources.common import DEFAULT_MODEL_DIR
    self.pretokenized = pretokenized
    self.model_dir = os.path.expanduser(model_dir or DEFAULT_MODEL_DIR)
    kwargs = {"lang": lang, "processors": PROCESSORS, "download_method": None,
              "tokenize_pretokenized": pretokenized, "use_gpu": use_gpu,
              "logging_level": "ERROR", **(pipeline_kwargs or {})}
    with self._explain_missing(lang):
      if model_paths is None:
        self._check_model_dir(lang)
        self.pipeline = stanza.Pipeline(dir=self.model_dir, **kwargs)
      else:
        kwargs.update(self._explicit_paths(model_paths, lang, pretokenized))
        with tempfile.TemporaryDirectory() as empty:
          # No resources.json describes loose files: an empty one plus allow_unknown_language
          # makes stanza load exactly the paths given.
          with open(os.path.join(empty, "resources.json"), "w", encoding="utf-8") as f:
            json.dump({}, f)
          self.pipeline = stanza.Pipeline(dir=empty, allow_unknown_language=True, **kwargs)

  @contextlib.contextmanager
  def _explain_missing(self, lang: str):
    """Re-raises stanza's file errors (all FileNotFoundError) with the download command."""
    try:
      yield
    except StanzaModelsMissing:
      raise
    except FileNotFoundError as e:
      raise _missing(self.model_dir, lang, str(e)) from e

  def _check_model_dir(self, lang: str) -> None:
    if not os.path.exists(os.path.join(self.model_dir, "resources.json")):
      raise _missing(self.model_dir, lang, f"no resources.json in {self.model_dir}")
    needed = [p for p in PROCESSORS.split(",") if not (p == "tokenize" and self.pretokenized)]
    absent = [p for p in needed if not os.path.isdir(os.path.join(self.model_dir, lang, p))]
    if absent:
      raise _missing(self.model_dir, lang, f"no {', '.join(absent)} models under "
                     f"{os.path.join(self.model_dir, lang)}")

  def _explicit_paths(self, model_paths: Mapping[str, str], lang: str,
                      pretokenized: bool) -> dict[str, Any]:
    unknown = set(model_paths) - set(PROCESSORS.split(","))
    if unknown:
      raise ValueError(f"model_paths keys must be among {PROCESSORS}, got {sorted(unknown)}")
    needed = ["pos", "depparse"] + ([] if pretokenized else ["tokenize"])
    absent = [p for p in needed if p not in model_paths]
    absent += [f"{p}={path}" for p, path in model_paths.items() if not os.path.isfile(path)]
    if absent:
      raise _missing(self.model_dir, lang, f"model_paths lacks or points nowhere: {absent}")
    kwargs = {f"{p}_model_path": path for p, path in model_paths.items()}
    if "lemma" not in model_paths:
      kwargs["lemma_use_identity"] = True
    return kwargs

  def parse(self, text: str | Sequence[Sequence[str]], spans: Sequence[tuple[int, int]], *,
            id: str = "", label: str = "", source: str = "", expand: bool = False) -> Record:
    """Parses one text into a Record.

    text: a string, with `spans` as half-open character spans; or, with `pretokenized`, a
    list of token lists (one per sentence), with `spans` as inclusive token spans over the
    concatenated tokens (`expand` then has no use).
    """
    if isinstance(text, str):
      doc, offsets = self._run_text(text)
      token_spans = char_to_token_spans(offsets, spans, text, expand)
    else:
      if not self.pretokenized:
        raise ParseError("token lists need Parser(pretokenized=True)")
      if not any(text):
        raise ParseError("no tokens")
      doc = self.pipeline([list(sentence) for sentence in text])
      token_spans = [tuple(span) for span in spans]
    return self._record(doc, token_spans, id, label, source)

  def parse_marked(self, marked_text: str, *, id: str = "", label: str = "",
                   source: str = "", expand: bool = False) -> Record:
    """Parses text with inline `<e1>..</e1>` markers (see `parse_marked_text`)."""
    text, spans = parse_marked_text(marked_text)
    return self.parse(text, spans, id=id, label=label, source=source, expand=expand)

  def _run_text(self, text: str):
    """Runs the pipeline; returns the Document and each word's character offsets."""
    if not text.strip():
      raise ParseError("empty text")
    if self.pretokenized:  # Own split, so offsets refer to `text` and not stanza's re-join.
      lines = [[(line.start() + m.start(), line.start() + m.end())
                for m in re.finditer(r"\S+", line.group())]
               for line in re.finditer(r"[^\n]*\S[^\n]*", text)]
      doc = self.pipeline([[text[s:e] for s, e in line] for line in lines])
      return doc, [span for line in lines for span in line]
    doc = self.pipeline(text)
    # A multi-word token's words share the token's offsets.
    offsets = [(t.start_char, t.end_char) for s in doc.sentences for t in s.tokens
               for _ in t.words]
    return doc, offsets

  def _record(self, doc, spans, id: str, label: str, source: str) -> Record:
    sentences = [[(w.text, w.xpos or w.upos or "_", int(w.head), w.deprel or "dep")
                  for w in sentence.words] for sentence in doc.sentences]
    tokens, pos, heads, deprels = link_sentences(sentences)
    for slot, (start, end) in enumerate(spans, 1):
      if not 0 <= start <= end < len(tokens):
        raise ParseError(f"entity {slot} span {(start, end)} out of range for {len(tokens)} "
                         "tokens")
    return Record(id=id, tokens=tokens, pos=pos, heads=heads, deprels=deprels,
                  spans=[(int(s), int(e)) for s, e in spans], label=label,
                  cross_sentence="next" in deprels, entity_types=None, label_directed=None,
                  source=source)


_ALIASES = {"tokens": ("tokens", "token"), "pos": ("pos", "stanford_pos"),
            "heads": ("heads", "head", "stanford_head"),
            "deprels": ("deprels", "deprel", "stanford_deprel")}


def _field(item: Mapping[str, Any], name: str, where: str) -> list:
  for key in _ALIASES[name]:
    if key in item:
      if not isinstance(item[key], (list, tuple)):
        raise ParseError(f"{where}: field '{key}' must be a list")
      return list(item[key])
  raise ParseError(f"{where}: missing field '{name}' (or {', '.join(_ALIASES[name][1:])})")


def record_from_preparsed(item: Mapping[str, Any], index: int = 0) -> Record:
  """One pre-parsed dict -> Record (see `records_from_preparsed`)."""
  where = f"record {index}"
  tokens, pos, deprels = (_field(item, k, where) for k in ("tokens", "pos", "deprels"))
  try:
    heads = [int(h) for h in _field(item, "heads", where)]
  except (TypeError, ValueError) as e:
    raise ParseError(f"{where}: heads must be integers ({e})") from None
  n = len(tokens)
  for name, values in (("pos", pos), ("heads", heads), ("deprels", deprels)):
    if len(values) != n:
      raise ParseError(f"{where}: {name} has {len(values)} entries for {n} tokens")
  if n == 0 or 0 not in heads or any(not -1 <= h <= n for h in heads):
    raise ParseError(f"{where}: heads must be in [-1, {n}] with at least one root (0)")
  spans = item.get("spans")
  if not spans or any(len(s) != 2 or not 0 <= int(s[0]) <= int(s[1]) < n for s in spans):
    raise ParseError(f"{where}: spans must be a non-empty list of inclusive [start, end] "
                     f"token spans within {n} tokens, got {spans!r}")
  return Record(id=str(item.get("id", index)), tokens=[str(t) for t in tokens],
                pos=[str(p) for p in pos], heads=heads, deprels=[str(d) for d in deprels],
                spans=[(int(s), int(e)) for s, e in spans], label=str(item.get("label", "")),
                cross_sentence="next" in deprels, entity_types=item.get("entity_types"),
                label_directed=None, source=str(item.get("source", where)))


def records_from_preparsed(items: Sequence[Mapping[str, Any]]) -> list[Record]:
  """Pre-parsed dicts -> Records, for users without stanza models.

  Each dict holds `tokens`, `pos`, `heads` (1-based, 0 = root, -1 = no head) and `deprels`
  (the dataset names `token`, `stanford_pos`, `stanford_head`, `stanford_deprel` and the
  singular `head`, `deprel` work too), `spans` (inclusive token spans, one per entity slot)
  and optionally `id`, `label`, `entity_types`, `source`. Multi-sentence input must already
  link its sentence roots with `next` edges; that marks the record cross-sentence.
  """
  return [record_from_preparsed(item, i) for i, item in enumerate(items)]
