"""What a user sees of an error (issue 15, points 1-3): the exception keeps its type, with
srcgrad's note naming the user's line; tracebacks without srcgrad's own frames (unless
SRCGRAD_TRACEBACK=full); line numbers that agree with `.source`; a missing argument named
after the user's function; the generated lines shown by Python's own printer, 3.9 to 3.13."""
import bdb
import os
import re
import subprocess
import sys
import textwrap
import traceback

import numpy as np
import pytest
from support import line_of, note_location, srcgrad_note

import srcgrad
from srcgrad import tracebacks

PACKAGE = os.path.dirname(srcgrad.__file__) + os.sep


def mismatch(w, X, y):
    r = X @ w - y
    return np.mean(r ** 2)


def mismatch_dict(p, X, y):
    r = X @ p["w"] - y
    return np.mean(r ** 2)


def reads_a_key(x, k):
    d = {"a": x}
    return np.sum(d[k])


def unsupported(w):
    try:
        w = w * 2
    except ValueError:
        pass
    return np.sum(w)


def repeated_write(v, x):
    t = x.copy()
    t[[0, -3]] = v
    return np.sum(t)


class Interrupting:
    """Data whose `@` raises `exception` (as a debugger's quit, or Ctrl-C, would mid-run)."""

    def __init__(self, exception):
        self.exception = exception

    def __matmul__(self, other):
        raise self.exception


def srcgrad_frames(exc):
    """srcgrad's own frames in the traceback (generated functions are the user's to read)."""
    return [f for f in traceback.extract_tb(exc.__traceback__)
            if f.filename.startswith(PACKAGE) or f.filename.startswith("<srcgrad call")]


def generated_frames(exc):
    return [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<srcgrad:")]


def raised(call):
    try:
        call()
    except BaseException as exc:      # (KeyboardInterrupt, SystemExit too)
        return exc
    pytest.fail("no exception")


# --- 1. exceptions keep their type -------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda: srcgrad.grad(mismatch)(np.zeros(4), np.ones((5, 3)), np.ones(5)),
    lambda: srcgrad.value_and_grad(mismatch, wrt=(0, 2))(np.zeros(4), np.ones((5, 3)), np.ones(5)),
    lambda: srcgrad.grad(mismatch_dict)({"w": np.zeros(4)}, np.ones((5, 3)), np.ones(5)),
    lambda: srcgrad.jvp(mismatch, (np.zeros(4), np.ones((5, 3)), np.ones(5)), (np.ones(4), None, None)),
], ids=["grad", "value_and_grad", "container", "jvp"])
def test_a_shape_mismatch_stays_a_value_error_noted_with_the_users_line(call):
    err = raised(call)
    assert type(err) is ValueError and "matmul" in str(err)
    line = "r = X @ w - y" if "mismatch_dict" not in srcgrad_note(err) else 'r = X @ p["w"] - y'
    assert note_location(err) == (__file__, line_of(mismatch_dict if "[" in line else mismatch, line))
    assert f"\n    {line}\nby line " in srcgrad_note(err)
    assert not isinstance(err, srcgrad.SrcgradError)


def test_except_value_error_catches_it_and_the_note_is_added_once():
    loss = srcgrad.grad(mismatch)
    for _ in range(2):                  # the first call transforms, the second does not
        try:
            loss(np.zeros(4), np.ones((5, 3)), np.ones(5))
        except ValueError as err:
            text = "\n".join(getattr(err, "__notes__", [])) + str(err)
            assert text.count("raised while computing the gradient of mismatch") == 1
        else:
            pytest.fail("no ValueError")


def test_a_missing_key_is_a_key_error_whose_key_is_untouched():
    err = raised(lambda: srcgrad.grad(reads_a_key)(np.ones(2), "b"))
    assert type(err) is KeyError and err.args == ("b",) and str(err) == "'b'"
    assert note_location(err) == (__file__, line_of(reads_a_key, "return np.sum(d[k])"))


def test_on_python_3_9_and_3_10_the_message_carries_the_note_where_it_can(monkeypatch):
    monkeypatch.setattr(tracebacks, "_HAS_NOTES", False)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)       # (restored afterwards)
    value, key = ValueError("shapes differ"), KeyError("k")
    tracebacks.add_note(value, "f.py:3: where")
    tracebacks.add_note(key, "f.py:4: where")
    assert type(value) is ValueError and value.args == ("shapes differ\nf.py:3: where",)
    assert str(key) == "'k'" and key.__notes__ == ["f.py:4: where"]     # its key kept


