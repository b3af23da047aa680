"""Plots and tables of a run's workdir, shared by notebooks/ and tools/sweep.py.

Functions return `matplotlib.figure.Figure` objects built without pyplot, so they work on any
backend (scripts save them with `fig.savefig`, notebooks display them) and never open windows.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any, Mapping, Sequence

import jax
import ml_collections
import numpy as np
from matplotlib import ticker
from matplotlib.figure import Figure

from msfml_jax import evaluate, tasks

PathLike = str | pathlib.Path


def read_jsonl(path: PathLike) -> list[dict]:
  """Every non-blank line of a JSON-lines file."""
  with open(path, encoding="utf-8") as f:
    return [json.loads(line) for line in f if line.strip()]


def run_config(workdir: PathLike) -> dict:
  """The config a run wrote to results.json ({} before the run has finished)."""
  path = pathlib.Path(workdir) / "results.json"
  return json.loads(path.read_text()).get("config", {}) if path.is_file() else {}


def main_metric(workdir: PathLike, rows: Sequence[dict] = ()) -> str:
  """The run's selection metric; without results.json the first of the usual ones logged."""
  config = run_config(workdir)
  if config:
    return config.get("select_metric") or tasks.get(config).main_metric(
        ml_collections.ConfigDict(config))
  logged = {k for r in rows if r["split"] not in ("train", "train_epoch") for k in r["metrics"]}
  return next((m for m in ("macro_f1", "micro_f1", "accuracy") if m in logged), "accuracy")


def curve(rows: Sequence[dict], split: str, metric: str, x: str = "step"
          ) -> tuple[np.ndarray, np.ndarray]:
  """(x, value) of `metric` on `split` over the metrics.jsonl rows, in file order.

  A resumed run may log a step twice; the later line wins.
  """
  points = {r[x]: r["metrics"][metric] for r in rows
            if r["split"] == split and metric in r["metrics"]}
  xs = np.array(sorted(points))
  return xs, np.array([points[k] for k in xs], dtype=float)


def plot_training_curves(workdir: PathLike, metric: str | None = None) -> Figure:
  """Training loss (logged steps and epoch means) and the eval metric per epoch."""
  rows = read_jsonl(pathlib.Path(workdir) / "metrics.jsonl")
  metric = metric or main_metric(workdir, rows)
  fig = Figure(figsize=(11, 4), layout="constrained")
  loss_ax, eval_ax = fig.subplots(1, 2)
  for split, style in (("train", "-"), ("train_epoch", "o-")):
    xs, ys = curve(rows, split, "loss")
    if len(xs):
      loss_ax.plot(xs, ys, style, label="epoch mean" if split == "train_epoch" else "step")
  loss_ax.set(xlabel="step", ylabel="training loss", title="Training loss")
  eval_splits = sorted({r["split"] for r in rows} - {"train", "train_epoch"})
  for split in eval_splits:
    xs, ys = curve(rows, split, metric, x="epoch")
    eval_ax.plot(xs, ys, "o-", label=split)
  eval_ax.set(xlabel="epoch", ylabel=metric, title=f"Evaluation: {metric}")
  eval_ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
  for ax in (loss_ax, eval_ax):
    if ax.get_legend_handles_labels()[0]:
      ax.legend()
    ax.grid(alpha=0.3)
  return fig


def confusion_from_predictions(workdir: PathLike) -> tuple[np.ndarray, list[str]]:
  """[gold, predicted] counts from predictions.jsonl, labels in the model's order."""
  rows = read_jsonl(pathlib.Path(workdir) / "predictions.jsonl")
  if not rows:
    raise ValueError(f"{workdir}/predictions.jsonl is empty")
  labels = list(rows[0]["probabilities"])
  matrix = evaluate.confusion_matrix([r["prediction"] for r in rows], [r["gold"] for r in rows],
                                     labels)
  return matrix, labels


