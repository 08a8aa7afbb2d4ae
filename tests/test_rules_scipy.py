"""Tests of the SciPy rules beyond scipy.special (srcgrad/rules.py, `_scipy_stats_rules`;
skipped when SciPy is not installed): the distributions of scipy.stats as users call them,
`stats.norm.logpdf(x, mu, sigma)` and `stats.norm.logpdf(x, loc=mu, scale=sigma)`.

Every rule is checked against central finite differences (tests/support.py) at random inputs
inside the support, in `x`, `loc`, `scale` and the shape parameters, in float64; in float32
the gradient matches the float64 one to float32 accuracy.  A cdf's shape parameter (t's df)
and frozen distributions are refused, loudly.  Forward cases (`@case`) are at the end.
"""
import numpy as np
import pytest

stats = pytest.importorskip("scipy.stats")
import scipy.integrate  # noqa: E402
import scipy.linalg  # noqa: E402
import scipy.signal  # noqa: E402

from support import RuleTests, check, check_jvp, line_of, uniform  # noqa: E402

import srcgrad  # noqa: E402
from srcgrad import rules  # noqa: E402

assert rules.load_scipy()

RULE_TESTS = RuleTests()
case, reverse = RULE_TESTS.case, RULE_TESTS.reverse

# distribution -> (x's domain, the shape parameters' domains, loc's domain, scale's domain)
DOMAINS = {
    "norm": ((-3, 3), [], (-1, 1), (0.5, 2)),
    "expon": ((0.2, 3), [], (-0.5, 0), (0.5, 2)),
    "laplace": ((-3, 3), [], (-1, 1), (0.5, 2)),
    "cauchy": ((-3, 3), [], (-1, 1), (0.5, 2)),
    "logistic": ((-3, 3), [], (-1, 1), (0.5, 2)),
    "t": ((-3, 3), [(2, 6)], (-1, 1), (0.5, 2)),
    "chi2": ((0.5, 4), [(2.5, 6)], (-0.3, 0.2), (0.8, 1.5)),
    "gamma": ((0.5, 4), [(1.5, 4)], (-0.3, 0.2), (0.8, 1.5)),
    "beta": ((0.2, 0.7), [(1.5, 4), (1.5, 4)], (-0.05, 0.05), (1.0, 1.2)),
}
DENSITIES = ["logpdf", "pdf"]
DISTRIBUTIONS = ["cdf", "logcdf", "sf", "logsf"]
METHODS = [(d, m) for d in DOMAINS for m in DENSITIES + DISTRIBUTIONS]


def arguments(name, seed, shape=(5,)):
    xd, shapes, locd, scaled = DOMAINS[name]
    x = uniform(shape, *xd, seed=seed)
    return [x] + [uniform("float", *d, seed=seed + 1 + i) for i, d in enumerate(shapes)] + \
        [uniform("float", *locd, seed=seed + 7), uniform("float", *scaled, seed=seed + 8)]


def of_arity(method, n, w=1.0):
    """sum(w * method(...)) as a function of n named parameters (srcgrad reads its source)."""
    def f2(x, mu):
        return np.sum(w * method(x, mu))

    def f3(x, loc, scale):
        return np.sum(w * method(x, loc, scale))

    def f4(x, s1, loc, scale):
        return np.sum(w * method(x, s1, loc, scale))

    def f5(x, s1, s2, loc, scale):
        return np.sum(w * method(x, s1, s2, loc, scale))
    return {2: f2, 3: f3, 4: f4, 5: f5}[n]


def weighted(method, n):
    return of_arity(method, n, uniform((5,), 0.5, 1.5, seed=3))


@reverse(*[getattr(getattr(stats, d), m) for d, m in METHODS])
@pytest.mark.parametrize("name,method", METHODS, ids=[f"{d}.{m}" for d, m in METHODS])
def test_distribution_every_argument(name, method):
    fn = getattr(getattr(stats, name), method)
    args = arguments(name, seed=11)
    shapes = len(DOMAINS[name][1])
    wrt = tuple(i for i in range(len(args)) if method in DENSITIES or not 1 <= i <= shapes)
    check(weighted(fn, len(args)), *args, wrt=wrt, rtol=1e-5, atol=1e-8)


