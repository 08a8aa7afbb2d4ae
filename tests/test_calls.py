"""Calls into the user's own functions, inlined (issue #3): user functions (module-level, imported from another module, nested `def`
closures, lambdas bound to names) with positional, keyword and default arguments; helpers
returning tuples; helpers called with non-differentiable arguments; recursion whose depth
depends on an int or on data; `math` functions on scalars; the builtins abs, min, max, sum,
float, len, range, enumerate and zip.

Needs usercode_network.py and usercode_helpers.py (in this directory): the imported helpers.
"""
import math

import numpy as np
import pytest
from support import check

import srcgrad
import usercode_helpers as helpers
import usercode_network as hm
from usercode_network import softplus, two_layer

RNG = np.random.default_rng(5)


# --- module-level helpers ---------------------------------------------------------------

def layer(W, x):
    return np.tanh(W @ x)


def two_layers(W1, W2, x):
    return np.sum(layer(W2, layer(W1, x)) ** 2)


def test_call_to_a_module_level_helper():
    W1, W2, x = RNG.normal(size=(4, 3)), RNG.normal(size=(2, 4)), RNG.normal(size=3)
    check(two_layers, W1, W2, x, wrt=(0, 1, 2))


def square(v):
    return v * v


def same_helper_two_shapes(x, W):
    return np.sum(square(x)) + np.sum(square(W)) * np.sum(square(2.0))


def test_same_helper_called_with_different_shapes():
    x, W = RNG.normal(size=3), RNG.normal(size=(2, 3))
    dx, dW = check(same_helper_two_shapes, x, W, wrt=(0, 1))
    np.testing.assert_allclose(dW, 8 * W, rtol=1e-12)


def cube_via_square(v):
    return square(v) * v


def helper_chain(x):
    return np.sum(cube_via_square(np.sin(x)))


def test_helper_that_calls_a_helper():
    x = RNG.normal(size=4)
    g = check(helper_chain, x)
    np.testing.assert_allclose(g, 3 * np.sin(x) ** 2 * np.cos(x), rtol=1e-12)


def defined_later_caller(x):
    return np.sum(defined_later(x))


def defined_later(v):
    return np.exp(v) * 0.5


def test_helper_defined_after_its_caller():
    x = RNG.normal(size=3)
    np.testing.assert_allclose(srcgrad.grad(defined_later_caller)(x), 0.5 * np.exp(x), rtol=1e-12)


def scalar_helper(a):
    return a ** 3 + 2.0 * a


def calls_scalar_helper(a):
    return scalar_helper(a) * scalar_helper(2.0 * a)


def test_helper_also_differentiated_on_its_own():
    assert srcgrad.grad(scalar_helper)(1.5) == pytest.approx(3 * 1.5 ** 2 + 2.0, rel=1e-12)
    check(calls_scalar_helper, 0.7)
    assert srcgrad.grad(scalar_helper)(2.0) == pytest.approx(14.0, rel=1e-12)


# --- helpers imported from another module -------------------------------------------------

def uses_imported_helpers(x, W1, W2, y):
    pred = two_layer(x, W1, W2)
    return hm.mse(pred, y) + np.sum(softplus(x)) + np.sum(hm.scaled_tanh(x))


def test_helpers_imported_from_another_module():
    x, W1, W2, y = RNG.normal(size=3), RNG.normal(size=(4, 3)), RNG.normal(size=(2, 4)), RNG.normal(size=2)
    check(uses_imported_helpers, x, W1, W2, y, wrt=(0, 1, 2))


def uses_module_global_of_helper(x):
    return np.sum(hm.weighted(x))


def test_imported_helper_reads_its_own_module_globals_live(monkeypatch):
    x = RNG.normal(size=3)
    g = srcgrad.grad(uses_module_global_of_helper)
    np.testing.assert_allclose(g(x), 2 * 0.5 * x, rtol=1e-12)
    monkeypatch.setattr(hm, "SCALE", 3.0)
    np.testing.assert_allclose(g(x), 2 * 3.0 * x, rtol=1e-12)


# --- nested def closures and lambdas ----------------------------------------------------------

def closure_over_parameter(x, w):
    def inner(v):
        return np.sum(w * v)
    return inner(x) + inner(x * x)


def test_nested_def_closing_over_a_differentiated_parameter():
    x, w = RNG.normal(size=3), RNG.normal(size=3)
    dx, dw = check(closure_over_parameter, x, w, wrt=(0, 1))
    np.testing.assert_allclose(dw, x + x * x, rtol=1e-12)
    np.testing.assert_allclose(dx, w + 2 * x * w, rtol=1e-12)


