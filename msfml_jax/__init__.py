"""msfml_jax: Multi-Scale Feature and Metric Learning for Relation Extraction in JAX/Flax."""

__version__ = "0.1.0"
