"""Indexing: reading elements of differentiated arrays (the adjoint scatters back into zeros,
and repeated integer-array indices add up) and writing into arrays.

Also the rule-family file of the indexing rules (x[i] and x[i] = v): their reverse-mode tests
are marked `@reverse(...)`, their forward-mode cases (`@case`) are at the end of the file."""
import numpy as np
import pytest
from support import RuleTests, check, check_jvp, numerical_gradient, uniform

import srcgrad
from srcgrad import rules, runtime

RULE_TESTS = RuleTests()         # this family's rules: forward cases, reverse tests
case, reverse = RULE_TESTS.case, RULE_TESTS.reverse

RNG = np.random.default_rng(5)


@reverse(rules.getitem)
@pytest.mark.parametrize("name", ["int", "negative", "slice_step", "multi", "none", "fancy_repeats",
                                  "mask", "ellipsis", "row_then_element"])
def test_index_reads(name):
    def f_int(x):
        return x[1] * x[2]

    def f_negative(x):
        return np.sum(x[-1] ** 2)

    def f_slice_step(x):
        return np.sum(np.sin(x[::2]))

    def f_multi(x):
        return np.sum(x[1:, ::2] ** 2)

    def f_none(x):
        return np.sum(x[None, :] * x[:, None])

    def f_fancy_repeats(x):
        return np.sum(x[[0, 0, 2, 0]] * np.arange(4.0))

    def f_mask(x):
        return np.sum(x[x > 0] ** 3)

    def f_ellipsis(x):
        return np.sum(x[..., 0] ** 2)

    def f_row_then_element(x):
        row = x[1]
        return row[0] * np.sum(row)
    f = locals()["f_" + name]
    shape = (4,) if name in ("int", "negative", "slice_step", "none", "fancy_repeats", "mask") else (3, 4)
    check(f, RNG.normal(size=shape))


@reverse(rules.getitem)
def test_repeated_indices_accumulate_exactly():
    def f(x):
        return np.sum(x[[1, 1, 1]])
    np.testing.assert_array_equal(srcgrad.grad(f)(np.zeros(3)), [0.0, 3.0, 0.0])


def test_index_computed_from_data_and_loop_variable():
    def f(x, k):
        s = 0.0
        for i in range(k):
            s = s + x[i] * x[k - 1 - i]
        return s
    check(f, RNG.normal(size=5), 4)


def test_data_indexed_by_position_carries_no_gradient():
    def f(w, X):
        return np.sum(X[0] * w) + np.sum(X[1:] @ w)
    check(f, RNG.normal(size=3), RNG.normal(size=(4, 3)))


# ==============================================================================================
# Issue #3, indexing: integer and negative indices, slices with steps, multi-dimensional
# indices, None/np.newaxis, integer-array (fancy) indices whose repeated entries must
# accumulate their adjoints, boolean masks; writes `x[i] = v`, `x[i] += v`, `x[a:b] = v`,
# `out[i] = ...` in a loop.  A value that a write overwrites gets no gradient from later
# uses; gradient calls never modify the caller's arrays.
# ==============================================================================================

RNG2 = np.random.default_rng(23)


# --- reads ------------------------------------------------------------------------------------

def integer_indices(x, X):
    return x[0] * x[-1] + x[2] ** 2 + X[1, -1] * X[-2, 0] + np.sum(X[1] * x[:3]) + X[-1][1]


def test_integer_and_negative_indices():
    x, X = RNG2.normal(size=5), RNG2.normal(size=(3, 3))
    dx, dX = check(integer_indices, x, X, wrt=(0, 1))
    want = np.zeros(5)
    want[0] += x[-1]
    want[-1] += x[0]
    want[2] += 2 * x[2]
    want[:3] += X[1]
    np.testing.assert_allclose(dx, want, rtol=1e-12)


def index_from_parameter(x, i):
    return x[i] ** 3 + x[i - 1]


@pytest.mark.parametrize("i", [0, 2, -1])
def test_index_given_by_an_int_parameter(i):
    x = RNG2.normal(size=4)
    want = np.zeros(4)
    want[i] += 3 * x[i] ** 2
    want[i - 1] += 1.0
    np.testing.assert_allclose(srcgrad.grad(index_from_parameter)(x, i), want, rtol=1e-12)


def index_from_argmax(x):
    return x[np.argmax(x)] * 2.0 + x[np.argmin(x)]


def test_index_computed_from_data():
    x = np.array([0.3, 1.4, -0.8, 0.2])
    np.testing.assert_allclose(srcgrad.grad(index_from_argmax)(x), [0.0, 2.0, 1.0, 0.0])


