"""Agreement of two parses of the same sentences, record by record (docs/results.md).

  python tools/compare_parses.py --prepared=DIR/train.jsonl --reference=semeval/train.json

`--prepared`: records of the custom task (tools/prepare_data.py); `--reference`: a
TACRED-style JSON array in the same order (the shipped SemEval files). Over the records whose
tokens are equal, prints the share of tokens with equal heads, equal dependency labels, both,
and equal POS tags; also how many records have equal tokens and equal entity spans.
"""

from __future__ import annotations

import json
import pathlib
import sys

from absl import app, flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
# pylint: disable=g-import-not-at-top,wrong-import-position
from msfml_jax.data import json_fields as jf
from msfml_jax.tasks import custom

_PREPARED = flags.DEFINE_string("prepared", None, "Custom-task records (JSON lines).")
_REFERENCE = flags.DEFINE_string("reference", None, "TACRED-style JSON array, same order.")


def compare(prepared: list[dict], reference: list[dict]) -> dict[str, float]:
  """Counts and shares (percent) of agreement over the records with equal tokens."""
  if len(prepared) != len(reference):
    raise ValueError(f"{len(prepared)} prepared records for {len(reference)} reference ones")
  same = tokens = heads = labels = both = pos = spans = 0
  for p, r in zip(prepared, reference):
    if p["tokens"] != r["token"]:
      continue
    same += 1
    ref_heads = [int(h) for h in r["stanford_head"]]
    for i in range(len(p["tokens"])):
      h, d = p["heads"][i] == ref_heads[i], p["deprels"][i] == r["stanford_deprel"][i]
      heads, labels, both = heads + h, labels + d, both + (h and d)
      pos += p["pos"][i] == r["stanford_pos"][i]
    tokens += len(p["tokens"])
    spans += p["spans"] == [[r["subj_start"], r["subj_end"]], [r["obj_start"], r["obj_end"]]]
  share = lambda n: 100.0 * n / max(tokens, 1)
  return {"records": len(prepared), "equal_token_records": same, "tokens": tokens,
          "equal_spans_records": spans, "heads_pct": share(heads), "deprels_pct": share(labels),
          "heads_and_deprels_pct": share(both), "pos_pct": share(pos)}


def main(argv):
  del argv
  prepared = [raw for _, _, raw in custom.iter_raw(pathlib.Path(_PREPARED.value))]
  reference = jf.read_json_array(pathlib.Path(_REFERENCE.value))
  print(json.dumps(compare(prepared, reference), indent=1))


if __name__ == "__main__":
  flags.mark_flags_as_required(["prepared", "reference"])
  app.run(main)