def closure_over_local(x):
    scale = np.sum(x)

    def scaled(v, power=2):
        return scale * v ** power
    return np.sum(scaled(x)) + np.sum(scaled(x, 3))


def test_nested_def_closing_over_a_local_value_with_default_argument():
    check(closure_over_local, RNG.normal(size=3))


def late_binding_closure(x):
    k = x * 2.0

    def times_k(v):
        return k * v
    k = x * 3.0                       # the closure sees the value k has when it is called
    return np.sum(times_k(x))


def test_nested_def_sees_the_variable_at_call_time():
    x = RNG.normal(size=3)
    np.testing.assert_allclose(srcgrad.grad(late_binding_closure)(x), 6 * x, rtol=1e-12)


def nested_def_calls_nested_def(x):
    def act(z):
        return np.tanh(z)

    def block(z):
        return act(z) + 0.5 * z
    return np.sum(block(block(x)) ** 2)


def test_nested_def_calling_another_nested_def():
    check(nested_def_calls_nested_def, RNG.normal(size=4))


def lambdas_bound_to_names(x, W, w):
    act = lambda z: np.tanh(z)                   # noqa: E731
    lin = lambda a, b=1.0: a * b + 0.5           # noqa: E731
    shift = lambda z: z + w                      # noqa: E731  (closes over a parameter)
    h = act(W @ x)
    return np.sum(lin(h) ** 2) + np.sum(lin(h, b=2.0)) + np.sum(act(shift(x)))


def test_lambdas_bound_to_names():
    x, W, w = RNG.normal(size=3), RNG.normal(size=(2, 3)), RNG.normal(size=3)
    check(lambdas_bound_to_names, x, W, w, wrt=(0, 1, 2))


# --- arguments ----------------------------------------------------------------------------

def affine(x, W, b=0.0, scale=1.0):
    return scale * (W @ x + b)


def keyword_and_default_arguments(x, W, b):
    first = affine(x, W)                               # defaults
    second = affine(x, W, b, 2.0)                      # all positional
    third = affine(W=W, x=x, scale=0.5, b=b)           # all by keyword, out of order
    fourth = affine(x, W, scale=np.sum(b))             # a differentiated keyword argument
    return np.sum(first ** 2) + np.sum(second) + np.sum(third ** 3) + np.sum(fourth)


def test_positional_keyword_and_default_arguments():
    x, W, b = RNG.normal(size=3), RNG.normal(size=(2, 3)), RNG.normal(size=2)
    check(keyword_and_default_arguments, x, W, b, wrt=(0, 1, 2))


def keyword_only(x, *, power, offset=1.0):
    return (x + offset) ** power


def calls_keyword_only(x):
    return np.sum(keyword_only(x, power=3)) + np.sum(keyword_only(x, offset=np.sum(x), power=2))


def test_helper_with_keyword_only_parameters():
    check(calls_keyword_only, RNG.normal(size=3))


# --- helpers returning tuples -----------------------------------------------------------------

def stats(x):
    return np.mean(x), np.var(x)


def nested_pair(x):
    return x * 2.0, (np.sin(x), np.cos(x))


def uses_tuple_results(x):
    m, v = stats(x)
    pair = stats(x * x)
    a, (s, c) = nested_pair(x)
    return m * v + pair[1] - pair[0] + np.sum(a * s * c)


def test_helpers_returning_tuples():
    check(uses_tuple_results, RNG.normal(size=5))


# --- non-differentiable arguments -----------------------------------------------------------

def activate(z, kind, times):
    for _ in range(times):
        if kind == "tanh":
            z = np.tanh(z)
        else:
            z = np.sin(z) * 1.5
    return z


def with_non_differentiable_arguments(w, X, y, kind):
    pred = activate(X @ w, kind, 2)
    return hm.mse(pred, y) + np.sum(activate(w, "sin", 1))


@pytest.mark.parametrize("kind", ["tanh", "sin"])
def test_helpers_called_with_non_differentiable_arguments(kind):
    w, X, y = RNG.normal(size=3), RNG.normal(size=(5, 3)), RNG.normal(size=5)
    check(with_non_differentiable_arguments, w, X, y, kind)


# --- recursion ------------------------------------------------------------------------------

def power(x, n):
    return 1.0 if n == 0 else x * power(x, n - 1)


def recursive_power(x, n):
    return np.sum(power(x, n))


