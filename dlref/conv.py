r"""Two-dimensional convolution and pooling, forward and backward, vectorised with numpy.

Data are laid out NCHW, `(batch, channels, height, width)`, and a convolution weight is
`(C_out, C_in, kh, kw)`, as in `torch.nn.Conv2d`, so weights copied from torch need no transposing.
Like every deep-learning framework, "convolution" here means cross-correlation: the kernel is not
flipped. Kernels, strides and paddings may differ between height and width: each is an int or a pair
`(height, width)`.

The convolution runs as im2col plus matrix products: the input under the kernel at every output position
is copied into a matrix of patches per image, and each image's output is the weight matrix times its
patch matrix. Images go a few at a time, so that a group's patches are still in the processor's cache
when the product reads them, and the backward pass rebuilds them from the input instead of keeping
them. No Python loop runs over pixels, only over the groups and the $k_h k_w$ offsets inside the
kernel. For a stride-1 convolution that keeps the width (a "same" convolution, the usual layer of a
CNN), each offset's patches are one shifted slice of the image with its rows laid end to end; other
convolutions copy a strided view of the padded input (`numpy.lib.stride_tricks.sliding_window_view`),
which pooling reads too. [`conv2d_fft`][dlref.conv.conv2d_fft] computes the convolution through the
convolution theorem instead.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from dlref._checks import as_float_array, check_int

__all__ = [
    "conv2d_output_shape",
    "Conv2dCache", "conv2d_forward", "conv2d_backward", "conv2d_fft",
    "MaxPool2dCache", "max_pool2d_forward", "max_pool2d_backward",
    "AvgPool2dCache", "avg_pool2d_forward", "avg_pool2d_backward",
]


# --------------------------------------------------------------------------------------------------------
# Validation and the window machinery shared by convolution and pooling
# --------------------------------------------------------------------------------------------------------

def _pair(value, name: str, low: int) -> tuple[int, int]:
    """An int or a pair of ints (height, width), each at least `low`, as a tuple of two ints."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be an int or a pair of ints (height, width); got {value!r}. Write "
                        f"{name}=2 for both directions or {name}=(2, 1) for different ones.")
    return (check_int(value[0], f"{name}[0] (height)", low=low),
            check_int(value[1], f"{name}[1] (width)", low=low))


def _nchw(x, name: str = "x") -> np.ndarray:
    x = as_float_array(x, name)
    if x.ndim != 4:
        hint = (f" For a single image of shape (C, H, W), add a batch axis with {name}[None]."
                if x.ndim == 3 else "")
        raise ValueError(f"{name} must be 4-D with shape (N, C, H, W) (batch, channels, height, width); got "
                         f"shape {x.shape}.{hint} Channels-last data (N, H, W, C) need "
                         f"{name}.transpose(0, 3, 1, 2).")
    return x


def _output_size(size: int, kernel: int, stride: int, padding: int, axis: str) -> int:
    span = size + 2 * padding
    if kernel > span:
        raise ValueError(f"the kernel's {axis} {kernel} is larger than the padded input's {axis} {span} "
                         f"(input {size} + 2 x padding {padding}), so there is no output. Use a smaller "
                         f"kernel, more padding, or a larger input.")
    return (span - kernel) // stride + 1


def _output_shape(size: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int],
                  padding: tuple[int, int]) -> tuple[int, int]:
    """`conv2d_output_shape` of arguments already validated as pairs of ints (height, width)."""
    return (_output_size(size[0], kernel[0], stride[0], padding[0], "height"),
            _output_size(size[1], kernel[1], stride[1], padding[1], "width"))


def conv2d_output_shape(input_size, kernel_size, stride=1, padding=0) -> tuple[int, int]:
    r"""Height and width of the output of a convolution or pooling layer.

    Parameters
    ----------
    input_size : int or (int, int)
        Input height and width $(H, W)$; an int means a square input.
    kernel_size, stride : int or (int, int), default stride 1
        Kernel $(k_h, k_w)$ and stride $(s_h, s_w)$, each at least 1.
    padding : int or (int, int), default 0
        Zeros added on each side, $(p_h, p_w)$, at least 0.

    Returns
    -------
    tuple of (int, int)
        $(H_\text{out}, W_\text{out})$ with
        $H_\text{out} = \lfloor (H + 2p_h - k_h) / s_h \rfloor + 1$, and the same for the width. This is
        the formula of `torch.nn.Conv2d` (with dilation 1) and of `torch.nn.MaxPool2d` (with
        `ceil_mode=False`).

    Raises
    ------
    ValueError
        If the kernel is larger than the padded input, or a size is out of range.
    TypeError
        If a size is not an int or a pair of ints.

    Notes
    -----
    The kernel's top-left corner visits rows $0, s_h, 2 s_h, \dots$ of the padded input, of height
    $H + 2p_h$, as long as the kernel still fits: $\lfloor (H + 2p_h - k_h)/s_h \rfloor + 1$ positions.
    Rows that no position reaches (when $s_h$ does not divide $H + 2p_h - k_h$) are ignored. A
    "same" convolution with stride 1 and an odd kernel needs $p = (k - 1)/2$.

    Examples
    --------
    >>> conv2d_output_shape(28, 3, padding=1)
    (28, 28)
    >>> conv2d_output_shape((28, 20), (5, 3), stride=2)
    (12, 9)
    """
    H, W = _pair(input_size, "input_size", 1)
    kh, kw = _pair(kernel_size, "kernel_size", 1)
    sh, sw = _pair(stride, "stride", 1)
    ph, pw = _pair(padding, "padding", 0)
    return _output_shape((H, W), (kh, kw), (sh, sw), (ph, pw))


