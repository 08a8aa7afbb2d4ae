"""if / elif / else, conditional expressions, and/or values, early returns: the gradient of
the path the call actually took."""
import numpy as np
import pytest
from support import check

import srcgrad

RNG = np.random.default_rng(3)


def piecewise(x, a):
    y = x * 2.0
    if np.sum(x) > 0:
        y = y * a + np.sin(x)
    elif np.sum(x) > -1.0:
        y = y - a
    else:
        z = np.exp(x)
        y = z * a
    return np.sum(y ** 2)


@pytest.mark.parametrize("shift", [2.0, -0.1, -3.0])      # each branch taken
def test_if_elif_else_each_path(shift):
    x = RNG.uniform(-0.5, 0.5, size=4) + shift / 4
    check(piecewise, x, 1.7, wrt=(0, 1))


def test_value_assigned_in_one_branch_only():
    def f(x, flag):
        y = np.tanh(x)
        if flag:
            y = y * x
        return np.sum(y)
    x = RNG.normal(size=3)
    check(f, x, True)
    check(f, x, False)


def test_nested_branches_and_conditions_on_int_parameters():
    def f(x, n):
        s = x
        if n > 1:
            if n > 2 and np.max(x) < 10:
                s = s * s
            else:
                s = s * 3.0
        return np.sum(s)
    for n in (1, 2, 3):
        check(f, RNG.normal(size=3), n)


def test_comparison_chains_and_not():
    def f(x, a):
        if 0 < a < 1 and not a > 0.9:
            return np.sum(x * a)
        return np.sum(x / a)
    check(f, RNG.normal(size=3), 0.5, wrt=(0, 1))
    check(f, RNG.normal(size=3), 2.0, wrt=(0, 1))


def test_conditional_expression():
    def f(x, a):
        y = np.sin(x) if a > 0 else np.cos(x) * a
        return np.sum(y * x)
    check(f, RNG.normal(size=3), 1.5, wrt=(0, 1))
    check(f, RNG.normal(size=3), -1.5, wrt=(0, 1))


def test_and_or_as_values():
    def f(a, b):
        c = (a > 0 and b) or a * a
        return c * b
    check(f, 0.7, 1.3, wrt=(0, 1))
    check(f, -0.7, 1.3, wrt=(0, 1))


def test_early_and_multiple_returns():
    def f(x, k):
        if k == 0:
            return np.sum(x)
        y = x * x
        if k == 1:
            return np.sum(y)
        y = np.exp(y)
        return np.mean(y)
    for k in (0, 1, 2):
        check(f, RNG.normal(size=3), k)


def test_adjoint_paths_in_the_generated_source():
    def f(x, c):
        if c:
            y = np.sin(x)
        else:
            y = x * 2.0
        return np.sum(y)
    source = srcgrad.grad(f).source
    assert "    if c:" in source and "    else:" in source
    check(f, RNG.normal(size=3), True)
    check(f, RNG.normal(size=3), False)


def test_gradient_contributed_on_one_path_is_zero_on_the_other():
    def f(x, w, c):
        y = x * 1.0
        if c:
            y = y + w * w
        return np.sum(y)
    x, w = RNG.normal(size=3), RNG.normal(size=3)
    dw_false = srcgrad.grad(f, wrt=1)(x, w, False)
    assert dw_false.shape == (3,) and not dw_false.any()
    np.testing.assert_allclose(srcgrad.grad(f, wrt=1)(x, w, True), 2 * w)


def test_a_branch_with_no_return_on_some_path_is_reported():
    def f(x):
        if np.sum(x) > 0:
            return np.sum(x)
    with pytest.raises(srcgrad.NonScalarResultError) as info:
        srcgrad.grad(f)(np.ones(2))
    assert "every path" in str(info.value)


def test_branch_on_an_array_truth_value_is_a_runtime_error_with_the_line():
    def f(x):
        if x > 0:                 # ambiguous for arrays, as in plain Python
            return np.sum(x)
        return np.sum(-x)
    with pytest.raises(srcgrad.GradientRuntimeError) as info:
        srcgrad.grad(f)(np.ones(2))
    assert info.value.lineno == f.__code__.co_firstlineno + 1


def test_a_comprehension_in_a_condition_keeps_its_own_variable():
    def f(x):
        k = 3.0
        if sum([k for k in range(2)]) > 0.5:      # this k is the comprehension's
            return np.sum(x * k)
        return np.sum(x)
    np.testing.assert_array_equal(srcgrad.grad(f)(np.ones(2)), [3.0, 3.0])
