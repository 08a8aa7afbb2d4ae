"""Step 1 of the pipeline: read a function's source and parse it into a gast tree."""
import inspect
import os
import textwrap
import types
from dataclasses import dataclass

import gast

from .errors import SourceUnavailableError, SrcgradError, UnsupportedSyntaxError


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
    gast.increment_lineno(module, first - 1)
    node.decorator_list = []
    lines = {first + i: line.rstrip("\n") for i, line in enumerate(source_lines)}
    return ParsedFunction(func, node, filename, lines)
