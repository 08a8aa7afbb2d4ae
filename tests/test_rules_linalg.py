"""Tests of the linear-algebra rules of srcgrad/rules.py.

Products of every rank NumPy allows (dot, matmul/@, inner, outer, vdot, tensordot,
einsum), with respect to both operands, and the matrix functions (trace, diag, inv,
solve, det, slogdet), against central finite differences.  A random weight on the
result makes the adjoint reaching each rule a full, non-constant array.

Both modes: reverse-mode tests are marked `@reverse(function, ...)`; the forward-mode cases
(`@case(function, *args)`, checked by test_rule_jvp against central differences along random
directions) are at the end of the file.  See tests/README.md.
"""
import numpy as np
import pytest
from support import RuleTests, check, check_jvp, line_of, uniform

import srcgrad
from srcgrad import rules
from srcgrad import linalg_adjoints
from srcgrad.linalg_adjoints import eigen_gaps, split_adjoint

RULE_TESTS = RuleTests()         # this family's rules: forward cases, reverse tests
# NumPy 2.5 and later give np.linalg.eig's eigenvalues as complex numbers even where they are
# real: srcgrad refuses them there (test_eig_complex_eigenvalues_are_refused)
EIG_REAL = np.linalg.eig(np.eye(2))[0].dtype.kind == "f"
real_eig = pytest.mark.skipif(not EIG_REAL, reason="np.linalg.eig gives complex eigenvalues")
case, reverse = RULE_TESTS.case, RULE_TESTS.reverse


def rand(shape, lo=-1.0, hi=1.0, seed=0):
    return np.random.default_rng(seed).uniform(lo, hi, size=shape)


def well_conditioned(n, seed=0, batch=()):
    """A random n x n matrix (or a batch of them) comfortably far from singular."""
    return rand(batch + (n, n), seed=seed) + 3.0 * np.eye(n)


def ids(shapes):
    return "@".join("x".join(map(str, s)) or "0d" for s in shapes)


def weighted(fn, *example):
    """sum(w * fn(...)) with a fixed random weight the shape of fn's result."""
    w = rand(np.shape(fn(*example)), 0.5, 1.5, seed=99)

    def f(a, b):
        return np.sum(w * fn(a, b))
    return f


# --- dot ----------------------------------------------------------------------------

DOT_SHAPES = [
    ((), ()), ((), (4,)), ((4,), ()), ((), (3, 4)), ((3, 4), ()),
    ((4,), (4,)), ((4,), (4, 3)), ((3, 4), (4,)), ((3, 4), (4, 5)),
    ((2, 3, 4), (4,)), ((2, 3, 4), (4, 5)), ((4,), (2, 4, 5)), ((3, 4), (2, 4, 5)),
    ((2, 3, 4), (2, 4, 5)), ((1, 3), (3, 1)),
]


@reverse(np.dot)
@pytest.mark.parametrize("sa,sb", DOT_SHAPES, ids=[ids(s) for s in DOT_SHAPES])
def test_dot(sa, sb):
    a, b = rand(sa, seed=1), rand(sb, seed=2)
    w = rand(np.shape(np.dot(a, b)), 0.5, 1.5, seed=3)

    def f(a, b):
        return np.sum(w * np.dot(a, b))
    check(f, a, b, wrt=(0, 1))


METHOD_SHAPES = [s for s in DOT_SHAPES if s[0] != ()]   # a Python float has no .dot


@pytest.mark.parametrize("sa,sb", METHOD_SHAPES, ids=[ids(s) for s in METHOD_SHAPES])
def test_dot_method(sa, sb):
    a, b = rand(sa, seed=4), rand(sb, seed=5)
    w = rand(np.shape(np.dot(a, b)), 0.5, 1.5, seed=6)

    def f(a, b):
        return np.sum(w * a.dot(b))
    check(f, a, b, wrt=(0, 1))


def test_dot_python_float_operand():
    def f(s, x):
        return np.sum(np.dot(s, x) ** 2)
    x = rand((4,), seed=1)
    ds, dx = check(f, 0.7, x, wrt=(0, 1))
    assert isinstance(ds, float)
    np.testing.assert_allclose(ds, 2 * 0.7 * np.sum(x * x))


def test_dot_summed_seed():
    """The adjoint of np.sum reaching dot is a scalar standing for an array."""
    def f(A, v):
        return np.sum(np.dot(A, v))
    A, v = rand((3, 4), seed=1), rand((4,), seed=2)
    dA, dv = check(f, A, v, wrt=(0, 1))
    np.testing.assert_allclose(dA, np.broadcast_to(v, (3, 4)))
    np.testing.assert_allclose(dv, np.sum(A, axis=0))


# --- matmul / @ ----------------------------------------------------------------------

MATMUL_SHAPES = [
    ((4,), (4,)), ((4,), (4, 3)), ((3, 4), (4,)), ((3, 4), (4, 5)),
    ((2, 3, 4), (2, 4, 5)), ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)),
    ((2, 3, 4), (4,)), ((4,), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)),
    ((1, 3, 4), (2, 4, 5)), ((2, 3, 4), (1, 4, 5)),
]


@reverse(np.matmul)
@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=[ids(s) for s in MATMUL_SHAPES])
def test_matmul_operator(sa, sb):
    a, b = rand(sa, seed=1), rand(sb, seed=2)
    w = rand(np.shape(a @ b), 0.5, 1.5, seed=3)

    def f(a, b):
        return np.sum(w * (a @ b))
    check(f, a, b, wrt=(0, 1))


@reverse(np.matmul)
@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=[ids(s) for s in MATMUL_SHAPES])
def test_matmul_function_summed(sa, sb):
    def f(a, b):
        return np.sum(np.matmul(a, b))
    check(f, rand(sa, seed=4), rand(sb, seed=5), wrt=(0, 1))


def test_matmul_closed_form():
    def f(A, B):
        return np.sum(A @ B)
    A, B = rand((3, 4), seed=1), rand((4, 2), seed=2)
    dA, dB = srcgrad.grad(f, wrt=(0, 1))(A, B)
    np.testing.assert_allclose(dA, np.ones((3, 2)) @ B.T)
    np.testing.assert_allclose(dB, A.T @ np.ones((3, 2)))


