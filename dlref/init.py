r"""Weight initialisers with the formulas of `torch.nn.init`.

Every initialiser takes a `shape` in PyTorch's layout (Linear `(out_features, in_features)`, convolution
`(C_out, C_in, kh, kw)`), samples with an explicit `rng: numpy.random.Generator` (a keyword argument) and
returns a new array of `dtype` float64 (default) or float32. Samples are drawn in float64 and then cast, so
the float32 array for a seed is the float64 one rounded. numpy and torch have different random streams:
the distributions are torch's, the numbers are not.

Why the scales. For a layer $y_i = \sum_{j=1}^{n_\text{in}} W_{ij} x_j$ whose weights are independent,
zero-mean, of variance $\sigma^2$ and independent of the inputs,

$$\operatorname{Var}(y_i) = n_\text{in}\,\sigma^2\,\mathbb{E}[x_j^2],$$

and the backward pass $\partial L/\partial x_j = \sum_i W_{ij}\,\partial L/\partial y_i$ likewise multiplies
the gradient variance by $n_\text{out}\,\sigma^2$. A constant forward variance needs
$\sigma^2 = 1/n_\text{in}$ (LeCun), a constant gradient variance $\sigma^2 = 1/n_\text{out}$; Glorot and
Bengio take the compromise $\sigma^2 = 2/(n_\text{in} + n_\text{out})$. A nonlinearity $f$ after the layer
changes $\mathbb{E}[x^2]$: a ReLU keeps half of a symmetric pre-activation $z$,
$\mathbb{E}[\mathrm{ReLU}(z)^2] = \operatorname{Var}(z)/2$, which He et al. compensate with
$\sigma^2 = 2/n_\text{in}$. In general $\sigma = g/\sqrt{n}$ with the gain $g$ of
[`calculate_gain`][dlref.init.calculate_gain]. A uniform distribution on $[-b, b]$ has variance $b^2/3$, so
each uniform initialiser uses $b = \sqrt{3}\,\sigma$. For a convolution every output sums over
$C_\text{in} k_h k_w$ inputs, hence the receptive field in [`fans`][dlref.init.fans].
"""

from __future__ import annotations

import math

import numpy as np

from dlref._checks import check_choice, check_real, check_rng, check_shape

__all__ = [
    "fans", "calculate_gain",
    "zeros", "constant", "normal", "uniform",
    "xavier_uniform", "xavier_normal",
    "he_uniform", "he_normal",
    "lecun_normal", "orthogonal",
]

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
_NONLINEARITIES = _LINEAR + ("sigmoid", "tanh", "relu", "leaky_relu", "selu")
_MODES = ("fan_in", "fan_out")


def _check_dtype(dtype) -> np.dtype:
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved not in (np.float32, np.float64):
        raise ValueError(f"dtype must be np.float32 or np.float64; got {dtype!r}. Initialise in one of them "
                         f"and convert afterwards if another dtype is really needed.")
    return resolved


