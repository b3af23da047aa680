"""TACRED's exact file layout on a handful of hand-written records (tests/fixtures/tacred/).

For loader and pipeline tests without the licensed data: random word vectors, tiny model.
  python tools/preprocess.py --config=configs/tacred_fixture.py
"""

import pathlib

from msfml_jax import config_base

# The fixtures live in the repository, found from this file so any working directory works.
_FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def get_config():
  c = config_base.base_config()
  c.data_dir = str(_FIXTURES)
  c.data.task = "tacred"
  c.data.train_file = "tacred/train.json"
  c.data.dev_file = "tacred/dev.json"
  c.data.test_file = "tacred/test.json"
  c.data.label_file = "tacred/labels.txt"
  c.data.glove_file = ""        # no GloVe in the fixture: random vectors of word_dim
  c.data.word_dim = 16
  c.data.buckets = (16, 32)
  c.model.hidden_dim = 16
  c.model.lstm_hidden = 8
  c.model.pos_dim = 4
  c.model.position_dim = 4
  c.batch_size = 2
  c.num_epochs = 1
  c.eval_splits = ("dev", "test")
  return c
