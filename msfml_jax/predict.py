"""Raw text in, relations out: predicts relations with a trained workdir.

  python -m msfml_jax.predict --workdir=runs/semeval --input=sentences.txt [--output=out.jsonl]
      [--parser=spacy|stanza] [--checkpoint=best|latest] [--stanza_dir=DIR] [--batch_size=N]
      [--allow_errors]

Each non-blank input line is one of
  - plain text with inline markers: `The <e1>company</e1> makes <e2>chairs</e2>.` (any line
    that does not start with `{`, `[` or `"`), or the same as a JSON string, or
    `{"text": "... <e1>..</e1> ...", "id": ..., "label": ...}`;
  - text with half-open character spans: `{"text": "...", "spans": [[4, 11], [23, 37]]}`;
  - a pre-parsed record (`parse.records_from_preparsed`; the custom task's records are such):
    `tokens`, `pos`, `heads`, `deprels`, inclusive token `spans`; dataset files' own fields
    (`token`, `stanford_*`, `subj_start`/`obj_end`, PubMed's `first_start`.., `relation`)
    work as they are.
Marker problems (nested, unclosed, missing, `<e3>` for a two-entity model) are found before
any parsing, so they are reported whatever the parser's state. Text is parsed in batches with
`--parser` (default: the backend that parsed the training data, `data.parser`, else stanza);
a parser or label scheme other than the training data's gets a warning.

Output contract: one JSON row per non-blank input line, in order, each with its `line`
number and either `prediction`, `probabilities` (every label) and `entities`, or `error`;
blank lines are skipped and counted. A closing summary on stderr, "N predicted, M failed, K
blank"; the exit status is 0 only when no line failed, 1 otherwise (`--allow_errors`: 0).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import pathlib
import sys
import time
from typing import Any, Iterable, Iterator, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import flags, logging

from msfml_jax import checkpoints, cli, parse, tasks
from msfml_jax.data import arrays as arrays_lib
from msfml_jax.data import batching, cache, readers, validate
from msfml_jax.models import msfml

CHUNK = 1000  # records converted and predicted together; bounds memory on long files
# What bad input raises (parse.ParseError is a ValueError); anything else is a bug and stops.
_RECORD_ERRORS = (ValueError, KeyError, IndexError, TypeError)


def abstract_params(model: msfml.MSFML, dataset: cache.Dataset, config: ml_collections.ConfigDict,
                    plm_width: int = 0) -> Any:
  """Shapes and dtypes of the model's parameters (`msfml.init_params`, nothing computed).

  Parameter shapes do not depend on the input, so an all-padding example batch will do.
  plm_width: the PLM's hidden size, for `model.word_input == "plm"`.
  """
  width = plm_width if config.model.word_input == "plm" else 0
  example = batching.example_batch(dataset.num_entities, min(config.data.buckets), width)
  return jax.eval_shape(lambda: msfml.init_params(model, example))


def load_model_inputs(workdir: str | pathlib.Path, config: ml_collections.ConfigDict
                      ) -> cache.Dataset:
  """Vocabularies and sizes of a run: `<workdir>/dataset/` (written by training), else the
  dataset cache of its config (workdirs from before that file existed; rebuilt from the data
  when the cache is gone)."""
  directory = pathlib.Path(workdir) / cache.MODEL_INPUTS_DIR
  if (directory / "meta.json").is_file():
    return cache.load_model_inputs(directory)
  logging.info("%s has no %s/: reading the dataset cache", workdir, cache.MODEL_INPUTS_DIR)
  return cache.load_dataset(config, progress=False)


def _load_plm(config: ml_collections.ConfigDict) -> tuple[Any, Any, int, int]:
  """The run's PLM encoder; imported on demand because transformers is slow to import."""
  from msfml_jax.plm import pipeline  # pylint: disable=import-outside-toplevel
  return pipeline.load_inference_encoder(config)


def _slot_spans(item: dict, slots: Sequence[str]) -> list[list[int]] | None:
  """Spans from dataset fields `<slot>_start`/`<slot>_end` (subj/obj, PubMed first..third)."""
  present = [s for s in slots if f"{s}_start" in item]
  return [[item[f"{s}_start"], item[f"{s}_end"]] for s in present] if present else None


