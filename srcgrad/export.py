"""Write a generated gradient as a standalone module that needs only NumPy.

The module holds, in order: a docstring saying where it came from, the imports and
globals the gradient reads, the srcgrad runtime helpers it calls (copied from
runtime.py with what they use in turn), and the gradient function.

Where each global comes from is decided name by name:
  * modules are imported by name (`import numpy as np`);
  * plain literal values (numbers, strings, tuples of them) are copied as they are now;
  * runtime helpers are copied; the non-scalar-result check gets a small stand-in;
  * functions and classes that live in an importable module are imported from it;
  * anything else is read from the user's module, which the exported module then imports
    by path when it is itself imported (running that module's top-level code).
"""
import ast
import inspect
import math
import os
import symtable
import sys
import textwrap
import types

import gast

from . import runtime
from .emit import emit, signature_text, stored_names
from .errors import SrcgradError

__all__ = ["ExportError", "export_source"]

_FIT = "fit_gradient"           # the runtime helper that gives each result its argument's form


class ExportError(SrcgradError):
    """The gradient uses something that cannot be written into a standalone module."""


def export_source(gradient, *, name, source_module, source_path, out_path=None, command=""):
    """(module text, notes) for `gradient` (a GradientFunction of a function defined in
    `source_module`, loaded from `source_path`).  `out_path` (or None for stdout) decides
    how the module finds `source_path` again; notes are things the user should know."""
    t = gradient.transformed()
    code = t.program.code
    func = gradient.__wrapped__
    wrt = gradient.wrt
    wrt_names = (wrt,) if isinstance(wrt, str) else tuple(wrt)
    if stored_names(code.lines) & set(wrt_names):
        raise ExportError("cannot export: the generated gradient rebinds a parameter")
    writer = _Writer(source_module, source_path)
    fit = writer.helper_alias(_FIT, avoid=stored_names(code.lines) | _parameters(code.parsed))
    body, _ = emit(code, name=name, outputs=[_fitted(fit, output, w, copy) for output, w, copy
                                             in zip(code.outputs, wrt_names, t.copies)])
    # The generated function finds runtime helpers as closure variables (see build.py):
    # exactly those its code uses, with the objects they are bound to.
    injected = dict(zip(t.fn.__code__.co_freevars,
                        (cell.cell_contents for cell in t.fn.__closure__ or ())))
    user_globals = vars(source_module)
    for global_name in sorted(_global_names(body)):
        if global_name in injected:
            writer.place(global_name, injected[global_name], func=func)
        elif global_name in user_globals:
            writer.place(global_name, user_globals[global_name], func=func, own=True)
        # else: a builtin, or a name that is missing in the user's module too
    header = _header(func, code.parsed.node.lineno, signature_text(code.parsed, name), wrt_names,
                     writer, source_path, command)
    return writer.module_text(header, body, out_path), writer.notes()


# --- which names the generated code reads from its module -------------------------------

def _global_names(source):
    """Names `source` reads from its module: free names at module level (in defaults) and
    names that are global inside its functions."""
    names = set()

    def visit(table, top):
        for symbol in table.get_symbols():
            if top and symbol.is_referenced() and not symbol.is_assigned():
                names.add(symbol.get_name())
            elif not top and symbol.is_global():
                names.add(symbol.get_name())
        for child in table.get_children():
            visit(child, False)
    visit(symtable.symtable(source, "<generated>", "exec"), True)
    return names


# --- the runtime helpers, as statements of runtime.py ----------------------------------

def _bound_names(stmt):
    if isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
        return [stmt.name]
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return [a.asname or a.name.split(".")[0] for a in stmt.names]
    if isinstance(stmt, ast.Assign):
        return [n.id for target in stmt.targets for n in ast.walk(target)
                if isinstance(n, ast.Name)]
    return []


