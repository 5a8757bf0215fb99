"""dlref.data: shapes, dtypes, balance, determinism and geometry of the toys; the digits split; minibatches."""

import math
import sys

import numpy as np
import pytest

from dlref import data as D

# name -> a call with a fixed size, taking the rng and keyword arguments
TOYS = {
    "xor": lambda rng, **kw: D.xor(101, rng, **kw),
    "two_moons": lambda rng, **kw: D.two_moons(101, rng, **kw),
    "spiral": lambda rng, **kw: D.spiral(34, 3, rng, **kw),
}


@pytest.mark.parametrize("name", sorted(TOYS))
def test_toys_have_the_promised_shapes_dtypes_and_balance(name):
    X, y = TOYS[name](np.random.default_rng(0))
    n = len(y)
    assert X.shape == (n, 2) and X.dtype == np.float64
    assert y.shape == (n,) and y.dtype == np.int64
    counts = np.bincount(y)
    assert counts.max() - counts.min() <= 1
    assert n == (102 if name == "spiral" else 101)


@pytest.mark.parametrize("name", sorted(TOYS))
def test_toys_are_deterministic_for_a_seed_and_shuffled(name):
    X0, y0 = TOYS[name](np.random.default_rng(5))
    X1, y1 = TOYS[name](np.random.default_rng(5))
    X2, _ = TOYS[name](np.random.default_rng(6))
    np.testing.assert_array_equal(X0, X1)
    np.testing.assert_array_equal(y0, y1)
    assert not np.array_equal(X0, X2)
    # Shuffled: the first ten examples already hold more than one class.
    assert len(np.unique(y0[:10])) > 1


def test_xor_points_sit_on_the_corners_with_the_xor_label():
    X, y = D.xor(400, np.random.default_rng(0), noise=0.0)
    assert set(map(tuple, X)) == {(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)}
    np.testing.assert_array_equal(y, (X[:, 0] != X[:, 1]).astype(np.int64))
    np.testing.assert_array_equal(np.unique(X, axis=0, return_counts=True)[1], [100, 100, 100, 100])


def test_xor_labels_follow_the_sign_rule_around_the_centre():
    # With noise 0.1 no point crosses the square's midlines (that is a 5-sigma event).
    X, y = D.xor(1000, np.random.default_rng(1), noise=0.1)
    np.testing.assert_array_equal(y, ((X[:, 0] - 0.5) * (X[:, 1] - 0.5) < 0).astype(np.int64))
    assert np.std(X[:, 0] - np.round(X[:, 0])) == pytest.approx(0.1, rel=0.1)


def test_two_moons_without_noise_lie_on_their_half_circles():
    X, y = D.two_moons(101, np.random.default_rng(0), noise=0.0)
    upper, lower = X[y == 0], X[y == 1]
    assert len(upper) == 51 and len(lower) == 50
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, atol=1e-12)
    assert (upper[:, 1] >= 0).all()
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0, atol=1e-12)
    assert (lower[:, 1] <= 0.5).all()
    # Both moons run from tip to tip: x spans [-1, 1] above and [0, 2] below.
    np.testing.assert_allclose([upper[:, 0].min(), upper[:, 0].max()], [-1.0, 1.0], atol=1e-12)
    np.testing.assert_allclose([lower[:, 0].min(), lower[:, 0].max()], [0.0, 2.0], atol=1e-12)


def test_two_moons_noise_is_gaussian_of_the_given_std():
    X, y = D.two_moons(20000, np.random.default_rng(0), noise=0.05)
    distance = np.hypot(X[y == 0, 0], X[y == 0, 1]) - 1.0
    assert abs(distance.mean()) < 0.005
    assert distance.std() == pytest.approx(0.05, rel=0.1)


def test_spiral_without_noise_follows_the_arms():
    X, y = D.spiral(50, 3, np.random.default_rng(0), noise=0.0)
    r = np.hypot(X[:, 0], X[:, 1])
    theta = 4.0 * (y + r)
    np.testing.assert_allclose(X, np.column_stack([r * np.sin(theta), r * np.cos(theta)]), atol=1e-12)


