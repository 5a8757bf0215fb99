"""Small models composed from `dlref`'s modules; their maths lives in those modules."""

from dlref.models.mlp import MLP, MLPCache

__all__ = ["MLP", "MLPCache"]
