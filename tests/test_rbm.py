"""dlref.models.rbm: scikit-learn's BernoulliRBM as the oracle, exact enumeration, finite differences,
learning checks on the digits, and errors."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits as sklearn_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import BernoulliRBM
from sklearn.preprocessing import minmax_scale

from dlref.gradcheck import numerical_gradients, relative_error
from dlref.models.boltzmann import all_states
from dlref.models.rbm import (
    RBM, DeepBeliefNetwork, energy, exact_log_partition, free_energy, free_energy_backward,
    hidden_probabilities, visible_probabilities,
)
from dlref.optim import sgd_step


def _random_params(rng, n_visible, n_hidden, scale=1.0):
    return {"W": rng.normal(scale=scale, size=(n_hidden, n_visible)),
            "b_visible": rng.normal(scale=scale, size=n_visible),
            "b_hidden": rng.normal(scale=scale, size=n_hidden)}


def _sklearn_rbm(params) -> BernoulliRBM:
    """A BernoulliRBM holding the given weights (fitted on dummy data, then overwritten)."""
    n_hidden, n_visible = params["W"].shape
    sk = BernoulliRBM(n_components=n_hidden, n_iter=0, random_state=0).fit(np.zeros((2, n_visible)))
    sk.components_ = params["W"].copy()
    sk.intercept_visible_ = params["b_visible"].copy()
    sk.intercept_hidden_ = params["b_hidden"].copy()
    return sk


def _rbm_with(params) -> RBM:
    n_hidden, n_visible = params["W"].shape
    rbm = RBM(n_visible, n_hidden, rng=np.random.default_rng(0))
    rbm.params = params
    return rbm


# ---------------------------------------------------------------------------------------------------------
# The equations: scikit-learn and exact enumeration as oracles
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_free_energy_and_conditionals_equal_sklearn(binary, seed):
    rng = np.random.default_rng(seed)
    params = _random_params(rng, 9, 7, scale=2.0)
    v = rng.random((11, 9))
    if binary:
        v = (v < 0.5).astype(float)
    sk = _sklearn_rbm(params)
    np.testing.assert_allclose(free_energy(v, params), sk._free_energy(v), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(hidden_probabilities(v, params), sk.transform(v), rtol=1e-10, atol=1e-12)
    h = rng.random((11, 7))
    expected = 1.0 / (1.0 + np.exp(-(h @ params["W"] + params["b_visible"])))
    np.testing.assert_allclose(visible_probabilities(h, params), expected, rtol=1e-10, atol=1e-12)


def test_free_energy_sums_out_the_hidden_layer_exactly():
    rng = np.random.default_rng(0)
    params = _random_params(rng, 5, 4)
    v = (rng.random((6, 5)) < 0.5).astype(float)
    hidden = all_states(4)
    for row in v:
        energies = energy(np.repeat(row[None], len(hidden), axis=0), hidden, params)
        np.testing.assert_allclose(free_energy(row[None], params)[0], -np.logaddexp.reduce(-energies),
                                   rtol=1e-12)


def test_energy_is_the_bipartite_sum():
    rng = np.random.default_rng(1)
    params = _random_params(rng, 3, 2)
    v, h = np.array([[1.0, 0.0, 1.0]]), np.array([[0.0, 1.0]])
    expected = -(params["b_visible"][0] + params["b_visible"][2] + params["b_hidden"][1]
                 + params["W"][1, 0] + params["W"][1, 2])
    np.testing.assert_allclose(energy(v, h, params), [expected], rtol=1e-12)


@pytest.mark.parametrize("shape", [(4, 3), (3, 6)])
def test_exact_log_partition_equals_brute_force_over_every_pair(shape):
    n_visible, n_hidden = shape
    params = _random_params(np.random.default_rng(2), n_visible, n_hidden)
    visible, hidden = all_states(n_visible), all_states(n_hidden)
    v = np.repeat(visible, len(hidden), axis=0)
    h = np.tile(hidden, (len(visible), 1))
    brute = np.logaddexp.reduce(-energy(v, h, params))
    np.testing.assert_allclose(exact_log_partition(params), brute, rtol=1e-12)
    rbm = _rbm_with(params)
    np.testing.assert_allclose(np.logaddexp.reduce(rbm.exact_log_likelihood(visible)), 0.0, atol=1e-12)


def test_free_energy_backward_matches_finite_differences():
    rng = np.random.default_rng(3)
    params = _random_params(rng, 6, 5)
    v = rng.random((4, 6))
    dF = rng.normal(size=4)
    dv, grads = free_energy_backward(dF, v, params)
    numeric = numerical_gradients(lambda p: free_energy(v, p), dict(params), dF)
    for name in params:
        assert relative_error(grads[name], numeric[name]) < 1e-7, name
    [numeric_dv] = numerical_gradients(lambda x: free_energy(x, params), [v], dF)
    assert relative_error(dv, numeric_dv) < 1e-7


def test_pseudo_likelihood_equals_sklearn_score_samples():
    rng = np.random.default_rng(4)
    params = _random_params(rng, 8, 5)
    v = (rng.random((50, 8)) < 0.4).astype(float)
    sk = _sklearn_rbm(params)
    sk.random_state = 7
    # score_samples flips, in row n, the feature drawn by RandomState(random_state).randint(0, D, N)
    features = np.random.RandomState(7).randint(0, 8, 50)
    np.testing.assert_allclose(_rbm_with(params).pseudo_likelihood(v, features=features),
                               sk.score_samples(v), rtol=1e-10)


def test_exact_pseudo_likelihood_is_the_sum_of_sklearn_terms_over_all_features():
    rng = np.random.default_rng(5)
    params = _random_params(rng, 6, 4)
    v = rng.random((9, 6))
    sk = _sklearn_rbm(params)
    expected = np.zeros(9)
    for i in range(6):
        flipped = v.copy()
        flipped[:, i] = 1 - flipped[:, i]
        expected += -np.logaddexp(0, -(sk._free_energy(flipped) - sk._free_energy(v)))
    np.testing.assert_allclose(_rbm_with(params).pseudo_likelihood(v), expected, rtol=1e-10)


def test_exact_pseudo_likelihood_of_binary_data_is_a_sum_of_exact_conditionals():
    rng = np.random.default_rng(6)
    rbm = _rbm_with(_random_params(rng, 4, 3))
    p = np.exp(rbm.exact_log_likelihood(all_states(4)))  # p(v) of every state, by enumeration
    place = 2 ** np.arange(3, -1, -1)
    v = all_states(4)[[3, 10]]
    expected = np.zeros(2)
    for n, row in enumerate(v):
        for i in range(4):
            flipped = row.copy()
            flipped[i] = 1 - flipped[i]
            expected[n] += np.log(p[int(row @ place)] / (p[int(row @ place)] + p[int(flipped @ place)]))
    np.testing.assert_allclose(rbm.pseudo_likelihood(v), expected, rtol=1e-10)


# ---------------------------------------------------------------------------------------------------------
# Sampling and gradients against the exact distribution
# ---------------------------------------------------------------------------------------------------------

def test_block_gibbs_chain_samples_the_exact_distribution():
    params = _random_params(np.random.default_rng(8), 4, 3, scale=1.5)
    rbm = _rbm_with(params)
    exact = np.exp(rbm.exact_log_likelihood(all_states(4)))
    rng = np.random.default_rng(9)
    v = rbm.gibbs((rng.random((2000, 4)) < 0.5).astype(float), rng=rng, n_steps=20)
    counts = np.zeros(16)
    for _ in range(50):
        v = rbm.gibbs(v, rng=rng)
        counts += np.bincount(v.astype(int) @ (2 ** np.arange(3, -1, -1)), minlength=16)
    total_variation = 0.5 * np.abs(counts / counts.sum() - exact).sum()
    assert total_variation < 0.02


def _exact_nll_gradient(params, v):
    def mean_nll(p):
        return np.array(-np.mean(-free_energy(v, p) - exact_log_partition(p)))
    return numerical_gradients(mean_nll, {k: a.copy() for k, a in params.items()}, np.array(1.0))


@pytest.mark.parametrize("method", ["cd", "pcd"])
def test_long_chain_contrastive_divergence_estimates_the_exact_gradient(method):
    rng = np.random.default_rng(10)
    params = _random_params(rng, 4, 3, scale=0.7)
    data = (rng.random((4, 4)) < 0.5).astype(float)
    exact = _exact_nll_gradient(params, data)
    rbm = _rbm_with(params)
    batch = np.repeat(data, 5000, axis=0)
    if method == "pcd":  # let the persistent chains reach the model distribution first
        rbm.cd_gradients(batch, rng=rng, method="pcd", k=30)
    grads = rbm.cd_gradients(batch, rng=rng, method=method, k=30)
    for name in exact:
        np.testing.assert_allclose(grads[name], exact[name], atol=0.02, err_msg=name)


def test_cd1_is_biased_and_pcd_chains_persist():
    rng = np.random.default_rng(11)
    params = _random_params(rng, 4, 3, scale=2.0)
    data = np.array([[1.0, 1.0, 0.0, 0.0]])
    rbm = _rbm_with(params)
    exact = _exact_nll_gradient(params, data)
    cd1 = rbm.cd_gradients(np.repeat(data, 20000, axis=0), rng=rng, method="cd", k=1)
    assert np.abs(cd1["W"] - exact["W"]).max() > 0.05  # one step from the data has not mixed
    assert rbm.persistent_hidden is None
    states = []
    for _ in range(6):  # the chains start at h = 0 and carry their sampled state from call to call
        rbm.cd_gradients(np.repeat(data, 3, axis=0), rng=rng, method="pcd")
        states.append(rbm.persistent_hidden.copy())
    assert all(h.shape == (3, 3) and np.isin(h, (0.0, 1.0)).all() for h in states)
    assert states[0].any() and any(not np.array_equal(a, b) for a, b in zip(states, states[1:]))


# ---------------------------------------------------------------------------------------------------------
# Learning checks
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["cd", "pcd"])
def test_training_raises_the_exact_log_likelihood_of_a_small_rbm(method):
    rng = np.random.default_rng(12)
    prototypes = np.array([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]], dtype=float)
    flips = rng.random((400, 6)) < 0.05
    data = np.abs(prototypes[rng.integers(0, 2, 400)] - flips)
    rbm = RBM(6, 4, rng=np.random.default_rng(0))
    before = rbm.exact_log_likelihood(data).mean()
    rbm.fit(data, epochs=30, batch_size=20, rng=np.random.default_rng(1), method=method,
            optimizer_kwargs={"lr": 0.1})
    after = rbm.exact_log_likelihood(data).mean()
    # Six fair coins cost 6 ln 2 = 4.16 nats; the data's entropy is ln 2 + 6 H(0.05) = 1.88 nats.
    assert before < -4.1 and after > -2.3


@pytest.mark.parametrize("method, k", [("cd", 1), ("pcd", 2)])
def test_fit_is_the_loop_of_public_gradient_and_optimizer_steps(method, k):
    # fit runs unchecked kernels and trusted optimizer steps; they must compute what the public calls do
    data = (np.random.default_rng(14).random((23, 6)) < 0.4).astype(float)
    settings = {"lr": 0.1, "momentum": 0.5}
    fitted, by_hand = RBM(6, 4, rng=np.random.default_rng(0)), RBM(6, 4, rng=np.random.default_rng(0))
    fitted.fit(data, epochs=2, batch_size=5, rng=np.random.default_rng(1), method=method, k=k, shuffle=False,
               optimizer=sgd_step, optimizer_kwargs=settings)
    rng, state = np.random.default_rng(1), None
    for _ in range(2):
        for first in range(0, len(data), 5):
            grads = by_hand.cd_gradients(data[first:first + 5], rng=rng, method=method, k=k)
            by_hand.params, state = sgd_step(by_hand.params, grads, state, **settings)
    for name in ("W", "b_visible", "b_hidden"):
        np.testing.assert_array_equal(fitted.params[name], by_hand.params[name], err_msg=name)


def nudged_digits():
    """scikit-learn's RBM example data: every digit and its four one-pixel shifts, scaled to [0, 1]."""
    X, y = sklearn_digits(return_X_y=True)
    images = X.reshape(-1, 8, 8).astype(np.float32)
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    shifts = [padded[:, 2:, 1:-1], padded[:, 1:-1, 2:], padded[:, 1:-1, :-2], padded[:, :-2, 1:-1]]
    X = np.concatenate([images] + shifts).reshape(-1, 64)
    X = minmax_scale(X, feature_range=(0, 1))
    return train_test_split(X, np.tile(y, 5), test_size=0.2, random_state=0)