def test_matmul_chain_and_quadratic_form():
    def f(x, A, B):
        y = np.tanh(A @ x)
        return y @ B @ y + x @ x
    x, A, B = rand((4,), seed=1), rand((3, 4), seed=2), rand((3, 3), seed=3)
    dx, dA, dB = check(f, x, A, B, wrt=(0, 1, 2))
    np.testing.assert_allclose(dB, np.outer(np.tanh(A @ x), np.tanh(A @ x)))


def test_matmul_same_matrix_twice():
    def f(A):
        return np.trace(A @ A @ A)
    A = rand((3, 3), seed=4)
    np.testing.assert_allclose(check(f, A), 3 * (A @ A).T)


def test_two_layer_network():
    def f(W1, b1, W2, X, y):
        h = np.maximum(X @ W1 + b1, 0.0)
        out = h @ W2
        return np.mean((out - y) ** 2)
    rng = np.random.default_rng(0)
    W1, b1, W2 = rng.normal(size=(3, 5)), rng.normal(size=5), rng.normal(size=(5,))
    X, y = rng.normal(size=(7, 3)), rng.normal(size=7)
    check(f, W1, b1, W2, X, y, wrt=(0, 1, 2))


# --- outer, inner, vdot ------------------------------------------------------------

OUTER_SHAPES = [((3,), (4,)), ((2, 3), (4,)), ((3,), (2, 2)), ((), (3,)), ((2, 2), (3, 1))]


@reverse(np.outer)
@pytest.mark.parametrize("sa,sb", OUTER_SHAPES, ids=[ids(s) for s in OUTER_SHAPES])
def test_outer(sa, sb):
    a, b = rand(sa, seed=1), rand(sb, seed=2)
    check(weighted(np.outer, a, b), a, b, wrt=(0, 1))


INNER_SHAPES = [((4,), (4,)), ((3, 4), (4,)), ((4,), (3, 4)), ((3, 4), (2, 4)),
                ((2, 3, 4), (5, 4)), ((), (3,)), ((3, 2), ())]


@reverse(np.inner)
@pytest.mark.parametrize("sa,sb", INNER_SHAPES, ids=[ids(s) for s in INNER_SHAPES])
def test_inner(sa, sb):
    a, b = rand(sa, seed=3), rand(sb, seed=4)
    check(weighted(np.inner, a, b), a, b, wrt=(0, 1))


VDOT_SHAPES = [((4,), (4,)), ((2, 3), (2, 3)), ((2, 3), (6,)), ((6,), (3, 2))]


@reverse(np.vdot)
@pytest.mark.parametrize("sa,sb", VDOT_SHAPES, ids=[ids(s) for s in VDOT_SHAPES])
def test_vdot(sa, sb):
    a, b = rand(sa, seed=5), rand(sb, seed=6)

    def f(a, b):
        return np.vdot(a, b) ** 2
    da, db = check(f, a, b, wrt=(0, 1))
    np.testing.assert_allclose(da, 2 * np.vdot(a, b) * b.reshape(np.shape(a)))


# --- tensordot ---------------------------------------------------------------------

TENSORDOT = [
    ((3, 4), (4, 5), 1),
    ((2, 3, 4), (3, 4, 5), 2),
    ((2, 3), (2, 3), 2),
    ((3,), (4,), 0),
    ((2, 3), (4,), 0),
    ((2, 3, 4), (4, 3), ([1, 2], [1, 0])),
    ((2, 3, 4), (5, 2), (0, 1)),
    ((3, 4, 5), (5, 3, 2), ([0, 2], [1, 0])),
    ((3, 4), (4, 3), ([0, 1], [1, 0])),
    ((2, 3, 4), (4, 2, 3), ([-1, 0], [0, -2])),
]


@reverse(np.tensordot)
@pytest.mark.parametrize("sa,sb,axes", TENSORDOT,
                         ids=[f"{ids((a, b))}-{ax}" for a, b, ax in TENSORDOT])
def test_tensordot(sa, sb, axes):
    a, b = rand(sa, seed=1), rand(sb, seed=2)
    w = rand(np.shape(np.tensordot(a, b, axes)), 0.5, 1.5, seed=3)

    def f(a, b):
        return np.sum(w * np.tensordot(a, b, axes=axes))
    check(f, a, b, wrt=(0, 1))


def test_tensordot_literal_axes():
    def f(a, b):
        return np.sum(np.tensordot(a, b, axes=([1, 0], [0, 2])) ** 2) + np.sum(np.tensordot(a, b, 1) ** 2)
    check(f, rand((3, 2), seed=1), rand((2, 4, 3), seed=2), wrt=(0, 1))


def test_tensordot_default_axes():
    def f(a, b):
        return np.sum(np.tensordot(a, b))
    a, b = rand((2, 3, 4), seed=1), rand((3, 4), seed=2)
    da, db = check(f, a, b, wrt=(0, 1))
    np.testing.assert_allclose(db, np.sum(a, axis=0))
    np.testing.assert_allclose(da, np.broadcast_to(b, (2, 3, 4)))


# --- einsum -------------------------------------------------------------------------