def fans(shape) -> tuple[int, int]:
    r"""Fan-in and fan-out of a weight of this shape, as `torch.nn.init._calculate_fan_in_and_fan_out`.

    Parameters
    ----------
    shape : tuple of int
        A weight shape with at least 2 dimensions: `(out_features, in_features)` for a Linear layer,
        `(C_out, C_in, *kernel)` for a convolution.

    Returns
    -------
    tuple of (int, int)
        `(fan_in, fan_out)` $= (s_1 r, s_0 r)$ with the receptive field $r = \prod_{k \ge 2} s_k$
        ($r = 1$ for a matrix).

    Raises
    ------
    ValueError
        If `shape` has fewer than 2 dimensions (torch raises there too) or a non-positive entry.
    TypeError
        If `shape` is not a tuple of ints.

    Notes
    -----
    For a convolution, one output value is a sum over $C_\text{in} k_h k_w$ inputs (its fan-in), and one
    input value feeds $C_\text{out} k_h k_w$ outputs (its fan-out, ignoring stride and borders), which is
    what these numbers count. The formula assumes torch's layout, where a Linear layer computes
    $x W^\top$; for a weight used as $x W$, pass the transposed shape.

    Examples
    --------
    >>> fans((128, 64))
    (64, 128)
    >>> fans((32, 16, 3, 3))
    (144, 288)
    """
    shape = check_shape(shape)
    if len(shape) < 2:
        raise ValueError(f"Fan in and fan out can not be computed for a shape with fewer than 2 dimensions; "
                         f"got {shape}. Weights are (out_features, in_features) or (C_out, C_in, *kernel). A "
                         f"bias or other 1-D parameter has no fans: initialise it with zeros, constant, "
                         f"normal or uniform.")
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def calculate_gain(nonlinearity, param=None) -> float:
    r"""The recommended gain $g$ for a nonlinearity, equal to `torch.nn.init.calculate_gain`.

    Parameters
    ----------
    nonlinearity : str
        One of `"linear"`, `"conv1d"`, `"conv2d"`, `"conv3d"`, `"conv_transpose1d"`,
        `"conv_transpose2d"`, `"conv_transpose3d"`, `"sigmoid"`, `"tanh"`, `"relu"`, `"leaky_relu"`,
        `"selu"` (torch's names).
    param : float, optional
        The negative slope of `"leaky_relu"` (default 0.01); ignored by the others, as in torch.

    Returns
    -------
    float
        $1$ for the linear maps and sigmoid, $5/3$ for tanh, $\sqrt2$ for ReLU,
        $\sqrt{2/(1 + a^2)}$ for leaky ReLU with slope $a$, $3/4$ for SELU.

    Raises
    ------
    ValueError
        If `nonlinearity` is not one of the names above.
    TypeError
        If `param` is given for leaky_relu and is not a real number (torch raises `ValueError`).

    Notes
    -----
    Initialisers scale by $g$ so that the layer's output keeps the variance of its input through the
    nonlinearity: $g^2 = \operatorname{Var}(z)/\mathbb{E}[f(z)^2]$ for a symmetric pre-activation $z$.
    For ReLU $\mathbb{E}[f(z)^2] = \operatorname{Var}(z)/2$, so $g = \sqrt2$; a leaky ReLU of slope $a$
    keeps $(1 + a^2)/2$ of it, so $g = \sqrt{2/(1+a^2)}$. tanh is close to the identity near 0 but
    contracts large inputs; $5/3$ is the value torch inherited from Lua Torch, which keeps a deep tanh
    stack near a non-trivial fixed point. sigmoid's $1$ is a convention, not a derivation. SELU's $3/4$
    was found empirically (pytorch/pytorch#50664); for a self-normalising network use `"linear"`,
    which gives the variance $1/n_\text{in}$ that SELU's fixed point needs. torch returns the int `1`
    for the linear maps and sigmoid; this function always returns a float.

    References
    ----------
    He, K., Zhang, X., Ren, S. & Sun, J. (2015). Delving deep into rectifiers: surpassing human-level
    performance on ImageNet classification. ICCV.

    Examples
    --------
    >>> calculate_gain("relu") == math.sqrt(2)
    True
    >>> print(round(calculate_gain("leaky_relu", 0.2), 6), calculate_gain("tanh"), calculate_gain("conv2d"))
    1.386750 1.6666666666666667 1.0
    """
    nonlinearity = check_choice(nonlinearity, "nonlinearity", _NONLINEARITIES)
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else check_real(param, "param")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    return 1.0


