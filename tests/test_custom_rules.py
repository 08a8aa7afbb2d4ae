"""Custom reverse rules (custom_vjp, register_vjp), stop_gradient and check_grad."""
import math

import numpy as np
import pytest
from support import check

import srcgrad
from srcgrad import GradientCheckError, SrcgradError
from srcgrad.check import numerical_gradient

RNG = np.random.default_rng(11)


@srcgrad.custom_vjp
def softplus(x):
    return np.log1p(np.exp(x))


@softplus.defvjp
def softplus_vjp(g, ans, x):
    return g / (1.0 + np.exp(-x))


def uses_softplus(x, w):
    return np.sum(softplus(x * w) ** 2)


def test_custom_vjp_rule_is_used_and_correct():
    x, w = RNG.normal(size=4), RNG.normal(size=4)
    dx, dw = check(uses_softplus, x, w, wrt=(0, 1))
    s = np.log1p(np.exp(x * w))
    np.testing.assert_allclose(dx, 2 * s * w / (1 + np.exp(-x * w)), rtol=1e-12)
    source = srcgrad.grad(uses_softplus).source
    assert "softplus(x * w)" in source                  # the function is called, not inlined
    assert "softplus_vjp(" in source                    # and its rule shows where it is used


@srcgrad.custom_vjp
def scaled_product(a, b, scale):
    return a * b * scale


@scaled_product.defvjp
def scaled_product_vjp(g, ans, a, b, scale):
    return g * b * scale, g * a * scale, None


def two_argument_rule(a, b):
    return np.sum(scaled_product(a, np.sin(b), 3.0))


def test_custom_rule_with_several_arguments_and_a_constant():
    a, b = RNG.normal(size=3), RNG.normal(size=3)
    da, db = check(two_argument_rule, a, b, wrt=(0, 1))
    np.testing.assert_allclose(db, 3.0 * a * np.cos(b), rtol=1e-12)


def clipped_identity(x):          # a "straight-through" function: the rule is not its derivative
    return np.clip(x, -1.0, 1.0)


def straight_through(x):
    return np.sum(clipped_identity(x) * 2.0)


def test_register_vjp_overrides_inlining_of_a_plain_python_function():
    srcgrad.register_vjp(clipped_identity, lambda g, ans, x: g)
    try:
        x = np.array([-3.0, 0.5, 2.0])
        np.testing.assert_array_equal(srcgrad.grad(straight_through)(x), [2.0, 2.0, 2.0])
    finally:
        srcgrad.custom.CUSTOM_VJP.pop(clipped_identity)


def uses_hypot(a, b):
    return np.sum(np.hypot(a, b))


def test_register_vjp_for_a_numpy_function_replaces_the_builtin_rule():
    calls = []

    def hypot_rule(g, ans, x1, x2):
        calls.append(1)
        return g * x1 / ans, g * x2 / ans

    srcgrad.register_vjp(np.hypot, hypot_rule)
    try:
        a, b = RNG.normal(size=3), RNG.normal(size=3)
        check(uses_hypot, a, b, wrt=(0, 1))
        assert calls and "hypot_rule(" in srcgrad.grad(uses_hypot).source
    finally:
        srcgrad.custom.CUSTOM_VJP.pop(np.hypot)


@srcgrad.custom_vjp
def no_rule(x):
    return x * 2.0


def uses_no_rule(x):
    return np.sum(no_rule(x))


def test_custom_vjp_without_a_rule_is_an_error_at_its_line():
    with pytest.raises(srcgrad.NoDerivativeRuleError) as info:
        srcgrad.grad(uses_no_rule)(np.ones(2))
    assert info.value.lineno == uses_no_rule.__code__.co_firstlineno + 1
    assert "defvjp" in info.value.hint


def test_custom_vjp_function_still_runs_as_itself():
    np.testing.assert_allclose(softplus(np.array([0.0])), [math.log(2.0)])
    assert softplus.__name__ == "softplus"


# --- stop_gradient ------------------------------------------------------------------------

def with_stop_gradient(x):
    baseline = srcgrad.stop_gradient(np.mean(x))
    return np.sum((x - baseline) ** 2)


def test_stop_gradient_blocks_the_gradient():
    x = RNG.normal(size=5)
    g = srcgrad.grad(with_stop_gradient)(x)
    np.testing.assert_allclose(g, 2 * (x - np.mean(x)), rtol=1e-12)
    assert srcgrad.stop_gradient(x) is x


# --- check_grad --------------------------------------------------------------------------

def loss(w, X, y):
    return np.mean((np.tanh(X @ w) - y) ** 2)


def test_check_grad_returns_the_largest_difference():
    w, X, y = RNG.normal(size=3), RNG.normal(size=(6, 3)), RNG.normal(size=6)
    worst = srcgrad.check_grad(loss, w, X, y)
    assert isinstance(worst, float) and 0.0 <= worst < 1e-8
    worst = srcgrad.check_grad(loss, w, X, y, wrt=("w", "X"))
    assert 0.0 <= worst < 1e-8


