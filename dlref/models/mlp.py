r"""Multi-layer perceptron composed from `dlref.layers`, `dlref.activations`, `dlref.losses` and `dlref.optim`.

The model keeps its parameters in a dict laid out as a stack of `torch.nn.Linear` layers
(`W1` of shape `(widths[1], widths[0])`, `b1`, `W2`, ...), so the same weights can be copied into torch.
All of the maths lives in the modules it calls; this class only wires them together.

Optional regularisers, all off by default: dropout after every hidden activation, batch normalisation
between every hidden linear layer and its activation (torch's `Linear -> BatchNorm1d -> activation ->
Dropout` order), L1 and L2 penalties on the weights, and early stopping on the validation loss.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dlref import activations, losses
from dlref._checks import as_float_array, check_bool, check_choice, check_int, check_real, check_rng
from dlref.data import minibatches
from dlref.init import uniform
from dlref.layers import (BatchNormCache, _affine, _affine_grads, batchnorm_backward, batchnorm_forward,
                          dropout_backward, dropout_forward)
from dlref.optim import _trusted_inputs, adam_step

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
    its output $z$ before the activation (after batch normalisation, when the model has it).
    `dropout_masks[l]` and `batchnorm_caches[l]` belong to hidden layer `l + 1`; the masks are empty
    without dropout or in evaluation mode, the batch-norm caches without batch normalisation.
    """

    inputs: tuple[np.ndarray, ...]
    pre_activations: tuple[np.ndarray, ...]
    dropout_masks: tuple[np.ndarray, ...] = ()
    batchnorm_caches: tuple[BatchNormCache, ...] = ()


