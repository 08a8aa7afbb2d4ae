"""Tests of the scipy.special rules of srcgrad/rules.py (skipped when SciPy is not installed).

Every rule is checked against central finite differences (tests/support.py) at random inputs
inside its domain, in float64; in float32 the gradient (and tangent) keeps the argument's
dtype and matches the float64 one to float32 accuracy.  The numerically delicate rules
(expit, logsumexp, softmax, log_softmax, log_ndtr) are also checked far out, where a naive
formula overflows; xlogy and the entropies where the first argument is 0 (flat in the
second); second derivatives (srcgrad.hessian) of expit, gammaln, erf and logsumexp against
their closed forms.

Both modes: reverse-mode tests are marked `@reverse(function, ...)`; the forward-mode cases
(`@case(function, *args)`, checked by test_rule_jvp against central differences along random
directions) are at the end of the file.  See tests/README.md.
"""
import numpy as np
import pytest

special = pytest.importorskip("scipy.special")

from support import RuleTests, check, check_jvp, line_of, numerical_gradient, uniform  # noqa: E402

import srcgrad  # noqa: E402
from srcgrad import rules  # noqa: E402

assert rules.load_scipy()        # (srcgrad loads them itself before it reads a function)

RULE_TESTS = RuleTests()         # this family's rules: forward cases, reverse tests
case, reverse = RULE_TESTS.case, RULE_TESTS.reverse
SHAPES = ["float", (), (5,), (3, 4)]


def shape_id(shape):
    return "f" if shape == "float" else "x".join(map(str, shape)) or "0d"


# --- unary functions: (function, lower, upper), a domain where it is smooth -------------------
UNARY = [
    (special.expit, -4, 4), (special.logit, 0.05, 0.95), (special.gammaln, 0.3, 5),
    (special.gammaln, -2.8, -2.2),          # log |gamma| between poles
    (special.digamma, 0.3, 5), (special.psi, -1.8, -1.2), (special.gamma, 0.3, 4),
    (special.erf, -2, 2), (special.erfc, -2, 2), (special.erfinv, -0.9, 0.9),
    (special.erfcinv, 0.1, 1.9), (special.ndtr, -3, 3), (special.log_ndtr, -6, 3),
    (special.ndtri, 0.05, 0.95), (special.entr, 0.1, 3), (special.i0, -3, 3), (special.i1, -3, 3),
    (special.i0e, 0.2, 3), (special.i0e, -3, -0.2), (special.i1e, -3, 3),
    (special.j0, 0.2, 6), (special.j1, -6, 6), (special.y0, 0.5, 6), (special.y1, 0.5, 6),
    (special.rgamma, 0.3, 4), (special.rgamma, -1.8, -1.2), (special.erfcx, -1.5, 3),
    (special.dawsn, -3, 3), (special.exp1, 0.2, 3), (special.expi, 0.2, 3), (special.expi, -3, -0.2),
    (special.log_expit, -4, 4),
] + ([(special.softplus, -4, 4)] if hasattr(special, "softplus") else [])      # (SciPy >= 1.15)
UNARY_IDS = [f"{fn.__name__}{lo}..{hi}" for fn, lo, hi in UNARY]

# --- binary: (function, first's domain, second's domain) -------------------------------------
BINARY = [
    (special.beta, (0.5, 3), (0.5, 3)), (special.betaln, (0.5, 3), (0.5, 3)),
    (special.xlogy, (-2, 2), (0.2, 3)), (special.xlog1py, (-2, 2), (-0.8, 3)),
    (special.rel_entr, (0.2, 3), (0.2, 3)), (special.kl_div, (0.2, 3), (0.2, 3)),
]
BINARY_IDS = [fn.__name__ for fn, _, _ in BINARY]
BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((4,), (3, 4)), ("float", (3, 4)), ((3, 4), "float")]


