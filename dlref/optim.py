r"""Optimizers as pure steps, learning-rate schedules, and gradient clipping, each equal to PyTorch's.

Every optimizer is one function call per training step,

    params, state = adam_step(params, grads, state, lr=1e-3)

where `params` and `grads` are dicts of arrays with the same keys and shapes (the layout of every `dlref`
layer), `state` is `None` on the first step, and the returned `state` is a plain dict that the next call
receives: `{"step": t, buffer_name: {param_name: array}, ...}`. The buffer names are the keys of
`torch.optim.Optimizer.state[p]` (`momentum_buffer`, `sum`, `square_avg`, `grad_avg`, `exp_avg`,
`exp_avg_sq`, `max_exp_avg_sq`), so a state can be compared with torch's entry by entry. Nothing is
mutated: the inputs are left as they were, and the returned arrays are new. Hyperparameters have
torch's names and defaults; the update equations, and where torch departs from the paper, are in each
docstring. Arrays keep their dtype (float32 or float64); a gradient is cast to its parameter's dtype.

Left out of torch's signatures: `maximize` (negate the gradients instead), and the implementation
switches `foreach`, `fused`, `capturable` and `differentiable`, which change speed, not the arithmetic.

The schedules are closed-form functions of the epoch index that return the learning rate torch's
`torch.optim.lr_scheduler` sets after that many calls of `scheduler.step()`.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import numbers
from collections.abc import Iterator, Mapping

import numpy as np

from dlref._checks import as_float_array, check_bool, check_int, check_real

__all__ = [
    "sgd_step", "adagrad_step", "rmsprop_step", "adam_step", "adamw_step",
    "step_lr", "exponential_lr", "cosine_annealing_lr", "linear_lr",
    "clip_grad_norm",
]


# --------------------------------------------------------------------------------------------------------
# Shared validation and building blocks
# --------------------------------------------------------------------------------------------------------

def _as_array_dict(arrays, name: str) -> dict:
    """Validate a dict of name -> array; return a new dict of float32/float64 arrays in the same order."""
    if not isinstance(arrays, Mapping):
        raise TypeError(f"{name} must be a dict mapping parameter names to arrays; got "
                        f"{type(arrays).__name__}. Wrap a single array as {{'w': w}}.")
    return {key: as_float_array(value, f"{name}[{key!r}]", allow_inf=False) for key, value in arrays.items()}


def _check_same_layout(arrays: dict, params: dict, name: str, hint: str) -> dict:
    """Require the keys and shapes of `params` exactly; return `arrays` in params' order and dtypes."""
    missing = [key for key in params if key not in arrays]
    unexpected = [key for key in arrays if key not in params]
    if missing or unexpected:
        raise ValueError(f"{name} must have the same keys as params, {list(params)}; missing {missing}, "
                         f"unexpected {unexpected}. {hint}")
    for key, param in params.items():
        if arrays[key].shape != param.shape:
            raise ValueError(f"{name}[{key!r}] must have the shape of params[{key!r}], {param.shape}; got "
                             f"{arrays[key].shape}. {hint}")
    return {key: arrays[key].astype(param.dtype, copy=False) for key, param in params.items()}


def _check_params_and_grads(params, grads) -> tuple[dict, dict]:
    params = _as_array_dict(params, "params")
    grads = _as_array_dict(grads, "grads")
    grads = _check_same_layout(grads, params, "grads",
                               "Pass one gradient per parameter, shaped like it (the grads dict that the "
                               "backward pass returns).")
    return params, grads


# dlref's own training loops (MLP.fit, ...) pass params and grads of float arrays they built themselves,
# and the state the previous step returned; checking those again at every step cost a third of a small
# network's training time. Inside `_trusted_inputs()` a step still checks its hyperparameters, and the
# first step (state=None) still checks everything.
_inputs_trusted = contextvars.ContextVar("dlref_optim_inputs_trusted", default=False)


@contextlib.contextmanager
def _trusted_inputs() -> Iterator[None]:
    token = _inputs_trusted.set(True)
    try:
        yield
    finally:
        _inputs_trusted.reset(token)


def _begin_step(fn: str, params, grads, state, buffers: tuple[str, ...],
                fill: float = 0.0) -> tuple[dict, dict, int, dict]:
    """Validate the inputs of an optimizer step.

    Returns params, grads, the number `t` of steps already taken (0 on the first step), and the buffers
    to update: those of `state`, or new arrays filled with `fill` when `state` is None.
    """
    if _inputs_trusted.get() and state is not None:
        grads = {key: grads[key].astype(param.dtype, copy=False) for key, param in params.items()}
        return params, grads, state["step"], {name: state[name] for name in buffers}
    params, grads = _check_params_and_grads(params, grads)
    hint = (f"Pass the state returned by the previous {fn} call with the same hyperparameters and "
            f"parameters, or state=None for the first step.")
    if state is None:
        return params, grads, 0, {name: {key: np.full_like(p, fill) for key, p in params.items()}
                                  for name in buffers}
    if not isinstance(state, Mapping):
        raise TypeError(f"state must be None or the dict returned by the previous {fn} call; got "
                        f"{type(state).__name__}.")
    if "step" not in state:
        raise ValueError(f"state has no 'step' entry. {hint}")
    t = check_int(state["step"], "state['step']", low=1)
    old = {}
    for name in buffers:
        if name not in state:
            raise ValueError(f"state has no {name!r} buffer, which these hyperparameters need; it has "
                             f"{sorted(str(k) for k in state)}. {hint}")
        old[name] = _check_same_layout(_as_array_dict(state[name], f"state[{name!r}]"), params,
                                       f"state[{name!r}]", hint)
    return params, grads, t, old


