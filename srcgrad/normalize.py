"""Step 2: rewrite the function body as one operation per statement, in SSA form.

`r = X @ w - y` becomes `X_at_w = X @ w; r = X_at_w - y`: every operand is a name or
a constant, so each statement is one application of one derivative rule.  A name the
user assigns twice gets a new version (`x`, then `x_2`), so the backward pass can
read every intermediate value the forward pass made.
"""
import builtins
import sys
import types

import gast
import numpy as np

from . import rules
from .fold import copy_tree, make_const
from .custom import vjp_rule
from .source import parse_function
from .errors import NonScalarResultError, SrcgradError, UnsupportedSyntaxError
from .ir import (Assign, Branch, Effect, IterationEnd, Jump, Loop, Namer, NormalFunction,
                 Return, flatten)


_NUMBER_WORDS = {0: "zero", 1: "one", 2: "two", 3: "three", 4: "four", 5: "five",
                 10: "ten", 0.5: "half"}
_OP_WORDS = {gast.Add: "plus", gast.Sub: "minus", gast.Mult: "times", gast.Div: "over",
             gast.MatMult: "at", gast.Pow: "pow", gast.FloorDiv: "floordiv", gast.Mod: "mod"}

# Statements and expressions this version refuses, with what to tell the user.
_LOOPS_HINT = ("a `return` inside a loop is not supported by this version of srcgrad: `break` "
               "out of the loop and return after it")
_UNSUPPORTED_STMT = {
    gast.AsyncFor: ("`async for` loop", None),
    gast.With: ("`with` statement", "move the `with` block outside the differentiated function"),
    gast.AsyncWith: ("`async with` statement", None),
    gast.Try: ("`try` statement", "move error handling outside the differentiated function"),
    gast.FunctionDef: ("decorated nested function", "define the helper without decorators"),
    gast.AsyncFunctionDef: ("`async def`", "async functions cannot be differentiated"),
    gast.ClassDef: ("class definition", "define classes at module level"),
    gast.Global: ("`global` declaration", "pass the value in as an argument"),
    gast.Nonlocal: ("`nonlocal` declaration", "pass the value in as an argument"),
    gast.Delete: ("`del` statement", "remove the `del`; srcgrad keeps the values it needs"),
    gast.Import: ("`import` inside the function", "import at module level"),
    gast.ImportFrom: ("`import` inside the function", "import at module level"),
    gast.Raise: ("`raise` statement", "validate inputs before calling the gradient"),
}
_UNSUPPORTED_EXPR = {
    gast.Lambda: ("lambda", "bind the lambda to a name first (`act = lambda z: ...`), or use `def`"),
    gast.SetComp: ("set comprehension", "use a list comprehension"),
    gast.DictComp: ("dict comprehension", "use a list comprehension, or a dict literal with constant keys"),
    gast.Set: ("set literal", None),
    gast.Yield: ("`yield`", "return one scalar instead of generating values"),
    gast.YieldFrom: ("`yield from`", "return one scalar instead of generating values"),
    gast.Await: ("`await`", "async code cannot be differentiated"),
    gast.NamedExpr: ("assignment expression `:=`", "assign with a separate statement"),
    gast.JoinedStr: ("f-string", None), gast.Starred: ("starred expression `*x`", None),
}


_AUG_SYMBOLS = {gast.Add: "+=", gast.Sub: "-=", gast.Mult: "*=", gast.Div: "/=",
                gast.Pow: "**=", gast.MatMult: "@=", gast.FloorDiv: "//=", gast.Mod: "%="}
# Functions and methods whose result may be a view of their first argument.
_VIEWS = {"reshape", "ravel", "transpose", "swapaxes", "moveaxis", "expand_dims", "squeeze",
          "asarray", "asanyarray", "broadcast_to", "diagonal", "flip", "fliplr", "flipud",
          "atleast_1d", "atleast_2d", "atleast_3d", "view", "real", "imag", "T", "mT"}


def _shared_source(value):
    """The name whose memory the value of `value` may share, if any."""
    if isinstance(value, gast.Name):
        return value.id
    if isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name):
        return value.value.id
    if isinstance(value, gast.Attribute) and value.attr in _VIEWS and isinstance(value.value, gast.Name):
        return value.value.id
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and value.func.attr in _VIEWS:
        receiver = value.func.value
        if isinstance(receiver, gast.Name) and receiver.id not in ("np", "numpy"):
            return receiver.id                       # x.reshape(...)
        if value.args and isinstance(value.args[0], gast.Name):
            return value.args[0].id                  # np.reshape(x, ...)
    return None


RESULT = "<result>"     # the pseudo-variable every `return` assigns
_NOTHING = object()


def _lookup_in(func, name):
    """What `name` means inside `func`: a closure cell, a global or a builtin."""
    code = func.__code__
    if name in code.co_freevars:
        return func.__closure__[code.co_freevars.index(name)].cell_contents
    if name in func.__globals__:
        return func.__globals__[name]
    if hasattr(builtins, name):
        return getattr(builtins, name)
    raise KeyError(name)


def _after(block, marker):
    """The statements that run after `marker` on its path (not in a sibling branch)."""
    for i, stmt in enumerate(block):
        if stmt is marker:
            return list(flatten(block[i + 1:]))
        inner = None
        if isinstance(stmt, Branch):
            inner = _after(stmt.body, marker)
            if inner is None:
                inner = _after(stmt.orelse, marker)
        elif isinstance(stmt, Loop):
            inner = _after(stmt.body, marker)
            if inner is not None:           # the next iteration runs the whole body again
                inner += list(flatten(stmt.body))
        if inner is not None:
            return inner + list(flatten(block[i + 1:]))
    return None


def _has_return(stmt):
    if isinstance(stmt, (gast.FunctionDef, gast.Lambda)):
        return False
    if isinstance(stmt, gast.Return):
        return True
    return any(_has_return(child) for child in gast.iter_child_nodes(stmt))


def _always_returns(stmts):
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, gast.Return):
        return True
    return isinstance(last, gast.If) and _always_returns(last.body) and _always_returns(last.orelse)


_SCOPES = (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp, gast.Lambda)


def _scoped_names(node):
    """Names bound inside comprehensions and lambdas within `node` (their own scopes)."""
    names = set()
    for sub in gast.walk(node):
        if isinstance(sub, gast.Lambda):
            names.update(a.id for a in sub.args.args + sub.args.kwonlyargs)
        elif isinstance(sub, _SCOPES):
            names.update(n.id for n in gast.walk(sub)
                         if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store))
    return names


def _assigned_names(stmts):
    """User names a block assigns (loop targets included; not a comprehension's own)."""
    names = set()
    for stmt in stmts:
        if isinstance(stmt, gast.FunctionDef):
            continue
        inner = _scoped_names(stmt)
        for node in gast.walk(stmt):
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store) and \
                    node.id not in inner:
                names.add(node.id)
            elif isinstance(node, gast.Subscript) and isinstance(node.ctx, gast.Store):
                base = node.value                # `out[i] = v` rebinds `out` (to a new array)
                while isinstance(base, gast.Subscript):
                    base = base.value
                if isinstance(base, gast.Name):
                    names.add(base.id)
            elif isinstance(node, gast.Return):
                names.add(RESULT)
            elif _list_method(node) is not None:  # `xs.append(v)`, `xs.pop()` make a new version
                names.add(node.func.value.id)
    return names


def _list_method(node):
    """`xs.append(v)` or `xs.pop()` on a name: the method's name, else None."""
    if isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
            isinstance(node.func.value, gast.Name) and not node.keywords and \
            (node.func.attr, len(node.args)) in (("append", 1), ("pop", 0)):
        return node.func.attr
    return None


def _jumps(stmt):
    """Whether a statement contains a `break`/`continue` of the enclosing loop."""
    if isinstance(stmt, (gast.Break, gast.Continue)):
        return True
    if isinstance(stmt, gast.If):
        return any(_jumps(s) for s in stmt.body + stmt.orelse)
    return False


def _always_jumps(stmts):
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, (gast.Break, gast.Continue)):
        return True
    return isinstance(last, gast.If) and _always_jumps(last.body) and _always_jumps(last.orelse)


def _move_rest_into_branches(stmts, ends, contains_end, always_ends, check=None):
    """Rewrite a block so that every statement that `ends` a path is the last of it: what
    follows an `if` that ends on some paths moves into the branches that do not (what
    follows an end, which never runs, is dropped)."""
    out = []
    for i, stmt in enumerate(stmts):
        if ends(stmt):
            out.append(stmt)
            return out
        if isinstance(stmt, gast.If) and contains_end(stmt):
            rest = stmts[i + 1:]
            for side in ("body", "orelse"):
                block = getattr(stmt, side)
                if not always_ends(block):
                    block = block + copy_tree(rest)
                setattr(stmt, side, _move_rest_into_branches(block, ends, contains_end,
                                                            always_ends, check))
            out.append(stmt)
            return out
        if check is not None:
            check(stmt)
        out.append(stmt)
    return out


