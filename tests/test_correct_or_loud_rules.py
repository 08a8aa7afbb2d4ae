"""Correct or loud: no silently wrong gradient (the rule table's part of the issue).

A. functions that were taken to have no derivative and have one: np.full, np.full_like,
   np.arange, np.linspace, np.logspace, np.geomspace, np.meshgrid, np.heaviside, np.r_[...],
   np.c_[...]; and objects indexed by a value with a gradient, refused rather than zero;
B. deny by default: every function of the no-derivative list is checked to be flat in its
   float arguments; unknown calls, attributes, methods and subscripts are errors;
C. non-finite gradients where the true one is finite (std over one element, norms and
   square roots at 0 under a mask);
D. crashes that should be values (a negated boolean mask, methods on Python floats in
   forward mode).

Gradients are compared with float64 central differences (support.check), tangents with
directional differences (support.check_jvp), or with closed forms.
"""
import contextlib
import inspect
import io
import os
import re
import warnings

import numpy as np
import pytest
from support import check, check_jvp, numerical_gradient

import srcgrad
from srcgrad import rules
from srcgrad.custom import stop_gradient
from srcgrad.reverse import _NONDIFF_BUILTINS

HERE = os.path.basename(__file__)
rng = np.random.default_rng(2024)
X3, Y4 = rng.normal(size=3), rng.normal(size=4)
W43 = rng.normal(size=(4, 3))


def line_of(f, text):
    """The line number of the first line of `f`'s source that contains `text`."""
    lines, first = inspect.getsourcelines(f)
    return first + next(i for i, line in enumerate(lines) if text in line)


def both_modes(f, *args):
    """Run grad(f) and jvp(f) on args: each raises or returns; yields the errors."""
    tangents = [np.ones_like(a) if isinstance(a, np.ndarray) else 1.0 for a in args]
    for run in (lambda: srcgrad.grad(f)(*args), lambda: srcgrad.jvp(f, args, tangents)):
        with pytest.raises(srcgrad.SrcgradError) as info:
            run()
        yield info.value


# --- A. building arrays ---------------------------------------------------------------------

def full_scalar(s):
    return np.sum(np.full(3, s) * X3)


def full_rows(v):
    return np.sum(np.sin(np.full((4, 3), v)) * W43)         # a fill value broadcast to rows


def full_like_scalar(s):
    return np.sum(np.full_like(W43, s) * W43)


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


def test_arange_start_and_step_have_gradients():
    check(arange_start_step, 0.3, 0.37, wrt=(0, 1))
    check_jvp(arange_start_step, 0.3, 0.37)
    assert srcgrad.grad(arange_count)(3.5) == 0.0
    check_jvp(arange_count, 3.5)


def test_heaviside_value_at_zero_has_a_gradient():
    def f(x, h0):
        return np.sum(np.heaviside(x, h0) * np.array([1.0, 2.0, 4.0]))
    x = np.array([0.0, 0.5, -0.5])
    dx, dh0 = srcgrad.grad(f, wrt=(0, 1))(x, 0.3)
    np.testing.assert_array_equal(dx, 0.0)        # a step: flat where it is not a jump
    assert dh0 == 1.0                             # heaviside(0, h0) = h0
    assert srcgrad.jvp(f, (x, 0.3), (None, 1.0))[1] == 1.0


# --- A. np.r_, np.c_ and other objects indexed by a value with a gradient --------------------

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


class Table:
    def __getitem__(self, key):
        return 2.0 * key


TABLE = Table()
DATA = np.arange(5.0)


def table_lookup(x):
    return TABLE[x]


def data_indexed(x):
    return DATA[x]


def s_trick(x):
    return np.sum(np.s_[x])


@pytest.mark.parametrize("f,name", [(table_lookup, "TABLE"), (data_indexed, "DATA"), (s_trick, "np.s_")])
def test_indexing_data_with_a_gradient_carrying_value_is_refused(f, name):
    # these were silently zero: the object indexed has no gradient, its index has one
    for err in both_modes(f, 1.0):
        assert isinstance(err, srcgrad.NoDerivativeRuleError)
        assert f"{HERE}:{line_of(f, '[x]')}:" in str(err)
        assert f"indexing `{name}` with a value that carries a gradient" in str(err)


