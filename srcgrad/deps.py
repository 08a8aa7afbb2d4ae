"""What a compiled gradient took for granted when it was made, and a cheap check that it
still holds.

The transformation reads a function's source, inlines the helpers it calls and picks a
derivative rule for every function it calls: `ACT(x)` is differentiated as `np.tanh` if
`ACT` was `np.tanh` then.  Data (arrays, numbers) the generated code reads live, but these
choices are baked in.  So every transformation records

* the functions whose source it read (the function itself and each inlined helper), with
  their code objects: a redefined helper is a new function under the same name, and
  `%autoreload` swaps `helper.__code__` in place;
* the global, closure and module-attribute bindings those functions read that hold
  callables or modules (dict or cell, name, object), and the builtins they use (a global of
  the same name defined later would shadow one);

and a gradient checks them, by identity, before each call (`Dependencies.condition` is the
inline form).  When one changed, it is transformed again.

`LOCK` is held around every transformation: concurrent first calls transform once.
"""
import builtins
import inspect
import threading
import types

import gast

LOCK = threading.RLock()

_ABSENT = object()           # "this name was not a global" (a builtin it would shadow)
_LIBRARIES = ("numpy", "scipy", "srcgrad", "math", "cmath", "builtins")
_state = threading.local()   # .stack: the Dependencies being recorded by this thread
_clearers = []               # functions emptying the caches of api, forward_api, derivatives


class Dependencies:
    """The functions and bindings one compiled function assumed (see the module docstring)."""

    def __init__(self):
        self.functions = {}   # id(function) -> (function, its __code__, its __defaults__)
        self.bindings = {}    # (id(dict or cell), name) -> (dict or cell, name, object)

    def add_function(self, func):
        key = id(func)
        if key not in self.functions:
            self.functions[key] = (func, func.__code__, func.__defaults__)

    def add_binding(self, namespace, name, obj):
        self.bindings.setdefault((id(namespace), name), (namespace, name, obj))

    def include(self, other):
        """Also depend on what `other` (a generated function's dependencies) depends on."""
        for key, value in other.functions.items():
            self.functions.setdefault(key, value)
        for key, value in other.bindings.items():
            self.bindings.setdefault(key, value)

    def scan(self, func, node, only=None):
        """Record the bindings `func`'s source (`node`, a gast tree) reads that hold callables
        or modules: names, and attribute chains through the user's modules and objects (each
        link of a chain that leads to one: `cfg.act` depends on `cfg` and on its `act`; a
        method `model.predict`, on `model`, on `predict` not being in its `__dict__` and on
        its class's `predict`).  `only`: the chains that start at these names alone."""
        code = func.__code__
        local = set(code.co_varnames) | set(code.co_cellvars)
        seen = set()
        for sub in gast.walk(node):
            chain = []
            while isinstance(sub, gast.Attribute):
                chain.append(sub.attr)
                sub = sub.value
            if not (isinstance(sub, gast.Name) and isinstance(sub.ctx, gast.Load)):
                continue
            key = (sub.id, *reversed(chain))
            if key in seen or sub.id in local or (only is not None and sub.id not in only):
                continue
            seen.add(key)
            space, expected, obj = _binding(func, sub.id)
            if space is None:
                continue
            links = [(space, sub.id, expected, obj)]
            for attr in key[1:]:
                if _is_library(obj):
                    break
                space = getattr(obj, "__dict__", None)
                if isinstance(space, (dict, types.MappingProxyType)) and attr in space:
                    links.append((space, attr, space[attr], space[attr]))
                elif not isinstance(obj, (type, types.ModuleType)) and \
                        _class_attribute(obj, attr, links):
                    pass        # a method (or class attribute) read through an instance
                else:
                    break
                try:
                    obj = getattr(obj, attr)
                except Exception:
                    break
            baked = [i for i, link in enumerate(links) if _baked(link[3])]
            for space, name, expected, _ in links[:baked[-1] + 1] if baked else ():
                self.add_binding(space, name, expected)

    def stale(self):
        """Whether anything recorded has changed since."""
        try:
            for func, code, defaults in self.functions.values():
                if func.__code__ is not code or (defaults is not None and
                                                 func.__defaults__ is not defaults):
                    return True
            for space, name, obj in self.bindings.values():
                if isinstance(space, types.CellType):
                    if space.cell_contents is not obj:
                        return True
                elif obj is _ABSENT:
                    if name in space:
                        return True
                elif space[name] is not obj:
                    return True
        except (KeyError, ValueError):
            return True
        return False

    def condition(self, scope, prefix):
        """Python source of an expression true when `stale()` would be, its objects added to
        `scope` (the generated function's globals) under names starting with `prefix`; it
        may raise KeyError or ValueError, which mean stale too.  "" if nothing to check."""
        terms, spaces = [], {}
        for i, (func, code, defaults) in enumerate(self.functions.values()):
            scope[f"{prefix}f{i}"], scope[f"{prefix}c{i}"] = func, code
            terms.append(f"{prefix}f{i}.__code__ is not {prefix}c{i}")
            if defaults is not None:
                scope[f"{prefix}d{i}"] = defaults
                terms.append(f"{prefix}f{i}.__defaults__ is not {prefix}d{i}")
        for j, (space, name, obj) in enumerate(self.bindings.values()):
            if id(space) not in spaces:
                spaces[id(space)] = f"{prefix}n{len(spaces)}"
                scope[spaces[id(space)]] = space
            ref = spaces[id(space)]
            if isinstance(space, types.CellType):
                scope[f"{prefix}o{j}"] = obj
                terms.append(f"{ref}.cell_contents is not {prefix}o{j}")
            elif obj is _ABSENT:
                terms.append(f"{name!r} in {ref}")
            else:
                scope[f"{prefix}o{j}"] = obj
                terms.append(f"{ref}[{name!r}] is not {prefix}o{j}")
        return " or ".join(terms)

    def prelude(self, scope, prefix, again):
        """The first lines of a compiled `__call__`: `return <again>` when what the
        transformation read has changed (none if it read nothing to check)."""
        stale = self.condition(scope, prefix + "k")
        if not stale:
            return []
        scope[prefix + "Lookup"] = (KeyError, ValueError)
        return ["    try:",
                f"        {prefix}stale = {stale}",
                f"    except {prefix}Lookup:",
                f"        {prefix}stale = True",
                f"    if {prefix}stale:",
                f"        return {again}"]