EINSUM = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("i,i->", [(4,), (4,)]),
    ("ii->", [(4, 4)]),
    ("ii->i", [(3, 3)]),
    ("ij->", [(3, 4)]),
    ("ij->ji", [(3, 4)]),
    ("ij->j", [(3, 4)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,...jk->...ik", [(3, 4), (2, 4, 5)]),
    ("ij,jk", [(3, 4), (4, 5)]),
    ("ij,ij->ij", [(3, 4), (3, 4)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ij,i->j", [(3, 4), (3,)]),
    ("ij,kj->ik", [(3, 4), (2, 4)]),
    ("i,i,i->", [(4,), (4,), (4,)]),
    ("ij,j", [(3, 4), (4,)]),
    ("ii,i->i", [(3, 3), (3,)]),
    ("ijk->kji", [(2, 3, 4)]),
    ("i...->...", [(3, 2, 2)]),
    ("...ij,...jk->...ik", [(1, 3, 4), (2, 4, 5)]),
    ("...i,...i->...", [(2, 1, 3), (4, 3)]),
    ("ij, jk -> ik", [(3, 4), (4, 2)]),
]


@reverse(np.einsum)
@pytest.mark.parametrize("spec,shapes", EINSUM, ids=[f"{s}-{i}" for i, (s, _) in enumerate(EINSUM)])
def test_einsum(spec, shapes):
    ops = [rand(s, seed=i + 1) for i, s in enumerate(shapes)]
    w = rand(np.shape(np.einsum(spec, *ops)), 0.5, 1.5, seed=9)
    wrt = tuple(range(len(ops)))
    if len(ops) == 1:
        def f(a):
            return np.sum(w * np.einsum(spec, a))
    elif len(ops) == 2:
        def f(a, b):
            return np.sum(w * np.einsum(spec, a, b))
    else:
        def f(a, b, c):
            return np.sum(w * np.einsum(spec, a, b, c))
    check(f, *ops, wrt=wrt if len(wrt) > 1 else 0)


def test_einsum_literal_and_closed_forms():
    def f(A, B, v):
        return np.einsum("ii->", A) + np.einsum("ij,jk->", A, B) + np.einsum("i,i->", v, v)
    A, B, v = rand((3, 3), seed=1), rand((3, 2), seed=2), rand((3,), seed=3)
    dA, dB, dv = check(f, A, B, v, wrt=(0, 1, 2))
    np.testing.assert_allclose(dA, np.eye(3) + np.ones((3, 2)) @ B.T)
    np.testing.assert_allclose(dv, 2 * v)


def test_einsum_same_operand_twice():
    def f(x):
        return np.einsum("ij,ij->", x, x)
    x = rand((3, 4), seed=4)
    np.testing.assert_allclose(check(f, x), 2 * x)


def test_einsum_only_second_operand_differentiated():
    def f(A, x):
        return np.sum(np.einsum("ij,j->i", A, x) ** 2)
    A, x = rand((3, 4), seed=1), rand((4,), seed=2)
    np.testing.assert_allclose(check(f, A, x, wrt=1), 2 * A.T @ (A @ x))


# --- trace and diag -----------------------------------------------------------------

@reverse(np.trace)
@pytest.mark.parametrize("shape,offset", [((4, 4), 0), ((4, 4), 1), ((4, 4), -2),
                                          ((3, 5), 2), ((5, 3), -1), ((3, 5), 7)])
def test_trace(shape, offset):
    def f(A):
        return np.trace(A, offset=offset) * 3.0 + np.trace(A * A, offset)
    A = rand(shape, seed=1)
    got = check(f, A)
    mask = np.eye(*shape, k=offset)
    np.testing.assert_allclose(got, 3.0 * mask + 2 * A * mask)


def test_trace_3d_axes():
    def f(A):
        return np.sum(np.trace(A, 0, 1, 2) * np.array([1.0, 2.0])) + np.sum(np.trace(A, axis1=2, axis2=0) ** 2)
    check(f, rand((2, 3, 2), seed=2))


def test_trace_method():
    def f(A):
        return A.trace() + A.T.trace(1)
    A = rand((3, 3), seed=3)
    np.testing.assert_allclose(check(f, A), np.eye(3) + np.eye(3, k=-1))


@reverse(np.diag)
@pytest.mark.parametrize("n,k", [(3, 0), (3, 1), (3, -2), (1, 0)])
def test_diag_vector_to_matrix(n, k):
    w = rand((n + abs(k), n + abs(k)), 0.5, 1.5, seed=1)

    def f(v):
        return np.sum(w * np.diag(v, k))
    v = rand((n,), seed=2)
    np.testing.assert_allclose(check(f, v), np.diag(w, k))


@reverse(np.diag)
@pytest.mark.parametrize("shape,k", [((4, 4), 0), ((4, 4), 1), ((4, 4), -1), ((3, 5), 0),
                                     ((3, 5), 2), ((5, 3), -3)])
def test_diag_matrix_to_vector(shape, k):
    def f(A):
        d = np.diag(A, k=k)
        return np.sum(d * d * np.arange(1.0, 1.0 + np.size(d)))
    A = rand(shape, seed=3)
    got = check(f, A)
    d = np.diag(A, k)
    expected = np.zeros(shape)
    rows, cols = np.nonzero(np.eye(*shape, k=k))
    expected[rows, cols] = 2 * d * np.arange(1.0, 1.0 + d.size)
    np.testing.assert_allclose(got, expected)


def test_diag_round_trip():
    def f(A):
        return np.sum(np.diag(np.diag(A)) @ A)
    check(f, rand((3, 3), seed=4))


# --- inv, solve, det, slogdet ----------------------------------------------------------

@reverse(np.linalg.inv)
def test_inv():
    A = well_conditioned(4, seed=1)
    w = rand((4, 4), seed=2)

    def f(A):
        return np.sum(w * np.linalg.inv(A))
    got = check(f, A)
    Ai = np.linalg.inv(A)
    np.testing.assert_allclose(got, -Ai.T @ w @ Ai.T)


def test_inv_batched():
    def f(A):
        return np.sum(np.linalg.inv(A) ** 2)
    check(f, well_conditioned(3, seed=3, batch=(2,)))


def test_inv_summed_seed():
    def f(A):
        return np.sum(np.linalg.inv(A))
    check(f, well_conditioned(3, seed=4))


@reverse(np.linalg.solve)
@pytest.mark.parametrize("bshape", [(4,), (4, 2), (4, 1)], ids=["b4", "b4x2", "b4x1"])
def test_solve(bshape):
    A, b = well_conditioned(4, seed=1), rand(bshape, seed=2)
    w = rand(bshape, 0.5, 1.5, seed=3)

    def f(A, b):
        return np.sum(w * np.linalg.solve(A, b))
    dA, db = check(f, A, b, wrt=(0, 1))
    np.testing.assert_allclose(db, np.linalg.solve(A.T, w))


def test_solve_batched():
    A, b = well_conditioned(3, seed=4, batch=(2,)), rand((2, 3, 2), seed=5)

    def f(A, b):
        return np.sum(np.linalg.solve(A, b) ** 2)
    check(f, A, b, wrt=(0, 1))


def test_solve_broadcast_matrix_over_batch():
    A, b = well_conditioned(3, seed=8), rand((2, 3, 2), seed=9)

    def f(A, b):
        return np.sum(np.linalg.solve(A, b) * np.arange(12.0).reshape(2, 3, 2))
    check(f, A, b, wrt=(0, 1))


def test_solve_batched_matrix_vector_b():
    A, b = well_conditioned(3, seed=10, batch=(2,)), rand((3,), seed=11)

    def f(A, b):
        return np.sum(np.linalg.solve(A, b) * np.arange(6.0).reshape(2, 3))
    check(f, A, b, wrt=(0, 1))


def test_solve_only_b_and_only_a():
    A, b = well_conditioned(3, seed=6), rand((3,), seed=7)

    def f(A, b):
        x = np.linalg.solve(A, b)
        return x @ x
    check(f, A, b, wrt=0)
    check(f, A, b, wrt=1)


@reverse(np.linalg.det)
def test_det():
    A = well_conditioned(3, seed=1)

    def f(A):
        return np.linalg.det(A)
    got = check(f, A)
    np.testing.assert_allclose(got, np.linalg.det(A) * np.linalg.inv(A).T)


def test_det_batched_and_weighted():
    def f(A):
        return np.sum(np.linalg.det(A) * np.array([1.0, -2.0]))
    check(f, rand((2, 3, 3), seed=2) + 2 * np.eye(3))


def test_det_of_product():
    def f(A, B):
        return np.linalg.det(A @ B) ** 2
    check(f, well_conditioned(3, seed=3), well_conditioned(3, seed=4), wrt=(0, 1))


@reverse(np.linalg.slogdet)
def test_slogdet():
    def f(A):
        sign, logdet = np.linalg.slogdet(A)
        return logdet
    A = well_conditioned(4, seed=5)
    got = check(f, A)
    np.testing.assert_allclose(got, np.linalg.inv(A).T)


def test_slogdet_negative_determinant_and_sign_unused():
    A = well_conditioned(3, seed=6)
    A[[0, 1]] = A[[1, 0]]           # a row swap: det < 0

    def f(A):
        sign, logdet = np.linalg.slogdet(A)
        return 2.0 * logdet + np.sum(A * A)
    assert np.linalg.det(A) < 0
    check(f, A)


def test_slogdet_batched():
    def f(A):
        s, ld = np.linalg.slogdet(A)
        return np.sum(ld * np.array([1.0, 3.0]))
    check(f, well_conditioned(3, seed=7, batch=(2,)))


def test_sign_times_exp_logdet_is_det():
    def f(A):
        sign, logdet = np.linalg.slogdet(A)
        return sign * np.exp(logdet)
    A = well_conditioned(3, seed=8)
    np.testing.assert_allclose(check(f, A), np.linalg.det(A) * np.linalg.inv(A).T)


# --- transposes ----------------------------------------------------------------------

def test_transpose_attribute_in_products():
    def f(X, w):
        return np.sum((X.T @ X) * w) + np.sum(X.T * np.arange(3.0))
    X, w = rand((3, 4), seed=1), rand((4, 4), seed=2)
    check(f, X, w, wrt=(0, 1))


def test_gram_matrix_closed_form():
    def f(X):
        return np.sum(X @ X.T)
    X = rand((3, 4), seed=3)
    np.testing.assert_allclose(check(f, X), 2 * np.ones((3, 3)) @ X)


def adjoint_part(source):
    """The backward half of generated source (after the first blank line), no comments."""
    lines = source.split("\n\n", 1)[1].splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("#"))


def test_source_matmul_gradient_is_inline():
    """For 2-D operands the matmul rule is one `@` with a transpose."""
    def f(A, B):
        return np.sum(np.tanh(A @ B))
    src = adjoint_part(srcgrad.grad(f, wrt=(0, 1)).source)
    assert "@ B.T" in src and "A.T @" in src
    check(f, rand((3, 4), seed=1), rand((4, 2), seed=2), wrt=(0, 1))


def test_source_inv_reuses_forward_inverse():
    def f(A):
        return np.sum(np.linalg.inv(A) * np.arange(9.0).reshape(3, 3))
    src = adjoint_part(srcgrad.grad(f).source)
    assert "np.linalg.inv(" not in src and "inv_A" in src
    check(f, well_conditioned(3, seed=1))


def test_source_slogdet_sign_gets_no_adjoint():
    def f(A):
        sign, logdet = np.linalg.slogdet(A)
        return logdet * 2.0
    src = adjoint_part(srcgrad.grad(f).source)
    assert "dsign" not in src
    check(f, well_conditioned(3, seed=2))


# --- factorizations and functions with several outputs ----------------------------------------
# Losses of eigen- and singular vectors are chosen unchanged by the sign LAPACK picks for each
# vector (v ** 2, u_j vh_j), so finite differences see a smooth function.

def spd(n, seed=0, batch=()):
    """A symmetric positive definite matrix (or a batch), with well separated eigenvalues."""
    a = rand(batch + (n, n), seed=seed)
    return a @ np.swapaxes(a, -1, -2) + np.diag(np.arange(1.0, n + 1)) * n


def tall(shape, seed=0):
    """A random matrix of full rank whose singular values are apart."""
    a = rand(shape, seed=seed)
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return (u * np.linspace(1.0, 2.0, s.shape[-1])[::-1]) @ vh


def float32_matches(f, x, rtol=2e-3, atol=2e-4):
    """grad(f) at x in float32: float32, close to the float64 finite differences."""
    got = srcgrad.grad(f)(x.astype(np.float32))
    assert got.dtype == np.float32, got.dtype
    want = srcgrad.check.numerical_gradient(f, (x.astype(np.float32).astype(np.float64),), 0)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


@reverse(np.linalg.cholesky)
@pytest.mark.parametrize("batch", [(), (2,)], ids=["one", "batch"])
def test_cholesky(batch):
    w = rand(batch + (3, 3), 0.5, 1.5, seed=3)

    def f(a):
        return np.sum(w * np.linalg.cholesky(a))
    a = spd(3, seed=1, batch=batch)
    got = check(f, a)
    assert np.all(np.triu(got, 1) == 0)     # numpy reads the lower triangle only
    check(f, a + np.triu(rand(a.shape, seed=2), 1))     # whatever the upper one holds
    float32_matches(f, a)


def test_cholesky_logdet_closed_form():
    def f(a):
        return 2.0 * np.sum(np.log(np.linalg.cholesky(a) * np.eye(3) + (1.0 - np.eye(3))))  # log det a
    a = spd(3, seed=4)
    inv = np.linalg.inv(a)
    np.testing.assert_allclose(check(f, a), np.tril(2.0 * inv) - np.diag(np.diag(inv)), rtol=1e-8)


@reverse(np.linalg.eigh)
@pytest.mark.parametrize("uplo", ["L", "U"])
@pytest.mark.parametrize("batch", [(), (2,)], ids=["one", "batch"])
def test_eigh(uplo, batch):
    a = spd(4, seed=5, batch=batch) + rand(batch + (4, 4), seed=6) * 0.3   # not symmetric
    ww, wv = rand(batch + (4,), seed=7), rand(batch + (4, 4), seed=8)

    def f(a):
        w, v = np.linalg.eigh(a, UPLO=uplo)
        return np.sum(ww * w) + np.sum(wv * v ** 2)
    got = check(f, a, rtol=1e-4)
    read = np.triu if uplo == "U" else np.tril
    np.testing.assert_array_equal(got, read(got))
    float32_matches(f, a, rtol=5e-3, atol=1e-3)


def test_eigh_held_in_one_name_and_indexed_directly():
    a, wv = spd(3, seed=9), rand((3, 3), seed=10)

    def held(a):
        r = np.linalg.eigh(a)
        return np.sum(r[1] ** 2 * wv) + r[0][2]

    def direct(a):
        return np.sum(np.linalg.eigh(a)[0] ** 3)
    check(held, a, rtol=1e-4)
    check(direct, a)
    assert "eigh_adjoint(deigh_a_0, None," in srcgrad.grad(direct).source   # no vectors' adjoint


def test_results_read_by_their_names():
    """NumPy's names for the outputs (`r.eigenvalues`, `.S`, `.R`) are those outputs."""
    a, w = spd(3, seed=57), rand((3, 3), seed=58)

    def f(a):
        r = np.linalg.eigh(a)
        return (np.sum(r.eigenvalues ** 2) + np.sum(w * r.eigenvectors ** 2)
                + np.sum(np.linalg.svd(a).S) + np.sum(np.linalg.qr(a).R ** 2))
    check(f, a, rtol=1e-4)
    check_jvp(f, a)


def test_eigh_repeated_eigenvalues():
    """The eigenvalues alone differentiate where two are equal; the vectors raise, naming the
    function and the line."""
    a = np.diag([1.0, 2.0, 2.0])

    def values(a):
        w, v = np.linalg.eigh(a)
        return np.sum(w ** 2)

    def vectors(a):
        w, v = np.linalg.eigh(a)
        return np.sum(v ** 3)
    np.testing.assert_allclose(srcgrad.grad(values)(a), np.tril(2.0 * a))
    with pytest.raises(srcgrad.UndefinedGradientError, match=r"np\.linalg\.eigh: two eigenvalues are equal") as e:
        srcgrad.grad(vectors)(a)
    assert f":{line_of(vectors, 'np.linalg.eigh')}" in str(e.value)


@reverse(np.linalg.eig)
@real_eig
def test_eig_real_eigenvalues():
    a = spd(4, seed=11) + 0.3 * rand((4, 4), seed=12)     # not symmetric, real eigenvalues
    assert np.linalg.eig(a)[0].dtype == np.float64
    ww, wv = rand((4,), seed=13), rand((4, 4), seed=14)

    def f(a):
        w, v = np.linalg.eig(a)
        return np.sum(ww * w ** 2) + np.sum(wv * v ** 2) + np.max(w)
    check(f, a, rtol=1e-4)


def test_eig_complex_eigenvalues_are_refused():
    def f(a):
        w, v = np.linalg.eig(a)
        return np.sum(w * w)
    a = np.array([[0.0, -1.0], [1.0, 0.0]])            # a rotation: eigenvalues +-i
    with pytest.raises(srcgrad.UndefinedGradientError, match="the eigenvalues are complex"):
        srcgrad.grad(f)(a)
    with pytest.raises(srcgrad.UndefinedGradientError, match="the eigenvalues are complex"):
        srcgrad.jvp(f, (a,), (np.ones((2, 2)),))
    if not EIG_REAL:                 # real eigenvalues as complex numbers: refused too
        with pytest.raises(srcgrad.UndefinedGradientError, match="NumPy gives the eigenvalues as complex"):
            srcgrad.grad(f)(np.diag([1.0, 2.0]))


def test_complex_matrices_are_refused_by_the_adjoints():
    """The adjoints are those of real matrices: a complex one (a complex intermediate) raises."""
    a = spd(3, seed=68) + 1j * rand((3, 3), seed=69)
    w, v = np.linalg.eigh(a)
    u, s, vh = np.linalg.svd(a)
    q, r = np.linalg.qr(a)
    calls = [("eigh", lambda: linalg_adjoints.eigh_adjoint(w, None, w, v)),
             ("svd", lambda: linalg_adjoints.svd_adjoint(None, s, None, u, s, vh, a)),
             ("qr", lambda: linalg_adjoints.qr_adjoint(None, r, q, r, a)),
             ("cholesky", lambda: linalg_adjoints.cholesky_jvp(a, np.linalg.cholesky(a))),
             ("pinv", lambda: linalg_adjoints.pinv_jvp(a, np.linalg.pinv(a), a)),
             ("matrix_power", lambda: linalg_adjoints.matrix_power_adjoint(a, a, 2))]
    for name, call in calls:
        with pytest.raises(srcgrad.runtime.Undefined, match=f"np.linalg.{name}: .* real matrices only"):
            call()


def test_float32_factorizations():
    """float32 in, float32 out, close to float64 finite differences."""
    a, s, w43 = tall((4, 3), seed=60), spd(3, seed=61), rand((4, 3), seed=62)

    def eig(a):
        w, v = np.linalg.eig(a)
        return np.sum(w ** 2) + np.sum(v[0] ** 2)

    def vectors(a):
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        q, r = np.linalg.qr(a)
        return np.sum(w43 * u ** 2) + np.sum(vh ** 4) + np.sum(w43 * q) + np.sum(r ** 2)

    def pinv_lstsq_split(a):
        x, residuals, rank, sv = np.linalg.lstsq(a, w43[:, 0])
        p, q = np.split(a, [1])
        return np.sum(np.linalg.pinv(a) ** 2) + np.sum(x ** 2) + np.sum(residuals) + np.sum(p * q[0])
    if EIG_REAL:
        float32_matches(eig, s + 0.2 * w43[:3])
    float32_matches(vectors, a, rtol=5e-3, atol=1e-3)
    float32_matches(pinv_lstsq_split, a)

    def svd(a):
        return np.linalg.svd(a, full_matrices=False)
    value, tangent = srcgrad.jvp(svd, (a.astype(np.float32),), (w43.astype(np.float32),))
    want = [(p - m) / 2e-6 for p, m in zip(svd(a + 1e-6 * w43), svd(a - 1e-6 * w43))]
    assert [t.dtype for t in tangent] == [np.float32] * 3
    for got, expected in zip(tangent, want):
        np.testing.assert_allclose(got, expected, rtol=5e-3, atol=1e-3)


def test_refused_calls():
    """Unpacked into the wrong number of names, hermitian=True: said at the line."""
    def unpack(a):
        w, v, extra = np.linalg.eigh(a)
        return np.sum(w)

    def hermitian(a):
        return np.sum(np.linalg.pinv(a, hermitian=True))
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match="gives 2 values, unpacked into 3 names") as e:
        srcgrad.grad(unpack)(spd(3))
    assert f":{line_of(unpack, 'np.linalg.eigh')}" in str(e.value)
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match="supports only `hermitian=False`"):
        srcgrad.grad(hermitian)(spd(3))


