"""Tests of the shape rules of srcgrad/rules.py, and for non-differentiable
functions used inside a differentiated function.

Shape functions only move, copy or drop elements, so their gradient is a permutation,
a sum of copies or a zero-fill of the incoming adjoint.  A random weight on the result
makes every element's adjoint distinct, so a misplaced element cannot go unnoticed.

Both modes: reverse-mode tests are marked `@reverse(function, ...)`; the forward-mode cases
(`@case(function, *args)`, checked by test_rule_jvp against central differences along random
directions) are at the end of the file.  See tests/README.md.
"""
import inspect
import warnings

import numpy as np
import pytest
from support import RuleTests, both_modes, check, check_jvp, is_float, line_of, numerical_gradient, uniform

import srcgrad

RULE_TESTS = RuleTests()         # this family's rules: forward cases, reverse tests
case, reverse = RULE_TESTS.case, RULE_TESTS.reverse


def rand(shape, lo=-1.0, hi=1.0, seed=0):
    return np.random.default_rng(seed).uniform(lo, hi, size=shape)


def weight_like(value, seed=99):
    return rand(np.shape(value), 0.5, 1.5, seed=seed)


def adjoint_part(source):
    """The backward half of generated source (after the first blank line), no comments."""
    lines = source.split("\n\n", 1)[1].splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("#"))


# --- reshape, ravel, flatten ---------------------------------------------------------

@reverse(np.reshape)
def test_reshape_forms():
    x = rand((2, 6), seed=1)
    w = weight_like(np.zeros((3, 4)))

    def function_tuple(x):
        return np.sum(w * np.reshape(x, (3, 4)))

    def function_minus_one(x):
        return np.sum(w * np.reshape(x, (3, -1)))

    def method_args(x):
        return np.sum(w * x.reshape(3, 4))

    def method_tuple(x):
        return np.sum(w * x.reshape((3, 4)))

    def method_minus_one(x):
        return np.sum(w * x.reshape(-1, 4))

    def keyword(x):
        return np.sum(w * np.reshape(x, shape=(3, 4)))

    def old_keyword(x):      # NumPy < 2.1 spells it `newshape`
        return np.sum(w * np.reshape(x, newshape=(3, 4)))
    if "shape" not in inspect.signature(np.reshape).parameters:
        keyword = old_keyword
    for f in (function_tuple, function_minus_one, method_args, method_tuple, method_minus_one, keyword):
        np.testing.assert_allclose(check(f, x), w.reshape(2, 6), err_msg=f.__name__)


def test_reshape_to_flat_and_back():
    def f(x):
        v = x.reshape(-1)
        return np.sum(np.cumsum(v) * np.reshape(v * v, (4, 3)).ravel())
    check(f, rand((3, 4), seed=2))


def test_reshape_summed_seed_and_scalar():
    def f(x):
        return np.sum(np.reshape(x, (2, 2, 3))) + np.sum(np.reshape(x, 12))
    x = rand((3, 4), seed=3)
    np.testing.assert_allclose(srcgrad.grad(f)(x), np.full((3, 4), 2.0))


def test_reshape_0d_to_1d():
    def f(x):
        return np.sum(np.reshape(x, (1,)) * 3.0)
    assert srcgrad.grad(f)(np.array(2.0)) == 3.0
    assert srcgrad.grad(f)(2.0) == 3.0


@reverse(np.ravel)
def test_ravel_and_flatten():
    x = rand((2, 3, 2), seed=4)
    w = weight_like(np.zeros(12))

    def ravel_fn(x):
        return np.sum(w * np.ravel(x))

    def ravel_method(x):
        return np.sum(w * x.ravel())

    def flatten_method(x):
        return np.sum(w * x.flatten())
    for f in (ravel_fn, ravel_method, flatten_method):
        np.testing.assert_allclose(check(f, x), w.reshape(2, 3, 2), err_msg=f.__name__)


# --- transposes and axis moves ----------------------------------------------------------

@reverse(np.transpose)
@pytest.mark.parametrize("axes", [None, (0, 1, 2), (2, 0, 1), (1, 0, 2), (0, 2, 1), (-1, 0, 1)],
                         ids=str)
def test_transpose_function(axes):
    x = rand((2, 3, 4), seed=5)
    w = weight_like(np.transpose(x, axes))

    def f(x):
        return np.sum(w * np.transpose(x, axes))
    np.testing.assert_allclose(check(f, x), np.transpose(w, np.argsort(np.arange(3)[list(axes)]))
                               if axes is not None else w.T)


def test_transpose_literal_forms():
    x = rand((2, 3, 4), seed=6)
    w = weight_like(np.zeros((4, 2, 3)))

    def function_literal(x):
        return np.sum(w * np.transpose(x, (2, 0, 1)))

    def method_args(x):
        return np.sum(w * x.transpose(2, 0, 1))

    def method_tuple(x):
        return np.sum(w * x.transpose((2, 0, 1)))

    def keyword(x):
        return np.sum(w * np.transpose(x, axes=[2, 0, 1]))
    for f in (function_literal, method_args, method_tuple, keyword):
        np.testing.assert_allclose(check(f, x), np.transpose(w, (1, 2, 0)), err_msg=f.__name__)


def test_transpose_without_axes_and_T():
    x = rand((2, 3, 4), seed=7)
    w = weight_like(x.T)

    def fn(x):
        return np.sum(w * np.transpose(x))

    def method(x):
        return np.sum(w * x.transpose())

    def attribute(x):
        return np.sum(w * x.T)
    for f in (fn, method, attribute):
        np.testing.assert_allclose(check(f, x), w.T, err_msg=f.__name__)


def test_T_of_vector_and_source():
    def f(x):
        return np.sum(x.T * np.arange(3.0))
    np.testing.assert_allclose(srcgrad.grad(f)(rand((3,), seed=1)), [0.0, 1.0, 2.0])
    src = adjoint_part(srcgrad.grad(f).source)
    assert ".T" in src


