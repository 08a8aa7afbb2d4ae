"""Parameters addressed the way course code and tutorials address them: keys built from a
loop counter (`parameters["W" + str(l)]`, `parameters[f"W{l}"]`), lists of `(W, b)`
tuples, and `zip` over parameter lists.  Loops over a range whose bounds are known when
the code is read are unrolled, so each key is known too."""
import numpy as np
import pytest
from support import check, check_jvp

import srcgrad
from srcgrad.check import numerical_gradient

rng = np.random.default_rng(11)
X = rng.normal(size=(3, 5))
Y = rng.normal(size=(2, 5))


def network():
    return {"W1": rng.normal(size=(4, 3)), "b1": rng.normal(size=(4, 1)),
            "W2": rng.normal(size=(2, 4)), "b2": rng.normal(size=(2, 1))}


def assert_dict_gradient(f, params, *args):
    """srcgrad's gradient of f(params, *args) against finite differences, key by key."""
    got = srcgrad.grad(f)(params, *args)
    assert set(got) == set(params)
    for key in params:
        def of_leaf(leaf, key=key):
            return f(dict(params, **{key: leaf}), *args)
        np.testing.assert_allclose(got[key], numerical_gradient(of_leaf, [params[key]]),
                                   rtol=1e-6, atol=1e-8, err_msg=key)
    return got


def forward_propagation(parameters, X, Y):        # as in the deep-learning courses
    L = len(parameters) // 2
    A = X
    for l in range(1, L):
        A = np.tanh(parameters['W' + str(l)] @ A + parameters['b' + str(l)])
    AL = parameters['W' + str(L)] @ A + parameters['b' + str(L)]
    return np.sum((AL - Y) ** 2) / (2 * Y.shape[1])


def test_keys_joined_from_a_counter():
    assert_dict_gradient(forward_propagation, network(), X, Y)


def formatted_keys(parameters, X):
    A = X
    for l in range(1, 3):
        A = np.tanh(parameters[f"W{l}"] @ A + parameters[f"b{l}"])
    return np.sum(A ** 2)


def test_f_string_keys():
    assert_dict_gradient(formatted_keys, network(), X)


def report(parameters, X):
    loss = formatted_keys(parameters, X)
    print(f"loss {loss:.3f} over {X.shape[1]} samples")      # run, never differentiated
    return loss


def test_f_strings_in_print_run_in_the_forward_pass(capsys):
    params = network()
    got = srcgrad.grad(report)(params, X)
    want = srcgrad.grad(formatted_keys)(params, X)
    for key in params:
        np.testing.assert_allclose(got[key], want[key])
    assert capsys.readouterr().out == f"loss {formatted_keys(params, X):.3f} over 5 samples\n"


def layered(layers, X):
    h = X.T
    for W, b in layers:
        h = np.tanh(h @ W + b)
    return np.sum(h)


def test_a_list_of_weight_and_bias_tuples():
    layers = [(rng.normal(size=(3, 4)), rng.normal(size=4)), (rng.normal(size=(4, 2)), rng.normal(size=2))]
    got = srcgrad.grad(layered)(layers, X)
    for k in range(2):
        for j in range(2):
            def of_leaf(leaf, k=k, j=j):
                changed = [list(pair) for pair in layers]
                changed[k][j] = leaf
                return layered([tuple(pair) for pair in changed], X)
            np.testing.assert_allclose(got[k][j], numerical_gradient(of_leaf, [layers[k][j]]),
                                       rtol=1e-6, atol=1e-8)


def zipped(Ws, bs, X):
    h = X.T
    for W, b in zip(Ws, bs):
        h = np.tanh(h @ W + b)
    return np.sum(h)


