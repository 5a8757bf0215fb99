r"""Recurrent layers: the vanilla (Elman) RNN, the LSTM and the GRU, forward and backward over a sequence.

Each layer is a pair of pure functions with the layout of `torch.nn.RNN`, `torch.nn.LSTM` and
`torch.nn.GRU` (one layer, one direction, `batch_first=False`):

- sequences are `(T, N, D)`: time first, then the batch, then the features;
- states are `(N, H)` (torch's `h_0`, `h_n` and `c_n` add a leading `num_layers` axis: pass `h_0[0]`);
- parameters are a dict with torch's names and shapes, `W_ih` `(G H, D)`, `W_hh` `(G H, H)`, `b_ih` and
  `b_hh` `(G H,)`, where $G$ is the number of gate blocks stacked in torch's order: $G = 1$ for the RNN,
  $4$ for the LSTM (i, f, g, o) and $3$ for the GRU (r, z, n). A torch module's `weight_ih_l0`,
  `weight_hh_l0`, `bias_ih_l0` and `bias_hh_l0` copy straight in (zeros for a module built with
  `bias=False`).

The forward pass returns every hidden state `h` `(T, N, H)`, the final state(s) and a frozen cache; the
backward pass takes the gradient of the loss with respect to `h` and, separately, with respect to the
final state(s) (a loss may use both, as `output` and `h_n` in torch), and returns the gradients of the
input, of the initial state(s) and of every parameter. The keyword `window` of each backward pass gives
truncated backpropagation through time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dlref._checks import as_float_array, check_choice, check_int, check_rng
from dlref.init import uniform
from dlref.layers import linear_backward, linear_forward

__all__ = [
    "GATES", "init_params",
    "RNNCache", "rnn_forward", "rnn_backward",
    "LSTMCache", "lstm_forward", "lstm_backward",
    "GRUCache", "gru_forward", "gru_backward",
]

GATES = {"rnn": 1, "lstm": 4, "gru": 3}
"""Number of stacked gate blocks $G$ per cell: `W_ih` has $G H$ rows."""

_PARAM_NAMES = ("W_ih", "W_hh", "b_ih", "b_hh")
_GATE_ORDER = {"rnn": "", "lstm": " in torch's gate order i, f, g, o", "gru": " in torch's gate order r, z, n"}
_NONLINEARITIES = ("tanh", "relu")


# --------------------------------------------------------------------------------------------------------
# Parameters and validation
# --------------------------------------------------------------------------------------------------------

def init_params(cell, input_size, hidden_size, *, rng, dtype=np.float64):
    r"""Parameters of a recurrent layer, drawn as torch draws them: each entry from $\mathcal{U}(-k, k)$.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
        The layer.
    input_size : int
        $D$, features per time step.
    hidden_size : int
        $H$, the size of the hidden state.
    rng : numpy.random.Generator
        The source of randomness.
    dtype : {numpy.float64, numpy.float32}, default numpy.float64

    Returns
    -------
    dict of str to numpy.ndarray
        `W_ih` `(G H, D)`, `W_hh` `(G H, H)`, `b_ih` and `b_hh` `(G H,)` with $G$ = `GATES[cell]`.

    Notes
    -----
    $k = 1/\sqrt{H}$ for every weight and bias: the default of `torch.nn.RNN`, `LSTM` and `GRU` (their
    `reset_parameters`). The numbers differ from torch's (another random stream); the distribution is the
    same. The layer has $G(HD + H^2 + 2H)$ parameters: torch keeps two bias vectors where the papers have
    one.

    Examples
    --------
    >>> params = init_params("lstm", 3, 5, rng=np.random.default_rng(0))
    >>> print({name: p.shape for name, p in params.items()})
    {'W_ih': (20, 3), 'W_hh': (20, 5), 'b_ih': (20,), 'b_hh': (20,)}
    """
    cell = check_choice(cell, "cell", tuple(GATES))
    input_size = check_int(input_size, "input_size", low=1)
    hidden_size = check_int(hidden_size, "hidden_size", low=1)
    rng = check_rng(rng)
    rows, k = GATES[cell] * hidden_size, 1.0 / math.sqrt(hidden_size)
    shapes = {"W_ih": (rows, input_size), "W_hh": (rows, hidden_size), "b_ih": (rows,), "b_hh": (rows,)}
    return {name: uniform(shape, rng=rng, a=-k, b=k, dtype=dtype) for name, shape in shapes.items()}


def _check_params(params, cell: str, input_size: int) -> tuple[dict, int]:
    """Validate a parameter dict for `cell`; return it as float arrays and the hidden size H."""
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict with keys {list(_PARAM_NAMES)}; got {type(params).__name__}. "
                        f"Build one with init_params({cell!r}, input_size, hidden_size, rng=rng).")
    missing = [name for name in _PARAM_NAMES if name not in params]
    unexpected = [name for name in params if name not in _PARAM_NAMES]
    if missing or unexpected:
        raise ValueError(f"params must have exactly the keys {list(_PARAM_NAMES)}; missing {missing}, "
                         f"unexpected {unexpected}. From a torch module, copy weight_ih_l0 as W_ih, "
                         f"weight_hh_l0 as W_hh, bias_ih_l0 as b_ih and bias_hh_l0 as b_hh (zeros if it "
                         f"has no bias).")
    params = {name: as_float_array(params[name], f"params[{name!r}]", allow_inf=False) for name in _PARAM_NAMES}
    gates, W_hh = GATES[cell], params["W_hh"]
    if W_hh.ndim != 2 or W_hh.shape[0] != gates * W_hh.shape[1]:
        raise ValueError(f"params['W_hh'] of a {cell} layer must have shape ({gates} * H, H), {gates} "
                         f"block(s) of H rows{_GATE_ORDER[cell]}; got {W_hh.shape}. Check that the "
                         f"parameters belong to a {cell} layer.")
    hidden = W_hh.shape[1]
    expected = {"W_ih": (gates * hidden, input_size), "b_ih": (gates * hidden,), "b_hh": (gates * hidden,)}
    for name, shape in expected.items():
        if params[name].shape != shape:
            raise ValueError(f"params[{name!r}] must have shape {shape} for a {cell} layer with input size "
                             f"D = {input_size} (from x) and hidden size H = {hidden} (from W_hh); got "
                             f"{params[name].shape}.")
    return params, hidden


def _check_sequence(x) -> np.ndarray:
    x = as_float_array(x, "x", allow_inf=False)
    if x.ndim != 3 or 0 in x.shape:
        raise ValueError(f"x must be a non-empty 3-D array of shape (T, N, D): time steps, batch, features "
                         f"(torch's layout with batch_first=False); got shape {x.shape}. For a single "
                         f"sequence of shape (T, D) pass x[:, None, :]; for batch-first data (N, T, D) pass "
                         f"x.transpose(1, 0, 2).")
    return x


def _check_state(state, name: str, batch: int, hidden: int, dtype) -> np.ndarray:
    if state is None:
        return np.zeros((batch, hidden), dtype=dtype)
    state = as_float_array(state, name, allow_inf=False)
    if state.shape != (batch, hidden):
        raise ValueError(f"{name} must have shape (N, H) = ({batch}, {hidden}), one state per sequence of the "
                         f"batch; got {state.shape}. torch's initial states have shape (num_layers, N, H): "
                         f"pass {name}[0]; or pass None for zeros.")
    return state


def _forward_inputs(x, states: dict, params, cell: str):
    x = _check_sequence(x)
    params, hidden = _check_params(params, cell, x.shape[2])
    dtype = np.result_type(x, *params.values())
    states = [_check_state(s, name, x.shape[1], hidden, dtype) for name, s in states.items()]
    return x, states, params, hidden


def _check_window(window, T: int) -> int:
    """The truncation window in steps; `None` means full backpropagation (a window of T steps)."""
    return T if window is None else check_int(window, "window", low=1)


def _upstream(grad, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """An upstream gradient of the given shape, or zeros for `None` (no loss term on that output)."""
    if grad is None:
        return np.zeros(shape, dtype=dtype)
    grad = as_float_array(grad, name, allow_inf=False)
    if grad.shape != shape:
        what = "every hidden state h, (T, N, H)" if name == "dh" else "the final state, (N, H)"
        raise ValueError(f"{name} must have the shape of {what} = {shape}; got {grad.shape}. Pass the "
                         f"gradient of the loss with respect to that output, or None if the loss does not "
                         f"use it.")
    return grad


def _sigmoid_in_place(a: np.ndarray) -> None:
    r"""Overwrite `a` with $\sigma(a) = 1/(1 + e^{-a})$, torch's formula, without temporaries.

    The same function as [`dlref.activations.sigmoid`][dlref.activations.sigmoid]; that one builds several
    temporaries to avoid overflow, which the recurrent loops, called once per step, cannot afford. Here
    $e^{-a}$ overflows to inf only for $a < -709$ (float64), where $1/(1 + \infty) = 0$ is the right value;
    the callers silence that warning with `np.errstate(over="ignore")`.
    """
    np.negative(a, out=a)
    np.exp(a, out=a)
    a += 1.0
    np.reciprocal(a, out=a)


def _input_projection(x: np.ndarray, W_ih: np.ndarray, b: np.ndarray) -> np.ndarray:
    r"""$x_t W_{ih}^\top + b$ for every step at once, as one `(T N, D) x (D, G H)` matrix product."""
    T, N, D = x.shape
    return linear_forward(x.reshape(T * N, D), W_ih, b).reshape(T, N, -1)


def _parameter_grads(da_ih, da_hh, x, h0, h, W_ih):
    r"""dx and the four parameter gradients from the pre-activation gradients of both matrix products.

    `da_ih` is the gradient of $x_t W_{ih}^\top + b_{ih}$ and `da_hh` that of $h_{t-1} W_{hh}^\top + b_{hh}$,
    both `(T, N, G H)`; they are equal except in the GRU's candidate block. Every sum over steps is one
    matrix product over the `T N` rows; step 0 pairs with $h_{-1}$ = `h0`, step $t$ with `h[t - 1]`.
    """
    T, N, D = x.shape
    G_H, H = da_hh.shape[2], h.shape[2]
    dx, dW_ih, db_ih = linear_backward(da_ih.reshape(T * N, G_H), x.reshape(T * N, D), W_ih)
    later = da_hh[1:].reshape((T - 1) * N, G_H)
    dW_hh = da_hh[0].T @ h0 + later.T @ h[:-1].reshape((T - 1) * N, H)
    grads = {"W_ih": dW_ih, "W_hh": dW_hh, "b_ih": db_ih, "b_hh": da_hh.reshape(T * N, G_H).sum(axis=0)}
    return dx.reshape(T, N, D), grads


def _cut(window: int, t: int) -> bool:
    """True where truncated BPTT stops the gradient: between step t - 1 and the first step t of a window."""
    return t > 0 and t % window == 0


# --------------------------------------------------------------------------------------------------------
# Vanilla RNN
# --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RNNCache:
    """What [`rnn_backward`][dlref.rnn.rnn_backward] needs: the input, the states and the weights."""

    x: np.ndarray
    h0: np.ndarray
    h: np.ndarray
    W_ih: np.ndarray
    W_hh: np.ndarray
    nonlinearity: str


def rnn_forward(x, h0, params, nonlinearity="tanh"):
    r"""Elman RNN over a sequence, as `torch.nn.RNN`: $h_t = f(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})$.

    Parameters
    ----------
    x : array_like, shape (T, N, D)
        Input sequence: T time steps of a batch of N sequences with D features (batch second).
    h0 : array_like, shape (N, H), or None
        Initial state $h_{-1}$; `None` means zeros, as in torch.
    params : dict
        `W_ih` `(H, D)`, `W_hh` `(H, H)`, `b_ih` and `b_hh` `(H,)`, torch's `weight_ih_l0`,
        `weight_hh_l0`, `bias_ih_l0` and `bias_hh_l0`.
    nonlinearity : {"tanh", "relu"}, default "tanh"
        $f$, as torch's `nonlinearity`.

    Returns
    -------
    h : numpy.ndarray, shape (T, N, H)
        Every hidden state $h_0, \dots, h_{T-1}$ (torch's `output`).
    h_T : numpy.ndarray, shape (N, H)
        The final state $h_{T-1}$ (torch's `h_n[0]`); a copy, equal to `h[-1]`.
    cache : RNNCache
        For [`rnn_backward`][dlref.rnn.rnn_backward].

    Raises
    ------
    ValueError
        If a shape does not fit, a key is missing, or an input holds NaN or inf.
    TypeError
        If `params` is not a dict or an input is not real-valued.

    Notes
    -----
    The same weights act at every step: the network unrolled over T steps is a T-layer network whose
    layers share $W_{ih}$, $W_{hh}$ and the biases. The input products $W_{ih} x_t$ of all steps are one
    matrix product, computed before the loop; only $W_{hh} h_{t-1}$ must wait for the previous step.

    Backward (see [`rnn_backward`][dlref.rnn.rnn_backward]): with $a_t$ the pre-activation and
    $\delta_t = \partial L/\partial h_t$ the total gradient reaching $h_t$ (from the loss directly and from
    step $t + 1$),

    $$\frac{\partial L}{\partial a_t} = \delta_t \odot f'(a_t), \qquad
      \delta_{t-1} = \frac{\partial L}{\partial h_{t-1}}\Big|_\text{direct} + \frac{\partial L}{\partial a_t} W_{hh},$$

    and every shared parameter's gradient is the sum over steps, $\partial L/\partial W_{hh} =
    \sum_t (\partial L/\partial a_t)^\top h_{t-1}$. $f'$ is read from the output: $1 - h_t^2$ for tanh,
    $[h_t > 0]$ for ReLU (torch's convention at 0).

    References
    ----------
    Elman, J. L. (1990). Finding structure in time. *Cognitive Science*, 14(2).

    Examples
    --------
    >>> params = init_params("rnn", 2, 3, rng=np.random.default_rng(0))
    >>> h, h_T, cache = rnn_forward(np.ones((4, 1, 2)), None, params)
    >>> print(h.shape, h_T.shape, np.array_equal(h[-1], h_T))
    (4, 1, 3) (1, 3) True
    """
    nonlinearity = check_choice(nonlinearity, "nonlinearity", _NONLINEARITIES)
    x, (h0,), params, hidden = _forward_inputs(x, {"h0": h0}, params, "rnn")
    x_proj = _input_projection(x, params["W_ih"], params["b_ih"] + params["b_hh"])
    W_hh_T = params["W_hh"].T
    h = np.empty(x.shape[:2] + (hidden,), dtype=x_proj.dtype)
    h_prev = h0
    for t in range(x.shape[0]):
        a = h[t]  # the pre-activation, then overwritten by the state
        np.matmul(h_prev, W_hh_T, out=a)
        a += x_proj[t]
        if nonlinearity == "tanh":
            np.tanh(a, out=a)
        else:
            np.maximum(a, 0.0, out=a)
        h_prev = a
    return h, h[-1].copy(), RNNCache(x, h0, h, params["W_ih"], params["W_hh"], nonlinearity)


def rnn_backward(dh, cache, dh_T=None, *, window=None):
    r"""Backpropagation through time for [`rnn_forward`][dlref.rnn.rnn_forward].

    Parameters
    ----------
    dh : array_like, shape (T, N, H), or None
        $\partial L/\partial h_t$ for every step (the gradient of torch's `output`); `None` for zeros.
    cache : RNNCache
        From the forward pass.
    dh_T : array_like, shape (N, H), optional
        $\partial L/\partial h_T$ of the final state returned separately (torch's `h_n`); it adds to
        `dh[-1]`.
    window : int, optional
        Truncated BPTT: the gradient stops between step $kw - 1$ and step $kw$ for every $k \ge 1$, as when
        the sequence is fed in chunks of `window` steps with the state carried over but detached
        (`h.detach()` in torch), the chunks' gradients summed. `None` (or any window of at least T steps)
        is full backpropagation.

    Returns
    -------
    dx : numpy.ndarray, shape (T, N, D)
    dh0 : numpy.ndarray, shape (N, H)
        Gradient of the initial state.
    grads : dict of str to numpy.ndarray
        Same keys and shapes as the parameters.

    Raises
    ------
    ValueError
        If a gradient has the wrong shape or holds NaN or inf, or `window < 1`.
    TypeError
        If `window` is not an int.

    Notes
    -----
    The derivation is in [`rnn_forward`][dlref.rnn.rnn_forward]. Unrolling $\delta$ from step $T$ back to
    step $t$ multiplies it by $\prod_{s} \operatorname{diag}(f'(a_s))\,W_{hh}$: when the spectral radius
    of $W_{hh}$ is below one (and $|f'| \le 1$) the gradient shrinks geometrically with the distance; above
    one it can grow geometrically (Pascanu et al. 2013).

    References
    ----------
    Werbos, P. J. (1990). Backpropagation through time: what it does and how to do it. *Proc. IEEE*, 78(10).
    Williams, R. J. & Peng, J. (1990). An efficient gradient-based algorithm for on-line training of
    recurrent network trajectories. *Neural Computation*, 2(4).

    Examples
    --------
    >>> params = init_params("rnn", 2, 3, rng=np.random.default_rng(0))
    >>> h, h_T, cache = rnn_forward(np.ones((4, 1, 2)), None, params)
    >>> dx, dh0, grads = rnn_backward(None, cache, dh_T=np.ones((1, 3)))
    >>> print(dx.shape, dh0.shape, sorted(grads))
    (4, 1, 2) (1, 3) ['W_hh', 'W_ih', 'b_hh', 'b_ih']
    """
    h, W_hh = cache.h, cache.W_hh
    T = h.shape[0]
    dh = _upstream(dh, "dh", h.shape, h.dtype)
    delta = _upstream(dh_T, "dh_T", h.shape[1:], h.dtype).copy()
    window = _check_window(window, T)
    # da holds f'(a_t) first, read from the outputs; the loop multiplies in the gradient step by step.
    if cache.nonlinearity == "tanh":
        da = np.square(h)
        np.subtract(1.0, da, out=da)
    else:
        da = (h > 0).astype(h.dtype)
    for t in range(T - 1, -1, -1):
        delta += dh[t]
        da[t] *= delta
        delta = np.zeros_like(delta) if _cut(window, t) else da[t] @ W_hh
    dx, grads = _parameter_grads(da, da, cache.x, cache.h0, h, cache.W_ih)
    return dx, delta, grads


# --------------------------------------------------------------------------------------------------------
# LSTM
# --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LSTMCache:
    r"""What [`lstm_backward`][dlref.rnn.lstm_backward] needs: the gates after their activations, the cell
    states $c_t$ and $\tanh c_t$, the hidden states, the input and the weights. Every array is
    `(T, N, H)` except `x`, `h0`, `c0` and the weights."""

    x: np.ndarray
    h0: np.ndarray
    c0: np.ndarray
    i: np.ndarray
    f: np.ndarray
    g: np.ndarray
    o: np.ndarray
    c: np.ndarray
    tanh_c: np.ndarray
    h: np.ndarray
    W_ih: np.ndarray
    W_hh: np.ndarray


def lstm_forward(x, h0, c0, params):
    r"""Long short-term memory over a sequence, as `torch.nn.LSTM` (gates in torch's order i, f, g, o).

    With $a_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}$ split into four blocks of $H$ rows,

    $$i_t = \sigma(a^i_t), \quad f_t = \sigma(a^f_t), \quad g_t = \tanh(a^g_t), \quad o_t = \sigma(a^o_t),$$

    $$c_t = f_t \odot c_{t-1} + i_t \odot g_t, \qquad h_t = o_t \odot \tanh(c_t).$$

    Parameters
    ----------
    x : array_like, shape (T, N, D)
        Input sequence, time first.
    h0, c0 : array_like, shape (N, H), or None
        Initial hidden and cell states; `None` means zeros.
    params : dict
        `W_ih` `(4H, D)`, `W_hh` `(4H, H)`, `b_ih` and `b_hh` `(4H,)`, rows in the order i, f, g, o.

    Returns
    -------
    h : numpy.ndarray, shape (T, N, H)
        Every hidden state (torch's `output`).
    (h_T, c_T) : tuple of numpy.ndarray, each (N, H)
        The final hidden and cell states (torch's `(h_n[0], c_n[0])`).
    cache : LSTMCache
        For [`lstm_backward`][dlref.rnn.lstm_backward].

    Raises
    ------
    ValueError
        If a shape does not fit, a key is missing, or an input holds NaN or inf.
    TypeError
        If `params` is not a dict or an input is not real-valued.

    Notes
    -----
    The cell state is the memory: it is updated by a gated *sum*, not by a matrix product and a squashing
    function, so $\partial c_t / \partial c_{t-1}$ contains the term $\operatorname{diag}(f_t)$, and a
    gradient travels back along the cells multiplied only by the forget gates. With $\delta^h_t$ and
    $\delta^c_t$ the total gradients reaching $h_t$ and $c_t$:

    $$\delta^c_t \mathrel{+}= \delta^h_t \odot o_t \odot (1 - \tanh^2 c_t), \qquad
      \frac{\partial L}{\partial o_t} = \delta^h_t \odot \tanh c_t,$$

    $$\frac{\partial L}{\partial i_t} = \delta^c_t \odot g_t, \quad
      \frac{\partial L}{\partial g_t} = \delta^c_t \odot i_t, \quad
      \frac{\partial L}{\partial f_t} = \delta^c_t \odot c_{t-1}, \quad
      \delta^c_{t-1} = \delta^c_t \odot f_t,$$

    then through the activations ($\sigma' = \sigma(1-\sigma)$, $\tanh' = 1 - \tanh^2$, both read from the
    cached outputs) to $\partial L/\partial a_t$, and $\delta^h_{t-1} \mathrel{+}= (\partial L/\partial a_t)
    W_{hh}$. Parameter gradients are sums over steps, as for [`rnn_forward`][dlref.rnn.rnn_forward].

    References
    ----------
    Hochreiter, S. & Schmidhuber, J. (1997). Long short-term memory. *Neural Computation*, 9(8).
    Gers, F. A., Schmidhuber, J. & Cummins, F. (2000). Learning to forget: continual prediction with LSTM.
    *Neural Computation*, 12(10).

    Examples
    --------
    >>> params = init_params("lstm", 2, 3, rng=np.random.default_rng(0))
    >>> h, (h_T, c_T), cache = lstm_forward(np.ones((4, 1, 2)), None, None, params)
    >>> print(h.shape, c_T.shape, cache.f.shape)
    (4, 1, 3) (1, 3) (4, 1, 3)
    """
    x, (h0, c0), params, H = _forward_inputs(x, {"h0": h0, "c0": c0}, params, "lstm")
    x_proj = _input_projection(x, params["W_ih"], params["b_ih"] + params["b_hh"])
    W_hh_T = params["W_hh"].T
    T, N = x.shape[:2]
    gates = np.empty((T, N, 4 * H), dtype=x_proj.dtype)
    c = np.empty((T, N, H), dtype=x_proj.dtype)
    tanh_c, h = np.empty_like(c), np.empty_like(c)
    h_prev, c_prev = h0, c0
    with np.errstate(over="ignore"):  # see _sigmoid_in_place
        for t in range(T):
            a = gates[t]  # the pre-activations, then overwritten by the gates
            np.matmul(h_prev, W_hh_T, out=a)
            a += x_proj[t]
            i, f, g, o = (a[:, k * H:(k + 1) * H] for k in range(4))
            _sigmoid_in_place(a[:, :2 * H])  # i and f
            np.tanh(g, out=g)
            _sigmoid_in_place(o)
            np.multiply(f, c_prev, out=c[t])
            c[t] += i * g
            np.tanh(c[t], out=tanh_c[t])
            np.multiply(o, tanh_c[t], out=h[t])
            h_prev, c_prev = h[t], c[t]
    i, f, g, o = (gates[:, :, k * H:(k + 1) * H] for k in range(4))
    cache = LSTMCache(x, h0, c0, i, f, g, o, c, tanh_c, h, params["W_ih"], params["W_hh"])
    return h, (h[-1].copy(), c[-1].copy()), cache


def lstm_backward(dh, cache, dh_T=None, dc_T=None, *, window=None):
    r"""Backpropagation through time for [`lstm_forward`][dlref.rnn.lstm_forward].

    Parameters
    ----------
    dh : array_like, shape (T, N, H), or None
        $\partial L/\partial h_t$ for every step; `None` for zeros.
    cache : LSTMCache
        From the forward pass.
    dh_T, dc_T : array_like, shape (N, H), optional
        Gradients of the final hidden and cell states returned separately (torch's `h_n`, `c_n`).
    window : int, optional
        Truncated BPTT as in [`rnn_backward`][dlref.rnn.rnn_backward]: both the hidden and the cell state
        are cut between windows of `window` steps.

    Returns
    -------
    dx : numpy.ndarray, shape (T, N, D)
    dh0, dc0 : numpy.ndarray, shape (N, H)
        Gradients of the initial hidden and cell states.
    grads : dict of str to numpy.ndarray
        Same keys and shapes as the parameters; `b_ih` and `b_hh` get the same gradient.

    Raises
    ------
    ValueError
        If a gradient has the wrong shape or holds NaN or inf, or `window < 1`.
    TypeError
        If `window` is not an int.

    Notes
    -----
    The derivation is in [`lstm_forward`][dlref.rnn.lstm_forward].

    Examples
    --------
    >>> params = init_params("lstm", 2, 3, rng=np.random.default_rng(0))
    >>> h, (h_T, c_T), cache = lstm_forward(np.ones((4, 1, 2)), None, None, params)
    >>> dx, dh0, dc0, grads = lstm_backward(np.ones_like(h), cache, dc_T=np.ones((1, 3)))
    >>> print(dx.shape, dc0.shape, grads["W_hh"].shape)
    (4, 1, 2) (1, 3) (12, 3)
    """
    h, c, W_hh = cache.h, cache.c, cache.W_hh
    T, H = h.shape[0], h.shape[2]
    dh = _upstream(dh, "dh", h.shape, h.dtype)
    delta_h = _upstream(dh_T, "dh_T", h.shape[1:], h.dtype).copy()
    delta_c = _upstream(dc_T, "dc_T", h.shape[1:], h.dtype).copy()
    window = _check_window(window, T)
    i, f, g, o, tanh_c = cache.i, cache.f, cache.g, cache.o, cache.tanh_c
    # dL/da is delta_c times a factor for the i, f and g blocks and delta_h times a factor for the o block.
    # The factors do not depend on the gradient: they are computed for all steps at once, into da, and the
    # loop multiplies in the gradient step by step.
    N = h.shape[1]
    da = np.empty((T, N, 4 * H), dtype=h.dtype)
    blocks = da.reshape(T, N, 4, H)
    d_i, d_f, d_g, d_o = (blocks[:, :, k] for k in range(4))
    np.subtract(1.0, i, out=d_i)  # g_t sigma'(a^i_t)
    d_i *= i
    d_i *= g
    np.subtract(1.0, f, out=d_f)  # c_{t-1} sigma'(a^f_t)
    d_f *= f
    d_f[0] *= cache.c0
    d_f[1:] *= c[:-1]
    np.square(g, out=d_g)  # i_t tanh'(a^g_t)
    np.subtract(1.0, d_g, out=d_g)
    d_g *= i
    np.subtract(1.0, o, out=d_o)  # tanh(c_t) sigma'(a^o_t)
    d_o *= o
    d_o *= tanh_c
    h_to_c = np.square(tanh_c)  # o_t tanh'(c_t): from h_t to c_t
    np.subtract(1.0, h_to_c, out=h_to_c)
    h_to_c *= o
    for t in range(T - 1, -1, -1):
        delta_h += dh[t]
        delta_c += delta_h * h_to_c[t]
        blocks[t, :, :3] *= delta_c[:, None, :]
        blocks[t, :, 3] *= delta_h
        if _cut(window, t):
            delta_h, delta_c = np.zeros_like(delta_h), np.zeros_like(delta_c)
        else:
            delta_h, delta_c = da[t] @ W_hh, delta_c * f[t]
    dx, grads = _parameter_grads(da, da, cache.x, cache.h0, h, cache.W_ih)
    return dx, delta_h, delta_c, grads


# --------------------------------------------------------------------------------------------------------
# GRU
# --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GRUCache:
    """What [`gru_backward`][dlref.rnn.gru_backward] needs: the gates $r_t$, $z_t$, the candidate $n_t$,
    the recurrent candidate term `hn` $= W_{hn} h_{t-1} + b_{hn}$, the hidden states, the input and the
    weights. Every array is `(T, N, H)` except `x`, `h0` and the weights."""

    x: np.ndarray
    h0: np.ndarray
    r: np.ndarray
    z: np.ndarray
    n: np.ndarray
    hn: np.ndarray
    h: np.ndarray
    W_ih: np.ndarray
    W_hh: np.ndarray


def gru_forward(x, h0, params):
    r"""Gated recurrent unit over a sequence, as `torch.nn.GRU` (gates in torch's order r, z, n).

    $$r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}), \qquad
      z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}),$$

    $$n_t = \tanh\big(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})\big), \qquad
      h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}.$$

    Parameters
    ----------
    x : array_like, shape (T, N, D)
        Input sequence, time first.
    h0 : array_like, shape (N, H), or None
        Initial state; `None` means zeros.
    params : dict
        `W_ih` `(3H, D)`, `W_hh` `(3H, H)`, `b_ih` and `b_hh` `(3H,)`, rows in the order r, z, n.

    Returns
    -------
    h : numpy.ndarray, shape (T, N, H)
        Every hidden state (torch's `output`).
    h_T : numpy.ndarray, shape (N, H)
        The final state (torch's `h_n[0]`).
    cache : GRUCache
        For [`gru_backward`][dlref.rnn.gru_backward].

    Raises
    ------
    ValueError
        If a shape does not fit, a key is missing, or an input holds NaN or inf.
    TypeError
        If `params` is not a dict or an input is not real-valued.

    Notes
    -----
    torch (like cuDNN) applies the reset gate *after* the recurrent product, $r_t \odot (W_{hn} h_{t-1} +
    b_{hn})$; Cho et al. (2014) write $W_{hn}(r_t \odot h_{t-1})$. The two are different functions, and
    this is torch's (Keras calls it `reset_after=True`). The update gate $z_t$ interpolates between keeping
    the old state ($z_t = 1$) and taking the candidate, a role the LSTM splits between its forget and input
    gates; there is no separate cell state and no output gate.

    Backward, with $\delta_t$ the total gradient reaching $h_t$:
    $\partial L/\partial n_t = \delta_t \odot (1 - z_t)$, $\partial L/\partial z_t = \delta_t \odot
    (h_{t-1} - n_t)$, and with $\bar n_t = (\partial L/\partial n_t) \odot (1 - n_t^2)$ the candidate's
    pre-activation gradient, $\partial L/\partial r_t = \bar n_t \odot (W_{hn} h_{t-1} + b_{hn})$. The
    input product receives $\bar n_t$ in its n block, the recurrent product $r_t \odot \bar n_t$; both
    receive the same r and z blocks. Finally $\delta_{t-1} \mathrel{+}= \delta_t \odot z_t +
    (\partial L/\partial a^{hh}_t) W_{hh}$.

    References
    ----------
    Cho, K. et al. (2014). Learning phrase representations using RNN encoder-decoder for statistical
    machine translation. EMNLP. arXiv:1406.1078.

    Examples
    --------
    >>> params = init_params("gru", 2, 3, rng=np.random.default_rng(0))
    >>> h, h_T, cache = gru_forward(np.ones((4, 1, 2)), None, params)
    >>> print(h.shape, cache.z.shape, bool(np.all((cache.z > 0) & (cache.z < 1))))
    (4, 1, 3) (4, 1, 3) True
    """
    x, (h0,), params, H = _forward_inputs(x, {"h0": h0}, params, "gru")
    x_proj = _input_projection(x, params["W_ih"], params["b_ih"])
    W_hh_T, b_hh = params["W_hh"].T, params["b_hh"]
    T, N = x.shape[:2]
    rz = np.empty((T, N, 2 * H), dtype=x_proj.dtype)
    n, hn, h = (np.empty((T, N, H), dtype=x_proj.dtype) for _ in range(3))
    h_prev = h0
    with np.errstate(over="ignore"):  # see _sigmoid_in_place
        for t in range(T):
            a_hh = h_prev @ W_hh_T
            a_hh += b_hh
            np.add(x_proj[t, :, :2 * H], a_hh[:, :2 * H], out=rz[t])
            _sigmoid_in_place(rz[t])
            r, z = rz[t, :, :H], rz[t, :, H:]
            hn[t] = a_hh[:, 2 * H:]
            np.multiply(r, hn[t], out=n[t])
            n[t] += x_proj[t, :, 2 * H:]
            np.tanh(n[t], out=n[t])
            np.subtract(h_prev, n[t], out=h[t])  # h_t = (1 - z) n + z h_{t-1} = n + z (h_{t-1} - n)
            h[t] *= z
            h[t] += n[t]
            h_prev = h[t]
    cache = GRUCache(x, h0, rz[:, :, :H], rz[:, :, H:], n, hn, h, params["W_ih"], params["W_hh"])
    return h, h[-1].copy(), cache


def gru_backward(dh, cache, dh_T=None, *, window=None):
    r"""Backpropagation through time for [`gru_forward`][dlref.rnn.gru_forward].

    Parameters
    ----------
    dh : array_like, shape (T, N, H), or None
        $\partial L/\partial h_t$ for every step; `None` for zeros.
    cache : GRUCache
        From the forward pass.
    dh_T : array_like, shape (N, H), optional
        Gradient of the final state returned separately (torch's `h_n`).
    window : int, optional
        Truncated BPTT as in [`rnn_backward`][dlref.rnn.rnn_backward].

    Returns
    -------
    dx : numpy.ndarray, shape (T, N, D)
    dh0 : numpy.ndarray, shape (N, H)
    grads : dict of str to numpy.ndarray
        Same keys and shapes as the parameters. Unlike the RNN and the LSTM, `b_ih` and `b_hh` differ in
        the n block, where only $b_{hn}$ is scaled by the reset gate.

    Raises
    ------
    ValueError
        If a gradient has the wrong shape or holds NaN or inf, or `window < 1`.
    TypeError
        If `window` is not an int.

    Notes
    -----
    The derivation is in [`gru_forward`][dlref.rnn.gru_forward].

    Examples
    --------
    >>> params = init_params("gru", 2, 3, rng=np.random.default_rng(0))
    >>> h, h_T, cache = gru_forward(np.ones((4, 1, 2)), None, params)
    >>> dx, dh0, grads = gru_backward(np.ones_like(h), cache)
    >>> print(dx.shape, grads["W_ih"].shape, bool(np.allclose(grads["b_ih"], grads["b_hh"])))
    (4, 1, 2) (9, 2) False
    """
    h, W_hh = cache.h, cache.W_hh
    T, H = h.shape[0], h.shape[2]
    dh = _upstream(dh, "dh", h.shape, h.dtype)
    delta = _upstream(dh_T, "dh_T", h.shape[1:], h.dtype).copy()
    window = _check_window(window, T)
    r, z, n = cache.r, cache.z, cache.n
    # dL/da of the recurrent product is delta_t times a factor per block that does not depend on the
    # gradient: the factors are computed for all steps at once, into da_hh, and the loop multiplies in the
    # gradient step by step.
    N = h.shape[1]
    n_term = np.square(n)  # (1 - z_t) tanh'(a^n_t): from h_t to the candidate's pre-activation
    np.subtract(1.0, n_term, out=n_term)
    n_term -= z * n_term
    da_hh = np.empty((T, N, 3 * H), dtype=h.dtype)
    blocks = da_hh.reshape(T, N, 3, H)
    d_r, d_z, d_n = (blocks[:, :, k] for k in range(3))
    np.subtract(1.0, r, out=d_r)  # n_term (W_hn h_{t-1} + b_hn) sigma'(a^r_t)
    d_r *= r
    d_r *= cache.hn
    d_r *= n_term
    np.subtract(1.0, z, out=d_z)  # (h_{t-1} - n_t) sigma'(a^z_t)
    d_z *= z
    d_z[0] *= cache.h0 - n[0]
    d_z[1:] *= h[:-1] - n[1:]
    np.multiply(n_term, r, out=d_n)  # the reset gate scales the recurrent candidate term
    deltas = np.empty_like(h)
    for t in range(T - 1, -1, -1):
        delta += dh[t]
        deltas[t] = delta
        blocks[t] *= delta[:, None, :]
        delta = np.zeros_like(delta) if _cut(window, t) else delta * z[t] + da_hh[t] @ W_hh
    # The input product shares the r and z blocks; its n block is not scaled by the reset gate.
    da_ih = np.concatenate([da_hh[:, :, :2 * H], deltas * n_term], axis=2)
    dx, grads = _parameter_grads(da_ih, da_hh, cache.x, cache.h0, h, cache.W_ih)
    return dx, delta, grads
