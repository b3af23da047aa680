"""Where the MSCNN / MSGCN branches die: per-layer dead ReLU units.

  # a trained checkpoint
  python tools/diagnose_branches.py --workdir=runs/semeval_probe/aggcn_fixed [--split=train]
      [--checkpoint=latest] [--max_records=2000]
  # the first steps of a training from scratch, every --every steps (nothing is saved)
  python tools/diagnose_branches.py --config=configs/semeval_fast.py --train_steps=30 \\
      --every=10 --max_records=300 --config.optim.learning_rate=0.5 ...

`x_dead` / `y_dead` in metrics.jsonl say how much of a branch's pooled output is not positive;
this says which layer does it. For every layer of the two branches that feeds a ReLU it
prints one JSON line per checkpoint or step (and, with --workdir, writes
<workdir>/diagnosis_<split>.json):
  dead_units   the fraction of units whose ReLU input is <= 0 at every real token of every
               record read (a unit that can never fire again: it gets no gradient);
  zero_frac    the fraction of (token, unit) activations that are 0 after the ReLU;
  pre_mean / pre_std   the mean and spread of the ReLU input over real tokens;
  bias_mean    the mean bias of the layer (one way units die: a bias driven negative).
It reads the captured outputs of the layers (flax `capture_intermediates`), so it works for
every model config. GCN layers apply their ReLU inside (their output is post-ReLU); the
coarse layer's rows are hypernodes, read with the token mask (an approximation).
"""

from __future__ import annotations

import json
import pathlib
import sys
import tempfile
from typing import Any

import jax
import numpy as np
from absl import app, flags
from flax import traverse_util
from ml_collections import config_flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from msfml_jax import predict, train  # pylint: disable=g-import-not-at-top
from msfml_jax.data import batching, cache  # pylint: disable=g-import-not-at-top
from msfml_jax.models import msfml  # pylint: disable=g-import-not-at-top

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "a training workdir to read a checkpoint of")
flags.DEFINE_string("checkpoint", "latest", "latest | best (with --workdir)")
_CONFIG = config_flags.DEFINE_config_file("config", None, "config to train from scratch")
flags.DEFINE_integer("train_steps", 30, "with --config: training steps to run")
flags.DEFINE_integer("every", 10, "with --config: report every this many steps")
flags.DEFINE_string("split", "train", "split to read")
flags.DEFINE_integer("max_records", 2000, "records read (0 = all)")

BRANCHES = ("mscnn", "cnn", "msgcn", "gcn")
# Layers whose captured output is the input of a ReLU (the combining Dense layers, the
# horizontal convolutions, or their LayerNorm with model.branch_norm); the others read here
# (GCN layers, the branch outputs) are ReLU outputs already. The vertical branch's output is
# a linear projection, `linear` / `conv` are inner matmuls: left out.
_PRE_RELU = ("combine", "horizontal_", "norm")
_SKIP = ("linear", "vertical", "conv")


def _layers(intermediates: dict[str, Any], prefix: str = "") -> dict[str, Any]:
  """Flattens `{module: {..., "__call__": (out,)}}` to `{"a/b": out}`."""
  out = {}
  for name, value in intermediates.items():
    if name == "__call__":
      out[prefix.rstrip("/")] = value[0]
    elif isinstance(value, dict):
      out.update(_layers(value, f"{prefix}{name}/"))
  return out


def _wanted(path: str, value: Any) -> bool:
  leaf = path.split("/")[-1]
  return path.split("/")[0] in BRANCHES and np.ndim(value) == 3 and not leaf.startswith(_SKIP)


def summarise(acts: list[np.ndarray], pre_relu: bool) -> dict[str, float]:
  """Statistics of one layer from its [tokens, units] activations (module docstring)."""
  flat = np.concatenate(acts, axis=0)
  fires = flat > 0
  out = {"dead_units": float((~fires.any(0)).mean()), "zero_frac": float((~fires).mean())}
  if pre_relu:
    out.update(pre_mean=float(flat.mean()), pre_std=float(flat.std()))
  return out


