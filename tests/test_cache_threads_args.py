"""Correct or loud: compiled gradients that follow what they read (rebound globals, redefined
helpers, `__code__` swapped in place, closure cells, files edited on disk), arguments of the
wrong kind refused before any generated code runs, and first calls from many threads at once.
"""
import functools
import importlib
import itertools
import linecache
import os
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest
from support import numerical_gradient

import srcgrad
from srcgrad import ArgumentTypeError, SourceUnavailableError, SrcgradError, api, forward_api

X = np.linspace(-1.2, 0.9, 7)
_serial = itertools.count()


@pytest.fixture
def transforms(monkeypatch):
    """The transformations (gradients and JVP functions) made during the test."""
    made = []
    for cls in (api.Transformed, forward_api.ForwardTransformed):
        def counting(self, func, *args, _original=cls.__init__, **kwargs):
            made.append(func.__name__)
            _original(self, func, *args, **kwargs)
        monkeypatch.setattr(cls, "__init__", counting)
    return made


@pytest.fixture
def module(tmp_path, monkeypatch):
    """module(source) -> a freshly imported module of that source, from a file."""
    monkeypatch.syspath_prepend(str(tmp_path))
    names = []

    def make(source):
        name = f"srcgrad_cache_test_{next(_serial)}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        importlib.invalidate_caches()
        names.append(name)
        return importlib.import_module(name)
    yield make
    for name in names:
        sys.modules.pop(name, None)


def run_cell(source, namespace):
    """Run `source` as a notebook does a cell: compiled under a name of its own, its text
    in linecache (so srcgrad can read it), in the notebook's namespace."""
    name = f"<notebook cell {next(_serial)}>"
    text = textwrap.dedent(source)
    linecache.cache[name] = (len(text), None, text.splitlines(True), name)
    exec(compile(text, name, "exec"), namespace)


def notebook():
    return {"__name__": "notebook_simulation", "np": np}


def edit(path, old, new):
    """Change a file on disk (as an editor does, its modification time moving on)."""
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    later = time.time() + 10
    os.utime(path, (later, later))


# --- 1. what a gradient read, checked before each call -----------------------------------------
ACTIVATION = """
import numpy as np

ACT = np.tanh


def loss(x):
    return np.sum(ACT(x) ** 2)
"""


def test_rebinding_a_global_function_transforms_again(module, transforms):
    m = module(ACTIVATION)
    g, vg = srcgrad.grad(m.loss), srcgrad.value_and_grad(m.loss)
    np.testing.assert_allclose(g(X), 2 * np.tanh(X) * (1 - np.tanh(X) ** 2), rtol=1e-12)
    m.ACT = np.sin
    want = 2 * np.sin(X) * np.cos(X)
    np.testing.assert_allclose(g(X), want, rtol=1e-12)                  # the same object
    np.testing.assert_allclose(srcgrad.grad(m.loss)(X), want, rtol=1e-12)   # a new one
    value, dx = vg(X)
    assert value == pytest.approx(np.sum(np.sin(X) ** 2))
    np.testing.assert_allclose(dx, want, rtol=1e-12)
    np.testing.assert_allclose(g(X), numerical_gradient(m.loss, [X]), rtol=1e-6)
    m.ACT = np.tanh
    np.testing.assert_allclose(g(X), 2 * np.tanh(X) * (1 - np.tanh(X) ** 2), rtol=1e-12)
    # tanh, sin (shared by g and the new wrapper), value_and_grad's, tanh again
    assert transforms == ["loss"] * 4


def test_data_globals_are_read_live_without_transforming_again(module, transforms):
    m = module("""
        import numpy as np

        SCALE = 2.0
        W = np.ones(3)


        def loss(x):
            return SCALE * np.sum((W * x) ** 2)
        """)
    g = srcgrad.grad(m.loss)
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(g(x), 4.0 * x, rtol=1e-12)
    m.SCALE, m.W = 3.0, np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(g(x), 6.0 * m.W ** 2 * x, rtol=1e-12)
    assert transforms == ["loss"]