class _RuntimeSource:
    """runtime.py's top-level statements, by the names they bind."""

    def __init__(self):
        self.text = inspect.getsource(runtime)
        self.statements = ast.parse(self.text).body
        self.defining = {n: s for s in self.statements for n in _bound_names(s)}

    def name_of(self, obj):
        """The name `obj` has in runtime.py, or None if it is not a runtime function."""
        name = getattr(obj, "__name__", None)
        return name if name in self.defining and getattr(runtime, name) is obj else None

    def needs(self, name):
        """Runtime names the statement defining `name` reads (over-approximated: any
        name that occurs in it and is defined at runtime.py's top level)."""
        stmt = self.defining[name]
        return {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)
                and n.id in self.defining and n.id != name}


_RUNTIME = None


def _runtime_source():
    global _RUNTIME
    if _RUNTIME is None:
        _RUNTIME = _RuntimeSource()
    return _RUNTIME


# --- what each name is bound to in the exported module ----------------------------------

def _literal(value):
    """Source that rebuilds `value` if it is made of Python literals only, else None."""
    plain = (bool, int, float, complex, str, bytes, type(None))

    def is_plain(v):
        if type(v) in plain:
            return True
        if type(v) in (tuple, list, frozenset, set):
            return all(is_plain(x) for x in v)
        if type(v) is dict:
            return all(is_plain(k) and is_plain(x) for k, x in v.items())
        return False
    if type(value) is float and not math.isfinite(value):
        return f"float({str(value)!r})"          # no literal spells nan or inf
    if not is_plain(value):
        return None
    text = repr(value)
    try:
        same = ast.literal_eval(text) == value
    except (ValueError, SyntaxError):     # nan, inf
        return None
    return text if same else None


def _import_statement(name, module):
    if module.__name__ == name:
        return f"import {name}"
    return f"import {module.__name__} as {name}"


def _importable_name(obj):
    """(module name, name) that `from module import name` finds `obj` by, or None."""
    module_name = getattr(obj, "__module__", None)
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if not isinstance(module_name, str) or not isinstance(name, str) or \
            module_name == "__main__" or not name.isidentifier():
        return None
    found = getattr(sys.modules.get(module_name), name, None)
    return (module_name, name) if found is obj else None


def _nonscalar_stand_in(func):
    """srcgrad's check that the result is a scalar raises a srcgrad error; the exported
    module raises a ValueError with the same message instead."""
    return (
        "def nonscalar_result(*values):\n"
        '    """Stands in for srcgrad\'s NonScalarResultError: only a scalar has a gradient."""\n'
        "    shape = np.broadcast(*values).shape\n"
        f'    raise ValueError(f"{func.__name__} must return a scalar to be differentiated, "\n'
        '                     f"but it returned a value of shape {shape}")')


