"""The torch twin of a `dlref.models.MLP`, with its weights copied in: the oracle of the model tests."""

import torch

from dlref.models import MLP

TORCH_ACTIVATIONS = {
    "relu": lambda kwargs: torch.nn.ReLU(),
    "tanh": lambda kwargs: torch.nn.Tanh(),
    "silu": lambda kwargs: torch.nn.SiLU(),
    "gelu": lambda kwargs: torch.nn.GELU(),
    "leaky_relu": lambda kwargs: torch.nn.LeakyReLU(kwargs.get("negative_slope", 0.01)),
}


def torch_copy(model: MLP) -> torch.nn.Sequential:
    """A float64 `torch.nn.Sequential` computing what `model` computes, from the same weights."""
    layers = []
    for layer in range(1, model.n_layers + 1):
        W = model.params[f"W{layer}"]
        linear = torch.nn.Linear(W.shape[1], W.shape[0], dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(W))
            linear.bias.copy_(torch.tensor(model.params[f"b{layer}"]))
        layers.append(linear)
        if layer < model.n_layers:
            layers.append(TORCH_ACTIVATIONS[model.activation](model.activation_kwargs))
    return torch.nn.Sequential(*layers)
