"""Tests of the rules of functions that build arrays: np.full, np.full_like, np.arange,
np.linspace, np.logspace, np.geomspace, np.meshgrid, np.r_[...] and np.c_[...].

These were once taken to have no derivative; each is checked in reverse mode against
central finite differences (support.check) and closed forms, and in forward mode
(support.check_jvp; the `@case` functions at the end).  Forms without a rule are refused
with the file and line of the call.
"""
import os

import numpy as np
import pytest
from support import RuleTests, both_modes, check, check_jvp, line_of, uniform

import srcgrad

RULE_TESTS = RuleTests()         # this family's rules: forward cases, reverse tests
case, reverse = RULE_TESTS.case, RULE_TESTS.reverse

HERE = os.path.basename(__file__)
rng = np.random.default_rng(2024)
X3, Y4 = rng.normal(size=3), rng.normal(size=4)
W43 = rng.normal(size=(4, 3))






# --- full, full_like, linspace, logspace, geomspace, meshgrid, arange ----------------------------------------------------------------

def full_scalar(s):
    return np.sum(np.full(3, s) * X3)


def full_rows(v):
    return np.sum(np.sin(np.full((4, 3), v)) * W43)         # a fill value broadcast to rows


def full_like_scalar(s):
    return np.sum(np.full_like(W43, s) * W43)


@reverse(np.full, np.full_like)
@pytest.mark.parametrize("f,arg", [(full_scalar, 0.7), (full_rows, X3), (full_like_scalar, 0.7)])
def test_full_fill_value_has_a_gradient(f, arg):
    check(f, arg)
    check_jvp(f, arg)


def test_full_gradient_closed_form():
    # d/ds sum(full(3, s) * x) = sum(x): was 0.0 when np.full was on the no-derivative list
    assert srcgrad.grad(full_scalar)(0.7) == pytest.approx(np.sum(X3))
    assert srcgrad.grad(full_like_scalar)(0.7) == pytest.approx(np.sum(W43))


def full_like_ints(s):
    return np.sum(np.full_like(np.arange(3), s) * X3)       # an int array: s is truncated


def full_int_dtype(s):
    return np.sum(np.full(3, s, dtype=int) * X3)


@pytest.mark.parametrize("f", [full_like_ints, full_int_dtype])
def test_an_integer_fill_has_no_derivative(f):
    assert srcgrad.grad(f)(0.7) == 0.0
    assert srcgrad.jvp(f, (0.7,), (1.0,))[1] == 0.0
    check(f, 0.7)


def ramp_weights(n):
    return np.arange(1.0, n + 1.0)


def linspace_ends(a, b):
    return np.sum(np.sin(np.linspace(a, b, 5)) * ramp_weights(5))


def linspace_open(a, b):
    return np.sum(np.sin(np.linspace(a, b, 5, endpoint=False)) * ramp_weights(5))


def linspace_one(a, b):
    return np.sum(np.linspace(a, b, 1) * 3.0)


def linspace_array_last_axis(a, b):
    return np.sum(np.sin(np.linspace(a, b, 4, axis=-1)) * ramp_weights(4))


def linspace_array_middle_axis(a, b):
    return np.sum(np.sin(np.linspace(a, b, 4, axis=1)) * ramp_weights(4)[:, None])


LINSPACE_CASES = [(linspace_ends, 0.3, 1.7), (linspace_open, 0.3, 1.7), (linspace_one, 0.3, 1.7),
                  (linspace_array_last_axis, X3, 0.5),
                  (linspace_array_middle_axis, rng.normal(size=(2, 3)), rng.normal(size=3))]


@reverse(np.linspace)
@pytest.mark.parametrize("f,a,b", LINSPACE_CASES, ids=[c[0].__name__ for c in LINSPACE_CASES])
def test_linspace_end_points_have_gradients(f, a, b):
    check(f, a, b, wrt=(0, 1))
    check_jvp(f, a, b)