@reverse(np.linalg.svd)
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 3), (3, 3)], ids=lambda s: "x".join(map(str, s)))
def test_svd_reduced(shape):
    a = tall(shape, seed=15)
    k = min(shape[-2:])
    ws, wu = rand(shape[:-2] + (k,), seed=16), rand(shape, seed=17)

    def f(a):
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        return np.sum(ws * s) + np.sum(wu * ((u * s[..., None, :]) @ vh) ** 2) + np.sum(u[..., 0, :] * vh[..., :, 0])
    check(f, a, rtol=1e-4)


def test_svd_values_only_square_full_and_held():
    a, w = tall((4, 3), seed=18), rand((3, 3), seed=19)

    def values(a):
        return np.sum(np.linalg.svd(a, compute_uv=False) ** 2)      # |a|_F ^ 2

    def square_full(a):
        r = np.linalg.svd(a)
        return np.sum(w * (r[0] * r[1]) @ r[2]) + np.sum(r[0][0] * r[2][:, 0])
    np.testing.assert_allclose(check(values, a), 2.0 * a, rtol=1e-7)
    check(square_full, a[:3], rtol=1e-4)
    float32_matches(values, a)


def test_svd_refusals():
    """Nonsquare full_matrices=True vectors and equal singular values: UndefinedGradientError."""
    def full(a):
        u, s, vh = np.linalg.svd(a)
        return np.sum(u ** 3)

    def vectors(a):
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        return np.sum(u ** 3)

    def values(a):
        u, s, vh = np.linalg.svd(a)
        return np.sum(s)
    with pytest.raises(srcgrad.UndefinedGradientError, match="full_matrices=False"):
        srcgrad.grad(full)(tall((4, 3), seed=20))
    np.testing.assert_allclose(srcgrad.grad(values)(np.eye(3)[:, :2] * 2.0), np.eye(3)[:, :2])
    with pytest.raises(srcgrad.UndefinedGradientError, match="two singular values are equal"):
        srcgrad.grad(vectors)(np.eye(3)[:, :2] * 2.0)


