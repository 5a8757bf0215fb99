"""dlref.plotting: deterministic, theme-following inline SVG."""

import re
import subprocess
import sys

import numpy as np
import pytest

from dlref import plotting
from dlref.plotting import COLORS, figure_html, figure_svg, subplots


def _figure():
    fig, ax = subplots()
    x = np.linspace(0, 1, 50)
    ax.plot(x, x**2, label="square")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend()
    return fig


def test_the_same_figure_renders_to_identical_svg_twice():
    assert figure_svg(_figure()) == figure_svg(_figure())


def test_svg_is_inline_ready_and_follows_the_theme():
    svg = figure_svg(_figure())
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<?xml" not in svg and "<!DOCTYPE" not in svg
    assert "<metadata>" not in svg and "dc:date" not in svg
    assert "<style" not in svg  # matplotlib's global style must not leak into the page
    assert "#000000" not in svg and "currentColor" in svg
    assert "<text" in svg and ">square<" in svg  # text is text, searchable and selectable
    assert 'viewBox="' in svg and ' width="' not in svg.split(">", 1)[0]
    assert COLORS[0].lower() in svg.lower()


def test_black_text_follows_the_theme_and_coloured_text_keeps_its_colour():
    fig, ax = subplots()
    ax.set_xlabel("plain")
    ax.text(0.5, 0.5, "warning", color="#D55E00")
    svg = figure_svg(fig)
    texts = re.findall(r"<text [^>]*>", svg)
    assert texts and all('fill="currentColor"' in t for t in texts)
    assert any("fill: #d55e00" in t.lower() for t in texts)


def test_legend_frame_is_transparent_in_both_palettes():
    svg = figure_svg(_figure())
    assert "#ffffff" not in svg.lower()


def test_figure_html_wraps_svg_with_caption_and_accessible_label():
    out = figure_html(_figure(), "Squares <grow>", alt='x "squared"')
    assert out.startswith('<figure class="dlref-figure"><svg role="img" aria-label="x &quot;squared&quot;"')
    assert "<figcaption>Squares &lt;grow&gt;</figcaption></figure>" in out


def test_figure_html_requires_a_caption():
    with pytest.raises(ValueError, match="caption must be a non-empty string"):
        figure_html(_figure(), "  ")


def test_importing_every_dlref_module_pulls_in_no_heavy_library():
    code = ("import importlib, pkgutil, sys, dlref\n"
            "for m in pkgutil.walk_packages(dlref.__path__, 'dlref.'): importlib.import_module(m.name)\n"
            "print(sorted(m for m in ('matplotlib', 'torch', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_image_rows_tiles_each_row_with_a_blank_border_and_labels_it():
    fig, ax = plotting.subplots()
    first = np.arange(2 * 6, dtype=float).reshape(2, 6) / 12  # two 2x3 images
    image = plotting.image_rows(ax, {"a": first, "b": 1 - first}, image_shape=(2, 3))
    grid = image.get_array()
    assert grid.shape == (2 * 4, 2 * 5)
    np.testing.assert_array_equal(grid[1:3, 1:4], first[0].reshape(2, 3))  # row a, image 0
    np.testing.assert_array_equal(grid[5:7, 6:9], (1 - first[1]).reshape(2, 3))  # row b, image 1
    assert grid[0].sum() == 0 and grid[:, 0].sum() == 0  # the blank border
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    np.testing.assert_allclose(ax.get_yticks(), [1.5, 5.5])


def test_image_rows_rejects_rows_that_do_not_fit():
    fig, ax = plotting.subplots()
    with pytest.raises(ValueError, match=r"every row must have shape \(n, 4\) with the same n"):
        plotting.image_rows(ax, {"a": np.zeros((2, 4)), "b": np.zeros((3, 4))}, image_shape=(2, 2))
    with pytest.raises(TypeError, match="rows must be a non-empty dict"):
        plotting.image_rows(ax, [np.zeros((2, 4))], image_shape=(2, 2))