@reverse(np.swapaxes)
@pytest.mark.parametrize("a1,a2", [(0, 1), (0, 2), (2, 1), (-1, 0), (1, 1)])
def test_swapaxes(a1, a2):
    x = rand((2, 3, 4), seed=8)
    w = weight_like(np.swapaxes(x, a1, a2))

    def f(x):
        return np.sum(w * np.swapaxes(x, a1, a2))

    def method(x):
        return np.sum(w * x.swapaxes(a1, a2))
    np.testing.assert_allclose(check(f, x), np.swapaxes(w, a1, a2))
    np.testing.assert_allclose(check(method, x), np.swapaxes(w, a1, a2))


@reverse(np.moveaxis)
@pytest.mark.parametrize("src,dst", [(0, 2), (2, 0), (-1, 1), ((0, 1), (2, 0)), ([0, 2], [-1, 0])],
                         ids=str)
def test_moveaxis(src, dst):
    x = rand((2, 3, 4), seed=9)
    w = weight_like(np.moveaxis(x, src, dst))

    def f(x):
        return np.sum(w * np.moveaxis(x, src, dst))
    np.testing.assert_allclose(check(f, x), np.moveaxis(w, dst, src))


@reverse(np.expand_dims)
@pytest.mark.parametrize("axis", [0, 1, -1, (0, 2), (0, -1)], ids=str)
def test_expand_dims(axis):
    x = rand((3, 4), seed=10)
    w = weight_like(np.expand_dims(x, axis))

    def f(x):
        return np.sum(w * np.expand_dims(x, axis))
    np.testing.assert_allclose(check(f, x), np.reshape(w, (3, 4)))


@reverse(np.squeeze)
@pytest.mark.parametrize("axis", [None, 0, 2, (0, 2), -1], ids=str)
def test_squeeze(axis):
    x = rand((1, 3, 1, 4) if axis != -1 else (3, 4, 1), seed=11)
    w = weight_like(np.squeeze(x, axis))

    def f(x):
        return np.sum(w * np.squeeze(x, axis=axis))

    def method(x):
        return np.sum(w * x.squeeze(axis))
    np.testing.assert_allclose(check(f, x), np.reshape(w, x.shape))
    np.testing.assert_allclose(check(method, x), np.reshape(w, x.shape))


def test_newaxis_style_broadcast_via_expand_dims():
    def f(x, y):
        return np.sum(np.tanh(np.expand_dims(x, 1) - np.expand_dims(y, 0)))
    check(f, rand((3,), seed=1), rand((4,), seed=2), wrt=(0, 1))


# --- joining ----------------------------------------------------------------------

@reverse(np.concatenate)
@pytest.mark.parametrize("axis", [0, 1, -1, None], ids=str)
def test_concatenate_2d(axis):
    a = rand((2, 3), seed=1)
    b = rand((2, 3) if axis is None else ((4, 3) if axis == 0 else (2, 5)), seed=2)
    c = rand((1, 3) if axis == 0 else (2, 1), seed=3)
    w = weight_like(np.concatenate([a, b, c], axis=axis))

    def f(a, b, c):
        return np.sum(w * np.concatenate([a, b, c], axis=axis))
    check(f, a, b, c, wrt=(0, 1, 2))


def test_concatenate_literal_and_closed_form():
    def f(a, b):
        return np.sum(np.concatenate((a, b)) * np.arange(5.0))
    da, db = check(f, rand((2,), seed=1), rand((3,), seed=2), wrt=(0, 1))
    np.testing.assert_allclose(da, [0.0, 1.0])
    np.testing.assert_allclose(db, [2.0, 3.0, 4.0])


def test_concatenate_same_array_twice_and_constant():
    def f(x):
        return np.sum(np.concatenate([x, np.ones(2), x * 2.0]) * np.arange(8.0))
    np.testing.assert_allclose(check(f, rand((3,), seed=3)), [0 + 10, 1 + 12, 2 + 14])


def test_concat_alias():
    def f(a, b):
        return np.sum(np.concat([a, b], axis=1) ** 2)
    check(f, rand((2, 2), seed=1), rand((2, 3), seed=2), wrt=(0, 1))


@reverse(np.stack)
@pytest.mark.parametrize("axis", [0, 1, -1, 2], ids=str)
def test_stack(axis):
    a, b, c = rand((2, 3), seed=1), rand((2, 3), seed=2), rand((2, 3), seed=3)
    w = weight_like(np.stack([a, b, c], axis=axis))

    def f(a, b, c):
        return np.sum(w * np.stack([a, b, c], axis=axis))
    da, db, dc = check(f, a, b, c, wrt=(0, 1, 2))
    np.testing.assert_allclose(db, np.take(w, 1, axis=axis))


def test_stack_default_axis_of_scalars_and_1d():
    def f(x, y):
        return np.sum(np.stack([x, y, x * y]) * np.array([1.0, 2.0, 3.0]))
    dx, dy = check(f, 0.5, -1.5, wrt=(0, 1))
    assert dx == pytest.approx(1.0 + 3.0 * -1.5) and dy == pytest.approx(2.0 + 3.0 * 0.5)

    def g(u, v):
        return np.sum(np.stack((u, v)) ** 2)
    check(g, rand((3,), seed=1), rand((3,), seed=2), wrt=(0, 1))


@reverse(np.hstack)
@pytest.mark.parametrize("shapes", [[(2,), (3,)], [(2, 1), (2, 3)], [(), (2,)], [(2, 1, 2), (2, 3, 2)]],
                         ids=str)