def _check_lr_eps_weight_decay(lr, eps, weight_decay) -> tuple[float, float, float]:
    return (check_real(lr, "lr", low=0.0), check_real(eps, "eps", low=0.0),
            check_real(weight_decay, "weight_decay", low=0.0))


def _check_unit_interval_open(value, name: str) -> float:
    """A decay rate in $[0, 1)$: at 1 a moving average never leaves its initial zeros."""
    value = check_real(value, name)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0.0, 1.0); got {value}. Typical values are 0.9 for the first "
                         f"moment and 0.999 for the second.")
    return value


def _with_l2(grad: np.ndarray, param: np.ndarray, weight_decay: float) -> np.ndarray:
    r"""torch's (coupled) weight decay: the gradient of $\tfrac{\lambda}{2}\|\theta\|^2$ added to $g$."""
    return grad + weight_decay * param if weight_decay != 0 else grad


def _ema(average: np.ndarray, value: np.ndarray, decay: float) -> np.ndarray:
    r"""Exponential moving average $\beta a + (1 - \beta) x$."""
    return decay * average + (1.0 - decay) * value


# --------------------------------------------------------------------------------------------------------
# Optimizers
# --------------------------------------------------------------------------------------------------------

def sgd_step(params, grads, state=None, *, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False,
             weight_decay=0.0):
    r"""One step of stochastic gradient descent with optional momentum, as `torch.optim.SGD`.

    With $g_t$ the gradient, $\lambda$ = `weight_decay`, $\mu$ = `momentum`, $\tau$ = `dampening` and
    $\eta$ = `lr`:

    $$g_t \leftarrow g_t + \lambda\theta_{t-1}, \qquad
      b_t = \begin{cases} g_t & t = 1 \\ \mu b_{t-1} + (1 - \tau) g_t & t > 1 \end{cases}, \qquad
      \theta_t = \theta_{t-1} - \eta \begin{cases} g_t + \mu b_t & \text{nesterov} \\
      b_t & \text{otherwise} \end{cases}$$

    Without momentum ($\mu = 0$) it is plain $\theta_t = \theta_{t-1} - \eta g_t$.

    Parameters
    ----------
    params : dict of str to numpy.ndarray
        Parameters $\theta_{t-1}$, any shapes.
    grads : dict of str to numpy.ndarray
        Gradients $g_t$, same keys and shapes as `params`; each is cast to its parameter's dtype.
    state : dict or None, default None
        `None` on the first step, then the state this function returned on the previous step.
    lr : float, default 1e-3
        Learning rate $\eta \ge 0$ (torch 2.13's default; older torch releases had none).
    momentum : float, default 0.0
        Momentum factor $\mu \in [0, 1]$.
    dampening : float, default 0.0
        Dampening $\tau \in [0, 1]$ of the gradient entering the buffer (not applied on the first step).
    nesterov : bool, default False
        Nesterov momentum; needs $\mu > 0$ and $\tau = 0$.
    weight_decay : float, default 0.0
        L2 penalty $\lambda \ge 0$, added to the gradient.

    Returns
    -------
    new_params : dict of str to numpy.ndarray
        $\theta_t$, same keys, shapes and dtypes as `params`.
    new_state : dict
        `{"step": t}`, plus `"momentum_buffer"`: $b_t$ per parameter when $\mu \neq 0$.

    Raises
    ------
    TypeError
        If `params`, `grads` or `state` is not a dict, or a flag is not a bool.
    ValueError
        If the keys or shapes of `grads` or `state` do not match `params`, an array holds NaN or inf, a
        hyperparameter is out of range (torch checks only $\mu \ge 0$; $\mu > 1$ and $\tau \notin [0, 1]$
        are rejected here too), or `nesterov` is set without $\mu > 0$ and $\tau = 0$.

    Notes
    -----
    torch's momentum differs from the textbook form of Polyak and of Sutskever et al. (2013),
    $v_t = \mu v_{t-1} - \eta g_t,\ \theta_t = \theta_{t-1} + v_t$: torch keeps the learning rate out
    of the buffer, so the two agree exactly when $\eta$ is constant, but when a schedule changes $\eta$
    torch rescales the whole accumulated velocity at once. The first step copies $g_1$ into the buffer
    undamped. Nesterov's variant is the reformulation of Sutskever et al., which evaluates the look-ahead
    gradient implicitly: the step is $g_t + \mu b_t$ instead of $b_t$.

    References
    ----------
    Polyak, B. T. (1964). Some methods of speeding up the convergence of iteration methods. *USSR
    Computational Mathematics and Mathematical Physics*, 4(5).
    Sutskever, I., Martens, J., Dahl, G. & Hinton, G. (2013). On the importance of initialization and
    momentum in deep learning. ICML.

    Examples
    --------
    >>> import numpy as np
    >>> params = {"w": np.array([1.0, -2.0])}
    >>> grads = {"w": np.array([0.5, 0.5])}
    >>> params, state = sgd_step(params, grads, lr=0.1, momentum=0.9)
    >>> print(params["w"], state["momentum_buffer"]["w"])
    [ 0.95 -2.05] [0.5 0.5]
    >>> params, state = sgd_step(params, grads, state, lr=0.1, momentum=0.9)
    >>> print(params["w"], state["step"])
    [ 0.855 -2.145] 2
    """
    lr = check_real(lr, "lr", low=0.0)
    momentum = check_real(momentum, "momentum", low=0.0, high=1.0)
    dampening = check_real(dampening, "dampening", low=0.0, high=1.0)
    nesterov = check_bool(nesterov, "nesterov")
    weight_decay = check_real(weight_decay, "weight_decay", low=0.0)
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError(f"nesterov=True needs momentum > 0 and dampening == 0, as in torch.optim.SGD; got "
                         f"momentum={momentum}, dampening={dampening}. Set momentum (e.g. 0.9) and "
                         f"dampening=0, or nesterov=False.")
    buffers = ("momentum_buffer",) if momentum != 0 else ()
    params, grads, t, old = _begin_step("sgd_step", params, grads, state, buffers)

    new_params, new_buffer = {}, {}
    for key, param in params.items():
        grad = _with_l2(grads[key], param, weight_decay)
        if momentum != 0:
            if t == 0:
                buffer = grad.copy()
            else:
                buffer = momentum * old["momentum_buffer"][key] + (1.0 - dampening) * grad
            new_buffer[key] = buffer
            grad = grad + momentum * buffer if nesterov else buffer
        new_params[key] = param - lr * grad
    new_state = {"step": t + 1}
    if momentum != 0:
        new_state["momentum_buffer"] = new_buffer
    return new_params, new_state