def test_slogdet_held_whole():
    A = rng.normal(size=(3, 3)) + 3.0 * np.eye(3)
    batch = np.stack([A, A.T + np.eye(3)])

    def logdet(a):
        r = np.linalg.slogdet(a)
        return r[1] * 2.0

    def batched(a):
        r = np.linalg.slogdet(a)
        return np.sum(r[1] * np.array([1.0, 2.0]) + r[0])
    np.testing.assert_allclose(check(logdet, A), 2.0 * np.linalg.inv(A).T)
    check_jvp(logdet, A)
    check(batched, batch)
    check_jvp(batched, batch)


# --- B. deny by default: the no-derivative list, checked function by function ----------------

def _fractional(n, seed):
    """Floats whose fractional part is in [0.2, 0.4]: far from the jumps of floor, round..."""
    r = np.random.default_rng(seed)
    return r.integers(-3, 4, n) + r.uniform(0.2, 0.4, n) * r.choice([-1.0, 1.0], n)


XS, YS = _fractional(6, 1), _fractional(6, 2)
SORTED = np.sort(_fractional(8, 3))
SCALAR = 1.27

# function -> (a call on float inputs, those inputs); each input is moved by a little, and the
# result must not move at all.  Inputs are random but away from the function's jumps.
NONDIFF_CALLS = {
    np.zeros: (lambda: np.zeros(3), ()),
    np.ones: (lambda: np.ones((2, 3)), ()),
    np.empty: (lambda: np.empty(4).shape, ()),
    np.eye: (lambda: np.eye(3, 4, 1), ()),
    np.identity: (lambda: np.identity(3), ()),
    np.tri: (lambda: np.tri(3, 4, 1), ()),
    np.zeros_like: (lambda x: np.zeros_like(x), (XS,)),
    np.ones_like: (lambda x: np.ones_like(x), (XS,)),
    np.empty_like: (lambda x: (np.empty_like(x).shape, np.empty_like(x).dtype), (XS,)),
    np.shape: (lambda x: np.shape(x), (XS,)),
    np.ndim: (lambda x: np.ndim(x), (XS,)),
    np.size: (lambda x: np.size(x), (XS,)),
    np.result_type: (lambda x, s: np.result_type(x, s), (XS, SCALAR)),
    np.sign: (lambda x: np.sign(x), (XS,)),
    np.floor: (lambda x: np.floor(x), (XS,)),
    np.ceil: (lambda x: np.ceil(x), (XS,)),
    np.round: (lambda x: np.round(x), (XS,)),
    np.around: (lambda x: np.around(x, 0), (XS,)),
    np.rint: (lambda x: np.rint(x), (XS,)),
    np.trunc: (lambda x: np.trunc(x), (XS,)),
    np.fix: (lambda x: np.fix(x), (XS,)),
    np.argmax: (lambda x: np.argmax(x), (XS,)),
    np.argmin: (lambda x: np.argmin(x), (XS,)),
    np.argsort: (lambda x: np.argsort(x), (XS,)),
    np.argwhere: (lambda x: np.argwhere(x), (XS,)),
    np.nonzero: (lambda x: np.nonzero(x), (XS,)),
    np.flatnonzero: (lambda x: np.flatnonzero(x), (XS,)),
    np.count_nonzero: (lambda x: np.count_nonzero(x), (XS,)),
    np.searchsorted: (lambda a, v: np.searchsorted(a, v), (SORTED, XS)),
    np.equal: (lambda x, y: np.equal(x, y), (XS, YS)),
    np.not_equal: (lambda x, y: np.not_equal(x, y), (XS, YS)),
    np.less: (lambda x, y: np.less(x, y), (XS, YS)),
    np.less_equal: (lambda x, y: np.less_equal(x, y), (XS, YS)),
    np.greater: (lambda x, y: np.greater(x, y), (XS, YS)),
    np.greater_equal: (lambda x, y: np.greater_equal(x, y), (XS, YS)),
    np.isclose: (lambda x, y: np.isclose(x, y), (XS, YS)),
    np.allclose: (lambda x, y: np.allclose(x, y), (XS, YS)),
    np.array_equal: (lambda x, y: np.array_equal(x, y), (XS, YS)),
    np.logical_and: (lambda x, y: np.logical_and(x, y), (XS, YS)),
    np.logical_or: (lambda x, y: np.logical_or(x, y), (XS, YS)),
    np.logical_not: (lambda x: np.logical_not(x), (XS,)),
    np.logical_xor: (lambda x, y: np.logical_xor(x, y), (XS, YS)),
    np.isnan: (lambda x: np.isnan(x), (XS,)),
    np.isinf: (lambda x: np.isinf(x), (XS,)),
    np.isfinite: (lambda x: np.isfinite(x), (XS,)),
    np.signbit: (lambda x: np.signbit(x), (XS,)),
    np.all: (lambda x: np.all(x), (XS,)),
    np.any: (lambda x: np.any(x), (XS,)),
    np.floor_divide: (lambda x, y: np.floor_divide(x, y), (XS + 7.0, np.full(6, 1.5))),
}
# stop_gradient(x) is x: it has no derivative by decree, which is what it is for.
BY_DESIGN = {stop_gradient}

