"""Step 2: rewrite the function body as one operation per statement, in SSA form.

`r = X @ w - y` becomes `X_at_w = X @ w; r = X_at_w - y`: every operand is a name or
a constant, so each statement is one application of one derivative rule.  A name the
user assigns twice gets a new version (`x`, then `x_2`), so the backward pass can
read every intermediate value the forward pass made.

`normalize(parsed, mode)` is a driver over passes, in this order:

0. (forward mode) desugar.py reads a generated gradient's tape as values;
1. validate.py     refuse unsupported statements and expressions, at their line;
2. control.py      make every `return`/`break`/`continue`/`raise` end its path (a `return`
                   in a loop becomes a `break`; `if bad: raise` becomes a check);
3. the `Normalizer` below reads the statements once into SSA form, its expressions made
   one operation on names each by expressions.py (named by naming.py); first, a parameter
   container's leaves become inputs and the parameter a known container (parameters.py);
   on the way it
   - inlines calls of the user's functions (inline.py, each in its own scope.py Scope),
   - desugars comprehensions, `sum`/`max`/`min`, loops over sequences and `x[i] = v`
     (desugar.py),
   - evaluates reads of containers known when reading (containers.py; namedtuples and
     dataclasses: records.py),
   - keeps what runs for its effect: checks that raise, `with np.errstate(...)` blocks,
     print and logging calls (effects.py);
4. aliasing.py     refuse an in-place update of an array another name still reads;
5. cse.py          compute a value written twice (`np.exp(y) / np.sum(np.exp(y))`) once.

The result is an ir.NormalFunction.
"""
import builtins

import gast
import numpy as np

from . import containers, desugar, effects, expressions, inline, parameters, rules, writes
from .aliasing import check_in_place_updates
from .cse import merge_common
from .control import (always_raises, always_returns, is_raise_check, restructure_jumps,
                      restructure_returns)
from .errors import NonScalarResultError, UnsupportedSyntaxError
from .ir import Assign, Branch, Effect, IterationEnd, Jump, Loop, Namer, NormalFunction, Return, walk
from .naming import describe
from .scope import RESULT, Scope, assigned_names, list_method
from .validate import UNSUPPORTED_STATEMENTS, reject_unsupported, unsupported



