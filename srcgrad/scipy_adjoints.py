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
    """The part of m a triangular solve reads (without the diagonal for unit_diagonal)."""
    k = -1 if unit_diagonal else 0
    return np.tril(m, k) if lower else np.triu(m, -k)


def solve_triangular_jvp_a(t, ans, a, trans=0, lower=False, unit_diagonal=False):
    """The tangent of x = op(a)^-1 b for a tangent t of a: -op(a)^-1 op(t) x."""
    t = read_triangle(t, lower, unit_diagonal)
    return linalg.solve_triangular(a, -((t.T if _transposed(trans) else t) @ ans), trans=trans,
                                   lower=lower, unit_diagonal=unit_diagonal)


def _mT(m):
    return np.swapaxes(m, -1, -2)


def _only_matrices(a, name):
    if np.ndim(a) != 2:
        raise ValueError(f"srcgrad's rule for scipy.linalg.{name} takes one matrix, not a stack "
                         f"of shape {np.shape(a)}")


def _halve_diagonal(m):
    """The lower triangle of m with its diagonal halved (the `Phi` of Cholesky adjoints)."""
    return np.tril(m) - 0.5 * np.diag(np.diag(m))


def _lower_cholesky_adjoint(gl, l):
    """For L = cholesky(A, lower=True), which reads the lower triangle of A: the adjoint of
    that triangle, from the adjoint gl of L (zeros above the diagonal)."""
    p = _halve_diagonal(l.T @ np.tril(gl))
    p_by_inverse = linalg.solve_triangular(l, p.T, trans=1, lower=True).T        # P L^-1
    s = linalg.solve_triangular(l, p_by_inverse, trans=1, lower=True)             # L^-T P L^-1
    s = 0.5 * (s + s.T)                 # the adjoint of a symmetric A ...
    return np.tril(2.0 * s) - np.diag(np.diag(s))   # ... as one of its lower triangle alone


def _lower_cholesky_jvp(t, l):
    """The tangent of L = cholesky(A, lower=True) for a tangent t of A's lower triangle."""
    t = np.tril(t) + np.tril(t, -1).T   # the symmetric matrix the triangle stands for
    inner = linalg.solve_triangular(l, linalg.solve_triangular(l, t, lower=True).T, lower=True).T
    return l @ _halve_diagonal(inner)


def triangle_cholesky_adjoint(g, ans, lower=False):
    """Adjoint of a = ...: scipy.linalg.cholesky reads only the triangle of `a` its factor is
    in (the lower one for lower=True, else the upper), so the other triangle gets none."""
    _only_matrices(ans, "cholesky")
    if lower:
        return _lower_cholesky_adjoint(g, ans)
    return _lower_cholesky_adjoint(g.T, ans.T).T


def triangle_cholesky_jvp(t, ans, lower=False):
    """The tangent of scipy.linalg.cholesky's factor for a tangent t of the triangle it reads."""
    if lower:
        return _lower_cholesky_jvp(t, ans)
    return _lower_cholesky_jvp(t.T, ans.T).T


# Whether cho_factor's c holds a's own entries in its other triangle (SciPy before 1.18: LAPACK
# leaves them) or zeros there (later releases).
CHO_FACTOR_KEEPS_A = linalg.cho_factor(np.array([[4.0, 1.0], [5.0, 3.0]]))[0][1, 0] == 5.0


def _other_triangle(m, lower):
    return (np.triu(m, 1) if lower else np.tril(m, -1)) if CHO_FACTOR_KEEPS_A else 0.0


def cho_factor_adjoint(g, ans, lower=False):
    """c of (c, lower) = cho_factor(a) holds the factor in one triangle, and in the other a's own
    entries (before SciPy 1.18) or zeros: the factor's adjoint goes through cholesky's, that of
    a's entries straight to them."""
    factor = np.tril(ans) if lower else np.triu(ans)
    return triangle_cholesky_adjoint(np.tril(g) if lower else np.triu(g), factor, lower) + _other_triangle(g, lower)


def cho_factor_jvp(t, ans, lower=False):
    """The tangent of c in (c, lower) = cho_factor(a): the factor's, and t's own other triangle
    where c holds a's entries."""
    factor = np.tril(ans) if lower else np.triu(ans)
    return triangle_cholesky_jvp(t, factor, lower) + _other_triangle(t, lower)