def float32_gradient_matches(f, x, rtol=2e-3):
    """grad(f) at x in float32: a float32 gradient, close to the float64 finite differences."""
    x32 = np.float32(x) if np.ndim(x) == 0 else x.astype(np.float32)
    got = srcgrad.grad(f)(x32)
    want = numerical_gradient(f, (np.float64(x32) if np.ndim(x) == 0 else x32.astype(np.float64),), 0)
    assert np.asarray(got).dtype == np.float32, np.asarray(got).dtype
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-4)


@reverse(*{fn for fn, _, _ in UNARY})
@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
@pytest.mark.parametrize("fn,lo,hi", UNARY, ids=UNARY_IDS)
def test_unary_weighted(fn, lo, hi, shape):
    w = uniform(() if shape == "float" else shape, 0.5, 1.5, seed=7)

    def f(x):
        return np.sum(w * fn(x))
    x = uniform(shape, lo, hi, seed=1)
    assert np.shape(check(f, x)) == np.shape(x)


@pytest.mark.parametrize("fn,lo,hi", UNARY, ids=UNARY_IDS)
def test_unary_composed_and_float32(fn, lo, hi):
    """The rule's `g` a full array (the square of the function); then in float32."""
    def f(x):
        y = fn(x)
        return np.sum(y * y)
    x = uniform((3, 4), lo, hi, seed=2)
    check(f, x)
    float32_gradient_matches(f, x)


@reverse(*[fn for fn, _, _ in BINARY])
@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=lambda s: "-".join(map(shape_id, s)))
@pytest.mark.parametrize("fn,xd,yd", BINARY, ids=BINARY_IDS)
def test_binary_both_operands(fn, xd, yd, shapes):
    xs, ys = shapes
    x, y = uniform(xs, *xd, seed=3), uniform(ys, *yd, seed=4)
    w = uniform(np.broadcast_shapes(np.shape(x), np.shape(y)), 0.5, 1.5, seed=5)

    def f(x, y):
        return np.sum(w * fn(x, y))
    check(f, x, y, wrt=(0, 1))


@pytest.mark.parametrize("fn,xd,yd", BINARY, ids=BINARY_IDS)
def test_binary_float32(fn, xd, yd):
    y = uniform((3, 4), *yd, seed=6)

    def f(x):
        return np.sum(fn(x, y) ** 2)

    def f2(y):
        return np.sum(fn(x, y) ** 2)
    x = uniform((3, 4), *xd, seed=5)
    float32_gradient_matches(f, x)
    float32_gradient_matches(f2, y)


def test_closed_forms():
    """A few exact values: d expit(0) = 1/4, d gammaln(1) = -euler_gamma, d gamma(2) = 1 - gamma_e,
    d erf(0) = 2/sqrt(pi), d ndtri(1/2) = sqrt(2 pi), d erfinv(0) = sqrt(pi)/2, d i0(0) = 0,
    d i1(0) = 1/2, d i1e(0) = 1/2, d entr(1) = -1."""
    euler = 0.5772156649015329
    for fn, x, want in [(special.expit, 0.0, 0.25), (special.gammaln, 1.0, -euler),
                        (special.gamma, 2.0, 1.0 - euler), (special.erf, 0.0, 2.0 / np.sqrt(np.pi)),
                        (special.erfc, 0.0, -2.0 / np.sqrt(np.pi)), (special.ndtri, 0.5, np.sqrt(2 * np.pi)),
                        (special.erfinv, 0.0, np.sqrt(np.pi) / 2), (special.i0, 0.0, 0.0),
                        (special.i1, 0.0, 0.5), (special.i1e, 0.0, 0.5), (special.entr, 1.0, -1.0),
                        (special.ndtr, 0.0, 1.0 / np.sqrt(2 * np.pi)), (special.logit, 0.5, 4.0),
                        (special.digamma, 1.0, np.pi ** 2 / 6)]:
        def f(x):
            return fn(x)
        assert srcgrad.grad(f)(x) == pytest.approx(want, rel=1e-12, abs=1e-15), fn.__name__
        assert srcgrad.jvp(f, (x,), (1.0,))[1] == pytest.approx(want, rel=1e-12, abs=1e-15), fn.__name__