def test_hstack(shapes):
    arrays = [rand(s, seed=i + 1) for i, s in enumerate(shapes)]
    w = weight_like(np.hstack(arrays))

    def f(a, b):
        return np.sum(w * np.hstack([a, b]))
    check(f, *arrays, wrt=(0, 1))


@reverse(np.vstack)
@pytest.mark.parametrize("shapes", [[(3,), (3,)], [(2, 3), (3,)], [(1, 3), (2, 3)], [(), ()],
                                    [(2, 2, 2), (1, 2, 2)]], ids=str)
def test_vstack(shapes):
    arrays = [rand(s, seed=i + 1) for i, s in enumerate(shapes)]
    w = weight_like(np.vstack(arrays))

    def f(a, b):
        return np.sum(w * np.vstack((a, b)))
    check(f, *arrays, wrt=(0, 1))


# --- broadcasting and repeating --------------------------------------------------------

@reverse(np.broadcast_to)
@pytest.mark.parametrize("xshape,shape", [((4,), (3, 4)), ((3, 1), (3, 4)), ((), (2, 3)),
                                          ((1, 4), (2, 3, 4)), ((3, 4), (3, 4))], ids=str)
def test_broadcast_to(xshape, shape):
    x = rand(xshape, seed=1)
    w = weight_like(np.zeros(shape))

    def f(x):
        return np.sum(w * np.broadcast_to(x, shape))
    got = check(f, x)
    assert np.shape(got) == xshape


def test_broadcast_to_literal_shape():
    def f(x):
        return np.sum(np.broadcast_to(x, (2, 3)) * np.arange(6.0).reshape(2, 3))
    np.testing.assert_allclose(check(f, rand((3,), seed=2)), [3.0, 5.0, 7.0])


@reverse(np.tile)
@pytest.mark.parametrize("xshape,reps", [((3,), 2), ((3,), (2, 2)), ((2, 3), 2), ((2, 3), (2, 1)),
                                         ((2, 3), (1, 2, 3)), ((2, 1, 2), (2, 2)), ((), 3)], ids=str)
def test_tile(xshape, reps):
    x = rand(xshape, seed=3)
    w = weight_like(np.tile(x, reps))

    def f(x):
        return np.sum(w * np.tile(x, reps))
    check(f, x)


@reverse(np.repeat)
@pytest.mark.parametrize("xshape,repeats,axis", [
    ((4,), 2, None), ((2, 3), 2, None), ((2, 3), 3, 0), ((2, 3), 2, 1), ((2, 3), 2, -1),
    ((3,), [1, 0, 2], None), ((2, 3), [2, 1], 0), ((2, 3), [0, 3, 1], 1), ((2, 3), [1, 2, 0, 1, 1, 2], None),
    ((), 3, None),
], ids=str)
def test_repeat(xshape, repeats, axis):
    x = rand(xshape, seed=4)
    w = weight_like(np.repeat(x, repeats, axis=axis))

    def f(x):
        return np.sum(w * np.repeat(x, repeats, axis=axis))

    def method(x):
        return np.sum(w * x.repeat(repeats, axis))
    check(f, x)
    if xshape != ():
        check(method, x)


def test_repeat_closed_form():
    def f(x):
        return np.sum(np.repeat(x, [3, 0, 1]) * np.arange(4.0))
    np.testing.assert_allclose(srcgrad.grad(f)(np.ones(3)), [0.0 + 1.0 + 2.0, 0.0, 3.0])


# --- reordering and masking ------------------------------------------------------------

@reverse(np.flip)
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1)], ids=str)
def test_flip(axis):
    x = rand((3, 4), seed=5)
    w = weight_like(x)

    def f(x):
        return np.sum(w * np.flip(x, axis))
    np.testing.assert_allclose(check(f, x), np.flip(w, axis))


def test_flip_literal_and_slices_equivalent():
    def f(x):
        return np.sum(np.flip(x) * np.arange(4.0)) + np.sum(np.flip(x, axis=0) * np.arange(4.0) ** 2)
    np.testing.assert_allclose(check(f, rand((4,), seed=1)), [3.0 + 9.0, 2.0 + 4.0, 1.0 + 1.0, 0.0])


@reverse(np.roll)
@pytest.mark.parametrize("shift,axis", [(1, None), (-2, None), (5, None), (1, 0), (-1, 1),
                                        (2, -1), ((1, 2), (0, 1)), ((1, -1), (1, 0))], ids=str)
def test_roll(shift, axis):
    x = rand((3, 4), seed=6)
    w = weight_like(x)

    def f(x):
        return np.sum(w * np.roll(x, shift, axis=axis))
    np.testing.assert_allclose(check(f, x), np.roll(w, np.negative(shift), axis=axis))


@reverse(np.triu, np.tril)
@pytest.mark.parametrize("k", [0, 1, -1, 3, -4])
@pytest.mark.parametrize("fn", [np.triu, np.tril], ids=["triu", "tril"])
def test_triu_tril(fn, k):
    x = rand((4, 4), seed=7)
    w = weight_like(x)

    def f(x):
        return np.sum(w * fn(x, k))
    np.testing.assert_allclose(check(f, x), fn(w, k))


def test_triu_tril_batched_and_rectangular():
    def f(x):
        return np.sum(np.triu(x, 1) ** 2) + np.sum(np.tril(x, k=-1) * 3.0)
    x = rand((2, 3, 4), seed=8)
    np.testing.assert_allclose(check(f, x), 2 * np.triu(x, 1) + 3.0 * np.tril(np.ones((3, 4)), -1))


@reverse(np.asarray, np.array, np.copy)
def test_asarray_and_array():
    def f(x):
        return np.sum(np.asarray(x) ** 2) + np.sum(np.array(x) * 3.0) + np.sum(np.copy(x) ** 3)
    x = rand((2, 3), seed=9)
    np.testing.assert_allclose(check(f, x), 2 * x + 3.0 + 3 * x ** 2)
    assert check(f, 0.5) == pytest.approx(4.75)