FLOAT32 = [("norm", "logcdf"), ("t", "logpdf"), ("gamma", "cdf"), ("beta", "pdf"), ("cauchy", "logsf"),
           ("chi2", "sf"), ("logistic", "pdf"), ("laplace", "logpdf"), ("expon", "logcdf")]


@pytest.mark.parametrize("name,method", FLOAT32, ids=[f"{d}.{m}" for d, m in FLOAT32])
def test_distribution_float32(name, method):
    """In x, in float32: close to the float64 gradient (SciPy computes in float64)."""
    fn = getattr(getattr(stats, name), method)
    args = arguments(name, seed=12)
    f = weighted(fn, len(args))
    want = srcgrad.grad(f)(*args)
    got = srcgrad.grad(f)(args[0].astype(np.float32), *args[1:])
    np.testing.assert_allclose(got, want, rtol=2e-3, atol=1e-4)


@reverse(stats.norm.logpdf, stats.t.logpdf, stats.gamma.cdf)
def test_keywords_and_broadcast_parameters():
    """loc= and scale= (and df=, a=) by keyword; parameters that are arrays, broadcast."""
    x, mu, sigma = uniform((4, 3), -2, 2, seed=1), uniform((3,), -1, 1, seed=2), uniform((4, 1), 0.5, 2, seed=3)

    def normal(x, mu, sigma):
        return np.sum(stats.norm.logpdf(x, loc=mu, scale=sigma))

    def student(x, df, mu):
        return np.sum(stats.t.logpdf(x, df=df, loc=mu, scale=2.0))

    def gamma(x, scale):
        return np.sum(stats.gamma.cdf(x + 3.0, a=2.5, scale=scale))
    check(normal, x, mu, sigma, wrt=(0, 1, 2))
    check(student, x, uniform((3,), 2, 5, seed=4), mu, wrt=(0, 1, 2))
    check(gamma, x, sigma, wrt=(0, 1))


@reverse(stats.norm.logcdf, stats.norm.logsf)
def test_normal_log_cdf_far_in_the_tail():
    """d log Phi(x) / dx ~ -x far out on the left: from exp(logpdf - logcdf), with no 0 / 0."""
    x = np.array([-40.0, -20.0, 0.0, 20.0, 40.0])

    def f(x):
        return np.sum(stats.norm.logcdf(x) + stats.norm.logsf(x))
    got = srcgrad.grad(f)(x)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got[:2], [40.0 + 1 / 40.0, 20.0 + 1 / 20.0], rtol=1e-3)   # -(-x) - ...
    np.testing.assert_allclose(got[2], 0.0, atol=1e-12)


POISSON = ["logpmf", "pmf", "cdf", "logcdf", "sf", "logsf"]


@reverse(*[getattr(stats.poisson, m) for m in POISSON])
@pytest.mark.parametrize("method", POISSON)
def test_poisson_in_its_rate(method):
    """k is an integer: no gradient; mu has one."""
    fn = getattr(stats.poisson, method)
    k = np.array([0, 1, 2, 4, 7])
    check(weighted(fn, 2), k, uniform((5,), 1, 5, seed=5), wrt=1)


def test_poisson_closed_form():
    """d/dmu log pmf(k; mu) = k / mu - 1;  d/dmu cdf(0; mu) = -exp(-mu)."""
    def f(mu):
        return stats.poisson.logpmf(3, mu)

    def g(mu):
        return stats.poisson.cdf(0, mu)
    assert srcgrad.grad(f)(2.0) == pytest.approx(0.5, rel=1e-12)
    assert srcgrad.grad(g)(2.0) == pytest.approx(-np.exp(-2.0), rel=1e-12)


# --- scipy.linalg and scipy.signal -----------------------------------------------------------
def spd(n, seed):
    a = uniform((n, n), seed=seed)
    return a @ a.T + n * np.eye(n)


def well_conditioned(n, seed):
    return uniform((n, n), seed=seed) + 3.0 * np.eye(n)


W44, W42, W4 = uniform((4, 4), seed=31), uniform((4, 2), seed=32), uniform((4,), seed=33)
TRIANGULAR = [(0, False, False), (0, True, False), (1, False, False), ("T", True, False), (0, False, True),
              (2, True, True)]      # (trans, lower, unit_diagonal)


