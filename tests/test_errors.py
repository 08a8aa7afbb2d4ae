"""Bad input gets a SrcgradError naming file, line and construct, never a wrong gradient."""
import collections
import contextlib
import os
import sys

import numpy as np
import pytest
from support import both_modes, line_of, note_location, srcgrad_note

import srcgrad
from srcgrad import (GradientRuntimeError, NoDerivativeRuleError, NonScalarResultError,
                     SourceUnavailableError, SrcgradError, UnsupportedSyntaxError)

HERE = os.path.basename(__file__)




def raises(func, cls, wrt=0, args=(np.ones(3),)):
    with pytest.raises(cls) as info:
        srcgrad.grad(func, wrt=wrt)(*args)
    return info.value


def with_attribute_assignment(x):
    box = ENVELOPE
    box.value = x * 2.0
    return np.sum(box.value)


class _Box:
    value = 0.0


ENVELOPE = _Box()




def with_with(x):
    with open(os.devnull):          # (np.errstate is kept: tests/test_statements.py)
        y = np.log(x)
    return np.sum(y)


def with_try(x):
    try:
        y = np.log(x)
    except ValueError:
        y = x
    return np.sum(y)


def with_recursion(x):
    def recursive_helper(v, n):
        return v if n == 0 else recursive_helper(v * 2.0, n - 1)
    return np.sum(recursive_helper(x, 2))


def with_global(x):
    global SOMETHING
    SOMETHING = 1
    return np.sum(x)


def with_lambda(x):
    y = (lambda v: v * 2.0)(x)
    return np.sum(y)


def with_comprehension(x):
    parts = {i: x * i for i in range(3)}
    return np.sum(x)


@pytest.mark.parametrize("func,marker,construct", [
    (with_attribute_assignment, "box.value = x", "attribute assignment"),
    (with_with, "with open", "`with` statement"),
    (with_try, "try:", "`try` statement"),
    (with_global, "global SOMETHING", "`global` declaration"),
    (with_lambda, "lambda v", "call"),
    (with_comprehension, "parts = {", "dict comprehension"),
])
def test_unsupported_syntax_names_file_line_construct(func, marker, construct):
    err = raises(func, UnsupportedSyntaxError)
    line = line_of(func, marker)
    assert err.lineno == line and err.construct == construct
    text = str(err)
    assert text.startswith(f"{func.__code__.co_filename}:{line}: ")
    assert construct in text and marker in text      # the source line is quoted
    assert "hint:" in text or construct in ("call",)


def test_recursion_of_a_nested_function_is_refused_at_the_recursive_call():
    err = raises(with_recursion, UnsupportedSyntaxError)    # (module-level recursion works)
    assert err.lineno == line_of(with_recursion, "else recursive_helper")
    assert err.construct == "recursive call" and "recursive_helper" in str(err)
    assert "define recursive_helper at the top level" in err.hint


def test_error_is_raised_at_transform_time_by_source_too():
    with pytest.raises(UnsupportedSyntaxError):
        srcgrad.grad(with_attribute_assignment).source


def fft_loss(x):
    y = np.fft.hfft(x)
    return np.sum(np.abs(y))


def test_function_without_rule_names_it():
    err = raises(fft_loss, NoDerivativeRuleError)
    assert err.lineno == line_of(fft_loss, "np.fft.hfft")
    assert "np.fft.hfft" in str(err) and "hint:" in str(err)


def test_function_without_rule_on_data_only_is_fine():
    def f(x, data):
        spectrum = np.abs(np.fft.fft(data))        # no gradient needed through fft
        return np.sum(x * spectrum)
    data = np.arange(4.0)
    np.testing.assert_allclose(srcgrad.grad(f)(np.ones(4), data), np.abs(np.fft.fft(data)))


# --- functions of NumPy, SciPy and other installed libraries, written in Python ------------
# srcgrad never reads them (not inlined, not taken for the user's recursive functions): with
# no rule, the error names the call as written, at the user's line, and the custom-rule hint.

def checked_finite(x):
    y = np.asarray_chkfinite(x) * 2.0
    return np.sum(y)


def library_message(name, line, code):
    return (f"{__file__}:{line}: srcgrad has no derivative rule for `{name}`, a function of an "
            f"installed library (srcgrad does not differentiate library code)\n    {code}\n"
            f"hint: give it a rule: srcgrad.register_vjp({name}, rule) with def rule(g, ans, *args): "
            f"... (and srcgrad.register_jvp for jvp), or compute {name}(...) outside the "
            f"differentiated function and pass it in as an argument")


