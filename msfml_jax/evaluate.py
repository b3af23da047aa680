"""Scorers for SemEval-2010 Task 8, TACRED, the PubMed n-ary data and custom label sets
(pure numpy). Which scorer a dataset uses, and its main metric, is declared by its task
(`msfml_jax.tasks`).

Every scorer returns a flat dict: percentages (0-100) as Python floats, plus a few non-scalar
extras (confusion matrices, printable tables) that `reporting.scalar_metrics` drops.

SemEval follows the official Perl scorer `semeval2010_task8_scorer-v1.2.pl` exactly:
  * a relation's P = correct / predicted as that relation, R = correct / gold of that relation,
    F1 = 2PR / (P + R), 0 when P + R = 0; macro = the mean over the relations that occur in
    the gold labels, Other excluded; micro sums the counts of those relations;
  * "(9+1)-way with directionality" (the official score): a prediction of the right relation
    type with the wrong direction is wrong, but still counts as predicted for that type;
  * predictions of a relation absent from the gold labels count for no relation (as Other).

`aggcn_macro_f1` is the other SemEval scale in the literature, that of AGGCN's scorer
(Cartus/AGGCN `semeval/utils/scorer.py`), whose setting the paper follows: the harmonic mean
of the macro precision (mean over the relations predicted at least once, Other excluded, of
correct / (predicted + 1e-4)) and the macro recall (mean over the gold relations, Other
excluded, of correct / (gold + 1e-4)). It is not the mean of per-relation F1 and usually
reads higher than the official `macro_f1`.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

import numpy as np

SEMEVAL_OTHER = "Other"
_DIRECTION = re.compile(r"\(e[12],e[12]\)$")
_AGGREGATES = ("accuracy", "macro_p", "macro_r", "macro_f1", "micro_p", "micro_r", "micro_f1")


def _names(labels: Any, label_names: Sequence[str]) -> np.ndarray:
  """Label ids or names -> an object array of names."""
  arr = np.asarray(labels)
  if arr.dtype.kind in "iu":
    return np.asarray(label_names, dtype=object)[arr.reshape(-1)]
  return arr.reshape(-1).astype(object)


def _pair(pred: Any, gold: Any, label_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
  p, g = _names(pred, label_names), _names(gold, label_names)
  if p.shape != g.shape:
    raise ValueError(f"{len(p)} predictions for {len(g)} gold labels")
  return p, g


def relation_type(label: str) -> str:
  """`Cause-Effect(e2,e1)` -> `Cause-Effect`; undirected labels and Other unchanged."""
  return _DIRECTION.sub("", label)


def _percent(num: float, den: float) -> float:
  return 100.0 * float(num) / float(den) if den else 0.0


def _f1(p: float, r: float) -> float:
  return 2.0 * p * r / (p + r) if p + r else 0.0


def _official(pred: np.ndarray, gold: np.ndarray, correct: np.ndarray,
              per_relation: bool) -> dict[str, float]:
  """One evaluation of the Perl scorer: `pred`/`gold` in its label space, `correct` per item."""
  out = {"accuracy": _percent(correct.sum(), len(gold))}
  sums = np.zeros(3)
  macro = np.zeros(3)
  relations = sorted(set(gold.tolist()) - {SEMEVAL_OTHER})
  for rel in relations:
    counts = np.array([(correct & (gold == rel)).sum(), (pred == rel).sum(), (gold == rel).sum()])
    p, r = _percent(counts[0], counts[1]), _percent(counts[0], counts[2])
    macro += (p, r, _f1(p, r))
    sums += counts
    if per_relation:
      out.update({f"p/{rel}": p, f"r/{rel}": r, f"f1/{rel}": _f1(p, r)})
  macro /= max(len(relations), 1)
  micro_p, micro_r = _percent(sums[0], sums[1]), _percent(sums[0], sums[2])
  out.update(macro_p=float(macro[0]), macro_r=float(macro[1]), macro_f1=float(macro[2]),
             micro_p=micro_p, micro_r=micro_r, micro_f1=_f1(micro_p, micro_r))
  return out


def aggcn_macro_scores(pred: np.ndarray, gold: np.ndarray,
                       negative: str = SEMEVAL_OTHER) -> dict[str, float]:
  """AGGCN's macro P / R / F1 (module docstring) over label names, in percent.

  A prediction counts for its relation's precision whenever it is not `negative`, right or
  wrong; a gold relation counts for its recall whenever it is not `negative`.
  """
  pred, gold = np.asarray(pred, dtype=object), np.asarray(gold, dtype=object)
  correct = (pred == gold) & (gold != negative)
  predicted = sorted(set(pred[pred != negative].tolist()))
  relations = sorted(set(gold[gold != negative].tolist()))
  prec = [(correct & (pred == r)).sum() / ((pred == r).sum() + 1e-4) for r in predicted]
  rec = [(correct & (gold == r)).sum() / ((gold == r).sum() + 1e-4) for r in relations]
  p = float(np.mean(prec)) if prec else 0.0
  r = float(np.mean(rec)) if rec else 0.0
  return {"aggcn_macro_p": 100.0 * p, "aggcn_macro_r": 100.0 * r,
          "aggcn_macro_f1": 100.0 * _f1(p, r)}


def confusion_matrix(pred: Any, gold: Any, label_names: Sequence[str]) -> np.ndarray:
  """`[gold, predicted]` counts in `label_names` order; unknown names are an error."""
  p, g = _pair(pred, gold, label_names)
  index = {name: i for i, name in enumerate(label_names)}
  unknown = sorted({x for x in np.concatenate([p, g]).tolist() if x not in index})
  if unknown:
    raise ValueError(f"labels not in label_names: {unknown}")
  matrix = np.zeros((len(label_names), len(label_names)), dtype=np.int64)
  np.add.at(matrix, ([index[x] for x in g], [index[x] for x in p]), 1)
  return matrix


def _short_name(label: str) -> str:
  """The Perl scorer's column names: `Cause-Effect(e2,e1)` -> `C-E2`, Other -> `_O_`."""
  if label == SEMEVAL_OTHER:
    return "_O_"
  parts = relation_type(label).split("-")
  short = "-".join(part[:1] for part in parts[:2]) if len(parts) > 1 else label[:4]
  direction = re.search(r"\(e([12])", label)
  return short + (direction.group(1) if direction else "")


