"""Issue #3, what stays unsupported: generators/yield, global and nonlocal writes, `try` around
differentiable code, `with`, async, classes defined inside the function.

Each raises a SrcgradError (never a wrong gradient, never some other exception) whose
`.lineno` is the line of the construct -- also when it sits inside a loop or a branch, in a
nested def or in a helper the differentiated function calls -- whose `.filename` is the
file of that line, and whose message starts with "file:line: ", names the construct and
carries a hint.
"""
import inspect

import numpy as np
import pytest

import srcgrad

COUNTER = 0
X = np.array([0.5, 1.5, 2.0])


def line_of(func, text):
    """Absolute line number of the first line of `func`'s source containing `text`."""
    lines, start = inspect.getsourcelines(func)
    return start + next(i for i, line in enumerate(lines) if text in line)


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
    with np.errstate(divide="ignore"):
        y = np.log(x)
    return np.sum(y)


def with_inside_a_branch(x):
    y = x * 2.0
    if np.sum(x) > 0:
        with np.errstate(all="ignore"):
            y = np.sqrt(y)
    return np.sum(y)


@pytest.mark.parametrize("func", [with_statement, with_inside_a_branch])
def test_with_is_refused(func):
    assert_names(refused(func), func, "with np.errstate", "with")


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
