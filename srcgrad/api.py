"""The public entry points: `grad` and `value_and_grad`.

The transformation (pipeline.py: parse -> normalize -> differentiate -> optimize -> emit ->
compile) runs once per function, `wrt` and mode, on the first call or `.source` access, and is
cached; afterwards a call checks that what the transformation read is still so (deps.py),
checks the kinds of the differentiated arguments, runs the compiled gradient and gives each
result its argument's shape and floating dtype.  Transformations hold `deps.LOCK`.
"""
import functools
import inspect
import linecache
import types
import weakref

import numpy as np

from . import arguments, deps, parameters, records
from .errors import SrcgradError
from .pipeline import reverse_gradient
from .runtime import SizeOneResult, fit_gradient, is_lazy, realize
from .source import as_function
from .tracebacks import for_user, passes_untouched, user_facing

_CONTAINERS = (dict, list, tuple)
# results `__call__` fits inline: NumPy's and Python's (anything else takes _fit_results)
_PLAIN_RESULTS = frozenset({np.ndarray, float, int, bool, complex, np.float64, np.float32,
                            np.float16, np.complex128, np.complex64, np.int64, np.int32})      # parameter containers, taken apart into their leaves
_CACHE = weakref.WeakKeyDictionary()   # function -> {(wrt names, with_value): Transformed}
_LIVE = weakref.WeakSet()               # gradients with a compiled __call__ (clear_cache resets)


def cached(cache, func, key, make):
    """The transformation of `func` for `key` in `cache` ({function: {key: transformation}}),
    made (again) by `make()` if there is none or what it read has changed.  (Hold deps.LOCK.)"""
    per_function = cache.setdefault(func, {})
    t = per_function.get(key)
    if t is None or t.deps.stale():
        t = per_function[key] = make()
        if t.deps.stale():
            raise SrcgradError(f"the functions or globals {func.__qualname__} uses changed while "
                               "srcgrad was reading them")
    return t


@deps.on_clear
def _clear():
    _CACHE.clear()
    for gradient in list(_LIVE):
        gradient._reset()


class Transformed:
    """A compiled gradient (the fields callers use of its pipeline.Program) and how to map
    its errors back to the user's lines."""

    def __init__(self, func, wrt, with_value, full=False, layouts=None, sum_result=False,
                 checkpoint=False):
        self.program = reverse_gradient(func, wrt, with_value, full, layouts, sum_result, checkpoint)
        self.parsed, self.source, self.fn = self.program.parsed, self.program.source, self.program.fn
        self.copies, self.deps = self.program.copies, self.program.deps

    def runtime_error(self, exc):
        """The exception to raise for `exc`, raised while the gradient ran: located at the
        user's line (build.runtime_error), chained to `exc` if it is another one, and
        without srcgrad's frames."""
        error = self.program.runtime_error(exc, "gradient")
        if error is not exc:
            error.__cause__ = exc
        return for_user(error)


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


def install_call(obj, fast, live):
    """Make compiled `fast` the `__call__` of `obj` (through a class of its own, made once)
    and note `obj` in `live`, the set clear_cache resets; returns `fast`."""
    own = obj.__dict__.get("_own_class")
    if own is None:
        own = obj._own_class = type(type(obj).__name__, (type(obj),), {"__call__": fast})
    else:
        own.__call__ = fast
    obj.__class__ = own
    live.add(obj)
    return fast


def uninstall_call(obj):
    """Back to the class's own `__call__`, which transforms on the next call."""
    own = obj.__dict__.get("_own_class")
    if own is not None and "__call__" in own.__dict__:
        del own.__call__


