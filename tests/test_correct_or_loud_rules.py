"""Correct or loud: no silently wrong gradient (the rule table's part of the issue).

A. objects indexed by a value with a gradient, refused rather than zero (the functions that
   were taken to have no derivative and have one, np.full ... np.c_[...], are tested with
   their rules: tests/test_rules_creation.py, np.heaviside in test_rules_elementwise.py);
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
import io
import os
import re
import warnings

import numpy as np
import pytest
from support import both_modes, check, check_jvp, line_of, numerical_gradient

import srcgrad
from srcgrad import rules
from srcgrad.custom import stop_gradient
from srcgrad.resolve import NONDIFF_BUILTINS as _NONDIFF_BUILTINS
from srcgrad import runtime  # noqa: E402
from srcgrad.shape_adjoints import permutation_source, select_picks, sort_indices

HERE = os.path.basename(__file__)
rng = np.random.default_rng(2024)
X3, Y4 = rng.normal(size=3), rng.normal(size=4)
W43 = rng.normal(size=(4, 3))






# --- A. objects indexed by a value with a gradient ----------------------------------------------

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
    # positions the gradients of sort, partition and select read (srcgrad/shape_adjoints.py)
    sort_indices: (lambda x: sort_indices(x, -1), (XS,)),
    runtime.size: (lambda x: runtime.size(x), (XS,)),
    runtime.broadcast: (lambda x, y: runtime.broadcast(x, y).shape, (XS, YS)),
    permutation_source: (lambda x: permutation_source(np.partition(x, 2), x, 0), (XS,)),
    select_picks: (lambda x: select_picks([x > 0.0, x < -1.0], x), (XS,)),
}
try:                              # scipy.special's, when SciPy is installed
    from scipy.special import gammasgn
    NONDIFF_CALLS[gammasgn] = (lambda x: gammasgn(x), (XS,))
except ImportError:
    pass
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
    return np.sum(np.unwrap(x))


def unknown_attribute(x):
    return np.sum(x.flat)


def unknown_method(x):
    return np.sum(x.byteswap())


def unknown_subscript(x):
    return np.sum(TABLE[x])


RNG = np.random.default_rng(0)


def random_of_x(x):
    return np.sum(RNG.normal(x, 1.0))


def string_of_x(x):
    return float(str(x[0]))


@pytest.mark.parametrize("f,text,message", [
    (unknown_call, "np.unwrap", "no derivative rule for `np.unwrap`"),
    (unknown_attribute, "x.flat", "no derivative rule for the attribute `.flat`"),
    (unknown_method, "x.byteswap", "no derivative rule for the method `.byteswap()`"),
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