def test_numpy_function_written_in_python_without_rule():
    """np.asarray_chkfinite is a plain Python function of NumPy's: once reported as a
    recursive function of the user's to move next to the differentiated one."""
    line = line_of(checked_finite, "asarray_chkfinite")
    want = library_message("np.asarray_chkfinite", line, "y = np.asarray_chkfinite(x) * 2.0")
    for err in both_modes(checked_finite, np.ones(3)):
        assert isinstance(err, NoDerivativeRuleError) and str(err) == want
        assert err.lineno == line and err.filename.endswith(HERE)
        assert err.construct == "np.asarray_chkfinite"


def scipy_matrix_logarithm(a):          # (scipy.linalg.logm has no rule)
    return np.sum(logm_imported(a))


def scipy_by_module(a):
    return np.trace(scipy.linalg.logm(a * 0.5))


logm_imported = scipy = None        # (set by the tests when SciPy is installed)


def test_scipy_function_without_rule_named_as_written(monkeypatch):
    linalg = pytest.importorskip("scipy.linalg")
    monkeypatch.setitem(globals(), "logm_imported", linalg.logm)
    monkeypatch.setitem(globals(), "scipy", pytest.importorskip("scipy"))
    a = np.eye(2) * 0.3
    line = line_of(scipy_matrix_logarithm, "logm_imported(a)")
    want = library_message("logm_imported", line, "return np.sum(logm_imported(a))")
    for err in both_modes(scipy_matrix_logarithm, a):
        assert isinstance(err, NoDerivativeRuleError) and str(err) == want
    err = raises(scipy_by_module, NoDerivativeRuleError, args=(a,))
    assert err.lineno == line_of(scipy_by_module, "scipy.linalg.logm")
    assert "`scipy.linalg.logm`, a function of an installed library" in str(err)
    assert "srcgrad.register_vjp(scipy.linalg.logm, rule)" in str(err)


def test_the_hint_works_a_registered_rule_is_used(monkeypatch):
    linalg = pytest.importorskip("scipy.linalg")
    monkeypatch.setitem(globals(), "logm_imported", linalg.logm)
    monkeypatch.setattr(srcgrad.custom, "CUSTOM_VJP", {})
    srcgrad.clear_cache()
    # d/da sum(logm(a)) for a diagonal a = diag(d): 1 / d on the diagonal, 0 elsewhere
    srcgrad.register_vjp(linalg.logm, lambda g, ans, a: np.diag(np.diag(g) / np.diag(a)))
    a = np.diag([0.2, 0.5])
    np.testing.assert_allclose(srcgrad.grad(scipy_matrix_logarithm)(a), np.diag(1.0 / np.array([0.2, 0.5])))
    srcgrad.clear_cache()


INSTALLED = """\
import numpy as np


def soft(v):
    return np.log1p(np.exp(v))


def depth(v, n):
    return v if n == 0 else depth(np.tanh(v), n - 1)
"""


def test_code_of_any_installed_library_is_never_read(tmp_path, monkeypatch):
    """A module in site-packages is a library's, whatever its name: neither inlined as a
    helper nor taken for a recursive function of the user's."""
    folder = tmp_path / "site-packages"
    folder.mkdir()
    (folder / "srcgrad_fake_library.py").write_text(INSTALLED)
    monkeypatch.syspath_prepend(str(folder))
    import srcgrad_fake_library as lib
    monkeypatch.setitem(sys.modules, "srcgrad_fake_library", lib)

    def uses_helper(x):
        return np.sum(lib.soft(x))

    def uses_recursion(x):
        return np.sum(lib.depth(x, 3))
    for f, name in [(uses_helper, "lib.soft"), (uses_recursion, "lib.depth")]:
        for err in both_modes(f, np.ones(3)):
            assert isinstance(err, NoDerivativeRuleError), err
            assert err.lineno == line_of(f, name) and err.construct == name
            assert f"srcgrad.register_vjp({name}, rule)" in err.hint