@reverse(np.linalg.qr)
@pytest.mark.parametrize("shape", [(5, 3), (3, 3), (2, 4, 3)], ids=lambda s: "x".join(map(str, s)))
def test_qr(shape):
    a, wq, wr = rand(shape, seed=21), rand(shape, seed=22), rand(shape[:-2] + (shape[-1],) * 2, seed=23)

    def f(a):
        q, r = np.linalg.qr(a)
        return np.sum(wq * q) + np.sum(wr * r)
    check(f, a, rtol=1e-4)


def test_qr_refusals():
    def f(a):
        q, r = np.linalg.qr(a)
        return np.sum(r)

    def raw(a):
        h, tau = np.linalg.qr(a, mode="raw")
        return np.sum(h)
    with pytest.raises(srcgrad.UndefinedGradientError, match="at least as many rows as columns"):
        srcgrad.grad(f)(rand((2, 3), seed=24))
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match="supports only `mode='reduced'`"):
        srcgrad.grad(raw)(rand((3, 2), seed=24))


@reverse(np.linalg.pinv)
@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (2, 3, 3)], ids=lambda s: "x".join(map(str, s)))
def test_pinv(shape):
    w = rand(shape[:-2] + shape[:-3:-1], seed=25)

    def f(a):
        return np.sum(w * np.linalg.pinv(a))
    check(f, tall(shape, seed=26), rtol=1e-4)


