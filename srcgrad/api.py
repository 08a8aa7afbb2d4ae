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
_MISSING = object()


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
        self._fast_finish, self._max_position = None, 0
        params = {p.name: p for p in _parameters(func)}
        positional = [p.name for p in params.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        # Where each differentiated argument is found in a call: (position, name, default).
        self._where = [(positional.index(n) if n in positional else None, n,
                        params[n].default if params[n].default is not params[n].empty else _MISSING)
                       for n in self._wrt]
        functools.update_wrapper(self, func)

    def _transform(self):
        if self._transformed is None:
            key = (self._wrt, self._with_value)
            per_function = _CACHE.setdefault(self._func, {})
            if key not in per_function:
                per_function[key] = Transformed(self._func, self._wrt, self._with_value)
            self._fast_finish, self._max_position = self._specialize(per_function[key].copies)
            self._transformed = per_function[key]
        return self._transformed

    @property
    def source(self):
        """The generated gradient function, as Python source."""
        return self._transform().source

    def __call__(self, *args, **kwargs):
        t = self._transformed or self._transform()
        try:
            out = t.fn(*args, **kwargs)
        except SrcgradError:
            raise
        except Exception as exc:
            error = t.runtime_error(exc)
            if error is None:
                raise
            raise error from exc
        if self._fast_finish is not None and len(args) > self._max_position:
            return self._fast_finish(out, args)
        if self._with_value:
            value, out = out
        if self._single:
            pos, name, default = self._where[0]
            like = args[pos] if pos is not None and pos < len(args) else kwargs.get(name, default)
            out = fit_gradient(out, like, t.copies[0])
        else:
            n = len(args)
            out = tuple([fit_gradient(g, args[pos] if pos is not None and pos < n
                                      else kwargs.get(name, default), c)
                         for g, (pos, name, default), c in zip(out, self._where, t.copies)])
        return (value, out) if self._with_value else out

    def _specialize(self, copies):
        """A finishing step for calls that pass every differentiated argument by position:
        straight-line code with the common case (a fresh array of the right shape and
        floating dtype) checked inline, `fit_gradient` called only otherwise."""
        positions = [pos for pos, _, _ in self._where]
        if None in positions:
            return None, 0
        names = [f"g{i}" for i in range(len(positions))]
        lines = [f"def finish(out, args):"]
        unpack = ", ".join(names) + ("," if len(names) == 1 else "")
        target = f"value, ({unpack})" if self._with_value and not self._single else \
            f"value, {names[0]}" if self._with_value else \
            names[0] if self._single else f"({unpack})"
        lines.append(f"    {target} = out")
        for name, pos, copy in zip(names, positions, copies):
            if copy:
                lines.append(f"    {name} = fit(({name}), args[{pos}], True)")
                continue
            lines.append(f"    a = args[{pos}]")
            lines.append(f"    if type(a) is float:")
            lines.append(f"        {name} = float({name})")
            lines.append(f"    elif not (type({name}) is ndarray and type(a) is ndarray and "
                         f"{name}.shape == a.shape and {name}.dtype is a.dtype and "
                         f"a.dtype.kind == 'f'):")
            lines.append(f"        {name} = fit({name}, a, False)")
        grads = names[0] if self._single else "(" + ", ".join(names) + ",)"
        lines.append(f"    return {'(value, ' + grads + ')' if self._with_value else grads}")
        scope = {"fit": fit_gradient, "ndarray": np.ndarray}
        exec("\n".join(lines), scope)
        return scope["finish"], max(positions)

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
