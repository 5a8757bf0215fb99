r"""Activation functions and their derivatives.

Every activation `NAME(x, ...)` has a partner `NAME_backward(dy, x, ...)` that takes the upstream gradient
$\partial L / \partial y$ and the forward input $x$ and returns $\partial L / \partial x$; both take the
same keyword arguments. Inputs keep their dtype (float32 or float64; other real dtypes become float64), and
every function stays finite and correct for $|x|$ up to $10^4$.
"""

from __future__ import annotations

import math

import numpy as np

from dlref._checks import as_float_array, check_axis, check_choice, check_real, check_same_shape

__all__ = [
    "identity", "identity_backward",
    "step", "step_backward",
    "sigmoid", "sigmoid_backward",
    "tanh", "tanh_backward",
    "relu", "relu_backward",
    "leaky_relu", "leaky_relu_backward",
    "elu", "elu_backward",
    "gelu", "gelu_backward",
    "swish", "swish_backward",
    "silu", "silu_backward",
    "softplus", "softplus_backward",
    "softmax", "softmax_backward",
    "log_softmax", "log_softmax_backward",
]

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_COEF = 0.044715
_erf = np.frompyfunc(math.erf, 1, 1)


def _backward_inputs(dy, x) -> tuple[np.ndarray, np.ndarray]:
    x = as_float_array(x, "x")
    dy = as_float_array(dy, "dy")
    check_same_shape(dy, x, "dy", "x")
    return dy, x


def identity(x):
    r"""Identity (linear) activation, $f(x) = x$.

    Parameters
    ----------
    x : array_like
        Pre-activations, any shape.

    Returns
    -------
    numpy.ndarray
        A copy of `x`, same shape and dtype.

    Notes
    -----
    $f'(x) = 1$. A stack of layers with this activation is a single affine map, whatever its depth.

    Examples
    --------
    >>> import numpy as np
    >>> print(identity(np.array([-2.0, 0.0, 3.0])))
    [-2.  0.  3.]
    """
    return as_float_array(x).copy()


def identity_backward(dy, x):
    r"""Gradient of [`identity`][dlref.activations.identity]: $\partial L/\partial x = \partial L/\partial y$.

    Examples
    --------
    >>> print(identity_backward(np.array([0.5, -1.0]), np.array([3.0, 4.0])))
    [ 0.5 -1. ]
    """
    dy, _ = _backward_inputs(dy, x)
    return dy.copy()


def step(x):
    r"""Heaviside step, $H(x) = 1$ if $x > 0$ else $0$ (so $H(0) = 0$).

    The activation of Rosenblatt's perceptron and of McCulloch-Pitts units.

    Parameters
    ----------
    x : array_like
        Pre-activations, any shape.

    Returns
    -------
    numpy.ndarray
        Zeros and ones, same shape and dtype as `x`.

    Notes
    -----
    The derivative is $0$ for every $x \neq 0$ and undefined at $0$; see
    [`step_backward`][dlref.activations.step_backward]. This is why the step function cannot be trained
    by gradient descent, and why the perceptron uses its own learning rule.

    References
    ----------
    Rosenblatt, F. (1958). The perceptron: a probabilistic model for information storage and organization
    in the brain. *Psychological Review*, 65(6).

    Examples
    --------
    >>> print(step(np.array([-1.0, 0.0, 2.0])))
    [0. 0. 1.]
    """
    x = as_float_array(x)
    return (x > 0).astype(x.dtype)


def step_backward(dy, x):
    r"""Gradient of [`step`][dlref.activations.step]: zero everywhere.

    The true derivative is $0$ for $x \neq 0$ and undefined (a Dirac delta) at $x = 0$. Returning zero
    there too is the convention of autograd frameworks for piecewise-constant operations (`torch.sign`,
    `torch.round`); `torch.heaviside` has no backward at all. The consequence is the point: no gradient
    signal passes a step unit.

    Examples
    --------
    >>> print(step_backward(np.array([1.0, 1.0]), np.array([-1.0, 2.0])))
    [0. 0.]
    """
    dy, _ = _backward_inputs(dy, x)
    return np.zeros_like(dy)