def _factor(c_and_lower):
    c, lower = c_and_lower
    return (np.tril(c) if lower else np.triu(c)), lower


def cho_solve_adjoint(g, ans, c_and_lower, which):
    """Adjoint of element `which` of (c, lower) in x = cho_solve((c, lower), b), that is of
    A = L L^T (or U^T U) with L the triangle of c: only that triangle gets one."""
    assert which == 0                   # (lower is a bool: no adjoint)
    l, lower = _factor(c_and_lower)
    _only_matrices(l, "cho_solve")
    gb = linalg.cho_solve(c_and_lower, g)
    gb2, x2 = (gb, ans) if np.ndim(ans) == 2 else (gb[:, None], ans[:, None])
    ga = -(gb2 @ x2.T + x2 @ gb2.T)     # the adjoint of the symmetric A, twice over
    return np.tril(ga @ l) if lower else np.triu(l @ ga)


def signal_convolve_adjoint(g, in1, in2, mode, which):
    """Adjoint of input `which` of scipy.signal.convolve(in1, in2, mode): g placed where its
    mode's output sits in the full convolution, correlated with the other input."""
    from scipy import signal
    full = np.zeros(tuple(np.add(np.shape(in1), np.shape(in2)) - 1), dtype=np.result_type(g, float))
    start = (np.array(full.shape) - np.shape(g)) // 2
    full[tuple(slice(s, s + n) for s, n in zip(start, np.shape(g)))] = g
    return signal.correlate(full, in2 if which == 0 else in1, mode="valid")


# --- scipy.stats.multivariate_normal and dirichlet --------------------------------------------
def _lower_read(s):
    """A symmetric adjoint s as one of the lower triangle alone (what SciPy reads of cov)."""
    return np.tril(2.0 * s) - np.diag(np.diag(s))


def _gaussian(x, mean, cov):
    """The rows r = x - mean (one per point), the covariance matrix and r C^-1, row by row."""
    d = np.shape(cov)[0] if np.ndim(cov) else np.size(mean) if mean is not None else np.shape(x)[-1]
    c = cov if np.ndim(cov) == 2 else np.diag(cov) if np.ndim(cov) == 1 else cov * np.eye(d)
    r = np.reshape(x, (-1, d)) - (0.0 if mean is None else np.reshape(mean, (d,)))
    return r, c, np.linalg.solve(c, r.T).T


def _per_point(g, n):
    return np.broadcast_to(np.reshape(g, (-1,)), (n,))


def _as_cov(s, cov):
    """The adjoint of the matrix as one of `cov` as given: the lower triangle of a matrix, the
    diagonal of a vector of variances, the trace for one variance."""
    return _lower_read(s) if np.ndim(cov) == 2 else np.diag(s) if np.ndim(cov) == 1 else np.trace(s)


def mvn_logpdf_adjoint(g, x, mean, cov, which):
    """Adjoint of argument `which` (0 x, 1 mean, 2 cov) of multivariate_normal.logpdf, with
    -(x - mean)^T C^-1 (x - mean) / 2 - log det(2 pi C) / 2 for each point."""
    r, c, r_over_c = _gaussian(x, mean, cov)
    gs = _per_point(g, r.shape[0])
    if which == 0:
        return np.reshape(-gs[:, None] * r_over_c, np.shape(x))
    if which == 1:
        return np.reshape(np.sum(gs[:, None] * r_over_c, axis=0), np.shape(mean))
    s = 0.5 * (r_over_c.T @ (gs[:, None] * r_over_c) - np.sum(gs) * np.linalg.inv(c))
    return _as_cov(0.5 * (s + s.T), cov)


def mvn_logpdf_jvp(t, x, mean, cov, which):
    """The tangent of multivariate_normal.logpdf for a tangent t of argument `which`."""
    r, c, r_over_c = _gaussian(x, mean, cov)
    shape = np.shape(stats_shape(x, r))
    if which == 0:
        return np.reshape(-np.sum(r_over_c * np.reshape(t, r.shape), axis=1), shape)
    if which == 1:
        return np.reshape(r_over_c @ np.reshape(t, (-1,)), shape)
    d = c.shape[0]
    tc = (np.tril(t) + np.tril(t, -1).T if np.ndim(cov) == 2 else np.diag(t) if np.ndim(cov) == 1
          else t * np.eye(d))
    quadratic = np.einsum("ni,ij,nj->n", r_over_c, tc, r_over_c)
    return np.reshape(0.5 * (quadratic - np.trace(np.linalg.solve(c, tc))), shape)