@reverse(scipy.linalg.solve_triangular)
@pytest.mark.parametrize("options", TRIANGULAR, ids=lambda o: "trans={}-lower={}-unit={}".format(*o))
@pytest.mark.parametrize("rhs", ["vector", "matrix"])
def test_solve_triangular(options, rhs):
    """Only the triangle the solve reads (without the diagonal for unit_diagonal) gets a gradient."""
    a, b = well_conditioned(4, 1), (W4 if rhs == "vector" else W42)
    w = W42 if rhs == "matrix" else W4

    trans, lower, unit = options

    def f(a, b):
        return np.sum(w * scipy.linalg.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit))
    got, _ = check(f, a, b, wrt=(0, 1))
    assert np.all(got == (np.tril(got) if lower else np.triu(got))) and (not unit or np.all(np.diag(got) == 0))


@reverse(scipy.linalg.cholesky)
@pytest.mark.parametrize("lower", [False, True])
def test_cholesky_reads_one_triangle(lower):
    """scipy.linalg.cholesky reads the upper triangle of `a` (the lower for lower=True): the
    gradient is on that triangle, as changing each entry of `a` shows."""
    def f(a):
        return np.sum(W44 * scipy.linalg.cholesky(a, lower=lower))
    got = check(f, spd(4, 2))
    assert np.all(got == (np.tril(got) if lower else np.triu(got)))


@reverse(scipy.linalg.cho_factor, scipy.linalg.cho_solve)
@pytest.mark.parametrize("lower", [False, True])
def test_cho_factor_then_cho_solve(lower):
    def f(a, b):
        c, low = scipy.linalg.cho_factor(a, lower=lower)
        return np.sum(W42 * scipy.linalg.cho_solve((c, low), b))

    def whole_factor(a):            # c's other triangle holds a's own entries
        c, low = scipy.linalg.cho_factor(a, lower=lower)
        return np.sum(W44 * c)
    check(f, spd(4, 3), W42 * 2.0, wrt=(0, 1))
    check(whole_factor, spd(4, 3))


def test_cho_solve_forward_through_the_factor_is_refused():
    def f(a, b):
        c, low = scipy.linalg.cho_factor(a)
        return np.sum(scipy.linalg.cho_solve((c, low), b))
    with pytest.raises(srcgrad.NoDerivativeRuleError) as info:
        srcgrad.jvp(f, (spd(3, 1), W4[:3]), (spd(3, 2), None))
    assert "no forward rule for scipy.linalg.cho_solve with respect to its argument `c_and_lower`" in str(info.value)
    assert "use reverse mode" in str(info.value)


@reverse(scipy.linalg.lu_factor, scipy.linalg.lu_solve)
@pytest.mark.parametrize("trans", [0, 1])
def test_lu_factor_then_lu_solve(trans):
    """Through lu (L and U packed) and the pivots of a matrix that needs them; piv is integer."""
    a = uniform((4, 4), seed=21)          # (pivoting: its largest entries are off the diagonal)

    def f(a, b):
        lu, piv = scipy.linalg.lu_factor(a)
        return np.sum(W42 * scipy.linalg.lu_solve((lu, piv), b, trans=trans))

    def whole_factor(a):
        lu, piv = scipy.linalg.lu_factor(a)
        return np.sum(W44 * lu)
    assert np.any(scipy.linalg.lu_factor(a)[1] != np.arange(4))
    check(f, a, W42 * 2.0, wrt=(0, 1))
    check(whole_factor, a)


MATRIX_FUNCTIONS = [(scipy.linalg.expm, lambda: 0.3 * uniform((4, 4), seed=4)), (scipy.linalg.sqrtm, lambda: spd(4, 5)),
                    (scipy.linalg.inv, lambda: well_conditioned(4, 6))]


@reverse(*[fn for fn, _ in MATRIX_FUNCTIONS])
@pytest.mark.parametrize("fn,make", MATRIX_FUNCTIONS, ids=["expm", "sqrtm", "inv"])
def test_matrix_functions(fn, make):
    def f(a):
        return np.sum(W44 * fn(a))
    check(f, make())


