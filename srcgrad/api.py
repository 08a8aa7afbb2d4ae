"""The public entry points: `grad` and `value_and_grad`.

The transformation (parse -> normalize -> differentiate -> optimize -> emit -> compile)
runs once per function, `wrt` and mode, on the first call or `.source` access, and is
cached; afterwards a call runs the compiled gradient and gives each result its
argument's shape and floating dtype.
"""
import functools
import inspect
import types
import weakref

import numpy as np

from .build import build
from .emit import emit
from .errors import GradientRuntimeError, SrcgradError
from .normalize import normalize
from .optimize import optimize
from .reverse import differentiate
from .runtime import fit_gradient
from .source import parse_function

_CACHE = weakref.WeakKeyDictionary()   # function -> {(wrt names, with_value): Transformed}


class Transformed:
    """A compiled gradient: the function, its source and how to map errors back."""

    def __init__(self, func, wrt, with_value):
        parsed = parse_function(func)
        gradient = differentiate(normalize(parsed), wrt, with_value)
        copies = optimize(gradient)
        self.parsed = parsed
        self.source, self.line_map = emit(gradient)
        self.fn, self.filename = build(self.source, gradient.name, parsed,
                                       gradient.namespace.injected)
        self.copies = copies

    def runtime_error(self, exc):
        """A GradientRuntimeError naming the user's line, or None if `exc` is not ours."""
        lineno, tb = None, exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.filename:
                lineno = tb.tb_lineno - 1      # the factory's header line comes first
            tb = tb.tb_next
        if lineno is None:
            return None
        generated = self.source.splitlines()[lineno - 1].strip()
        return self.parsed.error(
            GradientRuntimeError,
            f"{type(exc).__name__} while computing the gradient of {self.parsed.name}: {exc}",
            lineno=self.line_map.get(lineno, self.parsed.node.lineno),
            hint=f"it was raised by line {lineno} of the generated gradient (see .source): "
                 f"{generated}")


