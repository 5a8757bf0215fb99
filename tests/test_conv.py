"""dlref.conv: PyTorch float64 as the oracle, finite differences for every backward, dtypes and errors."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlref import conv
from dlref.gradcheck import numerical_gradients, relative_error

TOL = 1e-8

# (N, C_in, C_out, (H, W), kernel, stride, padding): strides and paddings as ints and pairs, non-square
# kernels and inputs, batch 1 and more, one and several channels, a kernel as large as the padded input.
CONV_CASES = [
    (1, 1, 1, (5, 5), 3, 1, 0),
    (2, 3, 4, (7, 6), 3, 1, 1),
    (3, 2, 5, (9, 8), (3, 2), (2, 1), (1, 0)),
    (1, 4, 2, (6, 10), (1, 5), 1, (0, 2)),
    (2, 1, 3, (8, 8), 5, 3, 2),
    (4, 3, 1, (5, 7), (2, 4), (1, 3), 0),
    (1, 2, 2, (4, 4), 6, 1, 1),
    (2, 5, 3, (10, 9), 1, 2, 0),
    (2, 3, 2, (7, 11), (2, 3), (2, 3), (0, 1)),  # stride = kernel: windows tile the input, with leftovers
]

# (N, C, (H, W), kernel_size, stride): default, overlapping, non-square, and leftover rows and columns.
POOL_CASES = [
    (1, 1, (4, 4), 2, None),
    (2, 3, (7, 6), 3, 2),
    (3, 2, (6, 9), (2, 3), None),
    (1, 4, (9, 7), (3, 2), (2, 1)),
    (2, 1, (5, 5), 5, None),
    (2, 2, (8, 5), 1, (3, 2)),
    (2, 3, (7, 5), 2, None),  # tiling windows that leave the last row and column out
]


def _conv_problem(rng, n, c_in, c_out, size, kernel, stride, padding):
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    x = rng.normal(size=(n, c_in, *size))
    W = rng.normal(size=(c_out, c_in, kh, kw))
    b = rng.normal(size=c_out)
    y_shape = conv.conv2d_output_shape(size, kernel, stride, padding)
    dy = rng.normal(size=(n, c_out, *y_shape))
    return x, W, b, dy


def _torch_conv(x, W, b, dy, stride, padding):
    xt, Wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    yt = F.conv2d(xt, Wt, bt, stride=stride, padding=padding)
    return (yt.detach().numpy(), *(g.numpy() for g in torch.autograd.grad(yt, (xt, Wt, bt), torch.tensor(dy))))


@pytest.mark.parametrize("n, c_in, c_out, size, kernel, stride, padding", CONV_CASES)
def test_conv2d_matches_torch(n, c_in, c_out, size, kernel, stride, padding):
    rng = np.random.default_rng(n * 100 + c_in * 10 + c_out)
    x, W, b, dy = _conv_problem(rng, n, c_in, c_out, size, kernel, stride, padding)
    y_t, dx_t, dW_t, db_t = _torch_conv(x, W, b, dy, stride, padding)

    y, cache = conv.conv2d_forward(x, W, b, stride=stride, padding=padding)
    assert y.shape == y_t.shape
    np.testing.assert_allclose(y, y_t, rtol=TOL, atol=TOL)
    for ours, theirs in zip(conv.conv2d_backward(dy, cache), (dx_t, dW_t, db_t), strict=True):
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("seed", range(5))
def test_conv2d_matches_torch_on_random_configurations(seed):
    rng = np.random.default_rng(1000 + seed)
    kh, kw = (int(k) for k in rng.integers(1, 5, size=2))
    stride = tuple(int(s) for s in rng.integers(1, 4, size=2))
    padding = tuple(int(p) for p in rng.integers(0, 3, size=2))
    size = (int(rng.integers(kh, 12)), int(rng.integers(kw, 12)))
    n, c_in, c_out = (int(v) for v in rng.integers(1, 5, size=3))
    x, W, b, dy = _conv_problem(rng, n, c_in, c_out, size, (kh, kw), stride, padding)
    y_t, dx_t, dW_t, db_t = _torch_conv(x, W, b, dy, stride, padding)
    y, cache = conv.conv2d_forward(x, W, b, stride=stride, padding=padding)
    np.testing.assert_allclose(y, y_t, rtol=TOL, atol=TOL)
    for ours, theirs in zip(conv.conv2d_backward(dy, cache), (dx_t, dW_t, db_t), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=TOL, atol=TOL)


def test_conv2d_without_bias_matches_torch_and_still_returns_db():
    rng = np.random.default_rng(7)
    x, W, _, dy = _conv_problem(rng, 2, 3, 2, (6, 6), 3, 1, 1)
    y, cache = conv.conv2d_forward(x, W, None, padding=1)
    np.testing.assert_allclose(y, F.conv2d(torch.tensor(x), torch.tensor(W), padding=1).numpy(), rtol=TOL,
                               atol=TOL)
    _, _, db = conv.conv2d_backward(dy, cache)
    np.testing.assert_allclose(db, dy.sum(axis=(0, 2, 3)), rtol=TOL, atol=TOL)


@pytest.mark.parametrize("n, c_in, c_out, size, kernel, stride, padding", CONV_CASES[:6])
def test_conv2d_backward_matches_finite_differences(n, c_in, c_out, size, kernel, stride, padding):
    rng = np.random.default_rng(11)
    x, W, b, dy = _conv_problem(rng, min(n, 2), c_in, c_out, size, kernel, stride, padding)

    def forward(x, W, b):
        return conv.conv2d_forward(x, W, b, stride=stride, padding=padding)[0]

    numeric = numerical_gradients(forward, [x, W, b], dy)
    analytic = conv.conv2d_backward(dy, conv.conv2d_forward(x, W, b, stride=stride, padding=padding)[1])
    for name, ours, estimate in zip(("dx", "dW", "db"), analytic, numeric, strict=True):
        assert relative_error(ours, estimate) < 1e-7, name


def test_gradcheck_catches_a_conv_backward_that_ignores_overlapping_windows():
    # Every interior pixel of a 3x3 stride-1 convolution is read by 9 windows; keeping only one of them
    # (assignment instead of accumulation) must be caught.
    rng = np.random.default_rng(12)
    x, W, b, dy = _conv_problem(rng, 1, 1, 1, (5, 5), 3, 1, 0)
    [numeric_dx, _, _] = numerical_gradients(lambda x, W, b: conv.conv2d_forward(x, W, b)[0], [x, W, b], dy)
    one_window_only = np.zeros_like(x)
    one_window_only[0, 0, :3, :3] = dy[0, 0, 0, 0] * W[0, 0]
    assert relative_error(one_window_only, numeric_dx) > 0.1


@pytest.mark.parametrize("width", [1, 2, 5])
def test_width_keeping_convolution_matches_torch_when_the_padding_is_wider_than_the_input(width):
    # Stride 1 with kw = 2 pw + 1 reads each kernel offset as one slice of the image's rows laid end to end;
    # with pw = 3 >= the width, the entries that stand for column padding reach beyond the neighbouring row.
    rng = np.random.default_rng(14 + width)
    x, W, b, dy = _conv_problem(rng, 3, 2, 3, (4, width), (2, 7), 1, (2, 3))
    y_t, dx_t, dW_t, db_t = _torch_conv(x, W, b, dy, 1, (2, 3))
    y, cache = conv.conv2d_forward(x, W, b, padding=(2, 3))
    np.testing.assert_allclose(y, y_t, rtol=TOL, atol=TOL)
    for ours, theirs in zip(conv.conv2d_backward(dy, cache), (dx_t, dW_t, db_t), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("stride, padding", [(1, 1), (2, 1)])
def test_conv2d_matches_torch_when_every_image_is_its_own_group(monkeypatch, stride, padding):
    # The images go through im2col and col2im in groups sized to the cache; one image per group (the
    # smallest budget) must give the same results as torch, for the width-keeping and the general path.
    monkeypatch.setattr(conv, "_GROUP_BYTES", 1)
    rng = np.random.default_rng(15)
    x, W, b, dy = _conv_problem(rng, 5, 3, 4, (6, 7), 3, stride, padding)
    y_t, dx_t, dW_t, db_t = _torch_conv(x, W, b, dy, stride, padding)
    y, cache = conv.conv2d_forward(x, W, b, stride=stride, padding=padding)
    np.testing.assert_allclose(y, y_t, rtol=TOL, atol=TOL)
    for ours, theirs in zip(conv.conv2d_backward(dy, cache), (dx_t, dW_t, db_t), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("padding", [0, (1, 2)])
def test_conv2d_fft_equals_direct_convolution_and_torch(padding):
    rng = np.random.default_rng(13)
    x, W, b, _ = _conv_problem(rng, 2, 3, 4, (11, 9), (5, 3), 1, padding)
    expected = F.conv2d(torch.tensor(x), torch.tensor(W), torch.tensor(b), padding=padding).numpy()
    np.testing.assert_allclose(conv.conv2d_fft(x, W, b, padding=padding), expected, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(conv.conv2d_fft(x, W, padding=padding),
                               conv.conv2d_forward(x, W, padding=padding)[0], rtol=TOL, atol=TOL)


def _torch_pool(pool, x, dy, kernel_size, stride):
    xt = torch.tensor(x, requires_grad=True)
    yt = pool(xt, kernel_size, stride)
    (dx,) = torch.autograd.grad(yt, (xt,), torch.tensor(dy))
    return yt.detach().numpy(), dx.numpy()


def _pool_problem(rng, n, c, size, kernel_size, stride, integers=False):
    x = rng.integers(0, 3, size=(n, c, *size)).astype(np.float64) if integers else rng.normal(size=(n, c, *size))
    y_shape = conv.conv2d_output_shape(size, kernel_size, kernel_size if stride is None else stride)
    return x, rng.normal(size=(n, c, *y_shape))


POOLS = {
    "max": (conv.max_pool2d_forward, conv.max_pool2d_backward, F.max_pool2d),
    "avg": (conv.avg_pool2d_forward, conv.avg_pool2d_backward, F.avg_pool2d),
}


@pytest.mark.parametrize("kind", sorted(POOLS))
@pytest.mark.parametrize("n, c, size, kernel_size, stride", POOL_CASES)
def test_pooling_matches_torch(kind, n, c, size, kernel_size, stride):
    forward, backward, torch_pool = POOLS[kind]
    rng = np.random.default_rng(n * 10 + c)
    x, dy = _pool_problem(rng, n, c, size, kernel_size, stride)
    y_t, dx_t = _torch_pool(torch_pool, x, dy, kernel_size, stride)

    y, cache = forward(x, kernel_size, stride)
    assert y.shape == y_t.shape
    np.testing.assert_allclose(y, y_t, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(backward(dy, cache), dx_t, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("n, c, size, kernel_size, stride", POOL_CASES)
def test_max_pool_breaks_ties_as_torch_does(n, c, size, kernel_size, stride):
    # Inputs in {0, 1, 2} make most windows hold several equal maxima.
    rng = np.random.default_rng(21)
    x, dy = _pool_problem(rng, n, c, size, kernel_size, stride, integers=True)
    _, dx_t = _torch_pool(F.max_pool2d, x, dy, kernel_size, stride)
    _, cache = conv.max_pool2d_forward(x, kernel_size, stride)
    np.testing.assert_allclose(conv.max_pool2d_backward(dy, cache), dx_t, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("kind", sorted(POOLS))
@pytest.mark.parametrize("n, c, size, kernel_size, stride", POOL_CASES[:4])
def test_pooling_backward_matches_finite_differences(kind, n, c, size, kernel_size, stride):
    forward, backward, _ = POOLS[kind]
    rng = np.random.default_rng(31)
    # Distinct values spaced far apart, so that no step of h = 1e-5 changes which entry is the maximum.
    x = rng.permutation(n * c * size[0] * size[1]).reshape(n, c, *size) * 0.1
    _, dy = _pool_problem(rng, n, c, size, kernel_size, stride)
    [numeric] = numerical_gradients(lambda x: forward(x, kernel_size, stride)[0], [x], dy)
    assert relative_error(backward(dy, forward(x, kernel_size, stride)[1]), numeric) < 1e-7


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(dtype):
    rng = np.random.default_rng(41)
    x, W, b, dy = (a.astype(dtype) for a in _conv_problem(rng, 2, 3, 4, (6, 5), 3, 2, 1))
    y, cache = conv.conv2d_forward(x, W, b, stride=2, padding=1)
    assert y.dtype == dtype
    assert all(g.dtype == dtype for g in conv.conv2d_backward(dy, cache))
    assert conv.conv2d_fft(x, W, b, padding=1).dtype == dtype
    for forward, backward, _ in POOLS.values():
        y, cache = forward(x, 2)
        assert y.dtype == dtype
        assert backward(np.ones_like(y), cache).dtype == dtype


def test_float32_agrees_with_float64():
    rng = np.random.default_rng(42)
    x, W, b, dy = _conv_problem(rng, 2, 3, 4, (8, 8), 3, 1, 1)
    y64, cache64 = conv.conv2d_forward(x, W, b, padding=1)
    y32, cache32 = conv.conv2d_forward(*(a.astype(np.float32) for a in (x, W, b)), padding=1)
    np.testing.assert_allclose(y32, y64, rtol=1e-4, atol=1e-4)
    for g32, g64 in zip(conv.conv2d_backward(dy.astype(np.float32), cache32), conv.conv2d_backward(dy, cache64)):
        np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-4)


def test_mixed_dtypes_follow_numpy_promotion_and_lists_become_float64():
    y, _ = conv.conv2d_forward(np.ones((1, 1, 3, 3), dtype=np.float32), np.ones((1, 1, 2, 2)))
    assert y.dtype == np.float64
    y, _ = conv.max_pool2d_forward([[[[1, 2], [3, 4]]]], 2)
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, [[[[4.0]]]])


@pytest.mark.parametrize("input_size, kernel, stride, padding", [
    (28, 3, 1, 1), ((28, 20), (5, 3), 2, 0), ((7, 9), (2, 4), (3, 1), (1, 2)), (5, 5, 1, 0), (4, 6, 2, 1),
])
def test_output_shape_matches_torch(input_size, kernel, stride, padding):
    size = (input_size, input_size) if isinstance(input_size, int) else input_size
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    torch_shape = F.conv2d(torch.zeros(1, 1, *size), torch.zeros(1, 1, kh, kw), stride=stride,
                           padding=padding).shape[2:]
    assert conv.conv2d_output_shape(input_size, kernel, stride, padding) == tuple(torch_shape)


def test_pixels_that_no_window_reaches_get_zero_gradient():
    # 6 columns, kernel 2, stride 3: windows cover columns 0-1 and 3-4; columns 2 and 5 are never read.
    x = np.ones((1, 1, 1, 6))
    _, cache = conv.conv2d_forward(x, np.ones((1, 1, 1, 2)), stride=3)
    dx, _, _ = conv.conv2d_backward(np.ones((1, 1, 1, 2)), cache)
    np.testing.assert_array_equal(dx[0, 0, 0], [1, 1, 0, 1, 1, 0])


# ---------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------

def test_x_that_is_not_4d_is_rejected_with_a_hint():
    with pytest.raises(ValueError, match=r"x must be 4-D with shape \(N, C, H, W\) .* got shape \(1, 5, 5\)\. "
                                         r"For a single image of shape \(C, H, W\), add a batch axis with "
                                         r"x\[None\]"):
        conv.conv2d_forward(np.ones((1, 5, 5)), np.ones((1, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"x must be 4-D .* got shape \(5, 5\)\. Channels-last"):
        conv.max_pool2d_forward(np.ones((5, 5)), 2)


def test_W_that_is_not_4d_is_rejected():
    with pytest.raises(ValueError, match=re.escape("W must be 4-D with shape (C_out, C_in, kh, kw), as "
                                                   "torch.nn.Conv2d.weight; got shape (3, 3)")):
        conv.conv2d_forward(np.ones((1, 1, 5, 5)), np.ones((3, 3)))


def test_channel_mismatch_names_both_layouts():
    with pytest.raises(ValueError, match=r"x has 5 channels .* but W expects C_in = 3 .* channels-last data "
                                         r"need x\.transpose\(0, 3, 1, 2\)"):
        conv.conv2d_forward(np.ones((2, 5, 5, 3)), np.ones((4, 3, 3, 3)))


def test_bias_of_the_wrong_shape_is_rejected():
    with pytest.raises(ValueError, match=r"b must have shape \(C_out,\) = \(4,\) to match W of shape "
                                         r"\(4, 3, 3, 3\); got \(3,\)"):
        conv.conv2d_forward(np.ones((1, 3, 5, 5)), np.ones((4, 3, 3, 3)), np.ones(3))


def test_kernel_larger_than_the_padded_input_is_rejected():
    with pytest.raises(ValueError, match=r"the kernel's width 5 is larger than the padded input's width 4 "
                                         r"\(input 2 \+ 2 x padding 1\)"):
        conv.conv2d_forward(np.ones((1, 1, 6, 2)), np.ones((1, 1, 3, 5)), padding=1)
    with pytest.raises(ValueError, match=r"the kernel's height 3 is larger than the padded input's height 2"):
        conv.max_pool2d_forward(np.ones((1, 1, 2, 8)), 3)
    with pytest.raises(ValueError, match=r"the kernel's height 3 is larger"):
        conv.conv2d_output_shape((2, 2), 3)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"stride": 0}, ValueError, r"stride\[0\] \(height\) must be an int >= 1; got 0"),
    ({"stride": (1, 0)}, ValueError, r"stride\[1\] \(width\) must be an int >= 1; got 0"),
    ({"padding": -1}, ValueError, r"padding\[0\] \(height\) must be an int >= 0; got -1"),
    ({"stride": 1.5}, TypeError, r"stride must be an int or a pair of ints \(height, width\); got 1\.5"),
    ({"padding": (1, 2, 3)}, TypeError, r"padding must be an int or a pair of ints .* got \(1, 2, 3\)"),
    ({"padding": (1, 2.0)}, TypeError, r"padding\[1\] \(width\) must be an int; got 2\.0"),
    ({"stride": True}, TypeError, r"stride must be an int or a pair of ints"),
])
def test_bad_stride_and_padding_are_rejected(kwargs, error, message):
    with pytest.raises(error, match=message):
        conv.conv2d_forward(np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3)), **kwargs)


@pytest.mark.parametrize("forward", [conv.max_pool2d_forward, conv.avg_pool2d_forward])
def test_bad_pool_sizes_are_rejected(forward):
    with pytest.raises(ValueError, match=r"kernel_size\[0\] \(height\) must be an int >= 1; got 0"):
        forward(np.ones((1, 1, 4, 4)), 0)
    with pytest.raises(ValueError, match=r"stride\[1\] \(width\) must be an int >= 1; got 0"):
        forward(np.ones((1, 1, 4, 4)), 2, (1, 0))
    with pytest.raises(TypeError, match=r"kernel_size must be an int or a pair of ints"):
        forward(np.ones((1, 1, 4, 4)), "2")


@pytest.mark.parametrize("kind", ["conv", "max", "avg"])
def test_upstream_gradient_of_the_wrong_shape_is_rejected(kind):
    x = np.ones((2, 1, 4, 4))
    if kind == "conv":
        _, cache = conv.conv2d_forward(x, np.ones((3, 1, 3, 3)))
        backward, expected, forward = conv.conv2d_backward, (2, 3, 2, 2), "conv2d_forward"
    else:
        forward_fn, backward, _ = POOLS[kind]
        _, cache = forward_fn(x, 2)
        expected, forward = (2, 1, 2, 2), f"{kind}_pool2d_forward"
    with pytest.raises(ValueError, match=rf"dy must have the shape of the forward output, "
                                         rf"{re.escape(str(expected))}; got \(2, 1, 4, 4\)\. .*of the {forward}"):
        backward(np.ones((2, 1, 4, 4)), cache)


@pytest.mark.parametrize("backward, cache_name", [
    (conv.conv2d_backward, "Conv2dCache"), (conv.max_pool2d_backward, "MaxPool2dCache"),
    (conv.avg_pool2d_backward, "AvgPool2dCache"),
])
def test_a_foreign_cache_is_a_type_error(backward, cache_name):
    _, avg_cache = conv.avg_pool2d_forward(np.ones((1, 1, 4, 4)), 2)
    _, max_cache = conv.max_pool2d_forward(np.ones((1, 1, 4, 4)), 2)
    wrong = max_cache if cache_name != "MaxPool2dCache" else avg_cache
    with pytest.raises(TypeError, match=rf"cache must be the {cache_name} returned by .*; got "
                                        rf"{type(wrong).__name__}"):
        backward(np.ones((1, 1, 2, 2)), wrong)


@pytest.mark.parametrize("name", ["x", "W", "b"])
def test_nan_in_any_input_is_rejected(name):
    arrays = {"x": np.ones((1, 2, 4, 4)), "W": np.ones((3, 2, 2, 2)), "b": np.ones(3)}
    arrays[name].flat[1] = np.nan
    with pytest.raises(ValueError, match=rf"{name} must not contain NaN; found nan at index"):
        conv.conv2d_forward(**arrays)


def test_nan_in_the_upstream_gradient_is_rejected():
    _, cache = conv.max_pool2d_forward(np.ones((1, 1, 4, 4)), 2)
    dy = np.ones((1, 1, 2, 2))
    dy[0, 0, 1, 0] = np.nan
    with pytest.raises(ValueError, match=r"dy must not contain NaN; found nan at index \(0, 0, 1, 0\)"):
        conv.max_pool2d_backward(dy, cache)


def test_non_numeric_input_is_a_type_error():
    with pytest.raises(TypeError, match=r"W must hold real numbers .* got an array of dtype <U1"):
        conv.conv2d_forward(np.ones((1, 1, 2, 2)), np.full((1, 1, 1, 1), "a"))
