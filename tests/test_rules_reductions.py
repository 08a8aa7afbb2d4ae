"""Tests of the reduction rules of srcgrad/rules.py (and cumsum).

Reductions are checked for every kind of `axis` (None, an int, a negative int, a tuple)
and `keepdims`, both when those are literals (folded when the gradient is generated)
and when they are variables (decided when it runs); with the adjoint arriving as the
scalar seed and as a full array; as functions and as array methods.  Ties of max/min
and zeros of prod are checked against their closed forms.

Both modes: reverse-mode tests are marked `@reverse(function, ...)`; the forward-mode cases
(`@case(function, *args)`, checked by test_rule_jvp against central differences along random
directions) are at the end of the file.  See tests/README.md.
"""
import warnings

import numpy as np
import pytest
from support import RuleTests, check, check_jvp, is_float, numerical_gradient, uniform

import srcgrad
from srcgrad import rules

RULE_TESTS = RuleTests()         # this family's rules: forward cases, reverse tests
case, reverse = RULE_TESTS.case, RULE_TESTS.reverse


def rand(shape, lo=-1.0, hi=1.0, seed=0):
    return np.random.default_rng(seed).uniform(lo, hi, size=shape)


def reduced_shape(shape, axis, keepdims):
    return np.shape(np.sum(np.zeros(shape), axis=axis, keepdims=keepdims))


def adjoint_part(source):
    """The backward half of generated source (after the first blank line), no comments."""
    lines = source.split("\n\n", 1)[1].splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("#"))


AXES_2D = [None, 0, 1, -1, (0, 1), (1,), (-1, 0)]
AXES_3D = [None, 0, 2, -2, (0, 2), (1, 2), (0, 1, 2)]
CASES = [((3, 4), a) for a in AXES_2D] + [((2, 3, 4), a) for a in AXES_3D] + [((5,), None), ((5,), 0)]
CASE_IDS = [f"{'x'.join(map(str, s))}-axis{a}" for s, a in CASES]


# --- sum, mean, prod, max/min, var, std over every axis -----------------------------

REDUCTIONS = [np.sum, np.mean, np.prod, np.max, np.amax, np.min, np.amin, np.var, np.std]
RED_IDS = [f.__name__ for f in REDUCTIONS]