def adagrad_step(params, grads, state=None, *, lr=0.01, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10):
    r"""One step of Adagrad, as `torch.optim.Adagrad`.

    With $\lambda$ = `weight_decay`, $\eta$ = `lr`, $\gamma$ = `lr_decay` and the sum $s_0$ =
    `initial_accumulator_value` everywhere:

    $$g_t \leftarrow g_t + \lambda\theta_{t-1}, \qquad
      \tilde\eta_t = \frac{\eta}{1 + (t - 1)\gamma}, \qquad
      s_t = s_{t-1} + g_t^2, \qquad
      \theta_t = \theta_{t-1} - \tilde\eta_t \frac{g_t}{\sqrt{s_t} + \epsilon}$$

    Every coordinate gets its own step size, which shrinks as squared gradients accumulate: large for
    rarely-updated (sparse) features, small for frequent ones, and ever decreasing.

    Parameters
    ----------
    params, grads, state
        As in [`sgd_step`][dlref.optim.sgd_step].
    lr : float, default 0.01
        Learning rate $\eta \ge 0$.
    lr_decay : float, default 0.0
        $\gamma \ge 0$; torch's addition, not in the paper.
    weight_decay : float, default 0.0
        L2 penalty $\lambda \ge 0$, added to the gradient.
    initial_accumulator_value : float, default 0.0
        Starting value $s_0 \ge 0$ of the sum of squares.
    eps : float, default 1e-10
        $\epsilon \ge 0$, added outside the square root.

    Returns
    -------
    new_params : dict of str to numpy.ndarray
        $\theta_t$.
    new_state : dict
        `{"step": t, "sum": {name: s_t}}`.

    Raises
    ------
    TypeError, ValueError
        As in [`sgd_step`][dlref.optim.sgd_step], for these hyperparameters' ranges (the ones torch checks).

    Notes
    -----
    The paper's diagonal update is $\theta_t = \theta_{t-1} - \eta\, g_t / \sqrt{s_t}$ (with $\delta$ added
    to make it defined); torch adds $\epsilon$ outside the root and the $1/(1 + (t-1)\gamma)$ decay.

    References
    ----------
    Duchi, J., Hazan, E. & Singer, Y. (2011). Adaptive subgradient methods for online learning and
    stochastic optimization. *JMLR*, 12.

    Examples
    --------
    >>> params = {"w": np.array([1.0, -2.0])}
    >>> grads = {"w": np.array([0.5, -4.0])}
    >>> params, state = adagrad_step(params, grads, lr=0.1)
    >>> print(params["w"], state["sum"]["w"])
    [ 0.9 -1.9] [ 0.25 16.  ]
    """
    lr, eps, weight_decay = _check_lr_eps_weight_decay(lr, eps, weight_decay)
    lr_decay = check_real(lr_decay, "lr_decay", low=0.0)
    initial = check_real(initial_accumulator_value, "initial_accumulator_value", low=0.0)
    params, grads, t, old = _begin_step("adagrad_step", params, grads, state, ("sum",), fill=initial)

    t += 1
    clr = lr / (1.0 + (t - 1) * lr_decay)
    new_params, new_sum = {}, {}
    for key, param in params.items():
        grad = _with_l2(grads[key], param, weight_decay)
        new_sum[key] = old["sum"][key] + grad * grad
        new_params[key] = param - clr * (grad / (np.sqrt(new_sum[key]) + eps))
    return new_params, {"step": t, "sum": new_sum}


