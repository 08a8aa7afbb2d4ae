"""Issue #3, containers: list literals, append and indexing, list comprehensions (with `if`
filters), tuples, dict literals and `d["k"]` reads inside the differentiated function; and
parameter containers as wrt: `grad(loss)(params, X, y)` with params a dict / list / tuple
(nested) of arrays returns the gradient in the same structure, each leaf checked against
finite differences.
"""
import copy

import numpy as np
import pytest
from support import check, numerical_gradient

import srcgrad

RNG = np.random.default_rng(17)


# --- pytree helpers for the parameter-container tests ------------------------------------------

def leaves(tree, path=()):
    """(path, leaf) pairs of a nested dict / list / tuple, depth first, in order."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from leaves(value, path + (key,))
    elif isinstance(tree, (list, tuple)):
        for i, value in enumerate(tree):
            yield from leaves(value, path + (i,))
    else:
        yield path, tree


def get(tree, path):
    for key in path:
        tree = tree[key]
    return tree


def replace(tree, path, value):
    """A new tree with the leaf at `path` replaced; containers along the path are rebuilt,
    everything else is shared."""
    if not path:
        return value
    key, rest = path[0], path[1:]
    if isinstance(tree, dict):
        out = dict(tree)
        out[key] = replace(tree[key], rest, value)
        return out
    items = list(tree)
    items[key] = replace(tree[key], rest, value)
    return type(tree)(items)


def assert_same_structure(got, like, where="gradient"):
    """`got` has the containers of `like` (same types, same keys or lengths) and, at each
    leaf, a floating ndarray of the leaf's shape."""
    if isinstance(like, (dict, list, tuple)):
        assert type(got) is type(like), f"{where}: {type(got).__name__}, expected {type(like).__name__}"
        if isinstance(like, dict):
            assert set(got) == set(like), f"{where}: keys {sorted(got)}, expected {sorted(like)}"
            for key in like:
                assert_same_structure(got[key], like[key], f"{where}[{key!r}]")
        else:
            assert len(got) == len(like), f"{where}: length {len(got)}, expected {len(like)}"
            for i, (g, item) in enumerate(zip(got, like)):
                assert_same_structure(g, item, f"{where}[{i}]")
    else:
        assert isinstance(got, np.ndarray), f"{where}: {type(got).__name__}, expected an ndarray"
        assert got.shape == np.shape(like) and got.dtype.kind == "f", (where, got.shape, got.dtype)


def check_tree(f, *args, wrt=0, rtol=1e-5, atol=1e-7):
    """Assert srcgrad's gradient of f w.r.t. the container argument(s) `wrt` has their
    structure and, leaf by leaf, matches central finite differences."""
    got = srcgrad.grad(f, wrt=wrt)(*args)
    positions = wrt if isinstance(wrt, tuple) else (wrt,)
    per_position = got if isinstance(wrt, tuple) else (got,)
    assert len(per_position) == len(positions)
    for pos, g in zip(positions, per_position):
        assert_same_structure(g, args[pos])
        for path, leaf in leaves(args[pos]):
            def with_leaf(value, pos=pos, path=path):
                new_args = list(args)
                new_args[pos] = replace(args[pos], path, value)
                return f(*new_args)
            want = numerical_gradient(with_leaf, [np.asarray(leaf, dtype=np.float64)])
            np.testing.assert_allclose(get(g, path), want, rtol=rtol, atol=atol,
                                       err_msg=f"gradient of argument {pos} at {path}")
    return got


def test_pytree_helpers():
    tree = {"a": [np.ones(2), (np.zeros(3), np.ones((1, 2)))], "b": np.eye(2)}
    assert [p for p, _ in leaves(tree)] == [("a", 0), ("a", 1, 0), ("a", 1, 1), ("b",)]
    new = replace(tree, ("a", 1, 0), np.full(3, 7.0))
    assert type(new["a"][1]) is tuple and (new["a"][1][0] == 7.0).all()
    assert (tree["a"][1][0] == 0.0).all() and new["b"] is tree["b"]
    with pytest.raises(AssertionError):
        assert_same_structure({"a": [np.ones(2), [np.zeros(3), np.ones((1, 2))]], "b": np.eye(2)}, tree)
    with pytest.raises(AssertionError):
        assert_same_structure({"a": [np.ones(2), (np.zeros(3), np.ones((2, 1)))], "b": np.eye(2)}, tree)