@reverse(*REDUCTIONS)
@pytest.mark.parametrize("keepdims", [False, True], ids=["flat", "keepdims"])
@pytest.mark.parametrize("shape,axis", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("fn", REDUCTIONS, ids=RED_IDS)
def test_reduction_weighted(fn, shape, axis, keepdims):
    """The adjoint arriving at the reduction is a full array (a random weight)."""
    w = rand(reduced_shape(shape, axis, keepdims), 0.5, 1.5, seed=3)

    def f(x):
        return np.sum(w * fn(x, axis=axis, keepdims=keepdims))
    x = rand(shape, 0.5, 1.5, seed=1)     # distinct values: no ties, no zeros
    check(f, x)


@pytest.mark.parametrize("shape,axis", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("fn", REDUCTIONS, ids=RED_IDS)
def test_reduction_summed(fn, shape, axis):
    """The adjoint arriving at the reduction is the scalar seed of a sum."""
    def f(x):
        return np.sum(fn(x, axis=axis))
    check(f, rand(shape, 0.5, 1.5, seed=2))


@pytest.mark.parametrize("shape,axis", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("fn", REDUCTIONS, ids=RED_IDS)
def test_reduction_keepdims_summed_then_reduced_again(fn, shape, axis):
    """keepdims=True with the scalar seed, and a reduction of a reduction."""
    def f(x):
        r = fn(x, axis=axis, keepdims=True)
        return np.sum(r) + np.sum(np.mean(r * r, axis=-1))
    check(f, rand(shape, 0.5, 1.5, seed=2))


@pytest.mark.parametrize("fn", REDUCTIONS, ids=RED_IDS)
def test_reduction_to_scalar_returned(fn):
    def f(x):
        return fn(x)
    check(f, rand((3, 4), 0.5, 1.5, seed=4))


@pytest.mark.parametrize("fn", [f for f in REDUCTIONS if f is not np.std],
                         ids=[n for n in RED_IDS if n != "std"])
def test_reduction_of_0d_and_float(fn):
    """A reduction of one number is that number (var: 0), a 0-d array or a Python float."""
    def f(x):
        return fn(x) * 3.0
    expected = 0.0 if fn is np.var else 3.0
    got = srcgrad.grad(f)(np.array(0.7))
    assert isinstance(got, np.ndarray) and got.shape == () and got == expected
    got = srcgrad.grad(f)(0.7)
    assert isinstance(got, float) and got == expected


def test_literal_axes_and_keepdims():
    """Literal axis/keepdims are folded into the generated code."""
    def f(x):
        a = np.sum(x, axis=0) * np.arange(4.0)
        b = np.mean(x, axis=(0, 2), keepdims=True)
        c = np.max(x, axis=-1)
        d = np.prod(x, 1)
        e = np.var(x, axis=1, ddof=1, keepdims=True)
        return np.sum(a * a) + np.sum(b) ** 2 + np.sum(c * c) + np.sum(d) + np.sum(e * e)
    check(f, rand((3, 5, 4), 0.5, 1.5, seed=5))


def test_source_full_reduction_has_no_runtime_axis_test():
    def f(x):
        return np.mean(np.sum(x * x, axis=1)) + np.max(x) + np.var(x)
    src = adjoint_part(srcgrad.grad(f).source)
    assert " is None" not in src and " if " not in src
    check(f, rand((3, 4), seed=6))


def test_source_mean_is_a_division_by_size():
    def f(x):
        return np.mean(x)
    src = adjoint_part(srcgrad.grad(f).source)
    assert "1.0 / size(x)" in src and "expand_dims" not in src     # (srcgrad's np.size: Dask-safe)
    x = rand((2, 5), seed=1)
    np.testing.assert_allclose(srcgrad.grad(f)(x), np.full((2, 5), 0.1))


# --- prod with zeros ------------------------------------------------------------

def prod_of_others(x, axis):
    """d prod(x, axis) / dx, written out: the product of every other element."""
    x = np.asarray(x, float)
    out = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        if axis is None:
            mask = np.ones(x.shape, bool)
            mask[idx] = False
            out[idx] = np.prod(x[mask])
        else:
            line = list(idx)
            line[axis] = slice(None)
            others = np.delete(x[tuple(line)], idx[axis])
            out[idx] = np.prod(others)
    return out


@reverse(np.prod)
@pytest.mark.parametrize("axis", [None, 0, 1])
@pytest.mark.parametrize("zeros", [0, 1, 2, 3], ids=["no-zero", "one-zero", "two-zeros", "zero-col"])
def test_prod_with_zeros(zeros, axis):
    x = rand((3, 4), 0.5, 2.0, seed=7)
    if zeros >= 1:
        x[1, 2] = 0.0
    if zeros >= 2:
        x[0, 1] = 0.0
    if zeros == 3:
        x[2, 2] = 0.0       # two zeros in column 2, one in row 1 and in row 2

    def f(x):
        return np.sum(np.prod(x, axis=axis))
    got = srcgrad.grad(f)(x)
    np.testing.assert_allclose(got, prod_of_others(x, axis), rtol=1e-12, atol=1e-15)
    check(f, x)     # prod is linear in each element: differences are exact here too


def test_prod_one_zero_closed_form():
    x = np.array([2.0, 0.0, 3.0, 4.0])

    def f(x):
        return np.prod(x)
    np.testing.assert_array_equal(srcgrad.grad(f)(x), [0.0, 24.0, 0.0, 0.0])
    x[3] = 0.0
    np.testing.assert_array_equal(srcgrad.grad(f)(x), [0.0, 0.0, 0.0, 0.0])


def test_prod_keepdims_with_zero():
    x = np.array([[1.0, 2.0, 0.0], [3.0, 4.0, 5.0]])

    def f(x):
        return np.sum(np.prod(x, axis=1, keepdims=True) * np.array([[2.0], [1.0]]))
    np.testing.assert_allclose(srcgrad.grad(f)(x), [[0.0, 0.0, 4.0], [20.0, 15.0, 12.0]])


# --- max / min ties ---------------------------------------------------------------

TIE_X = np.array([[1.0, 3.0, 3.0, 0.0],
                  [2.0, 2.0, 2.0, -1.0],
                  [3.0, 0.0, -1.0, 3.0]])


def tie_share(x, axis, pick):
    """The closed form: each extreme element of a slice gets 1/(number of extremes)."""
    m = pick(x, axis=axis, keepdims=True)
    hit = (x == m).astype(float)
    return hit / np.sum(hit, axis=axis, keepdims=True)


@reverse(np.max, np.amax, np.min, np.amin)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1)])
@pytest.mark.parametrize("fn,pick", [(np.max, np.max), (np.amax, np.max),
                                     (np.min, np.min), (np.amin, np.min)],
                         ids=["max", "amax", "min", "amin"])
