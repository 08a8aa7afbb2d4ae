"""Values people build (issue #11, item 4): lists and tuples of differentiated values used
as a whole, indexed at run time, nested in np.array; a list of floats as the argument; a
result of size 1.  Each in reverse and forward mode against central differences (float64)."""
import numpy as np
import pytest

import srcgrad
from support import check, check_jvp, line_of, numerical_gradient

RNG = np.random.default_rng(11)
A, B = RNG.normal(size=3), RNG.normal(size=3)
W = RNG.normal(size=(2, 3))


def both(f, *args, wrt=0):
    """Reverse and forward mode against finite differences; the gradient, for asserts."""
    check_jvp(f, *args)
    return check(f, *args, wrt=wrt)


# --- 1. list and tuple literals used as a whole ------------------------------------------
def test_sum_of_a_list_with_constants():
    def f(a):
        return np.sum([1, a * a, 2])
    assert both(f, 0.7) == pytest.approx(1.4)


def test_mean_of_scalars_and_of_arrays():
    def f(a, b):
        return np.mean([a, b * b])
    got = both(f, 0.7, 1.3, wrt=(0, 1))
    assert got == pytest.approx((0.5, 1.3))
    both(lambda_free_mean, A, B, wrt=(0, 1))


def lambda_free_mean(a, b):
    return np.sum(np.mean([a, b * a], axis=0) ** 2)


def test_tuple_literal_and_reductions_that_use_the_values():
    def f(a, b):
        return np.max((a, 2.0 * b)) + np.prod([a, b, 3.0]) + np.linalg.norm([a, b])
    both(f, 0.7, 0.9, wrt=(0, 1))


def test_dot_of_two_lists():
    def f(a, b):
        return np.dot([a, b], [a, 2.0])
    assert both(f, 0.7, 1.3, wrt=(0, 1)) == pytest.approx((1.4, 2.0))


def test_a_list_held_in_a_variable_used_as_an_array():
    def f(a, b):
        xs = [a, b, a * b]
        ys = (a, b)
        return np.sum(np.square(xs)) + np.mean(ys) + np.std(xs)
    both(f, 0.7, 1.3, wrt=(0, 1))
    both(f, A, B, wrt=(0, 1))


def test_stack_and_concatenate_of_lists_of_values():
    def f(a, b):
        rows = np.stack([[a, b], [b, a * a]])
        flat = np.concatenate([[a, b], A])
        return np.sum(rows @ rows) + np.sum(flat * flat)
    both(f, 0.7, 1.3, wrt=(0, 1))


def test_elementwise_with_a_list_operand():
    def f(a, b):
        return np.sum(np.maximum([a, b], 1.0) * np.exp([b, a]))
    both(f, 0.7, 1.3, wrt=(0, 1))


# --- 2. indexing a tuple or list by a number known only when the code runs -------------
def test_tuple_indexed_at_run_time():
    def f(a, b, i):
        x = a, b, a * b
        return x[i]
    for i, want in ((0, (1.0, 0.0)), (1, (0.0, 1.0)), (2, (1.3, 0.7)), (-1, (1.3, 0.7))):
        assert both(f, 0.7, 1.3, i, wrt=(0, 1)) == pytest.approx(want)


def test_index_computed_from_an_argument_and_arrays_of_different_shapes():
    def f(w, b, n):
        params = [w, b]
        k = n - 1
        return np.sum(params[k] ** 2) + np.sum(params[k - 1])
    dw, db = both(f, W, B, 1, wrt=(0, 1))           # sum(W ** 2) + sum(B)
    np.testing.assert_allclose(dw, 2 * W)
    np.testing.assert_allclose(db, np.ones(3))
    dw, db = both(f, W, B, 2, wrt=(0, 1))           # sum(B ** 2) + sum(W)
    np.testing.assert_allclose(dw, np.ones((2, 3)))
    np.testing.assert_allclose(db, 2 * B)


def test_list_literal_indexed_at_run_time():
    def f(a, b, i):
        return [a, b * a][i] * 2.0
    assert both(f, 0.7, 1.3, 1, wrt=(0, 1)) == pytest.approx((2.6, 1.4))
    assert both(f, 0.7, 1.3, 0, wrt=(0, 1)) == pytest.approx((2.0, 0.0))