def _windows(x_padded: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """Read-only view (N, C, kh, kw, H_out, W_out) of every kernel position: entry [..., i, j, h, w] is
    x_padded[..., s_h h + i, s_w w + j]. Kernel offsets come before positions so that a copy of the view
    moves whole output rows at a time."""
    windows = sliding_window_view(x_padded, kernel, axis=(2, 3))[:, :, ::stride[0], ::stride[1]]
    return windows.transpose(0, 1, 4, 5, 2, 3)


def _windows_backward(d_windows: np.ndarray, stride: tuple[int, int], out: np.ndarray) -> np.ndarray:
    """Adjoint of `_windows`, written into `out` (the padded input's shape): add the gradient of every
    window entry back onto the pixel it was read from, a pixel covered by several windows receiving the
    sum. Each of the kh * kw kernel offsets copies its whole (N, C, H_out, W_out) block onto a zero canvas
    of its own, where no two entries meet, and the canvases are summed: numpy copies into strided slices
    and adds whole arrays several times faster than it adds into the strided slices of one canvas."""
    n, c, kh, kw, H_out, W_out = d_windows.shape
    sh, sw = stride
    if (sh, sw) == (kh, kw):
        # Windows that tile the input (the usual pooling) do not overlap: the sum is a rearrangement.
        out[...] = 0
        tiles = d_windows.transpose(0, 1, 4, 2, 5, 3).reshape(n, c, H_out * kh, W_out * kw)
        out[:, :, :H_out * kh, :W_out * kw] = tiles
        return out
    canvases = np.zeros((kh, kw, *out.shape), dtype=d_windows.dtype)
    for i in range(kh):
        for j in range(kw):
            rows, columns = slice(i, i + sh * (H_out - 1) + 1, sh), slice(j, j + sw * (W_out - 1) + 1, sw)
            canvases[i, j, :, :, rows, columns] = d_windows[:, :, i, j]
    return np.sum(canvases.reshape(kh * kw, *out.shape), axis=0, out=out)


def _pad(x: np.ndarray, padding: tuple[int, int]) -> np.ndarray:
    """x with padding[0] rows and padding[1] columns of zeros on each side (np.pad, without its overhead)."""
    ph, pw = padding
    if ph == pw == 0:
        return x
    n, c, height, width = x.shape
    x_padded = np.zeros((n, c, height + 2 * ph, width + 2 * pw), dtype=x.dtype)
    x_padded[:, :, ph:ph + height, pw:pw + width] = x
    return x_padded


def _unpad(x: np.ndarray, padding: tuple[int, int]) -> np.ndarray:
    ph, pw = padding
    return x[:, :, ph:x.shape[2] - ph, pw:x.shape[3] - pw]


def _keeps_width(kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]) -> bool:
    """Stride 1 and kw = 2 pw + 1: the output is as wide as the input, the case of `_shifted_patches`."""
    return stride == (1, 1) and kernel[1] == 2 * padding[1] + 1


def _flat_length(height: int, width: int, padding: tuple[int, int]) -> int:
    """Length of an image's rows laid end to end, with ph zero rows above and below and pw zeros at
    either end."""
    return (height + 2 * padding[0]) * width + 2 * padding[1]


def _zero_wrapped_columns(patches: np.ndarray, pw: int) -> None:
    """Zero, in place, the entries of (N, C, kh, kw, H_out, W) patches that `_shifted_patches` read from the
    neighbouring row where the column padding should be: the first pw - j or the last j - pw output
    columns of kernel column j."""
    kw, width = patches.shape[3], patches.shape[5]
    for j in range(kw):
        if j < pw:
            patches[:, :, :, j, :, :pw - j] = 0
        elif j > pw:
            patches[:, :, :, j, :, max(width - (j - pw), 0):] = 0


