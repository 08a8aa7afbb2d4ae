"""Step 1 of the pipeline: read a function's source and parse it into a gast tree."""
import __future__
import ast
import copy
import functools
import inspect
import linecache
import os
import symtable
import sys
import textwrap
import types
from dataclasses import dataclass

import gast

from . import deps
from .errors import SourceUnavailableError, SrcgradError, UnsupportedSyntaxError

# the `from __future__` imports that change how code compiles (the others are no-ops now)
_FUTURE_FLAGS = __future__.annotations.compiler_flag | __future__.barry_as_FLUFL.compiler_flag


@dataclass
class ParsedFunction:
    func: types.FunctionType
    node: gast.FunctionDef       # decorators stripped; line numbers are absolute file lines
    filename: str
    lines: dict                  # absolute line number -> source text

    @property
    def name(self):
        return self.node.name

    @property
    def short_filename(self):
        return os.path.basename(self.filename)

    def line(self, lineno):
        return self.lines.get(lineno, "")

    def error(self, cls, message, node=None, lineno=None, construct=None, hint=None):
        """Build an error of class `cls` located at `node` (or `lineno`) in this function."""
        if lineno is None:
            lineno = getattr(node, "lineno", None) or self.node.lineno
        return cls(message, filename=self.filename, lineno=lineno,
                   source_line=self.line(lineno), construct=construct, hint=hint)


def parse_function(func):
    """Return the ParsedFunction of a plain Python function (or of one that `as_function`
    made for a bound method or a `functools.partial`)."""
    fixed = getattr(func, "__srcgrad_fixed__", None) if isinstance(func, types.FunctionType) else None
    if fixed is not None:
        return _parse_fixed(func, fixed)
    if not isinstance(func, types.FunctionType):
        raise SrcgradError(
            f"srcgrad differentiates Python functions defined with `def`, not {type(func).__name__} "
            f"objects ({func!r})",
            hint="pass the function itself, e.g. srcgrad.grad(loss), not the result of calling it")
    filename = func.__code__.co_filename
    if func.__name__ == "<lambda>":
        return _parse_lambda(func, filename)
    try:
        source_lines, first = inspect.getsourcelines(func)
    except (OSError, TypeError) as exc:
        raise SourceUnavailableError(
            f"cannot read the source of {func.__qualname__} ({exc})", filename=filename,
            hint="srcgrad reads a function's source code: define it in a .py file, a notebook "
                 "cell or an IPython session (or the REPL of Python 3.13 and later), not in the "
                 "REPL of an older Python or in a string given to exec (unless its text is put in "
                 "linecache first)") from None
    first = max(first, 1)
    text = textwrap.dedent("".join(source_lines))
    try:
        module = gast.parse(text)
    except SyntaxError as exc:  # e.g. a def that getsource cut out of a larger expression
        raise SourceUnavailableError(f"cannot parse the source of {func.__qualname__}: {exc.msg}",
                                     filename=filename, lineno=first) from None
    node = module.body[0]
    if not isinstance(node, gast.FunctionDef):
        raise UnsupportedSyntaxError(
            f"{func.__qualname__} is not a plain `def` function", filename=filename, lineno=first,
            construct=type(node).__name__, hint="async functions cannot be differentiated")
    if _compiled_as_written(func, node):
        _check_unchanged(func, source_lines, filename, first)
    gast.increment_lineno(module, first - 1)
    node.decorator_list = []
    lines = {first + i: line.rstrip("\n") for i, line in enumerate(source_lines)}
    deps.record_function(func, node)
    return ParsedFunction(func, node, filename, lines)


# --- callables that are not plain functions: bound methods, partials, lambdas ---------------

def as_function(f):
    """The Python function srcgrad transforms for callable `f`: `f` itself if it is a
    function (a lambda included); for a bound method `obj.loss` or a `functools.partial`, a
    function of the remaining parameters whose bound values (`self`, the partial's
    positional arguments) are closure variables, so the generated code reads them (and
    `self`'s attributes) live.  Anything else: SrcgradError."""
    if isinstance(f, types.FunctionType):
        return f
    if isinstance(f, types.MethodType) and isinstance(f.__func__, types.FunctionType):
        return _fixed_function(f, f.__func__, [f.__self__], {})
    if isinstance(f, functools.partial):
        inner, args, keywords = f.func, list(f.args), dict(f.keywords)
        if isinstance(inner, types.MethodType) and isinstance(inner.__func__, types.FunctionType):
            inner, args = inner.__func__, [inner.__self__] + args
        if isinstance(inner, types.FunctionType):
            return _fixed_function(f, inner, args, keywords)
        what = f"functools.partial of {inner!r}"
    elif isinstance(f, (staticmethod, classmethod)):
        raise SrcgradError(f"srcgrad cannot differentiate the {type(f).__name__} object {f!r} "
                           "itself", hint="apply srcgrad.grad under @staticmethod / @classmethod "
                                          "(closer to the def), or pass the method looked up on "
                                          "the class or an instance")
    else:
        what = repr(f)
    kind = type(f).__name__
    raise SrcgradError(
        f"srcgrad differentiates Python functions (a `def`, a lambda, a bound method or a "
        f"functools.partial of one), not {kind} objects ({what})",
        hint="pass the function itself, e.g. srcgrad.grad(loss), not the result of calling it")