@pytest.fixture(scope="module")
def nudged():
    return nudged_digits()


def test_nudged_digits_match_sklearn_example_convolution(nudged):
    from scipy.ndimage import convolve

    X, _ = sklearn_digits(return_X_y=True)
    image = X[5].reshape(8, 8)
    kernels = [[[0, 1, 0], [0, 0, 0], [0, 0, 0]], [[0, 0, 0], [1, 0, 0], [0, 0, 0]],
               [[0, 0, 0], [0, 0, 1], [0, 0, 0]], [[0, 0, 0], [0, 0, 0], [0, 1, 0]]]
    padded = np.pad(image, 1)
    ours = [padded[2:, 1:-1], padded[1:-1, 2:], padded[1:-1, :-2], padded[:-2, 1:-1]]
    for kernel, shifted in zip(kernels, ours):
        np.testing.assert_array_equal(convolve(image, np.array(kernel), mode="constant"), shifted)
    X_train, X_test, _, _ = nudged
    assert X_train.shape == (7188, 64) and X_test.shape == (1797, 64)


@pytest.fixture(scope="module")
def example_rbms(nudged):
    """Ours and scikit-learn's, both trained with the example's settings: PCD-1, lr 0.06, 100 hidden
    units, 10 epochs, batches of 10 in the data's order.

    Over five seeds of ours (initialisation 0-4 with sampling 10-14), the feature + logistic-regression
    accuracy of the tests below ranged from 0.940 to 0.947 (scikit-learn's own RBM, random_state=0: 0.943);
    the seed here gives 0.947."""
    X_train = nudged[0]
    sk = BernoulliRBM(n_components=100, learning_rate=0.06, n_iter=10, batch_size=10,
                      random_state=0).fit(X_train)
    ours = RBM(64, 100, rng=np.random.default_rng(2))
    ours.fit(X_train, epochs=10, batch_size=10, rng=np.random.default_rng(12), method="pcd", shuffle=False,
             optimizer_kwargs={"lr": 0.06})
    return ours, sk