def test_spiral_radii_are_evenly_spaced_and_noise_moves_only_the_angle():
    X, y = D.spiral(60, 4, np.random.default_rng(0), noise=0.2)
    r = np.hypot(X[:, 0], X[:, 1])
    for label in range(4):
        np.testing.assert_allclose(np.sort(r[y == label]), np.linspace(0, 1, 60), atol=1e-12)
    # The angle error, wrapped to (-pi, pi], has the given std.
    error = np.angle(np.exp(1j * (np.arctan2(X[:, 0], X[:, 1]) - 4.0 * (y + r))))
    assert error[r > 0].std() == pytest.approx(0.2, rel=0.15)


def test_ring_centres_are_evenly_spaced_on_the_circle():
    centres = D.ring_centres(8, 2.0)
    assert centres.shape == (8, 2) and centres.dtype == np.float64
    np.testing.assert_allclose(np.hypot(centres[:, 0], centres[:, 1]), 2.0, rtol=1e-15)
    np.testing.assert_allclose(centres[0], [2.0, 0.0])
    angles = np.arctan2(centres[:, 1], centres[:, 0]) % (2 * math.pi)
    np.testing.assert_allclose(np.diff(angles), 2 * math.pi / 8, rtol=1e-12)


def test_ring_samples_stay_close_to_the_centres_and_cover_every_mode():
    std = 0.02
    X = D.ring_of_gaussians(8000, np.random.default_rng(0), n_modes=8, radius=2.0, std=std)
    assert X.shape == (8000, 2) and X.dtype == np.float64
    gaps = X[:, None, :] - D.ring_centres(8, 2.0)[None]
    nearest = np.linalg.norm(gaps, axis=2).argmin(axis=1)
    offsets = X - D.ring_centres(8, 2.0)[nearest]
    # 6 standard deviations in 2-D: exceeded with probability exp(-18).
    assert np.linalg.norm(offsets, axis=1).max() < 6 * std
    assert offsets.std(axis=0) == pytest.approx([std, std], rel=0.05)
    counts = np.bincount(nearest, minlength=8)
    assert counts.min() > 850 and counts.max() < 1150  # 1000 +- 5 binomial standard deviations


def test_ring_of_gaussians_is_deterministic_for_a_seed():
    np.testing.assert_array_equal(D.ring_of_gaussians(50, np.random.default_rng(2)),
                                  D.ring_of_gaussians(50, np.random.default_rng(2)))


@pytest.fixture(scope="module")
def digits():
    return D.load_digits()


@pytest.fixture(scope="module")
def original_digits():
    from sklearn.datasets import load_digits
    return load_digits()


def test_digits_shapes_dtypes_and_pixel_range(digits):
    assert digits.X_train.shape == (1347, 64) and digits.X_test.shape == (450, 64)
    assert digits.y_train.shape == (1347,) and digits.y_test.shape == (450,)
    assert digits.X_train.dtype == digits.X_test.dtype == np.float64
    assert digits.y_train.dtype == digits.y_test.dtype == np.int64
    pixels = np.concatenate([digits.X_train, digits.X_test])
    assert pixels.min() == 0.0 and pixels.max() == 1.0
    np.testing.assert_array_equal(np.unique(pixels * 16), np.arange(17))


def test_digits_split_is_disjoint_and_covers_every_image_once(digits, original_digits):
    # The 1797 images are distinct, so each row identifies its image.
    index = {row.tobytes(): i for i, row in enumerate(original_digits.data / 16.0)}
    train = [index[row.tobytes()] for row in digits.X_train]
    test = [index[row.tobytes()] for row in digits.X_test]
    assert len(set(train)) == len(train) and len(set(test)) == len(test)
    assert not set(train) & set(test)
    assert sorted(train + test) == list(range(1797))
    np.testing.assert_array_equal(digits.y_train, original_digits.target[train])
    np.testing.assert_array_equal(digits.y_test, original_digits.target[test])


@pytest.mark.parametrize("test_fraction", [0.25, 0.1, 0.5, 0.9])
def test_digits_split_is_stratified(test_fraction, original_digits):
    split = D.load_digits(test_fraction=test_fraction)
    class_sizes = np.bincount(original_digits.target)
    test_sizes = np.bincount(split.y_test, minlength=10)
    assert len(split.y_train) + len(split.y_test) == 1797
    assert (np.abs(test_sizes - test_fraction * class_sizes) <= 1).all()
    np.testing.assert_array_equal(np.bincount(split.y_train, minlength=10), class_sizes - test_sizes)


