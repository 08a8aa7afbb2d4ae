"""The command line: `srcgrad show|export|check TARGET:FUNCTION ...` (or `python -m srcgrad`),
TARGET a Python file (`model.py`) or an importable module (`mylosses`, `pkg.sub`).

Errors are one line on stderr (`srcgrad: error: ...`, plus srcgrad's hint when it has
one), exit status 2 for a malformed command line and 1 for anything else.
"""
import argparse
import contextlib
import importlib
import importlib.machinery
import importlib.util
import inspect
import linecache
import os
import re
import sys

import numpy as np

from . import __version__
from .api import GradientFunction, grad
from .check import numerical_gradient
from .errors import SrcgradError
from .export import export_source

USAGE_ERROR, FAILURE = 2, 1
SPEC = "FILE.py:FUNCTION|MODULE:FUNCTION"

EXAMPLES = """\
examples:
  srcgrad show model.py:loss --wrt w
  srcgrad show mylosses:loss             (a module importable from here, as python -m finds it)
  srcgrad export model.py:loss --wrt w b -o grad_loss.py
  srcgrad check model.py:loss --shape w=3 --shape X=10,3 --shape y=10 --wrt w
"""


class UsageError(Exception):
    """The command line is malformed (exit status 2)."""


class CliError(Exception):
    """The command cannot be carried out (exit status 1)."""


class _Parser(argparse.ArgumentParser):
    # argparse prints the usage and exits; we want one line and main() to return a status.
    def error(self, message):
        raise UsageError(message)