def test_copy_method():
    def f(x):
        return np.sum(x.copy() * x)
    x = rand((3,), seed=10)
    np.testing.assert_allclose(check(f, x), 2 * x)


def test_shape_chain():
    """Several shape rules in a row: every element must come back to its place."""
    def f(x):
        y = np.transpose(x.reshape(2, 3, 4), (2, 0, 1))
        z = np.concatenate([np.flip(y, 1), np.roll(y, 1, axis=2)], axis=0)
        t = np.swapaxes(np.repeat(z, 2, axis=1), 0, 2)
        return np.sum(np.tril(np.moveaxis(t, 0, -1).reshape(8, -1)) * np.arange(96.0).reshape(8, 12))
    x = rand((6, 4), seed=11)
    check(f, x)


def test_source_reshape_adjoint_reads_shape_only():
    def f(x):
        return np.sum(np.tanh(np.reshape(x, (-1,))))
    src = adjoint_part(srcgrad.grad(f).source)
    assert "np.reshape(" in src and "np.shape(x)" in src
    check(f, rand((2, 3), seed=1))


# --- non-differentiable functions inside a differentiated function -------------------

def test_constructors_contribute_nothing():
    def f(x):
        z = np.zeros_like(x) + np.ones(x.shape) * 2.0 + np.full(x.shape, 0.5)
        e = np.eye(x.shape[0]) + np.zeros((3, 3)) + np.ones_like(x) + np.full_like(x, 1.0)
        a = np.arange(x.size).reshape(x.shape) + np.linspace(0.0, 1.0, 3)
        return np.sum(x * z) + np.sum(e) + np.sum(x * a)
    x = rand((3, 3), seed=1)
    expected = 2.5 + np.arange(9.0).reshape(3, 3) + np.linspace(0.0, 1.0, 3)
    np.testing.assert_allclose(check(f, x), expected)


def test_shape_queries_contribute_nothing():
    def f(x):
        n = len(x)
        m = x.shape[1]
        return np.sum(x) / n + np.sum(x * x) / m + x.ndim + np.ndim(x) + np.size(x) + np.shape(x)[0] + x.size
    x = rand((3, 4), seed=2)
    np.testing.assert_allclose(check(f, x), 1 / 3 + 2 * x / 4)


def test_comparisons_and_masks_contribute_nothing():
    def f(x, y):
        mask = (x > 0) & (y < 0.5)
        other = np.logical_or(x < -0.5, np.isfinite(y)) * np.equal(x, y) + np.greater_equal(x, 0.1)
        return np.sum(x * mask) + np.sum(y * other) + np.sum(x > y)
    x, y = rand((3, 4), seed=3), rand((3, 4), seed=4)
    dx, dy = check(f, x, y, wrt=(0, 1))
    np.testing.assert_allclose(dx, (x > 0) & (y < 0.5))
    np.testing.assert_allclose(dy, np.logical_or(x < -0.5, True) * (x == y) + (x >= 0.1))


def test_argmax_argmin_and_sorting_contribute_nothing():
    def f(x):
        i = np.argmax(x)
        j = x.argmin()
        onehot = np.arange(x.size) == i
        order = np.argsort(x)
        return np.sum(x * onehot) + np.sum(x * (np.arange(x.size) == j)) * 2.0 + np.sum(order * x)
    x = np.array([0.3, -1.2, 2.5, 0.1])
    np.testing.assert_allclose(check(f, x), [0.0 + 0.0 + 1.0, 0.0 + 2.0 + 3.0, 1.0 + 0.0 + 0.0, 0.0 + 0.0 + 2.0])


def test_rounding_functions_contribute_nothing():
    def f(x):
        return np.sum(np.floor(x) * x) + np.sum(np.round(x, 1)) + np.sum(x.round()) + np.sum(np.sign(x) * x)
    x = rand((5,), -3, 3, seed=5)
    np.testing.assert_allclose(check(f, x), np.floor(x) + np.sign(x))


def test_random_numbers_contribute_nothing():
    def f(x):
        noise = np.random.normal(size=x.shape)
        mask = np.random.uniform(size=x.shape) < 2.0
        return np.sum(x * mask) + np.sum(noise * 0.0)

    def g(x, rng):
        return np.sum(x * rng.uniform(size=x.shape) * 0.0 + x)
    x = rand((3,), seed=6)
    np.testing.assert_allclose(srcgrad.grad(f)(x), np.ones(3))
    np.testing.assert_allclose(srcgrad.grad(g)(x, np.random.default_rng(0)), np.ones(3))


def test_nondiff_result_alone_gives_zero_gradient():
    def f(x):
        return np.sum(np.floor(x)) + np.argmax(x) + np.count_nonzero(x > 0)
    x = rand((2, 3), seed=7)
    got = srcgrad.grad(f)(x)
    assert got.shape == (2, 3)
    np.testing.assert_array_equal(got, np.zeros((2, 3)))


def test_source_nondiff_values_are_not_differentiated():
    def f(x):
        mask = x > 0
        k = np.argmax(x)
        return np.sum(x * mask) + k
    src = adjoint_part(srcgrad.grad(f).source)
    assert "dmask" not in src and "dk" not in src and "argmax" not in src
    np.testing.assert_allclose(srcgrad.grad(f)(np.array([-1.0, 2.0])), [0.0, 1.0])


def test_same_array_joined_twice():
    def f(x):
        a = np.stack([x, x * 2.0], axis=1)
        b = np.hstack([x, x])
        c = np.vstack([x, x])
        return np.sum(a * np.arange(6.0).reshape(3, 2)) + np.sum(b * np.arange(6.0)) + np.sum(c)
    x = rand((3,), seed=12)
    np.testing.assert_allclose(check(f, x), [0 + 2 * 1 + 0 + 3 + 2, 2 + 2 * 3 + 1 + 4 + 2, 4 + 2 * 5 + 2 + 5 + 2])


