"""Step 1 of the pipeline: read a function's source and parse it into a gast tree."""
import __future__
import ast
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
    """Return the ParsedFunction of a plain Python function."""
    if not isinstance(func, types.FunctionType):
        raise SrcgradError(
            f"srcgrad differentiates Python functions defined with `def`, not {type(func).__name__} "
            f"objects ({func!r})",
            hint="pass the function itself, e.g. srcgrad.grad(loss), not the result of calling it")
    filename = func.__code__.co_filename
    try:
        source_lines, first = inspect.getsourcelines(func)
    except (OSError, TypeError) as exc:
        raise SourceUnavailableError(
            f"cannot read the source of {func.__qualname__} ({exc})", filename=filename,
            hint="srcgrad reads a function's source code: define it in a .py file (or a "
                 "notebook cell / IPython session), not in a bare `python` REPL or via exec") from None
    if func.__name__ == "<lambda>":
        raise UnsupportedSyntaxError(
            "srcgrad differentiates functions defined with `def`, not lambdas",
            filename=filename, lineno=first, source_line=source_lines[0], construct="lambda",
            hint="write `def f(x): return ...` instead of `f = lambda x: ...`")
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