def rmsprop_step(params, grads, state=None, *, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0,
                 momentum=0.0, centered=False):
    r"""One step of RMSprop, as `torch.optim.RMSprop`.

    With $\lambda$ = `weight_decay`, $\alpha$ = `alpha`, $\eta$ = `lr`, $\mu$ = `momentum`, and $v_0 =
    \bar g_0 = b_0 = 0$:

    $$g_t \leftarrow g_t + \lambda\theta_{t-1}, \qquad
      v_t = \alpha v_{t-1} + (1 - \alpha) g_t^2, \qquad
      d_t = \sqrt{v_t - \bar g_t^2} + \epsilon \ \text{(centered)}, \quad
      d_t = \sqrt{v_t} + \epsilon \ \text{(otherwise)},$$

    with $\bar g_t = \alpha \bar g_{t-1} + (1 - \alpha) g_t$ in the centered variant; then

    $$b_t = \mu b_{t-1} + g_t / d_t,\ \theta_t = \theta_{t-1} - \eta b_t \ \text{if } \mu > 0,
      \qquad \theta_t = \theta_{t-1} - \eta\, g_t / d_t \ \text{otherwise}.$$

    Parameters
    ----------
    params, grads, state
        As in [`sgd_step`][dlref.optim.sgd_step].
    lr : float, default 0.01
        Learning rate $\eta \ge 0$.
    alpha : float, default 0.99
        Smoothing constant $\alpha \in [0, 1]$ of the mean square.
    eps : float, default 1e-8
        $\epsilon \ge 0$, added outside the square root.
    weight_decay : float, default 0.0
        L2 penalty $\lambda \ge 0$, added to the gradient.
    momentum : float, default 0.0
        $\mu \in [0, 1]$, applied to the already scaled step $g_t / d_t$.
    centered : bool, default False
        Divide by an estimate of the standard deviation of the gradient, $\sqrt{v_t - \bar g_t^2}$,
        instead of its root mean square (Graves, 2013).

    Returns
    -------
    new_params : dict of str to numpy.ndarray
        $\theta_t$.
    new_state : dict
        `{"step": t, "square_avg": ...}`, plus `"grad_avg"` when centered and `"momentum_buffer"` when
        $\mu > 0$.

    Raises
    ------
    TypeError, ValueError
        As in [`sgd_step`][dlref.optim.sgd_step]. torch checks only $\alpha \ge 0$ and $\mu \ge 0$;
        $\alpha > 1$ (a negative mean square) and $\mu > 1$ are rejected here too.

    Notes
    -----
    RMSprop was never published as a paper; it comes from Hinton's lecture, which divides by
    $\sqrt{v_t}$. torch puts $\epsilon$ outside the root, $\sqrt{v_t} + \epsilon$, while TensorFlow/Keras
    use $\sqrt{v_t + \epsilon}$, so the same `eps` means different things in the two. There is no bias
    correction: $v$ starts at 0, so the first steps are up to $1/\sqrt{1 - \alpha} = 10$ times larger than
    $\eta$ (for $\alpha = 0.99$); Adam corrects exactly this.

    References
    ----------
    Tieleman, T. & Hinton, G. (2012). Lecture 6.5 - rmsprop: divide the gradient by a running average of
    its recent magnitude. *COURSERA: Neural Networks for Machine Learning*.
    Graves, A. (2013). Generating sequences with recurrent neural networks. arXiv:1308.0850.

    Examples
    --------
    >>> params = {"w": np.array([1.0, -2.0])}
    >>> grads = {"w": np.array([0.5, -4.0])}
    >>> params, state = rmsprop_step(params, grads, lr=0.01)
    >>> print(np.round(params["w"], 6), np.round(state["square_avg"]["w"], 6))
    [ 0.9 -1.9] [0.0025 0.16  ]
    """
    lr, eps, weight_decay = _check_lr_eps_weight_decay(lr, eps, weight_decay)
    alpha = check_real(alpha, "alpha", low=0.0, high=1.0)
    momentum = check_real(momentum, "momentum", low=0.0, high=1.0)
    centered = check_bool(centered, "centered")
    buffers = (("square_avg",) + (("grad_avg",) if centered else ())
               + (("momentum_buffer",) if momentum > 0 else ()))
    params, grads, t, old = _begin_step("rmsprop_step", params, grads, state, buffers)

    new_params = {}
    new = {name: {} for name in buffers}
    for key, param in params.items():
        grad = _with_l2(grads[key], param, weight_decay)
        square_avg = new["square_avg"][key] = _ema(old["square_avg"][key], grad * grad, alpha)
        if centered:
            grad_avg = new["grad_avg"][key] = _ema(old["grad_avg"][key], grad, alpha)
            denom = np.sqrt(square_avg - grad_avg * grad_avg) + eps
        else:
            denom = np.sqrt(square_avg) + eps
        if momentum > 0:
            buffer = new["momentum_buffer"][key] = momentum * old["momentum_buffer"][key] + grad / denom
            new_params[key] = param - lr * buffer
        else:
            new_params[key] = param - lr * (grad / denom)
    return new_params, {"step": t + 1, **new}


