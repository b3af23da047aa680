"""Pretrained language model encoders (BERT / RoBERTa) in Flax, loaded from HF checkpoints.

Post-training (§3.3.2) is `msfml_jax.plm.posttrain` (not imported here: it pulls in optax and
orbax); `load_word_vectors` gives MSFML its cached PLM word vectors.
"""

from msfml_jax.plm.convert import load_checkpoint
from msfml_jax.plm.encoder import Encoder
from msfml_jax.plm.encoder import EncoderConfig
from msfml_jax.plm.encoder import resize_token_embeddings
from msfml_jax.plm.pipeline import load_word_vectors
from msfml_jax.plm.pipeline import plm_config

__all__ = ["Encoder", "EncoderConfig", "load_checkpoint", "load_word_vectors", "plm_config",
           "resize_token_embeddings"]
