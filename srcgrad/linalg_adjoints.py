"""Adjoints and tangents of the matrix factorizations (rules.py, linear algebra section).

Each works on stacks of matrices (the last two axes) and takes one adjoint per output of the
factorization, `None` for an output that gets no gradient (generated code passes `None`
rather than zeros, so nothing is computed for it).

Conditions (checked here, where the values are known): the adjoint of eigenvectors or of
singular vectors divides by the gaps between eigenvalues (singular values); where two of them
coincide (relative gap below `_GAP`) the derivative of the vectors does not exist and the
helper raises `Undefined` naming the function, rather than returning inf or nan.  The
eigenvalues (singular values) alone are differentiable there too: their adjoints need no
gaps and never raise.

np.linalg.cholesky and np.linalg.eigh read one triangle of their argument (the lower, or the
upper for `UPLO="U"`) and take the matrix to be symmetric: their derivatives are those of
that function, nonzero on the triangle read only, so they agree with finite differences on
any input, symmetric or not.
"""
import numpy as np

from .runtime import Undefined


def differentiable_source(func):
    """Mark a helper srcgrad differentiates by reading its code, as it reads the user's (for the
    derivative of a gradient that calls it: hessians).  It keeps to what srcgrad can read."""
    func.inlined_when_differentiated = True
    return func


@differentiable_source
def _real(x, name):
    """Refuse complex matrices: these adjoints are those of real ones (no conjugates)."""
    if np.iscomplexobj(x):
        raise Undefined(f"{name}: srcgrad differentiates it for real matrices only")
    return x


@differentiable_source
def _mT(x):
    return np.swapaxes(x, -1, -2)


@differentiable_source
def _diagonal(x):
    return np.sum(x * np.eye(x.shape[-1], dtype=x.dtype), axis=-1)


@differentiable_source
def _diag(v):
    """Diagonal matrices from the last axis of `v`."""
    return v[..., :, None] * np.eye(v.shape[-1], dtype=v.dtype)


def eigen_gaps(values, name, what):
    """F[i, j] = 1 / (values[j] - values[i]) off the diagonal, 0 on it; raises where two
    values coincide (the vectors' derivative does not exist there).  A primitive of its own
    (rules.py gives its tangent), since the check reads the values."""
    diff = values[..., None, :] - values[..., :, None]
    off = ~np.eye(values.shape[-1], dtype=bool)
    scale = np.max(np.abs(values), axis=-1, keepdims=True)[..., None] + np.finfo(values.dtype).tiny
    if np.any(off & (np.abs(diff) <= _GAP[values.dtype.char] * scale)):
        raise Undefined(f"{name}: two {what} are equal, and the derivative of the vectors that "
                        f"belong to them does not exist (use only the {what}, or make them distinct)")
    return np.where(off, 1.0 / np.where(off, diff, 1.0), 0.0).astype(values.dtype)

_GAP = {"d": 1e-10, "f": 1e-5}          # relative gap below which two values count as equal


@differentiable_source
def _triangle_of(g, lower):
    """The adjoint of a symmetric matrix `g` as a function of the triangle that is read:
    each off-diagonal element stands for two."""
    if lower:
        return np.tril(g + _mT(g)) - _diag(_diagonal(g))
    return np.triu(g + _mT(g)) - _diag(_diagonal(g))


@differentiable_source
def _symmetric_from(t, lower):
    """The symmetric matrix np.linalg.cholesky / eigh see for the triangle of `t` they read."""
    part = np.tril(t, -1) if lower else np.triu(t, 1)
    return part + _mT(part) + _diag(_diagonal(t))


@differentiable_source
def _sym(x):
    return 0.5 * (x + _mT(x))


# --- Cholesky: A = L L^T -------------------------------------------------------------------------
@differentiable_source
def _phi(x):
    """The lower triangle of `x` with its diagonal halved."""
    return np.tril(x) - 0.5 * _diag(_diagonal(x))


@differentiable_source
def cholesky_adjoint(g, L):
    """dA = L^-T Phi(L^T dL) L^-1, made symmetric, on the lower triangle numpy reads."""
    L = _real(L, "np.linalg.cholesky")
    inner = _phi(_mT(L) @ g)
    s = np.linalg.solve(_mT(L), _mT(np.linalg.solve(_mT(L), _mT(inner))))
    return _triangle_of(_sym(s), True)