@reverse(special.i0e)
def test_i0e_at_its_kink_takes_the_zero_subgradient():
    """exp(-|x|) I0(x) turns at 0 (slopes +1 and -1): as np.abs does, the subgradient 0."""
    def f(x):
        return np.sum(special.i0e(x))
    np.testing.assert_allclose(srcgrad.grad(f)(np.array([0.0, 1.0])),
                               [0.0, special.i1e(1.0) - special.i0e(1.0)])


# --- polygamma: differentiable in x, its order n an integer ----------------------------------

@reverse(special.polygamma)
@pytest.mark.parametrize("n", [0, 1, 3])
def test_polygamma_in_x(n):
    def f(x):
        return np.sum(special.polygamma(n, x) * np.array([1.0, 2.0, 3.0]))
    x = uniform((3,), 0.5, 4, seed=8)
    got = check(f, x)
    np.testing.assert_allclose(got, special.polygamma(n + 1, x) * [1.0, 2.0, 3.0], rtol=1e-12)


@reverse(special.polygamma)
def test_polygamma_orders_as_an_array_broadcast():
    n = np.array([[0], [1], [2]])

    def f(x):
        return np.sum(special.polygamma(n, x) ** 2)
    x = uniform((4,), 0.5, 3, seed=9)
    got = check(f, x)
    np.testing.assert_allclose(got, np.sum(2 * special.polygamma(n, x) * special.polygamma(n + 1, x), axis=0),
                               rtol=1e-12)
    float32_gradient_matches(f, x)


# --- where a naive formula fails ---------------------------------------------------------

@reverse(special.expit)
def test_expit_far_out_is_finite():
    def f(x):
        return np.sum(special.expit(x))
    got = srcgrad.grad(f)(np.array([-800.0, -40.0, 0.0, 40.0, 800.0]))
    s = 1.0 / (1.0 + np.exp(-np.array([-40.0, 0.0, 40.0])))
    np.testing.assert_array_equal(got[[0, 4]], 0.0)
    np.testing.assert_allclose(got[1:4], s * (1 - s), rtol=1e-12)


@reverse(special.log_ndtr)
def test_log_ndtr_in_the_far_tail():
    """d log Phi(x) = phi(x) / Phi(x) ~ -x for x -> -inf: both underflow, their ratio does not."""
    def f(x):
        return np.sum(special.log_ndtr(x))
    x = np.array([-40.0, -20.0, 10.0, 40.0])
    got = srcgrad.grad(f)(x)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got[:2], numerical_gradient(f, (x,), 0)[:2], rtol=1e-6)
    mills = -x[:2] / (1 - 1 / x[:2] ** 2 + 3 / x[:2] ** 4 - 15 / x[:2] ** 6)   # asymptotic series
    np.testing.assert_allclose(got[:2], mills, rtol=1e-8)
    assert 0.0 <= got[2] < 1e-20 and got[3] == 0.0


@reverse(special.xlogy, special.xlog1py, special.rel_entr, special.kl_div)
def test_first_argument_zero_is_flat_in_the_second():
    """xlogy(0, y) = 0 for every y >= 0, as are xlog1py(0, y) and rel_entr(0, y); kl_div(0, y)
    is y: the gradient in y is 0 (1 for kl_div), not 0/0, even at y == 0 (or y == -1)."""
    x = np.array([0.0, 0.0, 2.0])
    y = np.array([0.0, 1.5, 0.5])

    def each(fn, second):
        def f(y):
            return np.sum(fn(x, y))
        return srcgrad.grad(f)(second)
    np.testing.assert_allclose(each(special.xlogy, y), [0.0, 0.0, 4.0])
    np.testing.assert_allclose(each(special.xlog1py, np.array([-1.0, 1.5, 0.5])), [0.0, 0.0, 2.0 / 1.5])
    np.testing.assert_allclose(each(special.rel_entr, y), [0.0, 0.0, -4.0])
    np.testing.assert_allclose(each(special.kl_div, y), [1.0, 1.0, -3.0])