def test_max_min_ties(fn, pick, axis, keepdims):
    w = rand(reduced_shape(TIE_X.shape, axis, keepdims), 1.0, 2.0, seed=1)

    def f(x):
        return np.sum(w * fn(x, axis=axis, keepdims=keepdims))
    got = srcgrad.grad(f)(TIE_X)
    wk = w if keepdims else np.reshape(w, reduced_shape(TIE_X.shape, axis, True))
    np.testing.assert_allclose(got, wk * tie_share(TIE_X, axis, pick))


def test_max_ties_literal_axis():
    def f(x):
        return np.sum(np.max(x, axis=1) * np.array([1.0, 2.0, 3.0])) + np.min(x)
    got = srcgrad.grad(f)(TIE_X)
    expected = tie_share(TIE_X, 1, np.max) * np.array([[1.0], [2.0], [3.0]])
    expected = expected + tie_share(TIE_X, None, np.min)
    np.testing.assert_allclose(got, expected)


def test_max_of_constant_array_shares_evenly():
    def f(x):
        return np.max(x)
    np.testing.assert_allclose(srcgrad.grad(f)(np.full((2, 3), 4.0)), np.full((2, 3), 1 / 6))


# --- var and std ---------------------------------------------------------------------

@reverse(np.var, np.std)
@pytest.mark.parametrize("ddof", [0, 1])
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1), -1])
@pytest.mark.parametrize("fn", [np.var, np.std], ids=["var", "std"])
def test_var_std_ddof(fn, axis, ddof):
    w = rand(reduced_shape((4, 5), axis, False), 0.5, 1.5, seed=2)

    def f(x):
        return np.sum(w * fn(x, axis=axis, ddof=ddof))
    check(f, rand((4, 5), seed=3))


def test_var_std_literal_ddof_and_closed_form():
    def f(x):
        return np.var(x, ddof=1) + np.std(x)
    x = rand((6,), seed=4)
    got = check(f, x)
    n = x.size
    np.testing.assert_allclose(got, 2 * (x - x.mean()) / (n - 1) + (x - x.mean()) / (n * x.std()))


# --- linalg.norm -----------------------------------------------------------------

VECTOR_ORDS = [None, 1, 2, np.inf, -np.inf, 3, 0.5, -1]


@reverse(np.linalg.norm)
@pytest.mark.parametrize("ord", VECTOR_ORDS, ids=str)
def test_norm_vector(ord):
    def f(x):
        return np.linalg.norm(x, ord)
    x = rand((6,), seed=5)
    x = np.where(np.abs(x) < 0.1, 0.3, x)
    check(f, x)


@pytest.mark.parametrize("ord", VECTOR_ORDS, ids=str)
def test_norm_vector_keyword_ord_weighted(ord):
    def f(x):
        return 3.0 * np.linalg.norm(x, ord=ord) ** 2
    x = rand((5,), seed=6)
    x = np.where(np.abs(x) < 0.1, 0.3, x)
    check(f, x)


def test_norm_vector_closed_forms():
    x = np.array([3.0, -4.0, 1.0])

    def two(x):
        return np.linalg.norm(x)

    def one(x):
        return np.linalg.norm(x, 1)

    def inf(x):
        return np.linalg.norm(x, np.inf)
    np.testing.assert_allclose(srcgrad.grad(two)(x), x / np.sqrt(26.0))
    np.testing.assert_allclose(srcgrad.grad(one)(x), [1.0, -1.0, 1.0])
    np.testing.assert_allclose(srcgrad.grad(inf)(x), [0.0, -1.0, 0.0])


def test_norm_inf_tie():
    def f(x):
        return np.linalg.norm(x, np.inf)
    np.testing.assert_allclose(srcgrad.grad(f)(np.array([2.0, -2.0, 1.0])), [0.5, -0.5, 0.0])


@reverse(np.linalg.norm)
@pytest.mark.parametrize("ord", [None, "fro", "nuc", 2, -2, 1, -1, np.inf, -np.inf], ids=str)
def test_norm_matrix(ord):
    def f(A):
        return np.linalg.norm(A, ord)
    check(f, rand((4, 3), seed=7))


