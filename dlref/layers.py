r"""Layers: affine maps with their backward passes.

Parameters are laid out as PyTorch lays them out, so weights copied from a torch module need no
transposing: a linear layer's weight $W$ has shape `(out_features, in_features)`, as
`torch.nn.Linear.weight`.
"""

from __future__ import annotations

import numpy as np

from dlref._checks import as_float_array

__all__ = ["linear_forward", "linear_backward"]


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
    y = x @ W.T
    if b is None:
        return y
    b = as_float_array(b, "b")
    if b.shape != (W.shape[0],):
        raise ValueError(f"b must have shape (out_features,) = ({W.shape[0]},) to match W of shape "
                         f"{W.shape}; got {b.shape}. Flatten it with b.reshape(-1), or pass b=None for no "
                         f"bias.")
    return y + b


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
    out_features, in_features = W.shape
    expected = x.shape[:-1] + (out_features,)
    if dy.shape != expected:
        raise ValueError(f"dy must have the shape of the forward output, x.shape[:-1] + (out_features,) = "
                         f"{expected}; got {dy.shape}. Pass the gradient of linear_forward(x, W, b).")
    rows_dy = dy.reshape(-1, out_features)
    rows_x = x.reshape(-1, in_features)
    return dy @ W, rows_dy.T @ rows_x, rows_dy.sum(axis=0)
