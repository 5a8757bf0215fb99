"""dlref.optim: optimizers step for step against torch.optim in float64, schedules, clipping, errors."""

import copy
import math

import numpy as np
import pytest
import torch

from dlref import optim as O

N_STEPS = 200

# case -> (dlref step, torch optimizer, keyword arguments: the same names and values for both)
OPTIMIZERS = {
    "sgd": (O.sgd_step, torch.optim.SGD, {"lr": 0.05}),
    "sgd-defaults": (O.sgd_step, torch.optim.SGD, {}),
    "sgd-momentum": (O.sgd_step, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    "sgd-momentum-dampening": (O.sgd_step, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "dampening": 0.5}),
    "sgd-nesterov": (O.sgd_step, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    "sgd-weight-decay": (O.sgd_step, torch.optim.SGD, {"lr": 0.05, "weight_decay": 0.1}),
    "sgd-momentum-dampening-weight-decay": (
        O.sgd_step, torch.optim.SGD, {"lr": 0.02, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.05}),
    "sgd-nesterov-weight-decay": (
        O.sgd_step, torch.optim.SGD, {"lr": 0.02, "momentum": 0.5, "nesterov": True, "weight_decay": 0.2}),
    "adagrad": (O.adagrad_step, torch.optim.Adagrad, {}),
    "adagrad-lr-decay": (O.adagrad_step, torch.optim.Adagrad, {"lr": 0.1, "lr_decay": 0.01}),
    "adagrad-weight-decay-initial-accumulator": (
        O.adagrad_step, torch.optim.Adagrad,
        {"lr": 0.1, "weight_decay": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6}),
    "rmsprop": (O.rmsprop_step, torch.optim.RMSprop, {}),
    "rmsprop-centered": (O.rmsprop_step, torch.optim.RMSprop, {"centered": True}),
    "rmsprop-momentum": (O.rmsprop_step, torch.optim.RMSprop, {"lr": 0.005, "momentum": 0.9}),
    "rmsprop-centered-momentum-weight-decay": (
        O.rmsprop_step, torch.optim.RMSprop,
        {"lr": 0.005, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.1, "momentum": 0.5, "centered": True}),
    "adam": (O.adam_step, torch.optim.Adam, {}),
    "adam-amsgrad": (O.adam_step, torch.optim.Adam, {"lr": 0.01, "amsgrad": True}),
    "adam-weight-decay": (O.adam_step, torch.optim.Adam, {"lr": 0.01, "weight_decay": 0.1}),
    "adam-betas-eps-weight-decay-amsgrad": (
        O.adam_step, torch.optim.Adam,
        {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.05, "amsgrad": True}),
    "adamw": (O.adamw_step, torch.optim.AdamW, {}),
    "adamw-amsgrad": (O.adamw_step, torch.optim.AdamW, {"lr": 0.01, "amsgrad": True}),
    "adamw-weight-decay": (O.adamw_step, torch.optim.AdamW, {"lr": 0.01, "weight_decay": 0.5}),
    "adamw-betas-eps-weight-decay-amsgrad": (
        O.adamw_step, torch.optim.AdamW,
        {"lr": 0.01, "betas": (0.5, 0.9), "eps": 1e-4, "weight_decay": 0.2, "amsgrad": True}),
}
STEPS = {"sgd": O.sgd_step, "adagrad": O.adagrad_step, "rmsprop": O.rmsprop_step, "adam": O.adam_step,
         "adamw": O.adamw_step}


def _random_params(rng, dtype=np.float64):
    names = ["weight", "bias", "gain"][: int(rng.integers(2, 4))]
    shapes = [tuple(int(n) for n in rng.integers(1, 6, size=rng.integers(1, 4))) for _ in names]
    return {name: rng.normal(size=shape).astype(dtype) for name, shape in zip(names, shapes)}


def _random_grads(rng, params):
    # A fresh gradient each step, with a scale that varies from step to step so that AMSGrad's maximum
    # and the moving averages have something to do.
    scale = rng.uniform(0.1, 3.0)
    return {name: (scale * rng.normal(size=p.shape)).astype(p.dtype) for name, p in params.items()}


def _run_against_torch(case, seed, dtype, n_steps, rtol, atol):
    step_fn, torch_optimizer, kwargs = OPTIMIZERS[case]
    rng = np.random.default_rng(seed)
    params = _random_params(rng, dtype)
    tensors = {name: torch.tensor(p.copy(), requires_grad=True) for name, p in params.items()}
    optimizer = torch_optimizer(list(tensors.values()), **kwargs)
    state = None
    for step in range(n_steps):
        grads = _random_grads(rng, params)
        for name, tensor in tensors.items():
            tensor.grad = torch.tensor(grads[name])
        optimizer.step()
        params, state = step_fn(params, grads, state, **kwargs)
        for name, tensor in tensors.items():
            np.testing.assert_allclose(params[name], tensor.detach().numpy(), rtol=rtol, atol=atol,
                                       err_msg=f"{case}: {name} after step {step + 1}")
    return params, state, tensors, optimizer


@pytest.mark.parametrize("case", sorted(OPTIMIZERS))
def test_optimizer_matches_torch_step_for_step_in_float64(case):
    seed = sorted(OPTIMIZERS).index(case)
    params, state, tensors, optimizer = _run_against_torch(case, seed, np.float64, N_STEPS, 1e-10, 1e-10)

    # The state has torch's buffer names, one array per parameter, and counts the steps.
    assert state["step"] == N_STEPS
    for name, tensor in tensors.items():
        torch_state = optimizer.state[tensor]
        assert set(state) - {"step"} == set(torch_state) - {"step"}
        for buffer in set(state) - {"step"}:
            np.testing.assert_allclose(state[buffer][name], torch_state[buffer].numpy(), rtol=1e-10, atol=1e-10)
        if "step" in torch_state:
            assert float(torch_state["step"]) == N_STEPS


@pytest.mark.parametrize("case", sorted(OPTIMIZERS))
def test_float32_is_kept_and_matches_torch_in_float32(case):
    params, state, _, _ = _run_against_torch(case, 0, np.float32, 20, 1e-5, 1e-6)
    assert all(p.dtype == np.float32 for p in params.values())
    for buffer in set(state) - {"step"}:
        assert all(b.dtype == np.float32 for b in state[buffer].values()), buffer


def test_a_gradient_is_cast_to_its_parameters_dtype_and_integer_params_become_float64():
    params, _ = O.adam_step({"w": np.ones(2, dtype=np.float32)}, {"w": np.ones(2)})
    assert params["w"].dtype == np.float32
    params, state = O.sgd_step({"w": [1, 2]}, {"w": [1, 1]}, lr=0.5, momentum=0.5)
    assert params["w"].dtype == np.float64 and state["momentum_buffer"]["w"].dtype == np.float64
    np.testing.assert_array_equal(params["w"], [0.5, 1.5])


@pytest.mark.parametrize("case", sorted(OPTIMIZERS))
def test_inputs_are_not_mutated_and_outputs_are_new_arrays(case):
    step_fn, _, kwargs = OPTIMIZERS[case]
    rng = np.random.default_rng(1)
    params = _random_params(rng)
    _, state = step_fn(params, _random_grads(rng, params), None, **kwargs)
    grads = _random_grads(rng, params)
    before = copy.deepcopy((params, grads, state))

    new_params, new_state = step_fn(params, grads, state, **kwargs)

    for original, kept in zip((params, grads, state), before):
        assert original.keys() == kept.keys()
        for key in original:
            if isinstance(original[key], dict):
                for name in original[key]:
                    np.testing.assert_array_equal(original[key][name], kept[key][name])
            else:
                np.testing.assert_array_equal(original[key], kept[key])
    inputs = [*params.values(), *grads.values()]
    inputs += [a for key, value in state.items() if key != "step" for a in value.values()]
    outputs = [*new_params.values()]
    outputs += [a for key, value in new_state.items() if key != "step" for a in value.values()]
    assert not any(np.shares_memory(a, b) for a in outputs for b in inputs)


@pytest.mark.parametrize("case", sorted(OPTIMIZERS))
def test_trusted_steps_of_a_training_loop_equal_checked_steps(case):
    """Inside `_trusted_inputs` (dlref's own training loops) a step skips re-checking the dicts it is
    given, and computes exactly the same update; the first step still checks everything."""
    step_fn, _, kwargs = OPTIMIZERS[case]
    rng = np.random.default_rng(2)
    params = _random_params(rng)
    grads = [_random_grads(rng, params) for _ in range(5)]
    checked, trusted, checked_state, trusted_state = params, params, None, None
    for g in grads:
        checked, checked_state = step_fn(checked, g, checked_state, **kwargs)
        with O._trusted_inputs():
            trusted, trusted_state = step_fn(trusted, g, trusted_state, **kwargs)
    for key in params:
        np.testing.assert_array_equal(trusted[key], checked[key])
    with O._trusted_inputs(), pytest.raises(ValueError, match="must not contain NaN"):
        step_fn(params, {key: np.full_like(value, np.nan) for key, value in params.items()}, None, **kwargs)


def test_sgd_momentum_buffer_does_not_alias_the_first_gradient():
    grads = {"w": np.array([1.0, 2.0])}
    _, state = O.sgd_step({"w": np.zeros(2)}, grads, lr=0.1, momentum=0.9)
    grads["w"][:] = 0.0
    np.testing.assert_array_equal(state["momentum_buffer"]["w"], [1.0, 2.0])


@pytest.mark.parametrize("name, kwargs", [
    ("sgd", {"lr": 0.1, "momentum": 0.9}), ("adagrad", {"lr": 0.5}), ("rmsprop", {"lr": 0.01}),
    ("adam", {"lr": 0.05}), ("adamw", {"lr": 0.05}),
])
def test_optimizer_minimises_the_squared_norm(name, kwargs):
    # Learning check: f(w) = ||w||^2, gradient 2w, from a random start; the loss falls by a factor of 1e4.
    w = {"w": np.random.default_rng(0).normal(size=10)}
    start = float(np.sum(w["w"] ** 2))
    state = None
    for _ in range(500):
        w, state = STEPS[name](w, {"w": 2.0 * w["w"]}, state, **kwargs)
    assert float(np.sum(w["w"] ** 2)) < 1e-4 * start


def test_adam_decreases_the_loss_of_the_squared_norm_steadily():
    w = {"w": np.random.default_rng(3).normal(size=(4, 5))}
    losses, state = [], None
    for _ in range(400):
        losses.append(float(np.sum(w["w"] ** 2)))
        w, state = O.adam_step(w, {"w": 2.0 * w["w"]}, state, lr=0.02)
    assert losses[-1] < 1e-4 * losses[0]
    assert all(later < earlier for earlier, later in zip(losses, losses[1:]))


def test_adamw_differs_from_adam_with_the_same_weight_decay():
    # Decoupled decay is not L2 through the gradient: the two part ways after one step.
    params, grads = {"w": np.array([1.0, 1.0])}, {"w": np.array([1e-3, 10.0])}
    adam, _ = O.adam_step(params, grads, lr=0.1, weight_decay=0.5)
    adamw, _ = O.adamw_step(params, grads, lr=0.1, weight_decay=0.5)
    assert not np.allclose(adam["w"], adamw["w"])
    np.testing.assert_allclose(adamw["w"], 0.95 - 0.1 * np.sign(grads["w"]), atol=1e-5)  # eps: 1e-6


# ----------------------------------------------------------------------------------------------------
# Schedules
# ----------------------------------------------------------------------------------------------------

SCHEDULES = {
    "step": (lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=7),
             lambda lr, e: O.step_lr(lr, e, step_size=7)),
    "step-gamma": (lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.7),
                   lambda lr, e: O.step_lr(lr, e, step_size=3, gamma=0.7)),
    "exponential": (lambda opt: torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9),
                    lambda lr, e: O.exponential_lr(lr, e, gamma=0.9)),
    "cosine-10": (lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10),
                  lambda lr, e: O.cosine_annealing_lr(lr, e, T_max=10)),
    "cosine-7-eta-min": (lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=7, eta_min=0.01),
                         lambda lr, e: O.cosine_annealing_lr(lr, e, T_max=7, eta_min=0.01)),
    "cosine-50": (lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=50, eta_min=1e-4),
                  lambda lr, e: O.cosine_annealing_lr(lr, e, T_max=50, eta_min=1e-4)),
    "linear": (lambda opt: torch.optim.lr_scheduler.LinearLR(opt),
               lambda lr, e: O.linear_lr(lr, e)),
    "linear-warmup-10": (lambda opt: torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=10),
                         lambda lr, e: O.linear_lr(lr, e, start_factor=0.1, total_iters=10)),
    "linear-decay": (
        lambda opt: torch.optim.lr_scheduler.LinearLR(opt, start_factor=1.0, end_factor=0.2, total_iters=20),
        lambda lr, e: O.linear_lr(lr, e, start_factor=1.0, end_factor=0.2, total_iters=20)),
}


