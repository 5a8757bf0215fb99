r"""Matplotlib figures as deterministic inline SVG for the site.

[`figure_html`][dlref.plotting.figure_html] renders a figure to SVG that is byte-identical from build to
build (fixed `svg.hashsalt`, no date or creator metadata, text kept as text) and readable in both the
light and the dark palette: everything matplotlib draws in black (axes, ticks, labels, legend text)
becomes `currentColor`, so it takes the colour of the page's text, and the background is transparent.
Data colours come from [`COLORS`][dlref.plotting.COLORS], chosen to read on white and on dark slate.

matplotlib is imported only when a function here is called.
"""

from __future__ import annotations

import html
import io
import re

import numpy as np

from dlref._checks import as_float_array, check_shape

__all__ = ["COLORS", "figure_html", "figure_svg", "image_rows", "subplots"]

COLORS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#8C8C8C")
"""Line colours readable on the light and the dark palette: Okabe-Ito's colour-blind-safe set without
black and yellow."""

_RC = {
    "svg.hashsalt": "dlref",
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.size": 10,
    "axes.facecolor": "none",
    "figure.facecolor": "none",
    "savefig.facecolor": "none",
    "savefig.transparent": True,
    "axes.edgecolor": "black",
    "axes.labelcolor": "black",
    "xtick.color": "black",
    "ytick.color": "black",
    "text.color": "black",
    "legend.frameon": False,
    "axes.grid": True,
    "grid.color": "#8C8C8C",
    "grid.alpha": 0.3,
    "path.simplify": False,
}


def _rc() -> dict:
    from cycler import cycler

    return {**_RC, "axes.prop_cycle": cycler(color=COLORS)}


def subplots(nrows: int = 1, ncols: int = 1, *, figsize=(6.4, 3.6), **kwargs):
    """Create a figure and axes with the site's style, without pyplot's global figure registry.

    Parameters
    ----------
    nrows, ncols : int
        Grid of axes, as in `matplotlib.pyplot.subplots`.
    figsize : tuple of float
        Width and height in inches.
    **kwargs
        Passed to `Figure.subplots` (for example `sharex=True`).

    Returns
    -------
    (matplotlib.figure.Figure, axes)
        The figure and an `Axes` or an array of them.
    """
    import matplotlib

    from matplotlib.figure import Figure

    with matplotlib.rc_context(_rc()):
        fig = Figure(figsize=figsize, layout="constrained")
        axes = fig.subplots(nrows, ncols, **kwargs)
    return fig, axes


def figure_svg(fig) -> str:
    """Render a figure to a deterministic SVG string with theme-following text and axes.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure; best made with [`subplots`][dlref.plotting.subplots].

    Returns
    -------
    str
        An `<svg>` element (no XML prolog) that scales to its container's width.
    """
    import matplotlib

    for ax in fig.axes:  # legends read their style when created, maybe outside our rc_context
        legend = ax.get_legend()
        if legend is not None:
            legend.get_frame().set_facecolor("none")
            legend.get_frame().set_edgecolor("none")
    buffer = io.StringIO()
    with matplotlib.rc_context(_rc()):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, count=1, flags=re.S)
    # Matplotlib's global `*{...}` style would leak into the whole page once inlined.
    svg = re.sub(r"\s*<defs>\s*<style[^>]*>.*?</style>\s*</defs>", "", svg, count=1, flags=re.S)
    svg = re.sub(r"#000000\b", "currentColor", svg)
    # Black text carries no fill at all; the attribute gives it the page's colour, while coloured text
    # keeps its own, because a `style` fill overrides a presentation attribute.
    svg = svg.replace("<text ", '<text fill="currentColor" ')
    # Responsive: keep the viewBox, drop the fixed size in points.
    svg = re.sub(r'(<svg[^>]*?) width="[^"]*" height="[^"]*"', r"\1", svg, count=1)
    return svg.strip()


def figure_html(fig, caption: str, *, alt: str | None = None) -> str:
    """Render a figure as an HTML `<figure>` with inline SVG and a caption, and release it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    caption : str
        Shown under the figure. Say what the reader should see.
    alt : str, optional
        Text alternative for screen readers; defaults to the caption.

    Returns
    -------
    str
        HTML to print from a `html="1"` executed block.
    """
    if not caption or not caption.strip():
        raise ValueError("caption must be a non-empty string that says what the figure shows; got "
                         f"{caption!r}.")
    svg = figure_svg(fig)
    label = html.escape(alt or caption, quote=True)
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)
    return (f'<figure class="dlref-figure">{svg}'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def image_rows(ax, rows, *, image_shape=(8, 8), cmap="gray_r", vmin=0.0, vmax=1.0):
    """Draw rows of small images (digits, reconstructions, samples) on one axes, each row labelled.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw; its ticks and grid are replaced by the row labels.
    rows : dict of str to array_like, each of shape (n, height * width)
        One row of `n` flattened images per label, top to bottom; every row holds the same `n`.
    image_shape : tuple of int, default (8, 8)
        `(height, width)` of one image.
    cmap, vmin, vmax
        Passed to `imshow`; the defaults show pixel intensities in $[0, 1]$, dark on light.

    Returns
    -------
    matplotlib.image.AxesImage

    Examples
    --------
    >>> import numpy as np
    >>> fig, ax = subplots()
    >>> image = image_rows(ax, {"zeros": np.zeros((3, 4)), "ones": np.ones((3, 4))}, image_shape=(2, 2))
    >>> image.get_array().shape  # 2 rows of 3 images of 2x2, a blank pixel around each
    (8, 12)
    """
    height, width = check_shape(tuple(image_shape), "image_shape")
    if not isinstance(rows, dict) or not rows:
        raise TypeError(f"rows must be a non-empty dict of label -> images; got {type(rows).__name__}.")
    arrays = [as_float_array(images, f"rows[{label!r}]") for label, images in rows.items()]
    if any(a.ndim != 2 or a.shape[1] != height * width or len(a) != len(arrays[0]) for a in arrays):
        raise ValueError(f"every row must have shape (n, {height * width}) with the same n, flattened images of "
                         f"shape {(height, width)}; got {[a.shape for a in arrays]}.")
    n = len(arrays[0])
    images = np.stack(arrays).reshape(len(arrays), n, height, width)
    tiles = np.pad(images, ((0, 0), (0, 0), (1, 1), (1, 1)))  # a blank pixel around every image
    grid = tiles.transpose(0, 2, 1, 3).reshape(len(arrays) * (height + 2), n * (width + 2))
    image = ax.imshow(grid, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks(np.arange(len(arrays)) * (height + 2) + (height + 1) / 2, list(rows))
    ax.grid(False)
    return image