class GradientFunction:
    """The callable `grad` and `value_and_grad` return; `.source` shows the generated code."""

    def __init__(self, func, wrt, with_value, checkpoint=False):
        self._inner = None
        self._checkpoint = bool(checkpoint)
        if isinstance(func, GradientFunction):      # grad(grad(f)): differentiate the generated code
            self._inner = func
            func = func.full_function()
        func = as_function(func)        # a bound method, a partial: a stand-in (source.py)
        self._func = func
        self._wrt, self._single = _resolve_wrt(func, wrt)
        self._with_value = with_value
        self._transformed = None
        self._fast = None
        functools.update_wrapper(self, func)

    def _prepare(self):
        """The compiled `__call__` of a transformation that is valid now: made on first use
        and again when what it read has changed.  Concurrent first calls transform once."""
        with deps.LOCK:
            t = self._transformed
            if t is None or t.deps.stale():
                if self._inner is not None:          # the inner gradient, made again if stale
                    self._func = self._inner.full_function()
                t = cached(_CACHE, self._func, (self._wrt, self._with_value, self._checkpoint),
                            lambda: Transformed(self._func, self._wrt, self._with_value,
                                                checkpoint=self._checkpoint))
                self._fast, self._transformed = install_call(self, self._compile_call(t), _LIVE), t
            return self._fast

    def _reset(self):
        """Forget the transformation (clear_cache): the next call transforms again."""
        with deps.LOCK:
            self._transformed = self._fast = None
            self.__dict__.pop("_last_tree_source", None)
            uninstall_call(self)

    def _transform(self):
        self._prepare()
        return self._transformed

    def full_function(self):
        """The generated gradient as a plain function whose gradients all have their
        arguments' shapes: what grad(grad(f)), hessian and jacobian differentiate."""
        if self._with_value or not self._single:
            raise SrcgradError("srcgrad differentiates a gradient taken with respect to one "
                               "argument, without its value",
                               hint="use grad(f, wrt=...) with a single parameter inside")
        with deps.LOCK:
            if self._inner is not None:
                self._func = self._inner.full_function()
            return cached(_CACHE, self._func, (self._wrt, False, "full"),
                           lambda: Transformed(self._func, self._wrt, False, full=True)).fn

    @property
    @user_facing
    def source(self):
        """The generated gradient function, as Python source (after a call with parameter
        containers, the gradient made for their layout that the call ran)."""
        last = self.__dict__.get("_last_tree_source")
        return last if last is not None else self._transform().source

    @property
    def wrt(self):
        """`wrt` as `grad` was given it, positions resolved to parameter names."""
        return self._wrt[0] if self._single else self._wrt

    def transformed(self):
        """The Transformed behind this gradient (`.source`, `.fn` — the generated function
        itself, before the wrapper fits results — and `.copies`), built on first use."""
        return self._transform()

    @user_facing
    def __call__(self, *args, **kwargs):
        if any(isinstance(a, _CONTAINERS) or records.is_record(a) for a in args + tuple(kwargs.values())):
            bound = self._differentiated_containers(args, kwargs)
            if bound is not None:
                # transformed for their layout (parameters.py): `f` of the container as an
                # array could not be (`p.W` of a record, `enumerate(layers, 1)`)
                return self._containers_call(bound, args, kwargs)
        if any(arguments.problem(a) is not None for a in args + tuple(kwargs.values())):
            self._check_differentiated(args, kwargs)    # (before `f` is read, for a clear error)
        # transforms (once, or again when stale) and installs the compiled __call__ below
        return self._prepare()(self, *args, **kwargs)

    _call_again = __call__          # what the compiled __call__ calls when it finds it stale

    def _signature(self):
        """`inspect.signature` of the function, made once (per function: grad(grad(f))
        replaces it when the inner gradient is made again)."""
        known = self.__dict__.get("_known_signature")
        if known is None or known[0] is not self._func:
            known = self._known_signature = (self._func, inspect.signature(self._func))
        return known[1]

    def _differentiated_containers(self, args, kwargs):
        """The arguments bound, if a differentiated one is a container; else None."""
        try:
            bound = self._signature().bind(*args, **kwargs)
        except TypeError:
            return None                 # (the call itself reports the mistake)
        if any(isinstance(bound.arguments.get(name), _CONTAINERS) or
               records.is_record(bound.arguments.get(name)) for name in self._wrt):
            return bound
        return None

    def _check_differentiated(self, args, kwargs):
        """ArgumentTypeError for a differentiated argument that cannot be one (an object of
        attributes, a string, None)."""
        try:
            bound = self._signature().bind(*args, **kwargs)
        except TypeError:
            return                      # (the call itself reports the mistake)
        bound.apply_defaults()
        where = f"{'value_and_grad' if self._with_value else 'grad'} of {self._func.__name__}"
        for name in self._wrt:
            if name in bound.arguments:
                arguments.check(bound.arguments[name], name, where)

    def _compile_call(self, t):
        """A `__call__` with `f`'s own signature: call the generated gradient, then give
        each result its argument's shape and floating dtype, checking the usual case (a
        fresh array of the right shape and dtype) inline."""
        sig = inspect.signature(self._func)
        scope = {"_srcgrad_fn": t.fn, "_srcgrad_fit": fit_gradient, "_srcgrad_ndarray": np.ndarray,
                 "_srcgrad_untouched": passes_untouched, "_srcgrad_located": t.runtime_error,
                 "_srcgrad_check": arguments.check,
                 "_srcgrad_where": f"{'value_and_grad' if self._with_value else 'grad'} of "
                                   f"{self._func.__name__}"}
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
                 "def __call__(_srcgrad_self):"]
        lines += t.deps.prelude(scope, "_srcgrad_", f"_srcgrad_self._call_again({', '.join(call)})")
        for name in self._wrt:          # a float64 array or a float at once; containers take
            lines += [f"    _srcgrad_type = type({name})",     # the general path; the rest
                      "    if _srcgrad_type is _srcgrad_ndarray:",        # is checked
                      f"        if {name}.dtype is not _srcgrad_float64 and "
                      f"{name}.dtype.kind not in 'fiu':",
                      f"            _srcgrad_check({name}, {name!r}, _srcgrad_where)",
                      "    elif _srcgrad_type is not float:",
                      "        if _srcgrad_type in _srcgrad_containers or "
                      "_srcgrad_record(_srcgrad_type):",
                      f"            return _srcgrad_self._call_with_containers({', '.join(call)})",
                      f"        _srcgrad_check({name}, {name!r}, _srcgrad_where)"]
        scope["_srcgrad_containers"] = _CONTAINERS
        scope["_srcgrad_record"] = records.record_fields
        scope["_srcgrad_SizeOne"] = SizeOneResult
        scope["_srcgrad_float64"] = np.dtype(np.float64)
        scope["_srcgrad_plain"] = _PLAIN_RESULTS
        lines += ["    try:",
                 f"        _srcgrad_out = _srcgrad_fn({', '.join(call)})",
                 "    except _srcgrad_SizeOne as exc:",
                 f"        return _srcgrad_self._call_with_size_one(exc, {', '.join(call)})",
                 "    except Exception as exc:",
                 "        __tracebackhide__ = True",        # (pytest's and IPython's)
                 "        if _srcgrad_untouched(exc):",
                 "            raise",
                 "        raise _srcgrad_located(exc)"]
        lines += self._fitting(grads, t.copies)
        exec(compile("\n".join(lines), f"<srcgrad call of {self._func.__qualname__}>", "exec"), scope)
        return named_like(scope["__call__"], self._func)

    def _fitting(self, grads, copies):
        """Lines of `__call__` that take `_srcgrad_out` apart and return each gradient with
        its argument's shape and floating dtype (copied where it may alias an argument)."""
        unpack = ", ".join(grads)       # (the generated code returns one gradient bare)
        lines = [f"    {'_srcgrad_value, ' if self._with_value else ''}"
                 f"{'(' + unpack + ')' if self._with_value and not self._single else unpack}"
                 f" = _srcgrad_out"]
        # anything else (another array library's results: Dask's computed together) takes
        # the general path, _fit_results
        general = f"        return _srcgrad_self._fit_results(_srcgrad_out, {', '.join(self._wrt)})"
        if self._with_value:
            lines += ["    if type(_srcgrad_value) not in _srcgrad_plain:", general]
        for g, name, copy in zip(grads, self._wrt, copies):
            if not copy:
                lines.append(f"    if type({g}) is _srcgrad_ndarray and type({name}) is "
                             f"_srcgrad_ndarray and {g}.shape == {name}.shape and {g}.dtype is "
                             f"{name}.dtype and {name}.dtype.kind == 'f':")
                lines.append("        pass")
                lines.append(f"    elif type({name}) is float and type({g}) in _srcgrad_plain:")
                lines.append(f"        {g} = float({g}.real)")     # (complex in between: rules.py)
                lines.append(f"    elif type({g}) in _srcgrad_plain:")
                lines.append(f"        {g} = _srcgrad_fit({g}, {name}, False)")
                lines.append("    else:")
                lines.append(general)
            else:
                lines.append(f"    if type({g}) not in _srcgrad_plain:")
                lines.append(general)
                lines.append(f"    {g} = _srcgrad_fit({g}, {name}, True)")
        result = grads[0] if self._single else "(" + ", ".join(grads) + ",)"
        lines.append(f"    return {'(_srcgrad_value, ' + result + ')' if self._with_value else result}")
        return lines

    def _fit_results(self, out, *args):
        """The general path of `__call__`: results of other array libraries.  Lazy (Dask)
        results of NumPy arguments, and the value, are computed together (runtime.realize);
        each gradient then gets its argument's shape and dtype, in its argument's library."""
        value, grads = out if self._with_value else (None, out)
        grads = [grads] if len(self._wrt) == 1 else list(grads)     # (one comes bare)
        if self._with_value:
            value, *grads = realize([value] + grads, [None] + list(args))
        else:
            grads = realize(grads, list(args))
        grads = [fit_gradient(g, like, copy) for g, like, copy in zip(grads, args, self._transformed.copies)]
        result = grads[0] if self._single else tuple(grads)
        return (value, result) if self._with_value else result

    def _call_with_containers(self, *args, **kwargs):
        """`grad(loss)(params, X, y)` with `params` a dict / list / tuple / record (nested) of
        arrays: `loss` itself transformed for the layout `params` has (parameters.py), made
        once per layout; its gradient comes back in that layout."""
        return self._containers_call(self._signature().bind(*args, **kwargs), args, kwargs)

    def _containers_call(self, bound, args, kwargs):
        """`_call_with_containers` of arguments already bound (`args`, `kwargs` as given)."""
        bound.apply_defaults()
        where = f"{'value_and_grad' if self._with_value else 'grad'} of {self._func.__name__}"
        for name in self._wrt:
            arguments.check_tree(bound.arguments[name], name, where)
        trees = {name: parameters.flatten(bound.arguments[name]) for name in self._wrt
                 if isinstance(bound.arguments[name], _CONTAINERS) or
                 records.is_record(bound.arguments[name])}
        layouts = {name: tree[1] for name, tree in trees.items()}
        key = (self._wrt, self._with_value, "layouts", tuple(layouts.items()), self._checkpoint)
        with deps.LOCK:
            t = cached(_CACHE, self._func, key, lambda: Transformed(
                self._func, self._wrt, self._with_value, layouts=layouts, checkpoint=self._checkpoint))
        self.__dict__["_last_tree_source"] = t.source
        try:
            return self._run(t, bound, trees)
        except SizeOneResult as exc:
            return self._call_with_size_one(exc, *args, **kwargs)

    def _run(self, t, bound, trees):
        """Call transformation `t` with the bound arguments; each gradient (each leaf of a
        container's, `trees`: {parameter: (leaves, layout)}) given its argument's shape and
        floating dtype."""
        try:
            out = t.fn(*bound.args, **bound.kwargs)
        except Exception as exc:
            if passes_untouched(exc):
                raise
            raise t.runtime_error(exc)
        value, grads = out if self._with_value else (None, out)
        grads = [grads] if len(self._wrt) == 1 else list(grads)     # (one comes bare)
        leaves = [leaf for name in self._wrt for leaf in (
            trees[name][0] if name in trees else [bound.arguments[name]])]
        flat = [x for name, g in zip(self._wrt, grads) for x in (
            parameters.leaves_of(trees[name][1], g) if name in trees else [g])]
        if any(is_lazy(x) for x in flat + [value]):     # (Dask: computed together)
            value, *flat = realize([value] + flat, [None] + leaves)
            flat = iter(flat)
            grads = [next(flat) if name not in trees else parameters.unflatten(
                trees[name][1], [next(flat) for _ in trees[name][0]]) for name in self._wrt]
        copies = iter(t.copies)
        results = []
        for name, g in zip(self._wrt, grads):
            argument = bound.arguments[name]
            if name not in trees:
                results.append(fit_gradient(g, argument, next(copies)))
                continue
            leaves, layout = trees[name]
            fitted = [fit_gradient(x, like, next(copies))
                      for x, like in zip(parameters.leaves_of(layout, g), leaves)]
            results.append(parameters.unflatten(layout, fitted))
            if arguments.is_number_list(argument):  # a list of numbers: an array of its gradients
                results[-1] = np.array(results[-1], dtype=np.float64)
        result = results[0] if self._single else tuple(results)
        return (value, result) if self._with_value else result

    def _call_with_size_one(self, exc, *args, **kwargs):
        """`f` returned a value of size 1 but not 0-d (shape (1, 1), say): the gradient of
        the scalar it holds, from `f` transformed to return `np.sum` of its result.  The
        value (value_and_grad) keeps the shape `f` gave it."""
        if exc.func is not self._func:
            raise exc                   # (a function this one calls: not ours to answer)
        bound = self._signature().bind(*args, **kwargs)
        bound.apply_defaults()
        trees = {name: parameters.flatten(bound.arguments[name]) for name in self._wrt
                 if isinstance(bound.arguments[name], _CONTAINERS) or
                 records.is_record(bound.arguments[name])}
        layouts = {name: tree[1] for name, tree in trees.items()}
        key = (self._wrt, self._with_value, "size one", tuple(layouts.items()), self._checkpoint)
        with deps.LOCK:
            t = cached(_CACHE, self._func, key, lambda: Transformed(
                self._func, self._wrt, self._with_value, layouts=layouts, sum_result=True,
                checkpoint=self._checkpoint))
        out = self._run(t, bound, trees)
        if self._with_value:
            return np.reshape(out[0], exc.shape), out[1]
        return out

    def __get__(self, obj, objtype=None):
        """`@grad(wrt="w")` on a method: `m.loss` is the gradient of the method bound to `m`
        (its `self` read like a global; made once per object, for the last few objects)."""
        if obj is None:
            return self
        if self._inner is not None or hasattr(self._func, "__srcgrad_fixed__"):
            return types.MethodType(self, obj)
        params = _parameters(self._func)
        if params and params[0].name in self._wrt:
            raise _refuse_self(self._func, params, self._with_value)
        with deps.LOCK:
            bound = self.__dict__.setdefault("_bound", [])
            for other, gradient in bound:
                if other is obj:
                    return gradient
            gradient = GradientFunction(types.MethodType(self._func, obj), self.wrt, self._with_value,
                                        self._checkpoint)
            bound.insert(0, (obj, gradient))
            del bound[_BOUND_OBJECTS:]
            return gradient

    def __repr__(self):
        kind = "value_and_grad" if self._with_value else "grad"
        return f"<srcgrad.{kind} of {self._func.__qualname__} wrt {', '.join(self._wrt)}>"


