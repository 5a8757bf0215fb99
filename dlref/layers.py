r"""Layers with their backward passes: the affine map, dropout and batch normalisation.

Parameters are laid out as PyTorch lays them out, so weights copied from a torch module need no
transposing: a linear layer's weight $W$ has shape `(out_features, in_features)`, as
`torch.nn.Linear.weight`, and batch normalisation works on channels along axis 1, `(N, C)` or
`(N, C, H, W)`, as `torch.nn.BatchNorm1d` and `BatchNorm2d`.

Layers that behave differently in training and in evaluation (dropout, batch normalisation) take an
explicit `training` flag in place of torch's `module.train()` / `module.eval()` state, and never mutate
their inputs: batch normalisation returns the updated running statistics instead of writing them into
buffers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlref._checks import as_float_array, check_bool, check_real, check_rng, check_same_shape

__all__ = [
    "linear_forward", "linear_backward",
    "dropout_forward", "dropout_backward",
    "BatchNormCache", "batchnorm_forward", "batchnorm_backward",
]


def _affine(x: np.ndarray, W: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """`x @ W.T + b` on arrays the caller has validated: the arithmetic of `linear_forward`."""
    y = x @ W.T
    return y if b is None else y + b


def _affine_grads(dy: np.ndarray, x: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dx, dW, db on arrays the caller has validated: the arithmetic of `linear_backward`."""
    out_features, in_features = W.shape
    rows_dy = dy.reshape(-1, out_features)
    return dy @ W, rows_dy.T @ x.reshape(-1, in_features), rows_dy.sum(axis=0)


def _linear_inputs(x, W) -> tuple[np.ndarray, np.ndarray]:
    x = as_float_array(x, "x")
    W = as_float_array(W, "W")
    if W.ndim != 2:
        raise ValueError(f"W must be 2-D with shape (out_features, in_features), as torch.nn.Linear.weight; "
                         f"got shape {W.shape}. Reshape it, e.g. W.reshape(1, -1) for a single output.")
    if x.ndim == 0:
        raise ValueError(f"x must have at least one dimension, shape (..., in_features) with in_features = "
                         f"{W.shape[1]}; got a 0-d array (a scalar). Wrap it with np.atleast_1d.")
    if x.shape[-1] != W.shape[1]:
        raise ValueError(f"x must have shape (..., in_features) with in_features = {W.shape[1]}, the second "
                         f"dimension of W {W.shape}; got x of shape {x.shape}. W is laid out "
                         f"(out_features, in_features) as in torch.nn.Linear; if yours is (in_features, "
                         f"out_features), pass W.T.")
    return x, W


def linear_forward(x, W, b=None):
    r"""Affine map $y = x W^\top + b$, the forward pass of `torch.nn.Linear`.

    Parameters
    ----------
    x : array_like, shape (..., in_features)
        Inputs; any number of leading (batch) dimensions, at least one dimension in all.
    W : array_like, shape (out_features, in_features)
        Weight, laid out as `torch.nn.Linear.weight`.
    b : array_like, shape (out_features,), optional
        Bias. `None` means no bias (`bias=False` in torch).

    Returns
    -------
    numpy.ndarray, shape (..., out_features)
        $y$. float32 and float64 inputs keep their dtype; mixed dtypes follow numpy's promotion
        (float32 with float64 gives float64), where torch would refuse to mix them.

    Raises
    ------
    ValueError
        If the shapes do not fit together, or an input contains NaN.
    TypeError
        If an input is not real-valued.

    Notes
    -----
    Written per entry, $y_{n o} = \sum_i x_{n i} W_{o i} + b_o$, where $n$ runs over all leading
    dimensions flattened into $M$ rows. For an upstream gradient $\partial L/\partial y$ of $y$'s shape,
    the chain rule gives

    $$\frac{\partial L}{\partial x_{n i}} = \sum_o \frac{\partial L}{\partial y_{n o}} W_{o i}, \qquad
    \frac{\partial L}{\partial W_{o i}} = \sum_n \frac{\partial L}{\partial y_{n o}} x_{n i}, \qquad
    \frac{\partial L}{\partial b_o} = \sum_n \frac{\partial L}{\partial y_{n o}},$$

    that is $dx = dy\,W$, $dW = dy^\top x$ and $db = \mathbf{1}^\top dy$ with $x$ and $dy$ as
    $(M, \cdot)$ matrices; see [`linear_backward`][dlref.layers.linear_backward]. The bias is shared by
    all $M$ rows, so its gradient sums over them.

    References
    ----------
    Rumelhart, D. E., Hinton, G. E. & Williams, R. J. (1986). Learning representations by
    back-propagating errors. *Nature*, 323.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 2.0], [0.0, -1.0]])
    >>> W = np.array([[1.0, 0.0], [2.0, 3.0], [0.0, 1.0]])
    >>> print(linear_forward(x, W, b=np.array([0.5, 0.0, -1.0])))
    [[ 1.5  8.   1. ]
     [ 0.5 -3.  -2. ]]
    """
    x, W = _linear_inputs(x, W)
    if b is not None:
        b = as_float_array(b, "b")
        if b.shape != (W.shape[0],):
            raise ValueError(f"b must have shape (out_features,) = ({W.shape[0]},) to match W of shape "
                             f"{W.shape}; got {b.shape}. Flatten it with b.reshape(-1), or pass b=None for no "
                             f"bias.")
    return _affine(x, W, b)