def test_redefining_a_helper_in_a_notebook_cell(transforms):
    ns = notebook()
    run_cell("""
        def helper(x):
            return x ** 2

        def loss(x):
            return np.sum(helper(x))
        """, ns)
    g = srcgrad.grad(ns["loss"])
    np.testing.assert_allclose(g(X), 2 * X, rtol=1e-12)
    run_cell("""
        def helper(x):
            return np.sin(x) * 3.0
        """, ns)                                   # the cell re-run: a new `helper`
    np.testing.assert_allclose(g(X), 3.0 * np.cos(X), rtol=1e-12)
    np.testing.assert_allclose(srcgrad.grad(ns["loss"])(X), 3.0 * np.cos(X), rtol=1e-12)
    assert transforms == ["loss", "loss"]


def test_autoreload_replacing_code_in_place(transforms):
    ns = notebook()
    run_cell("""
        def helper(x):
            return x ** 2

        def loss(x):
            return np.sum(helper(x))
        """, ns)
    helper, loss = ns["helper"], ns["loss"]
    g = srcgrad.grad(loss)
    np.testing.assert_allclose(g(X), 2 * X, rtol=1e-12)
    new = {"np": np}
    run_cell("""
        def helper(x):
            return x ** 3
        """, new)
    helper.__code__ = new["helper"].__code__     # what %autoreload does to a function
    np.testing.assert_allclose(g(X), 3 * X ** 2, rtol=1e-12)
    run_cell("""
        def loss(x):
            return np.sum(np.exp(helper(x)))
        """, new)
    loss.__code__ = new["loss"].__code__         # ... and to the differentiated one
    np.testing.assert_allclose(g(X), np.exp(X ** 3) * 3 * X ** 2, rtol=1e-10)
    np.testing.assert_allclose(srcgrad.grad(loss)(X), np.exp(X ** 3) * 3 * X ** 2, rtol=1e-10)
    assert transforms == ["loss"] * 3


def test_rebinding_a_closure_cell(transforms):
    def make():
        act = np.tanh

        def loss(x):
            return np.sum(act(x))

        def use(f):
            nonlocal act
            act = f
        return loss, use
    loss, use = make()
    g = srcgrad.grad(loss)
    np.testing.assert_allclose(g(X), 1 - np.tanh(X) ** 2, rtol=1e-12)
    use(np.sin)
    np.testing.assert_allclose(g(X), np.cos(X), rtol=1e-12)
    assert transforms == ["loss", "loss"]


def test_helper_of_another_module_rebound_there(module, transforms):
    helpers = module("""
        import numpy as np


        def act(x):
            return np.tanh(x)
        """)
    user = module(f"""
        import numpy as np
        import {helpers.__name__} as helpers


        def loss(x):
            return np.sum(helpers.act(x))
        """)
    g = srcgrad.grad(user.loss)
    np.testing.assert_allclose(g(X), 1 - np.tanh(X) ** 2, rtol=1e-12)
    helpers.act = np.exp                          # now a NumPy function, not a helper
    np.testing.assert_allclose(g(X), np.exp(X), rtol=1e-12)
    assert transforms == ["loss", "loss"]


def test_attributes_of_a_global_object_and_the_object_itself(module):
    m = module("""
        import types

        import numpy as np

        cfg = types.SimpleNamespace(act=np.tanh, scale=2.0)


        def loss(x):
            return cfg.scale * np.sum(cfg.act(x))
        """)
    g = srcgrad.grad(m.loss)
    np.testing.assert_allclose(g(X), 2.0 * (1 - np.tanh(X) ** 2), rtol=1e-12)
    m.cfg.act = np.sin
    np.testing.assert_allclose(g(X), 2.0 * np.cos(X), rtol=1e-12)
    m.cfg = type(m.cfg)(act=np.exp, scale=3.0)
    np.testing.assert_allclose(g(X), 3.0 * np.exp(X), rtol=1e-12)


def test_shadowing_a_builtin_later_transforms_again(module):
    m = module("""
        import numpy as np


        def loss(x):
            return abs(np.sum(x ** 3))
        """)
    g = srcgrad.grad(m.loss)
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(g(x), 3 * x ** 2, rtol=1e-12)
    m.abs = np.negative                           # a global now shadows the builtin
    np.testing.assert_allclose(g(x), -3 * x ** 2, rtol=1e-12)
    del m.abs
    np.testing.assert_allclose(g(x), 3 * x ** 2, rtol=1e-12)