def test_linspace_closed_form():
    # linspace(a, b, 5)[k] = a + k (b - a) / 4: the weights of a are 1 - k/4, of b k/4
    da, db = srcgrad.grad(lambda_free_linspace, wrt=(0, 1))(0.3, 1.7)
    k = np.arange(5)
    assert da == pytest.approx(np.sum(ramp_weights(5) * (1 - k / 4)))
    assert db == pytest.approx(np.sum(ramp_weights(5) * k / 4))


def lambda_free_linspace(a, b):
    return np.sum(np.linspace(a, b, 5) * ramp_weights(5))


def logspace_all(a, b, base):
    return np.sum(np.sin(np.logspace(a, b, 5, base=base)))


def logspace_arrays(a, b, base):
    return np.sum(np.sin(np.logspace(a, b, 3, base=base, axis=1)))


def geomspace_ends(a, b):
    return np.sum(np.sin(np.geomspace(a, b, 5)))


def geomspace_arrays(a, b):
    return np.sum(np.sin(np.geomspace(a, b, 3, endpoint=False, axis=-1)))


SPACE_CASES = [(logspace_all, (0.3, 0.9, 2.5)),
               (logspace_arrays, (0.3, rng.uniform(0, 1, (2, 1)), rng.uniform(1.5, 2.5, 4))),
               (geomspace_ends, (0.3, 1.7)), (geomspace_ends, (-0.3, -1.7)),
               (geomspace_arrays, (rng.uniform(0.5, 1.5, 3), 2.0))]


@reverse(np.logspace, np.geomspace)
@pytest.mark.parametrize("f,args", SPACE_CASES, ids=[c[0].__name__ for c in SPACE_CASES])
def test_logspace_and_geomspace_have_gradients(f, args):
    check(f, *args, wrt=tuple(range(len(args))))
    check_jvp(f, *args)


def meshgrid_xy(x, y):
    a, b = np.meshgrid(x, y)
    return np.sum(np.sin(a) * b * W43)


def meshgrid_ij(x, y):
    a, b = np.meshgrid(x, y, indexing="ij")
    return np.sum(np.sin(a) * b * W43.T)


def meshgrid_held_whole(x, y):
    grids = np.meshgrid(x, y)
    return np.sum(np.sin(grids[0]) * grids[1] * W43)


def meshgrid_one_used(x, y):
    a, b = np.meshgrid(x, y)
    return np.sum(np.sin(a) * W43)


def meshgrid_three_sparse(x, y, z):
    a, b, c = np.meshgrid(x, y, z, sparse=True)
    return np.sum(np.sin(a + 2.0 * b) * c)


MESHGRID_CASES = [(meshgrid_xy, (X3, Y4)), (meshgrid_ij, (X3, Y4)), (meshgrid_held_whole, (X3, Y4)),
                  (meshgrid_one_used, (X3, Y4)), (meshgrid_three_sparse, (X3, Y4, rng.normal(size=2)))]


@reverse(np.meshgrid)
@pytest.mark.parametrize("f,args", MESHGRID_CASES, ids=[c[0].__name__ for c in MESHGRID_CASES])
def test_meshgrid_arrays_have_gradients(f, args):
    check(f, *args, wrt=tuple(range(len(args))))
    check_jvp(f, *args)


def test_meshgrid_closed_form():
    def f(x, y):
        a, b = np.meshgrid(x, y)             # a[i, j] = x[j], b[i, j] = y[i]
        return np.sum(a * W43) + np.sum(b * b)
    dx, dy = srcgrad.grad(f, wrt=(0, 1))(X3, Y4)
    np.testing.assert_allclose(dx, W43.sum(axis=0))
    np.testing.assert_allclose(dy, 2.0 * 3 * Y4)


def arange_start_step(a, h):
    return np.sum(np.sin(np.arange(a, 2.0, h)))


def arange_count(a):
    return np.sum(np.sin(np.arange(a)))           # 0, 1, ...: flat in a


@reverse(np.arange)
def test_arange_start_and_step_have_gradients():
    check(arange_start_step, 0.3, 0.37, wrt=(0, 1))
    check_jvp(arange_start_step, 0.3, 0.37)
    assert srcgrad.grad(arange_count)(3.5) == 0.0
    check_jvp(arange_count, 3.5)