def _shifted_patches(x: np.ndarray, kernel: tuple[int, int], padding: tuple[int, int]) -> np.ndarray:
    """Patches (N, C, kh, kw, H_out, W) of a stride-1 convolution with kw = 2 pw + 1.

    With each image's rows laid end to end (after ph zero rows and pw zeros), output position (h, w) reads
    the entry h W + w + i W + j at kernel offset (i, j): an offset's patches over all positions are one
    contiguous slice, a single copy with long runs instead of one short run per output row. Where
    w + j - pw falls outside the row, the slice reads the end of the neighbouring row instead of the column
    padding; `_zero_wrapped_columns` sets those entries to zero.
    """
    n, c, height, width = x.shape
    kh, kw = kernel
    size = (height + 2 * padding[0] - kh + 1) * width
    flat = np.zeros((n, c, _flat_length(height, width, padding)), dtype=x.dtype)
    start = padding[0] * width + padding[1]
    flat[:, :, start:start + height * width] = x.reshape(n, c, -1)
    patches = np.empty((n, c, kh, kw, size), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            patches[:, :, i, j] = flat[:, :, i * width + j:i * width + j + size]
    patches = patches.reshape(n, c, kh, kw, -1, width)
    _zero_wrapped_columns(patches, padding[1])
    return patches


def _patches(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
             padding: tuple[int, int]) -> np.ndarray:
    """im2col: the patch matrices (N, C kh kw, H_out W_out) of a group of images. Column h W_out + w of
    image n holds the padded input under the kernel at output position (h, w), its rows in the order
    (c, i, j) of W.reshape(C_out, -1)."""
    n, c = x.shape[:2]
    if _keeps_width(kernel, stride, padding):
        patches = _shifted_patches(x, kernel, padding)
    else:
        patches = _windows(_pad(x, padding), kernel, stride)
    return patches.reshape(n, c * kernel[0] * kernel[1], -1)


def _input_gradient(W_matrix: np.ndarray, G: np.ndarray, input_shape: tuple[int, ...],
                    output_shape: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int],
                    padding: tuple[int, int]) -> np.ndarray:
    """dL/dx, shape `input_shape` (N, C, H, W), of a group of images with output gradients G
    (N, C_out, H_out W_out): the patch gradients W^T G_n added back onto the pixels they were read from
    (col2im, the adjoint of `_patches`)."""
    n, c, height, width = input_shape
    kh, kw = kernel
    if not _keeps_width(kernel, stride, padding):
        d_patches = np.matmul(W_matrix.T, G).reshape(n, c, kh, kw, *output_shape)
        padded = np.empty((n, c, height + 2 * padding[0], width + 2 * padding[1]), dtype=d_patches.dtype)
        return _unpad(_windows_backward(d_patches, stride, out=padded), padding)
    # The adjoint of `_shifted_patches`: the gradient at kernel offset (i, j) goes back onto the flattened
    # image i W + j further on. Each row of patch gradients is followed by zeros up to the flattened image's
    # length, so that the rows of all images and channels, shifted together, are one slice of a single
    # flat canvas: the zeros that spill into the next image or channel add nothing.
    size, length = G.shape[-1], _flat_length(height, width, padding)
    rows = np.empty((n, c, kh, kw, length), dtype=np.result_type(W_matrix, G))
    rows[..., size:] = 0
    np.matmul(W_matrix.T, G, out=rows.reshape(n, c * kh * kw, length)[:, :, :size])
    _zero_wrapped_columns(rows[..., :size].reshape(n, c, kh, kw, -1, width), padding[1])
    flat = np.zeros(n * c * length + length - size, dtype=rows.dtype)  # the last shift is length - size
    for i in range(kh):
        for j in range(kw):
            shifted = flat[i * width + j:i * width + j + n * c * length].reshape(n, c, length)
            shifted += rows[:, :, i, j]  # into a contiguous slice, numpy's fast way to add in place
    start = padding[0] * width + padding[1]
    images = flat[:n * c * length].reshape(n, c, length)
    return images[:, :, start:start + height * width].reshape(n, c, height, width)


# Images are processed in groups whose patch matrices and col2im canvases take about this many bytes:
# small enough to stay in a core's L2 cache from the copy that writes them to the product that reads them.
_GROUP_BYTES = 1 << 20