@reverse(np.linalg.lstsq)
@pytest.mark.parametrize("shape,bshape", [((5, 3), (5,)), ((5, 3), (5, 2)), ((3, 4), (3,))],
                         ids=["over", "over-2rhs", "under"])
def test_lstsq(shape, bshape):
    a, b = tall(shape, seed=27), rand(bshape, seed=28)
    wx = rand(shape[-1:] + bshape[1:], seed=29)

    def f(a, b):
        x, residuals, rank, s = np.linalg.lstsq(a, b)
        return np.sum(wx * x) + np.sum(residuals) * 2.0 + np.sum(s ** 2) + rank
    dA, db = check(f, a, b, wrt=(0, 1), rtol=1e-4)
    if bshape == (5,):
        np.testing.assert_allclose(db, np.linalg.pinv(a).T @ wx + 4.0 * (b - a @ np.linalg.lstsq(a, b)[0]),
                                   rtol=1e-8)


@reverse(np.split, np.array_split, np.hsplit, np.vsplit, np.dsplit)
def test_split_family():
    x = rand((4, 6, 2), seed=30)
    w = rand((4, 6, 2), seed=31)

    def f(x):
        a, b = np.split(x, 2)
        c, d, e = np.array_split(x, 3, axis=1)              # pieces of 2, 2, 2 columns
        p, q = np.hsplit(x, [1])
        r = np.vsplit(x, [1, 3])
        s, t = np.dsplit(x, 2)
        return (np.sum(w[:2] * a) + np.sum(np.sin(d)) + np.sum(q ** 2) + np.sum(r[2] * r[0][0])
                + np.sum(t * np.exp(s)))
    check(f, x)

    def uneven(x):
        pieces = np.array_split(x, 4)                        # 2, 2, 1, 1 rows of 6
        return np.sum(pieces[0] ** 2) + np.sum(pieces[3] * 3.0)
    check(uneven, rand((6, 2), seed=32))