def weights(shape):
    return np.arange(np.prod(shape), dtype=float).reshape(shape)


def neg_trace(x):
    return np.sum(np.trace(x, 1, -1, -3) * np.arange(3.0))


def neg_moveaxis(x):
    return np.sum(np.moveaxis(x, -1, -3) * weights((4, 2, 3)))


def neg_expand_squeeze(x):
    y = np.expand_dims(x, (-1, 0)) * weights((1, 2, 3, 4, 1))
    return np.sum(np.squeeze(y, (-1, 0)) * x)


def neg_flip(x):
    return np.sum(np.flip(x, (-1, -3)) * weights((2, 3, 4)))


def neg_roll(x):
    return np.sum(np.roll(x, (1, -2), (-1, -3)) * weights((2, 3, 4)))


def neg_stack(x):
    return np.sum(np.stack([x, x * x], axis=-2) * weights((2, 3, 2, 4)))


def neg_concatenate(x):
    return np.sum(np.concatenate([x, x * x], axis=-2) * weights((2, 6, 4)))


def neg_repeat(x):
    return np.sum(np.repeat(x, [1, 2, 0], axis=-2) * weights((2, 3, 4)))


def neg_swapaxes(x):
    return np.sum(np.swapaxes(x, -1, -3) * weights((4, 3, 2)))


def neg_transpose_method(x):
    return np.sum(x.transpose(-1, 0, -2) * weights((4, 2, 3)))


def neg_transpose_literal(x):
    return np.sum(np.transpose(x, (0, -1, 1)) * weights((2, 4, 3)))


@pytest.mark.parametrize("f", [neg_trace, neg_moveaxis, neg_expand_squeeze, neg_flip, neg_roll,
                               neg_stack, neg_concatenate, neg_repeat, neg_swapaxes,
                               neg_transpose_method, neg_transpose_literal],
                         ids=lambda f: f.__name__)
def test_negative_axes(f):
    check(f, rand((2, 3, 4), seed=13))


def test_transpose_negative_axes_closed_form():
    def f(x):
        return np.sum(np.transpose(x, (-1, 0, 1)) * weights((4, 2, 3)))
    np.testing.assert_array_equal(srcgrad.grad(f)(np.ones((2, 3, 4))),
                                  np.transpose(weights((4, 2, 3)), (1, 2, 0)))


# ==============================================================================================
# Forward mode: each rule of the family on a case of its own (`@case(function, *args)`),
# against central differences along random directions (support.check_jvp).
# ==============================================================================================

# --- shape --------------------------------------------------------------------------------
X234 = uniform((2, 3, 4), seed=35)


@case(np.reshape, X234)
@case(np.ravel, X234)
@case(np.expand_dims, X234)
@case(np.squeeze, X234)
def reshapes(x):
    return (np.reshape(x, (6, 4)), x.reshape(4, 6), x.reshape(-1), np.ravel(x), x.flatten(),
            np.expand_dims(x, 1), np.squeeze(x[:1]), x[:, :1].squeeze(axis=1))


@case(np.asarray, X234)
@case(np.array, X234)
@case(np.copy, X234)
def copies(x):
    return np.asarray(x), np.array(x), x.copy(), np.copy(x), float(x[0, 0, 0])


@case(np.transpose, X234)
@case(np.swapaxes, X234)
@case(np.moveaxis, X234)
def transposes(x):
    return (x.T, np.transpose(x), np.transpose(x, (1, 0, 2)), x.transpose(2, 0, 1),
            np.swapaxes(x, 0, 2), np.moveaxis(x, 0, -1))


@case(np.flip, X234)
@case(np.roll, X234)
def flips(x):
    return np.flip(x), np.flip(x, 1), np.roll(x, 2), np.roll(x, -1, axis=2)


@case(np.triu, uniform((4, 4), seed=36))
@case(np.tril, uniform((4, 4), seed=36))
def triangles(m):
    return np.triu(m), np.tril(m, -1), np.triu(m, 1)


@case(np.broadcast_to, uniform((4,), seed=37))
def broadcasts(x):
    return np.broadcast_to(x, (3, 4))


@case(np.concatenate, uniform((2, 3), seed=38), uniform((4, 3), seed=39))
@case(np.stack, uniform((2, 3), seed=38), uniform((4, 3), seed=39))
@case(np.hstack, uniform((2, 3), seed=38), uniform((4, 3), seed=39))
@case(np.vstack, uniform((2, 3), seed=38), uniform((4, 3), seed=39))
def joins(a, b):
    return (np.concatenate([a, b]), np.concatenate((a, b[:2]), axis=1), np.stack([a, b[:2]]),
            np.stack([a, a, b[1:3]], axis=-1), np.hstack([a, b[:2]]), np.vstack([a, b, a]),
            np.concatenate([a, np.ones((1, 3))]))


@case(np.r_, uniform((3,), seed=60), uniform("float", seed=61))
@case(np.c_, uniform((3,), seed=60), uniform("float", seed=61))
def index_tricks(a, s):
    return np.r_[a, s, 2.0, a[:2]], np.r_[a], np.c_[a, a * s], np.c_[np.ones((3, 2)), a]


@case(np.tile, uniform((2, 3), seed=40))
@case(np.repeat, uniform((2, 3), seed=40))
def repeats(a):
    return np.tile(a, 2), np.tile(a, (2, 1)), np.repeat(a, 2), np.repeat(a, [1, 3], axis=0)


# ==============================================================================================
# Issue 12: shape, construction and single-output array functions.  Each case below is a loss
# of random float inputs; test_issue12_gradient checks the gradient in every float argument
# against finite differences, test_issue12_float32 the same in float32, test_rule_jvp the
# tangents (each case is also a forward case of the rules it names).
# ==============================================================================================