def _fixed_function(target, func, args, keywords):
    """A stand-in for `target` (a bound method or a partial of `func`) that srcgrad can read:
    `func`'s globals and closure, its signature that of `target`, and `func`'s first
    positional parameters, bound to `args`, turned into closure variables."""
    code = func.__code__
    positional = list(code.co_varnames[:code.co_argcount])
    if code.co_flags & inspect.CO_VARARGS or len(args) > len(positional):
        raise SrcgradError(
            f"srcgrad cannot differentiate {target!r}: it binds {len(args)} positional "
            f"argument(s) of {func.__qualname__}, which "
            + ("takes *args" if code.co_flags & inspect.CO_VARARGS else
               f"has {len(positional)} positional parameter(s)"),
            hint="bind arguments by keyword (functools.partial(f, X=X)) or write a small `def`")
    names = dict(zip(positional, args))
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError) as exc:
        raise SrcgradError(f"srcgrad cannot differentiate {target!r}: {exc}") from None
    text_params, defaults, kwdefaults, star = [], [], {}, False
    for p in sig.parameters.values():
        name = ("*" if p.kind == p.VAR_POSITIONAL else "**" if p.kind == p.VAR_KEYWORD else "") + p.name
        if p.kind == p.KEYWORD_ONLY and not star:
            text_params.append("*")
            star = True
        star = star or p.kind == p.VAR_POSITIONAL
        text_params.append(name)
        if p.default is not p.empty:
            if p.kind == p.KEYWORD_ONLY:
                kwdefaults[p.name] = p.default
            else:
                defaults.append(p.default)
    posonly = [p.name for p in sig.parameters.values() if p.kind == p.POSITIONAL_ONLY]
    if posonly:
        text_params.insert(len(posonly), "/")
    free = list(names) + [v for v in code.co_freevars if v not in names]
    name = func.__name__ if func.__name__.isidentifier() else "lambda_fn"
    text = (f"def __srcgrad_outer__({', '.join(free)}):\n"
            f"    def {name}({', '.join(text_params)}):\n"
            f"        return ({''.join(v + ', ' for v in free)})\n"
            f"    return {name}\n")
    scope = {}
    exec(compile(text, f"<srcgrad: {func.__qualname__} with bound arguments>", "exec"), scope)
    stand_in = scope["__srcgrad_outer__"](*([None] * len(free)))
    cells = []
    for v in stand_in.__code__.co_freevars:
        if v in names:
            cells.append(types.CellType(names[v]))
        else:
            cells.append(func.__closure__[code.co_freevars.index(v)])
    result = types.FunctionType(stand_in.__code__, func.__globals__, func.__name__,
                                tuple(defaults) or None, tuple(cells))
    result.__kwdefaults__ = kwdefaults or None
    result.__qualname__ = func.__qualname__
    result.__module__ = func.__module__
    result.__doc__ = func.__doc__
    result.__srcgrad_fixed__ = (target, func, tuple(names), sig)
    return result


def _parse_fixed(func, fixed):
    """The ParsedFunction of a stand-in made by `_fixed_function`: `func`'s own source, its
    bound parameters removed from the `def` (they are closure variables), the others laid
    out as in the stand-in's signature."""
    target, original, bound, sig = fixed
    parsed = parse_function(original)
    node = copy.deepcopy(parsed.node)
    given = {a.id: a for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs}
    for a in (node.args.vararg, node.args.kwarg):
        if a is not None:
            given[a.id] = a
    args = gast.arguments(args=[], posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[],
                          kwarg=None, defaults=[])
    for p in sig.parameters.values():
        arg = given[p.name]
        if p.kind == p.POSITIONAL_ONLY:
            args.posonlyargs.append(arg)
        elif p.kind == p.POSITIONAL_OR_KEYWORD:
            args.args.append(arg)
        elif p.kind == p.VAR_POSITIONAL:
            args.vararg = arg
        elif p.kind == p.KEYWORD_ONLY:
            args.kwonlyargs.append(arg)
            args.kw_defaults.append(None)
        else:
            args.kwarg = arg
    node.args = args
    deps.record_fixed(func, node, bound)
    return ParsedFunction(func, node, parsed.filename, parsed.lines)


