r"""The Boltzmann machine: a fully connected network of stochastic binary units with an energy.

A Boltzmann machine (Ackley, Hinton & Sejnowski 1985) has $n$ binary units $s \in \{0, 1\}^n$, symmetric
weights $W = W^\top$ with a zero diagonal (no unit connects to itself), and biases $b$. Every state has
an energy and a probability,

$$E(s) = -\tfrac12 s^\top W s - b^\top s, \qquad p_T(s) = \frac{e^{-E(s)/T}}{Z_T}, \qquad
Z_T = \sum_{s'} e^{-E(s')/T},$$

at temperature $T$. It is an undirected generative model, not a feed-forward network: nothing flows
from inputs to outputs, and "running" it means sampling states. The first `n_visible` units are
visible (they hold data), the rest are hidden.

The functions here take the weights and biases explicitly; [`BoltzmannMachine`][dlref.models.boltzmann.BoltzmannMachine]
keeps them in `params = {"W": (n, n), "b": (n,)}` and adds Gibbs sampling, exact enumeration for small
networks, and the learning rule. The restricted Boltzmann machine, the same model without
visible-visible and hidden-hidden weights, is in [`dlref.models.rbm`](models.md#dlref.models.rbm.RBM).
"""

from __future__ import annotations

import time

import numpy as np

from dlref._checks import as_float_array, check_bool, check_int, check_real, check_rng
from dlref.activations import sigmoid, softmax
from dlref.init import normal
from dlref.optim import _trusted_inputs, sgd_step

__all__ = ["BoltzmannMachine", "all_states", "state_indices", "energy", "gibbs_sweep", "correlations"]

_MAX_ENUMERATED_UNITS = 20
_TRACKED_UNITS = 16  # fit() reports the exact log-likelihood up to this size (2**16 states is cheap)


def _check_binary(states, name: str, n_units: int | None = None) -> np.ndarray:
    states = as_float_array(states, name, allow_inf=False)
    if states.ndim != 2 or (n_units is not None and states.shape[1] != n_units):
        want = f"(N, {n_units})" if n_units is not None else "(N, n_units)"
        raise ValueError(f"{name} must have shape {want}, one row of unit states per example; got "
                         f"{states.shape}. For a single state use {name}[None, :].")
    bad = (states != 0) & (states != 1)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} must hold binary unit states, 0 or 1; got {states[where]} at index "
                         f"{where}. Threshold probabilities first, e.g. (p > 0.5).astype(float).")
    return states


def _check_weights(W, b) -> tuple[np.ndarray, np.ndarray]:
    W = as_float_array(W, "W", allow_inf=False)
    b = as_float_array(b, "b", allow_inf=False)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W must be a square (n_units, n_units) matrix; got shape {W.shape}.")
    if b.shape != (W.shape[0],):
        raise ValueError(f"b must have shape (n_units,) = ({W.shape[0]},) to match W of shape {W.shape}; got "
                         f"{b.shape}.")
    if not np.array_equal(W, W.T):
        raise ValueError("W must be symmetric, W[i, j] == W[j, i]: a Boltzmann machine's connections are "
                         "undirected. Symmetrise it with (W + W.T) / 2.")
    if np.any(np.diagonal(W) != 0):
        raise ValueError("W must have a zero diagonal: no unit connects to itself. Clear it with "
                         "np.fill_diagonal(W, 0).")
    return W, b


def _check_enumerable(n_units: int) -> None:
    if n_units > _MAX_ENUMERATED_UNITS:
        raise ValueError(f"exact enumeration visits 2**n_units states; n_units = {n_units} is above the limit "
                         f"of {_MAX_ENUMERATED_UNITS}. That cost is why Z is intractable: sample instead.")


def all_states(n_units):
    r"""Every binary state of `n_units` units, one per row, in counting order.

    Row $r$ is $r$ written in binary with unit 0 as the most significant bit, so that
    [`state_indices`][dlref.models.boltzmann.state_indices] inverts it.

    Parameters
    ----------
    n_units : int
        Number of units, 0 to 20 (the table has $2^n$ rows).

    Returns
    -------
    numpy.ndarray, shape (2**n_units, n_units)
        float64 zeros and ones.

    Raises
    ------
    ValueError
        If `n_units` is negative or above 20.

    Examples
    --------
    >>> print(all_states(2))
    [[0. 0.]
     [0. 1.]
     [1. 0.]
     [1. 1.]]
    """
    n_units = check_int(n_units, "n_units", low=0)
    _check_enumerable(n_units)
    bits = (np.arange(2**n_units)[:, None] >> np.arange(n_units - 1, -1, -1)) & 1
    return bits.astype(np.float64)