def restructure_jumps(stmts):
    """Every `break`/`continue` of a loop body ends its path."""
    return _move_rest_into_branches(stmts, lambda s: isinstance(s, (gast.Break, gast.Continue)),
                                    _jumps, _always_jumps)


def restructure_returns(stmts, normalizer):
    """Every `return` ends its path; one inside a loop first becomes a `break` out of it."""
    return _move_rest_into_branches(lift_loop_returns(stmts, normalizer),
                                    lambda s: isinstance(s, gast.Return),
                                    lambda s: not isinstance(s, gast.FunctionDef) and _has_return(s),
                                    _always_returns)


def _breaks(stmts):
    """Whether a loop body has a `break` of its own (not of a loop inside it)."""
    for stmt in stmts:
        if isinstance(stmt, gast.Break):
            return True
        if isinstance(stmt, gast.If) and (_breaks(stmt.body) or _breaks(stmt.orelse)):
            return True
    return False


def _named(node_id, store=False):
    return gast.Name(id=node_id, ctx=gast.Store() if store else gast.Load(),
                     annotation=None, type_comment=None)


def lift_loop_returns(stmts, normalizer):
    """`return e` inside a loop becomes `result = e; returned = True; break` (and `if returned:
    break` after each loop it leaves), with `if returned: return result` after the loop."""
    out = []
    for stmt in stmts:
        if isinstance(stmt, (gast.For, gast.While)) and _has_return(stmt):
            flag = normalizer.namer.fresh("returned")
            result = normalizer.namer.fresh("early_result")

            def assign(name, value, like):
                return gast.copy_location(gast.Assign(targets=[_named(name, True)], value=value,
                                                      type_comment=None), like)

            def rewrite(block):
                new = []
                for s in block:
                    if isinstance(s, gast.Return):
                        new += [assign(result, s.value, s),
                                assign(flag, gast.Constant(value=True, kind=None), s),
                                gast.copy_location(gast.Break(), s)]
                    elif isinstance(s, gast.If):
                        s.body, s.orelse = rewrite(s.body), rewrite(s.orelse)
                        new.append(s)
                    elif isinstance(s, (gast.For, gast.While)) and _has_return(s):
                        s.body = rewrite(s.body)
                        new += [s, gast.copy_location(gast.If(
                            test=_named(flag), body=[gast.copy_location(gast.Break(), s)],
                            orelse=[]), s)]
                    else:
                        new.append(s)
                return new
            endless = isinstance(stmt, gast.While) and isinstance(stmt.test, gast.Constant) \
                and stmt.test.value is True and not _breaks(stmt.body)
            stmt.body = rewrite(stmt.body)
            leave = gast.copy_location(gast.Return(value=_named(result)), stmt)
            out += [assign(flag, gast.Constant(value=False, kind=None), stmt), stmt,
                    leave if endless else gast.copy_location(
                        gast.If(test=_named(flag), body=[leave], orelse=[]), stmt)]
        else:
            out.append(stmt)
    return out


