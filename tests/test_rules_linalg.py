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
from support import RuleTests, check, check_jvp, uniform

import srcgrad
from srcgrad import rules

RULE_TESTS = RuleTests()         # this family's rules: forward cases, reverse tests
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


@pytest.mark.parametrize("key,f,args", RULE_TESTS.cases, ids=RULE_TESTS.case_ids())
def test_rule_jvp(key, f, args):
    check_jvp(f, *args)