class Normalizer:
    """Reads a function's statements once, emitting the normalized body into `self.body`.
    `forward=True` is for forward mode: the function may return a tuple, functions with
    custom rules are called (not inlined), and a generated gradient's tape is read as values."""

    def __init__(self, parsed, forward=False, layouts=None, sum_result=False):
        self.root, self.forward = parsed, forward
        self.layouts = layouts or {}    # container parameter -> its layout (parameters.py)
        self.sum_result = sum_result    # differentiate np.sum of the result (one of size 1)
        self.arguments = {}     # SSA name of a container read from a parameter -> the read
                                # (`p`, `p['layer1']`) that code kept whole evaluates instead
        func = parsed.node
        taken = {n.id for n in walk(func) if isinstance(n, gast.Name)}
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
        self.dicts = set()          # SSA names of those containers that are dicts
        self.constants = {}         # SSA name -> the str/int constant it was bound to
        self.container_depth = {}   # SSA name -> how many loops enclose its definition
        self.runtime_lists = set()  # user names of lists appended to in loops
        self.snapshots = {}         # SSA name of such a list -> the copy reads see
        self.list_lengths = {}      # `v = xs[i]`, `xs_2 = list_set(xs, i, v)`: v, xs_2 -> len(xs)
        self.list_writes = []       # (write, list before, after, its Assign): for aliasing.py
        self.list_starts = set()    # known lists (`hs = [h0]`) a loop then appends to
        self.lists = set()          # SSA names of known containers that are lists
        # dicts filled when the code runs (writes.py)
        self.runtime_dicts = set()  # their SSA names
        self.dict_writes = []       # (write, SSA name before, after, its Assign): for aliasing.py

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
            effects.expression_statement(self, stmt)
        elif isinstance(stmt, gast.Assert):
            self.body.append(Effect(expressions.rename_loads(self, stmt), self.line))
        elif isinstance(stmt, gast.Return):
            self.ret(stmt)
        elif is_raise_check(stmt):
            effects.raise_check(self, stmt)
        elif isinstance(stmt, gast.With):
            effects.with_block(self, stmt)
        elif isinstance(stmt, gast.Raise):
            raise self.error("srcgrad keeps a `raise` only as a check under an `if`, on a path "
                             "the function leaves (here it would run whenever this code runs)",
                             stmt, construct="`raise` statement",
                             hint=UNSUPPORTED_STATEMENTS[gast.Raise][1])
        elif isinstance(stmt, gast.If) and containers.static_value(self, stmt.test) is not \
                containers.UNKNOWN:
            # `if l == L:`, `if k.startswith("W"):` on values known when reading (an
            # unrolled loop's counter, a key): only the side that runs
            taken = containers.static_value(self, stmt.test)
            self.statements(stmt.body if taken else stmt.orelse)
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
            self.bind(target.id, value)
        elif isinstance(target, (gast.Tuple, gast.List)) and all(
                isinstance(t, gast.Name) for t in target.elts):
            self.unpack(target.elts, value_node)
        elif isinstance(target, (gast.Tuple, gast.List)):      # nested: `i, (a, b) = ...`
            whole = self.atom(value_node)
            for k, t in enumerate(target.elts):
                self.assign(t, gast.Subscript(value=whole, slice=gast.Constant(value=k, kind=None),
                                              ctx=gast.Load()))
        elif isinstance(target, gast.Subscript):
            writes.subscript(self, target, self.atom(value_node))
        elif isinstance(target, gast.Attribute):
            raise self.error("srcgrad cannot differentiate an attribute assignment in this version",
                             target, construct="attribute assignment",
                             hint="keep the value in a variable, or build a new record "
                                  "(`p = P(W=..., b=p.b)`)")
        else:
            raise self.error("srcgrad cannot differentiate this assignment target", target,
                             construct=type(target).__name__)

    def bind(self, name, value):
        """`name = value`, an operation or an atom (a known container, or a dict, keeps
        what it is known to be under its new name)."""
        count, value_call = expressions.several_outputs(self, value), value
        if count is not None:     # `r = np.linalg.eigh(a)`: r is the tuple of the outputs' names
            names = [self.namer.fresh(f"{name}_{k}") for k in range(count)]
            self.body.append(Assign(names, value, self.line))
            value = gast.Tuple(elts=[self.load_ssa(n) for n in names], ctx=gast.Load())
            ssa = self.define(name)
            containers.remember_container(self, ssa, value)
            expressions.output_fields(self, ssa, self.lookup_quietly(value_call.func))
            self.body.append(Assign([ssa], value, self.line))
            return
        ssa = self.define(name)
        containers.remember_container(self, ssa, value)
        if isinstance(value, gast.Name) and value.id in self.runtime_dicts:
            self.runtime_dicts.add(ssa)             # another name for the same dict
        self.body.append(Assign([ssa], value, self.line))

    def unpack(self, targets, value_node):
        """`a, b = value_node` with names `targets`."""
        if isinstance(value_node, (gast.Tuple, gast.List)) and len(value_node.elts) == len(targets):
            # all right-hand sides first (a dict literal keeps the name it is bound to)
            atoms = [containers.dict_literal(self, v) if isinstance(v, gast.Dict) else self.atom(v)
                     for v in value_node.elts]
            for t, a in zip(targets, atoms):
                self.bind(t.id, a)
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
        count = expressions.several_outputs(self, value, unpacked=len(targets))
        if count is not None and count != len(targets):
            raise self.error(f"the call gives {count} values, unpacked into {len(targets)} names",
                             value_node, construct="unpacking")
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
            if {t, e} <= self.dicts | self.runtime_dicts:
                self.runtime_dicts.add(merged)     # a dict either way: read when it runs
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
        appended = {n.func.value.id for s in stmts for n in gast.walk(s)
                    if list_method(n) == "append" and n.func.value.id in scope.current}
        filled = writes.written_items(stmts)
        grown = appended | {n for n in filled if scope.current.get(n) in self.lists}
        for n in filled:                        # written in the loop: read when it runs
            if scope.current.get(n) in self.containers and scope.current[n] in self.lists | self.dicts:
                writes.forget_known(self, scope.current[n])
        self.runtime_lists.update(grown)        # (a list literal written in the loop, too)
        self.list_starts.update(scope.current[n] for n in grown if scope.current[n] in self.lists)
        versions = {}
        for name in sorted(assigned_names(stmts) | ({target} if target else set())):
            if name == target:
                continue
            versions[name] = self.namer.fresh(scope.result_base if name == scope.result_var else name)
            self.user_of[versions[name]] = name
            if name in filled and scope.current.get(name) in self.dicts | self.runtime_dicts:
                self.runtime_dicts.add(versions[name])   # each iteration may write other keys
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
        leaves, literals = parameters.read_leaves(self, self.layouts) if self.layouts else ({}, [])
        self.statements(body)
        parameters.place_literals(self.body, literals)
        if self.sum_result:     # the scalar a result of size 1 holds (api.py)
            self.line = self.result_line
            total = gast.Call(func=gast.Attribute(value=self.numpy_ref(), attr="sum", ctx=gast.Load()),
                              args=[self.load(RESULT)], keywords=[])
            self.assign_name(RESULT, total)
        self.body.append(Return(self.scope.current[RESULT], self.result_line))
        check_in_place_updates(parsed, self.body, self.updates, self.user_of, self.dict_writes,
                               self.list_writes)
        merge_common(self.body, self.lookup_quietly)
        # (a tape's versions are tapes too: it is carried through loops like any value)
        tapes |= {ssa for ssa, user in self.user_of.items() if user in tapes}
        return NormalFunction(parsed, self.params, self.body, self.namer, result_line=self.line,
                              user_names=self.user_names, injections=self.injections, tapes=tapes,
                              dicts=frozenset(self.dicts | self.runtime_dicts), leaves=leaves,
                              list_lengths=self.list_lengths, list_starts=frozenset(self.list_starts))


def normalize(parsed, mode="reverse", layouts=None, sum_result=False):
    """The NormalFunction of a ParsedFunction, for reverse mode or (`mode="forward"`) for
    forward mode (see `Normalizer`); `layouts`: {container parameter: its layout}, whose
    leaves it reads first (parameters.py); `sum_result`: of `np.sum` of the result."""
    if mode not in ("reverse", "forward"):
        raise ValueError(f"mode is 'reverse' or 'forward', not {mode!r}")
    rules.load_scipy()        # (the function may call scipy.special, imported after srcgrad)
    return Normalizer(parsed, forward=mode == "forward", layouts=layouts, sum_result=sum_result).run()
