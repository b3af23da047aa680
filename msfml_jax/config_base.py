"""Defaults shared by every config file under `configs/`.

A config file calls `base_config()` and overrides what its task needs. Every field is
documented here once, and classified once in `FIELD_ROLES` (below the defaults): whether it
changes the preprocessed arrays (the cache key), what is trained (a resume must not change
it), or neither. `check(config)` refuses values the code cannot run with.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import ml_collections

from msfml_jax import cli


def data_config() -> ml_collections.ConfigDict:
  """Input-pipeline settings (everything here is part of the cache key except `buckets`,
  `eval_batch_size`, `max_tokens_per_batch`)."""
  d = ml_collections.ConfigDict()
  d.task = "semeval"            # semeval | tacred | pubmed | custom (msfml_jax/tasks/) (cache key)
  d.train_file = "semeval/train.json"   # relative to data_dir, or absolute (cache key)
  d.dev_file = ""               # "" = no dev split file (cache key)
  d.test_file = "semeval/test.json"     # (cache key)
  d.label_file = ""             # TACRED, custom: labels.txt fixing the label order (cache key)
  # custom task (docs/data_format.md; cache key): the label left out of P/R/F1 ("" = none)
  # and the entities per record (2 or 3).
  d.negative_label = ""
  d.num_entities = 2
  # Where the training data's parse came from, recorded with the run so prediction can warn
  # when it parses with another: parser as "backend:model" ("" = unknown) and its dependency
  # label scheme (clearnlp | ud | stanford | ""). Not part of the cache key.
  d.parser = ""
  d.dep_scheme = ""
  d.directed = False            # SemEval: 19 directed labels instead of 10 undirected (cache key)
  # PubMed n-ary settings (cache key).
  d.arity = "ternary"           # ternary (drug-gene-mutation) | binary (drug-mutation)
  d.label_set = "multi"         # multi (5 classes) | binary (Yes/No)
  d.fold = 0                    # test fold; train = the other four folds
  d.num_folds = 5
  d.dev_holdout = 0             # records held out of train as dev (paper: 200 for PubMed)
  # Vocabulary (cache key).
  d.lowercase = True
  d.min_freq = 1                # words seen fewer times in train map to <unk> unless in GloVe
  d.glove_file = "glove/glove.6B.50d.txt.gz"   # "" = random word vectors of `word_dim`
  d.word_dim = 50               # used only when glove_file is ""
  # Length policy (cache key): AGGCN drops train records over 400 (ternary) / 300 (binary)
  # tokens; 0 keeps everything. Dropped records are counted and logged, never silent.
  d.max_train_length = 0
  # Shapes: records are padded to the smallest bucket that holds them, so jit compiles at
  # most len(buckets) programs per batch size. Longest PubMed record: 1302 tokens.
  d.buckets = (32, 64, 128, 256, 512, 1024, 1536)
  d.max_tokens_per_batch = 8192  # caps batch_size * bucket for long buckets (eval)
  d.eval_batch_size = 100
  return d


def model_config() -> ml_collections.ConfigDict:
  """Model settings (paper §4). Ablations M1-M5 are switches here."""
  m = ml_collections.ConfigDict()
  m.word_input = "glove"        # glove | plm (batch carries `word_vectors`)
  m.freeze_word_embeddings = False
  m.pos_dim = 30                # paper §5.1.2
  m.position_dim = 30
  m.max_relative_position = 150  # relative positions are clipped to +-this
  m.hidden_dim = 200            # width of x (MSCNN), y (MSGCN) and the fused features
  m.lstm_hidden = 100           # per direction; h_glo has 2 * lstm_hidden = hidden_dim
  # MSCNN (§4.2.1): multi | plain (one undilated conv, kernel 3) | none (M1: removed).
  m.mscnn = "multi"
  m.mscnn_kernels = (3, 4, 5)
  m.mscnn_dilation = 2
  m.mscnn_vertical = True       # the vertical conv over the embedding dimension (kernel d/2)
  # concat (+ linear + ReLU to hidden_dim) | stack (concatenated only, eq. 3) | sum
  m.mscnn_combine = "concat"
  m.mscnn_vertical_channels = 4  # feature maps of the vertical convolution
  # MSGCN (§4.2.2): multi | plain (GCN on the original graph only) | none (M2: removed).
  m.msgcn = "multi"
  m.gcn_layers = 2              # layers on the original graph; coarse and refined get one each
  # The refined graph's adjacency (§4.2.2, "equals that in its corresponding coarsening
  # graph" / "restore the original topological structure"): lifted = tokens linked when
  # their hypernodes are the same or adjacent; original = the dependency graph itself.
  m.refined_adjacency = "lifted"
  # y = ReLU(Linear([original; lifted coarse; refined])) (combine) or the refined graph's GCN
  # output itself (refined: eq. 4-5 with no layer of ours after them).
  m.msgcn_output = "combine"
  # "layernorm": a bias-free LayerNorm before the final ReLU of the MSCNN's and the MSGCN's
  # combining layers, which keeps those ReLUs alive at high SGD rates (docs/results.md);
  # "token_layernorm": each unit centred over the record's tokens before it, so that no unit
  # is off at every token of a record (mscnn.branch_activation).
  m.branch_norm = "none"
  # f of those two combining layers: relu (the paper's f) | leaky_relu (slope 0.01) | gelu.
  # Ours, not the paper's: a unit below zero at every token still gets a gradient, so it can
  # come back (mscnn.branch_activation).
  m.branch_unit = "relu"
  # Bi-attention scores h^loc . h^glo as eq. 8 (none) or divided by sqrt(hidden_dim) (sqrt_d,
  # scaled dot-product attention).
  m.attention_scale = "none"
  m.input_dropout = 0.5
  # Word dropout: in training, a real token's word id becomes <unk> with this probability
  # (AGGCN's --word_dropout, 0.04 in its SemEval script's defaults; GloVe input only).
  m.word_dropout = 0.0
  # Dropout on the BiLSTM's outputs h^glo (AGGCN's --rnn_dropout, 0.5 there) and on GCN
  # outputs that feed another GCN layer (AGGCN's and C-GCN's --gcn_dropout, 0.3 there).
  m.rnn_dropout = 0.0
  m.gcn_dropout = 0.0
  m.dropout = 0.3
  m.entity_pooling = "max"      # max | mean over each entity's tokens in h
  # Compute dtype of activations and matmuls: float32 | bfloat16 (parameters, optimizer
  # state and losses stay float32).
  m.dtype = "float32"
  # Round hidden_dim (and 2 * lstm_hidden) up to a multiple of this, and pad the token
  # features t with zero columns to one (0 = off: the paper's 200 / 100 / 140). For TPU
  # matrix units (128): 256 / 128 / 256, a wider model than the paper's; docs/results.md
  # measures it on CPU.
  m.width_multiple = 0
  # Bi-LSTM: scan (flax cells, input projection inside the recurrence) | hoisted (input
  # projection as one matmul over all time steps); same parameters and function.
  m.lstm_impl = "scan"
  return m


def loss_config() -> ml_collections.ConfigDict:
  """Loss settings (eq. 11-16). Margins are not given in the paper; 1.0 is our choice."""
  l = ml_collections.ConfigDict()
  l.msml = True                 # False = M3 (w/o MSML): cross-entropy only, no triplets
  l.alpha = 0.5                 # weight of the relation triplet loss on z (eq. 11)
  l.beta = 0.03                 # weight of the feature triplet losses on (x, y, y+-) (eq. 12-14)
  l.margin_rel = 1.0            # m1
  l.margin_rep = 1.0            # m2
  # L2-normalise z, x, y before the triplet distances. The literal eq. 11-14 (False) have a
  # trivial minimum at x, y -> 0: in our first SemEval and PubMed runs the MSGCN output died
  # (y == 0 for every record, rep stuck at 2 * m2), leaving a BiLSTM-only model.
  l.normalize_embeddings = True
  l.hard_negatives = True       # S- from the class ranked second; False = random other class
  l.ce_on = "anchor"            # anchor (eq. 16: one CE term per training sample) | all three
  # False: anchors of the task's negative label (SemEval's Other, TACRED's no_relation) get no
  # triplet terms, only cross-entropy; its records still serve as S- of other anchors. Ours,
  # not the paper's: the negative class is what no relation holds, so two of its records
  # share nothing for eq. 11-14 to pull together (CR-CNN, dos Santos et al. 2015, likewise
  # gives Other no class embedding in its ranking loss).
  l.negative_anchor_triplets = True
  # Subtract from x and y their mean over the batch's real samples before the feature triplet
  # loss (batch) or not (none, the paper's eq. 12-14). Centred, the loss no longer sees a
  # shift shared by every sample, so it cannot push a unit's bias below zero (the late death
  # of x in configs/semeval_fast.py's runs follows that loss; docs/results.md).
  l.feature_centering = "none"
  # AGGCN's `--pooling_l2` (the paper's "L2-regularization coefficient 0.002" as AGGCN, whose
  # settings §5.1.2 follows, applies it): pooled_l2 * mean over samples of ||maxpool(h)||^2.
  l.pooled_l2 = 0.0
  return l


def optim_config() -> ml_collections.ConfigDict:
  """Optax SGD with weight decay (lambda = 0.002, §5.1.2) and per-epoch decay 0.9."""
  o = ml_collections.ConfigDict()
  # The paper gives no learning rate. At 0.5 (C-GCN's usual SGD rate) the MSGCN branch dies
  # within the first epoch (every pooled y exactly 0: see `y_dead` in metrics.jsonl) and the
  # model degrades to its BiLSTM; 0.1 keeps it alive.
  o.learning_rate = 0.1
  o.lr_decay = 0.9              # the factor of each decay
  o.decay_epoch = 5
  # per_epoch: x lr_decay at the end of every epoch after decay_epoch (a function of the step);
  # on_plateau: AGGCN's rule, x lr_decay at the end of an epoch after decay_epoch whose mean
  # training loss rose by more than 0.001 over the previous epoch's (state.lr_scale).
  o.decay_rule = "per_epoch"
  o.weight_decay = 0.002
  # False: the word-embedding table is left out of the weight decay (its test-only rows get
  # no gradient, so decay only shrinks them towards 0; docs/results.md).
  o.decay_word_embeddings = True
  o.max_grad_norm = 5.0
  o.momentum = 0.0
  # The rate's floor: neither rule decays it below this (0 = no floor). The dropout runs of
  # configs/semeval.py peak at rates 0.1-0.2 and lose a point as the rate decays further.
  o.min_learning_rate = 0.0
  # A linear warm-up of the rate over this many epochs from the first step (0 = none; ours,
  # not the paper's): at lr 0.5 the first steps, on randomly initialised upper layers, move
  # the GloVe rows of training words furthest from those of words seen only at test time.
  o.warmup_epochs = 0.0
  # Evaluate (and predict with) an exponential moving average of the parameters, decay
  # min(ema_decay, (1 + t) / (10 + t)) at step t (Polyak averaging as in TF's
  # ExponentialMovingAverage); 0 = off. The average is kept in the train state.
  o.ema_decay = 0.0
  # From the first step of this (1-based) epoch on, the average is instead the uniform mean
  # of the parameters after every step (tail or Polyak-Ruppert averaging, as SWA); 0 = off.
  # Needs ema_decay > 0 (the mean lives in the moving average's slot). Evaluation only:
  # training never reads the average, so runs that differ only here train identically.
  o.average_start_epoch = 0
  o.msgcn_lr_scale = 1.0        # multiplies the MSGCN's updates (keeps its ReLUs alive at high lr)
  o.mscnn_lr_scale = 1.0        # multiplies the MSCNN's updates
  return o


def plm_config(model: str = "") -> ml_collections.ConfigDict:
  """Contextual-embedding input and post-training settings (paper §3.3.2, `msfml_jax.plm`)."""
  p = ml_collections.ConfigDict()
  p.model = model               # dir (absolute, else data_dir-relative, else cwd) or HF name
  p.markers = True              # insert [E1] ... [E1] etc. when computing word vectors
  p.max_length = 512            # pieces per encoder call; longer records use windows
  p.batch_size = 16             # windows per encoder call (inference)
  p.vector_dtype = "float16"    # storage of cached vectors; batches are float32
  t = ml_collections.ConfigDict()  # post-training (plm/posttrain.py)
  t.num_epochs = 3
  t.batch_size = 32
  t.learning_rate = 3e-5
  t.weight_decay = 0.01
  t.warmup_fraction = 0.1
  t.max_grad_norm = 1.0
  t.max_length = 128            # pieces per record; longer ones are cropped around entities
  t.type_loss_weight = 1.0      # entity-type prediction loss (skipped without types)
  t.pool_markers = False        # average each entity's markers with its word pieces
  t.max_train_examples = 0      # 0 = all (quick runs)
  t.max_eval_examples = 0
  p.posttrain = t
  return p


def base_config() -> ml_collections.ConfigDict:
  """The full default config (SemEval, GloVe 6B-50d)."""
  c = ml_collections.ConfigDict()
  c.seed = 42
  c.data_dir = ""               # "" -> $MSFML_DATA, ../shared/data, ~/.cache/msfml_jax/data
  c.cache_dir = ""              # "" -> $MSFML_CACHE, ~/.cache/msfml_jax/cache
  c.data = data_config()
  c.model = model_config()
  c.loss = loss_config()
  c.optim = optim_config()
  c.batch_size = 50             # anchors per step; each step sees 3 * batch_size samples
  # Rows of each role's batch rounded up to a multiple of this with inert padding rows
  # (weight 0), for accelerators whose matrix units want multiples of 8 (0 = off; the
  # measurements in docs/results.md keep it off on CPU).
  c.batch_row_multiple = 0
  c.num_epochs = 150            # paper §5.1.2 (SemEval, last-epoch checkpoint)
  c.max_train_examples = 0      # 0 = all; >0 takes the first N (tests, quick runs)
  c.max_eval_examples = 0
  c.eval_every_epochs = 1
  c.eval_splits = ("dev", "test")  # evaluated when present
  c.select_metric = ""          # "" = the task's main metric on dev (else on test)
  c.checkpoint_every_steps = 0  # 0 = at every evaluation only
  c.keep_checkpoints = 3
  c.log_every_steps = 50        # training metrics are fetched from the device (and NaN-checked)
                                # every this many steps, before each save and at epoch end
  c.prefetch_batches = 2        # batches built and transferred ahead in a background thread
  # JAX's persistent compilation cache: a resumed or repeated run loads its XLA programs.
  # Relative paths are inside the cache directory (cache_dir); "" disables it.
  c.compilation_cache_dir = "xla"
  c.distributed = False         # jax.distributed.initialize() (multi-host)
  c.plm = plm_config()          # used when model.word_input == "plm"
  return c


# ---------------------------------------------------------------------------------------------
# What each field changes: the one declaration behind the cache key and resume safety.
#
#   ARRAYS    changes the preprocessed arrays: part of the cache key (data.* fields), and a
#             resume must not change it;
#   TRAINING  changes what is trained (parameter shapes, the data or its order, the loss, the
#             optimizer state's structure): a resume must not change it;
#   FREE      paths, schedule length and learning rates, evaluation, logging, batching of
#             evaluation: may change between a run and its resume.
# An entry names a field or a whole group ("model": every model.* field); the longest match
# wins. Every field of base_config() must match an entry (tests/test_config_roles.py walks
# them); a field that matches none is treated as ARRAYS, the safe side, until classified.

ARRAYS, TRAINING, FREE = "arrays", "training", "free"

FIELD_ROLES = {
    "seed": TRAINING,             # in the cache key too when data.dev_holdout > 0 (cache_key.py)
    "data_dir": FREE,             # the key hashes file contents, not where they are
    "cache_dir": FREE,
    "batch_size": TRAINING,
    "batch_row_multiple": TRAINING,  # the dropout masks are drawn per row
    "num_epochs": FREE,           # a finished run can be extended
    "max_train_examples": TRAINING,
    "max_eval_examples": FREE,
    "eval_every_epochs": FREE,
    "eval_splits": FREE,
    "select_metric": FREE,
    "checkpoint_every_steps": FREE,
    "keep_checkpoints": FREE,
    "log_every_steps": FREE,
    "distributed": FREE,
    "compilation_cache_dir": FREE,  # where XLA's compiled programs are kept
    "prefetch_batches": FREE,     # how far the input pipeline runs ahead
    # data: everything changes the arrays except how evaluation batches are cut.
    "data.task": ARRAYS,
    "data.train_file": ARRAYS,
    "data.dev_file": ARRAYS,
    "data.test_file": ARRAYS,
    "data.label_file": ARRAYS,
    "data.negative_label": ARRAYS,  # custom task (kept in the key as before)
    "data.num_entities": ARRAYS,
    "data.parser": FREE,          # where the parse came from: prediction's mismatch warning
    "data.dep_scheme": FREE,
    "data.directed": ARRAYS,
    "data.arity": ARRAYS,
    "data.label_set": ARRAYS,
    "data.fold": ARRAYS,
    "data.num_folds": ARRAYS,
    "data.dev_holdout": ARRAYS,
    "data.lowercase": ARRAYS,
    "data.min_freq": ARRAYS,
    "data.glove_file": ARRAYS,
    "data.word_dim": ARRAYS,
    "data.max_train_length": ARRAYS,
    "data.buckets": FREE,         # padding only; checked against record lengths at load
    "data.max_tokens_per_batch": FREE,
    "data.eval_batch_size": FREE,
    "model": TRAINING,
    "loss": TRAINING,
    "optim.learning_rate": FREE,
    "optim.lr_decay": FREE,
    "optim.decay_epoch": FREE,
    "optim.weight_decay": FREE,
    "optim.decay_word_embeddings": FREE,  # a mask: no optimizer state of its own
    "optim.max_grad_norm": FREE,
    "optim.momentum": TRAINING,   # 0 has no momentum state: the optimizer state differs
    "optim.msgcn_lr_scale": FREE,  # keeps the optimizer state's structure (steps.py)
    "optim.mscnn_lr_scale": FREE,  # likewise
    "optim.decay_rule": FREE,     # the schedule, like lr_decay (lr_scale is always in the state)
    "optim.min_learning_rate": FREE,  # the schedule
    "optim.warmup_epochs": FREE,  # the schedule
    "optim.ema_decay": TRAINING,  # 0 has no average in the state: the state's structure differs
    "optim.average_start_epoch": FREE,  # what the average is, not its place in the state
    # PLM input: the encoder and how its vectors are made change the inputs.
    "plm.model": TRAINING,
    "plm.markers": TRAINING,
    "plm.max_length": TRAINING,
    "plm.vector_dtype": TRAINING,
    "plm.batch_size": FREE,       # windows per encoder call
    "plm.posttrain": FREE,        # read by msfml_jax.plm.posttrain only
}


def field_role(name: str) -> str | None:
  """The role of dotted field `name` (longest matching FIELD_ROLES entry), None if unlisted."""
  parts = name.split(".")
  for n in range(len(parts), 0, -1):
    role = FIELD_ROLES.get(".".join(parts[:n]))
    if role is not None:
      return role
  return None


def resume_sensitive(name: str) -> bool:
  """Whether a resume must refuse a change of `name` (unlisted fields: yes)."""
  return field_role(name) != FREE


def in_cache_key(name: str) -> bool:
  """Whether data field `name` (dotted, `data.`...) is part of the cache key (unlisted: yes)."""
  return field_role(name) in (ARRAYS, None)


def newer_setting_difference(name: str, value: Any) -> str | None:
  """'name: (absent, i.e. the default D) -> value' when a run saved before setting `name`
  existed is asked to continue with a value other than the default, else None.

  The code that wrote such a run behaved as the setting's default (a new field's default
  keeps the old behaviour), so only the default continues it; settings that do not change
  what is trained (not `resume_sensitive`) never differ. Checkpoint resume
  (`msfml_jax.checkpoints`) and finished suite runs (`tools/reproduce.py`) both ask here.
  """
  defaults = json_defaults()
  if not resume_sensitive(name) or name not in defaults or _as_json(value) == defaults[name]:
    return None
  return f"{name}: (absent, i.e. the default {defaults[name]!r}) -> {_as_json(value)!r}"


@functools.lru_cache(maxsize=1)
def json_defaults() -> dict[str, Any]:
  """{dotted name: default} of `base_config()`, JSON-normalised (as a saved run's config
  reads); built once per process. A run saved before a setting existed ran as its default."""
  return {k: _as_json(v) for k, v in flat_fields(base_config()).items()}


def _as_json(value: Any) -> Any:
  """`value` as a JSON file stores it (tuples become lists), so saved and live values compare."""
  return json.loads(json.dumps(value, default=str))


def flat_fields(config: ml_collections.ConfigDict) -> dict:
  """{dotted name: value} of every leaf field of `config`."""
  out = {}
  for key, value in config.items():
    if isinstance(value, ml_collections.ConfigDict):
      out.update({f"{key}.{k}": v for k, v in flat_fields(value).items()})
    else:
      out[key] = value
  return out


# ---------------------------------------------------------------------------------------------
# Values: closed choices and ranges, checked before any work starts (`check`).

class ConfigError(cli.UserError, ValueError):
  """A config value outside what the code accepts."""


CHOICES = {
    "data.arity": ("ternary", "binary"),
    "data.label_set": ("multi", "binary"),
    "model.word_input": ("glove", "plm"),
    "model.mscnn": ("multi", "plain", "none"),
    "model.msgcn": ("multi", "plain", "none"),
    "model.mscnn_combine": ("concat", "stack", "sum"),
    "model.msgcn_output": ("combine", "refined"),
    "model.entity_pooling": ("max", "mean"),
    "model.refined_adjacency": ("lifted", "original"),
    "model.branch_norm": ("none", "layernorm", "token_layernorm"),
    "model.branch_unit": ("relu", "leaky_relu", "gelu"),
    "model.attention_scale": ("none", "sqrt_d"),
    "model.lstm_impl": ("scan", "hoisted"),
    "optim.decay_rule": ("per_epoch", "on_plateau"),
    "loss.ce_on": ("anchor", "all"),
    "loss.feature_centering": ("none", "batch"),
}
# Integer fields and their smallest valid value.
MINIMUM = {"batch_size": 1, "batch_row_multiple": 0, "model.width_multiple": 0,
           "num_epochs": 0, "eval_every_epochs": 1, "keep_checkpoints": 1,
           "log_every_steps": 1, "max_train_examples": 0, "max_eval_examples": 0,
           "checkpoint_every_steps": 0, "data.eval_batch_size": 1,
           "data.max_tokens_per_batch": 1, "data.num_folds": 1, "data.fold": 0,
           "data.dev_holdout": 0, "data.min_freq": 0, "data.max_train_length": 0,
           "data.word_dim": 1, "model.gcn_layers": 1, "model.hidden_dim": 1,
           "model.lstm_hidden": 1, "optim.average_start_epoch": 0}
# Probabilities of dropping something, and the average's decay: in [0, 1).
RATES = ("model.input_dropout", "model.word_dropout", "model.rnn_dropout", "model.gcn_dropout",
         "model.dropout", "optim.ema_decay")


def check(config: ml_collections.ConfigDict) -> None:
  """Raises ConfigError naming the first field whose value the code cannot run with."""
  flat = flat_fields(config)
  for name, allowed in CHOICES.items():
    if name in flat and flat[name] not in allowed:
      raise ConfigError(f"config: {name}={flat[name]!r} is not one of {', '.join(allowed)}")
  for name, low in MINIMUM.items():
    if name in flat and (not isinstance(flat[name], int) or flat[name] < low):
      raise ConfigError(f"config: {name}={flat[name]!r} must be an integer >= {low}")
  for name in RATES:
    if name in flat and not 0 <= flat[name] < 1:
      raise ConfigError(f"config: {name}={flat[name]!r} must be in [0, 1)")
  if flat.get("optim.average_start_epoch", 0) and not flat.get("optim.ema_decay", 0.0) > 0:
    raise ConfigError("config: optim.average_start_epoch needs optim.ema_decay > 0 (the "
                      "uniform mean is kept in the moving average's slot)")
  if not flat.get("optim.min_learning_rate", 0.0) >= 0:
    raise ConfigError(f"config: optim.min_learning_rate={flat['optim.min_learning_rate']!r} "
                      "must be >= 0")
  from msfml_jax import tasks  # pylint: disable=import-outside-toplevel (tasks import the data code)
  if config.data.task not in tasks.TASKS:
    raise ConfigError(f"config: data.task={config.data.task!r} is not one of "
                      f"{', '.join(tasks.TASKS)}")
  d = config.data
  if d.fold >= d.num_folds:
    raise ConfigError(f"config: data.fold={d.fold} must be < data.num_folds={d.num_folds}")
  if d.dev_file and d.dev_holdout > 0:
    raise ConfigError("config: set either data.dev_file or data.dev_holdout, not both")
  buckets = tuple(d.buckets)
  if not buckets or any(not isinstance(b, int) or b < 1 for b in buckets):
    raise ConfigError(f"config: data.buckets={buckets!r} must be positive integers")
  if config.model.word_input == "plm" and not config.plm.model:
    raise ConfigError("config: model.word_input='plm' needs plm.model (an encoder directory)")
  if config.model.word_input == "plm" and config.model.word_dropout > 0:
    raise ConfigError("config: model.word_dropout drops GloVe word ids; with "
                      "model.word_input='plm' it would do nothing: set it to 0")


def from_saved(saved: dict) -> ml_collections.ConfigDict:
  """The config a checkpoint was written with, on top of today's defaults.

  A setting added after the checkpoint was written takes its default (what that run did),
  so older workdirs stay readable; JSON lists go back to tuples where the default is one.
  """
  config = base_config()

  def merge(base: ml_collections.ConfigDict, values: dict) -> None:
    for key, value in values.items():
      if isinstance(value, dict) and isinstance(base.get(key), ml_collections.ConfigDict):
        merge(base[key], value)
      elif isinstance(base.get(key), tuple) and isinstance(value, list):
        base[key] = tuple(value)
      else:
        base[key] = value

  merge(config, saved)
  return config