def test_split_needs_its_count_when_read():
    """The number of pieces: known when the code is read, or that of the names unpacked into."""
    def f(x, n):
        pieces = np.split(x, n)
        return np.sum(pieces[0])

    def unpacked(x, n):
        a, b = np.split(x, n)
        return np.sum(a * b)
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match="number of results of np.split") as e:
        srcgrad.grad(f)(rand((4,), seed=33), 2)
    assert f":{line_of(f, 'np.split')}" in str(e.value)
    x = rand((4,), seed=34)
    np.testing.assert_allclose(check(unpacked, x, 2), np.roll(x, 2))


def hessian_matches(f, x, rtol=1e-6, atol=1e-7):
    """srcgrad.hessian(f) (forward mode over the gradient, through the adjoint helpers' own
    code) against central differences of srcgrad's gradient."""
    g, eps = srcgrad.grad(f), 1e-5
    want = np.zeros(x.shape + x.shape)
    for k in np.ndindex(*x.shape):
        step = np.zeros(x.shape)
        step[k] = eps
        want[(...,) + k] = (g(x + step) - g(x - step)) / (2 * eps)
    np.testing.assert_allclose(srcgrad.hessian(f)(x), want, rtol=rtol, atol=atol)


def test_second_derivatives():
    a, b = tall((4, 3), seed=50), rand((4,), seed=51)
    s, w43, w33 = spd(3, seed=52), rand((4, 3), seed=53), rand((3, 3), seed=54)

    def cholesky(a):
        return np.sum(w33 * np.linalg.cholesky(a))

    def eigh(a):
        w, v = np.linalg.eigh(a)
        return np.sum(w ** 3) + np.sum(w33 * v ** 2)

    def eig(a):
        w, v = np.linalg.eig(a)
        return np.sum(w ** 3) + np.sum(w33 * v ** 2)

    def svd(a):
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        return np.sum(s ** 3) + np.sum(w43 * u ** 2) + np.sum(vh[:, 0] * u[0]) + np.sum(np.linalg.svd(a, compute_uv=False))

    def qr(a):
        q, r = np.linalg.qr(a)
        return np.sum(w43 * q) + np.sum(r ** 3)

    def pinv_lstsq(a):
        x, residuals, rank, sv = np.linalg.lstsq(a, b)
        return np.sum(w43.T * np.linalg.pinv(a) ** 2) + np.sum(x ** 3) + np.sum(residuals) + np.sum(sv ** 3)

    def split(a):
        p, q = np.split(a, 2)
        return np.sum(p ** 3) * np.sum(q)
    for f, x in [(cholesky, s), (eigh, s), (eig, s + 0.2 * w33), (svd, a), (qr, a), (pinv_lstsq, a), (split, a)]:
        if f is not eig or EIG_REAL:
            hessian_matches(f, x)


@reverse(eigen_gaps, split_adjoint)
def test_gradient_of_gradient():
    """grad(grad(f)) of a scalar moving a matrix: reverse over reverse, through the helpers'
    code and the reverse rules of eigen_gaps and split_adjoint."""
    s, w = spd(3, seed=66), rand((3, 3), seed=67)

    def eigh(t):
        e, v = np.linalg.eigh(s + t * w)
        return np.sum(e ** 3) + np.sum(w * v ** 2)

    def svd_split(t):
        u, sv, vh = np.linalg.svd(s + t * w)
        p, q = np.split(s * t, [1])
        return np.sum(sv ** 3) + np.sum(w * u ** 2) + np.sum(p ** 3) * np.sum(q)

    def cholesky(t):
        return np.sum(w * np.linalg.cholesky(s + t * w @ w.T))
    for f in (eigh, svd_split, cholesky):
        g = srcgrad.grad(f)
        want = (g(0.3 + 1e-5) - g(0.3 - 1e-5)) / 2e-5
        np.testing.assert_allclose(srcgrad.grad(g)(0.3), want, rtol=1e-6)


@reverse(np.linalg.matrix_power)
@pytest.mark.parametrize("n", [0, 1, 3, -2])
def test_matrix_power(n):
    w = rand((2, 3, 3), seed=63)

    def f(a):
        return np.sum(w * np.linalg.matrix_power(a, n))
    a = 0.3 * rand((2, 3, 3), seed=64) + 2.0 * np.eye(3)
    got = check(f, a)
    if n == 0:
        assert np.all(got == 0.0)
    if n == 3:
        hessian_matches(lambda a: np.sum(w[0] * np.linalg.matrix_power(a, 3)), a[0])


def test_stacks_of_matrices():
    """det, inv, solve and slogdet on a stack of matrices, slogdet indexed directly."""
    a, b = well_conditioned(3, seed=34, batch=(2, 2)), rand((2, 2, 3, 2), seed=35)

    def f(a, b):
        return (np.sum(np.linalg.det(a) ** 2) + np.sum(np.linalg.inv(a) ** 2)
                + np.sum(np.linalg.solve(a, b) ** 2) + np.sum(np.linalg.slogdet(a)[1] * np.arange(4.0).reshape(2, 2)))
    check(f, a, b, wrt=(0, 1))


# ==============================================================================================
# Forward mode: each rule of the family on a case of its own (`@case(function, *args)`),
# against central differences along random directions (support.check_jvp).
# ==============================================================================================