def test_parameter_containers_follow_a_rebound_helper(module):
    m = module("""
        import numpy as np

        ACT = np.tanh


        def loss(params, x):
            return np.sum(ACT(params["w"] * x) + params["b"] ** 2)
        """)
    g = srcgrad.grad(m.loss)
    params = {"w": np.array([0.5, -1.0]), "b": 1.5}
    x = np.array([1.0, 2.0])
    assert g(params, x)["w"] == pytest.approx((1 - np.tanh(params["w"] * x) ** 2) * x)
    m.ACT = np.sin
    got = g(params, x)
    np.testing.assert_allclose(got["w"], np.cos(params["w"] * x) * x, rtol=1e-12)
    assert got["b"] == pytest.approx(2 * 2 * 1.5)      # b ** 2 broadcast to two elements


def test_forward_mode_and_second_derivatives_follow_a_rebound_global(module):
    m = module("""
        import numpy as np

        ACT = np.tanh


        def elementwise(x):
            return ACT(x) * 2.0


        def total(x):
            return np.sum(ACT(x))


        def scalar(s):
            return ACT(s)
        """)
    x = np.array([0.3, -0.7, 1.1])
    v = np.array([1.0, 2.0, -1.0])
    f_jvp = srcgrad.jvp_function(m.elementwise)
    jac, hess = srcgrad.jacobian(m.elementwise), srcgrad.hessian(m.total)
    d2 = srcgrad.grad(srcgrad.grad(m.scalar))
    hvp = srcgrad.jvp_function(srcgrad.grad(m.total))
    sech2 = 1 - np.tanh(x) ** 2
    np.testing.assert_allclose(f_jvp((x,), v)[1], 2 * sech2 * v, rtol=1e-12)
    np.testing.assert_allclose(srcgrad.jvp(m.elementwise, (x,), (v,))[1], 2 * sech2 * v, rtol=1e-12)
    np.testing.assert_allclose(jac(x), np.diag(2 * sech2), rtol=1e-12)
    np.testing.assert_allclose(hess(x), np.diag(-2 * np.tanh(x) * sech2), rtol=1e-12)
    assert d2(0.4) == pytest.approx(-2 * np.tanh(0.4) * (1 - np.tanh(0.4) ** 2))
    np.testing.assert_allclose(hvp((x,), v)[1], -2 * np.tanh(x) * sech2 * v, rtol=1e-12)
    m.ACT = np.sin
    np.testing.assert_allclose(f_jvp((x,), v)[1], 2 * np.cos(x) * v, rtol=1e-12)
    np.testing.assert_allclose(srcgrad.jvp(m.elementwise, (x,), (v,))[1], 2 * np.cos(x) * v,
                               rtol=1e-12)
    np.testing.assert_allclose(jac(x), np.diag(2 * np.cos(x)), rtol=1e-12)
    np.testing.assert_allclose(hess(x), np.diag(-np.sin(x)), rtol=1e-12)
    assert d2(0.4) == pytest.approx(-np.sin(0.4))
    np.testing.assert_allclose(hvp((x,), v)[1], -np.sin(x) * v, rtol=1e-12)


def test_file_edited_after_import_is_refused(module, tmp_path):
    m = module("""
        import numpy as np


        def helper(x):
            return x ** 2


        def loss(x):
            return np.sum(helper(x))


        def other(x):
            return np.sum(np.sin(x) + 2.0 * x)
        """)
    before = srcgrad.grad(m.loss)
    np.testing.assert_allclose(before(X), 2 * X, rtol=1e-12)
    path = tmp_path / f"{m.__name__}.py"
    edit(path, "return x ** 2", "return x ** 5")
    # transformed before the edit: still the gradient of the code that runs (x ** 2)
    np.testing.assert_allclose(before(X), 2 * X, rtol=1e-12)
    np.testing.assert_allclose(srcgrad.grad(m.loss)(X), 2 * X, rtol=1e-12)
    # a function whose text is unchanged is read as before
    np.testing.assert_allclose(srcgrad.grad(m.other)(X), np.cos(X) + 2.0, rtol=1e-12)
    srcgrad.clear_cache()
    with pytest.raises(SourceUnavailableError) as info:
        srcgrad.grad(m.loss)(X)              # it would read x ** 5, while x ** 2 runs
    text = str(info.value)
    assert f"{path.name} was changed after helper was defined" in text
    assert str(path) in text and "re-import" in text and info.value.lineno == 5
    with pytest.raises(SourceUnavailableError, match="changed after helper was defined"):
        srcgrad.jvp(m.loss, (X,), (X,))
    edit(path, "def loss(x):", "def loss(x):  # the loss")   # (code unchanged: accepted)
    edit(path, "return np.sum(np.sin(x) + 2.0 * x)", "return np.sum(np.sin(x) + 3.0 * x)")
    with pytest.raises(SourceUnavailableError, match="changed after other was defined"):
        srcgrad.grad(m.other)(X)
    importlib.reload(m)
    np.testing.assert_allclose(srcgrad.grad(m.loss)(X), 5 * X ** 4, rtol=1e-12)
    np.testing.assert_allclose(srcgrad.grad(m.other)(X), np.cos(X) + 3.0, rtol=1e-12)
    # the old `loss` object now calls the reloaded `helper` (x ** 5): transformed again
    np.testing.assert_allclose(before(X), 5 * X ** 4, rtol=1e-12)
    np.testing.assert_allclose(before(X), numerical_gradient(before.__wrapped__, [X]), rtol=1e-6)