class Extractor:
  """A trained model plus everything needed to turn new inputs into its batches.

  Use `Extractor.from_workdir(workdir)`; `predict(items)` takes strings with entity markers
  and dicts (see the module docstring) and returns one dict per item, in order.
  """

  def __init__(self, config: ml_collections.ConfigDict, dataset: cache.Dataset, params: Any,
               parser: parse.TextParser | str | None = None, stanza_dir: str | None = None,
               step: int = -1, plm: tuple[Any, Any, int, int] | None = None,
               spacy_model: str | None = None, expand: bool = False):
    self.config, self.dataset, self.params, self.step = config, dataset, params, step
    self.label_names = list(dataset.label_names)
    self.model = msfml.create_model(config, dataset)
    self._probabilities = jax.jit(lambda p, b: jax.nn.softmax(
        self.model.apply({"params": p}, b, train=False)["logits"].astype(jnp.float32)))
    # A TextParser, or a backend name / None: created when the first text arrives.
    self.parser = parser if isinstance(parser, parse.TextParser) else None
    self._parser_name = parser if isinstance(parser, str) else ""
    self._parser_error, self._stanza_dir, self._spacy_model = None, stanza_dir, spacy_model
    self._checked_parser = None
    self.parser_missing: parse.ParserModelsMissing | None = None  # models not installed
    self.expand = expand  # widen entities that cut into a token (else such a line fails)
    self._plm = plm
    self._slots = tuple(dict.fromkeys(("subj", "obj") + tasks.get(config).entity_slots(config)))
    self.stats = {"records": 0, "errors": 0, "blank": 0, "parse_s": 0.0, "model_s": 0.0}

  @classmethod
  def from_workdir(cls, workdir: str | pathlib.Path, checkpoint: str = "best",
                   parser: parse.TextParser | str | None = None, *,
                   stanza_dir: str | None = None, spacy_model: str | None = None,
                   cache_dir: str | None = None, data_dir: str | None = None,
                   batch_size: int | None = None, expand: bool = False) -> "Extractor":
    """Rebuilds the model from the config stored with the checkpoint and restores it.

    `parser`: a `parse.TextParser`, or "spacy" / "stanza" (created on the first raw text;
    None = the backend of the training data's `data.parser`, else stanza). `expand`: widen
    an entity whose boundary cuts into a token to the whole token (an item's own `expand`
    field wins).

    The vocabularies come from `<workdir>/dataset/` (`load_model_inputs`); `cache_dir` and
    `data_dir` override where an older workdir's dataset cache and a PLM run's encoder are
    looked for, for a workdir moved to another machine. `batch_size` replaces
    `data.eval_batch_size`.
    """
    directory, step, config = checkpoints.find_checkpoint(workdir, checkpoint)
    for name, value in (("cache_dir", cache_dir), ("data_dir", data_dir)):
      if value is not None:
        config[name] = value
    if batch_size:
      config.data.eval_batch_size = batch_size
    dataset = load_model_inputs(workdir, config)
    model = msfml.create_model(config, dataset)
    plm = _load_plm(config) if config.model.word_input == "plm" else None
    abstract = abstract_params(model, dataset, config, plm[3] if plm else 0)
    # The parameters training evaluated: their moving average when the run kept one.
    params = checkpoints.restore_params(
        directory, step, abstract,
        "ema_params" if config.optim.ema_decay > 0 else "params")
    logging.info("restored %s/%d", directory, step)
    return cls(config, dataset, params, parser, stanza_dir, step, plm, spacy_model, expand)

  # --- inputs -> Records ---------------------------------------------------------------------

  def _default_parser(self) -> tuple[str, str]:
    """(backend, spaCy model) to create: the one asked for, else the training data's."""
    trained = str(self.config.data.get("parser", "") or "")
    backend, _, model = trained.partition(":")
    name = self._parser_name or (backend if backend in parse.PARSERS else "stanza")
    if self._spacy_model:
      model = self._spacy_model
    elif name != "spacy" or backend != "spacy":
      model = parse.DEFAULT_SPACY_MODEL
    return name, model

  def _parser(self) -> parse.TextParser:
    """The parser, created on first use; its failure is kept for every later text (and
    missing models in `parser_missing`, which the command line reports with exit 2)."""
    if self.parser is None and self._parser_error is None:
      name, model = self._default_parser()
      try:
        self.parser = parse.make_parser(name, spacy_model=model, stanza_dir=self._stanza_dir)
      except (ImportError, OSError, ValueError) as e:
        if isinstance(e, parse.ParserModelsMissing):
          self.parser_missing = e
        self._parser_error = f"cannot parse raw text: {e}"
        logging.error("%s", self._parser_error)
    if self.parser is None:
      raise parse.ParseError(self._parser_error)
    if self._checked_parser is not self.parser:
      self._checked_parser = self.parser
      warn_parser_mismatch(self.config, self.parser)
    return self.parser

  def _text_item(self, item: Any, source: str) -> parse.TextItem | None:
    """The TextItem of a raw-text input (markers checked, no parser needed), or None for a
    pre-parsed one."""
    if isinstance(item, str):
      text_item = parse.item_from_marked(item, source=source, expand=self.expand)
    elif not isinstance(item, dict):
      raise parse.ParseError(f"expected a string or an object, got {type(item).__name__}")
    elif "text" not in item:
      return None
    else:
      if not isinstance(item["text"], str):
        raise parse.ParseError("field 'text' must be a string")
      kw = {"id": str(item.get("id", "")), "source": source,
            "expand": bool(item.get("expand", self.expand)),
            "label": str(item.get("label", item.get("relation", "")))}
      if "spans" in item:
        text_item = parse.TextItem(item["text"], [tuple(s) for s in item["spans"]], **kw)
      else:
        text_item = parse.item_from_marked(item["text"], **kw)
    self._check_count(len(text_item.spans))
    return text_item

  def _preparsed(self, item: dict, number: int, source: str) -> readers.Record:
    ident, label = str(item.get("id", "")), str(item.get("label", item.get("relation", "")))
    item = dict(item, label=label, source=source)
    if "spans" not in item and (spans := _slot_spans(item, self._slots)):
      item["spans"] = spans
    record = parse.record_from_preparsed(item, number)
    record.id = ident
    return record

  def to_record(self, item: Any, number: int = 0, where: str = "item") -> readers.Record:
    """One input item (marked string, text + spans, or pre-parsed dict) -> Record."""
    source = f"{where} {number}"
    text_item = self._text_item(item, source)
    if text_item is None:
      return self._preparsed(item, number, source)
    result = self._parser().parse_many([text_item])[0]
    if isinstance(result, Exception):
      raise result
    return result

  def _check_count(self, n: int) -> None:
    if n != self.dataset.num_entities:
      raise parse.ParseError(f"{n} entities, this model expects {self.dataset.num_entities}")

  def _check(self, record: readers.Record) -> None:
    """Problems records_to_arrays and batching would raise for the whole chunk, and the
    graph rules of the training data (`validate`: one root, no cycle, ...)."""
    self._check_count(len(record.spans))
    n = len(record.spans)
    validate.check_record("record", record.tokens, record.heads, record.spans,
                          validate.Fields(tuple(f"spans.{k}" for k in range(n)),
                                          token="tokens", head="heads"),
                          tasks.get(self.config).graph_rules)
    batching.bucket_length(len(record.tokens), self.config.data.buckets)

  # --- Records -> probabilities --------------------------------------------------------------

  def _arrays(self, records: list[readers.Record]) -> arrays_lib.SplitArrays:
    # A gold label the model does not know (or none) must not stop prediction: index any.
    known = set(self.label_names)
    model_records = [r if r.label in known else dataclasses.replace(r, label=self.label_names[0])
                     for r in records]
    return arrays_lib.records_to_arrays(model_records, self.dataset.vocab,
                                        self.dataset.num_entities)

  def _word_vectors(self, records: list[readers.Record]) -> list[np.ndarray] | None:
    """PLM input: contextual word vectors of new records, from the run's encoder."""
    if self.config.model.word_input != "plm":
      return None
    from msfml_jax.plm import features  # pylint: disable=import-outside-toplevel
    if self._plm is None:
      self._plm = _load_plm(self.config)
    encoder_fn, tokenizer, max_length, _ = self._plm
    return features.word_vectors_for_records(
        encoder_fn, tokenizer, [r.tokens for r in records], [r.spans for r in records],
        max_length=max_length, marker_tokens=None if self.config.plm.markers else (),
        batch_size=self.config.plm.batch_size)

  def probabilities(self, records: list[readers.Record],
                    split: arrays_lib.SplitArrays | None = None) -> np.ndarray:
    """[N, C] label probabilities, records batched by length bucket (`split`: their arrays
    when already converted)."""
    split = self._arrays(records) if split is None else split
    probs = np.zeros((len(records), len(self.label_names)), np.float32)
    for batch in batching.eval_batches(split, self.config, self._word_vectors(records)):
      real = batch["index"] >= 0
      probs[batch["index"][real]] = np.asarray(self._probabilities(self.params, batch))[real]
    return probs

  # --- the whole path ------------------------------------------------------------------------

  def predict_numbered(self, items: Iterable[tuple[int, Any]], where: str = "item"
                       ) -> list[dict]:
    """Rows for (number, item) pairs, in order; `where` names the number in rows and errors.

    An item may be an exception (an unreadable line): it becomes an error row like any record
    that cannot be parsed or converted. Raw texts are parsed together, in one batch.
    """
    rows, good, texts = [], [], []
    start = time.perf_counter()
    for number, item in items:
      row = {where: number}
      if isinstance(item, dict) and "id" in item:
        row["id"] = str(item["id"])
      try:
        if isinstance(item, Exception):
          raise item
        source = f"{where} {number}"
        text_item = self._text_item(item, source)
        if text_item is None:
          record = self._preparsed(item, number, source)
          self._check(record)
          good.append((row, record))
        else:
          texts.append((row, text_item))
      except _RECORD_ERRORS as e:
        self._error(row, where, e)
      rows.append(row)
    if texts:
      good += self._parse_texts(texts, where)
    self.stats["parse_s"] += time.perf_counter() - start
    if good:
      start = time.perf_counter()
      self._fill(good, where)
      self.stats["model_s"] += time.perf_counter() - start
    return rows

  def _parse_texts(self, texts: list[tuple[dict, parse.TextItem]], where: str
                   ) -> list[tuple[dict, readers.Record]]:
    """Parses the batch; rows whose text cannot be parsed (or no parser) get errors."""
    try:
      parser = self._parser()
    except parse.ParseError as e:
      for row, _ in texts:
        self._error(row, where, e)
      return []
    good = []
    for (row, _), result in zip(texts, parser.parse_many([t for _, t in texts])):
      try:
        if isinstance(result, Exception):
          raise result
        self._check(result)
        good.append((row, result))
      except _RECORD_ERRORS as e:
        self._error(row, where, e)
    return good

  def _error(self, row: dict, where: str, error: Exception) -> None:
    row["error"] = f"{type(error).__name__}: {error}"
    logging.warning("%s %d: %s", where, row[where], row["error"])
    self.stats["errors"] += 1

  def _fill(self, good: list[tuple[dict, readers.Record]], where: str) -> None:
    """Adds the predictions to the rows. Chunks whose conversion to arrays fails are retried
    record by record, so only the records at fault get error rows; errors in the model are
    bugs, not bad input, and propagate."""
    records = [r for _, r in good]
    try:
      split = self._arrays(records)
    except _RECORD_ERRORS as e:
      if len(good) == 1:
        return self._error(good[0][0], where, e)
      for pair in good:
        self._fill([pair], where)
      return None
    probs = self.probabilities(records, split)
    for (row, record), p in zip(good, probs):
      row["id"] = record.id or row.get("id", "")
      row["prediction"] = self.label_names[int(p.argmax())]
      row["probabilities"] = {n: round(float(q), 6) for n, q in zip(self.label_names, p)}
      row["entities"] = [" ".join(record.tokens[s:e + 1]) for s, e in record.spans]
      if record.label:
        row["gold"] = record.label
    self.stats["records"] += len(good)
    return None

  def predict(self, items: Sequence[Any]) -> list[dict]:
    """One row per item (strings with markers or dicts), with its 0-based `index`."""
    rows = []
    for s in range(0, len(items), CHUNK):
      rows += self.predict_numbered(enumerate(items[s:s + CHUNK], s), "index")
    return rows

  def summary(self) -> str:
    """The closing line of the output contract: "N predicted, M failed, K blank"."""
    s = self.stats
    return f"{s['records']} predicted, {s['errors']} failed, {s['blank']} blank"

  def throughput(self) -> str:
    s = self.stats
    total = s["parse_s"] + s["model_s"]
    return (f"{s['records']} records predicted, {s['errors']} errors, in {total:.2f} s: "
            f"{s['records'] / max(total, 1e-9):.1f} sentences/s (reading/parsing "
            f"{s['parse_s']:.2f} s, model {s['model_s']:.2f} s incl. compilation)")