# --- containers inside the function --------------------------------------------------------

def list_literal(x):
    parts = [np.sum(x), np.sum(x * x), x]
    return parts[0] * parts[1] + np.sum(parts[-1] ** 3)


def test_list_literal_and_indexing():
    x = RNG.normal(size=3)
    g = check(list_literal, x)
    np.testing.assert_allclose(g, np.sum(x * x) + np.sum(x) * 2 * x + 3 * x ** 2, rtol=1e-12)


def append_then_index(x, W):
    hs = []
    h = x
    for i in range(3):
        h = np.tanh(W @ h)
        hs.append(h)
    return np.sum(hs[-1]) + np.sum(hs[0] * hs[1]) + np.sum(np.stack(hs) ** 2) / len(hs)


def test_append_then_index():
    check(append_then_index, RNG.normal(size=3), RNG.normal(size=(3, 3)), wrt=(0, 1))


def appended_value_is_a_snapshot(x):
    out = []
    y = x * 2.0
    out.append(y)
    y = y * x                         # rebinding y does not change what was appended
    out.append(y)
    return np.sum(out[0]) + np.sum(out[1] ** 2)


def test_appended_value_is_the_value_at_append_time():
    x = RNG.normal(size=3)
    np.testing.assert_allclose(srcgrad.grad(appended_value_is_a_snapshot)(x),
                               2.0 + 16 * x ** 3, rtol=1e-12)


def list_comprehension(x, X, w):
    waves = [np.sin(x * k) for k in range(1, 4)]
    positives = [v * v for v in x if v > 0]
    even_rows = [row @ w for i, row in enumerate(X) if i % 2 == 0]
    pairs = [a * b for a in x for b in w]
    return np.sum(np.stack(waves)) + sum(positives) + sum(even_rows) + sum(pairs) * 0.5


def test_list_comprehensions_with_if_filters():
    x = np.array([0.7, -0.4, 1.1, -0.9])
    X, w = RNG.normal(size=(5, 3)), RNG.normal(size=3)
    dx, dX, dw = check(list_comprehension, x, X, w, wrt=(0, 1, 2))
    np.testing.assert_allclose(dx, sum(k * np.cos(k * x) for k in (1, 2, 3)) + 2 * x * (x > 0)
                               + 0.5 * np.sum(w), rtol=1e-12)
    np.testing.assert_array_equal(dX[1::2], 0.0)     # the filtered-out rows


def tuples(x):
    t = (x, 2.0 * x, np.sum(x))
    a, b, c = t
    return np.sum(t[0] * b) + c * t[-1] + np.sum(t[1:][0])


def test_tuples():
    x = RNG.normal(size=3)
    g = check(tuples, x)
    np.testing.assert_allclose(g, 4 * x + 2 * np.sum(x) + 2.0, rtol=1e-12)


def dict_literal(x, cfg):
    key = "b"
    d = {"a": x * 2.0, "b": np.sin(x), "n": cfg["power"]}
    return np.sum(d["a"] * d[key]) * d["n"] + np.sum(d["a"] ** cfg["power"]) * cfg["scale"]


def test_dict_literal_and_reads():
    x = RNG.normal(size=3)
    cfg = {"power": 3, "scale": 0.5}
    g = check(dict_literal, x, cfg)
    np.testing.assert_allclose(g, 3 * (2 * np.sin(x) + 2 * x * np.cos(x)) + 0.5 * 3 * 8 * x ** 2,
                               rtol=1e-12)


# --- parameter containers as wrt --------------------------------------------------------------

def linear_loss(params, X, y):
    pred = X @ params["W"] + params["b"]
    return np.mean((pred - y) ** 2)


def test_dict_of_parameters():
    params = {"W": RNG.normal(size=(3, 2)), "b": RNG.normal(size=2)}
    X, y = RNG.normal(size=(5, 3)), RNG.normal(size=(5, 2))
    g = check_tree(linear_loss, params, X, y)
    r = X @ params["W"] + params["b"] - y
    np.testing.assert_allclose(g["W"], 2 * X.T @ r / r.size, rtol=1e-10)
    np.testing.assert_allclose(g["b"], 2 * np.sum(r, axis=0) / r.size, rtol=1e-10)