def _adam_family(fn: str, params, grads, state, *, lr, betas, eps, weight_decay, amsgrad, decoupled):
    """The update shared by Adam (L2 added to the gradient) and AdamW (decoupled decay)."""
    lr, eps, weight_decay = _check_lr_eps_weight_decay(lr, eps, weight_decay)
    if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2) such as (0.9, 0.999); got {betas!r}.")
    beta1 = _check_unit_interval_open(betas[0], "betas[0]")
    beta2 = _check_unit_interval_open(betas[1], "betas[1]")
    amsgrad = check_bool(amsgrad, "amsgrad")
    buffers = ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if amsgrad else ())
    params, grads, t, old = _begin_step(fn, params, grads, state, buffers)

    t += 1
    bias_correction1 = 1.0 - beta1**t
    bias_correction2_sqrt = math.sqrt(1.0 - beta2**t)
    step_size = lr / bias_correction1
    new_params = {}
    new = {name: {} for name in buffers}
    for key, param in params.items():
        grad = grads[key]
        if decoupled:
            param = param * (1.0 - lr * weight_decay)
        else:
            grad = _with_l2(grad, param, weight_decay)
        exp_avg = new["exp_avg"][key] = _ema(old["exp_avg"][key], grad, beta1)
        exp_avg_sq = new["exp_avg_sq"][key] = _ema(old["exp_avg_sq"][key], grad * grad, beta2)
        if amsgrad:
            exp_avg_sq = new["max_exp_avg_sq"][key] = np.maximum(old["max_exp_avg_sq"][key], exp_avg_sq)
        denom = np.sqrt(exp_avg_sq) / bias_correction2_sqrt + eps
        new_params[key] = param - step_size * (exp_avg / denom)
    return new_params, {"step": t, **new}


def adam_step(params, grads, state=None, *, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
              amsgrad=False):
    r"""One step of Adam, as `torch.optim.Adam`.

    With $\lambda$ = `weight_decay`, $(\beta_1, \beta_2)$ = `betas`, $\eta$ = `lr` and $m_0 = v_0 = 0$:

    $$g_t \leftarrow g_t + \lambda\theta_{t-1}, \qquad
      m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \qquad
      v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2,$$

    $$\hat m_t = \frac{m_t}{1 - \beta_1^t}, \qquad \hat v_t = \frac{v_t}{1 - \beta_2^t}, \qquad
      \theta_t = \theta_{t-1} - \eta \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}.$$

    With `amsgrad`, $v^{\max}_t = \max(v^{\max}_{t-1}, v_t)$ replaces $v_t$ in $\hat v_t$.

    Parameters
    ----------
    params, grads, state
        As in [`sgd_step`][dlref.optim.sgd_step].
    lr : float, default 0.001
        Learning rate $\eta \ge 0$.
    betas : tuple of two floats, default (0.9, 0.999)
        Decay rates $\beta_1, \beta_2 \in [0, 1)$ of the first and second moment estimates.
    eps : float, default 1e-8
        $\epsilon \ge 0$, added to $\sqrt{\hat v_t}$.
    weight_decay : float, default 0.0
        L2 penalty $\lambda \ge 0$, added to the gradient (for decoupled decay use
        [`adamw_step`][dlref.optim.adamw_step]).
    amsgrad : bool, default False
        Normalise by the running maximum of $v_t$, so the effective step size never grows.

    Returns
    -------
    new_params : dict of str to numpy.ndarray
        $\theta_t$.
    new_state : dict
        `{"step": t, "exp_avg": m_t, "exp_avg_sq": v_t}` per parameter, plus `"max_exp_avg_sq"` with
        `amsgrad`.

    Raises
    ------
    TypeError, ValueError
        As in [`sgd_step`][dlref.optim.sgd_step]; `betas` must be a pair in $[0, 1)$.

    Notes
    -----
    $\epsilon$ placement: torch adds $\epsilon$ to the bias-corrected $\sqrt{\hat v_t}$, as in the paper's
    Algorithm 1. The paper's "more efficient" form, used by TensorFlow/Keras, folds the corrections into
    the step size and adds $\hat\epsilon$ to the uncorrected $\sqrt{v_t}$, which is a larger effective
    $\epsilon$ in the first steps (by $1/\sqrt{1 - \beta_2^t}$, about 32 at $t = 1$).

    `weight_decay` here is L2 regularisation through the gradient, so it is divided by $\sqrt{\hat v_t}$
    like the rest of the gradient: weights with large gradients are decayed less. That is the flaw
    AdamW fixes.

    AMSGrad as in torch takes the maximum of the uncorrected $v_t$ and then divides by the current
    $1 - \beta_2^t$; the AMSGrad paper has no bias correction at all.

    References
    ----------
    Kingma, D. P. & Ba, J. (2015). Adam: a method for stochastic optimization. ICLR. arXiv:1412.6980.
    Reddi, S. J., Kale, S. & Kumar, S. (2018). On the convergence of Adam and beyond. ICLR.

    Examples
    --------
    The first step moves every coordinate by about `lr`, whatever the gradient's scale:

    >>> params = {"w": np.array([1.0, -2.0])}
    >>> grads = {"w": np.array([0.5, -40.0])}
    >>> params, state = adam_step(params, grads, lr=0.1)
    >>> print(params["w"], state["step"])
    [ 0.9 -1.9] 1
    >>> print(state["exp_avg"]["w"])
    [ 0.05 -4.  ]
    """
    return _adam_family("adam_step", params, grads, state, lr=lr, betas=betas, eps=eps,
                        weight_decay=weight_decay, amsgrad=amsgrad, decoupled=False)


