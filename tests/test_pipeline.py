"""pipeline.py, the one assembly of the transformation, and what its callers get from it:
gradients of parameter containers grouped by parameter, vjp functions that know from the
generated program whether their backward pass can run twice, export printed from the IR."""
import numpy as np
import pytest

import srcgrad
from srcgrad import derivatives, pipeline
from srcgrad.export import export_source

RNG = np.random.default_rng(10)


def central_differences(f, args, position, eps=1e-6):
    """d f(*args) / d args[position] (an array), by central differences in float64."""
    x = np.array(args[position], dtype=np.float64)
    out = np.zeros_like(x)
    for i in range(x.size):
        up, down = x.copy(), x.copy()
        up.flat[i] += eps
        down.flat[i] -= eps
        plus = list(args)
        plus[position] = up
        minus = list(args)
        minus[position] = down
        out.flat[i] = (f(*plus) - f(*minus)) / (2 * eps)
    return out


# --- parameter containers: leaves grouped by parameter, not by name prefix --------------

def prefixed(w, w_b, x):
    return np.sum(np.tanh(w["a"] * x) * w_b) + np.sum(w_b ** 2)


def test_container_and_a_parameter_whose_name_extends_its_name():
    """`w_b` starts with `w_`: its leaf is not one of `w`'s."""
    w, w_b, x = {"a": RNG.normal(size=3)}, RNG.normal(size=3), RNG.normal(size=3)
    g_w, g_b = srcgrad.grad(prefixed, wrt=(0, 1))(w, w_b, x)
    assert set(g_w) == {"a"}
    np.testing.assert_allclose(
        g_w["a"], central_differences(lambda a: prefixed({"a": a}, w_b, x), [w["a"]], 0),
        rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(
        g_b, central_differences(lambda b: prefixed(w, b, x), [w_b], 0), rtol=1e-7, atol=1e-9)


def both_containers(w, w_b, x):
    return np.sum(w["a"] * w_b[0] * x) + np.sum(np.sin(w_b[1]) * w["c"])


def test_two_containers_whose_names_share_a_prefix():
    w = {"a": RNG.normal(size=2), "c": RNG.normal()}
    w_b, x = [RNG.normal(size=2), RNG.normal()], RNG.normal(size=2)
    value, (g_w, g_b) = srcgrad.value_and_grad(both_containers, wrt=("w", "w_b"))(w, w_b, x)
    assert value == pytest.approx(both_containers(w, w_b, x), rel=1e-12)
    fd = [central_differences(lambda a: both_containers({"a": a, "c": w["c"]}, w_b, x), [w["a"]], 0),
          central_differences(lambda c: both_containers({"a": w["a"], "c": c}, w_b, x), [w["c"]], 0),
          central_differences(lambda b: both_containers(w, [b, w_b[1]], x), [w_b[0]], 0),
          central_differences(lambda b: both_containers(w, [w_b[0], b], x), [w_b[1]], 0)]
    for got, want in zip([g_w["a"], g_w["c"], g_b[0], g_b[1]], fd):
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)
    assert isinstance(g_b, list) and isinstance(g_w["c"], float)


def leaf_named(w, w_0):
    return np.sum(w["a"] ** 2 * w_0)


def test_a_leaf_name_does_not_take_another_parameters_name():
    w, w_0 = {"a": RNG.normal(size=3)}, RNG.normal(size=3)
    g_w, g_0 = srcgrad.grad(leaf_named, wrt=(0, 1))(w, w_0)
    np.testing.assert_allclose(g_w["a"], 2 * w["a"] * w_0, rtol=1e-12)
    np.testing.assert_allclose(g_0, w["a"] ** 2, rtol=1e-12)


# --- the assembled pipeline ----------------------------------------------------------------

def loss(w, X, y):
    r = X @ w - y
    return np.sum(r ** 2)


def test_reverse_gradient_program():
    w, X, y = RNG.normal(size=3), RNG.normal(size=(5, 3)), RNG.normal(size=5)
    program = pipeline.reverse_gradient(loss, ("w",), False)
    np.testing.assert_allclose(program.fn(w, X, y), central_differences(loss, [w, X, y], 0),
                               rtol=1e-6)
    assert program.source.startswith("def grad_loss(w, X, y):")
    lines = program.source.splitlines()
    assert lines[-1].strip().startswith("return ")
    assert program.line_map[len(lines)] == loss.__code__.co_firstlineno   # the return: `def`
    assert program.copies == [False]


def vec(x, y):
    return np.tanh(x) * y + x ** 2


def test_forward_jvp_program():
    x, y, t = RNG.normal(size=4), RNG.normal(size=4), RNG.normal(size=4)
    program = pipeline.forward_jvp(vec, ("x",))
    assert len(program.code.tangent_params) == 1
    value, tangent = program.fn(x, y, t)
    np.testing.assert_allclose(value, vec(x, y), rtol=1e-12)
    np.testing.assert_allclose(tangent, ((1 - np.tanh(x) ** 2) * y + 2 * x) * t, rtol=1e-12)


# --- whether a backward pass can run again: read from the program, not its text -------------

def looped(x, n):
    s = 0.0
    for i in range(n):
        s = s + np.sum(np.sin(x) * x)
        x = x * 0.9
    return s


def popped(x, n):
    xs = []
    for i in range(n):
        xs.append(x * (i + 1.0))
    total = 0.0
    for i in range(n):
        v = xs.pop()
        total = total + v * v
    return total


def mentions_pop(x):
    y = np.sin(x)  # not xs.pop(): a comment only
    return y * 2.0


@pytest.mark.parametrize("func, wrt, reusable", [
    (vec, ("x",), True), (mentions_pop, ("x",), True),
    (looped, ("x",), False), (popped, ("x",), False)])
def test_vjp_reusable(func, wrt, reusable):
    assert derivatives.VjpFunction(func, wrt).reusable is reusable


def scaled_looped(x):
    return looped(x, 3) * x


def scaled_popped(x):
    return popped(x, 3) * x


def test_jacobian_rows_through_a_tape_used_up_by_each_backward_pass():
    """As many results as arguments: rows, a backward pass each, so the forward pass runs
    again for each row where the backward pass pops."""
    x = RNG.normal(size=3)
    for f in (scaled_looped, scaled_popped):
        assert derivatives.VjpFunction(f, ("x",)).reusable is False
        jac = srcgrad.jacobian(f)(x)
        fd = np.stack([central_differences(lambda x: f(x)[i], [x], 0) for i in range(3)])
        np.testing.assert_allclose(jac, fd, rtol=1e-6, atol=1e-8)


# --- export, printed from the generated program -------------------------------------------

def two(w, b, X):
    return np.sum(np.tanh(X @ w + b))


def test_export_prints_the_fitted_results_from_the_program():
    import sys
    text, notes = export_source(srcgrad.grad(two, wrt=(0, 1)), name="dtwo",
                                source_module=sys.modules[__name__], source_path=__file__)
    assert notes == []
    assert "def dtwo(w, b, X):" in text
    assert "    return (fit_gradient(dw, w, copy=False),\n" \
           "            fit_gradient(db, b, copy=False))\n" in text
    namespace = {}
    exec(compile(text, "exported", "exec"), namespace)
    w, b, X = RNG.normal(size=3), 0.4, RNG.normal(size=(4, 3))
    g_w, g_b = namespace["dtwo"](w, b, X)
    np.testing.assert_allclose(g_w, central_differences(two, [w, b, X], 0), rtol=1e-6)
    assert isinstance(g_b, float)
    assert g_b == pytest.approx(float(central_differences(two, [w, b, X], 1)), rel=1e-6)