def _parse_lambda(func, filename):
    """The ParsedFunction of a lambda: its node found in its file by line (and, where one
    line holds several lambdas, by the columns its code comes from), made a `def` named
    after the variable it is assigned to (else `lambda_fn`)."""
    code = func.__code__
    lineno = code.co_firstlineno
    text = "".join(linecache.getlines(filename))
    source_line = linecache.getline(filename, lineno).rstrip("\n")
    try:
        tree = gast.parse(text)
    except SyntaxError:
        tree = None
    if tree is None or not text:
        raise SourceUnavailableError(
            f"cannot read the source of the lambda at line {lineno} of {os.path.basename(filename)}",
            filename=filename, lineno=lineno,
            hint="srcgrad reads a function's source code: define the lambda in a .py file (or a "
                 "notebook cell), or write `def f(x): return ...`")
    names = list(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])
    parents, found = {}, []
    for node in gast.walk(tree):
        for child in gast.iter_child_nodes(node):
            parents[child] = node
        if isinstance(node, gast.Lambda) and node.lineno == lineno:
            found.append(node)
    candidates = [n for n in found
                  if [a.id for a in n.args.posonlyargs + n.args.args + n.args.kwonlyargs] == names]
    if len(candidates) > 1:
        candidates = _by_columns(code, candidates)
    if len(candidates) != 1:
        raise UnsupportedSyntaxError(
            f"srcgrad cannot tell which of the {len(found)} lambdas on line {lineno} to "
            "differentiate" if len(found) > 1 else
            f"srcgrad cannot find the source of the lambda at line {lineno} (the file changed?)",
            filename=filename, lineno=lineno, source_line=source_line, construct="lambda",
            hint="put each lambda on a line of its own, or write `def f(x): return ...`")
    lam = candidates[0]
    parent = parents.get(lam)
    name = "lambda_fn"
    if isinstance(parent, gast.Assign) and len(parent.targets) == 1 and \
            isinstance(parent.targets[0], gast.Name) and parent.value is lam:
        name = parent.targets[0].id
    elif isinstance(parent, (gast.AnnAssign, gast.NamedExpr)) and isinstance(parent.target, gast.Name):
        name = parent.target.id
    body = copy.deepcopy(lam.body)
    ret = gast.Return(value=body)
    gast.copy_location(ret, body)
    node = gast.FunctionDef(name=name, args=copy.deepcopy(lam.args), body=[ret], decorator_list=[],
                            returns=None, type_comment=None)
    if hasattr(gast, "TypeVar"):
        node.type_params = []
    gast.copy_location(node, lam)
    node.end_lineno, node.end_col_offset = lam.end_lineno, lam.end_col_offset
    end = getattr(lam, "end_lineno", lineno) or lineno
    lines = {i: linecache.getline(filename, i).rstrip("\n") for i in range(lineno, end + 1)}
    deps.record_function(func, node)
    return ParsedFunction(func, node, filename, lines)


def _by_columns(code, candidates):
    """The lambdas among `candidates` whose body spans the columns `code` comes from."""
    positions = getattr(code, "co_positions", None)
    if positions is None:
        return candidates
    spots = {(line, col) for line, _, col, _ in positions() if line is not None and col is not None
             and line >= code.co_firstlineno}
    spots.discard((code.co_firstlineno, 0))
    if not spots:
        return candidates

    def inside(lam):
        start = (lam.body.lineno, lam.body.col_offset)
        stop = (lam.body.end_lineno, lam.body.end_col_offset)
        return all(start <= s <= stop for s in spots)
    return [lam for lam in candidates if inside(lam)]


def _compiled_as_written(func, node):
    """Whether `func`'s module was compiled from its text by Python's own loaders (an import
    hook may rewrite code: pytest rewrites `assert`s, and only those)."""
    loader = getattr(sys.modules.get(func.__module__), "__loader__", None)
    if loader is None or isinstance(loader, type):
        return True
    where = type(loader).__module__ or ""
    if where.startswith("_pytest"):
        return not any(isinstance(n, gast.Assert) for n in gast.walk(node))
    return where.split(".")[0] in ("importlib", "_frozen_importlib", "_frozen_importlib_external")


