r"""Scaled dot-product attention, forward and backward, as `torch.nn.functional.scaled_dot_product_attention`.

Queries `q` `(..., L, E)` attend over keys `k` `(..., S, E)` and values `v` `(..., S, E_v)`: every query
gets a weighted average of the values, weighted by a softmax of its scaled dot products with the keys.
Leading (batch, head) dimensions broadcast as in torch. Without dropout (torch's `dropout_p=0`, which is
what evaluation uses).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dlref._checks import as_float_array, check_bool, check_real
from dlref.activations import softmax

__all__ = ["AttentionCache", "scaled_dot_product_attention", "scaled_dot_product_attention_backward"]


@dataclass(frozen=True)
class AttentionCache:
    """What [`scaled_dot_product_attention_backward`][dlref.attention.scaled_dot_product_attention_backward]
    needs: the inputs, the scale, and the attention weights `weights` $P$ of shape `(..., L, S)` (each row
    sums to one, or is all zero for a query that may attend to no key)."""

    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    scale: float
    weights: np.ndarray


def _check_inputs(q, k, v) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, ...]]:
    q, k, v = (as_float_array(a, name, allow_inf=False) for a, name in ((q, "q"), (k, "k"), (v, "v")))
    for a, name, layout in ((q, "q", "(..., L, E)"), (k, "k", "(..., S, E)"), (v, "v", "(..., S, E_v)")):
        if a.ndim < 2 or 0 in a.shape[-2:]:
            raise ValueError(f"{name} must have at least 2 dimensions, {layout}, with non-empty last two; got "
                             f"shape {a.shape}. For a single vector use {name}[None, :].")
    if k.shape[-1] != q.shape[-1]:
        raise ValueError(f"k must have the embedding size E = {q.shape[-1]} of q in its last dimension; got "
                         f"q {q.shape} and k {k.shape}. Queries and keys are compared by dot products.")
    if v.shape[-2] != k.shape[-2]:
        raise ValueError(f"v must have one row per key, S = {k.shape[-2]}, in its second-to-last dimension; "
                         f"got k {k.shape} and v {v.shape}.")
    try:
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(f"the leading (batch) dimensions of q {q.shape[:-2]}, k {k.shape[:-2]} and v "
                         f"{v.shape[:-2]} must broadcast against each other; they do not.") from None
    return q, k, v, batch


def _bias_from_mask(mask, shape: tuple[int, ...], dtype) -> np.ndarray | None:
    """The additive bias of torch: 0 / -inf from a boolean mask, or a float mask as given."""
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.dtype == np.bool_:
        bias = np.where(mask, 0.0, -np.inf).astype(dtype)
    elif mask.dtype.kind == "f":
        bias = as_float_array(mask, "mask").astype(dtype, copy=False)  # -inf entries mask like False
    else:
        raise TypeError(f"mask must be boolean (True where a query may attend to a key) or float (added to the "
                        f"scores); got dtype {mask.dtype}. For a 0/1 mask pass mask.astype(bool), as torch "
                        f"also requires.")
    try:
        np.broadcast_shapes(bias.shape, shape)
    except ValueError:
        raise ValueError(f"mask must broadcast to the shape of the attention scores (..., L, S) = {shape}; "
                         f"got {mask.shape}. A mask of shape (L, S) applies to every batch entry.") from None
    if np.broadcast_shapes(bias.shape, shape) != shape:
        raise ValueError(f"mask of shape {mask.shape} would enlarge the attention scores (..., L, S) = {shape} "
                         f"by broadcasting; give it at most their dimensions.")
    return bias


def _sum_to_shape(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Undo broadcasting: sum `grad` over the leading dimensions that an input of `shape` was broadcast along."""
    extra = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(extra))) if extra else grad
    stretched = tuple(axis for axis, size in enumerate(shape) if size == 1 and grad.shape[axis] != 1)
    return grad.sum(axis=stretched, keepdims=True) if stretched else grad