def _binding(func, name):
    """(where, what is expected there, the object) for a name `func` reads: a closure cell
    and its contents, or its globals and the global; for a builtin, its globals, _ABSENT (no
    global of that name) and the builtin.  (None, ...) for a name it cannot read."""
    code = func.__code__
    if name in code.co_freevars:
        cell = func.__closure__[code.co_freevars.index(name)]
        try:
            return cell, cell.cell_contents, cell.cell_contents
        except ValueError:
            return None, None, None
    if name in func.__globals__:
        return func.__globals__, func.__globals__[name], func.__globals__[name]
    if hasattr(builtins, name):
        return func.__globals__, _ABSENT, getattr(builtins, name)
    return None, None, None


def _class_attribute(obj, attr, links):
    """Append to `links` where instance `obj`'s `attr` comes from, as Python looks it up:
    not from its own `__dict__` (a link expecting it absent there), and from the first class
    of its type's MRO that has it (absent from the classes before).  False if none has it."""
    found = []
    own = getattr(obj, "__dict__", None)
    if isinstance(own, dict):
        found.append((own, attr, _ABSENT, None))
    for klass in type(obj).__mro__:
        space = klass.__dict__
        if attr in space:
            if hasattr(type(space[attr]), "__set__"):
                return False    # a property or slot: its value is not a binding to watch
            try:
                value = getattr(obj, attr)
            except Exception:
                return False
            links += found + [(space, attr, space[attr], value)]
            return True
        found.append((space, attr, _ABSENT, None))
    return False


def _baked(obj):
    """Whether the transformation decides something by this object's identity: a function
    (a helper to inline, a rule to pick) or a module (whose functions it looks up)."""
    return callable(obj) or isinstance(obj, types.ModuleType)


def _is_library(obj):
    name = obj.__name__ if isinstance(obj, types.ModuleType) else None
    return name is not None and name.split(".")[0] in _LIBRARIES


class recording:
    """`with recording() as deps:` collects what the functions read meanwhile assume."""

    def __enter__(self):
        self.deps = Dependencies()
        stack = getattr(_state, "stack", None)
        if stack is None:
            stack = _state.stack = []
        stack.append(self.deps)
        return self.deps

    def __exit__(self, *exc):
        _state.stack.pop()
        return False


def record_function(func, node):
    """Called for each function whose source is read (parse_function)."""
    stack = getattr(_state, "stack", None)
    if not stack:
        return
    deps = stack[-1]
    generated = getattr(func, "__srcgrad_deps__", None)
    if generated is not None:          # srcgrad's own generated code: what it assumed
        deps.include(generated)
        return
    for read in {func, inspect.unwrap(func)}:    # (the source of a wrapper is the wrapped's)
        deps.add_function(read)
        deps.scan(read, node)


def record_fixed(func, node, names):
    """Called for the stand-in of a bound method or partial (source.as_function): what
    the chains through its bound values (`self.predict`, `self.act`) resolve to."""
    stack = getattr(_state, "stack", None)
    if stack:
        stack[-1].scan(func, node, only=set(names))


def mark(func, deps):
    """Attach the dependencies of a generated function, for code that transforms it again."""
    func.__srcgrad_deps__ = deps


def on_clear(clear):
    _clearers.append(clear)
    return clear


def clear_cache():
    """Forget every compiled gradient, JVP, Jacobian and Hessian function: each is
    transformed again on its next call (existing `grad(f)` objects included)."""
    with LOCK:
        for clear in _clearers:
            clear()