@pytest.mark.parametrize("base_lr", [0.1, 0.003])
@pytest.mark.parametrize("case", sorted(SCHEDULES))
def test_schedule_matches_torch_for_epochs_0_to_50(case, base_lr):
    make_scheduler, schedule = SCHEDULES[case]
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    scheduler = make_scheduler(optimizer)
    torch_lrs = [optimizer.param_groups[0]["lr"]]
    for _ in range(50):
        optimizer.step()
        scheduler.step()
        torch_lrs.append(optimizer.param_groups[0]["lr"])

    ours = [schedule(base_lr, epoch) for epoch in range(51)]

    assert all(isinstance(lr, float) for lr in ours)
    np.testing.assert_allclose(ours, torch_lrs, rtol=1e-10, atol=1e-14 * base_lr)


def test_cosine_annealing_continues_past_T_max_with_period_2_T_max():
    # Documented behaviour, the same as torch's recursion (checked above over five half-periods).
    assert O.cosine_annealing_lr(0.1, 10, T_max=10, eta_min=0.01) == pytest.approx(0.01, abs=1e-15)
    assert O.cosine_annealing_lr(0.1, 15, T_max=10, eta_min=0.01) == pytest.approx(0.055, abs=1e-15)
    assert O.cosine_annealing_lr(0.1, 20, T_max=10, eta_min=0.01) == pytest.approx(0.1, abs=1e-15)


