"""dlref.init: sample statistics against torch.nn.init's formulas and samples, orthogonality, gains, fans, errors."""

import math

import numpy as np
import pytest
import torch
import torch.nn.init as tinit

from dlref import init as I

# A Linear and a conv weight: 120,000 and 51,200 samples, so a sample std is within 0.5% of the truth.
SHAPES = [(400, 300), (64, 32, 5, 5)]


def _torch_fans(shape):
    return tinit._calculate_fan_in_and_fan_out(torch.empty(shape))


def _leaky_gain(slope):
    return math.sqrt(2.0 / (1.0 + slope**2))


# case -> (dlref name, keyword arguments, the same initialiser in torch, distribution, its parameters as a
# function of (fan_in, fan_out, rows)): "uniform" -> (low, high), "normal" -> (mean, std). The formulas are
# written out from the papers, not taken from dlref.
CASES = {
    "normal": ("normal", {"mean": 1.0, "std": 0.3},
               lambda t, g: tinit.normal_(t, 1.0, 0.3, generator=g),
               "normal", lambda fi, fo, rows: (1.0, 0.3)),
    "uniform": ("uniform", {"a": -0.5, "b": 1.5},
                lambda t, g: tinit.uniform_(t, -0.5, 1.5, generator=g),
                "uniform", lambda fi, fo, rows: (-0.5, 1.5)),
    "xavier_uniform": ("xavier_uniform", {},
                       lambda t, g: tinit.xavier_uniform_(t, generator=g),
                       "uniform", lambda fi, fo, rows: (-math.sqrt(6 / (fi + fo)), math.sqrt(6 / (fi + fo)))),
    "xavier_uniform-tanh": ("xavier_uniform", {"gain": 5 / 3},
                            lambda t, g: tinit.xavier_uniform_(t, gain=5 / 3, generator=g),
                            "uniform", lambda fi, fo, rows: (-5 / 3 * math.sqrt(6 / (fi + fo)),
                                                             5 / 3 * math.sqrt(6 / (fi + fo)))),
    "xavier_normal": ("xavier_normal", {},
                      lambda t, g: tinit.xavier_normal_(t, generator=g),
                      "normal", lambda fi, fo, rows: (0.0, math.sqrt(2 / (fi + fo)))),
    "xavier_normal-relu": ("xavier_normal", {"gain": math.sqrt(2)},
                           lambda t, g: tinit.xavier_normal_(t, gain=math.sqrt(2), generator=g),
                           "normal", lambda fi, fo, rows: (0.0, math.sqrt(4 / (fi + fo)))),
    "he_uniform": ("he_uniform", {},
                   lambda t, g: tinit.kaiming_uniform_(t, generator=g),
                   "uniform", lambda fi, fo, rows: (-math.sqrt(6 / fi), math.sqrt(6 / fi))),
    "he_uniform-leaky-fan_out": ("he_uniform", {"a": 0.2, "mode": "fan_out"},
                                 lambda t, g: tinit.kaiming_uniform_(t, a=0.2, mode="fan_out", generator=g),
                                 "uniform", lambda fi, fo, rows: (-_leaky_gain(0.2) * math.sqrt(3 / fo),
                                                                  _leaky_gain(0.2) * math.sqrt(3 / fo))),
    "he_uniform-torch-layer-default": ("he_uniform", {"a": math.sqrt(5)},
                                       lambda t, g: tinit.kaiming_uniform_(t, a=math.sqrt(5), generator=g),
                                       "uniform", lambda fi, fo, rows: (-1 / math.sqrt(fi), 1 / math.sqrt(fi))),
    "he_normal": ("he_normal", {},
                  lambda t, g: tinit.kaiming_normal_(t, generator=g),
                  "normal", lambda fi, fo, rows: (0.0, math.sqrt(2 / fi))),
    "he_normal-tanh-fan_out": ("he_normal", {"mode": "fan_out", "nonlinearity": "tanh"},
                               lambda t, g: tinit.kaiming_normal_(t, mode="fan_out", nonlinearity="tanh",
                                                                  generator=g),
                               "normal", lambda fi, fo, rows: (0.0, 5 / 3 / math.sqrt(fo))),
    # torch has no lecun_normal; kaiming_normal_ with gain 1 is the same distribution.
    "lecun_normal": ("lecun_normal", {},
                     lambda t, g: tinit.kaiming_normal_(t, nonlinearity="linear", generator=g),
                     "normal", lambda fi, fo, rows: (0.0, 1 / math.sqrt(fi))),
    # (Semi-)orthonormal rows or columns: the squares sum to gain^2 * min(m, n) over m * n entries.
    "orthogonal": ("orthogonal", {"gain": 2.0},
                   lambda t, g: tinit.orthogonal_(t, gain=2.0, generator=g),
                   "normal", lambda fi, fo, rows: (0.0, 2.0 / math.sqrt(max(rows, fi)))),
}
RANDOM = ["normal", "uniform", "xavier_uniform", "xavier_normal", "he_uniform", "he_normal", "lecun_normal",
          "orthogonal"]