def mix(y):
    """A loss that gives each element of y its own, non-constant adjoint."""
    return np.sum(np.sin(1.7 * y) * np.arange(1.0, np.size(y) + 1.0).reshape(np.shape(y)))


A34 = uniform((3, 4), seed=70)
A234 = uniform((2, 3, 4), seed=71)
V5 = uniform((5,), seed=72)
V3 = uniform((3,), seed=73)
ISSUE12 = []


def issue12(keys, *args):
    """Register a loss as a reverse case (test_issue12_*) and a forward case of each rule."""
    keys = keys if isinstance(keys, tuple) else (keys,)
    def register(f):
        ISSUE12.append((keys, f, args))
        for key in keys:
            case(key, *args)(f)
        return f
    return register


@issue12(np.sort, A234)
def sorts(x):
    return mix(np.sort(x)) + mix(np.sort(x, axis=0)) + mix(np.sort(x, -2)) + mix(np.sort(x, axis=None)) + mix(np.sort(x[0], kind="stable"))


@issue12(np.partition, A234)
def partitions(x):
    return mix(np.partition(x, 2)) + mix(np.partition(x, (0, 2), axis=1)) + mix(np.partition(x, 1, axis=-3))


@issue12(np.diff, A234, uniform((2, 1, 4), seed=74))
def diffs(x, p):
    return (mix(np.diff(x)) + mix(np.diff(x, 2, axis=0 + 1)) + mix(np.diff(x, n=3, axis=-1)) +
            mix(np.diff(x, axis=1, prepend=p, append=2.0)) + mix(np.diff(x[0, 0], prepend=x[1, 1])))


@issue12(np.gradient, A234, uniform("float", 0.5, 1.5, seed=87))
def gradients(x, h):
    return (mix(np.gradient(x[0, 0])) + mix(np.gradient(x, axis=1)) + mix(np.gradient(x, h, axis=-1, edge_order=2)) +
            mix(np.gradient(x[0], 0.5, axis=0)) + mix(np.gradient(x[1, 1], h)) + mix(np.gradient(x[1], axis=(1,), edge_order=2)))


@issue12(np.pad, A34, uniform("float", seed=75))
def pads(x, c):
    return (mix(np.pad(x, 2)) + mix(np.pad(x, ((1, 0), (0, 2)), constant_values=c)) +
            mix(np.pad(x, 2, mode="edge")) + mix(np.pad(x, (2, 3), "reflect")) +
            mix(np.pad(x, 1, mode="symmetric")) + mix(np.pad(x, ((4, 1), (0, 5)), "wrap")) + c * 0.0)


@issue12(np.take, A234)
def takes(x):
    return (mix(np.take(x, [0, 2, 2, -1])) + mix(np.take(x, [[1, 0], [1, 1]], axis=1)) + mix(x.take([3, 0, 3], -1)) +
            mix(np.take(x, [5, -4], axis=2, mode="wrap")) + mix(np.take(x, [7, 0], 0, mode="clip")))


@issue12(np.take_along_axis, A234)
def takes_along(x):
    order = np.argsort(x, axis=1)
    return (mix(np.take_along_axis(x, order, axis=1)) + mix(np.take_along_axis(x, np.array([[[0, 0, 3]]]), -1)) +
            mix(np.take_along_axis(x[0, 0], np.array([1, 1, 0]), axis=None)))


@issue12(np.compress, A234)
def compresses(x):
    return mix(np.compress([True, False, True], x, axis=1)) + mix(np.compress([0, 1, 1], x)) + mix(np.compress([1, 0, 1, 1], x, -1))


@issue12((np.atleast_1d, np.atleast_2d, np.atleast_3d), uniform((4,), seed=76), uniform("float", seed=77))
def atleasts(v, s):
    return (mix(np.atleast_1d(s)) + mix(np.atleast_2d(v)) + mix(np.atleast_3d(v)) +
            mix(np.atleast_1d(v)) + mix(np.atleast_3d(s * v[:2])))


@issue12((np.rot90, np.flipud, np.fliplr, np.rollaxis), A234)
def rotations(x):
    return (mix(np.rot90(x)) + mix(np.rot90(x, 3, axes=(1, 2))) + mix(np.rot90(x, -1, (0, -1))) + mix(np.flipud(x)) +
            mix(np.fliplr(x)) + mix(np.rollaxis(x, 2)) + mix(np.rollaxis(x, -1, 1)) + mix(np.rollaxis(x, 0, 3)))


ROW_STACK = getattr(np, "row_stack", np.vstack)      # (gone from NumPy 2.5)


@issue12(tuple({np.append, np.column_stack, np.dstack, ROW_STACK}), A34, V3)
def joins_more(x, v):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        rows = ROW_STACK([x, v[:1] * x[0]])
    return (mix(np.append(x, v)) + mix(np.append(x, x[:1] * v[0], axis=0)) + mix(np.append(v, 2.0)) +
            mix(np.column_stack([x, v, v * v])) + mix(np.dstack([x, x * v[0]])) + mix(np.dstack([v, v])) + mix(rows))


@issue12(np.select, A34, uniform((4,), seed=78))
def selects(x, d):
    return mix(np.select([x > 0.5, x < -0.2], [x * x, 3.0 * x], default=d)) + mix(np.select([x > 0], [d]))


@issue12(np.diagonal, A234)
def diagonals(x):
    return (mix(np.diagonal(x)) + mix(np.diagonal(x, 1, 1, 2)) + mix(x.diagonal(offset=-1, axis1=-1, axis2=0)) +
            mix(x[0].diagonal()))