# ----------------------------------------------------------------------------------------------------
# Gradient clipping
# ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("clips", [True, False])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0])
def test_clip_grad_norm_matches_torch(norm_type, clips):
    rng = np.random.default_rng(int(clips) + 2)
    grads = _random_grads(rng, _random_params(rng))
    before = copy.deepcopy(grads)
    p_norm = np.linalg.norm(np.concatenate([g.ravel() for g in grads.values()]), ord=norm_type)
    max_norm = 0.3 * p_norm if clips else 3.0 * p_norm
    tensors = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads.values()]
    for tensor, g in zip(tensors, grads.values()):
        tensor.grad = torch.tensor(g)

    torch_norm = torch.nn.utils.clip_grad_norm_(tensors, max_norm, norm_type)
    clipped, total_norm = O.clip_grad_norm(grads, max_norm, norm_type)

    np.testing.assert_allclose(total_norm, torch_norm.item(), rtol=1e-12)
    np.testing.assert_allclose(total_norm, p_norm, rtol=1e-12)
    for tensor, (name, g) in zip(tensors, clipped.items()):
        np.testing.assert_allclose(g, tensor.grad.numpy(), rtol=1e-12, atol=1e-15, err_msg=name)
        np.testing.assert_array_equal(grads[name], before[name])  # not clipped in place
    new_norm = np.linalg.norm(np.concatenate([g.ravel() for g in clipped.values()]), ord=norm_type)
    if clips:
        assert max_norm * (1 - 1e-5) < new_norm < max_norm
    else:
        for name in grads:
            np.testing.assert_array_equal(clipped[name], grads[name])


