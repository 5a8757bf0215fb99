"""dlref.attention: torch.nn.functional.scaled_dot_product_attention in float64 as the oracle, finite
differences, masks, broadcasting, dtypes and errors."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlref.attention import scaled_dot_product_attention, scaled_dot_product_attention_backward
from dlref.gradcheck import numerical_gradients, relative_error

TOL = {"rtol": 1e-8, "atol": 1e-10}


def _assert_matches_torch(q, k, v, mask=None, **kwargs):
    rng = np.random.default_rng(q.size + k.size)
    out, cache = scaled_dot_product_attention(q, k, v, mask, **kwargs)
    dout = rng.normal(size=out.shape)
    grads = scaled_dot_product_attention_backward(dout, cache)

    tensors = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    attn_mask = None if mask is None else torch.tensor(mask)
    out_t = F.scaled_dot_product_attention(*tensors, attn_mask=attn_mask, **kwargs)
    torch_grads = torch.autograd.grad(out_t, tensors, torch.tensor(dout))

    assert out.shape == tuple(out_t.shape)
    np.testing.assert_allclose(out, out_t.detach().numpy(), **TOL)
    for name, ours, theirs in zip("qkv", grads, torch_grads):
        assert ours.shape == tuple(theirs.shape), name
        np.testing.assert_allclose(ours, theirs.numpy(), **TOL, err_msg=name)


def _random_qkv(rng, batch, L, S, E, E_v, scale=1.0):
    return (scale * rng.normal(size=batch + (L, E)), scale * rng.normal(size=batch + (S, E)),
            rng.normal(size=batch + (S, E_v)))


@pytest.mark.parametrize("seed", range(8))
def test_matches_torch_on_random_shapes(seed):
    rng = np.random.default_rng(seed)
    batch = tuple(int(n) for n in rng.integers(1, 4, size=rng.integers(0, 3)))
    L, S, E, E_v = (int(n) for n in rng.integers(1, 7, size=4))
    _assert_matches_torch(*_random_qkv(rng, batch, L, S, E, E_v))


@pytest.mark.parametrize("sizes", [(1, 1, 1, 1), (1, 5, 3, 2), (4, 1, 2, 3), (3, 3, 1, 1)])
def test_matches_torch_on_edge_sizes(sizes):
    _assert_matches_torch(*_random_qkv(np.random.default_rng(1), (2,), *sizes))


def test_large_scores_match_torch_without_overflow():
    _assert_matches_torch(*_random_qkv(np.random.default_rng(2), (2,), 4, 5, 8, 3, scale=30.0))


@pytest.mark.parametrize("shapes", [((2, 1), (1, 3), (1, 3)), ((3,), (1,), (1,)), ((2, 3), (3,), (3,))])
def test_broadcast_batch_dimensions_match_torch(shapes):
    rng = np.random.default_rng(3)
    q = rng.normal(size=shapes[0] + (4, 5))
    k = rng.normal(size=shapes[1] + (6, 5))
    v = rng.normal(size=shapes[2] + (6, 2))
    _assert_matches_torch(q, k, v)


@pytest.mark.parametrize("mask_shape", [(4, 6), (2, 4, 6), (1, 6), (2, 1, 6)])
def test_boolean_mask_matches_torch(mask_shape):
    rng = np.random.default_rng(4)
    q, k, v = _random_qkv(rng, (2,), 4, 6, 3, 2)
    mask = rng.random(mask_shape) < 0.6
    mask[..., 0] = True  # every query keeps at least one key here; fully masked rows are tested below
    _assert_matches_torch(q, k, v, mask)


def test_float_mask_is_added_to_the_scores_as_in_torch():
    rng = np.random.default_rng(5)
    q, k, v = _random_qkv(rng, (3,), 4, 5, 3, 2)
    mask = rng.normal(size=(4, 5))
    mask[1, 2] = -np.inf
    _assert_matches_torch(q, k, v, mask)


def test_fully_masked_queries_give_zero_output_and_zero_gradients_as_in_torch():
    rng = np.random.default_rng(6)
    q, k, v = _random_qkv(rng, (2,), 4, 5, 3, 2)
    mask = rng.random((4, 5)) < 0.5
    mask[0, :] = True
    mask[2, :] = False
    _assert_matches_torch(q, k, v, mask)
    out, cache = scaled_dot_product_attention(q, k, v, mask)
    assert np.all(out[:, 2] == 0) and np.all(cache.weights[:, 2] == 0)
    float_mask = np.where(mask, 0.0, -np.inf)
    _assert_matches_torch(q, k, v, float_mask)


@pytest.mark.parametrize("L, S", [(5, 5), (3, 5), (5, 3)])
def test_is_causal_matches_torch(L, S):
    _assert_matches_torch(*_random_qkv(np.random.default_rng(7), (2,), L, S, 4, 3), is_causal=True)


@pytest.mark.parametrize("scale", [0.1, 1.0, 2.5])
def test_explicit_scale_matches_torch(scale):
    _assert_matches_torch(*_random_qkv(np.random.default_rng(8), (2,), 3, 4, 5, 2), scale=scale)


def test_weights_are_a_distribution_over_the_allowed_keys():
    rng = np.random.default_rng(9)
    q, k, v = _random_qkv(rng, (2,), 5, 5, 4, 3)
    _, cache = scaled_dot_product_attention(q, k, v, is_causal=True)
    np.testing.assert_allclose(cache.weights.sum(axis=-1), 1.0, rtol=1e-12)
    assert np.all(np.triu(cache.weights[0], k=1) == 0)


@pytest.mark.parametrize("mask", [None, "bool", "causal"])
@pytest.mark.parametrize("batch", [(), (2,)])
def test_backward_matches_finite_differences(mask, batch):
    rng = np.random.default_rng(10)
    q, k, v = _random_qkv(rng, batch, 3, 4, 5, 2)
    kwargs = {"is_causal": True} if mask == "causal" else {}
    bool_mask = rng.random((3, 4)) < 0.6 if mask == "bool" else None
    if bool_mask is not None:
        bool_mask[:, 1] = True

    def f(q, k, v):
        return scaled_dot_product_attention(q, k, v, bool_mask, **kwargs)[0]

    dout = rng.normal(size=f(q, k, v).shape)
    analytic = scaled_dot_product_attention_backward(dout, scaled_dot_product_attention(q, k, v, bool_mask,
                                                                                        **kwargs)[1])
    for ours, estimate in zip(analytic, numerical_gradients(f, [q, k, v], dout)):
        assert relative_error(ours, estimate) < 1e-7


def test_backward_sums_over_broadcast_dimensions_by_finite_differences():
    rng = np.random.default_rng(11)
    q, k, v = rng.normal(size=(3, 2, 4)), rng.normal(size=(1, 5, 4)), rng.normal(size=(5, 3))

    def f(q, k, v):
        return scaled_dot_product_attention(q, k, v)[0]

    dout = rng.normal(size=(3, 2, 3))
    analytic = scaled_dot_product_attention_backward(dout, scaled_dot_product_attention(q, k, v)[1])
    for ours, estimate in zip(analytic, numerical_gradients(f, [q, k, v], dout)):
        assert ours.shape == estimate.shape
        assert relative_error(ours, estimate) < 1e-7


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(dtype):
    q, k, v = (a.astype(dtype) for a in _random_qkv(np.random.default_rng(12), (2,), 3, 4, 5, 2))
    out, cache = scaled_dot_product_attention(q, k, v, np.tril(np.ones((3, 4), dtype=bool)))
    assert out.dtype == dtype and cache.weights.dtype == dtype
    assert all(g.dtype == dtype for g in scaled_dot_product_attention_backward(np.ones_like(out), cache))


def test_key_size_that_differs_from_the_query_size_is_rejected():
    with pytest.raises(ValueError, match=r"k must have the embedding size E = 4 of q in its last dimension; got "
                                         r"q \(3, 4\) and k \(5, 2\)"):
        scaled_dot_product_attention(np.ones((3, 4)), np.ones((5, 2)), np.ones((5, 2)))


def test_values_that_do_not_match_the_keys_are_rejected():
    with pytest.raises(ValueError, match=r"v must have one row per key, S = 5.*got k \(5, 4\) and v \(4, 2\)"):
        scaled_dot_product_attention(np.ones((3, 4)), np.ones((5, 4)), np.ones((4, 2)))


def test_one_dimensional_inputs_are_rejected():
    with pytest.raises(ValueError, match=r"q must have at least 2 dimensions, \(\.\.\., L, E\).*got shape \(4,\)\. "
                                         r"For a single vector use q\[None, :\]"):
        scaled_dot_product_attention(np.ones(4), np.ones((5, 4)), np.ones((5, 2)))


def test_batch_dimensions_that_do_not_broadcast_are_rejected():
    with pytest.raises(ValueError, match=r"leading \(batch\) dimensions of q \(2,\), k \(3,\) and v \(3,\) must "
                                         r"broadcast"):
        scaled_dot_product_attention(np.ones((2, 3, 4)), np.ones((3, 5, 4)), np.ones((3, 5, 2)))


@pytest.mark.parametrize("shape", [(3, 4), (4,), (2, 2, 3, 5)])
def test_mask_that_does_not_fit_the_scores_is_rejected(shape):
    with pytest.raises(ValueError, match=r"mask .*attention scores \(\.\.\., L, S\) = \(2, 3, 5\)"):
        scaled_dot_product_attention(np.ones((2, 3, 4)), np.ones((2, 5, 4)), np.ones((2, 5, 2)),
                                     np.ones(shape, dtype=bool))


def test_integer_mask_is_a_type_error_not_an_additive_bias():
    with pytest.raises(TypeError, match=r"mask must be boolean .* or float .*; got dtype int64\. For a 0/1 mask "
                                        r"pass mask\.astype\(bool\)"):
        scaled_dot_product_attention(np.ones((3, 4)), np.ones((5, 4)), np.ones((5, 2)), np.ones((3, 5), dtype=np.int64))


def test_mask_together_with_is_causal_is_rejected():
    with pytest.raises(ValueError, match=r"pass either mask or is_causal=True, not both"):
        scaled_dot_product_attention(np.ones((3, 4)), np.ones((3, 4)), np.ones((3, 2)),
                                     np.ones((3, 3), dtype=bool), is_causal=True)


def test_nan_input_is_rejected():
    q = np.ones((3, 4))
    q[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"q must not contain NaN or infinite values; found nan at index \(1, 2\)"):
        scaled_dot_product_attention(q, np.ones((5, 4)), np.ones((5, 2)))


def test_upstream_gradient_of_the_wrong_shape_is_rejected():
    _, cache = scaled_dot_product_attention(np.ones((2, 3, 4)), np.ones((2, 5, 4)), np.ones((2, 5, 6)))
    with pytest.raises(ValueError, match=re.escape("dout must have the shape of the forward output (..., L, E_v) "
                                                   "= (2, 3, 6); got (2, 3, 4)")):
        scaled_dot_product_attention_backward(np.ones((2, 3, 4)), cache)


def test_is_causal_that_is_not_a_bool_is_a_type_error():
    with pytest.raises(TypeError, match=r"is_causal must be True or False; got 'yes'"):
        scaled_dot_product_attention(np.ones((3, 4)), np.ones((3, 4)), np.ones((3, 2)), is_causal="yes")