def _image_groups(x: np.ndarray, kernel: tuple[int, int], padding: tuple[int, int]) -> list[slice]:
    """Slices of the batch axis of `x`, one per group of images."""
    n, c, height, width = x.shape
    # The largest temporaries, the patch gradients and the col2im canvases, take at most kh kw times the
    # padded input's size.
    per_image = kernel[0] * kernel[1] * c * (height + 2 * padding[0]) * (width + 2 * padding[1]) * x.itemsize
    size = max(1, _GROUP_BYTES // per_image)
    return [slice(start, start + size) for start in range(0, n, size)]


def _check_dy(dy, expected: tuple[int, ...], forward: str) -> np.ndarray:
    dy = as_float_array(dy, "dy")
    if dy.shape != expected:
        raise ValueError(f"dy must have the shape of the forward output, {expected}; got {dy.shape}. Pass "
                         f"the gradient of the output of the {forward} call that returned this cache.")
    return dy


def _check_cache(cache, cls: type, forward: str) -> None:
    if not isinstance(cache, cls):
        raise TypeError(f"cache must be the {cls.__name__} returned by {forward}; got "
                        f"{type(cache).__name__}.")


# --------------------------------------------------------------------------------------------------------
# Convolution
# --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Conv2dCache:
    """What [`conv2d_backward`][dlref.conv.conv2d_backward] needs from the forward pass.

    `x` is the input itself, not a copy, so changing it in place before the backward pass changes the
    gradients. As in torch, the cache keeps the input rather than its patch matrices, which are
    $k_h k_w$ times larger: the backward pass rebuilds them, a few images at a time.
    """

    x: np.ndarray
    W: np.ndarray
    stride: tuple[int, int]
    padding: tuple[int, int]


def _weight_gradient(G: np.ndarray, patches: np.ndarray) -> np.ndarray:
    """The sum over images of G_n X_n^T, shape (C_out, C_in kh kw), for a group's gradients G
    (N, C_out, P) and patches X (N, C_in kh kw, P)."""
    n, C_out, P = G.shape
    if P >= C_out:
        return np.matmul(patches, G.transpose(0, 2, 1)).sum(axis=0).T
    # With few output positions (late layers of small images), one product per image would build an
    # (N, C_in kh kw, C_out) array to sum away; one product over all images and positions is cheaper.
    return G.transpose(1, 0, 2).reshape(C_out, -1) @ patches.transpose(1, 0, 2).reshape(-1, n * P).T


def _conv_inputs(x, W, b, stride, padding):
    x = _nchw(x)
    W = as_float_array(W, "W")
    if W.ndim != 4:
        raise ValueError(f"W must be 4-D with shape (C_out, C_in, kh, kw), as torch.nn.Conv2d.weight; got "
                         f"shape {W.shape}.")
    if W.shape[1] != x.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels (x.shape[1], layout (N, C, H, W)) but W expects "
                         f"C_in = {W.shape[1]} (W.shape[1], layout (C_out, C_in, kh, kw)). Check the layouts: "
                         f"channels-last data need x.transpose(0, 3, 1, 2).")
    if b is not None:
        b = as_float_array(b, "b")
        if b.shape != (W.shape[0],):
            raise ValueError(f"b must have shape (C_out,) = ({W.shape[0]},) to match W of shape {W.shape}; "
                             f"got {b.shape}. Pass b=None for no bias.")
    stride = _pair(stride, "stride", 1)
    padding = _pair(padding, "padding", 0)
    return x, W, b, stride, padding