@reverse(scipy.linalg.det, scipy.linalg.solve, scipy.linalg.solve_sylvester)
def test_det_solve_sylvester():
    a, b, q = well_conditioned(3, 7), well_conditioned(3, 8), uniform((3, 3), seed=9)

    def det(a):
        return scipy.linalg.det(a)

    def solve(a, b, v):
        return np.sum(W44[:3, :3] * scipy.linalg.solve(a, b)) + np.sum(W4[:3] * scipy.linalg.solve(a, v))

    def sylvester(a, b, q):
        return np.sum(W44[:3, :3] * scipy.linalg.solve_sylvester(a, b, q))
    check(det, a)
    check(solve, a, b, W4[:3], wrt=(0, 1, 2))
    check(sylvester, a, b, q, wrt=(0, 1, 2))


def test_solve_with_an_assumed_structure_is_refused():
    def f(a, b):
        return np.sum(scipy.linalg.solve(a, b, assume_a="pos"))
    with pytest.raises(srcgrad.UnsupportedSyntaxError) as info:
        srcgrad.grad(f)(spd(3, 1), W4[:3])
    assert "supports only `assume_a=None`" in str(info.value)


CONVOLVE_SHAPES = [((7,), (3,)), ((3,), (7,)), ((5, 4), (2, 3))]


@reverse(scipy.signal.convolve)
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("shapes", CONVOLVE_SHAPES, ids=lambda s: "x".join(map(str, s[0])) + "-" + "x".join(map(str, s[1])))
def test_convolve(shapes, mode):
    a, b = uniform(shapes[0], seed=10), uniform(shapes[1], seed=11)
    w = uniform(scipy.signal.convolve(a, b, mode).shape, seed=12)

    def f(a, b):
        return np.sum(w * scipy.signal.convolve(a, b, mode=mode))
    check(f, a, b, wrt=(0, 1))


LINALG_FLOAT32 = [
    ("solve_triangular", lambda a: scipy.linalg.solve_triangular(a, W4, lower=True), lambda: well_conditioned(4, 1)),
    ("cholesky", lambda a: scipy.linalg.cholesky(a), lambda: spd(4, 2)),
    ("expm", lambda a: scipy.linalg.expm(a), lambda: 0.3 * uniform((4, 4), seed=4)),
    ("convolve", lambda a: scipy.signal.convolve(a, W4, mode="same"), lambda: uniform((6,), seed=3)),
]


@pytest.mark.parametrize("name,fn,make", LINALG_FLOAT32, ids=[n for n, _, _ in LINALG_FLOAT32])
def test_linalg_float32(name, fn, make):
    def f(a):
        return np.sum(fn(a) ** 2)
    a = make()
    want = srcgrad.grad(f)(a)
    got = srcgrad.grad(f)(a.astype(np.float32))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-3)


MVN_COVARIANCES = {"matrix": lambda: spd(3, 13), "variances": lambda: uniform((3,), 0.5, 2, seed=14), "variance": lambda: 1.7}


@reverse(stats.multivariate_normal.logpdf, stats.multivariate_normal.pdf)
@pytest.mark.parametrize("cov", MVN_COVARIANCES)
def test_multivariate_normal(cov):
    """In x (points as rows), mean and cov: a matrix (SciPy reads its lower triangle: the
    gradient is there), a vector of variances or one variance."""
    x, mean, c = uniform((4, 3), seed=15), uniform((3,), seed=16), MVN_COVARIANCES[cov]()
    w = uniform((4,), 0.5, 1.5, seed=17)

    def logpdf(x, mean, c):
        return np.sum(w * stats.multivariate_normal.logpdf(x, mean, c))

    def pdf(x, mean, c):
        return np.sum(w * stats.multivariate_normal.pdf(x, mean=mean, cov=c))

    def one_point(x, mean, c):
        return stats.multivariate_normal.logpdf(x, mean, c)
    _, _, dc = check(logpdf, x, mean, c, wrt=(0, 1, 2))
    check(pdf, x, mean, c, wrt=(0, 1, 2))
    check(one_point, x[0], mean, c, wrt=(0, 1, 2))
    if cov == "matrix":
        assert np.all(dc == np.tril(dc))


@reverse(stats.multivariate_normal.entropy)
@pytest.mark.parametrize("cov", MVN_COVARIANCES)
def test_multivariate_normal_entropy(cov):
    """log det(2 pi e C) / 2 in cov (none in the mean); for one variance v in d dimensions,
    d / (2 v)."""
    mean, c = uniform((3,), seed=16), MVN_COVARIANCES[cov]()

    def entropy(mean, c):
        return stats.multivariate_normal.entropy(mean, c) * 2.0
    _, dc = check(entropy, mean, c, wrt=(0, 1))
    if cov == "variance":
        assert dc == pytest.approx(3.0 / c)
    if cov == "matrix":
        assert np.all(dc == np.tril(dc))