def linear_backward(dy, x, W):
    r"""Gradients of [`linear_forward`][dlref.layers.linear_forward] with respect to $x$, $W$ and $b$.

    Parameters
    ----------
    dy : array_like, shape (..., out_features)
        Upstream gradient $\partial L/\partial y$, of the forward output's shape.
    x : array_like, shape (..., in_features)
        The forward input.
    W : array_like, shape (out_features, in_features)
        The weight used in the forward pass. The bias is not needed: $y$ depends on it additively.

    Returns
    -------
    dx : numpy.ndarray, shape (..., in_features)
        $dy\,W$.
    dW : numpy.ndarray, shape (out_features, in_features)
        $dy^\top x$, summed over all leading dimensions.
    db : numpy.ndarray, shape (out_features,)
        $dy$ summed over all leading dimensions; returned even if the forward pass had no bias.

    Raises
    ------
    ValueError
        If the shapes do not fit together, or an input contains NaN.
    TypeError
        If an input is not real-valued.

    Notes
    -----
    The derivation is in [`linear_forward`][dlref.layers.linear_forward]. Each gradient follows numpy's
    dtype promotion of the arrays it is computed from.

    Examples
    --------
    >>> x = np.array([[1.0, 2.0], [0.0, -1.0]])
    >>> W = np.array([[1.0, 0.0], [2.0, 3.0], [0.0, 1.0]])
    >>> dx, dW, db = linear_backward(np.ones((2, 3)), x, W)
    >>> print(dx)
    [[3. 4.]
     [3. 4.]]
    >>> print(dW)
    [[1. 1.]
     [1. 1.]
     [1. 1.]]
    >>> print(db)
    [2. 2. 2.]
    """
    x, W = _linear_inputs(x, W)
    dy = as_float_array(dy, "dy")
    expected = x.shape[:-1] + (W.shape[0],)
    if dy.shape != expected:
        raise ValueError(f"dy must have the shape of the forward output, x.shape[:-1] + (out_features,) = "
                         f"{expected}; got {dy.shape}. Pass the gradient of linear_forward(x, W, b).")
    return _affine_grads(dy, x, W)