class _Writer:
    """The top-level names of the module being written, each bound once, by section."""

    def __init__(self, source_module, source_path):
        self.source_module = source_module
        self.source_path = os.path.abspath(source_path)
        self.source_dir = os.path.dirname(self.source_path)
        self.bound = {}           # name -> object
        self.imports = []         # import statements of installed / standard modules
        self.neighbour_imports = []   # imports of modules next to the user's file
        self.copied = []          # (name, literal source)
        self.from_source = []     # (name, attribute of the user's module)
        self.helpers = set()      # runtime.py names to copy
        self.aliases = []         # (name, runtime name) where the generated code differs
        self.stand_ins = []       # source of functions written for srcgrad internals

    def bind(self, name, obj):
        """Record `name` -> `obj`; False if it was already bound to it."""
        if name in self.bound:
            if self.bound[name] is obj or (_literal(obj) is not None and
                                           _literal(self.bound[name]) == _literal(obj)):
                return False
            raise ExportError(f"cannot export: the name {name!r} stands for two different "
                              f"things ({self.bound[name]!r} and {obj!r})",
                              hint=f"rename the global {name!r} in your module")
        self.bound[name] = obj
        return True

    def place(self, name, obj, *, func, own=False):
        """Decide how the exported module binds `name` to `obj`.  `own`: `name` is a global
        of the user's module (else srcgrad injected it)."""
        if not self.bind(name, obj):
            return
        rt = _runtime_source()
        if isinstance(obj, types.ModuleType):
            if obj is self.source_module:
                self.from_source.append((name, None))
            elif self._beside_source(getattr(obj, "__file__", None)):
                self.neighbour_imports.append(_import_statement(name, obj))
            else:
                self.imports.append(_import_statement(name, obj))
            return
        runtime_name = rt.name_of(obj)
        if runtime_name is not None:
            self._copy_helper(runtime_name)
            if runtime_name != name:
                self.aliases.append((name, runtime_name))
            return
        if (getattr(obj, "__module__", None) or "").startswith("srcgrad") and \
                getattr(obj, "__name__", None) == "nonscalar_result":
            self.stand_ins.append(_nonscalar_stand_in(func))
            self.place("np", sys.modules["numpy"], func=func)
            return
        if _literal(obj) is not None:
            self.copied.append((name, _literal(obj)))
            return
        where = _importable_name(obj)
        if where is not None and where[0] != self.source_module.__name__ and \
                not where[0].startswith("srcgrad"):
            module, qualname = where
            text = f"from {module} import {qualname}" + (f" as {name}" if qualname != name else "")
            beside = self._beside_source(getattr(sys.modules[module], "__file__", None))
            (self.neighbour_imports if beside else self.imports).append(text)
            return
        attribute = name if own else next((k for k, v in vars(self.source_module).items()
                                           if v is obj), None)
        if attribute is None:
            raise ExportError(f"cannot export: the gradient uses {name} = {obj!r}, which is "
                              "neither a literal nor reachable by name from a module",
                              hint="make it a global of your module, so the exported module "
                                   "can read it from there")
        self.from_source.append((name, attribute))

    def _copy_helper(self, runtime_name):
        rt = _runtime_source()
        todo = [runtime_name]
        while todo:
            name = todo.pop()
            if name in self.helpers:
                continue
            stmt = rt.defining[name]
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                # runtime.py's own imports (numpy as np): imported in the exported module too
                self.place(name, getattr(runtime, name), func=None)
                continue
            self.bind(name, getattr(runtime, name))
            self.helpers.add(name)
            todo += rt.needs(name)

    def helper_alias(self, runtime_name, avoid):
        """The name the gradient function calls runtime helper `runtime_name` by: its own,
        unless the function has a local of that name."""
        self._copy_helper(runtime_name)
        name, i = runtime_name, 1
        while name in avoid or (name in self.bound and
                                self.bound[name] is not getattr(runtime, runtime_name)):
            name, i = f"{runtime_name}_{i}", i + 1
        if name != runtime_name:
            self.bind(name, getattr(runtime, runtime_name))
            self.aliases.append((name, runtime_name))
        return name

    def _beside_source(self, filename):
        """Whether a module file lives in (or below) the user's file's directory, so it is
        imported only with that directory on sys.path."""
        if not filename:
            return False
        filename = os.path.abspath(filename)
        try:
            return os.path.commonpath([filename, self.source_dir]) == self.source_dir
        except ValueError:            # another drive
            return False

    def notes(self):
        notes = []
        if self.from_source:
            what = ", ".join(n for n, _ in self.from_source)
            notes.append(f"the exported module imports {os.path.basename(self.source_path)} "
                         f"when it is imported, for: {what}")
            if "srcgrad" in _imported_modules(self.source_module):
                notes.append(f"{os.path.basename(self.source_path)} imports srcgrad, so the "
                             "exported module needs srcgrad installed after all; make those "
                             "globals literals or move them to a module without srcgrad")
        return notes

    # --- writing -------------------------------------------------------------------
    def module_text(self, header, function_source, out_path):
        blocks = []
        imports = set(self.imports)
        if self.from_source or self.neighbour_imports:
            imports |= {"import importlib.util", "import os", "import sys"}
        if imports:
            blocks.append(_import_block(imports))
        if self.copied:
            blocks.append(_section(f"values copied from {os.path.basename(self.source_path)} "
                                   "when this module was written") + "\n" +
                          "\n".join(f"{n} = {v}" for n, v in sorted(self.copied)))
        if self.from_source or self.neighbour_imports:
            blocks.append(self._source_block(out_path))
        helpers = self._helper_blocks()
        if helpers:
            blocks.append(_section("srcgrad runtime helpers the gradient calls, copied from "
                                   "srcgrad/runtime.py") + "\n" + helpers[0])
            blocks += helpers[1:]
        blocks.append(_section("the gradient") + "\n" + function_source.rstrip("\n"))
        return header + "\n" + "\n\n\n".join(blocks) + "\n"

    def _source_block(self, out_path):
        base = os.path.basename(self.source_path)
        if out_path is not None:
            here = os.path.dirname(os.path.abspath(out_path))
            relative = os.path.relpath(self.source_path, here)
            where = f"os.path.join(os.path.dirname(os.path.abspath(__file__)), {relative!r})"
        else:
            where = repr(self.source_path)
        lines = [_section(f"from {base}"),
                 f"_SOURCE = {where}",
                 "if os.path.dirname(_SOURCE) not in sys.path:     # for the modules next to it",
                 "    sys.path.insert(0, os.path.dirname(_SOURCE))"]
        up = _package_depth(self.source_module, self.source_path)
        if up:          # a module of a package (srcgrad export pkg.sub:loss): import it by name
            lines += [f"_ROOT = os.path.normpath(os.path.join(os.path.dirname(_SOURCE), "
                      f"{'/'.join(['..'] * up)!r}))",
                      "if _ROOT not in sys.path:     # the directory holding its package",
                      "    sys.path.insert(0, _ROOT)"]
        lines += self.neighbour_imports
        if self.from_source and up:
            lines += ["", f"_source = importlib.import_module({self.source_module.__name__!r})"]
        elif self.from_source:
            module_name = self.source_module.__name__
            lines += ["", "",
                      "def _import_source():",
                      f'    """{base} as a module: the one already imported, if it is."""',
                      f"    module = sys.modules.get({module_name!r})",
                      "    if module is not None and getattr(module, '__file__', None) and \\",
                      "            os.path.samefile(module.__file__, _SOURCE):",
                      "        return module",
                      "    spec = importlib.util.spec_from_file_location("
                      f"{module_name!r}, _SOURCE)",
                      "    module = importlib.util.module_from_spec(spec)",
                      f"    sys.modules.setdefault({module_name!r}, module)",
                      "    spec.loader.exec_module(module)",
                      "    return module",
                      "", "",
                      "_source = _import_source()"]
        lines += [f"{n} = _source" if a is None else f"{n} = _source.{a}"
                  for n, a in sorted(self.from_source, key=lambda p: p[0])]
        return "\n".join(lines)

    def _helper_blocks(self):
        rt = _runtime_source()
        blocks = [ast.get_source_segment(rt.text, stmt) for stmt in rt.statements
                  if any(n in self.helpers for n in _bound_names(stmt))]
        blocks += self.stand_ins
        if self.aliases:
            blocks.append("\n".join(f"{n} = {r}" for n, r in self.aliases))
        return blocks


