"""The background prefetcher keeps order, re-raises errors where they happened, stops early."""

import pytest

from msfml_jax.data import prefetch


def test_order_and_exhaustion():
  with prefetch.Prefetcher(range(10), size=2) as items:
    assert list(items) == list(range(10))
    assert list(items) == []


def test_error_is_raised_at_its_item():
  def source():
    yield 1
    yield 2
    raise ValueError("record 3 is bad")

  items = prefetch.Prefetcher(source(), size=2)
  assert next(items) == 1 and next(items) == 2
  with pytest.raises(ValueError, match="record 3"):
    next(items)


def test_close_stops_an_endless_source():
  def endless():
    i = 0
    while True:
      yield i
      i += 1

  items = prefetch.Prefetcher(endless(), size=2)
  assert next(items) == 0
  items.close()
  assert not items._thread.is_alive()  # pylint: disable=protected-access
  with pytest.raises(ValueError, match=">= 1"):
    prefetch.Prefetcher([], size=0)
