"""What the SciPy rules of srcgrad/rules.py call that SciPy lacks: the scores (d log f / dz) of
the standard distributions of scipy.stats and the derivatives of their log densities in their
shape parameters, and the adjoints of scipy.linalg's triangular solves and factorizations.
Only the rules use this module, and only once SciPy is imported (rules.load_scipy)."""
import numpy as np
from scipy import linalg, special


# --- scores d log f(z) / dz of the standard distributions (z = (x - loc) / scale) -----------
def norm_score(z):
    return -z


def expon_score(z):
    return np.where(z >= 0, -1.0, 0.0)         # flat (f = 0) off the support


def laplace_score(z):
    return -np.sign(z)


def cauchy_score(z):
    return -2.0 * z / (1.0 + z * z)


def logistic_score(z):
    return -np.tanh(0.5 * z)


def t_score(z, df):
    return -(df + 1.0) * z / (df + z * z)


def chi2_score(z, df):
    return np.where(z > 0, (0.5 * df - 1.0) / np.where(z > 0, z, 1.0) - 0.5, 0.0)


def gamma_score(z, a):
    return np.where(z > 0, (a - 1.0) / np.where(z > 0, z, 1.0) - 1.0, 0.0)


def beta_score(z, a, b):
    inside = (z > 0) & (z < 1)
    z = np.where(inside, z, 0.5)
    return np.where(inside, (a - 1.0) / z - (b - 1.0) / (1.0 - z), 0.0)


# --- d log f(z) / d(shape) ------------------------------------------------------------------
def t_dlogf(z, df):
    zz = z * z
    return 0.5 * (special.digamma(0.5 * (df + 1.0)) - special.digamma(0.5 * df) - 1.0 / df
                  - np.log1p(zz / df) + (df + 1.0) * zz / (df * (df + zz)))


def chi2_dlogf(z, df):
    return 0.5 * (np.log(np.where(z > 0, z, 1.0) / 2.0) - special.digamma(0.5 * df)) * (z > 0)


def gamma_dlogf(z, a):
    return (np.log(np.where(z > 0, z, 1.0)) - special.digamma(a)) * (z > 0)


def beta_dlogf_a(z, a, b):
    inside = (z > 0) & (z < 1)
    return (np.log(np.where(inside, z, 0.5)) - special.digamma(a) + special.digamma(a + b)) * inside


def beta_dlogf_b(z, a, b):
    inside = (z > 0) & (z < 1)
    return (np.log1p(-np.where(inside, z, 0.5)) - special.digamma(b) + special.digamma(a + b)) * inside


SCORES = {"norm": norm_score, "expon": expon_score, "laplace": laplace_score, "cauchy": cauchy_score,
          "logistic": logistic_score, "t": t_score, "chi2": chi2_score, "gamma": gamma_score,
          "beta": beta_score}
SHAPE_DERIVATIVES = {"t": t_dlogf, "chi2": chi2_dlogf, "gamma": gamma_dlogf}


# --- scipy.linalg ---------------------------------------------------------------------------
def _transposed(trans):
    return trans in (1, 2, "T", "C")


def solve_triangular_adjoint_b(g, a, trans=0, lower=False, unit_diagonal=False):
    """op(a)^-T g: the adjoint of b in x = op(a)^-1 b."""
    return linalg.solve_triangular(a, g, trans=0 if _transposed(trans) else 1, lower=lower,
                                   unit_diagonal=unit_diagonal)


def solve_triangular_adjoint_a(g, ans, a, trans=0, lower=False, unit_diagonal=False):
    """-(adjoint of b) x^T (transposed for op(a) = a^T), on the triangle the solve reads."""
    gb = solve_triangular_adjoint_b(g, a, trans, lower, unit_diagonal)
    gb2, x2 = (gb, ans) if np.ndim(ans) == 2 else (gb[:, None], ans[:, None])
    ga = -(x2 @ gb2.T if _transposed(trans) else gb2 @ x2.T)
    return read_triangle(ga, lower, unit_diagonal)


def read_triangle(m, lower, unit_diagonal=False):
    k = -1 if unit_diagonal else 0
    return np.tril(m, k) if lower else np.triu(m, -k)


def solve_triangular_jvp_a(t, ans, a, trans=0, lower=False, unit_diagonal=False):
    """The tangent of x = op(a)^-1 b for a tangent t of a: -op(a)^-1 op(t) x."""
    t = read_triangle(t, lower, unit_diagonal)
    return linalg.solve_triangular(a, -((t.T if _transposed(trans) else t) @ ans), trans=trans,
                                   lower=lower, unit_diagonal=unit_diagonal)