@pytest.mark.parametrize("exception", [bdb.BdbQuit(), KeyboardInterrupt(), SystemExit(3)],
                         ids=["BdbQuit", "KeyboardInterrupt", "SystemExit"])
def test_a_debugger_quit_an_interrupt_and_an_exit_pass_untouched(exception):
    loss = srcgrad.grad(mismatch)
    for _ in range(2):                  # through the first call's path, then the compiled one
        err = raised(lambda: loss(np.zeros(3), Interrupting(exception), np.ones(5)))
        assert err is exception and not hasattr(err, "__notes__") and err.args == exception.args
        assert srcgrad_frames(err)      # nothing trimmed either


def test_an_error_srcgrad_raises_at_run_time_is_still_a_gradient_runtime_error():
    err = raised(lambda: srcgrad.grad(repeated_write)(np.array([1.0, 2.0]), np.zeros(3)))
    assert isinstance(err, srcgrad.UndefinedGradientError)
    assert isinstance(err, srcgrad.GradientRuntimeError)
    assert err.lineno == line_of(repeated_write, "t[[0, -3]] = v")


# --- 2. short tracebacks -----------------------------------------------------------------

def test_the_traceback_keeps_the_users_and_the_generated_frames_and_one_of_srcgrads():
    loss = srcgrad.grad(mismatch)
    for _ in range(2):
        err = raised(lambda: loss(np.zeros(4), np.ones((5, 3)), np.ones(5)))
        frames = traceback.extract_tb(err.__traceback__)
        assert frames[0].filename == __file__ and frames[0].name == "raised"
        assert [f.line for f in generated_frames(err)] == ["X_at_w = X @ w"]
        assert len(srcgrad_frames(err)) == 1          # where it was raised again
        assert len(frames) == 4, frames               # the test's, its lambda's, srcgrad's, generated


def test_an_unsupported_construct_shows_no_frame_of_the_transformation():
    err = raised(lambda: srcgrad.grad(unsupported)(np.ones(2)))
    assert isinstance(err, srcgrad.UnsupportedSyntaxError)
    assert len(srcgrad_frames(err)) == 1
    printed = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    assert "normalize" not in printed and "During handling" not in printed
    assert len(traceback.extract_tb(err.__traceback__)) == 3, printed   # the test's two, srcgrad's


def test_a_bad_wrt_shows_no_frame_of_the_constructor():
    err = raised(lambda: srcgrad.grad(mismatch, wrt="z"))
    assert "not a parameter of mismatch" in str(err)
    assert [f.name for f in srcgrad_frames(err)] == ["user_facing"]


def test_srcgrad_traceback_full_keeps_every_frame(monkeypatch):
    monkeypatch.setenv("SRCGRAD_TRACEBACK", "full")
    err = raised(lambda: srcgrad.grad(mismatch)(np.zeros(4), np.ones((5, 3)), np.ones(5)))
    names = {f.name for f in srcgrad_frames(err)}
    assert {"__call__", "mismatch"} <= names       # api.py's and the compiled call's
    err = raised(lambda: srcgrad.grad(unsupported)(np.ones(2)))
    assert "reject_unsupported" in {f.name for f in srcgrad_frames(err)}


# --- 3. small lies -----------------------------------------------------------------------

def test_the_generated_line_in_the_note_is_the_tracebacks_and_the_sources():
    loss = srcgrad.grad(mismatch)
    err = raised(lambda: loss(np.zeros(4), np.ones((5, 3)), np.ones(5)))
    (frame,) = generated_frames(err)
    number = int(re.search(r"by line (\d+) of the generated gradient", srcgrad_note(err)).group(1))
    assert number == frame.lineno
    assert loss.source.splitlines()[number - 1].strip() == frame.line == "X_at_w = X @ w"


def test_the_hint_of_a_gradient_runtime_error_names_the_tracebacks_line():
    loss = srcgrad.grad(repeated_write)
    err = raised(lambda: loss(np.array([1.0, 2.0]), np.zeros(3)))
    number = int(re.search(r"raised by line (\d+) of the generated gradient", err.hint).group(1))
    (frame,) = generated_frames(err.__cause__)
    assert number == frame.lineno
    assert loss.source.splitlines()[number - 1].strip() == frame.line


