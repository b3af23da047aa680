"""Builds (or reuses) the preprocessed-array cache of a config and reports what it did.

  python tools/preprocess.py --config=configs/semeval.py
  python tools/preprocess.py --config=configs/pubmed.py:binary,multi --config.data.fold=2

Prints the record count per split, the records/s of the whole run (reading, vocabulary,
GloVe, arrays) and whether the cache was hit. A bad record, config value or split is one line
on stderr and exit status 2 (--verbosity=1 adds the traceback).
"""

from __future__ import annotations

import pathlib
import sys

from absl import flags
from ml_collections import config_flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from msfml_jax import cli, config_base  # pylint: disable=g-import-not-at-top
from msfml_jax.data import cache  # pylint: disable=g-import-not-at-top

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file (configs/*.py).")
_PROGRESS = flags.DEFINE_bool("progress", True, "Show a tqdm progress bar while building.")


def main(argv: list[str]) -> None:
  del argv
  config = _CONFIG.value
  config_base.check(config)
  dataset, report = cache.load_dataset_with_report(config, progress=_PROGRESS.value)
  total = sum(report.records.values())
  for name, count in report.records.items():
    print(f"{name}: {count} records")
  print(f"labels: {len(dataset.label_names)}, words: {len(dataset.vocab.word)}, "
        f"entities: {dataset.num_entities}")
  timings = report.meta.get("build_timings", {})
  if not report.hit and "arrays_train_s" in timings:
    print(f"train arrays: {report.records['train'] / timings['arrays_train_s']:.0f} records/s")
  print(f"{total} records in {report.seconds:.2f}s = {total / report.seconds:.0f} records/s "
        f"(cache {'hit' if report.hit else 'miss'}: {report.directory})")


if __name__ == "__main__":
  flags.mark_flag_as_required("config")
  cli.run(main)