def test_user_module_outside_site_packages_is_still_inlined(tmp_path, monkeypatch):
    (tmp_path / "srcgrad_fake_user_module.py").write_text(INSTALLED)
    monkeypatch.syspath_prepend(str(tmp_path))
    import srcgrad_fake_user_module as mine
    monkeypatch.setitem(sys.modules, "srcgrad_fake_user_module", mine)

    def uses_helper(x):
        return np.sum(mine.soft(x))
    x = np.array([0.3, -1.0])
    np.testing.assert_allclose(srcgrad.grad(uses_helper)(x), 1.0 / (1.0 + np.exp(-x)))


def method_without_rule(x):
    return np.sum(x.tolist())


def test_method_without_rule():
    err = raises(method_without_rule, NoDerivativeRuleError)
    assert ".tolist()" in str(err) and err.lineno == line_of(method_without_rule, "tolist")


def helper(v):
    return v * 2.0


def calls_user_function(x):
    return np.sum(helper(x))


def test_call_to_user_function_is_inlined():
    from support import check
    check(calls_user_function, np.array([0.5, -1.0, 2.0]))
    assert "helper" not in srcgrad.grad(calls_user_function).source.split("return")[0].split('"""')[2]


def bad_keyword(x):
    return np.sum(x, dtype=np.float32)


def test_unsupported_keyword_of_a_rule():
    err = raises(bad_keyword, UnsupportedSyntaxError)
    assert "dtype=" in str(err) and "np.sum" in str(err)


def returns_vector(x):
    return x * 2.0


def test_non_scalar_result_names_shape():
    err = raises(returns_vector, NonScalarResultError)
    assert "scalar" in str(err) and "(3,)" in str(err)
    assert err.lineno == line_of(returns_vector, "return x * 2.0")


def returns_tuple(x):
    return np.sum(x), np.mean(x)


def no_return(x):
    y = x * 2


@pytest.mark.parametrize("func", [returns_tuple, no_return])
def test_result_that_is_not_one_value(func):
    err = raises(func, NonScalarResultError)
    assert "scalar" in str(err)


def test_source_unavailable():
    namespace = {}
    exec("import numpy as np\ndef typed_in_repl(x):\n    return np.sum(x)\n", namespace)
    with pytest.raises(SourceUnavailableError) as info:
        srcgrad.grad(namespace["typed_in_repl"])(np.ones(2))
    assert "source" in str(info.value) and "hint:" in str(info.value)


def test_not_a_function():
    with pytest.raises(SrcgradError):
        srcgrad.grad(np.sum)
    with pytest.raises(SrcgradError):
        srcgrad.grad(42)


@pytest.mark.parametrize("wrt,words", [(5, "out of range"), ("z", "not a parameter"),
                                       ((0, "w"), "twice"), ((), "no gradient"),
                                       (1.5, "position or name")])
def test_bad_wrt(wrt, words):
    def f(w, X):
        return np.sum(w * X)
    with pytest.raises(SrcgradError) as info:
        srcgrad.grad(f, wrt=wrt)
    assert words in str(info.value)


def shape_mismatch(w, X):
    z = X @ w
    return np.sum(z)


def test_runtime_error_keeps_its_type_and_names_user_line():
    with pytest.raises(ValueError, match="matmul") as info:
        srcgrad.grad(shape_mismatch)(np.ones(4), np.ones((3, 5)))
    err = info.value
    assert type(err) is ValueError
    assert note_location(err) == (__file__, line_of(shape_mismatch, "z = X @ w"))
    assert "\n    z = X @ w\n" in srcgrad_note(err) and "generated gradient" in srcgrad_note(err)


def test_wrong_call_signature_is_plain_type_error():
    with pytest.raises(TypeError):
        srcgrad.grad(shape_mismatch)(np.ones(4))


def test_errors_are_srcgrad_errors():
    for cls in (UnsupportedSyntaxError, NoDerivativeRuleError, NonScalarResultError,
                SourceUnavailableError, GradientRuntimeError):
        assert issubclass(cls, SrcgradError)


def in_place_on_shared(w):
    a = w * 2.0
    b = a
    a += 1.0
    return np.sum(b * w)


def in_place_on_view(w):
    a = w * 2.0
    v = a.T
    a *= 3.0
    return np.sum(v)


def fill_in_place(w):
    a = w * 2.0
    a.fill(1.0)
    return np.sum(a * w)


def out_argument(w):
    a = w * 2.0
    np.clip(a, 0.0, 1.0, out=a)
    return np.sum(a)