@issue12((np.convolve, np.correlate), V5, V3)
def convolutions(a, v):
    return (mix(np.convolve(a, v)) + mix(np.convolve(v, a, "same")) + mix(np.convolve(a, v, mode="valid")) +
            mix(np.correlate(a, v)) + mix(np.correlate(a, v, "full")) + mix(np.correlate(v, a, mode="same")) +
            mix(np.correlate(v, a, "full")))


@issue12(np.kron, A34, uniform((2, 3), seed=79))
def krons(a, b):
    return mix(np.kron(a, b)) + mix(np.kron(a[0], b)) + mix(np.kron(b[0], a[0])) + mix(np.kron(2.0, b))


def _crosses_2_vectors():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return np.cross(np.ones(2), np.ones(3)) is not None
        except ValueError:           # NumPy 2.5 takes 3-vectors only
            return False


@issue12(np.cross, uniform((4, 3), seed=80), V3)
def crosses(a, b):
    return mix(np.cross(a, b)) + mix(np.cross(b, a[0])) + mix(np.cross(a.T, b, axisa=0)) + mix(np.cross(a.T, a.T, axis=0))


if _crosses_2_vectors():
    @issue12(np.cross, uniform((4, 3), seed=80), V3)
    def crosses_of_2_vectors(a, b):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            mixed, planar = np.cross(a[:, :2], b), np.cross(a[:, :2], b[1:])
        return mix(mixed) + mix(planar)


@issue12(np.linalg.matrix_power, uniform((3, 3), seed=81) + 2.0 * np.eye(3))
def matrix_powers(a):
    return (mix(np.linalg.matrix_power(a, 3)) + mix(np.linalg.matrix_power(a, 1)) +
            mix(np.linalg.matrix_power(a, 0)) + mix(np.linalg.matrix_power(a, -2)))


@issue12(np.interp, uniform((6,), -1.5, 3.5, seed=82), uniform((4,), seed=83), uniform("float", seed=84))
def interps(x, fp, lo):
    xp = np.array([0.0, 1.0, 1.5, 3.0])
    return mix(np.interp(x, xp, fp)) + mix(np.interp(x, xp, fp, left=lo, right=2.0 * lo)) + mix(np.interp(x[0], xp, fp))


NOT_FINITE = np.array([[0.0, np.nan, 0.0, 0.0], [np.inf, 0.0, -np.inf, 0.0], [0.0, np.nan, 0.0, np.inf]])


@issue12(np.nan_to_num, A34, uniform("float", seed=85))
def nans_to_nums(x, v):
    y = np.where(np.isfinite(NOT_FINITE), x * v, NOT_FINITE)       # (finite differences need finite inputs)
    return mix(np.nan_to_num(y, posinf=5.0, neginf=-4.0)) + mix(np.nan_to_num(y, nan=v, posinf=2.0 * v, neginf=v * v))


@issue12(np.sinc, uniform((3, 4), -2.0, 2.0, seed=86))
def sincs(x):
    return mix(np.sinc(x)) + mix(np.sinc(x * 0.0 + np.array([0.0, 1.0, -1.0, 0.5])))


@issue12(np.ndarray.astype, A34)
def astypes(x):
    return mix(x.astype(float)) + mix(x.astype(np.float64) * x) + np.sum(x.astype(int) * x) + np.sum((x * 3.0).astype("int32") * 1.0)


if hasattr(np, "astype"):       # (the function, NumPy >= 2.1)
    @issue12(np.astype, A34)
    def astype_functions(x):
        return mix(np.astype(x, float)) + mix(np.astype(x * x, np.float64, copy=False)) + np.sum(np.astype(x, int) * x)


# --- issue 12: ties, kinks and what is refused, against closed forms --------------------------

def test_sort_ties_go_in_order_of_the_input():
    """Equal elements take their sorted places in their order in x (a stable sort): the
    first 1.0 in x gets the weight of the first place of the 1.0s."""
    def f(x):
        return np.sum(np.sort(x) * np.array([10.0, 20.0, 30.0, 40.0]))
    x = np.array([1.0, 0.5, 1.0, 3.0])
    np.testing.assert_array_equal(srcgrad.grad(f)(x), [20.0, 10.0, 30.0, 40.0])
    _, tangent = srcgrad.jvp(f, (x,), (np.array([1.0, 0.0, 2.0, 0.0]),))
    assert tangent == 20.0 + 60.0


def test_partition_and_median_ties():
    def kth(x):
        return np.partition(x, 1)[1]

    def median(x):
        return np.median(x)
    x = np.array([2.0, 1.0, 2.0, 1.0, 5.0])
    np.testing.assert_array_equal(srcgrad.grad(kth)(x), [0.0, 0.0, 0.0, 1.0, 0.0])    # the second 1.0
    np.testing.assert_array_equal(srcgrad.grad(median)(x), [1.0, 0.0, 0.0, 0.0, 0.0])   # the first 2.0
    even = np.array([3.0, 1.0, 3.0, 0.0])          # the two middle places hold the 1.0 and the first 3.0
    np.testing.assert_array_equal(srcgrad.grad(median)(even), [0.5, 0.5, 0.0, 0.0])


def test_interp_at_knots_and_outside():
    """At a knot the slope of the segment starting there; at the last knot that of the one
    ending there; flat outside."""
    xp, fp = np.array([0.0, 1.0, 3.0]), np.array([0.0, 2.0, 1.0])

    def f(x):
        return np.sum(np.interp(x, xp, fp))
    np.testing.assert_array_equal(srcgrad.grad(f)(np.array([0.0, 1.0, 3.0, -1.0, 4.0, 0.5])),
                                  [2.0, -0.5, -0.5, 0.0, 0.0, 2.0])


def test_interp_in_the_knots_is_refused_at_the_line():
    def f(xp):
        return np.sum(np.interp(np.array([0.5, 1.5]), xp, np.array([1.0, 2.0, 0.0])))
    for err in both_modes(f, np.array([0.0, 1.0, 2.0])):
        assert "with respect to `xp`" in str(err) and err.lineno == line_of(f, "np.interp")