def adamw_step(params, grads, state=None, *, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01,
               amsgrad=False):
    r"""One step of AdamW (Adam with decoupled weight decay), as `torch.optim.AdamW`.

    The weights are first shrunk, then updated by Adam on the raw gradient:

    $$\theta'_{t-1} = (1 - \eta\lambda)\,\theta_{t-1}, \qquad
      \theta_t = \theta'_{t-1} - \eta \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon},$$

    with $m_t, v_t, \hat m_t, \hat v_t$ (and `amsgrad`) exactly as in [`adam_step`][dlref.optim.adam_step],
    computed from $g_t$ without any $\lambda\theta$ term.

    Parameters
    ----------
    params, grads, state
        As in [`sgd_step`][dlref.optim.sgd_step].
    lr : float, default 0.001
        Learning rate $\eta \ge 0$.
    betas : tuple of two floats, default (0.9, 0.999)
        $\beta_1, \beta_2 \in [0, 1)$.
    eps : float, default 1e-8
        $\epsilon \ge 0$, added to $\sqrt{\hat v_t}$.
    weight_decay : float, default 0.01
        Decoupled decay $\lambda \ge 0$ (note the non-zero default, unlike Adam's).
    amsgrad : bool, default False
        As in [`adam_step`][dlref.optim.adam_step].

    Returns
    -------
    new_params : dict of str to numpy.ndarray
        $\theta_t$.
    new_state : dict
        As in [`adam_step`][dlref.optim.adam_step].

    Raises
    ------
    TypeError, ValueError
        As in [`adam_step`][dlref.optim.adam_step].

    Notes
    -----
    Decoupling: with L2 in the gradient (Adam's `weight_decay`) the decay is rescaled by
    $1/(\sqrt{\hat v_t} + \epsilon)$ per coordinate; here every weight shrinks by the same factor, as
    weight decay does in plain SGD. The paper writes the decay as $\eta_t \lambda \theta$ with $\eta_t$ a
    schedule multiplier separate from Adam's step size $\alpha$; torch multiplies by the full learning
    rate, $\eta\lambda$, so with `lr=1e-3` and `weight_decay=0.01` each step shrinks the weights by
    $10^{-5}$, and changing `lr` changes the decay with it.

    References
    ----------
    Loshchilov, I. & Hutter, F. (2019). Decoupled weight decay regularization. ICLR. arXiv:1711.05101.

    Examples
    --------
    With a zero gradient, only the decay acts:

    >>> params = {"w": np.array([1.0, -2.0])}
    >>> params, state = adamw_step(params, {"w": np.zeros(2)}, lr=0.1, weight_decay=0.5)
    >>> print(params["w"])
    [ 0.95 -1.9 ]
    """
    return _adam_family("adamw_step", params, grads, state, lr=lr, betas=betas, eps=eps,
                        weight_decay=weight_decay, amsgrad=amsgrad, decoupled=True)


# --------------------------------------------------------------------------------------------------------
# Learning-rate schedules
# --------------------------------------------------------------------------------------------------------

def _check_schedule(base_lr, epoch) -> tuple[float, int]:
    return check_real(base_lr, "base_lr", low=0.0), check_int(epoch, "epoch", low=0)