# --- logsumexp, softmax, log_softmax ----------------------------------------------------

AXES = [(None, False), (0, False), (1, False), (-1, True), (0, True), (None, True), ((0, 1), False)]


@reverse(special.logsumexp)
@pytest.mark.parametrize("axis,keepdims", AXES, ids=str)
def test_logsumexp_axis_keepdims(axis, keepdims):
    w = uniform(np.shape(special.logsumexp(np.ones((3, 4)), axis=axis, keepdims=keepdims)), 0.5, 1.5, seed=11)

    def f(x):
        return np.sum(w * special.logsumexp(x, axis=axis, keepdims=keepdims))
    x = uniform((3, 4), -2, 2, seed=12)
    got = check(f, x)
    soft = np.exp(x - special.logsumexp(x, axis=axis, keepdims=True))
    np.testing.assert_allclose(got, soft * (w if keepdims or axis is None else np.expand_dims(w, axis)),
                               rtol=1e-12)
    float32_gradient_matches(f, x)


@reverse(special.logsumexp)
@pytest.mark.parametrize("bshape", [(3, 4), (4,), (3, 1), ()], ids=shape_id)
def test_logsumexp_with_weights_b(bshape):
    def f(x, b):
        return np.sum(special.logsumexp(x, axis=1, b=b) ** 2)
    x, b = uniform((3, 4), -2, 2, seed=13), uniform(bshape, 0.5, 2, seed=14)
    dx, db = check(f, x, b, wrt=(0, 1))
    assert np.shape(db) == np.shape(b)


@reverse(special.logsumexp, special.softmax, special.log_softmax)
def test_large_inputs_do_not_overflow():
    """exp(1000) overflows; the adjoints use the functions' own results (the max shifted out)."""
    x = np.array([[1000.0, 999.0, 990.0], [-1000.0, -1001.0, -1000.0]])
    w = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])

    def lse(x):
        return np.sum(special.logsumexp(x, axis=1))

    def soft(x):
        return np.sum(w * special.softmax(x, axis=1))

    def log_soft(x):
        return np.sum(w * special.log_softmax(x, axis=1))
    p = special.softmax(x, axis=1)
    np.testing.assert_allclose(srcgrad.grad(lse)(x), p, rtol=1e-12)
    np.testing.assert_allclose(srcgrad.grad(soft)(x), p * (w - np.sum(w * p, axis=1, keepdims=True)),
                               rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(srcgrad.grad(log_soft)(x), w - p * np.sum(w, axis=1, keepdims=True),
                               rtol=1e-12)
    for f in (lse, soft, log_soft):
        value, tangent = srcgrad.jvp(f, (x,), (np.ones_like(x),))
        assert np.isfinite(value) and np.isfinite(tangent)


@reverse(special.softmax, special.log_softmax)
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("fn", [special.softmax, special.log_softmax], ids=lambda f: f.__name__)
def test_softmax_axis(fn, axis):
    w = uniform((3, 4), 0.5, 1.5, seed=15)

    def f(x):
        return np.sum(w * fn(x, axis=axis) ** 2)
    x = uniform((3, 4), -2, 2, seed=16)
    check(f, x)
    float32_gradient_matches(f, x)


@reverse(special.softmax)
def test_softmax_gradient_values_and_positional_axis():
    """d sum(w * softmax(x)) = p * (w - <w, p>): the softmax Jacobian, written out."""
    def f(x):
        return np.sum(np.array([1.0, 0.0, 2.0]) * special.softmax(x, 0))
    x = np.array([0.1, -0.3, 0.7])
    p = np.exp(x) / np.sum(np.exp(x))
    w = np.array([1.0, 0.0, 2.0])
    np.testing.assert_allclose(srcgrad.grad(f)(x), p * (w - p @ w), rtol=1e-12)


def logsumexp_with_sign(x):
    value, sign = special.logsumexp(x, return_sign=True)
    return value


def test_logsumexp_return_sign_is_refused():
    with pytest.raises(srcgrad.UnsupportedSyntaxError) as info:
        srcgrad.grad(logsumexp_with_sign)(np.ones(3))
    err = info.value
    assert err.lineno == line_of(logsumexp_with_sign, "return_sign=True")
    assert err.reason == "srcgrad's rule for scipy.special.logsumexp supports only `return_sign=False`"
    assert err.hint == "leave `return_sign` out of the call you differentiate"
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match="return_sign=False"):
        srcgrad.jvp(logsumexp_with_sign, (np.ones(3),), (np.ones(3),))