FAN_BASED = ["xavier_uniform", "xavier_normal", "he_uniform", "he_normal", "lecun_normal"]


def _sample(name, shape, seed=0, **kwargs):
    return getattr(I, name)(shape, rng=np.random.default_rng(seed), **kwargs)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("case", sorted(CASES))
def test_sample_statistics_match_torch_formula_and_torch_samples(case, shape):
    name, kwargs, torch_init, distribution, parameters = CASES[case]
    fan_in, fan_out = _torch_fans(shape)
    ours = _sample(name, shape, **kwargs)
    theirs = torch.empty(shape, dtype=torch.float64)
    torch_init(theirs, torch.Generator().manual_seed(0))
    theirs = theirs.numpy()

    if distribution == "uniform":
        low, high = parameters(fan_in, fan_out, shape[0])
        width = high - low
        for sample in (ours, theirs):
            assert low <= sample.min() and sample.max() <= high
            # With 50,000 samples or more, the extremes come within 0.1% of the interval's ends.
            assert sample.min() < low + 1e-3 * width and sample.max() > high - 1e-3 * width
        mean, std = (low + high) / 2, width / math.sqrt(12)
    else:
        mean, std = parameters(fan_in, fan_out, shape[0])

    assert ours.shape == shape and ours.dtype == np.float64
    for sample in (ours, theirs):
        assert abs(sample.mean() - mean) < 0.03 * std
        assert sample.std() == pytest.approx(std, rel=0.02)
    assert ours.std() == pytest.approx(theirs.std(), rel=0.03)


def test_zeros_and_constant_equal_torch():
    np.testing.assert_array_equal(I.zeros((3, 4)), tinit.zeros_(torch.empty(3, 4, dtype=torch.float64)))
    np.testing.assert_array_equal(I.constant((2, 3, 2), -0.25),
                                  tinit.constant_(torch.empty(2, 3, 2, dtype=torch.float64), -0.25))


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4), (6, 2, 3, 3), (20, 2, 2), (1, 7), (7, 1)], ids=str)
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_orthogonal_rows_or_columns_are_orthonormal_times_gain(shape, gain):
    W = _sample("orthogonal", shape, gain=gain)
    flat = W.reshape(shape[0], -1)
    rows, cols = flat.shape
    gram = flat @ flat.T if rows <= cols else flat.T @ flat
    np.testing.assert_allclose(gram, gain**2 * np.eye(min(rows, cols)), rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (6, 2, 3, 3)], ids=str)