def sigmoid(x):
    r"""Logistic sigmoid, $\sigma(x) = 1 / (1 + e^{-x})$, computed without overflow.

    Parameters
    ----------
    x : array_like
        Pre-activations, any shape.

    Returns
    -------
    numpy.ndarray
        Values in $[0, 1]$ (mathematically the open interval; floating point rounds far tails to
        exactly 0 or 1), same shape and dtype as `x`.

    Notes
    -----
    $\sigma'(x) = \sigma(x)(1 - \sigma(x)) \le 1/4$. To avoid overflow of $e^{-x}$ for large negative
    $x$, both branches use $z = e^{-|x|} \le 1$: $\sigma(x) = 1/(1+z)$ for $x \ge 0$ and $z/(1+z)$ for
    $x < 0$.

    Examples
    --------
    >>> print(sigmoid(np.array([-1e4, 0.0, 1e4])))
    [0.  0.5 1. ]
    """
    return _sigmoid(as_float_array(x))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """`sigmoid` of a float array the caller has checked, for loops that call it many times.

    Through $z = e^{-|x|} \\le 1$, which never overflows: $1/(1 + z)$ for $x \\ge 0$ and $z/(1 + z)$ below.
    Written in place on two new arrays, as this is the hot path of RBM training.
    """
    z = np.abs(x, out=np.empty_like(x))  # out=: 0-d inputs stay arrays, as the in-place steps need
    np.negative(z, out=z)
    np.exp(z, out=z)
    s = np.add(z, 1, out=np.empty_like(z))
    np.reciprocal(s, out=s)
    np.multiply(z, s, out=z)
    np.copyto(s, z, where=x < 0)
    return s


def sigmoid_backward(dy, x):
    r"""Gradient of [`sigmoid`][dlref.activations.sigmoid]: $\partial L/\partial x = dy\,\sigma(x)(1-\sigma(x))$.

    Examples
    --------
    >>> print(sigmoid_backward(np.array([1.0, 1.0]), np.array([0.0, 1e4])))
    [0.25 0.  ]
    """
    dy, x = _backward_inputs(dy, x)
    s = _sigmoid(x)
    return dy * s * (1.0 - s)


def tanh(x):
    r"""Hyperbolic tangent, $\tanh(x) = (e^{x} - e^{-x}) / (e^{x} + e^{-x}) = 2\sigma(2x) - 1$.

    Parameters
    ----------
    x : array_like
        Pre-activations, any shape.

    Returns
    -------
    numpy.ndarray
        Values in $[-1, 1]$, zero-centred, same shape and dtype as `x`.

    Notes
    -----
    $\tanh'(x) = 1 - \tanh^2(x) \le 1$, with the maximum at $0$.

    Examples
    --------
    >>> print(tanh(np.array([-1e4, 0.0, 1e4])))
    [-1.  0.  1.]
    """
    return np.tanh(as_float_array(x))


def tanh_backward(dy, x):
    r"""Gradient of [`tanh`][dlref.activations.tanh]: $\partial L/\partial x = dy\,(1 - \tanh^2 x)$.

    Examples
    --------
    >>> print(tanh_backward(np.array([2.0]), np.array([0.0])))
    [2.]
    """
    dy, x = _backward_inputs(dy, x)
    return dy * (1.0 - np.tanh(x) ** 2)


