r"""Loss functions and their gradients.

Every loss is averaged over the batch, as PyTorch's `reduction="mean"`, and returns a numpy scalar of the
dtype of its first argument (the prediction), e.g. `np.float64(0.5)`. Each `NAME` has a partner
`NAME_backward` with the same arguments that returns the gradient of that mean loss with respect to the
first argument, shaped like it; the loss is where backpropagation starts, so no upstream gradient is
taken (it is 1). Targets are converted to the prediction's dtype. Inputs must be finite: a loss on
infinite scores is NaN or infinite, never a useful number.
"""

from __future__ import annotations

import numpy as np

from dlref._checks import as_float_array
from dlref.activations import log_softmax, sigmoid, softmax, softplus

__all__ = [
    "mse", "mse_backward",
    "binary_cross_entropy", "binary_cross_entropy_backward",
    "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_backward",
    "cross_entropy", "cross_entropy_backward",
    "nll_loss", "nll_loss_backward",
]

_LOG_CLAMP = -100.0
# torch clamps p(1 - p) in the BCE backward with the float constant 1e-12f, which is 9.99999996e-13 once
# widened to float64; the same constant keeps the gradient equal to torch's to the last bits.
_BCE_GRAD_EPS = float(np.float32(1e-12))


def _mean(values: np.ndarray, dtype: np.dtype):
    return dtype.type(np.mean(values))


def _prediction_and_target(prediction, target, prediction_name: str, target_name: str):
    prediction = as_float_array(prediction, prediction_name, allow_inf=False)
    target = as_float_array(target, target_name, allow_inf=False)
    if target.shape != prediction.shape:
        raise ValueError(f"{target_name} must have the shape of {prediction_name}, {prediction.shape}; got "
                         f"{target.shape}. Give one target per prediction (if only the layout differs, "
                         f"reshape it: {target_name}.reshape({prediction_name}.shape)); the loss does not "
                         f"broadcast.")
    if prediction.size == 0:
        raise ValueError(f"{prediction_name} must have at least one element; got shape {prediction.shape}. "
                         f"The mean over an empty batch is undefined.")
    return prediction, target.astype(prediction.dtype, copy=False)


def _check_unit_interval(values: np.ndarray, name: str, what: str, hint: str) -> None:
    bad = (values < 0) | (values > 1)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} must hold {what} in [0, 1]; got {values[where]} at index {where} "
                         f"({int(bad.sum())} such entries of {values.size}). {hint}")


def _binary_target(prediction, y, prediction_name: str):
    prediction, y = _prediction_and_target(prediction, y, prediction_name, "y")
    _check_unit_interval(y, "y", "targets (0/1 labels or probabilities)",
                         "If your labels are -1 and 1, map them with (y + 1) / 2.")
    return prediction, y


def _probabilities_and_target(p, y):
    p, y = _binary_target(p, y, "p")
    _check_unit_interval(p, "p", "probabilities",
                         "If these are logits, use binary_cross_entropy_with_logits, which is also stabler.")
    return p, y


def _class_scores_and_targets(scores, targets, scores_name: str):
    scores = as_float_array(scores, scores_name, allow_inf=False)
    if scores.ndim != 2:
        raise ValueError(f"{scores_name} must be 2-D with shape (N, C), one row of C class scores per "
                         f"example; got shape {scores.shape}. For a single example use "
                         f"{scores_name}[None, :].")
    n, c = scores.shape
    if n == 0:
        raise ValueError(f"{scores_name} must hold at least one example (N >= 1); got shape {scores.shape}. "
                         f"The mean over an empty batch is undefined.")
    targets = np.asarray(targets)
    if targets.dtype.kind not in "iu":
        raise TypeError(f"targets must hold integer class indices; got an array of dtype {targets.dtype}. "
                        f"Convert whole numbers with targets.astype(np.int64); for one-hot rows pass "
                        f"targets.argmax(axis=1).")
    if targets.shape != (n,):
        raise ValueError(f"targets must have shape (N,) = ({n},), one class index per row of {scores_name} "
                         f"{scores.shape}; got shape {targets.shape}. Flatten a column with "
                         f"targets.reshape(-1).")
    bad = (targets < 0) | (targets >= c)
    if bad.any():
        where = int(np.argmax(bad))
        raise ValueError(f"targets must be class indices in [0, C) = [0, {c}); got {targets[where]} at index "
                         f"{where}. Indices start at 0 (subtract 1 from 1-based labels), and "
                         f"{scores_name} needs one column per class.")
    return scores, targets


def _at_targets(targets: np.ndarray, c: int, value: float, dtype: np.dtype) -> np.ndarray:
    """An (N, C) array of zeros with `value` at each row's target column (a scaled one-hot encoding)."""
    encoded = np.zeros((targets.size, c), dtype=dtype)
    encoded[np.arange(targets.size), targets] = value
    return encoded


