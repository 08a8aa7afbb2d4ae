"""The generated gradient is a product surface: check what it says, not just what it computes."""
import ast
import collections
import dataclasses
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from support import check

import srcgrad

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RNG_SOURCE = np.random.default_rng(23)


def body_lines(source):
    return [line.strip() for line in source.splitlines()[2:] if line.strip()]


def code_lines(source):
    """The statements of the generated function (no header, docstring or comments)."""
    return [line for line in body_lines(source) if not line.startswith("#")]


def test_elementwise_chain_has_no_helpers_and_matches_hand_code():
    def f(x):
        return np.sum(np.tanh(x) ** 2)
    source = srcgrad.grad(f).source
    assert "unbroadcast" not in source and "broadcast_to" not in source
    code = [line for line in body_lines(source) if not line.startswith("#")]
    assert code == ["tanh_x = np.tanh(x)",
                    "dtanh_x = 2.0 * tanh_x",
                    "dx = dtanh_x * (1.0 - tanh_x * tanh_x)",
                    "return dx"]


def test_comment_per_adjoint_block_quotes_the_source_line():
    def f(w, X):
        z = X @ w            # a comment the quote leaves out
        h = np.tanh(z)
        return np.mean(h)
    source = srcgrad.grad(f).source
    comments = [line.strip() for line in source.splitlines() if line.strip().startswith("#")]
    name = os.path.basename(__file__)
    start = f.__code__.co_firstlineno
    assert comments == [f"# {name}:{start + 3}  return np.mean(h)",
                        f"# {name}:{start + 2}  h = np.tanh(z)",
                        f"# {name}:{start + 1}  z = X @ w"]


def test_adjoint_names_follow_variable_names():
    def f(W1, X, c):
        hidden = np.tanh(X @ W1)
        return np.sum(hidden * c)
    source = srcgrad.grad(f).source
    assert re.search(r"^\s+dW1 = ", source, re.M) and re.search(r"^\s+dhidden = ", source, re.M)
    assert "return dW1" in source


def test_first_contribution_assigned_later_ones_added_no_zero_buffers():
    def f(x):
        a = np.sin(x)
        b = np.cos(x)
        return np.sum(a * b)
    source = srcgrad.grad(f).source
    assert "zeros" not in source
    dx_lines = [line.strip() for line in source.splitlines() if line.strip().startswith("dx =")]
    assert len(dx_lines) == 2 and dx_lines[1].startswith("dx = dx + ")
    check(f, np.linspace(0.1, 1.0, 5))


def test_dead_code_is_removed():
    def f(x, y):
        unused = np.exp(y) * 3.0
        also_unused = x + 1.0
        return np.sum(x * x)
    source = srcgrad.grad(f).source
    code = "\n".join(code_lines(source))
    assert "unused" not in code and "np.exp" not in code and "y" not in code
    assert code_lines(source) == ["dx = 2.0 * x", "return dx"]


def test_value_not_computed_when_only_the_gradient_is_asked():
    def f(x):
        return np.sum(x ** 2)
    assert "np.sum" not in "".join(code_lines(srcgrad.grad(f).source))
    assert "np.sum" in "".join(code_lines(srcgrad.value_and_grad(f).source))


def test_unbroadcast_only_where_broadcasting_can_happen():
    def f(x, b):
        z = np.exp(x) * 2.0 + 1.0     # x with constants: shapes certainly equal
        return np.sum(z * b)          # b may broadcast against z
    source = srcgrad.grad(f, wrt=(0, 1)).source
    assert source.count("unbroadcast(") == 2     # db, and dz_times... for z vs b
    assert "dx = " in source and "unbroadcast" not in [l for l in source.splitlines() if "dx =" in l][0]
    check(f, np.ones((2, 3)), np.arange(3.0), wrt=(0, 1))


def test_negative_constants_keep_their_parentheses():
    def f(x):
        return np.sum((-1.5) ** 2 * x ** -2.0 - (-x) ** 3)
    source = srcgrad.grad(f).source
    for line in source.splitlines():
        assert not re.search(r"(?<![\w)\]]) *-\d+(\.\d+)? \*\*", line.split("#")[0]), line
    check(f, np.linspace(0.5, 2.0, 4))


