"""Calls into the user's own functions (inlined) and containers whose layout is known when
the code is read, including parameter containers as `wrt`."""
import numpy as np
import pytest
from support import check, numerical_gradient

import srcgrad
import usercode_helpers as hm

RNG = np.random.default_rng(17)


def code(source):
    """The generated statements, without the docstring and the comments quoting the source."""
    body = source.split('"""')[2]
    return "\n".join(line for line in body.splitlines() if not line.strip().startswith("#"))


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def layer(x, W, b, act=np.tanh):
    return act(x @ W + b)


def logistic(w, X, y):
    p = sigmoid(X @ w)
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def test_module_level_helper():
    X, y, w = RNG.normal(size=(6, 3)), (RNG.random(6) > 0.5).astype(float), RNG.normal(size=3)
    dw = check(logistic, w, X, y)
    p = sigmoid(X @ w)
    np.testing.assert_allclose(dw, X.T @ (p - y) / 6, rtol=1e-10)
    assert "sigmoid(" not in code(srcgrad.grad(logistic).source)   # inlined


def test_keyword_default_and_function_valued_default():
    def f(x, W, b):
        h = layer(x, W, b=b)
        return np.sum(layer(h, W.T, b=0.0, act=np.sin) ** 2)
    check(f, RNG.normal(size=(2, 3)), RNG.normal(size=(3, 3)), RNG.normal(size=3), wrt=(0, 1, 2))


def test_imported_helper_with_its_own_globals_read_live(monkeypatch):
    def f(x):
        a, b = hm.pair(x)
        return hm.scaled_square(a + b, power=3)
    x = RNG.normal(size=3)
    check(f, x)
    g = srcgrad.grad(f)
    before = g(x)
    monkeypatch.setattr(hm, "SCALE", 1.5)
    np.testing.assert_allclose(g(x), 3.0 * before, rtol=1e-12)


def test_nested_def_closure_and_lambda():
    def f(x, a):
        scale = a * 2.0

        def inner(v, power=2):
            return np.sin(v) * scale + 0.1 * v ** power
        act = lambda z: np.tanh(z) * a  # noqa: E731
        return np.sum(act(inner(x, power=3)))
    check(f, RNG.normal(size=3), 0.7, wrt=(0, 1))


def test_helper_with_a_loop_and_a_branch_called_twice():
    def repeat(u, times=2):
        for _ in range(times):
            if np.sum(u) > 100.0:
                break
            u = np.tanh(u) + 0.1 * u
        return u

    def f(x, n):
        return np.sum(repeat(x, times=n) * repeat(x * 2.0))
    check(f, RNG.normal(size=3), 3)


def test_math_functions_and_min_max():
    import math

    def f(a, b):
        return math.exp(a) * math.sin(b) + max(a, b) - min(a * b, 0.5) + math.sqrt(a * a + 1.0)
    check(f, 0.3, 1.1, wrt=(0, 1))


def test_containers_read_with_constant_keys_and_unpacked():
    def f(x, w):
        params = {"w": w, "layers": [x * 2.0, np.sin(x)], "n": 2}
        first, second = params["layers"]
        t = (first, second, np.sum(x))
        hs = []
        for h in params["layers"]:
            hs.append(h * params["w"])
        return np.sum(t[0] * t[1]) + t[-1] ** params["n"] + np.sum(hs[1]) + len(hs)
    check(f, RNG.normal(size=3), RNG.normal(size=3), wrt=(0, 1))
    assert "params" not in code(srcgrad.grad(f).source)      # resolved statically


def mlp(params, X, y):
    h = X
    for lay in params["layers"]:
        h = np.tanh(h @ lay["W"] + lay["b"])
    return np.mean((h * params["scale"] - y) ** 2)


def test_parameter_container_as_wrt_keeps_its_structure():
    params = {"layers": [{"W": RNG.normal(size=(3, 4)), "b": RNG.normal(size=4)},
                         {"W": RNG.normal(size=(4, 2)), "b": RNG.normal(size=2)}],
              "scale": 1.3}
    X, y = RNG.normal(size=(5, 3)), RNG.normal(size=(5, 2))
    grads = srcgrad.grad(mlp)(params, X, y)
    assert set(grads) == {"layers", "scale"} and isinstance(grads["layers"], list)
    assert isinstance(grads["scale"], float)
    for path in [("layers", 0, "W"), ("layers", 1, "b")]:
        leaf = params[path[0]][path[1]][path[2]]
        got = grads[path[0]][path[1]][path[2]]
        assert got.shape == leaf.shape

        def loss_of_leaf(value, path=path):
            layers = [dict(layer) for layer in params["layers"]]
            layers[path[1]][path[2]] = value
            return mlp(dict(params, layers=layers), X, y)
        assert got == pytest.approx(numerical_gradient(loss_of_leaf, (leaf,)), rel=1e-5, abs=1e-8)
    value, grads2 = srcgrad.value_and_grad(mlp)(params, X, y)
    assert value == pytest.approx(mlp(params, X, y))
    np.testing.assert_allclose(grads2["layers"][0]["W"], grads["layers"][0]["W"])


def test_tuple_of_parameters_and_array_together():
    def f(wb, x):
        w, b = wb
        return np.sum(np.tanh(x * w + b))
    wb, x = (RNG.normal(size=3), 0.2), RNG.normal(size=3)
    dwb, dx = srcgrad.grad(f, wrt=(0, 1))(wb, x)
    assert isinstance(dwb, tuple) and dwb[0].shape == (3,) and isinstance(dwb[1], float)
    t = np.tanh(x * wb[0] + wb[1])
    np.testing.assert_allclose(dwb[0], (1 - t * t) * x, rtol=1e-12)
    np.testing.assert_allclose(dx, (1 - t * t) * wb[0], rtol=1e-12)


def test_dynamic_use_of_a_container_of_differentiated_values_is_refused():
    def f(x, i):
        xs = [x, x * 2.0]
        return np.sum(xs[i])
    with pytest.raises(srcgrad.UnsupportedSyntaxError):
        srcgrad.grad(f)(np.ones(2), 1)


def test_math_results_are_python_numbers_in_the_generated_code():
    import math

    def f(a, x):
        b = 0.7 * a + 0.3 * math.exp(0.5 * math.tanh(a))
        return np.sum(x * b) + b
    check(f, 0.4, RNG.normal(size=3), wrt=(0, 1))