def mse(y_pred, y_true):
    r"""Mean squared error, $L = \frac{1}{n}\sum_{k=1}^{n} (\hat y_k - y_k)^2$ over all $n$ elements.

    Parameters
    ----------
    y_pred : array_like
        Predictions $\hat y$, any shape with at least one element.
    y_true : array_like
        Targets $y$, the same shape (no broadcasting).

    Returns
    -------
    numpy.float32 or numpy.float64
        The loss, in `y_pred`'s dtype, as `torch.nn.functional.mse_loss`.

    Raises
    ------
    ValueError
        If the shapes differ, the arrays are empty, or a value is NaN or infinite.
    TypeError
        If an input is not real-valued.

    Notes
    -----
    $\partial L / \partial \hat y_k = \frac{2}{n}(\hat y_k - y_k)$: the gradient grows with the error,
    so large errors dominate training (and outliers with them). Minimising MSE is maximum likelihood
    under Gaussian noise of fixed variance.

    References
    ----------
    Goodfellow, I., Bengio, Y. & Courville, A. (2016). *Deep Learning*, MIT Press, section 5.5.1.

    Examples
    --------
    >>> import numpy as np
    >>> mse(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0]))
    np.float64(1.3333333333333333)
    """
    y_pred, y_true = _prediction_and_target(y_pred, y_true, "y_pred", "y_true")
    return _mean((y_pred - y_true) ** 2, y_pred.dtype)


def mse_backward(y_pred, y_true):
    r"""Gradient of [`mse`][dlref.losses.mse] with respect to `y_pred`: $\frac{2}{n}(\hat y - y)$.

    Examples
    --------
    >>> print(mse_backward(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 6.0])))
    [ 0.  0. -2.]
    """
    y_pred, y_true = _prediction_and_target(y_pred, y_true, "y_pred", "y_true")
    return 2.0 * (y_pred - y_true) / y_pred.size


def binary_cross_entropy(p, y):
    r"""Binary cross-entropy on probabilities, $-\frac{1}{n}\sum_k [y_k \log p_k + (1 - y_k)\log(1 - p_k)]$.

    Parameters
    ----------
    p : array_like
        Predicted probabilities in $[0, 1]$ (a sigmoid's output), any shape with at least one element.
    y : array_like
        Targets in $[0, 1]$, the same shape: 0/1 labels or soft labels.

    Returns
    -------
    numpy.float32 or numpy.float64
        The loss, in `p`'s dtype, as `torch.nn.functional.binary_cross_entropy`.

    Raises
    ------
    ValueError
        If the shapes differ, the arrays are empty, or a value is NaN or outside $[0, 1]$.
    TypeError
        If an input is not real-valued.

    Notes
    -----
    As in torch, each logarithm is clamped to $\ge -100$, so $p = 0$ with $y = 1$ costs $100$ instead of
    $\infty$; $\log(1 - p)$ is computed as `log1p(-p)`. Where nothing is clamped,

    $$\frac{\partial L}{\partial p_k} = \frac{1}{n}\left(-\frac{y_k}{p_k} + \frac{1 - y_k}{1 - p_k}\right)
    = \frac{1}{n}\,\frac{p_k - y_k}{p_k (1 - p_k)}.$$

    The division by $p(1 - p)$ is why this loss is unstable near 0 and 1; prefer
    [`binary_cross_entropy_with_logits`][dlref.losses.binary_cross_entropy_with_logits], where the sigmoid's
    derivative cancels it.

    References
    ----------
    Goodfellow, I., Bengio, Y. & Courville, A. (2016). *Deep Learning*, MIT Press, section 6.2.2.2.

    Examples
    --------
    >>> binary_cross_entropy(np.array([0.5, 0.5]), np.array([0.0, 1.0]))
    np.float64(0.6931471805599453)
    >>> binary_cross_entropy(np.array([0.0]), np.array([1.0]))
    np.float64(100.0)
    """
    p, y = _probabilities_and_target(p, y)
    with np.errstate(divide="ignore"):  # log(0) = -inf is clamped just below
        log_p = np.maximum(np.log(p), _LOG_CLAMP)
        log_1mp = np.maximum(np.log1p(-p), _LOG_CLAMP)
    return _mean(-(y * log_p + (1.0 - y) * log_1mp), p.dtype)