@differentiable_source
def cholesky_jvp(t, L):
    """dL = L Phi(L^-1 dA L^-T) for the symmetric dA of the lower triangle of t."""
    L = _real(L, "np.linalg.cholesky")
    inner = np.linalg.solve(L, _mT(np.linalg.solve(L, _symmetric_from(t, True))))
    return L @ _phi(inner)


# --- symmetric eigenproblem: A = V diag(w) V^T ------------------------------------------------------
@differentiable_source
def eigh_adjoint(gw, gv, w, v, UPLO="L"):
    """dA = V (diag(dw) + F * (V^T dV)) V^T, made symmetric, on the triangle numpy reads."""
    v = _real(v, "np.linalg.eigh")
    inner = 0.0
    if gw is not None:
        inner = _diag(gw)
    if gv is not None:
        inner = inner + eigen_gaps(w, "np.linalg.eigh", "eigenvalues") * (_mT(v) @ gv)
    return _triangle_of(_sym(v @ inner @ _mT(v)), UPLO == "L")


def eigh_jvp(t, w, v, UPLO="L"):
    v = _real(v, "np.linalg.eigh")
    p = _mT(v) @ _symmetric_from(t, UPLO == "L") @ v
    return _diagonal(p), v @ (eigen_gaps(w, "np.linalg.eigh", "eigenvalues") * p)


# --- general real eigenproblem: A V = V diag(w), columns of V of unit length -------------------------
@differentiable_source
def _real_eig(w, name="np.linalg.eig"):
    if np.iscomplexobj(w) and np.any(w.imag != 0):
        raise Undefined(f"{name}: the eigenvalues are complex; srcgrad differentiates np.linalg.eig "
                        "only where all of them are real (use np.linalg.eigh for a symmetric matrix)")
    if np.iscomplexobj(w):      # (NumPy 2.5 and later give complex numbers, real or not)
        raise Undefined(f"{name}: NumPy gives the eigenvalues as complex numbers, and srcgrad "
                        "differentiates np.linalg.eig only where they come out as real numbers "
                        "(NumPy before 2.5; use np.linalg.eigh for a symmetric matrix)")
    return w


@differentiable_source
def eig_adjoint(gw, gv, w, v):
    w = _real_eig(w)
    inner = _diag(gw) if gw is not None else 0.0
    if gv is not None:
        vtgv = _mT(v) @ gv
        # the unit length of each column takes off its part along the column itself
        inner = inner + eigen_gaps(w, "np.linalg.eig", "eigenvalues") * (
            vtgv - (_mT(v) @ v) * _diagonal(vtgv)[..., None, :])
    return np.linalg.solve(_mT(v), inner @ _mT(v))


def eig_jvp(t, w, v):
    w = _real_eig(w)
    p = np.linalg.solve(v, t @ v)
    c = eigen_gaps(w, "np.linalg.eig", "eigenvalues") * p
    c = c - _diag(_diagonal(_mT(v) @ v @ c))
    return _diagonal(p), v @ c


# --- singular value decomposition: A = U diag(s) Vh ---------------------------------------------------
@differentiable_source
def _svd_shapes(a, u, vh, full_matrices, name="np.linalg.svd"):
    m, n = a.shape[-2:]
    if full_matrices and m != n:
        raise Undefined(f"{name}: with full_matrices=True the extra singular vectors of a "
                        f"{m} x {n} matrix are not determined by it and have no derivative "
                        "(pass full_matrices=False)")
    return a