# --- linear algebra -------------------------------------------------------------------------
@case(np.matmul, uniform((3, 4), seed=13), uniform((4, 2), seed=14))
def matmul_2d(a, b):
    return a @ b, np.matmul(a, b[:, 0]), a[0] @ b, a @ a.T


@case(np.matmul, uniform((2, 3, 4), seed=15), uniform((4, 5), seed=16))
def matmul_batched(a, b):
    return a @ b


@case(np.dot, uniform((3, 4), seed=17), uniform((4,), seed=18))
def dots(a, b):
    return np.dot(a, b), a.dot(b), np.dot(b, b), np.dot(2.0, b), np.dot(a, a.T)


@case(np.outer, uniform((3,), seed=19), uniform((4,), seed=20))
@case(np.inner, uniform((3,), seed=19), uniform((4,), seed=20))
@case(np.vdot, uniform((3,), seed=19), uniform((4,), seed=20))
def products(a, b):
    return np.outer(a, b), np.inner(a, a), np.vdot(b, b)


@case(np.tensordot, uniform((2, 3, 4), seed=21), uniform((3, 4, 5), seed=22))
def tensordots(a, b):
    return np.tensordot(a, b), np.tensordot(a, b, axes=([1], [0]))


@case(np.einsum, uniform((3, 4), seed=23), uniform((4, 5), seed=24))
def einsums(a, b):
    return np.einsum("ij,jk->ik", a, b), np.einsum("ij,ij->i", a, a), np.einsum("ii", a[:, :3])


@case(np.trace, uniform((3, 4), seed=25))
def traces(a):
    return np.trace(a), np.trace(a, 1), a.trace()


@case(np.diag, uniform((3, 4), seed=26), uniform((3,), seed=27))
def diags(a, v):
    return np.diag(a), np.diag(v), np.diag(v, 1)


@case(rules.np.linalg.inv, well_conditioned(3, seed=28))
@case(rules.np.linalg.inv, well_conditioned(3, seed=29, batch=(2,)))
def inverse(a):
    return np.linalg.inv(a)


@case(rules.np.linalg.solve, well_conditioned(3, seed=30), uniform((3,), seed=31))
@case(rules.np.linalg.solve, well_conditioned(3, seed=30), uniform((3, 2), seed=31))
@case(rules.np.linalg.solve, well_conditioned(3, seed=30, batch=(2,)), uniform((2, 3, 2), seed=31))
def solve(a, b):
    return np.linalg.solve(a, b)


@case(rules.np.linalg.det, well_conditioned(3, seed=32))
@case(rules.np.linalg.det, well_conditioned(2, seed=33, batch=(3,)))
def determinant(a):
    return np.linalg.det(a)


@case(rules.np.linalg.slogdet, well_conditioned(3, seed=34))
def log_determinant(a):
    sign, logdet = np.linalg.slogdet(a)
    return logdet * sign


@case(rules.np.linalg.slogdet, well_conditioned(3, seed=35, batch=(2,)))
def log_determinant_indexed(a):
    return np.linalg.slogdet(a)[1]


@case(rules.np.linalg.cholesky, spd(3, seed=36, batch=(2,)))
def cholesky(a):
    return np.linalg.cholesky(a)


@case(rules.np.linalg.eigh, spd(3, seed=37, batch=(2,)))
def eigh(a):
    w, v = np.linalg.eigh(a)
    r = np.linalg.eigh(a, UPLO="U")
    return w, v ** 2, r[1][..., 0, :] * r[1][..., 1, :], np.linalg.eigh(a)[0]


@case(rules.np.linalg.eig, spd(3, seed=38) + 0.2 * rand((3, 3), seed=39))
def eig(a):
    w, v = np.linalg.eig(a)
    return w, v ** 2


@case(rules.np.linalg.svd, tall((4, 3), seed=40))
@case(rules.np.linalg.svd, tall((2, 2, 3), seed=41))
def svd(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return s, u[..., 0, :] * vh[..., :, 0], u ** 2, vh ** 2, np.linalg.svd(a, compute_uv=False)


@case(rules.np.linalg.qr, rand((4, 3), seed=42))
def qr(a):
    q, r = np.linalg.qr(a)
    return q, r


@case(rules.np.linalg.pinv, tall((4, 3), seed=43))
def pinv(a):
    return np.linalg.pinv(a)


@case(rules.np.linalg.lstsq, tall((5, 3), seed=44), rand((5,), seed=45))
def lstsq(a, b):
    x, residuals, rank, s = np.linalg.lstsq(a, b)
    return x, residuals, s


@case(np.split, rand((4, 6), seed=46))
@case(np.array_split, rand((4, 6), seed=46))
@case(np.hsplit, rand((4, 6), seed=46))
@case(np.vsplit, rand((4, 6), seed=46))
def splits(x):
    a, b = np.split(x, 2)
    c, d, e = np.array_split(x, [1, 2], axis=1)
    p, q = np.hsplit(x, 2)
    r = np.vsplit(x, [3])
    return a, d * e[:, :1], q, r[1]


@case(np.dsplit, rand((2, 3, 4), seed=47))
def dsplit(x):
    a, b = np.dsplit(x, [1])
    return a * 2.0, b


@case(rules.np.linalg.matrix_power, 0.3 * rand((3, 3), seed=65) + 2.0 * np.eye(3))
def matrix_powers(a):
    return np.linalg.matrix_power(a, 3), np.linalg.matrix_power(a, -2), np.linalg.matrix_power(a, 0)


# --- the helpers' own forward rules (reached by hessians) ----------------------------------------
@case(eigen_gaps, np.array([1.0, 2.5, -0.5, 4.0]))
def gaps(w):
    return eigen_gaps(w, "np.linalg.eigh", "eigenvalues")


@case(split_adjoint, rand((2, 3), seed=55), rand((1, 3), seed=56))
def joined(g0, g2):
    return split_adjoint((g0, None, g2), (g0, np.zeros((2, 3)), g2), 0)


@pytest.mark.parametrize("key,f,args", RULE_TESTS.cases, ids=RULE_TESTS.case_ids())
def test_rule_jvp(key, f, args):
    if key is np.linalg.eig and not EIG_REAL:
        pytest.skip("np.linalg.eig gives complex eigenvalues")
    check_jvp(f, *args)
