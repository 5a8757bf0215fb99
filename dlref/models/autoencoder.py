r"""Autoencoders: an encoder and a decoder trained so that the output reconstructs the input.

An autoencoder maps $x$ to a code $c = f_\text{enc}(x)$ and back to $\hat x = f_\text{dec}(c)$, and is
trained to make $\hat x$ close to $x$; the target is the input itself, so no labels are needed
(self-supervised). An *undercomplete* autoencoder's code is smaller than its input, so it cannot copy:
it must keep what matters most for reconstruction. A *denoising* autoencoder reconstructs the clean
input from a corrupted copy, which forces it to learn the structure of the data even when the code is
not small.

[`Autoencoder`][dlref.models.autoencoder.Autoencoder] is one [`MLP`][dlref.models.mlp.MLP] whose widths
go down to the code and mirror back up, trained with `dlref`'s losses and optimizers; its code is the
activation of the middle layer. [`roc_auc`][dlref.models.autoencoder.roc_auc] scores reconstruction
error as an anomaly detector.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from dlref._checks import as_float_array, check_choice, check_int, check_real, check_rng
from dlref.activations import sigmoid
from dlref.data import minibatches
from dlref.models.mlp import MLP
from dlref.optim import _trusted_inputs, adam_step

__all__ = ["Autoencoder", "DenoisingAutoencoder", "roc_auc"]

_OUTPUTS = ("mse", "bce_with_logits")


class Autoencoder:
    r"""An undercomplete autoencoder: `widths` from the input down to the code, mirrored back up.

    `Autoencoder((64, 32, 8))` is the network 64-32-8-32-64, an [`MLP`][dlref.models.mlp.MLP] with the
    hidden activation after every layer but the last. The code is the output of the 8-unit layer.

    Parameters
    ----------
    widths : sequence of int
        Encoder widths, input size first and code size last, e.g. `(64, 32, 8)`; at least two.
    activation : str, default "relu"
        A [`dlref.activations`](activations.md) function for every hidden layer, the code included.
        With `"identity"` the whole network is linear.
    rng : numpy.random.Generator
        Draws the initial weights.
    loss : {"mse", "bce_with_logits"}, default "mse"
        Reconstruction loss. With `"bce_with_logits"` the network outputs logits and the reconstruction
        is their sigmoid (suited to inputs in $[0, 1]$, such as pixel intensities).
    init : callable, optional
        Weight initialiser, as in `MLP`.
    dtype : numpy dtype, default float64

    Attributes
    ----------
    network : MLP
        The whole encoder-decoder; its `params` are what training updates.

    Notes
    -----
    With linear activations and the squared error, the best reconstruction from a $k$-dimensional code
    projects the centred data onto its top $k$ principal components (the Eckart-Young theorem), and a
    linear autoencoder trained by gradient descent converges to a decoder whose columns span that same
    subspace (Baldi & Hornik 1989): it learns PCA's subspace, though not PCA's orthonormal basis. Non-linear
    layers let the code follow a curved manifold instead of a flat subspace.

    References
    ----------
    Baldi, P. & Hornik, K. (1989). Neural networks and principal component analysis: learning from
    examples without local minima. *Neural Networks*, 2(1).
    Hinton, G. E. & Salakhutdinov, R. R. (2006). Reducing the dimensionality of data with neural
    networks. *Science*, 313(5786).

    Examples
    --------
    >>> ae = Autoencoder((6, 4, 2), activation="tanh", rng=np.random.default_rng(0))
    >>> ae.network.widths
    (6, 4, 2, 4, 6)
    >>> x = np.random.default_rng(1).random((5, 6))
    >>> print(ae.encode(x).shape, ae.reconstruct(x).shape, ae.reconstruction_error(x).shape)
    (5, 2) (5, 6) (5,)
    """

    def __init__(self, widths, activation="relu", *, rng, loss="mse", init: Callable | None = None,
                 dtype=np.float64):
        widths = tuple(check_int(w, "each width", low=1) for w in widths)
        if len(widths) < 2:
            raise ValueError(f"widths must list at least the input size and the code size, e.g. (64, 8); got "
                             f"{widths}.")
        self.loss = check_choice(loss, "loss", _OUTPUTS)
        self.network = MLP(widths + widths[-2::-1], activation, rng=rng, init=init, dtype=dtype)
        self._code_layer = len(widths) - 1

    @property
    def n_inputs(self) -> int:
        """Size of the input (and of the reconstruction)."""
        return self.network.widths[0]

    @property
    def code_size(self) -> int:
        """Width of the bottleneck, the code."""
        return self.network.widths[self._code_layer]

    def _output_and_cache(self, x):
        out, cache = self.network.forward(x)
        return (sigmoid(out) if self.loss == "bce_with_logits" else out), cache

    def encode(self, x) -> np.ndarray:
        """The code of each row of `x`, shape `(N, code_size)`."""
        _, cache = self._output_and_cache(x)
        return cache.inputs[self._code_layer]  # the input of the first decoder layer

    def reconstruct(self, x) -> np.ndarray:
        r"""$\hat x$ for each row of `x`, shape `(N, n_inputs)`."""
        return self._output_and_cache(x)[0]

    def reconstruction_error(self, x) -> np.ndarray:
        r"""Mean squared error $\frac1D\|\hat x - x\|^2$ of each row: the anomaly score."""
        x = as_float_array(x, "x", allow_inf=False)
        return np.mean((self.reconstruct(x) - x) ** 2, axis=1)

    def corrupt(self, x, rng) -> np.ndarray:
        """The input the network sees during training: `x` itself here; a noisy copy when denoising."""
        return self._corrupt(as_float_array(x, "x", allow_inf=False), check_rng(rng))

    def _corrupt(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:  # noqa: ARG002 - see subclass
        """`corrupt` on a checked array and generator."""
        return x

    def loss_and_grads(self, x_input, x_target) -> tuple[float, dict[str, np.ndarray]]:
        """Mean reconstruction loss of `x_target` from `x_input` and its gradients for `network.params`."""
        return self.network.loss_and_grads(x_input, x_target, loss=self.loss)

    def fit(self, x, *, epochs, batch_size, rng, optimizer: Callable = adam_step, optimizer_kwargs=None,
            validation=None) -> dict[str, list[float]]:
        """Train to reconstruct `x` `(N, n_inputs)` from `corrupt(x)`; returns the per-epoch history.

        Parameters
        ----------
        x : array_like, shape (N, n_inputs)
            Training data (also the targets).
        epochs, batch_size : int
        rng : numpy.random.Generator
            Shuffles the data, and draws the corruption of a denoising autoencoder.
        optimizer : callable, default [`adam_step`][dlref.optim.adam_step]
        optimizer_kwargs : dict, optional
            E.g. `{"lr": 1e-3}`.
        validation : array_like, optional
            Clean data whose mean [`reconstruction_error`][dlref.models.autoencoder.Autoencoder.reconstruction_error]
            is recorded after every epoch.

        Returns
        -------
        dict of str to list of float
            `loss` (mean training loss over the epoch's batches), `seconds`, and `val_error` when
            `validation` is given.
        """
        x = self.network._check_inputs(as_float_array(x, "x", allow_inf=False))
        epochs = check_int(epochs, "epochs", low=0)
        check_rng(rng)
        kwargs = dict(optimizer_kwargs or {})
        history: dict[str, list[float]] = {"loss": [], "seconds": []}
        state = None
        for _ in range(epochs):
            start, batch_losses = time.perf_counter(), []
            for batch, _ in minibatches(x, np.arange(len(x)), batch_size, rng=rng):
                # `loss_and_grads` without re-checking what was checked above (the loss checks its target)
                value, grads = self.network._objective(self._corrupt(batch, rng), batch, self.loss, None, 0.0, 0.0)
                with _trusted_inputs():  # the parameters, gradients and state are the ones built here
                    self.network.params, state = optimizer(self.network.params, grads, state, **kwargs)
                batch_losses.append(value)
            history["seconds"].append(time.perf_counter() - start)
            history["loss"].append(float(np.mean(batch_losses)))
            if validation is not None:
                history.setdefault("val_error", []).append(float(np.mean(self.reconstruction_error(validation))))
        return history


class DenoisingAutoencoder(Autoencoder):
    r"""An autoencoder trained to reconstruct clean inputs from corrupted ones (Vincent et al. 2008).

    Parameters
    ----------
    widths, activation, rng, loss, init, dtype
        As in [`Autoencoder`][dlref.models.autoencoder.Autoencoder].
    noise : {"mask", "gaussian"}, default "mask"
        `"mask"` sets each input to 0 with probability `noise_level` (masking noise); `"gaussian"` adds
        $\mathcal N(0, \text{noise\_level}^2)$ to every input.
    noise_level : float, default 0.3
        The masking probability in $[0, 1)$, or the noise's standard deviation ($\ge 0$).

    Notes
    -----
    Only training sees corrupted inputs; `encode`, `reconstruct` and `reconstruction_error` take the
    input as given, so a noisy image passed to `reconstruct` is denoised. Reconstructing $x$ from
    $\tilde x$ cannot be solved by copying, so the code must capture dependencies between inputs; for
    small Gaussian noise, $\hat x - \tilde x$ estimates the score $\nabla\log p$ of the data (Alain &
    Bengio 2014).

    References
    ----------
    Vincent, P., Larochelle, H., Bengio, Y. & Manzagol, P.-A. (2008). Extracting and composing robust
    features with denoising autoencoders. ICML.
    Alain, G. & Bengio, Y. (2014). What regularized auto-encoders learn from the data-generating
    distribution. *Journal of Machine Learning Research*, 15.

    Examples
    --------
    >>> dae = DenoisingAutoencoder((4, 2), rng=np.random.default_rng(0), noise_level=0.5)
    >>> print(dae.corrupt(np.ones((2, 4)), np.random.default_rng(0)))
    [[1. 0. 0. 0.]
     [1. 1. 1. 1.]]
    """

    def __init__(self, widths, activation="relu", *, rng, loss="mse", noise="mask", noise_level=0.3,
                 init: Callable | None = None, dtype=np.float64):
        super().__init__(widths, activation, rng=rng, loss=loss, init=init, dtype=dtype)
        self.noise = check_choice(noise, "noise", ("mask", "gaussian"))
        self.noise_level = check_real(noise_level, "noise_level", low=0.0)
        if noise == "mask" and self.noise_level >= 1.0:
            raise ValueError(f"noise_level is the probability of masking an input when noise='mask', so it "
                             f"must be below 1 (1 erases every input); got {self.noise_level}.")

    def _corrupt(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A corrupted copy of `x`: masked or with Gaussian noise added, as set at construction."""
        if self.noise == "mask":
            return x * (rng.random(x.shape) >= self.noise_level)
        return x + rng.normal(scale=self.noise_level, size=x.shape).astype(x.dtype)


def roc_auc(scores, labels) -> float:
    r"""Area under the ROC curve of `scores` for binary `labels` (1 = positive, e.g. an anomaly).

    Parameters
    ----------
    scores : array_like, shape (N,)
        Higher means more likely positive (e.g. reconstruction error).
    labels : array_like of bool or {0, 1}, shape (N,)
        Both classes must occur.

    Returns
    -------
    float
        In $[0, 1]$: 1 when every positive scores above every negative, 0.5 for a score unrelated to
        the label. Equal to `sklearn.metrics.roc_auc_score(labels, scores)`.

    Raises
    ------
    ValueError
        If the shapes differ, a label is not 0 or 1, or only one class occurs.

    Notes
    -----
    The AUC is the probability that a random positive scores higher than a random negative, ties
    counting one half: the Mann-Whitney statistic $U$ divided by $n_+ n_-$. With $r_n$ the rank of
    score $n$ among all scores (1 for the lowest, tied scores sharing the mean of their ranks),
    $U = \sum_{n \in +} r_n - n_+(n_+ + 1)/2$.

    References
    ----------
    Hanley, J. A. & McNeil, B. J. (1982). The meaning and use of the area under a receiver operating
    characteristic (ROC) curve. *Radiology*, 143(1).

    Examples
    --------
    >>> print(roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]))
    0.75
    """
    scores = as_float_array(scores, "scores", allow_inf=False)
    labels = np.asarray(labels)
    if scores.ndim != 1 or labels.shape != scores.shape:
        raise ValueError(f"scores and labels must be 1-D of one length; got shapes {scores.shape} and "
                         f"{labels.shape}.")
    if labels.dtype.kind not in "biuf" or not np.all((labels == 0) | (labels == 1)):
        raise ValueError("labels must be 0 or 1 (or False/True), 1 marking the positive class.")
    positive = labels == 1
    n_positive, n_negative = int(positive.sum()), int((~positive).sum())
    if n_positive == 0 or n_negative == 0:
        raise ValueError(f"labels must contain both classes; got {n_positive} positive and {n_negative} "
                         f"negative examples. The AUC is undefined for one class.")
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    # Tied scores share the mean of the ranks they occupy.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    mean_ranks = first + (counts + 1) / 2.0
    ranks = np.empty(len(scores))
    ranks[order] = np.repeat(mean_ranks, counts)
    u = ranks[positive].sum() - n_positive * (n_positive + 1) / 2.0
    return float(u / (n_positive * n_negative))
