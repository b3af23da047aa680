"""Background prefetching: an iterator run `size` items ahead in a daemon thread.

The training loop builds each batch and `device_put`s it (with the batch sharding) here, so
host batching and transfers overlap the device's work on the previous steps. The thread
holds no state of its own: the items and their order are those of the wrapped iterator, so a
run is bit-identical with or without prefetching.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Iterable, Iterator

_DONE = object()


class Prefetcher(Iterator[Any]):
  """Iterates over `iterable` in a background thread, at most `size` items ahead.

  An exception raised by the iterable is re-raised in the consumer at the item where it
  happened. `close()` (or leaving a `with` block) stops the thread.
  """

  def __init__(self, iterable: Iterable[Any], size: int = 2):
    if size < 1:
      raise ValueError(f"prefetch size must be >= 1, got {size}")
    self._queue: queue.Queue = queue.Queue(maxsize=size)
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._run, args=(iter(iterable),), daemon=True,
                                    name="msfml-prefetch")
    self._thread.start()

  def _put(self, item: Any) -> bool:
    while not self._stop.is_set():
      try:
        self._queue.put(item, timeout=0.1)
        return True
      except queue.Full:
        continue
    return False

  def _run(self, iterator: Iterator[Any]) -> None:
    try:
      for item in iterator:
        if not self._put((item, None)):
          return
    except BaseException as e:  # pylint: disable=broad-except (re-raised in the consumer)
      self._put((None, e))
      return
    self._put((_DONE, None))

  def __next__(self) -> Any:
    item, error = self._queue.get()
    if error is not None:
      self.close()
      raise error
    if item is _DONE:
      self._queue.put((_DONE, None))  # stays exhausted
      raise StopIteration
    return item

  def close(self) -> None:
    """Stops the thread (items not yet consumed are dropped)."""
    self._stop.set()
    while True:
      try:
        self._queue.get_nowait()
      except queue.Empty:
        break
    self._thread.join(timeout=10)

  def __enter__(self) -> "Prefetcher":
    return self

  def __exit__(self, *exc) -> None:
    self.close()