def scaled_dot_product_attention(q, k, v, mask=None, *, is_causal=False, scale=None):
    r"""Attention $\mathrm{softmax}(q k^\top s + B)\, v$, as `torch.nn.functional.scaled_dot_product_attention`.

    Parameters
    ----------
    q : array_like, shape (..., L, E)
        Queries.
    k : array_like, shape (..., S, E)
        Keys.
    v : array_like, shape (..., S, E_v)
        Values.
    mask : array_like, broadcastable to (..., L, S), optional
        torch's `attn_mask`. Boolean: `True` marks the keys a query may attend to (the opposite of
        `torch.nn.MultiheadAttention`'s `key_padding_mask`); `False` entries get bias $-\infty$. Float:
        added to the scores as the bias $B$ (use `-np.inf` to mask).
    is_causal : bool, default False
        Let query $l$ attend only to keys $s \le l$ (the lower-left triangle, as torch's `is_causal`); not
        together with `mask`.
    scale : float, optional
        $s$; by default $1/\sqrt{E}$.

    Returns
    -------
    out : numpy.ndarray, shape (broadcast ..., L, E_v)
    cache : AttentionCache
        Holds the attention weights `cache.weights` $P$ `(..., L, S)`.

    Raises
    ------
    ValueError
        If the shapes do not fit or do not broadcast, an input holds NaN or inf, or both `mask` and
        `is_causal` are given.
    TypeError
        If an input is not real-valued, `mask` is neither boolean nor float, or `is_causal` is not a bool.

    Notes
    -----
    Why $1/\sqrt{E}$: if the entries of a query and a key are independent with mean 0 and variance 1, their
    dot product has variance $E$; dividing by $\sqrt{E}$ keeps the scores of order one, so the softmax
    does not saturate into a one-hot whose gradient vanishes.

    A query whose every key is masked would divide 0 by 0; like torch (2.5 and later), its output row and
    its gradients are zero instead of NaN.

    Backward (see [`scaled_dot_product_attention_backward`]
    [dlref.attention.scaled_dot_product_attention_backward]): with $Z = q k^\top s + B$, $P = \mathrm{softmax}(Z)$
    by rows and $O = P v$,

    $$\frac{\partial L}{\partial v} = P^\top \frac{\partial L}{\partial O}, \qquad
      \frac{\partial L}{\partial P} = \frac{\partial L}{\partial O} v^\top, \qquad
      \frac{\partial L}{\partial Z} = P \odot \Big(\frac{\partial L}{\partial P}
        - \operatorname{rowsum}\big(\tfrac{\partial L}{\partial P} \odot P\big)\Big),$$

    $$\frac{\partial L}{\partial q} = s\,\frac{\partial L}{\partial Z}\,k, \qquad
      \frac{\partial L}{\partial k} = s\,\Big(\frac{\partial L}{\partial Z}\Big)^\top q,$$

    each summed over the dimensions along which its input was broadcast. The cost is $O(L S E)$ time and
    $O(L S)$ memory for $P$: quadratic in the sequence length for self-attention ($L = S$).

    References
    ----------
    Vaswani, A. et al. (2017). Attention is all you need. NeurIPS. arXiv:1706.03762.

    Examples
    --------
    >>> q = np.array([[1.0, 0.0]])
    >>> k = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> v = np.array([[10.0], [20.0]])
    >>> out, cache = scaled_dot_product_attention(q, k, v)
    >>> print(np.round(cache.weights, 4), np.round(out, 4))
    [[0.6698 0.3302]] [[13.3024]]
    >>> out, _ = scaled_dot_product_attention(q, k, v, mask=np.array([[False, True]]))
    >>> print(out)
    [[20.]]
    """
    q, k, v, batch = _check_inputs(q, k, v)
    is_causal = check_bool(is_causal, "is_causal")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else check_real(scale, "scale")
    scores = (q @ np.swapaxes(k, -1, -2)) * scale
    L, S = q.shape[-2], k.shape[-2]
    if is_causal:
        if mask is not None:
            raise ValueError("pass either mask or is_causal=True, not both (torch refuses the combination); "
                             "for a causal mask with more entries masked, combine them into one boolean mask "
                             "with np.tril(np.ones((L, S), bool)) & mask.")
        mask = np.tril(np.ones((L, S), dtype=bool))
    bias = _bias_from_mask(mask, scores.shape, scores.dtype)
    if bias is not None:
        scores = scores + bias
    if bias is None:
        weights = softmax(scores, axis=-1)
    else:
        # A query with no finite score would give 0/0: its row of weights is set to zero instead.
        attends = np.isfinite(scores).any(axis=-1, keepdims=True)
        weights = np.where(attends, softmax(np.where(attends, scores, 0.0), axis=-1), 0.0)
    out = weights @ v
    return out, AttentionCache(q, k, v, scale, weights)


def scaled_dot_product_attention_backward(dout, cache):
    r"""Gradients of [`scaled_dot_product_attention`][dlref.attention.scaled_dot_product_attention].

    Parameters
    ----------
    dout : array_like, shape of the forward output (..., L, E_v)
        $\partial L/\partial O$.
    cache : AttentionCache
        From the forward pass.

    Returns
    -------
    dq, dk, dv : numpy.ndarray
        Shaped like `q`, `k` and `v`. The mask gets no gradient (torch gives a float mask one).

    Raises
    ------
    ValueError
        If `dout` does not have the output's shape or holds NaN or inf.

    Notes
    -----
    The derivation is in [`scaled_dot_product_attention`][dlref.attention.scaled_dot_product_attention]; the
    softmax Jacobian is applied to the cached $P$, never to recomputed scores.

    Examples
    --------
    >>> q, k, v = np.ones((1, 2)), np.eye(2), np.array([[1.0], [3.0]])
    >>> out, cache = scaled_dot_product_attention(q, k, v)
    >>> dq, dk, dv = scaled_dot_product_attention_backward(np.ones_like(out), cache)
    >>> print(np.round(dq, 4), dv.ravel())
    [[-0.3536  0.3536]] [0.5 0.5]
    """
    P = cache.weights
    dout = as_float_array(dout, "dout", allow_inf=False)
    expected = P.shape[:-1] + cache.v.shape[-1:]
    if dout.shape != expected:
        raise ValueError(f"dout must have the shape of the forward output (..., L, E_v) = {expected}; got "
                         f"{dout.shape}. Pass the gradient of the loss with respect to the attention output.")
    dv = np.swapaxes(P, -1, -2) @ dout
    dP = dout @ np.swapaxes(cache.v, -1, -2)
    dZ = P * (dP - np.sum(dP * P, axis=-1, keepdims=True))
    dq = (dZ @ cache.k) * cache.scale
    dk = (np.swapaxes(dZ, -1, -2) @ cache.q) * cache.scale
    return (_sum_to_shape(dq, cache.q.shape), _sum_to_shape(dk, cache.k.shape),
            _sum_to_shape(dv, cache.v.shape))
