"""Statements kept for what they do, not differentiated: checks that raise
(`if x.ndim != 2: raise ValueError(...)`), `with np.errstate(...)` blocks, and calls made
for their effect (print, logging, the standard library, a helper called as a statement).

Every function here takes the running `Normalizer` (normalize.py) as its first argument.
"""
import types
import warnings

import gast
import numpy as np

from . import containers, expressions, inline
from .control import jumps_out_of_with
from .fold import copy_tree
from .inline import STANDARD_LIBRARY
from .ir import Effect, EnterContext, ExitContext
from .validate import UNSUPPORTED_EXPRESSIONS, UNSUPPORTED_STATEMENTS, unsupported

# Context managers whose `with` blocks are kept around the statements of their body: they
# change how NumPy and Python report problems, never a value.
KEPT_CONTEXTS = (np.errstate, warnings.catch_warnings)

def raise_check(norm, stmt):
    """`if test: ... raise E(...)` (every path of its body raises, see control.py): kept
    whole as an Effect that reads the current versions, so the generated code runs the
    same check and raises the same exception; nothing of it is differentiated."""
    if expressions.calls_user_code(norm, stmt.test):
        test = norm.load_ssa(expressions.condition(norm, stmt.test))  # helpers inlined
    else:
        test = kept(norm, stmt.test, {}, set())
    body = kept_block(norm, stmt.body, {}, set())
    norm.body.append(Effect(gast.copy_location(gast.If(test=test, body=body, orelse=[]), stmt),
                            norm.line))

def kept_block(norm, stmts, local, bound):
    """The statements of a path that raises, kept as they are: reads renamed to the
    current versions; a name they assign gets a fresh name (`local`: user name -> it;
    `bound`: those certainly assigned by now), so it clobbers none of the function's."""
    out = []
    for stmt in stmts:
        if isinstance(stmt, gast.Raise):
            if stmt.exc is None:
                raise norm.error("srcgrad cannot keep a bare `raise` (it re-raises the exception "
                                 "being handled, and none is)", stmt, construct="bare `raise`",
                                 hint="raise an exception: `raise ValueError(\"...\")`")
            new = gast.Raise(exc=kept(norm, stmt.exc, local, bound),
                             cause=stmt.cause and kept(norm, stmt.cause, local, bound))
        elif isinstance(stmt, (gast.Expr, gast.Assert)):
            new = kept(norm, stmt, local, bound)
        elif isinstance(stmt, gast.Assign) and all(isinstance(t, gast.Name) for t in stmt.targets):
            value = kept(norm, stmt.value, local, bound)
            for t in stmt.targets:
                local.setdefault(t.id, norm.namer.fresh(t.id))
                bound.add(t.id)
            new = gast.Assign(targets=[gast.Name(id=local[t.id], ctx=gast.Store(), annotation=None,
                                                 type_comment=None) for t in stmt.targets],
                              value=value, type_comment=None)
        elif isinstance(stmt, gast.If):
            test = kept(norm, stmt.test, local, bound)
            seen = [set(bound), set(bound)]
            blocks = [kept_block(norm, side, local, s) for side, s in zip((stmt.body, stmt.orelse), seen)]
            bound |= seen[0] & seen[1]
            new = gast.If(test=test, body=blocks[0] or [gast.Pass()], orelse=blocks[1])
        elif isinstance(stmt, gast.Pass):
            continue
        else:
            raise norm.error(
                "srcgrad keeps the code of a path that raises as it is, and it may only hold "
                "calls (print, logging), assignments to names, `if`, `assert` and the `raise`",
                stmt, construct=f"{type(stmt).__name__.lower()} before a `raise`",
                hint="build the message inside the `raise` (an f-string is fine there)")
        out.append(gast.copy_location(new, stmt))
    return out

def kept(norm, node, local, bound):
    """Expression or simple statement `node` kept whole, reading the current versions
    (`local`, `bound`: see kept_block); a call of a function defined inside this one is
    refused (the generated code does not have it)."""
    for n in gast.walk(node):
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and \
                n.func.id in norm.scope.local_functions and n.func.id not in norm.scope.current:
            raise norm.error("srcgrad cannot call a function defined inside the differentiated "
                             "function on a path that raises", n, construct="call before a `raise`",
                             hint=f"define {n.func.id} at module level")
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in local and \
                n.id not in bound:
            raise norm.error(f"srcgrad cannot read `{n.id}` here: it is assigned on some paths "
                             "before the `raise` only", n, construct="name before a `raise`",
                             hint=f"assign {n.id} on every path before reading it")
    if not local:
        return expressions.rename_loads(norm, copy_tree(node))
    before = {k: norm.scope.current.get(k) for k in local}
    try:
        for name in bound:
            norm.scope.current[name] = local[name]
        return expressions.rename_loads(norm, copy_tree(node))
    finally:
        for k, v in before.items():
            if v is None:
                norm.scope.current.pop(k, None)
            else:
                norm.scope.current[k] = v