def conv2d_forward(x, W, b=None, stride=1, padding=0):
    r"""2-D convolution (cross-correlation) of a batch of images, as `torch.nn.functional.conv2d`.

    $$y_{n o h w} = b_o + \sum_{c=0}^{C_\text{in}-1} \sum_{i=0}^{k_h-1} \sum_{j=0}^{k_w-1}
      W_{o c i j}\; \tilde x_{n c,\, s_h h + i,\, s_w w + j}$$

    where $\tilde x$ is $x$ with $p_h$ rows and $p_w$ columns of zeros added on each side.

    Parameters
    ----------
    x : array_like, shape (N, C_in, H, W)
        A batch of images, channels first.
    W : array_like, shape (C_out, C_in, kh, kw)
        Kernels, laid out as `torch.nn.Conv2d.weight`; $k_h \ne k_w$ is allowed.
    b : array_like, shape (C_out,), optional
        Bias, one per output channel. `None` means no bias.
    stride : int or (int, int), default 1
        Step $(s_h, s_w)$ between kernel positions, each at least 1.
    padding : int or (int, int), default 0
        Zeros $(p_h, p_w)$ added on each side, each at least 0.

    Returns
    -------
    y : numpy.ndarray, shape (N, C_out, H_out, W_out)
        The output; $(H_\text{out}, W_\text{out})$ is
        [`conv2d_output_shape`][dlref.conv.conv2d_output_shape]`((H, W), (kh, kw), stride, padding)`.
        float32 and float64 inputs keep their dtype; mixed dtypes follow numpy's promotion.
    cache : Conv2dCache
        For [`conv2d_backward`][dlref.conv.conv2d_backward].

    Raises
    ------
    ValueError
        If an array has the wrong number of dimensions, the channels of `x` and `W` differ, `b` has the
        wrong shape, the kernel does not fit the padded input, or an input contains NaN.
    TypeError
        If an input is not real-valued, or `stride` or `padding` is not an int or a pair of ints.

    Notes
    -----
    **Forward (im2col).** Gathering the $C_\text{in} k_h k_w$ inputs under the kernel at each of the
    $P = H_\text{out} W_\text{out}$ positions into the columns of a matrix $X_n$ (the patches), the
    sum above is one matrix product per image, $Y_n = \mathbf{W} X_n + b$, with $\mathbf{W}$ the weight
    reshaped to $(C_\text{out}, C_\text{in} k_h k_w)$.

    **Backward.** For the upstream gradient $G_n = \partial L / \partial Y_n$, of shape
    $(C_\text{out}, P)$, the linear-layer rules apply to each image and sum over the batch:

    $$\frac{\partial L}{\partial \mathbf{W}} = \sum_n G_n X_n^\top, \qquad
      \frac{\partial L}{\partial b_o} = \sum_{n,h,w} G_{n o h w}, \qquad
      \frac{\partial L}{\partial X_n} = \mathbf{W}^\top G_n.$$

    Each entry of $X_n$ is a copy of one padded input pixel, and a pixel is copied into every window
    that covers it, so $\partial L / \partial \tilde x$ adds up the entries of
    $\partial L / \partial X_n$ that were copied from it (col2im); cropping the padding gives
    $\partial L / \partial x$. Written out, for stride 1 that is a "full" correlation of $G$ with the
    kernel rotated by 180 degrees:
    $\partial L/\partial \tilde x_{n c u v} = \sum_{o,i,j} G_{n o, u-i, v-j} W_{o c i j}$.

    References
    ----------
    LeCun, Y., Bottou, L., Bengio, Y. & Haffner, P. (1998). Gradient-based learning applied to document
    recognition. *Proceedings of the IEEE*, 86(11).
    Chellapilla, K., Puri, S. & Simard, P. (2006). High performance convolutional neural networks for
    document processing. *IWFHR* (the im2col formulation).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> W = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])  # x[h, w] - x[h + 1, w + 1]
    >>> y, cache = conv2d_forward(x, W, b=np.array([0.5]))
    >>> print(y[0, 0])
    [[-4.5 -4.5 -4.5]
     [-4.5 -4.5 -4.5]
     [-4.5 -4.5 -4.5]]
    >>> print(conv2d_forward(x, W, stride=2, padding=1)[0][0, 0])
    [[ 0. -2.  0.]
     [-8. -5.  7.]
     [ 0. 13. 15.]]
    """
    x, W, b, stride, padding = _conv_inputs(x, W, b, stride, padding)
    C_out, _, kh, kw = W.shape
    H_out, W_out = conv2d_output_shape(x.shape[2:], (kh, kw), stride, padding)
    n = x.shape[0]
    W_matrix = W.reshape(C_out, -1)
    dtype = np.result_type(x, W) if b is None else np.result_type(x, W, b)
    y = np.empty((n, C_out, H_out * W_out), dtype=dtype)
    for group in _image_groups(x, (kh, kw), padding):
        np.matmul(W_matrix, _patches(x[group], (kh, kw), stride, padding), out=y[group])
        if b is not None:
            y[group] += b[:, None]  # while the group's output is still in the cache
    cache = Conv2dCache(x=x, W=W, stride=stride, padding=padding)
    return y.reshape(n, C_out, H_out, W_out), cache


def conv2d_backward(dy, cache: Conv2dCache):
    r"""Gradients of [`conv2d_forward`][dlref.conv.conv2d_forward] with respect to $x$, $W$ and $b$.

    Parameters
    ----------
    dy : array_like, shape (N, C_out, H_out, W_out)
        Upstream gradient $\partial L/\partial y$, of the forward output's shape.
    cache : Conv2dCache
        The cache returned by the forward pass.

    Returns
    -------
    dx : numpy.ndarray, shape (N, C_in, H, W)
    dW : numpy.ndarray, shape (C_out, C_in, kh, kw)
    db : numpy.ndarray, shape (C_out,)
        Returned even if the forward pass had no bias.

    Raises
    ------
    ValueError
        If `dy` does not have the output's shape or contains NaN.
    TypeError
        If `cache` is not a `Conv2dCache`.

    Notes
    -----
    The derivation is in [`conv2d_forward`][dlref.conv.conv2d_forward]. Input pixels that no kernel
    position reaches (the last rows or columns, when the stride does not divide the padded size minus
    the kernel) get a zero gradient, as in torch.

    Examples
    --------
    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> y, cache = conv2d_forward(x, np.ones((1, 1, 2, 2)), b=np.zeros(1))
    >>> dx, dW, db = conv2d_backward(np.ones_like(y), cache)
    >>> print(dx[0, 0])  # how many windows cover each pixel
    [[1. 2. 1.]
     [2. 4. 2.]
     [1. 2. 1.]]
    >>> print(dW[0, 0], db)
    [[ 8. 12.]
     [20. 24.]] [4.]
    """
    _check_cache(cache, Conv2dCache, "conv2d_forward")
    x, W, stride, padding = cache.x, cache.W, cache.stride, cache.padding
    C_out, _, kh, kw = W.shape
    n = x.shape[0]
    H_out, W_out = _output_shape(x.shape[2:], (kh, kw), stride, padding)
    dy = _check_dy(dy, (n, C_out, H_out, W_out), "conv2d_forward")
    G = dy.reshape(n, C_out, H_out * W_out)
    W_matrix = W.reshape(C_out, -1)
    dW = np.zeros(W_matrix.shape, dtype=np.result_type(x, dy))
    dx = np.empty(x.shape, dtype=np.result_type(W, dy))
    for group in _image_groups(x, (kh, kw), padding):
        dW += _weight_gradient(G[group], _patches(x[group], (kh, kw), stride, padding))
        dx[group] = _input_gradient(W_matrix, G[group], dx[group].shape, (H_out, W_out), (kh, kw), stride,
                                    padding)
    db = dy.sum(axis=0).sum(axis=(1, 2))  # the batch axis first: a sum of whole contiguous arrays
    return dx, dW.reshape(W.shape), db