def plot_confusion_matrix(matrix: np.ndarray, labels: Sequence[str],
                          normalize: bool = True) -> Figure:
  """Heat map of a [gold, predicted] matrix; `normalize` shows each gold row as fractions
  (the counts are written in the cells either way)."""
  counts = np.asarray(matrix)
  shown = counts / np.maximum(counts.sum(1, keepdims=True), 1) if normalize else counts
  size = max(4.0, 0.55 * len(labels) + 2)
  fig = Figure(figsize=(size + 1, size), layout="constrained")
  ax = fig.subplots()
  image = ax.imshow(shown, cmap="Blues", vmin=0)
  fig.colorbar(image, ax=ax, label="fraction of gold row" if normalize else "count")
  ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
  ax.set_yticks(range(len(labels)), labels)
  ax.set(xlabel="predicted", ylabel="gold", title="Confusion matrix (test)")
  threshold = shown.max() / 2 if shown.size else 0
  for (i, j), value in np.ndenumerate(counts):
    if value:
      ax.text(j, i, str(value), ha="center", va="center", fontsize=7,
              color="white" if shown[i, j] > threshold else "black")
  return fig


def parameter_counts(params: Mapping[str, Any]) -> dict[str, int]:
  """Scalars per top-level module of a Flax parameter tree (arrays or ShapeDtypeStructs)."""
  return {name: int(sum(np.prod(leaf.shape) for leaf in jax.tree_util.tree_leaves(sub)))
          for name, sub in params.items()}


def model_size_rows(params: Mapping[str, Any]) -> list[tuple[str, int]]:
  """(module, parameters) rows, largest first, then the total and, with a word table, the
  table and the total without it.

  The paper's Table 8 gives model sizes in millions of parameters (with GloVe tables).
  """
  counts = parameter_counts(params)
  total = sum(counts.values())
  rows = sorted(counts.items(), key=lambda kv: -kv[1]) + [("total", total)]
  word = params.get("embedder", {}).get("word_embed", {})
  word_count = int(sum(np.prod(leaf.shape) for leaf in jax.tree_util.tree_leaves(word)))
  if word_count:
    rows += [("word embeddings (in embedder)", word_count),
             ("total without word embeddings", total - word_count)]
  return rows


def format_size_table(rows: Sequence[tuple[str, int]]) -> str:
  """A Markdown table: module, parameters, millions (Table 8's unit)."""
  lines = ["| module | parameters | M |", "|---|---:|---:|"]
  lines += [f"| {name} | {count:,} | {count / 1e6:.3f} |" for name, count in rows]
  return "\n".join(lines)


def model_size(workdir: PathLike, cache_dir: str | None = None) -> list[tuple[str, int]]:
  """Model-size rows of a workdir's model, built from the config saved with its checkpoint
  (shapes only: no parameters are initialised or restored)."""
  from msfml_jax import checkpoints, predict  # pylint: disable=import-outside-toplevel (orbax)
  from msfml_jax.models import msfml  # pylint: disable=import-outside-toplevel
  _, _, config = checkpoints.find_checkpoint(workdir, "latest")
  if cache_dir is not None:
    config.cache_dir = cache_dir
  dataset = predict.load_model_inputs(workdir, config)
  width = 0
  if config.model.word_input == "plm":
    from msfml_jax.plm import pipeline  # pylint: disable=import-outside-toplevel (transformers)
    width = pipeline.hidden_size(config)
  params = predict.abstract_params(msfml.create_model(config, dataset), dataset, config, width)
  return model_size_rows(params)


def plot_sweep(rows: Sequence[Mapping[str, Any]], key: str, label: str | None = None) -> Figure:
  """`row[key]` against alpha (one line per beta) and against beta (one line per alpha).

  rows: dicts with `alpha`, `beta` and `key` (tools/sweep.py's CSV rows); `label` names the
  metric on the axes (default: key). Only lines of two points or more are drawn when there
  are any, so a one-axis-at-a-time grid shows one line per panel, a full grid one per value.
  """
  label = label or key
  fig = Figure(figsize=(10, 4), layout="constrained")
  for ax, x, other in zip(fig.subplots(1, 2), ("alpha", "beta"), ("beta", "alpha")):
    lines: dict[float, list[tuple[float, float]]] = {}
    for r in rows:
      lines.setdefault(float(r[other]), []).append((float(r[x]), float(r[key])))
    drawn = {v: pts for v, pts in lines.items() if len(pts) > 1} or lines
    for value, points in sorted(drawn.items()):
      ax.plot(*zip(*sorted(points)), "o-", label=f"{other}={value:g}")
    ax.set(xlabel=x, ylabel=label, title=f"{label} vs {x}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
  return fig