@pytest.mark.parametrize("ord", [None, "fro", "nuc", 2, 1, np.inf], ids=str)
@pytest.mark.parametrize("axis", [(1, 2), (2, 0), (-1, -2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_norm_matrix_axes_batched(ord, axis, keepdims):
    w = rand(np.shape(np.linalg.norm(np.ones((2, 4, 3)), ord, axis, keepdims)), 0.5, 1.5, seed=1)

    def f(A):
        return np.sum(w * np.linalg.norm(A, ord=ord, axis=axis, keepdims=keepdims))
    check(f, rand((2, 4, 3), seed=8))


@pytest.mark.parametrize("ord", [None, 1, 2, np.inf, 3], ids=str)
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_norm_vector_along_axis(ord, axis, keepdims):
    w = rand(np.shape(np.linalg.norm(np.ones((3, 4)), ord, axis, keepdims)), 0.5, 1.5, seed=1)

    def f(A):
        return np.sum(w * np.linalg.norm(A, ord=ord, axis=axis, keepdims=keepdims))
    A = rand((3, 4), seed=9)
    check(f, np.where(np.abs(A) < 0.1, 0.3, A))


def test_norm_of_3d_array_flattens():
    def f(x):
        return np.linalg.norm(x)
    x = rand((2, 3, 4), seed=10)
    np.testing.assert_allclose(check(f, x), x / np.sqrt(np.sum(x * x)))


def test_norm_literal_axis_keepdims():
    def f(x):
        return np.sum(x / np.linalg.norm(x, axis=1, keepdims=True))
    check(f, rand((3, 4), seed=11))


def test_source_default_norm_is_inline():
    def f(x):
        return np.linalg.norm(x)
    assert "norm_adjoint" not in srcgrad.grad(f).source


# --- cumsum ------------------------------------------------------------------------

@reverse(np.cumsum)
@pytest.mark.parametrize("shape,axis", [((6,), None), ((6,), 0), ((3, 4), None), ((3, 4), 0),
                                        ((3, 4), 1), ((3, 4), -1), ((2, 3, 4), 1)])
def test_cumsum(shape, axis):
    w = rand(np.shape(np.cumsum(np.zeros(shape), axis=axis)), 0.5, 1.5, seed=1)

    def f(x):
        return np.sum(w * np.cumsum(x, axis=axis))
    check(f, rand(shape, seed=2))


def test_cumsum_closed_form_and_method():
    def f(x):
        return np.sum(np.cumsum(x) * np.arange(1.0, 5.0)) + np.sum(x.cumsum(axis=0))
    x = rand((4,), seed=3)
    np.testing.assert_allclose(check(f, x), [10.0 + 4, 9.0 + 3, 7.0 + 2, 4.0 + 1])


def test_cumsum_literal_axis_2d():
    def f(x):
        c = np.cumsum(x, axis=1)
        return np.sum(c * c) + np.sum(np.cumsum(x) ** 2)
    check(f, rand((3, 4), seed=4))


# --- logsumexp and other compositions ------------------------------------------------

def test_logsumexp_composition():
    def f(x):
        m = np.max(x)
        return m + np.log(np.sum(np.exp(x - m)))
    x = rand((5,), -3, 3, seed=1)
    got = check(f, x)
    np.testing.assert_allclose(got, np.exp(x) / np.sum(np.exp(x)), rtol=1e-12)
    big = x + 1000.0
    np.testing.assert_allclose(srcgrad.grad(f)(big), got, rtol=1e-12)


def test_logsumexp_along_axis_keepdims():
    def f(x):
        m = np.max(x, axis=1, keepdims=True)
        lse = m + np.log(np.sum(np.exp(x - m), axis=1, keepdims=True))
        return np.sum(lse * np.array([[1.0], [2.0], [3.0]]))
    x = rand((3, 4), -2, 2, seed=2)
    got = check(f, x)
    soft = np.exp(x) / np.sum(np.exp(x), axis=1, keepdims=True)
    np.testing.assert_allclose(got, soft * np.array([[1.0], [2.0], [3.0]]), rtol=1e-12)


def test_softmax_cross_entropy():
    def f(z, y):
        m = np.max(z, axis=1, keepdims=True)
        logp = z - m - np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))
        return -np.mean(np.sum(y * logp, axis=1))
    z = rand((4, 3), -2, 2, seed=3)
    y = np.eye(3)[[0, 2, 1, 2]]
    got = check(f, z, y)
    p = np.exp(z) / np.sum(np.exp(z), axis=1, keepdims=True)
    np.testing.assert_allclose(got, (p - y) / 4, rtol=1e-10)


def test_center_columns():
    def f(x):
        c = x - x.mean(axis=0)
        return np.sum(c ** 3)
    check(f, rand((4, 3), seed=4))


def test_centered_sum_of_squares_keepdims():
    def f(x):
        return np.sum((x - np.mean(x, axis=1, keepdims=True)) ** 2)
    x = rand((3, 5), seed=5)
    got = check(f, x)
    np.testing.assert_allclose(got, 2 * (x - x.mean(axis=1, keepdims=True)), atol=1e-12)


def test_standardize():
    def f(x, w):
        z = (x - np.mean(x, axis=0)) / np.std(x, axis=0)
        return np.sum(w * z)
    check(f, rand((5, 3), seed=6), rand((5, 3), seed=7))


def test_normalize_rows_by_max():
    def f(x):
        return np.sum(np.sin(x / np.max(np.abs(x), axis=1, keepdims=True)))
    x = rand((3, 4), seed=8)
    check(f, x)


def test_reduction_of_broadcast_result():
    def f(x, b):
        return np.sum(np.mean(np.tanh(x + b), axis=0) ** 2)
    check(f, rand((3, 4), seed=1), rand((4,), seed=2), wrt=(0, 1))


def test_two_reductions_of_one_value():
    def f(x):
        return np.sum(np.sum(x, axis=0) * np.sum(x, axis=1, keepdims=True))
    check(f, rand((3, 4), seed=3))


# --- array methods -------------------------------------------------------------------

def test_methods():
    def f(x):
        a = x.sum(axis=0)
        b = x.mean()
        c = x.max(axis=1, keepdims=True)
        d = x.min(0)
        e = x.prod(axis=1)
        v = x.var(ddof=1)
        s = x.std(axis=0)
        return np.sum(a * a) + b + np.sum(c * x) + np.sum(d ** 3) + np.sum(e) + v + np.sum(s)
    check(f, rand((3, 4), 0.5, 1.5, seed=9))


@pytest.mark.parametrize("method", ["sum", "mean", "prod", "max", "min", "var", "std"])
@pytest.mark.parametrize("axis", [None, 0, -1])
def test_method_forms_match_functions(method, axis):
    w = rand(reduced_shape((3, 4), axis, False), 0.5, 1.5, seed=1)
    fn = getattr(np, method)

    if method == "sum":
        def as_method(x):
            return np.sum(w * x.sum(axis=axis))
    elif method == "mean":
        def as_method(x):
            return np.sum(w * x.mean(axis=axis))
    elif method == "prod":
        def as_method(x):
            return np.sum(w * x.prod(axis=axis))
    elif method == "max":
        def as_method(x):
            return np.sum(w * x.max(axis=axis))
    elif method == "min":
        def as_method(x):
            return np.sum(w * x.min(axis=axis))
    elif method == "var":
        def as_method(x):
            return np.sum(w * x.var(axis=axis))
    else:
        def as_method(x):
            return np.sum(w * x.std(axis=axis))

    def as_function(x):
        return np.sum(w * fn(x, axis=axis))
    x = rand((3, 4), 0.5, 1.5, seed=2)
    np.testing.assert_allclose(srcgrad.grad(as_method)(x), srcgrad.grad(as_function)(x), rtol=1e-14)
    check(as_method, x)


def test_method_keepdims_positional_axis():
    def f(x):
        return np.sum(x / x.sum(1, keepdims=True) * x.max(axis=0, keepdims=True))
    check(f, rand((3, 4), 0.5, 1.5, seed=3))


def test_mean_reduced_then_broadcast_back_source():
    def f(x):
        return np.sum((x - x.mean(axis=0)) ** 2)
    x = rand((4, 3), seed=4)
    np.testing.assert_allclose(check(f, x), 2 * (x - x.mean(axis=0)), atol=1e-12)


# --- NumPy's positional parameters -----------------------------------------------

def test_positional_dtype_out_keepdims_bind_like_numpy():
    """np.sum(a, axis, dtype, out, keepdims): the fifth positional argument is keepdims."""
    w = np.arange(3.0).reshape(3, 1)

    def f(x):
        return np.sum(w * np.sum(x, 1, None, None, True))

    def g(x):
        return np.sum(np.sum(x, 1, float) * np.arange(3.0))

    def h(x):
        return np.sum(np.max(x, 1, None, True) * w)
    x = rand((3, 4), seed=1)
    np.testing.assert_allclose(check(f, x), np.broadcast_to(w, (3, 4)))
    np.testing.assert_allclose(check(g, x), np.broadcast_to(w, (3, 4)))
    check(h, x)


def test_positional_ddof_binds_like_numpy():
    """np.var(a, axis, dtype, out, ddof): the fifth positional argument is ddof."""
    def f(x):
        return np.var(x, 0, None, None, 1) + np.std(x, None, None, None, 1)
    x = rand((5,), seed=2)
    got = check(f, x)
    c = x - x.mean()
    np.testing.assert_allclose(got, 2 * c / 4 + c / (4 * np.std(x, ddof=1)))


def test_positional_cumsum_dtype():
    def f(x):
        return np.sum(np.cumsum(x, 0, float) * np.arange(1.0, 4.0))
    np.testing.assert_allclose(check(f, rand((3,), seed=3)), [6.0, 5.0, 3.0])


# ==============================================================================================
# Forward mode: each rule of the family on a case of its own (`@case(function, *args)`),
# against central differences along random directions (support.check_jvp).
# ==============================================================================================

# --- reductions ---------------------------------------------------------------------------

def extremes_of(fn):
    def extremes(a):
        return fn(a), fn(a, axis=0), fn(a, axis=1, keepdims=True)
    return extremes


A34 = uniform((3, 4), 0.5, 1.5, seed=12)


@case(np.sum, A34)
def sums(a):
    return np.sum(a), np.sum(a, axis=0), a.sum(1, keepdims=True), np.sum(a, (0, 1))


@case(np.mean, A34)
def means(a):
    return np.mean(a), np.mean(a, axis=1), a.mean(axis=0, keepdims=True)


@case(np.prod, A34)
def prods(a):
    return np.prod(a), np.prod(a, axis=0), a.prod(axis=1, keepdims=True)


@case(np.prod, np.array([[0.0, 2.0, 3.0], [1.5, 0.0, 0.0]]))
def prod_with_zeros(a):
    return np.prod(a, axis=1), np.prod(a)


for _fn in (np.max, np.amax, np.min, np.amin):
    case(_fn, A34)(extremes_of(_fn))


@case(np.max, A34)
@case(np.min, A34)
def extreme_methods(a):
    return a.max(axis=1) - a.min()


@case(np.var, A34)
def variances(a):
    return np.var(a), np.var(a, axis=0), np.var(a, axis=1, ddof=1, keepdims=True), a.var()


@case(np.std, A34)
def deviations(a):
    return np.std(a), np.std(a, axis=0, ddof=1), a.std(axis=1, keepdims=True)


@case(rules.np.linalg.norm, A34)
def norms(a):
    return (np.linalg.norm(a), np.linalg.norm(a, axis=1), np.linalg.norm(a, axis=0, keepdims=True),
            np.linalg.norm(a[0], 1), np.linalg.norm(a[1], np.inf), np.linalg.norm(a[2], 3),
            np.linalg.norm(a, "fro"), np.linalg.norm(a, "nuc"), np.linalg.norm(a, 2),
            np.linalg.norm(a, 1), np.linalg.norm(a, -np.inf))


@case(np.cumsum, A34)
def cumsums(a):
    return np.cumsum(a), np.cumsum(a, axis=0), a.cumsum(axis=1)


# ==============================================================================================
# Issue 12: cumprod, the nan-reductions, ptp, average, order statistics, trapezoid.  Each case
# is a loss of random float inputs: its gradient in every float argument (test_issue12_gradient),
# in float32 (test_issue12_float32) and its tangents (test_rule_jvp).
# ==============================================================================================

def mix(y):
    """A loss that gives each element of y its own, non-constant adjoint."""
    return np.sum(np.sin(1.7 * y) * np.arange(1.0, np.size(y) + 1.0).reshape(np.shape(y)))


R234 = uniform((2, 3, 4), seed=90)
ISSUE12 = []


def issue12(keys, *args):
    keys = keys if isinstance(keys, tuple) else (keys,)
    def register(f):
        ISSUE12.append((keys, f, args))
        for key in keys:
            case(key, *args)(f)
        return f
    return register


@issue12(np.cumprod, R234)
def cumprods(x):
    return mix(np.cumprod(x)) + mix(np.cumprod(x, axis=1)) + mix(x.cumprod(-1)) + mix(np.cumprod(x[0, 0], 0))


ZEROS = np.array([[1.0, 0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0]])


@issue12(np.cumprod, uniform((3, 5), seed=91))
def cumprods_through_zeros(x):
    y = x * ZEROS                     # zeros in the input, wherever x is
    return mix(np.cumprod(y, axis=1)) + mix(np.cumprod(y.T, axis=0)) + mix(np.cumprod(y))


NANS = np.array([[0.0, np.nan, 0.0, 0.0], [0.0, 0.0, 0.0, np.nan], [np.nan, 0.0, 0.0, 0.0]])


@issue12((np.nansum, np.nanmean, np.nanmax, np.nanmin), uniform((3, 4), seed=92))
def nan_reductions(x):
    y = x + NANS
    return (mix(np.nansum(y)) + mix(np.nansum(y, axis=0)) + mix(np.nanmean(y, axis=-1, keepdims=True)) +
            mix(np.nanmean(y)) + mix(np.nanmax(y, axis=1)) + mix(np.nanmin(y)) + mix(np.nanmin(y, 0, keepdims=True)))


@issue12(np.logaddexp.reduce, R234)
def logaddexp_reductions(x):
    return (mix(np.logaddexp.reduce(x)) + mix(np.logaddexp.reduce(x, axis=None)) +
            mix(np.logaddexp.reduce(x * 300.0, axis=-1, keepdims=True)) + mix(np.logaddexp.reduce(x, (0, 2))))


@issue12(np.ptp, R234)
def ptps(x):
    return mix(np.ptp(x)) + mix(np.ptp(x, axis=1)) + mix(np.ptp(x, -1, keepdims=True))


@issue12(np.average, R234, uniform((3,), 0.5, 1.5, seed=93), uniform((2, 3, 4), 0.5, 1.5, seed=94))
def averages(x, w, W):
    return (mix(np.average(x)) + mix(np.average(x, axis=1)) + mix(np.average(x, 1, w)) +
            mix(np.average(x, axis=-1, weights=W[0, 0])) + mix(np.average(x, weights=W)) +
            mix(np.average(x, axis=(0, 2), weights=W, keepdims=True)))


@issue12((np.median, np.quantile, np.percentile), uniform((3, 5, 4), seed=95))
def order_statistics(x):
    return (mix(np.median(x)) + mix(np.median(x, axis=1)) + mix(np.median(x, -1, keepdims=True)) +
            mix(np.quantile(x, 0.3)) + mix(np.quantile(x, [0.1, 0.75], axis=0)) + mix(np.quantile(x, 1.0, 1, keepdims=True)) +
            mix(np.percentile(x, 40.0, axis=-1)) + mix(np.percentile(x, np.array([[10.0], [90.0]]), axis=2)))


@issue12((np.cov, np.corrcoef), uniform((3, 6), seed=98), uniform((2, 6), seed=99), uniform((6,), seed=100))
def covariances(m, y, v):
    return (mix(np.cov(m)) + mix(np.cov(m.T, rowvar=False, bias=True)) + mix(np.cov(m, y, ddof=2)) + mix(np.cov(v)) +
            mix(np.cov(v, v * v)) + mix(np.corrcoef(m)) + mix(np.corrcoef(m, y)) + mix(np.corrcoef(v, m[0] + v)) +
            mix(np.corrcoef(y.T, rowvar=False)))


TRAPEZOID = getattr(np, "trapezoid", None) or np.trapz
TRAPZ = getattr(np, "trapz", TRAPEZOID)         # NumPy 2.0 and 2.1 have both (trapz deprecated)


@issue12(tuple({TRAPEZOID, TRAPZ}), R234, np.sort(uniform((4,), seed=96)), uniform((2, 3, 4), seed=97), 0.3)
def trapezoids(y, x, X, dx):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old = TRAPZ(y, x, axis=-1)
    return (mix(TRAPEZOID(y)) + mix(TRAPEZOID(y, x)) + mix(TRAPEZOID(y, dx=dx, axis=1)) +
            mix(TRAPEZOID(y, X, axis=-1)) + mix(TRAPEZOID(y[0, 0], x)) + mix(old))


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