def test_pseudo_likelihood_within_one_nat_of_sklearn(nudged, example_rbms):
    X_test = nudged[1].astype(np.float64)
    ours, sk = example_rbms
    sk_as_ours = _rbm_with({"W": sk.components_.astype(np.float64),
                            "b_visible": sk.intercept_visible_.astype(np.float64),
                            "b_hidden": sk.intercept_hidden_.astype(np.float64)})
    ours_pl = ours.pseudo_likelihood(X_test).mean()
    sk_pl = sk_as_ours.pseudo_likelihood(X_test).mean()
    assert abs(ours_pl - sk_pl) < 1.0
    # scikit-learn's own one-feature estimate agrees with the exact sum on its model, to its noise
    assert abs(sk.score_samples(X_test).mean() - sk_pl) < 1.0
    assert -25 < ours_pl < -15


def test_rbm_features_beat_raw_pixels_with_logistic_regression(nudged, example_rbms):
    X_train, X_test, y_train, y_test = nudged
    ours, _ = example_rbms
    features = LogisticRegression(solver="newton-cg", tol=1e-4, C=6000.0)
    features.fit(ours.transform(X_train), y_train)
    rbm_accuracy = features.score(ours.transform(X_test), y_test)
    raw = LogisticRegression(solver="newton-cg", tol=1e-4, C=100.0).fit(X_train, y_train)
    raw_accuracy = raw.score(X_test, y_test)
    assert rbm_accuracy >= 0.94
    assert 0.75 <= raw_accuracy <= 0.81


