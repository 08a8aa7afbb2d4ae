"""Forward mode: a generated function that carries a tangent next to each value.

`srcgrad.jvp` runs a function generated from `f`'s normalized form (normalize.py): after
the statements of each source line come the statements of their tangents,

    h = np.tanh(X @ W + b)
    t_h = (X @ t_W + t_b) * (1.0 - h * h)

so branches and loops run as written (forward mode needs no tape).  A value that does not
depend on an argument with a tangent has none, and its terms drop out when the code is
generated: no zeros are computed for it.

Rules come from the table in rules.py: elementwise tangents are the reverse templates with
`g` replaced by an argument's tangent; `linear` functions are applied to the tangents;
`multilinear` ones get one term per argument; the rest have a `jvp=` template.

Like reverse-mode adjoints, a tangent may be *loose*: in `z = X @ W + b` with only `b`
having a tangent, `t_z` is `t_b`, smaller than `z` but broadcasting to it.  Elementwise
rules take loose tangents as they are; other rules, and the result, get them broadcast
first.  Reverse mode's analysis (reverse.py) says which values vary with the arguments,
which reach the result, and which values certainly share a shape.
"""
import keyword
from collections import Counter
from dataclasses import dataclass

import gast
import numpy as np

from . import rules, runtime, templates
from .emit import to_source
from .errors import NoDerivativeRuleError, UnsupportedSyntaxError
from .fold import const_value, copy_tree, is_const, make_const
from .ir import Assign, Branch, Effect, Jump, Line, Loop, all_lines, flatten
from .ir import context_blocks, context_line   # `with` blocks (block)
from .analysis import SCALAR, analyze
from .resolve import differentiable, template_entries
from .namespace import Namespace
from .reverse import (_elementwise_leaves,
                      assign, branch_line, name_node, np_call)


def _replaced(node, mapping):
    """A copy of a syntax tree with the nodes whose id is in `mapping` replaced."""
    if isinstance(node, list):
        return [_replaced(n, mapping) for n in node]
    if not isinstance(node, gast.AST):
        return node
    if id(node) in mapping:
        return mapping[id(node)]
    new = node.__class__.__new__(node.__class__)
    new.__dict__.update((k, _replaced(v, mapping)) for k, v in node.__dict__.items())
    return new


def _without_minus(term):
    """`x` for a term `-x`, `-x * y` or `-x / y` (as `x * y`, `x / y`); else None."""
    if isinstance(term, gast.UnaryOp) and isinstance(term.op, gast.USub):
        return term.operand
    if isinstance(term, gast.BinOp) and isinstance(term.op, (gast.Mult, gast.Div)):
        left = _without_minus(term.left)
        if left is not None:
            return gast.BinOp(left=left, op=term.op, right=term.right)
    return None


def _total(terms):
    """`a + b + ...` of the terms; `a - b` for a negated term."""
    total = None
    for term in terms:
        positive = _without_minus(term)
        if total is None:
            total = term
        elif positive is not None:
            total = gast.BinOp(left=total, op=gast.Sub(), right=positive)
        else:
            total = gast.BinOp(left=total, op=gast.Add(), right=term)
    return total


class _DefaultKeywords(gast.NodeTransformer):
    """Leave out what templates spell out and NumPy assumes: `axis=None`, `keepdims=False`."""

    def __init__(self, ns):
        self.ns = ns

    def visit_Call(self, node):
        self.generic_visit(node)
        func = getattr(node.func, "attr", None)
        if self.ns.object_of(getattr(node.func, "value", None)) is np and \
                func in ("sum", "mean", "max", "min"):
            node.keywords = [k for k in node.keywords if not (
                is_const(k.value) and (k.arg, const_value(k.value)) in (("axis", None), ("keepdims", False)))]
        return node