@differentiable_source
def svd_adjoint(gu, gs, gvh, u, s, vh, a, full_matrices=True):
    """dA = U [diag(ds) + (J - J^T) S + S (K - K^T)] Vh + the parts off the spans of U and V,
    with J = F * (U^T dU), K = F * (V^T dV), F[i, j] = 1 / (s_j^2 - s_i^2)."""
    a = _real(a, "np.linalg.svd")
    if u is None:                         # compute_uv=False: the singular vectors, once more
        u, s, vh = np.linalg.svd(a, full_matrices=False)
    total = _diag(gs) if gs is not None else 0.0
    if gu is None and gvh is None:          # (the singular vectors that belong to s)
        return u[..., :s.shape[-1]] @ total @ vh[..., :s.shape[-1], :]
    a = _svd_shapes(a, u, vh, full_matrices)
    f = eigen_gaps(s * s, "np.linalg.svd", "singular values")
    v = _mT(vh)
    rest = 0.0
    if gu is not None:
        j = f * (_mT(u) @ gu)
        total = total + (j + _mT(j)) * s[..., None, :]
        rest = rest + (gu - u @ (_mT(u) @ gu)) / _nonzero(s)[..., None, :] @ vh
    if gvh is not None:
        gv = _mT(gvh)
        k = f * (_mT(v) @ gv)
        total = total + s[..., :, None] * (k + _mT(k))
        rest = rest + (u / _nonzero(s)[..., None, :]) @ _mT(gv - v @ (_mT(v) @ gv))
    return u @ total @ vh + rest


@differentiable_source
def _nonzero(s):
    if np.any(s == 0):
        raise Undefined("np.linalg.svd: a singular value is 0, and the singular vectors of a "
                        "rank-deficient matrix have no derivative")
    return s


def svd_jvp(t, u, s, vh, a, full_matrices=True):
    """(dU, ds, dVh) for the tangent t of A."""
    a = _real(a, "np.linalg.svd")
    if u is None:
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        return (None, _diagonal(_mT(u) @ t @ _mT(vh)), None)
    _svd_shapes(a, u, vh, full_matrices)
    v = _mT(vh)
    p = _mT(u) @ t @ v
    f = eigen_gaps(s * s, "np.linalg.svd", "singular values")
    s_row, s_col = s[..., None, :], s[..., :, None]
    du = u @ (f * (p * s_row + s_col * _mT(p))) + (t @ v - u @ p) / _nonzero(s_row)
    dv = v @ (f * (s_col * p + _mT(p) * s_row)) + (_mT(t) @ u - v @ _mT(p)) / _nonzero(s_row)
    return du, _diagonal(p), _mT(dv)


# --- QR (reduced): A = Q R, R upper triangular -------------------------------------------------------
@differentiable_source
def _tall(a, name="np.linalg.qr"):
    m, n = a.shape[-2:]
    if m < n:
        raise Undefined(f"{name}: srcgrad differentiates the QR decomposition of a matrix with at "
                        f"least as many rows as columns (this one is {m} x {n})")
    return a


@differentiable_source
def qr_adjoint(gq, gr, q, r, a):
    a = _tall(_real(a, "np.linalg.qr"))
    m = 0.0
    if gr is not None:
        m = r @ _mT(gr)
    if gq is not None:
        m = m - _mT(gq) @ q
    m = np.tril(m) + _mT(np.tril(m, -1))          # copy the lower triangle to the upper
    b = q @ m if gq is None else gq + q @ m
    return _mT(np.linalg.solve(r, _mT(b)))        # B R^-T


def qr_jvp(t, q, r, a):
    a = _tall(_real(a, "np.linalg.qr"))
    x = _mT(np.linalg.solve(_mT(r), _mT(_mT(q) @ t)))   # Q^T dA R^-1
    low = np.tril(x, -1)
    omega = low - _mT(low)
    dq = q @ omega + (t - q @ (_mT(q) @ t)) @ np.linalg.inv(r)
    dr = _mT(q) @ t - omega @ r
    return dq, dr


# --- pseudo-inverse and least squares (the rank of A stays what it is) ---------------------------------
@differentiable_source
def pinv_adjoint(g, p, a):
    """dA for d(A+) = -A+ dA A+ + A+ A+^T dA^T (I - A A+) + (I - A+ A) dA^T A+^T A+."""
    p = _real(p, "np.linalg.pinv")
    gt, pt = _mT(g), _mT(p)
    return -(pt @ g @ pt) + (gt - a @ (p @ gt)) @ (p @ pt) + (pt @ p) @ (gt - gt @ p @ a)


def pinv_jvp(t, p, a):
    p = _real(p, "np.linalg.pinv")
    tt = _mT(t)
    return -(p @ t @ p) + p @ _mT(p) @ (tt - tt @ a @ p) + (tt - p @ (a @ tt)) @ _mT(p) @ p