def conv2d_fft(x, W, b=None, padding=0):
    r"""The output of [`conv2d_forward`][dlref.conv.conv2d_forward] with stride 1, computed with the FFT.

    By the convolution theorem, circular convolution is elementwise multiplication of discrete Fourier
    transforms, $\mathcal F(u \circledast v) = \mathcal F(u) \cdot \mathcal F(v)$. A cross-correlation is a
    convolution with the kernel rotated by 180 degrees, so

    $$y_{n o} = b_o + \Big[\mathcal F^{-1}\Big(\sum_c \mathcal F(\tilde x_{n c}) \cdot
      \mathcal F(\operatorname{rot}_{180} W_{o c})\Big)\Big]_{\text{valid part}}$$

    with every transform of the padded input's size $(H + 2p_h) \times (W + 2p_w)$.

    Parameters
    ----------
    x : array_like, shape (N, C_in, H, W)
    W : array_like, shape (C_out, C_in, kh, kw)
    b : array_like, shape (C_out,), optional
    padding : int or (int, int), default 0
        As in [`conv2d_forward`][dlref.conv.conv2d_forward].

    Returns
    -------
    numpy.ndarray, shape (N, C_out, H_out, W_out)
        Equal to `conv2d_forward(x, W, b, stride=1, padding=padding)[0]` up to round-off, in the same
        dtype.

    Raises
    ------
    ValueError, TypeError
        As [`conv2d_forward`][dlref.conv.conv2d_forward].

    Notes
    -----
    A kernel zero-padded to $\tilde H \times \tilde W$ and convolved circularly wraps around only into
    the first $k_h - 1$ rows and $k_w - 1$ columns of the result; the remaining
    $(\tilde H - k_h + 1) \times (\tilde W - k_w + 1)$ entries are exactly the linear ("valid")
    convolution, which is the output. The cost is $O(\tilde H \tilde W \log(\tilde H \tilde W))$ per
    transform plus $O(N C_\text{out} C_\text{in} \tilde H \tilde W)$ for the products, independent of
    the kernel size, while the direct method costs $O(N C_\text{out} C_\text{in} H_\text{out} W_\text{out}
    k_h k_w)$: the FFT pays off for large kernels, not for the 3x3 kernels of most CNNs.
    No backward pass is provided: the gradients equal those of
    [`conv2d_backward`][dlref.conv.conv2d_backward].

    References
    ----------
    Mathieu, M., Henaff, M. & LeCun, Y. (2014). Fast training of convolutional networks through FFTs.
    *ICLR*.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x, W = rng.normal(size=(2, 3, 9, 9)), rng.normal(size=(4, 3, 5, 5))
    >>> direct = conv2d_forward(x, W, padding=2)[0]
    >>> bool(np.allclose(conv2d_fft(x, W, padding=2), direct, rtol=1e-10, atol=1e-10))
    True
    """
    x, W, b, _, padding = _conv_inputs(x, W, b, 1, padding)
    kh, kw = W.shape[2:]
    conv2d_output_shape(x.shape[2:], (kh, kw), 1, padding)  # validates that the kernel fits
    x_padded = _pad(x, padding)
    size = x_padded.shape[2:]
    x_hat = np.fft.rfft2(x_padded)
    w_hat = np.fft.rfft2(W[:, :, ::-1, ::-1], s=size)
    y_hat = np.einsum("nchw,ochw->nohw", x_hat, w_hat)
    y = np.fft.irfft2(y_hat, s=size)[:, :, kh - 1:, kw - 1:]
    if b is not None:
        y = y + b[:, None, None]
    return y.astype(np.result_type(x, W, *(() if b is None else (b,))), copy=False)


# --------------------------------------------------------------------------------------------------------
# Pooling
# --------------------------------------------------------------------------------------------------------

