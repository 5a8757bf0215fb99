r"""Capsules: the squash non-linearity, routing by agreement, and the margin loss (Sabour et al. 2017).

A capsule is a group of neurons whose output is a vector: its **length**, kept in $[0, 1)$ by
[`squash`][dlref.models.capsule.squash], is the probability that the entity the capsule detects is
present, and its **orientation** encodes the entity's pose (position, size, rotation, ...). Each capsule
$i$ of a layer predicts the output of each capsule $j$ of the next, $\hat u_{j|i} = W_{ij} u_i$, and
[`dynamic_routing`][dlref.models.capsule.dynamic_routing] sends $i$'s output mostly to the parents whose
combined output agrees with its prediction. [`margin_loss`][dlref.models.capsule.margin_loss] trains the
lengths of the class capsules.
"""

from __future__ import annotations

import numpy as np

from dlref._checks import as_float_array, check_axis, check_int, check_real, check_same_shape
from dlref.activations import softmax
from dlref.losses import _at_targets, _class_scores_and_targets

__all__ = ["squash", "squash_backward", "dynamic_routing", "margin_loss", "margin_loss_backward"]


def _squared_norm(s: np.ndarray, axis: int) -> np.ndarray:
    return np.sum(s * s, axis=axis, keepdims=True)


def squash(s, axis=-1):
    r"""Squash a vector's length into $[0, 1)$, keeping its direction: $v = \frac{\|s\|^2}{1 + \|s\|^2}\frac{s}{\|s\|}$.

    Parameters
    ----------
    s : array_like
        Capsule inputs, at least one dimension; each slice along `axis` is one vector.
    axis : int, default -1
        The axis that holds a capsule's components.

    Returns
    -------
    numpy.ndarray
        $v$, same shape and dtype as `s`. Its length is $\|s\|^2 / (1 + \|s\|^2)$: close to 0 for short
        vectors (about $\|s\|^2$), close to 1 for long ones (about $1 - 1/\|s\|^2$); a zero vector stays 0.

    Raises
    ------
    ValueError
        If `s` has no dimension, `axis` is out of range, or a value is NaN or infinite.
    TypeError
        If `s` is not real-valued or `axis` is not an int.

    Notes
    -----
    Computed as $v = g(n)\,s$ with $n = \|s\|$ and $g(n) = n / (1 + n^2)$, which needs no division by
    $n$ and is exact at $s = 0$. Its Jacobian is $\partial v_a/\partial s_b = g\,\delta_{ab} +
    g'(n)\,s_a s_b / n$ with $g'(n) = (1 - n^2)/(1 + n^2)^2$, a symmetric matrix, so the backward pass is

    $$\frac{\partial L}{\partial s} = g(n)\,\frac{\partial L}{\partial v}
      + \frac{1 - n^2}{n\,(1 + n^2)^2}\left\langle s, \frac{\partial L}{\partial v}\right\rangle s;$$

    see [`squash_backward`][dlref.models.capsule.squash_backward]. The second term tends to 0 with $n$
    (it is of order $n$), and is set to 0 at $s = 0$.

    References
    ----------
    Sabour, S., Frosst, N. & Hinton, G. E. (2017). Dynamic routing between capsules. NeurIPS, eq. 1.

    Examples
    --------
    >>> import numpy as np
    >>> v = squash(np.array([[0.0, 0.0], [0.3, 0.4], [3.0, 4.0]]))
    >>> print(np.round(np.linalg.norm(v, axis=-1), 4))  # |s| = 0, 0.5, 5 -> 0, 0.25/1.25, 25/26
    [0.     0.2    0.9615]
    """
    s = as_float_array(s, "s", allow_inf=False)
    axis = check_axis(axis, s.ndim)
    n2 = _squared_norm(s, axis)
    return s * (np.sqrt(n2) / (1.0 + n2))


def squash_backward(dv, s, axis=-1):
    r"""Gradient of [`squash`][dlref.models.capsule.squash] with respect to `s`.

    Parameters
    ----------
    dv : array_like
        Upstream gradient $\partial L/\partial v$, shaped like `s`.
    s : array_like
        The forward input.
    axis : int, default -1
        The axis that holds a capsule's components, as in the forward call.

    Returns
    -------
    numpy.ndarray
        $\partial L/\partial s$, shaped like `s`; the derivation is in
        [`squash`][dlref.models.capsule.squash].

    Examples
    --------
    >>> s = np.array([3.0, 0.0])
    >>> print(squash_backward(np.array([1.0, 0.0]), s))  # along s: d|v|/d|s| = 2|s| / (1 + |s|^2)^2
    [0.06 0.  ]
    >>> print(squash_backward(np.array([0.0, 1.0]), s))  # across s: |v| / |s| = 0.9 / 3
    [0.  0.3]
    """
    s = as_float_array(s, "s", allow_inf=False)
    dv = as_float_array(dv, "dv", allow_inf=False)
    check_same_shape(dv, s, "dv", "s")
    axis = check_axis(axis, s.ndim)
    n2 = _squared_norm(s, axis)
    n = np.sqrt(n2)
    radial = np.divide(1.0 - n2, n * (1.0 + n2) ** 2, out=np.zeros_like(n), where=n > 0)
    return dv * (n / (1.0 + n2)) + s * (radial * np.sum(s * dv, axis=axis, keepdims=True))