def test_a_missing_argument_names_the_users_function():
    loss = srcgrad.grad(mismatch)
    for _ in range(2):                  # the first call, then the compiled one
        err = raised(lambda: loss(np.zeros(3), np.ones((5, 3))))
        assert type(err) is TypeError
        assert str(err) == "mismatch() missing 1 required positional argument: 'y'"
    err = raised(lambda: srcgrad.value_and_grad(mismatch)(np.zeros(3), X=np.ones((5, 3))))
    assert str(err) == "mismatch() missing 1 required positional argument: 'y'"


SCRIPT = """
import numpy as np
import srcgrad


@srcgrad.grad
def loss(w, X, y):
    r = X @ w - y
    return np.mean(r ** 2)


loss(np.zeros(4), np.ones((5, 3)), np.ones(5))
"""


def _pythons():
    """The interpreters to try: this one, and the project's 3.9 and 3.13 environments."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = [sys.executable]
    for venv in (".venv-3.9", ".venv-3.13"):
        for base in (root, "/work/main"):
            candidate = os.path.join(base, venv, "bin", "python")
            if os.path.exists(candidate) and candidate not in found:
                found.append(candidate)
                break
    return found


def test_an_uncaught_error_in_a_script_shows_the_generated_line(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(SCRIPT))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root)
    env.pop("SRCGRAD_TRACEBACK", None)
    runs = {python: subprocess.Popen([python, str(script)], stderr=subprocess.PIPE, text=True, env=env)
            for python in _pythons()}          # (together: each mostly imports NumPy)
    for python, run in runs.items():
        stderr = run.communicate(timeout=120)[1]
        lines = stderr.splitlines()
        assert run.returncode == 1 and lines[-4].startswith("ValueError: matmul"), (python, stderr)
        at = next(i for i, line in enumerate(lines) if "<srcgrad: grad_loss from script.py:7" in line)
        assert lines[at + 1].strip() == "X_at_w = X @ w", (python, stderr)
        assert lines[-3:] == [f"{script}:8: raised while computing the gradient of loss, at this line:",
                              "    r = X @ w - y",
                              "by line 3 of the generated gradient (see .source): X_at_w = X @ w"]
        assert "srcgrad/api.py" not in stderr and len(lines) <= 14, (python, stderr)


def test_quitting_pdb_at_a_breakpoint_in_the_generated_gradient_just_stops():
    import io
    import pdb
    loss = srcgrad.grad(mismatch)
    w, X, y = np.zeros(3), np.ones((5, 3)), np.ones(5)
    loss(w, X, y)
    filename = loss.transformed().fn.__code__.co_filename
    out = io.StringIO()
    debugger = pdb.Pdb(stdin=io.StringIO("continue\nquit\n"), stdout=out)
    debugger.use_rawinput = False
    assert debugger.set_break(filename, 3) is None        # (None: the line is known)
    assert debugger.runcall(loss, w, X, y) is None        # its BdbQuit reached pdb itself
    assert "-> X_at_w = X @ w" in out.getvalue()          # stopped at line 3, as .source has it


def checks_its_input(x):
    if x.ndim != 1:
        raise ValueError("x must be a vector")
    return np.sum(x ** 2)


def test_the_users_own_raise_reaches_them_as_written():
    err = raised(lambda: srcgrad.grad(checks_its_input)(np.ones((2, 2))))
    assert type(err) is ValueError and err.args == ("x must be a vector",)
    assert srcgrad_note(err) is None and not hasattr(err, "__notes__")
    assert [f.line for f in generated_frames(err)] == ["raise ValueError('x must be a vector')"]
    assert len(srcgrad_frames(err)) == 1


def test_the_excepthook_before_3_13_prints_generated_lines_and_notes_once(monkeypatch, capsys):
    monkeypatch.setattr(tracebacks, "_HAS_NOTES", False)
    err = raised(lambda: srcgrad.grad(reads_a_key)(np.ones(2), "b"))
    if sys.version_info >= (3, 11):
        err.__notes__ = list(err.__notes__)     # (as 3.9 and 3.10 keep them: a plain list)
    tracebacks._print_exception(type(err), err, err.__traceback__)
    printed = capsys.readouterr().err
    assert "    d_item = d[k]\n" in printed and printed.count("raised while computing") == 1
    assert printed.rstrip().endswith("(see .source): d_item = d[k]")