def confusion_table(matrix: np.ndarray, label_names: Sequence[str]) -> str:
  """A printable table: rows gold, columns predicted, with row and column sums."""
  short = [_short_name(x) for x in label_names]
  width = max(5, *(len(s) + 1 for s in short))
  lines = [" " * width + "".join(f"{s:>{width}}" for s in short) + "   -SUM-  <-- predicted"]
  for name, row in zip(short, matrix):
    lines.append(f"{name:>{width}}" + "".join(f"{v:>{width}d}" for v in row) + f"{row.sum():>8d}")
  lines.append(f"{'-SUM-':>{width}}" + "".join(f"{v:>{width}d}" for v in matrix.sum(0))
               + f"{matrix.sum():>8d}")
  return "\n".join(lines)


def semeval_scores(pred: Any, gold: Any, label_names: Sequence[str],
                   directed: bool) -> dict[str, Any]:
  """SemEval-2010 Task 8 scores (see the module docstring for the exact semantics).

  Undirected (10 labels, the paper's setting): the (9+1)-way evaluation, keys `macro_f1` (the
  paper's metric), `macro_p/r`, `micro_p/r/f1`, `accuracy`, `p/<rel>`, `r/<rel>`, `f1/<rel>`.
  Directed (19 labels): the same keys hold the official (9+1)-way evaluation with direction
  taken into account; `19way/*` holds the (2*9+1)-way one and `undirected/*` the (9+1)-way one
  ignoring direction; `wrong_direction` counts right-type, wrong-direction predictions.
  Both add `aggcn_macro_p/r/f1` (AGGCN's scale, see the module docstring; directed: over the
  18 directed relations, and `undirected/aggcn_*` over the 9 types), `confusion`
  (`[gold, predicted]` in `label_names` order) and `confusion_table`.
  """
  p, g = _pair(pred, gold, label_names)
  p_type = np.array([relation_type(x) for x in p], dtype=object)
  g_type = np.array([relation_type(x) for x in g], dtype=object)
  if directed:
    exact = p == g
    out = _official(p_type, g_type, exact, per_relation=True)
    out.update({f"19way/{k}": v for k, v in _official(p, g, exact, False).items()})
    undirected = _official(p_type, g_type, p_type == g_type, False)
    out.update({f"undirected/{k}": v for k, v in undirected.items()})
    out["wrong_direction"] = float(((p_type == g_type) & ~exact).sum())
    out.update(aggcn_macro_scores(p, g))
    out.update({f"undirected/{k}": v for k, v in aggcn_macro_scores(p_type, g_type).items()})
  else:
    out = _official(p_type, g_type, p_type == g_type, per_relation=True)
    out.update(aggcn_macro_scores(p_type, g_type))
  matrix = confusion_matrix(p, g, label_names)
  out["confusion"] = matrix
  out["confusion_table"] = confusion_table(matrix, label_names)
  return out