def warn_parser_mismatch(config: ml_collections.ConfigDict, parser: parse.TextParser) -> bool:
  """Logs a warning when `parser` is not the one the training data was parsed with (by the
  run's `data.parser` / `data.dep_scheme`; nothing when those are unknown). True if it warned."""
  trained, scheme = config.data.get("parser", ""), config.data.get("dep_scheme", "")
  if (trained and parser.description != trained) or (scheme and parser.scheme != scheme):
    logging.warning(
        "this model was trained on data parsed by %s (%s dependency labels), but raw text is "
        "parsed by %s (%s labels): the model sees another parse style%s", trained or "?",
        scheme or "?", parser.description, parser.scheme,
        "" if not scheme or parser.scheme == scheme else
        " and dependency labels it never saw (mapped to <unk>)")
    return True
  return False


def _looks_like_json(line: str) -> bool:
  return line.lstrip()[:1] in ("{", "[", '"')


def read_lines(lines: Iterable[str], stats: dict | None = None) -> Iterator[tuple[int, Any]]:
  """(1-based line number, item) for every non-blank line (blank ones are counted in
  `stats["blank"]`); a line that does not look like JSON is plain text with markers; for an
  unreadable one the item is the ParseError that predict_numbered reports."""
  for number, line in enumerate(lines, 1):
    if not line.strip():
      if stats is not None:
        stats["blank"] = stats.get("blank", 0) + 1
      continue
    if not _looks_like_json(line):
      yield number, line.strip()
      continue
    try:
      yield number, json.loads(line)
    except json.JSONDecodeError as e:
      yield number, parse.ParseError(f"not JSON ({e}); plain-text lines must not start with "
                                     "'{', '[' or '\"'")


