r"""Central finite differences: the first rung of the verification ladder.

For a function $y = f(a_1, \dots, a_k)$ and an upstream gradient $dy$ of the shape of $y$, the scalar
$L = \langle dy, f(a_1, \dots, a_k) \rangle$ has $\partial L / \partial a_i$ equal to what a backward pass
returns for input $a_i$. [`numerical_gradients`][dlref.gradcheck.numerical_gradients] estimates it entry by
entry with central differences, with no framework involved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

__all__ = ["numerical_gradients", "relative_error"]


def _as_outputs(value) -> list[np.ndarray]:
    return [np.asarray(v) for v in value] if isinstance(value, tuple) else [np.asarray(value)]


def numerical_gradients(f: Callable, inputs, dy, h: float = 1e-5):
    r"""Estimate $\partial \langle dy, f(\text{inputs}) \rangle / \partial\,\text{input}$ for every input.

    Parameters
    ----------
    f : callable
        Called as `f(*inputs)` for a sequence, or `f(inputs)` for a mapping (a parameter dict). It returns an
        array, or a tuple of arrays when `dy` is a tuple of the same length.
    inputs : sequence of numpy.ndarray, or mapping of str to numpy.ndarray
        The point at which to differentiate. Arrays must be float64; they are perturbed in place and
        restored.
    dy : numpy.ndarray or tuple of numpy.ndarray
        Upstream gradient(s), one per output of `f`, each of that output's shape.
    h : float, default 1e-5
        Step of the central difference $\frac{L(a + h e_j) - L(a - h e_j)}{2h}$, whose truncation error is
        $O(h^2)$; in float64, $h \approx 10^{-5}$ balances it against round-off.

    Returns
    -------
    list of numpy.ndarray or dict of str to numpy.ndarray
        One gradient per input, shaped like it; a dict with the same keys when `inputs` is a mapping.

    Raises
    ------
    TypeError
        If an input is not a float64 array (float32 round-off would swamp the difference).
    ValueError
        If `dy` does not match the outputs of `f` in number or shape.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([1.0, 2.0])
    >>> [g] = numerical_gradients(lambda a: a**3, [x], dy=np.ones(2))
    >>> print(np.round(g, 6))
    [ 3. 12.]
    """
    is_mapping = isinstance(inputs, Mapping)
    arrays = list(inputs.values()) if is_mapping else list(inputs)
    for index, array in enumerate(arrays):
        if not isinstance(array, np.ndarray) or array.dtype != np.float64:
            got = array.dtype if isinstance(array, np.ndarray) else type(array).__name__
            raise TypeError(f"every input must be a float64 numpy array; input {index} is {got}. "
                            f"Finite differences in float32 are dominated by round-off.")
    dys = _as_outputs(dy)

    def loss() -> float:
        outputs = _as_outputs(f(inputs) if is_mapping else f(*inputs))
        if len(outputs) != len(dys):
            raise ValueError(f"f returned {len(outputs)} output(s) but {len(dys)} upstream gradient(s) "
                             f"were given; pass a tuple dy with one array per output.")
        for k, (out, g) in enumerate(zip(outputs, dys)):
            if out.shape != g.shape:
                raise ValueError(f"dy[{k}] must have the shape of output {k}, {out.shape}; got {g.shape}.")
        return float(sum(np.sum(out * g) for out, g in zip(outputs, dys)))

    loss()  # validates shapes once before the many evaluations
    gradients = []
    for array in arrays:
        grad = np.zeros_like(array)
        flat, flat_grad = array.reshape(-1), grad.reshape(-1)
        for j in range(flat.size):
            original = flat[j]
            flat[j] = original + h
            plus = loss()
            flat[j] = original - h
            minus = loss()
            flat[j] = original
            flat_grad[j] = (plus - minus) / (2.0 * h)
        gradients.append(grad)
    return dict(zip(inputs.keys(), gradients)) if is_mapping else gradients


def relative_error(a, b) -> float:
    r"""Relative error $\|a - b\| / \max(\|a\| + \|b\|, 10^{-300})$ between two arrays (Frobenius norms).

    Scale-free, so one threshold (below $10^{-7}$ in float64) works for gradients large and small; it is 0
    when both are exactly zero.

    Examples
    --------
    >>> print(relative_error(np.array([3.0, 4.0]), np.array([3.0, 4.0])))
    0.0
    >>> print(round(relative_error(np.array([1.0, 0.0]), np.array([0.0, 1.0])), 6))
    0.707107
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"relative_error needs arrays of one shape; got {a.shape} and {b.shape}.")
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300))
