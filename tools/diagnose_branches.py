"""Where the MSCNN / MSGCN branches die: per-layer dead ReLU units of a trained checkpoint.

  python tools/diagnose_branches.py --workdir=runs/semeval_probe/aggcn_fixed [--split=train]
      [--checkpoint=latest] [--max_records=2000]

`x_dead` / `y_dead` in metrics.jsonl say how much of a branch's pooled output is exactly 0;
this says which layer does it. For every layer of the two branches that feeds a ReLU, it
prints (and writes to <workdir>/diagnosis_<split>.json):
  dead_units   the fraction of units whose ReLU input is <= 0 at every real token of every
               record read (a unit that can never fire again: it gets no gradient);
  zero_frac    the fraction of (token, unit) activations that the ReLU zeroes;
  pre_mean / pre_std   the mean and spread of the ReLU input over real tokens;
  bias_mean    the mean bias of the layer (the usual way units die: a bias driven negative).
It reads the captured outputs of the layers (flax `capture_intermediates`), so it works for
every model config; the GCN layers have no bias and ReLU inside (their output is post-ReLU).
"""

from __future__ import annotations

import json
import pathlib
import sys
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags
from flax import traverse_util

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from msfml_jax import predict  # pylint: disable=g-import-not-at-top
from msfml_jax.data import batching, cache  # pylint: disable=g-import-not-at-top
from msfml_jax.models import msfml  # pylint: disable=g-import-not-at-top

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "training workdir", required=True)
flags.DEFINE_string("checkpoint", "latest", "latest | best")
flags.DEFINE_string("split", "train", "split to read")
flags.DEFINE_integer("max_records", 2000, "records read (0 = all)")

BRANCHES = ("mscnn", "cnn", "msgcn", "gcn")
# Layers whose captured output is the input of a ReLU (the combining Dense layers, the
# horizontal convolutions, or their LayerNorm with model.branch_norm); the others read here (GCN layers, the branch outputs) are ReLU
# outputs already. The vertical branch's output is a linear projection: left out.
_PRE_RELU = ("combine", "horizontal_", "norm")
_SKIP = ("linear", "vertical", "conv")


def _layers(intermediates: dict[str, Any], prefix: str = "") -> dict[str, jax.Array]:
  """Flattens `{module: {..., "__call__": (out,)}}` to `{"a/b": out}`."""
  out = {}
  for name, value in intermediates.items():
    if name == "__call__":
      out[prefix.rstrip("/")] = value[0]
    elif isinstance(value, dict):
      out.update(_layers(value, f"{prefix}{name}/"))
  return out


def _is_pre_relu(path: str) -> bool:
  return path.split("/")[-1].startswith(_PRE_RELU)


def _summarise(acts: list[np.ndarray], pre: bool) -> dict[str, float]:
  flat = np.concatenate(acts, axis=0)                     # [tokens, units]
  fires = flat > 0
  out = {"dead_units": float((~fires.any(0)).mean()), "zero_frac": float((~fires).mean()),
         "units": int(flat.shape[1]), "tokens": int(flat.shape[0])}
  if pre:
    out.update(pre_mean=float(flat.mean()), pre_std=float(flat.std()))
  return out


def diagnose(workdir: str, checkpoint: str, split_name: str, max_records: int
             ) -> dict[str, Any]:
  """Per-layer statistics of the two branches on `split_name` (see the module docstring)."""
  extractor = predict.Extractor.from_workdir(workdir, checkpoint)
  config, params = extractor.config, extractor.params
  dataset = cache.load_dataset(config, progress=False)
  split = dataset.splits[split_name]
  if max_records and max_records < len(split):
    split = split.take(np.arange(max_records))
  model = msfml.create_model(config, dataset)

  @jax.jit
  def forward(batch):
    _, state = model.apply({"params": params}, batch, train=False,
                           capture_intermediates=True, mutable=["intermediates"])
    return state["intermediates"]

  acts: dict[str, list[np.ndarray]] = {}
  for batch in batching.eval_batches(split, config):
    real = np.asarray(batch["mask"], bool) & (np.asarray(batch["weight"])[:, None] > 0)
    layers = _layers(jax.device_get(forward(batch)))
    for path, value in layers.items():
      if (path.split("/")[0] not in BRANCHES or np.ndim(value) != 3
          or path.split("/")[-1].startswith(_SKIP)):
        continue
      acts.setdefault(path, []).append(np.asarray(value)[real])
  report = {"workdir": str(workdir), "checkpoint": checkpoint, "split": split_name,
            "records": len(split), "step": int(extractor.step), "layers": {}}
  flat_params = traverse_util.flatten_dict(params, sep="/")
  for path, values in sorted(acts.items()):
    if path.endswith("combine") and path[:-len("combine")] + "norm" in acts:
      continue  # with model.branch_norm the ReLU's input is the LayerNorm's output
    stats = _summarise(values, _is_pre_relu(path))
    bias = flat_params.get(f"{path}/bias")
    if bias is not None:
      stats["bias_mean"] = float(jnp.mean(bias))
    report["layers"][path] = stats
  return report


def main(argv):
  del argv
  report = diagnose(FLAGS.workdir, FLAGS.checkpoint, FLAGS.split, FLAGS.max_records)
  path = pathlib.Path(FLAGS.workdir) / f"diagnosis_{FLAGS.split}.json"
  path.write_text(json.dumps(report, indent=2))
  print(f"step {report['step']}, {report['records']} {report['split']} records")
  print(f"{'layer':<34}{'dead_units':>11}{'zero_frac':>10}{'pre_mean':>10}{'bias_mean':>10}")
  for name, s in report["layers"].items():
    print(f"{name:<34}{s['dead_units']:>11.3f}{s['zero_frac']:>10.3f}"
          f"{s.get('pre_mean', float('nan')):>10.3f}{s.get('bias_mean', float('nan')):>10.3f}")


if __name__ == "__main__":
  app.run(main)