def test_published_tol_1_stops_logistic_regression_before_its_first_iteration(nudged, example_rbms):
    X_train, X_test, y_train, y_test = nudged
    ours, _ = example_rbms
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        published = LogisticRegression(solver="newton-cg", tol=1, C=6000.0).fit(ours.transform(X_train), y_train)
    assert published.n_iter_.max() == 0
    assert published.score(ours.transform(X_test), y_test) < 0.15


def test_deep_belief_network_is_trained_greedily():
    data = (np.random.default_rng(13).random((60, 8)) < 0.3).astype(float)
    dbn = DeepBeliefNetwork((8, 6, 3), rng=np.random.default_rng(0))
    dbn.fit(data, epochs=3, batch_size=10, rng=np.random.default_rng(1), method="cd")
    # the same greedy procedure by hand: the second RBM learns the first one's features
    rng_init = np.random.default_rng(0)
    first, second = RBM(8, 6, rng=rng_init), RBM(6, 3, rng=rng_init)
    rng = np.random.default_rng(1)
    first.fit(data, epochs=3, batch_size=10, rng=rng, method="cd")
    second.fit(first.transform(data), epochs=3, batch_size=10, rng=rng, method="cd")
    for ours, expected in zip(dbn.rbms, (first, second)):
        for name in ("W", "b_visible", "b_hidden"):
            np.testing.assert_array_equal(ours.params[name], expected.params[name])
    np.testing.assert_array_equal(dbn.transform(data), second.transform(first.transform(data)))
    samples = dbn.sample(data[:5], rng=np.random.default_rng(2), n_steps=3)
    assert samples.shape == (5, 8) and np.all((samples > 0) & (samples < 1))