def list_params(ws, x):
    return np.sum(np.tanh(ws[0] @ x) * ws[1]) + np.sum(ws[2] ** 2)


def test_list_of_parameters():
    ws = [RNG.normal(size=(2, 3)), RNG.normal(size=2), RNG.normal(size=(2, 2))]
    g = check_tree(list_params, ws, RNG.normal(size=3))
    np.testing.assert_allclose(g[2], 2 * ws[2], rtol=1e-12)


def tuple_params(params, x):
    W, b = params
    return np.sum(np.tanh(W @ x + b) ** 2)


def test_tuple_of_parameters():
    check_tree(tuple_params, (RNG.normal(size=(2, 3)), RNG.normal(size=2)), RNG.normal(size=3))


def mlp(params, X, y):
    h = X
    for layer in params["layers"]:
        h = np.tanh(h @ layer["W"] + layer["b"])
    out = h * params["scale"]
    return np.mean((out - y) ** 2)


def mlp_params():
    return {"layers": [{"W": RNG.normal(size=(3, 4)), "b": RNG.normal(size=4)},
                       {"W": RNG.normal(size=(4, 2)), "b": RNG.normal(size=2)}],
            "scale": RNG.uniform(0.5, 1.5, size=2)}


def test_nested_dict_of_lists_of_dicts():
    X, y = RNG.normal(size=(6, 3)), RNG.normal(size=(6, 2))
    check_tree(mlp, mlp_params(), X, y)


def unused_leaf(params, x):
    return np.sum(params["W"] @ x)


def test_unused_leaf_gets_zeros_of_its_shape():
    params = {"W": RNG.normal(size=(2, 3)), "unused": np.ones((4, 1)), "more": [np.ones(2)]}
    x = RNG.normal(size=3)
    g = check_tree(unused_leaf, params, x)
    assert g["unused"].shape == (4, 1) and not g["unused"].any() and not g["more"][0].any()


def test_container_and_array_in_one_wrt_tuple():
    params = mlp_params()
    X, y = RNG.normal(size=(6, 3)), RNG.normal(size=(6, 2))
    g_params, g_X = check_tree(mlp, params, X, y, wrt=(0, 1))
    assert isinstance(g_params, dict) and isinstance(g_X, np.ndarray) and g_X.shape == X.shape


def test_value_and_grad_of_a_container():
    params = {"W": RNG.normal(size=(3, 2)), "b": RNG.normal(size=2)}
    X, y = RNG.normal(size=(5, 3)), RNG.normal(size=(5, 2))
    value, g = srcgrad.value_and_grad(linear_loss)(params, X, y)
    assert value == pytest.approx(linear_loss(params, X, y), rel=1e-12)
    want = check_tree(linear_loss, params, X, y)
    for key in ("W", "b"):
        np.testing.assert_allclose(g[key], want[key], rtol=1e-12)


def test_float32_leaves_give_float32_gradients():
    params = {"W": RNG.normal(size=(3, 2)).astype(np.float32), "b": RNG.normal(size=2)}
    X, y = RNG.normal(size=(5, 3)), RNG.normal(size=(5, 2))
    g = srcgrad.grad(linear_loss)(params, X, y)
    assert g["W"].dtype == np.float32 and g["b"].dtype == np.float64


def test_container_gradient_leaves_the_callers_container_alone_and_shares_no_memory():
    params = mlp_params()
    before = copy.deepcopy(params)
    X, y = RNG.normal(size=(6, 3)), RNG.normal(size=(6, 2))
    g = srcgrad.grad(mlp)(params, X, y)
    assert_same_structure(params, before, "params")
    for (path, leaf), (_, old) in zip(leaves(params), leaves(before)):
        np.testing.assert_array_equal(leaf, old, err_msg=f"params changed at {path}")
        assert not np.shares_memory(get(g, path), leaf), path


def test_a_one_element_wrt_tuple_of_a_container_gives_a_one_element_tuple():
    params = {"W": RNG.normal(size=(3, 2)), "b": RNG.normal(size=2)}
    X, y = RNG.normal(size=(5, 3)), RNG.normal(size=(5, 2))
    (g,) = check_tree(linear_loss, params, X, y, wrt=(0,))
    value, (again,) = srcgrad.value_and_grad(linear_loss, wrt=("params",))(params, X, y)
    assert value == pytest.approx(linear_loss(params, X, y), rel=1e-12)
    assert set(g) == set(again) == {"W", "b"}
    np.testing.assert_allclose(again["W"], g["W"], rtol=1e-12)


