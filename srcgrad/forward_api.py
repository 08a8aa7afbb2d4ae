"""The forward-mode entry points: `jvp` and `jvp_function`.

    value, tangent = srcgrad.jvp(f, (x, y), (t_x, t_y))     # f(x, y) and its derivative along (t_x, t_y)

    f_jvp = srcgrad.jvp_function(f, wrt=(0, 1))              # the generated function itself
    value, tangent = f_jvp((x, y), (t_x, t_y))
    print(f_jvp.source)

The transformation (pipeline.forward_jvp: parse -> normalize -> forward mode -> optimize ->
print -> compile) runs once per function and set of arguments with tangents, and is cached;
like a gradient, a JVP function is transformed again when a function or global it read has
changed (deps.py).
"""
import functools
import inspect
import weakref

import numpy as np

from . import arguments, deps
from .api import GradientFunction, _resolve_wrt, cached, install_call, uninstall_call
from .errors import ArgumentTypeError, SrcgradError
from .pipeline import forward_jvp
from .source import as_function
from .tracebacks import for_user, passes_untouched, user_facing

_CACHE = weakref.WeakKeyDictionary()   # function -> {wrt names: ForwardTransformed}


class ForwardTransformed:
    """A compiled JVP function (the fields callers use of its pipeline.Program) and how to
    map its errors back to `f`."""

    def __init__(self, func, wrt):
        self.program = forward_jvp(func, wrt)
        self.source, self.fn, self.deps = self.program.source, self.program.fn, self.program.deps
        self.tangent_params = self.program.code.tangent_params

    def runtime_error(self, exc):
        """The exception to raise for `exc`, raised while the JVP function ran: located at
        the user's line (build.runtime_error), chained to `exc` if it is another one, and
        without srcgrad's frames."""
        error = self.program.runtime_error(exc, "JVP")
        if error is not exc:
            error.__cause__ = exc
        return for_user(error)


def _target(f):
    """The Python function whose source is transformed: a gradient's generated function
    for `grad(f)` / `value_and_grad(f)` (so `jvp(grad(f), ...)` is a Hessian-vector product)."""
    if isinstance(f, GradientFunction):
        return f._transform().fn
    if isinstance(f, JvpFunction):
        return f._transform().fn
    return as_function(f)     # a bound method, a partial: a stand-in (source.py)


_LIVE = weakref.WeakSet()               # JVP functions with a compiled __call__


@deps.on_clear
def _clear():
    _CACHE.clear()
    _FUNCTIONS.clear()
    for function in list(_LIVE):
        function._reset()


def _is_float(value):
    """Whether a value has a tangent: a real floating-point number or array."""
    if type(value) is float:
        return True
    dtype = getattr(value, "dtype", None)
    return isinstance(value, (np.ndarray, np.generic)) and dtype.kind == "f"


def _check_tangent(name, primal, tangent, func):
    """The tangent of argument `name`, checked against its primal (shape, floating type)
    and of the primal's kind (an array's tangent an array), before anything runs."""
    where = f"the tangent of `{name}` in jvp of {func.__name__}"
    found = arguments.problem(primal)
    if found is not None:
        _, what, hint = found
        raise ArgumentTypeError(f"jvp of {func.__name__}: the argument `{name}` is {what}; "
                                "srcgrad's jvp takes tangents of real floating-point numbers "
                                "and arrays", hint=hint)
    if not _is_float(primal):
        raise ArgumentTypeError(f"`{name}` is {type(primal).__name__} {primal!r:.40}, not a float "
                                "or a float array: it has no tangent",
                                hint="leave it out of wrt (srcgrad.jvp ignores tangents of "
                                     "arguments that are not floats)")
    found = arguments.problem(tangent)
    if found is not None and found[0] in ("masked", "matrix", "subclass"):
        raise ArgumentTypeError(f"{where} is {found[1]}", hint=found[2])
    if not _is_float(tangent):
        kind = getattr(getattr(tangent, "dtype", None), "name", type(tangent).__name__)
        raise ArgumentTypeError(f"{where} is {kind}, not a float or a float array",
                                hint="pass a floating-point tangent, e.g. np.asarray(t, dtype=float)")
    if np.shape(tangent) != np.shape(primal):
        raise SrcgradError(f"{where} has shape {np.shape(tangent)}, but `{name}` has shape "
                           f"{np.shape(primal)}", hint="a tangent has the shape of its argument")
    if type(primal) is np.ndarray and type(tangent) is not np.ndarray:
        return np.asarray(tangent)             # methods like `.T` work on it as on the primal
    return tangent