def layer_report(model: msfml.MSFML, params: Any, batches: list[dict[str, np.ndarray]]
                 ) -> dict[str, dict[str, float]]:
  """Per-layer statistics of the two branches over `batches` (eval batches)."""
  @jax.jit
  def forward(batch):
    _, state = model.apply({"params": params}, batch, train=False,
                           capture_intermediates=True, mutable=["intermediates"])
    return state["intermediates"]

  acts: dict[str, list[np.ndarray]] = {}
  for batch in batches:
    real = np.asarray(batch["mask"], bool) & (np.asarray(batch["weight"])[:, None] > 0)
    for path, value in _layers(jax.device_get(forward(batch))).items():
      if _wanted(path, value):
        acts.setdefault(path, []).append(np.asarray(value)[real])
  flat_params = traverse_util.flatten_dict(jax.device_get(params), sep="/")
  report = {}
  for path, values in sorted(acts.items()):
    if path.endswith("combine") and path[:-len("combine")] + "norm" in acts:
      continue  # with model.branch_norm the ReLU's input is the LayerNorm's output
    leaf = path.split("/")[-1]
    stats = summarise(values, leaf.startswith(_PRE_RELU))
    if f"{path}/bias" in flat_params:
      stats["bias_mean"] = float(np.mean(flat_params[f"{path}/bias"]))
    report[path] = {k: round(v, 4) for k, v in stats.items()}
  return report


def _records(split, max_records: int):
  return split.take(np.arange(max_records)) if 0 < max_records < len(split) else split


def from_checkpoint() -> list[dict[str, Any]]:
  extractor = predict.Extractor.from_workdir(FLAGS.workdir, FLAGS.checkpoint)
  config = extractor.config
  dataset = cache.load_dataset(config, progress=False)
  split = _records(dataset.splits[FLAGS.split], FLAGS.max_records)
  model = msfml.create_model(config, dataset)
  report = {"workdir": FLAGS.workdir, "step": int(extractor.step), "split": FLAGS.split,
            "records": len(split),
            "layers": layer_report(model, extractor.params,
                                   list(batching.eval_batches(split, config)))}
  path = pathlib.Path(FLAGS.workdir) / f"diagnosis_{FLAGS.split}.json"
  path.write_text(json.dumps(report, indent=2))
  return [report]


def from_scratch() -> list[dict[str, Any]]:
  """The first `--train_steps` steps of epoch 1 (the real train step and batches)."""
  config = _CONFIG.value
  with tempfile.TemporaryDirectory() as workdir:
    run = train.setup(config, workdir)
    state = train.initial_state(run)
    split = _records(run.splits[FLAGS.split], FLAGS.max_records)
    batches = list(batching.eval_batches(split, config))
    plan = train.epoch_plan(run, 0, None)
    reports = [{"step": 0, "layers": layer_report(run.model, state.params, batches)}]
    print(json.dumps(reports[-1]), flush=True)
    for b in range(min(FLAGS.train_steps, len(plan))):
      state, metrics = run.train_step(state, train.train_batch(run, plan, b))
      if (b + 1) % FLAGS.every == 0:
        reports.append({"step": b + 1,
                        "metrics": {k: round(float(v), 4) for k, v in metrics.items()},
                        "layers": layer_report(run.model, state.params, batches)})
        print(json.dumps(reports[-1]), flush=True)
    run.checkpointer.close()
    run.log.close()
  return reports


def main(argv):
  del argv
  if bool(FLAGS.workdir) == (_CONFIG.value is not None):
    raise app.UsageError("give exactly one of --workdir (a checkpoint) or --config (fresh)")
  reports = from_checkpoint() if FLAGS.workdir else from_scratch()
  if FLAGS.workdir:
    print(json.dumps(reports[0]))
  print(f"{'step':>5} {'layer':<22}{'dead_units':>11}{'zero_frac':>10}{'pre_mean':>10}"
        f"{'pre_std':>9}{'bias_mean':>10}", file=sys.stderr)
  for r in reports:
    for name, s in r["layers"].items():
      print(f"{r['step']:>5} {name:<22}{s['dead_units']:>11.3f}{s['zero_frac']:>10.3f}"
            f"{s.get('pre_mean', float('nan')):>10.3f}{s.get('pre_std', float('nan')):>9.3f}"
            f"{s.get('bias_mean', float('nan')):>10.3f}", file=sys.stderr)


if __name__ == "__main__":
  app.run(main)
