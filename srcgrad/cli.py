"""The command line: `srcgrad show|export|check FILE.py:FUNCTION ...` (or `python -m srcgrad`).

Errors are one line on stderr (`srcgrad: error: ...`, plus srcgrad's hint when it has
one), exit status 2 for a malformed command line and 1 for anything else.
"""
import argparse
import contextlib
import importlib.machinery
import importlib.util
import inspect
import linecache
import os
import sys

import numpy as np

from .api import GradientFunction, grad
from .check import numerical_gradient
from .errors import SrcgradError
from .export import export_source

USAGE_ERROR, FAILURE = 2, 1

EXAMPLES = """\
examples:
  srcgrad show model.py:loss --wrt w
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
                                 "function in a Python file.", epilog=EXAMPLES)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    def command(name, help):
        sub = commands.add_parser(name, help=help, description=help)
        sub.add_argument("spec", metavar="FILE.py:FUNCTION",
                         help="a module-level function defined in a Python file")
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


# --- loading FILE.py:FUNCTION -----------------------------------------------------------

_LOADED = {}       # module name -> path, for the modules this command line loaded


def split_spec(spec):
    """(file, function name) of `FILE.py:FUNCTION`."""
    path, colon, name = spec.rpartition(":")
    if not colon or not path or not name:
        raise UsageError(f"expected FILE.py:FUNCTION, got {spec!r}")
    if not name.isidentifier():
        raise UsageError(f"{name!r} is not a function name: give a function defined at the "
                         f"top level of {os.path.basename(path)} (not a method)")
    return path, name


def _module_name(path):
    """The name to import `path` under: its stem, unless a module not loaded by us has it."""
    stem = os.path.splitext(os.path.basename(path))[0]
    stem = stem if stem.isidentifier() else "user_module"
    name, i = stem, 1
    while name in sys.modules and _LOADED.get(name) != path:
        name, i = f"{stem}_{i}", i + 1
    return name


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
        # what the module prints as it runs must not mix with the source we print
        with contextlib.redirect_stdout(sys.stderr):
            spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        raise CliError(f"cannot import {path}: {exc.msg} (line {exc.lineno})") from None
    except (Exception, SystemExit) as exc:     # the user's module failed: say how, in one line
        sys.modules.pop(name, None)
        raise CliError(f"cannot import {path}: {type(exc).__name__}: {exc}") from None
    return module


def load_function(spec):
    """(function, module, path, default wrt) for `FILE.py:FUNCTION`."""
    path, name = split_spec(spec)
    module = load_module(path)
    base = os.path.basename(path)
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


def main(argv=None):
    """Run the command line with `argv` (default: sys.argv[1:]); returns the exit status."""
    try:
        args = _parser().parse_args(argv)
        return _COMMANDS[args.command](args, sys.stdout)
    except SystemExit as exc:             # --help
        return exc.code or 0
    except UsageError as exc:
        _error(f"{exc} (see srcgrad --help)")
        return USAGE_ERROR
    except CliError as exc:
        _error(str(exc))
        return FAILURE
    except SrcgradError as exc:
        _error(str(exc).splitlines()[0])
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return FAILURE
    except Exception as exc:             # the user's code raised while running (check)
        _error(f"{type(exc).__name__}: {exc}")
        return FAILURE


def console_main():
    """The `srcgrad` console script."""
    sys.exit(main())
