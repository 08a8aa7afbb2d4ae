"""The generated gradient is a product surface: check what it says, not just what it computes."""
import ast
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from support import check

import srcgrad

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
    except srcgrad.GradientRuntimeError as err:
        frames = traceback.extract_tb(err.__cause__.__traceback__)
        generated = [fr for fr in frames if fr.filename.startswith("<srcgrad")]
        assert generated and generated[-1].line == "X_at_w = X @ w"
        assert linecache.getline(generated[-1].filename, generated[-1].lineno).strip() == "X_at_w = X @ w"
    else:
        pytest.fail("no error")


def test_readme_quickstart_output_is_current():
    readme = open(os.path.join(ROOT, "README.md")).read()
    block = readme.split("<!-- quickstart-output -->", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    result = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "quickstart.py")],
                            capture_output=True, text=True, check=True)
    assert result.stdout == block
    code = readme.split("## Quick start", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert code == open(os.path.join(ROOT, "examples", "quickstart.py")).read()


def test_computation_graph_example_runs():
    result = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "computation_graph.py")],
                            capture_output=True, text=True, check=True)
    assert "16.0" in result.stdout and "48.0" in result.stdout and "88.0" in result.stdout