def zeros(shape, *, dtype=np.float64):
    r"""All zeros, as `torch.nn.init.zeros_`: the usual bias initialisation.

    Parameters
    ----------
    shape : tuple of int
        Any shape of positive sizes, e.g. `(out_features,)` for a bias.
    dtype : {numpy.float64, numpy.float32}, default numpy.float64
        The dtype of the result.

    Returns
    -------
    numpy.ndarray
        Zeros of `shape` and `dtype`.

    Notes
    -----
    Fine for biases, wrong for weights: if every weight of a layer is equal, every hidden unit computes the
    same function and receives the same gradient, so the units stay identical forever (the symmetry is
    never broken), and with zeros the gradient of every weight but the last layer's is zero.

    Examples
    --------
    >>> print(zeros((3,)))
    [0. 0. 0.]
    """
    return np.zeros(check_shape(shape), dtype=_check_dtype(dtype))


def constant(shape, value, *, dtype=np.float64):
    r"""Every entry equal to `value`, as `torch.nn.init.constant_`.

    Parameters
    ----------
    shape : tuple of int
        Any shape of positive sizes.
    value : float
        The fill value (finite), e.g. 1.0 for a LayerNorm scale or a forget-gate bias.
    dtype : {numpy.float64, numpy.float32}, default numpy.float64
        The dtype of the result.

    Returns
    -------
    numpy.ndarray
        An array of `shape` and `dtype` filled with `value`.

    Examples
    --------
    >>> print(constant((2, 3), 0.5))
    [[0.5 0.5 0.5]
     [0.5 0.5 0.5]]
    """
    shape = check_shape(shape)
    value = check_real(value, "value")
    return np.full(shape, value, dtype=_check_dtype(dtype))


def normal(shape, *, rng, mean=0.0, std=1.0, dtype=np.float64):
    r"""Samples of $\mathcal{N}(\text{mean}, \text{std}^2)$, as `torch.nn.init.normal_`.

    Parameters
    ----------
    shape : tuple of int
        Any shape of positive sizes.
    rng : numpy.random.Generator
        The source of randomness.
    mean : float, default 0.0
        Mean of the distribution.
    std : float, default 1.0
        Standard deviation, non-negative.
    dtype : {numpy.float64, numpy.float32}, default numpy.float64
        The dtype of the result.

    Returns
    -------
    numpy.ndarray
        Independent samples of `shape` and `dtype`.

    Notes
    -----
    A fixed scale ignores the layer's width: by the variance argument of this module, $y = Wx$ has
    $\operatorname{Var}(y_i) = n_\text{in}\,\text{std}^2\,\mathbb{E}[x^2]$, so with `std=1` a signal grows by
    $\sqrt{n_\text{in}}$ per layer and with `std=0.01` it vanishes. Scale with the fans instead.

    Examples
    --------
    >>> W = normal((1000, 100), rng=np.random.default_rng(0), mean=1.0, std=0.5)
    >>> print(W.shape, f"mean {W.mean():.3f}, std {W.std():.3f}")
    (1000, 100) mean 1.000, std 0.500
    """
    shape = check_shape(shape)
    rng = check_rng(rng)
    mean = check_real(mean, "mean")
    std = check_real(std, "std", low=0.0)
    return rng.normal(mean, std, size=shape).astype(_check_dtype(dtype), copy=False)


def uniform(shape, *, rng, a=0.0, b=1.0, dtype=np.float64):
    r"""Samples of $\mathcal{U}(a, b)$, as `torch.nn.init.uniform_`.

    Parameters
    ----------
    shape : tuple of int
        Any shape of positive sizes.
    rng : numpy.random.Generator
        The source of randomness.
    a, b : float, default 0.0 and 1.0
        The interval $[a, b)$, with $a \le b$.
    dtype : {numpy.float64, numpy.float32}, default numpy.float64
        The dtype of the result.

    Returns
    -------
    numpy.ndarray
        Independent samples of `shape` and `dtype`, with mean $(a+b)/2$ and variance $(b-a)^2/12$.

    Examples
    --------
    >>> W = uniform((1000, 100), rng=np.random.default_rng(0), a=-1.0, b=1.0)
    >>> print(bool(W.min() >= -1.0), bool(W.max() < 1.0), f"variance {W.var():.3f}, expected {4 / 12:.3f}")
    True True variance 0.333, expected 0.333
    """
    shape = check_shape(shape)
    rng = check_rng(rng)
    a = check_real(a, "a")
    b = check_real(b, "b")
    if a > b:
        raise ValueError(f"uniform needs a <= b, the interval [a, b); got a={a}, b={b}. Swap them.")
    return rng.uniform(a, b, size=shape).astype(_check_dtype(dtype), copy=False)