def test_clip_grad_norm_keeps_float32_and_matches_torch():
    rng = np.random.default_rng(5)
    grads = _random_grads(rng, _random_params(rng, np.float32))
    tensors = [torch.zeros(g.shape, requires_grad=True) for g in grads.values()]
    for tensor, g in zip(tensors, grads.values()):
        tensor.grad = torch.tensor(g)
    torch_norm = torch.nn.utils.clip_grad_norm_(tensors, 0.5)
    clipped, total_norm = O.clip_grad_norm(grads, 0.5)
    assert total_norm.dtype == np.float32
    np.testing.assert_allclose(total_norm, torch_norm.item(), rtol=1e-6)
    for tensor, g in zip(tensors, clipped.values()):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, tensor.grad.numpy(), rtol=1e-6)


def test_clip_grad_norm_of_nothing_and_of_zeros():
    assert O.clip_grad_norm({}, 1.0) == ({}, 0.0)
    clipped, total_norm = O.clip_grad_norm({"w": np.zeros(3), "empty": np.zeros((0, 2))}, 1.0, math.inf)
    assert total_norm == 0.0
    np.testing.assert_array_equal(clipped["w"], np.zeros(3))
    assert clipped["empty"].shape == (0, 2)


# ----------------------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------------------

W = {"w": np.array([1.0, 2.0])}
G = {"w": np.array([0.5, -0.5])}