def test_digits_extreme_fraction_keeps_every_class_on_both_sides():
    split = D.load_digits(test_fraction=0.001)
    assert set(split.y_test) == set(split.y_train) == set(range(10))


def test_digits_split_is_deterministic_for_a_seed_and_shuffled(digits):
    again = D.load_digits(seed=0)
    other = D.load_digits(seed=1)
    for field in ("X_train", "y_train", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(digits, field), getattr(again, field))
    assert not np.array_equal(digits.y_train, other.y_train)
    assert len(np.unique(digits.y_train[:20])) > 3


def test_data_split_is_frozen(digits):
    with pytest.raises(AttributeError, match="cannot assign to field"):
        digits.X_train = None


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"test_fraction": 0.0}, ValueError, r"test_fraction must be in \(0, 1\), the share of each class held out "
                                         r"for testing; got 0.0"),
    ({"test_fraction": 1.0}, ValueError, r"test_fraction must be in \(0, 1\).*; got 1.0"),
    ({"test_fraction": "0.2"}, TypeError, "test_fraction must be a real number"),
    ({"seed": -1}, ValueError, "seed must be an int >= 0; got -1"),
    ({"seed": 1.5}, TypeError, "seed must be an int; got 1.5 of type float"),
])
def test_digits_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        D.load_digits(**kwargs)


def test_digits_without_scikit_learn_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="load_digits needs scikit-learn.*pip install scikit-learn"):
        D.load_digits()


def _epoch(N, batch_size, **kwargs):
    X = np.arange(N, dtype=np.float64)[:, None] * np.ones((1, 3))
    return list(D.minibatches(X, np.arange(N), batch_size, **kwargs))


@pytest.mark.parametrize(("N", "batch_size"), [(10, 3), (10, 5), (10, 1), (10, 10), (10, 15), (1, 4), (97, 8)])
@pytest.mark.parametrize("shuffle", [True, False])
def test_minibatches_cover_every_example_once(N, batch_size, shuffle):
    rng = np.random.default_rng(0) if shuffle else None
    batches = _epoch(N, batch_size, rng=rng, shuffle=shuffle)
    assert len(batches) == math.ceil(N / batch_size)
    seen = np.concatenate([y_batch for _, y_batch in batches])
    np.testing.assert_array_equal(np.sort(seen), np.arange(N))
    for X_batch, y_batch in batches:
        np.testing.assert_array_equal(X_batch[:, 0], y_batch)  # inputs stay with their targets
    assert [len(y_batch) for _, y_batch in batches[:-1]] == [batch_size] * (len(batches) - 1)
    assert len(batches[-1][1]) == N - (len(batches) - 1) * batch_size
    if not shuffle:
        np.testing.assert_array_equal(seen, np.arange(N))


@pytest.mark.parametrize(("N", "batch_size"), [(10, 3), (10, 5), (10, 15), (97, 8)])
def test_minibatches_drop_last_keeps_only_full_batches(N, batch_size):
    batches = _epoch(N, batch_size, rng=np.random.default_rng(0), drop_last=True)
    assert len(batches) == N // batch_size
    assert all(len(y_batch) == batch_size for _, y_batch in batches)
    if batches:
        seen = np.concatenate([y_batch for _, y_batch in batches])
        assert len(np.unique(seen)) == len(seen) == (N // batch_size) * batch_size


def test_minibatches_shuffle_is_deterministic_and_new_every_epoch():
    first = np.concatenate([b for _, b in _epoch(50, 7, rng=np.random.default_rng(3))])
    again = np.concatenate([b for _, b in _epoch(50, 7, rng=np.random.default_rng(3))])
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, np.arange(50))
    rng = np.random.default_rng(3)
    epoch_1 = np.concatenate([b for _, b in _epoch(50, 7, rng=rng)])
    epoch_2 = np.concatenate([b for _, b in _epoch(50, 7, rng=rng)])
    assert not np.array_equal(epoch_1, epoch_2)


def test_minibatches_keep_dtypes_and_trailing_shapes():
    X = np.zeros((6, 1, 4, 4), dtype=np.float32)
    y = np.arange(6, dtype=np.int64)
    X_batch, y_batch = next(D.minibatches(X, y, 4, rng=np.random.default_rng(0)))
    assert X_batch.shape == (4, 1, 4, 4) and X_batch.dtype == np.float32
    assert y_batch.dtype == np.int64