def relu(x):
    r"""Rectified linear unit, $\mathrm{ReLU}(x) = \max(0, x)$.

    Parameters
    ----------
    x : array_like
        Pre-activations, any shape.

    Returns
    -------
    numpy.ndarray
        Same shape and dtype as `x`.

    Notes
    -----
    $\mathrm{ReLU}'(x) = 1$ for $x > 0$ and $0$ for $x < 0$; at $x = 0$ we use $0$, as PyTorch does.
    A unit whose pre-activation is negative for every input gets no gradient and never recovers (a
    "dead" unit).

    References
    ----------
    Nair, V. & Hinton, G. E. (2010). Rectified linear units improve restricted Boltzmann machines. ICML.

    Examples
    --------
    >>> print(relu(np.array([-2.0, 0.0, 3.0])))
    [0. 0. 3.]
    """
    x = as_float_array(x)
    return np.maximum(x, 0).astype(x.dtype, copy=False)


def relu_backward(dy, x):
    r"""Gradient of [`relu`][dlref.activations.relu]: $dy$ where $x > 0$, else $0$.

    Examples
    --------
    >>> print(relu_backward(np.array([1.0, 1.0, 1.0]), np.array([-2.0, 0.0, 3.0])))
    [0. 0. 1.]
    """
    dy, x = _backward_inputs(dy, x)
    return np.where(x > 0, dy, 0).astype(dy.dtype, copy=False)


def leaky_relu(x, negative_slope=0.01):
    r"""Leaky ReLU, $f(x) = x$ for $x > 0$ and $a x$ otherwise, with $a$ = `negative_slope`.

    Parameters
    ----------
    x : array_like
        Pre-activations, any shape.
    negative_slope : float, default 0.01
        The slope $a$ for negative inputs (PyTorch's default). With $a$ learned per channel it is PReLU.

    Returns
    -------
    numpy.ndarray
        Same shape and dtype as `x`.

    Notes
    -----
    $f'(x) = 1$ for $x > 0$ and $a$ otherwise: the gradient never vanishes completely, so a unit pushed
    into the negative region can still recover.

    References
    ----------
    Maas, A. L., Hannun, A. Y. & Ng, A. Y. (2013). Rectifier nonlinearities improve neural network
    acoustic models. ICML Workshop on Deep Learning for Audio, Speech and Language Processing.

    Examples
    --------
    >>> print(leaky_relu(np.array([-100.0, 0.0, 3.0])))
    [-1.  0.  3.]
    """
    x = as_float_array(x)
    a = check_real(negative_slope, "negative_slope")
    return np.where(x > 0, x, a * x).astype(x.dtype, copy=False)


def leaky_relu_backward(dy, x, negative_slope=0.01):
    r"""Gradient of [`leaky_relu`][dlref.activations.leaky_relu]: $dy$ where $x > 0$, else $a\,dy$.

    Examples
    --------
    >>> print(leaky_relu_backward(np.array([1.0, 1.0]), np.array([-5.0, 5.0]), negative_slope=0.1))
    [0.1 1. ]
    """
    dy, x = _backward_inputs(dy, x)
    a = check_real(negative_slope, "negative_slope")
    return np.where(x > 0, dy, a * dy).astype(dy.dtype, copy=False)


def elu(x, alpha=1.0):
    r"""Exponential linear unit, $f(x) = x$ for $x > 0$ and $\alpha(e^{x} - 1)$ otherwise.

    Parameters
    ----------
    x : array_like
        Pre-activations, any shape.
    alpha : float, default 1.0
        Saturation value for large negative inputs, $f(x) \to -\alpha$. Must be non-negative.

    Returns
    -------
    numpy.ndarray
        Same shape and dtype as `x`.

    Notes
    -----
    $f'(x) = 1$ for $x > 0$ and $\alpha e^{x}$ otherwise. Negative outputs push mean activations towards
    zero. `expm1` is applied to $\min(x, 0)$ so the unused branch cannot overflow.

    References
    ----------
    Clevert, D.-A., Unterthiner, T. & Hochreiter, S. (2016). Fast and accurate deep network learning by
    exponential linear units (ELUs). ICLR.

    Examples
    --------
    >>> print(elu(np.array([-1e4, 0.0, 2.0])))
    [-1.  0.  2.]
    """
    x = as_float_array(x)
    alpha = check_real(alpha, "alpha", low=0.0)
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype, copy=False)


