"""Checked access to the fields of TACRED-style JSON records.

Every check raises `DataError` with a message that names the file, the record index (both in
`where`, e.g. "data/train.json: record 12") and the field.
"""

from __future__ import annotations

import json
import pathlib

from msfml_jax import cli


class DataError(cli.UserError, ValueError):
  """A malformed input file or record."""


def fail(where: str, field: str, problem: str) -> DataError:
  """The error for `problem` in `field` of the record at `where`."""
  return DataError(f"{where}: field '{field}': {problem}")


def read_json_array(path: pathlib.Path) -> list:
  """Reads a JSON file whose top level must be an array of objects."""
  try:
    with open(path, "rb") as f:
      data = json.loads(f.read())
  except FileNotFoundError:
    raise DataError(f"{path}: file not found") from None
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise DataError(f"{path}: invalid or truncated JSON ({e})") from None
  if not isinstance(data, list):
    raise DataError(f"{path}: top level is {type(data).__name__}, expected a JSON array")
  return data


def get(raw, where: str, field: str):
  """raw[field]; the record must be an object holding the field."""
  if not isinstance(raw, dict):
    raise DataError(f"{where}: record is {type(raw).__name__}, expected an object")
  if field not in raw:
    raise fail(where, field, "missing field")
  return raw[field]


def integer(value, where: str, field: str) -> int:
  """An int, or a string holding one (AGGCN's CoreNLP heads are strings)."""
  if isinstance(value, bool):
    raise fail(where, field, f"expected an integer, got {value!r}")
  if isinstance(value, int):
    return value
  if isinstance(value, str):
    try:
      return int(value)
    except ValueError:
      pass
  raise fail(where, field, f"expected an integer, got {value!r}")


def str_list(raw, where: str, field: str) -> list[str]:
  """raw[field], which must be a list of strings."""
  values = get(raw, where, field)
  if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
    raise fail(where, field, "expected a list of strings")
  return values


def head_list(raw, where: str, n: int, allow_no_head: bool) -> list[int]:
  """1-based heads, 0 = root, -1 = no head (PubMed only); at least one root."""
  values = get(raw, where, "stanford_head")
  if not isinstance(values, list):
    raise fail(where, "stanford_head", "expected a list")
  heads = [integer(h, where, "stanford_head") for h in values]
  if len(heads) != n:
    raise fail(where, "stanford_head", f"length {len(heads)} != {n} tokens")
  low = -1 if allow_no_head else 0
  for i, h in enumerate(heads):
    if not low <= h <= n:
      raise fail(where, "stanford_head", f"head {h} of token {i} out of range [{low}, {n}]")
  if 0 not in heads:
    raise fail(where, "stanford_head", "no root (no head == 0)")
  return heads


def span(raw, where: str, prefix: str, n: int) -> tuple[int, int]:
  """The inclusive span `prefix`_start..`prefix`_end, checked against `n` tokens."""
  start = integer(get(raw, where, f"{prefix}_start"), where, f"{prefix}_start")
  end = integer(get(raw, where, f"{prefix}_end"), where, f"{prefix}_end")
  if start > end:
    raise fail(where, f"{prefix}_start", f"span reversed ({start} > {end})")
  if start < 0 or end >= n:
    raise fail(where, f"{prefix}_end" if end >= n else f"{prefix}_start",
                f"span [{start}, {end}] out of range for {n} tokens")
  return start, end


def parse_tokens(raw, where: str, allow_no_head: bool = False):
  """Returns (tokens, pos, heads, deprels) after checking lengths and heads."""
  tokens = str_list(raw, where, "token")
  n = len(tokens)
  if n == 0:
    raise fail(where, "token", "empty sentence")
  pos = str_list(raw, where, "stanford_pos")
  deprels = str_list(raw, where, "stanford_deprel")
  for field, values in (("stanford_pos", pos), ("stanford_deprel", deprels)):
    if len(values) != n:
      raise fail(where, field, f"length {len(values)} != {n} tokens")
  return tokens, pos, head_list(raw, where, n, allow_no_head), deprels


def label(raw, where: str, field: str, allowed) -> str:
  """The label in `field`, which must be one of `allowed`."""
  value = get(raw, where, field)
  if value not in allowed:
    raise fail(where, field, f"unknown label {value!r}")
  return value
