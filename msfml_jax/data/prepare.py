"""Labelled text -> parsed records of the `custom` task (the library behind tools/prepare_data.py).

Input formats (`FORMATS`):
  * `jsonl`, `csv`, `tsv`: one example per line / row, read with the standard library so that
    every bad line is reported with its line number;
  * `parquet` (a local file) and `hf` (a Hub dataset name, `NAME` or `NAME:SPLIT`), read
    through `datasets`; rows are numbered from 1;
  * `semeval`: the SemEval-2010 Task 8 task-file layout (`TRAIN_FILE.TXT`: `<id>\\t"<sentence
    with <e1>..</e1> <e2>..</e2>>"`, the label line, a `Comment:` line, a blank line).
A row carries its text in `text_field`, with inline markers `<e1>..</e1>`, `<e2>..</e2>`
(`<e3>..</e3>`) or, when `spans_field` holds them, half-open character offsets
`[[start, end], ...]`; its label in `label_field`; optionally an id (`id_field`) and entity
types (`types_field`). Texts are parsed in batches with the parser's batch API; a bad row
(unreadable, bad markers, no label, misaligned entity, wrong entity count) is reported with
its line number and reason and counted, never dropped silently. The output is what
`msfml_jax.tasks.custom` reads (docs/data_format.md).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import pathlib
import re
import sys
import time
from typing import Any, Callable, Iterable, Iterator, Sequence

from tqdm import tqdm

from msfml_jax import parse
from msfml_jax.data.json_fields import DataError
from msfml_jax.tasks import custom

FORMATS = ("jsonl", "csv", "tsv", "parquet", "hf", "semeval")
SPLITS = ("train", "dev", "test")
_SEMEVAL_LINE = re.compile(r'^(\d+)\t"(.*)"\s*$')
_DIRECTION = re.compile(r"\(e[123],e[123]\)$")


@dataclasses.dataclass
class Columns:
  """Where a row keeps its fields."""
  text: str = "text"
  label: str = "label"
  spans: str = "spans"
  id: str = "id"
  types: str = "entity_types"


@dataclasses.dataclass
class Row:
  """One input example before parsing: its line (or row) number, and its fields or the
  reason it cannot be read."""
  line: int
  fields: dict[str, Any] | None = None
  error: str = ""


@dataclasses.dataclass
class SplitReport:
  """What preparing one split did (printed, and kept in DIR/prepare_report.json)."""
  source: str
  records: int = 0
  bad: list[tuple[int, str]] = dataclasses.field(default_factory=list)
  seconds: float = 0.0
  expanded: int = 0

  @property
  def records_per_s(self) -> float:
    return self.records / max(self.seconds, 1e-9)

  def summary(self, name: str) -> str:
    return (f"{name}: {self.records} records, {len(self.bad)} bad lines, "
            f"{self.expanded} entity spans widened to token boundaries, in {self.seconds:.1f} s "
            f"= {self.records_per_s:.1f} records/s ({self.source})")


# ---------------------------------------------------------------------------------------------
# Reading rows.

def _open_text(path: pathlib.Path):
  try:
    return open(path, encoding="utf-8", newline="")
  except FileNotFoundError:
    raise DataError(f"{path}: file not found") from None
  except IsADirectoryError:
    raise DataError(f"{path}: is a directory, expected a file") from None


def read_jsonl(path: pathlib.Path) -> Iterator[Row]:
  """One JSON object per line; blank lines are skipped."""
  with _open_text(path) as f:
    for number, line in enumerate(f, 1):
      if not line.strip():
        continue
      try:
        obj = json.loads(line)
      except json.JSONDecodeError as e:
        yield Row(number, error=f"not JSON ({e})")
        continue
      if not isinstance(obj, dict):
        yield Row(number, error=f"a JSON {type(obj).__name__}, expected an object")
      else:
        yield Row(number, obj)


def read_delimited(path: pathlib.Path, delimiter: str) -> Iterator[Row]:
  """CSV / TSV with a header row; quoted fields may span lines (the row's first line is
  reported)."""
  with _open_text(path) as f:
    reader = csv.DictReader(f, delimiter=delimiter)
    try:
      header = reader.fieldnames
    except (csv.Error, UnicodeDecodeError) as e:
      raise DataError(f"{path}: unreadable header ({e})") from None
    if not header:
      raise DataError(f"{path}: empty file (no header row)")
    start = reader.line_num + 1
    while True:
      try:
        row = next(reader)
      except StopIteration:
        return
      except (csv.Error, UnicodeDecodeError) as e:
        yield Row(start, error=f"unreadable row ({e})")
        start = reader.line_num + 1
        continue
      if None in row:
        yield Row(start, error=f"{len(header) + len(row[None])} fields, the header has "
                  f"{len(header)}")
      elif any(v is None for v in row.values()):
        yield Row(start, error=f"{sum(v is not None for v in row.values())} fields, the "
                  f"header has {len(header)}")
      elif any(v.strip() for v in row.values()):
        yield Row(start, dict(row))
      start = reader.line_num + 1


def read_datasets(name: str, fmt: str, split: str) -> Iterator[Row]:
  """A parquet file or a Hub dataset (`NAME` or `NAME:SPLIT`) through `datasets`."""
  import datasets  # pylint: disable=import-outside-toplevel (slow to import)
  try:
    if fmt == "parquet":
      if not pathlib.Path(name).is_file():
        raise DataError(f"{name}: file not found")
      data = datasets.load_dataset("parquet", data_files=name, split="train")
    else:
      dataset_name, _, dataset_split = name.partition(":")
      data = datasets.load_dataset(dataset_name, split=dataset_split or split)
  except DataError:
    raise
  except Exception as e:  # datasets raises many types (network, format, missing split)
    raise DataError(f"{name}: cannot load with datasets ({type(e).__name__}: {e})") from None
  for number, row in enumerate(data, 1):
    yield Row(number, dict(row))


def read_semeval_task_file(path: pathlib.Path) -> Iterator[Row]:
  """SemEval-2010 Task 8 task file: id + quoted sentence, label, comment, blank line.

  Each example's row is numbered by its sentence line; `text` holds the marked sentence,
  `label` the label line, `id` the sentence number.
  """
  with _open_text(path) as f:
    lines = [line.rstrip("\r\n") for line in f]
  i = 0
  while i < len(lines):
    if not lines[i].strip():
      i += 1
      continue
    number, m = i + 1, _SEMEVAL_LINE.match(lines[i])
    if not m:
      yield Row(number, error=f"expected '<id><TAB>\"<sentence>\"', got {lines[i][:80]!r}")
      i += 1
      while i < len(lines) and lines[i].strip() and not _SEMEVAL_LINE.match(lines[i]):
        i += 1  # the rest of the broken example
      continue
    label = lines[i + 1].strip() if i + 1 < len(lines) else ""
    if not label or _SEMEVAL_LINE.match(label) or label.startswith("Comment"):
      yield Row(number, error="no label line after the sentence")
      i += 1
      continue
    yield Row(number, {"id": m.group(1), "text": m.group(2), "label": label})
    i += 2
    if i < len(lines) and lines[i].startswith("Comment"):
      i += 1


def read_rows(source: str, fmt: str, split: str) -> Iterator[Row]:
  """The rows of one input file (or Hub dataset) in format `fmt`."""
  if fmt not in FORMATS:
    raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
  if fmt in ("parquet", "hf"):
    return read_datasets(source, fmt, "validation" if split == "dev" else split)
  path = pathlib.Path(source).expanduser()
  if fmt == "jsonl":
    return read_jsonl(path)
  if fmt == "semeval":
    return read_semeval_task_file(path)
  return read_delimited(path, "," if fmt == "csv" else "\t")


# ---------------------------------------------------------------------------------------------
# Rows -> items to parse.

def _list_field(value: Any, name: str) -> list | None:
  """A list, a JSON string holding one (CSV), or None when empty."""
  if value is None or (isinstance(value, str) and not value.strip()):
    return None
  if isinstance(value, str):
    try:
      value = json.loads(value)
    except json.JSONDecodeError as e:
      raise parse.ParseError(f"field '{name}': not a JSON list ({e})") from None
  if not isinstance(value, (list, tuple)):
    raise parse.ParseError(f"field '{name}': expected a list, got {type(value).__name__}")
  return list(value)


def strip_direction(label: str) -> str:
  """`Cause-Effect(e2,e1)` -> `Cause-Effect` (SemEval's undirected classes)."""
  return _DIRECTION.sub("", label)


def _label(value: Any, cols: Columns, undirected: bool) -> str:
  if value is None or (isinstance(value, float) and value != value):
    raise parse.ParseError(f"field '{cols.label}': missing label")
  label = str(value).strip()
  if not label:
    raise parse.ParseError(f"field '{cols.label}': empty label")
  return strip_direction(label) if undirected else label


def to_item(row: Row, cols: Columns, source: str, expand: bool,
            undirected_labels: bool = False) -> parse.TextItem:
  """A readable row -> TextItem (ParseError naming the field otherwise)."""
  fields = row.fields
  if cols.text not in fields:
    raise parse.ParseError(f"field '{cols.text}': missing (columns: {sorted(fields)})")
  text = fields[cols.text]
  if not isinstance(text, str) or not text.strip():
    raise parse.ParseError(f"field '{cols.text}': empty or not a string")
  if cols.label not in fields:
    raise parse.ParseError(f"field '{cols.label}': missing (columns: {sorted(fields)})")
  label = _label(fields[cols.label], cols, undirected_labels)
  spans = _list_field(fields.get(cols.spans), cols.spans)
  meta = {"id": str(fields.get(cols.id) or row.line), "label": label,
          "source": f"{source}:{row.line}", "expand": expand}
  types = _list_field(fields.get(cols.types), cols.types)
  if types is not None:
    meta["entity_types"] = [str(t) for t in types]
  if spans is None:
    return parse.item_from_marked(text, **meta)
  try:
    char_spans = [(int(s), int(e)) for s, e in spans]
  except (TypeError, ValueError):
    raise parse.ParseError(f"field '{cols.spans}': expected [[start, end], ...], got "
                           f"{spans!r}") from None
  for slot, (s, e) in enumerate(char_spans, 1):
    if not 0 <= s < e <= len(text):
      raise parse.ParseError(f"field '{cols.spans}': entity {slot} chars [{s}, {e}) not "
                             f"within the {len(text)} characters of the text")
  return parse.TextItem(text, char_spans, **meta)


def to_json(record) -> dict[str, Any]:
  """A Record in the custom task's schema."""
  out = {"id": record.id, "tokens": record.tokens, "pos": record.pos, "heads": record.heads,
         "deprels": record.deprels, "spans": [list(s) for s in record.spans]}
  if record.entity_types is not None:
    out["entity_types"] = record.entity_types
  out["label"] = record.label
  return out


# ---------------------------------------------------------------------------------------------
# One split.

def _batches(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
  batch = []
  for row in rows:
    batch.append(row)
    if len(batch) == size:
      yield batch
      batch = []
  if batch:
    yield batch


def prepare_split(rows: Iterable[Row], parser: parse.TextParser, out_path: pathlib.Path,
                  source: str, cols: Columns, *, num_entities: int | None = None,
                  expand: bool = True, batch_size: int = 64, undirected_labels: bool = False,
                  progress: bool = True, report_bad: Callable[[str], None] | None = None,
                  ) -> tuple[SplitReport, int | None]:
  """Parses every row into `out_path` (JSON lines); returns the report and the entity count.

  num_entities: required count (None = that of the first good record). Bad rows are passed
  to `report_bad` as `source:line: reason` (default: stderr) and counted.
  """
  report_bad = report_bad or (lambda message: print(message, file=sys.stderr))
  report = SplitReport(source)
  start = time.perf_counter()
  bar = tqdm(desc=out_path.stem, unit=" records", disable=not progress, dynamic_ncols=True)

  def bad(line: int, reason: str) -> None:
    report.bad.append((line, reason))
    report_bad(f"{source}:{line}: {reason}")

  out_path.parent.mkdir(parents=True, exist_ok=True)
  with open(out_path, "w", encoding="utf-8") as out:
    for batch in _batches(rows, batch_size):
      items = []
      for row in batch:
        if row.error:
          bad(row.line, row.error)
          continue
        try:
          items.append((row, to_item(row, cols, source, expand, undirected_labels)))
        except parse.ParseError as e:
          bad(row.line, str(e))
      widened = parser.widened
      results = parser.parse_many([item for _, item in items])
      report.expanded += parser.widened - widened
      for (row, _), result in zip(items, results):
        if isinstance(result, Exception):
          bad(row.line, str(result))
          continue
        if num_entities is None:
          num_entities = len(result.spans)
        if len(result.spans) != num_entities:
          bad(row.line, f"{len(result.spans)} entities, the other records have {num_entities}")
          continue
        obj = to_json(result)
        try:  # what the custom task's reader will check, so a written file always reads
          custom.record_from_json(obj, f"{source}:{row.line}", 0, num_entities, None)
        except DataError as e:
          bad(row.line, f"parsed record invalid: {e}")
          continue
        out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        report.records += 1
      bar.update(len(batch))
      report.seconds = time.perf_counter() - start
      bar.set_postfix(records_per_s=f"{report.records_per_s:.1f}", bad=len(report.bad))
  bar.close()
  report.seconds = time.perf_counter() - start
  if report.records == 0:
    raise DataError(f"{source}: no valid record ({len(report.bad)} bad lines"
                    + (f", first: line {report.bad[0][0]}: {report.bad[0][1]}"
                       if report.bad else ", the file is empty") + ")")
  return report, num_entities


# ---------------------------------------------------------------------------------------------
# Labels and the generated config.

def collect_labels(paths: Sequence[pathlib.Path], negative: str) -> list[str]:
  """The labels of the written splits, sorted, the negative one first."""
  found = set()
  for path in paths:
    with open(path, encoding="utf-8") as f:
      found.update(json.loads(line)["label"] for line in f if line.strip())
  if negative and negative not in found:
    raise DataError(f"--negative_label={negative!r} does not occur in the data; its labels "
                    f"are {sorted(found)}")
  return ([negative] if negative else []) + sorted(found - {negative})


TEMPLATE = pathlib.Path(__file__).resolve().parents[2] / "configs" / "custom.py"

_CONFIG = '''"""Generated by tools/prepare_data.py: the custom task on the records in this directory.

  {command}
Train: python -m msfml_jax.main --config={config_path} --workdir=WORKDIR
Built on {template}; edit freely (settings: msfml_jax/config_base.py).
"""

import importlib.util
import pathlib

_HERE = pathlib.Path(__file__).resolve().parent
_TEMPLATE = pathlib.Path({template!r})


def get_config():
  spec = importlib.util.spec_from_file_location("_msfml_custom_template", _TEMPLATE)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  c = module.get_config()
{settings}
  return c
'''


def write_config(directory: pathlib.Path, settings: dict[str, Any], command: str) -> pathlib.Path:
  """DIR/config.py: configs/custom.py with `settings` (dotted config fields -> values; str
  values starting with `_HERE /` are written as paths relative to the directory)."""
  if not TEMPLATE.is_file():
    raise DataError(f"{TEMPLATE}: the config template is missing (a source checkout has it)")
  lines = []
  for key, value in settings.items():
    if isinstance(value, str) and value.startswith("_HERE /"):
      lines.append(f"  c.{key} = str({value})")
    else:
      lines.append(f"  c.{key} = {value!r}")
  path = directory / "config.py"
  path.write_text(_CONFIG.format(command=command, config_path=path, template=str(TEMPLATE),
                                 settings="\n".join(lines)), encoding="utf-8")
  return path
