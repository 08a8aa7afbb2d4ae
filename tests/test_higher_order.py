"""Derivatives of derivatives: grad(grad(f)) differentiates the generated gradient's source,
through branches, loops (whose tape is a list built at run time) and recursion."""
import numpy as np
import pytest
from support import numerical_gradient

import srcgrad

RNG = np.random.default_rng(21)


def cubic(x):
    return x ** 3 + np.sin(x)


def branchy(x):
    if x > 0.5:
        y = np.exp(x) * x
    else:
        y = np.sin(x) ** 2
    return y * 2.0


def loopy(x, n):
    s = x
    for i in range(n):
        s = np.tanh(s * 1.3) + x * 0.5
    return s


def while_loop(x):
    s, k = x, 0
    while k < 3 and s < 10.0:
        s = s * s + 0.5
        k += 1
    return s


def two_params(x, y):
    return x ** 2 * y + np.sin(x * y)


def on_arrays(a, X, w):
    return np.sum(np.tanh(a * (X @ w)) ** 2)


def rpow(u, k):
    return u if k <= 1 else u * rpow(u * 0.9, k - 1)


def recursive(x, n):
    return np.sum(rpow(x, n))


def test_second_and_third_derivative_of_a_polynomial_are_exact():
    d2 = srcgrad.grad(srcgrad.grad(cubic))
    d3 = srcgrad.grad(d2)
    assert d2(0.7) == pytest.approx(6 * 0.7 - np.sin(0.7), rel=1e-12)
    assert d3(0.7) == pytest.approx(6 - np.cos(0.7), rel=1e-12)
    assert srcgrad.grad(d3)(0.7) == pytest.approx(np.sin(0.7), rel=1e-12)


@pytest.mark.parametrize("x", [0.7, 0.2])
def test_through_a_branch(x):
    g = srcgrad.grad(branchy)
    gg = srcgrad.grad(g)
    assert gg(x) == pytest.approx(numerical_gradient(g, (x,)), rel=1e-7)
    ggg = srcgrad.grad(gg)
    assert ggg(x) == pytest.approx(numerical_gradient(gg, (x,)), rel=1e-6)


@pytest.mark.parametrize("n", [0, 1, 4])
def test_through_a_loop(n):
    g = srcgrad.grad(loopy)
    gg = srcgrad.grad(g)
    assert gg(0.4, n) == pytest.approx(numerical_gradient(g, (0.4, n)), rel=1e-7, abs=1e-9)
    assert "list_pop" in gg.source            # the first gradient's tape, replayed


@pytest.mark.parametrize("x", [0.3, 1.5, 4.0])
def test_through_a_data_dependent_while_loop(x):
    g = srcgrad.grad(while_loop)
    assert srcgrad.grad(g)(x) == pytest.approx(numerical_gradient(g, (x,)), rel=1e-7)


def test_mixed_second_derivatives():
    x, y = 0.3, 1.7
    d_dx = srcgrad.grad(two_params, wrt="x")
    dxy = srcgrad.grad(d_dx, wrt="y")(x, y)
    want = 2 * x + np.cos(x * y) - x * y * np.sin(x * y)
    assert dxy == pytest.approx(want, rel=1e-12)


def test_gradient_of_a_scalar_derivative_with_respect_to_an_array():
    X, w = RNG.normal(size=(5, 3)), RNG.normal(size=3)
    d_da = srcgrad.grad(on_arrays)                 # a scalar: d/da
    got = srcgrad.grad(d_da, wrt="w")(0.7, X, w)
    np.testing.assert_allclose(got, numerical_gradient(d_da, (0.7, X, w), 2), rtol=1e-6)
    assert srcgrad.grad(d_da)(0.7, X, w) == pytest.approx(numerical_gradient(d_da, (0.7, X, w)), rel=1e-6)


def test_a_second_derivative_through_recursion_is_refused_loudly():
    # the first gradient calls a backward closure, which is not code srcgrad can read
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match="computed function"):
        srcgrad.grad(srcgrad.grad(recursive))(0.8, 3)


def test_grad_of_an_array_gradient_points_to_hessian():
    with pytest.raises(srcgrad.NonScalarResultError):
        srcgrad.grad(srcgrad.grad(on_arrays, wrt="w"), wrt="w")(0.7, np.ones((2, 3)), np.ones(3))


def test_grad_of_value_and_grad_is_refused_with_a_hint():
    with pytest.raises(srcgrad.SrcgradError, match="one argument, without its value"):
        srcgrad.grad(srcgrad.value_and_grad(cubic))