def elu_backward(dy, x, alpha=1.0):
    r"""Gradient of [`elu`][dlref.activations.elu]: $dy$ where $x > 0$, else $\alpha e^{x} dy$.

    Examples
    --------
    >>> print(elu_backward(np.array([1.0, 1.0]), np.array([0.0, 1.0])))
    [1. 1.]
    """
    dy, x = _backward_inputs(dy, x)
    alpha = check_real(alpha, "alpha", low=0.0)
    return np.where(x > 0, dy, alpha * np.exp(np.minimum(x, 0)) * dy).astype(dy.dtype, copy=False)


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    # numpy has no vectorised erf; math.erf is exact to the last bit, so compute in float64 elementwise.
    return 0.5 * (1.0 + _erf(x.astype(np.float64) / math.sqrt(2.0)).astype(np.float64))


def gelu(x, approximate="none"):
    r"""Gaussian error linear unit, $\mathrm{GELU}(x) = x\,\Phi(x)$, $\Phi$ the standard normal CDF.

    Parameters
    ----------
    x : array_like
        Pre-activations, any shape.
    approximate : {"none", "tanh"}, default "none"
        `"none"` uses the exact $\Phi(x) = \tfrac12(1 + \operatorname{erf}(x/\sqrt2))$; `"tanh"` uses
        $\Phi(x) \approx \tfrac12\left(1 + \tanh\left(\sqrt{2/\pi}\,(x + 0.044715\,x^3)\right)\right)$,
        the form of BERT and GPT-2. Same names as `torch.nn.functional.gelu`.

    Returns
    -------
    numpy.ndarray
        Same shape and dtype as `x`.

    Notes
    -----
    Exact: $\mathrm{GELU}'(x) = \Phi(x) + x\,\varphi(x)$ with $\varphi(x) = e^{-x^2/2}/\sqrt{2\pi}$.
    With $u = \sqrt{2/\pi}(x + 0.044715x^3)$ and $t = \tanh u$, the approximation's derivative is
    $\tfrac12(1+t) + \tfrac12 x (1-t^2)\sqrt{2/\pi}(1 + 3 \cdot 0.044715\,x^2)$.

    References
    ----------
    Hendrycks, D. & Gimpel, K. (2016). Gaussian error linear units (GELUs). arXiv:1606.08415.

    Examples
    --------
    >>> print(np.round(gelu(np.array([-3.0, 0.0, 1.0])), 6))
    [-0.00405   0.        0.841345]
    """
    x = as_float_array(x)
    approximate = check_choice(approximate, "approximate", ("none", "tanh"))
    if approximate == "tanh":
        u = _SQRT_2_OVER_PI * (x + _GELU_TANH_COEF * x**3)
        return 0.5 * x * (1.0 + np.tanh(u))
    return (x * _normal_cdf(x)).astype(x.dtype, copy=False)


def gelu_backward(dy, x, approximate="none"):
    r"""Gradient of [`gelu`][dlref.activations.gelu], exact or of the tanh approximation.

    Examples
    --------
    >>> print(np.round(gelu_backward(np.array([1.0, 1.0]), np.array([0.0, 1.0])), 6))
    [0.5      1.083315]
    """
    dy, x = _backward_inputs(dy, x)
    approximate = check_choice(approximate, "approximate", ("none", "tanh"))
    if approximate == "tanh":
        u = _SQRT_2_OVER_PI * (x + _GELU_TANH_COEF * x**3)
        t = np.tanh(u)
        du_dx = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_TANH_COEF * x**2)
        return dy * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t**2) * du_dx)
    x64 = x.astype(np.float64)
    pdf = np.exp(-0.5 * x64**2) / math.sqrt(2.0 * math.pi)
    return (dy * (_normal_cdf(x) + x64 * pdf)).astype(dy.dtype, copy=False)


