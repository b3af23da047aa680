"""Pretrained language model encoders (BERT / RoBERTa) in Flax, loaded from HF checkpoints."""

from msfml_jax.plm.convert import load_checkpoint
from msfml_jax.plm.encoder import Encoder
from msfml_jax.plm.encoder import EncoderConfig
from msfml_jax.plm.encoder import resize_token_embeddings

__all__ = ["Encoder", "EncoderConfig", "load_checkpoint", "resize_token_embeddings"]