@pytest.mark.parametrize("func,marker", [(in_place_on_shared, "a += 1.0"), (in_place_on_view, "a *= 3.0"),
                                         (fill_in_place, "a.fill"), (out_argument, "out=a")])
def test_in_place_updates_that_would_change_other_names_are_refused(func, marker):
    err = raises(func, UnsupportedSyntaxError)
    assert err.lineno == line_of(func, marker)
    assert "in place" in str(err)


def test_in_place_update_of_an_unshared_array_is_fine():
    def f(w):
        a = w * 2.0
        a += 1.0
        a *= w
        b = a                     # a copy after the updates is fine
        return np.sum(b)
    from support import check
    check(f, np.linspace(-1, 1, 4))


def test_print_is_kept_and_runs(capsys):
    def f(w):
        print("loss is being differentiated")
        return np.sum(w * w)
    srcgrad.grad(f)(np.ones(2))
    assert "loss is being differentiated" in capsys.readouterr().out


# ==============================================================================================
# Issue #3, what stays unsupported: generators/yield, global and nonlocal writes, `try` around
# differentiable code, `with`, async, classes defined inside the function.
#
# Each raises a SrcgradError (never a wrong gradient, never some other exception) whose
# `.lineno` is the line of the construct -- also when it sits inside a loop or a branch, in a
# nested def or in a helper the differentiated function calls -- whose `.filename` is the
# file of that line, and whose message starts with "file:line: ", names the construct and
# carries a hint.
# ==============================================================================================

COUNTER = 0
X = np.array([0.5, 1.5, 2.0])


def refused(func, args=(X,)):
    with pytest.raises(srcgrad.SrcgradError) as info:
        srcgrad.grad(func)(*args)
    return info.value


def assert_names(err, where, marker, keyword):
    """`err` points at the line of `where` containing `marker` and names `keyword`."""
    line = line_of(where, marker)
    filename = where.__code__.co_filename
    text = str(err)
    assert err.lineno == line, f"line {err.lineno}, expected {line} ({marker!r}):\n{text}"
    assert err.filename == filename
    assert text.startswith(f"{filename}:{line}: "), text
    assert keyword in text.lower(), text
    assert err.construct is not None and keyword in err.construct.lower(), err.construct
    assert err.hint and "hint:" in text, text


# --- generators ----------------------------------------------------------------------------------

def generator_itself(x):
    y = x * 2.0
    yield np.sum(y)


def scaled_copies(x):
    for k in range(3):
        yield x * k


def consumes_a_generator(x):
    s = 0.0
    for v in scaled_copies(x):
        s = s + np.sum(v * v)
    return s


def delegates_with_yield_from(x):
    yield from [np.sum(x)]


@pytest.mark.parametrize("func,where,marker,keyword", [
    (generator_itself, generator_itself, "yield np.sum", "yield"),
    (consumes_a_generator, scaled_copies, "yield x * k", "yield"),
    (delegates_with_yield_from, delegates_with_yield_from, "yield from", "yield"),
], ids=["function-is-a-generator", "calls-a-generator", "yield-from"])
def test_generators_are_refused(func, where, marker, keyword):
    assert_names(refused(func), where, marker, keyword)


# --- global and nonlocal writes ------------------------------------------------------------------

def writes_a_global(x):
    y = np.sum(x * x)
    global COUNTER
    COUNTER = COUNTER + 1
    return y


def bump(v):
    global COUNTER
    COUNTER += 1
    return v * 2.0


def calls_a_helper_writing_a_global(x):
    return np.sum(bump(x) ** 2)


def writes_a_nonlocal(x):
    total = 0.0

    def add(v):
        nonlocal total
        total = total + np.sum(v)
    add(x)
    add(x * x)
    return total


@pytest.mark.parametrize("func,where,marker,keyword", [
    (writes_a_global, writes_a_global, "global COUNTER", "global"),
    (calls_a_helper_writing_a_global, bump, "global COUNTER", "global"),
    (writes_a_nonlocal, writes_a_nonlocal, "nonlocal total", "nonlocal"),
], ids=["global", "global-in-helper", "nonlocal-in-closure"])
def test_global_and_nonlocal_writes_are_refused(func, where, marker, keyword):
    assert_names(refused(func), where, marker, keyword)


# --- try -----------------------------------------------------------------------------------------

def try_around_differentiable_code(x):
    try:
        y = np.log(x)
    except FloatingPointError:
        y = x
    return np.sum(y)