@reverse(stats.dirichlet.logpdf, stats.dirichlet.pdf)
def test_dirichlet():
    """In alpha, and in x given by its first K - 1 components (the last is 1 - their sum: a
    full x cannot move off the simplex, where SciPy refuses it)."""
    alpha = uniform((3,), 1.2, 3, seed=18)
    points = np.ascontiguousarray(np.random.default_rng(19).dirichlet(alpha, size=4).T)   # (K, N)
    w = uniform((4,), 0.5, 1.5, seed=20)

    def logpdf(x, alpha):
        return np.sum(w * stats.dirichlet.logpdf(x, alpha))

    def pdf(x, alpha):
        return stats.dirichlet.pdf(x, alpha)
    check(logpdf, points[:2], alpha, wrt=(0, 1))
    check(logpdf, points, alpha, wrt=1)
    check(pdf, points[:2, 0], alpha, wrt=(0, 1))
    got = srcgrad.grad(logpdf)(points, alpha)                    # the full x: d/dx_i = (alpha_i - 1) / x_i
    np.testing.assert_allclose(got, w * (alpha[:, None] - 1.0) / points, rtol=1e-12)


# --- refusals ---------------------------------------------------------------------------------
def test_cdf_in_a_shape_parameter_is_refused_in_both_modes():
    def f(x, df):
        return np.sum(stats.t.cdf(x, df))
    with pytest.raises(srcgrad.NoDerivativeRuleError) as info:
        srcgrad.grad(f, wrt=1)(np.ones(2), 3.0)
    assert "scipy.stats.t.cdf with respect to `df`" in str(info.value)
    assert info.value.lineno == line_of(f, "stats.t.cdf")
    with pytest.raises(srcgrad.NoDerivativeRuleError):
        srcgrad.jvp(f, (np.ones(2), 3.0), (None, 1.0))
    np.testing.assert_allclose(srcgrad.grad(f)(np.ones(2), 3.0), stats.t.pdf(np.ones(2), 3.0))


def test_frozen_distribution_is_refused():
    def f(x, mu):
        return np.sum(stats.norm(mu, 2.0).logpdf(x))
    with pytest.raises(srcgrad.NoDerivativeRuleError) as info:
        srcgrad.grad(f, wrt=1)(np.ones(2), 0.5)
    assert "logpdf" in str(info.value) and "stats.norm.logpdf(x, loc, scale)" in str(info.value)
    assert info.value.lineno == line_of(f, "stats.norm(mu")


LIBRARY = [(scipy.linalg.lu, "scipy.linalg.lu"), (stats.norm.entropy, "stats.norm.entropy"),
           (np.polyfit, "np.polyfit")]


@pytest.mark.parametrize("which", ["lu", "entropy", "polyfit"])
def test_library_functions_without_rules_name_themselves(which):
    """A NumPy or SciPy function without a rule: NoDerivativeRuleError naming it, with the
    register_vjp hint (never the advice for recursive functions of the user's)."""
    def lu(x):
        return np.sum(scipy.linalg.lu(x)[0])

    def entropy(x):
        return stats.norm.entropy(x)

    def polyfit(x):
        return np.sum(np.polyfit(x, x, 1))

    def odeint(x):
        return np.sum(scipy.integrate.odeint(np.sin, x, np.linspace(0.0, 1.0, 3)))
    f = {"lu": lu, "entropy": entropy, "polyfit": polyfit}[which]
    x = np.eye(2) + 1.0 if which == "lu" else np.ones(3)
    with pytest.raises(srcgrad.NoDerivativeRuleError) as info:
        srcgrad.grad(f)(x)
    text = str(info.value)
    name = {"lu": "scipy.linalg.lu", "entropy": "stats.norm.entropy", "polyfit": "np.polyfit"}[which]
    assert f"no derivative rule for `{name}`" in text and "register_vjp" in text, text
    assert "recursive" not in text and info.value.lineno == line_of(f, "return")