def _parser():
    parser = _Parser(prog="srcgrad", formatter_class=argparse.RawDescriptionHelpFormatter,
                     description="Show, export or check the gradient srcgrad generates for a "
                                 "function in a Python file or an importable module.",
                     epilog=EXAMPLES)
    parser.add_argument("--version", action="version", version=f"srcgrad {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    def command(name, help):
        sub = commands.add_parser(name, help=help, description=help)
        sub.add_argument("spec", metavar=SPEC,
                         help="a module-level function of a Python file (model.py:loss) or "
                              "of a module importable from the current directory "
                              "(mylosses:loss, pkg.sub:loss)")
        sub.add_argument("--wrt", metavar="NAME", nargs="+", action="extend",
                         help="parameter(s) to differentiate with respect to (names or "
                              "positions; default: the first parameter, or the wrt of a "
                              "function decorated with @srcgrad.grad)")
        return sub

    command("show", "print the generated gradient source")
    export = command("export", "write the gradient as a standalone module that needs only NumPy")
    export.add_argument("-o", "--output", metavar="OUT.py",
                        help="file to write (default: standard output)")
    export.add_argument("--name", help="name of the gradient function (default: grad_FUNCTION)")
    check = command("check", "compare the gradient with central finite differences on random "
                             "float64 inputs")
    check.add_argument("--shape", metavar="NAME=DIMS", action="append", default=[],
                       help="a random array argument, e.g. x=3,4 (x= for a float)")
    check.add_argument("--scalar", metavar="NAME", action="append", default=[],
                       help="a random float argument")
    check.add_argument("--int", metavar="NAME=N", action="append", default=[], dest="ints",
                       help="an integer argument, e.g. n=5")
    check.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    check.add_argument("--positive", action="store_true",
                       help="draw inputs from [0.5, 2) instead of a standard normal")
    check.add_argument("--eps", type=float, default=1e-6, help="finite-difference step")
    check.add_argument("--rtol", type=float, default=1e-5, help="relative tolerance")
    check.add_argument("--atol", type=float, default=1e-6, help="absolute tolerance")
    return parser


# --- loading FILE.py:FUNCTION or MODULE:FUNCTION ----------------------------------------

_LOADED = {}       # module name -> path, for the modules this command line loaded from files


def split_spec(spec):
    """(file or module, function name) of `FILE.py:FUNCTION` or `MODULE:FUNCTION`."""
    where, colon, name = spec.rpartition(":")
    if not colon or not where or not name:
        raise UsageError(f"expected FILE.py:FUNCTION or MODULE:FUNCTION, got {spec!r}")
    if not name.isidentifier():
        raise UsageError(f"{name!r} is not a function name: give a function defined at the "
                         f"top level of {os.path.basename(where)} (not a method)")
    return where, name


def _module_name(path):
    """The name to import `path` under: its stem, unless a module not loaded by us has it."""
    stem = os.path.splitext(os.path.basename(path))[0]
    stem = stem if stem.isidentifier() else "user_module"
    name, i = stem, 1
    while name in sys.modules and _LOADED.get(name) != path:
        name, i = f"{stem}_{i}", i + 1
    return name


def _import_failure(exc, what):
    """The one-line CliError for the user's module `what` raising `exc` as it runs."""
    if isinstance(exc, SyntaxError):
        return CliError(f"cannot import {what}: {exc.msg} (line {exc.lineno})")
    return CliError(f"cannot import {what}: {type(exc).__name__}: {exc}")


def _run_user_code(load, what):
    """Run the user's module (`load()`) with its output on stderr: it must not mix with the
    source we print."""
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return load()
    except (Exception, SystemExit) as exc:
        raise _import_failure(exc, what) from None


def load_module(path):
    """Import the file at `path` as a module, its directory on sys.path (as `python` would)
    and registered in sys.modules (so srcgrad can read its helpers' globals live)."""
    if not os.path.isfile(path):
        raise CliError(f"no such file: {path}")
    path = os.path.abspath(path)
    directory = os.path.dirname(path)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    linecache.checkcache(path)          # the file may have changed since it was last read
    name = _module_name(path)
    loader = importlib.machinery.SourceFileLoader(name, path)   # any file name, not just .py
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    _LOADED[name] = path
    try:
        _run_user_code(lambda: spec.loader.exec_module(module), path)
    except CliError:
        sys.modules.pop(name, None)
        raise
    return module


def _looks_like_module(where):
    """Whether `where` is written as a module path: dotted identifiers, not a file name."""
    return all(part.isidentifier() for part in where.split(".")) and \
        not where.endswith((".py", ".pyw"))


def _find_module(name):
    """The import spec of module `name` as `python -m` finds it (the current directory
    first), or None; finding a submodule imports its package, as `python -m` does."""
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return importlib.util.find_spec(name)
    except (Exception, SystemExit) as exc:
        if isinstance(exc, ModuleNotFoundError) and exc.name and \
                (name + ".").startswith(exc.name + "."):
            return None                  # a package on the way to `name` does not exist
        raise _import_failure(exc, f"module {name}") from None   # the package's code failed


def import_module(name):
    """Import module `name` (importable from the current directory or sys.path)."""
    module = _run_user_code(lambda: importlib.import_module(name), f"module {name}")
    path = inspect.getsourcefile(module) if getattr(module, "__file__", None) else None
    if path is None:                    # built in, compiled, or a namespace package
        raise CliError(f"module {name} has no Python source file")
    linecache.checkcache(path)
    return module


def load_target(where):
    """(module, its file) for the part of a spec before the colon: a file path, or an
    importable module.  A bare name that is both says on stderr which one was used."""
    is_file = os.path.isfile(where)
    found = _find_module(where) if _looks_like_module(where) else None
    if is_file:
        if found is not None and found.origin and os.path.isfile(found.origin):
            print(f"srcgrad: note: {where} is a file here and also the module {where} "
                  f"({found.origin}); used the file", file=sys.stderr)
        return load_module(where), os.path.abspath(where)
    if found is not None:
        module = import_module(where)
        return module, os.path.abspath(inspect.getsourcefile(module))
    if not _looks_like_module(where):
        raise CliError(f"no such file: {where}")
    raise CliError(f"no file or module named {where}: no file {where} in {os.getcwd()}, and "
                   f"no module {where} importable from there or sys.path")


def load_function(spec):
    """(function, module, path, default wrt) for `FILE.py:FUNCTION` or `MODULE:FUNCTION`."""
    where, name = split_spec(spec)
    module, path = load_target(where)
    base = os.path.basename(where) if os.path.isfile(where) else where
    if not hasattr(module, name):
        functions = sorted(k for k, v in vars(module).items() if isinstance(v, GradientFunction)
                           or (inspect.isfunction(v) and v.__module__ == module.__name__))
        known = f" (functions there: {', '.join(functions)})" if functions else ""
        raise CliError(f"{base} has no function {name!r}{known}")
    func, wrt = getattr(module, name), 0
    if isinstance(func, GradientFunction):      # decorated with @srcgrad.grad in the file
        func, wrt = func.__wrapped__, func.wrt
    if not inspect.isfunction(func):
        raise CliError(f"{base}:{name} is not a function but {type(func).__name__}")
    return func, module, path, wrt


def _wrt(values, default):
    if not values:
        return default
    items = [int(v) if v.isdigit() else v for v in values]
    return items[0] if len(items) == 1 else tuple(items)


# --- the commands -----------------------------------------------------------------------

def run_show(args, out):
    func, _, _, wrt = load_function(args.spec)
    out.write(grad(func, wrt=_wrt(args.wrt, wrt)).source)
    return 0


def run_export(args, out):
    name = args.name or f"grad_{split_spec(args.spec)[1]}"
    if not name.isidentifier():
        raise UsageError(f"--name {name!r} is not a Python identifier")
    func, module, path, wrt = load_function(args.spec)
    gradient = grad(func, wrt=_wrt(args.wrt, wrt))
    command = " ".join(["srcgrad export", args.spec] +
                       (["--wrt"] + args.wrt if args.wrt else []) +
                       (["--name", args.name] if args.name else []))
    text, notes = export_source(gradient, name=name, source_module=module, source_path=path,
                                out_path=args.output, command=command)
    for note in notes:
        print(f"srcgrad: note: {note}", file=sys.stderr)
    if args.output is None:
        out.write(text)
        return 0
    try:
        with open(args.output, "w") as f:
            f.write(text)
    except OSError as exc:
        raise CliError(f"cannot write {args.output}: {exc.strerror}") from None
    return 0


def run_check(args, out):
    func, _, path, wrt = load_function(args.spec)
    wrt = _wrt(args.wrt, wrt)
    gradient = grad(func, wrt=wrt)
    values = random_arguments(func, args)
    results = finite_difference_check(gradient, values, eps=args.eps, rtol=args.rtol,
                                      atol=args.atol)
    where = f"{os.path.basename(path)}:{gradient.transformed().parsed.node.lineno}"
    out.write(f"{func.__name__} ({where}), seed {args.seed}, central differences, "
              f"eps {args.eps:g}\n")
    width = max(len(n) for n in results)
    for name, (difference, tolerance) in results.items():
        verdict = "ok" if difference <= tolerance else "FAILED"
        out.write(f"  {name:<{width}}  shape {str(np.shape(values[name])):<10} "
                  f"max |srcgrad - numeric| = {difference:.3g}  (tolerance {tolerance:.3g})  "
                  f"{verdict}\n")
    failed = [n for n, (d, tol) in results.items() if d > tol]
    if failed:
        out.write(f"gradient with respect to {', '.join(failed)} out of tolerance\n")
        return FAILURE
    out.write("ok: the gradient matches finite differences\n")
    return 0


# --- check: inputs and the finite-difference comparison ---------------------------------

def _assignment(text, flag):
    name, equals, value = text.partition("=")
    if not equals or not name.isidentifier():
        raise UsageError(f"{flag} expects NAME=VALUE, got {text!r}")
    return name, value


def random_arguments(func, args):
    """{parameter: value} for `func` from --shape / --scalar / --int, in parameter order
    (so a seed always gives the same inputs); parameters with defaults may be left out."""
    rng = np.random.default_rng(args.seed)
    draw = ((lambda size: rng.uniform(0.5, 2.0, size)) if args.positive
            else (lambda size: rng.normal(size=size)))
    specs = {}
    for text in args.shape:
        name, dims = _assignment(text, "--shape")
        try:
            specs[name] = tuple(int(d) for d in dims.split(",")) if dims.strip() else None
        except ValueError:
            raise UsageError(f"--shape {text!r}: dimensions are integers separated by "
                             "commas, e.g. x=3,4") from None
    for name in args.scalar:
        specs[name] = None
    for text in args.ints:
        name, value = _assignment(text, "--int")
        try:
            specs[name] = int(value)
        except ValueError:
            raise UsageError(f"--int {text!r}: {value!r} is not an integer") from None
    params = inspect.signature(func).parameters
    unknown = [n for n in specs if n not in params]
    if unknown:
        raise UsageError(f"{func.__name__} has no parameter {unknown[0]!r} "
                         f"(its parameters: {', '.join(params)})")
    values = {}
    for name, p in params.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if name not in specs:
            if p.default is p.empty:
                raise UsageError(f"no value for parameter {name!r}: give --shape {name}=DIMS, "
                                 f"--scalar {name} or --int {name}=N")
            continue
        spec = specs[name]
        if isinstance(spec, int):
            values[name] = spec
        elif spec is None:
            values[name] = float(draw(None))
        else:
            values[name] = draw(spec).astype(np.float64)
    return values


def _call(f, func, values):
    """Call `f` (func or its gradient) with `values` by name; positional-only by position."""
    params = inspect.signature(func).parameters.values()
    by_position = [p.name for p in params if p.kind == p.POSITIONAL_ONLY]
    return f(*[values[n] for n in by_position if n in values],
             **{k: v for k, v in values.items() if k not in by_position})


def finite_difference_check(gradient, values, *, eps, rtol, atol):
    """{wrt name: (max |srcgrad - numeric|, tolerance)} comparing `gradient` (a
    GradientFunction) at `values` with central differences of the function itself
    (`srcgrad.check.numerical_gradient`, step `eps`).

    Unlike `srcgrad.check_grad`, which raises at the first element out of tolerance, this
    measures every argument, so `srcgrad check` can print one line per argument; the
    tolerance is per argument: atol + rtol * max |numeric|."""
    func = gradient.__wrapped__
    names = (gradient.wrt,) if isinstance(gradient.wrt, str) else tuple(gradient.wrt)
    got = _call(gradient, func, values)
    got = (got,) if isinstance(gradient.wrt, str) else got
    results = {}
    for name, analytic in zip(names, got):
        x = values.get(name)
        if isinstance(x, int) or x is None:
            raise UsageError(f"the gradient with respect to {name!r} needs a float argument: "
                             f"give --shape {name}=DIMS or --scalar {name}")
        numeric = numerical_gradient(lambda **moved: float(_call(func, func, moved)), (), name,
                                     eps, kwargs=values)
        difference = float(np.max(np.abs(np.asarray(analytic) - numeric), initial=0.0))
        tolerance = atol + rtol * float(np.max(np.abs(numeric), initial=0.0))
        results[name] = (difference, tolerance)
    return results


# --- entry point ------------------------------------------------------------------------

_COMMANDS = {"show": run_show, "export": run_export, "check": run_check}


def _error(message):
    print(f"srcgrad: error: {message}", file=sys.stderr)


def _show_command(args):
    """The command line that prints the gradient `args` (a show/export/check command) ran."""
    wrt = " --wrt " + " ".join(args.wrt) if args.wrt else ""
    return f"srcgrad show {args.spec}{wrt}"


def for_command_line(text, args):
    """`text` (a message or hint of the Python API) in the command line's words: `.source`
    is the command that prints the same code, and `wrt='w'` is `--wrt w`."""
    if args is None or not getattr(args, "spec", None):
        return text
    text = re.sub(r"\bwrt=(['\"]?)(\w+)\1", r"--wrt \2", text)
    return re.sub(r"`?(?<![\w.])\.source\b`?", f"`{_show_command(args)}`", text)


def main(argv=None):
    """Run the command line with `argv` (default: sys.argv[1:]); returns the exit status."""
    args = None
    try:
        args = _parser().parse_args(argv)
        return _COMMANDS[args.command](args, sys.stdout)
    except SystemExit as exc:             # --help, --version
        return exc.code or 0
    except UsageError as exc:
        _error(f"{exc} (see srcgrad --help)")
        return USAGE_ERROR
    except CliError as exc:
        _error(str(exc))
        return FAILURE
    except SrcgradError as exc:
        _error(for_command_line(str(exc).splitlines()[0], args))
        if exc.hint:
            print(f"hint: {for_command_line(exc.hint, args)}", file=sys.stderr)
        return FAILURE
    except Exception as exc:             # the user's code raised while running (check)
        first, *rest = f"{type(exc).__name__}: {exc}".splitlines() or [type(exc).__name__]
        _error(for_command_line(first, args))
        # where srcgrad says where it happened: the exception's notes (Python 3.11+), or the
        # lines srcgrad added to its message (3.9, 3.10)
        for line in rest + list(getattr(exc, "__notes__", ())):
            print(for_command_line(line, args), file=sys.stderr)
        return FAILURE


def console_main():
    """The `srcgrad` console script."""
    sys.exit(main())
