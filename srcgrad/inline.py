"""Calls of the user's own functions are inlined: the callee's body is normalized in a
Scope of its own (scope.py), its parameters bound to the caller's values, its globals
resolved as the callee sees them.  Recursive module-level functions are not inlined (the
call stays, with a derivative of its own: recursion.py).

Every function here takes the running `Normalizer` (normalize.py) as its first argument.
"""
import os
import site
import sys
import sysconfig
import types

import gast

from . import custom
from .control import always_returns, restructure_returns
from .fold import copy_tree, make_const
from .ir import Assign
from .scope import Scope, assigned_names, lookup_name
from .source import parse_function
from .validate import reject_unsupported

_NOTHING = object()

# Modules whose functions are called as they are (`logging.info`), never inlined.
STANDARD_LIBRARY = set(getattr(sys, "stdlib_module_names", ("logging", "warnings"))) - {"__main__"}
# Where installed code lives: the standard library's folders and site-packages.
_LIBRARY_DIRS = tuple(sorted({os.path.realpath(d) for d in
                              [sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")]
                              + list(getattr(site, "getsitepackages", list)())
                              + [getattr(site, "getusersitepackages", lambda: None)()] if d}))


def library_function(obj):
    """Whether `obj` (a Python function, or a method of one) is code of NumPy, SciPy, the
    standard library or any other installed library rather than the user's: its module is
    numpy*, scipy* or the standard library's, or its file sits in site-packages (or
    dist-packages) or the standard library's folders.  srcgrad never reads such code: it
    calls it, with a derivative rule of the table or a custom one, or refuses."""
    plain = obj.__func__ if isinstance(obj, types.MethodType) else obj
    if not isinstance(plain, types.FunctionType):
        return False
    module = (getattr(plain, "__module__", None) or "").split(".")[0]
    if module in ("numpy", "scipy") or module in STANDARD_LIBRARY:
        return True
    filename = plain.__code__.co_filename
    if not os.path.isabs(filename):
        return False                # <stdin>, <ipython-input-...>: typed in by the user
    parts = filename.replace("\\", "/").split("/")
    if "site-packages" in parts or "dist-packages" in parts:
        return True
    path = os.path.realpath(filename)
    return any(path.startswith(d + os.sep) for d in _LIBRARY_DIRS)


def user_function(norm, func):
    """The Python function a call's global chain names, if it is user code to inline (not
    NumPy's or srcgrad's, and without a custom rule; in forward mode, without a jvp rule)."""
    obj = norm.lookup_quietly(func)
    plain = obj.__func__ if isinstance(obj, types.MethodType) else obj   # a method: `self.predict`
    if not isinstance(plain, types.FunctionType) or custom.vjp_rule(plain) is not None or \
            custom.vjp_rule(obj) is not None:
        return None
    if norm.forward and (custom.jvp_rule(plain) or custom.jvp_rule(obj)):
        return None
    module = (getattr(plain, "__module__", "") or "").split(".")[0]
    if (module == "srcgrad" and not getattr(plain, "inlined_when_differentiated", False)) or \
            library_function(plain):
        return None             # (a library's code is called, never inlined)
    return obj


def bind_arguments(norm, call, args_node, defaults, name):
    """{parameter: atom} for a call of a function with `args_node` (gast.arguments)."""
    if args_node.vararg is not None or args_node.kwarg is not None:
        raise norm.error(f"srcgrad cannot inline `{name}`, which takes *args or **kwargs",
                         call, construct="call", hint="give the helper named parameters")
    positional = [a.id for a in args_node.posonlyargs + args_node.args]
    names = positional + [a.id for a in args_node.kwonlyargs]
    if any(isinstance(a, gast.Starred) for a in call.args) or \
            any(k.arg is None for k in call.keywords):
        raise norm.error("srcgrad cannot differentiate a call with `*args` or `**kwargs`",
                         call, construct="call", hint="pass arguments one by one")
    if len(call.args) > len(positional):
        raise norm.error(f"`{name}` takes {len(positional)} positional arguments", call,
                         construct="call")
    values = {p: norm.atom(a) for p, a in zip(positional, call.args)}
    for k in call.keywords:
        if k.arg not in names or k.arg in values:
            raise norm.error(f"`{name}` got an unexpected or repeated argument `{k.arg}`",
                             call, construct="call")
        values[k.arg] = norm.atom(k.value)
    for p in names:
        if p not in values:
            if p not in defaults:
                raise norm.error(f"`{name}` is missing its argument `{p}`", call, construct="call")
            values[p] = defaults[p]
    return values


def _constant_or_injected(norm, value, name):
    node = make_const(value)
    if node is None:
        ref = norm.namer.fresh(f"{name}_default")
        norm.injections[ref] = value
        node = gast.Name(id=ref, ctx=gast.Load(), annotation=None, type_comment=None)
    return node


def _helper_globals(norm, obj, node):
    """{global name: what the inlined code reads instead} for the globals of helper `obj`
    (np, constants, other helpers) that the compiled gradient cannot reach the same way."""
    local = {a.id for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs} | \
        assigned_names(node.body)
    renames = {}
    for n in {x.id for x in gast.walk(node) if isinstance(x, gast.Name) and
              isinstance(x.ctx, gast.Load)} - local:
        try:
            mine = lookup_name(obj, n)
        except (KeyError, AttributeError):
            continue
        try:
            theirs = lookup_name(norm.root.func, n)
        except (KeyError, AttributeError):
            theirs = _NOTHING
        if mine is theirs:
            continue
        module = sys.modules.get(obj.__module__)
        if module is not None and vars(module) is obj.__globals__ and n in obj.__globals__:
            # read live, as the helper does: `helpers.SCALE`, not its value today
            if id(module) not in norm.module_refs:
                ref = norm.namer.fresh(obj.__module__.split(".")[-1])
                norm.injections[ref] = module
                norm.module_refs[id(module)] = ref
            renames[n] = gast.Attribute(
                value=gast.Name(id=norm.module_refs[id(module)], ctx=gast.Load(),
                                annotation=None, type_comment=None), attr=n, ctx=gast.Load())
        else:
            renames[n] = norm.namer.fresh(n)
            norm.injections[renames[n]] = mine
    return renames


def inline_global(norm, obj, call):
    """A call of module-level (or closure) Python function `obj`, or of a method bound to an
    object (`self.predict(w, X)`): its result's atom."""
    method = obj if isinstance(obj, types.MethodType) else None
    if method is not None:
        obj = method.__func__
        root = getattr(norm.root.func, "__srcgrad_fixed__", (None, None))[1]
        if obj in norm.inlining or obj is root:
            raise norm.error(f"srcgrad cannot differentiate `{call_text(call)}`, a method that "
                             "calls itself (recursion through a method)", call,
                             construct="recursive method call",
                             hint="write the recursion as a module-level function, or as a loop")
    parsed = parse_function(obj)
    node = parsed.node
    defaults = {}
    params = node.args.posonlyargs + node.args.args
    for p, v in zip(params[len(params) - len(obj.__defaults__ or ()):], obj.__defaults__ or ()):
        defaults[p.id] = _constant_or_injected(norm, v, p.id)
    for p, v in (obj.__kwdefaults__ or {}).items():
        defaults[p] = _constant_or_injected(norm, v, p)
    args, renames = node.args, _helper_globals(norm, obj, node)
    if method is not None:
        if not params:
            raise norm.error(f"`{call_text(call)}` calls a method that takes no `self`", call,
                             construct="call")
        args = gast.arguments(args=list(node.args.args), posonlyargs=list(node.args.posonlyargs),
                              vararg=node.args.vararg, kwonlyargs=node.args.kwonlyargs,
                              kw_defaults=node.args.kw_defaults, kwarg=node.args.kwarg,
                              defaults=node.args.defaults)
        (args.posonlyargs if args.posonlyargs else args.args).pop(0)
        renames[params[0].id] = _bound_object(norm, method.__self__, call.func.value)
    values = bind_arguments(norm, call, args, defaults, obj.__name__)
    key = obj
    return inline(norm, key, parsed, node.body, values, renames, {}, obj.__name__, call)


def call_text(call):
    """`self.predict(...)`: a call, as an error names it."""
    try:
        return gast.unparse(gast.Call(func=call.func, args=[], keywords=[])).replace("()", "(...)")
    except Exception:
        return "call"


def _bound_object(norm, obj, value):
    """What an inlined method's code reads for its `self`: the caller's own name for the
    object when it has one (`self`, a global `model`), else the object under a new name.
    (deps.py records the chain that led to the method, so a rebound one is noticed.)"""
    ref = norm.scope.global_ref(value)
    if isinstance(ref, gast.Name) and norm.injections.get(ref.id, obj) is obj and \
            norm.lookup_quietly(ref) is obj:
        norm.injections[ref.id] = obj
        return ref
    name = norm.namer.fresh("self")
    norm.injections[name] = obj
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def inline_local(norm, name, call):
    """A call of a nested `def` or of a lambda bound to a name: its result's atom."""
    node, defaults = norm.scope.local_functions[name]
    if node in norm.inlining:
        raise norm.error(f"srcgrad cannot differentiate `{name}`, a recursive function defined "
                         "inside another function", call, construct="recursive call",
                         hint=f"define {name} at the top level of the module: recursive "
                              "module-level functions are supported")
    values = bind_arguments(norm, call, node.args, defaults, name)
    body = node.body if isinstance(node, gast.FunctionDef) else \
        [gast.copy_location(gast.Return(value=node.body), node.body)]
    # a closure: free names are the caller's, as they are when it is called
    return inline(norm, node, norm.scope.parsed, body, values, norm.scope.renames,
                  dict(norm.scope.current), name, call)


def _callee_scope(norm, parsed, values, renames, env, call_line):
    """The Scope a callee's body is read in, its parameters bound to the call's `values`."""
    outer = norm.scope
    current, renames = dict(env), dict(renames)
    local_functions = dict(outer.local_functions)
    for p, atom in values.items():
        if isinstance(atom, gast.Name) and atom.id in outer.local_functions and \
                atom.id not in outer.current:
            local_functions[p] = outer.local_functions[atom.id]   # a nested def passed in
        elif isinstance(atom, (gast.Name, gast.Attribute)) and norm.is_global_chain(atom) \
                and callable(norm.lookup_quietly(atom)):
            renames[p] = atom                   # a function passed in (`act=np.tanh`)
        elif isinstance(atom, gast.Name):
            current[p] = atom.id
        else:
            tmp = norm.namer.fresh(p)
            norm.body.append(Assign([tmp], atom, call_line))
            current[p] = tmp
    return Scope(parsed, current, renames, local_functions, line_override=call_line)


def inline(norm, key, parsed, body, values, renames, env, name, call):
    """The callee's body, normalized in a scope of its own; returns its result's atom.
    `key` identifies the callee (to refuse recursion), `env` is what it sees of the caller's
    variables (a closure's), `renames` what it reads for the globals it names."""
    outer = norm.scope
    call_line = norm.line if outer.line_override is None else outer.line_override
    norm.inlining.append(key)
    scope = _callee_scope(norm, parsed, values, renames, env, call_line)
    scope.result_var = f"<result of {name} #{len(norm.inlining)}>"
    scope.result_base = f"{name}_out"
    # the callee's own names are its variables: no temporary may be called that
    norm.namer.taken.update(n.id for stmt in body for n in gast.walk(stmt)
                            if isinstance(n, gast.Name))
    norm.namer.taken.update(values)
    norm.scope = scope
    try:
        reject_unsupported(parsed, body)
        body = restructure_returns(copy_tree(body), norm.namer)
        if not always_returns(body):
            raise norm.error(f"`{name}` does not return a value on every path", call,
                             construct="call", hint="end every path of the helper with `return`")
        norm.statements(body)
        if scope.result_arity is not None:
            return gast.Tuple(elts=[norm.load(f"{scope.result_var}[{k}]")
                                    for k in range(scope.result_arity)], ctx=gast.Load())
        return norm.load(scope.result_var)
    finally:
        norm.inlining.pop()
        norm.scope = outer


def define_local_function(norm, node, name):
    """A nested `def` or a lambda bound to a name: inlined where it is called."""
    defaults = {}
    params = node.args.posonlyargs + node.args.args
    for p, d in zip(params[len(params) - len(node.args.defaults):], node.args.defaults):
        defaults[p.id] = norm.atom(d)
    for p, d in zip(node.args.kwonlyargs, node.args.kw_defaults):
        if d is not None:
            defaults[p.id] = norm.atom(d)
    norm.scope.local_functions[name] = (node, defaults)
    norm.scope.current.pop(name, None)
