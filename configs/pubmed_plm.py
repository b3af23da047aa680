"""PubMed n-ary RE with contextual word vectors from a (post-trained) PLM (§3.3.2).

  python -m msfml_jax.plm.posttrain --config=configs/pubmed_plm.py --output=runs/plm_pubmed
  python -m msfml_jax.main --config=configs/pubmed_plm.py --config.plm.model=runs/plm_pubmed \
      --workdir=runs/pubmed_plm
Records longer than config.plm.max_length pieces are encoded in half-overlapping windows for the
word vectors; post-training crops each record to plm.posttrain.max_length pieces around its
entities. Post-train one encoder per fold (its train split excludes the test fold).
"""

import importlib.util
import pathlib

from msfml_jax.plm import pipeline


def _sibling(name: str):
  """configs/ is not a package: load configs/<name>.py by path."""
  spec = importlib.util.spec_from_file_location(
      f"_msfml_config_{name}", pathlib.Path(__file__).with_name(f"{name}.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def get_config(arg: str = "ternary,multi"):
  """`arg` = "ARITY,LABELS", as in configs/pubmed.py."""
  c = _sibling("pubmed").get_config(arg)
  c.model.word_input = "plm"
  c.plm = pipeline.plm_config("plm/all-MiniLM-L6-v2")
  c.plm.posttrain.max_length = 512
  c.plm.posttrain.batch_size = 16
  return c