def test_edits_that_do_not_change_the_code_are_accepted(module, tmp_path):
    m = module("""
        import numpy as np


        def loss(x):
            return np.sum(x ** 2)
        """)
    edit(tmp_path / f"{m.__name__}.py", "return np.sum(x ** 2)", "return np.sum(x ** 2)  # ok")
    np.testing.assert_allclose(srcgrad.grad(m.loss)(X), 2 * X, rtol=1e-12)


class Model:
    scale = 3.0

    def loss(self, w):
        return self.scale * np.sum(w ** 2)


def decorated(func):
    @functools.wraps(func)
    def wrapper(*args):
        return func(*args)
    return wrapper


def test_code_compared_as_compiled_closures_methods_and_wrapped_functions():
    k = 2.5

    def closure(x):
        return k * np.sum(np.sin(x))

    class Local:
        def loss(self, w):
            return k * np.sum(w ** 3)

    @decorated
    def wrapped(x):
        return np.sum(np.exp(x))

    np.testing.assert_allclose(srcgrad.grad(closure)(X), 2.5 * np.cos(X), rtol=1e-12)
    np.testing.assert_allclose(srcgrad.grad(Model.loss, wrt=1)(Model(), X), 6 * X, rtol=1e-12)
    np.testing.assert_allclose(srcgrad.grad(Local.loss, wrt=1)(Local(), X), 7.5 * X ** 2,
                               rtol=1e-12)
    np.testing.assert_allclose(srcgrad.grad(wrapped.__wrapped__)(X), np.exp(X), rtol=1e-12)


def test_clear_cache_transforms_everything_again(transforms):
    def loss(x):
        return np.sum(np.cos(x))
    g, f_jvp = srcgrad.grad(loss), srcgrad.jvp_function(loss)
    g(X), f_jvp((X,), X)
    srcgrad.clear_cache()
    np.testing.assert_allclose(g(X), -np.sin(X), rtol=1e-12)
    assert f_jvp((X,), X)[1] == pytest.approx(np.sum(-np.sin(X) * X))
    srcgrad.grad(loss)(X)                          # cached again
    assert transforms == ["loss", "loss", "loss", "loss"]
    assert "clear_cache" in srcgrad.__all__


def test_a_rule_registered_after_the_first_call_is_used(module):
    m = module("""
        import numpy as np


        def clip(x):
            return np.minimum(x, 1.0)


        def loss(x):
            return np.sum(clip(x) * 2.0)
        """)
    g, f_jvp = srcgrad.grad(m.loss), srcgrad.jvp_function(m.loss)
    x = np.array([0.5, 2.0])
    np.testing.assert_allclose(g(x), [2.0, 0.0], rtol=1e-12)
    assert f_jvp((x,), np.ones(2))[1] == pytest.approx(2.0)
    srcgrad.register_vjp(m.clip, lambda g, ans, x: g)             # straight through
    srcgrad.register_jvp(m.clip, lambda t, ans, x: t)
    np.testing.assert_allclose(g(x), [2.0, 2.0], rtol=1e-12)
    assert f_jvp((x,), np.ones(2))[1] == pytest.approx(4.0)


