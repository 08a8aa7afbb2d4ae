"""srcgrad works without a warning on Python 3.9-3.14: importing it, transforming,
running and printing (`.source`, export) with every warning an error, in a fresh
interpreter (so nothing imported earlier hides a warning issued at import time).

Runs under this Python and under each interpreter in SRCGRAD_TEST_PYTHONS (paths separated
by os.pathsep, e.g. a Python 3.13 virtual environment's python), and python3.9 ... python3.14
found on PATH that can import NumPy and gast.
"""
import os
import shutil
import subprocess
import sys
import tokenize

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = r'''
import warnings
warnings.simplefilter("error")            # every warning, DeprecationWarning first, fails

import numpy as np
import srcgrad
from srcgrad.export import export_source


def seed(a, b, c):
    return (a + 3 * b) * c ** 2


def loss(w, X, y):
    total = 0.0
    for i in range(X.shape[0]):
        r = X[i] @ w - y[i] if y[i] > -10 else 0.0
        total = total + r ** 2
    scale = [1.0 / (k + 1) for k in range(2)]
    return total * scale[0] + np.sum(np.tanh(w) ** -2 * scale[1])


assert srcgrad.grad(seed, wrt=(0, 1, 2))(2.0, 3.0, 4.0) == (16.0, 48.0, 88.0)
value, grads = srcgrad.value_and_grad(seed, wrt=(0, 1, 2))(2.0, 3.0, 4.0)
assert value == 176.0 and grads == (16.0, 48.0, 88.0)
assert srcgrad.jvp(seed, (2.0, 3.0, 4.0), (1.0, 0.0, 0.0)) == (176.0, 16.0)

rng = np.random.default_rng(0)
w, X, y = rng.normal(size=3), rng.normal(size=(4, 3)), rng.normal(size=4)
gradient = srcgrad.grad(loss)
assert srcgrad.check_grad(loss, w, X, y) < 1e-6
assert "def grad_loss(w, X, y):" in gradient.source
assert "def jvp_loss(" in srcgrad.jvp_function(loss).source
text, _ = export_source(gradient, name="grad_loss", source_module=__import__("__main__"),
                        source_path=__file__)
compile(text, "exported", "exec")
print("ok")
'''


def _interpreters():
    """This Python, then others that can import NumPy and gast (each Python version once)."""
    found = {f"{sys.version_info[0]}.{sys.version_info[1]}": sys.executable}
    candidates = [p for p in os.environ.get("SRCGRAD_TEST_PYTHONS", "").split(os.pathsep) if p]
    candidates += [shutil.which(f"python3.{minor}") for minor in range(9, 15)]
    for path in filter(None, candidates):
        done = subprocess.run([path, "-c", "import sys, numpy, gast; "
                               "print('%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=60)
        if done.returncode == 0 and done.stdout.strip() not in found:
            found[done.stdout.strip()] = path
    return sorted(found.items())


@pytest.mark.parametrize("version, python", _interpreters())
def test_no_warning_from_import_to_printed_source(version, python, tmp_path):
    script = tmp_path / "warning_free.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p]), PYTHONWARNINGS="error")
    done = subprocess.run([python, "-X", "dev", str(script)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path, env=env)
    assert done.returncode == 0, f"Python {version}:\n{done.stderr}"
    assert done.stdout == "ok\n" and done.stderr == ""


def test_no_ast_class_that_python_3_14_removes():
    """ast.Num, ast.Str, ast.Bytes, ast.NameConstant and ast.Ellipsis are deprecated since 3.8
    (warning since 3.12) and gone in 3.14; numbers and strings are ast.Constant."""
    removed = {"Num", "Str", "Bytes", "NameConstant", "Ellipsis"}
    package = os.path.join(ROOT, "srcgrad")
    for name in sorted(os.listdir(package)):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(package, name), encoding="utf-8") as f:
            tokens = [t for t in tokenize.generate_tokens(f.readline)
                      if t.type in (tokenize.NAME, tokenize.OP)]     # code, not comments
        for module, dot, attribute in zip(tokens, tokens[1:], tokens[2:]):
            assert not (module.string in ("ast", "gast") and dot.string == "." and
                        attribute.string in removed), f"{name}:{module.start[0]}"
