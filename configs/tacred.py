"""TACRED (LDC2018T24): 42 labels, micro-F1 without no_relation.

TACRED is licensed; point `data.train_file`/`dev_file`/`test_file` at your copy, e.g.
  --config.data.train_file=/data/tacred/train.json
"""

from msfml_jax import config_base


def get_config():
  c = config_base.base_config()
  c.data.task = "tacred"
  c.data.train_file = "tacred/train.json"
  c.data.dev_file = "tacred/dev.json"
  c.data.test_file = "tacred/test.json"
  c.data.label_file = "tacred/labels.txt"
  c.loss.alpha = 0.7   # §5.1.2
  c.loss.beta = 0.05
  c.num_epochs = 100
  c.optim.learning_rate = 0.5
  c.eval_splits = ("dev", "test")
  return c