def rest_and_keyword(params, X, *rest, scale=1.0):
    return np.sum(np.tanh(X @ params["W"]) ** 2) * scale + sum(np.sum(r * params["b"]) for r in rest)


def test_container_of_a_function_with_star_args_and_keyword_only_parameters():
    params = {"W": RNG.normal(size=(3, 2)), "b": RNG.normal(size=2)}
    X, extra = RNG.normal(size=(5, 3)), RNG.normal(size=2)
    g = srcgrad.grad(rest_and_keyword)(params, X, extra, extra, scale=2.0)
    for key in ("W", "b"):
        def f(leaf, key=key):
            return rest_and_keyword({**params, key: leaf}, X, extra, extra, scale=2.0)
        np.testing.assert_allclose(g[key], numerical_gradient(f, [params[key]]), rtol=1e-6)
    np.testing.assert_allclose(g["b"], 2 * extra, rtol=1e-12)


def keyword_only_container(X, *, params):
    return np.sum(X @ params["W"]) + params["c"] ** 2


def test_keyword_only_container():
    params = {"W": RNG.normal(size=(3, 2)), "c": 1.5}
    X = RNG.normal(size=(5, 3))
    g = srcgrad.grad(keyword_only_container, wrt="params")(X, params=params)
    np.testing.assert_allclose(g["W"], np.repeat(X.sum(axis=0)[:, None], 2, axis=1), rtol=1e-12)
    assert g["c"] == 3.0 and type(g["c"]) is float


def size_one_result(params, x):
    return params["w"].T @ params["w"] * x + params["b"]


def test_a_container_whose_loss_returns_a_value_of_size_one():
    params = {"w": RNG.normal(size=(3, 1)), "b": 0.5}
    g = srcgrad.grad(size_one_result)(params, 2.0)
    np.testing.assert_allclose(g["w"], 4 * params["w"], rtol=1e-12)
    assert g["b"] == 1.0
    value, g2 = srcgrad.value_and_grad(size_one_result)(params, 2.0)
    assert value.shape == (1, 1) and value[0, 0] == pytest.approx(size_one_result(params, 2.0)[0, 0])
    np.testing.assert_allclose(g2["w"], g["w"], rtol=1e-12)


class _Model:
    def __init__(self, k):
        self.k = k

    def loss(self, params, X):
        return self.k * np.sum((X @ params[0] + params[1]) ** 2)


def scaled_linear(params, X, scale):
    return scale * np.sum((X @ params[0] + params[1]) ** 2)


def test_containers_of_bound_methods_and_partials():
    import functools
    params, X = [RNG.normal(size=(3, 2)), RNG.normal(size=2)], RNG.normal(size=(4, 3))
    model = _Model(3.0)
    want = check_tree(scaled_linear, params, X, 3.0)
    for f in (model.loss, functools.partial(scaled_linear, scale=3.0)):
        got = srcgrad.grad(f)(params, X)
        assert type(got) is list
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-12)


def test_one_gradient_per_layout_and_the_source_of_the_last_call():
    g = srcgrad.grad(linear_loss)
    X, y = RNG.normal(size=(5, 3)), RNG.normal(size=(5, 2))
    small = {"W": RNG.normal(size=(3, 2)), "b": RNG.normal(size=2)}
    more = {"b": RNG.normal(size=2), "W": RNG.normal(size=(3, 2)), "unused": 1.0}
    first = g(small, X, y)
    assert "return {'W': dW, 'b': db}" in g.source
    second = g(more, X, y)
    assert "return {'b': db, 'W': dW, 'unused': 0.0}" in g.source
    assert list(second) == ["b", "W", "unused"] and second["unused"] == 0.0
    np.testing.assert_allclose(g(small, X, y)["W"], first["W"], rtol=0)
    assert "return {'W': dW, 'b': db}" in g.source


def picked_and_stacked(ws, i, X):
    return np.sum((X @ ws[i]) ** 2) + np.sum(np.stack(ws) ** 3)