def try_finally_in_a_loop(x):
    s = 0.0
    for i in range(2):
        try:
            s = s + np.sum(x ** i)
        finally:
            s = s * 1.0
    return s


def log_or_zero(v):
    try:
        return np.log(v)
    except ValueError:
        return v * 0.0


def calls_a_helper_with_try(x):
    return np.sum(log_or_zero(x))


@pytest.mark.parametrize("func,where", [
    (try_around_differentiable_code, try_around_differentiable_code),
    (try_finally_in_a_loop, try_finally_in_a_loop),
    (calls_a_helper_with_try, log_or_zero),
], ids=["try-except", "try-finally-in-loop", "try-in-helper"])
def test_try_around_differentiable_code_is_refused(func, where):
    assert_names(refused(func), where, "try:", "try")


# --- with -------------------------------------------------------------------------------------------

def with_statement(x):
    with contextlib.suppress(FloatingPointError):   # (np.errstate is kept)
        y = np.log(x)
    return np.sum(y)


def with_inside_a_branch(x):
    y = x * 2.0
    if np.sum(x) > 0:
        with contextlib.suppress(FloatingPointError):
            y = np.sqrt(y)
    return np.sum(y)


@pytest.mark.parametrize("func", [with_statement, with_inside_a_branch])
def test_with_is_refused(func):
    assert_names(refused(func), func, "with contextlib", "with")


# --- async ------------------------------------------------------------------------------------------

async def async_function(x):
    return np.sum(x * x)


def defines_an_async_function(x):
    async def inner(v):
        return v * 2.0
    return np.sum(x * x)


@pytest.mark.parametrize("func,marker", [(async_function, "async def async_function"),
                                         (defines_an_async_function, "async def inner")],
                         ids=["async-def", "nested-async-def"])
def test_async_is_refused(func, marker):
    with pytest.raises(srcgrad.SrcgradError) as info:
        srcgrad.grad(func)(X)
    assert_names(info.value, func, marker, "async")


# --- classes -----------------------------------------------------------------------------------------

def defines_a_class(x):
    class Box:
        scale = 2.0
    return np.sum(x * Box.scale)


def defines_a_class_in_a_loop(x):
    s = 0.0
    for i in range(2):
        class Holder:
            value = i
        s = s + np.sum(x) * Holder.value
    return s


@pytest.mark.parametrize("func,marker", [(defines_a_class, "class Box"),
                                         (defines_a_class_in_a_loop, "class Holder")])
def test_class_defined_inside_the_function_is_refused(func, marker):
    assert_names(refused(func), func, marker, "class")


# --- refusal is final: the same gradient object keeps refusing ---------------------------------------

def test_refusal_does_not_depend_on_the_call():
    g = srcgrad.grad(try_around_differentiable_code)
    for args in ((X,), (np.ones((2, 2)),)):
        with pytest.raises(srcgrad.SrcgradError):
            g(*args)


# --- a parameter container as the differentiated argument: the same errors, at the user's line -------
# (The function itself is transformed, its container's leaves read from the argument: an error
# names the user's file, line and code exactly as it does for the same code given an array.)

Pair = collections.namedtuple("Pair", "W b")
_W = np.array([[0.5, -0.2], [0.1, 0.4]])
_B = np.array([0.3, -0.1])
_X = np.array([[1.0, 2.0], [-0.5, 0.25]])


def no_rule_plain(W, b, X):
    z = X @ W + b
    return np.sum(np.fft.hfft(z))


def no_rule_dict(p, X):
    z = X @ p["W"] + p["b"]
    return np.sum(np.fft.hfft(z))


def no_rule_list(p, X):
    z = X @ p[0] + p[1]
    return np.sum(np.fft.hfft(z))


def no_rule_record(p, X):
    z = X @ p.W + p.b
    return np.sum(np.fft.hfft(z))


def singular_plain(W, b, X):
    z = X @ W + b
    return np.sum(np.linalg.inv(z * 0.0))


def singular_dict(p, X):
    z = X @ p["W"] + p["b"]
    return np.sum(np.linalg.inv(z * 0.0))


def singular_list(p, X):
    z = X @ p[0] + p[1]
    return np.sum(np.linalg.inv(z * 0.0))


def singular_record(p, X):
    z = X @ p.W + p.b
    return np.sum(np.linalg.inv(z * 0.0))


