"""Step 6: compile generated source into a function that lives in the user's module.

The generated function reads the user's globals live (it gets `f.__globals__`) and
shares `f`'s closure cells; NumPy (when the user's module has no `np`) and runtime
helpers are bound as extra closure variables, so nothing is added to the user's module.
The source is registered in `linecache`, so tracebacks and pdb show generated lines.
"""
import itertools
import linecache
import textwrap
import types

_serial = itertools.count(1)


def build(source, name, parsed, injected):
    """(function, filename) for generated `source` defining function `name`."""
    func = parsed.func
    params = list(injected) + [v for v in func.__code__.co_freevars if v not in injected]
    text = (f"def __srcgrad_factory__({', '.join(params)}):\n"
            + textwrap.indent(source, "    ") + f"    return {name}\n")
    filename = f"<srcgrad: {name} from {parsed.short_filename}:{parsed.node.lineno} #{next(_serial)}>"
    code = compile(text, filename, "exec")
    scratch = dict(func.__globals__)   # default values evaluate as in the user's module
    exec(code, scratch)
    inner = scratch["__srcgrad_factory__"](*[injected.get(p) for p in params])
    cells = []
    for var in inner.__code__.co_freevars:
        if var in injected:
            cells.append(types.CellType(injected[var]))
        elif var in func.__code__.co_freevars:
            cells.append(func.__closure__[func.__code__.co_freevars.index(var)])
        else:       # a function generated beside it (the vjp function of a recursive call)
            cells.append(inner.__closure__[inner.__code__.co_freevars.index(var)])
    result = types.FunctionType(inner.__code__, func.__globals__, name, func.__defaults__,
                                tuple(cells))
    result.__kwdefaults__ = dict(func.__kwdefaults__) if func.__kwdefaults__ else None
    result.__doc__ = inner.__doc__
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    return result, filename


def runtime_error(parsed, filename, source, line_map, exc, what):
    """A GradientRuntimeError for `exc` raised inside generated code compiled as `filename`,
    naming the user's line it came from (None if `exc` did not pass through that code)."""
    from .errors import GradientRuntimeError, UndefinedGradientError
    from .runtime import Undefined
    lineno, tb, last = None, exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            lineno = tb.tb_lineno - 1      # the factory's header line comes first
        last, tb = tb, tb.tb_next
    if lineno is None:
        return None
    generated = source.splitlines()[lineno - 1].strip()
    if last.tb_frame.f_code.co_filename == filename and generated.startswith("raise "):
        return None                        # the user's own `raise`, kept as a check: unchanged
    undefined = isinstance(exc, Undefined)
    return parsed.error(
        UndefinedGradientError if undefined else GradientRuntimeError,
        str(exc) if undefined else f"{type(exc).__name__} while computing the {what} of {parsed.name}: {exc}",
        lineno=line_map.get(lineno, parsed.node.lineno),
        hint=f"it was raised by line {lineno} of the generated {'gradient' if what == 'gradient' else 'function'} "
             f"(see .source): {generated}")