_BOUND_OBJECTS = 8      # objects whose bound gradient a decorated method keeps


def _refuse_self(func, params, with_value):
    """The error for `@grad` on a method whose `wrt` is its `self`."""
    code = func.__code__
    others = [p.name for p in params[1:]]
    kind = "value_and_grad" if with_value else "grad"
    example = f'@srcgrad.{kind}(wrt="{others[0]}")' if others else f"@srcgrad.{kind}(wrt=...)"
    return SrcgradError(
        f"@{kind} on the method {func.__qualname__} would differentiate `{params[0].name}`, "
        "the object the method is called on",
        filename=code.co_filename, lineno=code.co_firstlineno,
        source_line=linecache.getline(code.co_filename, code.co_firstlineno).rstrip("\n"),
        construct="method", hint=f"pass wrt= the parameter(s) to differentiate, e.g. {example}"
        + (f" (its other parameters: {', '.join(others)})" if len(others) > 1 else ""))


def named_like(call, func):
    """The compiled `__call__` renamed after the user's function, so that a call with a
    missing argument reads `loss() missing 1 required positional argument`, as it would
    for `loss` itself."""
    code = call.__code__.replace(co_name=func.__name__)
    if hasattr(code, "co_qualname"):        # (3.11+: the name such messages use)
        code = code.replace(co_qualname=func.__qualname__)
    call.__code__ = code
    call.__name__, call.__qualname__ = func.__name__, func.__qualname__
    return call