@pytest.mark.parametrize("n", [0, 1, 4])
def test_recursion_with_an_int_dependent_depth(n):
    x = RNG.uniform(0.5, 1.5, size=3)
    d = srcgrad.grad(recursive_power)(x, n)
    np.testing.assert_allclose(d, n * x ** (n - 1) if n else np.zeros(3), rtol=1e-12)
    assert srcgrad.grad(power)(1.5, 3) == pytest.approx(3 * 1.5 ** 2, rel=1e-12)


def shrink(x):
    if np.sum(x * x) < 1.0:
        return np.sin(x)
    return shrink(0.5 * x)


def recursive_shrink(x):
    return np.sum(shrink(x) ** 2)


@pytest.mark.parametrize("x,depth", [(np.array([0.3, 0.4]), 0), (np.array([1.5, 2.0]), 2),
                                     (np.array([-6.0, 3.0]), 3)])
def test_recursion_with_a_data_dependent_depth(x, depth):
    assert [np.sum((x * 0.5 ** k) ** 2) < 1.0 for k in range(depth + 1)] == [False] * depth + [True]
    g = check(recursive_shrink, x)
    k = 0.5 ** depth
    np.testing.assert_allclose(g, 2 * np.sin(k * x) * np.cos(k * x) * k, rtol=1e-12)


# --- math functions on scalars --------------------------------------------------------------

def math_on_scalars(a):
    return math.exp(a) + math.sin(a) * math.log(a) + math.sqrt(a) + math.cos(a) * math.pi + math.tanh(a)


def test_math_functions_on_scalars():
    a = 1.3
    got = srcgrad.grad(math_on_scalars)(a)
    want = (math.exp(a) + math.cos(a) * math.log(a) + math.sin(a) / a + 0.5 / math.sqrt(a)
            - math.sin(a) * math.pi + 1 - math.tanh(a) ** 2)
    assert isinstance(got, float) and got == pytest.approx(want, rel=1e-12)


def math_on_reduced_arrays(x, a):
    s = float(np.sum(x ** 2))
    return math.sqrt(s) * math.exp(a * 0.5) + math.log(1.0 + s)


def test_math_functions_on_values_reduced_from_arrays():
    check(math_on_reduced_arrays, RNG.normal(size=3), 0.4, wrt=(0, 1))


# --- builtins ----------------------------------------------------------------------------------

def builtin_abs(a, x):
    return abs(a) * np.sum(x) + abs(np.sum(x ** 3))


@pytest.mark.parametrize("a", [0.8, -0.8])
def test_builtin_abs_on_scalars(a):
    x = np.array([0.7, -0.2, 0.5])                     # sum(x ** 3) > 0
    da, dx = check(builtin_abs, a, x, wrt=(0, 1))
    assert da == pytest.approx(np.sign(a) * np.sum(x), rel=1e-12)


def builtin_min_max(a, b, x):
    big = max(a, b)
    small = min(a, np.sum(x))
    top = max([np.sum(x), a * b, 0.5])
    return big * 2.0 + small * 3.0 + top


@pytest.mark.parametrize("a,b,x", [(0.9, 0.3, np.array([0.1, 0.2])), (0.2, 1.1, np.array([2.0, -0.1])),
                                   (1.2, 0.9, np.array([-0.5, 0.2]))])
def test_builtin_min_and_max(a, b, x):
    da, db, dx = check(builtin_min_max, a, b, x, wrt=(0, 1, 2))
    candidates = [np.sum(x), a * b, 0.5]
    assert db == pytest.approx((2.0 if b > a else 0.0) + (a if np.argmax(candidates) == 1 else 0.0), rel=1e-12)


def builtin_sum(x, W):
    total = sum([np.sum(x ** 2), np.sum(x), 1.0])
    rows = sum([W[0], W[1] * 2.0])                  # a list of arrays: an array
    elements = sum(x)                               # iterating a 1-D array
    return total + np.sum(rows ** 2) + elements * 3.0


def test_builtin_sum():
    x, W = RNG.normal(size=3), RNG.normal(size=(2, 3))
    dx, dW = check(builtin_sum, x, W, wrt=(0, 1))
    np.testing.assert_allclose(dx, 2 * x + 1 + 3, rtol=1e-12)


def builtin_float_len_range_enumerate_zip(x, y):
    n = len(x)
    s = float(np.sum(x * y)) / n
    for i, (p, q) in enumerate(zip(x, y)):
        s = s + float(p) * q * i
    for i in range(n):
        s = s + x[i] * float(len(y))
    return s