def dropout_forward(x, p, rng, training=True):
    r"""Inverted dropout: zero each entry with probability $p$ and scale the survivors by $1/(1-p)$.

    The forward pass of `torch.nn.functional.dropout(x, p, training)`. In training mode each entry is
    kept independently with probability $1 - p$; in evaluation mode the layer is the identity.

    Parameters
    ----------
    x : array_like, any shape
        Activations.
    p : float
        Probability $p \in [0, 1]$ of zeroing an entry (torch's `p`, the *drop* rate, not the keep rate).
    rng : numpy.random.Generator or None
        Draws the mask. Required when `training` is true; ignored (and may be `None`) otherwise.
    training : bool, default True
        `False` gives the identity, as `module.eval()` does in torch.

    Returns
    -------
    y : numpy.ndarray, shape and dtype of `x`
        $m \odot x$.
    mask : numpy.ndarray, shape and dtype of `x`
        The multiplier $m$ applied to each entry: $0$ for a dropped entry and $1/(1-p)$ for a kept one;
        all ones in evaluation mode or when $p = 0$, all zeros when $p = 1$ (as in torch). It is all that
        [`dropout_backward`][dlref.layers.dropout_backward] needs. The kept entries are `mask != 0`.

    Raises
    ------
    ValueError
        If $p \notin [0, 1]$ or `x` contains NaN.
    TypeError
        If `training` is not a bool, or `training` is true and `rng` is not a `numpy.random.Generator`.

    Notes
    -----
    With $b \sim \mathrm{Bernoulli}(1 - p)$ independently per entry and $m = b / (1 - p)$,
    $\mathbb{E}[m] = 1$, so $\mathbb{E}[y] = x$: the expected activation in training equals the activation
    in evaluation, and evaluation needs no rescaling. (The original formulation kept the survivors
    unscaled and multiplied the weights by $1 - p$ at test time; inverted dropout moves that factor into
    training.) The variance it adds is $\mathrm{Var}[y_i] = x_i^2\, p / (1 - p)$.

    $y = m \odot x$ is linear in $x$ for a fixed mask, so the backward pass is
    $\partial L/\partial x = m \odot \partial L/\partial y$: gradients flow only through the kept entries,
    scaled by the same $1/(1-p)$.

    The mask comes from numpy's generator, so for the same seed it differs from torch's; given the same
    mask the two agree exactly (the tests take torch's mask).

    References
    ----------
    Srivastava, N., Hinton, G., Krizhevsky, A., Sutskever, I. & Salakhutdinov, R. (2014). Dropout: a
    simple way to prevent neural networks from overfitting. *JMLR*, 15.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(1.0, 7.0)
    >>> y, mask = dropout_forward(x, p=0.5, rng=np.random.default_rng(0))
    >>> print(mask)
    [2. 0. 0. 0. 2. 2.]
    >>> print(y)
    [ 2.  0.  0.  0. 10. 12.]
    >>> print(dropout_forward(x, p=0.5, rng=None, training=False)[0])
    [1. 2. 3. 4. 5. 6.]
    """
    x = as_float_array(x, "x")
    p = check_real(p, "p", low=0.0, high=1.0)
    training = check_bool(training, "training")
    if training:
        check_rng(rng)
    if not training or p == 0.0:
        return x.copy(), np.ones_like(x)
    if p == 1.0:
        return np.zeros_like(x), np.zeros_like(x)
    keep = rng.random(x.shape) >= p
    mask = keep.astype(x.dtype) / x.dtype.type(1.0 - p)
    return x * mask, mask


def dropout_backward(dy, mask):
    r"""Gradient of [`dropout_forward`][dlref.layers.dropout_forward]: $\partial L/\partial x = m \odot dy$.

    Parameters
    ----------
    dy : array_like
        Upstream gradient $\partial L/\partial y$, of the forward output's shape.
    mask : array_like
        The `mask` that the forward pass returned, of the same shape.

    Returns
    -------
    numpy.ndarray
        $m \odot dy$; numpy's dtype promotion of `dy` and `mask`.

    Raises
    ------
    ValueError
        If the shapes differ, or an input contains NaN.

    Examples
    --------
    >>> print(dropout_backward(np.ones(4), np.array([0.0, 2.0, 2.0, 0.0])))
    [0. 2. 2. 0.]
    """
    dy = as_float_array(dy, "dy")
    mask = as_float_array(mask, "mask")
    check_same_shape(dy, mask, "dy", "mask")
    return dy * mask


@dataclass(frozen=True)
class BatchNormCache:
    r"""What [`batchnorm_backward`][dlref.layers.batchnorm_backward] needs from the forward pass.

    `x_hat` is the normalised input $\hat x$ (the input's shape), `gamma` the scale $\gamma$, `inv_std`
    the per-channel $1/\sqrt{\sigma^2 + \epsilon}$ that was used (from the batch in training, from the
    running variance in evaluation), and `training` says which of the two it was.
    """

    x_hat: np.ndarray
    gamma: np.ndarray
    inv_std: np.ndarray
    training: bool


def _per_channel(value, name: str, channels: int, x_shape: tuple[int, ...]) -> np.ndarray:
    value = as_float_array(value, name, allow_inf=False)
    if value.shape != (channels,):
        raise ValueError(f"{name} must have shape (C,) = ({channels},), one entry per channel of x, whose "
                         f"shape {x_shape} has its channels along axis 1; got {value.shape}. For channels "
                         f"last data, move them with np.moveaxis(x, -1, 1).")
    return value


def _reduced_axes(ndim: int) -> tuple[int, ...]:
    """Every axis but the channel axis 1: statistics are per channel, over the batch and the positions."""
    return (0,) + tuple(range(2, ndim))