def binary_cross_entropy_backward(p, y):
    r"""Gradient of [`binary_cross_entropy`][dlref.losses.binary_cross_entropy] with respect to `p`, as in torch.

    Returns $\frac{1}{n}\,(p - y) / \max(p(1 - p), \epsilon)$ with $\epsilon = 10^{-12}$, torch's formula.

    Notes
    -----
    The clamp keeps the gradient finite at $p \in \{0, 1\}$, where it is capped at
    $|p - y| / (n\epsilon)$, and it is 0 where $p = y$. Where $p(1-p) < \epsilon$ this is torch's
    gradient, not the derivative of the clamped forward (which is flat where a logarithm is clamped).
    torch's $\epsilon$ is the float32 constant `1e-12f`, used here too, so the two agree to rounding.

    Examples
    --------
    >>> print(binary_cross_entropy_backward(np.array([0.5, 0.5]), np.array([0.0, 1.0])))
    [ 1. -1.]
    >>> print(binary_cross_entropy_backward(np.array([0.0]), np.array([1.0])))
    [-1.e+12]
    """
    p, y = _probabilities_and_target(p, y)
    return (p - y) / np.maximum(p * (1.0 - p), p.dtype.type(_BCE_GRAD_EPS)) / p.size


def binary_cross_entropy_with_logits(z, y):
    r"""Binary cross-entropy on logits, $\frac{1}{n}\sum_k [y_k\,\zeta(-z_k) + (1 - y_k)\,\zeta(z_k)]$.

    Equal to [`binary_cross_entropy`][dlref.losses.binary_cross_entropy] of $\sigma(z)$, with
    $\zeta(z) = \log(1 + e^{z})$ the softplus, but finite and accurate for any finite logit.

    Parameters
    ----------
    z : array_like
        Logits (scores before the sigmoid), any shape with at least one element.
    y : array_like
        Targets in $[0, 1]$, the same shape: 0/1 labels or soft labels.

    Returns
    -------
    numpy.float32 or numpy.float64
        The loss, in `z`'s dtype, as `torch.nn.functional.binary_cross_entropy_with_logits`.

    Raises
    ------
    ValueError
        If the shapes differ, the arrays are empty, a value is NaN or infinite, or `y` is outside $[0, 1]$.
    TypeError
        If an input is not real-valued.

    Notes
    -----
    $-\log\sigma(z) = \zeta(-z)$ and $-\log(1 - \sigma(z)) = \zeta(z)$, and
    [`softplus`][dlref.activations.softplus] is computed as $\max(z, 0) + \log(1 + e^{-|z|})$, which
    never overflows (the log-sum-exp trick for $\log(e^0 + e^z)$). Both terms are non-negative, so their
    sum keeps full relative accuracy even when an example's loss is tiny (a confident, correct
    prediction). torch's equivalent form $(1 - y)z - \log\sigma(z)$ cancels there: at $z = -30$, $y = 0$
    it gives $9.24 \times 10^{-14}$ in float64 (0 in float32) where the exact loss, returned here, is
    $9.36 \times 10^{-14}$. With $\zeta' = \sigma$ and $\sigma(-z) = 1 - \sigma(z)$,

    $$\frac{\partial L}{\partial z_k} = \frac{1}{n}\left(-y_k\,\sigma(-z_k) + (1 - y_k)\,\sigma(z_k)\right)
    = \frac{1}{n}\left(\sigma(z_k) - y_k\right):$$

    the $1/(p(1-p))$ of the probability form cancels against the sigmoid's derivative.

    References
    ----------
    Goodfellow, I., Bengio, Y. & Courville, A. (2016). *Deep Learning*, MIT Press, section 6.2.2.2.

    Examples
    --------
    >>> binary_cross_entropy_with_logits(np.array([-1e4, 1e4]), np.array([1.0, 1.0]))
    np.float64(5000.0)
    """
    z, y = _binary_target(z, y, "z")
    return _mean(y * softplus(-z) + (1.0 - y) * softplus(z), z.dtype)


def binary_cross_entropy_with_logits_backward(z, y):
    r"""Gradient of the logits form of binary cross-entropy: $\frac{1}{n}(\sigma(z) - y)$.

    See [`binary_cross_entropy_with_logits`][dlref.losses.binary_cross_entropy_with_logits].

    Examples
    --------
    >>> print(binary_cross_entropy_with_logits_backward(np.array([0.0, 1e4]), np.array([1.0, 1.0])))
    [-0.25  0.  ]
    """
    z, y = _binary_target(z, y, "z")
    return (sigmoid(z) - y) / z.size


