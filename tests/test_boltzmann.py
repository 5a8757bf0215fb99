"""dlref.models.boltzmann: Gibbs sampling against exact enumeration, the learning rule against finite
differences of the exact log-likelihood, learning checks, and errors."""

import itertools

import numpy as np
import pytest

from dlref.gradcheck import numerical_gradients, relative_error
from dlref.models.boltzmann import (
    BoltzmannMachine, all_states, correlations, energy, gibbs_sweep, state_indices,
)
from dlref.models.rbm import RBM
from dlref.optim import adam_step


def _random_machine(n_visible, n_hidden, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    bm = BoltzmannMachine(n_visible, n_hidden, rng=rng, weight_std=scale)
    bm.params["b"] = rng.normal(scale=scale, size=bm.n_units)
    return bm


def _brute_force_probabilities(W, b, temperature):
    """exp(-E/T) / Z with the energy written as a double loop over connections."""
    n = len(b)
    weights = []
    for state in itertools.product((0, 1), repeat=n):
        e = -sum(W[i, j] * state[i] * state[j] for i in range(n) for j in range(i + 1, n))
        e -= sum(b[i] * state[i] for i in range(n))
        weights.append(np.exp(-e / temperature))
    return np.array(weights) / sum(weights)


def test_energy_counts_each_connection_once():
    bm = _random_machine(3, 1, seed=0)
    W, b = bm.params["W"], bm.params["b"]
    s = np.array([[1.0, 0.0, 1.0, 1.0]])
    expected = -(W[0, 2] + W[0, 3] + W[2, 3]) - (b[0] + b[2] + b[3])
    np.testing.assert_allclose(bm.energy(s), [expected], rtol=1e-12)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 3.0])
def test_exact_distribution_equals_brute_force_enumeration(temperature):
    bm = _random_machine(3, 2, seed=1)
    np.testing.assert_allclose(bm.exact_distribution(temperature),
                               _brute_force_probabilities(bm.params["W"], bm.params["b"], temperature),
                               rtol=1e-12)


def test_all_states_and_state_indices_invert_each_other():
    states = all_states(4)
    assert states.shape == (16, 4)
    np.testing.assert_array_equal(state_indices(states), np.arange(16))
    np.testing.assert_array_equal(states[5], [0, 1, 0, 1])


def _sampled_frequencies(bm, rng, temperature, n_chains=1000, burn_in=50, n_records=100):
    s = bm.gibbs((rng.random((n_chains, bm.n_units)) < 0.5).astype(float), rng=rng, n_sweeps=burn_in,
                 temperature=temperature)
    counts = np.zeros(2**bm.n_units)
    for _ in range(n_records):
        s = bm.gibbs(s, rng=rng, temperature=temperature)
        counts += np.bincount(state_indices(s), minlength=len(counts))
    return counts / counts.sum()


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_gibbs_sampling_matches_the_exact_boltzmann_distribution(temperature):
    bm = _random_machine(5, 0, seed=2)
    exact = _brute_force_probabilities(bm.params["W"], bm.params["b"], temperature)
    frequencies = _sampled_frequencies(bm, np.random.default_rng(3), temperature)
    assert 0.5 * np.abs(frequencies - exact).sum() < 0.02


def test_a_wrong_temperature_is_detected():
    bm = _random_machine(5, 0, seed=2)
    frequencies = _sampled_frequencies(bm, np.random.default_rng(3), temperature=1.0)
    wrong = _brute_force_probabilities(bm.params["W"], bm.params["b"], 1.3)
    assert 0.5 * np.abs(frequencies - wrong).sum() > 0.04


def test_clamped_sampling_draws_hidden_units_from_their_exact_conditional():
    bm = _random_machine(3, 2, seed=4)
    v = np.array([1.0, 0.0, 1.0])
    rng = np.random.default_rng(5)
    s = np.concatenate([np.tile(v, (4000, 1)), np.zeros((4000, 2))], axis=1)
    s = bm.gibbs(s, rng=rng, n_sweeps=20, clamp_visible=True)
    np.testing.assert_array_equal(s[:, :3], np.tile(v, (4000, 1)))
    first = 4 * state_indices(v[None])[0]  # the 4 full states whose visible part is v, in order
    joint = bm.exact_distribution()[first:first + 4]
    conditional = joint / joint.sum()
    frequencies = np.bincount(state_indices(s[:, 3:]), minlength=4) / 4000
    assert 0.5 * np.abs(frequencies - conditional).sum() < 0.03


