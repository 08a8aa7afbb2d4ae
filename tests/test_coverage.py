"""Coverage against autograd's list (issue #12): every function autograd differentiates —
its NumPy, numpy.linalg, numpy.fft and SciPy rules, as its source registers them — has a rule
here, or a documented refusal.  The names are written out below (they are NumPy's and SciPy's
public names); each rule's correctness is tested in its family's file (test_rules_*.py)."""
import numpy as np
import pytest

from srcgrad import rules

NUMPY = """abs absolute acos acosh add amax amin angle arccos arccosh arcsin arcsinh arctan arctan2
arctanh array_split asin asinh astype atan atan2 atanh atleast_1d atleast_2d atleast_3d
broadcast_to clip conj conjugate cos cosh cross cumsum deg2rad degrees diag diagonal diff divide
dot dsplit einsum exp exp2 expand_dims expm1 fabs fliplr flipud fmax fmin full gradient hsplit
hypot imag inner kron linspace log log10 log1p log2 logaddexp logaddexp2 matmul max maximum mean
min minimum mod moveaxis multiply nan_to_num negative outer pad partition permute_dims pow power
prod rad2deg radians ravel real real_if_close reciprocal remainder repeat reshape roll rollaxis
rot90 sin sinc sinh sort split sqrt square squeeze std subtract sum swapaxes tan tanh tensordot
tile trace transpose tril triu true_divide var vsplit where""".split()
LINALG = "cholesky det eig eigh inv pinv slogdet solve svd norm".split()
FFT = ("fft fft2 fftn fftshift ifft ifft2 ifftn ifftshift irfft irfft2 irfftn rfft rfft2 "
       "rfftn").split()
SPECIAL = ("beta betainc betaln digamma erf erfc erfcinv erfinv expit gamma gammainc gammaincc "
           "gammaln gammasgn i0 i1 iv ive j0 j1 jn logit logsumexp multigammaln polygamma psi "
           "rgamma y0 y1 yn").split()
SCIPY_LINALG = "solve_banded solve_sylvester solve_triangular sqrtm".split()
STATS = {"norm": "cdf logcdf logpdf logsf pdf sf", "t": "cdf logcdf logpdf pdf",
         "beta": "cdf logpdf pdf", "gamma": "cdf logpdf pdf", "chi2": "cdf logpdf pdf",
         "poisson": "cdf logpmf pmf", "multivariate_normal": "entropy logpdf pdf",
         "dirichlet": "logpdf pdf"}
# autograd's functions srcgrad refuses, on purpose (docs/supported.md says why)
REFUSED = {}


def covered(obj):
    return obj in rules.RULES or obj in rules.NONDIFF


def named(module, prefix, names):
    return [(prefix + n, getattr(module, n)) for n in names if hasattr(module, n)]


def numpy_functions():
    return named(np, "np.", NUMPY) + named(np.linalg, "np.linalg.", LINALG) + named(np.fft, "np.fft.", FFT)


def scipy_functions():
    special = pytest.importorskip("scipy.special")
    import scipy.linalg
    import scipy.signal
    import scipy.stats
    rules.load_scipy()
    out = named(special, "scipy.special.", SPECIAL) + named(scipy.linalg, "scipy.linalg.", SCIPY_LINALG)
    out.append(("scipy.signal.convolve", scipy.signal.convolve))
    for dist, methods in STATS.items():
        out += named(getattr(scipy.stats, dist), f"scipy.stats.{dist}.", methods.split())
    return out


def test_every_numpy_function_autograd_differentiates_has_a_rule():
    missing = [name for name, obj in numpy_functions() if not covered(obj) and name not in REFUSED]
    assert not missing, missing


def test_every_scipy_function_autograd_differentiates_has_a_rule():
    missing = [name for name, obj in scipy_functions() if not covered(obj) and name not in REFUSED]
    assert not missing, missing


def test_refusals_are_real():
    """What REFUSED lists has indeed no rule (else the list is stale)."""
    functions = dict(numpy_functions())
    try:
        functions.update(scipy_functions())
    except pytest.skip.Exception:
        pass
    assert not [name for name in REFUSED if name in functions and covered(functions[name])]