def _pool_inputs(x, kernel_size, stride):
    x = _nchw(x)
    kernel = _pair(kernel_size, "kernel_size", 1)
    stride = kernel if stride is None else _pair(stride, "stride", 1)
    output_shape = conv2d_output_shape(x.shape[2:], kernel, stride)
    return x, kernel, stride, output_shape


@dataclass(frozen=True)
class MaxPool2dCache:
    """What [`max_pool2d_backward`][dlref.conv.max_pool2d_backward] needs: the input's shape and, for
    each output, the position of the maximum inside its window (row-major index `i * kw + j`)."""

    input_shape: tuple[int, int, int, int]
    argmax: np.ndarray
    kernel_size: tuple[int, int]
    stride: tuple[int, int]


def max_pool2d_forward(x, kernel_size, stride=None):
    r"""Max pooling, $y_{n c h w} = \max_{0 \le i < k_h,\, 0 \le j < k_w} x_{n c,\, s_h h + i,\, s_w w + j}$,
    as `torch.nn.functional.max_pool2d` (no padding, dilation 1, `ceil_mode=False`).

    Parameters
    ----------
    x : array_like, shape (N, C, H, W)
    kernel_size : int or (int, int)
        Window $(k_h, k_w)$.
    stride : int or (int, int), optional
        Step between windows; defaults to `kernel_size` (non-overlapping windows), as in torch.

    Returns
    -------
    y : numpy.ndarray, shape (N, C, H_out, W_out)
        $H_\text{out} = \lfloor (H - k_h)/s_h \rfloor + 1$, and the same for the width; `x`'s dtype.
    cache : MaxPool2dCache
        For [`max_pool2d_backward`][dlref.conv.max_pool2d_backward].

    Raises
    ------
    ValueError
        If `x` is not 4-D, the window is larger than the input, or `x` contains NaN.
    TypeError
        If `x` is not real-valued, or a size is not an int or a pair of ints.

    Notes
    -----
    The output is a copy of one input per window, so its gradient flows to that input alone:
    $\partial L/\partial x_{n c u v} = \sum_{h,w} [(u, v) = a_{n c h w}]\,\partial L/\partial y_{n c h w}$
    with $a_{n c h w}$ the position of the maximum of window $(h, w)$, a sum because overlapping windows
    can share their maximum. On a tie the first maximum in row-major order within the window gets the
    gradient, as in torch on the CPU. Each channel is pooled separately, so pooling has no parameters.

    References
    ----------
    Ranzato, M., Huang, F. J., Boureau, Y. & LeCun, Y. (2007). Unsupervised learning of invariant
    feature hierarchies with applications to object recognition. *CVPR*.

    Examples
    --------
    >>> x = np.array([[[[1.0, 2.0, 5.0, 0.0],
    ...                 [3.0, 4.0, 1.0, 1.0],
    ...                 [0.0, 0.0, 2.0, 2.0],
    ...                 [9.0, 0.0, 2.0, 3.0]]]])
    >>> y, cache = max_pool2d_forward(x, 2)
    >>> print(y[0, 0])
    [[4. 5.]
     [9. 3.]]
    >>> print(max_pool2d_backward(np.ones_like(y), cache)[0, 0])
    [[0. 0. 1. 0.]
     [0. 1. 0. 0.]
     [0. 0. 0. 0.]
     [1. 0. 0. 1.]]
    """
    x, kernel, stride, _ = _pool_inputs(x, kernel_size, stride)
    windows = _windows(x, kernel, stride)
    # A running maximum over the kernel offsets, vectorised over pixels; the strict comparison keeps the
    # first maximum in row-major order, as torch does.
    y = windows[:, :, 0, 0].copy()
    argmax = np.zeros(y.shape, dtype=np.intp)
    for offset in range(1, kernel[0] * kernel[1]):
        candidate = windows[:, :, offset // kernel[1], offset % kernel[1]]
        argmax = np.where(candidate > y, offset, argmax)
        np.maximum(y, candidate, out=y)
    return y, MaxPool2dCache(input_shape=x.shape, argmax=argmax, kernel_size=kernel, stride=stride)


def max_pool2d_backward(dy, cache: MaxPool2dCache):
    r"""Gradient of [`max_pool2d_forward`][dlref.conv.max_pool2d_forward] with respect to its input.

    Parameters
    ----------
    dy : array_like, shape (N, C, H_out, W_out)
        Upstream gradient, of the forward output's shape.
    cache : MaxPool2dCache
        The cache returned by the forward pass.

    Returns
    -------
    numpy.ndarray, shape (N, C, H, W)
        `dy` routed to the maximum of each window (summed where windows overlap); zero elsewhere.

    Raises
    ------
    ValueError
        If `dy` does not have the output's shape or contains NaN.
    TypeError
        If `cache` is not a `MaxPool2dCache`.
    """
    _check_cache(cache, MaxPool2dCache, "max_pool2d_forward")
    n, c, H_out, W_out = cache.argmax.shape
    dy = _check_dy(dy, (n, c, H_out, W_out), "max_pool2d_forward")
    kh, kw = cache.kernel_size
    is_max = cache.argmax[:, :, None] == np.arange(kh * kw)[:, None, None]
    d_windows = np.where(is_max, dy[:, :, None], 0).astype(dy.dtype, copy=False)
    return _windows_backward(d_windows.reshape(n, c, kh, kw, H_out, W_out), cache.stride,
                             out=np.empty(cache.input_shape, dtype=d_windows.dtype))


@dataclass(frozen=True)
class AvgPool2dCache:
    """What [`avg_pool2d_backward`][dlref.conv.avg_pool2d_backward] needs: only shapes, since the
    average is linear."""

    input_shape: tuple[int, int, int, int]
    kernel_size: tuple[int, int]
    stride: tuple[int, int]


def avg_pool2d_forward(x, kernel_size, stride=None):
    r"""Average pooling, $y_{n c h w} = \frac{1}{k_h k_w}\sum_{i, j} x_{n c,\, s_h h + i,\, s_w w + j}$, as
    `torch.nn.functional.avg_pool2d` (no padding, `ceil_mode=False`).

    Parameters
    ----------
    x : array_like, shape (N, C, H, W)
    kernel_size : int or (int, int)
        Window $(k_h, k_w)$.
    stride : int or (int, int), optional
        Step between windows; defaults to `kernel_size`, as in torch.

    Returns
    -------
    y : numpy.ndarray, shape (N, C, H_out, W_out)
        Output sizes as in [`max_pool2d_forward`][dlref.conv.max_pool2d_forward]; `x`'s dtype.
    cache : AvgPool2dCache
        For [`avg_pool2d_backward`][dlref.conv.avg_pool2d_backward].

    Raises
    ------
    ValueError, TypeError
        As [`max_pool2d_forward`][dlref.conv.max_pool2d_forward].

    Notes
    -----
    Average pooling is a convolution of each channel with a constant kernel $1/(k_h k_w)$ at stride
    $s$, so every input in a window receives $\frac{1}{k_h k_w}\,\partial L/\partial y_{n c h w}$,
    summed over the windows that contain it. Pooling over the whole feature map ("global average
    pooling") replaces the flatten-and-dense head of many modern CNNs.

    References
    ----------
    LeCun, Y., Bottou, L., Bengio, Y. & Haffner, P. (1998). Gradient-based learning applied to document
    recognition. *Proceedings of the IEEE*, 86(11) (subsampling layers).

    Examples
    --------
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> y, cache = avg_pool2d_forward(x, 2)
    >>> print(y[0, 0])
    [[ 2.5  4.5]
     [10.5 12.5]]
    >>> print(avg_pool2d_backward(np.ones_like(y), cache)[0, 0])
    [[0.25 0.25 0.25 0.25]
     [0.25 0.25 0.25 0.25]
     [0.25 0.25 0.25 0.25]
     [0.25 0.25 0.25 0.25]]
    """
    x, kernel, stride, _ = _pool_inputs(x, kernel_size, stride)
    y = _windows(x, kernel, stride).mean(axis=(2, 3), dtype=x.dtype)
    return y, AvgPool2dCache(input_shape=x.shape, kernel_size=kernel, stride=stride)


def avg_pool2d_backward(dy, cache: AvgPool2dCache):
    r"""Gradient of [`avg_pool2d_forward`][dlref.conv.avg_pool2d_forward] with respect to its input.

    Parameters
    ----------
    dy : array_like, shape (N, C, H_out, W_out)
        Upstream gradient, of the forward output's shape.
    cache : AvgPool2dCache
        The cache returned by the forward pass.

    Returns
    -------
    numpy.ndarray, shape (N, C, H, W)
        Each window's `dy / (kh * kw)` spread over the window, summed where windows overlap.

    Raises
    ------
    ValueError
        If `dy` does not have the output's shape or contains NaN.
    TypeError
        If `cache` is not an `AvgPool2dCache`.
    """
    _check_cache(cache, AvgPool2dCache, "avg_pool2d_forward")
    n, c = cache.input_shape[:2]
    kh, kw = cache.kernel_size
    H_out, W_out = _output_shape(cache.input_shape[2:], cache.kernel_size, cache.stride, (0, 0))
    dy = _check_dy(dy, (n, c, H_out, W_out), "avg_pool2d_forward")
    share = (dy / (kh * kw)).astype(dy.dtype, copy=False)
    d_windows = np.broadcast_to(share[:, :, None, None], (n, c, kh, kw, H_out, W_out))
    return _windows_backward(d_windows, cache.stride, out=np.empty(cache.input_shape, dtype=d_windows.dtype))
