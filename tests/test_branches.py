"""if / elif / else, conditional expressions, and/or values, early returns: the gradient of
the path the call actually took."""
import numpy as np
import pytest
from support import check, note_location

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
    with pytest.raises(ValueError, match="truth value") as info:
        srcgrad.grad(f)(np.ones(2))
    assert note_location(info.value) == (__file__, f.__code__.co_firstlineno + 1)


def test_a_comprehension_in_a_condition_keeps_its_own_variable():
    def f(x):
        k = 3.0
        if sum([k for k in range(2)]) > 0.5:      # this k is the comprehension's
            return np.sum(x * k)
        return np.sum(x)
    np.testing.assert_array_equal(srcgrad.grad(f)(np.ones(2)), [3.0, 3.0])


# ==============================================================================================
# Issue #3, branches: if/elif/else (nested), conditions on data and on int parameters,
# and/or/not, comparison chains, `a if c else b`, early and multiple returns.
#
# The gradient must be the gradient of the path the call actually took.  Every function
# below is called with inputs that take each of its paths, and the branches compute
# different things, so a gradient of the wrong path cannot pass.  Each test also asserts
# which path its inputs take, so a test cannot silently exercise only one branch.
# ==============================================================================================

RNG2 = np.random.default_rng(3)

POSITIVE = np.array([0.9, -0.4, 1.3])      # sum  1.8
NEGATIVE = np.array([-0.8, 0.3, -1.2])     # sum -1.7


# --- if / else on data ---------------------------------------------------------------

def if_else_on_data(x):
    if np.sum(x) > 0:
        y = np.sin(x)
    else:
        y = x ** 3
    return np.sum(y * x)


@pytest.mark.parametrize("x,taken", [(POSITIVE, "if"), (NEGATIVE, "else")])
def test_if_else_on_data(x, taken):
    assert (np.sum(x) > 0) == (taken == "if")
    g = check(if_else_on_data, x)
    want = np.sin(x) + x * np.cos(x) if taken == "if" else 4 * x ** 3
    np.testing.assert_allclose(g, want, rtol=1e-12)


def if_without_else(x):
    y = x * 2.0
    if np.max(x) > 1.0:
        y = np.tanh(y)
    return np.sum(y ** 2)


@pytest.mark.parametrize("x,taken", [(POSITIVE, True), (NEGATIVE, False)])
def test_if_without_else(x, taken):
    assert (np.max(x) > 1.0) == taken
    check(if_without_else, x)


def test_same_gradient_function_follows_each_call_path():
    """One compiled gradient, called alternately on inputs that take different paths:
    nothing about the first call's path may be frozen into the cache."""
    g = srcgrad.grad(if_else_on_data)
    for x in (POSITIVE, NEGATIVE, POSITIVE, NEGATIVE):
        want = np.sin(x) + x * np.cos(x) if np.sum(x) > 0 else 4 * x ** 3
        np.testing.assert_allclose(g(x), want, rtol=1e-12)


def condition_on_computed_value(x, W):
    h = np.tanh(W @ x)
    if np.max(h) > 0.5:
        out = np.sum(h ** 2)
    else:
        out = np.sum(np.exp(h))
    return out


@pytest.mark.parametrize("scale,taken", [(2.0, True), (0.05, False)])
def test_condition_on_a_value_computed_in_the_function(scale, taken):
    x = np.array([0.5, -0.3, 0.8])
    W = scale * np.array([[0.6, 0.1, 0.4], [-0.2, 0.5, 0.3]])
    assert (np.max(np.tanh(W @ x)) > 0.5) == taken
    check(condition_on_computed_value, x, W, wrt=(0, 1))


def condition_on_data_argument(w, X):
    if np.mean(X) > 0:
        return np.sum((X @ w) ** 2)
    return np.sum(np.sin(X @ w))


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_condition_on_a_data_argument_that_is_not_differentiated(sign):
    X = sign * np.abs(RNG2.normal(size=(4, 3))) + 0.1 * sign
    w = RNG2.normal(size=3)
    check(condition_on_data_argument, w, X)


# --- elif chains, int and bool parameters --------------------------------------------

def elif_on_int(x, n):
    if n > 2:
        y = np.sin(x)
    elif n == 2:
        y = x * x
    elif n == 1:
        y = np.exp(x)
    else:
        y = 3.0 * x
    return np.sum(y)


@pytest.mark.parametrize("n,derivative", [
    (5, np.cos), (2, lambda x: 2 * x), (1, np.exp), (0, lambda x: np.full_like(x, 3.0))])
def test_elif_chain_on_int_parameter(n, derivative):
    x = RNG2.normal(size=4)
    np.testing.assert_allclose(srcgrad.grad(elif_on_int)(x, n), derivative(x), rtol=1e-12)