def cross_entropy(logits, targets):
    r"""Softmax cross-entropy, $-\frac{1}{N}\sum_{n} \log \mathrm{softmax}(x_n)_{t_n}$, for class indices $t$.

    Parameters
    ----------
    logits : array_like, shape (N, C)
        Unnormalised class scores $x$, one row per example.
    targets : array_like of int, shape (N,)
        The class index $t_n \in [0, C)$ of each example.

    Returns
    -------
    numpy.float32 or numpy.float64
        The loss, in `logits`' dtype, as `torch.nn.functional.cross_entropy` (no weights, no label
        smoothing).

    Raises
    ------
    ValueError
        If a shape is wrong, a target is out of range, or a logit is NaN or infinite.
    TypeError
        If the logits are not real-valued or the targets are not integers.

    Notes
    -----
    Computed as $-\frac1N \sum_n \log\mathrm{softmax}(x_n)_{t_n}$ through
    [`log_softmax`][dlref.activations.log_softmax] (log-sum-exp), so logits of $\pm 10^4$ stay finite;
    it is [`nll_loss`][dlref.losses.nll_loss] of the log-softmax. With
    $\ell_n = \log\sum_j e^{x_{nj}} - x_{n t_n}$ and $\partial \log\sum_j e^{x_{nj}} / \partial x_{nc} =
    \mathrm{softmax}(x_n)_c$,

    $$\frac{\partial L}{\partial x_{nc}} = \frac{1}{N}\left(\mathrm{softmax}(x_n)_c - [c = t_n]\right):$$

    predicted probabilities minus the one-hot target. An untrained classifier that predicts every class
    with probability about $1/C$ has a loss of about $\ln C$ (2.30 for 10 classes), a useful check of a
    network at initialisation.

    References
    ----------
    Bridle, J. S. (1990). Probabilistic interpretation of feedforward classification network outputs,
    with relationships to statistical pattern recognition. *Neurocomputing*, NATO ASI Series F68.

    Examples
    --------
    >>> cross_entropy(np.zeros((2, 3)), np.array([0, 2]))  # uniform prediction: ln 3
    np.float64(1.0986122886681098)
    >>> cross_entropy(np.array([[1e4, 0.0]]), np.array([1]))
    np.float64(10000.0)
    """
    logits, targets = _class_scores_and_targets(logits, targets, "logits")
    picked = log_softmax(logits, axis=1)[np.arange(targets.size), targets]
    return _mean(-picked, logits.dtype)


def cross_entropy_backward(logits, targets):
    r"""Gradient of [`cross_entropy`][dlref.losses.cross_entropy]: $\frac{1}{N}(\mathrm{softmax}(x) - \mathrm{onehot}(t))$.

    Examples
    --------
    >>> print(cross_entropy_backward(np.zeros((2, 2)), np.array([0, 1])))
    [[-0.25  0.25]
     [ 0.25 -0.25]]
    """
    logits, targets = _class_scores_and_targets(logits, targets, "logits")
    n, c = logits.shape
    return (softmax(logits, axis=1) - _at_targets(targets, c, 1.0, logits.dtype)) / n


def nll_loss(log_probs, targets):
    r"""Negative log-likelihood, $L = -\frac{1}{N}\sum_n \log p_{n t_n}$, from log-probabilities.

    Parameters
    ----------
    log_probs : array_like, shape (N, C)
        Log-probabilities $\log p$, usually a [`log_softmax`][dlref.activations.log_softmax] output.
        They are not checked to be normalised; any finite scores are accepted, as in torch.
    targets : array_like of int, shape (N,)
        The class index $t_n \in [0, C)$ of each example.

    Returns
    -------
    numpy.float32 or numpy.float64
        The loss, in `log_probs`' dtype, as `torch.nn.functional.nll_loss` (no weights).

    Raises
    ------
    ValueError
        If a shape is wrong, a target is out of range, or a value is NaN or infinite.
    TypeError
        If the log-probabilities are not real-valued or the targets are not integers.

    Notes
    -----
    The loss only reads the target entry of each row, so
    $\partial L / \partial \log p_{nc} = -\frac{1}{N}[c = t_n]$: minus the one-hot targets over $N$.
    Composed with log-softmax it is [`cross_entropy`][dlref.losses.cross_entropy].

    References
    ----------
    Goodfellow, I., Bengio, Y. & Courville, A. (2016). *Deep Learning*, MIT Press, section 6.2.1.1.

    Examples
    --------
    >>> nll_loss(np.log(np.array([[0.5, 0.5], [0.25, 0.75]])), np.array([0, 1]))
    np.float64(0.4904146265058631)
    """
    log_probs, targets = _class_scores_and_targets(log_probs, targets, "log_probs")
    return _mean(-log_probs[np.arange(targets.size), targets], log_probs.dtype)


def nll_loss_backward(log_probs, targets):
    r"""Gradient of [`nll_loss`][dlref.losses.nll_loss]: $-\frac{1}{N}\mathrm{onehot}(t)$.

    Examples
    --------
    >>> print(nll_loss_backward(np.zeros((2, 3)), np.array([2, 0])))
    [[ 0.   0.  -0.5]
     [-0.5  0.   0. ]]
    """
    log_probs, targets = _class_scores_and_targets(log_probs, targets, "log_probs")
    n, c = log_probs.shape
    return _at_targets(targets, c, -1.0 / n, log_probs.dtype)