def step_lr(base_lr, epoch, step_size, gamma=0.1):
    r"""Step decay, as `torch.optim.lr_scheduler.StepLR`: $\eta_e = \eta_0\,\gamma^{\lfloor e / s \rfloor}$.

    The rate is multiplied by $\gamma$ every $s$ = `step_size` epochs.

    Parameters
    ----------
    base_lr : float
        $\eta_0 \ge 0$, the optimizer's initial `lr`.
    epoch : int
        $e \ge 0$, the number of `scheduler.step()` calls made so far.
    step_size : int
        Period $s \ge 1$.
    gamma : float, default 0.1
        Factor $\gamma \ge 0$.

    Returns
    -------
    float
        The learning rate for epoch $e$.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or is out of range.

    Notes
    -----
    torch multiplies the current rate by $\gamma$ at each multiple of $s$; the closed form equals that
    product up to rounding (relative differences around $10^{-16}$).

    Examples
    --------
    >>> print([round(step_lr(0.1, e, step_size=2), 6) for e in range(6)])
    [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    """
    base_lr, epoch = _check_schedule(base_lr, epoch)
    step_size = check_int(step_size, "step_size", low=1)
    gamma = check_real(gamma, "gamma", low=0.0)
    return base_lr * gamma ** (epoch // step_size)


def exponential_lr(base_lr, epoch, gamma):
    r"""Exponential decay, as `torch.optim.lr_scheduler.ExponentialLR`: $\eta_e = \eta_0\,\gamma^{e}$.

    Parameters
    ----------
    base_lr : float
        $\eta_0 \ge 0$.
    epoch : int
        $e \ge 0$.
    gamma : float
        Factor $\gamma \ge 0$ per epoch (torch has no default either).

    Returns
    -------
    float
        The learning rate for epoch $e$.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or is out of range.

    Examples
    --------
    >>> print([round(exponential_lr(1.0, e, gamma=0.5), 6) for e in range(4)])
    [1.0, 0.5, 0.25, 0.125]
    """
    base_lr, epoch = _check_schedule(base_lr, epoch)
    gamma = check_real(gamma, "gamma", low=0.0)
    return base_lr * gamma**epoch


def cosine_annealing_lr(base_lr, epoch, T_max, eta_min=0.0):
    r"""Cosine annealing, as `torch.optim.lr_scheduler.CosineAnnealingLR`.

    $$\eta_e = \eta_{\min} + \tfrac12(\eta_0 - \eta_{\min})\left(1 + \cos\frac{\pi e}{T_{\max}}\right)$$

    from $\eta_0$ at $e = 0$ down to $\eta_{\min}$ at $e = T_{\max}$.

    Parameters
    ----------
    base_lr : float
        $\eta_0 \ge 0$.
    epoch : int
        $e \ge 0$.
    T_max : int
        Half-period $T_{\max} \ge 1$: the number of epochs from $\eta_0$ to $\eta_{\min}$.
    eta_min : float, default 0.0
        Floor $\eta_{\min} \ge 0$.

    Returns
    -------
    float
        The learning rate for epoch $e$.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or is out of range.

    Notes
    -----
    torch updates the rate recursively,
    $\eta_{e} = \eta_{\min} + (\eta_{e-1} - \eta_{\min}) \frac{1 + \cos(\pi e / T_{\max})}{1 + \cos(\pi (e-1)/T_{\max})}$,
    with a special case just after each minimum, where that ratio would be $0/0$. The recursion follows
    this closed form for every epoch, also beyond $T_{\max}$: neither stops at $\eta_{\min}$; the cosine
    continues and the rate climbs back to $\eta_0$ at $2T_{\max}$, and so on with period $2T_{\max}$.
    Stop the schedule at $T_{\max}$ (or hold it there) if that is not wanted. The two differ only by
    rounding. This is the SGDR curve of Loshchilov & Hutter without its warm restarts (those are
    `CosineAnnealingWarmRestarts`, which jumps back to $\eta_0$ instead).

    References
    ----------
    Loshchilov, I. & Hutter, F. (2017). SGDR: stochastic gradient descent with warm restarts. ICLR.
    arXiv:1608.03983.

    Examples
    --------
    >>> print([round(cosine_annealing_lr(1.0, e, T_max=4), 6) for e in range(9)])
    [1.0, 0.853553, 0.5, 0.146447, 0.0, 0.146447, 0.5, 0.853553, 1.0]
    """
    base_lr, epoch = _check_schedule(base_lr, epoch)
    T_max = check_int(T_max, "T_max", low=1)
    eta_min = check_real(eta_min, "eta_min", low=0.0)
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * epoch / T_max)) / 2