def write_semeval_answer_file(path: str, semeval_ids: Sequence[int | str],
                              labels: Sequence[str]) -> None:
  """Writes `8001<TAB>Message-Topic(e1,e2)` lines for the official Perl scorer.

  The scorer accepts only Other and the 18 directed labels, so undirected labels are refused
  here rather than by the scorer later.
  """
  if len(semeval_ids) != len(labels):
    raise ValueError(f"{len(semeval_ids)} ids for {len(labels)} labels")
  lines = []
  for sid, label in zip(semeval_ids, labels):
    if label != SEMEVAL_OTHER and not _DIRECTION.search(label):
      raise ValueError(f"id {sid}: {label!r} is not a directed SemEval label "
                       "(the official scorer needs e.g. 'Cause-Effect(e1,e2)' or 'Other')")
    lines.append(f"{int(sid)}\t{label}\n")
  with open(path, "w", encoding="utf-8") as f:
    f.writelines(lines)


def read_semeval_answer_file(path: str) -> dict[int, str]:
  """Reads an answer or key file in the official format into `{id: label}`."""
  answers = {}
  with open(path, encoding="utf-8") as f:
    for line_no, line in enumerate(f, 1):
      fields = line.rstrip("\r\n").split("\t")
      if len(fields) != 2 or not fields[0].isdigit():
        raise ValueError(f"{path}:{line_no}: expected '<id><TAB><label>', got {line!r}")
      if int(fields[0]) in answers:
        raise ValueError(f"{path}:{line_no}: id {fields[0]} repeated")
      answers[int(fields[0])] = fields[1]
  return answers


def _check_negative(negative: str, label_names: Sequence[str]) -> None:
  if negative not in label_names:
    raise ValueError(f"negative label {negative!r} is not among the labels {list(label_names)}")


def tacred_scores(pred: Any, gold: Any, label_names: Sequence[str],
                  negative: str) -> dict[str, float]:
  """Micro P/R/F1 over the relations, `negative` excluded, as TACRED's scorer.py.

  correct = pred == gold != negative, P = correct / (pred != negative), R = correct /
  (gold != negative). As in scorer.py, P is 100 when nothing is predicted (R is then 0, so F1
  is 0) and R is 0 when there is no gold relation. `negative` must be one of `label_names`:
  a label set without it would score every "no relation" prediction as a relation.
  """
  _check_negative(negative, label_names)
  p, g = _pair(pred, gold, label_names)
  correct = float(((p == g) & (g != negative)).sum())
  guessed, actual = float((p != negative).sum()), float((g != negative).sum())
  precision = 100.0 * correct / guessed if guessed else 100.0
  recall = _percent(correct, actual)
  return {"micro_p": precision, "micro_r": recall, "micro_f1": _f1(precision, recall),
          "accuracy": _percent((p == g).sum(), len(g))}