@differentiable_source
def lstsq_adjoint(gx, gres, gs, x, res, a, b, which):
    """The adjoint of a (which 0) or of b (which 1) for x = A+ b, the residuals |b - A x|^2
    (x is optimal, so they move with b - A x only) and the singular values s of A."""
    x = _real(x, "np.linalg.lstsq")
    vector = b.ndim == 1
    b2, x2 = (b[:, None], x[:, None]) if vector else (b, x)
    total = 0.0
    if gx is not None:
        gx2 = gx[:, None] if vector else gx
        p = np.linalg.pinv(a)
        total = pinv_adjoint(gx2 @ _mT(b2), p, a) if which == 0 else _mT(p) @ gx2
    if gres is not None and np.size(res):
        ge = 2.0 * (b2 - a @ x2) * np.reshape(gres, (1, -1))
        total = total - ge @ _mT(x2) if which == 0 else total + ge
    if gs is not None and which == 0:
        u, _, vh = np.linalg.svd(a, full_matrices=False)
        total = total + u @ _diag(gs) @ vh
    if which == 1 and vector and np.ndim(total) == 2:
        total = total[:, 0]
    return total


def lstsq_jvp(ta, tb, x, res, a, b):
    x = _real(x, "np.linalg.lstsq")
    p = np.linalg.pinv(a)
    vector = b.ndim == 1
    b2, x2 = (b[:, None], x[:, None]) if vector else (b, x)
    tx = (pinv_jvp(ta, p, a) @ b2 if ta is not None else 0.0) + (p @ (tb[:, None] if vector else tb) if tb is not None else 0.0)
    tres = np.zeros_like(res)
    if np.size(res):
        e = b2 - a @ x2
        de = ((tb[:, None] if vector else tb) if tb is not None else 0.0) - (ta @ x2 if ta is not None else 0.0)
        tres = 2.0 * np.sum(e * de, axis=0)
    ts = np.zeros(min(np.shape(a)))
    if ta is not None:
        u, _, vh = np.linalg.svd(a, full_matrices=False)
        ts = _diagonal(_mT(u) @ ta @ _mT(vh))
    return (tx[:, 0] if vector else tx), tres, 0.0, ts


# --- integer powers: A^n = A A ... A, (A^-1)^|n| for n < 0 ---------------------------------------------
@differentiable_source
def matrix_power_adjoint(g, a, n):
    """The sum over k of (A^T)^k G (A^T)^(n-1-k); through A^-1 for n < 0."""
    a = _real(a, "np.linalg.matrix_power")
    base = a if n >= 0 else np.linalg.inv(a)
    total = g * 0.0
    left = _mT(np.linalg.matrix_power(base, 0))
    for k in range(abs(n)):
        total = total + left @ g @ _mT(np.linalg.matrix_power(base, abs(n) - 1 - k))
        left = left @ _mT(base)
    if n < 0:
        total = -(_mT(base) @ total @ _mT(base))
    return total


def matrix_power_jvp(t, a, n):
    a = _real(a, "np.linalg.matrix_power")
    base, tangent = (a, t) if n >= 0 else (np.linalg.inv(a), -(np.linalg.inv(a) @ t @ np.linalg.inv(a)))
    total = np.zeros(np.broadcast_shapes(np.shape(a), np.shape(t)), dtype=np.result_type(a, t))
    for k in range(abs(n)):
        total = total + np.linalg.matrix_power(base, k) @ tangent @ np.linalg.matrix_power(base, abs(n) - 1 - k)
    return total


def sum_tangents(*terms):
    """The tangents of a function's several outputs, summed over its arguments' terms."""
    return tuple(sum(parts) for parts in zip(*terms))


# --- np.split and its kin: each output a piece of the one input ----------------------------------------
def split_adjoint(gs, pieces, axis):
    """The pieces' adjoints joined along `axis` (zeros for a piece without one)."""
    return np.concatenate([np.zeros_like(p, dtype=np.result_type(p, 1.0)) if g is None else
                           np.broadcast_to(g, np.shape(p)) for g, p in zip(gs, pieces)], axis)