def test_cumprod_through_zeros_closed_form():
    """d/dx_j of sum(cumprod(x)) = sum over i >= j of the product of x[:i+1] without x_j."""
    def f(x):
        return np.sum(np.cumprod(x))
    x = np.array([2.0, 0.0, 3.0, 0.0, 5.0])
    # x_0: 1; x_1 (the first zero): 2 + 2*3 + 0 + 0 = 8; after it: 0 (x_1 = 0 in every product);
    # x_3, the second zero: 2*0*3 = 0
    np.testing.assert_array_equal(srcgrad.grad(f)(x), [1.0, 8.0, 0.0, 0.0, 0.0])
    check(f, np.array([2.0, 0.5, 0.0, 3.0]))


def test_nan_to_num_gradient_and_values():
    def f(x, v):
        with np.errstate(invalid="ignore"):
            y = np.where([True, False, True], np.log(x), -np.inf)      # log: nan below 0
        return np.sum(np.nan_to_num(y, nan=v, neginf=2.0 * v) * np.array([1.0, 2.0, 3.0]))
    dx, dv = srcgrad.grad(f, wrt=(0, 1))(np.array([0.5, 0.7, -1.0]), 0.7)
    np.testing.assert_allclose(dx, [2.0, 0.0, 0.0])            # (1 / x where log(x) is kept)
    assert dv == 2.0 * 2.0 + 3.0


def test_sort_in_place_is_refused():
    def f(x):
        x.sort()
        return np.sum(x * np.arange(3.0))
    for err in both_modes(f, np.array([0.3, 0.1, 0.2])):
        assert ".sort()" in str(err) and err.lineno == line_of(f, "x.sort()")


def test_pad_modes_that_do_not_copy_are_refused():
    def f(x):
        return np.sum(np.pad(x, 2, mode="maximum") ** 2)
    for err in both_modes(f, np.array([0.3, 0.1, 0.2])):
        assert "mode='maximum'" in str(err) and err.lineno == line_of(f, "np.pad")


def test_order_statistics_other_methods_and_options_are_refused():
    def nearest(x):
        return np.quantile(x, 0.3, method="nearest")

    def stats(x):
        return np.pad(x, 1, stat_length=2)

    def sort_fields(x):
        return np.sum(np.sort(x, order="a"))
    x = np.array([0.3, 0.1, 0.2])
    for err in both_modes(nearest, x):
        assert "method='linear'" in str(err) and err.lineno == line_of(nearest, "np.quantile")
    for f, text in ((stats, "stat_length"), (sort_fields, "order")):
        for err in both_modes(f, x):
            assert text in str(err) and err.lineno == line_of(f, "np.")


def test_gradient_of_several_axes_or_coordinates_is_refused_at_the_line():
    def every_axis(x):
        gx, gy = np.gradient(x)
        return np.sum(gx * gy)

    def coordinates(x):
        return np.sum(np.gradient(x, np.array([0.0, 1.0, 3.0])) ** 2)
    with pytest.raises(srcgrad.SrcgradError) as info:
        srcgrad.grad(every_axis)(uniform((3, 3), seed=88))
    assert "along one axis" in str(info.value) and info.value.lineno == line_of(every_axis, "np.gradient")
    with pytest.raises(srcgrad.SrcgradError) as info:
        srcgrad.grad(coordinates)(uniform((3,), seed=89))
    assert "uniform spacing" in str(info.value) and info.value.lineno == line_of(coordinates, "np.gradient")


def test_astype_integer_has_no_gradient():
    def f(x):
        return np.sum(x.astype(int) * x) + np.sum(x.astype(np.float32))
    x = np.array([1.5, -2.5, 3.2])
    np.testing.assert_array_equal(srcgrad.grad(f)(x), [2.0, -1.0, 4.0])


@reverse(*{key for keys, _, _ in ISSUE12 for key in keys})
@pytest.mark.parametrize("f,args", [(f, args) for _, f, args in ISSUE12], ids=lambda v: getattr(v, "__name__", ""))
def test_issue12_gradient(f, args):
    floats = tuple(i for i, a in enumerate(args) if is_float(a))
    check(f, *args, wrt=floats if len(floats) > 1 else floats[0])


@pytest.mark.parametrize("f,args", [(f, args) for _, f, args in ISSUE12], ids=lambda v: getattr(v, "__name__", ""))
def test_issue12_float32(f, args):
    """In float32: float32 gradients (and tangents), close to float64 finite differences."""
    args32 = [np.float32(a) if type(a) is float else a.astype(np.float32) for a in args]
    floats = tuple(i for i, a in enumerate(args) if is_float(a))
    got = srcgrad.grad(f, wrt=floats)(*args32)
    for i, g in zip(floats, got):
        want = numerical_gradient(f, [np.float64(a) if np.ndim(a) == 0 else a.astype(np.float64) for a in args32], i)
        assert np.asarray(g).dtype == np.float32, (i, np.asarray(g).dtype)
        np.testing.assert_allclose(g, want, rtol=3e-3, atol=3e-3 * max(1.0, np.max(np.abs(want))))
    tangents = [np.ones_like(a) for a in args32]
    _, tangent = srcgrad.jvp(f, args32, tangents)
    _, want = srcgrad.jvp(f, [np.float64(a) for a in args32], [np.float64(t) for t in tangents])
    np.testing.assert_allclose(tangent, want, rtol=3e-3, atol=3e-3 * max(1.0, abs(want)))


@pytest.mark.parametrize("key,f,args", RULE_TESTS.cases, ids=RULE_TESTS.case_ids())
def test_rule_jvp(key, f, args):
    check_jvp(f, *args)