def _check_unchanged(func, source_lines, filename, first):
    """Refuse source text that is not what `func` runs: its file was edited after the
    function was defined.  The text is compiled as it was (at its own indentation, under
    headers giving it its closure variables and its class, for name mangling) and the code
    objects are compared.  (Where no such headers fit the indentation, nothing is checked.)"""
    if hasattr(func, "__srcgrad_deps__") or filename.startswith("<srcgrad"):
        return                        # srcgrad's own generated code, never edited
    func = inspect.unwrap(func)
    target = func.__code__
    owner = _owning_class(func.__qualname__)
    freevars = [v for v in target.co_freevars if not (owner and v == "__class__")]
    indent = source_lines[0][:len(source_lines[0]) - len(source_lines[0].lstrip())]
    levels = bool(freevars) + bool(owner)
    if not indent:
        if levels:
            return
        header, depth = [], 1
    elif levels < 2:
        header, depth = ["def __srcgrad_outer__():" if freevars else
                         f"class {owner}:" if owner else "if 1:"], 1 + levels
        header += [f"{indent}{v} = None" for v in freevars]
    elif indent.strip(" ") == "" and len(indent) >= 2:
        middle = " " * (len(indent) // 2)
        header = ["def __srcgrad_outer__():"] + [f"{middle}{v} = None" for v in freevars]
        header.append(f"{middle}class {owner}:")
        depth = 3
    else:
        return
    # (3.11 compiles `np.f(...)` differently when `np` is imported at the top of the file)
    imports = [f"import {name}" for name in _imported_names(filename)]
    text = "".join(line + "\n" for line in imports + header) + "".join(source_lines)
    try:
        tree = ast.parse(text, filename)
        # the function's lines numbered as in the file (3.13 keeps a class's first line
        # among its constants)
        start, shift = len(imports) + len(header) + 1, first - len(imports) - len(header) - 1
        for node in ast.walk(tree):
            if getattr(node, "lineno", 0) >= start:
                node.lineno += shift
                node.end_lineno = (node.end_lineno or node.lineno - shift) + shift
        module = compile(tree, filename, "exec", flags=target.co_flags & _FUTURE_FLAGS,
                         dont_inherit=True)
    except (SyntaxError, ValueError):
        code = None
    else:
        code = _find_code(module, target.co_name, depth)
    if code is None or not _same_code(code, target):
        raise SourceUnavailableError(
            f"{os.path.basename(filename)} was changed after {func.__qualname__} was defined: "
            "the source text there is not the code Python is running",
            filename=filename, lineno=first,
            hint="re-import the module (importlib.reload) or re-run the cell or the `def`, so "
                 "that srcgrad differentiates the code that runs")


_IMPORTS = {}   # (filename, text hash) -> names the file's top level binds by `import`


def _imported_names(filename):
    text = "".join(linecache.getlines(filename))
    key = (filename, len(text), hash(text))
    if key not in _IMPORTS:
        try:
            table = symtable.symtable(text, filename, "exec")
            _IMPORTS[key] = [s.get_name() for s in table.get_symbols() if s.is_imported()]
        except (SyntaxError, ValueError):
            _IMPORTS[key] = []
    return _IMPORTS[key]


def _owning_class(qualname):
    """The innermost class a function is defined in (its names are mangled), from its
    qualified name: `A.f`, `A.f.<locals>.g` -> "A"; `f`, `f.<locals>.g` -> None."""
    parts = qualname.split(".")
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] != "<locals>" and parts[i + 1] != "<locals>":
            return parts[i]
    return None


def _find_code(code, name, depth):
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            if const.co_name == name and depth == 1:
                return const
            found = _find_code(const, name, depth - 1) if depth > 1 else None
            if found is not None:
                return found
    return None


def _same_code(a, b):
    if not (a.co_code == b.co_code and a.co_names == b.co_names and
            a.co_varnames == b.co_varnames and a.co_freevars == b.co_freevars and
            a.co_cellvars == b.co_cellvars and a.co_argcount == b.co_argcount and
            a.co_kwonlyargcount == b.co_kwonlyargcount and len(a.co_consts) == len(b.co_consts)):
        return False
    return all(_same_const(x, y) for x, y in zip(a.co_consts, b.co_consts))


def _same_const(x, y):
    if type(x) is not type(y):
        return False
    if isinstance(x, types.CodeType):
        return _same_code(x, y)
    if isinstance(x, tuple):
        return len(x) == len(y) and all(_same_const(a, b) for a, b in zip(x, y))
    if isinstance(x, (float, complex)):
        return repr(x) == repr(y)          # -0.0 is not 0.0; nan is nan
    if isinstance(x, str) and "<locals>." in x and "<locals>." in y:
        # (before 3.11 a nested function's qualified name is a constant; the text is
        # compiled without, or inside a stand-in for, the functions around it)
        return x.rsplit("<locals>.", 1)[1] == y.rsplit("<locals>.", 1)[1]
    return x == y