def test_odeint_is_refused_with_the_custom_rule_hint():
    def f(y0):
        return np.sum(scipy.integrate.odeint(np.sin, y0, np.linspace(0.0, 1.0, 3)))
    with pytest.raises(srcgrad.NoDerivativeRuleError) as info:
        srcgrad.grad(f)(np.ones(2))
    assert "scipy.integrate.odeint" in str(info.value) and "register_vjp" in str(info.value)


# --- forward mode -------------------------------------------------------------------------------
def _shapes_held(fn, shapes):
    """fn with its shape parameters held constant (a cdf has no derivative in them)."""
    s1, s2 = (list(shapes) + [None])[:2]

    def f1(x, loc, scale):
        return fn(x, s1, loc, scale)

    def f2(x, loc, scale):
        return fn(x, s1, s2, loc, scale)
    return f1 if len(shapes) == 1 else f2


for _d, _m in METHODS:
    _args = arguments(_d, seed=21)
    _shapes = len(DOMAINS[_d][1])
    _fn = getattr(getattr(stats, _d), _m)
    if _m in DISTRIBUTIONS and _shapes:
        case(_fn, _args[0], *_args[1 + _shapes:])(_shapes_held(_fn, _args[1:1 + _shapes]))
    else:
        case(_fn, *_args)(of_arity(_fn, len(_args)))
for _m in POISSON:
    case(getattr(stats.poisson, _m), np.array([0, 1, 2, 4, 7]), uniform((5,), 1, 5, seed=6))(of_arity(getattr(stats.poisson, _m), 2))


@case(scipy.linalg.solve_triangular, well_conditioned(4, 1), W42)
def triangular_solves(a, b):
    return (scipy.linalg.solve_triangular(a, b), scipy.linalg.solve_triangular(a, b, lower=True),
            scipy.linalg.solve_triangular(a, b, trans="T", lower=True, unit_diagonal=True),
            scipy.linalg.solve_triangular(a, b[:, 0], 1))


@case(scipy.linalg.cholesky, spd(4, 2))
def cholesky_factors(a):
    return scipy.linalg.cholesky(a), scipy.linalg.cholesky(a, lower=True)


@case(scipy.linalg.cho_factor, spd(4, 2))
def cho_factors(a):
    c, low = scipy.linalg.cho_factor(a)
    d, low2 = scipy.linalg.cho_factor(a, lower=True)
    return c, d


@case(scipy.linalg.cho_solve, W42)
def cho_solves(b):
    c, low = scipy.linalg.cho_factor(spd(4, 2))
    return scipy.linalg.cho_solve((c, low), b)


@case(scipy.linalg.lu_factor, uniform((4, 4), seed=21))
def lu_factors(a):
    lu, piv = scipy.linalg.lu_factor(a)
    return lu


@case(scipy.linalg.lu_solve, W42)
def lu_solves(b):
    lu, piv = scipy.linalg.lu_factor(uniform((4, 4), seed=21))
    return scipy.linalg.lu_solve((lu, piv), b), scipy.linalg.lu_solve((lu, piv), b, 1)


@case(scipy.linalg.expm, 0.3 * uniform((4, 4), seed=4))
@case(scipy.linalg.inv, well_conditioned(4, 6))
@case(scipy.linalg.det, well_conditioned(4, 6))
def matrix_functions(a):
    return scipy.linalg.expm(a), scipy.linalg.inv(a), scipy.linalg.det(a)


@case(scipy.linalg.sqrtm, spd(4, 5))
def square_root(a):
    return scipy.linalg.sqrtm(a)


@case(scipy.linalg.solve, well_conditioned(3, 7), uniform((3, 2), seed=1), W4[:3])
def solves(a, b, v):
    return scipy.linalg.solve(a, b), scipy.linalg.solve(a, v)


def banded(l, u, n, seed):
    """A diagonally dominant matrix in banded storage (its main diagonal in row u)."""
    ab = uniform((l + u + 1, n), seed=seed)
    ab[u] += 4.0
    return ab