def vector_plain(W, b, X):
    z = X @ W + b
    return np.tanh(z)


def vector_dict(p, X):
    z = X @ p["W"] + p["b"]
    return np.tanh(z)


def vector_list(p, X):
    z = X @ p[0] + p[1]
    return np.tanh(z)


def vector_record(p, X):
    z = X @ p.W + p.b
    return np.tanh(z)


def bad_try_plain(W, b, X):
    try:
        z = X @ W + b
    except ValueError:
        z = X
    return np.sum(z)


def bad_try_dict(p, X):
    try:
        z = X @ p["W"] + p["b"]
    except ValueError:
        z = X
    return np.sum(z)


def bad_try_list(p, X):
    try:
        z = X @ p[0] + p[1]
    except ValueError:
        z = X
    return np.sum(z)


def bad_try_record(p, X):
    try:
        z = X @ p.W + p.b
    except ValueError:
        z = X
    return np.sum(z)


_CONTAINER_ARGUMENTS = {"dict": {"W": _W, "b": _B}, "list": [_W, _B], "record": Pair(_W, _B)}


@pytest.mark.parametrize("kind", ["dict", "list", "record"])
@pytest.mark.parametrize("error,cls,marker", [
    ("no_rule", NoDerivativeRuleError, "np.fft.hfft(z)"),
    ("singular", np.linalg.LinAlgError, "np.linalg.inv"),
    ("vector", NonScalarResultError, "return np.tanh(z)"),
    ("bad_try", UnsupportedSyntaxError, "try:"),
])
def test_errors_with_a_container_argument_name_the_users_line(kind, error, cls, marker):
    plain, func = globals()[f"{error}_plain"], globals()[f"{error}_{kind}"]
    with pytest.raises(cls) as expected:
        srcgrad.grad(plain, wrt=(0, 1))(_W, _B, _X)
    with pytest.raises(cls) as info:
        srcgrad.grad(func)(_CONTAINER_ARGUMENTS[kind], _X)
    err = info.value
    if cls is np.linalg.LinAlgError:       # NumPy's own error, noted with the user's line
        assert note_location(err) == (__file__, line_of(func, marker))
        assert note_location(expected.value) == (__file__, line_of(plain, marker))
        assert f"computing the gradient of {func.__name__}, at this line:\n    return " \
               "np.sum(np.linalg.inv(z * 0.0))\n" in srcgrad_note(err)
        assert str(err) == str(expected.value) == "Singular matrix" or sys.version_info < (3, 11)
        return
    assert err.filename == __file__ and err.lineno == line_of(func, marker)
    assert marker in err.source_line and "<srcgrad" not in str(err)
    assert str(err).startswith(f"{__file__}:{err.lineno}: ")
    # the same words as for arrays (only the function's name differs)
    assert err.reason == expected.value.reason.replace(plain.__name__, func.__name__)
    assert err.construct == expected.value.construct


def key_known_when_it_runs(p, X, key):
    z = X @ p[key]
    return np.sum(z * p["b"])


def test_a_dict_argument_read_by_a_key_known_only_when_it_runs_is_read_then():
    # (no longer an error: the argument's entries are read when the code runs, by key)
    p = {"W": _W, "b": _B}
    got = srcgrad.grad(key_known_when_it_runs)(p, _X, "W")
    for key in p:
        def of_leaf(leaf):
            return key_known_when_it_runs(dict(p, **{key: leaf}), _X, "W")
        np.testing.assert_allclose(got[key], srcgrad.numerical_gradient(of_leaf, (p[key],)),
                                   rtol=1e-6, atol=1e-8)


def checked_record(p, X):
    if np.any(np.abs(p.W) > 100.0):
        raise ValueError("weights out of range")
    return np.sum(X @ p.W + p.b)


def test_a_raise_check_of_a_container_raises_the_users_own_error():
    with pytest.raises(ValueError, match="weights out of range") as info:
        srcgrad.grad(checked_record)(Pair(_W * 1000.0, _B), _X)
    assert not isinstance(info.value, srcgrad.SrcgradError)
    g = srcgrad.grad(checked_record)(Pair(_W, _B), _X)
    assert isinstance(g, Pair)
    np.testing.assert_allclose(g.W, _X.T @ np.ones((2, 2)), rtol=1e-12)
    np.testing.assert_allclose(g.b, [2.0, 2.0], rtol=1e-12)


