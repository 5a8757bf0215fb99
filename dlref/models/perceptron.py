r"""Rosenblatt's perceptron: a linear threshold unit and its error-correcting learning rule.

The unit computes $\hat y = H(w^\top x + b)$ with the Heaviside [`step`][dlref.activations.step]
($H(z) = 1$ for $z > 0$, else $0$). Its parameters are laid out as a `torch.nn.Linear(n_features, 1)`:
`W` of shape `(1, n_features)` and `b` of shape `(1,)`. Labels are 0 and 1.

The step has no useful derivative, so the perceptron is not trained by gradient descent but by its own
rule, [`perceptron_update`][dlref.models.perceptron.perceptron_update]: after each example, move the
weights towards the example if the unit said 0 where the label is 1, away from it if the unit said 1
where the label is 0, and leave them alone if it was right.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dlref._checks import as_float_array, check_int, check_real, check_rng
from dlref.activations import step
from dlref.layers import linear_forward

__all__ = ["Perceptron", "PerceptronHistory", "perceptron_update", "mistake_bound"]


def _check_params(params) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(params, Mapping) or set(params) != {"W", "b"}:
        got = sorted(params) if isinstance(params, Mapping) else type(params).__name__
        raise TypeError(f"params must be a dict with the keys 'W' (shape (1, n_features)) and 'b' (shape "
                        f"(1,)), as Perceptron.params; got {got}.")
    W = as_float_array(params["W"], "params['W']", allow_inf=False)
    b = as_float_array(params["b"], "params['b']", allow_inf=False)
    if W.ndim != 2 or W.shape[0] != 1 or b.shape != (1,):
        raise ValueError(f"params['W'] must have shape (1, n_features) and params['b'] shape (1,), the "
                         f"layout of torch.nn.Linear(n_features, 1); got {W.shape} and {b.shape}.")
    return W, b


def _check_labels(y, n: int) -> np.ndarray:
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":
        raise TypeError(f"y must hold the labels 0 and 1; got an array of dtype {y.dtype}.")
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},), one label per example of X; got {y.shape}.")
    bad = (y != 0) & (y != 1)
    if bad.any():
        where = int(np.argmax(bad))
        raise ValueError(f"y must hold the labels 0 and 1; got {y[where]} at index {where}. If your labels "
                         f"are -1 and 1, map them with (y + 1) // 2.")
    return y.astype(np.int64)


def _check_examples(X, n_features: int, name: str = "X") -> np.ndarray:
    X = as_float_array(X, name, allow_inf=False)
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ValueError(f"{name} must have shape (N, {n_features}), one row per example; got {X.shape}. "
                         f"For a single example use {name}[None, :].")
    return X


def _apply_rule(W: np.ndarray, b: np.ndarray, x: np.ndarray, y: int, lr: float):
    r"""The rule on checked inputs: returns the new `W`, `b` and the error $y - \hat y$."""
    error = y - int(step(linear_forward(x, W, b))[0])
    if error == 0:
        return W, b, 0
    return W + (lr * error) * x, b + lr * error, error


def perceptron_update(params, x, y, *, lr=1.0):
    r"""One step of the perceptron learning rule on a single example.

    $$\hat y = H(w^\top x + b), \qquad w \leftarrow w + \eta\,(y - \hat y)\,x, \qquad
      b \leftarrow b + \eta\,(y - \hat y).$$

    Parameters
    ----------
    params : dict
        `{"W": array of shape (1, d), "b": array of shape (1,)}`, the unit's current parameters.
    x : array_like, shape (d,)
        One example.
    y : int
        Its label, 0 or 1.
    lr : float, default 1.0
        The learning rate $\eta > 0$.

    Returns
    -------
    new_params : dict
        `{"W": ..., "b": ...}`: new arrays after a mistake, the same arrays otherwise. `params` is not
        modified.
    error : int
        $y - \hat y$: 0 if the unit was right, $+1$ if it said 0 for a 1, $-1$ if it said 1 for a 0.

    Raises
    ------
    TypeError
        If `params` is not a dict with the keys `W` and `b`, or an input is not real-valued.
    ValueError
        If a shape is wrong, `y` is not 0 or 1, `lr` is not positive, or a value is NaN or infinite.

    Notes
    -----
    The error $e = y - \hat y$ is non-zero only on a mistake, and then it has the sign of the needed
    correction: with $e = +1$ the new pre-activation is $w^\top x + b + \eta(\|x\|^2 + 1)$, larger than
    before, and with $e = -1$ it is smaller. With the labels written $t = 2y - 1 \in \{-1, +1\}$ it is
    Rosenblatt's "add $\eta t x$ on a mistake". The rule is not gradient descent on any loss of $\hat y$,
    whose derivative is zero; it is the subgradient step of the perceptron criterion
    $\max(0, -t(w^\top x + b))$ (Duda, Hart & Stork, section 5.5), except that ties $w^\top x + b = 0$
    count as class 0 here, as $H(0) = 0$.

    References
    ----------
    Rosenblatt, F. (1958). The perceptron: a probabilistic model for information storage and organization
    in the brain. *Psychological Review*, 65(6). Duda, R. O., Hart, P. E. & Stork, D. G. (2001). *Pattern
    Classification*, 2nd ed., Wiley, section 5.5.

    Examples
    --------
    >>> import numpy as np
    >>> params = {"W": np.array([[0.5, -1.0]]), "b": np.array([0.0])}
    >>> new, error = perceptron_update(params, np.array([2.0, 3.0]), 1, lr=0.1)
    >>> print(error, new["W"], new["b"])
    1 [[ 0.7 -0.7]] [0.1]
    """
    W, b = _check_params(params)
    x = as_float_array(x, "x", allow_inf=False)
    if x.shape != (W.shape[1],):
        raise ValueError(f"x must be one example of shape ({W.shape[1]},) to match params['W'] {W.shape}; "
                         f"got {x.shape}.")
    if np.ndim(y) != 0:
        raise ValueError(f"y must be the single label (0 or 1) of x; got an array of shape {np.shape(y)}. "
                         f"To train on many examples, use Perceptron.fit.")
    y = int(_check_labels(np.atleast_1d(y), 1)[0])
    lr = check_real(lr, "lr", low=0.0, low_inclusive=False)
    W, b, error = _apply_rule(W, b, x.astype(W.dtype, copy=False), y, lr)
    return {"W": W, "b": b}, error


def mistake_bound(X, y, W, b) -> float:
    r"""Novikoff's bound $(R/\gamma)^2$ on the mistakes of the perceptron, given any separator $(w, b)$.

    Parameters
    ----------
    X : array_like, shape (N, d)
        The examples.
    y : array_like, shape (N,)
        Their labels, 0 or 1.
    W : array_like, shape (1, d)
        The weights of a hyperplane that separates the classes.
    b : array_like, shape (1,)
        Its bias.

    Returns
    -------
    float
        $(R/\gamma)^2$ with $R = \max_i \|(x_i, 1)\|$ and $\gamma = \min_i t_i\,(w^\top x_i + b) /
        \|(w, b)\|$, $t_i = 2y_i - 1$: the perceptron, started from zero, makes at most this many mistakes
        (updates) on the data, in any order, with any learning rate, before it separates them.

    Raises
    ------
    ValueError
        If $(w, b)$ does not separate the data ($\gamma \le 0$), or a shape is wrong.

    Notes
    -----
    Append a 1 to every $x$ so that the bias is a weight: $\tilde x = (x, 1)$, $\tilde w = (w, b)$. Let
    $u = \tilde w/\|\tilde w\|$ for the given separator. Each mistake adds $\eta t \tilde x$ to the
    learned $\tilde w_k$, so $u^\top\tilde w_k$ grows by $\eta t\,u^\top \tilde x \ge \eta\gamma$, while
    $\|\tilde w_k\|^2$ grows by $2\eta t\,\tilde w_k^\top\tilde x + \eta^2\|\tilde x\|^2 \le \eta^2 R^2$,
    because a mistake means $t\,\tilde w_k^\top\tilde x \le 0$. After $k$ mistakes,
    $k\eta\gamma \le u^\top \tilde w_k \le \|\tilde w_k\| \le \sqrt{k}\,\eta R$, so $k \le (R/\gamma)^2$.
    Every separator gives a valid bound; the one with the largest margin gives the smallest.

    References
    ----------
    Novikoff, A. B. J. (1962). On convergence proofs on perceptrons. *Symposium on the Mathematical Theory
    of Automata*, 12.

    Examples
    --------
    >>> X = np.array([[-1.0, 0.0], [1.0, 0.0]])
    >>> print(mistake_bound(X, np.array([0, 1]), np.array([[1.0, 0.0]]), np.array([0.0])))
    2.0
    """
    W, b = _check_params({"W": W, "b": b})
    X = _check_examples(X, W.shape[1])
    t = 2 * _check_labels(y, len(X)) - 1
    w_tilde = np.append(W[0], b)
    margins = t * linear_forward(X, W, b)[:, 0] / np.linalg.norm(w_tilde)
    gamma = float(margins.min())
    if gamma <= 0:
        raise ValueError(f"W and b must separate the classes, with every example strictly on its side; the "
                         f"smallest signed margin is {gamma:.3g}. Pass a separating hyperplane, for "
                         f"example the one a converged Perceptron learned.")
    radius_sq = float(np.max(np.sum(X**2, axis=1) + 1.0))
    return radius_sq / gamma**2


@dataclass(frozen=True)
class PerceptronHistory:
    """What [`Perceptron.fit`][dlref.models.perceptron.Perceptron.fit] returns.

    Attributes
    ----------
    mistakes : tuple of int
        Mistakes (= updates) made during each epoch that ran.
    converged : bool
        Whether an epoch ended without a mistake, which means the unit separates the training data.
    """

    mistakes: tuple[int, ...]
    converged: bool


class Perceptron:
    r"""Rosenblatt's perceptron: $\hat y = H(w^\top x + b)$, trained by the perceptron learning rule.

    Parameters
    ----------
    n_features : int
        The input size $d$.
    lr : float, default 1.0
        The learning rate $\eta > 0$. Starting from zero weights it only scales $(w, b)$, so it changes
        neither the predictions nor the number of mistakes.
    dtype : numpy dtype, default float64

    Attributes
    ----------
    params : dict
        `{"W": (1, d), "b": (1,)}`, starting at zero as in Rosenblatt's machine (a single unit has no
        symmetry to break).

    References
    ----------
    Rosenblatt, F. (1958). The perceptron: a probabilistic model for information storage and organization
    in the brain. *Psychological Review*, 65(6).

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    >>> model = Perceptron(2)
    >>> history = model.fit(X, np.array([0, 0, 0, 1]), epochs=20)  # AND is linearly separable
    >>> print(history.converged, history.mistakes, model.predict(X))
    True (1, 3, 3, 2, 1, 0) [0 0 0 1]
    """

    def __init__(self, n_features, *, lr=1.0, dtype=np.float64):
        n_features = check_int(n_features, "n_features", low=1)
        self.lr = check_real(lr, "lr", low=0.0, low_inclusive=False)
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be numpy.float32 or numpy.float64; got {dtype}.")
        self.params = {"W": np.zeros((1, n_features), dtype=dtype), "b": np.zeros(1, dtype=dtype)}

    @property
    def n_features(self) -> int:
        """The input size $d$."""
        return self.params["W"].shape[1]

    def decision_function(self, X) -> np.ndarray:
        """The pre-activations $w^\\top x + b$ of `X` (shape `(N, d)`), shape `(N,)`; positive means class 1."""
        X = _check_examples(X, self.n_features)
        return linear_forward(X, self.params["W"], self.params["b"])[:, 0]

    def predict(self, X) -> np.ndarray:
        """Labels $H(w^\\top x + b)$ of `X` (shape `(N, d)`), int64 zeros and ones of shape `(N,)`."""
        return step(self.decision_function(X)).astype(np.int64)

    def fit(self, X, y, epochs, rng=None) -> PerceptronHistory:
        r"""Apply the rule example by example, for at most `epochs` passes over the data.

        Parameters
        ----------
        X : array_like, shape (N, d)
            Training examples.
        y : array_like, shape (N,)
            Labels 0 and 1.
        epochs : int
            The largest number of passes, at least 1. Training stops after the first pass without a
            mistake: the unit then separates the data and the rule would change nothing more.
        rng : numpy.random.Generator, optional
            If given, each pass visits the examples in a new random order; otherwise in the order of `X`.

        Returns
        -------
        PerceptronHistory
            Mistakes per pass, and whether training converged. Training continues from the current
            parameters, so calling `fit` again resumes it.

        Raises
        ------
        ValueError
            If a shape is wrong, a label is not 0 or 1, `epochs < 1`, or a value is NaN or infinite.
        TypeError
            If `rng` is neither None nor a `numpy.random.Generator`.

        Notes
        -----
        The perceptron convergence theorem (Novikoff 1962) guarantees a pass without mistakes after at most
        $(R/\gamma)^2$ mistakes when a separating hyperplane with margin $\gamma$ exists (see
        [`mistake_bound`][dlref.models.perceptron.mistake_bound]). When none exists, as for XOR, every
        pass makes at least one mistake, so it never converges; the weights end up cycling (the
        perceptron cycling theorem, Block & Levin 1970).
        """
        X = _check_examples(X, self.n_features).astype(self.params["W"].dtype, copy=False)
        y = _check_labels(y, len(X))
        epochs = check_int(epochs, "epochs", low=1)
        if rng is not None:
            check_rng(rng)
        W, b = self.params["W"], self.params["b"]
        mistakes = []
        for _ in range(epochs):
            order = rng.permutation(len(X)) if rng is not None else range(len(X))
            count = 0
            for i in order:
                W, b, error = _apply_rule(W, b, X[i], int(y[i]), self.lr)
                count += error != 0
            mistakes.append(count)
            if count == 0:
                break
        self.params = {"W": W, "b": b}
        return PerceptronHistory(mistakes=tuple(mistakes), converged=mistakes[-1] == 0)