def _channel_shape(channels: int, ndim: int) -> tuple[int, ...]:
    """Shape that broadcasts a per-channel vector against an `(N, C, ...)` array."""
    return (1, channels) + (1,) * (ndim - 2)


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    r"""Batch normalisation, $y = \gamma \hat x + \beta$ with $\hat x = (x - \mu)/\sqrt{\sigma^2 + \epsilon}$
    per channel, as `torch.nn.BatchNorm1d` / `BatchNorm2d`.

    In training mode $\mu$ and $\sigma^2$ are the mean and the (biased) variance of the batch, and the
    running statistics move towards them; in evaluation mode the running statistics are used instead, so
    each example's output no longer depends on the rest of the batch.

    Parameters
    ----------
    x : array_like, shape (N, C) or (N, C, L) or (N, C, H, W)
        Inputs with channels along axis 1. Statistics are taken per channel over the batch and every
        position: over $M = N$ values for `(N, C)`, $M = N H W$ for `(N, C, H, W)`.
    gamma, beta : array_like, shape (C,)
        Scale and shift, torch's `weight` and `bias` of the layer. For torch's `affine=False`, pass ones
        and zeros.
    running_mean, running_var : array_like, shape (C,)
        Running estimates of the per-channel mean and variance (torch's buffers; they start at zeros and
        ones). Not modified: the updated values are returned.
    training : bool
        Batch statistics and an update of the running ones (`module.train()`), or the running statistics
        (`module.eval()`).
    momentum : float, default 0.1
        Weight $\alpha \in [0, 1]$ of the new batch in the running averages. torch's `momentum=None`
        (a cumulative average) is not supported.
    eps : float, default 1e-5
        $\epsilon \ge 0$ added to the variance for numerical stability.

    Returns
    -------
    y : numpy.ndarray, shape of `x`
        The normalised, scaled and shifted input.
    running_mean, running_var : numpy.ndarray, shape (C,)
        The updated running statistics in training mode; the given ones, unchanged, in evaluation mode.
    cache : BatchNormCache
        For [`batchnorm_backward`][dlref.layers.batchnorm_backward].

    Raises
    ------
    ValueError
        If `x` has fewer than two dimensions, a per-channel array is not of shape `(C,)`,
        `running_var` is negative, a hyperparameter is out of range, an input contains NaN, or, in
        training mode, a channel has only one value (its variance is undefined; torch raises too).
    TypeError
        If `training` is not a bool, or an input is not real-valued.

    Notes
    -----
    **Running statistics.** With $\alpha$ = `momentum`, torch updates
    $\hat\mu \leftarrow (1 - \alpha)\hat\mu + \alpha\mu$ and
    $\hat\sigma^2 \leftarrow (1 - \alpha)\hat\sigma^2 + \alpha \frac{M}{M - 1}\sigma^2$: the batch is
    *normalised* with the biased variance $\sigma^2 = \frac1M\sum (x - \mu)^2$, but the running variance
    is fed the *unbiased* one, so that it estimates the population variance. This function does the same.
    torch's $\alpha$ is the weight of the new value, the opposite of the decay $\beta$ of an exponential
    moving average (torch's 0.1 is a decay of 0.9).

    **Backward, training mode.** Per channel, with the $M$ values $x_i$, $\tilde\sigma =
    \sqrt{\sigma^2 + \epsilon}$ and upstream gradient $g_i = \partial L/\partial y_i$:
    $\partial L/\partial\beta = \sum_i g_i$ and $\partial L/\partial\gamma = \sum_i g_i \hat x_i$.
    Since $\mu$ and $\sigma^2$ depend on every $x_j$, $\partial\hat x_i/\partial x_j =
    \frac{1}{\tilde\sigma}\left(\delta_{ij} - \frac1M - \frac{\hat x_i \hat x_j}{M}\right)$, and
    summing against $\gamma g_i$ gives

    $$\frac{\partial L}{\partial x_j} = \frac{\gamma}{\tilde\sigma}\left(g_j - \frac1M\sum_i g_i
      - \hat x_j\,\frac1M \sum_i g_i \hat x_i\right).$$

    The gradient is the upstream gradient with its mean and its component along $\hat x$ projected out:
    shifting or scaling a channel's inputs does not change its output.

    **Backward, evaluation mode.** $\mu$ and $\sigma^2$ are constants, the layer is a per-channel affine
    map, and $\partial L/\partial x_j = \gamma g_j / \sqrt{\hat\sigma^2 + \epsilon}$.

    References
    ----------
    Ioffe, S. & Szegedy, C. (2015). Batch normalization: accelerating deep network training by reducing
    internal covariate shift. ICML.

    Examples
    --------
    >>> x = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 40.0]])
    >>> y, mean, var, cache = batchnorm_forward(x, np.ones(2), np.zeros(2), np.zeros(2), np.ones(2),
    ...                                         training=True)
    >>> print(np.round(y, 4))
    [[-1.2247 -0.7071]
     [ 0.     -0.7071]
     [ 1.2247  1.4142]]
    >>> print(mean, var)
    [0.3 2. ] [ 1.3 30.9]
    >>> y, _, _, _ = batchnorm_forward(x, np.ones(2), np.zeros(2), mean, var, training=False)
    >>> print(np.round(y, 4))
    [[0.6139 1.4392]
     [2.368  1.4392]
     [4.1222 6.836 ]]
    """
    x = as_float_array(x, "x")
    if x.ndim < 2:
        raise ValueError(f"x must have shape (N, C) or (N, C, ...), with the batch along axis 0 and channels "
                         f"along axis 1; got shape {x.shape}. For a single feature vector use "
                         f"x.reshape(1, -1) (evaluation mode only: training needs more than one value per "
                         f"channel).")
    channels = x.shape[1]
    gamma, beta, running_mean, running_var = (
        _per_channel(value, name, channels, x.shape)
        for value, name in ((gamma, "gamma"), (beta, "beta"), (running_mean, "running_mean"),
                            (running_var, "running_var")))
    if (running_var < 0).any():
        raise ValueError(f"running_var must be non-negative, it estimates a variance; got "
                         f"{running_var.min()}. Start it at ones, as torch does.")
    training = check_bool(training, "training")
    momentum = check_real(momentum, "momentum", low=0.0, high=1.0)
    eps = check_real(eps, "eps", low=0.0)
    axes = _reduced_axes(x.ndim)
    shape = _channel_shape(channels, x.ndim)
    if training:
        count = x.size // channels if channels else 0
        if count < 2:
            raise ValueError(f"training mode needs more than one value per channel to estimate a variance; "
                             f"got x of shape {x.shape}. Use a larger batch, or training=False to normalise "
                             f"with the running statistics.")
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)
        running_mean = (1.0 - momentum) * running_mean + momentum * mean
        running_var = (1.0 - momentum) * running_var + momentum * (count / (count - 1)) * var
    else:
        mean, var = running_mean, running_var
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mean.reshape(shape)) * inv_std.reshape(shape)
    y = gamma.reshape(shape) * x_hat + beta.reshape(shape)
    return y, running_mean, running_var, BatchNormCache(x_hat, gamma, inv_std, training)