class _Tidy(gast.NodeTransformer):
    """`a + -b * c` as `a - b * c` (what inlining terms into one expression leaves), and
    `t * 2.0` for `t * 2` where `t` is a tangent, always a float (NumPy 2 is slower with
    int scalars)."""

    def __init__(self, tangents):
        self.tangents = tangents

    def floating(self, node):
        if isinstance(node, gast.Name):
            return node.id in self.tangents
        if isinstance(node, gast.BinOp) and not isinstance(node.op, gast.MatMult):
            return self.floating(node.left) or self.floating(node.right)
        return isinstance(node, gast.UnaryOp) and self.floating(node.operand)

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, (gast.Mult, gast.Div)):
            for side, other in (("left", node.right), ("right", node.left)):
                value = getattr(node, side)
                if isinstance(value, gast.Constant) and type(value.value) is int and self.floating(other):
                    setattr(node, side, make_const(float(value.value)))
        positive = _without_minus(node.right) if isinstance(node.op, gast.Add) else None
        if positive is not None:
            return gast.BinOp(left=node.left, op=gast.Sub(), right=positive)
        return node


def tidy(code):
    """Final touches to the optimized Lines of a Tangents."""
    for line in all_lines(code.lines):
        if line.body is None and isinstance(line.stmt, gast.Assign):
            line.stmt.value = _Tidy(code.tangent_names).visit(line.stmt.value)


def _elements(atom):
    return atom.elts if isinstance(atom, (gast.Tuple, gast.List)) else [atom]


_UNKNOWN = object()


def _number(node):
    value = const_value(node) if is_const(node) else None
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class Tangents:
    """The generated JVP function before it is printed."""
    parsed: object
    name: str
    lines: list
    value: gast.expr                 # f's result
    tangent: gast.expr               # its tangent
    namespace: object
    namer: object
    wrt: tuple
    tangent_params: list             # the parameters holding the tangents of `wrt`
    tangent_names: set               # every name that holds a tangent