BUILTIN_CALLS = {
    len: (lambda x: len(x), (XS,)),
    int: (lambda s: int(s), (SCALAR,)),
    bool: (lambda s: bool(s), (SCALAR,)),
    round: (lambda s: (round(s), round(s, 1)), (SCALAR,)),
    range: (lambda x: list(range(len(x))), (XS,)),
    print: (lambda s: print(s), (SCALAR,)),
    isinstance: (lambda s: isinstance(s, float), (SCALAR,)),
    type: (lambda s: type(s), (SCALAR,)),
}


def same(a, b):
    """Exactly the same result (values, shapes and dtypes)."""
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(same(p, q) for p, q in zip(a, b))
    if isinstance(a, (np.ndarray, np.generic)):
        return isinstance(b, (np.ndarray, np.generic)) and a.dtype == b.dtype and \
            np.shape(a) == np.shape(b) and np.array_equal(a, b)
    return type(a) is type(b) and a == b


def moved(inputs, k, step):
    return [x + step if i == k else x for i, x in enumerate(inputs)]


def assert_flat(call, inputs, what):
    with contextlib.redirect_stdout(io.StringIO()):
        base = call(*inputs)
        directions = np.random.default_rng(0).normal(size=8)
        for k, x in enumerate(inputs):
            for d in directions:
                step = 1e-7 * d * np.ones_like(x) if isinstance(x, np.ndarray) else 1e-7 * float(d)
                assert same(call(*moved(inputs, k, step)), base), \
                    f"{what} moves when its float argument {k} moves: it has a derivative"


def test_every_no_derivative_function_is_checked():
    missing = rules.NONDIFF - set(NONDIFF_CALLS) - BY_DESIGN
    assert not missing, f"add a call of each to NONDIFF_CALLS: {sorted(map(str, missing))}"
    assert set(BUILTIN_CALLS) == _NONDIFF_BUILTINS
    for name, target in rules.METHODS.items():      # x.round(), x.argmax(): the functions above
        assert target in rules.RULES or target in rules.NONDIFF, name


@pytest.mark.parametrize("func", sorted(NONDIFF_CALLS, key=lambda f: f.__name__),
                         ids=lambda f: f.__name__)
def test_no_derivative_functions_are_flat(func):
    call, inputs = NONDIFF_CALLS[func]
    assert_flat(call, inputs, f"np.{func.__name__}")


@pytest.mark.parametrize("func", sorted(BUILTIN_CALLS, key=lambda f: f.__name__),
                         ids=lambda f: f.__name__)
def test_no_derivative_builtins_are_flat(func):
    call, inputs = BUILTIN_CALLS[func]
    assert_flat(call, inputs, func.__name__)