@pytest.mark.parametrize("name", sorted(STEPS))
def test_params_and_grads_must_be_dicts_with_one_layout(name):
    step = STEPS[name]
    with pytest.raises(TypeError, match=r"params must be a dict mapping parameter names to arrays; got list\. "
                                        r"Wrap a single array as \{'w': w\}"):
        step([1.0, 2.0], G)
    with pytest.raises(TypeError, match="grads must be a dict mapping parameter names to arrays; got ndarray"):
        step(W, np.ones(2))
    with pytest.raises(ValueError, match=r"grads must have the same keys as params, \['w', 'b'\]; missing "
                                         r"\['b'\], unexpected \[\]\. Pass one gradient per parameter"):
        step({**W, "b": np.zeros(1)}, G)
    with pytest.raises(ValueError, match=r"missing \[\], unexpected \['x'\]"):
        step(W, {**G, "x": np.zeros(1)})
    with pytest.raises(ValueError, match=r"grads\['w'\] must have the shape of params\['w'\], \(2,\); got "
                                         r"\(2, 1\)\. Pass one gradient per parameter, shaped like it"):
        step(W, {"w": np.ones((2, 1))})
    with pytest.raises(ValueError, match=r"grads\['w'\] must not contain NaN or infinite values; found nan at "
                                         r"index \(1,\)"):
        step(W, {"w": np.array([0.0, np.nan])})
    with pytest.raises(ValueError, match=r"params\['w'\] must not contain NaN or infinite values; found inf"):
        step({"w": np.array([np.inf, 0.0])}, G)
    with pytest.raises(TypeError, match=r"grads\['w'\] must hold real numbers"):
        step(W, {"w": np.array(["a", "b"])})


@pytest.mark.parametrize("name", sorted(STEPS))
def test_state_must_be_the_one_returned_by_the_previous_step(name):
    step = STEPS[name]
    kwargs = {"momentum": 0.9} if name == "sgd" else {}
    _, state = step(W, G, **kwargs)
    fn = f"{name}_step"
    with pytest.raises(TypeError, match=f"state must be None or the dict returned by the previous {fn} call; "
                                        f"got list"):
        step(W, G, [state], **kwargs)
    without_step = {k: v for k, v in state.items() if k != "step"}
    with pytest.raises(ValueError, match=f"state has no 'step' entry. Pass the state returned by the previous "
                                         f"{fn} call with the same hyperparameters and parameters, or "
                                         f"state=None for the first step"):
        step(W, G, without_step, **kwargs)
    with pytest.raises(ValueError, match=r"state\['step'\] must be an int >= 1; got 0"):
        step(W, G, {**state, "step": 0}, **kwargs)
    with pytest.raises(TypeError, match=r"state\['step'\] must be an int; got 1\.0"):
        step(W, G, {**state, "step": 1.0}, **kwargs)
    buffer = sorted(set(state) - {"step"})[0]
    with pytest.raises(ValueError, match=rf"state\['{buffer}'\]\['w'\] must have the shape of params\['w'\], "
                                         rf"\(2,\); got \(3,\)\. Pass the state returned by the previous {fn}"):
        step(W, G, {**state, buffer: {"w": np.zeros(3)}}, **kwargs)
    with pytest.raises(ValueError, match=rf"state\['{buffer}'\] must have the same keys as params, \['w'\]; "
                                         rf"missing \['w'\], unexpected \['v'\]"):
        step(W, G, {**state, buffer: {"v": np.zeros(2)}}, **kwargs)
    with pytest.raises(TypeError, match=rf"state\['{buffer}'\] must be a dict mapping parameter names"):
        step(W, G, {**state, buffer: np.zeros(2)}, **kwargs)