def slices_with_steps(x):
    return (np.sum(x[1:5:2] ** 2) + np.sum(x[::-1] * np.arange(7.0)) + np.sum(x[::3] ** 3)
            + np.sum(x[-3:]) + np.sum(x[5:1:-2] * 4.0))


def test_slices_with_steps():
    x = RNG2.normal(size=7)
    g = check(slices_with_steps, x)
    want = np.arange(7.0)[::-1].copy()
    want[1:5:2] += 2 * x[1:5:2]
    want[::3] += 3 * x[::3] ** 2
    want[-3:] += 1.0
    want[5:1:-2] += 4.0
    np.testing.assert_allclose(g, want, rtol=1e-12)


def multi_dimensional(X, T):
    return (np.sum(X[1:, ::2] ** 2) + np.sum(X[:, 1] * 3.0) + np.sum(np.sin(T[0, 1:, ::-1]))
            + np.sum(T[:, -1, 1] * T[1, :2, 0]))


def test_multi_dimensional_indices():
    X, T = RNG2.normal(size=(3, 4)), RNG2.normal(size=(2, 3, 4))
    dX, dT = check(multi_dimensional, X, T, wrt=(0, 1))
    want = np.zeros((3, 4))
    want[1:, ::2] = 2 * X[1:, ::2]
    want[:, 1] += 3.0
    np.testing.assert_allclose(dX, want, rtol=1e-12)


def new_axes(x, X):
    outer = x[:, None] * x[None, :]
    return np.sum(outer) + np.sum(x[np.newaxis] @ X) + np.sum(X[:, np.newaxis, :] * x[None, :, None])


def test_none_and_newaxis():
    x, X = RNG2.normal(size=3), RNG2.normal(size=(3, 2))
    dx, dX = check(new_axes, x, X, wrt=(0, 1))
    np.testing.assert_allclose(dx, 2 * np.sum(x) + np.sum(X, axis=1) + np.sum(X), rtol=1e-12)


def fancy_repeated(x, c):
    return np.sum(x[[0, 0, 2, 0]] * c)


def test_fancy_index_with_repeats_accumulates():
    x, c = RNG2.normal(size=4), np.array([1.0, 10.0, 100.0, 1000.0])
    g = check(fancy_repeated, x, c)
    np.testing.assert_allclose(g, [1011.0, 0.0, 100.0, 0.0], rtol=1e-12)


def fancy_index_parameter(x, idx):
    return np.sum(np.sin(x[idx]) * np.arange(1.0, len(idx) + 1))


def test_fancy_index_array_parameter_with_repeats():
    x, idx = RNG2.normal(size=4), np.array([3, 1, 3, 3, 0])
    g = check(fancy_index_parameter, x, idx)
    weights = np.zeros(4)
    np.add.at(weights, idx, np.arange(1.0, 6.0))
    np.testing.assert_allclose(g, weights * np.cos(x), rtol=1e-12)


def fancy_2d(X, rows, cols):
    return np.sum(X[rows] ** 2) + np.sum(X[rows, cols] * 5.0) + np.sum(X[:, cols])


def test_fancy_indices_on_a_matrix_with_repeats():
    X = RNG2.normal(size=(3, 4))
    rows, cols = np.array([0, 2, 0]), np.array([3, 3, 1])
    g = check(fancy_2d, X, rows, cols)
    want = np.zeros((3, 4))
    np.add.at(want, rows, 2 * X[rows])
    np.add.at(want, (rows, cols), 5.0)
    np.add.at(want, (slice(None), cols), 1.0)
    np.testing.assert_allclose(g, want, rtol=1e-12)


def boolean_masks(x, X, mask):
    return np.sum(x[x > 0] ** 2) + np.sum(np.sin(x[mask])) + np.sum(X[mask[:3]] * 2.0) + np.sum(X[X < 0] ** 3)


def test_boolean_masks():
    x = np.array([0.5, -1.2, 0.8, -0.3, 1.1])
    X = np.array([[0.4, -0.7], [-0.2, 0.9], [1.3, -0.5]])
    mask = np.array([True, False, False, True, True])
    dx, dX = check(boolean_masks, x, X, mask, wrt=(0, 1))
    np.testing.assert_allclose(dx, 2 * x * (x > 0) + np.cos(x) * mask, rtol=1e-12)
    np.testing.assert_allclose(dX, 2.0 * mask[:3, None] + 3 * X ** 2 * (X < 0), rtol=1e-12)


# --- writes ------------------------------------------------------------------------------------

def write_element(x):
    y = x * 2.0
    y[1] = np.sin(x[0])
    return np.sum(y * y)


@reverse(rules.with_set)
def test_write_an_element():
    x = RNG2.normal(size=3)
    g = check(write_element, x)
    np.testing.assert_allclose(g, [8 * x[0] + 2 * np.sin(x[0]) * np.cos(x[0]), 0.0, 8 * x[2]], rtol=1e-12)