def state_indices(states):
    r"""Row index in [`all_states`][dlref.models.boltzmann.all_states] of each binary state.

    Parameters
    ----------
    states : array_like, shape (N, n_units)
        Binary states.

    Returns
    -------
    numpy.ndarray of int64, shape (N,)
        $\sum_i s_i 2^{n - 1 - i}$; `np.bincount` of it counts how often each state occurs.

    Examples
    --------
    >>> print(state_indices(np.array([[0, 0, 1], [1, 1, 0]])))
    [1 6]
    """
    states = _check_binary(states, "states")
    weights = 2 ** np.arange(states.shape[1] - 1, -1, -1, dtype=np.int64)
    return states.astype(np.int64) @ weights


def energy(states, W, b):
    r"""Energy $E(s) = -\tfrac12 s^\top W s - b^\top s = -\sum_{i<j} W_{ij} s_i s_j - \sum_i b_i s_i$.

    Parameters
    ----------
    states : array_like, shape (N, n_units)
        Binary states $s$, one per row.
    W : array_like, shape (n_units, n_units)
        Symmetric weights with a zero diagonal.
    b : array_like, shape (n_units,)
        Biases.

    Returns
    -------
    numpy.ndarray, shape (N,)
        $E(s)$ for each row.

    Raises
    ------
    ValueError
        If a state is not binary, `W` is not symmetric with a zero diagonal, or the shapes disagree.

    Notes
    -----
    The factor $\tfrac12$ counts each undirected connection once. Flipping unit $i$ from 0 to 1 changes
    the energy by $-(W_i^\top s + b_i)$, the negative of the unit's *net input*, which is why Gibbs sampling
    turns a unit on with probability $\sigma(\text{net input} / T)$.

    Examples
    --------
    >>> W = np.array([[0.0, 2.0], [2.0, 0.0]])
    >>> print(energy(np.array([[1, 1], [1, 0], [0, 1]]), W, np.array([-1.0, 0.5])))
    [-1.5  1.  -0.5]
    """
    W, b = _check_weights(W, b)
    states = _check_binary(states, "states", W.shape[0])
    return -0.5 * np.einsum("ni,ij,nj->n", states, W, states) - states @ b


def gibbs_sweep(states, W, b, *, rng, temperature=1.0, clamped=None):
    r"""One sweep of Gibbs sampling: each free unit in turn is resampled given all the others.

    Unit $i$ is set to 1 with probability $p(s_i = 1 \mid s_{-i}) = \sigma\big((W_i^\top s + b_i)/T\big)$,
    using the states already updated in this sweep (sequential, not parallel, updates).

    Parameters
    ----------
    states : array_like, shape (N, n_units)
        $N$ independent chains, each a binary state. Not modified.
    W, b : array_like
        Weights `(n_units, n_units)`, symmetric with a zero diagonal, and biases `(n_units,)`.
    rng : numpy.random.Generator
        Draws the uniform numbers.
    temperature : float, default 1.0
        $T > 0$. High $T$ flattens the distribution towards uniform; $T \to 0$ approaches a deterministic
        descent to a local energy minimum (a Hopfield network).
    clamped : array_like of bool, shape (n_units,), optional
        Units held fixed at their current states (the clamped phase clamps the visible units to data).

    Returns
    -------
    numpy.ndarray, shape (N, n_units)
        The new states, in the dtype of `states` (float64 for integer input).

    Raises
    ------
    ValueError
        If a state is not binary, the weights are malformed, or `temperature` is not positive.
    TypeError
        If `rng` is not a `numpy.random.Generator`.

    Notes
    -----
    The energy difference between $s_i = 1$ and $s_i = 0$ with the others fixed is
    $\Delta E_i = -(W_i^\top s + b_i)$ (the diagonal is zero, so $s_i$ does not feed itself), hence
    $p(s_i = 1 \mid s_{-i}) = e^{-E_1/T} / (e^{-E_1/T} + e^{-E_0/T}) = \sigma(-\Delta E_i / T)$. Each
    update leaves $p_T$ invariant, so a sweep does too, and since every state can be reached the chain
    converges to $p_T$ from any start.

    References
    ----------
    Geman, S. & Geman, D. (1984). Stochastic relaxation, Gibbs distributions, and the Bayesian
    restoration of images. *IEEE Transactions on Pattern Analysis and Machine Intelligence*, 6(6).

    Examples
    --------
    >>> W = np.array([[0.0, 5.0], [5.0, 0.0]])
    >>> s = gibbs_sweep(np.ones((3, 2)), W, np.zeros(2), rng=np.random.default_rng(0))
    >>> print(s)  # strongly coupled units stay on together
    [[1. 1.]
     [1. 1.]
     [1. 1.]]
    """
    W, b = _check_weights(W, b)
    states = _check_binary(states, "states", W.shape[0]).copy()
    check_rng(rng)
    temperature = check_real(temperature, "temperature", low=0.0, low_inclusive=False)
    if clamped is None:
        clamped = np.zeros(W.shape[0], dtype=bool)
    clamped = np.asarray(clamped)
    if clamped.dtype != bool or clamped.shape != (W.shape[0],):
        raise ValueError(f"clamped must be a boolean mask of shape ({W.shape[0]},), True for each unit held "
                         f"fixed; got dtype {clamped.dtype} and shape {clamped.shape}.")
    for i in np.flatnonzero(~clamped):
        p_on = sigmoid((states @ W[i] + b[i]) / temperature)
        states[:, i] = rng.random(states.shape[0]) < p_on
    return states