def elif_on_data(x):
    s = np.sum(x)
    if s > 1.0:
        return np.sum(x ** 2)
    elif s > -1.0:
        return np.sum(np.sin(x))
    else:
        return np.sum(np.cos(x))


@pytest.mark.parametrize("shift", [1.0, 0.0, -1.0])
def test_elif_chain_on_data(shift):
    x = np.array([0.2, -0.1, 0.3]) + shift      # sums 1.4, 0.4, -2.6
    check(elif_on_data, x)


def bool_and_none_parameters(x, b=None, squash=False):
    y = 2.0 * x
    if b is not None:
        y = y + b
    if squash:
        y = np.tanh(y)
    return np.sum(y * y)


@pytest.mark.parametrize("with_b", [False, True])
@pytest.mark.parametrize("squash", [False, True])
def test_condition_on_optional_and_bool_parameters(with_b, squash):
    x = RNG2.normal(size=3)
    b = RNG2.normal(size=3) if with_b else None
    check(bool_and_none_parameters, x, b, squash)
    if with_b:
        check(bool_and_none_parameters, x, b, squash, wrt=1)


def condition_on_scalar_parameter(x, a):
    if a > 0.5:
        return np.sum(x) * a ** 2
    return np.sum(x ** 2) * np.sin(a)


@pytest.mark.parametrize("a", [1.2, -0.3])
def test_condition_on_a_differentiated_scalar(a):
    check(condition_on_scalar_parameter, RNG2.normal(size=3), a, wrt=(0, 1))


# --- nested ifs ------------------------------------------------------------------------

def nested_if(x, n):
    y = x * 1.5
    if np.sum(x) > 0:
        if n > 1:
            y = y * y
        else:
            y = np.sin(y)
            if np.min(x) < 0:
                y = y + x ** 3
    else:
        if n > 1:
            y = np.exp(y)
        y = y * x
    return np.sum(y)


@pytest.mark.parametrize("x", [POSITIVE, np.abs(POSITIVE), NEGATIVE], ids=["pos-mixed", "pos", "neg"])
@pytest.mark.parametrize("n", [1, 3])
def test_nested_if(x, n):
    check(nested_if, x, n)


def branches_use_different_parameters(x, w):
    if np.sum(x) > 0:
        return np.sum(np.sin(x))
    return np.sum(w * w)


@pytest.mark.parametrize("x", [POSITIVE, NEGATIVE], ids=["x-path", "w-path"])
def test_parameter_unused_on_the_path_taken_gets_zero(x):
    w = RNG2.normal(size=3)
    dx, dw = check(branches_use_different_parameters, x, w, wrt=(0, 1))
    if np.sum(x) > 0:
        assert not dw.any() and dw.shape == (3,)
    else:
        assert not dx.any() and dx.shape == (3,)


# --- and / or / not, comparison chains --------------------------------------------------

def and_or_not(x, n):
    s = np.sum(x)
    y = x
    if s > 0 and n > 1:
        y = y * np.sin(x)
    if s < 0 or n == 0:
        y = y + np.exp(x)
    if not np.all(x > 0):
        y = y * 2.0
    return np.sum(y * x)


@pytest.mark.parametrize("x", [POSITIVE, np.abs(POSITIVE), NEGATIVE], ids=["pos-mixed", "pos", "neg"])
@pytest.mark.parametrize("n", [0, 1, 2])
def test_and_or_not(x, n):
    check(and_or_not, x, n)


def comparison_chain(x, a):
    if 0 < a < 1:
        return np.sum(x) * np.log(a)
    elif -1 < a <= 0 < np.sum(x):
        return np.sum(x ** 2) * a
    return np.sum(np.cos(x)) * a ** 3


@pytest.mark.parametrize("a,x", [(0.5, POSITIVE), (1.5, POSITIVE), (-0.5, POSITIVE), (-0.5, NEGATIVE)])
def test_comparison_chain(a, x):
    check(comparison_chain, x, a, wrt=(0, 1))


# --- the conditional expression ---------------------------------------------------------

def conditional_expression(x):
    y = np.sin(x) if np.sum(x) > 0 else np.cos(x) * x
    return np.sum(y)


@pytest.mark.parametrize("x", [POSITIVE, NEGATIVE], ids=["true", "false"])
def test_conditional_expression_closed_form(x):
    g = check(conditional_expression, x)
    want = np.cos(x) if np.sum(x) > 0 else np.cos(x) - x * np.sin(x)
    np.testing.assert_allclose(g, want, rtol=1e-12)


def conditional_expression_inside_expression(x, n):
    return np.sum(x ** 2 * (2.0 if n > 1 else 3.0) + (x if n % 2 else np.tanh(x)))


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_conditional_expression_inside_an_expression(n):
    check(conditional_expression_inside_expression, RNG2.normal(size=4), n)