@reverse(scipy.linalg.solve_banded)
@pytest.mark.parametrize("l,u,rhs", [(1, 2, (5,)), (0, 1, (5, 2)), (2, 0, (5,)), (1, 1, (5, 3))])
def test_solve_banded(l, u, rhs):
    """In the band of `ab` (entries outside the matrix get none) and in b, one or several
    right-hand sides; against the dense solve's gradient too."""
    ab, b = banded(l, u, 5, seed=40 + l + u), uniform(rhs, seed=41)
    w = uniform(rhs, 0.5, 1.5, seed=42)

    def f(ab, b):
        return np.sum(w * scipy.linalg.solve_banded((l, u), ab, b))
    dab, db = check(f, ab, b, wrt=(0, 1))
    for k in range(l + u + 1):          # row k holds diagonal u - k: its first/last entries lie outside A
        outside = list(range(max(0, u - k))) + list(range(5 - max(0, k - u), 5))
        assert np.all(dab[k, outside] == 0.0)


@case(scipy.linalg.solve_banded, banded(1, 2, 5, seed=43), uniform((5, 2), seed=44))
def banded_solves(ab, b):
    return scipy.linalg.solve_banded((1, 2), ab, b), scipy.linalg.solve_banded((1, 2), ab, b[:, 0] * 2.0)


@case(scipy.linalg.solve_sylvester, well_conditioned(3, 7), well_conditioned(3, 8), uniform((3, 3), seed=9))
def sylvester(a, b, q):
    return scipy.linalg.solve_sylvester(a, b, q)


@case(scipy.signal.convolve, uniform((5, 4), seed=10), uniform((2, 3), seed=11))
def convolutions(a, b):
    return scipy.signal.convolve(a, b), scipy.signal.convolve(a, b, "same"), scipy.signal.convolve(a, b, mode="valid")


@case(stats.multivariate_normal.logpdf, uniform((4, 3), seed=15), uniform((3,), seed=16), spd(3, 13))
@case(stats.multivariate_normal.pdf, uniform((4, 3), seed=15), uniform((3,), seed=16), spd(3, 13))
def gaussians(x, mean, c):
    return (stats.multivariate_normal.logpdf(x, mean, c), stats.multivariate_normal.pdf(x, mean, c),
            stats.multivariate_normal.logpdf(x[0], mean, np.diag(c)), stats.multivariate_normal.logpdf(x, mean, c[0, 0]))


@case(stats.multivariate_normal.entropy, uniform((3,), seed=16), spd(3, 13))
def entropies(mean, c):
    return (stats.multivariate_normal.entropy(mean, c), stats.multivariate_normal.entropy(mean, np.diag(c)),
            stats.multivariate_normal.entropy(cov=c[0, 0] + 0.0 * mean[0], mean=mean))


@case(stats.dirichlet.logpdf, np.ascontiguousarray(np.random.default_rng(19).dirichlet([1.5, 2.0, 2.5], size=4).T[:2]),
      uniform((3,), 1.2, 3, seed=18))
@case(stats.dirichlet.pdf, np.ascontiguousarray(np.random.default_rng(19).dirichlet([1.5, 2.0, 2.5], size=4).T[:2]),
      uniform((3,), 1.2, 3, seed=18))
def dirichlets(x, alpha):
    return stats.dirichlet.logpdf(x, alpha), stats.dirichlet.pdf(x[:, 0], alpha)


@pytest.mark.parametrize("key,f,args", RULE_TESTS.cases, ids=RULE_TESTS.case_ids())
def test_rule_jvp(key, f, args):
    check_jvp(f, *args)


def test_srcgrad_imported_before_scipy_stats(tmp_path):
    """srcgrad imports no SciPy; scipy.stats and scipy.linalg imported after it have their
    rules when a function is read."""
    import os
    import subprocess
    import sys
    code = ("import sys, numpy as np, srcgrad\n"
            "assert 'scipy' not in sys.modules and srcgrad.rules.stats is None\n"
            "from scipy import stats, linalg\n"
            "def f(x):\n"
            "    return np.sum(stats.norm.logpdf(x, 1.0, 2.0)) + np.sum(linalg.expm(np.diag(x)))\n"
            "print(srcgrad.grad(f)(np.array([0.0, 2.0])))\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    (tmp_path / "late_stats.py").write_text(code)
    out = subprocess.run([sys.executable, str(tmp_path / "late_stats.py")], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=root), check=True)
    want = -(np.array([0.0, 2.0]) - 1.0) / 4.0 + np.exp([0.0, 2.0])
    np.testing.assert_allclose(np.array(out.stdout.strip("[]\n").split(), dtype=float), want)