class Normalizer:
    def __init__(self, parsed):
        self.parsed = self.root = parsed
        func = parsed.node
        taken = {n.id for n in gast.walk(func) if isinstance(n, gast.Name)}
        self.namer = Namer(taken | set(dir(builtins)))   # never shadow `sum`, `abs`, ...
        self.current = {}       # user variable -> its SSA name now
        self.body = []
        self.loops = []         # (Loop, carried versions) of the loops being normalized
        self.local_functions = {}   # name -> (FunctionDef or Lambda node, default atoms)
        self.inlining = []      # functions being inlined (to refuse recursion)
        self.renames = {}       # global name -> injected name, in the code being inlined
        self.injections = {}    # injected name -> object (bound when the code is compiled)
        self.module_refs = {}   # id(module) -> the injected name of an inlined helper's module
        self.containers = {}    # SSA name -> {key: element atom} of containers read statically
        self.helper_refs = {}   # runtime helper -> its injected name
        self.runtime_lists = set()  # user names of lists appended to in loops
        self.snapshots = {}         # SSA name of such a list -> the copy reads see
        self.container_depth = {}   # SSA name -> how many loops enclose its definition
        self.constants = {}     # SSA name -> the str/int constant it was bound to
        self.range_targets = set()  # SSA names of the variables of `for ... in range(...)`
        self.line_override = None   # inlined statements take the line of their call
        self.result_var = RESULT
        self.result_arity = None    # elements of the tuple an inlined helper returns
        self.inlined_call = False   # the last operation was an inlined call (already a name)
        self.user_of = {}       # SSA name -> the user variable it is a version of
        self.updates = []       # (augmented-assignment statement, old SSA name)
        self.line = func.lineno

    def error(self, message, node, construct=None, hint=None):
        return self.parsed.error(UnsupportedSyntaxError, message, node=node,
                                 construct=construct, hint=hint)

    def unsupported(self, node, table):
        construct, hint = table.get(type(node), (type(node).__name__, None))
        return self.error(f"srcgrad cannot differentiate a function containing a {construct}",
                          node, construct=construct, hint=hint)

    # --- names -----------------------------------------------------------------------
    def define(self, name):
        """The SSA name for a new value of user variable `name`."""
        if name == self.result_var or name.startswith(self.result_var + "["):
            ssa = self.namer.fresh(self.result_base)
        elif self.inlining:                 # never reuse a bare name: it may be the caller's
            ssa = self.namer.fresh(name)
        else:
            ssa = name if name not in self.current else self.namer.fresh(name)
        self.user_of[ssa] = name
        self.current[name] = ssa
        return ssa

    def load(self, name):
        if name in self.current:
            ssa = self.current[name]
        else:
            ssa = self.renames.get(name, name)
            if not isinstance(ssa, str):     # a global of an inlined helper's module
                return copy_tree(ssa)
        return gast.Name(id=ssa, ctx=gast.Load(), annotation=None, type_comment=None)

    def global_ref(self, node):
        """A global chain (`np.tanh`) as the code being inlined sees it."""
        if isinstance(node, gast.Attribute):
            return gast.Attribute(value=self.global_ref(node.value), attr=node.attr, ctx=gast.Load())
        return self.load(node.id)

    def lookup(self, node):
        """The object a global chain names, in the function whose code is being read."""
        if isinstance(node, gast.Attribute):
            return getattr(self.lookup(node.value), node.attr)
        name = self.renames.get(node.id, node.id)
        if not isinstance(name, str):
            if isinstance(name, gast.Name) and name.id == node.id:
                name = name.id                   # (a function passed under its own name)
            else:
                return self.lookup(name)
        if name in self.injections:
            return self.injections[name]
        func = self.parsed.func
        code = func.__code__
        if name in code.co_freevars:
            return func.__closure__[code.co_freevars.index(name)].cell_contents
        if name in func.__globals__:
            return func.__globals__[name]
        return getattr(builtins, name)

    def is_global_chain(self, node):
        """`np`, `np.linalg.norm`, `math.pi`: attributes of names the function does not assign."""
        while isinstance(node, gast.Attribute):
            node = node.value
        return isinstance(node, gast.Name) and node.id not in self.current

    # --- expressions -----------------------------------------------------------------
    def describe(self, node):
        """A readable name for the value of `node` (a one-operation expression)."""
        def word(n):
            if isinstance(n, gast.Name):
                return n.id
            if isinstance(n, gast.Constant) and isinstance(n.value, (int, float)) \
                    and n.value in _NUMBER_WORDS:
                return _NUMBER_WORDS[n.value]
            if isinstance(n, gast.Attribute):
                return n.attr
            return None
        name = None
        if isinstance(node, gast.BinOp):
            left, right = word(node.left), word(node.right)
            if isinstance(node.op, gast.Pow) and right in ("two", "three"):
                name = f"{left}_{'sq' if right == 'two' else 'cube'}" if left else None
            elif isinstance(node.op, (gast.Mult, gast.Add)) and isinstance(node.left, gast.Constant) \
                    and left and right:     # 3 * b reads best as b_times_three
                name = f"{right}_{_OP_WORDS[type(node.op)]}_{left}"
            elif left and right:
                name = f"{left}_{_OP_WORDS.get(type(node.op), 'op')}_{right}"
            name = name or _OP_WORDS.get(type(node.op), "value")
        elif isinstance(node, gast.UnaryOp):
            name = f"neg_{word(node.operand)}" if word(node.operand) else "neg"
        elif isinstance(node, gast.Call):
            fname = word(node.func) or "call"
            if isinstance(node.func, gast.Attribute) and not self.is_global_chain(node.func):
                recv = word(node.func.value)
                name = f"{recv}_{fname}" if recv else fname
            else:
                arg = word(node.args[0]) if node.args else None
                name = f"{fname}_{arg}" if arg else fname
            if len(name) > 18:
                name = fname
        elif isinstance(node, gast.Attribute):
            name = f"{word(node.value)}_{node.attr}"
        elif isinstance(node, gast.Subscript):
            name = f"{word(node.value) or 'item'}_item"
        elif isinstance(node, gast.Compare):
            name = "mask"
        if name and len(name) > 18:
            name = _OP_WORDS.get(type(getattr(node, "op", None))) or name.split("_")[0]
        return name or "t"

    def atom(self, node):
        """Normalize `node` to a name or constant, emitting statements for what it computes."""
        if isinstance(node, gast.Name):
            if node.id in self.runtime_lists and node.id in self.current:
                return self.list_snapshot(node.id)
            return self.load(node.id)
        if isinstance(node, gast.Constant):
            return node
        if isinstance(node, gast.UnaryOp) and isinstance(node.operand, gast.Constant) \
                and isinstance(node.op, (gast.USub, gast.UAdd)):
            return node
        if isinstance(node, gast.Attribute) and self.is_global_chain(node):
            return self.global_ref(node)
        if isinstance(node, (gast.Tuple, gast.List)):   # shapes, axes, lists of arrays
            return type(node)(elts=[self.atom(e) for e in node.elts], ctx=gast.Load())
        if isinstance(node, gast.Dict):
            return self.nested_dict(node)
        value = self.operation(node)
        self.inlined_call = False
        if isinstance(value, gast.Name):          # an existing value (an element, a call's result)
            return value
        if isinstance(value, (gast.Tuple, gast.List, gast.Dict)) and not isinstance(
                node, (gast.Tuple, gast.List)):
            name = self.namer.fresh("seq" if not isinstance(value, gast.Dict) else "dict")
            self.remember_container(name, value)  # an element that is itself a container
            self.body.append(Assign([name], value, self.line, temporary=True))
            return self.load_ssa(name)
        name = self.namer.fresh(self.describe(value))
        self.body.append(Assign([name], value, self.line, temporary=True))
        return self.load(name)

    def operation(self, node):
        """One operation of `node` applied to atoms."""
        if isinstance(node, gast.BinOp):
            return gast.BinOp(left=self.atom(node.left), op=node.op, right=self.atom(node.right))
        if isinstance(node, gast.UnaryOp):
            return gast.UnaryOp(op=node.op, operand=self.atom(node.operand))
        if isinstance(node, gast.Call):
            func = node.func
            if isinstance(func, gast.Name) and func.id in self.local_functions and \
                    func.id not in self.current:
                result = self.inline_local(func.id, node)
                self.inlined_call = True
                return result
            if self.is_builtin_call(node, "len") and len(node.args) == 1:
                arg = self.atom(node.args[0])
                if isinstance(arg, gast.Name) and arg.id in self.containers:
                    return make_const(len(self.containers[arg.id]))
                node = gast.Call(func=func, args=[arg], keywords=[])
            for reduce in ("sum", "max", "min"):
                if self.is_builtin_call(node, reduce) and not node.keywords and \
                        0 < len(node.args) <= (2 if reduce == "sum" else 1):
                    return self.builtin_reduction(reduce, node.args)
            if self.is_global_chain(func):
                target = self.user_function(func)
                if target is not None and (target in self.inlining or target is self.root.func):
                    target = None       # recursion: the call stays, with a vjp function of its own
                if target is not None:
                    result = self.inline_global(target, node)
                    self.inlined_call = True
                    return result
                func = self.global_ref(func)
            elif isinstance(func, gast.Attribute):
                func = gast.Attribute(value=self.atom(func.value), attr=func.attr, ctx=gast.Load())
            else:
                raise self.error("srcgrad cannot differentiate a call to a computed function",
                                 node, construct="call", hint="call a function by its name")
            for a in node.args:
                if isinstance(a, gast.Starred):
                    raise self.error("srcgrad cannot differentiate a call with `*args`", node,
                                     construct="starred argument", hint="pass arguments one by one")
            if any(k.arg is None for k in node.keywords):
                raise self.error("srcgrad cannot differentiate a call with `**kwargs`", node,
                                 construct="`**` argument", hint="pass keyword arguments one by one")
            args = [self.atom(a) for a in node.args]
            keywords = [gast.keyword(arg=k.arg, value=self.atom(k.value)) for k in node.keywords]
            return gast.Call(func=func, args=args, keywords=keywords)
        if isinstance(node, gast.Attribute):
            return gast.Attribute(value=self.atom(node.value), attr=node.attr, ctx=gast.Load())
        if isinstance(node, gast.Subscript):
            value = self.atom(node.value)
            if isinstance(value, (gast.Tuple, gast.List)) and isinstance(node.slice, gast.Constant) \
                    and isinstance(node.slice.value, int) and \
                    -len(value.elts) <= node.slice.value < len(value.elts):
                return value.elts[node.slice.value]      # helper(x)[0], [a, b][1]
            element = self.static_element(value, node.slice)
            if element is not None:                      # params["W"]: that array itself
                return element
            if isinstance(value, gast.Name) and value.id in self.containers and \
                    isinstance(node.slice, gast.Slice):
                bounds = [None if b is None else getattr(b, "value", _NOTHING)
                          for b in (node.slice.lower, node.slice.upper, node.slice.step)]
                elements = self.containers[value.id]
                if _NOTHING not in bounds and all(isinstance(k, int) for k in elements):
                    chosen = [elements[k] for k in range(len(elements))][slice(*bounds)]
                    return gast.Tuple(elts=list(chosen), ctx=gast.Load())
            return gast.Subscript(value=value, slice=self.index(node.slice), ctx=gast.Load())
        if isinstance(node, gast.Compare):
            return gast.Compare(left=self.atom(node.left), ops=node.ops,
                                comparators=[self.atom(c) for c in node.comparators])
        if isinstance(node, (gast.Tuple, gast.List)):
            return self.atom(node)
        if isinstance(node, (gast.Name, gast.Constant)):
            return self.atom(node)
        if isinstance(node, gast.IfExp):
            return self.choose(node)
        if isinstance(node, gast.BoolOp):
            return self.boolean_value(node)
        if isinstance(node, (gast.ListComp, gast.GeneratorExp)):
            return self.comprehension(node)
        raise self.unsupported(node, _UNSUPPORTED_EXPR)

    def list_snapshot(self, name):
        """A list appended to in a loop, read as a whole: a copy of it as it is now, so the
        backward pass sees this version whatever is appended later."""
        version = self.current[name]
        if version in self.snapshots:               # read again with nothing appended since
            return self.load_ssa(self.snapshots[version])
        snapshot = self.snapshots[version] = self.namer.fresh(f"{name}_now")
        func = gast.Name(id=self.helper_name("list_snapshot"), ctx=gast.Load(), annotation=None,
                         type_comment=None)
        self.body.append(Assign([snapshot], gast.Call(func=func, args=[self.load(name)], keywords=[]),
                                self.line, temporary=True))
        return self.load_ssa(snapshot)

    def comprehension(self, node):
        """`[e for v in xs if c]` as the loop that appends e to a new list (unrolled when xs is
        known when reading); its variables are its own, renamed so they shadow nothing."""
        def name(n, ctx=gast.Load):
            return gast.Name(id=n, ctx=ctx(), annotation=None, type_comment=None)
        renames = {}
        for gen in node.generators:
            if gen.is_async:
                raise self.error("srcgrad cannot differentiate an async comprehension", node,
                                 construct="comprehension")
            for n in gast.walk(gen.target):
                if isinstance(n, gast.Name):
                    renames[n.id] = self.namer.fresh(n.id)

        class Rename(gast.NodeTransformer):
            def visit_Name(self, n):
                return gast.copy_location(name(renames[n.id], type(n.ctx)), n) if n.id in renames else n
        result = self.namer.fresh("items")
        body = [gast.Expr(value=gast.Call(func=gast.Attribute(value=name(result), attr="append",
                                                              ctx=gast.Load()),
                                          args=[Rename().visit(copy_tree(node.elt))], keywords=[]))]
        for gen in reversed(node.generators):
            for cond in reversed(gen.ifs):
                body = [gast.If(test=Rename().visit(copy_tree(cond)), body=body, orelse=[])]
            first = gen is node.generators[0]       # the first iterable is read outside
            body = [gast.For(target=Rename().visit(copy_tree(gen.target)),
                             iter=gen.iter if first else Rename().visit(copy_tree(gen.iter)),
                             body=body, orelse=[], type_comment=None)]
        stmts = [gast.Assign(targets=[name(result, gast.Store)], value=gast.List(elts=[], ctx=gast.Load()),
                             type_comment=None)] + body
        for stmt in stmts:
            for n in gast.walk(stmt):
                if hasattr(n, "lineno") or isinstance(n, (gast.stmt, gast.expr)):
                    n.lineno = getattr(n, "lineno", None) or node.lineno
                    n.col_offset = getattr(n, "col_offset", None) or 0
        self.statements(stmts)
        self.current.update({k: v for k, v in self.current.items()})
        value = self.atom(name(result))
        return value

    def builtin_reduction(self, reduce, args):
        """`sum`, `max` or `min` of a sequence: a chain of `+` (or of two-argument `max`) over
        a list known when reading, otherwise the NumPy reduction over the first axis."""
        def ref(name):
            return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)
        elements = self.static_sequence(args[0])
        if elements is None:
            func = gast.Attribute(value=self.numpy_ref(), attr=reduce, ctx=gast.Load())
            total = gast.Call(func=func, args=[self.atom(args[0])],
                              keywords=[gast.keyword(arg="axis", value=make_const(0))])
            if len(args) == 1:
                return total
            elements = [self.atom(args[1]), self.atom(total)]
        elif reduce == "sum":
            elements = ([self.atom(args[1])] if len(args) == 2 else []) + list(elements)
            if not elements:
                return make_const(0)
        elif not elements:
            raise self.error(f"`{reduce}()` of an empty sequence", args[0], construct=reduce)

        def combine(a, b):
            if reduce == "sum":
                return gast.BinOp(left=a, op=gast.Add(), right=b)
            return gast.Call(func=self.load(reduce), args=[a, b], keywords=[])
        value = elements[0]
        for element in elements[1:-1]:
            name = self.namer.fresh(reduce)
            self.body.append(Assign([name], combine(value, element), self.line, temporary=True))
            value = self.load_ssa(name)
        return combine(value, elements[-1]) if len(elements) > 1 else value

    # --- calls to the user's own functions: inlined -----------------------------------------
    def lookup_quietly(self, node):
        try:
            return self.lookup(node)
        except (AttributeError, KeyError, IndexError, ValueError):
            return None

    def user_function(self, func):
        """The Python function a call's global chain names, if it is user code to inline."""
        try:
            obj = self.lookup(func)
        except (AttributeError, KeyError, IndexError, ValueError):
            return None
        if not isinstance(obj, types.FunctionType) or vjp_rule(obj) is not None:
            return None
        module = getattr(obj, "__module__", "") or ""
        if module.split(".")[0] in ("numpy", "srcgrad", "scipy"):
            return None
        return obj

    def bind_arguments(self, call, args_node, defaults, name):
        """{parameter: atom} for a call of a function with `args_node` (gast.arguments)."""
        if args_node.vararg is not None or args_node.kwarg is not None:
            raise self.error(f"srcgrad cannot inline `{name}`, which takes *args or **kwargs",
                             call, construct="call", hint="give the helper named parameters")
        positional = [a.id for a in args_node.posonlyargs + args_node.args]
        names = positional + [a.id for a in args_node.kwonlyargs]
        if any(isinstance(a, gast.Starred) for a in call.args) or \
                any(k.arg is None for k in call.keywords):
            raise self.error("srcgrad cannot differentiate a call with `*args` or `**kwargs`",
                             call, construct="call", hint="pass arguments one by one")
        if len(call.args) > len(positional):
            raise self.error(f"`{name}` takes {len(positional)} positional arguments", call,
                             construct="call")
        values = {p: self.atom(a) for p, a in zip(positional, call.args)}
        for k in call.keywords:
            if k.arg not in names or k.arg in values:
                raise self.error(f"`{name}` got an unexpected or repeated argument `{k.arg}`",
                                 call, construct="call")
            values[k.arg] = self.atom(k.value)
        for p in names:
            if p not in values:
                if p not in defaults:
                    raise self.error(f"`{name}` is missing its argument `{p}`", call, construct="call")
                values[p] = defaults[p]
        return values

    def constant_or_injected(self, value, name):
        node = make_const(value)
        if node is None:
            ref = self.namer.fresh(f"{name}_default")
            self.injections[ref] = value
            node = gast.Name(id=ref, ctx=gast.Load(), annotation=None, type_comment=None)
        return node

    def inline_global(self, obj, call):
        parsed = parse_function(obj)
        node = parsed.node
        defaults = {}
        params = node.args.posonlyargs + node.args.args
        for p, v in zip(params[len(params) - len(obj.__defaults__ or ()):], obj.__defaults__ or ()):
            defaults[p.id] = self.constant_or_injected(v, p.id)
        for p, v in (obj.__kwdefaults__ or {}).items():
            defaults[p] = self.constant_or_injected(v, p)
        values = self.bind_arguments(call, node.args, defaults, obj.__name__)
        # The helper's own globals (np, constants, other helpers) as it sees them: names the
        # compiled gradient cannot reach the same way are bound to the objects themselves.
        local = {a.id for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs} | \
            _assigned_names(node.body)
        renames = {}
        for n in {x.id for x in gast.walk(node) if isinstance(x, gast.Name) and
                  isinstance(x.ctx, gast.Load)} - local:
            try:
                mine = _lookup_in(obj, n)
            except (KeyError, AttributeError):
                continue
            try:
                theirs = _lookup_in(self.root.func, n)
            except (KeyError, AttributeError):
                theirs = _NOTHING
            if mine is theirs:
                continue
            module = sys.modules.get(obj.__module__)
            if module is not None and vars(module) is obj.__globals__ and n in obj.__globals__:
                # read live, as the helper does: `helpers.SCALE`, not its value today
                if id(module) not in self.module_refs:
                    ref = self.namer.fresh(obj.__module__.split(".")[-1])
                    self.injections[ref] = module
                    self.module_refs[id(module)] = ref
                renames[n] = gast.Attribute(
                    value=gast.Name(id=self.module_refs[id(module)], ctx=gast.Load(),
                                    annotation=None, type_comment=None), attr=n, ctx=gast.Load())
            else:
                renames[n] = self.namer.fresh(n)
                self.injections[renames[n]] = mine
        return self.inline(obj, parsed, node.body, values, renames, {}, obj.__name__, call)

    def inline_local(self, name, call):
        node, defaults = self.local_functions[name]
        if node in self.inlining:
            raise self.error(f"srcgrad cannot differentiate `{name}`, a recursive function defined "
                             "inside another function", call, construct="recursive call",
                             hint=f"define {name} at the top level of the module: recursive "
                                  "module-level functions are supported")
        values = self.bind_arguments(call, node.args, defaults, name)
        body = node.body if isinstance(node, gast.FunctionDef) else \
            [gast.copy_location(gast.Return(value=node.body), node.body)]
        # a closure: free names are the caller's, as they are when it is called
        return self.inline(node, self.parsed, body, values, self.renames, dict(self.current),
                           name, call)

    def inline(self, key, parsed, body, values, renames, env, name, call):
        """The callee's body, normalized in a scope of its own; returns its result's atom."""
        saved = (self.current, self.parsed, self.renames, self.result_var, self.result_base,
                 self.line_override, self.local_functions, self.result_arity)
        self.result_arity = None
        call_line = self.line if self.line_override is None else self.line_override
        self.inlining.append(key)
        scope, renames = dict(env), dict(renames)
        local_functions = dict(self.local_functions)
        for p, atom in values.items():
            if isinstance(atom, gast.Name) and atom.id in self.local_functions and \
                    atom.id not in self.current:
                local_functions[p] = self.local_functions[atom.id]   # a nested def passed in
            elif isinstance(atom, (gast.Name, gast.Attribute)) and self.is_global_chain(atom) \
                    and callable(self.lookup_quietly(atom)):
                renames[p] = atom                   # a function passed in (`act=np.tanh`)
            elif isinstance(atom, gast.Name):
                scope[p] = atom.id
            else:
                tmp = self.namer.fresh(p)
                self.body.append(Assign([tmp], atom, call_line))
                scope[p] = tmp
        # the callee's own names are its variables: no temporary may be called that
        self.namer.taken.update(n.id for stmt in body for n in gast.walk(stmt)
                                if isinstance(n, gast.Name))
        self.namer.taken.update(values)
        self.current, self.parsed, self.renames = scope, parsed, renames
        self.result_var = f"<result of {name} #{len(self.inlining)}>"
        self.result_base = f"{name}_out"
        self.line_override = call_line
        self.local_functions = local_functions
        try:
            self.reject_unsupported(body)
            body = restructure_returns(copy_tree(body), self)
            if not _always_returns(body):
                raise self.error(f"`{name}` does not return a value on every path", call,
                                 construct="call", hint="end every path of the helper with `return`")
            self.statements(body)
            if self.result_arity is not None:
                result = gast.Tuple(elts=[self.load(f"{self.result_var}[{k}]")
                                          for k in range(self.result_arity)], ctx=gast.Load())
            else:
                result = self.load(self.result_var)
        finally:
            self.inlining.pop()
            (self.current, self.parsed, self.renames, self.result_var, self.result_base,
             self.line_override, self.local_functions, self.result_arity) = saved
        return result

    def define_local_function(self, node, name):
        """A nested `def` or a lambda bound to a name: inlined where it is called."""
        defaults = {}
        params = node.args.posonlyargs + node.args.args
        for p, d in zip(params[len(params) - len(node.args.defaults):], node.args.defaults):
            defaults[p.id] = self.atom(d)
        for p, d in zip(node.args.kwonlyargs, node.args.kw_defaults):
            if d is not None:
                defaults[p.id] = self.atom(d)
        self.local_functions[name] = (node, defaults)
        self.current.pop(name, None)

    # --- containers whose layout is known when the code is read -----------------------------
    def remember_container(self, name, value):
        """`xs = [a, b]`, `d = {"W": w}`, `t = helper(x)` (a tuple), `q = p` (a copy of one):
        reads with constant keys then resolve to the element itself."""
        self.container_depth[name] = len(self.loops)
        if isinstance(value, gast.Constant) and isinstance(value.value, (str, int)):
            self.constants[name] = value.value
        if isinstance(value, (gast.Tuple, gast.List)):
            self.containers[name] = dict(enumerate(value.elts))
        elif isinstance(value, gast.Dict):
            self.containers[name] = {k.value: v for k, v in zip(value.keys, value.values)}
        elif isinstance(value, gast.Name) and value.id in self.containers:
            self.containers[name] = self.containers[value.id]

    def write(self, target, value, node):
        """`x[index] = value` as `x_2 = with_set(x, index, value)`: a new array, so the value
        it overwrote (and the caller's array) stays as it was."""
        name = target.value.id
        old = self.current[name]
        index = self.index_value(self.index(target.slice))
        if not self.surely_basic(index):    # kept even where the write itself is not needed
            check = gast.Call(func=gast.Name(id=self.helper_name("check_no_repeats"), ctx=gast.Load(),
                                             annotation=None, type_comment=None),
                              args=[self.load_ssa(old), copy_tree(index)], keywords=[])
            self.body.append(Effect(gast.Expr(value=check), self.line))
        func = gast.Name(id=self.helper_name("with_set"), ctx=gast.Load(), annotation=None,
                         type_comment=None)
        new = self.define(name)
        self.body.append(Assign([new], gast.Call(func=func, args=[self.load_ssa(old), index, value],
                                                 keywords=[]), self.line))
        self.updates.append((node, old, self.body[-1]))

    def surely_basic(self, index):
        """Whether an index certainly reaches each element once: ints, slices, None, `...`
        and the variables of loops over ranges (an array of ints may repeat one)."""
        parts = index.elts if isinstance(index, gast.Tuple) else [index]
        for p in parts:
            if isinstance(p, gast.Call) and getattr(p.func, "id", None) == "slice":
                continue
            if isinstance(p, gast.Constant) and (p.value is None or p.value is Ellipsis or
                                                 type(p.value) is int):
                continue
            if isinstance(p, gast.UnaryOp) and isinstance(p.operand, gast.Constant):
                continue                    # -1
            if isinstance(p, gast.Name) and (p.id in self.range_targets or
                                             type(self.constants.get(p.id)) is int):
                continue
            return False
        return True

    def numpy_ref(self):
        """NumPy under the code's own `np` if it has one, else under an injected name."""
        np_node = gast.Name(id="np", ctx=gast.Load(), annotation=None, type_comment=None)
        if "np" not in self.current and self.lookup_quietly(np_node) is np:
            return self.load("np")
        if "numpy" not in self.helper_refs:
            self.helper_refs["numpy"] = self.namer.fresh("np")
            self.injections[self.helper_refs["numpy"]] = np
        return gast.Name(id=self.helper_refs["numpy"], ctx=gast.Load(), annotation=None, type_comment=None)

    def helper_name(self, helper):
        if helper not in self.helper_refs:
            from . import runtime
            ref = self.namer.fresh(helper)
            self.injections[ref] = getattr(runtime, helper)
            self.helper_refs[helper] = ref
        return self.helper_refs[helper]

    @staticmethod
    def index_value(node):
        """An index as a value (`1:3` inside brackets is `slice(1, 3)` outside them)."""
        if isinstance(node, gast.Slice):
            parts = [p if p is not None else gast.Constant(value=None, kind=None)
                     for p in (node.lower, node.upper, node.step)]
            if node.step is None:
                parts = parts[:2] if node.lower is not None else [parts[1]]
            return gast.Call(func=gast.Name(id="slice", ctx=gast.Load(), annotation=None,
                                            type_comment=None), args=parts, keywords=[])
        if isinstance(node, gast.Tuple):
            return gast.Tuple(elts=[Normalizer.index_value(e) for e in node.elts], ctx=gast.Load())
        return node

    def static_append(self, call):
        """`xs.append(v)` on a list known when reading the code: a new version of it, one
        element longer.  (Not in a loop over a range, where its length would vary.)"""
        if not (isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute) and
                call.func.attr == "append" and isinstance(call.func.value, gast.Name) and
                len(call.args) == 1 and not call.keywords):
            return False
        name = call.func.value.id
        ssa = self.current.get(name)
        if ssa not in self.containers or not all(isinstance(k, int) for k in self.containers[ssa]):
            return False
        if self.container_depth.get(ssa) != len(self.loops):
            return False            # in a loop that runs a number of times known when it runs
        elements = self.containers[ssa]
        value = gast.List(elts=[elements[k] for k in range(len(elements))] + [self.atom(call.args[0])],
                          ctx=gast.Load())
        new = self.define(name)
        self.remember_container(new, value)
        self.body.append(Assign([new], value, self.line))
        return True

    def dict_literal(self, node):
        keys = []
        for k in node.keys:
            if not (isinstance(k, gast.Constant) and isinstance(k.value, (str, int))):
                raise self.error("srcgrad needs constant keys (strings or integers) in a dict "
                                 "literal", node, construct="dict literal")
            keys.append(k)
        values = []
        for v in node.values:
            if isinstance(v, (gast.List, gast.Tuple)):
                name = self.namer.fresh("seq")
                value = self.atom(v)
                self.remember_container(name, value)
                self.body.append(Assign([name], value, self.line, temporary=True))
                values.append(self.load_ssa(name))
            else:
                values.append(self.atom(v))
        return gast.Dict(keys=keys, values=values)

    def nested_dict(self, node):
        name = self.namer.fresh("dict")
        value = self.dict_literal(node)
        self.remember_container(name, value)
        self.body.append(Assign([name], value, self.line, temporary=True))
        return self.load_ssa(name)

    def static_element(self, value, index):
        """The element a constant index reads from a container known when reading the code."""
        if not (isinstance(value, gast.Name) and value.id in self.containers):
            return None
        key = index.value if isinstance(index, gast.Constant) else None
        if isinstance(index, gast.Name):
            key = self.constants.get(self.current.get(index.id, index.id))
        if isinstance(index, gast.UnaryOp) and isinstance(index.op, gast.USub) and \
                isinstance(index.operand, gast.Constant) and isinstance(index.operand.value, int):
            key = -index.operand.value
        elements = self.containers[value.id]
        if isinstance(key, int) and key < 0 and all(isinstance(k, int) for k in elements):
            key += len(elements)
        return elements.get(key) if key is not None else None

    def index(self, node):
        if isinstance(node, gast.Slice):
            return gast.Slice(*[self.atom(p) if p is not None else None
                                for p in (node.lower, node.upper, node.step)])
        if isinstance(node, gast.Tuple):
            return gast.Tuple(elts=[self.index(e) for e in node.elts], ctx=gast.Load())
        return self.atom(node)

    # --- statements ------------------------------------------------------------------
    def list_operation(self, targets, call):
        """`xs.append(v)` and `v = xs.pop()` on a list whose length is known only when it runs
        (appended to in a loop): `xs_2 = list_append(xs, v)`, `xs_2, v = list_pop(xs, 1)`."""
        method = _list_method(call)
        if method is None or call.func.value.id not in self.current or (
                method == "pop" and call.func.value.id not in self.runtime_lists):
            return False
        name = call.func.value.id
        self.runtime_lists.add(name)
        old = self.load(name)
        func = gast.Name(id=self.helper_name("list_" + method), ctx=gast.Load(), annotation=None,
                         type_comment=None)
        if method == "append":
            value = self.atom(call.args[0])
            self.body.append(Assign([self.define(name)], gast.Call(func=func, args=[old, value],
                                                                   keywords=[]), self.line))
            return True
        if not all(isinstance(t, gast.Name) for t in targets):
            raise self.error("srcgrad needs names to unpack a value taken from a list", call,
                             construct="pop", hint="write `a, b = xs.pop()`")
        count = make_const(len(targets))
        new = self.define(name)
        self.body.append(Assign([new] + [self.define(t.id) for t in targets],
                                gast.Call(func=func, args=[old, count], keywords=[]), self.line))
        return True

    def assign(self, target, value_node):
        """Assign the value of expression `value_node` to target `target` (a gast node)."""
        if _list_method(value_node) == "pop":
            targets = target.elts if isinstance(target, (gast.Tuple, gast.List)) else [target]
            if self.list_operation(targets, value_node):
                return
        if isinstance(target, gast.Name):
            if isinstance(value_node, gast.Dict):
                value = self.dict_literal(value_node)
            elif isinstance(value_node, (gast.Name, gast.Constant, gast.IfExp, gast.BoolOp)) or (
                    isinstance(value_node, gast.Attribute) and self.is_global_chain(value_node)):
                value = self.atom(value_node)
            else:
                value = self.operation(value_node)
            ssa = self.define(target.id)
            self.remember_container(ssa, value)
            self.body.append(Assign([ssa], value, self.line))
            return
        if isinstance(target, (gast.Tuple, gast.List)) and all(
                isinstance(t, gast.Name) for t in target.elts):
            if isinstance(value_node, (gast.Tuple, gast.List)) and len(value_node.elts) == len(target.elts):
                atoms = [self.atom(v) for v in value_node.elts]     # all right-hand sides first
                for t, a in zip(target.elts, atoms):
                    self.body.append(Assign([self.define(t.id)], a, self.line))
                return
            value = self.atom(value_node) if isinstance(value_node, gast.Name) else self.operation(value_node)
            if isinstance(value, gast.Name) and value.id in self.containers and \
                    sorted(self.containers[value.id]) == list(range(len(target.elts))):
                elements = self.containers[value.id]          # a, b = t (known layout)
                for k, t in enumerate(target.elts):
                    self.body.append(Assign([self.define(t.id)], elements[k], self.line))
                return
            if isinstance(value, (gast.Tuple, gast.List)) and len(value.elts) == len(target.elts):
                for t, a in zip(target.elts, value.elts):
                    self.body.append(Assign([self.define(t.id)], a, self.line))
                return
            if not isinstance(value, gast.Name) and self.gives_one_value(value):
                name = self.namer.fresh(self.describe(value))   # `a, b = z[t]`: z[t] first
                self.body.append(Assign([name], value, self.line, temporary=True))
                value = self.load(name)
            self.body.append(Assign([self.define(t.id) for t in target.elts], value, self.line))
            return
        if isinstance(target, (gast.Tuple, gast.List)):      # nested: `i, (a, b) = ...`
            whole = self.atom(value_node)
            for k, t in enumerate(target.elts):
                self.assign(t, gast.Subscript(value=whole, slice=gast.Constant(value=k, kind=None),
                                              ctx=gast.Load()))
            return
        if isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name) and \
                target.value.id in self.current and \
                self.current[target.value.id] not in self.containers:
            self.write(target, self.atom(value_node), target)
            return
        if isinstance(target, (gast.Subscript, gast.Attribute)):
            raise self.error("srcgrad cannot differentiate a subscript assignment (`x[i] = v`) or "
                             "attribute assignment in this version",
                             target, construct="subscript assignment" if isinstance(target, gast.Subscript)
                             else "attribute assignment",
                             hint="build the new array with an expression (np.where, np.concatenate) instead")
        raise self.error("srcgrad cannot differentiate this assignment target", target,
                         construct=type(target).__name__)

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

    def rename_loads(self, node):
        for n in gast.walk(node):
            if isinstance(n, gast.NamedExpr):
                raise self.unsupported(n, _UNSUPPORTED_EXPR)
        normalizer = self
        own = _scoped_names(node)      # a comprehension's or lambda's own variables

        class Rename(gast.NodeTransformer):
            def visit_Name(self, n):
                if isinstance(n.ctx, gast.Load) and n.id not in own:
                    return normalizer.load(n.id)
                return n
        return Rename().visit(node)

    def statement(self, stmt):
        self.line = stmt.lineno if self.line_override is None else self.line_override
        if isinstance(stmt, gast.FunctionDef) and not stmt.decorator_list:
            self.define_local_function(stmt, stmt.name)
            return
        if isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and \
                isinstance(stmt.targets[0], gast.Name) and isinstance(stmt.value, gast.Lambda):
            self.define_local_function(stmt.value, stmt.targets[0].id)
            return
        if isinstance(stmt, gast.Assign):
            if len(stmt.targets) == 1:
                self.assign(stmt.targets[0], stmt.value)
            else:   # a = b = value
                first = stmt.targets[0]
                self.assign(first, stmt.value)
                for t in stmt.targets[1:]:
                    self.assign(t, first)
        elif isinstance(stmt, gast.AnnAssign):
            if stmt.value is not None:
                self.assign(stmt.target, stmt.value)
        elif isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Subscript):
            # x[i] += v reads x[i], adds, and writes it back
            read = gast.Subscript(value=stmt.target.value, slice=stmt.target.slice, ctx=gast.Load())
            self.assign(gast.Subscript(value=stmt.target.value, slice=stmt.target.slice,
                                       ctx=gast.Store()),
                        gast.BinOp(left=read, op=stmt.op, right=stmt.value))
        elif isinstance(stmt, gast.AugAssign):
            if not isinstance(stmt.target, gast.Name):
                self.assign(stmt.target, None)   # raises the element-assignment error
            old = self.current.get(stmt.target.id, stmt.target.id)
            operand = self.atom(stmt.value)
            value = gast.BinOp(left=self.load(stmt.target.id), op=stmt.op, right=operand)
            self.body.append(Assign([self.define(stmt.target.id)], value, self.line))
            self.updates.append((stmt, old, self.body[-1]))
        elif isinstance(stmt, gast.Expr):
            if isinstance(stmt.value, gast.Constant):
                return   # docstring or a bare constant
            if isinstance(stmt.value, (gast.Yield, gast.YieldFrom, gast.Await)):
                raise self.unsupported(stmt.value, _UNSUPPORTED_EXPR)
            call = stmt.value
            if self.static_append(call) or self.list_operation([], call):
                return
            if isinstance(call, gast.Call) and self.calls_user_code(gast.Expr(value=call)) and \
                    not any(isinstance(a, (gast.Starred,)) for a in call.args):
                self.atom(call)              # a helper called for what it does: inlined
                return
            if not isinstance(call, gast.Call) or not self.is_global_chain(call.func) or \
                    any(k.arg == "out" for k in call.keywords):
                raise self.error(
                    "srcgrad cannot differentiate a statement that may change an array in place",
                    stmt, construct="expression statement",
                    hint="compute a new value and assign it (`x = np.clip(x, 0, 1)` rather than "
                         "`np.clip(x, 0, 1, out=x)` or `x.fill(0)`)")
            self.body.append(Effect(self.rename_loads(stmt), self.line))
        elif isinstance(stmt, gast.Assert):
            self.body.append(Effect(self.rename_loads(stmt), self.line))
        elif isinstance(stmt, gast.Pass):
            return
        elif isinstance(stmt, gast.Return):
            self.ret(stmt)
        elif isinstance(stmt, gast.If):
            test = self.condition(stmt.test)
            self.branch(test, lambda: self.statements(stmt.body),
                        lambda: self.statements(stmt.orelse), stmt.lineno)
        elif isinstance(stmt, gast.For):
            self.for_loop(stmt)
        elif isinstance(stmt, gast.While):
            if stmt.orelse:
                raise self.error("srcgrad cannot differentiate `while ... else`", stmt,
                                 construct="`while`-`else`", hint="move the `else` part after the loop")
            body = [gast.If(test=stmt.test, body=stmt.body,
                            orelse=[gast.copy_location(gast.Break(), stmt)])]
            gast.copy_location(body[0], stmt)
            self.loop("while", None, None, body, stmt.lineno)
        elif isinstance(stmt, (gast.Break, gast.Continue)):
            if not self.loops:
                raise self.error("`break`/`continue` outside a loop", stmt, construct="jump")
            self.end_iteration()
            self.body.append(Jump("break" if isinstance(stmt, gast.Break) else "continue", stmt.lineno))
        else:
            raise self.unsupported(stmt, _UNSUPPORTED_STMT)

    def for_loop(self, stmt):
        if stmt.orelse:
            raise self.error("srcgrad cannot differentiate `for ... else`", stmt,
                             construct="`for`-`else`", hint="move the `else` part after the loop")
        it = stmt.iter
        if self.is_builtin_call(it, "range"):
            if not isinstance(stmt.target, gast.Name):
                raise self.error("srcgrad needs a single loop variable in `for ... in range(...)`",
                                 stmt.target, construct="`for` target")
            iterable = gast.Call(func=it.func, args=[self.atom(a) for a in it.args], keywords=[])
            self.loop("for", stmt.target.id, iterable, stmt.body, stmt.lineno)
            return
        static = None if any(_jumps(s) for s in stmt.body) else self.static_sequence(it)
        if static is not None:
            for element in static:          # a list or tuple known when reading: unrolled
                self.bind(stmt.target, element)
                self.statements(copy_tree(stmt.body))
            return
        # Over a sequence: `for v in xs` runs as `for i in range(len(xs)): v = xs[i]`.
        index = stmt.target.elts[0].id if self.is_builtin_call(it, "enumerate") and \
            isinstance(stmt.target, gast.Tuple) and isinstance(stmt.target.elts[0], gast.Name) \
            and len(it.args) == 1 and not it.keywords else self.namer.fresh("index")
        length, elements = self.sequence(it, stmt.target, index)
        prefix = []
        for target, value in elements:
            if isinstance(target, gast.Name) and target.id == index:
                continue
            node = gast.Assign(targets=[target], value=value, type_comment=None)
            node.lineno, node.col_offset = stmt.lineno, stmt.col_offset
            prefix.append(node)
        iterable = gast.Call(func=gast.Name(id="range", ctx=gast.Load(), annotation=None,
                                            type_comment=None), args=[length], keywords=[])
        self.loop("for", index, iterable, prefix + stmt.body, stmt.lineno)

    def bind(self, target, atom):
        """Bind a target to an atom that is already normalized (not to be read again)."""
        if isinstance(target, gast.Name):
            name = self.define(target.id)
            self.remember_container(name, atom)
            self.body.append(Assign([name], atom, self.line))
            return
        if isinstance(target, (gast.Tuple, gast.List)) and isinstance(atom, tuple) and \
                len(atom) == len(target.elts):             # enumerate / zip over known lists
            for t, a in zip(target.elts, atom):
                self.bind(t, a)
            return
        if isinstance(target, (gast.Tuple, gast.List)) and isinstance(atom, gast.Name) and \
                atom.id in self.containers and \
                sorted(self.containers[atom.id]) == list(range(len(target.elts))):
            for k, t in enumerate(target.elts):
                self.bind(t, self.containers[atom.id][k])
            return
        raise self.error("srcgrad cannot unpack this value in a loop over a list", target,
                         construct="`for` target")

    def static_sequence(self, it):
        """The elements of an iterable whose length is known when reading the code (a list or
        tuple literal, or one read from a parameter container), if the loop body has no
        `break`/`continue` (which unrolling would have to follow)."""
        if isinstance(it, (gast.List, gast.Tuple)):
            return [self.atom(e) for e in it.elts]
        if self.is_builtin_call(it, "enumerate") and 1 <= len(it.args) <= 2 and not it.keywords:
            start = it.args[1] if len(it.args) == 2 else gast.Constant(value=0, kind=None)
            inner = self.static_sequence(it.args[0])
            if inner is None or not (isinstance(start, gast.Constant) and isinstance(start.value, int)):
                return None
            return [(make_const(start.value + k), e) for k, e in enumerate(inner)]
        if self.is_builtin_call(it, "zip") and it.args and not it.keywords:
            inners = [self.static_sequence(a) for a in it.args]
            return None if None in inners else list(zip(*inners))
        if isinstance(it, (gast.Name, gast.Subscript)):
            try:
                value = self.atom(it) if isinstance(it, gast.Subscript) else self.load(it.id)
            except SrcgradError:
                return None
            if isinstance(value, gast.Name) and value.id in self.containers:
                elements = self.containers[value.id]
                if sorted(elements) == list(range(len(elements))):
                    return [elements[k] for k in range(len(elements))]
        return None

    def is_builtin_call(self, node, name):
        return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and \
            node.func.id == name and name not in self.current

    def sequence(self, it, target, index):
        """(length, [(target, value)]) for `for target in it`: the values are expressions of
        the loop index `index`."""
        def name(n):
            return gast.Name(id=n, ctx=gast.Load(), annotation=None, type_comment=None)
        if self.is_builtin_call(it, "enumerate") and len(it.args) == 1 and not it.keywords:
            if not (isinstance(target, gast.Tuple) and len(target.elts) == 2):
                raise self.error("srcgrad needs `for i, v in enumerate(...)`", target,
                                 construct="`for` target")
            length, rest = self.sequence(it.args[0], target.elts[1], index)
            return length, [(target.elts[0], name(index))] + rest
        if self.is_builtin_call(it, "zip") and it.args and not it.keywords:
            if not (isinstance(target, gast.Tuple) and len(target.elts) == len(it.args)):
                raise self.error("srcgrad needs one loop variable per sequence in `zip(...)`",
                                 target, construct="`for` target")
            lengths, elements = [], []
            for seq, t in zip(it.args, target.elts):
                length, rest = self.sequence(seq, t, index)
                lengths.append(length)
                elements += rest
            length = lengths[0] if len(lengths) == 1 else gast.Call(
                func=name("min"), args=lengths, keywords=[])
            return length, elements
        seq = self.atom(it)
        if not isinstance(seq, gast.Name):
            seq = self.atom(gast.Call(func=name("list"), args=[seq], keywords=[]))
        # The sequence is evaluated once, before the loop (rebinding its name in the body
        # does not change what is iterated): keep it under a name of its own.
        snapshot = self.namer.fresh(f"{seq.id}_seq")
        self.body.append(Assign([snapshot], seq, self.line, temporary=True))
        seq = name(snapshot)
        length = gast.Call(func=name("len"), args=[seq], keywords=[])
        return length, [(target, gast.Subscript(value=seq, slice=name(index), ctx=gast.Load()))]

    def loop(self, kind, target, iterable, stmts, line):
        # An explicit `continue` ends the body, so every path through it ends in a jump and
        # gets its own iteration end (after `restructure_jumps`, nothing follows a jump).
        end = gast.Continue()
        end.lineno, end.col_offset = (stmts[-1].lineno if stmts else line), 0
        stmts = restructure_jumps(stmts + [end])
        self.runtime_lists.update(n.func.value.id for s in stmts for n in gast.walk(s)
                                  if _list_method(n) == "append" and n.func.value.id in self.current)
        assigned = sorted(_assigned_names(stmts) | ({target} if target else set()))
        versions = {}
        for name in assigned:
            if name == target:
                continue
            versions[name] = self.namer.fresh(self.result_base if name == self.result_var else name)
            self.user_of[versions[name]] = name
            before = self.load_ssa(self.current[name]) if name in self.current else \
                gast.Constant(value=None, kind=None)
            self.body.append(Assign([versions[name]], before, line, carry="in"))
            self.current[name] = versions[name]
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
            self.current[name] = version

    def end_iteration(self):
        """Save what this iteration's adjoint needs, then copy the carried names back."""
        node, versions = self.loops[-1]
        self.body.append(IterationEnd(node, self.line))
        for name, version in versions.items():
            if self.current.get(name) not in (None, version):
                self.body.append(Assign([version], self.load_ssa(self.current[name]), self.line,
                                        carry="out"))

    def statements(self, stmts):
        for stmt in stmts:
            self.statement(stmt)

    def condition(self, node):
        """Evaluate a condition into a name. Conditions carry no gradient, so it is kept
        whole (`np.sum(x) > 0 and n < 3`) rather than split into operations."""
        if self.calls_user_code(node):          # inlined like any expression
            value = self.atom(node)
            if isinstance(value, gast.Name):
                return value.id
            node = value
        name = self.namer.fresh("cond")
        self.body.append(Assign([name], self.rename_loads(node), self.line, opaque=True))
        return name

    def calls_user_code(self, node):
        for call in gast.walk(node):
            if isinstance(call, gast.Call) and (
                    (isinstance(call.func, gast.Name) and call.func.id in self.local_functions
                     and call.func.id not in self.current) or
                    (self.is_global_chain(call.func) and self.user_function(call.func) is not None)):
                return True
        return False

    def branch(self, test, emit_then, emit_else, line):
        """Emit a Branch whose two sides `emit_then()` and `emit_else()` write, then merge
        the names either side assigned."""
        before, outer = dict(self.current), self.body
        sides = []
        for emit in (emit_then, emit_else):
            self.current, self.body = dict(before), []
            emit()
            sides.append((self.body, self.current))
        (then_body, then_env), (else_body, else_env) = sides
        self.body, self.current = outer, dict(before)
        if then_body and isinstance(then_body[-1], Jump):
            then_env = else_env        # that path left the iteration: nothing to merge
        elif else_body and isinstance(else_body[-1], Jump):
            else_env = then_env
        for name in sorted(set(then_env) | set(else_env)):
            t, e = then_env.get(name), else_env.get(name)
            if t == e or t is None or e is None:
                # unchanged, or bound on one path only (using it after the other path is a
                # NameError in Python too)
                self.current[name] = t or e
                continue
            merged = self.namer.fresh(self.result_base if name == self.result_var else name)
            self.user_of[merged] = name
            then_body.append(Assign([merged], self.load_ssa(t), line))
            else_body.append(Assign([merged], self.load_ssa(e), line))
            self.current[name] = merged
        self.body.append(Branch(test, then_body, else_body, line))

    def load_ssa(self, ssa):
        return gast.Name(id=ssa, ctx=gast.Load(), annotation=None, type_comment=None)

    def choose(self, node):
        """`a if c else b` as a Branch assigning a fresh name on both sides."""
        test = self.condition(node.test)
        key = self.namer.fresh(self.describe_choice(node))
        self.branch(test, lambda: self.assign_name(key, node.body),
                    lambda: self.assign_name(key, node.orelse), self.line)
        return self.load(key)

    def describe_choice(self, node):
        return "chosen"

    def boolean_value(self, node):
        """`a and b` / `a or b` used as a value: the operand that decides, as Python does."""
        left = self.atom(node.values[0])
        for value in node.values[1:]:
            test = self.condition(copy_tree(left))
            key = self.namer.fresh("either" if isinstance(node.op, gast.Or) else "both")
            first, second = (value, left) if isinstance(node.op, gast.And) else (left, value)
            self.branch(test, lambda v=first: self.assign_name(key, v),
                        lambda v=second: self.assign_name(key, v), self.line)
            left = self.load(key)
        return left

    def assign_name(self, name, value_node):
        self.assign(gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None),
                    value_node)

    def ret(self, stmt):
        """`return value` (always at the end of a path, see `restructure_returns`)."""
        if stmt.value is None or (isinstance(stmt.value, (gast.Tuple, gast.List, gast.Dict)) and
                                  not (self.inlining and not isinstance(stmt.value, gast.Dict))):
            what = "nothing" if stmt.value is None else "a " + type(stmt.value).__name__.lower()
            raise self.parsed.error(
                NonScalarResultError, f"the function returns {what}; srcgrad differentiates a "
                "function that returns one scalar", node=stmt,
                hint="return the scalar loss, e.g. `return np.sum(...)`")
        if self.inlining and isinstance(stmt.value, (gast.Tuple, gast.List)):
            if self.result_arity not in (None, len(stmt.value.elts)):
                raise self.error("srcgrad needs a helper to return tuples of one length", stmt,
                                 construct="return")
            self.result_arity = len(stmt.value.elts)
            atoms = [self.atom(e) for e in stmt.value.elts]
            for k, a in enumerate(atoms):
                self.assign_name(f"{self.result_var}[{k}]", a)
            return
        self.assign_name(self.result_var, stmt.value)
        if not self.inlining:
            self.result_line = stmt.lineno

    def reject_unsupported(self, stmts):
        """Refuse what cannot be differentiated at its own line, before the body is rewritten
        (a `yield` or `try` would otherwise surface as a missing `return`)."""
        def walk(node):
            yield node
            if isinstance(node, (gast.FunctionDef, gast.Lambda)):
                return                       # its own scope: checked if it is called
            for child in gast.iter_child_nodes(node):
                yield from walk(child)
        for stmt in stmts:
            for node in walk(stmt):
                if isinstance(node, (gast.Yield, gast.YieldFrom, gast.Await)):
                    raise self.unsupported(node, _UNSUPPORTED_EXPR)
                if type(node) in _UNSUPPORTED_STMT and not (
                        isinstance(node, gast.FunctionDef) and not node.decorator_list):
                    raise self.unsupported(node, _UNSUPPORTED_STMT)

    def check_in_place_updates(self):
        """`a += b` updates an array in place, and with it every name that shares its memory;
        the SSA form rebinds `a` only.  Refuse when such a name is read after the update."""
        flat = list(flatten(self.body))
        group = {}
        for stmt in flat:
            if not isinstance(stmt, Assign):
                continue
            source = _shared_source(stmt.value)     # (`a, b = m`: the rows are views of m)
            for target in stmt.targets:
                members = group.get(target, {target})
                if source is not None:  # (a name bound twice, as a loop's, shares with both)
                    members |= group.get(source, {source})
                for name in members:
                    group[name] = members
        for aug, old, marker in self.updates:
            # other versions of the same variable are not other names for the array; the
            # array itself is, under any name that still holds it (a helper's parameter)
            variable = self.user_of.get(old, old)
            sharing = {n for n in group.get(old, {old}) if self.user_of.get(n, n) != variable}
            sharing.add(old)
            for later in _after(self.body, marker) or []:
                if isinstance(later, Assign) and isinstance(later.value, gast.Name):
                    # another name for the value (a loop's copy): not a read of it
                    if later.value.id in sharing:
                        sharing |= set(later.targets)
                    else:
                        sharing -= set(later.targets)
                    continue
                node = later.value if isinstance(later, Assign) else getattr(later, "node", None)
                node = None if isinstance(later, (Branch, Loop, IterationEnd, Jump)) else node
                used = {n.id for n in gast.walk(node) if isinstance(n, gast.Name)} if node else set()
                if isinstance(later, Return):
                    used = {later.name}
                if used & sharing:
                    other = self.user_of.get(sorted(used & sharing)[0], sorted(used & sharing)[0])
                    if isinstance(aug, gast.Subscript):
                        what = f"writing into `{aug.value.id}[...]` changes"
                        hint = f"make `{other}` a copy (`np.array(...)`), or write into a copy"
                    else:
                        symbol = _AUG_SYMBOLS.get(type(aug.op), "?=")
                        what = f"`{aug.target.id} {symbol} ...` updates in place"
                        hint = f"write `{aug.target.id} = {aug.target.id} {symbol[:-1]} ...` to make a new array"
                    raise self.root.error(
                        UnsupportedSyntaxError, f"{what} an array that `{other}` also refers to, "
                        f"and `{other}` is read afterwards", lineno=marker.line,
                        construct="in-place update of a shared array", hint=hint)
                if isinstance(later, Assign):
                    sharing -= set(later.targets)    # rebound: another value from here on

    def run(self):
        func = self.parsed.node
        args = func.args
        if args.vararg is not None or args.kwarg is not None:
            pass   # allowed; such parameters are never differentiated
        self.params = [a.id for a in args.posonlyargs + args.args + args.kwonlyargs]
        extra = [a.id for a in (args.vararg, args.kwarg) if a is not None]
        self.user_names = set(self.params) | set(extra)
        for p in self.params + extra:
            self.current[p] = p
        self.result_base = self.parsed.name if self.parsed.name not in self.namer.taken else "result"
        self.result_line = func.lineno
        self.reject_unsupported(func.body)
        body = restructure_returns(func.body, self)
        if not _always_returns(body):
            raise self.parsed.error(
                NonScalarResultError, f"{func.name} does not end with a `return` on every path; "
                "srcgrad differentiates a function that returns one scalar", node=func,
                hint="end every path of the function with `return <scalar loss>`")
        self.statements(body)
        self.body.append(Return(self.current[RESULT], self.result_line))
        self.check_in_place_updates()
        return NormalFunction(self.parsed, self.params, self.body, self.namer,
                              result_line=self.line, user_names=self.user_names,
                              injections=self.injections)


def normalize(parsed):
    """The NormalFunction of a ParsedFunction."""
    return Normalizer(parsed).run()
