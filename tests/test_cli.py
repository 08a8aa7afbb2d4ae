"""The command line: `srcgrad show / export / check FILE.py:FUNCTION` (or MODULE:FUNCTION).

Most tests call `cli.main([...])` in-process; a few run `python -m srcgrad` to see the real
thing (exit status, nothing but one line on stderr).  Exported modules are run in a
subprocess where `import srcgrad` fails, and must give srcgrad's gradients.
"""
import ast
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import srcgrad
from srcgrad import cli

MODEL = '''
import numpy as np

SCALE = 2.0
W0 = np.array([1.0, -2.0, 0.5])


def loss(w, X, y):
    r = X @ w - y
    return np.mean(r ** 2)


def mlp(W1, b1, W2, X, y):
    h = np.tanh(X @ W1 + b1)
    out = h @ W2
    return np.sum((out - y) ** 2)


def loop_branch(x, n):
    acc = 0.0
    for i in range(n):
        if i % 2 == 0:
            acc = acc + np.sum(np.sin(x) * i)
        else:
            acc = acc - np.sum(x ** 2)
    return acc * SCALE


def writes(x, v):
    y = np.zeros(4)
    y[1] = v
    y[2:] = x[:2] * 3
    return np.sum(y ** 2)


def two(w, b, X):
    return np.sum(np.tanh(X @ w + b) ** 2)


def reads_array(x, t=1.5):
    return np.sum(x * W0) * t


def alias(a, b):
    return np.sum(a * b)


def shadows(x, unbroadcast, fit_gradient=1.0):
    # names srcgrad's helpers have, as parameters: the helpers get other names
    return np.sum(np.tanh(x) * unbroadcast) * fit_gradient


def uses_try(x):
    try:
        y = np.sum(x)
    except ValueError:
        y = 0.0
    return y
'''

DECORATED = '''
import numpy as np
import srcgrad

print("training...")      # a script's output goes to stderr, not into the source shown


@srcgrad.grad(wrt="b")
def deco(a, b):
    return np.sum(a * b ** 2)
'''

# Runs exported modules where srcgrad cannot be imported: `-I` keeps PYTHONPATH and the
# current directory off sys.path, and a finder in front of all others refuses srcgrad
# (the editable install would otherwise still find it).  NumPy imports as usual.
RUN_WITHOUT_SRCGRAD = '''
import importlib.util, json, sys

class NoSrcgrad:
    def find_spec(self, name, path=None, target=None):
        if name == "srcgrad" or name.startswith("srcgrad."):
            raise ImportError("srcgrad is not importable here")

sys.meta_path.insert(0, NoSrcgrad())
import numpy as np

cases = json.load(open(sys.argv[1]))
results = []
for i, case in enumerate(cases):
    spec = importlib.util.spec_from_file_location(f"exported_{i}", case["module"])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    args = [np.array(a) if isinstance(a, list) else a for a in case["args"]]
    out = getattr(module, case["name"])(*args)
    out = list(out) if isinstance(out, tuple) else [out]
    arrays = [a for a in args if isinstance(a, np.ndarray)]
    results.append([{"value": np.asarray(g).tolist(), "type": type(g).__name__,
                     "is_arg": any(g is a for a in arrays)} for g in out])
assert "srcgrad" not in sys.modules
json.dump(results, open(sys.argv[2], "w"))
'''


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(MODEL)
    return path


def run(argv, capsys):
    """(exit status, stdout, stderr) of cli.main(argv)."""
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


# `python -m srcgrad` in a subprocess runs in another directory: it must import this srcgrad
# (a relative PYTHONPATH=. would not reach it, and an installed srcgrad may be another copy)
SRCGRAD_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(srcgrad.__file__)))


