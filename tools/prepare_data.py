"""Labelled text -> parsed training records, labels and a config for the `custom` task.

  python tools/prepare_data.py --train=train.csv --test=test.csv [--dev=dev.csv] \
      --format=jsonl|csv|tsv|parquet|hf|semeval --parser=stanza|spacy --output=DIR \
      [--negative_label=LABEL] [--text_field=text] [--label_field=label]
  python -m msfml_jax.main --config=DIR/config.py --workdir=W

Writes DIR/train.jsonl, DIR/test.jsonl (DIR/dev.jsonl), DIR/labels.txt, DIR/config.py (built
on configs/custom.py) and DIR/prepare_report.json. Each bad line is printed with its line
number and reason and counted; the exit status is 1 when there was one (the good records are
still written), 0 with --allow_bad_lines. A refusal (a missing or empty input file, missing
parser models, an unwritable --output) is one line on stderr and exit status 2. Formats,
columns and the record schema: docs/data_format.md.
"""

from __future__ import annotations

import json
import pathlib
import shlex
import sys

from absl import flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
# pylint: disable=g-import-not-at-top,wrong-import-position
from msfml_jax import cli, parse
from msfml_jax import workdir as workdir_lib
from msfml_jax.data import prepare

_TRAIN = flags.DEFINE_string("train", None, "Training examples (file, or Hub name for hf).")
_TEST = flags.DEFINE_string("test", None, "Test examples.")
_DEV = flags.DEFINE_string("dev", "", "Dev examples (optional; see also --dev_holdout).")
_FORMAT = flags.DEFINE_enum("format", None, list(prepare.FORMATS), "Input format.")
_PARSER = flags.DEFINE_enum("parser", "stanza", list(parse.PARSERS), "Parser backend.")
_OUTPUT = flags.DEFINE_string("output", None, "Output directory.")
_NEGATIVE = flags.DEFINE_string("negative_label", "",
                                "The 'no relation' label ('' = every label is scored).")
_TEXT = flags.DEFINE_string("text_field", "text", "Column with the (marked) text.")
_LABEL = flags.DEFINE_string("label_field", "label", "Column with the label.")
_SPANS = flags.DEFINE_string("spans_field", "spans",
                             "Column with character offsets [[start, end], ...] (half-open); "
                             "rows without it use inline <e1>..</e1> markers.")
_ID = flags.DEFINE_string("id_field", "id", "Column with an id (default: the line number).")
_TYPES = flags.DEFINE_string("types_field", "entity_types", "Column with entity types.")
_SPACY_MODEL = flags.DEFINE_string("spacy_model", parse.DEFAULT_SPACY_MODEL,
                                   "spaCy model (package or path).")
_STANZA_DIR = flags.DEFINE_string("stanza_dir", None, "stanza model directory.")
_BATCH = flags.DEFINE_integer("batch_size", 64, "Texts per parser batch.")
_EXPAND = flags.DEFINE_bool("expand_spans", True,
                            "Widen an entity that cuts into a token to the whole token (counted); "
                            "false: such a line is bad.")
_ONE_SENTENCE = flags.DEFINE_bool("one_sentence", None,
                                  "spaCy: keep each text one sentence (default: true for "
                                  "--format=semeval, else false).")
_DIRECTED = flags.DEFINE_bool("directed", False,
                              "semeval: keep the direction in labels (19 labels) instead of the "
                              "paper's 10 undirected ones.")
_DEV_HOLDOUT = flags.DEFINE_integer("dev_holdout", 0,
                                    "Without --dev: train records held out as dev by the config.")
_ALLOW_BAD = flags.DEFINE_bool("allow_bad_lines", False, "Exit 0 even when lines were bad.")
_PROGRESS = flags.DEFINE_bool("progress", True, "Show a progress bar.")


def _settings(files: dict[str, pathlib.Path], parser: parse.TextParser, num_entities: int,
              ) -> dict:
  settings = {"data.train_file": "_HERE / 'train.jsonl'", "data.test_file": "_HERE / 'test.jsonl'"}
  if "dev" in files:
    settings["data.dev_file"] = "_HERE / 'dev.jsonl'"
  settings.update({"data.label_file": "_HERE / 'labels.txt'",
                   "data.negative_label": _NEGATIVE.value, "data.num_entities": num_entities,
                   "data.parser": parser.description, "data.dep_scheme": parser.scheme,
                   "data.dev_holdout": 0 if "dev" in files else _DEV_HOLDOUT.value})
  if _FORMAT.value == "semeval":
    settings["select_metric"] = "macro_f1"  # SemEval's official score
  return settings


def main(argv: list[str]) -> None:
  del argv
  output = pathlib.Path(_OUTPUT.value).expanduser().resolve()
  sources = {"train": _TRAIN.value, "dev": _DEV.value, "test": _TEST.value}
  sources = {k: v for k, v in sources.items() if v}
  fmt = _FORMAT.value
  one_sentence = _ONE_SENTENCE.value if _ONE_SENTENCE.value is not None else fmt == "semeval"
  parser = parse.make_parser(_PARSER.value, spacy_model=_SPACY_MODEL.value,
                             stanza_dir=_STANZA_DIR.value, one_sentence=one_sentence,
                             batch_size=_BATCH.value)
  cols = prepare.Columns(_TEXT.value, _LABEL.value, _SPANS.value, _ID.value, _TYPES.value)
  workdir_lib.make_writable_dir(output, "output directory")
  files, reports, num_entities = {}, {}, None
  for split, source in sources.items():
    files[split] = output / f"{split}.jsonl"
    reports[split], num_entities = prepare.prepare_split(
        prepare.read_rows(source, fmt, split), parser, files[split], source, cols,
        num_entities=num_entities, expand=_EXPAND.value, batch_size=_BATCH.value,
        undirected_labels=fmt == "semeval" and not _DIRECTED.value, progress=_PROGRESS.value)
    print(reports[split].summary(split), flush=True)
  labels = prepare.collect_labels(list(files.values()), _NEGATIVE.value)
  (output / "labels.txt").write_text("\n".join(labels) + "\n", encoding="utf-8")
  command = " ".join(["python tools/prepare_data.py"] + [shlex.quote(a) for a in sys.argv[1:]])
  config_path = prepare.write_config(output, _settings(files, parser, num_entities), command)
  bad = sum(len(r.bad) for r in reports.values())
  (output / "prepare_report.json").write_text(json.dumps({
      "command": command, "format": fmt, "parser": parser.description, "dep_scheme": parser.scheme,
      "labels": labels, "num_entities": num_entities,
      "splits": {k: {"source": r.source, "records": r.records, "bad_lines": len(r.bad),
                     "widened_spans": r.expanded, "seconds": round(r.seconds, 3),
                     "records_per_s": round(r.records_per_s, 1),
                     "bad": [{"line": n, "reason": why} for n, why in r.bad]}
                 for k, r in reports.items()}}, indent=1, ensure_ascii=False), encoding="utf-8")
  print(f"{len(labels)} labels -> {output / 'labels.txt'}; {bad} bad lines in all")
  print(f"train: python -m msfml_jax.main --config={config_path} --workdir=WORKDIR")
  if bad and not _ALLOW_BAD.value:
    print(f"{bad} bad lines (listed above and in {output / 'prepare_report.json'}); exit 1 "
          "(--allow_bad_lines: 0)", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
  flags.mark_flags_as_required(["train", "test", "format", "output"])
  cli.run(main)