def test_index_varies_in_a_loop_and_on_a_branch():
    def f(a, b, i):
        x = [a, b]
        s = 0.0
        for k in range(3):
            s = s + x[(i + k) % 2] * k
        if i > 0:
            s = s + x[i] * x[0]
        return s
    for i in (0, 1):
        both(f, 0.7, 1.3, i, wrt=(0, 1))


def test_run_time_index_and_whole_use_together():
    def f(a, b, i):
        x = a, b
        return np.sum(x[i]) + np.sum(x)
    both(f, A, B, 1, wrt=(0, 1))


# --- 3. np.array of (nested) lists of values ---------------------------------------------
def test_matrix_of_scalars():
    def f(a, b, c, d):
        m = np.array([[a, b], [c, d]])
        return np.sum(m @ m) + np.linalg.det(m)
    both(f, 0.7, -1.3, 0.4, 2.0, wrt=(0, 1, 2, 3))


def test_array_of_scalars_and_of_arrays():
    def f(a, b):
        return np.sum(np.array([a, b]) ** 2) + np.sum(np.asarray([[a, 1.0], [2.0, b]]))
    assert both(f, 0.7, 1.3, wrt=(0, 1)) == pytest.approx((2.4, 3.6))
    def g(a, b):
        return np.sum(np.array([[a, b], [b, a]]) ** 3)
    both(g, A, B, wrt=(0, 1))


def test_rotation_matrix():
    def f(theta, v):
        c, s = np.cos(theta), np.sin(theta)
        r = np.array([[c, -s], [s, c]])
        return np.sum((r @ v) * np.array([1.0, 2.0]))
    both(f, 0.3, np.array([0.5, -1.5]), wrt=(0, 1))


def test_generated_source_of_a_list_literal():
    def f(a):
        return np.sum([1.0, a * a, 2.0])
    source = srcgrad.grad(f).source
    assert "np.array([1.0, a * a, 2.0])" in source or "np.array([1.0, a_times_a, 2.0])" in source
    assert "list held in a variable" not in source


# --- what stays refused -------------------------------------------------------------------
def test_a_slice_known_only_at_run_time_is_refused_at_its_line():
    def f(a, b, i):
        x = [a, b]
        return np.sum(x[i:])
    with pytest.raises(srcgrad.UnsupportedSyntaxError) as info:
        srcgrad.grad(f)(0.7, 1.3, 1)
    assert info.value.lineno == line_of(f, "x = [a, b]")
    assert "list, tuple or dict" in str(info.value)


# --- 4. a list of numbers as the differentiated argument -----------------------------------
def test_list_of_floats_gives_an_array_gradient():
    def f(x):
        return x[0] * x[1] ** 2
    g = srcgrad.grad(f)([0.5, 1.5])
    assert type(g) is np.ndarray and g.dtype == np.float64 and g.shape == (2,)
    np.testing.assert_allclose(g, [2.25, 1.5])
    np.testing.assert_allclose(g, numerical_gradient(f, (np.array([0.5, 1.5]),), 0), rtol=1e-6)


def test_list_of_numbers_used_as_an_array_and_with_value():
    def f(x, y):
        return np.dot(x, y) + np.sum(np.square(x))
    value, (dx, dy) = srcgrad.value_and_grad(f, wrt=(0, 1))([0.5, 1, np.float64(2.0)],
                                                           np.array([2.0, 3.0, 4.0]))
    assert value == pytest.approx(f([0.5, 1, 2.0], np.array([2.0, 3.0, 4.0])))
    assert type(dx) is np.ndarray and dx.dtype == np.float64
    np.testing.assert_allclose(dx, [3.0, 5.0, 8.0])
    np.testing.assert_allclose(dy, [0.5, 1.0, 2.0])


def test_containers_of_arrays_and_nested_lists_keep_their_structure():
    def f(p):
        return p["w"] * np.sum(p["b"])
    g = srcgrad.grad(f)({"w": 2.0, "b": [1.0, 2.0]})
    assert g == {"w": 3.0, "b": [2.0, 2.0]}
    def h(wb):
        return np.sum(wb[0] * wb[1])
    gw, gb = srcgrad.grad(h)([np.ones(2), np.array([1.0, 2.0])])
    np.testing.assert_allclose(gw, [1.0, 2.0])
    np.testing.assert_allclose(gb, [1.0, 1.0])