def correlations(states, weights=None):
    r"""The statistics of the learning rule: $\langle s s^\top \rangle$ and $\langle s \rangle$.

    Parameters
    ----------
    states : array_like, shape (N, n_units)
        Binary states: samples, or every state when `weights` holds their probabilities.
    weights : array_like, shape (N,), optional
        Non-negative weights of the rows, normalised here to sum to 1; equal weights by default.

    Returns
    -------
    pairwise : numpy.ndarray, shape (n_units, n_units)
        $\langle s_i s_j \rangle$; its diagonal is $\langle s_i \rangle$ (since $s_i^2 = s_i$).
    mean : numpy.ndarray, shape (n_units,)
        $\langle s_i \rangle$.

    Raises
    ------
    ValueError
        If a state is not binary, or the weights have the wrong shape, are negative, or sum to 0.

    Examples
    --------
    >>> pairwise, mean = correlations(np.array([[1, 1], [1, 0]]))
    >>> print(pairwise, mean)
    [[1.  0.5]
     [0.5 0.5]] [1.  0.5]
    """
    states = _check_binary(states, "states")
    if weights is None:
        weights = np.full(states.shape[0], 1.0 / states.shape[0])
    else:
        weights = as_float_array(weights, "weights", allow_inf=False)
        if weights.shape != (states.shape[0],) or np.any(weights < 0) or weights.sum() <= 0:
            raise ValueError(f"weights must be non-negative with shape ({states.shape[0]},), one per row of "
                             f"states, and a positive sum; got shape {weights.shape}.")
        weights = weights / weights.sum()
    weighted = states * weights[:, None]
    return weighted.T @ states, weighted.sum(axis=0)


