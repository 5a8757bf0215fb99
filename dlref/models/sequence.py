r"""A many-to-one recurrent network (RNN, LSTM or GRU, then a linear head) and the adding problem.

[`RecurrentNetwork`][dlref.models.sequence.RecurrentNetwork] reads a whole sequence and maps its final
hidden state to an output, $\hat y = W_\text{out} h_T + b_\text{out}$: a regression value or class scores.
Its maths lives in [`dlref.rnn`][dlref.rnn], [`dlref.layers`][dlref.layers], [`dlref.losses`][dlref.losses]
and [`dlref.optim`][dlref.optim]; this module only wires them together.
[`adding_problem`][dlref.models.sequence.adding_problem] generates the classic test of long-range memory.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from dlref import losses, rnn
from dlref._checks import as_float_array, check_choice, check_int, check_real, check_rng
from dlref.data import minibatches
from dlref.init import uniform
from dlref.layers import linear_backward, linear_forward
from dlref.optim import adam_step, clip_grad_norm

__all__ = ["adding_problem", "RecurrentNetwork", "RecurrentNetworkCache"]

# loss name -> (loss, gradient of the mean loss with respect to the network output)
_LOSSES = {"mse": (losses.mse, losses.mse_backward),
           "cross_entropy": (losses.cross_entropy, losses.cross_entropy_backward)}
_RECURRENT_NAMES = ("W_ih", "W_hh", "b_ih", "b_hh")


def adding_problem(n, T, *, rng):
    r"""The adding problem: add the two marked numbers of a long sequence.

    Each of the `n` sequences has `T` steps with two features: a value $u_t \sim \mathcal{U}(0, 1)$ and a
    marker $m_t \in \{0, 1\}$ that is 1 at exactly two steps, one drawn uniformly from the first half
    ($t < \lfloor T/2 \rfloor$) and one from the second half. The target is the sum of the two marked
    values, $y = \sum_t m_t u_t$.

    Parameters
    ----------
    n : int
        Number of sequences, at least 1.
    T : int
        Sequence length, at least 2.
    rng : numpy.random.Generator
        The source of randomness.

    Returns
    -------
    x : numpy.ndarray, shape (T, n, 2)
        Values in channel 0, markers in channel 1, time first (the layout of [`dlref.rnn`][dlref.rnn]).
    y : numpy.ndarray, shape (n, 1)
        The targets, in $[0, 2]$.

    Notes
    -----
    A model that ignores the markers can do no better than predict the mean, $\mathbb{E}[y] = 1$, and then
    scores the variance of the target, $\operatorname{MSE} = \operatorname{Var}(u_a + u_b) = 2 \cdot
    \tfrac{1}{12} = \tfrac16$. Beating $\tfrac16$ requires carrying the first marked value across at least
    the gap between the markers, on average about $T/2$ steps, while ignoring every unmarked value.

    References
    ----------
    Hochreiter, S. & Schmidhuber, J. (1997). Long short-term memory. *Neural Computation*, 9(8)
    (experiment 4, with values in $[-1, 1]$). This form, with values in $[0, 1]$ and one marker in each
    half, is that of Le, Q. V., Jaitly, N. & Hinton, G. E. (2015). A simple way to initialize recurrent
    networks of rectified linear units. arXiv:1504.00941.

    Examples
    --------
    >>> x, y = adding_problem(3, 6, rng=np.random.default_rng(0))
    >>> print(x.shape, y.shape, x[:, :, 1].sum(axis=0))
    (6, 3, 2) (3, 1) [2. 2. 2.]
    >>> print(bool(np.allclose(y[:, 0], (x[:, :, 0] * x[:, :, 1]).sum(axis=0))))
    True
    """
    n = check_int(n, "n", low=1)
    T = check_int(T, "T", low=2)
    rng = check_rng(rng)
    half = T // 2
    values = rng.uniform(0.0, 1.0, size=(T, n))
    markers = np.zeros((T, n))
    columns = np.arange(n)
    markers[rng.integers(0, half, size=n), columns] = 1.0
    markers[rng.integers(half, T, size=n), columns] = 1.0
    x = np.stack([values, markers], axis=2)
    return x, (values * markers).sum(axis=0)[:, None]


@dataclass(frozen=True)
class RecurrentNetworkCache:
    """What [`RecurrentNetwork.backward`][dlref.models.sequence.RecurrentNetwork.backward] needs: the
    recurrent layer's cache and the final hidden state that fed the head."""

    recurrent: rnn.RNNCache | rnn.LSTMCache | rnn.GRUCache
    h_T: np.ndarray