def conditional_expression_with_a_constant_side(x, n):
    scale = np.sum(x ** 2) if n > 0 else 1.0
    y = 0.0 if n > 1 else x * 2.0
    return np.sum(y) * scale + scale


@pytest.mark.parametrize("n", [0, 1, 2])
def test_conditional_expression_with_a_constant_side(n):
    x = RNG2.normal(size=3)
    g = check(conditional_expression_with_a_constant_side, x, n)
    want = {0: np.full(3, 2.0), 1: 2 * np.sum(x ** 2) + 2 * x * 2 * np.sum(x) + 2 * x, 2: 2 * x}[n]
    np.testing.assert_allclose(g, want, rtol=1e-12)


def nested_conditional_expressions(x, a):
    y = x * a if a > 1 else (np.sin(x) if a > 0 else x ** 2 * a)
    return np.sum(y)


@pytest.mark.parametrize("a", [1.5, 0.5, -0.5])
def test_nested_conditional_expressions(a):
    check(nested_conditional_expressions, RNG2.normal(size=3), a, wrt=(0, 1))


# --- early and multiple returns -----------------------------------------------------------

def early_return(x):
    if np.sum(x) < 0:
        return np.sum(x * x)
    y = np.tanh(x)
    if np.max(y) > 0.8:
        return np.sum(y) * 2.0
    z = y * x
    return np.sum(z)


@pytest.mark.parametrize("x,path", [(NEGATIVE, 1), (POSITIVE * 2, 2), (POSITIVE * 0.5, 3)])
def test_early_and_multiple_returns_by_path(x, path):
    y = np.tanh(x)
    assert path == (1 if np.sum(x) < 0 else 2 if np.max(y) > 0.8 else 3)
    check(early_return, x)


def return_constant_on_one_path(x, n):
    if n == 0:
        return 0.0
    return np.sum(x ** 3)


def test_return_of_a_constant_on_the_path_taken():
    x = RNG2.normal(size=(2, 3))
    d = srcgrad.grad(return_constant_on_one_path)(x, 0)
    assert d.shape == (2, 3) and not d.any()
    np.testing.assert_allclose(srcgrad.grad(return_constant_on_one_path)(x, 1), 3 * x ** 2, rtol=1e-12)


def returns_in_nested_branches(x, w):
    if np.sum(w) > 0:
        if np.sum(x) > 0:
            return np.sum(x * w)
        return np.sum(x * w * w)
    else:
        if np.sum(x) > 0:
            return np.sum(np.sin(x + w))
    return np.sum(np.cos(x * w))


@pytest.mark.parametrize("x", [POSITIVE, NEGATIVE], ids=["x+", "x-"])
@pytest.mark.parametrize("w", [np.array([0.5, 0.2, -0.1]), np.array([-0.5, 0.2, -0.1])], ids=["w+", "w-"])
def test_returns_in_nested_branches(x, w):
    check(returns_in_nested_branches, x, w, wrt=(0, 1))


# --- variables defined on one path ------------------------------------------------------

def assigned_in_one_branch(x):
    y = x * 2.0
    if np.sum(x) > 0:
        y = np.sin(x) * x
    return np.sum(y * x)


@pytest.mark.parametrize("x", [POSITIVE, NEGATIVE], ids=["reassigned", "kept"])
def test_variable_reassigned_in_one_branch_then_used(x):
    g = check(assigned_in_one_branch, x)
    want = 2 * x * np.sin(x) + x * x * np.cos(x) if np.sum(x) > 0 else 4 * x
    np.testing.assert_allclose(g, want, rtol=1e-12)


def defined_only_in_one_branch(x, n):
    if n > 0:
        z = np.exp(x)
    y = x * x
    if n > 0:
        y = y + z
    return np.sum(y)


@pytest.mark.parametrize("n", [0, 1])
def test_variable_defined_only_in_one_branch_then_used_on_that_path(n):
    x = RNG2.normal(size=3)
    want = 2 * x + (np.exp(x) if n > 0 else 0.0)
    np.testing.assert_allclose(srcgrad.grad(defined_only_in_one_branch)(x, n), want, rtol=1e-12)


def different_shapes_per_branch(x, n):
    if n > 0:
        y = np.outer(x, x)          # (3, 3)
    else:
        y = x * 2.0                 # (3,)
    return np.sum(np.tanh(y))


@pytest.mark.parametrize("n", [0, 1])
def test_branches_give_a_variable_different_shapes(n):
    check(different_shapes_per_branch, RNG2.normal(size=3), n)


def test_value_and_grad_with_branches():
    for x in (NEGATIVE, POSITIVE * 2, POSITIVE * 0.5):
        value, g = srcgrad.value_and_grad(early_return)(x)
        assert value == pytest.approx(early_return(x), rel=1e-12)
        np.testing.assert_allclose(g, check(early_return, x), rtol=1e-12)
