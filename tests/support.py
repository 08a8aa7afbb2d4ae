"""Helpers shared by the tests: the finite-difference references every gradient and tangent
is compared with.  (Fixtures go in conftest.py; modules the tests import as user code under
test are the usercode_*.py files.)

Gradients: `check(f, *args, wrt=...)` compares srcgrad.grad with `numerical_gradient`
(srcgrad.check's central differences in float64).  Tangents: `check_jvp(f, *args)` compares
srcgrad.jvp with `numerical_jvp`, central differences along a direction.
"""
import inspect
import re

import numpy as np

import srcgrad
from srcgrad.check import numerical_gradient

__all__ = ["numerical_gradient", "check", "numerical_jvp", "random_tangents", "assert_close",
           "check_jvp", "is_float", "srcgrad_note", "note_location"]


# --- reverse mode -------------------------------------------------------------------------

def check(f, *args, wrt=0, rtol=1e-5, atol=1e-7, kwargs=None):
    """Assert srcgrad's gradient of f matches finite differences for each position in wrt."""
    positions = wrt if isinstance(wrt, tuple) else (wrt,)
    got = srcgrad.grad(f, wrt=wrt)(*args, **(kwargs or {}))
    got = got if isinstance(wrt, tuple) else (got,)
    for pos, g in zip(positions, got):
        want = numerical_gradient(f, args, pos, kwargs=kwargs)
        assert np.shape(g) == np.shape(args[pos]), (np.shape(g), np.shape(args[pos]))
        np.testing.assert_allclose(g, want, rtol=rtol, atol=atol,
                                   err_msg=f"gradient w.r.t. argument {pos} of {f.__name__}")
    return got if isinstance(wrt, tuple) else got[0]


# --- errors raised while a generated function runs -------------------------------------

def srcgrad_note(exc):
    """The note srcgrad added to an exception raised while a generated function ran,
    naming the user's line (a note on 3.11+; on 3.9 and 3.10 the end of the message, or
    `__notes__` where the message cannot take it); None if there is none."""
    for text in list(getattr(exc, "__notes__", ())) + [str(exc)]:
        found = re.search(r"(?m)^[^\n]*:\d+: raised while computing [\s\S]*", text)
        if found:
            return found.group(0)
    return None


def note_location(exc):
    """(file name, line number) of the user's line srcgrad's note names."""
    file, line = re.match(r"(.*):(\d+): raised while computing", srcgrad_note(exc)).groups()
    return file, int(line)


# --- forward mode -------------------------------------------------------------------------

def is_float(value):
    return type(value) is float or (isinstance(value, (np.ndarray, np.generic)) and
                                     value.dtype.kind == "f")


def numerical_jvp(f, args, tangents, eps=1e-6):
    """(f(args + eps t) - f(args - eps t)) / 2 eps, per output of a tuple result: the
    derivative of s -> f(args + s t) at s = 0 (arguments whose tangent is None stay put)."""
    def along(s):
        return f(*[a + s * t if t is not None else a for a, t in zip(args, tangents)])
    return numerical_gradient(along, (0.0,), 0, eps)


def random_tangents(args, seed=0):
    rng = np.random.default_rng(seed)
    return [(float(rng.normal()) if type(a) is float else rng.normal(size=np.shape(a)))
            if is_float(a) else None for a in args]


def assert_close(got, want, rtol, atol, what):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want), (got, want)
        for g, w in zip(got, want):
            assert_close(g, w, rtol, atol, what)
        return
    assert np.shape(got) == np.shape(want), (what, np.shape(got), np.shape(want))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=what, equal_nan=False)


def check_jvp(f, *args, rtol=1e-5, atol=1e-7, seed=0, each=True):
    """Assert srcgrad.jvp(f) matches finite differences, with every float argument carrying a
    tangent and (if `each`) with each one alone; returns the tangent of the first check."""
    tangents = random_tangents(args, seed)
    active = [i for i, t in enumerate(tangents) if t is not None]
    assert active, "no float argument to differentiate"
    subsets = [active] + ([[i] for i in active] if each and len(active) > 1 else [])
    first = None
    for subset in subsets:
        chosen = [t if i in subset else None for i, t in enumerate(tangents)]
        value, tangent = srcgrad.jvp(f, args, chosen)
        assert_close(value, f(*args), 1e-12, 0, f"value of {f.__name__}")
        assert_close(tangent, numerical_jvp(f, args, chosen), rtol, atol,
                     f"tangent of {f.__name__} along arguments {subset}")
        first = tangent if first is None else first
    return first


# --- rule tests: which rules a family file tests, in which mode ---------------------------

def uniform(shape, lo=-1.0, hi=1.0, seed=0):
    """Uniform(lo, hi) in float64: a Python float for shape "float", else an ndarray."""
    rng = np.random.default_rng(seed)
    return float(rng.uniform(lo, hi)) if shape == "float" else rng.uniform(lo, hi, size=shape)


class RuleTests:
    """The rule tests of one family file (tests/test_rules_*.py, and test_indexing.py for the
    indexing rules).  `@reverse(f, ...)` marks a test of the gradient (reverse mode) through
    the rules of `f, ...`; `@case(f, *args)` registers a function as a forward-mode case of
    the rule of `f`, run by the file's `test_rule_jvp` with every float argument carrying a
    tangent and with each one alone.  tests/test_rules_helpers.py fails when a rule of
    srcgrad/rules.py has no test in either mode."""

    def __init__(self):
        self.cases = []        # (rule key, function, arguments): forward mode
        self.reversed = {}     # rule key -> names of the tests of its gradient

    def case(self, key, *args):
        def register(f):
            self.cases.append((key, f, args))
            return f
        return register

    def reverse(self, *keys):
        assert keys, "name the rules the test covers"
        def register(test):
            for key in keys:
                self.reversed.setdefault(key, []).append(test.__name__)
            return test
        return register

    def case_ids(self):
        from srcgrad import rules
        def name(key):
            return (rules.RULES.get(key) or rules.FORWARD_ONLY[key]).name
        return [f"{name(k)}-{f.__name__}-{i}" for i, (k, f, _) in enumerate(self.cases)]


def line_of(func, text):
    """The absolute line number of the first line of `func`'s source containing `text`."""
    lines, start = inspect.getsourcelines(func)
    return start + next(i for i, line in enumerate(lines) if text in line)


def both_modes(f, *args):
    """Run grad(f) and jvp(f) on args: each must raise a SrcgradError; yields the errors."""
    import pytest
    tangents = [np.ones_like(a) if isinstance(a, np.ndarray) else 1.0 for a in args]
    for run in (lambda: srcgrad.grad(f)(*args), lambda: srcgrad.jvp(f, args, tangents)):
        with pytest.raises(srcgrad.SrcgradError) as info:
            run()
        yield info.value