def run_process(*argv, cwd=None):
    path = os.pathsep.join([SRCGRAD_ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    return subprocess.run([sys.executable, "-m", "srcgrad", *map(str, argv)], cwd=cwd,
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=path))


def model_function(path, name):
    return getattr(cli.load_module(str(path)), name)


# --- show -------------------------------------------------------------------------------

def test_show_prints_the_generated_source(model, capsys):
    status, out, err = run(["show", f"{model}:loss"], capsys)
    assert status == 0 and err == ""
    assert out == srcgrad.grad(model_function(model, "loss")).source
    assert "# model.py:10  return np.mean(r ** 2)" in out


def test_show_with_two_wrt_names(model, capsys):
    status, out, _ = run(["show", f"{model}:mlp", "--wrt", "W1", "W2"], capsys)
    assert status == 0
    assert out == srcgrad.grad(model_function(model, "mlp"), wrt=("W1", "W2")).source
    assert out.rstrip().endswith("return dW1, dW2")


def test_show_through_python_m(model):
    done = run_process("show", "model.py:loss", "--wrt", "w", cwd=model.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("def grad_loss(w, X, y):")


def test_show_unwraps_a_function_decorated_in_the_file(tmp_path, capsys):
    path = tmp_path / "decorated.py"
    path.write_text(DECORATED)
    status, out, err = run(["show", f"{path}:deco"], capsys)
    assert status == 0 and err == "training...\n"
    decorated = model_function(path, "deco")
    assert out == decorated.source          # the decorator's wrt="b" is kept
    assert "with respect to b" in out


# --- export -----------------------------------------------------------------------------

def _cases(rng):
    """(function, wrt options, arguments) for the export comparison."""
    return [
        ("loss", [], [rng.normal(size=3), rng.normal(size=(10, 3)), rng.normal(size=10)]),
        ("mlp", ["--wrt", "W1", "b1", "W2"],
         [rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(4, 2)),
          rng.normal(size=(6, 3)), rng.normal(size=(6, 2))]),
        ("loop_branch", [], [rng.normal(size=5), 5]),
        ("writes", ["--wrt", "x", "v"], [rng.normal(size=3), 0.7]),
        ("two", ["--wrt", "w", "b"], [rng.normal(size=3), 0.3, rng.normal(size=(4, 3))]),
        ("reads_array", [], [rng.normal(size=3)]),
        ("alias", [], [2.0, 3.0]),
        ("alias", [], [rng.normal(size=3), rng.normal(size=3)]),
        ("shadows", [], [rng.normal(size=(2, 3)), rng.normal(size=3), 0.5]),
    ]


def _imported(text):
    """The modules a module's source imports."""
    names = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append(node.module or "")
    return names


def _wrt_of(options):
    names = options[1:]
    return 0 if not names else names[0] if len(names) == 1 else tuple(names)


def test_exported_modules_give_srcgrads_gradients_without_srcgrad(model, tmp_path, capsys):
    rng = np.random.default_rng(1)
    cases, expected = [], []
    for i, (name, options, args) in enumerate(_cases(rng)):
        out_path = tmp_path / "exported" / f"grad_{name}_{i}.py"
        out_path.parent.mkdir(exist_ok=True)
        status, _, err = run(["export", f"{model}:{name}", "-o", out_path, *options], capsys)
        assert status == 0, err
        text = out_path.read_text()
        assert not any(m.split(".")[0] == "srcgrad" for m in _imported(text)), name
        cases.append({"module": str(out_path), "name": f"grad_{name}",
                      "args": [a.tolist() if isinstance(a, np.ndarray) else a for a in args]})
        want = srcgrad.grad(model_function(model, name), wrt=_wrt_of(options))(*args)
        expected.append(list(want) if isinstance(want, tuple) else [want])
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    (tmp_path / "run.py").write_text(RUN_WITHOUT_SRCGRAD)
    done = subprocess.run([sys.executable, "-I", str(tmp_path / "run.py"),
                           str(tmp_path / "cases.json"), str(tmp_path / "results.json")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    for case, want, got in zip(cases, expected, results):
        assert len(got) == len(want), case["name"]
        for w, g in zip(want, got):
            np.testing.assert_allclose(g["value"], w, rtol=1e-12, atol=1e-12,
                                       err_msg=case["name"])
            assert g["type"] == type(w).__name__, case["name"]   # a float for a float
            assert not g["is_arg"], case["name"]                 # never an argument array itself


def test_exported_module_reads(model, capsys):
    """How the module is laid out and how it gets the user's globals."""
    status, text, err = run(["export", f"{model}:reads_array"], capsys)
    assert status == 0
    assert text.startswith('"""Gradient of reads_array (model.py:')
    assert "grad_reads_array(x, t=1.5) -> the gradient with respect to x" in text
    assert text.index("# --- from model.py") < text.index("def unbroadcast") < \
        text.index("def grad_reads_array")
    assert "W0 = _source.W0" in text          # an array: read from model.py
    assert "note: the exported module imports model.py" in err and "W0" in err
    status, text, err = run(["export", f"{model}:loop_branch"], capsys)
    assert "SCALE = 2.0" in text              # a literal: copied
    assert "_import_source" not in text and err == ""
    assert "def with_set" not in text         # only the helpers the gradient calls
    assert "def nonscalar_result" in text     # srcgrad's check, as a ValueError


def test_export_name_and_stdout_are_the_same_module(model, tmp_path, capsys):
    status, printed, _ = run(["export", f"{model}:loss", "--name", "dloss"], capsys)
    assert status == 0 and "\ndef dloss(w, X, y):" in printed
    status, _, _ = run(["export", f"{model}:loss", "--name", "dloss", "-o",
                        tmp_path / "dloss.py"], capsys)
    assert (tmp_path / "dloss.py").read_text() == printed
    status, _, err = run(["export", f"{model}:loss", "--name", "not-a-name"], capsys)
    assert status == 2 and "'not-a-name' is not a Python identifier" in err


def test_export_raises_non_scalar_results_as_value_error(tmp_path, capsys):
    path = tmp_path / "vector.py"
    path.write_text("import numpy as np\n\ndef f(x, k):\n    return np.sum(x) * k\n")
    status, text, _ = run(["export", f"{path}:f"], capsys)
    namespace = {}
    exec(compile(text, "exported", "exec"), namespace)
    assert np.allclose(namespace["grad_f"](np.ones(2), 3.0), [3.0, 3.0])
    with pytest.raises(ValueError, match=r"f must return a scalar .* shape \(2,\)"):
        namespace["grad_f"](np.ones(2), np.ones(2))


# --- check ------------------------------------------------------------------------------

def test_check_passes_and_prints_the_differences(model, capsys):
    status, out, err = run(["check", f"{model}:mlp", "--shape", "W1=3,4", "--shape", "b1=4",
                            "--shape", "W2=4,2", "--shape", "X=5,3", "--shape", "y=5,2",
                            "--wrt", "W1", "W2", "--seed", "3"], capsys)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("mlp (model.py:13), seed 3")
    for name, line in zip(["W1", "W2"], lines[1:3]):
        assert line.split()[0] == name and line.endswith("ok")
        assert float(line.split("= ")[1].split()[0]) < 1e-6
    assert lines[-1] == "ok: the gradient matches finite differences"


def test_check_scalars_ints_and_decorated_functions(model, tmp_path, capsys):
    path = tmp_path / "decorated.py"
    path.write_text(DECORATED)
    status, out, _ = run(["check", f"{path}:deco", "--shape", "a=3", "--shape", "b=3"], capsys)
    assert status == 0 and out.startswith("deco (decorated.py:9)") and "  b  shape (3,)" in out
    status, out, _ = run(["check", f"{model}:writes", "--shape", "x=3", "--scalar", "v",
                          "--wrt", "x", "v"], capsys)
    assert status == 0 and "v  shape ()" in out
    status, out, _ = run(["check", f"{model}:loop_branch", "--shape", "x=2",
                          "--int", "n=4"], capsys)
    assert status == 0
    status, out, _ = run(["check", f"{model}:two", "--shape", "w=3", "--shape", "b=",
                          "--shape", "X=4,3", "--wrt", "b"], capsys)
    assert status == 0 and "b  shape ()" in out


def test_check_out_of_tolerance_exits_1(model, capsys):
    status, out, _ = run(["check", f"{model}:loss", "--shape", "w=3", "--shape", "X=4,3",
                          "--shape", "y=4", "--atol", "-1", "--rtol", "0"], capsys)
    assert status == 1
    assert "FAILED" in out and "out of tolerance" in out


@pytest.mark.parametrize("argv, message", [
    (["--shape", "x=3"], "no value for parameter 'n': give --shape n=DIMS, --scalar n or "
                         "--int n=N"),
    (["--shape", "x=3,a", "--int", "n=2"], "dimensions are integers separated by commas"),
    (["--shape", "x=3", "--int", "n=two"], "'two' is not an integer"),
    (["--shape", "x=3", "--int", "n=2", "--shape", "z=2"], "loop_branch has no parameter 'z'"),
    (["--shape", "x=3", "--int", "n=2", "--wrt", "n"], "needs a float argument"),
])
def test_check_usage_errors(model, capsys, argv, message):
    status, _, err = run(["check", f"{model}:loop_branch", *argv], capsys)
    assert status == 2
    assert err.startswith("srcgrad: error: ") and message in err


# --- errors -----------------------------------------------------------------------------

@pytest.mark.parametrize("argv, status, message", [
    (["show", "missing.py:f"], 1, "no such file: missing.py"),
    (["show", "model.py:nope"], 1, "model.py has no function 'nope' (functions there: alias, "),
    (["show", "model.py"], 2, "expected FILE.py:FUNCTION or MODULE:FUNCTION, got 'model.py'"),
    (["show", "model.py:Model.loss"], 2, "'Model.loss' is not a function name"),
    (["show", "model.py:SCALE"], 1, "model.py:SCALE is not a function but float"),
    (["show", "model.py:loss", "--wrt", "q"], 1, "--wrt q is not a parameter of loss"),
    (["frobnicate"], 2, "invalid choice: 'frobnicate'"),
    (["show", "model.py:loss", "--bogus"], 2, "unrecognized arguments: --bogus"),
])
def test_errors_are_one_line_with_an_exit_status(model, capsys, monkeypatch, argv, status,
                                                 message):
    monkeypatch.chdir(model.parent)
    got, out, err = run(argv, capsys)
    assert got == status and out == ""
    assert err.startswith("srcgrad: error: ") and message in err
    lines = err.splitlines()
    assert len(lines) == 1 or lines[1].startswith("hint: "), err


def test_unsupported_code_prints_the_error_and_its_hint(model):
    done = run_process("show", "model.py:uses_try", cwd=model.parent)
    assert done.returncode == 1 and done.stdout == ""
    first, hint = done.stderr.splitlines()
    assert first.startswith("srcgrad: error: ") and "model.py:" in first
    assert "cannot differentiate a function containing a `try` statement" in first
    assert hint.startswith("hint: ")


def test_a_module_that_fails_to_import(tmp_path):
    (tmp_path / "broken.py").write_text("import numpy as np\nraise RuntimeError('no data')\n")
    done = run_process("show", "broken.py:f", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr == (f"srcgrad: error: cannot import {tmp_path / 'broken.py'}: "
                           "RuntimeError: no data\n")


def test_usage_error_through_python_m(model):
    done = run_process("show", cwd=model.parent)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr == "srcgrad: error: the following arguments are required: " \
                          "FILE.py:FUNCTION|MODULE:FUNCTION (see srcgrad --help)\n"


def test_help(capsys):
    status, out, _ = run(["--help"], capsys)
    assert status == 0 and "show" in out and "export" in out and "check" in out


def test_console_script():
    script = shutil.which("srcgrad", path=os.path.dirname(sys.executable))
    if script is None:
        pytest.skip("the srcgrad console script is not installed (reinstall the package)")
    done = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and textwrap.dedent("usage: srcgrad") in done.stdout


def test_literals_are_copied_exactly():
    from srcgrad.export import _literal
    assert _literal(0.1) == "0.1" and _literal((1, "a", None)) == "(1, 'a', None)"
    assert eval(_literal(float("-inf"))) == float("-inf")
    assert _literal(np.float64(0.5)) is None and _literal(np.ones(2)) is None


# --- --version, module paths, messages in the command line's words ----------------------

def test_version(capsys):
    status, out, _ = run(["--version"], capsys)
    assert status == 0 and out == f"srcgrad {srcgrad.__version__}\n"
    done = run_process("--version")
    assert done.returncode == 0 and done.stdout == f"srcgrad {srcgrad.__version__}\n"


LOSSES = "import numpy as np\n\n\ndef loss(x, W):\n    return np.sum(np.tanh(W @ x))\n"


@pytest.fixture
def modules(tmp_path, monkeypatch):
    """A directory, made current, holding a module and a package with a submodule, all named
    so no other test imports them; sys.path and sys.modules are restored afterwards."""
    (tmp_path / "cli_losses.py").write_text(LOSSES)
    (tmp_path / "cli_pkg" / "sub").mkdir(parents=True)
    (tmp_path / "cli_pkg" / "__init__.py").write_text("")
    (tmp_path / "cli_pkg" / "sub" / "__init__.py").write_text("")
    (tmp_path / "cli_pkg" / "sub" / "nets.py").write_text(LOSSES)
    (tmp_path / "cli_broken.py").write_text("raise RuntimeError('no data')\n")
    (tmp_path / "cli_badpkg").mkdir()
    (tmp_path / "cli_badpkg" / "__init__.py").write_text("import cli_not_installed\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield tmp_path
    for name in [n for n in sys.modules if n.startswith(("cli_losses", "cli_pkg", "cli_bad"))]:
        del sys.modules[name]


@pytest.mark.parametrize("spec, module", [("cli_losses:loss", "cli_losses"),
                                          ("cli_pkg.sub.nets:loss", "cli_pkg.sub.nets")])
def test_show_accepts_an_importable_module(modules, capsys, spec, module):
    status, out, err = run(["show", spec, "--wrt", "W"], capsys)
    assert status == 0 and err == ""
    imported = __import__(module, fromlist=["loss"])
    assert out == srcgrad.grad(imported.loss, wrt="W").source
    assert "(" + os.path.basename(imported.__file__) + ":4)" in out
    # the exported module finds the user's module by its file
    status, text, err = run(["export", spec], capsys)
    assert status == 0 and f"`srcgrad export {spec}`" in text


def test_export_of_a_module_in_a_package_imports_it_by_name(modules, capsys):
    """The exported module reads the package module's globals by importing the package
    from the directory that holds it, so the module's relative imports work."""
    (modules / "cli_pkg" / "sub" / "weights.py").write_text("import numpy as np\n"
                                                           "W = np.array([[1.0, -2.0, 0.5]])\n")
    (modules / "cli_pkg" / "sub" / "fixed.py").write_text(
        "import numpy as np\nfrom .weights import W\n\n\n"
        "def loss(x):\n    return np.sum(np.tanh(W @ x))\n")
    out_path = modules / "exported" / "grad_fixed.py"
    out_path.parent.mkdir()
    status, _, err = run(["export", "cli_pkg.sub.fixed:loss", "-o", out_path], capsys)
    assert status == 0 and "imports fixed.py when it is imported, for: W" in err
    assert "_source = importlib.import_module('cli_pkg.sub.fixed')" in out_path.read_text()
    x = [0.3, -0.2, 0.9]
    (modules / "cases.json").write_text(json.dumps(
        [{"module": str(out_path), "name": "grad_loss", "args": [x]}]))
    (modules / "run.py").write_text(RUN_WITHOUT_SRCGRAD)
    elsewhere = modules / "exported"            # not the directory holding the package
    done = subprocess.run([sys.executable, "-I", str(modules / "run.py"),
                           str(modules / "cases.json"), str(modules / "results.json")],
                          capture_output=True, text=True, timeout=120, cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    W = np.array([[1.0, -2.0, 0.5]])
    want = W.T @ (1 - np.tanh(W @ x) ** 2)
    got = json.loads((modules / "results.json").read_text())[0][0]["value"]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_a_module_path_through_python_m(modules):
    done = run_process("check", "cli_pkg.sub.nets:loss", "--shape", "x=3", "--shape", "W=2,3",
                       cwd=modules)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("loss (nets.py:4), seed 0")
    assert done.stdout.endswith("ok: the gradient matches finite differences\n")


def test_a_name_that_is_a_file_and_a_module_uses_the_file_and_says_so(modules, capsys):
    (modules / "cli_losses").write_text(LOSSES.replace("np.tanh", "np.sin"))
    status, out, err = run(["show", "cli_losses:loss"], capsys)
    assert status == 0 and "np.cos" in out            # the file's sin, not the module's tanh
    assert err == (f"srcgrad: note: cli_losses is a file here and also the module cli_losses "
                   f"({modules / 'cli_losses.py'}); used the file\n")


@pytest.mark.parametrize("spec, message", [
    ("cli_nowhere:loss", "no file or module named cli_nowhere: no file cli_nowhere in {cwd}, "
                         "and no module cli_nowhere importable from there or sys.path"),
    ("cli_pkg.nope:loss", "no file or module named cli_pkg.nope: no file cli_pkg.nope in "
                          "{cwd}, and no module cli_pkg.nope importable"),
    ("cli_losses:nope", "cli_losses has no function 'nope' (functions there: loss)"),
    ("cli_broken:f", "cannot import module cli_broken: RuntimeError: no data"),
    ("cli_badpkg.sub:f", "cannot import module cli_badpkg.sub: ModuleNotFoundError: No module "
                         "named 'cli_not_installed'"),
    ("cli_losses.py:nope", "cli_losses.py has no function 'nope'"),
    ("math:sqrt", "module math has no Python source file"),
])
def test_module_path_errors_say_what_was_tried(modules, capsys, spec, message):
    status, out, err = run(["show", spec], capsys)
    assert status == 1 and out == ""
    assert err.startswith("srcgrad: error: " + message.format(cwd=modules))
    assert err.count("\n") == 1


def test_check_errors_point_to_srcgrad_show_not_to_source(model, capsys, monkeypatch):
    monkeypatch.chdir(model.parent)
    status, out, err = run(["check", "model.py:two", "--shape", "w=3", "--shape", "b=",
                            "--shape", "X=4,2", "--wrt", "w", "b"], capsys)
    assert status == 1
    assert ".source" not in err and "see `srcgrad show model.py:two --wrt w b`" in err
    line = MODEL.splitlines().index("    return np.sum(np.tanh(X @ w + b) ** 2)") + 1
    assert err.splitlines()[0].startswith("srcgrad: error: ValueError: matmul")   # NumPy's error,
    assert f"model.py:{line}: raised while computing the gradient of two" in err    # at the user's line


def test_messages_of_the_python_api_in_the_command_lines_words():
    args = cli._parser().parse_args(["show", "m.py:f", "--wrt", "w", "b"])
    assert cli.for_command_line("raised by line 3 (see .source): y = f(x)", args) == \
        "raised by line 3 (see `srcgrad show m.py:f --wrt w b`): y = f(x)"
    assert cli.for_command_line("print `.source` to read it", args) == \
        "print `srcgrad show m.py:f --wrt w b` to read it"
    assert cli.for_command_line("wrt='q' is not a parameter; loss.source stays", args) == \
        "--wrt q is not a parameter; loss.source stays"
