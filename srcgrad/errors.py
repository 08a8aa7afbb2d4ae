"""Errors srcgrad raises about the user's code, each naming file, line and construct."""


class SrcgradError(Exception):
    """Base class of every error srcgrad raises about the user's code.

    The message reads ``file:line: what went wrong``, then the source line, then a
    hint when there is one.  The parts are also kept as attributes.
    """

    def __init__(self, message, *, filename=None, lineno=None, source_line=None,
                 construct=None, hint=None):
        self.reason = message
        self.filename = filename
        self.lineno = lineno
        self.source_line = source_line
        self.construct = construct
        self.hint = hint
        super().__init__(self._format())

    def _format(self):
        where = ""
        if self.filename is not None:
            where = f"{self.filename}:{self.lineno}: " if self.lineno else f"{self.filename}: "
        text = where + self.reason
        if self.source_line:
            text += "\n    " + self.source_line.strip()
        if self.hint:
            text += "\nhint: " + self.hint
        return text


class UnsupportedSyntaxError(SrcgradError):
    """The function uses Python that srcgrad cannot differentiate (yet)."""


class NoDerivativeRuleError(SrcgradError):
    """A function with no derivative rule is applied to a value that needs a gradient."""


class NonScalarResultError(SrcgradError):
    """The differentiated function returned something other than a scalar."""


class SourceUnavailableError(SrcgradError):
    """The function's source code cannot be read (typed into a bare REPL, built-in, ...)."""


class ArgumentTypeError(SrcgradError, TypeError):
    """A differentiated argument (or a tangent) is not a real number or array: a string,
    None, a complex number, a masked array, ...  Raised before any generated code runs."""


class GradientRuntimeError(SrcgradError):
    """srcgrad's runtime refused something while a generated function ran; names the
    user's line it came from.  (An error of the user's code or of NumPy raised there, such
    as a shape mismatch, keeps its own type, with a note naming the user's line.)"""


class UndefinedGradientError(GradientRuntimeError):
    """The generated code met, while running, a case whose gradient NumPy's semantics leave
    undefined (a write through repeated indices keeps only one of the values): refused at
    the user's line rather than answered with a number."""


class GradientCheckError(SrcgradError, AssertionError):
    """`check_grad` found srcgrad's gradient out of tolerance with finite differences."""