def test_a_state_from_other_hyperparameters_names_the_missing_buffer():
    _, state = O.adam_step(W, G)
    with pytest.raises(ValueError, match=r"state has no 'max_exp_avg_sq' buffer, which these hyperparameters "
                                         r"need; it has \['exp_avg', 'exp_avg_sq', 'step'\]"):
        O.adam_step(W, G, state, amsgrad=True)
    _, state = O.sgd_step(W, G)
    with pytest.raises(ValueError, match=r"state has no 'momentum_buffer' buffer.*it has \['step'\]"):
        O.sgd_step(W, G, state, momentum=0.9)
    _, state = O.rmsprop_step(W, G)
    with pytest.raises(ValueError, match="state has no 'grad_avg' buffer"):
        O.rmsprop_step(W, G, state, centered=True)


@pytest.mark.parametrize("name", sorted(STEPS))
def test_common_hyperparameters_are_checked(name):
    step = STEPS[name]
    with pytest.raises(ValueError, match=r"lr must be in \[0\.0, inf\]; got -1\.0"):
        step(W, G, lr=-1.0)
    with pytest.raises(TypeError, match="lr must be a real number; got '0.1'"):
        step(W, G, lr="0.1")
    with pytest.raises(ValueError, match=r"weight_decay must be in \[0\.0, inf\]; got -0\.1"):
        step(W, G, weight_decay=-0.1)
    if name != "sgd":
        with pytest.raises(ValueError, match=r"eps must be in \[0\.0, inf\]; got -1e-08"):
            step(W, G, eps=-1e-8)


def test_sgd_hyperparameters_are_checked():
    with pytest.raises(ValueError, match=r"momentum must be in \[0\.0, 1\.0\]; got 1\.5"):
        O.sgd_step(W, G, momentum=1.5)
    with pytest.raises(ValueError, match=r"dampening must be in \[0\.0, 1\.0\]; got -0\.1"):
        O.sgd_step(W, G, momentum=0.9, dampening=-0.1)
    with pytest.raises(ValueError, match=r"nesterov=True needs momentum > 0 and dampening == 0, as in "
                                         r"torch\.optim\.SGD; got momentum=0\.0, dampening=0\.0\. Set momentum "
                                         r"\(e\.g\. 0\.9\) and dampening=0, or nesterov=False"):
        O.sgd_step(W, G, nesterov=True)
    with pytest.raises(ValueError, match=r"nesterov=True needs .* got momentum=0\.9, dampening=0\.1"):
        O.sgd_step(W, G, momentum=0.9, dampening=0.1, nesterov=True)
    with pytest.raises(TypeError, match="nesterov must be True or False; got 'yes' of type str"):
        O.sgd_step(W, G, momentum=0.9, nesterov="yes")


def test_adagrad_hyperparameters_are_checked():
    with pytest.raises(ValueError, match=r"lr_decay must be in \[0\.0, inf\]; got -0\.5"):
        O.adagrad_step(W, G, lr_decay=-0.5)
    with pytest.raises(ValueError, match=r"initial_accumulator_value must be in \[0\.0, inf\]; got -1\.0"):
        O.adagrad_step(W, G, initial_accumulator_value=-1.0)


