r"""The restricted Boltzmann machine (RBM) and a deep belief network built by stacking RBMs.

An RBM is a [Boltzmann machine](models.md#dlref.models.boltzmann.BoltzmannMachine) whose units form two layers, visible
$v \in \{0,1\}^D$ and hidden $h \in \{0,1\}^H$, with connections only between the layers:

$$E(v, h) = -b_v^\top v - b_h^\top h - h^\top W v, \qquad p(v, h) = e^{-E(v, h)} / Z,$$

with `W` of shape `(n_hidden, n_visible)` (scikit-learn's `components_`). With no connections inside
a layer, the units of one layer are independent given the other,
$p(h_j = 1 \mid v) = \sigma(W_j v + b_{h,j})$ and $p(v_i = 1 \mid h) = \sigma(W_{:,i}^\top h + b_{v,i})$,
so a whole layer is sampled at once (block Gibbs sampling), and the hidden layer sums out in closed
form into the *free energy* $F(v) = -\log\sum_h e^{-E(v, h)}$, with $p(v) = e^{-F(v)} / Z$.

The functions take `params = {"W", "b_visible", "b_hidden"}`; [`RBM`][dlref.models.rbm.RBM] keeps them
as attributes and trains them by contrastive divergence (CD-k) or persistent contrastive divergence,
and [`DeepBeliefNetwork`][dlref.models.rbm.DeepBeliefNetwork] stacks RBMs trained greedily.
Visible values may be probabilities in $[0, 1]$ (grey pixels), as in scikit-learn's `BernoulliRBM`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from dlref._checks import as_float_array, check_bool, check_choice, check_int, check_real, check_rng
from dlref.activations import _sigmoid, sigmoid, softplus
from dlref.data import minibatches
from dlref.init import normal
from dlref.models.boltzmann import _check_enumerable, all_states
from dlref.optim import _trusted_inputs, sgd_step

__all__ = ["RBM", "DeepBeliefNetwork", "energy", "free_energy", "free_energy_backward",
           "hidden_probabilities", "visible_probabilities", "exact_log_partition"]

_PARAM_NAMES = ("W", "b_visible", "b_hidden")
_ENUMERATION_CHUNK = 4096  # states per block when summing over 2**n states, to bound memory


# --------------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------------

def _check_params(params) -> dict[str, np.ndarray]:
    if not isinstance(params, dict) or set(params) != set(_PARAM_NAMES):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"params must be a dict with keys {list(_PARAM_NAMES)}; got {got}. RBM.params "
                         f"returns one.")
    W = as_float_array(params["W"], "params['W']", allow_inf=False)
    b_visible = as_float_array(params["b_visible"], "params['b_visible']", allow_inf=False)
    b_hidden = as_float_array(params["b_hidden"], "params['b_hidden']", allow_inf=False)
    if W.ndim != 2:
        raise ValueError(f"params['W'] must be 2-D with shape (n_hidden, n_visible), as scikit-learn's "
                         f"BernoulliRBM.components_; got shape {W.shape}.")
    if b_visible.shape != (W.shape[1],) or b_hidden.shape != (W.shape[0],):
        raise ValueError(f"params['b_visible'] must have shape (n_visible,) = ({W.shape[1]},) and "
                         f"params['b_hidden'] shape (n_hidden,) = ({W.shape[0]},) for W of shape {W.shape}; "
                         f"got {b_visible.shape} and {b_hidden.shape}.")
    return {"W": W, "b_visible": b_visible, "b_hidden": b_hidden}


def _check_layer(x, name: str, size: int, what: str) -> np.ndarray:
    x = as_float_array(x, name, allow_inf=False)
    if x.ndim != 2 or x.shape[1] != size:
        raise ValueError(f"{name} must have shape (N, {size}), one row of {what} per example; got "
                         f"{x.shape}. For a single example use {name}[None, :].")
    bad = (x < 0) | (x > 1)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} must hold binary states or probabilities in [0, 1]; got {x[where]} at "
                         f"index {where}. Scale the data to [0, 1] first (for 8x8 digits, divide by 16).")
    return x


# --------------------------------------------------------------------------------------------------------
# The model's equations
# --------------------------------------------------------------------------------------------------------

def _bernoulli(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return (rng.random(p.shape, dtype=p.dtype) < p).astype(p.dtype)


def _transposed(params: dict) -> dict:
    """The same RBM with the roles of the layers swapped: E(v, h) is symmetric in them."""
    return {"W": params["W"].T, "b_visible": params["b_hidden"], "b_hidden": params["b_visible"]}


def _free_energy_grads(v: np.ndarray, p_hidden: np.ndarray, weights: np.ndarray) -> dict:
    r"""$\sum_n w_n \partial F(v_n)/\partial\theta$, given $p(h = 1 \mid v_n)$."""
    weighted = p_hidden * weights[:, None]
    return {"W": -(weighted.T @ v), "b_visible": -(weights @ v), "b_hidden": -weighted.sum(axis=0)}


def hidden_probabilities(v, params):
    r"""$p(h_j = 1 \mid v) = \sigma(W_j v + b_{h,j})$ for every hidden unit.

    Parameters
    ----------
    v : array_like, shape (N, n_visible)
        Visible states or probabilities in $[0, 1]$.
    params : dict
        `{"W": (n_hidden, n_visible), "b_visible": (n_visible,), "b_hidden": (n_hidden,)}`.

    Returns
    -------
    numpy.ndarray, shape (N, n_hidden)
        The probabilities; also the RBM's features of `v` (scikit-learn's `transform`).

    Examples
    --------
    >>> params = {"W": np.array([[2.0, -2.0]]), "b_visible": np.zeros(2), "b_hidden": np.array([-1.0])}
    >>> print(np.round(hidden_probabilities(np.array([[1.0, 0.0], [0.0, 1.0]]), params), 4))
    [[0.7311]
     [0.0474]]
    """
    params = _check_params(params)
    v = _check_layer(v, "v", params["W"].shape[1], "visible values")
    return sigmoid(v @ params["W"].T + params["b_hidden"])


def visible_probabilities(h, params):
    r"""$p(v_i = 1 \mid h) = \sigma(W_{:,i}^\top h + b_{v,i})$ for every visible unit.

    Parameters
    ----------
    h : array_like, shape (N, n_hidden)
        Hidden states or probabilities in $[0, 1]$.
    params : dict
        As in [`hidden_probabilities`][dlref.models.rbm.hidden_probabilities].

    Returns
    -------
    numpy.ndarray, shape (N, n_visible)

    Examples
    --------
    >>> params = {"W": np.array([[2.0, -2.0]]), "b_visible": np.zeros(2), "b_hidden": np.zeros(1)}
    >>> print(np.round(visible_probabilities(np.array([[1.0]]), params), 4))
    [[0.8808 0.1192]]
    """
    params = _check_params(params)
    return hidden_probabilities(h, _transposed(params))


def energy(v, h, params):
    r"""Joint energy $E(v, h) = -b_v^\top v - b_h^\top h - h^\top W v$ of each pair of rows.

    Parameters
    ----------
    v : array_like, shape (N, n_visible)
    h : array_like, shape (N, n_hidden)
    params : dict
        As in [`hidden_probabilities`][dlref.models.rbm.hidden_probabilities].

    Returns
    -------
    numpy.ndarray, shape (N,)

    Notes
    -----
    This is the energy of a [Boltzmann machine](models.md#dlref.models.boltzmann.energy) over the
    units $(v, h)$ whose weight matrix has the blocks $W^\top$ and $W$ off the diagonal and zeros on it:
    the restriction is only that visible-visible and hidden-hidden weights are zero.

    Examples
    --------
    >>> params = {"W": np.array([[1.0, 2.0]]), "b_visible": np.array([0.5, 0.0]), "b_hidden": np.array([-1.0])}
    >>> print(energy(np.array([[1.0, 1.0]]), np.array([[1.0]]), params))
    [-2.5]
    """
    params = _check_params(params)
    v = _check_layer(v, "v", params["W"].shape[1], "visible values")
    h = _check_layer(h, "h", params["W"].shape[0], "hidden values")
    if len(h) != len(v):
        raise ValueError(f"h must have one row per row of v, {len(v)}; got {len(h)}.")
    return -(v @ params["b_visible"]) - h @ params["b_hidden"] - np.einsum("nj,ji,ni->n", h, params["W"], v)


def free_energy(v, params):
    r"""Free energy $F(v) = -b_v^\top v - \sum_j \log\big(1 + e^{W_j v + b_{h,j}}\big)$.

    Parameters
    ----------
    v : array_like, shape (N, n_visible)
        Visible states or probabilities in $[0, 1]$.
    params : dict
        As in [`hidden_probabilities`][dlref.models.rbm.hidden_probabilities].

    Returns
    -------
    numpy.ndarray, shape (N,)
        $F(v)$, so that $p(v) = e^{-F(v)}/Z$; equal to scikit-learn's `BernoulliRBM._free_energy`.

    Raises
    ------
    ValueError
        If a shape is wrong or `v` is outside $[0, 1]$.

    Notes
    -----
    Summing $e^{-E(v, h)}$ over the $2^H$ hidden states factorises over the hidden units, because
    $E$ is linear in each $h_j$:

    $$\sum_h e^{-E(v,h)} = e^{b_v^\top v} \prod_j \sum_{h_j \in \{0,1\}} e^{h_j (W_j v + b_{h,j})}
    = e^{b_v^\top v} \prod_j \big(1 + e^{W_j v + b_{h,j}}\big),$$

    and the log of each factor is a [`softplus`][dlref.activations.softplus], computed without overflow.
    With $z_j = W_j v + b_{h,j}$ and $\zeta' = \sigma$, the gradients
    ([`free_energy_backward`][dlref.models.rbm.free_energy_backward]) are

    $$\frac{\partial F}{\partial W_{ji}} = -\sigma(z_j) v_i, \quad
    \frac{\partial F}{\partial b_{v,i}} = -v_i, \quad \frac{\partial F}{\partial b_{h,j}} = -\sigma(z_j),
    \quad \frac{\partial F}{\partial v_i} = -b_{v,i} - \sum_j \sigma(z_j) W_{ji}.$$

    References
    ----------
    Hinton, G. E. (2002). Training products of experts by minimizing contrastive divergence. *Neural
    Computation*, 14(8).

    Examples
    --------
    >>> params = {"W": np.zeros((3, 2)), "b_visible": np.array([1.0, 0.0]), "b_hidden": np.zeros(3)}
    >>> print(free_energy(np.array([[1.0, 0.0]]), params), -1 - 3 * np.log(2))
    [-3.07944154] -3.0794415416798357
    """
    params = _check_params(params)
    v = _check_layer(v, "v", params["W"].shape[1], "visible values")
    return -(v @ params["b_visible"]) - softplus(v @ params["W"].T + params["b_hidden"]).sum(axis=1)


def free_energy_backward(dF, v, params):
    r"""Gradients of [`free_energy`][dlref.models.rbm.free_energy] for an upstream gradient `dF`.

    Parameters
    ----------
    dF : array_like, shape (N,)
        $\partial L/\partial F(v_n)$; `np.full(N, 1 / N)` gives the gradient of the mean free energy.
    v : array_like, shape (N, n_visible)
        The forward input.
    params : dict
        As in [`hidden_probabilities`][dlref.models.rbm.hidden_probabilities].

    Returns
    -------
    dv : numpy.ndarray, shape (N, n_visible)
        $\partial L/\partial v$.
    grads : dict of str to numpy.ndarray
        $\partial L/\partial\theta$ for `W`, `b_visible`, `b_hidden`, shaped like `params`.

    Notes
    -----
    The formulas are in [`free_energy`][dlref.models.rbm.free_energy]. Contrastive divergence is this
    gradient at the data minus this gradient at the model's samples.

    Examples
    --------
    >>> params = {"W": np.zeros((1, 2)), "b_visible": np.zeros(2), "b_hidden": np.zeros(1)}
    >>> dv, grads = free_energy_backward(np.array([1.0]), np.array([[1.0, 0.0]]), params)
    >>> print(grads["W"], grads["b_hidden"])
    [[-0.5 -0. ]] [-0.5]
    """
    params = _check_params(params)
    v = _check_layer(v, "v", params["W"].shape[1], "visible values")
    dF = as_float_array(dF, "dF", allow_inf=False)
    if dF.shape != (len(v),):
        raise ValueError(f"dF must have shape (N,) = ({len(v)},), one gradient per free energy; got "
                         f"{dF.shape}.")
    p_hidden = sigmoid(v @ params["W"].T + params["b_hidden"])
    dv = -dF[:, None] * (params["b_visible"] + p_hidden @ params["W"])
    return dv, _free_energy_grads(v, p_hidden, dF)


def exact_log_partition(params):
    r"""$\log Z = \log\sum_{v,h} e^{-E(v,h)}$ by enumerating the smaller layer (at most 20 units).

    Parameters
    ----------
    params : dict
        As in [`hidden_probabilities`][dlref.models.rbm.hidden_probabilities].

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If both layers have more than 20 units: $Z$ then has too many terms, which is why RBMs are
        trained with sampled gradients and evaluated with proxies such as the pseudo-likelihood.

    Notes
    -----
    $Z = \sum_v e^{-F(v)}$, a sum over $2^D$ visible states; by the symmetry of $E$ in the two layers it
    is also $\sum_h e^{-F'(h)}$ with the free energy of the transposed RBM, a sum over $2^H$ states.

    Examples
    --------
    >>> params = {"W": np.zeros((2, 3)), "b_visible": np.zeros(3), "b_hidden": np.zeros(2)}
    >>> print(round(exact_log_partition(params), 10), round(5 * np.log(2), 10))  # 2**5 states, E = 0
    3.4657359028 3.4657359028
    """
    params = _check_params(params)
    n_hidden, n_visible = params["W"].shape
    layer = params if n_visible <= n_hidden else _transposed(params)
    n = min(n_visible, n_hidden)
    _check_enumerable(n)
    states = all_states(n).astype(layer["W"].dtype)
    blocks = [-free_energy(states[i:i + _ENUMERATION_CHUNK], layer)
              for i in range(0, len(states), _ENUMERATION_CHUNK)]
    return float(np.logaddexp.reduce(np.concatenate(blocks)))


# --------------------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------------------

class RBM:
    r"""A Bernoulli restricted Boltzmann machine, `sklearn.neural_network.BernoulliRBM` in numpy.

    Parameters
    ----------
    n_visible, n_hidden : int
        Layer sizes $D$ and $H$.
    rng : numpy.random.Generator
        Draws the initial weights.
    weight_std : float, default 0.01
        `W` starts as $\mathcal N(0, 0.01^2)$ and the biases at zero, as scikit-learn does.
    dtype : numpy dtype, default float64
        Of the parameters; data are cast to it.

    Attributes
    ----------
    W : numpy.ndarray, shape (n_hidden, n_visible)
        Weights (scikit-learn's `components_`).
    b_visible : numpy.ndarray, shape (n_visible,)
        Visible biases (`intercept_visible_`).
    b_hidden : numpy.ndarray, shape (n_hidden,)
        Hidden biases (`intercept_hidden_`).
    persistent_hidden : numpy.ndarray or None
        Hidden states of the persistent chains of PCD (`h_samples_`), kept between calls of `fit`.

    Examples
    --------
    >>> rbm = RBM(4, 3, rng=np.random.default_rng(0))
    >>> print(rbm.W.shape, rbm.b_visible.shape, rbm.b_hidden.shape)
    (3, 4) (4,) (3,)
    >>> print(rbm.free_energy(np.zeros((1, 4))))  # softplus(0) = log 2 per hidden unit
    [-2.07944154]
    """

    def __init__(self, n_visible, n_hidden, *, rng, weight_std=0.01, dtype=np.float64):
        n_visible = check_int(n_visible, "n_visible", low=1)
        n_hidden = check_int(n_hidden, "n_hidden", low=1)
        check_rng(rng)
        weight_std = check_real(weight_std, "weight_std", low=0.0)
        self.W = normal((n_hidden, n_visible), rng=rng, std=weight_std, dtype=dtype)
        self.b_visible = np.zeros(n_visible, dtype=dtype)
        self.b_hidden = np.zeros(n_hidden, dtype=dtype)
        self.persistent_hidden: np.ndarray | None = None

    @property
    def params(self) -> dict[str, np.ndarray]:
        """`{"W", "b_visible", "b_hidden"}`, the layout every function of this module takes; assignable."""
        return {"W": self.W, "b_visible": self.b_visible, "b_hidden": self.b_hidden}

    @params.setter
    def params(self, params) -> None:
        params = _check_params(params)
        if params["W"].shape != self.W.shape:
            raise ValueError(f"params['W'] must keep the shape {self.W.shape}; got {params['W'].shape}.")
        self.W, self.b_visible, self.b_hidden = params["W"], params["b_visible"], params["b_hidden"]

    @property
    def n_visible(self) -> int:
        """Number of visible units $D$."""
        return self.W.shape[1]

    @property
    def n_hidden(self) -> int:
        """Number of hidden units $H$."""
        return self.W.shape[0]

    def _data(self, v) -> np.ndarray:
        return _check_layer(v, "v", self.n_visible, "visible values").astype(self.W.dtype, copy=False)

    def transform(self, v) -> np.ndarray:
        """Features $p(h = 1 \\mid v)$, shape `(N, n_hidden)`.

        See [`hidden_probabilities`][dlref.models.rbm.hidden_probabilities].
        """
        return hidden_probabilities(self._data(v), self.params)

    def free_energy(self, v) -> np.ndarray:
        """[`free_energy`][dlref.models.rbm.free_energy] of each row of `v`."""
        return free_energy(self._data(v), self.params)

    def exact_log_likelihood(self, v) -> np.ndarray:
        r"""$\log p(v) = -F(v) - \log Z$ per row (small layers only).

        $Z$ comes from [`exact_log_partition`][dlref.models.rbm.exact_log_partition], by enumeration.
        """
        return -self.free_energy(v) - exact_log_partition(self.params)

    def pseudo_likelihood(self, v, features=None) -> np.ndarray:
        r"""Log pseudo-likelihood $\sum_i \log p(v_i \mid v_{-i})$ of each row: a tractable proxy for $\log p(v)$.

        Parameters
        ----------
        v : array_like, shape (N, n_visible)
            Binary data, or probabilities (then each "flip" below is $v_i \to 1 - v_i$, as in
            scikit-learn).
        features : array_like of int, shape (N,), optional
            If given, the stochastic estimate that scikit-learn's `BernoulliRBM.score_samples` returns:
            only feature `features[n]` of row $n$ is flipped and the term is multiplied by $D$. By
            default every feature is flipped in turn and the exact sum is returned.

        Returns
        -------
        numpy.ndarray, shape (N,)
            In nats; higher is better, at most 0.

        Notes
        -----
        For binary $v$, with $\tilde v^{(i)}$ equal to $v$ with unit $i$ flipped, the partition function
        cancels from the conditional:
        $p(v_i \mid v_{-i}) = e^{-F(v)} / (e^{-F(v)} + e^{-F(\tilde v^{(i)})}) =
        \sigma(F(\tilde v^{(i)}) - F(v))$. Besag's pseudo-likelihood sums its log over the $D$ units;
        the one-feature estimate has that sum as its expectation over a uniformly drawn feature.

        References
        ----------
        Besag, J. (1975). Statistical analysis of non-lattice data. *Journal of the Royal Statistical
        Society, Series D (The Statistician)*, 24(3).
        """
        v = self._data(v)
        base = free_energy(v, self.params)

        def log_conditional(flipped: np.ndarray) -> np.ndarray:  # log sigmoid(F(flipped) - F(v))
            return -softplus(base - free_energy(flipped, self.params))

        rows = np.arange(len(v))
        if features is not None:
            features = np.asarray(features)
            if (features.dtype.kind not in "iu" or features.shape != (len(v),)
                    or np.any((features < 0) | (features >= self.n_visible))):
                raise ValueError(f"features must hold one integer feature index in [0, {self.n_visible}) per "
                                 f"row of v, shape ({len(v)},); got dtype {features.dtype}, shape "
                                 f"{features.shape}.")
            flipped = v.copy()
            flipped[rows, features] = 1 - flipped[rows, features]
            return self.n_visible * log_conditional(flipped)
        total = np.zeros(len(v), dtype=v.dtype)
        for i in range(self.n_visible):
            flipped = v.copy()
            flipped[:, i] = 1 - flipped[:, i]
            total += log_conditional(flipped)
        return total

    def gibbs(self, v, *, rng, n_steps=1, with_probabilities=False):
        r"""Run `n_steps` steps of block Gibbs sampling $v \to h \sim p(h \mid v) \to v \sim p(v \mid h)$.

        Parameters
        ----------
        v : array_like, shape (N, n_visible)
            Start of $N$ independent chains.
        rng : numpy.random.Generator
        n_steps : int, default 1
        with_probabilities : bool, default False
            Also return $p(v \mid h)$ of the last step: a less noisy picture of the same chain state.

        Returns
        -------
        v : numpy.ndarray, shape (N, n_visible)
            The binary states after the last step; continue the chain from them.
        p_visible : numpy.ndarray, shape (N, n_visible)
            Only with `with_probabilities`.

        Notes
        -----
        Given $v$ the hidden units are independent, and so are the visible units given $h$, so each half
        step samples a whole layer at once; the chain's stationary distribution is $p(v, h)$.
        """
        v = self._data(v)
        check_rng(rng)
        n_steps = check_int(n_steps, "n_steps", low=1)
        for _ in range(n_steps):
            h = _bernoulli(sigmoid(v @ self.W.T + self.b_hidden), rng)
            p_visible = sigmoid(h @ self.W + self.b_visible)
            v = _bernoulli(p_visible, rng)
        return (v, p_visible) if check_bool(with_probabilities, "with_probabilities") else v

    def cd_gradients(self, v, *, rng, method="cd", k=1) -> dict[str, np.ndarray]:
        r"""One estimate of the gradient of the mean negative log-likelihood by CD-k or PCD-k.

        Parameters
        ----------
        v : array_like, shape (N, n_visible)
            A mini-batch.
        rng : numpy.random.Generator
        method : {"cd", "pcd"}, default "cd"
            `"cd"` starts the negative chain at the data (Hinton 2002); `"pcd"` continues the persistent
            chains in `persistent_hidden` (Tieleman 2008), created as zeros of shape `(N, n_hidden)` on
            first use as in scikit-learn, and advanced here.
        k : int, default 1
            Gibbs steps of the negative chain.

        Returns
        -------
        dict of str to numpy.ndarray
            Keys `W`, `b_visible`, `b_hidden`, for any `dlref.optim` step function.

        Notes
        -----
        Since $p(v) = e^{-F(v)}/Z$ and $\partial\log Z/\partial\theta = -\mathbb E_{p}[\partial F/\partial\theta]$,

        $$-\frac{\partial \log p(v)}{\partial \theta} = \frac{\partial F(v)}{\partial \theta} -
        \mathbb E_{v' \sim p}\left[\frac{\partial F(v')}{\partial \theta}\right]:$$

        the free-energy gradient (see [`free_energy`][dlref.models.rbm.free_energy]) at the data minus
        its expectation under the model. CD replaces the expectation by the average over $v'$ from a
        $k$-step Gibbs chain; for `W` this is $-(\langle h v^\top\rangle_\text{data} -
        \langle h v^\top\rangle_\text{model})$ with $h$ replaced by $p(h = 1 \mid v)$. CD-k from the data
        is biased (the chain has not mixed) but has low variance; PCD's chains are never restarted, so
        they track the model distribution as the weights change slowly. The update is scikit-learn's:
        its `_fit` is PCD-1 with plain SGD.

        References
        ----------
        Hinton, G. E. (2002). Training products of experts by minimizing contrastive divergence. *Neural
        Computation*, 14(8).
        Tieleman, T. (2008). Training restricted Boltzmann machines using approximations to the
        likelihood gradient. ICML.
        """
        v = self._data(v)
        check_rng(rng)
        method = check_choice(method, "method", ("cd", "pcd"))
        k = check_int(k, "k", low=1)
        return self._cd_gradients(v, rng, method, k)

    def _cd_gradients(self, v: np.ndarray, rng: np.random.Generator, method: str, k: int) -> dict:
        n = len(v)
        if method == "cd":
            h = _bernoulli(_sigmoid(v @ self.W.T + self.b_hidden), rng)
        else:
            if self.persistent_hidden is None:
                self.persistent_hidden = np.zeros((n, self.n_hidden), dtype=self.W.dtype)
            h = self.persistent_hidden
        for step in range(k):
            if step:
                h = _bernoulli(_sigmoid(v_model @ self.W.T + self.b_hidden), rng)
            v_model = _bernoulli(_sigmoid(h @ self.W + self.b_visible), rng)
        # p(h = 1 | v) of the data and of the chain's last sample, from one product
        both = np.concatenate([v, v_model])
        p_hidden = _sigmoid(both @ self.W.T + self.b_hidden)  # unchecked: the loop's own finite arrays
        if method == "pcd":
            self.persistent_hidden = _bernoulli(p_hidden[n:], rng)
        # the free-energy gradient averaged over the data minus averaged over the chains (PCD may keep
        # more chains than the last batch has examples)
        m = len(v_model)
        weights = np.concatenate([np.full(n, 1.0 / n, dtype=v.dtype), np.full(m, -1.0 / m, dtype=v.dtype)])
        return _free_energy_grads(both, p_hidden, weights)

    def fit(self, v, *, epochs, batch_size, rng, method="pcd", k=1, shuffle=True,
            optimizer: Callable = sgd_step, optimizer_kwargs=None, validation=None) -> dict[str, list[float]]:
        r"""Train by mini-batch CD-k or PCD-k; returns the per-epoch history.

        Parameters
        ----------
        v : array_like, shape (N, n_visible)
            Training data in $[0, 1]$.
        epochs, batch_size : int
            Passes over the data and examples per update.
        rng : numpy.random.Generator
            Drives the sampling and the shuffling.
        method : {"pcd", "cd"}, default "pcd"
            See [`cd_gradients`][dlref.models.rbm.RBM.cd_gradients]. PCD with `k=1`, plain SGD and
            `shuffle=False` is scikit-learn's `BernoulliRBM.fit`.
        k : int, default 1
            Gibbs steps per update.
        shuffle : bool, default True
            Visit the examples in a new random order each epoch; scikit-learn uses the data's order.
        optimizer : callable, default [`sgd_step`][dlref.optim.sgd_step]
        optimizer_kwargs : dict, optional
            E.g. `{"lr": 0.1}` (scikit-learn's `learning_rate`; its update is `lr` times the batch mean).
        validation : array_like, optional
            Data whose mean exact [`pseudo_likelihood`][dlref.models.rbm.RBM.pseudo_likelihood] is
            recorded after every epoch.

        Returns
        -------
        dict of str to list of float
            `seconds` per epoch, and `pseudo_likelihood` when `validation` is given.
        """
        v = self._data(v)
        epochs = check_int(epochs, "epochs", low=0)
        method = check_choice(method, "method", ("cd", "pcd"))
        k = check_int(k, "k", low=1)
        check_rng(rng)
        kwargs = dict(optimizer_kwargs or {})
        history: dict[str, list[float]] = {"seconds": []}
        state = None
        for _ in range(epochs):
            start = time.perf_counter()
            for batch, _ in minibatches(v, np.arange(len(v)), batch_size, rng=rng, shuffle=shuffle):
                grads = self._cd_gradients(batch, rng, method, k)
                with _trusted_inputs():  # the parameters, gradients and state are the ones built here
                    params, state = optimizer(self.params, grads, state, **kwargs)
                self.W, self.b_visible, self.b_hidden = params["W"], params["b_visible"], params["b_hidden"]
            history["seconds"].append(time.perf_counter() - start)
            if validation is not None:
                history.setdefault("pseudo_likelihood", []).append(
                    float(np.mean(self.pseudo_likelihood(validation))))
        return history


class DeepBeliefNetwork:
    r"""A stack of RBMs trained greedily, layer by layer (Hinton, Osindero & Teh 2006).

    The first RBM models the data; each next RBM models the hidden probabilities $p(h = 1 \mid v)$ of
    the one below on the training data. As a generative model, the top two layers form an undirected
    RBM and the layers below are directed, top-down sigmoid belief layers: to sample, run Gibbs sampling
    in the top RBM, then pass down through $p(v \mid h)$ of each lower RBM.

    Parameters
    ----------
    layer_sizes : sequence of int
        Units per layer from the data up, e.g. `(64, 100, 50)`: one RBM per consecutive pair.
    rng : numpy.random.Generator
        Draws the initial weights.
    weight_std : float, default 0.01
    dtype : numpy dtype, default float64

    Attributes
    ----------
    rbms : list of RBM
        `rbms[0]` sees the data.

    Notes
    -----
    Adding a layer this way does not lower a variational lower bound on $\log p(v)$ (for suitably
    initialised layers it raises it), which justified greedy pretraining; the stack is then used as a
    generative model, or its weights initialise a feed-forward network that is fine-tuned by
    backpropagation.

    References
    ----------
    Hinton, G. E., Osindero, S. & Teh, Y.-W. (2006). A fast learning algorithm for deep belief nets.
    *Neural Computation*, 18(7).

    Examples
    --------
    >>> dbn = DeepBeliefNetwork((6, 4, 2), rng=np.random.default_rng(0))
    >>> print([rbm.W.shape for rbm in dbn.rbms], dbn.transform(np.zeros((3, 6))).shape)
    [(4, 6), (2, 4)] (3, 2)
    """

    def __init__(self, layer_sizes, *, rng, weight_std=0.01, dtype=np.float64):
        sizes = tuple(check_int(n, "each layer size", low=1) for n in layer_sizes)
        if len(sizes) < 3:
            raise ValueError(f"layer_sizes must list the data size and at least two hidden layers, e.g. "
                             f"(64, 100, 50); got {sizes}. For one hidden layer use RBM.")
        self.rbms = [RBM(n_in, n_out, rng=rng, weight_std=weight_std, dtype=dtype)
                     for n_in, n_out in zip(sizes[:-1], sizes[1:])]

    def fit(self, v, *, epochs, batch_size, rng, **fit_kwargs) -> list[dict[str, list[float]]]:
        """Train each RBM in turn with [`RBM.fit`][dlref.models.rbm.RBM.fit] on the layer below's features.

        Returns the history of each RBM's training.
        """
        histories = []
        x = v
        for rbm in self.rbms:
            histories.append(rbm.fit(x, epochs=epochs, batch_size=batch_size, rng=rng, **fit_kwargs))
            x = rbm.transform(x)
        return histories

    def transform(self, v) -> np.ndarray:
        """Top-layer features: $p(h = 1 \\mid \\cdot)$ passed up through every RBM."""
        for rbm in self.rbms:
            v = rbm.transform(v)
        return v

    def sample(self, v, *, rng, n_steps) -> np.ndarray:
        r"""Fantasies: chains started from data `v`, run `n_steps` Gibbs steps in the top RBM, then passed down.

        Returns $p(v \mid h)$ of the bottom RBM (grey images rather than binary noise), shape
        `(N, layer_sizes[0])`. Intermediate layers are sampled, as the directed layers of a DBN are.
        """
        *lower, top = self.rbms
        for rbm in lower:
            v = rbm.transform(v)
        h = top.gibbs(v, rng=rng, n_steps=n_steps)
        for rbm in reversed(lower):
            p = visible_probabilities(h, rbm.params)
            h = _bernoulli(p, rng)
        return p