class ForwardMode:
    def __init__(self, normal, wrt):
        self.normal, self.parsed, self.wrt = normal, normal.parsed, tuple(wrt)
        self.ns = Namespace(self.parsed.func, normal.namer, normal.injections)
        self.namer = normal.namer
        self.tangent_names = {}    # value -> the name of its tangent
        self.primal_of = {}        # tangent name (or its broadcast) -> value
        self.loose = {}            # value -> the shape class of its tangent, if smaller
        self.full = {}             # value -> its tangent broadcast to its shape, on this path
        self.constants = {}        # value -> the Python number (or None) it was bound to
        self.popped = set()        # values `tape_pop` gave
        self.from_tape_values = set()   # ...and the tuples of values read from them
        self.out = []              # where tangent statements go

    # --- names and values --------------------------------------------------------------
    def tangent_name(self, name):
        if name not in self.tangent_names:
            self.tangent_names[name] = self.namer.fresh("t_" + name)
            self.primal_of[self.tangent_names[name]] = name
        return self.tangent_names[name]

    def live(self, atom):
        return isinstance(atom, gast.Name) and atom.id in self.active

    def tangent(self, atom):
        """The tangent of a live value, loose or not (for elementwise rules)."""
        return name_node(self.tangent_name(atom.id))

    def full_tangent(self, atom, line):
        """The tangent of a live value with the value's shape."""
        name = atom.id
        if name not in self.loose:
            return self.tangent(atom)
        if name not in self.full:
            full = self.namer.fresh(self.tangent_name(name) + "_full")
            self.primal_of[full] = name
            self.out.append(Line(assign(full, self.broadcast(self.tangent(atom), name)), line,
                                 "forward", temporary=True))
            self.full[name] = full
        return name_node(self.full[name])

    def broadcast(self, expr, name):
        return np_call(self.ns, "broadcast_to", expr, self.shape_of(name))

    def shape_of(self, name):
        if name in self.analysis.numpy_typed:
            return gast.Attribute(value=name_node(name), attr="shape", ctx=gast.Load())
        return np_call(self.ns, "shape", name_node(name))

    def zero(self, atom):
        """The tangent of a value without one, where a tangent must exist (a value merged
        with one that has a tangent, an element of a joined array, a result)."""
        if isinstance(atom, (gast.Tuple, gast.List)):
            return type(atom)(elts=[self.zero(e) for e in atom.elts], ctx=gast.Load())
        layout = self.packed_layout(atom, set())
        if layout is not None:               # a tuple or list literal: one of zeros
            if atom.id not in self.merged:
                return self.zero(layout)
            items = [gast.Subscript(value=name_node(atom.id), slice=make_const(k), ctx=gast.Load())
                     for k in range(len(layout.elts))]      # its elements differ by path
            return type(layout)(elts=[np_call(self.ns, "zeros_like", e) for e in items], ctx=gast.Load())
        value = const_value(atom) if is_const(atom) else self.constants.get(getattr(atom, "id", None), _UNKNOWN)
        if value is None:
            return make_const(None)           # a name bound before a loop that sets it
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return make_const(0.0)            # a Python number's tangent is one too
        return np_call(self.ns, "zeros_like", copy_tree(atom))

    def leaves(self, expr):
        """The operands of an elementwise expression (ufuncs and np.where, however named)."""
        if isinstance(expr, gast.Call) and not expr.keywords:
            try:
                func = self.ns.lookup(expr.func)
            except Exception:
                func = None
            if isinstance(func, np.ufunc) or func is np.where:
                for arg in expr.args:
                    yield from self.leaves(arg)
                return
        if isinstance(expr, (gast.BinOp, gast.UnaryOp, gast.Compare)):
            for child in _elementwise_leaves(expr, self.ns):
                yield from (self.leaves(child) if isinstance(child, gast.Call) else [child])
            return
        yield expr

    def scalar_constant(self, node):
        """Whether `node` names a float constant of a module (`np.pi`)."""
        if not isinstance(node, gast.Attribute):
            return False
        try:
            return type(self.ns.lookup(node)) is float
        except Exception:
            return False

    def tangent_class(self, expr):
        """The shape class of an elementwise tangent expression, or None if unknown."""
        cls = SCALAR
        for leaf in self.leaves(expr):
            if isinstance(leaf, gast.Name):
                primal = self.primal_of.get(leaf.id)
                if primal is None:
                    cls |= self.analysis.class_of(leaf)
                elif leaf.id == self.tangent_names.get(primal):
                    cls |= self.loose.get(primal, self.analysis.classes[primal])
                else:
                    cls |= self.analysis.classes[primal]        # broadcast to its value
            elif _number(leaf) or self.scalar_constant(leaf):
                continue
            else:
                return None
        return cls

    # --- statements --------------------------------------------------------------------
    def run(self):
        body = self.normal.body
        tangent_params = [self.tangent_name(w) for w in self.wrt]
        self.analysis = analysis = analyze(self.normal, self.wrt, self.ns, forward=True)
        ret = body[-1]
        self.active = analysis.varied & analysis.useful
        targets = [t for s in flatten(body) if isinstance(s, Assign) for t in s.targets]
        # values set in several places: merges of branches (a name first set on both sides
        # keeps one name), loop-carried values
        self.merged = {t for t, n in Counter(targets).items() if n > 1}
        self.definitions = {}
        for stmt in flatten(body):
            if isinstance(stmt, Assign):
                for t in stmt.targets:
                    self.definitions.setdefault(t, []).append(stmt.value)
        lines = self.block(body[:-1])
        self.out = lines
        tangent = self.result_tangent(ret)
        return Tangents(self.parsed, "jvp_" + self.parsed.name, lines, name_node(ret.name),
                        tangent, self.ns, self.namer, self.wrt, tangent_params, set(self.primal_of))

    def block(self, body):
        """Lines for a block: per source line, its statements, then their tangents."""
        lines, group = [], []
        for stmt in context_blocks(body):
            if isinstance(stmt, Assign) and not stmt.carry and group and group[-1].line == stmt.line:
                group.append(stmt)
                continue
            lines += self.statements(group)
            group = []
            if isinstance(stmt, Assign):
                if stmt.carry:       # overwrites a value this iteration's tangents may read
                    lines += self.statements([stmt])
                else:
                    group = [stmt]
            elif isinstance(stmt, Branch):
                lines.append(self.branch(stmt))
            elif isinstance(stmt, Loop):
                lines.append(self.loop(stmt))
            elif isinstance(stmt, tuple):    # a `with` block: tangents are computed inside it too
                outer, self.full = self.full, dict(self.full)
                lines.append(context_line(stmt[0], self.block(stmt[1])))
                self.full = outer
            elif isinstance(stmt, Effect):
                lines.append(Line(stmt.node, stmt.line, "forward"))
            elif isinstance(stmt, Jump) and stmt.kind == "break":
                lines.append(Line(gast.Break(), stmt.line, "forward"))
            # (an iteration's end saves nothing; a `continue` always ends its path)
        return lines + self.statements(group)

    def statements(self, stmts):
        primal = []
        for stmt in stmts:
            target = stmt.targets if len(stmt.targets) > 1 else stmt.targets[0]
            primal.append(Line(assign(target, copy_tree(stmt.value)), stmt.line, "forward",
                               stmt.temporary))
        self.out = []
        for stmt in stmts:
            self.remember_constant(stmt)
            self.statement_tangent(stmt)
        return primal + self.out

    def remember_constant(self, stmt):
        (target, *more), value = stmt.targets, stmt.value
        if more or target in self.merged:
            return
        if _number(value) or (is_const(value) and const_value(value) is None):
            self.constants[target] = const_value(value)
        elif isinstance(value, gast.Name) and value.id in self.constants:
            self.constants[target] = self.constants[value.id]

    def branch(self, stmt):
        outer, sides = self.full, []
        for side in (stmt.body, stmt.orelse):
            self.full = dict(outer)           # broadcasts made on one side stay there
            sides.append(self.block(side))
        self.full = outer
        return branch_line(stmt.test, stmt.line, "forward", *sides)

    def loop(self, stmt):
        outer, self.full = self.full, dict(self.full)
        body = self.block(stmt.body)
        self.full = outer
        if stmt.kind == "for":
            header = gast.For(target=name_node(stmt.target, store=True), iter=copy_tree(stmt.iterable),
                              body=[], orelse=[], type_comment=None)
        else:
            header = gast.While(test=make_const(True), body=[], orelse=[])
        return Line(header, stmt.line, "forward", body=body, orelse=[])

    def emit(self, target, expr, stmt, note=None):
        if isinstance(target, list):
            target = [self.tangent_name(t) for t in target]
        else:
            target = self.tangent_name(target)
        # (a line with a note keeps its name, so the note stays next to it)
        self.out.append(Line(assign(target, expr), stmt.line, "forward",
                             stmt.temporary and not note, note=note))

    def statement_tangent(self, stmt):
        live = [t for t in stmt.targets if t in self.active]
        if not live:
            return
        op = self.analysis.ops[id(stmt)]
        if op.kind in ("list_append", "list_pop", "list_snapshot", "list_get", "list_set",
                       "list_build", "vjp_call"):
            what = "a recursive call" if op.kind == "vjp_call" else "a list built in a loop"
            raise self.parsed.error(UnsupportedSyntaxError, f"srcgrad's forward mode cannot "
                                    f"differentiate {what} in this version", lineno=stmt.line,
                                    construct=op.kind, hint="use srcgrad.grad (reverse mode), "
                                    "or build the values with np.stack of a list literal")
        if op.kind == "rule":
            self.rule_tangent(stmt, op)
        elif op.kind in ("dict_build", "dict_set", "dict_get"):
            self.dict_tangent(stmt, op)
        elif op.kind == "custom":
            self.custom_tangent(stmt, op)
        elif op.kind == "problem":
            raise op.problem
        elif len(stmt.targets) > 1:         # `a, b = t`: unpack t's tangent
            if self.live(stmt.value):       # (in full, unless it is a tuple off a tape)
                if stmt.value.id in self.from_tape_values:
                    for t in stmt.targets:  # a pushed tangent may be a stand-in `0.0`
                        self.loose[t] = self.analysis.fresh_class()
                    self.emit(stmt.targets, self.tangent(stmt.value), stmt)
                else:
                    self.emit(stmt.targets, self.full_tangent(stmt.value, stmt.line), stmt)
        elif op.kind == "pack":
            self.emit(stmt.targets[0], self.packed(stmt.value, stmt.line), stmt)
        elif op.kind == "pick":             # `[a, b][i]`: the tangent of the element chosen
            elements = gast.Tuple(elts=op.bindings["elements"], ctx=gast.Load())
            self.emit(stmt.targets[0], gast.Subscript(value=self.packed(elements, stmt.line), slice=copy_tree(
                op.bindings["index"]), ctx=gast.Load()), stmt)
        elif op.kind == "copy" and self.live(stmt.value):
            target, source = stmt.targets[0], stmt.value
            if target in self.merged:        # every path must give it a tangent of its shape
                self.emit(target, self.full_tangent(source, stmt.line), stmt)
            else:
                if source.id in self.loose:
                    self.loose[target] = self.loose[source.id]
                self.emit(target, self.tangent(source), stmt)
        elif stmt.targets[0] in self.normal.dicts:   # a dict merged with one that has tangents
            self.emit(stmt.targets[0], gast.Dict(keys=[], values=[]), stmt)
        else:                                # merged with a value that has a tangent
            value = stmt.value if is_const(stmt.value) or isinstance(stmt.value, gast.Name) \
                else name_node(stmt.targets[0])
            self.emit(stmt.targets[0], self.zero(value), stmt)

    def dict_tangent(self, stmt, op):
        """A dict read when the code runs has a dict of tangents: an entry's tangent may be
        a stand-in (0.0, or one that broadcasts to it), and an entry without one reads 0.0."""
        out, value = stmt.targets[0], stmt.value
        helper = lambda f: self.ns.reference(f, f.__name__)
        entry = lambda v: self.tangent(v) if self.live(v) else make_const(0.0)
        if op.kind == "dict_get":                   # y = d[key]
            self.loose[out] = self.analysis.fresh_class()
            expr = gast.Call(func=helper(runtime.tangent_at), args=[
                self.tangent(value.value), copy_tree(value.slice)], keywords=[])
        elif op.kind == "dict_set":                 # d_2 = dict_set(d, key, v)
            old, key, stored = value.args
            tangents = self.tangent(old) if self.live(old) else gast.Dict(keys=[], values=[])
            expr = gast.Call(func=helper(runtime.dict_set), args=[
                tangents, copy_tree(key), entry(stored)], keywords=[])
        else:                                       # d = {key: v, ...}
            expr = gast.Dict(keys=[copy_tree(k) for k in value.keys],
                             values=[entry(v) for v in value.values])
        self.emit(out, expr, stmt)

    def packed(self, node, line):
        elts = [self.packed(e, line) if isinstance(e, (gast.Tuple, gast.List)) else
                self.full_tangent(e, line) if self.live(e) else self.zero(e) for e in node.elts]
        return type(node)(elts=elts, ctx=gast.Load())

    def rule_tangent(self, stmt, op):
        rule = op.rule
        if rule.output == "all":
            return self.tangents_of_outputs(stmt, op)
        if len(stmt.targets) > 1 and not isinstance(rule.output, int):   # (meshgrid: "each")
            return self.unpacked_tangent(stmt, op)
        out = stmt.targets[rule.output or 0] if len(stmt.targets) > 1 else stmt.targets[0]
        if out not in self.active:
            return
        if rule.func is rules.tape_push:
            return self.emit(out, self.pushed(stmt, op), stmt)
        if rule.func is rules.tape_pop:
            self.popped.add(out)
        elif rule.func is rules.getitem and self.from_tape(op):
            self.loose[out] = self.analysis.fresh_class()
            self.from_tape_values.add(out)
        for param in rule.missing:
            if any(self.live(a) for a in _elements(op.bindings.get(param, make_const(None)))):
                raise self.parsed.error(
                    NoDerivativeRuleError, f"srcgrad has no forward rule for {rule.name} with "
                    f"respect to its argument `{param}`", lineno=stmt.line, construct=rule.name,
                    hint="forward mode over this part of a gradient is not supported yet"
                    if rule.family == "forward" else f"hold `{param}` constant in jvp, or use reverse "
                    "mode (srcgrad.grad) for its derivative")
        elementwise = rule.family == "elementwise"
        if rule.jvp is rules.linear:
            expr = self.linear(stmt, op, elementwise)
        elif rule.jvp is rules.multilinear:
            expr = self.multilinear(stmt, op)
        else:
            expr = self.from_template(rule.jvp or rule.template, op, out, stmt, elementwise)
        if expr is None:                     # every term vanished when it was folded
            expr = self.zero(name_node(out))
        elif isinstance(rule.output, int) and len(stmt.targets) == 1:   # r = np.linalg.slogdet(a)
            zeros = [np_call(self.ns, "zeros_like", gast.Subscript(value=name_node(out), slice=make_const(k),
                                                                   ctx=gast.Load())) for k in range(rule.output)]
            expr = gast.Tuple(elts=zeros + [expr], ctx=gast.Load())
        elif elementwise:
            cls = self.tangent_class(expr)
            here = self.analysis.broadcast_class([op.bindings[p] for p, _ in op.entries])
            if cls != here:                  # smaller than the value: loose
                if out in self.merged:       # (a value several paths set has a full tangent)
                    expr = self.broadcast(expr, out)
                else:
                    self.loose[out] = cls if cls is not None else self.analysis.fresh_class()
        self.emit(out, expr, stmt)

    def tangents_of_outputs(self, stmt, op):
        """`w, v = np.linalg.eigh(a)`: one call gives the tangents of all the outputs (`ans` is
        the tuple of them; the terms of several arguments are summed output by output)."""
        slots = rules.output_slots(op.rule, op.bindings, stmt.targets)
        if op.rule.jvp is rules.linear:
            expr = self.linear(stmt, op, False)
        else:
            ans = gast.Tuple(elts=[name_node(out) if out is not None else make_const(None) for out in slots],
                             ctx=gast.Load())
            terms = self.from_template(op.rule.jvp, op, stmt.targets[0], stmt, False, ans=ans, terms_only=True)
            expr = terms[0] if len(terms) == 1 else gast.Call(
                func=self.ns.reference(rules.sum_tangents, "sum_tangents"), args=terms, keywords=[])
            if len(stmt.targets) == 1:          # one array: its output of the tuple
                expr = gast.Subscript(value=expr, slice=make_const(slots.index(stmt.targets[0])),
                                      ctx=gast.Load())
        self.emit(list(stmt.targets) if len(stmt.targets) > 1 else stmt.targets[0], expr, stmt)

    def unpacked_tangent(self, stmt, op):
        """`a, b = v[k]` (or `v, tape = tape_pop(tape)`): the tangent unpacked the same way.
        What comes off a tape may have a loose tangent (a pushed `0.0` for one without)."""
        rule = op.rule
        if rule.jvp is rules.linear:
            expr = self.linear(stmt, op, False)
        else:
            expr = self.from_template(rule.jvp or rule.template, op, stmt.targets[0], stmt, False)
        if rule.func is rules.tape_pop or self.from_tape(op):
            for t in stmt.targets[:-1] if rule.func is rules.tape_pop else stmt.targets:
                self.loose[t] = self.analysis.fresh_class()
        self.emit(list(stmt.targets), expr, stmt)

    def from_tape(self, op):
        """Whether a getitem reads the values a tape pop gave (`tape_pop(tape)[0]`)."""
        if op.rule.func is not rules.getitem or getattr(op.bindings["a"], "id", None) not in self.popped:
            return False
        index = op.bindings["index"]
        return is_const(index) and const_value(index) == 0

    def pushed(self, stmt, op):
        """`tape_push(t_tape, (t_a, 0.0))`: tangents as they are (loose or not), `0.0` for a
        value without one: what is popped is taken as loose, broadcast where needed."""
        tape, value = op.bindings["tape"], op.bindings["value"]
        replace = {id(tape): self.full_tangent(tape, stmt.line) if self.live(tape) else self.zero(tape)}
        for atom in _elements(value):
            replace[id(atom)] = self.tangent(atom) if self.live(atom) else make_const(0.0)
        return _replaced(stmt.value, replace)

    def linear(self, stmt, op, elementwise):
        """The function applied to the tangents; a zero for each argument without one."""
        replace = {}
        for k, param in enumerate(differentiable(op.rule)):
            bound = op.bindings[param]
            listed = isinstance(bound, (gast.Tuple, gast.List))
            for atom in _elements(bound):
                if self.live(atom):
                    replace[id(atom)] = self.tangent(atom) if elementwise else \
                        self.full_tangent(atom, stmt.line)
                elif listed or (k == 0 and not elementwise):
                    replace[id(atom)] = self.zero(atom)     # an array the result is made of
                else:
                    replace[id(atom)] = make_const(0.0)    # broadcast where it goes
        return _replaced(op.form or stmt.value, replace)

    def multilinear(self, stmt, op):
        """One term per argument with a tangent: the function, that argument replaced."""
        terms = []
        for param in differentiable(op.rule):
            for atom in _elements(op.bindings[param]):
                if self.live(atom):
                    terms.append(_replaced(op.form or stmt.value,
                                           {id(atom): self.full_tangent(atom, stmt.line)}))
        return _total(terms)

    def from_template(self, template, op, out, stmt, elementwise, ans=None, terms_only=False):
        """The sum of the template's terms for the arguments with a tangent."""
        node = templates.lambda_node(template)
        first = node.args.args[0].id         # `g` of a reverse template, `t` of a forward one
        terms = []
        for position, (param, has_term) in enumerate(template_entries(template)):
            bound = op.bindings.get(param)
            if not has_term or bound is None:
                continue
            if isinstance(bound, (gast.Tuple, gast.List)) and templates.template_uses(template, "index"):
                pieces = list(enumerate(bound.elts))
            else:
                pieces = [(None, bound)]
            for index, atom in pieces:
                if not self.live(atom):
                    continue
                bindings = dict(op.bindings, ans=name_node(out) if ans is None else ans, index=make_const(index))
                bindings[first] = self.tangent(atom) if elementwise else self.full_tangent(atom, stmt.line)
                term = templates.instantiate(template, bindings, self.ns)[position]
                if term is not None:
                    terms.append(_DefaultKeywords(self.ns).visit(term))
        return terms if terms_only else _total(terms)

    def custom_tangent(self, stmt, op):
        """`t_y = rule(tangents, y, *args)`, the user's forward rule, called as it is."""
        call, rule = stmt.value, op.rule
        for k in call.keywords:
            if self.live(k.value):
                raise self.parsed.error(
                    UnsupportedSyntaxError, f"a value with a tangent is passed to "
                    f"`{to_source(call.func)}` as the keyword argument `{k.arg}=`, but its forward "
                    "rule gets the tangents of positional arguments only", lineno=stmt.line,
                    construct="keyword argument", hint="pass it positionally")
        tangents = [self.full_tangent(a, stmt.line) if self.live(a) else make_const(0.0)
                    for a in call.args]
        first = tangents[0] if len(tangents) == 1 else gast.Tuple(elts=tangents, ctx=gast.Load())
        ans = name_node(stmt.targets[0]) if len(stmt.targets) == 1 else gast.Tuple(
            elts=[name_node(t) for t in stmt.targets], ctx=gast.Load())
        name = getattr(rule, "__name__", "")
        preferred = name if name.isidentifier() and not keyword.iskeyword(name) else "jvp_rule"
        expr = gast.Call(func=self.ns.reference(rule, preferred),
                         args=[first, ans] + copy_tree(list(call.args)),
                         keywords=copy_tree(list(call.keywords)))
        targets = stmt.targets if len(stmt.targets) > 1 else stmt.targets[0]
        shown = name if preferred == name else "a lambda"
        self.emit(targets, expr, stmt, note=f"custom forward rule of {to_source(call.func)}: {shown}")

    def result_tangent(self, ret):
        name = ret.name
        if name in self.active:
            if name not in self.loose:
                return self.tangent(name_node(name))
            # a result of its own (writable), not a broadcast view
            full = gast.Call(func=gast.Attribute(value=self.broadcast(self.tangent(name_node(name)), name),
                                                 attr="copy", ctx=gast.Load()), args=[], keywords=[])
            result = self.namer.fresh(self.tangent_name(name) + "_full")
            self.primal_of[result] = name
            self.out.append(Line(assign(result, full), ret.line, "forward"))
            return name_node(result)
        return self.zero(name_node(name))

    def packed_layout(self, atom, seen):
        """The tuple (or list) literal a name holds on some path, following copies."""
        if not isinstance(atom, gast.Name) or atom.id in seen:
            return None
        seen.add(atom.id)
        for value in self.definitions.get(atom.id, ()):
            if isinstance(value, (gast.Tuple, gast.List)):
                return value
            found = self.packed_layout(value, seen)
            if found is not None:
                return found
        return None


def differentiate_forward(normal, wrt):
    """The Tangents (generated statements) of `normal` for tangents of parameters `wrt`."""
    return ForwardMode(normal, wrt).run()