def dynamic_routing(u_hat, num_iterations=3):
    r"""Routing by agreement (Sabour et al. 2017, procedure 1): combine predictions into output capsules.

    Starting from logits $b_{ij} = 0$, each iteration computes

    $$c_{ij} = \frac{e^{b_{ij}}}{\sum_k e^{b_{ik}}}, \qquad s_j = \sum_i c_{ij}\,\hat u_{j|i}, \qquad
      v_j = \mathrm{squash}(s_j), \qquad b_{ij} \leftarrow b_{ij} + \hat u_{j|i} \cdot v_j,$$

    so each input capsule $i$ shifts its coupling towards the outputs whose vector agrees with its own
    prediction (large dot product), away from the others.

    Parameters
    ----------
    u_hat : array_like, shape (N, n_in, n_out, d_out)
        Predictions $\hat u_{j|i} = W_{ij} u_i$ of every input capsule $i$ for every output capsule $j$,
        for a batch of $N$ examples.
    num_iterations : int, default 3
        Routing iterations $r \ge 1$ (3 in the paper). With 1, the coupling stays uniform, $c_{ij} = 1/n_{out}$.

    Returns
    -------
    v : numpy.ndarray, shape (N, n_out, d_out)
        Output capsules after the last iteration; each length lies in $[0, 1)$.
    c : numpy.ndarray, shape (N, n_in, n_out)
        Coupling coefficients that produced `v`: non-negative, summing to 1 over the outputs $j$.

    Raises
    ------
    ValueError
        If `u_hat` is not 4-D with non-empty axes, holds NaN or infinite values, or `num_iterations < 1`.
    TypeError
        If `u_hat` is not real-valued or `num_iterations` is not an int.

    Notes
    -----
    The couplings are a softmax over the *outputs* for each input: an input capsule distributes its one
    unit of vote among the parents; they do not sum to 1 over the inputs. The logits accumulate the
    agreements of all iterations, and the update after the last $v$ is not needed (the procedure returns
    $v$). The couplings are computed per example, not learned: only $W_{ij}$ (which makes $\hat u$) is.

    This function has no backward pass: it is here to show the procedure. Training a CapsNet end to end
    back-propagates through the unrolled iterations (softmax, weighted sum, squash, dot products).

    References
    ----------
    Sabour, S., Frosst, N. & Hinton, G. E. (2017). Dynamic routing between capsules. NeurIPS,
    procedure 1 and eqs. 2-3.

    Examples
    --------
    >>> import numpy as np
    >>> u_hat = np.zeros((1, 2, 2, 2))
    >>> u_hat[0, :, 0] = [1.0, 1.0]                # both inputs predict the same vector for output 0
    >>> u_hat[0, :, 1] = [[1.0, -1.0], [-1.0, 1.0]]  # and opposite vectors for output 1
    >>> v, c = dynamic_routing(u_hat)
    >>> print(np.round(c[0], 3))
    [[0.889 0.111]
     [0.889 0.111]]
    >>> print(np.round(np.linalg.norm(v[0], axis=-1), 3))
    [0.863 0.   ]
    """
    u_hat = as_float_array(u_hat, "u_hat", allow_inf=False)
    if u_hat.ndim != 4 or 0 in u_hat.shape:
        raise ValueError(f"u_hat must have shape (N, n_in, n_out, d_out) with no empty axis: the prediction "
                         f"of every input capsule for every output capsule, for a batch of N examples; got "
                         f"shape {u_hat.shape}. For a single example use u_hat[None].")
    num_iterations = check_int(num_iterations, "num_iterations", low=1)
    b = np.zeros(u_hat.shape[:3], dtype=u_hat.dtype)
    for iteration in range(num_iterations):
        c = softmax(b, axis=2)
        v = squash(np.einsum("nij,nijd->njd", c, u_hat))
        if iteration < num_iterations - 1:
            b = b + np.einsum("nijd,njd->nij", u_hat, v)
    return v, c