def with_block(norm, stmt):
    """`with np.errstate(...):` / `with warnings.catch_warnings():` around its body's
    normalized statements (between an EnterContext and an ExitContext); any other
    context manager is refused, as is leaving the block early.  The generated forward
    pass runs the block's statements inside it, as the user's code does (forward mode:
    their tangents too, computed alongside).  A gradient's adjoint runs outside it: the
    user's `errstate` says which floating-point problems of *their* values to expect,
    while an adjoint that divides by zero or overflows means an infinite or undefined
    derivative, which NumPy should still report."""
    for item in stmt.items:
        context = item.context_expr
        if not (isinstance(context, gast.Call) and norm.is_global_chain(context.func) and
                any(norm.lookup_quietly(context.func) is kept for kept in KEPT_CONTEXTS)):
            from .emit import to_source
            raise norm.error(f"srcgrad cannot differentiate a function containing a `with` "
                             f"statement over {to_source(context).strip()}", stmt,
                             construct="`with` statement", hint=UNSUPPORTED_STATEMENTS[gast.With][1])
        if item.optional_vars is not None:
            raise norm.error("srcgrad keeps `with np.errstate(...):` blocks, but not a name "
                             "bound by `as`", stmt, construct="`with ... as`",
                             hint="drop the `as ...` part")
    jump = jumps_out_of_with(stmt)
    if jump is not None:
        kind = type(jump).__name__.lower()
        raise norm.error(f"srcgrad cannot differentiate a `{kind}` that leaves a `with` block early",
                         jump, construct=f"`{kind}` inside `with`",
                         hint="end the `with` block first (a `return` as its last statement is fine)")
    for item in stmt.items:
        norm.body.append(EnterContext(kept(norm, item.context_expr, {}, set()), stmt.lineno))
    norm.statements(stmt.body)
    for item in stmt.items:
        norm.body.append(ExitContext(stmt.lineno))

def is_library_function(norm, func):
    """Whether global chain `func` names a Python function of the standard library
    (`logging.info`, `warnings.simplefilter`): code to call, not to inline."""
    obj = norm.lookup_quietly(func)
    plain = obj.__func__ if isinstance(obj, types.MethodType) else obj   # `LOG.info`
    module = (getattr(plain, "__module__", None) or "").split(".")[0]
    return isinstance(plain, types.FunctionType) and module in STANDARD_LIBRARY

def only_library_code(norm, node):
    """Whether expression `node` calls Python functions of the standard library and none
    of the user's (so it can be kept as it is)."""
    found = False
    for n in gast.walk(node):
        if not isinstance(n, gast.Call):
            continue
        func = n.func
        if norm.is_global_chain(func) and is_library_function(norm, func):
            found = True
        elif (isinstance(func, gast.Name) and func.id in norm.scope.local_functions and
              func.id not in norm.scope.current) or (
                norm.is_global_chain(func) and inline.user_function(norm, func) is not None):
            return False
    return found

def expression_statement(norm, stmt):
    """A statement that is an expression: a helper or list method called for what it
    does; a NumPy call that might change an array in place is refused."""
    if isinstance(stmt.value, gast.Constant):
        return   # docstring or a bare constant
    if isinstance(stmt.value, (gast.Yield, gast.YieldFrom, gast.Await)):
        raise unsupported(norm.scope.parsed, stmt.value, UNSUPPORTED_EXPRESSIONS)
    call = stmt.value
    if containers.static_append(norm, call) or containers.list_operation(norm, [], call):
        return
    if isinstance(call, gast.Call) and only_library_code(norm, call):
        # `logging.getLogger(__name__).debug(...)`: the standard library's code, called
        norm.body.append(Effect(expressions.rename_loads(norm, stmt), norm.line))
        return
    if isinstance(call, gast.Call) and norm.is_global_chain(call.func) and \
            is_library_function(norm, call.func):
        # `logging.info("loss %s", y)`, `warnings.simplefilter("ignore")`: called for what
        # it does, never inlined (its arguments are, as values)
        if any(isinstance(a, gast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
            raise norm.error("srcgrad cannot keep a call with `*args` or `**kwargs`", stmt,
                             construct="call", hint="pass arguments one by one")
        kept = gast.Call(func=norm.scope.global_ref(call.func), args=[norm.atom(a) for a in call.args],
                         keywords=[gast.keyword(arg=k.arg, value=norm.atom(k.value))
                                   for k in call.keywords])
        norm.body.append(Effect(gast.copy_location(gast.Expr(value=kept), stmt), norm.line))
        return
    if isinstance(call, gast.Call) and expressions.calls_user_code(norm, gast.Expr(value=call)) \
            and not any(isinstance(a, gast.Starred) for a in call.args):
        # a helper called for what it does: inlined; a call left over (a method of what
        # it returned, `make_logger().info(y)`) would be dropped as unused: refused
        value = expressions.operation(norm, call)
        if isinstance(value, gast.Call) and norm.is_global_chain(value.func) and (
                norm.lookup_quietly(value.func) is print or
                is_library_function(norm, value.func)):
            # `print(helper(x))`, `logging.info("%s", helper(x))`: called, for what it does
            norm.body.append(Effect(gast.copy_location(gast.Expr(value=value), stmt),
                                    norm.line))
        elif isinstance(value, gast.Call):
            raise norm.error(
                "srcgrad cannot keep a call made only for what it does on a value that "
                "one of your functions returned", stmt, construct="expression statement",
                hint="call it outside the differentiated function, or use a module-level "
                     "logger (`LOG = logging.getLogger(__name__)`, then `LOG.info(...)`)")
        return
    if not isinstance(call, gast.Call) or not norm.is_global_chain(call.func) or \
            any(k.arg == "out" for k in call.keywords):
        raise norm.error(
            "srcgrad cannot differentiate a statement that may change an array in place",
            stmt, construct="expression statement",
            hint="compute a new value and assign it (`x = np.clip(x, 0, 1)` rather than "
                 "`np.clip(x, 0, 1, out=x)` or `x.fill(0)`)")
    norm.body.append(Effect(expressions.rename_loads(norm, stmt), norm.line))