class MLP:
    r"""A fully connected network: $a_0 = x$, $z_l = a_{l-1} W_l^\top + b_l$, $a_l = f(z_l)$ for hidden
    layers, and the last $z_L$ returned as the output (logits, or a regression value).

    Parameters
    ----------
    widths : sequence of int
        Layer sizes from input to output, e.g. `(64, 128, 10)`; at least two.
    activation : str, default "relu"
        Name of a function of [`dlref.activations`][dlref.activations] applied after every hidden layer.
    rng : numpy.random.Generator
        Draws the initial weights.
    activation_kwargs : dict, optional
        Keyword arguments of the activation, e.g. `{"negative_slope": 0.01}` for `leaky_relu`.
    init : callable, optional
        `init(shape, rng=rng)` returning a weight of torch layout `(out, in)`, e.g.
        [`dlref.init.he_normal`][dlref.init.he_normal]; biases then start at zero. By default weights and
        biases are drawn as `torch.nn.Linear` draws them, $U(-1/\sqrt{\text{in}}, 1/\sqrt{\text{in}})$.
    dtype : numpy dtype, default float64
    dropout : float, default 0.0
        Probability $p \in [0, 1)$ of zeroing each hidden activation in training mode
        ([`dropout_forward`][dlref.layers.dropout_forward], after the activation, as `torch.nn.Dropout`).
    batch_norm : bool, default False
        Batch-normalise every hidden layer's linear output before its activation
        ([`batchnorm_forward`][dlref.layers.batchnorm_forward] with torch's momentum 0.1 and eps 1e-5).
        Adds the parameters `gamma{l}` (ones) and `beta{l}` (zeros) after `W{l}`, `b{l}`, laid out as
        `torch.nn.BatchNorm1d`'s `weight` and `bias`, and the buffers `running_mean{l}` (zeros) and
        `running_var{l}` (ones) in `buffers`.

    Attributes
    ----------
    params : dict of str to numpy.ndarray
        The trainable parameters, in the order torch's `nn.Sequential` would list them.
    buffers : dict of str to numpy.ndarray
        Batch normalisation's running statistics (empty without it): state, not trained by gradients.

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
                 dtype=np.float64, dropout=0.0, batch_norm=False):
        widths = tuple(check_int(w, "each width", low=1) for w in widths)
        if len(widths) < 2:
            raise ValueError(f"widths must list at least the input and the output size, e.g. (64, 10); got "
                             f"{widths}.")
        names = sorted(n for n in activations.__all__ if not n.endswith("_backward"))
        if activation not in names:
            raise ValueError(f"activation must be the name of a dlref.activations function, one of "
                             f"{names}; got {activation!r}.")
        check_rng(rng)
        self.dropout = check_real(dropout, "dropout", low=0.0, high=1.0)
        if self.dropout == 1.0:
            raise ValueError("dropout must be below 1: with p = 1 every hidden activation is zeroed and the "
                             "network cannot learn. Typical values are 0.1 to 0.5.")
        self.batch_norm = check_bool(batch_norm, "batch_norm")
        self.widths = widths
        self.activation = activation
        self.activation_kwargs = dict(activation_kwargs or {})
        self._f = getattr(activations, activation)
        self._f_backward = getattr(activations, f"{activation}_backward")
        self.params: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}
        for layer, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:]), start=1):
            if init is None:
                bound = 1.0 / math.sqrt(n_in)
                self.params[f"W{layer}"] = uniform((n_out, n_in), rng=rng, a=-bound, b=bound, dtype=dtype)
                self.params[f"b{layer}"] = uniform((n_out,), rng=rng, a=-bound, b=bound, dtype=dtype)
            else:
                self.params[f"W{layer}"] = np.asarray(init((n_out, n_in), rng=rng), dtype=dtype)
                self.params[f"b{layer}"] = np.zeros(n_out, dtype=dtype)
            if self.batch_norm and layer < self.n_layers:
                self.params[f"gamma{layer}"] = np.ones(n_out, dtype=dtype)
                self.params[f"beta{layer}"] = np.zeros(n_out, dtype=dtype)
                self.buffers[f"running_mean{layer}"] = np.zeros(n_out, dtype=dtype)
                self.buffers[f"running_var{layer}"] = np.ones(n_out, dtype=dtype)

    @property
    def n_layers(self) -> int:
        """Number of linear layers."""
        return len(self.widths) - 1

    def n_parameters(self) -> int:
        """Total number of trainable parameters: $\\sum_l (n_{l-1} + 1)\\,n_l$ weights and biases, plus
        $2 n_l$ batch-norm scales and shifts per hidden layer when the model has batch normalisation."""
        return sum(p.size for p in self.params.values())

    def forward(self, x, *, training=False, rng=None) -> tuple[np.ndarray, MLPCache]:
        """Output of the network for inputs `x` of shape `(N, widths[0])`, and the cache for backward.

        `training=True` is torch's `model.train()`: dropout masks are drawn from `rng`, and batch
        normalisation uses the batch's statistics and updates the running ones in `buffers`. The default
        is `model.eval()`: no dropout, running statistics, nothing updated. Without dropout and batch
        normalisation the two modes compute the same thing.
        """
        return self._forward(self._check_inputs(x), check_bool(training, "training"), rng)

    def _check_inputs(self, x) -> np.ndarray:
        x = as_float_array(x, "x")
        if x.ndim != 2 or x.shape[1] != self.widths[0]:
            raise ValueError(f"x must have shape (N, {self.widths[0]}) for widths {self.widths}; got "
                             f"{x.shape}.")
        return x

    def _forward(self, a: np.ndarray, training: bool, rng) -> tuple[np.ndarray, MLPCache]:
        """`forward` on inputs already checked; the parameters are the model's own, checked when made."""
        inputs, pre_activations, dropout_masks, batchnorm_caches = [], [], [], []
        for layer in range(1, self.n_layers + 1):
            z = _affine(a, self.params[f"W{layer}"], self.params[f"b{layer}"])
            inputs.append(a)
            hidden = layer < self.n_layers
            if hidden and self.batch_norm:
                mean, var = f"running_mean{layer}", f"running_var{layer}"
                z, self.buffers[mean], self.buffers[var], norm_cache = batchnorm_forward(
                    z, self.params[f"gamma{layer}"], self.params[f"beta{layer}"], self.buffers[mean],
                    self.buffers[var], training)
                batchnorm_caches.append(norm_cache)
            pre_activations.append(z)
            a = self._f(z, **self.activation_kwargs) if hidden else z
            if hidden and self.dropout and training:
                a, mask = dropout_forward(a, self.dropout, rng)
                dropout_masks.append(mask)
        return a, MLPCache(tuple(inputs), tuple(pre_activations), tuple(dropout_masks),
                           tuple(batchnorm_caches))

    def backward(self, dout, cache: MLPCache, *, return_input_grad: bool = False):
        """Gradients of the loss for every parameter, given `dout` = dL/d(output); same keys as `params`.

        With `return_input_grad=True`, returns `(grads, dx)` where `dx` = dL/d(input), the gradient that
        a network feeding this one needs (a GAN's generator is trained through its discriminator).
        """
        dout = as_float_array(dout, "dout")
        expected = cache.pre_activations[-1].shape
        if dout.shape != expected:
            raise ValueError(f"dout must have the shape of the network's output, {expected}; got {dout.shape}. "
                             f"Pass the gradient of the loss with respect to forward's output.")
        grads, dx = self._backward(dout, cache)
        return (grads, dx) if return_input_grad else grads

    def _backward(self, dz: np.ndarray, cache: MLPCache) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """`backward` on an upstream gradient already checked: the parameters' gradients and dL/dx."""
        grads: dict[str, np.ndarray] = {}
        for layer in range(self.n_layers, 0, -1):
            dx, grads[f"W{layer}"], grads[f"b{layer}"] = _affine_grads(
                dz, cache.inputs[layer - 1], self.params[f"W{layer}"])
            if layer > 1:
                hidden = layer - 2  # index, in the cache, of the hidden layer that produced this input
                if cache.dropout_masks:
                    dx = dropout_backward(dx, cache.dropout_masks[hidden])
                dz = self._f_backward(dx, cache.pre_activations[hidden], **self.activation_kwargs)
                if cache.batchnorm_caches:
                    dz, grads[f"gamma{layer - 1}"], grads[f"beta{layer - 1}"] = batchnorm_backward(
                        dz, cache.batchnorm_caches[hidden])
        return grads, dx

    def loss_and_grads(self, x, y, loss="cross_entropy", *, rng=None, l1=0.0,
                       l2=0.0) -> tuple[float, dict[str, np.ndarray]]:
        r"""Training objective on `(x, y)` and its gradients: one forward pass in training mode and one
        backward pass.

        The objective is the mean loss plus $\lambda_1 \sum_l \|W_l\|_1 + \tfrac{\lambda_2}{2}
        \sum_l \|W_l\|_2^2$ over the weight matrices only (biases and batch-norm parameters are not
        penalised), whose gradients are $\lambda_1 \operatorname{sign}(W_l)$ (0 at 0, as torch's
        `sign`) and $\lambda_2 W_l$. `rng` draws the dropout masks; it is needed only with dropout.
        The L2 term equals the optimizers' coupled `weight_decay` applied to the weights alone.
        """
        check_choice(loss, "loss", tuple(_LOSSES))
        return self._objective(self._check_inputs(x), y, loss, rng, check_real(l1, "l1", low=0.0),
                               check_real(l2, "l2", low=0.0))

    def _objective(self, x: np.ndarray, y, loss: str, rng, l1: float, l2: float):
        """`loss_and_grads` on checked inputs and hyperparameters (the loss still checks `y`)."""
        loss_fn, loss_backward = _LOSSES[loss]
        out, cache = self._forward(x, True, rng)
        value, grads = float(loss_fn(out, y)), self._backward(loss_backward(out, y), cache)[0]
        if l1 or l2:
            for layer in range(1, self.n_layers + 1):
                W = self.params[f"W{layer}"]
                value += l1 * float(np.abs(W).sum()) + 0.5 * l2 * float(np.sum(W * W))
                grads[f"W{layer}"] = grads[f"W{layer}"] + l1 * np.sign(W) + l2 * W
        return value, grads

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
            loss="cross_entropy", validation=None, l1=0.0, l2=0.0, patience=None) -> dict[str, list[float]]:
        """Train with mini-batches; returns the per-epoch history.

        Parameters
        ----------
        x, y : numpy.ndarray
            Training inputs `(N, widths[0])` and targets (class indices for `cross_entropy`).
        epochs, batch_size : int
            Passes over the data and examples per update.
        rng : numpy.random.Generator
            Shuffles the data each epoch, and draws the dropout masks.
        optimizer : callable, default [`adam_step`][dlref.optim.adam_step]
            Any `dlref.optim` step function, `params, state = optimizer(params, grads, state, **kwargs)`.
        optimizer_kwargs : dict, optional
            Its hyperparameters, e.g. `{"lr": 1e-3}`.
        loss : {"cross_entropy", "bce_with_logits", "mse"}
        validation : tuple (x_val, y_val), optional
            Evaluated after every epoch, in evaluation mode.
        l1, l2 : float, default 0.0
            Weight penalties, as in [`loss_and_grads`][dlref.models.mlp.MLP.loss_and_grads].
        patience : int, optional
            Early stopping: stop once the validation loss has not improved for `patience` epochs in a row,
            and restore the parameters (and running statistics) of the epoch with the lowest validation
            loss, also when all `epochs` ran. Needs `validation`.

        Returns
        -------
        dict of str to list of float
            `loss` (mean training objective over the epoch's batches, in training mode: with dropout and
            the penalties), `train_accuracy` (in evaluation mode, on all of `x`), `seconds` (wall time of
            the epoch's updates), and `val_loss`, `val_accuracy` when `validation` is given. Accuracies
            are omitted for `mse`. With early stopping the lists end at the stopping epoch, and the
            restored epoch is `argmin(history["val_loss"])`.
        """
        epochs = check_int(epochs, "epochs", low=0)
        loss_fn = _LOSSES[check_choice(loss, "loss", tuple(_LOSSES))][0]
        x = self._check_inputs(x)
        loss_fn(np.zeros((len(x), self.widths[-1]), dtype=x.dtype), y)  # checks every target, once
        l1, l2 = check_real(l1, "l1", low=0.0), check_real(l2, "l2", low=0.0)
        if patience is not None:
            patience = check_int(patience, "patience", low=1)
            if validation is None:
                raise ValueError("patience needs validation=(x_val, y_val): early stopping watches the "
                                 "validation loss.")
        kwargs = dict(optimizer_kwargs or {})
        history: dict[str, list[float]] = {"loss": [], "seconds": []}
        state = None
        best_val_loss, best_state, epochs_without_improvement = np.inf, None, 0
        for _ in range(epochs):
            start, batch_losses = time.perf_counter(), []
            for xb, yb in minibatches(x, y, batch_size, rng=rng):
                value, grads = self._objective(xb, yb, loss, rng, l1, l2)
                with _trusted_inputs():  # the parameters, gradients and state are the ones built here
                    self.params, state = optimizer(self.params, grads, state, **kwargs)
                batch_losses.append(value)
            history["seconds"].append(time.perf_counter() - start)
            history["loss"].append(float(np.mean(batch_losses)))
            if loss != "mse":
                history.setdefault("train_accuracy", []).append(self.accuracy(x, y, loss))
            if validation is not None:
                x_val, y_val = validation
                val_loss = float(loss_fn(self.forward(x_val)[0], y_val))
                history.setdefault("val_loss", []).append(val_loss)
                if loss != "mse":
                    history.setdefault("val_accuracy", []).append(self.accuracy(x_val, y_val, loss))
                if patience is not None:
                    if val_loss < best_val_loss:
                        best_val_loss, epochs_without_improvement = val_loss, 0
                        best_state = ({k: v.copy() for k, v in self.params.items()},
                                      {k: v.copy() for k, v in self.buffers.items()})
                    else:
                        epochs_without_improvement += 1
                        if epochs_without_improvement >= patience:
                            break
        if best_state is not None:
            self.params, self.buffers = best_state
        return history