def predict_file(extractor: Extractor, input_path: str, output) -> dict:
  """Streams `input_path` through the extractor CHUNK lines at a time into `output`;
  returns the extractor's counts (records, errors, blank)."""
  with open(input_path, encoding="utf-8") as f:
    items = read_lines(f, extractor.stats)
    while chunk := list(itertools.islice(items, CHUNK)):
      _write_rows(output, extractor.predict_numbered(chunk, "line"))
  return extractor.stats


def _write_rows(output, rows: list[dict]) -> None:
  for row in rows:
    output.write(json.dumps(row, ensure_ascii=False) + "\n")
  output.flush()


def define_flags() -> None:
  """Command-line flags (defined on demand, so importing this module defines none)."""
  flags.DEFINE_string("workdir", None, "Training workdir (checkpoints, config).")
  flags.DEFINE_string("input", None, "JSON lines to predict.")
  flags.DEFINE_string("output", "", "Where to write JSON lines ('' = stdout).")
  flags.DEFINE_enum("checkpoint", "best", list(checkpoints.CHECKPOINT_DIRS),
                    "best (falls back to latest) or latest.")
  flags.DEFINE_enum("parser", None, list(parse.PARSERS),
                    "Parser for raw text (default: the training data's, else stanza).")
  flags.DEFINE_string("spacy_model", None, "spaCy model (default: the training data's, else "
                      f"{parse.DEFAULT_SPACY_MODEL}).")
  flags.DEFINE_string("stanza_dir", None, "stanza model directory (raw-text input).")
  flags.DEFINE_bool("allow_errors", False, "Exit 0 even when some lines failed.")
  flags.DEFINE_bool("expand_spans", False, "Widen an entity that cuts into a token to the "
                    "whole token (as tools/prepare_data.py does); else such a line fails.")
  flags.DEFINE_integer("batch_size", 0, "Records per batch (0 = data.eval_batch_size).")
  flags.DEFINE_string("cache_dir", None, "Dataset cache directory (default: the run's).")


def main(argv: Sequence[str]) -> None:
  del argv
  f = flags.FLAGS
  extractor = Extractor.from_workdir(f.workdir, f.checkpoint, f.parser, stanza_dir=f.stanza_dir,
                                     spacy_model=f.spacy_model, cache_dir=f.cache_dir,
                                     batch_size=f.batch_size or None, expand=f.expand_spans)
  output = open(f.output, "w", encoding="utf-8") if f.output else contextlib.nullcontext(sys.stdout)
  with output as out:
    stats = predict_file(extractor, f.input, out)
  print(extractor.throughput(), file=sys.stderr)
  print(extractor.summary(), file=sys.stderr)
  if extractor.parser_missing is not None:  # every text line failed for it: one line, exit 2
    raise extractor.parser_missing
  if stats["errors"] and not f.allow_errors:
    sys.exit(1)


if __name__ == "__main__":
  define_flags()
  flags.mark_flags_as_required(["workdir", "input"])
  cli.run(main)
