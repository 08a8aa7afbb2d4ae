"""Corners of the straight-line language where a wrong gradient would be easy to return."""
import numpy as np
import pytest
from support import check

import srcgrad
from srcgrad.rules import mT  # noqa: F401  (a template macro used by a rule below)

RNG = np.random.default_rng(7)


def test_returning_a_parameter_itself():
    def ident(x):
        return x
    assert srcgrad.grad(ident)(3.0) == 1.0


def test_constant_result_has_zero_gradient():
    def const(x):
        return 0.0
    d = srcgrad.grad(const)(np.ones(3))
    np.testing.assert_array_equal(d, np.zeros(3))


def test_keyword_only_and_var_args_signature():
    def f(x, *rest, scale=2.0, **options):
        return scale * np.sum(x ** 2)
    g = srcgrad.grad(f, wrt=("x", "scale"))
    dx, dscale = g(np.array([1.0, 2.0]), 10, 11, scale=3.0, verbose=True)
    np.testing.assert_allclose(dx, [6.0, 12.0])
    assert dscale == pytest.approx(5.0)


def test_float_builtin_passes_the_gradient():
    def f(x):
        s = float(np.sum(x ** 2))
        return s * 3.0
    check(f, RNG.normal(size=3))


@pytest.mark.parametrize("relu", ["where", "maximum"])
def test_relu_forms(relu):
    def f_where(x, W):
        h = W @ x
        return np.sum(np.where(h > 0, h, 0.0) ** 2)

    def f_maximum(x, W):
        h = W @ x
        return np.sum(np.maximum(h, 0.0) ** 2)
    f = f_where if relu == "where" else f_maximum
    check(f, RNG.normal(size=4), RNG.normal(size=(5, 4)), wrt=(0, 1))
    assert "unbroadcast" not in srcgrad.grad(f).source.split("h = W @ x")[1].split("# ")[0]


def test_axis_given_by_a_variable():
    def f(x, k, keep):
        return np.sum(np.max(x, axis=k, keepdims=keep) ** 2) + np.sum(np.mean(x, k))
    x = RNG.normal(size=(3, 4))
    for k in (0, 1):
        for keep in (False, True):
            check(f, x, k, keep)


def test_same_value_used_many_times_and_reassigned():
    def f(x):
        y = x * x
        y = y * x + y
        z = np.dot(y, y) + np.dot(x, y)
        return z / np.sum(y)
    check(f, RNG.uniform(0.5, 1.5, size=5))


def test_scalar_stand_in_meets_broadcasting():
    def f(x, b):
        m = np.mean(x)                 # scalar
        c = x - m                      # broadcast of a 0-d value
        d = c + b                      # b broadcast along rows
        return np.sum(d) + np.sum(c * c)
    check(f, RNG.normal(size=(3, 4)), RNG.normal(size=(4,)), wrt=(0, 1))
    check(f, RNG.normal(size=(3, 4)), RNG.normal(size=(3, 1)), wrt=(0, 1))
    check(f, RNG.normal(size=(3, 4)), 0.7, wrt=(0, 1))


def test_partial_stand_in_meets_broadcasting():
    def f(x, b):
        s = np.sum(x, axis=0)          # adjoint reaching x is a (1, m) stand-in
        t = s + b                      # b: (k, m) — s is broadcast against it
        return np.sum(t)
    check(f, RNG.normal(size=(3, 4)), RNG.normal(size=(2, 4)), wrt=(0, 1))


def test_python_scalars_throughout():
    def f(a, b):
        c = a * b + a / b - b ** a
        return c * c
    check(f, 1.3, 0.7, wrt=(0, 1))
    da, db = srcgrad.grad(f, wrt=(0, 1))(1.3, 0.7)
    assert isinstance(da, float) and isinstance(db, float)


def test_integer_argument_is_not_differentiated_but_used():
    def f(x, n):
        return np.sum(x ** n) / n
    check(f, RNG.uniform(0.5, 1.5, size=3), 3)


def test_bitwise_masks_carry_no_gradient_and_shifts_are_refused():
    def f(x):
        mask = (x > 0) & (x < 1)
        return np.sum(x * mask)
    np.testing.assert_array_equal(srcgrad.grad(f)(np.array([-1.0, 0.5, 2.0])), [0.0, 1.0, 0.0])

    def g(x):
        return np.sum(x << 1)
    with pytest.raises(srcgrad.UnsupportedSyntaxError):
        srcgrad.grad(g)(np.arange(3))


def test_rule_with_numpy_inside_a_macro_argument():
    from srcgrad import rules

    def det_loss(a):
        return np.linalg.det(a)
    saved = rules.RULES[np.linalg.det]
    rules.RULES[np.linalg.det] = rules.Rule(
        np.linalg.det, "np.linalg.det",
        lambda g, ans, a: np.expand_dims(g * ans, (-1, -2)) * mT(np.linalg.inv(a)), "vjp")
    try:
        a = np.array([[2.0, 0.5], [0.3, 1.0]])
        check(det_loss, a)
    finally:
        rules.RULES[np.linalg.det] = saved