def _exact_nll_gradient(bm, v):
    """Finite differences of the exact mean negative log-likelihood, one parameter per connection."""
    n = bm.n_units
    upper = np.triu_indices(n, 1)
    weights = {"w": bm.params["W"][upper].copy(), "b": bm.params["b"].copy()}

    def mean_nll(p):
        W = np.zeros((n, n))
        W[upper] = p["w"]
        machine = BoltzmannMachine(bm.n_visible, bm.n_hidden, rng=np.random.default_rng(0))
        machine.params = {"W": W + W.T, "b": p["b"]}
        return np.array(-machine.exact_log_likelihood(v))

    numeric = numerical_gradients(mean_nll, weights, np.array(1.0))
    return numeric, upper


@pytest.mark.parametrize("n_hidden", [0, 2])
def test_exact_learning_rule_equals_finite_differences_of_the_log_likelihood(n_hidden):
    bm = _random_machine(3, n_hidden, seed=6)
    v = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    numeric, upper = _exact_nll_gradient(bm, v)
    grads = bm.exact_gradients(v)
    assert relative_error(grads["W"][upper], numeric["w"]) < 1e-7
    assert relative_error(grads["b"], numeric["b"]) < 1e-7
    np.testing.assert_array_equal(grads["W"], grads["W"].T)
    np.testing.assert_array_equal(np.diagonal(grads["W"]), 0.0)


def test_sampled_learning_rule_estimates_the_exact_gradient():
    bm = _random_machine(3, 2, seed=7)
    v = np.repeat(np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]), 5000, axis=0)
    exact = bm.exact_gradients(v)
    sampled = bm.learning_gradients(v, rng=np.random.default_rng(8), n_sweeps=30, n_chains=20000)
    np.testing.assert_allclose(sampled["W"], exact["W"], atol=0.02)
    np.testing.assert_allclose(sampled["b"], exact["b"], atol=0.02)


def test_correlations_with_weights_are_expectations():
    states = np.array([[1.0, 1.0], [0.0, 1.0]])
    pairwise, mean = correlations(states, weights=np.array([3.0, 1.0]))
    np.testing.assert_allclose(pairwise, [[0.75, 0.75], [0.75, 1.0]])
    np.testing.assert_allclose(mean, [0.75, 1.0])


def test_restricted_machine_is_a_boltzmann_machine_with_bipartite_weights():
    rbm = RBM(3, 2, rng=np.random.default_rng(9), weight_std=1.0)
    rbm.b_visible = np.array([0.3, -0.2, 0.1])
    rbm.b_hidden = np.array([-0.4, 0.5])
    bm = BoltzmannMachine(3, 2, rng=np.random.default_rng(0))
    W = np.zeros((5, 5))
    W[3:, :3] = rbm.W
    W[:3, 3:] = rbm.W.T
    bm.params = {"W": W, "b": np.concatenate([rbm.b_visible, rbm.b_hidden])}
    visible = all_states(3)
    np.testing.assert_allclose(bm.exact_visible_distribution(), np.exp(rbm.exact_log_likelihood(visible)),
                               rtol=1e-12)


def test_hidden_units_let_a_boltzmann_machine_learn_parity():
    """Three-bit parity has no pairwise correlations, so a fully visible machine can do no better than
    uniform over all 8 states (log p = -ln 8); with hidden units it approaches uniform over the 4 even
    states (-ln 4)."""
    data = all_states(3)[all_states(3).sum(axis=1) % 2 == 0]
    results = {}
    for n_hidden in (0, 2):
        bm = BoltzmannMachine(3, n_hidden, rng=np.random.default_rng(0), weight_std=1.0)
        history = bm.fit(data, epochs=300, rng=np.random.default_rng(1), exact=True, optimizer=adam_step,
                         optimizer_kwargs={"lr": 0.1})
        results[n_hidden] = history["log_likelihood"][-1]
        np.testing.assert_array_equal(bm.params["W"], bm.params["W"].T)
    assert abs(results[0] - np.log(1 / 8)) < 1e-3
    assert results[2] > -1.45


