"""Scores uniform means of a run's epoch-end parameters, after the fact (tail averaging).

  python tools/average_checkpoints.py --workdir=runs/semeval_paper/RUN --epochs=76-150,111-150

Each window A-B averages the parameters saved at the end of epochs A..B (step epoch x
steps_per_epoch) with equal weights and prints one JSON line with the split's scores. It
answers, for a finished run, what `optim.average_start_epoch` would have given (that switch
averages every step rather than every epoch's last) without training again, because the
average never feeds back into training. The epoch-end checkpoints must exist: Orbax keeps the
latest `keep_checkpoints` only, so train with `--config.keep_checkpoints` above num_epochs,
or copy them aside as they are written and pass that folder as `--checkpoints`. `--key`
picks the trained parameters (`params`) or, for runs with `optim.ema_decay`, their moving
average (`ema_params`). The config, dataset cache and vocabularies are the run's own.
"""

from __future__ import annotations

import json
import pathlib
import sys
import tempfile
from typing import Any, Sequence

import jax
import numpy as np
from absl import flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
# pylint: disable=g-import-not-at-top,wrong-import-position
from msfml_jax import checkpoints, cli, reporting, train

_WORKDIR = flags.DEFINE_string("workdir", None, "The run's training workdir.")
_CHECKPOINTS = flags.DEFINE_string(
    "checkpoints", None, "Folder of step-numbered checkpoints (default: WORKDIR/checkpoints).")
_EPOCHS = flags.DEFINE_list("epochs", None, "Windows of 1-based epochs, A-B (inclusive).")
_KEY = flags.DEFINE_enum("key", "params", ["params", "ema_params"], "Which parameters to average.")
_SPLIT = flags.DEFINE_string("split", "test", "The split to score.")


class MissingCheckpointsError(cli.UserError, FileNotFoundError):
  """A window asks for epoch-end checkpoints the folder does not hold."""


def parse_window(text: str) -> tuple[int, int]:
  """"76-150" -> (76, 150); a single epoch "N" -> (N, N)."""
  first, _, last = text.partition("-")
  try:
    window = int(first), int(last or first)
  except ValueError:
    raise cli.UserError(f"--epochs: {text!r} is not A-B (1-based epochs)") from None
  if not 1 <= window[0] <= window[1]:
    raise cli.UserError(f"--epochs: {text!r} needs 1 <= A <= B")
  return window


def average_params(directory: pathlib.Path, steps: Sequence[int], abstract: Any,
                   key: str = "params") -> Any:
  """The equal-weight mean of `key` over the checkpoints of `steps`, as float64 running sums
  (one checkpoint in memory at a time), cast back to the parameters' dtypes. `abstract`:
  any tree of the parameters' shapes and dtypes (arrays will do)."""
  total = None
  for step in steps:
    params = jax.tree.map(lambda a: np.asarray(a, np.float64),
                          checkpoints.restore_params(directory, step, abstract, key))
    total = params if total is None else jax.tree.map(np.add, total, params)
  return jax.tree.map(lambda t, a: (t / len(steps)).astype(a.dtype), total, abstract)


def score_windows(workdir: str | pathlib.Path, windows: Sequence[tuple[int, int]],
                  key: str = "params", split: str = "test",
                  directory: str | pathlib.Path | None = None) -> list[dict[str, Any]]:
  """One dict per window: its epochs, how many checkpoints it averaged, and the headline
  scores of `split` (4 decimals) with the mean parameters."""
  _, _, config = checkpoints.find_checkpoint(workdir, "latest")
  directory = pathlib.Path(directory or pathlib.Path(workdir) / "checkpoints")
  with tempfile.TemporaryDirectory() as scratch:  # setup writes its inputs and logs here
    run = train.setup(config, scratch)
    try:
      if split not in run.splits:
        raise cli.UserError(f"--split={split!r}: the run has {', '.join(run.splits)}")
      state = train.initial_state(run)  # its params give restore_params the shapes
      out = []
      for first, last in windows:
        epochs = range(first, last + 1)
        missing = [e for e in epochs if not (directory / str(e * run.steps_per_epoch)).is_dir()]
        if missing:
          raise MissingCheckpointsError(
              f"{directory} lacks the end-of-epoch checkpoints of epochs {missing[:10]}"
              f"{' ...' if len(missing) > 10 else ''} (steps epoch x {run.steps_per_epoch}; "
              "train with --config.keep_checkpoints above num_epochs to keep them)")
        mean = average_params(directory, [e * run.steps_per_epoch for e in epochs],
                              state.params, key)
        metrics, _ = train.evaluate_split(run, state.replace(params=mean), split)
        headline = {k: round(v, 4) for k, v in
                    reporting.overall_metrics(reporting.scalar_metrics(metrics)).items()}
        out.append({"epochs": f"{first}-{last}", "checkpoints": len(epochs), "key": key,
                    "split": split, **headline})
      return out
    finally:
      run.checkpointer.close()
      run.log.close()


def main(argv: Sequence[str]) -> None:
  del argv
  if not _WORKDIR.value or not _EPOCHS.value:
    raise cli.UserError("--workdir and --epochs are required")
  windows = [parse_window(w) for w in _EPOCHS.value]
  for row in score_windows(_WORKDIR.value, windows, _KEY.value, _SPLIT.value,
                           _CHECKPOINTS.value):
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
  cli.run(main)