def xavier_uniform(shape, *, rng, gain=1.0, dtype=np.float64):
    r"""Glorot (Xavier) uniform, as `torch.nn.init.xavier_uniform_`: $\mathcal{U}(-b, b)$.

    $$b = g\sqrt{\frac{6}{n_\text{in} + n_\text{out}}}.$$

    Parameters
    ----------
    shape : tuple of int
        A weight shape with at least 2 dimensions; see [`fans`][dlref.init.fans].
    rng : numpy.random.Generator
        The source of randomness.
    gain : float, default 1.0
        The scale $g$, non-negative; see [`calculate_gain`][dlref.init.calculate_gain].
    dtype : {numpy.float64, numpy.float32}, default numpy.float64
        The dtype of the result.

    Returns
    -------
    numpy.ndarray
        Samples of `shape` and `dtype` with standard deviation $g\sqrt{2/(n_\text{in} + n_\text{out})}$.

    Notes
    -----
    The forward pass keeps the activation variance when $n_\text{in}\sigma^2 = 1$, the backward pass keeps
    the gradient variance when $n_\text{out}\sigma^2 = 1$. Both hold only for square layers, so Glorot and
    Bengio satisfy their average, $\sigma^2 = 2/(n_\text{in} + n_\text{out})$. The derivation assumes a
    unit that is linear around zero (tanh, or a linear layer); for ReLU use
    [`he_uniform`][dlref.init.he_uniform]. The uniform's variance $b^2/3$ equals $\sigma^2$ for
    $b = \sqrt3\,\sigma = \sqrt{6/(n_\text{in} + n_\text{out})}$.

    References
    ----------
    Glorot, X. & Bengio, Y. (2010). Understanding the difficulty of training deep feedforward neural
    networks. AISTATS.

    Examples
    --------
    >>> W = xavier_uniform((300, 100), rng=np.random.default_rng(0))
    >>> print(f"bound {math.sqrt(6 / (100 + 300)):.4f}, largest |w| {np.abs(W).max():.4f}")
    bound 0.1225, largest |w| 0.1225
    """
    fan_in, fan_out = fans(shape)
    rng = check_rng(rng)
    gain = check_real(gain, "gain", low=0.0)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return rng.uniform(-bound, bound, size=shape).astype(_check_dtype(dtype), copy=False)


def xavier_normal(shape, *, rng, gain=1.0, dtype=np.float64):
    r"""Glorot (Xavier) normal, as `torch.nn.init.xavier_normal_`: $\mathcal{N}(0, \sigma^2)$.

    $$\sigma = g\sqrt{\frac{2}{n_\text{in} + n_\text{out}}}.$$

    Parameters
    ----------
    shape : tuple of int
        A weight shape with at least 2 dimensions; see [`fans`][dlref.init.fans].
    rng : numpy.random.Generator
        The source of randomness.
    gain : float, default 1.0
        The scale $g$, non-negative; see [`calculate_gain`][dlref.init.calculate_gain].
    dtype : {numpy.float64, numpy.float32}, default numpy.float64
        The dtype of the result.

    Returns
    -------
    numpy.ndarray
        Samples of `shape` and `dtype`.

    Notes
    -----
    The compromise between forward ($\sigma^2 = 1/n_\text{in}$) and backward ($\sigma^2 = 1/n_\text{out}$)
    variance preservation explained in [`xavier_uniform`][dlref.init.xavier_uniform].

    References
    ----------
    Glorot, X. & Bengio, Y. (2010). Understanding the difficulty of training deep feedforward neural
    networks. AISTATS.

    Examples
    --------
    >>> W = xavier_normal((64, 32, 3, 3), rng=np.random.default_rng(0))
    >>> print(W.shape, f"expected std {math.sqrt(2 / (288 + 576)):.3f}, sample std {W.std():.3f}")
    (64, 32, 3, 3) expected std 0.048, sample std 0.048
    """
    fan_in, fan_out = fans(shape)
    rng = check_rng(rng)
    gain = check_real(gain, "gain", low=0.0)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return rng.normal(0.0, std, size=shape).astype(_check_dtype(dtype), copy=False)