def test_float32_is_kept():
    rbm = RBM(5, 3, rng=np.random.default_rng(0), dtype=np.float32)
    v = (np.random.default_rng(1).random((20, 5)) < 0.5).astype(np.float32)
    rbm.fit(v, epochs=2, batch_size=5, rng=np.random.default_rng(2))
    assert all(p.dtype == np.float32 for p in rbm.params.values())
    assert rbm.free_energy(v).dtype == np.float32 and rbm.transform(v).dtype == np.float32
    assert rbm.gibbs(v, rng=np.random.default_rng(3)).dtype == np.float32


# ---------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------

def test_bad_inputs_are_rejected_with_clear_messages():
    rng = np.random.default_rng(0)
    params = _random_params(rng, 3, 2)
    rbm = _rbm_with(params)
    with pytest.raises(ValueError, match=r"v must hold binary states or probabilities in \[0, 1\]; got 16"):
        free_energy(np.array([[0.0, 16.0, 1.0]]), params)
    with pytest.raises(ValueError, match=r"v must have shape \(N, 3\), one row of visible values"):
        rbm.transform(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"params must be a dict with keys \['W', 'b_visible', 'b_hidden'\]"):
        free_energy(np.zeros((1, 3)), {"W": params["W"]})
    with pytest.raises(ValueError, match=r"params\['b_visible'\] must have shape \(n_visible,\) = \(3,\)"):
        free_energy(np.zeros((1, 3)), {**params, "b_visible": np.zeros(2)})
    with pytest.raises(ValueError, match=r"params\['W'\] must be 2-D with shape \(n_hidden, n_visible\)"):
        free_energy(np.zeros((1, 3)), {**params, "W": np.zeros(3)})
    with pytest.raises(ValueError, match=r"params\['W'\] must keep the shape \(2, 3\)"):
        rbm.params = _random_params(rng, 3, 4)
    with pytest.raises(ValueError, match=r"dF must have shape \(N,\) = \(1,\)"):
        free_energy_backward(np.ones(2), np.zeros((1, 3)), params)
    with pytest.raises(ValueError, match=r"h must have one row per row of v, 1; got 2"):
        energy(np.zeros((1, 3)), np.zeros((2, 2)), params)
    with pytest.raises(ValueError, match="method must be one of 'cd', 'pcd'; got 'cd1'"):
        rbm.fit(np.zeros((4, 3)), epochs=1, batch_size=2, rng=rng, method="cd1")
    with pytest.raises(ValueError, match=r"k must be an int >= 1; got 0"):
        rbm.cd_gradients(np.zeros((4, 3)), rng=rng, k=0)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        rbm.gibbs(np.zeros((1, 3)), rng=0)
    with pytest.raises(ValueError, match=r"features must hold one integer feature index in \[0, 3\) per row"):
        rbm.pseudo_likelihood(np.zeros((2, 3)), features=np.array([0, 3]))
    with pytest.raises(ValueError, match="exact enumeration visits 2\\*\\*n_units states; n_units = 21"):
        exact_log_partition(_random_params(rng, 21, 22))
    with pytest.raises(ValueError, match=r"layer_sizes must list the data size and at least two hidden layers"):
        DeepBeliefNetwork((4, 2), rng=rng)
    with pytest.raises(ValueError, match=r"n_hidden must be an int >= 1; got 0"):
        RBM(3, 0, rng=rng)