def test_the_check_catches_a_function_with_a_derivative():
    for wrongly_listed in (lambda s: np.full(3, s), lambda a: np.linspace(a, 2.0, 4),
                           lambda a: np.arange(a, 3.0), lambda s: np.heaviside(0.0, s)):
        with pytest.raises(AssertionError, match="has a derivative"):
            assert_flat(wrongly_listed, (SCALAR,), "it")


def test_the_docs_list_exactly_the_functions_without_a_derivative():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    page = open(os.path.join(root, "docs", "supported.md"), encoding="utf-8").read()
    paragraph = page.split("**No derivative**", 1)[1].split("\n\n", 1)[0]
    listed = set(re.findall(r"[a-z_]+", paragraph))
    names = {f.__name__ for f in rules.NONDIFF} | {f.__name__ for f in _NONDIFF_BUILTINS}
    assert not names - listed, f"docs/supported.md does not list {sorted(names - listed)}"
    with_rules = {r.name[3:] for r in rules.RULES.values() if r.name.startswith("np.")}
    assert not listed & with_rules, sorted(listed & with_rules)


def test_stop_gradient_is_zero_by_design():
    def f(x):
        return np.sum(stop_gradient(x) * x)
    np.testing.assert_allclose(srcgrad.grad(f)(X3), X3)


def unknown_call(x):
    return np.sum(np.sinc(x))


def unknown_attribute(x):
    return np.sum(x.real)


def unknown_method(x):
    return np.sum(x.conj())


def unknown_subscript(x):
    return np.sum(TABLE[x])


RNG = np.random.default_rng(0)


def random_of_x(x):
    return np.sum(RNG.normal(x, 1.0))


def string_of_x(x):
    return float(str(x[0]))


@pytest.mark.parametrize("f,text,message", [
    (unknown_call, "np.sinc", "no derivative rule for `np.sinc`"),
    (unknown_attribute, "x.real", "no derivative rule for the attribute `.real`"),
    (unknown_method, "x.conj", "no derivative rule for the method `.conj()`"),
    (unknown_subscript, "TABLE[x]", "no derivative rule for indexing `TABLE`"),
    (random_of_x, "normal(x", "no derivative rule for the random function `RNG.normal`"),
    (string_of_x, "str(x", "no derivative rule for `str`")])
def test_unknown_operations_on_values_with_a_gradient_are_refused(f, text, message):
    for err in both_modes(f, X3):
        assert isinstance(err, srcgrad.NoDerivativeRuleError)
        assert f"{HERE}:{line_of(f, text)}:" in str(err)
        assert message in str(err)


def test_random_functions_of_data_are_still_constants():
    def f(x):
        noise = np.random.default_rng(0).normal(0.0, 1.0, size=x.shape)
        return np.sum(x * noise)
    check(f, X3)


# --- C. finite gradients where the value is flat or at a kink ------------------------------

@contextlib.contextmanager
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")            # a 0/0 would warn
        yield


def std_of_single_elements(x):
    return np.sum(np.std(x[:, None], axis=1)) + np.sum(x)


def std_of_scalar(s):
    return np.std(s) + 2.0 * s


def std_of_equal_elements(x):
    return np.std(np.full(4, x[0])) + np.sum(x)


@pytest.mark.parametrize("f,arg,want", [(std_of_single_elements, X3, np.ones(3)),
                                        (std_of_scalar, 0.3, 2.0),
                                        (std_of_equal_elements, X3, np.ones(3))])
def test_std_of_a_constant_has_zero_gradient(f, arg, want):
    with no_warnings():
        np.testing.assert_array_equal(srcgrad.grad(f)(arg), want)        # was NaN
        tangent = np.ones_like(arg) if isinstance(arg, np.ndarray) else 1.0
        assert srcgrad.jvp(f, (arg,), (tangent,))[1] == pytest.approx(np.sum(want * tangent))


POINTS = rng.normal(size=(5, 2))