def _covariance(mean, cov):
    """The covariance matrix of a multivariate normal given SciPy's way (matrix, variances, one)."""
    d = np.shape(cov)[0] if np.ndim(cov) else np.size(mean) if mean is not None else 1
    return cov if np.ndim(cov) == 2 else np.diag(cov) if np.ndim(cov) == 1 else cov * np.eye(d)


def mvn_entropy_adjoint(g, mean, cov):
    """Adjoint of cov in multivariate_normal.entropy = log det(2 pi e C) / 2: C^-1 / 2."""
    return _as_cov(0.5 * g * np.linalg.inv(_covariance(mean, cov)), cov)


def mvn_entropy_jvp(t, mean, cov):
    """Tangent of multivariate_normal.entropy for a tangent t of cov: trace(C^-1 dC) / 2."""
    c = _covariance(mean, cov)
    d = c.shape[0]
    tc = (np.tril(t) + np.tril(t, -1).T if np.ndim(cov) == 2 else np.diag(t) if np.ndim(cov) == 1
          else t * np.eye(d))
    return 0.5 * np.trace(np.linalg.solve(c, tc))


def stats_shape(x, r):
    """The shape of a logpdf of the points `r` of x: one value per point, or one for a point."""
    return np.empty(()) if r.shape[0] == 1 and np.ndim(x) <= 1 else np.empty(r.shape[0])


def _dirichlet(x, alpha):
    """x with its last component (1 - the others' sum) filled in when SciPy would."""
    x = np.asarray(x)
    if x.shape[0] == len(alpha) - 1:
        x = np.concatenate([x, 1.0 - np.sum(x, axis=0, keepdims=True)], axis=0)
    return x


def dirichlet_logpdf_adjoint(g, x, alpha, which):
    """Adjoint of x (which 0) or alpha (1) of dirichlet.logpdf: sum (alpha - 1) log x - log B(alpha)."""
    full = _dirichlet(x, alpha)
    a = np.reshape(alpha, (-1,) + (1,) * (full.ndim - 1))
    if which == 0:
        dx = g * (a - 1.0) / full
        return dx if full.shape == np.shape(x) else dx[:-1] - dx[-1:]
    return np.reshape(np.sum(g * (np.log(full) - special.digamma(a) + special.digamma(np.sum(alpha))),
                             axis=tuple(range(1, full.ndim))), np.shape(alpha))


def dirichlet_logpdf_jvp(t, x, alpha, which):
    """The tangent of dirichlet.logpdf for a tangent t of x (which 0) or alpha (1)."""
    full = _dirichlet(x, alpha)
    a = np.reshape(alpha, (-1,) + (1,) * (full.ndim - 1))
    if which == 0:
        t = np.asarray(t)
        t = t if t.shape == full.shape else np.concatenate([t, -np.sum(t, axis=0, keepdims=True)], axis=0)
        return np.sum(t * (a - 1.0) / full, axis=0)
    ta = np.reshape(t, a.shape)
    return np.sum(ta * (np.log(full) - special.digamma(a)), axis=0) + np.sum(ta) * special.digamma(np.sum(alpha))


# --- scipy.linalg.lu_factor / lu_solve: a[perm] = L U, lu holding L (unit lower) and U ---------
def _lu_parts(lu, piv):
    """L, U and the row order `perm` with a[perm] = L U, from lu_factor's (lu, piv)."""
    perm = np.arange(lu.shape[0])
    for i, p in enumerate(piv):             # row i was swapped with row p, in turn
        perm[[i, p]] = perm[[p, i]]
    return np.tril(lu, -1) + np.eye(lu.shape[0]), np.triu(lu), perm


def _lu_adjoint_of_factors(g_perm, l, u):
    """The adjoint packed as lu is (strict lower part: L's, upper part: U's) from the adjoint
    g_perm of the matrix L U."""
    return np.tril(g_perm @ u.T, -1) + np.triu(l.T @ g_perm)