# --- np.r_, np.c_ ----------------------------------------------------------------------------------

def r_mixed(v, s):
    return np.sum(np.sin(np.r_[v, s, 2.0, v[:2]]) * np.arange(7.0))


def r_single(v):
    return np.sum(np.r_[v] ** 2)


def c_columns(v, u):
    return np.sum(np.sin(np.c_[v, u, v]) * W43[:3])


def c_matrix_and_column(m, u):
    return np.sum(np.sin(np.c_[m, u]) * np.arange(4.0))


INDEX_TRICK_CASES = [(r_mixed, (X3, 0.4)), (r_single, (X3,)), (c_columns, (X3, Y4[:3])),
                     (c_matrix_and_column, (rng.normal(size=(3, 3)), X3))]


@reverse(np.r_, np.c_)
@pytest.mark.parametrize("f,args", INDEX_TRICK_CASES, ids=[c[0].__name__ for c in INDEX_TRICK_CASES])
def test_r_and_c_have_gradients(f, args):
    check(f, *args, wrt=tuple(range(len(args))))
    check_jvp(f, *args)


def test_r_closed_form():
    dv = srcgrad.grad(r_single)(X3)               # was [0, 0, 0]
    np.testing.assert_allclose(dv, 2.0 * X3)


def r_with_slice(v):
    return np.sum(np.r_[v, 1:3])


def r_with_directive(v):
    return np.sum(np.r_["0,2", v, v])


def c_with_slice(v):
    return np.sum(np.c_[v, 0:3])


@pytest.mark.parametrize("f,text", [(r_with_slice, "np.r_["), (r_with_directive, "np.r_["),
                                    (c_with_slice, "np.c_[")])
def test_r_and_c_forms_without_a_rule_are_refused(f, text):
    for err in both_modes(f, X3):
        assert isinstance(err, srcgrad.NoDerivativeRuleError)
        assert f"{HERE}:{line_of(f, text)}:" in str(err)
        assert "not of slices or string directives" in str(err)


# ==============================================================================================
# Forward mode: each rule of the family on a case of its own (`@case(function, *args)`),
# against central differences along random directions (support.check_jvp).
# ==============================================================================================

# --- building arrays -----------------------------------------------------------------------
@case(np.full, uniform("float", seed=62), uniform((3,), seed=63))
@case(np.full_like, uniform("float", seed=62), uniform((3,), seed=63))
def fills(s, v):
    return (np.full((2, 3), s), np.full((2, 3), v), np.full(3, s, dtype=float),
            np.full(3, s, dtype=int), np.full_like(v, s), np.full_like(np.arange(3), s))


@case(np.arange, uniform("float", 0.1, 0.5, seed=64), uniform("float", 0.2, 0.3, seed=65))
def ranges(a, h):
    return np.arange(a, 2.0, h), np.arange(a + 3.3), np.arange(0.0, 1.0, step=h)


@case(np.linspace, uniform("float", seed=66), uniform((3,), 1, 2, seed=67))
@case(np.logspace, uniform("float", seed=66), uniform((3,), 1, 2, seed=67))
@case(np.geomspace, uniform("float", 0.2, 1, seed=66), uniform((3,), 1, 2, seed=67))
def spaces(a, b):
    return (np.linspace(a, b, 4), np.linspace(a, 2.0, 5, endpoint=False), np.linspace(b, a, 3, axis=-1),
            np.logspace(a, b, 4, base=b[0]), np.logspace(b, a, 3, axis=1),
            np.geomspace(abs(a) + 0.1, b, 4), np.geomspace(b, 3.0, 3, False, axis=-1))


@case(np.meshgrid, uniform((3,), seed=68), uniform((2,), seed=69))
def grids(x, y):
    a, b = np.meshgrid(x, y)
    c, d = np.meshgrid(x, y * 2.0, indexing="ij", sparse=True)
    e = np.meshgrid(y, x)
    return a * b, c + d, e[0] - e[1]


@pytest.mark.parametrize("key,f,args", RULE_TESTS.cases, ids=RULE_TESTS.case_ids())
def test_rule_jvp(key, f, args):
    check_jvp(f, *args)