@user_facing
def grad(f=None, *, wrt=0, checkpoint=False):
    """The gradient of scalar-valued `f` with respect to parameter(s) `wrt`.

    Use as `@grad`, `@grad(wrt=...)` or `grad(f, wrt=...)`.  `wrt` is a parameter
    position, a name, or a tuple of those; the result takes `f`'s arguments and
    returns one gradient (a tuple, in `wrt` order, for a tuple `wrt`), each with the
    shape and floating dtype of its argument.

    `checkpoint=True`: each loop at the top level of `f` keeps a checkpoint of what it
    carries every ~sqrt(T) of its T iterations instead of a tape of every iteration, and
    the gradient replays each stretch from its checkpoint: memory O(sqrt(T)) for about
    one more forward pass of time (for long loops: an RNN over a long sequence, a
    simulation of many steps).
    """
    if f is None:
        return user_facing(lambda func: GradientFunction(func, wrt, False, checkpoint))
    return GradientFunction(f, wrt, False, checkpoint)


@user_facing
def value_and_grad(f=None, *, wrt=0, checkpoint=False):
    """Like `grad`, but returns `(f(...), gradient)`, computed in one pass."""
    if f is None:
        return user_facing(lambda func: GradientFunction(func, wrt, True, checkpoint))
    return GradientFunction(f, wrt, True, checkpoint)
