"""Statements people put in losses: `raise` under a condition (input validation),
`with np.errstate(...)` / `with warnings.catch_warnings()`, `print(...)` and logging.

A check that raises runs in the forward pass of the gradient and of the JVP function and
raises the user's exception unchanged; `with` blocks stay around the forward statements of
their body; prints and log calls run once per call with the values of the call.  None of
them changes a derivative.  What stays refused names file, line and construct."""
import contextlib
import logging
import warnings

import numpy as np
import pytest
from support import both_modes, check, check_jvp, line_of

import srcgrad
from srcgrad import UnsupportedSyntaxError

RNG = np.random.default_rng(11)
X = RNG.uniform(0.5, 1.5, size=(3, 2))
W = np.array([0.7, 1.3])
V = np.array([0.3, 1.2, 2.0])


def tangents_for(args):
    return tuple(np.ones_like(a) if isinstance(a, np.ndarray) else None for a in args)


def assert_same_exception(f, args, wrt=0):
    """grad, value_and_grad and jvp of f raise what f raises: same type, same message."""
    with pytest.raises(Exception) as plain:
        f(*args)
    for run in (lambda: srcgrad.grad(f, wrt=wrt)(*args),
                lambda: srcgrad.value_and_grad(f, wrt=wrt)(*args),
                lambda: srcgrad.jvp(f, args, tangents_for(args))):
        with pytest.raises(Exception) as got:
            run()
        assert type(got.value) is type(plain.value)
        assert str(got.value) == str(plain.value)
    return plain.value


# --- raise under a condition ------------------------------------------------------------------

def validated(x, w):
    if x.ndim != 2:
        raise ValueError("x must be 2-d")
    if not np.all(w > 0):
        raise ValueError(f"w must be positive, got {w.min():.2f}")
    h = np.tanh(x @ w)
    return np.sum(h ** 2)


def test_checks_keep_the_gradient_in_both_modes():
    check(validated, X, W, wrt=(0, 1))
    check_jvp(validated, X, W)


def test_checks_raise_the_users_exception_in_both_modes():
    err = assert_same_exception(validated, (X[0], W))
    assert str(err) == "x must be 2-d"
    err = assert_same_exception(validated, (X, -W), wrt=1)
    assert str(err) == "w must be positive, got -1.30"


def test_generated_code_runs_the_check_as_written():
    source = srcgrad.grad(validated, wrt=1).source
    assert "    if x.ndim != 2:\n        raise ValueError('x must be 2-d')\n" in source
    assert "raise ValueError(f'w must be positive, got {w.min():.2f}')" in source
    assert "if x.ndim != 2:" in srcgrad.jvp_function(validated, wrt=1).source


def else_raises(x):
    if np.all(np.isfinite(x)):
        y = x * 2.0
    else:
        raise FloatingPointError("x is not finite")
    return np.sum(np.sin(y) * y)


def mode_chain(x, mode):
    if mode == "tanh":
        y = np.tanh(x)
    elif mode == "cube":
        y = x ** 3
    else:
        raise ValueError(f"unknown mode {mode!r}")
    return np.sum(y * x)


def bare_class(x):
    if x.size == 0:
        raise ValueError
    return np.sum(np.exp(x))


def raise_from(x):
    total = np.sum(x)
    if total > 100:
        raise ValueError("too large") from OverflowError("sum")
    return total * np.sum(x ** 2)


@pytest.mark.parametrize("f,good,bad", [
    (else_raises, (V,), (np.array([1.0, np.inf]),)),
    (mode_chain, (V, "tanh"), (V, "square")),
    (mode_chain, (V, "cube"), (V, "")),
    (bare_class, (V,), (np.zeros(0),)),
    (raise_from, (V,), (V * 100,)),
], ids=["else-raises", "elif-tanh", "elif-cube", "bare-class", "raise-from"])
def test_raising_paths_never_merge(f, good, bad):
    check(f, *good)
    check_jvp(f, *good)
    assert_same_exception(f, bad)