def test_builtins_float_len_range_enumerate_zip():
    x, y = RNG.normal(size=4), RNG.normal(size=4)
    dx, dy = check(builtin_float_len_range_enumerate_zip, x, y, wrt=(0, 1))
    np.testing.assert_allclose(dx, y / 4 + y * np.arange(4) + 4.0, rtol=1e-12)


# --- a helper in a loop, with value_and_grad ----------------------------------------------

def cell(h, x, Wh, Wx):
    return np.tanh(Wh @ h + Wx @ x)


def rnn_with_helper(Wh, Wx, xs):
    h = np.zeros(Wh.shape[0])
    for x in xs:
        h = cell(h, x, Wh, Wx)
    return np.sum(h ** 2)


def test_helper_called_in_a_loop_with_value_and_grad():
    Wh, Wx, xs = RNG.normal(size=(3, 3)) * 0.5, RNG.normal(size=(3, 2)), RNG.normal(size=(6, 2))
    value, (dWh, dWx) = srcgrad.value_and_grad(rnn_with_helper, wrt=(0, 1))(Wh, Wx, xs)
    assert value == pytest.approx(rnn_with_helper(Wh, Wx, xs), rel=1e-12)
    want_Wh, want_Wx = check(rnn_with_helper, Wh, Wx, xs, wrt=(0, 1))
    np.testing.assert_allclose(dWh, want_Wh, rtol=1e-12)
    np.testing.assert_allclose(dWx, want_Wx, rtol=1e-12)


# ==============================================================================================
# Calls into the user's own functions (inlined).
# ==============================================================================================

RNG2 = np.random.default_rng(17)



def code(source):
    """The generated statements, without the docstring and the comments quoting the source."""
    body = source.split('"""')[2]
    return "\n".join(line for line in body.splitlines() if not line.strip().startswith("#"))



def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))



def dense_layer(x, W, b, act=np.tanh):
    return act(x @ W + b)



def logistic(w, X, y):
    p = sigmoid(X @ w)
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))



def test_module_level_helper():
    X, y, w = RNG2.normal(size=(6, 3)), (RNG2.random(6) > 0.5).astype(float), RNG2.normal(size=3)
    dw = check(logistic, w, X, y)
    p = sigmoid(X @ w)
    np.testing.assert_allclose(dw, X.T @ (p - y) / 6, rtol=1e-10)
    assert "sigmoid(" not in code(srcgrad.grad(logistic).source)   # inlined



def test_keyword_default_and_function_valued_default():
    def f(x, W, b):
        h = dense_layer(x, W, b=b)
        return np.sum(dense_layer(h, W.T, b=0.0, act=np.sin) ** 2)
    check(f, RNG2.normal(size=(2, 3)), RNG2.normal(size=(3, 3)), RNG2.normal(size=3), wrt=(0, 1, 2))



def test_imported_helper_with_its_own_globals_read_live(monkeypatch):
    def f(x):
        a, b = helpers.pair(x)
        return helpers.scaled_square(a + b, power=3)
    x = RNG2.normal(size=3)
    check(f, x)
    g = srcgrad.grad(f)
    before = g(x)
    monkeypatch.setattr(helpers, "SCALE", 1.5)
    np.testing.assert_allclose(g(x), 3.0 * before, rtol=1e-12)



def test_nested_def_closure_and_lambda():
    def f(x, a):
        scale = a * 2.0

        def inner(v, power=2):
            return np.sin(v) * scale + 0.1 * v ** power
        act = lambda z: np.tanh(z) * a  # noqa: E731
        return np.sum(act(inner(x, power=3)))
    check(f, RNG2.normal(size=3), 0.7, wrt=(0, 1))



def test_helper_with_a_loop_and_a_branch_called_twice():
    def repeat(u, times=2):
        for _ in range(times):
            if np.sum(u) > 100.0:
                break
            u = np.tanh(u) + 0.1 * u
        return u

    def f(x, n):
        return np.sum(repeat(x, times=n) * repeat(x * 2.0))
    check(f, RNG2.normal(size=3), 3)



def test_math_functions_and_min_max():
    import math

    def f(a, b):
        return math.exp(a) * math.sin(b) + max(a, b) - min(a * b, 0.5) + math.sqrt(a * a + 1.0)
    check(f, 0.3, 1.1, wrt=(0, 1))



def test_math_results_are_python_numbers_in_the_generated_code():
    import math

    def f(a, x):
        b = 0.7 * a + 0.3 * math.exp(0.5 * math.tanh(a))
        return np.sum(x * b) + b
    check(f, 0.4, RNG2.normal(size=3), wrt=(0, 1))