# --- 2. arguments of the wrong kind -----------------------------------------------------------
def linear(x):
    return 3.0 * np.sum(x)                  # its gradient never reads x


def square(x, y=1.0):
    return np.sum(x ** 2) * y


def _generator():
    yield 1.0


with warnings.catch_warnings():     # (NumPy discourages np.matrix, which is the point)
    warnings.simplefilter("ignore", PendingDeprecationWarning)
    _MATRIX = np.asmatrix(np.ones((1, 2)))

BAD = [
    ("text", "abc", "a str ('abc')", "pass a float"),
    ("none", None, "is None", "pass a float"),
    ("generator", _generator(), "a generator", "np.fromiter"),
    ("complex", 1 + 2j, "the complex number (1+2j)", "real functions of real inputs"),
    ("complex array", np.array([1 + 1j, 2.0]), "a complex array (dtype complex128)",
     "real functions of real inputs"),
    ("complex scalar", np.complex64(1j), "complex", "real functions of real inputs"),
    ("masked", np.ma.array([1.0, 2.0, 3.0], mask=[0, 1, 0]), "a masked array", "x.filled("),
    ("bool", True, "a bool", "has no gradient"),
    ("bool array", np.array([True, False]), "a bool array", "has no gradient"),
    ("object array", np.array([1.0, 2.0], dtype=object), "dtype object", "dtype=float"),
    ("strings array", np.array(["a"]), "dtype <U1", "pass an array of floats"),
    ("matrix", _MATRIX, "a numpy.matrix", "np.asarray(x)"),
    ("set", {1.0}, "a set", "pass a float"),
]


@pytest.mark.parametrize("kind, value, what, hint", BAD, ids=[b[0] for b in BAD])
@pytest.mark.parametrize("f", [linear, square])
def test_wrong_kinds_of_argument_are_refused(kind, value, what, hint, f):
    with pytest.raises(ArgumentTypeError) as info:
        srcgrad.grad(f)(value)
    err = info.value
    assert isinstance(err, SrcgradError) and isinstance(err, TypeError)
    assert str(err).startswith(f"grad of {f.__name__}: the argument `x` is ")
    assert what in err.reason and hint in err.hint
    with pytest.raises(ArgumentTypeError, match="value_and_grad of .*`x`"):
        srcgrad.value_and_grad(f)(value)


def test_wrong_kind_found_by_name_and_in_containers():
    with pytest.raises(ArgumentTypeError, match="`y` is None"):
        srcgrad.grad(square, wrt=(0, 1))(X, None)
    with pytest.raises(ArgumentTypeError, match="`x` is a str"):
        srcgrad.grad(square)(y=2.0, x="abc")

    def loss(params):
        return np.sum(params["w"] ** 2) + np.sum(params["layers"][1] ** 2)
    masked = np.ma.array([1.0, 2.0], mask=[1, 0])
    with pytest.raises(ArgumentTypeError, match=r"`params\['layers'\]\[1\]` is a masked array"):
        srcgrad.grad(loss)({"w": X, "layers": [1.0, masked]})
    with pytest.raises(ArgumentTypeError, match=r"`params\['w'\]` is the complex number 1j"):
        srcgrad.grad(loss)({"w": 1j, "layers": [1.0, 2.0]})


def test_refused_before_generated_code_runs():
    calls = []

    def loss(x):
        calls.append(x)             # (a side effect srcgrad keeps)
        return np.sum(x)
    g = srcgrad.grad(loss)
    with pytest.raises(ArgumentTypeError):
        g(np.ma.array([1.0, 2.0], mask=[0, 1]))
    with pytest.raises(ArgumentTypeError):
        g("ab")
    assert calls == []
    g(X)
    assert len(calls) == 1


def test_real_numbers_and_arrays_of_every_kind_still_work(tmp_path):
    g = srcgrad.grad(square)
    assert g(3) == 6.0 and type(g(3)) is float
    assert g(1.5) == 3.0 and type(g(1.5)) is float
    assert g(np.float32(2.0)) == 4.0 and g(np.float32(2.0)).dtype == np.float32
    assert g(np.int64(2)) == 4.0
    np.testing.assert_array_equal(g(np.array([1, 2], dtype=np.uint8)), [2.0, 4.0])
    assert g(np.arange(3)).dtype == np.float64
    assert g(X.astype(np.float32)).dtype == np.float32
    np.testing.assert_allclose(g(X[::2]), 2 * X[::2], rtol=1e-12)          # a view
    mapped = np.memmap(tmp_path / "x.dat", dtype=np.float64, mode="w+", shape=(3,))
    mapped[:] = [1.0, 2.0, 3.0]
    np.testing.assert_allclose(g(mapped), [2.0, 4.0, 6.0], rtol=1e-12)
    np.testing.assert_allclose(srcgrad.grad(square, wrt="y")(X, 2), np.sum(X ** 2), rtol=1e-12)