def add_to_element(x, i):
    y = x ** 2
    y[i] += np.sum(x)
    return np.sum(np.sin(y))


@pytest.mark.parametrize("i", [0, -1])
def test_augmented_write_of_an_element(i):
    check(add_to_element, RNG2.normal(size=4), i)


def write_slice(x, w):
    y = np.zeros(5)
    y[1:4] = x[:3] * w
    y[::4] = x[-2:] ** 2
    return np.sum(y ** 2 * np.arange(1.0, 6.0))


@reverse(rules.with_set)
def test_write_a_slice():
    check(write_slice, RNG2.normal(size=4), RNG2.normal(size=3), wrt=(0, 1))


def write_2d(x):
    M = np.zeros((2, 3))
    M[:, 0] = x[:2]
    M[1, 1:] = x[1:] * 2.0
    M[0] += x
    return np.sum(M ** 2 * np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))


@reverse(rules.with_set)
def test_write_into_a_matrix():
    check(write_2d, RNG2.normal(size=3))


def fill_in_loop(W, x):
    out = np.zeros(len(W))
    for i in range(len(W)):
        out[i] = W[i] @ x
    return np.sum(out ** 2)


def test_fill_an_array_element_by_element_in_a_loop():
    W, x = RNG2.normal(size=(4, 3)), RNG2.normal(size=3)
    dW, dx = check(fill_in_loop, W, x, wrt=(0, 1))
    np.testing.assert_allclose(dx, 2 * W.T @ (W @ x), rtol=1e-10)
    np.testing.assert_allclose(dW, 2 * np.outer(W @ x, x), rtol=1e-10)


def write_with_masks_and_fancy(x, v):
    y = x * 1.0
    y[y < 0] = 0.0
    y[[0, 2]] = v * 3.0
    return np.sum(y * x)


def test_write_through_a_mask_and_a_fancy_index():
    x, v = np.array([0.4, -0.6, 1.2, -0.1, 0.7]), np.array([0.5, -1.5])
    dx, dv = check(write_with_masks_and_fancy, x, v, wrt=(0, 1))
    np.testing.assert_allclose(dv, 3.0 * x[[0, 2]], rtol=1e-12)
    np.testing.assert_allclose(dx, [1.5, 0.0, -4.5, 0.0, 1.4], rtol=1e-12)


# --- an overwritten value gets no gradient from later uses ------------------------------------

def overwritten(x):
    y = x * 1.0
    y[0] = 5.0
    return np.sum(y * x)


def test_overwritten_value_gets_no_gradient_from_later_uses():
    x = np.array([0.3, -1.2, 0.7])
    g = srcgrad.grad(overwritten)(x)
    # y * x = [5 * x0, x1 ** 2, x2 ** 2]: the path x0 -> y[0] was cut by the write
    np.testing.assert_allclose(g, [5.0, -2.4, 1.4], rtol=1e-12)
    np.testing.assert_allclose(g, numerical_gradient(overwritten, [x]), rtol=1e-6)


def read_before_overwrite(x):
    y = x * 2.0
    first = y[0] * 1.0                # read before the write: keeps its gradient
    y[0] = x[1]
    y[0] = x[2]                       # overwritten twice: only the last write counts
    return first * np.sum(y)


def test_read_before_a_write_keeps_its_gradient_and_only_the_last_write_counts():
    x = np.array([0.3, -1.2, 0.7])
    g = check(read_before_overwrite, x)
    s = x[2] + 2 * x[1] + 2 * x[2]              # sum(y) after the writes
    np.testing.assert_allclose(g, [2 * s, 2 * x[0] * 2, 2 * x[0] * 3], rtol=1e-12)


def view_then_write(x):
    y = x * 2.0
    v = y[1:3]                        # a NumPy view: it sees the write below
    y[1] = np.sin(x[0])
    return np.sum(v * x[1:3]) + np.sum(y)


def test_write_seen_through_a_view_is_correct_or_refused():
    """NumPy semantics (v sees the write) or a SrcgradError naming one of the two lines;
    never the gradient of a program in which v kept its old value."""
    x = np.array([0.3, -1.2, 0.7])
    try:
        g = srcgrad.grad(view_then_write)(x)
    except srcgrad.SrcgradError as err:
        first = view_then_write.__code__.co_firstlineno
        assert err.lineno in (first + 2, first + 3), str(err)
        return
    np.testing.assert_allclose(g, numerical_gradient(view_then_write, [x]), rtol=1e-6, atol=1e-8)


def repeated_fancy_augmented_write(x, v):
    y = x * 1.0
    y[[0, 0, 1]] += v                 # buffered: y[0] gets only the last of its two updates
    return np.sum(y ** 2)


