"""srcgrad's printer of generated code (srcgrad/printing.py): the text it writes, and that
Python reads that text back as the same tree, on hand-picked corners and on whole files."""
import ast
import copy
import os
import random

import gast
import numpy as np
import pytest

import srcgrad
from srcgrad import emit
from srcgrad.printing import source
from support import check

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def printed(text):
    return source(ast.parse(text))


@pytest.mark.parametrize("text", [
    "return dw, db",                       # tuples bare where Python allows
    "a, b = x",
    "x = a, b",
    "x = a,",
    "x = ()",
    "for i, (j, k) in zip(a, b):\n    pass",
    "y = f((a, b))",
    "y = [a, (b, c)]",
    "y = a[1, 2]",
    "y = a[:, None]",
    "y = a[1:, ::2, ...]",
    "y = a[(b, c),]",
    "y = a[()]",
    "y = x ** -1",                         # powers: right-associative, -x on the right
    "y = (-x) ** 2",
    "y = -x ** 2",
    "y = (a ** b) ** c",
    "y = a ** b ** c",
    "y = a - (b - c)",                     # left-associative operators
    "y = a - b - c",
    "y = a / (b * c)",
    "y = a * -b",
    "y = (a + b).sum(axis=-1, keepdims=True)",
    "y = a if c else b if d else e",
    "y = (a if c else b) if d else e",
    "y = a and b or not c",
    "y = a and (b or c)",
    "y = (not a) == b",
    "y = not a < b < c",
    "y = lambda: 0",
    "y = lambda x, *a, k=1, **kw: x + 1",
    "y = [u * v for u, v in zip(a, b) if u > 0]",
    "y = {k: v for k, v in d.items()}",
    "y = {'W': 1, **d}",
    "y = {-1: h, 3: a}",
    "y = sum(x for x in a)",
    "y = f(*a, b, **k)",
    "y = (1).real",
    "y = (a := 3) + a",
    "x[i] += 1.5e-08",
    "raise ValueError('x must be 2-d') from None",
    "assert x.ndim == 2, 'no'",
    "if a:\n    x = 1\nelif b:\n    x = 2\nelse:\n    pass",
    "while n > 0:\n    n -= 1\nelse:\n    n = 3",
    "with np.errstate(divide='ignore'):\n    y = 1 / x",
    "def f(a, /, b=1, *, c, d=2, **e):\n    return a",
    "y = f'{x:.3f} and {y!r}'",
    "del x[0], y",
    "nonlocal a, b",
])
def test_prints_as_little_as_python_needs(text):
    assert printed(text) == text


@pytest.mark.parametrize("tree, text", [
    # negative numbers made by folding read as a unary minus: (-1) ** x, not -1 ** x
    (ast.BinOp(ast.Constant(-1), ast.Pow(), ast.Name("x", ast.Load())), "(-1) ** x"),
    (ast.BinOp(ast.Name("x", ast.Load()), ast.Pow(), ast.Constant(-2)), "x ** -2"),
    (ast.BinOp(ast.Constant(-1.5), ast.Mult(), ast.Name("x", ast.Load())), "-1.5 * x"),
    (ast.Attribute(ast.Constant(-1), "real", ast.Load()), "(-1).real"),
    (ast.UnaryOp(ast.USub(), ast.Constant(-1)), "--1"),
    (ast.Constant(True), "True"),
    (ast.Constant(float("inf")), "1e1000"),
    (ast.Constant(float("-inf")), "-1e1000"),
])
def test_constants_made_by_folding(tree, text):
    assert source(tree) == text
    assert eval(text, {"x": 3.0}) == eval(compile(ast.Expression(
        ast.fix_missing_locations(tree)), "<tree>", "eval"), {"x": 3.0})


def _same_tree(a, b):
    """Whether two trees are one, whatever the ctx of their names (a name printed alone, a
    loop's target, is read back as a load)."""
    def dump(tree):
        tree = copy.deepcopy(tree)
        for node in ast.walk(tree):
            if hasattr(node, "ctx"):
                node.ctx = ast.Load()
        return ast.dump(tree)
    return dump(a) == dump(b)


@pytest.mark.parametrize("name", ["srcgrad/rules.py", "srcgrad/runtime.py",
                                  "examples/char_rnn.py", "examples/mlp_classifier.py"])
def test_whole_files_read_back_as_the_same_tree(name):
    """The rule table's lambdas (pasted into generated code), the runtime helpers (copied by
    export), examples; with classes, try and f-strings, which go to ast.unparse."""
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    assert ast.dump(ast.parse(source(tree))) == ast.dump(tree)


def test_generated_code_reads_back_as_the_tree_printed(monkeypatch, tmp_path):
    """Every statement and expression srcgrad prints for the gradients and JVP functions of
    random programs is read by Python as the tree that was printed."""
    from random_programs import generate_program, load_module
    printed_trees = []

    def checked(node):
        tree = gast.gast_to_ast(node)
        text = source(tree)
        printed_trees.append((tree, text))
        return text
    monkeypatch.setattr(emit, "to_source", checked)
    for seed in range(6):
        module = load_module(generate_program(random.Random(seed)).source, str(tmp_path),
                             f"printing_program_{seed}")
        for function in (srcgrad.grad(module.f, wrt=(0, 1)),
                         srcgrad.jvp_function(module.f, wrt=(0, 2))):
            try:
                function.source
            except srcgrad.SrcgradError:      # forward mode refuses lists built in loops
                pass
    assert len(printed_trees) > 300
    for tree, text in printed_trees:
        again = ast.parse(text, mode="eval").body if isinstance(tree, ast.expr) else \
            ast.parse(text).body[0]
        assert _same_tree(again, tree), text


STATE = """import numpy as np


def h(x, w, n):
    hs = {-1: x}
    for t in range(n):
        hs[t] = np.tanh(w * hs[t - 1])
    return np.sum(hs[n - 1]) ** -1
"""


def test_a_generated_gradient_as_a_person_writes_it(tmp_path):
    """Dict keys, tuples and powers without parentheses Python does not need (astor wrote
    {(-1): x}); the gradient is right."""
    from random_programs import load_module
    module = load_module(STATE, str(tmp_path), "printing_state")
    gradient = srcgrad.grad(module.h, wrt=(0, 1))
    lines = [line.strip() for line in gradient.source.splitlines()]
    assert "hs = {-1: x}" in lines
    assert "hs_2_item, t, t_minus_one, tanh = tape.pop()" in lines
    assert "dsum_hs_2_item_2 = -sum_hs_2_item_2 ** -2" in lines
    assert lines[-1] == "return dx, dw"
    check(module.h, np.array([0.3, -0.7]), 0.9, 3, wrt=(0, 1))