def test_a_list_argument_indexed_by_a_number_known_only_when_it_runs():
    ws, X = [RNG.normal(size=3) for _ in range(3)], RNG.normal(size=(4, 3))
    for i in (0, 2):
        g = check_tree(picked_and_stacked, ws, i, X)
        np.testing.assert_allclose(g[1], 3 * ws[1] ** 2 + (2 * X.T @ (X @ ws[1]) if i == 1 else 0),
                                   rtol=1e-12)
    source = srcgrad.grad(picked_and_stacked)
    source(ws, 1, X)
    assert "ws_items = [ws_0, ws_1, ws_2]" in source.source


# ==============================================================================================
# Containers whose layout is known when the code is read, including parameter containers
# as `wrt`.
# ==============================================================================================

RNG2 = np.random.default_rng(17)



def code(source):
    """The generated statements, without the docstring and the comments quoting the source."""
    body = source.split('"""')[2]
    return "\n".join(line for line in body.splitlines() if not line.strip().startswith("#"))



def test_containers_read_with_constant_keys_and_unpacked():
    def f(x, w):
        params = {"w": w, "layers": [x * 2.0, np.sin(x)], "n": 2}
        first, second = params["layers"]
        t = (first, second, np.sum(x))
        hs = []
        for h in params["layers"]:
            hs.append(h * params["w"])
        return np.sum(t[0] * t[1]) + t[-1] ** params["n"] + np.sum(hs[1]) + len(hs)
    check(f, RNG2.normal(size=3), RNG2.normal(size=3), wrt=(0, 1))
    assert "params" not in code(srcgrad.grad(f).source)      # resolved statically



def mlp_of_layers(params, X, y):
    h = X
    for lay in params["layers"]:
        h = np.tanh(h @ lay["W"] + lay["b"])
    return np.mean((h * params["scale"] - y) ** 2)



def test_parameter_container_as_wrt_keeps_its_structure():
    params = {"layers": [{"W": RNG2.normal(size=(3, 4)), "b": RNG2.normal(size=4)},
                         {"W": RNG2.normal(size=(4, 2)), "b": RNG2.normal(size=2)}],
              "scale": 1.3}
    X, y = RNG2.normal(size=(5, 3)), RNG2.normal(size=(5, 2))
    grads = srcgrad.grad(mlp_of_layers)(params, X, y)
    assert set(grads) == {"layers", "scale"} and isinstance(grads["layers"], list)
    assert isinstance(grads["scale"], float)
    for path in [("layers", 0, "W"), ("layers", 1, "b")]:
        leaf = params[path[0]][path[1]][path[2]]
        got = grads[path[0]][path[1]][path[2]]
        assert got.shape == leaf.shape

        def loss_of_leaf(value, path=path):
            layers = [dict(layer) for layer in params["layers"]]
            layers[path[1]][path[2]] = value
            return mlp_of_layers(dict(params, layers=layers), X, y)
        assert got == pytest.approx(numerical_gradient(loss_of_leaf, (leaf,)), rel=1e-5, abs=1e-8)
    value, grads2 = srcgrad.value_and_grad(mlp_of_layers)(params, X, y)
    assert value == pytest.approx(mlp_of_layers(params, X, y))
    np.testing.assert_allclose(grads2["layers"][0]["W"], grads["layers"][0]["W"])



def test_tuple_of_parameters_and_array_together():
    def f(wb, x):
        w, b = wb
        return np.sum(np.tanh(x * w + b))
    wb, x = (RNG2.normal(size=3), 0.2), RNG2.normal(size=3)
    dwb, dx = srcgrad.grad(f, wrt=(0, 1))(wb, x)
    assert isinstance(dwb, tuple) and dwb[0].shape == (3,) and isinstance(dwb[1], float)
    t = np.tanh(x * wb[0] + wb[1])
    np.testing.assert_allclose(dwb[0], (1 - t * t) * x, rtol=1e-12)
    np.testing.assert_allclose(dx, (1 - t * t) * wb[0], rtol=1e-12)



def test_dynamic_use_of_a_container_of_differentiated_values_is_refused():
    def f(x, i):            # (`xs[i]` works: tests/test_values.py; a slice known at run time not)
        xs = [x, x * 2.0]
        return np.sum(xs[i:][0])
    with pytest.raises(srcgrad.UnsupportedSyntaxError):
        srcgrad.grad(f)(np.ones(2), 1)