def swish(x, beta=1.0):
    r"""Swish, $f(x) = x\,\sigma(\beta x)$; with $\beta = 1$ it is SiLU.

    Parameters
    ----------
    x : array_like
        Pre-activations, any shape.
    beta : float, default 1.0
        Sharpness. $\beta = 0$ gives $x/2$; $\beta \to \infty$ approaches ReLU.

    Returns
    -------
    numpy.ndarray
        Same shape and dtype as `x`.

    Notes
    -----
    $f'(x) = \sigma(\beta x) + \beta x\,\sigma(\beta x)(1 - \sigma(\beta x))$. Smooth and non-monotonic
    (a small dip below zero near $x \approx -1.28/\beta$). It costs an exponential per element, so it is
    slower than ReLU.

    References
    ----------
    Ramachandran, P., Zoph, B. & Le, Q. V. (2017). Searching for activation functions. arXiv:1710.05941.
    Elfwing, S., Uchibe, E. & Doya, K. (2018). Sigmoid-weighted linear units for neural network function
    approximation in reinforcement learning. *Neural Networks*, 107.

    Examples
    --------
    >>> print(np.round(swish(np.array([-2.0, 0.0, 1.0])), 6))
    [-0.238406  0.        0.731059]
    >>> print(swish(np.array([-1e4, 1e4])))
    [   -0. 10000.]
    """
    x = as_float_array(x)
    beta = check_real(beta, "beta")
    return x * sigmoid(beta * x)


def swish_backward(dy, x, beta=1.0):
    r"""Gradient of [`swish`][dlref.activations.swish]: $dy\,[\sigma(\beta x) + \beta x\,\sigma(\beta x)(1-\sigma(\beta x))]$.

    Examples
    --------
    >>> print(swish_backward(np.array([1.0]), np.array([0.0])))
    [0.5]
    """
    dy, x = _backward_inputs(dy, x)
    beta = check_real(beta, "beta")
    s = sigmoid(beta * x)
    return dy * (s + beta * x * s * (1.0 - s))


def silu(x):
    r"""Sigmoid linear unit, $\mathrm{SiLU}(x) = x\,\sigma(x)$: [`swish`][dlref.activations.swish] with $\beta = 1$.

    References
    ----------
    Hendrycks, D. & Gimpel, K. (2016). arXiv:1606.08415 (as the SiLU); Elfwing et al. (2018).

    Examples
    --------
    >>> print(np.round(silu(np.array([-1.0, 0.0, 1.0])), 6))
    [-0.268941  0.        0.731059]
    """
    return swish(x, beta=1.0)


def silu_backward(dy, x):
    r"""Gradient of [`silu`][dlref.activations.silu]: $dy\,\sigma(x)(1 + x(1 - \sigma(x)))$.

    Examples
    --------
    >>> print(silu_backward(np.array([1.0]), np.array([0.0])))
    [0.5]
    """
    return swish_backward(dy, x, beta=1.0)


def softplus(x):
    r"""Softplus, $f(x) = \log(1 + e^{x})$, a smooth ReLU, computed without overflow.

    Parameters
    ----------
    x : array_like
        Pre-activations, any shape.

    Returns
    -------
    numpy.ndarray
        Positive values, same shape and dtype as `x`.

    Notes
    -----
    $f'(x) = \sigma(x)$. Computed as $\max(x, 0) + \log(1 + e^{-|x|})$, exact for every $x$.
    PyTorch's `softplus` instead returns $x$ itself above `threshold=20`, which differs from the exact
    value by less than $e^{-20} \approx 2 \times 10^{-9}$ (and its gradient is 1 there instead of
    $\sigma(x)$); this function keeps the exact form.

    References
    ----------
    Dugas, C., Bengio, Y., Belisle, F., Nadeau, C. & Garcia, R. (2001). Incorporating second-order
    functional knowledge for better option pricing. NeurIPS.

    Examples
    --------
    >>> print(np.round(softplus(np.array([-1e4, 0.0, 1e4])), 6))
    [0.00000e+00 6.93147e-01 1.00000e+04]
    """
    x = as_float_array(x)
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def softplus_backward(dy, x):
    r"""Gradient of [`softplus`][dlref.activations.softplus]: $dy\,\sigma(x)$.

    Examples
    --------
    >>> print(softplus_backward(np.array([1.0]), np.array([0.0])))
    [0.5]
    """
    dy, x = _backward_inputs(dy, x)
    return dy * sigmoid(x)


