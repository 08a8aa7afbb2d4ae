"""Step 2: rewrite the function body as one operation per statement, in SSA form.

`r = X @ w - y` becomes `X_at_w = X @ w; r = X_at_w - y`: every operand is a name or
a constant, so each statement is one application of one derivative rule.  A name the
user assigns twice gets a new version (`x`, then `x_2`), so the backward pass can
read every intermediate value the forward pass made.

`normalize(parsed, mode)` is a driver over passes, in this order:

0. (forward mode) desugar.py reads a generated gradient's tape as values;
1. validate.py     refuse unsupported statements and expressions, at their line;
2. control.py      make every `return`/`break`/`continue` end its path (a `return` in a
                   loop becomes a `break`);
3. the `Normalizer` below reads the statements once into SSA form, its expressions made
   one operation on names each by expressions.py (named by naming.py); on the way it
   - inlines calls of the user's functions (inline.py, each in its own scope.py Scope),
   - desugars comprehensions, `sum`/`max`/`min`, loops over sequences and `x[i] = v`
     (desugar.py),
   - evaluates reads of containers known when reading (containers.py);
4. aliasing.py     refuse an in-place update of an array another name still reads.

The result is an ir.NormalFunction.
"""
import builtins
import types
import warnings

import gast
import numpy as np

from . import containers, desugar, expressions, inline, rules
from .aliasing import check_in_place_updates
from .control import (always_raises, always_returns, is_raise_check, jumps_out_of_with,
                      restructure_jumps, restructure_returns)
from .errors import NonScalarResultError, UnsupportedSyntaxError
from .fold import copy_tree
from .inline import STANDARD_LIBRARY
from .ir import (Assign, Branch, Effect, EnterContext, ExitContext, IterationEnd, Jump, Loop, Namer,
                 NormalFunction, Return)
from .naming import describe
from .scope import RESULT, Scope, assigned_names, list_method
from .validate import UNSUPPORTED_EXPRESSIONS, UNSUPPORTED_STATEMENTS, reject_unsupported, unsupported

# Context managers whose `with` blocks are kept around the statements of their body: they
# change how NumPy and Python report problems, never a value.
KEPT_CONTEXTS = (np.errstate, warnings.catch_warnings)