def test_orthogonal_is_torchs_algorithm_on_the_same_gaussian(shape):
    # torch's orthogonal_: flatten the trailing dimensions, QR of the (tall) gaussian, multiply the columns of
    # Q by the signs of diag(R), transpose back. Replayed here in torch on dlref's gaussian draws.
    rows = shape[0]
    gaussian = torch.tensor(np.random.default_rng(0).standard_normal((rows, math.prod(shape[1:]))))
    wide = gaussian.shape[0] < gaussian.shape[1]
    q, r = torch.linalg.qr(gaussian.T if wide else gaussian)
    q = q * torch.diag(r).sign()
    expected = 1.5 * (q.T if wide else q)
    np.testing.assert_allclose(_sample("orthogonal", shape, gain=1.5), expected.reshape(shape).numpy(),
                               rtol=0, atol=1e-12)


NONLINEARITIES = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]
GAIN_CASES = ([(name, None) for name in NONLINEARITIES]
              + [("leaky_relu", slope) for slope in (0.2, 0, 1, -0.3, 0.01, math.sqrt(5))]
              + [("relu", 0.5), ("tanh", 3)])


@pytest.mark.parametrize(("nonlinearity", "param"), GAIN_CASES)
def test_calculate_gain_equals_torch(nonlinearity, param):
    gain = I.calculate_gain(nonlinearity, param)
    assert gain == tinit.calculate_gain(nonlinearity, param)
    assert isinstance(gain, float)


def test_calculate_gain_values():
    assert I.calculate_gain("relu") == math.sqrt(2)
    assert I.calculate_gain("leaky_relu") == math.sqrt(2 / (1 + 0.01**2))
    assert I.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04), rel=1e-15)
    assert I.calculate_gain("tanh") == 5 / 3
    assert I.calculate_gain("selu") == 0.75
    assert I.calculate_gain("sigmoid") == 1.0


@pytest.mark.parametrize("shape", [(3, 5), (1, 1), (4, 3, 7), (8, 3, 3, 5), (2, 3, 4, 5, 6)], ids=str)
def test_fans_equal_torch(shape):
    assert I.fans(shape) == _torch_fans(shape)


def test_fans_need_two_dimensions_like_torch():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        _torch_fans((5,))
    with pytest.raises(ValueError, match=r"Fan in and fan out can not be computed for a shape with fewer than 2 "
                                         r"dimensions; got \(5,\)\. Weights are \(out_features, in_features\)"):
        I.fans((5,))
    with pytest.raises(ValueError, match=r"fewer than 2 dimensions; got \(\)"):
        I.fans(())


@pytest.mark.parametrize("name", FAN_BASED)
def test_fan_based_initialisers_reject_a_vector_like_torch(name):
    with pytest.raises(ValueError, match=r"fewer than 2 dimensions; got \(5,\).*initialise it with zeros"):
        _sample(name, (5,))


def test_orthogonal_rejects_a_vector_like_torch():
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions"):
        tinit.orthogonal_(torch.empty(5))
    with pytest.raises(ValueError, match=r"orthogonal needs a shape with at least 2 dimensions, \(rows, \*columns\); "
                                         r"got \(5,\)"):
        _sample("orthogonal", (5,))


@pytest.mark.parametrize("shape", [(), (7,), (2, 3, 4)], ids=str)
@pytest.mark.parametrize("name", ["normal", "uniform"])
def test_plain_distributions_take_any_shape(name, shape):
    assert _sample(name, shape).shape == shape


@pytest.mark.parametrize("name", RANDOM)
def test_same_seed_same_weights_other_seed_other_weights(name):
    np.testing.assert_array_equal(_sample(name, (30, 20), seed=3), _sample(name, (30, 20), seed=3))
    assert not np.array_equal(_sample(name, (30, 20), seed=3), _sample(name, (30, 20), seed=4))


@pytest.mark.parametrize("name", RANDOM)
def test_float32_is_kept_and_is_the_float64_sample_rounded(name):
    single = _sample(name, (6, 4, 3), dtype=np.float32)
    assert single.dtype == np.float32 and single.shape == (6, 4, 3)
    np.testing.assert_array_equal(single, _sample(name, (6, 4, 3)).astype(np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, "float32"])
