r"""Multi-layer perceptron composed from `dlref.layers`, `dlref.activations`, `dlref.losses` and `dlref.optim`.

The model keeps its parameters in a dict laid out as a stack of `torch.nn.Linear` layers
(`W1` of shape `(widths[1], widths[0])`, `b1`, `W2`, ...), so the same weights can be copied into torch.
All of the maths lives in the modules it calls; this class only wires them together.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dlref import activations, losses
from dlref._checks import as_float_array, check_choice, check_int, check_rng
from dlref.data import minibatches
from dlref.init import uniform
from dlref.layers import linear_backward, linear_forward
from dlref.optim import adam_step

__all__ = ["MLP", "MLPCache"]

# loss name -> (loss, gradient of the mean loss with respect to the network output)
_LOSSES = {
    "cross_entropy": (losses.cross_entropy, losses.cross_entropy_backward),
    "bce_with_logits": (losses.binary_cross_entropy_with_logits,
                        losses.binary_cross_entropy_with_logits_backward),
    "mse": (losses.mse, losses.mse_backward),
}


@dataclass(frozen=True)
class MLPCache:
    """What [`MLP.backward`][dlref.models.mlp.MLP.backward] needs from the forward pass.

    `inputs[l]` is the input of linear layer `l + 1` (the data for `l = 0`), and `pre_activations[l]`
    its output $z$ before the activation.
    """

    inputs: tuple[np.ndarray, ...]
    pre_activations: tuple[np.ndarray, ...]


class MLP:
    r"""A fully connected network: $a_0 = x$, $z_l = a_{l-1} W_l^\top + b_l$, $a_l = f(z_l)$ for hidden
    layers, and the last $z_L$ returned as the output (logits, or a regression value).

    Parameters
    ----------
    widths : sequence of int
        Layer sizes from input to output, e.g. `(64, 128, 10)`; at least two.
    activation : str, default "relu"
        Name of a function of [`dlref.activations`](../activations.md) applied after every hidden layer.
    rng : numpy.random.Generator
        Draws the initial weights.
    activation_kwargs : dict, optional
        Keyword arguments of the activation, e.g. `{"negative_slope": 0.01}` for `leaky_relu`.
    init : callable, optional
        `init(shape, rng=rng)` returning a weight of torch layout `(out, in)`, e.g.
        [`dlref.init.he_normal`][dlref.init.he_normal]; biases then start at zero. By default weights and
        biases are drawn as `torch.nn.Linear` draws them, $U(-1/\sqrt{\text{in}}, 1/\sqrt{\text{in}})$.
    dtype : numpy dtype, default float64

    Examples
    --------
    >>> import numpy as np
    >>> model = MLP((2, 3, 1), activation="tanh", rng=np.random.default_rng(0))
    >>> sorted(model.params), model.params["W1"].shape
    (['W1', 'W2', 'b1', 'b2'], (3, 2))
    >>> model.forward(np.zeros((4, 2)))[0].shape
    (4, 1)
    """

    def __init__(self, widths, activation="relu", *, rng, activation_kwargs=None, init: Callable | None = None,
                 dtype=np.float64):
        widths = tuple(check_int(w, "each width", low=1) for w in widths)
        if len(widths) < 2:
            raise ValueError(f"widths must list at least the input and the output size, e.g. (64, 10); got "
                             f"{widths}.")
        names = sorted(n for n in activations.__all__ if not n.endswith("_backward"))
        if activation not in names:
            raise ValueError(f"activation must be the name of a dlref.activations function, one of "
                             f"{names}; got {activation!r}.")
        check_rng(rng)
        self.widths = widths
        self.activation = activation
        self.activation_kwargs = dict(activation_kwargs or {})
        self._f = getattr(activations, activation)
        self._f_backward = getattr(activations, f"{activation}_backward")
        self.params: dict[str, np.ndarray] = {}
        for layer, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:]), start=1):
            if init is None:
                bound = 1.0 / math.sqrt(n_in)
                self.params[f"W{layer}"] = uniform((n_out, n_in), rng=rng, a=-bound, b=bound, dtype=dtype)
                self.params[f"b{layer}"] = uniform((n_out,), rng=rng, a=-bound, b=bound, dtype=dtype)
            else:
                self.params[f"W{layer}"] = np.asarray(init((n_out, n_in), rng=rng), dtype=dtype)
                self.params[f"b{layer}"] = np.zeros(n_out, dtype=dtype)

    @property
    def n_layers(self) -> int:
        """Number of linear layers."""
        return len(self.widths) - 1

    def n_parameters(self) -> int:
        """Total number of weights and biases, $\\sum_l (n_{l-1} + 1)\\,n_l$."""
        return sum(p.size for p in self.params.values())

    def forward(self, x) -> tuple[np.ndarray, MLPCache]:
        """Output of the network for inputs `x` of shape `(N, widths[0])`, and the cache for backward."""
        a = as_float_array(x, "x")
        if a.ndim != 2 or a.shape[1] != self.widths[0]:
            raise ValueError(f"x must have shape (N, {self.widths[0]}) for widths {self.widths}; got "
                             f"{a.shape}.")
        inputs, pre_activations = [], []
        for layer in range(1, self.n_layers + 1):
            z = linear_forward(a, self.params[f"W{layer}"], self.params[f"b{layer}"])
            inputs.append(a)
            pre_activations.append(z)
            a = self._f(z, **self.activation_kwargs) if layer < self.n_layers else z
        return a, MLPCache(tuple(inputs), tuple(pre_activations))

    def backward(self, dout, cache: MLPCache) -> dict[str, np.ndarray]:
        """Gradients of the loss for every parameter, given `dout` = dL/d(output); same keys as `params`."""
        grads: dict[str, np.ndarray] = {}
        dz = as_float_array(dout, "dout")
        for layer in range(self.n_layers, 0, -1):
            dx, grads[f"W{layer}"], grads[f"b{layer}"] = linear_backward(
                dz, cache.inputs[layer - 1], self.params[f"W{layer}"])
            if layer > 1:
                dz = self._f_backward(dx, cache.pre_activations[layer - 2], **self.activation_kwargs)
        return grads

    def loss_and_grads(self, x, y, loss="cross_entropy") -> tuple[float, dict[str, np.ndarray]]:
        """Mean loss on `(x, y)` and its gradients: one forward and one backward pass."""
        loss_fn, loss_backward = _LOSSES[check_choice(loss, "loss", tuple(_LOSSES))]
        out, cache = self.forward(x)
        return float(loss_fn(out, y)), self.backward(loss_backward(out, y), cache)

    def predict(self, x, loss="cross_entropy") -> np.ndarray:
        """Class indices (`cross_entropy`), 0/1 labels (`bce_with_logits`), or the raw output (`mse`)."""
        out, _ = self.forward(x)
        if loss == "cross_entropy":
            return out.argmax(axis=1)
        if loss == "bce_with_logits":
            return (out > 0).astype(np.int64)
        return out

    def accuracy(self, x, y, loss="cross_entropy") -> float:
        """Fraction of examples whose predicted class equals `y`."""
        return float(np.mean(self.predict(x, loss).reshape(np.shape(y)) == y))

    def fit(self, x, y, *, epochs, batch_size, rng, optimizer=adam_step, optimizer_kwargs=None,
            loss="cross_entropy", validation=None) -> dict[str, list[float]]:
        """Train with mini-batches; returns the per-epoch history.

        Parameters
        ----------
        x, y : numpy.ndarray
            Training inputs `(N, widths[0])` and targets (class indices for `cross_entropy`).
        epochs, batch_size : int
            Passes over the data and examples per update.
        rng : numpy.random.Generator
            Shuffles the data each epoch.
        optimizer : callable, default [`adam_step`][dlref.optim.adam_step]
            Any `dlref.optim` step function, `params, state = optimizer(params, grads, state, **kwargs)`.
        optimizer_kwargs : dict, optional
            Its hyperparameters, e.g. `{"lr": 1e-3}`.
        loss : {"cross_entropy", "bce_with_logits", "mse"}
        validation : tuple (x_val, y_val), optional
            Evaluated after every epoch.

        Returns
        -------
        dict of str to list of float
            `loss` (mean training loss over the epoch's batches), `train_accuracy`, `seconds` (wall time
            of the epoch's updates), and `val_loss`, `val_accuracy` when `validation` is given.
            Accuracies are omitted for `mse`.
        """
        epochs = check_int(epochs, "epochs", low=0)
        loss_fn = _LOSSES[check_choice(loss, "loss", tuple(_LOSSES))][0]
        kwargs = dict(optimizer_kwargs or {})
        history: dict[str, list[float]] = {"loss": [], "seconds": []}
        state = None
        for _ in range(epochs):
            start, batch_losses = time.perf_counter(), []
            for xb, yb in minibatches(x, y, batch_size, rng=rng):
                value, grads = self.loss_and_grads(xb, yb, loss)
                self.params, state = optimizer(self.params, grads, state, **kwargs)
                batch_losses.append(value)
            history["seconds"].append(time.perf_counter() - start)
            history["loss"].append(float(np.mean(batch_losses)))
            if loss != "mse":
                history.setdefault("train_accuracy", []).append(self.accuracy(x, y, loss))
            if validation is not None:
                x_val, y_val = validation
                history.setdefault("val_loss", []).append(float(loss_fn(self.forward(x_val)[0], y_val)))
                if loss != "mse":
                    history.setdefault("val_accuracy", []).append(self.accuracy(x_val, y_val, loss))
        return history
