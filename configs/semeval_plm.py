"""SemEval-2010 Task 8 with contextual word vectors from a (post-trained) PLM (§3.3.2).

  python -m msfml_jax.plm.posttrain --config=configs/semeval_plm.py --output=runs/plm_semeval
  python -m msfml_jax.main --config=configs/semeval_plm.py --config.plm.model=runs/plm_semeval \
      --workdir=runs/semeval_plm
config.plm.model defaults to the MiniLM checkpoint under data_dir (not post-trained). The
schedule, dropouts and averaging are configs/semeval.py's, except word dropout, which drops
GloVe word ids and has nothing to drop in PLM vectors.
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


def get_config():
  c = _sibling("semeval").get_config()
  c.model.word_input = "plm"
  c.model.word_dropout = 0.0  # configs/semeval.py's 0.04 acts on GloVe ids only
  c.plm = pipeline.plm_config("plm/all-MiniLM-L6-v2")
  c.plm.posttrain.max_length = 128   # longest SemEval record: 99 words
  return c