# --- second derivatives --------------------------------------------------------------------

def test_hessians():
    x = uniform((4,), -1.5, 1.5, seed=17)

    def expit_sum(x):
        return np.sum(special.expit(x))

    def gammaln_sum(x):
        return np.sum(special.gammaln(x + 2.0))

    def erf_sum(x):
        return np.sum(special.erf(x))

    def lse(x):
        return special.logsumexp(x)
    s = special.expit(x)
    np.testing.assert_allclose(srcgrad.hessian(expit_sum)(x), np.diag(s * (1 - s) * (1 - 2 * s)), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(srcgrad.hessian(gammaln_sum)(x), np.diag(special.polygamma(1, x + 2.0)), rtol=1e-10)
    np.testing.assert_allclose(srcgrad.hessian(erf_sum)(x), np.diag(-4 * x * np.exp(-x * x) / np.sqrt(np.pi)),
                               rtol=1e-10, atol=1e-14)
    p = special.softmax(x)
    np.testing.assert_allclose(srcgrad.hessian(lse)(x), np.diag(p) - np.outer(p, p), rtol=1e-10, atol=1e-14)


def gammaln_of(x):
    return special.gammaln(x) * 2.0


def test_grad_of_grad_through_the_generated_code():
    """The generated gradient of gammaln calls special.digamma, whose rule gives polygamma(1)."""
    first = srcgrad.grad(gammaln_of)
    assert "special.digamma(x)" in first.source
    second = srcgrad.grad(first)
    np.testing.assert_allclose(second(1.7), 2.0 * special.polygamma(1, 1.7), rtol=1e-12)


# --- how calls are written ---------------------------------------------------------------

expit_alias = special.expit


def by_alias(x):
    return np.sum(expit_alias(x) * special.erf(x))


@reverse(special.expit, special.erf)
def test_called_by_any_name_and_source_reads_special():
    x = uniform((5,), -2, 2, seed=18)
    got = check(by_alias, x)
    s = special.expit(x)
    np.testing.assert_allclose(got, s * (1 - s) * special.erf(x) + s * 2 / np.sqrt(np.pi) * np.exp(-x * x), rtol=1e-12)
    assert "special.expit(x)" not in srcgrad.grad(by_alias).source.split("\n\n")[1]   # the adjoint reuses ans


# ==============================================================================================
# Forward mode: each rule on a case of its own (`@case(function, *args)`), against central
# differences along random directions (support.check_jvp); then float32 tangents.
# ==============================================================================================

def unary_of(fn):
    def unary(x):
        return fn(x)
    return unary


def binary_of(fn):
    def binary(x, y):
        return fn(x, y)
    return binary


for _fn, _lo, _hi in UNARY:
    case(_fn, uniform((3, 4), _lo, _hi, seed=1))(unary_of(_fn))
    case(_fn, uniform("float", _lo, _hi, seed=2))(unary_of(_fn))

for _fn, _xd, _yd in BINARY:
    for _xs, _ys in BINARY_SHAPES:
        case(_fn, uniform(_xs, *_xd, seed=3), uniform(_ys, *_yd, seed=4))(binary_of(_fn))


@case(special.polygamma, uniform((2, 3), 0.5, 3, seed=20))
def polygammas(x):
    return special.polygamma(0, x), special.polygamma(2, x), special.polygamma(np.array([1, 2, 3]), x)


@case(special.logsumexp, uniform((3, 4), -2, 2, seed=21))
def logsumexps(x):
    return (special.logsumexp(x), special.logsumexp(x, axis=0), special.logsumexp(x, axis=1, keepdims=True),
            special.logsumexp(x, axis=(0, 1)), special.logsumexp(x * 3.0 - 1.0, -1))


@case(special.logsumexp, uniform((3, 4), -2, 2, seed=22), uniform((4,), 0.5, 2, seed=23))
def logsumexp_weighted(x, b):
    return special.logsumexp(x, axis=1, b=b), special.logsumexp(x, b=b * b, keepdims=True)


@case(special.softmax, uniform((3, 4), -2, 2, seed=24))
@case(special.log_softmax, uniform((3, 4), -2, 2, seed=24))
def softmaxes(x):
    return (special.softmax(x), special.softmax(x, axis=0), special.softmax(x, axis=-1),
            special.log_softmax(x), special.log_softmax(x, axis=1), special.log_softmax(x, 0))


# --- functions of x with a constant order or shape parameter --------------------------------
def jv_x(x): return special.jv(1.5, x)                  # noqa: E704 (one line each: a table)
def jv_int_x(x): return special.jv(-2.0, x)             # noqa: E704
def yv_x(x): return special.yv(2.5, x)                  # noqa: E704
def yn_x(x): return special.yn(2, x)                    # noqa: E704
def iv_x(x): return special.iv(0.5, x)                  # noqa: E704
def iv_int_x(x): return special.iv(2.0, x)              # noqa: E704
def ive_x(x): return special.ive(1.5, x)                # noqa: E704
def ive_neg_x(x): return special.ive(1.0, x)            # noqa: E704
def kv_x(x): return special.kv(1.5, x)                  # noqa: E704
def kve_x(x): return special.kve(0.5, x)                # noqa: E704
def gammainc_x(x): return special.gammainc(2.5, x)      # noqa: E704
def gammaincc_x(x): return special.gammaincc(0.5, x)    # noqa: E704
def betainc_x(x): return special.betainc(2.0, 3.5, x)   # noqa: E704
def multigammaln_x(x): return special.multigammaln(x, 3)  # noqa: E704
def zeta_x(x): return special.zeta(2.5, x)              # noqa: E704
def huber_x(x): return special.huber(1.0, x)            # noqa: E704
def pseudo_huber_x(x): return special.pseudo_huber(0.7, x)  # noqa: E704


# (rule, call, x's domain)
ORDERED = [
    (special.jv, jv_x, (0.5, 6)), (special.jv, jv_int_x, (-6, 6)), (special.yv, yv_x, (0.5, 6)),
    (special.yn, yn_x, (0.5, 6)), (special.iv, iv_x, (0.2, 3)), (special.iv, iv_int_x, (-3, 3)),
    (special.ive, ive_x, (0.2, 3)), (special.ive, ive_neg_x, (-3, -0.2)), (special.kv, kv_x, (0.3, 3)),
    (special.kve, kve_x, (0.3, 3)), (special.gammainc, gammainc_x, (0.2, 5)),
    (special.gammaincc, gammaincc_x, (0.2, 5)), (special.betainc, betainc_x, (0.05, 0.95)),
    (special.multigammaln, multigammaln_x, (1.5, 5)), (special.zeta, zeta_x, (0.5, 3)),
    (special.huber, huber_x, (-3, 3)), (special.pseudo_huber, pseudo_huber_x, (-3, 3)),
]
ORDERED_IDS = [call.__name__ for _, call, _ in ORDERED]


@reverse(*{key for key, _, _ in ORDERED})
@pytest.mark.parametrize("key,fn,domain", ORDERED, ids=ORDERED_IDS)
def test_in_x_with_a_constant_order(key, fn, domain):
    w = uniform((3, 4), 0.5, 1.5, seed=8)
    x = uniform((3, 4), *domain, seed=9)

    def f(x):
        return np.sum(w * fn(x))
    check(f, x)
    float32_gradient_matches(f, x)


def gammainc_1(x): return special.gammainc(1.0, x)     # noqa: E704
def betainc_1_1(x): return special.betainc(1.0, 1.0, x)  # noqa: E704


def test_more_closed_forms():
    """d j0(0) = 0, d j1(0) = 1/2, d gammainc(1, x) = e^-x, d betainc(1, 1, x) = 1 (uniform cdf),
    d huber(1, r) = r inside and sign(r) outside, d log_expit(0) = 1/2, d dawsn(0) = 1."""
    for call, x, want in [(special.j0, 0.0, 0.0), (special.j1, 0.0, 0.5),
                          (gammainc_1, 0.7, np.exp(-0.7)), (betainc_1_1, 0.3, 1.0),
                          (huber_x, 0.4, 0.4), (huber_x, -2.5, -1.0),
                          (special.log_expit, 0.0, 0.5), (special.dawsn, 0.0, 1.0)]:
        def f(x):
            return call(x)
        assert srcgrad.grad(f)(x) == pytest.approx(want, rel=1e-12, abs=1e-15)
        assert srcgrad.jvp(f, (x,), (1.0,))[1] == pytest.approx(want, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("mode", ["grad", "jvp"])
def test_a_varying_order_or_shape_parameter_is_refused_at_its_line(mode):
    """The derivative in the order of a Bessel function, or in the shape parameter of an
    incomplete gamma function, has no rule: refused at the line, never a zero."""
    def bessel(v, x):
        return np.sum(special.jv(v * 1.0, x))

    def incomplete(a, x):
        return special.gammainc(a, x)
    for f, construct in [(bessel, "scipy.special.jv(v=...)"), (incomplete, "scipy.special.gammainc(a=...)")]:
        with pytest.raises(srcgrad.NoDerivativeRuleError) as info:
            if mode == "grad":
                srcgrad.grad(f, wrt=0)(1.5, np.array([1.0, 2.0]))
            else:
                srcgrad.jvp(f, (1.5, np.array([1.0, 2.0])), (1.0, np.zeros(2)))
        message = str(info.value)
        assert f"test_rules_special.py:{line_of(f, 'special.')}: " in message, message
        assert "derivative" in message and construct.split("(")[0] in message, message


for _key, _fn, _domain in ORDERED:
    case(_key, uniform((3, 4), *_domain, seed=27))(_fn)


@pytest.mark.parametrize("key,f,args", RULE_TESTS.cases, ids=RULE_TESTS.case_ids())
def test_rule_jvp(key, f, args):
    check_jvp(f, *args)


@pytest.mark.parametrize("fn,lo,hi", UNARY, ids=UNARY_IDS)
def test_rule_jvp_float32(fn, lo, hi):
    x = uniform((3, 4), lo, hi, seed=25)
    t = uniform((3, 4), seed=26)
    f = unary_of(fn)
    value, tangent = srcgrad.jvp(f, (x.astype(np.float32),), (t.astype(np.float32),))
    _, want = srcgrad.jvp(f, (x.astype(np.float32).astype(np.float64),), (t.astype(np.float32).astype(np.float64),))
    assert tangent.dtype == np.float32
    np.testing.assert_allclose(tangent, want, rtol=2e-3, atol=1e-4)


def test_srcgrad_imported_before_scipy(tmp_path):
    """srcgrad does not import SciPy; imported after srcgrad, its rules are there when a
    function is read."""
    import os
    import subprocess
    import sys
    code = ("import sys, numpy as np, srcgrad\n"
            "assert 'scipy' not in sys.modules and srcgrad.rules.special is None\n"
            "from scipy.special import expit\n"
            "def f(x):\n"
            "    return np.sum(expit(x))\n"
            "print(srcgrad.grad(f)(np.array([0.0, 2.0])))\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root)
    (tmp_path / "late_scipy.py").write_text(code)
    out = subprocess.run([sys.executable, str(tmp_path / "late_scipy.py")], capture_output=True, text=True,
                         env=env, check=True)
    s = 1.0 / (1.0 + np.exp(-2.0))
    np.testing.assert_allclose(np.array(out.stdout.strip("[]\n").split(), dtype=float), [0.25, s * (1 - s)])