def _he_std(shape, a, mode, nonlinearity) -> float:
    fan_in, fan_out = fans(shape)
    a = check_real(a, "a")
    mode = check_choice(mode, "mode", _MODES)
    gain = calculate_gain(nonlinearity, a)
    return gain / math.sqrt(fan_in if mode == "fan_in" else fan_out)


def he_uniform(shape, *, rng, a=0, mode="fan_in", nonlinearity="leaky_relu", dtype=np.float64):
    r"""He (Kaiming) uniform, as `torch.nn.init.kaiming_uniform_`: $\mathcal{U}(-b, b)$.

    $$b = g\sqrt{\frac{3}{n_\text{mode}}}, \qquad g = \text{calculate\_gain}(\text{nonlinearity}, a).$$

    Parameters
    ----------
    shape : tuple of int
        A weight shape with at least 2 dimensions; see [`fans`][dlref.init.fans].
    rng : numpy.random.Generator
        The source of randomness.
    a : float, default 0
        Negative slope of the leaky ReLU after this layer (used only with `"leaky_relu"`). With the defaults
        $a = 0$ and `"leaky_relu"`, $g = \sqrt2$: the ReLU gain.
    mode : {"fan_in", "fan_out"}, default "fan_in"
        `"fan_in"` keeps the variance of the activations in the forward pass, `"fan_out"` that of the
        gradients in the backward pass.
    nonlinearity : str, default "leaky_relu"
        A name accepted by [`calculate_gain`][dlref.init.calculate_gain].
    dtype : {numpy.float64, numpy.float32}, default numpy.float64
        The dtype of the result.

    Returns
    -------
    numpy.ndarray
        Samples of `shape` and `dtype` with standard deviation $g/\sqrt{n_\text{mode}}$.

    Notes
    -----
    With $x = \mathrm{ReLU}(z)$ from a previous layer whose pre-activation $z$ is symmetric around zero,
    $\mathbb{E}[x^2] = \operatorname{Var}(z)/2$, so $\operatorname{Var}(z') = n_\text{in}\,\sigma^2
    \operatorname{Var}(z)/2$ for the next pre-activation $z' = Wx$. The variance stays constant through
    depth when $\sigma^2 = 2/n_\text{in}$; a leaky ReLU keeps $(1+a^2)/2$ instead of $1/2$. The backward
    pass gives the same with $n_\text{out}$. A uniform with this variance has $b = \sqrt3\,\sigma$.

    Note that torch's `nn.Linear` and `nn.Conv2d` do *not* use this default: they call
    `kaiming_uniform_(w, a=math.sqrt(5))`, which works out to $\mathcal{U}(\pm 1/\sqrt{n_\text{in}})$.

    References
    ----------
    He, K., Zhang, X., Ren, S. & Sun, J. (2015). Delving deep into rectifiers: surpassing human-level
    performance on ImageNet classification. ICCV.

    Examples
    --------
    >>> W = he_uniform((256, 512), rng=np.random.default_rng(0))
    >>> print(f"bound {math.sqrt(6 / 512):.4f}, largest |w| {np.abs(W).max():.4f}")
    bound 0.1083, largest |w| 0.1083
    """
    std = _he_std(shape, a, mode, nonlinearity)
    rng = check_rng(rng)
    bound = math.sqrt(3.0) * std
    return rng.uniform(-bound, bound, size=shape).astype(_check_dtype(dtype), copy=False)