def _parameters(func):
    sig = inspect.signature(func)
    return [p for p in sig.parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _resolve_wrt(func, wrt):
    """Parameter names for `wrt` (a position, a name, or a tuple of those)."""
    params = _parameters(func)
    names = [p.name for p in params]
    single = not isinstance(wrt, (tuple, list))
    items = [wrt] if single else list(wrt)
    if not items:
        raise SrcgradError("wrt=() asks for no gradient", hint="name at least one parameter")
    resolved = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise SrcgradError(f"wrt must be a parameter position or name, not {item!r}",
                               hint=f"{func.__name__}'s parameters are: {', '.join(names)}")
        if isinstance(item, int):
            if not 0 <= item < len(names):
                raise SrcgradError(f"wrt={item} is out of range: {func.__name__} has "
                                   f"{len(names)} parameter(s) ({', '.join(names)})")
            item = names[item]
        elif item not in names:
            raise SrcgradError(f"wrt={item!r} is not a parameter of {func.__name__}",
                               hint=f"its parameters are: {', '.join(names)}")
        if item in resolved:
            raise SrcgradError(f"wrt names {item!r} twice")
        resolved.append(item)
    return tuple(resolved), single


class _Spelled:
    """A default value that prints as the name it is bound to in a generated signature."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


class GradientFunction:
    """The callable `grad` and `value_and_grad` return; `.source` shows the generated code."""

    def __init__(self, func, wrt, with_value):
        if not isinstance(func, types.FunctionType):
            raise SrcgradError(f"srcgrad differentiates Python functions, not {func!r}",
                               hint="pass a function defined with `def`")
        self._func = func
        self._wrt, self._single = _resolve_wrt(func, wrt)
        self._with_value = with_value
        self._transformed = None
        functools.update_wrapper(self, func)

    def _transform(self):
        if self._transformed is None:
            key = (self._wrt, self._with_value)
            per_function = _CACHE.setdefault(self._func, {})
            if key not in per_function:
                per_function[key] = Transformed(self._func, self._wrt, self._with_value)
            self._transformed = per_function[key]
            fast = self._compile_call(self._transformed)
            self.__class__ = type(type(self).__name__, (type(self),), {"__call__": fast})
        return self._transformed

    @property
    def source(self):
        """The generated gradient function, as Python source."""
        return self._transform().source

    def __call__(self, *args, **kwargs):
        self._transform()           # installs the compiled __call__ below, then runs it
        return self(*args, **kwargs)

    def _raise_runtime_error(self, exc):
        error = self._transformed.runtime_error(exc)
        if error is not None:
            raise error from exc

    def _compile_call(self, t):
        """A `__call__` with `f`'s own signature: call the generated gradient, then give
        each result its argument's shape and floating dtype, checking the usual case (a
        fresh array of the right shape and dtype) inline."""
        sig = inspect.signature(self._func)
        scope = {"_srcgrad_fn": t.fn, "_srcgrad_fit": fit_gradient, "_srcgrad_ndarray": np.ndarray,
                 "_srcgrad_Error": SrcgradError}
        params, call = [], []
        for i, p in enumerate(sig.parameters.values()):
            if p.default is not p.empty:
                scope[f"_srcgrad_default{i}"] = p.default
                p = p.replace(default=_Spelled(f"_srcgrad_default{i}"))
            params.append(p.replace(annotation=p.empty))
            star = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
            call.append(f"{p.name}={p.name}" if p.kind == p.KEYWORD_ONLY else star + p.name)
        signature = str(sig.replace(parameters=params, return_annotation=sig.empty))
        grads = [f"_srcgrad_g{i}" for i in range(len(self._wrt))]
        lines = [f"def __call__(_srcgrad_self, {signature[1:-1]}):" if params else
                 "def __call__(_srcgrad_self):",
                 "    try:",
                 f"        _srcgrad_out = _srcgrad_fn({', '.join(call)})",
                 "    except _srcgrad_Error:",
                 "        raise",
                 "    except Exception as exc:",
                 "        _srcgrad_self._raise_runtime_error(exc)",
                 "        raise"]
        unpack = ", ".join(grads) + ("," if len(grads) == 1 and not self._single else "")
        lines.append(f"    {'_srcgrad_value, ' if self._with_value else ''}"
                     f"{'(' + unpack + ')' if self._with_value and not self._single else unpack}"
                     f" = _srcgrad_out")
        for g, name, copy in zip(grads, self._wrt, t.copies):
            if not copy:
                lines.append(f"    if not (type({g}) is _srcgrad_ndarray and type({name}) is "
                             f"_srcgrad_ndarray and {g}.shape == {name}.shape and {g}.dtype is "
                             f"{name}.dtype and {name}.dtype.kind == 'f'):")
                lines.append(f"        {g} = _srcgrad_fit({g}, {name}, False)")
            else:
                lines.append(f"    {g} = _srcgrad_fit({g}, {name}, True)")
        result = grads[0] if self._single else "(" + ", ".join(grads) + ",)"
        lines.append(f"    return {'(_srcgrad_value, ' + result + ')' if self._with_value else result}")
        exec(compile("\n".join(lines), f"<srcgrad call of {self._func.__qualname__}>", "exec"), scope)
        return scope["__call__"]

    def __get__(self, obj, objtype=None):
        return self if obj is None else types.MethodType(self, obj)

    def __repr__(self):
        kind = "value_and_grad" if self._with_value else "grad"
        return f"<srcgrad.{kind} of {self._func.__qualname__} wrt {', '.join(self._wrt)}>"


def grad(f=None, *, wrt=0):
    """The gradient of scalar-valued `f` with respect to parameter(s) `wrt`.

    Use as `@grad`, `@grad(wrt=...)` or `grad(f, wrt=...)`.  `wrt` is a parameter
    position, a name, or a tuple of those; the result takes `f`'s arguments and
    returns one gradient (a tuple, in `wrt` order, for a tuple `wrt`), each with the
    shape and floating dtype of its argument.
    """
    if f is None:
        return lambda func: GradientFunction(func, wrt, False)
    return GradientFunction(f, wrt, False)


def value_and_grad(f=None, *, wrt=0):
    """Like `grad`, but returns `(f(...), gradient)`, computed in one pass."""
    if f is None:
        return lambda func: GradientFunction(func, wrt, True)
    return GradientFunction(f, wrt, True)
