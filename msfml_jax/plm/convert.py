"""Loads a HF BERT / RoBERTa checkpoint directory into our `Encoder` params.

A checkpoint directory holds `config.json` and the weights as `model.safetensors` (or a
sharded `model.safetensors.index.json`) or `pytorch_model.bin`. The config is read with
transformers' AutoConfig; weights are read as numpy, never through a torch model.
"""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

import numpy as np

from msfml_jax.plm.encoder import ACTIVATIONS, EncoderConfig, Params

SUPPORTED_MODEL_TYPES = ("bert", "roberta")
# HF head models (BertForMaskedLM, RobertaForSequenceClassification, ...) prefix the
# encoder's weights with the base model name.
_BASE_PREFIXES = ("bert.", "roberta.")
# HF name (after "encoder.layer.{i}.") -> our path under "layer_{i}".
_LAYER_RULES = {
    "attention.self.query": ("attention", "query"),
    "attention.self.key": ("attention", "key"),
    "attention.self.value": ("attention", "value"),
    "attention.output.dense": ("attention", "output"),
    "attention.output.LayerNorm": ("attention_norm",),
    "intermediate.dense": ("intermediate",),
    "output.dense": ("output",),
    "output.LayerNorm": ("output_norm",),
}
_EMBEDDING_RULES = {
    "word_embeddings": ("word_embeddings",),
    "position_embeddings": ("position_embeddings",),
    "token_type_embeddings": ("token_type_embeddings",),
    "LayerNorm": ("layer_norm",),
}
# HF parameter suffix -> linen leaf name; old TF-converted checkpoints say gamma/beta.
_LEAF_NAMES = {"weight": "kernel", "bias": "bias", "gamma": "scale", "beta": "bias"}


def load_hf_config(model_dir: str | pathlib.Path) -> Any:
  """Returns transformers' config (BertConfig / RobertaConfig) for a local checkpoint."""
  from transformers import AutoConfig  # Heavy import, only needed here.
  return AutoConfig.from_pretrained(str(model_dir))


def encoder_config_from_hf(hf_config: Any) -> EncoderConfig:
  """Translates a transformers BertConfig / RobertaConfig into an `EncoderConfig`."""
  if hf_config.model_type not in SUPPORTED_MODEL_TYPES:
    raise ValueError(f"model_type {hf_config.model_type!r} is not one of {SUPPORTED_MODEL_TYPES}")
  pos_type = getattr(hf_config, "position_embedding_type", "absolute")
  if pos_type != "absolute":
    raise ValueError(f"position_embedding_type {pos_type!r} is not supported (only absolute)")
  if hf_config.hidden_act not in ACTIVATIONS:
    raise ValueError(f"hidden_act {hf_config.hidden_act!r} is not one of {sorted(ACTIVATIONS)}")
  return EncoderConfig(
      vocab_size=hf_config.vocab_size,
      hidden_size=hf_config.hidden_size,
      num_layers=hf_config.num_hidden_layers,
      num_heads=hf_config.num_attention_heads,
      intermediate_size=hf_config.intermediate_size,
      hidden_act=hf_config.hidden_act,
      layer_norm_eps=hf_config.layer_norm_eps,
      max_position_embeddings=hf_config.max_position_embeddings,
      type_vocab_size=hf_config.type_vocab_size,
      pad_token_id=hf_config.pad_token_id if hf_config.pad_token_id is not None else 0,
      hidden_dropout=hf_config.hidden_dropout_prob,
      attention_dropout=hf_config.attention_probs_dropout_prob,
      model_type=hf_config.model_type,
  )


def load_state_dict(model_dir: str | pathlib.Path) -> dict[str, np.ndarray]:
  """Reads the checkpoint's tensors as float32 numpy arrays keyed by HF name."""
  model_dir = pathlib.Path(model_dir)
  if (model_dir / "model.safetensors").exists():
    return _read_safetensors([model_dir / "model.safetensors"])
  index = model_dir / "model.safetensors.index.json"
  if index.exists():
    shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    return _read_safetensors([model_dir / s for s in shards])
  if (model_dir / "pytorch_model.bin").exists():
    import torch  # Only for legacy pickled checkpoints.
    tensors = torch.load(model_dir / "pytorch_model.bin", map_location="cpu", weights_only=True)
    return {k: _to_numpy(v.float().numpy()) for k, v in tensors.items()}
  raise FileNotFoundError(
      f"{model_dir}: no model.safetensors, model.safetensors.index.json or pytorch_model.bin")