def distances_upper_triangle(x):
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    return np.sum(np.triu(d, 1) ** 1.5)


def distances_triu_indices(x):
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    return np.sum(np.exp(-d[np.triu_indices(5, 1)]))


def distances_by_sqrt(x):
    d = np.sqrt(np.sum((x[:, None] - x[None]) ** 2, axis=-1))
    return np.sum(np.triu(d, 1))


@pytest.mark.parametrize("f", [distances_upper_triangle, distances_triu_indices, distances_by_sqrt])
def test_pairwise_distances_with_the_diagonal_unused(f):
    with no_warnings():
        got = srcgrad.grad(f)(POINTS)                # was NaN everywhere
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, numerical_gradient(f, (POINTS,)), rtol=1e-5, atol=1e-7)
        check_jvp(f, POINTS)


def test_norm_at_zero_has_the_subgradient_zero():
    def f(x):
        return np.linalg.norm(x) + np.sum(np.linalg.norm(np.stack([x, 2.0 * x]), axis=1))
    with no_warnings():
        np.testing.assert_array_equal(srcgrad.grad(f)(np.zeros(3)), 0.0)
        assert srcgrad.jvp(f, (np.zeros(3),), (np.ones(3),))[1] == 0.0


def test_sqrt_at_zero_keeps_its_infinite_slope_where_it_is_used():
    def f(x):
        return np.sum(np.sqrt(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isinf(srcgrad.grad(f)(np.array([0.0, 1.0])))[0]     # d sqrt(x)/dx -> inf


# --- D. crashes that should be values ------------------------------------------------------

CLIPPED = np.array([0.3, -0.7, 1.2, 0.45])
MASK1, MASK2 = np.array([True, False, True, True]), np.array([True, True, False, True])


def negated_clip(x):
    return -np.sum(np.clip(x, -0.5, 0.5))


def negated_maximum(x):
    return 1.0 - np.sum(np.maximum(x, 0.0))


def two_clips(x):
    return np.sum(np.clip(x, -0.5, 0.5)) + np.sum(np.clip(x, -0.6, 0.6))


def two_boolean_masks(x, m1, m2):
    return np.sum(x * m1) + np.sum(x * m2)


def negated_boolean_mask(x, m1, m2):
    return -np.sum(x * m1) - np.sum(m2 * x)


@pytest.mark.parametrize("f,args,want", [
    (negated_clip, (CLIPPED,), [-1.0, 0.0, 0.0, -1.0]),        # raised TypeError (-bool)
    (negated_maximum, (CLIPPED,), [-1.0, 0.0, -1.0, -1.0]),    # raised TypeError
    (two_clips, (CLIPPED,), [2.0, 0.0, 0.0, 2.0]),             # was [1, 0, 0, 1]: True + True
    (two_boolean_masks, (CLIPPED, MASK1, MASK2), [2.0, 1.0, 1.0, 2.0]),     # was all 1
    (negated_boolean_mask, (CLIPPED, MASK1, MASK2), [-2.0, -1.0, -1.0, -2.0])])
def test_boolean_masks_in_adjoints_are_numbers(f, args, want):
    got = srcgrad.grad(f)(*args)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(got, numerical_gradient(f, args), atol=1e-7)
    if f in (negated_clip, negated_maximum, two_clips):
        check_jvp(f, *args)


def clip_method_of_a_float(s):
    return np.clip(s, 0.0, 1.0).sum()


def methods_of_a_float(s):
    t = np.clip(s, 0.0, 1.0) * 2.0
    return t.T + t.reshape(1).sum() + t.mean() + t.copy() + t.ravel().flatten()[0]


@pytest.mark.parametrize("f,want", [(clip_method_of_a_float, 1.0), (methods_of_a_float, 10.0)])
def test_methods_of_python_floats_in_forward_mode(f, want):
    value, tangent = srcgrad.jvp(f, (0.5,), (1.0,))     # raised AttributeError ('float'...)
    assert value == f(0.5) and tangent == pytest.approx(want)
    assert srcgrad.grad(f)(0.5) == pytest.approx(want)