def softmax(x, axis=-1):
    r"""Softmax along `axis`, $\mathrm{softmax}(x)_i = e^{x_i} / \sum_j e^{x_j}$, computed stably.

    Parameters
    ----------
    x : array_like
        Logits, at least one dimension.
    axis : int, default -1
        The axis that sums to one (the class axis).

    Returns
    -------
    numpy.ndarray
        Non-negative values that sum to 1 along `axis`, same shape and dtype as `x`.

    Notes
    -----
    Softmax is invariant to adding a constant to all logits, so subtracting $m = \max_j x_j$ first makes
    every exponent $\le 0$: no overflow, and at least one term equals 1, so no division by zero. The
    Jacobian is $\partial y_i / \partial x_j = y_i(\delta_{ij} - y_j)$, hence
    $\partial L/\partial x = y \odot (dy - \langle dy, y\rangle)$ along `axis`.

    References
    ----------
    Bridle, J. S. (1990). Probabilistic interpretation of feedforward classification network outputs,
    with relationships to statistical pattern recognition. *Neurocomputing*, NATO ASI Series F68.

    Examples
    --------
    >>> print(softmax(np.array([1000.0, 1000.0])))
    [0.5 0.5]
    """
    x = as_float_array(x)
    axis = check_axis(axis, x.ndim)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def softmax_backward(dy, x, axis=-1):
    r"""Gradient of [`softmax`][dlref.activations.softmax]: $y \odot (dy - \sum_j dy_j\,y_j)$ along `axis`.

    Examples
    --------
    >>> print(softmax_backward(np.array([1.0, 1.0]), np.array([3.0, -2.0])))
    [0. 0.]
    """
    dy, x = _backward_inputs(dy, x)
    y = softmax(x, axis=axis)
    axis = check_axis(axis, x.ndim)
    return y * (dy - np.sum(dy * y, axis=axis, keepdims=True))


def log_softmax(x, axis=-1):
    r"""Log of the softmax along `axis`, $x_i - \log\sum_j e^{x_j}$, through log-sum-exp.

    Parameters
    ----------
    x : array_like
        Logits, at least one dimension.
    axis : int, default -1
        The class axis.

    Returns
    -------
    numpy.ndarray
        Log-probabilities ($\le 0$), same shape and dtype as `x`.

    Notes
    -----
    $\log\sum_j e^{x_j} = m + \log\sum_j e^{x_j - m}$ with $m = \max_j x_j$. Taking the log of
    [`softmax`][dlref.activations.softmax] instead would give $-\infty$ as soon as a probability
    underflows. $\partial L/\partial x = dy - \mathrm{softmax}(x) \sum_j dy_j$.

    Examples
    --------
    >>> print(log_softmax(np.array([0.0, 1e4])))
    [-10000.      0.]
    """
    x = as_float_array(x)
    axis = check_axis(axis, x.ndim)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def log_softmax_backward(dy, x, axis=-1):
    r"""Gradient of [`log_softmax`][dlref.activations.log_softmax]: $dy - \mathrm{softmax}(x)\sum_j dy_j$.

    Examples
    --------
    >>> print(log_softmax_backward(np.array([1.0, 0.0]), np.array([0.0, 0.0])))
    [ 0.5 -0.5]
    """
    dy, x = _backward_inputs(dy, x)
    axis = check_axis(axis, x.ndim)
    return dy - softmax(x, axis=axis) * np.sum(dy, axis=axis, keepdims=True)