def params_loss(params, x):
    return np.sum(np.tanh(params["W"] @ x + params["b"]) ** 2)


def test_check_grad_on_a_parameter_dict():
    params = {"W": RNG.normal(size=(2, 3)), "b": RNG.normal(size=2)}
    assert srcgrad.check_grad(params_loss, params, RNG.normal(size=3)) < 1e-8


@srcgrad.custom_vjp
def cube(x):
    return x ** 3


@cube.defvjp
def cube_vjp_wrong(g, ans, x):
    return g * 3.0 * x           # deliberately wrong: should be 3 x^2


def uses_cube(a, x):
    return np.sum(a * cube(x))


def test_check_grad_catches_a_wrong_custom_rule():
    x = np.array([0.5, 2.0, 1.0])
    with pytest.raises(GradientCheckError) as info:
        srcgrad.check_grad(uses_cube, 1.0, x, wrt=1)
    err = info.value
    assert isinstance(err, AssertionError) and isinstance(err, SrcgradError)
    # the worst element is x[1] = 2: srcgrad gives 6, finite differences 12
    assert "with respect to x[1]" in str(err)
    assert "srcgrad gives 6, central finite differences 12" in str(err)


def test_check_grad_wants_the_plain_function():
    with pytest.raises(SrcgradError, match="not its srcgrad.grad"):
        srcgrad.check_grad(srcgrad.grad(loss), np.ones(3), np.ones((2, 3)), np.ones(2))


# --- numerical_gradient: the central differences check_grad, the CLI and the tests use ----

def test_numerical_gradient_of_a_scalar_function_by_position_and_by_name():
    x = np.array([[0.3, -1.2, 2.0], [0.5, 0.0, -0.7]])
    def f(a, b=2.0):
        return np.sum(np.sin(a) * b)
    g = numerical_gradient(f, (x,))
    assert g.shape == x.shape and g.dtype == np.float64
    np.testing.assert_allclose(g, 2.0 * np.cos(x), rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(numerical_gradient(f, (x,), "b", kwargs={"b": 2.0}), np.sum(np.sin(x)),
                               rtol=1e-8)
    assert numerical_gradient(lambda s: s ** 3, (1.5,)) == pytest.approx(3 * 1.5 ** 2, rel=1e-9)
    assert isinstance(x, np.ndarray) and x[0, 0] == 0.3         # the point is not moved


def test_numerical_gradient_of_a_fortran_ordered_array():
    """A transposed (Fortran-ordered) argument is moved too (it gave zeros: `reshape(-1)` of
    its float64 copy was a copy, not a view)."""
    x = np.asfortranarray(np.array([[0.3, -1.2, 2.0], [0.5, 0.1, -0.7]]))
    np.testing.assert_allclose(numerical_gradient(lambda a: np.sum(np.sin(a)), (x,)), np.cos(x), rtol=1e-8)


def test_numerical_gradient_is_exactly_the_central_difference():
    # eps = 0.25 on a cubic: (f(x+h) - f(x-h)) / 2h = 3x^2 + h^2, exact in binary
    assert numerical_gradient(lambda x: x ** 3, (1.0,), eps=0.25) == 3.0 + 0.0625
    # relative: the step is eps * max(1, |x|), 0.25 * 4 at x = 4
    assert numerical_gradient(lambda x: x ** 3, (4.0,), eps=0.25, relative=True) == 48.0 + 1.0
    assert numerical_gradient(lambda x: x ** 3, (0.5,), eps=0.25, relative=True) == 0.75 + 0.0625


def test_numerical_gradient_of_array_and_tuple_results_is_a_jacobian():
    A = RNG.normal(size=(2, 3))
    x = RNG.normal(size=3)
    J = numerical_gradient(lambda A, x: A @ x, (A, x), 1)
    assert J.shape == (2, 3)
    np.testing.assert_allclose(J, A, rtol=1e-8, atol=1e-9)
    dA = numerical_gradient(lambda A, x: A @ x, (A, x), 0)
    assert dA.shape == (2, 2, 3)                    # output shape + argument shape
    np.testing.assert_allclose(dA, np.einsum("ij,k->ijk", np.eye(2), x), atol=1e-9)
    first, second = numerical_gradient(lambda s: (s * x, s ** 2), (0.5,))
    np.testing.assert_allclose(first, x, rtol=1e-8)
    assert second.shape == () and second == pytest.approx(1.0, rel=1e-8)


def test_numerical_gradient_of_an_empty_argument():
    g = numerical_gradient(lambda a, b: np.sum(a) + b, (np.zeros((0, 3)), 1.0))
    assert g.shape == (0, 3)