def relation_scores(pred: Any, gold: Any, label_names: Sequence[str],
                    negative: str | None) -> dict[str, Any]:
  """Scores for any label set (the `custom` task): accuracy, micro and macro P/R/F1.

  negative: the "no relation" label, left out of micro and macro P/R/F1 (None or "" = every
  label is a relation; micro P = R = F1 = accuracy then). Micro: correct = pred == gold !=
  negative over (pred != negative) and (gold != negative), 0 when a denominator is 0.
  Macro: the mean of each relation's P, R and F1 (F1 = 2PR / (P + R)) over the relations that
  occur in the gold labels, as the SemEval scorer; `p/<label>`, `r/<label>`, `f1/<label>`
  per relation. Adds `confusion` (`[gold, predicted]` in `label_names` order).
  """
  negative = negative or None
  if negative is not None:
    _check_negative(negative, label_names)
  p, g = _pair(pred, gold, label_names)
  correct = p == g
  out = {"accuracy": _percent(correct.sum(), len(g))}
  rel_p, rel_g = p != negative, g != negative
  micro_p = _percent((correct & rel_g).sum(), rel_p.sum())
  micro_r = _percent((correct & rel_g).sum(), rel_g.sum())
  out.update(micro_p=micro_p, micro_r=micro_r, micro_f1=_f1(micro_p, micro_r))
  macro = np.zeros(3)
  relations = [x for x in label_names if x != negative and (g == x).any()]
  for rel in relations:
    hits = (correct & (g == rel)).sum()
    rp, rr = _percent(hits, (p == rel).sum()), _percent(hits, (g == rel).sum())
    macro += (rp, rr, _f1(rp, rr))
    out.update({f"p/{rel}": rp, f"r/{rel}": rr, f"f1/{rel}": _f1(rp, rr)})
  macro /= max(len(relations), 1)
  out.update(macro_p=float(macro[0]), macro_r=float(macro[1]), macro_f1=float(macro[2]))
  out["confusion"] = confusion_matrix(p, g, label_names)
  return out


def pubmed_scores(pred: Any, gold: Any, cross_sentence: Any) -> dict[str, float]:
  """Accuracy over all records, and over the single- and cross-sentence ones.

  `accuracy_single` / `accuracy_cross` are left out when the split has no such record (an
  absent key rather than a made-up 0); `n`, `n_single`, `n_cross` give the counts.
  """
  p, g = np.asarray(pred).reshape(-1), np.asarray(gold).reshape(-1)
  cross = np.asarray(cross_sentence, dtype=bool).reshape(-1)
  if not p.shape == g.shape == cross.shape:
    raise ValueError(f"shapes differ: pred {p.shape}, gold {g.shape}, cross {cross.shape}")
  right = p == g
  out = {"accuracy": _percent(right.sum(), len(g)), "n": float(len(g)),
         "n_single": float((~cross).sum()), "n_cross": float(cross.sum())}
  for name, subset in (("single", ~cross), ("cross", cross)):
    if subset.any():
      out[f"accuracy_{name}"] = _percent(right[subset].sum(), subset.sum())
  return out


def _is_scalar(v: Any) -> bool:
  return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def average_folds(folds: Sequence[Mapping[str, Any]]) -> dict[str, float]:
  """Mean (same key) and population std (`<key>_std`) of every scalar metric over folds.

  A metric missing from some folds is averaged over the folds that have it; non-scalar
  entries (confusion matrices, tables) are skipped. `num_folds` counts the folds.
  """
  out: dict[str, float] = {"num_folds": float(len(folds))}
  keys = [k for fold in folds for k, v in fold.items() if _is_scalar(v)]
  for key in dict.fromkeys(keys):
    values = np.array([float(f[key]) for f in folds if key in f and _is_scalar(f[key])])
    out[key] = float(values.mean())
    out[f"{key}_std"] = float(values.std())
  return out