def he_normal(shape, *, rng, a=0, mode="fan_in", nonlinearity="leaky_relu", dtype=np.float64):
    r"""He (Kaiming) normal, as `torch.nn.init.kaiming_normal_`: $\mathcal{N}(0, \sigma^2)$.

    $$\sigma = \frac{g}{\sqrt{n_\text{mode}}}, \qquad g = \text{calculate\_gain}(\text{nonlinearity}, a).$$

    Parameters
    ----------
    shape : tuple of int
        A weight shape with at least 2 dimensions; see [`fans`][dlref.init.fans].
    rng : numpy.random.Generator
        The source of randomness.
    a : float, default 0
        Negative slope of the leaky ReLU after this layer (used only with `"leaky_relu"`).
    mode : {"fan_in", "fan_out"}, default "fan_in"
        Which pass keeps its variance; see [`he_uniform`][dlref.init.he_uniform].
    nonlinearity : str, default "leaky_relu"
        A name accepted by [`calculate_gain`][dlref.init.calculate_gain].
    dtype : {numpy.float64, numpy.float32}, default numpy.float64
        The dtype of the result.

    Returns
    -------
    numpy.ndarray
        Samples of `shape` and `dtype`.

    Notes
    -----
    $\sigma^2 = 2/n_\text{in}$ for ReLU compensates the half of the variance that ReLU removes; the
    derivation is in [`he_uniform`][dlref.init.he_uniform].

    References
    ----------
    He, K., Zhang, X., Ren, S. & Sun, J. (2015). Delving deep into rectifiers: surpassing human-level
    performance on ImageNet classification. ICCV.

    Examples
    --------
    >>> W = he_normal((500, 200), rng=np.random.default_rng(0), nonlinearity="relu")
    >>> print(f"expected std {math.sqrt(2 / 200):.4f}, sample std {W.std():.4f}")
    expected std 0.1000, sample std 0.1000
    """
    std = _he_std(shape, a, mode, nonlinearity)
    rng = check_rng(rng)
    return rng.normal(0.0, std, size=shape).astype(_check_dtype(dtype), copy=False)


def lecun_normal(shape, *, rng, dtype=np.float64):
    r"""LeCun normal: $\mathcal{N}(0, 1/n_\text{in})$.

    torch has no function of this name; the same distribution is
    `torch.nn.init.kaiming_normal_(w, nonlinearity="linear")` (gain 1, mode `"fan_in"`).

    Parameters
    ----------
    shape : tuple of int
        A weight shape with at least 2 dimensions; see [`fans`][dlref.init.fans].
    rng : numpy.random.Generator
        The source of randomness.
    dtype : {numpy.float64, numpy.float32}, default numpy.float64
        The dtype of the result.

    Returns
    -------
    numpy.ndarray
        Samples of `shape` and `dtype` with standard deviation $1/\sqrt{n_\text{in}}$.

    Notes
    -----
    $\operatorname{Var}(y_i) = n_\text{in}\,\sigma^2\operatorname{Var}(x)$ for zero-mean inputs, so
    $\sigma^2 = 1/n_\text{in}$ keeps the forward variance for a linear (or near-linear) unit. It is the
    initialisation that SELU's self-normalising fixed point assumes. Keras's `lecun_normal` draws from a
    normal truncated at two standard deviations (rescaled to the same variance); this one does not
    truncate, like torch.

    References
    ----------
    LeCun, Y., Bottou, L., Orr, G. B. & Müller, K.-R. (1998). Efficient BackProp. In *Neural Networks:
    Tricks of the Trade*, Springer. Klambauer, G., Unterthiner, T., Mayr, A. & Hochreiter, S. (2017).
    Self-normalizing neural networks. NeurIPS.

    Examples
    --------
    >>> W = lecun_normal((256, 400), rng=np.random.default_rng(0))
    >>> print(f"expected std {1 / math.sqrt(400):.4f}, sample std {W.std():.4f}")
    expected std 0.0500, sample std 0.0500
    """
    fan_in, _ = fans(shape)
    rng = check_rng(rng)
    return rng.normal(0.0, 1.0 / math.sqrt(fan_in), size=shape).astype(_check_dtype(dtype), copy=False)