def test_jvp_refuses_primals_and_tangents_of_the_wrong_kind():
    f_jvp = srcgrad.jvp_function(square)
    masked = np.ma.array([1.0, 2.0], mask=[0, 1])
    with pytest.raises(ArgumentTypeError, match="`x` is a masked array"):
        f_jvp((masked,), np.ones(2))
    with pytest.raises(ArgumentTypeError, match="`x` is a masked array"):
        srcgrad.jvp(square, (masked,), (np.ones(2),))
    with pytest.raises(ArgumentTypeError, match="complex"):
        srcgrad.jvp(square, (np.array([1j, 2.0]),), (np.ones(2),))
    with pytest.raises(ArgumentTypeError, match="tangent of `x` .* is str"):
        f_jvp((X,), "abc")
    with pytest.raises(ArgumentTypeError, match="tangent of `x` .* is a masked array"):
        f_jvp((np.ones(2),), masked)
    with pytest.raises(ArgumentTypeError, match="`x` is int .* no tangent"):
        f_jvp((3,), 1.0)
    # tangents of ints and strings are still ignored by jvp, and floats work
    assert srcgrad.jvp(square, (X, 2), (np.ones_like(X), 5.0))[1] == \
        pytest.approx(np.sum(4 * X))


# --- 3. concurrent first calls ------------------------------------------------------------------
THREADS = """
import sys
import threading

import numpy as np

import srcgrad
from srcgrad import api, forward_api

made = []
for cls in (api.Transformed, forward_api.ForwardTransformed):
    def counting(self, func, *args, _original=cls.__init__, **kwargs):
        made.append(func.__name__)
        _original(self, func, *args, **kwargs)
    cls.__init__ = counting

ACT = np.tanh


def first(x):
    return np.sum(np.tanh(x) ** 2)


def second(x):
    return np.sum(ACT(x) * np.exp(x))


x = np.linspace(-1.0, 1.0, 10)


def together(call, want, n=16):
    barrier, results = threading.Barrier(n), [None] * n

    def run(i):
        barrier.wait()
        try:
            results[i] = np.allclose(call(), want, rtol=1e-12)
        except BaseException as exc:
            results[i] = f"{type(exc).__name__}: {exc}"
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


t = np.tanh(x)
report = {}
# the first gradient of the process: the rule templates are read meanwhile
g = srcgrad.grad(first)
report["cold"] = (together(lambda: g(x), 2 * t * (1 - t ** 2)), list(made))
made.clear()
# templates read: another function's first call (was a RecursionError)
g2 = srcgrad.grad(second)
report["warm"] = (together(lambda: g2(x), (1 - t ** 2 + t) * np.exp(x)), list(made))
made.clear()
# stale after rebinding: transformed again, once
ACT = np.sin
report["stale"] = (together(lambda: g2(x), (np.cos(x) + np.sin(x)) * np.exp(x)), list(made))
made.clear()
# first forward-mode calls, through new wrappers of the same function
v = np.ones_like(x)
report["jvp"] = (together(lambda: srcgrad.jvp_function(first)((x,), v)[1],
                          np.sum(2 * t * (1 - t ** 2))), list(made))
print(repr(report))
"""


def test_concurrent_first_calls_transform_once_in_fresh_processes(tmp_path):
    script = tmp_path / "threads_first_call.py"
    script.write_text(THREADS)
    root = os.path.dirname(os.path.dirname(os.path.abspath(srcgrad.__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    runs = [subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env, cwd=str(tmp_path))
            for _ in range(4)]
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
        report = eval(out)
        for case, name in (("cold", "first"), ("warm", "second"), ("stale", "second"),
                           ("jvp", "first")):
            results, made = report[case]
            assert results == [True] * 16, (case, results)
            assert made == [name], (case, made)