def test_zip_over_parameter_lists_and_over_a_data_list():
    Ws = [rng.normal(size=(3, 4)), rng.normal(size=(4, 2))]
    bs = [rng.normal(size=4), rng.normal(size=2)]
    dWs, dbs = srcgrad.grad(zipped, wrt=(0, 1))(Ws, bs, X)
    dWs_only = srcgrad.grad(zipped, wrt=0)(Ws, bs, X)        # the biases are data: by index
    for k in range(2):
        def of_W(W, k=k):
            return zipped(Ws[:k] + [W] + Ws[k + 1:], bs, X)

        def of_b(b, k=k):
            return zipped(Ws, bs[:k] + [b] + bs[k + 1:], X)
        np.testing.assert_allclose(dWs[k], numerical_gradient(of_W, [Ws[k]]), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(dWs_only[k], dWs[k])
        np.testing.assert_allclose(dbs[k], numerical_gradient(of_b, [bs[k]]), rtol=1e-6, atol=1e-8)


def local_table(a, b, x):
    weights = {"w1": a, "w2": b, "w3": a * b}
    total = 0.0
    for i in range(1, 4):
        total = total + weights["w" + str(i)] * np.sin(i * x)
    return np.sum(total)


def test_a_dict_built_in_the_loss_read_by_computed_keys_in_both_modes():
    a, b, x = 0.7, -1.3, rng.normal(size=4)
    check(local_table, a, b, x, wrt=(0, 1, 2))
    check_jvp(local_table, a, b, x)
    code = [line for line in srcgrad.grad(local_table, wrt=(0, 1, 2)).source.splitlines()
            if not line.strip().startswith("#")]
    assert not any("str(" in line or "for " in line or "weights" in line for line in code)


def by_runtime_count(parameters, X, n):
    A = X
    for l in range(1, n + 1):             # n is known only when the code runs
        A = np.tanh(parameters[f"W{l}"] @ A)
    return np.sum(A)


def test_keys_known_only_when_the_code_runs_are_read_when_it_runs():
    params = {"W1": rng.normal(size=(3, 3)), "W2": rng.normal(size=(3, 3)),
              "W3": rng.normal(size=(3, 3))}
    got = srcgrad.grad(by_runtime_count)(params, X, 2)
    for key in params:              # W3 is never read: its gradient is zero
        def of_leaf(leaf):
            return by_runtime_count(dict(params, **{key: leaf}), X, 2)
        assert np.allclose(got[key], srcgrad.numerical_gradient(of_leaf, (params[key],)),
                           atol=1e-6)
    assert not np.any(got["W3"])


def long_range(a):
    table = {"k0": a}
    total = 0.0
    for i in range(100):                  # too long to unroll: a loop, reading table["k0"]
        total = total + table["k0"] * i
    return total


def test_a_long_loop_with_constant_keys_stays_a_loop():
    check(long_range, 0.5)
    assert "for i in range(100)" in srcgrad.grad(long_range).source


# --- more ways people walk their parameters -------------------------------------------------
from collections import namedtuple  # noqa: E402

Layer = namedtuple("Layer", "W b")
Pair = namedtuple("Pair", "W1 W2")


def assert_leaf_gradients(f, container, *args):
    """srcgrad's gradient of f(container, *args) against finite differences, leaf by leaf
    (the container a dict or list of Layer records, or a Pair)."""
    got = srcgrad.grad(f)(container, *args)
    items = list(container.items()) if isinstance(container, dict) else list(enumerate(container))
    if isinstance(container, Pair):
        items = list(zip(Pair._fields, container))
    for key, leaf in items:
        fields = leaf._fields if isinstance(leaf, Layer) else (None,)
        for name in fields:
            def changed(value, key=key, name=name):
                if isinstance(container, Pair):
                    return container._replace(**{key: value})
                new = dict(container) if isinstance(container, dict) else list(container)
                new[key] = value if name is None else new[key]._replace(**{name: value})
                return new
            start = leaf if name is None else getattr(leaf, name)
            want = numerical_gradient(lambda v: f(changed(v), *args), [start])
            piece = got[key] if not isinstance(container, Pair) else getattr(got, key)
            piece = piece if name is None else getattr(piece, name)
            np.testing.assert_allclose(piece, want, rtol=1e-6, atol=1e-8, err_msg=f"{key} {name}")


def two_layers():
    return [Layer(rng.normal(size=(3, 4)), rng.normal(size=4)),
            Layer(rng.normal(size=(4, 2)), rng.normal(size=2))]


def numbered(layers, X):
    h = X.T
    for i, (W, b) in enumerate(layers, 1):
        h = np.tanh(h @ W + b) * i
    return np.sum(h)


def by_values(params, X):
    h = X.T
    for layer in params.values():
        h = np.tanh(h @ layer.W + layer.b)
    return np.sum(h)


def by_items(params, X):
    h = X.T
    for name, layer in params.items():
        h = np.tanh(h @ layer.W + layer.b) * (2.0 if name == "out" else 1.0)
    return np.sum(h)


def with_get(params, X):
    h = np.tanh(X.T @ params.get("W1") + params.get("b1", 0.0))
    return np.sum(h) + params.get("missing", 0.0)


def regularized(layers, X):
    h = X.T
    for W, b in layers:
        h = np.tanh(h @ W + b)
    return np.sum(h) + 0.1 * sum(np.sum(W ** 2) for W, b in layers)


def by_getattr(p, X):
    h = X.T
    for l in range(1, 3):
        h = np.tanh(h @ getattr(p, "W" + str(l)))
    return np.sum(h)


def test_enumerate_with_a_start_over_a_parameter_list():
    assert_leaf_gradients(numbered, two_layers(), X)


def test_dict_values_items_and_get():
    first, second = two_layers()
    assert_leaf_gradients(by_values, {"hidden": first, "out": second}, X)
    assert_leaf_gradients(by_items, {"hidden": first, "out": second}, X)
    assert_leaf_gradients(with_get, {"W1": first.W, "b1": first.b}, X)


def test_a_generator_expression_over_the_parameters():
    assert_leaf_gradients(regularized, two_layers(), X)


def test_getattr_of_a_record_by_a_computed_name():
    assert_leaf_gradients(by_getattr, Pair(rng.normal(size=(3, 4)), rng.normal(size=(4, 4))), X)


def over_dict_keys(a, b):
    d = {0: a, 1: b}
    total = 0.0
    for k in d:                              # a dict yields its keys, as in Python
        total = total + (k + 1.0) * np.sum(d[k] ** 2)
    return total


def test_iterating_a_dict_gives_its_keys():
    a, b = rng.normal(size=2), rng.normal(size=3)
    da, db = srcgrad.grad(over_dict_keys, wrt=(0, 1))(a, b)
    np.testing.assert_allclose(da, 2 * a)
    np.testing.assert_allclose(db, 4 * b)
    check_jvp(over_dict_keys, a, b)


def course_style(params, X):
    """Keys made with str.format and tested with startswith; the last layer differs."""
    L = len(params) // 2
    h = X.T
    for l in range(1, L + 1):
        z = h @ params["W{}".format(l)] + params["b{}".format(l)]
        if l == L:
            h = z                            # known when reading: only this side is kept
        else:
            h = np.tanh(z)
    reg = sum(np.sum(params[k] ** 2) for k in params if k.startswith("W"))
    return np.sum(h ** 2) + 0.01 * reg


def test_keys_from_str_format_and_conditions_known_when_reading():
    params = {"W1": rng.normal(size=(3, 4)), "b1": rng.normal(size=4),
              "W2": rng.normal(size=(4, 2)), "b2": rng.normal(size=2)}
    assert_dict_gradient(course_style, params, X)


def _layer_params(params, l):
    return params["W" + str(l)], params["b" + str(l)]


def through_a_helper(params, layers, X):
    h = X.T
    for l in range(1, len(params) // 2 + 1):
        W, b = _layer_params(params, l)      # the key is made inside the helper
        h = np.tanh(h @ W + b)
    for W, b in layers[:-1]:                 # all but the last, then the last
        h = np.tanh(h @ W + b)
    W_out, b_out = layers[-1]
    return np.sum(h @ W_out + b_out)


def test_a_helper_reading_by_key_and_a_slice_of_the_layers():
    params = {"W1": rng.normal(size=(3, 4)), "b1": rng.normal(size=4)}
    layers = [(rng.normal(size=(4, 4)), rng.normal(size=4)), (rng.normal(size=(4, 2)), rng.normal(size=2))]
    got_params, got_layers = srcgrad.grad(through_a_helper, wrt=(0, 1))(params, layers, X)
    for key in params:
        want = numerical_gradient(lambda v, key=key: through_a_helper(dict(params, **{key: v}), layers, X),
                                  [params[key]])
        np.testing.assert_allclose(got_params[key], want, rtol=1e-6, atol=1e-8)
    for k in range(2):
        for j in range(2):
            def changed(v, k=k, j=j):
                new = [list(pair) for pair in layers]
                new[k][j] = v
                return through_a_helper(params, [tuple(pair) for pair in new], X)
            np.testing.assert_allclose(got_layers[k][j], numerical_gradient(changed, [layers[k][j]]),
                                       rtol=1e-6, atol=1e-8)


def _cell(params, h, x):
    return np.tanh(params["w"] * h + x)


def recurrent(a, xs):
    params = {"w": a}
    h = 0.0
    for t in range(20):                  # reads data by the counter: stays a loop
        h = _cell(params, h, xs[t])
    return np.sum(h)


def test_a_loop_reading_data_by_its_counter_is_not_unrolled():
    a, xs = 0.7, rng.normal(size=20)
    check(recurrent, a, xs, wrt=0)
    assert "for t in range(20):" in srcgrad.grad(recurrent).source