class RecurrentNetwork:
    r"""One recurrent layer read to its end, then a linear head: $\hat y = W_\text{out} h_T + b_\text{out}$.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
        The recurrent layer, from [`dlref.rnn`][dlref.rnn].
    input_size, hidden_size, output_size : int
        $D$, $H$ and the number of outputs.
    rng : numpy.random.Generator
        Draws the initial weights: the recurrent layer as torch does
        ([`init_params`][dlref.rnn.init_params]), the head as `torch.nn.Linear` does,
        $\mathcal{U}(-1/\sqrt{H}, 1/\sqrt{H})$.
    nonlinearity : {"tanh", "relu"}, default "tanh"
        For `cell="rnn"` only.
    dtype : numpy dtype, default float64

    Attributes
    ----------
    params : dict of str to numpy.ndarray
        `W_ih`, `W_hh`, `b_ih`, `b_hh` in torch's layout for the cell, and the head's `W_out` `(output_size,
        H)` and `b_out`.

    Examples
    --------
    >>> import numpy as np
    >>> model = RecurrentNetwork("gru", 2, 8, 1, rng=np.random.default_rng(0))
    >>> x, y = adding_problem(5, 10, rng=np.random.default_rng(1))
    >>> print(model.forward(x)[0].shape, model.n_parameters())
    (5, 1) 297
    """

    def __init__(self, cell, input_size, hidden_size, output_size, *, rng, nonlinearity="tanh",
                 dtype=np.float64):
        self.cell = check_choice(cell, "cell", tuple(rnn.GATES))
        self.nonlinearity = check_choice(nonlinearity, "nonlinearity", ("tanh", "relu"))
        output_size = check_int(output_size, "output_size", low=1)
        self.params = rnn.init_params(cell, input_size, hidden_size, rng=rng, dtype=dtype)
        bound = 1.0 / math.sqrt(hidden_size)
        self.params["W_out"] = uniform((output_size, hidden_size), rng=rng, a=-bound, b=bound, dtype=dtype)
        self.params["b_out"] = uniform((output_size,), rng=rng, a=-bound, b=bound, dtype=dtype)

    def n_parameters(self) -> int:
        """Total number of weights and biases."""
        return sum(p.size for p in self.params.values())

    def forward(self, x) -> tuple[np.ndarray, RecurrentNetworkCache]:
        """Outputs `(N, output_size)` for sequences `x` of shape `(T, N, D)`, and the cache for backward."""
        recurrent = {name: self.params[name] for name in _RECURRENT_NAMES}
        if self.cell == "lstm":
            _, (h_T, _), cache = rnn.lstm_forward(x, None, None, recurrent)
        elif self.cell == "gru":
            _, h_T, cache = rnn.gru_forward(x, None, recurrent)
        else:
            _, h_T, cache = rnn.rnn_forward(x, None, recurrent, self.nonlinearity)
        out = linear_forward(h_T, self.params["W_out"], self.params["b_out"])
        return out, RecurrentNetworkCache(cache, h_T)

    def backward(self, dout, cache: RecurrentNetworkCache) -> dict[str, np.ndarray]:
        """Gradients of every parameter given `dout` = dL/d(output); same keys as `params`."""
        dh_T, dW_out, db_out = linear_backward(dout, cache.h_T, self.params["W_out"])
        if self.cell == "lstm":
            *_, grads = rnn.lstm_backward(None, cache.recurrent, dh_T)
        else:
            backward = rnn.gru_backward if self.cell == "gru" else rnn.rnn_backward
            *_, grads = backward(None, cache.recurrent, dh_T)
        return {**grads, "W_out": dW_out, "b_out": db_out}

    def loss_and_grads(self, x, y, loss="mse") -> tuple[float, dict[str, np.ndarray]]:
        """Mean loss on `(x, y)` and its gradients: one forward and one backward pass."""
        loss_fn, loss_backward = _LOSSES[check_choice(loss, "loss", tuple(_LOSSES))]
        out, cache = self.forward(x)
        return float(loss_fn(out, y)), self.backward(loss_backward(out, y), cache)

    def evaluate(self, x, y, loss="mse") -> dict[str, float]:
        """The mean `loss` on `(x, y)`, and the accuracy for `cross_entropy`."""
        loss_fn = _LOSSES[check_choice(loss, "loss", tuple(_LOSSES))][0]
        out, _ = self.forward(x)
        result = {"loss": float(loss_fn(out, y))}
        if loss == "cross_entropy":
            result["accuracy"] = float(np.mean(out.argmax(axis=1) == y))
        return result

    def fit(self, x, y, *, epochs, batch_size, rng, optimizer=adam_step, optimizer_kwargs=None, max_norm=None,
            loss="mse", validation=None) -> dict[str, list[float]]:
        """Train with mini-batches of sequences and optional gradient clipping; returns the history.

        Parameters
        ----------
        x : numpy.ndarray, shape (T, N, D)
            Training sequences, time first.
        y : numpy.ndarray
            Targets: `(N, output_size)` for `mse`, class indices `(N,)` for `cross_entropy`.
        epochs, batch_size : int
            Passes over the data and sequences per update.
        rng : numpy.random.Generator
            Shuffles the sequences each epoch.
        optimizer : callable, default [`adam_step`][dlref.optim.adam_step]
            Any `dlref.optim` step, `params, state = optimizer(params, grads, state, **kwargs)`.
        optimizer_kwargs : dict, optional
            Its hyperparameters, e.g. `{"lr": 1e-2}`.
        max_norm : float, optional
            Clip the gradient of all parameters to this joint 2-norm before each update
            ([`clip_grad_norm`][dlref.optim.clip_grad_norm]); `None` for no clipping.
        loss : {"mse", "cross_entropy"}
        validation : tuple (x_val, y_val), optional
            Evaluated after every epoch.

        Returns
        -------
        dict of str to list of float
            Per epoch: `loss` (mean training loss over the epoch's batches), `grad_norm` (the largest
            gradient norm of the epoch, before clipping), `seconds` (wall time of the epoch's updates),
            and `val_loss` (and `val_accuracy` for `cross_entropy`) with `validation`.
        """
        epochs = check_int(epochs, "epochs", low=0)
        loss = check_choice(loss, "loss", tuple(_LOSSES))
        max_norm = None if max_norm is None else check_real(max_norm, "max_norm", low=0.0)
        x = as_float_array(x, "x")
        if x.ndim != 3:
            raise ValueError(f"x must have shape (T, N, D), sequences along axis 1; got {x.shape}.")
        kwargs = dict(optimizer_kwargs or {})
        history: dict[str, list[float]] = {"loss": [], "grad_norm": [], "seconds": []}
        state = None
        by_sequence = x.transpose(1, 0, 2)  # minibatches draws along axis 0
        for _ in range(epochs):
            start, batch_losses, norms = time.perf_counter(), [], []
            for x_batch, y_batch in minibatches(by_sequence, y, batch_size, rng=rng):
                value, grads = self.loss_and_grads(x_batch.transpose(1, 0, 2), y_batch, loss)
                if max_norm is None:
                    norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
                else:
                    grads, norm = clip_grad_norm(grads, max_norm)
                self.params, state = optimizer(self.params, grads, state, **kwargs)
                batch_losses.append(value)
                norms.append(float(norm))
            history["seconds"].append(time.perf_counter() - start)
            history["loss"].append(float(np.mean(batch_losses)))
            history["grad_norm"].append(max(norms))
            if validation is not None:
                scores = self.evaluate(*validation, loss=loss)
                history.setdefault("val_loss", []).append(scores["loss"])
                if loss == "cross_entropy":
                    history.setdefault("val_accuracy", []).append(scores["accuracy"])
        return history