class JvpFunction:
    """`f`'s value and its forward-mode derivative, by a generated function (`.source`).

    Call it as `f_jvp(primals, tangents)`: `primals` is the tuple of `f`'s positional
    arguments, `tangents` the tangent of the `wrt` argument (a tuple of tangents, in `wrt`
    order, when `wrt` is a tuple); each tangent is a float or float array of its
    argument's shape.  Returns `(f(*primals), the derivative of f along the tangents)`.
    """

    def __init__(self, func, wrt=0):
        self._func = func
        target = _target(func)
        self._target = target
        self._fast = None
        if wrt == ():
            self._wrt, self._single = (), False
        else:
            self._wrt, self._single = _resolve_wrt(target, wrt)
        names = [p.name for p in inspect.signature(target).parameters.values()]
        self._positions = [names.index(w) for w in self._wrt]
        self._transformed = None
        functools.update_wrapper(self, func, updated=())   # (not a GradientFunction's state)

    def _prepare(self):
        """The compiled `__call__` of a transformation valid now (made on first use, and
        again when what it read has changed); concurrent first calls transform once."""
        with deps.LOCK:
            t = self._transformed
            if t is None or t.deps.stale():
                if isinstance(self._func, (GradientFunction, JvpFunction)):
                    self._target = _target(self._func)     # made again if it is stale
                t = cached(_CACHE, self._target, self._wrt,
                           lambda: ForwardTransformed(self._target, self._wrt))
                self._fast, self._transformed = install_call(self, self._compile_call(t), _LIVE), t
            return self._fast

    def _reset(self):
        with deps.LOCK:
            self._transformed = self._fast = None
            uninstall_call(self)

    def _transform(self):
        self._prepare()
        return self._transformed

    @property
    @user_facing
    def source(self):
        """The generated function, as Python source."""
        return self._transform().source

    @user_facing
    def __call__(self, primals, tangents):
        # transforms (once, or again when stale) and installs the compiled __call__ below
        return self._prepare()(self, primals, tangents)

    _call_again = __call__

    def _compile_call(self, t):
        """A `__call__` that checks the usual case inline (an array or float tangent of its
        argument's shape and floating dtype) and takes the general path otherwise."""
        scope = {"_fn": t.fn, "_ndarray": np.ndarray, "_untouched": passes_untouched,
                 "_located": t.runtime_error, "_tuple": tuple}
        n = len(self._wrt)
        names = [f"_t{i}" for i in range(n)]
        lines = ["def __call__(self, primals, tangents):"]
        lines += t.deps.prelude(scope, "_", "self._call_again(primals, tangents)")
        lines += [
                 f"    if type(primals) is not _tuple or len(primals) <= {max(self._positions, default=-1)}"
                 f"{'' if self._single else ' or type(tangents) is not _tuple or len(tangents) != ' + str(n)}:",
                 "        return self._call(primals, tangents)"]
        if n:
            lines.append(f"    {', '.join(names)}{',' if n == 1 and not self._single else ''} = tangents")
        for name, position in zip(names, self._positions):
            p = f"primals[{position}]"
            lines += [f"    if not ((type({name}) is _ndarray and type({p}) is _ndarray and "
                      f"{name}.shape == {p}.shape and {name}.dtype.kind == 'f' == {p}.dtype.kind) or "
                      f"(type({name}) is float and type({p}) is float)):",
                      "        return self._call(primals, tangents)"]
        call = ", ".join(f"{param}={name}" for param, name in zip(t.tangent_params, names))
        lines += ["    try:",
                  f"        return _fn(*primals{', ' + call if call else ''})",
                  "    except Exception as exc:",
                  "        __tracebackhide__ = True",       # (pytest's and IPython's)
                  "        if _untouched(exc):",
                  "            raise",
                  "        raise _located(exc)"]
        exec(compile("\n".join(lines), f"<srcgrad jvp call of {self._target.__qualname__}>", "exec"),
             scope)
        return scope["__call__"]

    def _call(self, primals, tangents):
        """The general path: every tangent checked (and converted) before anything runs."""
        t = self._transform()
        primals = tuple(primals)
        tangents = (tangents,) if self._single else tuple(tangents)
        if len(tangents) != len(self._wrt):
            raise SrcgradError(f"jvp of {self._target.__name__} takes {len(self._wrt)} "
                               f"tangent(s) (for {', '.join(self._wrt) or 'no argument'}), "
                               f"not {len(tangents)}")
        checked = {}
        for name, position, tangent in zip(self._wrt, self._positions, tangents):
            primal = primals[position] if position < len(primals) else self._default(name)
            checked[t.tangent_params[len(checked)]] = _check_tangent(name, primal, tangent,
                                                                     self._target)
        try:
            return t.fn(*primals, **checked)
        except Exception as exc:
            if passes_untouched(exc):
                raise
            raise t.runtime_error(exc)

    def _default(self, name):
        param = inspect.signature(self._target).parameters[name]
        if param.default is param.empty:
            raise SrcgradError(f"jvp of {self._target.__name__}: missing argument `{name}`")
        return param.default

    def __repr__(self):
        return f"<srcgrad.jvp_function of {self._target.__qualname__} along {', '.join(self._wrt)}>"