def test_no_numpy_scalar_constants_in_source():
    def f(x):
        return np.sum(np.exp2(x) + np.log10(x))
    source = srcgrad.grad(f).source
    assert "np.float64(" not in source and "float64" not in source
    check(f, np.linspace(0.5, 2.0, 4))


def test_generated_source_is_valid_python_and_compiles():
    def f(w, X, y):
        r = X @ w - y
        return np.mean(r ** 2) + 0.1 * np.sum(np.abs(w))
    source = srcgrad.value_and_grad(f, wrt=(0, 1)).source
    ast.parse(source)


def test_traceback_and_linecache_show_generated_lines():
    import linecache
    import traceback

    def f(w, X):
        return np.sum(X @ w)
    g = srcgrad.grad(f)
    try:
        g(np.ones(3), np.ones((2, 4)))
    except ValueError as err:
        frames = traceback.extract_tb(err.__traceback__)
        generated = [fr for fr in frames if fr.filename.startswith("<srcgrad")]
        assert generated and generated[-1].line == "X_at_w = X @ w"
        assert linecache.getline(generated[-1].filename, generated[-1].lineno).strip() == "X_at_w = X @ w"
        # the line numbers of .source
        assert g.source.splitlines()[generated[-1].lineno - 1].strip() == "X_at_w = X @ w"
    else:
        pytest.fail("no error")


def test_readme_quickstart_output_is_current():
    readme = open(os.path.join(ROOT, "README.md")).read()
    block = readme.split("<!-- quickstart-output -->", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    result = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "quickstart.py")],
                            capture_output=True, text=True, check=True)
    assert result.stdout == block
    code = readme.split("## Quick start", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert code == open(os.path.join(ROOT, "examples", "quickstart.py")).read()


def test_computation_graph_example_runs():
    result = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "computation_graph.py")],
                            capture_output=True, text=True, check=True)
    assert "16.0" in result.stdout and "48.0" in result.stdout and "88.0" in result.stdout


# --- parameter containers: the gradient of the user's own function, read from the container -----

Affine = collections.namedtuple("Affine", "W b")


@dataclasses.dataclass
class Dense:
    W: np.ndarray
    b: np.ndarray


def dict_mlp(params, X, y):
    h = np.tanh(X @ params["W1"] + params["b1"])
    out = h @ params["W2"] + params["b2"]
    return np.mean((out - y) ** 2)


def _comments(source):
    return [line.strip() for line in source.splitlines() if line.strip().startswith("#")]


def test_a_dict_of_parameters_reads_like_the_users_code():
    X, y = RNG_SOURCE.normal(size=(5, 3)), RNG_SOURCE.normal(size=(5, 2))
    params = {"W1": RNG_SOURCE.normal(size=(3, 4)), "b1": np.zeros(4),
              "W2": RNG_SOURCE.normal(size=(4, 2)), "b2": np.zeros(2)}
    grad_fn = srcgrad.grad(dict_mlp)
    g = grad_fn(params, X, y)
    for key in params:
        def f(leaf, key=key):
            return dict_mlp({**params, key: leaf}, X, y)
        np.testing.assert_allclose(g[key], srcgrad.numerical_gradient(f, (params[key],), 0),
                                   rtol=1e-6, atol=1e-9)
    source = grad_fn.source
    lines = source.splitlines()
    assert lines[0] == "def grad_dict_mlp(params, X, y):"
    assert lines[1] == ('    """Gradient of dict_mlp (test_generated_source.py:'
                        f'{dict_mlp.__code__.co_firstlineno}) with respect to params; generated by srcgrad."""')
    assert lines[2:6] == ["    W1 = params['W1']", "    b1 = params['b1']",
                          "    W2 = params['W2']", "    b2 = params['b2']"]
    code = code_lines(source)
    assert "h = np.tanh(X_at_W1 + b1)" in code
    assert "dW1 = X.T @ dX_at_W1 if X.ndim == 2 else matmul_adjoint_rhs(dX_at_W1, X, W1)" in code
    assert "db2 = unbroadcast(dout, b2)" in code
    assert code[-1] == "return {'W1': dW1, 'b1': db1, 'W2': dW2, 'b2': db2}"
    start = dict_mlp.__code__.co_firstlineno
    here = os.path.basename(__file__)
    assert _comments(source) == [f'# {here}:{start + 3}  return np.mean((out - y) ** 2)',
                                 f'# {here}:{start + 2}  out = h @ params["W2"] + params["b2"]',
                                 f'# {here}:{start + 1}  h = np.tanh(X @ params["W1"] + params["b1"])']
    for shim in ("<srcgrad", "__srcgrad", "parameters_0", "params_0", "test_generated_source.np"):
        assert shim not in source