class Normalizer:
    """Reads a function's statements once, emitting the normalized body into `self.body`.
    `forward=True` is for forward mode: the function may return a tuple, functions with
    custom rules are called (not inlined), and a generated gradient's tape is read as values."""

    def __init__(self, parsed, forward=False):
        self.root, self.forward = parsed, forward
        func = parsed.node
        taken = {n.id for n in gast.walk(func) if isinstance(n, gast.Name)}
        self.namer = Namer(taken | set(dir(builtins)))   # never shadow `sum`, `abs`, ...
        self.scope = Scope(parsed, {})   # that of the function whose code is being read
        self.body = []
        self.line = self.result_line = func.lineno
        self.params, self.user_names = [], set()      # (set by `run`)
        self.loops = []         # (Loop, carried versions) of the loops being normalized
        self.inlining = []      # functions being inlined (to refuse recursion)
        self.injections = {}    # injected name -> object (bound when the code is compiled)
        self.module_refs = {}   # id(module) -> the injected name of an inlined helper's module
        self.helper_refs = {}   # runtime helper -> its injected name
        self.user_of = {}       # SSA name -> the user variable it is a version of
        self.updates = []       # (in-place update, old SSA name, its Assign): for aliasing.py
        self.range_targets = set()  # SSA names of the variables of `for ... in range(...)`
        # known containers (containers.py)
        self.containers = {}        # SSA name -> {key: element atom}
        self.fields = {}            # SSA name of a record -> {field: its key in containers}
        self.constants = {}         # SSA name -> the str/int constant it was bound to
        self.container_depth = {}   # SSA name -> how many loops enclose its definition
        self.runtime_lists = set()  # user names of lists appended to in loops
        self.snapshots = {}         # SSA name of such a list -> the copy reads see

    def error(self, message, node, construct=None, hint=None):
        return self.scope.parsed.error(UnsupportedSyntaxError, message, node=node,
                                       construct=construct, hint=hint)

    # --- names -----------------------------------------------------------------------
    def define(self, name):
        """The SSA name for a new value of user variable `name`."""
        scope = self.scope
        if name == scope.result_var or name.startswith(scope.result_var + "["):
            ssa = self.namer.fresh(scope.result_base)
        elif self.inlining:                 # never reuse a bare name: it may be the caller's
            ssa = self.namer.fresh(name)
        else:
            ssa = name if name not in scope.current else self.namer.fresh(name)
        self.user_of[ssa] = name
        scope.current[name] = ssa
        return ssa

    def load(self, name):
        return self.scope.load(name)

    @staticmethod
    def load_ssa(ssa):
        return gast.Name(id=ssa, ctx=gast.Load(), annotation=None, type_comment=None)

    def lookup_quietly(self, node):
        """The object a global chain names in the code being read, or None."""
        try:
            return self.scope.lookup(node, self.injections)
        except (AttributeError, KeyError, IndexError, ValueError):
            return None

    def is_global_chain(self, node):
        """`np`, `np.linalg.norm`, `math.pi`: attributes of names the function does not assign."""
        while isinstance(node, gast.Attribute):
            node = node.value
        return isinstance(node, gast.Name) and node.id not in self.scope.current

    def is_builtin_call(self, node, name):
        return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and \
            node.func.id == name and name not in self.scope.current

    def helper_name(self, helper):
        """The injected name of a function of runtime.py."""
        if helper not in self.helper_refs:
            from . import runtime
            ref = self.namer.fresh(helper)
            self.injections[ref] = getattr(runtime, helper)
            self.helper_refs[helper] = ref
        return self.helper_refs[helper]

    def numpy_ref(self):
        """NumPy under the code's own `np` if it has one, else under an injected name."""
        if "np" not in self.scope.current and self.lookup_quietly(self.load_ssa("np")) is np:
            return self.load("np")
        if "numpy" not in self.helper_refs:
            self.helper_refs["numpy"] = self.namer.fresh("np")
            self.injections[self.helper_refs["numpy"]] = np
        return self.load_ssa(self.helper_refs["numpy"])

    def atom(self, node):
        """Normalize `node` to a name or constant, emitting statements for what it computes."""
        return expressions.atom(self, node)

    def index(self, node):
        return expressions.index(self, node)

    # --- statements ------------------------------------------------------------------
    def statements(self, stmts):
        for stmt in stmts:
            self.statement(stmt)

    def statement(self, stmt):
        self.line = stmt.lineno if self.scope.line_override is None else self.scope.line_override
        if isinstance(stmt, gast.FunctionDef) and not stmt.decorator_list:
            inline.define_local_function(self, stmt, stmt.name)
        elif isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and \
                isinstance(stmt.targets[0], gast.Name) and isinstance(stmt.value, gast.Lambda):
            inline.define_local_function(self, stmt.value, stmt.targets[0].id)
        elif isinstance(stmt, gast.Assign):
            self.assign(stmt.targets[0], stmt.value)
            for t in stmt.targets[1:]:    # a = b = value
                self.assign(t, stmt.targets[0])
        elif isinstance(stmt, gast.AnnAssign):
            if stmt.value is not None:
                self.assign(stmt.target, stmt.value)
        elif isinstance(stmt, gast.AugAssign):
            self.augmented_assign(stmt)
        elif isinstance(stmt, gast.Expr):
            self.expression_statement(stmt)
        elif isinstance(stmt, gast.Assert):
            self.body.append(Effect(expressions.rename_loads(self, stmt), self.line))
        elif isinstance(stmt, gast.Return):
            self.ret(stmt)
        elif is_raise_check(stmt):
            self.raise_check(stmt)
        elif isinstance(stmt, gast.With):
            self.with_block(stmt)
        elif isinstance(stmt, gast.Raise):
            raise self.error("srcgrad keeps a `raise` only as a check under an `if`, on a path "
                             "the function leaves (here it would run whenever this code runs)",
                             stmt, construct="`raise` statement",
                             hint=UNSUPPORTED_STATEMENTS[gast.Raise][1])
        elif isinstance(stmt, gast.If):
            test = expressions.condition(self, stmt.test)
            self.branch(test, lambda: self.statements(stmt.body),
                        lambda: self.statements(stmt.orelse), stmt.lineno)
        elif isinstance(stmt, gast.For):
            desugar.for_loop(self, stmt)
        elif isinstance(stmt, gast.While):
            self.while_loop(stmt)
        elif isinstance(stmt, (gast.Break, gast.Continue)):
            if not self.loops:
                raise self.error("`break`/`continue` outside a loop", stmt, construct="jump")
            self.end_iteration()
            self.body.append(Jump("break" if isinstance(stmt, gast.Break) else "continue", stmt.lineno))
        elif not isinstance(stmt, gast.Pass):
            raise unsupported(self.scope.parsed, stmt, UNSUPPORTED_STATEMENTS)

    # --- checks that raise, `with` blocks ----------------------------------------------------
    def raise_check(self, stmt):
        """`if test: ... raise E(...)` (every path of its body raises, see control.py): kept
        whole as an Effect that reads the current versions, so the generated code runs the
        same check and raises the same exception; nothing of it is differentiated."""
        if expressions.calls_user_code(self, stmt.test):
            test = self.load_ssa(expressions.condition(self, stmt.test))  # helpers inlined
        else:
            test = self.kept(stmt.test, {}, set())
        body = self.kept_block(stmt.body, {}, set())
        self.body.append(Effect(gast.copy_location(gast.If(test=test, body=body, orelse=[]), stmt),
                                self.line))

    def kept_block(self, stmts, local, bound):
        """The statements of a path that raises, kept as they are: reads renamed to the
        current versions; a name they assign gets a fresh name (`local`: user name -> it;
        `bound`: those certainly assigned by now), so it clobbers none of the function's."""
        out = []
        for stmt in stmts:
            if isinstance(stmt, gast.Raise):
                if stmt.exc is None:
                    raise self.error("srcgrad cannot keep a bare `raise` (it re-raises the exception "
                                     "being handled, and none is)", stmt, construct="bare `raise`",
                                     hint="raise an exception: `raise ValueError(\"...\")`")
                new = gast.Raise(exc=self.kept(stmt.exc, local, bound),
                                 cause=stmt.cause and self.kept(stmt.cause, local, bound))
            elif isinstance(stmt, (gast.Expr, gast.Assert)):
                new = self.kept(stmt, local, bound)
            elif isinstance(stmt, gast.Assign) and all(isinstance(t, gast.Name) for t in stmt.targets):
                value = self.kept(stmt.value, local, bound)
                for t in stmt.targets:
                    local.setdefault(t.id, self.namer.fresh(t.id))
                    bound.add(t.id)
                new = gast.Assign(targets=[gast.Name(id=local[t.id], ctx=gast.Store(), annotation=None,
                                                     type_comment=None) for t in stmt.targets],
                                  value=value, type_comment=None)
            elif isinstance(stmt, gast.If):
                test = self.kept(stmt.test, local, bound)
                seen = [set(bound), set(bound)]
                blocks = [self.kept_block(side, local, s) for side, s in zip((stmt.body, stmt.orelse), seen)]
                bound |= seen[0] & seen[1]
                new = gast.If(test=test, body=blocks[0] or [gast.Pass()], orelse=blocks[1])
            elif isinstance(stmt, gast.Pass):
                continue
            else:
                raise self.error(
                    "srcgrad keeps the code of a path that raises as it is, and it may only hold "
                    "calls (print, logging), assignments to names, `if`, `assert` and the `raise`",
                    stmt, construct=f"{type(stmt).__name__.lower()} before a `raise`",
                    hint="build the message inside the `raise` (an f-string is fine there)")
            out.append(gast.copy_location(new, stmt))
        return out

    def kept(self, node, local, bound):
        """Expression or simple statement `node` kept whole, reading the current versions
        (`local`, `bound`: see kept_block); a call of a function defined inside this one is
        refused (the generated code does not have it)."""
        for n in gast.walk(node):
            if isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and \
                    n.func.id in self.scope.local_functions and n.func.id not in self.scope.current:
                raise self.error("srcgrad cannot call a function defined inside the differentiated "
                                 "function on a path that raises", n, construct="call before a `raise`",
                                 hint=f"define {n.func.id} at module level")
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in local and \
                    n.id not in bound:
                raise self.error(f"srcgrad cannot read `{n.id}` here: it is assigned on some paths "
                                 "before the `raise` only", n, construct="name before a `raise`",
                                 hint=f"assign {n.id} on every path before reading it")
        if not local:
            return expressions.rename_loads(self, copy_tree(node))
        before = {k: self.scope.current.get(k) for k in local}
        try:
            for name in bound:
                self.scope.current[name] = local[name]
            return expressions.rename_loads(self, copy_tree(node))
        finally:
            for k, v in before.items():
                if v is None:
                    self.scope.current.pop(k, None)
                else:
                    self.scope.current[k] = v

    def with_block(self, stmt):
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
            if not (isinstance(context, gast.Call) and self.is_global_chain(context.func) and
                    any(self.lookup_quietly(context.func) is kept for kept in KEPT_CONTEXTS)):
                from .emit import to_source
                raise self.error(f"srcgrad cannot differentiate a function containing a `with` "
                                 f"statement over {to_source(context).strip()}", stmt,
                                 construct="`with` statement", hint=UNSUPPORTED_STATEMENTS[gast.With][1])
            if item.optional_vars is not None:
                raise self.error("srcgrad keeps `with np.errstate(...):` blocks, but not a name "
                                 "bound by `as`", stmt, construct="`with ... as`",
                                 hint="drop the `as ...` part")
        jump = jumps_out_of_with(stmt)
        if jump is not None:
            kind = type(jump).__name__.lower()
            raise self.error(f"srcgrad cannot differentiate a `{kind}` that leaves a `with` block early",
                             jump, construct=f"`{kind}` inside `with`",
                             hint="end the `with` block first (a `return` as its last statement is fine)")
        for item in stmt.items:
            self.body.append(EnterContext(self.kept(item.context_expr, {}, set()), stmt.lineno))
        self.statements(stmt.body)
        for item in stmt.items:
            self.body.append(ExitContext(stmt.lineno))

    def augmented_assign(self, stmt):
        if isinstance(stmt.target, gast.Subscript):
            # x[i] += v reads x[i], adds, and writes it back
            read = gast.Subscript(value=stmt.target.value, slice=stmt.target.slice, ctx=gast.Load())
            self.assign(gast.Subscript(value=stmt.target.value, slice=stmt.target.slice,
                                       ctx=gast.Store()),
                        gast.BinOp(left=read, op=stmt.op, right=stmt.value))
            return
        if not isinstance(stmt.target, gast.Name):
            self.assign(stmt.target, None)   # raises the element-assignment error
        old = self.scope.current.get(stmt.target.id, stmt.target.id)
        operand = self.atom(stmt.value)
        value = gast.BinOp(left=self.load(stmt.target.id), op=stmt.op, right=operand)
        self.body.append(Assign([self.define(stmt.target.id)], value, self.line))
        self.updates.append((stmt, old, self.body[-1]))

    def is_library_function(self, func):
        """Whether global chain `func` names a Python function of the standard library
        (`logging.info`, `warnings.simplefilter`): code to call, not to inline."""
        obj = self.lookup_quietly(func)
        plain = obj.__func__ if isinstance(obj, types.MethodType) else obj   # `LOG.info`
        module = (getattr(plain, "__module__", None) or "").split(".")[0]
        return isinstance(plain, types.FunctionType) and module in STANDARD_LIBRARY

    def only_library_code(self, node):
        """Whether expression `node` calls Python functions of the standard library and none
        of the user's (so it can be kept as it is)."""
        found = False
        for n in gast.walk(node):
            if not isinstance(n, gast.Call):
                continue
            func = n.func
            if self.is_global_chain(func) and self.is_library_function(func):
                found = True
            elif (isinstance(func, gast.Name) and func.id in self.scope.local_functions and
                  func.id not in self.scope.current) or (
                    self.is_global_chain(func) and inline.user_function(self, func) is not None):
                return False
        return found

    def expression_statement(self, stmt):
        """A statement that is an expression: a helper or list method called for what it
        does; a NumPy call that might change an array in place is refused."""
        if isinstance(stmt.value, gast.Constant):
            return   # docstring or a bare constant
        if isinstance(stmt.value, (gast.Yield, gast.YieldFrom, gast.Await)):
            raise unsupported(self.scope.parsed, stmt.value, UNSUPPORTED_EXPRESSIONS)
        call = stmt.value
        if containers.static_append(self, call) or containers.list_operation(self, [], call):
            return
        if isinstance(call, gast.Call) and self.only_library_code(call):
            # `logging.getLogger(__name__).debug(...)`: the standard library's code, called
            self.body.append(Effect(expressions.rename_loads(self, stmt), self.line))
            return
        if isinstance(call, gast.Call) and self.is_global_chain(call.func) and \
                self.is_library_function(call.func):
            # `logging.info("loss %s", y)`, `warnings.simplefilter("ignore")`: called for what
            # it does, never inlined (its arguments are, as values)
            if any(isinstance(a, gast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
                raise self.error("srcgrad cannot keep a call with `*args` or `**kwargs`", stmt,
                                 construct="call", hint="pass arguments one by one")
            kept = gast.Call(func=self.scope.global_ref(call.func), args=[self.atom(a) for a in call.args],
                             keywords=[gast.keyword(arg=k.arg, value=self.atom(k.value))
                                       for k in call.keywords])
            self.body.append(Effect(gast.copy_location(gast.Expr(value=kept), stmt), self.line))
            return
        if isinstance(call, gast.Call) and expressions.calls_user_code(self, gast.Expr(value=call)) \
                and not any(isinstance(a, gast.Starred) for a in call.args):
            # a helper called for what it does: inlined; a call left over (a method of what
            # it returned, `make_logger().info(y)`) would be dropped as unused: refused
            value = expressions.operation(self, call)
            if isinstance(value, gast.Call) and self.is_global_chain(value.func) and (
                    self.lookup_quietly(value.func) is print or
                    self.is_library_function(value.func)):
                # `print(helper(x))`, `logging.info("%s", helper(x))`: called, for what it does
                self.body.append(Effect(gast.copy_location(gast.Expr(value=value), stmt),
                                        self.line))
            elif isinstance(value, gast.Call):
                raise self.error(
                    "srcgrad cannot keep a call made only for what it does on a value that "
                    "one of your functions returned", stmt, construct="expression statement",
                    hint="call it outside the differentiated function, or use a module-level "
                         "logger (`LOG = logging.getLogger(__name__)`, then `LOG.info(...)`)")
            return
        if not isinstance(call, gast.Call) or not self.is_global_chain(call.func) or \
                any(k.arg == "out" for k in call.keywords):
            raise self.error(
                "srcgrad cannot differentiate a statement that may change an array in place",
                stmt, construct="expression statement",
                hint="compute a new value and assign it (`x = np.clip(x, 0, 1)` rather than "
                     "`np.clip(x, 0, 1, out=x)` or `x.fill(0)`)")
        self.body.append(Effect(expressions.rename_loads(self, stmt), self.line))

    def assign(self, target, value_node):
        """Assign the value of expression `value_node` to target `target` (a gast node)."""
        if list_method(value_node) == "pop":
            targets = target.elts if isinstance(target, (gast.Tuple, gast.List)) else [target]
            if containers.list_operation(self, targets, value_node):
                return
        if isinstance(target, gast.Name):
            if isinstance(value_node, gast.Dict):
                value = containers.dict_literal(self, value_node)
            elif isinstance(value_node, (gast.Name, gast.Constant, gast.IfExp, gast.BoolOp)) or (
                    isinstance(value_node, gast.Attribute) and self.is_global_chain(value_node)):
                value = self.atom(value_node)
            else:
                value = expressions.operation(self, value_node)
            ssa = self.define(target.id)
            containers.remember_container(self, ssa, value)
            self.body.append(Assign([ssa], value, self.line))
        elif isinstance(target, (gast.Tuple, gast.List)) and all(
                isinstance(t, gast.Name) for t in target.elts):
            self.unpack(target.elts, value_node)
        elif isinstance(target, (gast.Tuple, gast.List)):      # nested: `i, (a, b) = ...`
            whole = self.atom(value_node)
            for k, t in enumerate(target.elts):
                self.assign(t, gast.Subscript(value=whole, slice=gast.Constant(value=k, kind=None),
                                              ctx=gast.Load()))
        elif isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name) and \
                target.value.id in self.scope.current and \
                self.scope.current[target.value.id] not in self.containers:
            desugar.write(self, target, self.atom(value_node), target)
        elif isinstance(target, (gast.Subscript, gast.Attribute)):
            raise self.error("srcgrad cannot differentiate a subscript assignment (`x[i] = v`) or "
                             "attribute assignment in this version",
                             target, construct="subscript assignment" if isinstance(target, gast.Subscript)
                             else "attribute assignment",
                             hint="build the new array with an expression (np.where, np.concatenate) instead")
        else:
            raise self.error("srcgrad cannot differentiate this assignment target", target,
                             construct=type(target).__name__)

    def unpack(self, targets, value_node):
        """`a, b = value_node` with names `targets`."""
        if isinstance(value_node, (gast.Tuple, gast.List)) and len(value_node.elts) == len(targets):
            atoms = [self.atom(v) for v in value_node.elts]     # all right-hand sides first
            for t, a in zip(targets, atoms):
                self.body.append(Assign([self.define(t.id)], a, self.line))
            return
        value = self.atom(value_node) if isinstance(value_node, gast.Name) else \
            expressions.operation(self, value_node)
        if isinstance(value, gast.Name) and value.id in self.containers and \
                sorted(self.containers[value.id]) == list(range(len(targets))):
            elements = self.containers[value.id]          # a, b = t (known layout)
            for k, t in enumerate(targets):
                self.body.append(Assign([self.define(t.id)], elements[k], self.line))
            return
        if isinstance(value, (gast.Tuple, gast.List)) and len(value.elts) == len(targets):
            for t, a in zip(targets, value.elts):
                self.body.append(Assign([self.define(t.id)], a, self.line))
            return
        if not isinstance(value, gast.Name) and self.gives_one_value(value):
            name = self.namer.fresh(describe(value, self.is_global_chain))  # `a, b = z[t]`: z[t] first
            self.body.append(Assign([name], value, self.line, temporary=True))
            value = self.load(name)
        self.body.append(Assign([self.define(t.id) for t in targets], value, self.line))

    def gives_one_value(self, value):
        """Whether an operation gives one array (not a tuple of them): `a, b = <it>` then
        unpacks that array along its first axis."""
        if not isinstance(value, gast.Call):
            return True
        if isinstance(value.func, gast.Attribute) and not self.is_global_chain(value.func):
            return True                                   # a method: `theta.reshape(2, 3)`
        try:
            rule = rules.RULES.get(self.lookup_quietly(value.func))
        except TypeError:                                 # unhashable: no rule
            return False
        return rule is not None and rule.output is None

    def assign_name(self, name, value_node):
        self.assign(gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None),
                    value_node)

    def ret(self, stmt):
        """`return value` (always at the end of a path, see control.py)."""
        scope = self.scope
        if self.forward and not self.inlining and isinstance(stmt.value, (gast.Tuple, gast.List)):
            self.assign_name(scope.result_var, stmt.value)    # forward mode: several results
            self.result_line = stmt.lineno
            return
        if stmt.value is None or (isinstance(stmt.value, (gast.Tuple, gast.List, gast.Dict)) and
                                  not (self.inlining and not isinstance(stmt.value, gast.Dict))):
            what = "nothing" if stmt.value is None else "a " + type(stmt.value).__name__.lower()
            raise scope.parsed.error(
                NonScalarResultError, f"the function returns {what}; srcgrad differentiates a "
                "function that returns one scalar", node=stmt,
                hint="return the scalar loss, e.g. `return np.sum(...)`")
        if self.inlining and isinstance(stmt.value, (gast.Tuple, gast.List)):
            if scope.result_arity not in (None, len(stmt.value.elts)):
                raise self.error("srcgrad needs a helper to return tuples of one length", stmt,
                                 construct="return")
            scope.result_arity = len(stmt.value.elts)
            atoms = [self.atom(e) for e in stmt.value.elts]
            for k, a in enumerate(atoms):
                self.assign_name(f"{scope.result_var}[{k}]", a)
            return
        self.assign_name(scope.result_var, stmt.value)
        if not self.inlining:
            self.result_line = stmt.lineno

    # --- SSA at branches and loops ---------------------------------------------------------
    def branch(self, test, emit_then, emit_else, line):
        """Emit a Branch whose two sides `emit_then()` and `emit_else()` write, then merge
        the names either side assigned."""
        scope = self.scope
        before, outer = dict(scope.current), self.body
        sides = []
        for emit in (emit_then, emit_else):
            scope.current, self.body = dict(before), []
            emit()
            sides.append((self.body, scope.current))
        (then_body, then_env), (else_body, else_env) = sides
        self.body, scope.current = outer, dict(before)
        if then_body and isinstance(then_body[-1], Jump):
            then_env = else_env        # that path left the iteration: nothing to merge
        elif else_body and isinstance(else_body[-1], Jump):
            else_env = then_env
        for name in sorted(set(then_env) | set(else_env)):
            t, e = then_env.get(name), else_env.get(name)
            if t == e or t is None or e is None:
                # unchanged, or bound on one path only (using it after the other path is a
                # NameError in Python too)
                scope.current[name] = t or e
                continue
            merged = self.namer.fresh(scope.result_base if name == scope.result_var else name)
            self.user_of[merged] = name
            then_body.append(Assign([merged], self.load_ssa(t), line))
            else_body.append(Assign([merged], self.load_ssa(e), line))
            scope.current[name] = merged
        self.body.append(Branch(test, then_body, else_body, line))

    def while_loop(self, stmt):
        if stmt.orelse:
            raise self.error("srcgrad cannot differentiate `while ... else`", stmt,
                             construct="`while`-`else`", hint="move the `else` part after the loop")
        body = [gast.If(test=stmt.test, body=stmt.body,
                        orelse=[gast.copy_location(gast.Break(), stmt)])]
        gast.copy_location(body[0], stmt)
        self.loop("while", None, None, body, stmt.lineno)

    def loop(self, kind, target, iterable, stmts, line):
        """A Loop over `stmts` whose variable is user name `target` (if any); the names the
        body assigns are carried: a version before the loop that each iteration ends in."""
        # An explicit `continue` ends the body, so every path through it ends in a jump and
        # gets its own iteration end (after `restructure_jumps`, nothing follows a jump).
        end = gast.Continue()
        end.lineno, end.col_offset = (stmts[-1].lineno if stmts else line), 0
        stmts = restructure_jumps(stmts + [end])
        scope = self.scope
        self.runtime_lists.update(n.func.value.id for s in stmts for n in gast.walk(s)
                                  if list_method(n) == "append" and n.func.value.id in scope.current)
        versions = {}
        for name in sorted(assigned_names(stmts) | ({target} if target else set())):
            if name == target:
                continue
            versions[name] = self.namer.fresh(scope.result_base if name == scope.result_var else name)
            self.user_of[versions[name]] = name
            before = self.load_ssa(scope.current[name]) if name in scope.current else \
                gast.Constant(value=None, kind=None)
            self.body.append(Assign([versions[name]], before, line, carry="in"))
            scope.current[name] = versions[name]
        node = Loop(kind, None, iterable, [], line, self.namer.fresh("n_iterations"),
                    list(versions.values()))
        outer, self.body = self.body, []
        if target:
            node.target = self.define(target)
            if self.is_builtin_call(iterable, "range"):
                self.range_targets.add(node.target)
        self.loops.append((node, versions))
        self.statements(stmts)
        self.loops.pop()
        node.body, self.body = self.body, outer
        self.body.append(node)
        for name, version in versions.items():
            self.scope.current[name] = version

    def end_iteration(self):
        """Save what this iteration's adjoint needs, then copy the carried names back."""
        node, versions = self.loops[-1]
        self.body.append(IterationEnd(node, self.line))
        for name, version in versions.items():
            if self.scope.current.get(name) not in (None, version):
                self.body.append(Assign([version], self.load_ssa(self.scope.current[name]),
                                        self.line, carry="out"))

    # --- the driver --------------------------------------------------------------------
    def run(self):
        parsed = self.root
        func = parsed.node
        tapes = desugar.read_stacks_as_values(self, func) if self.forward else set()
        args = func.args
        self.params = [a.id for a in args.posonlyargs + args.args + args.kwonlyargs]
        extra = [a.id for a in (args.vararg, args.kwarg) if a is not None]   # never differentiated
        self.user_names = set(self.params) | set(extra)
        for p in self.params + extra:
            self.scope.current[p] = p
        self.scope.result_base = parsed.name if parsed.name not in self.namer.taken else "result"
        reject_unsupported(parsed, func.body)
        body = restructure_returns(func.body, self.namer)
        if always_raises(body):
            last = next(n for n in gast.walk(gast.Module(body=body, type_ignores=[]))
                        if isinstance(n, gast.Raise))
            raise self.error(f"{func.name} raises on every path; srcgrad differentiates a function "
                             "that returns one scalar", last, construct="`raise` statement",
                             hint="keep the `raise` under a condition (`if <bad>: raise ...`)")
        if not always_returns(body):
            raise parsed.error(
                NonScalarResultError, f"{func.name} does not end with a `return` on every path; "
                "srcgrad differentiates a function that returns one scalar", node=func,
                hint="end every path of the function with `return <scalar loss>`")
        self.statements(body)
        self.body.append(Return(self.scope.current[RESULT], self.result_line))
        check_in_place_updates(parsed, self.body, self.updates, self.user_of)
        # (a tape's versions are tapes too: it is carried through loops like any value)
        tapes |= {ssa for ssa, user in self.user_of.items() if user in tapes}
        return NormalFunction(parsed, self.params, self.body, self.namer, result_line=self.line,
                              user_names=self.user_names, injections=self.injections, tapes=tapes)


def normalize(parsed, mode="reverse"):
    """The NormalFunction of a ParsedFunction, for reverse mode or (`mode="forward"`) for
    forward mode (see `Normalizer`)."""
    if mode not in ("reverse", "forward"):
        raise ValueError(f"mode is 'reverse' or 'forward', not {mode!r}")
    return Normalizer(parsed, forward=mode == "forward").run()
