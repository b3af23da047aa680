"""Checks our Flax encoder against transformers' PyTorch model on the same checkpoint.

  python -m msfml_jax.plm.parity --model=/path/to/checkpoint [--tolerance=1e-4]

Prints the largest absolute difference of the final hidden states over real (non-padding)
tokens and timings; exits non-zero when the difference exceeds --tolerance.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import numpy as np

from msfml_jax.plm.convert import load_checkpoint
from msfml_jax.plm.encoder import Encoder

# Different lengths so the batch is padded and the attention mask matters.
SENTENCES = (
    "He is sitting on the table.",
    "The drug gefitinib inhibits EGFR tumours carrying the L858R mutation in lung cancer.",
    "Paris",
    "A short one, with punctuation: commas; colons -- and dashes!",
)


@dataclasses.dataclass
class ParityResult:
  """Outcome of one comparison."""
  max_abs_diff: float
  num_tokens: int          # real tokens compared
  jax_compile_s: float     # first call (trace + compile + run)
  jax_run_s: float         # a second, compiled call
  torch_run_s: float


def run_jax(model_dir: str | pathlib.Path, input_ids: np.ndarray, attention_mask: np.ndarray,
            token_type_ids: np.ndarray | None = None) -> tuple[np.ndarray, float, float]:
  """Returns (last hidden states, first-call seconds, second-call seconds) from our encoder."""
  config, params = load_checkpoint(model_dir)
  params = jax.device_put(params)  # Keep host-to-device copies out of the timings.
  model = Encoder(config, precision="highest")
  apply = jax.jit(lambda p, *xs: model.apply({"params": p}, *xs))
  args = [jnp.asarray(x) for x in (input_ids, attention_mask, token_type_ids) if x is not None]
  start = time.perf_counter()
  out = apply(params, *args).block_until_ready()
  compile_s = time.perf_counter() - start
  start = time.perf_counter()
  out = apply(params, *args).block_until_ready()
  return np.asarray(out), compile_s, time.perf_counter() - start


def run_torch(model_dir: str | pathlib.Path, input_ids: np.ndarray, attention_mask: np.ndarray,
              token_type_ids: np.ndarray | None = None) -> tuple[np.ndarray, float]:
  """Returns (last hidden states, seconds) from transformers' AutoModel in eval mode."""
  import torch
  from transformers import AutoModel
  model = AutoModel.from_pretrained(str(model_dir), dtype=torch.float32).eval()
  kwargs = {"input_ids": torch.as_tensor(input_ids),
            "attention_mask": torch.as_tensor(attention_mask)}
  if token_type_ids is not None:
    kwargs["token_type_ids"] = torch.as_tensor(token_type_ids)
  start = time.perf_counter()
  with torch.no_grad():
    out = model(**kwargs).last_hidden_state
  return out.numpy(), time.perf_counter() - start


def compare(model_dir: str | pathlib.Path, input_ids: np.ndarray, attention_mask: np.ndarray,
            token_type_ids: np.ndarray | None = None) -> ParityResult:
  """Runs both implementations on one padded batch and compares real tokens only."""
  ours, compile_s, run_s = run_jax(model_dir, input_ids, attention_mask, token_type_ids)
  theirs, torch_s = run_torch(model_dir, input_ids, attention_mask, token_type_ids)
  real = np.asarray(attention_mask).astype(bool)
  diff = float(np.abs(ours[real] - theirs[real]).max())
  return ParityResult(diff, int(real.sum()), compile_s, run_s, torch_s)


def tokenize(model_dir: str | pathlib.Path, sentences=SENTENCES) -> dict[str, np.ndarray]:
  """Tokenizes `sentences` into one padded numpy batch with the checkpoint's tokenizer."""
  from transformers import AutoTokenizer
  tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
  return dict(tokenizer(list(sentences), padding=True, return_tensors="np"))


_MODEL = flags.DEFINE_string("model", None, "HF checkpoint directory (config + weights + tokenizer).")
_TOLERANCE = flags.DEFINE_float("tolerance", 1e-4, "Largest allowed absolute difference.")


def main(argv: list[str]) -> int:
  del argv
  # Never reach the hub: the checkpoint is local.
  os.environ.setdefault("HF_HUB_OFFLINE", "1")
  batch = tokenize(_MODEL.value)
  result = compare(_MODEL.value, batch["input_ids"], batch["attention_mask"],
                   batch.get("token_type_ids"))
  shape = batch["input_ids"].shape
  print(f"batch {shape[0]}x{shape[1]}, {result.num_tokens} real tokens")
  print(f"max |jax - torch| over real tokens: {result.max_abs_diff:.3e} "
        f"(tolerance {_TOLERANCE.value:.0e})")
  print(f"jax: first call {result.jax_compile_s:.3f}s (incl. compile), "
        f"compiled {result.jax_run_s * 1e3:.1f}ms; torch: {result.torch_run_s * 1e3:.1f}ms")
  ok = result.max_abs_diff <= _TOLERANCE.value
  print("PASS" if ok else "FAIL")
  return 0 if ok else 1


if __name__ == "__main__":
  flags.mark_flag_as_required("model")
  app.run(main)