def records_loss(layers, head, X):
    h = X
    for layer in layers:
        h = np.tanh(h @ layer.W + layer.b)
    return np.sum((h @ head.W + head.b) ** 2)


def test_records_in_a_list_and_a_namedtuple_read_by_their_fields():
    X = RNG_SOURCE.normal(size=(4, 3))
    layers = [Dense(RNG_SOURCE.normal(size=(3, 3)), RNG_SOURCE.normal(size=3)),
              Dense(RNG_SOURCE.normal(size=(3, 3)), RNG_SOURCE.normal(size=3))]
    head = Affine(RNG_SOURCE.normal(size=(3, 1)), RNG_SOURCE.normal(size=1))
    grad_fn = srcgrad.grad(records_loss, wrt=(0, 1))
    g_layers, g_head = grad_fn(layers, head, X)
    assert type(g_layers) is list and all(type(d) is Dense for d in g_layers) and type(g_head) is Affine
    want = srcgrad.numerical_gradient(lambda W: records_loss(layers, Affine(W, head.b), X), (head.W,), 0)
    np.testing.assert_allclose(g_head.W, want, rtol=1e-6)
    want = srcgrad.numerical_gradient(
        lambda b: records_loss([layers[0], Dense(layers[1].W, b)], head, X), (layers[1].b,), 0)
    np.testing.assert_allclose(g_layers[1].b, want, rtol=1e-6)
    source = grad_fn.source
    assert source.startswith("def grad_records_loss(layers, head, X):\n")
    code = code_lines(source)
    assert code[:6] == ["layers_0_W = layers[0].W", "layers_0_b = layers[0].b",
                        "layers_1_W = layers[1].W", "layers_1_b = layers[1].b",
                        "W = head.W", "b = head.b"]     # (free names: the fields themselves)
    assert code[-1] == ("return [Dense(W=dlayers_0_W, b=dlayers_0_b), Dense(W=dlayers_1_W, "
                        "b=dlayers_1_b)], Affine(W=dW, b=db)")
    assert "with respect to layers, head;" in source


def names_taken(params, X):
    W = params["W"] * 2.0
    return np.sum(X @ W) + np.sum(params["b"] ** 2)


def test_a_leaf_whose_key_the_function_uses_is_named_after_its_parameter():
    X = RNG_SOURCE.normal(size=(4, 3))
    params = {"W": RNG_SOURCE.normal(size=(3, 2)), "b": RNG_SOURCE.normal(size=2)}
    grad_fn = srcgrad.grad(names_taken)
    g = grad_fn(params, X)
    np.testing.assert_allclose(g["b"], 2 * params["b"], rtol=1e-12)
    np.testing.assert_allclose(g["W"], 2.0 * np.repeat(X.sum(axis=0)[:, None], 2, axis=1), rtol=1e-12)
    code = code_lines(grad_fn.source)
    assert code[:2] == ["params_W = params['W']", "b = params['b']"]
    assert code[-1] == "return {'W': dparams_W, 'b': db}"


def test_a_list_of_parameters_is_read_by_index():
    def unpacks(ws, x):
        W, b = ws
        return np.sum(np.tanh(W @ x + b))
    ws, x = [RNG_SOURCE.normal(size=(2, 3)), RNG_SOURCE.normal(size=2)], RNG_SOURCE.normal(size=3)
    grad_fn = srcgrad.grad(unpacks)
    g = grad_fn(ws, x)
    np.testing.assert_allclose(g[1], 1.0 - np.tanh(ws[0] @ x + ws[1]) ** 2, rtol=1e-12)
    code = code_lines(grad_fn.source)
    assert code[:2] == ["ws_0 = ws[0]", "ws_1 = ws[1]"] and code[-1] == "return [dW, db]"
