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


def test_keys_known_only_when_the_code_runs_are_refused():
    params = {"W1": rng.normal(size=(3, 3)), "W2": rng.normal(size=(3, 3))}
    with pytest.raises(srcgrad.UnsupportedSyntaxError,
                       match="cannot differentiate this use of a list, tuple or dict"):
        srcgrad.grad(by_runtime_count)(params, X, 2)


def long_range(a):
    table = {"k0": a}
    total = 0.0
    for i in range(100):                  # too long to unroll: a loop, reading table["k0"]
        total = total + table["k0"] * i
    return total


def test_a_long_loop_with_constant_keys_stays_a_loop():
    check(long_range, 0.5)
    assert "for i in range(100)" in srcgrad.grad(long_range).source
