"""What every command (`main`, `predict`, `tools/*.py`) does with an error the user can fix.

Such errors derive from `UserError`: bad data (`DataError`), bad config values
(`ConfigError`), incompatible or missing checkpoints, a locked or unwritable workdir, missing
parser models, a diverged run. `run(main)` reports them as one line on stderr and exits with
the error's `exit_code`; `--verbosity=1` prints the traceback first. Anything else is a bug
and keeps Python's traceback.

Exit codes:
  0  success (also a run stopped by SIGTERM after its checkpoint)
  1  an unexpected error (a bug: traceback); predict: some input lines failed
  2  refused: bad data, config, checkpoint, workdir or missing models (one line on stderr)
  3  training diverged (NaN/Inf loss); the last good checkpoint is kept
"""

from __future__ import annotations

import functools
import logging as std_logging
import sys
import traceback
from typing import Any, Callable, Sequence

from absl import app, logging

EXIT_REFUSED = 2
EXIT_DIVERGED = 3


class UserError(Exception):
  """An error whose message alone tells the user what to fix."""
  exit_code = EXIT_REFUSED


def one_line(error: BaseException) -> str:
  """The error's message on one line."""
  return " ".join(str(error).split()) or type(error).__name__


class _QuietOrbax(std_logging.Filter):
  """Orbax logs every save and restore at INFO; keep its warnings and errors only."""

  def filter(self, record: std_logging.LogRecord) -> bool:
    return record.levelno >= std_logging.WARNING or "orbax" not in record.pathname


def quiet_orbax() -> None:
  """Drops Orbax's INFO lines from absl's log output (every command calls it via `run`)."""
  handler = logging.get_absl_handler()
  if not any(isinstance(f, _QuietOrbax) for f in handler.filters):
    handler.addFilter(_QuietOrbax())


def guarded(main: Callable[[Sequence[str]], Any]) -> Callable[[Sequence[str]], Any]:
  """`main` with UserErrors turned into one stderr line and their exit code."""
  @functools.wraps(main)
  def wrapped(argv: Sequence[str]) -> Any:
    quiet_orbax()
    try:
      return main(argv)
    except UserError as e:
      if logging.get_verbosity() >= logging.DEBUG:
        traceback.print_exc()
      name = type(e).__name__
      sys.stderr.write(f"error: {name}: {one_line(e)}\n")
      sys.stderr.flush()
      sys.exit(e.exit_code)
  return wrapped


def run(main: Callable[[Sequence[str]], Any], **kwargs) -> None:
  """absl's `app.run` for a guarded `main`."""
  app.run(guarded(main), **kwargs)