def test_rmsprop_hyperparameters_are_checked():
    with pytest.raises(ValueError, match=r"alpha must be in \[0\.0, 1\.0\]; got 1\.5"):
        O.rmsprop_step(W, G, alpha=1.5)
    with pytest.raises(ValueError, match=r"momentum must be in \[0\.0, 1\.0\]; got -0\.9"):
        O.rmsprop_step(W, G, momentum=-0.9)
    with pytest.raises(TypeError, match="centered must be True or False; got 'no'"):
        O.rmsprop_step(W, G, centered="no")


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_adam_hyperparameters_are_checked(name):
    step = STEPS[name]
    for betas in [(0.9,), 0.9, "ab", (0.9, 0.99, 0.999)]:
        with pytest.raises(ValueError, match=r"betas must be a pair \(beta1, beta2\) such as \(0\.9, 0\.999\); "
                                             rf"got {repr(betas).replace('(', '[(]').replace(')', '[)]')}"):
            step(W, G, betas=betas)
    with pytest.raises(ValueError, match=r"betas\[0\] must be in \[0\.0, 1\.0\); got 1\.0\. Typical values are "
                                         r"0\.9 for the first moment and 0\.999 for the second"):
        step(W, G, betas=(1.0, 0.999))
    with pytest.raises(ValueError, match=r"betas\[1\] must be in \[0\.0, 1\.0\); got 1\.5"):
        step(W, G, betas=(0.9, 1.5))
    with pytest.raises(ValueError, match=r"betas\[0\] must be in \[0\.0, 1\.0\); got -0\.1"):
        step(W, G, betas=(-0.1, 0.999))
    with pytest.raises(TypeError, match="betas\\[1\\] must be a real number; got None"):
        step(W, G, betas=(0.9, None))
    with pytest.raises(TypeError, match="amsgrad must be True or False; got 'True'"):
        step(W, G, amsgrad="True")


def test_schedule_arguments_are_checked():
    with pytest.raises(ValueError, match=r"epoch must be an int >= 0; got -1"):
        O.step_lr(0.1, -1, step_size=2)
    with pytest.raises(TypeError, match=r"epoch must be an int; got 1\.5 of type float"):
        O.exponential_lr(0.1, 1.5, gamma=0.9)
    with pytest.raises(ValueError, match=r"base_lr must be in \[0\.0, inf\]; got -0\.1"):
        O.cosine_annealing_lr(-0.1, 0, T_max=10)
    with pytest.raises(ValueError, match=r"step_size must be an int >= 1; got 0"):
        O.step_lr(0.1, 3, step_size=0)
    with pytest.raises(ValueError, match=r"gamma must be in \[0\.0, inf\]; got -0\.5"):
        O.step_lr(0.1, 3, step_size=2, gamma=-0.5)
    with pytest.raises(ValueError, match=r"gamma must be in \[0\.0, inf\]; got -0\.9"):
        O.exponential_lr(0.1, 3, gamma=-0.9)
    with pytest.raises(ValueError, match=r"T_max must be an int >= 1; got 0"):
        O.cosine_annealing_lr(0.1, 3, T_max=0)
    with pytest.raises(ValueError, match=r"eta_min must be in \[0\.0, inf\]; got -1\.0"):
        O.cosine_annealing_lr(0.1, 3, T_max=5, eta_min=-1.0)
    with pytest.raises(ValueError, match=r"start_factor must be in \(0\.0, 1\.0\]; got 0\.0"):
        O.linear_lr(0.1, 3, start_factor=0.0)
    with pytest.raises(ValueError, match=r"end_factor must be in \[0\.0, 1\.0\]; got 1\.5"):
        O.linear_lr(0.1, 3, end_factor=1.5)
    with pytest.raises(ValueError, match=r"total_iters must be an int >= 1; got 0"):
        O.linear_lr(0.1, 3, total_iters=0)


def test_clip_grad_norm_arguments_are_checked():
    with pytest.raises(ValueError, match=r"max_norm must be in \[0\.0, inf\]; got -1\.0"):
        O.clip_grad_norm(G, -1.0)
    with pytest.raises(ValueError, match=r"norm_type must be in \(0\.0, inf\]; got 0\.0"):
        O.clip_grad_norm(G, 1.0, norm_type=0)
    with pytest.raises(TypeError, match="norm_type must be a real number; got 'fro'"):
        O.clip_grad_norm(G, 1.0, norm_type="fro")
    with pytest.raises(TypeError, match="grads must be a dict mapping parameter names to arrays; got list"):
        O.clip_grad_norm([np.ones(2)], 1.0)
    with pytest.raises(ValueError, match=r"grads\['w'\] must not contain NaN or infinite values; found inf"):
        O.clip_grad_norm({"w": np.array([1.0, np.inf])}, 1.0)