def _package_depth(module, path):
    """How many directories above `path` the package `module` belongs to starts (1 for
    pkg.mod, 2 for pkg.sub.mod), or 0 if it is a top-level module or was loaded from a
    file under a name of our own."""
    parts = module.__name__.split(".")
    if len(parts) == 1:
        return 0
    path = os.path.abspath(path)
    inside = os.path.basename(path) == "__init__.py"
    expected = os.path.join(*parts[:-1], parts[-1], "__init__.py") if inside else \
        os.path.join(*parts[:-1], parts[-1] + os.path.splitext(path)[1])
    if not path.endswith(os.sep + expected):
        return 0
    return len(parts) - 1 + inside


def _import_block(statements):
    """Import statements as isort would have them: the standard library first."""
    def module(statement):
        return statement.split()[1].split(".")[0]
    stdlib = getattr(sys, "stdlib_module_names", {"importlib", "os", "sys", "math", "cmath"})
    groups = [sorted((s for s in statements if (module(s) in stdlib) == first),
                     key=lambda s: (s.startswith("from "), module(s), s))
              for first in (True, False)]
    return "\n\n".join("\n".join(group) for group in groups if group)


def _section(title):
    return f"# --- {title} " + "-" * max(3, 81 - len(title))


def _imported_modules(module):
    names = set()
    for value in vars(module).values():
        if isinstance(value, types.ModuleType):
            names.add(value.__name__.split(".")[0])
        else:
            names.add((getattr(value, "__module__", None) or "").split(".")[0])
    return names