class BoltzmannMachine:
    r"""A fully connected Boltzmann machine with `n_visible` visible and `n_hidden` hidden binary units.

    Units `0 .. n_visible - 1` are visible, the rest hidden. `params = {"W": (n, n), "b": (n,)}` with
    $n$ = `n_visible + n_hidden`; `W` is symmetric with a zero diagonal and stays so under the learning
    rule.

    Parameters
    ----------
    n_visible : int
        Visible units (the data's dimension), at least 1.
    n_hidden : int, default 0
        Hidden units; with none, the model is *fully visible*.
    rng : numpy.random.Generator
        Draws the initial weights.
    weight_std : float, default 0.1
        Standard deviation of the initial weights (symmetrised); biases start at zero.
    dtype : numpy dtype, default float64

    Examples
    --------
    >>> bm = BoltzmannMachine(3, 2, rng=np.random.default_rng(0))
    >>> bm.params["W"].shape, bool(np.all(bm.params["W"] == bm.params["W"].T))
    ((5, 5), True)
    >>> print(round(float(bm.exact_distribution().sum()), 12))
    1.0
    """

    def __init__(self, n_visible, n_hidden=0, *, rng, weight_std=0.1, dtype=np.float64):
        self.n_visible = check_int(n_visible, "n_visible", low=1)
        self.n_hidden = check_int(n_hidden, "n_hidden", low=0)
        check_rng(rng)
        weight_std = check_real(weight_std, "weight_std", low=0.0)
        n = self.n_units
        W = normal((n, n), rng=rng, std=weight_std, dtype=dtype)
        W = np.triu(W, 1)
        self.params = {"W": W + W.T, "b": np.zeros(n, dtype=dtype)}
        self._free_chains: np.ndarray | None = None

    @property
    def n_units(self) -> int:
        """`n_visible + n_hidden`."""
        return self.n_visible + self.n_hidden

    @property
    def _visible_mask(self) -> np.ndarray:
        return np.arange(self.n_units) < self.n_visible

    def energy(self, states) -> np.ndarray:
        """[`energy`][dlref.models.boltzmann.energy] of full states `(N, n_units)` under this model."""
        return energy(states, self.params["W"], self.params["b"])

    def gibbs(self, states, *, rng, n_sweeps=1, temperature=1.0, clamp_visible=False) -> np.ndarray:
        r"""Run `n_sweeps` sweeps of [`gibbs_sweep`][dlref.models.boltzmann.gibbs_sweep] from `states`.

        With `clamp_visible=True` only the hidden units are resampled (the clamped phase).
        """
        n_sweeps = check_int(n_sweeps, "n_sweeps", low=0)
        clamped = self._visible_mask if check_bool(clamp_visible, "clamp_visible") else None
        states = _check_binary(states, "states", self.n_units)
        for _ in range(n_sweeps):
            states = gibbs_sweep(states, self.params["W"], self.params["b"], rng=rng,
                                 temperature=temperature, clamped=clamped)
        return states

    def exact_distribution(self, temperature=1.0) -> np.ndarray:
        r"""$p_T(s)$ for every state of [`all_states`][dlref.models.boltzmann.all_states]`(n_units)`, by enumeration.

        Computed as a softmax of $-E/T$ over the $2^n$ states (log-sum-exp, so no overflow); only for
        `n_units` up to 20.
        """
        _check_enumerable(self.n_units)
        temperature = check_real(temperature, "temperature", low=0.0, low_inclusive=False)
        return softmax(-self.energy(all_states(self.n_units)) / temperature)

    def exact_visible_distribution(self) -> np.ndarray:
        r"""$p(v) = \sum_h p(v, h)$ at $T = 1$ for every visible state of `all_states(n_visible)`."""
        joint = self.exact_distribution().reshape(2**self.n_visible, 2**self.n_hidden)
        return joint.sum(axis=1)

    def exact_log_likelihood(self, v) -> float:
        r"""Mean $\log p(v)$ of binary data `v` `(N, n_visible)`, by enumeration (tiny networks only)."""
        v = _check_binary(v, "v", self.n_visible)
        return float(np.mean(np.log(self.exact_visible_distribution()[state_indices(v)])))

    def _clamped_exact(self, v) -> tuple[np.ndarray, np.ndarray]:
        """Every (data vector, hidden state) pair, weighted by p(h | v) / N."""
        hidden = all_states(self.n_hidden)
        states = np.concatenate([np.repeat(v, len(hidden), axis=0), np.tile(hidden, (len(v), 1))], axis=1)
        posterior = softmax(-self.energy(states).reshape(len(v), len(hidden)), axis=1)
        return states, posterior.reshape(-1)

    def exact_gradients(self, v) -> dict[str, np.ndarray]:
        r"""Exact gradient of the mean negative log-likelihood of `v`, by enumeration.

        The learning rule with both phases' expectations computed exactly:
        $\partial(-\overline{\log p(v)})/\partial W_{ij} = \langle s_i s_j \rangle_\text{free} -
        \langle s_i s_j \rangle_\text{clamped}$ and likewise for $b$ with $\langle s_i \rangle$; see
        [`learning_gradients`][dlref.models.boltzmann.BoltzmannMachine.learning_gradients].
        """
        v = _check_binary(v, "v", self.n_visible)
        _check_enumerable(self.n_units)
        clamped = correlations(*self._clamped_exact(v))
        free = correlations(all_states(self.n_units), self.exact_distribution())
        return self._rule(clamped, free)

    def learning_gradients(self, v, *, rng, n_sweeps=1, n_chains=100) -> dict[str, np.ndarray]:
        r"""The clamped/free-phase learning rule, with both phases estimated by Gibbs sampling.

        Parameters
        ----------
        v : array_like, shape (N, n_visible)
            A batch of binary data vectors.
        rng : numpy.random.Generator
        n_sweeps : int, default 1
            Gibbs sweeps per phase. The clamped phase starts the hidden units at random; the free phase
            continues `n_chains` persistent chains kept between calls (Tieleman's persistent chains,
            which stay near equilibrium because the weights change slowly).
        n_chains : int, default 100
            Chains of the free phase, created on the first call.

        Returns
        -------
        dict of str to numpy.ndarray
            Gradients of the mean negative log-likelihood, `{"W", "b"}`, for any `dlref.optim` step.

        Notes
        -----
        For $\log p(v) = \log\sum_h e^{-E(v, h)} - \log Z$ and $\partial E/\partial W_{ij} = -s_i s_j$
        (one parameter per undirected connection),

        $$\frac{\partial \log p(v)}{\partial W_{ij}} = \langle s_i s_j \rangle_{p(h \mid v)} -
        \langle s_i s_j \rangle_{p(v, h)},$$

        the *clamped* phase (visible units held at the data, hidden units sampled) minus the *free*
        phase (all units sampled from the model): Hebbian learning on data, anti-Hebbian on the
        model's own fantasies. Both statistics are local to the connection. The free phase needs samples
        from $p$ because $Z$ sums over $2^n$ states.

        References
        ----------
        Ackley, D. H., Hinton, G. E. & Sejnowski, T. J. (1985). A learning algorithm for Boltzmann
        machines. *Cognitive Science*, 9(1).
        Tieleman, T. (2008). Training restricted Boltzmann machines using approximations to the
        likelihood gradient. ICML.
        """
        v = _check_binary(v, "v", self.n_visible)
        check_rng(rng)
        n_chains = check_int(n_chains, "n_chains", low=1)
        hidden = (rng.random((len(v), self.n_hidden)) < 0.5).astype(v.dtype)
        clamped_states = self.gibbs(np.concatenate([v, hidden], axis=1), rng=rng, n_sweeps=n_sweeps,
                                    clamp_visible=True)
        if self._free_chains is None or len(self._free_chains) != n_chains:
            self._free_chains = (rng.random((n_chains, self.n_units)) < 0.5).astype(v.dtype)
        self._free_chains = self.gibbs(self._free_chains, rng=rng, n_sweeps=n_sweeps)
        return self._rule(correlations(clamped_states), correlations(self._free_chains))

    def _rule(self, clamped, free) -> dict[str, np.ndarray]:
        dtype = self.params["W"].dtype
        grad_W = free[0] - clamped[0]
        np.fill_diagonal(grad_W, 0.0)
        return {"W": grad_W.astype(dtype), "b": (free[1] - clamped[1]).astype(dtype)}

    def fit(self, v, *, epochs, rng, exact=False, n_sweeps=1, n_chains=100, optimizer=sgd_step,
            optimizer_kwargs=None) -> dict[str, list[float]]:
        r"""Learn by full-batch steps of the clamped/free-phase rule; returns the per-epoch history.

        Parameters
        ----------
        v : array_like, shape (N, n_visible)
            Binary training data.
        epochs : int
            Steps, each on the whole of `v`.
        rng : numpy.random.Generator
            Drives the sampling (unused when `exact`).
        exact : bool, default False
            Use [`exact_gradients`][dlref.models.boltzmann.BoltzmannMachine.exact_gradients] (tiny
            networks) instead of [`learning_gradients`][dlref.models.boltzmann.BoltzmannMachine.learning_gradients].
        n_sweeps, n_chains : int
            Passed to `learning_gradients`.
        optimizer : callable, default [`sgd_step`][dlref.optim.sgd_step]
        optimizer_kwargs : dict, optional
            E.g. `{"lr": 0.1}`.

        Returns
        -------
        dict of str to list of float
            `seconds` per epoch, and `log_likelihood` (exact mean $\log p(v)$ after each epoch) when the
            network has at most 16 units.
        """
        v = _check_binary(v, "v", self.n_visible)
        epochs = check_int(epochs, "epochs", low=0)
        check_bool(exact, "exact")
        kwargs = dict(optimizer_kwargs or {})
        history: dict[str, list[float]] = {"seconds": []}
        state = None
        for _ in range(epochs):
            start = time.perf_counter()
            grads = (self.exact_gradients(v) if exact
                     else self.learning_gradients(v, rng=rng, n_sweeps=n_sweeps, n_chains=n_chains))
            with _trusted_inputs():  # the parameters, gradients and state are the ones built here
                self.params, state = optimizer(self.params, grads, state, **kwargs)
            history["seconds"].append(time.perf_counter() - start)
            if self.n_units <= _TRACKED_UNITS:
                history.setdefault("log_likelihood", []).append(self.exact_log_likelihood(v))
        return history