@user_facing
def jvp_function(f=None, *, wrt=0):
    """The forward-mode derivative of `f` along its parameter(s) `wrt`, as a JvpFunction.

    Use as `@jvp_function`, `@jvp_function(wrt=...)` or `jvp_function(f, wrt=...)`; `wrt` is
    a parameter position, a name, or a tuple of those.  `f` may return a scalar, an array or
    a tuple of them; `f` may also be `srcgrad.grad(g)` (its tangent is a Hessian-vector
    product).
    """
    if f is None:
        return user_facing(lambda func: JvpFunction(func, wrt))
    return JvpFunction(f, wrt)


_FUNCTIONS = weakref.WeakKeyDictionary()   # f -> {wrt positions: JvpFunction}


@user_facing
def jvp(f, primals, tangents):
    """`(f(*primals), the derivative of f at primals along tangents)`, by forward mode.

    `primals` and `tangents` are tuples of the same length.  The tangent of an argument that
    is not a float or a float array (an int, a bool, an int array, a string...) is ignored,
    as is a tangent `None`; every other tangent must be a float or float array of its
    argument's shape.  `f`'s result may be a scalar, an array, or a tuple of them.
    """
    if type(primals) is not tuple:
        primals = tuple(primals)
    if type(tangents) is not tuple:
        tangents = tuple(tangents)
    if len(primals) != len(tangents):
        raise SrcgradError(f"jvp needs one tangent per argument: {len(primals)} argument(s), "
                           f"{len(tangents)} tangent(s)",
                           hint="pass None (or anything) for an argument without a tangent")
    active = []
    for i, p in enumerate(primals):
        if tangents[i] is not None and isinstance(p, (dict, list, tuple)):
            raise SrcgradError(f"jvp of {getattr(f, '__name__', f)}: argument {i} is a "
                               f"{type(p).__name__}; srcgrad's jvp takes tangents of arrays and "
                               "floats, not of containers (yet)",
                               hint="pass the arrays as separate arguments, or None as the "
                                    "container's tangent")
        if tangents[i] is not None and (
                (type(p) is np.ndarray and p.dtype.kind in "fc") or _is_float(p) or
                isinstance(p, (complex, np.ma.MaskedArray, np.matrix)) or
                getattr(getattr(p, "dtype", None), "kind", "") == "c"):
            active.append(i)        # (complex, masked, matrix: refused when checked)
    active = tuple(active)
    try:
        function = _FUNCTIONS[f][active]
    except (KeyError, TypeError):
        with deps.LOCK:
            per_function = _FUNCTIONS.setdefault(f, {}) if _weakrefable(f) else {}
            function = per_function.get(active)
            if function is None:
                function = per_function[active] = JvpFunction(f, wrt=active)
    return function(primals, tuple([tangents[i] for i in active]))


def _weakrefable(obj):
    try:
        weakref.ref(obj)
        return True
    except TypeError:
        return False