def test_zeros_and_constant_keep_dtype(dtype):
    assert I.zeros((2, 3), dtype=dtype).dtype == np.dtype(dtype)
    assert I.constant((2,), 1.5, dtype=dtype).dtype == np.dtype(dtype)


@pytest.mark.parametrize("dtype", [np.int64, np.float16, "complex128", "not a dtype"])
def test_other_dtypes_are_rejected(dtype):
    with pytest.raises(ValueError, match=rf"dtype must be np.float32 or np.float64; got {dtype!r}"):
        I.zeros((2,), dtype=dtype)
    with pytest.raises(ValueError, match="dtype must be np.float32 or np.float64"):
        _sample("he_normal", (2, 2), dtype=dtype)


@pytest.mark.parametrize("name", RANDOM)
def test_rng_must_be_a_generator(name):
    for rng in (None, 0, np.random.RandomState(0)):
        with pytest.raises(TypeError, match=r"rng must be a numpy.random.Generator; got .* Create one with "
                                            r"np.random.default_rng\(seed\)"):
            getattr(I, name)((3, 3), rng=rng)


def test_rng_is_keyword_only():
    with pytest.raises(TypeError, match="positional argument"):
        I.he_normal((3, 3), np.random.default_rng(0))


@pytest.mark.parametrize(("shape", "error", "message"), [
    ([3, 4], TypeError, r"shape must be a tuple of positive ints such as \(out_features, in_features\); "
                        r"got \[3, 4\] of type list"),
    (5, TypeError, r"got 5 of type int\. Write \(n,\) for a single dimension"),
    ((3, 0), ValueError, r"got \(3, 0\), whose entry 1 is 0\. Every dimension needs at least one element"),
    ((-1, 3), ValueError, r"whose entry 0 is -1"),
    ((3, 2.0), TypeError, r"whose entry 1 is 2.0 of type float"),
    ((3, True), TypeError, r"whose entry 1 is True of type bool"),
])
def test_bad_shapes_are_rejected(shape, error, message):
    with pytest.raises(error, match=message):
        I.zeros(shape)
    with pytest.raises(error, match=message):
        _sample("xavier_uniform", shape)


def test_bad_hyperparameters_are_rejected():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"nonlinearity must be one of 'linear', .*'selu'; got 'swish'"):
        I.calculate_gain("swish")
    with pytest.raises(ValueError, match=r"nonlinearity must be one of .*; got 'identity'"):
        I.he_normal((3, 3), rng=rng, nonlinearity="identity")
    with pytest.raises(TypeError, match="param must be a real number; got '0.2' of type str"):
        I.calculate_gain("leaky_relu", "0.2")
    with pytest.raises(ValueError, match="mode must be one of 'fan_in', 'fan_out'; got 'fan_avg'"):
        I.he_uniform((3, 3), rng=rng, mode="fan_avg")
    with pytest.raises(TypeError, match="a must be a real number; got None"):
        I.he_uniform((3, 3), rng=rng, a=None)
    with pytest.raises(ValueError, match=r"std must be in \[0.0, inf\]; got -1.0"):
        I.normal((3,), rng=rng, std=-1.0)
    with pytest.raises(ValueError, match=r"uniform needs a <= b, the interval \[a, b\); got a=1.0, b=0.0\. Swap them"):
        I.uniform((3,), rng=rng, a=1.0, b=0.0)
    with pytest.raises(ValueError, match="mean must be finite; got nan"):
        I.normal((3,), rng=rng, mean=float("nan"))
    with pytest.raises(ValueError, match="value must be finite; got inf"):
        I.constant((3,), float("inf"))
    for name in ("xavier_uniform", "xavier_normal", "orthogonal"):
        with pytest.raises(ValueError, match=r"gain must be in \[0.0, inf\]; got -1.0"):
            _sample(name, (3, 3), gain=-1.0)