def test_minibatches_return_copies():
    X = np.zeros((4, 2))
    X_batch, _ = next(D.minibatches(X, np.arange(4), 2, shuffle=False))
    X_batch[:] = 1.0
    assert (X == 0).all()


@pytest.mark.parametrize(("args", "kwargs", "error", "message"), [
    ((np.ones((4, 2)), np.arange(4), 2), {}, TypeError,
     r"shuffle=True needs rng, a numpy.random.Generator; got None\. Pass rng=np.random.default_rng\(seed\), or "
     r"shuffle=False"),
    ((np.ones((4, 2)), np.arange(4), 2), {"rng": np.random.RandomState(0)}, TypeError,
     "rng must be a numpy.random.Generator; got RandomState"),
    ((np.ones((4, 2)), np.arange(4), 0), {"shuffle": False}, ValueError, "batch_size must be an int >= 1; got 0"),
    ((np.ones((4, 2)), np.arange(4), 2.0), {"shuffle": False}, TypeError,
     "batch_size must be an int; got 2.0 of type float"),
    ((np.ones((4, 2)), np.arange(3), 2), {"shuffle": False}, ValueError,
     r"y must have one entry per example of X, 4 along axis 0; got shape \(3,\)"),
    ((np.ones((4, 2)), 1, 2), {"shuffle": False}, ValueError, r"y must have one entry per example.*got shape \(\)"),
    ((np.float64(1.0), np.arange(1), 1), {"shuffle": False}, ValueError,
     r"X must have at least one dimension.*got a 0-d array"),
    ((np.array([[1.0], [np.nan]]), np.arange(2), 1), {"shuffle": False}, ValueError, "X must not contain NaN"),
    ((np.ones((4, 2)), np.arange(4), 2), {"shuffle": "yes"}, TypeError,
     "shuffle must be True or False; got 'yes' of type str"),
    ((np.ones((4, 2)), np.arange(4), 2), {"shuffle": False, "drop_last": 1}, TypeError,
     "drop_last must be True or False; got 1 of type int"),
])
def test_minibatches_bad_arguments_fail_at_the_call(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        D.minibatches(*args, **kwargs)  # not iterated: the check must not wait for the first batch


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda rng: D.xor(0, rng), ValueError, "n must be an int >= 1; got 0"),
    (lambda rng: D.xor(2.5, rng), TypeError, r"n must be an int; got 2.5 of type float\. Pass a whole number"),
    (lambda rng: D.xor(4, rng, noise=-0.1), ValueError, r"noise must be in \[0.0, inf\]; got -0.1"),
    (lambda rng: D.xor(4, 42), TypeError, r"rng must be a numpy.random.Generator; got 42 of type int\. Create one "
                                          r"with np.random.default_rng\(seed\)"),
    (lambda rng: D.two_moons(-3, rng), ValueError, "n must be an int >= 1; got -3"),
    (lambda rng: D.two_moons(4, None), TypeError, "rng must be a numpy.random.Generator; got None"),
    (lambda rng: D.two_moons(4, rng, noise="big"), TypeError, "noise must be a real number; got 'big'"),
    (lambda rng: D.spiral(0, 3, rng), ValueError, "n_per_class must be an int >= 1; got 0"),
    (lambda rng: D.spiral(10, 0, rng), ValueError, "n_classes must be an int >= 1; got 0"),
    (lambda rng: D.spiral(10, 3, rng, noise=float("nan")), ValueError, "noise must be finite; got nan"),
    (lambda rng: D.ring_of_gaussians(10, rng, n_modes=0), ValueError, "n_modes must be an int >= 1; got 0"),
    (lambda rng: D.ring_of_gaussians(10, rng, radius=0.0), ValueError, r"radius must be in \(0.0, inf\]; got 0.0"),
    (lambda rng: D.ring_of_gaussians(10, rng, std=-1.0), ValueError, r"std must be in \[0.0, inf\]; got -1.0"),
    (lambda rng: D.ring_of_gaussians(10, np.random.RandomState(0)), TypeError, "got RandomState"),
    (lambda rng: D.ring_centres(n_modes=True), TypeError, "n_modes must be an int; got True of type bool"),
])
def test_toys_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call(np.random.default_rng(0))