# --- the gradient function itself --------------------------------------------------------

def _parameters(parsed):
    args = parsed.node.args
    return {a.id for a in args.posonlyargs + args.args + args.kwonlyargs +
            [args.vararg, args.kwarg] if a is not None}


def _fitted(fit, output, param, copy):
    """`fit_gradient(dx, x, copy=False)`: the gradient given its argument's shape and floating
    dtype (and copied where it may alias an argument), as srcgrad's own wrapper does."""
    return gast.Call(func=_name(fit), args=[output, _name(param)],
                     keywords=[gast.keyword(arg="copy", value=gast.Constant(value=copy, kind=None))])


def _name(name):
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def _header(func, lineno, signature, wrt, writer, source_path, command):
    """The module docstring; `signature` is the gradient function's, as in its `def`."""
    from . import __version__
    base = os.path.basename(source_path)
    result = f"the gradient with respect to {wrt[0]}" if len(wrt) == 1 else \
        f"(gradients with respect to {', '.join(wrt)})"
    paragraphs = [
        f"Written by `{command}`: the gradient function srcgrad generates (each adjoint block "
        f"is headed by the line of {base} it differentiates), after the srcgrad runtime "
        "helpers it calls, copied from srcgrad/runtime.py, so that this module needs only "
        "NumPy and the standard library. Each gradient has its argument's shape and floating "
        "dtype; arguments are arrays or numbers (not dicts or lists of arrays). Regenerate "
        f"this file when {base} changes rather than editing it.",
        _globals_paragraph(writer, base)]
    text = "\n\n".join([
        f'"""Gradient of {func.__name__} ({base}:{lineno}) with respect '
        f"to {', '.join(wrt)}, exported by srcgrad {__version__}.",
        f"    {signature} -> {result}"] +
        [textwrap.fill(p, 88, break_on_hyphens=False) for p in paragraphs])
    return text + '\n"""'


def _globals_paragraph(writer, base):
    """How the globals of the user's module that the gradient reads are bound here."""
    def names(pairs):
        return ", ".join(sorted(n for n, _ in pairs))
    modules = sorted(n for n, obj in writer.bound.items() if isinstance(obj, types.ModuleType))
    parts = [f"modules are imported by name ({', '.join(modules)})"] if modules else []
    if writer.copied:
        parts.append("values that are plain literals are copied as they were when this "
                     f"module was written ({names(writer.copied)})")
    if writer.from_source:
        parts.append(f"everything else ({names(writer.from_source)}) is read from {base}, which "
                     "is imported by path when this module is imported (running its top-level "
                     "code), and read once: rebinding them later is not seen here")
    if writer.neighbour_imports or writer.from_source:
        parts.append(f"{base}'s directory is put on sys.path for the modules next to it")
    if not parts:
        return f"The gradient reads no globals of {base}."
    return f"Globals of {base} that the gradient reads: " + "; ".join(parts) + "."