def test_augmented_write_with_repeated_fancy_indices_is_correct_or_refused():
    x, v = np.array([0.3, -1.2, 0.7]), np.array([0.5, 2.0, -0.4])
    try:
        dx, dv = srcgrad.grad(repeated_fancy_augmented_write, wrt=(0, 1))(x, v)
    except srcgrad.SrcgradError as err:
        assert err.lineno == repeated_fancy_augmented_write.__code__.co_firstlineno + 2, str(err)
        return
    y = x.copy()
    y[[0, 0, 1]] += v
    np.testing.assert_allclose(dv, [0.0, 2 * y[0], 2 * y[1]], rtol=1e-12)
    np.testing.assert_allclose(dx, 2 * y, rtol=1e-12)


# --- the caller's arrays are never modified ---------------------------------------------------

def writes_into_its_arguments(x, data):
    x[0] = 0.0
    data[1] = 5.0
    x[1:] *= 2.0
    return np.sum(x * x * data)


def test_gradient_call_does_not_modify_arrays_the_function_writes_into():
    x, data = np.array([0.5, -1.0, 2.0]), np.array([1.0, 2.0, 3.0])
    x0, data0 = x.copy(), data.copy()
    value, (dx, ddata) = srcgrad.value_and_grad(writes_into_its_arguments, wrt=(0, 1))(x, data)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(data, data0)
    assert value == pytest.approx(writes_into_its_arguments(x0.copy(), data0.copy()), rel=1e-12)
    # after the writes: x' = [0, 2 x1, 2 x2], data' = [d0, 5, d2]
    np.testing.assert_allclose(dx, [0.0, 8 * x0[1] * 5.0, 8 * x0[2] * data0[2]], rtol=1e-12)
    np.testing.assert_allclose(ddata, [0.0, 0.0, 4 * x0[2] ** 2], rtol=1e-12)


def set_first(v, value):
    v[0] = value
    return v


def helper_writes_into_argument(x):
    y = set_first(x, 1.0)
    return np.sum(y * x)


@pytest.mark.xfail(raises=srcgrad.UnsupportedSyntaxError, strict=True,
                   reason="known limitation: a helper writing into an array the caller reads "
                          "afterwards is refused (loudly), not yet followed back to the caller")
def test_helper_writing_into_an_argument_does_not_modify_the_callers_array():
    x = np.array([0.5, -1.0, 2.0])
    x0 = x.copy()
    g = srcgrad.grad(helper_writes_into_argument)(x)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_allclose(g, [0.0, 2 * x0[1], 2 * x0[2]], rtol=1e-12)


def reads_and_writes(X, idx):
    Y = X * 1.0
    Y[idx] = Y[idx] * 2.0
    return np.sum(Y[1:] ** 2) + np.sum(X[idx])


def test_gradient_call_leaves_every_argument_unchanged():
    X, idx = RNG2.normal(size=(3, 2)), np.array([0, 2])
    X0, idx0 = X.copy(), idx.copy()
    srcgrad.grad(reads_and_writes)(X, idx)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(idx, idx0)
    check(reads_and_writes, X, idx)


# ==============================================================================================
# Forward mode: each rule of the family on a case of its own (`@case(function, *args)`),
# against central differences along random directions (support.check_jvp).
# ==============================================================================================

# --- indexing and writes ------------------------------------------------------------------
@case(rules.getitem, uniform((4, 3), seed=41))
def reads(x):
    return x[1], x[1:3, ::2], x[[0, 2, 2]], x[x > 0], x[..., -1], x[:, None, 0]


@case(rules.with_set, uniform((4, 3), seed=42), uniform((3,), seed=43))
def writes(x, v):
    x = x * 1.0               # (writing into the caller's array would change the reference too)
    x[1] = v
    x[2, 0] = 5.0
    x[[0, 3], 1] = v[:2]
    x[:, 2] += v[0]
    return x


@case(runtime.sequence_of, uniform((4, 3), seed=44))
def rows_of(x):
    s = x[0] * 0.0
    for row in x:               # (an argument: iterated through sequence_of)
        s = s + np.sin(row) * row
    return s


@reverse(runtime.sequence_of)
def test_a_loop_over_the_rows_of_an_argument():
    x = uniform((4, 3), seed=45)
    check(lambda x: np.sum(rows_of(x) ** 2), x)
    check(rows_sum, x)


def rows_sum(x):
    s = 0.0
    for row in x:
        s = s + np.sum(np.exp(row) * row)
    return s


@pytest.mark.parametrize("key,f,args", RULE_TESTS.cases, ids=RULE_TESTS.case_ids())
def test_rule_jvp(key, f, args):
    check_jvp(f, *args)