def orthogonal(shape, *, rng, gain=1.0, dtype=np.float64):
    r"""A random (semi-)orthogonal matrix times `gain`, as `torch.nn.init.orthogonal_`.

    Parameters
    ----------
    shape : tuple of int
        At least 2 dimensions; the trailing ones are flattened, so the matrix has `shape[0]` rows and
        `prod(shape[1:])` columns.
    rng : numpy.random.Generator
        The source of randomness.
    gain : float, default 1.0
        The scale, non-negative.
    dtype : {numpy.float64, numpy.float32}, default numpy.float64
        The dtype of the result.

    Returns
    -------
    numpy.ndarray
        $W$ of `shape` and `dtype`. Flattened to $m \times n$: $W W^\top = g^2 I_m$ if $m \le n$ (orthonormal
        rows), $W^\top W = g^2 I_n$ if $m \ge n$ (orthonormal columns).

    Notes
    -----
    A QR decomposition $A = QR$ of a matrix $A$ of independent standard normals ($A^\top$ when there are
    fewer rows than columns, so that $Q$ has the orthonormal columns) gives an orthogonal $Q$, but not a
    uniformly (Haar) distributed one: QR routines fix the signs of $R$'s diagonal in their own way.
    Multiplying each column of $Q$ by the sign of the matching $R_{jj}$ makes the factorisation unique with
    $R_{jj} > 0$, and then $Q$ is Haar-distributed (Mezzadri 2007). torch does exactly this.

    Every singular value of $W$ equals $g$, so in a deep *linear* network $W_L \cdots W_1$ neither
    explodes nor vanishes in any direction, which Saxe et al. show gives depth-independent learning times.
    Each entry has variance $g^2/\max(m, n)$.

    References
    ----------
    Saxe, A. M., McClelland, J. L. & Ganguli, S. (2014). Exact solutions to the nonlinear dynamics of
    learning in deep linear neural networks. ICLR. Mezzadri, F. (2007). How to generate random matrices
    from the classical compact groups. *Notices of the AMS*, 54(5).

    Examples
    --------
    >>> W = orthogonal((3, 5), rng=np.random.default_rng(0), gain=2.0)
    >>> print(np.round(W @ W.T, 10) + 0.0)  # + 0.0 turns -0. into 0.
    [[4. 0. 0.]
     [0. 4. 0.]
     [0. 0. 4.]]
    """
    shape = check_shape(shape)
    if len(shape) < 2:
        raise ValueError(f"orthogonal needs a shape with at least 2 dimensions, (rows, *columns); got "
                         f"{shape}. A 1-D vector cannot be orthogonal; initialise it with normal or zeros.")
    rng = check_rng(rng)
    gain = check_real(gain, "gain", low=0.0)
    dtype = _check_dtype(dtype)
    rows, cols = shape[0], math.prod(shape[1:])
    flat = rng.standard_normal((rows, cols))
    wide = rows < cols
    # QR orthonormalises columns, so a wide matrix is factorised transposed.
    q, r = np.linalg.qr(flat.T if wide else flat)
    q *= np.sign(np.diag(r))
    return (gain * (q.T if wide else q)).reshape(shape).astype(dtype, copy=False)