def test_sampled_learning_fits_a_fully_visible_teacher():
    teacher = _random_machine(4, 0, seed=10, scale=1.5)
    rng = np.random.default_rng(11)
    data = all_states(4)[rng.choice(16, size=2000, p=teacher.exact_distribution())]
    student = BoltzmannMachine(4, rng=np.random.default_rng(12))
    history = student.fit(data, epochs=200, rng=rng, n_sweeps=1, n_chains=500, optimizer=adam_step,
                          optimizer_kwargs={"lr": 0.05})
    frequencies = np.bincount(state_indices(data), minlength=16) / len(data)
    best = float(np.sum(frequencies[frequencies > 0] * np.log(frequencies[frequencies > 0])))
    assert history["log_likelihood"][0] < best - 0.3
    assert history["log_likelihood"][-1] > best - 0.02


def test_float32_is_kept():
    bm = BoltzmannMachine(3, 1, rng=np.random.default_rng(0), dtype=np.float32)
    s = np.ones((5, 4), dtype=np.float32)
    assert bm.gibbs(s, rng=np.random.default_rng(1)).dtype == np.float32
    bm.fit(s[:, :3], epochs=2, rng=np.random.default_rng(2), optimizer_kwargs={"lr": 0.1})
    assert bm.params["W"].dtype == np.float32 and bm.params["b"].dtype == np.float32


def test_bad_inputs_are_rejected_with_clear_messages():
    rng = np.random.default_rng(0)
    W, b = np.array([[0.0, 1.0], [1.0, 0.0]]), np.zeros(2)
    with pytest.raises(ValueError, match=r"W must be symmetric, W\[i, j\] == W\[j, i\]"):
        energy(np.ones((1, 2)), np.array([[0.0, 1.0], [2.0, 0.0]]), b)
    with pytest.raises(ValueError, match="W must have a zero diagonal"):
        energy(np.ones((1, 2)), np.eye(2), b)
    with pytest.raises(ValueError, match=r"W must be a square \(n_units, n_units\) matrix"):
        energy(np.ones((1, 2)), np.zeros((2, 3)), b)
    with pytest.raises(ValueError, match=r"b must have shape \(n_units,\) = \(2,\)"):
        energy(np.ones((1, 2)), W, np.zeros(3))
    with pytest.raises(ValueError, match=r"states must hold binary unit states, 0 or 1; got 0.5"):
        energy(np.array([[0.5, 1.0]]), W, b)
    with pytest.raises(ValueError, match=r"states must have shape \(N, 2\)"):
        energy(np.ones(2), W, b)
    with pytest.raises(ValueError, match=r"temperature must be in \(0.0, inf\]; got 0.0"):
        gibbs_sweep(np.ones((1, 2)), W, b, rng=rng, temperature=0.0)
    with pytest.raises(ValueError, match=r"clamped must be a boolean mask of shape \(2,\)"):
        gibbs_sweep(np.ones((1, 2)), W, b, rng=rng, clamped=np.array([1, 0]))
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        gibbs_sweep(np.ones((1, 2)), W, b, rng=1)
    with pytest.raises(ValueError, match="weights must be non-negative with shape \\(2,\\)"):
        correlations(np.ones((2, 2)), weights=np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="n_units = 21 is above the limit of 20"):
        BoltzmannMachine(21, rng=rng).exact_distribution()
    with pytest.raises(ValueError, match=r"v must have shape \(N, 3\)"):
        BoltzmannMachine(3, rng=rng).exact_log_likelihood(np.ones((2, 4)))
    with pytest.raises(ValueError, match="n_visible must be an int >= 1; got 0"):
        BoltzmannMachine(0, rng=rng)
