"""Step 6: compile generated source into a function that lives in the user's module.

The generated function reads the user's globals live (it gets `f.__globals__`) and
shares `f`'s closure cells; NumPy (when the user's module has no `np`) and runtime
helpers are bound as extra closure variables, so nothing is added to the user's module.
The source is registered in `linecache`, so tracebacks and pdb show generated lines, with
the line numbers of `.source`.
"""
import ast
import itertools
import linecache
import textwrap
import types

from .tracebacks import add_note, is_srcgrad_frame, show_generated_source

_serial = itertools.count(1)


def build(source, name, parsed, injected):
    """(function, filename) for generated `source` defining function `name`."""
    func = parsed.func
    params = list(injected) + [v for v in func.__code__.co_freevars if v not in injected]
    text = (f"def __srcgrad_factory__({', '.join(params)}):\n"
            + textwrap.indent(source, "    ") + f"    return {name}\n")
    filename = f"<srcgrad: {name} from {parsed.short_filename}:{parsed.node.lineno} #{next(_serial)}>"
    code = compile(_numbered_as_source(text), filename, "exec")
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
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return result, filename


def _numbered_as_source(text):
    """The factory `text` parsed, its lines and columns those of the generated source it
    wraps: the header on line 0, the source unindented (tracebacks, pdb and the hints
    quote `.source` line for line, with carets under the right columns)."""
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if getattr(node, "lineno", 0) > 1:
            node.col_offset -= 4
            node.end_col_offset -= 4
    return ast.increment_lineno(tree, -1)


def runtime_error(parsed, filename, source, line_map, exc, what):
    """The exception to raise for `exc`, raised inside generated code compiled as
    `filename`: `exc` itself, a note added naming the user's line it came from (its type
    kept, so `except ValueError` still works); a GradientRuntimeError for an error srcgrad
    raised itself (an UndefinedGradientError where the gradient is undefined); `exc`
    unchanged if it did not come from a line of that code, or came from the user's `raise`."""
    from .errors import GradientRuntimeError, SrcgradError, UndefinedGradientError
    from .runtime import Undefined
    if isinstance(exc, SrcgradError):
        return exc                         # (raised by a check of the runtime: located)
    lineno, tb, last = None, exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            lineno = tb.tb_lineno
        last, tb = tb, tb.tb_next
    if lineno is None or getattr(exc, "_srcgrad_located", False):
        return exc                         # (not ours, or located by an inner gradient)
    exc._srcgrad_located = True
    show_generated_source()               # (the generated frame's line, if it goes uncaught)
    generated = source.splitlines()[lineno - 1].strip()
    raised_here = last.tb_frame.f_code.co_filename == filename
    if raised_here and generated.startswith("raise "):
        return exc                         # the user's own `raise`, kept as a check: unchanged
    user_line = line_map.get(lineno, parsed.node.lineno)
    kind = "gradient" if what == "gradient" else "function"
    hint = f"it was raised by line {lineno} of the generated {kind} (see .source): {generated}"
    if isinstance(exc, Undefined) or _srcgrad_raised(last):
        return parsed.error(
            UndefinedGradientError if isinstance(exc, Undefined) else GradientRuntimeError,
            str(exc) if isinstance(exc, Undefined) else
            f"{type(exc).__name__} while computing the {what} of {parsed.name}: {exc}",
            lineno=user_line, hint=hint)
    add_note(exc, f"{parsed.filename}:{user_line}: raised while computing the {what} of "
                  f"{parsed.name}, at this line:\n    {parsed.line(user_line).strip()}\n"
                  f"by line {lineno} of the generated {kind} (see .source): {generated}")
    return exc


def _srcgrad_raised(tb):
    """Whether traceback entry `tb` (the innermost) is a `raise` of srcgrad's runtime (not
    NumPy's error in a helper, which is the user's: an index out of bounds, say)."""
    code = tb.tb_frame.f_code
    return is_srcgrad_frame(code) and \
        linecache.getline(code.co_filename, tb.tb_lineno).strip().startswith("raise ")