def batchnorm_backward(dy, cache):
    r"""Gradients of [`batchnorm_forward`][dlref.layers.batchnorm_forward] for $x$, $\gamma$ and $\beta$.

    Parameters
    ----------
    dy : array_like, shape of the forward input
        Upstream gradient $\partial L/\partial y$.
    cache : BatchNormCache
        The cache that the forward pass returned; its `training` flag selects the formula.

    Returns
    -------
    dx : numpy.ndarray, shape of `dy`
    dgamma, dbeta : numpy.ndarray, shape (C,)

    Raises
    ------
    TypeError
        If `cache` is not a [`BatchNormCache`][dlref.layers.BatchNormCache].
    ValueError
        If `dy` does not have the forward output's shape, or contains NaN.

    Notes
    -----
    The derivation is in [`batchnorm_forward`][dlref.layers.batchnorm_forward]. The running statistics
    receive no gradient: they are buffers, not parameters.

    Examples
    --------
    >>> x = np.array([[1.0], [3.0], [5.0]])
    >>> _, _, _, cache = batchnorm_forward(x, np.ones(1), np.zeros(1), np.zeros(1), np.ones(1), True)
    >>> dx, dgamma, dbeta = batchnorm_backward(np.ones((3, 1)), cache)
    >>> print(dx.ravel(), dgamma, dbeta)
    [0. 0. 0.] [0.] [3.]
    """
    if not isinstance(cache, BatchNormCache):
        raise TypeError(f"cache must be the BatchNormCache returned by batchnorm_forward; got "
                        f"{type(cache).__name__}.")
    dy = as_float_array(dy, "dy")
    check_same_shape(dy, cache.x_hat, "dy", "the forward output")
    channels = cache.x_hat.shape[1]
    axes = _reduced_axes(dy.ndim)
    shape = _channel_shape(channels, dy.ndim)
    dbeta = dy.sum(axis=axes)
    dgamma = (dy * cache.x_hat).sum(axis=axes)
    scale = (cache.gamma * cache.inv_std).reshape(shape)
    if not cache.training:
        return dy * scale, dgamma, dbeta
    count = dy.size // channels
    dx = scale * (dy - dbeta.reshape(shape) / count - cache.x_hat * (dgamma.reshape(shape) / count))
    return dx, dgamma, dbeta
