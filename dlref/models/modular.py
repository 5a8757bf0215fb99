r"""A modular network: a mixture of experts, whose gate learns which expert handles which input.

The experts are [`MLP`][dlref.models.mlp.MLP]s, the gate is an `MLP` followed by a softmax, and the
integrator is the gate-weighted sum of the experts' outputs. Parameters live in one flat dict with
torch-style dotted names (`gate.W1`, `experts.0.W1`, ...), so any `dlref.optim` step updates the whole
model, and the weights can be copied into a torch module name by name.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from dlref._checks import as_float_array, check_choice, check_int, check_real
from dlref.activations import log_softmax, softmax, softmax_backward
from dlref.data import minibatches
from dlref.losses import mse, mse_backward
from dlref.models.mlp import MLP, MLPCache
from dlref.optim import adam_step

__all__ = ["MixtureOfExperts", "MixtureOfExpertsCache"]


@dataclass(frozen=True)
class MixtureOfExpertsCache:
    """What [`MixtureOfExperts.backward`][dlref.models.modular.MixtureOfExperts.backward] needs from the
    forward pass.

    `gate_logits` and `gate_probabilities` have shape `(N, K)` for `K` experts, `expert_outputs` shape
    `(N, K, n_outputs)`; the MLP caches belong to the gate and to each expert.
    """

    gate_logits: np.ndarray
    gate_probabilities: np.ndarray
    gate_cache: MLPCache
    expert_outputs: np.ndarray
    expert_caches: tuple[MLPCache, ...]


def _mixture_nll(cache: MixtureOfExpertsCache, y, sigma: float):
    """Jacobs et al.'s mixture negative log-likelihood, and its gradients with respect to the gate logits
    `(N, K)` and the expert outputs `(N, K, out)`."""
    expert_outputs = cache.expert_outputs
    n, _, n_outputs = expert_outputs.shape
    y = as_float_array(y, "y")
    if y.shape != (n, n_outputs):
        raise ValueError(f"y must have the shape of the model's output, {(n, n_outputs)}; got {y.shape}. "
                         f"Give one target row per example.")
    residual = expert_outputs - y[:, None, :].astype(expert_outputs.dtype, copy=False)
    log_joint = log_softmax(cache.gate_logits, axis=1) - np.sum(residual**2, axis=2) / (2.0 * sigma**2)
    log_posterior = log_softmax(log_joint, axis=1)
    # log sum_k exp(log_joint) = log_joint - log_posterior, for any k: the log-sum-exp without overflow.
    value = -np.mean(log_joint[:, 0] - log_posterior[:, 0])
    h = np.exp(log_posterior)
    ds = (cache.gate_probabilities - h) / n
    d_expert_outputs = h[:, :, None] * residual / (sigma**2 * n)
    return float(value), ds, d_expert_outputs


class MixtureOfExperts:
    r"""A mixture of $K$ experts combined by a softmax gate: $y(x) = \sum_{k=1}^{K} g_k(x)\,f_k(x)$.

    Each expert $f_k$ is an MLP with the same widths; the gate computes logits $s(x)$ with its own MLP
    (by default a single linear layer) and $g(x) = \mathrm{softmax}(s(x))$, so the weights are positive
    and sum to one for every input. Trained end to end, the gate learns to send each region of the
    input space to the expert that fits it best, and each expert learns mostly from the inputs it is
    given.

    Parameters
    ----------
    expert_widths : sequence of int
        Layer sizes of every expert from input to output, e.g. `(1, 8, 1)`; at least two.
    n_experts : int
        Number of experts $K$, at least 1.
    activation : str, default "tanh"
        Name of a [`dlref.activations`][dlref.activations] function used in the hidden layers of the
        experts and of the gate.
    rng : numpy.random.Generator
        Draws the initial weights (the gate's first, then each expert's), as `torch.nn.Linear` draws
        them.
    gate_hidden : sequence of int, default ()
        Hidden layer sizes of the gate; empty for a linear gate, $s(x) = W x + b$.
    dtype : numpy dtype, default float64

    Attributes
    ----------
    params : dict of str to numpy.ndarray
        `gate.W1`, `gate.b1`, ... for the gate, then `experts.{k}.W1`, `experts.{k}.b1`, ... for expert
        `k`, each laid out as `torch.nn.Linear` (weight `(out, in)`). Assign a new dict with the same
        keys (or change the arrays in place) to update the model.
    n_experts, n_inputs, n_outputs : int
        $K$, and the input and output widths of the experts.

    Raises
    ------
    ValueError
        If `expert_widths` has fewer than two entries, `n_experts < 1`, a width is below 1, or
        `activation` is not a `dlref.activations` function.
    TypeError
        If `rng` is not a `numpy.random.Generator`, or a count is not an int.

    Notes
    -----
    With upstream gradient $\bar y_n = \partial L/\partial y_n$ for example $n$, the chain rule through
    $y_n = \sum_k g_{nk} f_k(x_n)$ gives

    $$\frac{\partial L}{\partial f_k(x_n)} = g_{nk}\,\bar y_n, \qquad
      \frac{\partial L}{\partial g_{nk}} = \langle \bar y_n, f_k(x_n) \rangle, \qquad
      \frac{\partial L}{\partial s_{nk}} = g_{nk}\Big(\frac{\partial L}{\partial g_{nk}}
      - \sum_j g_{nj}\frac{\partial L}{\partial g_{nj}}\Big),$$

    the last through the softmax Jacobian. Each expert's gradient is thus its own backward pass with its
    upstream gradient scaled by its gate weight: an expert that the gate ignores for an input does not
    learn from that input. The gate's logit for expert $k$ rises where $f_k$ agrees with the direction
    that lowers the loss more than the current mixture does.

    Two objectives are offered by [`loss_and_grads`][dlref.models.modular.MixtureOfExperts.loss_and_grads].
    The squared error of the blended output (the form of the sparsely gated layer of Shazeer et al.
    (2017) before its top-$k$ sparsification) lets the experts *cooperate*: an expert's output need not
    fit anything on its own, as long as the blend does. The negative log-likelihood of a Gaussian
    mixture, the objective of Jacobs et al. (1991), makes them *compete*, so that each expert alone fits
    the inputs the gate gives it, which is what routing every input to a single expert needs. Gates can
    collapse onto one expert; large mixtures add a load-balancing loss (Shazeer et al. 2017; Fedus et
    al. 2022), which this small model does not have.

    References
    ----------
    Jacobs, R. A., Jordan, M. I., Nowlan, S. J. & Hinton, G. E. (1991). Adaptive mixtures of local
    experts. *Neural Computation*, 3(1).
    Shazeer, N. et al. (2017). Outrageously large neural networks: the sparsely-gated mixture-of-experts
    layer. ICLR.
    Fedus, W., Zoph, B. & Shazeer, N. (2022). Switch Transformers: scaling to trillion parameter models
    with simple and efficient sparsity. *JMLR*, 23.

    Examples
    --------
    >>> import numpy as np
    >>> model = MixtureOfExperts((2, 4, 1), n_experts=3, rng=np.random.default_rng(0))
    >>> list(model.params)[:4], model.params["experts.2.W1"].shape
    (['gate.W1', 'gate.b1', 'experts.0.W1', 'experts.0.b1'], (4, 2))
    >>> model.n_parameters() == (2 * 3 + 3) + 3 * (2 * 4 + 4 + 4 * 1 + 1)  # the gate, then 3 experts
    True
    >>> y, cache = model.forward(np.zeros((5, 2)))
    >>> print(y.shape, cache.gate_probabilities.sum(axis=1))
    (5, 1) [1. 1. 1. 1. 1.]
    """

    def __init__(self, expert_widths, n_experts, activation="tanh", *, rng, gate_hidden=(), dtype=np.float64):
        n_experts = check_int(n_experts, "n_experts", low=1)
        expert_widths = tuple(expert_widths)
        if len(expert_widths) < 2:
            raise ValueError(f"expert_widths must list at least the input and the output size, e.g. (1, 8, 1); "
                             f"got {expert_widths}.")
        gate_widths = (expert_widths[0], *gate_hidden, n_experts)
        self._gate = MLP(gate_widths, activation, rng=rng, dtype=dtype)
        self._experts = tuple(MLP(expert_widths, activation, rng=rng, dtype=dtype) for _ in range(n_experts))
        self.n_experts = n_experts
        self.n_inputs, self.n_outputs = self._experts[0].widths[0], self._experts[0].widths[-1]
        self.params: dict[str, np.ndarray] = {}
        for prefix, part in self._parts():
            self.params.update({f"{prefix}{name}": value for name, value in part.params.items()})

    def _parts(self):
        """(name prefix, MLP) for the gate and each expert, in the order of `params`."""
        return [("gate.", self._gate)] + [(f"experts.{k}.", expert) for k, expert in enumerate(self._experts)]

    def _sync(self) -> None:
        """Point the gate and the experts at the current arrays of `params`, the single source of truth."""
        expected = [prefix + name for prefix, part in self._parts() for name in part.params]
        if set(self.params) != set(expected):
            missing = sorted(set(expected) - set(self.params))
            unexpected = sorted(set(self.params) - set(expected))
            raise ValueError(f"params must have the keys {expected}; missing {missing}, unexpected "
                             f"{unexpected}. Assign a dict with the same keys as the model's params.")
        for prefix, part in self._parts():
            part.params = {name: self.params[prefix + name] for name in part.params}

    def _check_x(self, x) -> np.ndarray:
        x = as_float_array(x, "x")
        if x.ndim != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(f"x must have shape (N, {self.n_inputs}), the input width of the experts; got "
                             f"{x.shape}.")
        return x

    def n_parameters(self) -> int:
        """Total number of weights and biases of the gate and all experts."""
        return sum(p.size for p in self.params.values())

    def gate_probabilities(self, x) -> np.ndarray:
        """The gate's weights $g(x)$, shape `(N, K)`: which expert the model trusts for each input."""
        x = self._check_x(x)
        self._sync()
        return softmax(self._gate.forward(x)[0], axis=1)

    def forward(self, x) -> tuple[np.ndarray, MixtureOfExpertsCache]:
        """Output $y$ of shape `(N, n_outputs)` for inputs of shape `(N, n_inputs)`, and the cache."""
        x = self._check_x(x)
        self._sync()
        s, gate_cache = self._gate.forward(x)
        g = softmax(s, axis=1)
        outputs, expert_caches = zip(*(expert.forward(x) for expert in self._experts))
        expert_outputs = np.stack(outputs, axis=1)
        y = np.einsum("nk,nko->no", g, expert_outputs)
        return y, MixtureOfExpertsCache(s, g, gate_cache, expert_outputs, tuple(expert_caches))

    def backward(self, dy, cache: MixtureOfExpertsCache) -> dict[str, np.ndarray]:
        """Gradients for every parameter given `dy` = dL/dy of shape `(N, n_outputs)`; keys as `params`."""
        dy = as_float_array(dy, "dy")
        n, _, n_outputs = cache.expert_outputs.shape
        expected = (n, n_outputs)
        if dy.shape != expected:
            raise ValueError(f"dy must have the shape of the forward output, {expected}; got {dy.shape}.")
        dg = np.einsum("no,nko->nk", dy, cache.expert_outputs)
        ds = softmax_backward(dg, cache.gate_logits, axis=1)
        return self._backward_parts(ds, cache.gate_probabilities[:, :, None] * dy[:, None, :], cache)

    def _backward_parts(self, ds, d_expert_outputs, cache: MixtureOfExpertsCache) -> dict[str, np.ndarray]:
        """Parameter gradients from dL/d(gate logits) `(N, K)` and dL/d(expert outputs) `(N, K, out)`."""
        self._sync()
        upstream = [ds] + [d_expert_outputs[:, k] for k in range(self.n_experts)]
        caches = [cache.gate_cache, *cache.expert_caches]
        grads: dict[str, np.ndarray] = {}
        for (prefix, part), d_out, part_cache in zip(self._parts(), upstream, caches):
            grads.update({prefix + name: grad for name, grad in part.backward(d_out, part_cache).items()})
        return {name: grads[name] for name in self.params}

    def loss_and_grads(self, x, y, loss="mse", *, sigma=1.0) -> tuple[float, dict[str, np.ndarray]]:
        r"""Training objective on `(x, y)` and its gradients: one forward and one backward pass.

        Parameters
        ----------
        x : numpy.ndarray
            Inputs, shape `(N, n_inputs)`.
        y : numpy.ndarray
            Targets, shape `(N, n_outputs)`.
        loss : {"mse", "mixture_nll"}, default "mse"
            `"mse"`: mean squared error of the blended output $y(x)$; the experts cooperate.
            `"mixture_nll"`: the objective of Jacobs et al. (1991), the negative log-likelihood of a
            mixture of Gaussians centred on the experts' outputs, averaged over the batch,

            $$L = -\frac{1}{N}\sum_n \log \sum_k g_k(x_n)
                  \exp\Big(-\frac{\lVert y_n - f_k(x_n)\rVert^2}{2\sigma^2}\Big)$$

            (constants dropped). The experts compete: each is pulled towards the targets in proportion
            to its posterior responsibility $h_{nk} \propto g_k(x_n) \exp(-\lVert y_n -
            f_k(x_n)\rVert^2 / 2\sigma^2)$, so each specialises on the inputs it explains best, and
            $\partial L/\partial s_{nk} = (g_{nk} - h_{nk})/N$ moves the gate towards the
            responsibilities, while $\partial L/\partial f_k(x_n) = h_{nk}(f_k(x_n) - y_n)/(\sigma^2 N)$
            trains expert $k$ on example $n$ only as much as it is held responsible for it.
        sigma : float, default 1.0
            Standard deviation $\sigma > 0$ of each expert's Gaussian, for `"mixture_nll"`; the smaller,
            the stronger the competition. About the noise level of the targets is a good choice.

        Returns
        -------
        loss : float
        grads : dict of str to numpy.ndarray
            Same keys and shapes as `params`.

        Raises
        ------
        ValueError
            If `loss` is not one of the two, $\sigma \le 0$, or `x` or `y` has the wrong shape.
        """
        loss = check_choice(loss, "loss", ("mse", "mixture_nll"))
        sigma = check_real(sigma, "sigma", low=0.0, low_inclusive=False)
        out, cache = self.forward(x)
        if loss == "mse":
            return float(mse(out, y)), self.backward(mse_backward(out, y), cache)
        value, ds, d_expert_outputs = _mixture_nll(cache, y, sigma)
        return value, self._backward_parts(ds, d_expert_outputs, cache)

    def predict(self, x, routing="soft") -> np.ndarray:
        """The output for inputs `x`, with soft or top-1 routing.

        Parameters
        ----------
        x : numpy.ndarray
            Inputs, shape `(N, n_inputs)`.
        routing : {"soft", "top1"}, default "soft"
            `"soft"` is the trained mixture, every expert evaluated on every input. `"top1"` sends each
            input only to the expert with the largest gate weight and returns that expert's output (the
            top-1 weight renormalised to 1): each expert runs only on its share of the inputs, the
            conditional computation that makes large sparse mixtures cheap.

        Returns
        -------
        numpy.ndarray
            Shape `(N, n_outputs)`.
        """
        routing = check_choice(routing, "routing", ("soft", "top1"))
        if routing == "soft":
            return self.forward(x)[0]
        x = self._check_x(x)
        chosen = self.gate_probabilities(x).argmax(axis=1)
        y = np.empty((len(x), self.n_outputs), dtype=np.result_type(x, self.params["gate.W1"]))
        for k, expert in enumerate(self._experts):
            rows = chosen == k
            if rows.any():
                y[rows] = expert.forward(x[rows])[0]
        return y

    def fit(self, x, y, *, epochs, batch_size, rng, optimizer=adam_step, optimizer_kwargs=None,
            loss="mse", sigma=1.0, validation=None) -> dict[str, list[float]]:
        """Train with mini-batches; returns the per-epoch history.

        Parameters
        ----------
        x, y : numpy.ndarray
            Inputs `(N, n_inputs)` and targets `(N, n_outputs)`.
        epochs, batch_size : int
            Passes over the data and examples per update (`batch_size=N` for full-batch training).
        rng : numpy.random.Generator
            Shuffles the data each epoch.
        optimizer : callable, default [`adam_step`][dlref.optim.adam_step]
            Any `dlref.optim` step function.
        optimizer_kwargs : dict, optional
            Its hyperparameters, e.g. `{"lr": 1e-2}`.
        loss : {"mse", "mixture_nll"}, default "mse"
            The objective, as in [`loss_and_grads`][dlref.models.modular.MixtureOfExperts.loss_and_grads].
        sigma : float, default 1.0
            The experts' standard deviation for `"mixture_nll"`.
        validation : tuple (x_val, y_val), optional
            Evaluated after every epoch.

        Returns
        -------
        dict of str to list of float
            `loss` (mean objective over the epoch's batches), `seconds`, and `val_loss` (the objective on
            the validation set) when `validation` is given.
        """
        epochs = check_int(epochs, "epochs", low=0)
        loss = check_choice(loss, "loss", ("mse", "mixture_nll"))
        kwargs = dict(optimizer_kwargs or {})
        history: dict[str, list[float]] = {"loss": [], "seconds": []}
        state = None
        for _ in range(epochs):
            start, batch_losses = time.perf_counter(), []
            for xb, yb in minibatches(x, y, batch_size, rng=rng):
                value, grads = self.loss_and_grads(xb, yb, loss, sigma=sigma)
                self.params, state = optimizer(self.params, grads, state, **kwargs)
                batch_losses.append(value)
            history["seconds"].append(time.perf_counter() - start)
            history["loss"].append(float(np.mean(batch_losses)))
            if validation is not None:
                x_val, y_val = validation
                history.setdefault("val_loss", []).append(self.loss_and_grads(x_val, y_val, loss, sigma=sigma)[0])
        return history
