"""jacobian and hessian against closed forms and finite differences of the gradient."""
import numpy as np
import pytest
from support import numerical_gradient

import srcgrad

RNG = np.random.default_rng(31)
EPS = 1e-6


def fd_jacobian(f, x, *rest):
    return numerical_gradient(f, (x,) + rest, 0, EPS)


def quartic(x):
    return np.sum(np.tanh(x) ** 2) + x[0] * x[1] ** 2


def test_hessian_of_a_function_with_a_closed_form():
    x = np.array([0.3, -0.5, 0.8])
    t = np.tanh(x)
    want = np.diag(2 * (1 - t ** 2) * (1 - 3 * t ** 2))
    want[0, 1] += 2 * x[1]
    want[1, 0] += 2 * x[1]
    want[1, 1] += 2 * x[0]
    np.testing.assert_allclose(srcgrad.hessian(quartic)(x), want, atol=1e-12)


def looped(x, n):
    s = 0.0
    for i in range(n):
        s = s + np.sum(np.sin(x * (i + 1)) ** 2)
        if s > 2.0:
            break
    return s


@pytest.mark.parametrize("n", [1, 3, 6])
def test_hessian_through_a_loop_with_a_break(n):
    x = np.array([0.3, -0.5, 0.8])
    H = srcgrad.hessian(looped)(x, n)
    np.testing.assert_allclose(H, fd_jacobian(srcgrad.grad(looped), x, n), atol=1e-7)
    np.testing.assert_allclose(H, H.T, atol=1e-12)


def matrix_argument(W, v):
    return np.sum((W @ v) ** 3)


def test_hessian_of_a_matrix_argument_has_shape_x_shape_twice():
    W, v = RNG.normal(size=(2, 3)), RNG.normal(size=3)
    H = srcgrad.hessian(matrix_argument)(W, v)
    assert H.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(H, fd_jacobian(srcgrad.grad(matrix_argument), W, v), atol=1e-6)


def vector_function(x, A):
    return np.tanh(A @ x) * x[0]


def wide_function(x):
    return np.array([np.sum(x ** 2), np.prod(x[:2])])


def test_jacobian_of_a_vector_function():
    x, A = RNG.normal(size=3), RNG.normal(size=(4, 3))
    J = srcgrad.jacobian(vector_function)(x, A)
    assert J.shape == (4, 3)
    np.testing.assert_allclose(J, fd_jacobian(vector_function, x, A), atol=1e-8)


def test_jacobian_with_fewer_outputs_than_inputs():
    x = RNG.normal(size=5)
    J = srcgrad.jacobian(wide_function)(x)
    want = np.zeros((2, 5))
    want[0] = 2 * x
    want[1, :2] = [x[1], x[0]]
    np.testing.assert_allclose(J, want, atol=1e-12)


def matrix_valued(x):
    return np.outer(x, x) * 2.0


def test_jacobian_of_a_matrix_valued_function():
    x = RNG.normal(size=3)
    J = srcgrad.jacobian(matrix_valued)(x)
    assert J.shape == (3, 3, 3)
    np.testing.assert_allclose(J, fd_jacobian(matrix_valued, x), atol=1e-8)


def test_jacobian_by_name_and_of_a_scalar_function_is_the_gradient():
    x, A = RNG.normal(size=3), RNG.normal(size=(4, 3))
    np.testing.assert_allclose(srcgrad.jacobian(vector_function, wrt="A")(x, A),
                               fd_jacobian(lambda A_, x_: vector_function(x_, A_), A, x), atol=1e-8)
    np.testing.assert_allclose(srcgrad.jacobian(quartic)(x), srcgrad.grad(quartic)(x), atol=1e-14)


def test_jacobian_takes_one_parameter():
    with pytest.raises(srcgrad.SrcgradError, match="one parameter"):
        srcgrad.jacobian(vector_function, wrt=(0, 1))


def stacked_in_a_loop(x):
    hs = []
    for k in range(1, 4):
        hs.append(np.sin(x * k))
    return np.sum(np.stack(hs) ** 2)


def test_hessian_of_a_list_built_in_a_loop_is_refused_loudly():
    # neither composition follows the gradient's list adjoints yet: an error, not a number
    with pytest.raises(srcgrad.NoDerivativeRuleError, match="list_append_adjoint"):
        srcgrad.hessian(stacked_in_a_loop)(np.array([0.3, -0.5]))


def test_both_compositions_are_used(monkeypatch):
    from srcgrad import derivatives
    used = []
    for name in ("_by_rows", "_by_columns"):
        original = getattr(derivatives, name)
        monkeypatch.setattr(derivatives, name,
                            lambda *a, _o=original, _n=name, **k: used.append(_n) or _o(*a, **k))
    x, A = RNG.normal(size=3), RNG.normal(size=(4, 3))
    srcgrad.jacobian(vector_function)(x, A)            # 3 inputs, 4 outputs: columns
    srcgrad.jacobian(wide_function)(RNG.normal(size=5))  # 5 inputs, 2 outputs: rows
    srcgrad.hessian(quartic)(x)                          # forward over reverse
    assert used == ["_by_columns", "_by_rows", "_by_columns"]


def test_jacobian_of_a_lambda_by_rows():
    """A lambda's vjp function is named `vjp_lambda` (it was `vjp_<lambda>`: a SyntaxError)."""
    double = lambda x: x * 2.0 + np.sin(x)      # noqa: E731
    x = np.array([0.1, 0.5, 1.0])
    np.testing.assert_allclose(srcgrad.jacobian(double)(x), np.diag(2.0 + np.cos(x)), rtol=1e-12)