def _read_safetensors(files: list[pathlib.Path]) -> dict[str, np.ndarray]:
  from safetensors.numpy import load_file
  out = {}
  for f in files:
    out.update({k: _to_numpy(v) for k, v in load_file(str(f)).items()})
  return out


def _to_numpy(x: np.ndarray) -> np.ndarray:
  return x.astype(np.float32) if np.issubdtype(x.dtype, np.floating) else x


def convert_state_dict(state_dict: dict[str, np.ndarray], config: EncoderConfig) -> Params:
  """Maps HF tensor names to our params tree; Linear weights are transposed to kernels.

  Buffers (position_ids), the pooler and task heads are ignored. Raises if a parameter the
  encoder needs is missing, so a wrong checkpoint fails loudly instead of staying random.
  """
  params: Params = {}
  for name, value in state_dict.items():
    path = _our_path(_strip_base_prefix(name))
    if path is None:
      continue
    if path[-1] == "kernel" and path[-2].endswith("embeddings"):
      path = path[:-1] + ("embedding",)
    elif path[-1] == "kernel" and value.ndim == 2:
      value = value.T
    elif path[-1] == "kernel":  # A LayerNorm weight.
      path = path[:-1] + ("scale",)
    _set(params, path, np.ascontiguousarray(value))
  _check_complete(params, config)
  return params


def _strip_base_prefix(name: str) -> str:
  for prefix in _BASE_PREFIXES:
    if name.startswith(prefix):
      return name[len(prefix):]
  return name


def _our_path(name: str) -> tuple[str, ...] | None:
  """Returns our params path for a HF name, or None for tensors the encoder does not use."""
  *module, leaf = name.split(".")
  if leaf not in _LEAF_NAMES:
    return None
  module_name = ".".join(module)
  if module_name.startswith("embeddings."):
    rule = _EMBEDDING_RULES.get(module_name[len("embeddings."):])
    return ("embeddings",) + rule + (_LEAF_NAMES[leaf],) if rule else None
  match = re.fullmatch(r"encoder\.layer\.(\d+)\.(.+)", module_name)
  if match and match.group(2) in _LAYER_RULES:
    return (f"layer_{match.group(1)}",) + _LAYER_RULES[match.group(2)] + (_LEAF_NAMES[leaf],)
  return None


def _set(tree: Params, path: tuple[str, ...], value: np.ndarray) -> None:
  for key in path[:-1]:
    tree = tree.setdefault(key, {})
  tree[path[-1]] = value


def _check_complete(params: Params, config: EncoderConfig) -> None:
  expected = [("embeddings", n) for n in
              ("word_embeddings", "position_embeddings", "token_type_embeddings", "layer_norm")]
  for i in range(config.num_layers):
    expected += [(f"layer_{i}", *p) for p in _LAYER_RULES.values()]
  missing = [p for p in expected if not _has(params, p)]
  if missing:
    raise ValueError(f"checkpoint lacks encoder weights: {['/'.join(p) for p in missing[:5]]}"
                     f"{' ...' if len(missing) > 5 else ''}")


def _has(tree: Params, path: tuple[str, ...]) -> bool:
  for key in path:
    if not isinstance(tree, dict) or key not in tree:
      return False
    tree = tree[key]
  return True


def load_checkpoint(model_dir: str | pathlib.Path) -> tuple[EncoderConfig, Params]:
  """Returns (config, params) for a local HF BERT / RoBERTa checkpoint directory.

  Use as `Encoder(config).apply({"params": params}, input_ids, attention_mask)`.
  """
  config = encoder_config_from_hf(load_hf_config(model_dir))
  return config, convert_state_dict(load_state_dict(model_dir), config)