def recursive_with_params(p, n):
    if n == 0:
        return np.sum(p["W"] ** 2)
    return 2.0 * recursive_with_params(p, n - 1)


def calls_recursion_with_params(p, X):
    return recursive_with_params(p, 2) + np.sum(X @ p["b"])


def recursive_with_layers(ws, n):
    if n == 0:
        return np.sum(ws[0] ** 2)
    return 2.0 * recursive_with_layers(ws, n - 1)


def calls_recursion_with_a_list_it_builds(w, X):
    return recursive_with_layers([w, X], 2)


@pytest.mark.parametrize("func,argument,marker,param", [
    (calls_recursion_with_params, {"W": _W, "b": _B}, "recursive_with_params(p, 2)", "p"),
    (calls_recursion_with_params, {"W": _W, "b": _B, "extra": 1.0}, "recursive_with_params(p, 2)", "p"),
    (calls_recursion_with_a_list_it_builds, _W, "recursive_with_layers([w, X], 2)", "ws"),
], ids=["dict-argument", "dict-argument-2", "list-built-inside"])
def test_a_container_passed_to_a_recursive_function_is_refused_saying_so(func, argument, marker, param):
    with pytest.raises(UnsupportedSyntaxError) as info:
        srcgrad.grad(func)(argument, _X)
    err = info.value
    assert err.filename == __file__ and err.lineno == line_of(func, marker)
    assert err.construct == "recursive call" and marker in err.source_line
    assert "recursive function" in err.reason and f"argument `{param}`" in err.reason
    assert "not a list, tuple or dict holding them" in err.reason
    assert "arguments of their own" in err.hint and "loop" in err.hint


def recursive_power(W, n):
    if n == 0:
        return np.sum(W ** 2)
    return 2.0 * recursive_power(W, n - 1)


def calls_recursion_with_a_leaf(p, X, n):
    return recursive_power(p["W"], n) + np.sum(X @ p["b"])


def test_a_recursive_function_given_a_leaf_of_the_container_works():
    p = {"W": _W, "b": _B}
    for n in (0, 3):
        g = srcgrad.grad(calls_recursion_with_a_leaf)(p, _X, n)
        np.testing.assert_allclose(g["W"], 2.0 ** n * 2 * _W, rtol=1e-12)
        np.testing.assert_allclose(g["b"], _X.sum(axis=0), rtol=1e-12)
    srcgrad.check_grad(calls_recursion_with_a_leaf, p, _X, 2)


def reads_a_missing_key(params, X):
    layer = params["layers"][0]
    return np.sum(X @ layer["V"])


def reads_past_the_end(ws, X):
    return np.sum(X @ ws[3])


@pytest.mark.parametrize("func,argument,marker,reason", [
    (reads_a_missing_key, {"layers": [{"W": _W}]}, 'layer["V"]',
     "`params['layers'][0]` has no key 'V': the dict passed has the keys 'W'"),
    (reads_past_the_end, [_W, _W], "ws[3]",
     "`ws[3]` is out of range: the list or tuple passed has 2 elements"),
    (no_rule_dict, [_W, _B], 'p["W"]', "`p` is a list or tuple of 2 elements: it has no key 'W'"),
], ids=["missing-key", "past-the-end", "key-of-a-list"])
def test_a_key_the_container_argument_lacks_is_named_at_its_read(func, argument, marker, reason):
    with pytest.raises(SrcgradError) as info:
        srcgrad.grad(func)(argument, _X)
    err = info.value
    assert err.filename == __file__ and err.lineno == line_of(func, marker)
    assert err.reason == reason and err.construct == "parameter container"
    assert "on every path" in err.hint


def draw_around(mu, rng):
    return np.sum(rng.normal(mu, 1.0))


def test_a_random_draw_of_a_generator_argument_gets_the_reparametrization_hint():
    """`rng.normal(mu, ...)` with `rng` an argument is a random draw, as with a global
    generator (it read "no derivative rule for the method `.normal()`: call the NumPy
    function instead")."""
    with pytest.raises(srcgrad.NoDerivativeRuleError) as info:
        srcgrad.grad(draw_around)(np.zeros(3), np.random.default_rng(0))
    message = str(info.value)
    assert "the random function `rng.normal`" in message
    assert "mu + sigma * rng.standard_normal(shape)" in message