# --- 5. a result of size 1 is the scalar it holds -----------------------------------------
def check_size_one(f, *args, wrt=0):
    """grad and value_and_grad of f (whose result has size 1) against finite differences."""
    positions = wrt if isinstance(wrt, tuple) else (wrt,)
    got = srcgrad.grad(f, wrt=positions)(*args)
    for p, g in zip(positions, got):
        want = numerical_gradient(f, args, p)
        assert np.shape(g) == np.shape(args[p])
        np.testing.assert_allclose(g, np.reshape(want, np.shape(args[p])), rtol=1e-5, atol=1e-7)
    value, again = srcgrad.value_and_grad(f, wrt=positions)(*args)
    assert np.shape(value) == np.shape(f(*args)) and np.allclose(value, f(*args), rtol=1e-12)
    for a, b in zip(got, again):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    check_jvp(f, *args)
    return got


def test_course_cost_of_shape_1_1():
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(3, 5)), (rng.random((1, 5)) > 0.5).astype(float)
    def cost(w, b, X, Y):
        m = X.shape[1]
        A = 1 / (1 + np.exp(-(np.dot(w.T, X) + b)))
        return -np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A), axis=1, keepdims=True) / m
    w = rng.normal(size=(3, 1))
    assert cost(w, 0.1, X, Y).shape == (1, 1)
    check_size_one(cost, w, 0.1, X, Y, wrt=(0, 1))


def test_results_of_shape_1_from_products_keepdims_and_parameters():
    def quadratic(w):
        return w.T @ w / 2
    def kept(w):
        return np.sum(w * w, keepdims=True) * 3
    def elementwise(v):
        return np.tanh(v) * v + 1.0
    w = np.array([[0.3], [-1.2], [0.5]])
    np.testing.assert_allclose(check_size_one(quadratic, w)[0], w)
    check_size_one(kept, w)
    for v in (np.array([0.3]), np.array([[0.3]]), np.array([[[0.7]]])):
        check_size_one(elementwise, v)


def test_other_shapes_are_still_refused():
    def f(v):
        return v * v
    with pytest.raises(srcgrad.NonScalarResultError) as info:
        srcgrad.grad(f)(np.array([0.3, 0.4]))
    assert "shape (2,)" in str(info.value) and info.value.lineno == line_of(f, "return v * v")


def test_nested_list_indexed_at_run_time_is_refused_with_a_way_forward():
    def f(a, b, c, d, i, j):
        x = [[a, b], [c, d]]
        return x[i][j]
    with pytest.raises(srcgrad.UnsupportedSyntaxError) as info:
        srcgrad.grad(f, wrt=(0, 1, 2, 3))(0.1, 0.2, 0.3, 0.4, 1, 0)
    assert info.value.lineno == line_of(f, "return x[i][j]")
    assert "np.array(x)[i, j]" in str(info.value)

    def g(a, b, c, d, i, j):            # the way forward
        x = [[a, b], [c, d]]
        return np.array(x)[i, j] * a
    got = both(g, 0.1, 0.2, 0.3, 0.4, 1, 0, wrt=(0, 1, 2, 3))
    assert got == pytest.approx((0.3, 0.0, 0.1, 0.0))


def test_a_copy_of_a_tuple_indexed_at_run_time():
    def f(a, b, i):
        x = a, b
        y = x
        return y[i] * 2
    assert both(f, 0.1, 0.2, 1, wrt=(0, 1)) == pytest.approx((0.0, 2.0))


def test_a_list_of_values_passed_to_a_method_is_refused_in_both_modes():
    def f(w, a, b):
        return w.dot([a, b])
    args = (np.array([1.0, 2.0]), 0.3, 0.4)
    with pytest.raises(srcgrad.UnsupportedSyntaxError) as info:
        srcgrad.grad(f, wrt=(1, 2))(*args)
    assert "np.array([a, b])" in str(info.value) and info.value.lineno == line_of(f, "w.dot")
    with pytest.raises(srcgrad.UnsupportedSyntaxError):
        srcgrad.jvp(f, args, (None, 1.0, 1.0))

    def g(w, a, b):                     # the way forward
        v = np.array([a, b])
        return w.dot(v)
    assert both(g, *args, wrt=(1, 2)) == pytest.approx((1.0, 2.0))


def literal_read_from_the_end(a, t):
    return np.sum([(-0.25), t, t * a][-1] * a) + [a, t][-2]


def test_a_list_literal_read_at_a_negative_constant_is_that_element():
    # (seed 5205 of tests/random_programs.py: once refused as "known only when it runs")
    from support import check
    check(literal_read_from_the_end, 0.7, 1.3, wrt=(0, 1))