def linear_lr(base_lr, epoch, start_factor=1.0 / 3, end_factor=1.0, total_iters=5):
    r"""Linear change of the rate's factor, as `torch.optim.lr_scheduler.LinearLR` (linear warm-up).

    $$\eta_e = \eta_0\left(f_s + (f_e - f_s)\,\frac{\min(e, N)}{N}\right)$$

    The factor goes linearly from $f_s$ = `start_factor` at $e = 0$ to $f_e$ = `end_factor` at
    $e = N$ = `total_iters`, then stays there. With the defaults it is a five-epoch warm-up from a third
    of the rate to the full rate.

    Parameters
    ----------
    base_lr : float
        $\eta_0 \ge 0$.
    epoch : int
        $e \ge 0$.
    start_factor : float, default 1/3
        $f_s \in (0, 1]$ (torch's range).
    end_factor : float, default 1.0
        $f_e \in [0, 1]$ (torch's range).
    total_iters : int, default 5
        $N \ge 1$. torch does not check it; with $N = 0$ its recursion keeps $f_s$ forever while its own
        closed form divides by zero, so it is rejected here.

    Returns
    -------
    float
        The learning rate for epoch $e$.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or is out of range.

    Examples
    --------
    >>> print([round(linear_lr(0.3, e, start_factor=0.1, total_iters=3), 6) for e in range(5)])
    [0.03, 0.12, 0.21, 0.3, 0.3]
    """
    base_lr, epoch = _check_schedule(base_lr, epoch)
    start_factor = check_real(start_factor, "start_factor", low=0.0, high=1.0, low_inclusive=False)
    end_factor = check_real(end_factor, "end_factor", low=0.0, high=1.0)
    total_iters = check_int(total_iters, "total_iters", low=1)
    return base_lr * (start_factor + (end_factor - start_factor) * min(total_iters, epoch) / total_iters)


# --------------------------------------------------------------------------------------------------------
# Gradient clipping
# --------------------------------------------------------------------------------------------------------

def _vector_norm(x: np.ndarray, p: float):
    if x.size == 0:
        return x.dtype.type(0)
    return np.linalg.norm(x.reshape(-1), ord=p)


def clip_grad_norm(grads, max_norm, norm_type=2.0):
    r"""Rescale gradients to a joint norm of at most `max_norm`, as `torch.nn.utils.clip_grad_norm_`.

    All gradients are treated as one long vector:

    $$N = \big\|\,(\|g_1\|_p, \dots, \|g_k\|_p)\,\big\|_p, \qquad
      c = \min\!\left(1, \frac{\text{max\_norm}}{N + 10^{-6}}\right), \qquad g_i \leftarrow c\, g_i.$$

    The direction is kept; only the length changes, and only when $N$ exceeds `max_norm`.

    Parameters
    ----------
    grads : dict of str to numpy.ndarray
        Gradients, any shapes.
    max_norm : float
        Largest allowed norm, $\ge 0$.
    norm_type : float, default 2.0
        $p > 0$, or `math.inf` for the largest absolute entry.

    Returns
    -------
    clipped_grads : dict of str to numpy.ndarray
        $c\,g_i$, same keys, shapes and dtypes (new arrays; `grads` is not modified, unlike torch's
        in-place `clip_grad_norm_`).
    total_norm : numpy.floating
        $N$, the norm before clipping (0.0 for an empty dict).

    Raises
    ------
    TypeError
        If `grads` is not a dict or `norm_type` is not a number.
    ValueError
        If a gradient holds NaN or inf (torch's default, `error_if_nonfinite=False`, would return NaN
        gradients instead; this is its `error_if_nonfinite=True`), `max_norm` is negative or `norm_type`
        is not positive.

    Notes
    -----
    The $10^{-6}$ keeps $c$ finite when $N = 0$; because of it a clipped gradient's norm is slightly below
    `max_norm`, and a gradient with $N$ just at `max_norm` is still scaled by $c = N / (N + 10^{-6})$.
    Clipping by the total norm (rather than per entry, `clip_grad_value_`) is the remedy for exploding
    gradients in RNNs proposed by Pascanu et al.

    References
    ----------
    Pascanu, R., Mikolov, T. & Bengio, Y. (2013). On the difficulty of training recurrent neural networks.
    ICML.

    Examples
    --------
    >>> grads = {"w": np.array([3.0, 0.0]), "b": np.array([4.0])}
    >>> clipped, total_norm = clip_grad_norm(grads, max_norm=1.0)
    >>> print(total_norm, np.round(clipped["w"], 6), np.round(clipped["b"], 6))
    5.0 [0.6 0. ] [0.8]
    """
    grads = _as_array_dict(grads, "grads")
    max_norm = check_real(max_norm, "max_norm", low=0.0)
    if isinstance(norm_type, numbers.Real) and not isinstance(norm_type, bool) and norm_type == math.inf:
        p = math.inf
    else:
        p = check_real(norm_type, "norm_type", low=0.0, low_inclusive=False)
    if not grads:
        return {}, np.float64(0.0)
    norms = np.stack([_vector_norm(g, p) for g in grads.values()])
    total_norm = _vector_norm(norms, p)
    clip_coef = min(max_norm / (total_norm + 1e-6), 1.0)
    return {key: g * clip_coef for key, g in grads.items()}, total_norm