def lu_factor_adjoint(g, ans, a):
    """Adjoint of a in (lu, piv) = lu_factor(a), from the adjoint g of lu (piv: a factored again)."""
    _only_matrices(ans, "lu_factor")
    l, u, perm = _lu_parts(ans, linalg.lu_factor(a)[1])
    inner = np.tril(l.T @ np.tril(g, -1), -1) + np.triu(np.triu(g) @ u.T)
    g_perm = linalg.solve_triangular(l, linalg.solve_triangular(u, inner.T).T,
                                     lower=True, unit_diagonal=True, trans=1)     # L^-T inner U^-T
    ga = np.empty_like(g_perm)
    ga[perm] = g_perm
    return ga


def lu_factor_jvp(t, ans, a):
    """The tangent of lu for a tangent t of a: F = L^-1 t[perm] U^-1, dL = L tril(F), dU = triu(F) U."""
    l, u, perm = _lu_parts(ans, linalg.lu_factor(a)[1])
    f = linalg.solve_triangular(u, linalg.solve_triangular(l, t[perm], lower=True, unit_diagonal=True).T,
                                trans=1).T
    return l @ np.tril(f, -1) + np.triu(f) @ u


def lu_solve_adjoint(g, ans, lu_and_piv, trans, which):
    """Adjoint of lu (element `which` 0 of (lu, piv)) in x = lu_solve((lu, piv), b, trans)."""
    assert which == 0                       # (piv holds integers: no adjoint)
    lu, piv = lu_and_piv
    _only_matrices(lu, "lu_solve")
    l, u, perm = _lu_parts(lu, piv)
    transposed = trans in (1, 2, "T", "C")
    gb = linalg.lu_solve(lu_and_piv, g, trans=0 if transposed else 1)
    gb2, x2 = (gb, ans) if np.ndim(ans) == 2 else (gb[:, None], ans[:, None])
    ga = -(x2 @ gb2.T if transposed else gb2 @ x2.T)       # the adjoint of a = P L U
    return _lu_adjoint_of_factors(ga[perm], l, u)


def lu_solve_adjoint_b(g, lu_and_piv, trans):
    """op(a)^-T g: the adjoint of b in x = lu_solve((lu, piv), b, trans)."""
    return linalg.lu_solve(lu_and_piv, g, trans=0 if trans in (1, 2, "T", "C") else 1)


# --- solve_banded: A x = b with A in banded storage, ab[u + i - j, j] = A[i, j] ----------------
def _banded_transpose(l_and_u, ab):
    """A^T in banded storage (its bands (u, l)): ab_T[r, j] = ab[l + u - r, j + r - l]."""
    l, u = l_and_u
    n = ab.shape[1]
    out = np.zeros_like(ab)
    for r in range(l + u + 1):
        shift, source = r - l, l + u - r
        if shift >= 0:
            out[r, :n - shift] = ab[source, shift:]
        else:
            out[r, -shift:] = ab[source, :n + shift]
    return out


def _band(l_and_u, n):
    """For each entry (k, j) of banded storage, the row i of A it holds and whether it is in A."""
    l, u = l_and_u
    rows = np.arange(l + u + 1)[:, None] - u + np.arange(n)[None, :]
    return np.clip(rows, 0, n - 1), (rows >= 0) & (rows < n)


def solve_banded_adjoint(g, ans, l_and_u, ab, which):
    """Adjoint of `ab` (which 0) or `b` (which 1) of solve_banded: b's is A^-T g, A's is
    -(A^-T g) x^T, read back into banded storage (entries outside A get none)."""
    l, u = l_and_u
    gb = linalg.solve_banded((u, l), _banded_transpose(l_and_u, ab), g)
    if which == 1:
        return gb
    n = ab.shape[1]
    dense = -(np.reshape(gb, (n, -1)) @ np.reshape(ans, (n, -1)).T)
    rows, inside = _band(l_and_u, n)
    return np.where(inside, dense[rows, np.arange(n)[None, :]], 0.0)


def solve_banded_jvp(t, ans, l_and_u, ab):
    """Tangent of solve_banded for a tangent t of `ab`: -A^-1 (dA x)."""
    n = ab.shape[1]
    rows, inside = _band(l_and_u, n)
    dense = np.zeros((n, n), dtype=np.result_type(t, ans))
    np.add.at(dense, (rows[inside], np.broadcast_to(np.arange(n), rows.shape)[inside]), t[inside])
    return -linalg.solve_banded(l_and_u, ab, np.reshape(dense @ np.reshape(ans, (n, -1)), np.shape(ans)))