def test_raise_from_keeps_its_cause():
    with pytest.raises(ValueError) as info:
        srcgrad.grad(raise_from)(V * 100)
    assert isinstance(info.value.__cause__, OverflowError)


def checks_each_element(x, n):
    total = 0.0
    for i in range(n):
        if x[i] < -10:
            raise ValueError(f"x[{i}] = {x[i]} is too small")
        total = total + np.sin(x[i]) * (i + 1)
    return total


def test_check_inside_a_loop():
    check(checks_each_element, V, 3)
    check_jvp(checks_each_element, V, 3)
    err = assert_same_exception(checks_each_element, (np.array([0.0, -20.0, 1.0]), 3))
    assert str(err) == "x[1] = -20.0 is too small"


def checks_the_loss(x):
    loss = np.sum(x ** 2)
    if not np.isfinite(loss):
        raise FloatingPointError(f"loss is {loss}")
    return loss


def test_check_reads_a_value_the_gradient_does_not_need():
    np.testing.assert_allclose(srcgrad.grad(checks_the_loss)(V), 2 * V)
    check_jvp(checks_the_loss, V)
    with np.errstate(over="ignore"):
        err = assert_same_exception(checks_the_loss, (np.array([1e200]),))
    assert str(err) == "loss is inf"


def describe(v):
    return f"shape {np.shape(v)}"


def message_built_first(x):
    if x.ndim != 1:
        msg = "x must be 1-d, got " + describe(x)
        print("bad input:", x.shape)
        raise ValueError(msg)
    msg = "fine"
    return np.sum(np.exp(x)) * len(msg)


def test_raising_path_with_an_assignment_and_a_print(capsys):
    check(message_built_first, V)
    check_jvp(message_built_first, V)
    assert capsys.readouterr().out == ""
    err = assert_same_exception(message_built_first, (np.ones((2, 2)),))
    assert str(err) == "x must be 1-d, got shape (2, 2)"
    assert capsys.readouterr().out == "bad input: (2, 2)\n" * 4    # f, grad, value_and_grad, jvp


def needs_two(v):
    if v.shape[0] < 2:
        raise ValueError("need two values")
    return v[0] * v[1]


def calls_a_checking_helper(x):
    return needs_two(x) + np.sum(x ** 2)


def nested_checking_helper(x, k):
    def scaled(v, by):
        if by == 0:
            raise ZeroDivisionError("scale is 0")
        return v / by
    return np.sum(np.sin(scaled(x, k)))


def test_checks_in_inlined_helpers():
    check(calls_a_checking_helper, V)
    check_jvp(calls_a_checking_helper, V)
    assert_same_exception(calls_a_checking_helper, (V[:1],))
    check(nested_checking_helper, V, 2.0)
    check_jvp(nested_checking_helper, V, 2.0)
    assert_same_exception(nested_checking_helper, (V, 0.0))


def checks_inside_a_branch(x):
    y = x * 1.5
    if np.sum(x) > 0:
        if np.max(x) > 50:
            raise ValueError("too large")
        y = np.sin(y)
    return np.sum(y * x)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_check_inside_a_branch(sign):
    check(checks_inside_a_branch, sign * V)
    check_jvp(checks_inside_a_branch, sign * V)


def test_check_inside_a_branch_raises():
    assert_same_exception(checks_inside_a_branch, (V * 60,))


# --- with np.errstate / warnings.catch_warnings ---------------------------------------------------

def masked_inverse(x, c):
    with np.errstate(divide="ignore"):
        inv = 1.0 / c
    y = np.where(np.isfinite(inv), inv, 0.0)
    return np.sum(y * np.sin(x))


C = np.array([0, 2, 4])         # (integers: no tangent, the finite differences stay away from 0)


