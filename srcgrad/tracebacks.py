"""What the user sees of an exception that passes through srcgrad.

An exception raised while a generated function runs keeps its type (a `ValueError` stays a
`ValueError`, so `except ValueError` works); srcgrad adds where it came from in the user's
code: a note on Python >= 3.11, the message extended on 3.9 and 3.10.  srcgrad's own frames
are left out of its traceback, the generated function's and the user's kept; with the
environment variable SRCGRAD_TRACEBACK=full every frame stays.  Exceptions that stop a
program or a debugger (KeyboardInterrupt, SystemExit, pdb's BdbQuit) pass untouched.

Before Python 3.13 the interpreter prints an uncaught exception without the lines of
generated code (it reads files only); the first time an error comes through generated
code, srcgrad sets `sys.excepthook`, if it is still Python's own, to the `traceback`
module's printer, which shows them (as 3.13 does).
"""
import functools
import os
import sys
import traceback
import types

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
_WRAPPERS = ("<srcgrad call of ", "<srcgrad jvp call of ")     # api.py's, forward_api.py's __call__
_HAS_NOTES = sys.version_info >= (3, 11)
_LINECACHE_PRINTER = sys.version_info >= (3, 13)   # the default excepthook reads linecache


def full_tracebacks():
    """Whether the user asked for srcgrad's own frames too (SRCGRAD_TRACEBACK=full)."""
    return os.environ.get("SRCGRAD_TRACEBACK", "").lower() == "full"


def passes_untouched(exc):
    """Exceptions that stop the program or the debugger, not errors in the user's code."""
    if not isinstance(exc, Exception):        # KeyboardInterrupt, SystemExit, GeneratorExit
        return True
    bdb = sys.modules.get("bdb")              # (no BdbQuit without a debugger loaded)
    return bdb is not None and isinstance(exc, bdb.BdbQuit)


def is_srcgrad_frame(code):
    """A frame of srcgrad's own code (not a generated function: that one the user reads)."""
    filename = code.co_filename
    return filename.startswith(_PACKAGE) or filename.startswith(_WRAPPERS)


def trimmed(tb):
    """Traceback `tb` without srcgrad's own frames."""
    kept = []
    while tb is not None:
        if not is_srcgrad_frame(tb.tb_frame.f_code):
            kept.append(tb)
        tb = tb.tb_next
    chain = None
    for entry in reversed(kept):
        chain = types.TracebackType(chain, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return chain


def user_facing(function):
    """Decorator of srcgrad's entry points (`grad`, a gradient's call, `jvp`, ...): an
    exception leaves them without srcgrad's frames in its traceback."""
    entry = function.__code__

    @functools.wraps(function)
    def user_facing(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            __tracebackhide__ = True      # (pytest and IPython leave this frame out as well)
            if passes_untouched(exc):
                raise
            raise for_user(exc, entry)    # (srcgrad's frames left out: SRCGRAD_TRACEBACK=full)
    return user_facing


def for_user(exc, entry=None):
    """`exc`, its traceback (and those of the exceptions chained to it) without srcgrad's
    frames, ready to be raised again to the user: `raise for_user(exc)`.  Not an error of
    srcgrad itself (a bug: raised in its code, other than by the entry point's code `entry`
    directly, as a call with a missing argument is): that keeps every frame."""
    if passes_untouched(exc) or full_tracebacks() or _internal(exc, entry):
        return exc
    seen = set()
    chained = exc
    while chained is not None and id(chained) not in seen:
        seen.add(id(chained))
        chained.__traceback__ = trimmed(chained.__traceback__)
        chained = chained.__cause__ or chained.__context__
    if exc.__cause__ is None and _internal_context(exc):
        exc.__suppress_context__ = True   # srcgrad handling an exception of its own
    return exc


def _internal(exc, entry):
    """Whether `exc` is an error in srcgrad's own code, not about the user's."""
    from .errors import SrcgradError
    if isinstance(exc, SrcgradError) or getattr(exc, "_srcgrad_located", False):
        return False
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and is_srcgrad_frame(tb.tb_frame.f_code) and tb.tb_frame.f_code is not entry


def _internal_context(exc):
    """Whether `exc` is srcgrad's error raised while it handled another exception in its own
    code (that exception's traceback, trimmed, has no frame left)."""
    from .errors import SrcgradError
    context = exc.__context__
    return isinstance(exc, SrcgradError) and context is not None and context.__traceback__ is None


def add_note(exc, note):
    """Add srcgrad's `note` to `exc`, keeping its type: a note (3.11+), or on 3.9 and 3.10
    the message extended where that keeps its meaning (else `__notes__`, which this
    module's excepthook prints)."""
    if _HAS_NOTES:
        exc.add_note(note)
    elif _plain_message(exc):
        exc.args = (f"{exc.args[0]}\n{note}",)
    else:
        exc.__notes__ = list(getattr(exc, "__notes__", [])) + [note]


def _plain_message(exc):
    """Whether `exc` prints its one argument, a string, as its message (a KeyError prints
    the repr of its key; an OSError its errno; a class of the user's may print anything)."""
    return (len(exc.args) == 1 and isinstance(exc.args[0], str) and
            type(exc).__str__ is BaseException.__str__)


def show_generated_source():
    """Make an uncaught exception show the generated lines of its traceback.  Python's own
    printer before 3.13 reads source files from disk only, and generated code has none
    (it lives in `linecache`); so, while that printer is the hook, use the `traceback`
    module's, which reads `linecache` (as 3.13's default hook, IPython and pytest do)."""
    if not _LINECACHE_PRINTER and sys.excepthook is sys.__excepthook__:
        sys.excepthook = _print_exception


def _print_exception(kind, value, tb):
    """sys.excepthook: the standard traceback, generated lines and notes included."""
    try:
        lines = traceback.format_exception(kind, value, tb)
        if not _HAS_NOTES:      # (unless a backport of notes printed them already)
            printed = "".join(lines)
            lines += [note + "\n" for note in getattr(value, "__notes__", ())
                      if isinstance(note, str) and note not in printed]
        sys.stderr.write("".join(lines))
    except Exception:
        sys.__excepthook__(kind, value, tb)