def _margin_terms(v, targets, m_plus, m_minus, lam):
    """Validated inputs, and per (example, class): lengths, one-hot targets, and the two hinge terms."""
    v = as_float_array(v, "v", allow_inf=False)
    if v.ndim != 3:
        raise ValueError(f"v must have shape (N, K, D): one D-dimensional capsule per class K for each of "
                         f"N examples; got shape {v.shape}. For a single example use v[None].")
    lengths, targets = _class_scores_and_targets(np.sqrt(np.sum(v * v, axis=2)), targets, "capsule lengths")
    m_plus = check_real(m_plus, "m_plus", low=0.0)
    m_minus = check_real(m_minus, "m_minus", low=0.0)
    lam = check_real(lam, "lam", low=0.0)
    present = _at_targets(targets, lengths.shape[1], 1.0, v.dtype)
    too_short = np.maximum(0.0, m_plus - lengths)
    too_long = np.maximum(0.0, lengths - m_minus)
    return v, lengths, present, too_short, too_long, lam


def margin_loss(v, targets, m_plus=0.9, m_minus=0.1, lam=0.5):
    r"""Margin loss on the lengths of class capsules (Sabour et al. 2017, eq. 4).

    $$L_k = T_k \max(0, m^+ - \|v_k\|)^2 + \lambda (1 - T_k) \max(0, \|v_k\| - m^-)^2,$$

    summed over the classes $k$ and averaged over the batch. $T_k = 1$ for the target class: its capsule
    is pushed to be longer than $m^+$; every other capsule to be shorter than $m^-$, with weight $\lambda$.

    Parameters
    ----------
    v : array_like, shape (N, K, D)
        One output capsule per class, for each of $N$ examples.
    targets : array_like of int, shape (N,)
        The class index of each example, in $[0, K)$.
    m_plus, m_minus : float, default 0.9 and 0.1
        The margins $m^+$ and $m^-$, non-negative.
    lam : float, default 0.5
        $\lambda \ge 0$, the down-weighting of absent classes, which keeps the start of training from
        shrinking every capsule.

    Returns
    -------
    numpy.float32 or numpy.float64
        The loss, in `v`'s dtype.

    Raises
    ------
    ValueError
        If a shape is wrong, a target is out of range, a value is NaN or infinite, or a margin or $\lambda$
        is negative.
    TypeError
        If `v` is not real-valued or the targets are not integers.

    Notes
    -----
    Each class has its own term, so several classes can be present at once (the paper's overlapping
    digits), unlike a softmax. With $\ell = \|v_k\|$,

    $$\frac{\partial L}{\partial \ell} = \frac{1}{N}\left(-2T_k \max(0, m^+ - \ell)
      + 2\lambda(1 - T_k)\max(0, \ell - m^-)\right), \qquad
      \frac{\partial L}{\partial v_k} = \frac{\partial L}{\partial \ell}\,\frac{v_k}{\ell};$$

    see [`margin_loss_backward`][dlref.models.capsule.margin_loss_backward]. At $v_k = 0$ the length has
    no derivative and the gradient is taken as 0, as `torch.linalg.vector_norm` does.

    References
    ----------
    Sabour, S., Frosst, N. & Hinton, G. E. (2017). Dynamic routing between capsules. NeurIPS, eq. 4.

    Examples
    --------
    >>> import numpy as np
    >>> v = np.array([[[0.95, 0.0], [0.0, 0.05]],   # target 0 long, other short: no loss
    ...               [[0.6, 0.0], [0.0, 0.5]]])    # target 0 too short by 0.3, other too long by 0.4
    >>> print(round(float(margin_loss(v, np.array([0, 0]))), 12))  # (0 + 0.3**2 + 0.5 * 0.4**2) / 2
    0.085
    """
    v, _, present, too_short, too_long, lam = _margin_terms(v, targets, m_plus, m_minus, lam)
    per_class = present * too_short**2 + lam * (1.0 - present) * too_long**2
    return v.dtype.type(np.sum(per_class) / v.shape[0])


def margin_loss_backward(v, targets, m_plus=0.9, m_minus=0.1, lam=0.5):
    r"""Gradient of [`margin_loss`][dlref.models.capsule.margin_loss] with respect to `v`, shaped like `v`.

    Examples
    --------
    >>> v = np.array([[[0.6, 0.0], [0.0, 0.5]]])
    >>> print(margin_loss_backward(v, np.array([0])))  # -2(0.9 - 0.6) along v_0, 0.5 * 2(0.5 - 0.1) along v_1
    [[[-0.6  0. ]
      [ 0.   0.4]]]
    """
    v, lengths, present, too_short, too_long, lam = _margin_terms(v, targets, m_plus, m_minus, lam)
    dlength = (-2.0 * present * too_short + 2.0 * lam * (1.0 - present) * too_long) / v.shape[0]
    direction = np.divide(v, lengths[..., None], out=np.zeros_like(v), where=lengths[..., None] > 0)
    return dlength[..., None] * direction