def test_errstate_is_kept_around_the_forward_statements():
    with warnings.catch_warnings():
        warnings.simplefilter("error")       # a divide warning would fail the call
        check(masked_inverse, V, C)
        check_jvp(masked_inverse, V, C)
        value, _ = srcgrad.value_and_grad(masked_inverse)(V, C)
    np.testing.assert_allclose(value, masked_inverse(V, C))
    source = srcgrad.value_and_grad(masked_inverse).source
    assert "    with np.errstate(divide='ignore'):\n        inv = 1.0 / c\n" in source
    assert "with np.errstate(divide='ignore'):" in srcgrad.jvp_function(masked_inverse).source


def log_at_zero(x):
    with np.errstate(divide="ignore"):
        h = np.log(x)
    return np.sum(np.where(np.isfinite(h), h, 0.0) * 0.0 + x)


def test_the_adjoint_runs_outside_the_block():
    # The forward pass is silent, as the user asked; the adjoint's 1/x at 0 is a problem
    # of the derivative, and NumPy reports it.
    x = np.array([0.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        log_at_zero(x)
    with pytest.warns(RuntimeWarning, match="divide"):
        srcgrad.grad(log_at_zero)(x)


def warns_inside(x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.warn("this loss is experimental")
        y = np.tanh(x)
    return np.sum(y ** 2)


def test_catch_warnings_block():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check(warns_inside, V)
        check_jvp(warns_inside, V)
    assert [str(w.message) for w in caught] == []
    assert "with warnings.catch_warnings():" in srcgrad.value_and_grad(warns_inside).source


def with_in_a_loop(x, n):
    y = x
    for i in range(n):
        with np.errstate(divide="ignore"):
            y = y * 0.5 + np.log(np.abs(x) + 1.0)
    return np.sum(y)


def loop_in_with(x, n):
    y = x
    with np.errstate(over="ignore"):
        for i in range(n):
            y = np.sin(y) * x
        z = y ** 2
    return np.sum(z)


def with_in_a_branch(x):
    if np.sum(x) > 0:
        with np.errstate(divide="ignore"):
            y = np.log(x * x)
    else:
        y = x
    return np.sum(y)


def returns_from_with(x):
    if np.sum(x) > 0:
        with np.errstate(divide="ignore"):
            return np.sum(np.log(x * x))
    return np.sum(x ** 3)


def two_contexts(x):
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore")
        y = np.sqrt(x)
        if np.any(y > 100):
            raise ValueError("x too large")
    return np.sum(y)


@pytest.mark.parametrize("f,args", [
    (with_in_a_loop, (V, 3)), (loop_in_with, (V, 2)), (with_in_a_branch, (V,)),
    (with_in_a_branch, (-V,)), (returns_from_with, (V,)), (returns_from_with, (-V,)),
    (two_contexts, (V,)),
], ids=["with-in-loop", "loop-in-with", "branch-taken", "branch-not-taken", "return-in-with",
        "return-after-with", "two-contexts"])
def test_with_blocks_in_both_modes(f, args):
    check(f, *args)
    check_jvp(f, *args)


def test_check_inside_a_with_block():
    assert_same_exception(two_contexts, (V * 1e5,))


# --- print and logging -----------------------------------------------------------------------------

def prints(x):
    y = np.sum(np.sin(x))
    print("loss", round(float(y), 6))
    return y * 2.0


def prints_in_a_loop(x, n):
    total = 0.0
    for i in range(n):
        total = total + x[i] ** 2
        print("step", i, round(float(total), 6))
    return total


def test_print_runs_once_per_call_in_both_modes(capsys):
    line = f"loss {round(float(np.sum(np.sin(V))), 6)}\n"
    np.testing.assert_allclose(srcgrad.grad(prints)(V), 2.0 * np.cos(V))
    assert capsys.readouterr().out == line
    value, tangent = srcgrad.jvp(prints, (V,), (np.ones(3),))
    np.testing.assert_allclose(tangent, 2.0 * np.sum(np.cos(V)))
    assert capsys.readouterr().out == line
    np.testing.assert_allclose(srcgrad.grad(prints_in_a_loop)(V, 2), [2 * V[0], 2 * V[1], 0.0])
    assert capsys.readouterr().out == (f"step 0 {round(V[0] ** 2, 6)}\n"
                                       f"step 1 {round(V[0] ** 2 + V[1] ** 2, 6)}\n")
    srcgrad.jvp(prints_in_a_loop, (V, 2), (np.ones(3), None))
    assert capsys.readouterr().out.count("step") == 2


LOG = logging.getLogger("srcgrad-tests.statements")


def logs(x):
    y = np.sum(x ** 2)
    LOG.info("loss %.4f", y)
    logging.getLogger("srcgrad-tests.statements").debug("x has %d values", x.size)
    return y


def logs_with_the_module_function(x):
    y = np.sum(np.exp(x))
    logging.warning("loss is %.4f", y)
    return y


def test_logging_runs_once_per_call_in_both_modes(caplog):
    caplog.set_level(logging.DEBUG)
    for run in (lambda: srcgrad.grad(logs)(V), lambda: srcgrad.jvp(logs, (V,), (np.ones(3),))):
        caplog.clear()
        run()
        assert [r.getMessage() for r in caplog.records] == [f"loss {np.sum(V ** 2):.4f}",
                                                             "x has 3 values"]
    np.testing.assert_allclose(srcgrad.grad(logs)(V), 2 * V)
    check_jvp(logs, V)
    for run in (lambda: srcgrad.grad(logs_with_the_module_function)(V),
                lambda: srcgrad.jvp(logs_with_the_module_function, (V,), (np.ones(3),))):
        caplog.clear()
        run()
        assert [r.getMessage() for r in caplog.records] == [f"loss is {np.sum(np.exp(V)):.4f}"]
    check(logs_with_the_module_function, V)
    assert "logging.warning('loss is %.4f', " in srcgrad.grad(logs_with_the_module_function).source


# --- what stays refused ---------------------------------------------------------------------------

def always_raises(x):
    raise NotImplementedError("todo")


def raises_on_both_sides(x):
    if np.sum(x) > 0:
        raise ValueError("positive")
    else:
        raise ValueError("not positive")


def bare_raise(x):
    if np.sum(x) > 0:
        raise
    return np.sum(x)


def raise_in_every_iteration(x, n):
    for i in range(n):
        raise ValueError("never")
    return np.sum(x)


def local_function_in_message(x):
    def fmt(v):
        return str(v)
    if np.sum(x) > 100:
        raise ValueError(fmt(x))
    return np.sum(x)


def assigned_on_some_paths(x, verbose):
    if np.sum(x) > 100:
        if verbose:
            msg = "big"
        raise ValueError(msg)
    return np.sum(x)


def loop_before_raise(x):
    if np.sum(x) > 100:
        for v in x:
            print(v)
        raise ValueError("big")
    return np.sum(x)


def with_open(x):
    with open("/dev/null"):
        y = np.log(x)
    return np.sum(y)


def with_custom(x):
    with contextlib.suppress(ValueError):
        y = np.log(x)
    return np.sum(y)


def with_as(x):
    with np.errstate(all="ignore") as state:
        y = np.log(x)
    return np.sum(y)


def return_leaves_with(x):
    with np.errstate(all="ignore"):
        if np.sum(x) > 0:
            return np.sum(np.log(x))
        y = x * 2.0
    return np.sum(y)


def break_leaves_with(x, n):
    y = x
    for i in range(n):
        with np.errstate(all="ignore"):
            if i > 1:
                break
            y = y * 2.0
    return np.sum(y)


def with_try(x):
    try:
        y = np.log(x)
    except ValueError:
        y = x
    return np.sum(y)


@pytest.mark.parametrize("f,args,marker,construct,words", [
    (always_raises, (V,), "raise NotImplementedError", "`raise` statement", "raises on every path"),
    (raises_on_both_sides, (V,), 'raise ValueError("positive")', "`raise` statement",
     "raises on every path"),
    (bare_raise, (V,), " raise\n", "bare `raise`", "bare `raise`"),
    (raise_in_every_iteration, (V, 2), 'raise ValueError("never")', "`raise` statement",
     "only as a check under an `if`"),
    (local_function_in_message, (V,), "raise ValueError(fmt(x))", "call before a `raise`",
     "function defined inside"),
    (assigned_on_some_paths, (V, True), "raise ValueError(msg)", "name before a `raise`",
     "assigned on some paths"),
    (loop_before_raise, (V,), "for v in x", "for before a `raise`", "path that raises"),
    (with_open, (V,), "with open", "`with` statement", "over open('/dev/null')"),
    (with_custom, (V,), "with contextlib", "`with` statement", "contextlib.suppress(ValueError)"),
    (with_as, (V,), "as state", "`with ... as`", "not a name bound by `as`"),
    (return_leaves_with, (V,), "return np.sum(np.log(x))", "`return` inside `with`",
     "leaves a `with` block early"),
    (break_leaves_with, (V, 3), " break\n", "`break` inside `with`", "leaves a `with` block early"),
    (with_try, (V,), "try:", "`try` statement", "`try` statement"),
])
def test_refusals_name_file_line_and_construct(f, args, marker, construct, words):
    line = line_of(f, marker)
    for err in both_modes(f, *args):
        assert isinstance(err, UnsupportedSyntaxError)
        assert err.lineno == line and err.filename == f.__code__.co_filename
        assert err.construct == construct
        text = str(err)
        assert text.startswith(f"{f.__code__.co_filename}:{line}: ") and words in text
        assert err.hint and "hint:" in text


def test_refusal_hints_point_to_what_works():
    (err, _) = both_modes(with_open, V)
    assert "np.errstate" in err.hint and "warnings.catch_warnings" in err.hint
    (err, _) = both_modes(with_try, V)
    assert "`if <bad>: raise ...`" in err.hint
    (err, _) = both_modes(raise_in_every_iteration, V, 2)
    assert "if x.ndim != 2: raise ValueError(...)" in err.hint
    assert line_of(raise_in_every_iteration, 'raise ValueError("never")') == err.lineno


# --- a statement that calls one of your functions for what it does --------------------------
def _doubled(x):
    return np.sum(x) * 2


def printing_a_helper(x):
    y = np.sum(x ** 2)
    print("doubled", _doubled(x))          # print runs: the helper is inlined into its argument
    return y


def test_print_of_a_helper_value_runs_in_both_modes(capsys):
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(srcgrad.grad(printing_a_helper)(x), 2 * x)
    assert capsys.readouterr().out == "doubled 6.0\n"
    value, tangent = srcgrad.jvp(printing_a_helper, (x,), (np.ones(2),))
    assert value == 5.0 and tangent == 6.0
    assert capsys.readouterr().out == "doubled 6.0\n"


class _Recorder:
    def __init__(self):
        self.seen = []

    def info(self, value):
        self.seen.append(float(value))


_RECORDER = _Recorder()


def _make_recorder():
    return _RECORDER


def calls_a_method_of_a_helper_result(x):
    y = np.sum(x ** 2)
    _make_recorder().info(y)               # was silently dropped: now refused
    return y


def test_a_method_called_on_what_a_helper_returned_is_refused_not_dropped():
    with pytest.raises(srcgrad.UnsupportedSyntaxError,
                       match="cannot keep a call made only for what it does") as info:
        srcgrad.grad(calls_a_method_of_a_helper_result)(np.ones(2))
    assert f":{line_of(calls_a_method_of_a_helper_result, '.info(y)')}:" in str(info.value)
    assert _RECORDER.seen == []
