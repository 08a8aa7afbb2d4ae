"""Step 4: reverse-mode differentiation of a normalized function.

From the Analysis (analysis.py: each statement's Op, the varied and useful values and
the shape classes), this pass writes the forward statements, then walks the statements
backwards and pastes each rule's adjoint template, summing the adjoints of a value over
all its uses: the first contribution is assigned, later ones added.

An adjoint may be *loose*: smaller than its value but broadcasting to it (the adjoint
of `np.sum(x)` is the scalar `g`, which stands for an array of g's).  Elementwise rules
and reductions take loose adjoints as they are; other rules get them broadcast first.
"""
import gast
import numpy as np

from . import rules, runtime, templates
from .analysis import SCALAR, analyze
from .errors import UnsupportedSyntaxError
from .fold import const_value, copy_tree, make_const
from .ir import (Adjoint, Assign, Branch, Effect, Gradient, IterationEnd, Jump, Line, Loop, ShapeUses,
                 flatten, walk)
from .ir import context_blocks, context_line   # `with` blocks (forward_lines)
from .namespace import Namespace


def name_node(name, store=False):
    return gast.Name(id=name, ctx=gast.Store() if store else gast.Load(),
                     annotation=None, type_comment=None)


def assign(name, value):
    target = (gast.Tuple(elts=[name_node(n, True) for n in name], ctx=gast.Store())
              if isinstance(name, (list, tuple)) else name_node(name, True))
    return gast.Assign(targets=[target], value=value, type_comment=None)


def np_call(ns, func, *args):
    return gast.Call(func=gast.Attribute(value=ns.reference(np, "np"), attr=func, ctx=gast.Load()),
                     args=list(args), keywords=[])


def branch_line(test, line, section, body, orelse):
    header = gast.If(test=name_node(test), body=[], orelse=[])
    return Line(header, line, section, body=body, orelse=orelse)


def _merge_loose(a, b):
    if not a and not b:
        return False
    return "scalar" if a == b == "scalar" else "partial"


class ReverseMode:
    def __init__(self, normal, wrt, with_value, calls=None, vjp=False, full=False):
        self.normal = normal
        self.calls = calls          # names the generated vjp functions of recursive calls
        self.vjp = vjp              # generate a vjp function (a backward closure) instead
        self.full = full or vjp     # gradients in their arguments' shapes (no scalar stand-ins)
        self.backward_names = {}    # id(Assign) -> name of the backward closure it gets
        self.parsed = normal.parsed
        self.wrt = wrt
        self.with_value = with_value
        self.namer = normal.namer
        self.ns = Namespace(self.parsed.func, self.namer, normal.injections)
        self.analysis = analyze(normal, wrt, self.ns, recursive=calls is not None)
        self.varied, self.ops = self.analysis.varied, self.analysis.ops
        self.tokens = dict(self.analysis.classes)   # value name -> shape class (see known_scalar)
        self.adjoints = {}          # value name -> Adjoint, on the path being generated
        self.adjoint_names = {}     # value name -> the name of its adjoint
        self.primal_of = {}         # adjoint name -> value name
        self.lines = []
        self.shape_uses = ShapeUses()
        self.data = set()           # data (not varied) that adjoints multiply by: may be boolean

    def token(self, atom):
        """The shape class of an atom (a name the program does not define: its own)."""
        if isinstance(atom, gast.Name):
            return self.tokens.setdefault(atom.id, frozenset({atom.id}))
        return self.analysis.class_of(atom)

    def is_varied(self, atom):
        return self.analysis.is_varied(atom)

    # --- shape classes -----------------------------------------------------------
    def mark_shape_queries(self, expr):
        """Record uses of a value for its shape only (np.size(x), unbroadcast(g, x)); the
        optimizer may swap x for another value of its shape class that is kept anyway."""
        for node in walk(expr):
            if not isinstance(node, gast.Call):
                continue
            func = node.func
            if isinstance(func, gast.Attribute) and self.ns.object_of(func.value) is np \
                    and func.attr in ("size", "shape", "ndim") and len(node.args) == 1:
                self.shape_uses.queries[id(node)] = (node, func.attr)
                arg = node.args[0]
            elif self.ns.object_of(func) is rules.unbroadcast:
                arg = node.args[1:]
            else:
                continue
            for a in arg if isinstance(arg, list) else [arg]:
                if isinstance(a, gast.Name) and a.id in self.tokens:
                    self.shape_uses.classes[id(a)] = (a, self.tokens[a.id])
        return expr

    # --- what each statement computes ---------------------------------------------
    # --- the passes ----------------------------------------------------------------
    def backward_block(self, body):
        for stmt in reversed(body):
            if isinstance(stmt, Branch):
                self.backward_branch(stmt)
            elif isinstance(stmt, Loop):
                self.backward_loop(stmt)
            elif self.analysis.is_active(stmt):
                self.backward(stmt)
                for t in stmt.targets:            # its definition is done: earlier uses
                    self.adjoints.pop(t, None)    # saw another value (in a loop, say)

    def backward_loop(self, loop):
        """`for _ in range(n_iterations):` restore the iteration's values from the tape,
        then run the body's adjoints.  Adjoints of values from outside the loop (and of
        the carried ones) accumulate over iterations, starting from 0.0."""
        body = list(flatten(loop.body))
        if not any(self.analysis.is_active(s) for s in body):
            return
        inside = set(loop.carried) | {loop.counter} | ({loop.target} if loop.target else set())
        for s in body:
            if isinstance(s, Assign):
                inside.update(s.targets)
                if id(s) in self.backward_names:      # a recursive call's backward closure
                    inside.add(self.backward_names[id(s)])
            elif isinstance(s, Loop):
                inside.update([s.counter] + ([s.target] if s.target else []))
        accumulate = {v for v in loop.carried if v in self.varied and v in self.analysis.useful}
        for s in body:
            if self.analysis.is_active(s):
                for atom in self.ops[id(s)].operands:
                    accumulate.update(n.id for n in walk(atom) if isinstance(n, gast.Name)
                                      and n.id not in inside and n.id in self.varied)
        outer, self.lines = self.lines, []
        for name in sorted(accumulate):
            if name not in self.adjoints:
                self.emit(assign(self.adjoint_name(name), make_const(0.0)), loop.line)
            self.adjoints[name] = Adjoint(self.adjoint_name(name), "partial")
        before_loop, self.lines = self.lines, []
        for name in list(self.adjoints):
            if name in inside and name not in accumulate:
                del self.adjoints[name]
        self.backward_block(loop.body)
        for name in sorted(accumulate):          # the same state at the end of each iteration
            if name not in self.adjoints:
                self.emit(assign(self.adjoint_name(name), make_const(0.0)), loop.line)
            self.adjoints[name] = Adjoint(self.adjoint_name(name), "partial")
        for name in list(self.adjoints):
            if name in inside and name not in accumulate:
                del self.adjoints[name]
        body_lines, self.lines = self.lines, outer
        index = "_" if "_" not in self.namer.taken else self.namer.fresh("iteration")
        header = gast.For(target=name_node(index, store=True),
                          iter=gast.Call(func=name_node("range"), args=[name_node(loop.counter)],
                                         keywords=[]), body=[], orelse=[], type_comment=None)
        self.lines.extend(before_loop)
        # (the tape is placed once the code is final: see optimize.place_tape)
        self.lines.append(Line(header, loop.line, "adjoint", body=body_lines, orelse=[],
                               restores=(loop, inside)))

    def backward_branch(self, branch):
        """`if test:` around the adjoints of each side; an adjoint that only one side
        contributes to is set to 0.0 (a scalar, not a buffer) on the other."""
        if not any(self.analysis.is_active(s) for s in flatten(branch.body + branch.orelse)):
            return
        before, outer = self.adjoints, self.lines
        sides = []
        for side in (branch.body, branch.orelse):
            self.adjoints = {k: Adjoint(v.name, v.loose) for k, v in before.items()}
            self.lines = []
            self.backward_block(side)
            sides.append((self.lines, self.adjoints))
        (then_lines, then_adj), (else_lines, else_adj) = sides
        merged = {}
        for primal in list(then_adj) + [p for p in else_adj if p not in then_adj]:
            a, b = then_adj.get(primal), else_adj.get(primal)
            for missing, present, lines in ((a, b, then_lines), (b, a, else_lines)):
                if missing is None:
                    lines.append(Line(assign(present.name, make_const(0.0)), branch.line, "adjoint"))
            a = a or Adjoint(b.name, "scalar")
            b = b or Adjoint(a.name, "scalar")
            merged[primal] = Adjoint(a.name, _merge_loose(a.loose, b.loose))
        self.adjoints, self.lines = merged, outer
        self.lines.append(branch_line(branch.test, branch.line, "adjoint", then_lines, else_lines))

    def emit(self, stmt, line, section="adjoint", temporary=False):
        self.lines.append(Line(stmt, line, section, temporary))

    def run(self):
        ret = self.normal.body[-1]
        self.lines = forward_lines(self.normal.body, self.ops, self.calls, self.namer,
                                   self.normal.dicts,
                                   self.backward_names)
        if self.tokens.get(ret.name) != SCALAR and not self.vjp:
            self.emit(scalar_check(ret, self.parsed, self.tokens, self.analysis.order, self.ns),
                      ret.line, "forward")
            self.known_scalar(ret.name)         # past the check, the result is a scalar
        seed = self.adjoint_name(ret.name)
        self.adjoints[ret.name] = Adjoint(seed, False)
        if ret.name in self.varied and not self.vjp:
            self.emit(assign(seed, make_const(1.0)), ret.line)
        self.backward_block(self.normal.body)
        if self.full:       # the caller uses these as they are: each in its argument's shape
            for w in self.wrt:
                if w in self.adjoints and w in self.varied:
                    self.materialize(w, ret.line)
            outputs = [name_node(self.adjoints[w].name) if w in self.adjoints and w in self.varied
                       else np_call(self.ns, "zeros_like", name_node(w)) for w in self.wrt]
            name = self.calls.name_for(self.parsed.func, self.wrt) if self.vjp else \
                ("value_and_grad_" if self.with_value else "grad_") + self.parsed.name
        else:
            outputs = [name_node(self.adjoints[w].name) if w in self.adjoints and w in self.varied
                       else make_const(0.0) for w in self.wrt]
            name = ("value_and_grad_" if self.with_value else "grad_") + self.parsed.name
        value = name_node(ret.name) if self.with_value else None
        calls = sorted({op.rule for op in self.ops.values() if op.kind == "vjp_call"},
                       key=lambda r: (r[0].__qualname__, r[1]))
        return Gradient(self.parsed, name, self.lines, outputs, value, self.ns, self.wrt,
                        self.namer, self.tokens, set(self.analysis.numpy_typed),
                        list(self.analysis.order) + list(self.adjoint_names.values()),
                        seed=seed if self.vjp else None, calls=calls, shape_uses=self.shape_uses,
                        data=self.data, backward_name=self.namer.fresh(
                            f"{self.parsed.name}_backward") if self.vjp else None)

    def adjoint_name(self, name):
        """The name of the adjoint of `name`: one name on every path."""
        if name not in self.adjoint_names:
            self.adjoint_names[name] = self.namer.fresh("d" + name)
            self.primal_of[self.adjoint_names[name]] = name
        return self.adjoint_names[name]

    def known_scalar(self, name):
        """Record that `name` is 0-d: then so is every base shape its class broadcasts
        (broadcasting never lowers the number of dimensions)."""
        bases = self.tokens[name]
        self.tokens = {n: t - bases for n, t in self.tokens.items()}

    # --- adjoints -------------------------------------------------------------------
    def contribute(self, name, expr, loose, line):
        """Add `expr` to the adjoint of value `name`."""
        adj = self.adjoints.get(name)
        if adj is None:
            adj = self.adjoints[name] = Adjoint(self.adjoint_name(name), loose)
            self.emit(assign(adj.name, expr), line)
        else:
            self.emit(assign(adj.name, gast.BinOp(left=name_node(adj.name), op=gast.Add(),
                                                  right=expr)), line)
            adj.loose = adj.loose and loose and (
                "scalar" if adj.loose == loose == "scalar" else "partial")

    def materialize(self, name, line):
        """Broadcast a loose adjoint to its value's full shape."""
        adj = self.adjoints[name]
        if adj.loose:
            shape = np_call(self.ns, "shape", name_node(name))
            full = np_call(self.ns, "broadcast_to", name_node(adj.name), shape)
            self.emit(assign(adj.name, self.mark_shape_queries(full)), line)
            adj.loose = False

    def looseness(self, expr, token):
        """How `expr` (elementwise in its leaves) fills shape class `token`: False if in
        full, "scalar" if it is a 0-d stand-in, "partial" if it only broadcasts to it."""
        scalar = True
        for leaf in _elementwise_leaves(expr, self.ns):
            if isinstance(leaf, gast.Name):
                primal = self.primal_of.get(leaf.id)
                if primal is not None:
                    loose = self.adjoints[primal].loose
                    if not loose and self.tokens.get(primal) == token:
                        return False
                    scalar = scalar and (loose == "scalar" or
                                         (not loose and self.tokens.get(primal) == SCALAR))
                else:
                    if self.tokens.get(leaf.id) == token:
                        return False
                    scalar = scalar and self.tokens.get(leaf.id) == SCALAR
            elif isinstance(leaf, gast.Call) and self.shape_uses.query(leaf) in ("size", "ndim"):
                continue
            elif not isinstance(const_value(leaf), (int, float)):
                scalar = False
        return "scalar" if scalar else "partial"

    def backward(self, stmt):
        op, line = self.ops[id(stmt)], stmt.line
        if op.kind == "copy":
            adj = self.adjoints.get(stmt.targets[0])
            if adj is not None:                 # (none: its adjoint is zero on this path)
                self.contribute(stmt.value.id, name_node(adj.name), adj.loose, line)
            return
        if op.kind in ("custom", "vjp_call") and stmt.targets[0] in self.adjoints:
            return self.backward_call(stmt, op)
        if op.kind in ("list_append", "list_pop", "list_snapshot", "list_get", "list_set",
                       "list_build"):
            return self.backward_list(stmt, op)
        if op.kind in ("dict_build", "dict_set", "dict_get"):
            return self.backward_dict(stmt, op)
        if op.kind == "unpack":
            return self.backward_unpack(stmt)
        if op.kind == "pick":
            return self.backward_pick(stmt, op)
        if op.kind != "rule":       # a constant or data on this path: no gradient flows
            return
        if op.rule.output == "each" and len(stmt.targets) > 1:
            return self.backward_each(stmt, op)
        if op.rule.output == "all":
            return self.backward_all(stmt, op)
        self.backward_rule(stmt, op)

    def backward_rule(self, stmt, op):
        """The adjoint of each differentiable argument of a rule, from its template."""
        rule, line = op.rule, stmt.line
        whole = rule.output is not None and len(stmt.targets) == 1   # a tuple held in one name
        out = stmt.targets[rule.output or 0] if len(stmt.targets) > 1 else stmt.targets[0]
        if out not in self.adjoints:
            return
        z_token = self.tokens[out]
        family = rule.family
        adj = self.adjoints[out]
        if family == "vjp" or (family == "reduction" and adj.loose == "partial" and not (
                const_value(op.bindings.get("axis", make_const(None))) is None
                or const_value(op.bindings.get("keepdims")) is True)):
            self.materialize(out, line)
        g = name_node(adj.name)
        # what folding the template may assume: g is 0-d; data (a mask, say) may be boolean
        facts = {"scalars": {adj.name} if adj.loose == "scalar" or (
            not adj.loose and self.tokens[out] == SCALAR) else set(), "data": {
            atom.id for bound in op.bindings.values()
            for atom in (bound.elts if isinstance(bound, (gast.Tuple, gast.List)) else [bound])
            if isinstance(atom, gast.Name) and not self.is_varied(atom)}}
        self.data |= facts["data"]
        bindings = dict(op.bindings, g=g, ans=name_node(out))
        for position, (param, differentiable) in enumerate(op.entries):
            if not differentiable:
                continue
            bound = op.bindings[param]
            template = rule.template
            if isinstance(bound, (gast.Tuple, gast.List)) and templates.template_uses(template, "index"):
                pieces = list(enumerate(bound.elts))
            else:
                pieces = [(None, bound)]
                if isinstance(bound, gast.Name) and templates.template_uses(template, "index", position) and \
                        "index" not in templates.parameters(template)[0]:
                    template = rules.SEQUENCE_RULES.get(rule.func)       # a list built at run time
                    if template is None:
                        raise self.parsed.error(UnsupportedSyntaxError, f"srcgrad cannot differentiate "
                                                f"{rule.name} of a list built in a loop", lineno=line,
                                                construct=rule.name, hint="use np.stack or np.concatenate")
            for index, atom in pieces:
                if not self.is_varied(atom):
                    continue
                if not isinstance(atom, gast.Name):
                    raise self.parsed.error(UnsupportedSyntaxError, f"srcgrad cannot differentiate "
                                            f"{rule.name} of a list held in a variable", lineno=line,
                                            construct=rule.name, hint="write the list out: "
                                            f"{rule.name}([a, b, ...])")
                # (a term without pieces, in a template that has them elsewhere: index is None)
                extra = {"index": make_const(index)} if index is not None or \
                    "index" not in templates.parameters(template)[0] else {}
                if whole:           # its adjoint holds one per output: g is that of ours
                    extra["g"] = gast.Subscript(value=g, slice=make_const(
                        index if rule.output == "each" else rule.output), ctx=gast.Load())
                expr = templates.instantiate(template, dict(bindings, **extra), self.ns, **facts)
                expr = expr[position] if template is rule.template else expr[0]
                expr, loose = self.fit_shape(expr, atom, out, z_token, family)
                self.contribute(atom.id, self.mark_shape_queries(expr), loose, line)

    def backward_all(self, stmt, op):
        """`w, v = np.linalg.eigh(a)`: the template gets `g` and `ans` as tuples, one entry per
        output (`None` for an output without an adjoint, folded away where the template can)."""
        line, slots = stmt.line, rules.output_slots(op.rule, op.bindings, stmt.targets)
        if not any(out in self.adjoints for out in slots if out is not None):
            return
        for out in slots:
            if out in self.adjoints:
                self.materialize(out, line)
        g = gast.Tuple(elts=[name_node(self.adjoints[out].name) if out in self.adjoints else make_const(None)
                             for out in slots], ctx=gast.Load())
        ans = gast.Tuple(elts=[name_node(out) if out is not None else make_const(None) for out in slots],
                         ctx=gast.Load())
        expr = templates.instantiate(op.rule.template, dict(op.bindings, g=g, ans=ans), self.ns)
        for position, (param, differentiable) in enumerate(op.entries):
            atom = op.bindings[param]
            if differentiable and self.is_varied(atom):
                self.contribute(atom.id, self.mark_shape_queries(expr[position]), False, line)

    def backward_each(self, stmt, op):
        """`a, b = np.meshgrid(x, y)`: the adjoint of output i goes to array argument i."""
        (param, _), line = op.entries[0], stmt.line
        for index, atom in enumerate(op.bindings[param].elts[:len(stmt.targets)]):
            out = stmt.targets[index]
            if out not in self.adjoints or not self.is_varied(atom):
                continue
            self.materialize(out, line)
            bindings = dict(op.bindings, g=name_node(self.adjoints[out].name), ans=name_node(out),
                            index=make_const(index))
            expr = templates.instantiate(op.rule.template, bindings, self.ns)[0]
            self.contribute(atom.id, self.mark_shape_queries(expr), False, line)

    def backward_list(self, stmt, op):
        """Lists appended to in a loop: the adjoint of the list is a list of adjoints, taken
        apart in the order the forward pass built it (the last element first)."""
        line, helper = stmt.line, lambda f: self.ns.reference(f, f.__name__)
        if op.kind == "list_set":                   # xs_2 = list_set(xs, i, v)
            out, (old, index, stored) = stmt.targets[0], stmt.value.args
            if out not in self.adjoints:
                return
            d_out = name_node(self.adjoints[out].name)
            where = [copy_tree(index), op.bindings["length"]]
            if self.is_varied(stored):      # (taken off: reads before the write add anew)
                self.contribute(stored.id, gast.Call(func=helper(runtime.take_item), args=[
                    d_out] + where, keywords=[]), "partial", line)
            elif self.is_varied(old):
                d_out = gast.Call(func=helper(runtime.drop_item), args=[d_out] + where, keywords=[])
            if self.is_varied(old):
                self.contribute(old.id, d_out, False, line)
            return
        if op.kind == "list_build":                 # xs = [a, b], then appended to
            out = stmt.targets[0]
            if out in self.adjoints:    # (an element's adjoint may be a scalar standing for it)
                for k, e in enumerate(stmt.value.elts):
                    if self.is_varied(e):
                        self.contribute(e.id, gast.Call(func=helper(runtime.item_adjoint), args=[
                            name_node(self.adjoints[out].name), make_const(k)], keywords=[]),
                            "partial", line)
            return
        if op.kind == "list_get":                   # v = xs[i]: added at i, in place
            out, xs = stmt.targets[0], stmt.value.value.id
            if out in self.adjoints:
                d_xs = name_node(self.adjoints[xs].name) if xs in self.adjoints else make_const(0.0)
                call = gast.Call(func=helper(runtime.add_item), args=[
                    d_xs, copy_tree(stmt.value.slice), op.bindings["length"],
                    name_node(self.adjoints[out].name)], keywords=[])
                if xs in self.adjoints:
                    self.emit(assign(self.adjoints[xs].name, call), line)
                else:
                    self.contribute(xs, call, False, line)
            return
        if op.kind == "list_snapshot":              # now = list_snapshot(xs)
            now = stmt.targets[0]
            if now in self.adjoints:
                self.contribute(stmt.value.args[0].id, gast.Call(
                    func=helper(runtime.list_adjoint), args=[name_node(self.adjoints[now].name),
                                                             name_node(now)], keywords=[]), False, line)
            return
        if op.kind == "list_pop":                    # xs_2, v... = list_pop(xs, n)
            values = stmt.targets[1:]
            for v in values:
                if v in self.adjoints:               # put back as full arrays, not stand-ins
                    self.materialize(v, line)
            args = [name_node(self.adjoints[t].name) if t in self.adjoints else make_const(0.0)
                    for t in stmt.targets]
            if all(isinstance(a, gast.Constant) for a in args):
                return
            old = stmt.value.args[0]
            if self.is_varied(old):
                self.contribute(old.id, gast.Call(func=helper(runtime.list_pop_adjoint), args=args,
                                                  keywords=[]), False, line)
            return
        out = stmt.targets[0]                        # xs_2 = list_append(xs, v)
        if out not in self.adjoints:
            return
        old, value = stmt.value.args
        elements = value.elts if isinstance(value, (gast.Tuple, gast.List)) else [value]
        parts = [self.namer.fresh(f"d{a.id}_part") if isinstance(a, gast.Name) and self.is_varied(a)
                 else "_" for a in [old] + elements]
        call = gast.Call(func=helper(runtime.list_append_adjoint),
                         args=[name_node(self.adjoints[out].name), make_const(len(elements))], keywords=[])
        self.emit(assign(parts, call), line)
        for part, atom in zip(parts, [old] + elements):
            if part != "_":          # an element's adjoint may be a scalar standing for it
                self.contribute(atom.id, name_node(part), False if atom is old else "partial", line)

    def backward_dict(self, stmt, op):
        """Dicts read when the code runs (writes.py): the adjoint of a dict is a dict of
        adjoints (runtime.DictAdjoint), one for all its versions.  A read adds its adjoint
        at its key; a write takes the adjoint at its key off, for the value it stored (the
        reads before the write then add up anew, for the value they saw)."""
        out, line, value = stmt.targets[0], stmt.line, stmt.value
        if out not in self.adjoints:
            return
        helper = lambda f: self.ns.reference(f, f.__name__)
        d_out = name_node(self.adjoints[out].name)
        if op.kind == "dict_get":                   # y = d[key]
            d = value.value.id
            if d not in self.adjoints:
                return self.contribute(d, gast.Call(func=helper(runtime.at_key), args=[
                    copy_tree(value.slice), d_out], keywords=[]), False, line)
            d_in = self.adjoints[d].name            # (another read: added in place, O(1))
            self.emit(assign(d_in, gast.Call(func=helper(runtime.add_at), args=[
                name_node(d_in), copy_tree(value.slice), d_out], keywords=[])), line)
            return
        if op.kind == "dict_set":                   # d_2 = dict_set(d, key, v)
            old, key, stored = value.args
            entries = [(key, stored)]
        else:                                       # d = {key: v, ...}
            old, entries = None, list(zip(value.keys, value.values))
        take = runtime.pop_adjoint if old is not None else runtime.adjoint_at
        for key, stored in entries:   # (an entry's adjoint may be a scalar standing for it)
            if self.is_varied(stored):
                self.contribute(stored.id, gast.Call(func=helper(take), args=[
                    d_out, copy_tree(key)], keywords=[]), "partial", line)
        if old is not None and self.is_varied(old):
            if not self.is_varied(stored):      # what was read of a constant is dropped too
                d_out = gast.Call(func=helper(runtime.without_key), args=[d_out, copy_tree(key)],
                                  keywords=[])
            self.contribute(old.id, d_out, False, line)

    def backward_pick(self, stmt, op):
        """`y = x[i]` of a tuple or list of values: element k's adjoint is y's if i chose it,
        else 0.0 (`pick_adjoint(dy, i, k, n)`), the elements' shapes may differ."""
        out, line = stmt.targets[0], stmt.line
        adj = self.adjoints.get(out)
        if adj is None:
            return
        elements = op.bindings["elements"]
        helper = self.ns.reference(runtime.pick_adjoint, "pick_adjoint")
        for k, atom in enumerate(elements):
            if isinstance(atom, gast.Name) and self.is_varied(atom):
                call = gast.Call(func=helper, args=[name_node(adj.name), copy_tree(op.bindings["index"]),
                                                    make_const(k), make_const(len(elements))], keywords=[])
                self.contribute(atom.id, call, "partial", line)

    def backward_unpack(self, stmt):
        """`a, b = theta`: theta's adjoint is the adjoints of its rows stacked (a row
        without one contributes zeros)."""
        rows = []
        for t in stmt.targets:
            if t in self.adjoints:
                self.materialize(t, stmt.line)
                rows.append(name_node(self.adjoints[t].name))
            else:
                rows.append(np_call(self.ns, "zeros_like", name_node(t)))
        self.contribute(stmt.value.id, np_call(self.ns, "stack", gast.List(elts=rows, ctx=gast.Load())),
                        False, stmt.line)

    def backward_call(self, stmt, op):
        """Gradients of a call with a custom rule, or of a recursive call, from one call of
        the rule (or of the backward closure the forward call returned)."""
        out, line = stmt.targets[0], stmt.line
        self.materialize(out, line)
        g = name_node(self.adjoints[out].name)
        if op.kind == "custom":
            args = op.bindings["args"]
            rule = self.ns.reference(op.rule, op.bindings["shown"])
            call = gast.Call(func=rule, args=[g, name_node(out)] + list(args), keywords=[])
        else:
            args = op.operands
            call = gast.Call(func=name_node(self.backward_names[id(stmt)]), args=[g], keywords=[])
        if len(args) == 1:
            if self.is_varied(args[0]):
                self.contribute(args[0].id, call, False, line)
            return
        parts = [self.namer.fresh(f"d{a.id}_part") if self.is_varied(a) else "_" for a in args]
        self.emit(assign(parts, call), line)
        for part, atom in zip(parts, args):
            if part != "_":
                self.contribute(atom.id, name_node(part), False, line)

    def sum_all(self, expr):
        """`np.sum(expr)` with its 0-d factors taken out: `np.sum(-g * ans / y)` is
        `-np.sum(g * ans) / y`, one pass over the array where there were three."""
        if isinstance(expr, gast.UnaryOp) and isinstance(expr.op, gast.USub):
            return gast.UnaryOp(op=gast.USub(), operand=self.sum_all(expr.operand))
        if isinstance(expr, gast.BinOp) and isinstance(expr.op, (gast.Mult, gast.Div)):
            if self.is_scalar(expr.right):
                return gast.BinOp(left=self.sum_all(expr.left), op=expr.op, right=expr.right)
            if isinstance(expr.op, gast.Mult) and self.is_scalar(expr.left):
                return gast.BinOp(left=expr.left, op=expr.op, right=self.sum_all(expr.right))
            if isinstance(expr.op, gast.Mult) and isinstance(expr.left, gast.UnaryOp) and \
                    isinstance(expr.left.op, gast.USub):
                return gast.UnaryOp(op=gast.USub(), operand=self.sum_all(gast.BinOp(
                    left=expr.left.operand, op=expr.op, right=expr.right)))
        if isinstance(expr, gast.BinOp) and any(
                isinstance(leaf, gast.Name) and leaf.id in self.analysis.numpy_typed
                for leaf in _elementwise_leaves(expr, self.ns)):
            # a NumPy value takes part, so the result is one: its method skips np.sum's
            # dispatch (a third of the cost on a small array)
            return gast.Call(func=gast.Attribute(value=expr, attr="sum", ctx=gast.Load()),
                             args=[], keywords=[])
        return np_call(self.ns, "sum", expr)

    def is_scalar(self, atom):
        """Whether an atom of an adjoint expression is certainly 0-d."""
        if isinstance(const_value(atom), (int, float)):
            return True
        if not isinstance(atom, gast.Name):
            return False
        primal = self.primal_of.get(atom.id)
        if primal is not None:
            return not self.adjoints[primal].loose and self.tokens.get(primal) == SCALAR
        return self.tokens.get(atom.id) == SCALAR

    def fit_shape(self, expr, atom, out, z_token, family):
        """The contribution `expr` made to fit operand `atom`, and how loose it is."""
        x_token = self.token(atom)
        if family == "reduction":
            return expr, self.looseness(self.mark_shape_queries(expr), x_token)
        if family != "elementwise":
            return expr, False
        loose = self.looseness(self.mark_shape_queries(expr), z_token)
        if x_token == z_token:
            return expr, loose
        if loose == "scalar":
            # g stands for a full array of g's: summing it over the broadcast axes of x
            # multiplies it by the number of copies.
            size = np_call(self.ns, "size", name_node(out))
            if x_token == SCALAR:
                return gast.BinOp(left=expr, op=gast.Mult(), right=size), False
            ratio = gast.BinOp(left=size, op=gast.Div(), right=np_call(self.ns, "size", name_node(atom.id)))
            return gast.BinOp(left=expr, op=gast.Mult(), right=ratio), "scalar"
        if x_token == SCALAR:
            if loose:
                helper = self.ns.reference(runtime.sum_over, "sum_over")
                return gast.Call(func=helper, args=[expr, name_node(out)], keywords=[]), False
            return self.sum_all(expr), False
        helper = self.ns.reference(rules.unbroadcast, "unbroadcast")
        args = [expr, name_node(atom.id)] + ([name_node(out)] if loose else [])
        return gast.Call(func=helper, args=args, keywords=[]), False


def forward_lines(body, ops, calls, namer, dicts, backward_names):
    """The forward pass of a gradient: the normalized statements as Lines, each loop
    counting its iterations; a recursive call also returns its backward closure, whose
    name goes into `backward_names` (id of the Assign -> name).  A read of a dict (`dicts`)
    is kept even where nothing needs its value: a missing key raises, as in Python."""
    def block(stmts):
        return forward_lines(stmts, ops, calls, namer, dicts, backward_names)
    lines = []
    for stmt in context_blocks(body):
        if isinstance(stmt, tuple):         # a `with` block: only the forward pass runs in it
            lines.append(context_line(stmt[0], block(stmt[1])))
        elif isinstance(stmt, Assign):
            target = stmt.targets if len(stmt.targets) > 1 else stmt.targets[0]
            value, temporary = stmt.value, stmt.temporary
            op = ops.get(id(stmt))
            if op is not None and op.kind == "vjp_call":    # value and backward closure
                backward = backward_names[id(stmt)] = namer.fresh(f"{target}_backward")
                func = name_node(calls.name_for(*op.rule))
                value = gast.Call(func=func, args=value.args, keywords=value.keywords)
                target, temporary = [target, backward], False
            read = isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name) and \
                value.value.id in dicts
            lines.append(Line(assign(target, value), stmt.line, "forward", temporary, keep=read))
        elif isinstance(stmt, Effect):
            lines.append(Line(stmt.node, stmt.line, "forward"))
        elif isinstance(stmt, Branch):
            lines.append(branch_line(stmt.test, stmt.line, "forward", block(stmt.body),
                                     block(stmt.orelse)))
        elif isinstance(stmt, Loop):
            lines.append(Line(assign(stmt.counter, make_const(0)), stmt.line, "forward"))
            count = Line(assign(stmt.counter, gast.BinOp(left=name_node(stmt.counter), op=gast.Add(),
                                                         right=make_const(1))), stmt.line, "forward")
            if stmt.kind == "for":
                header = gast.For(target=name_node(stmt.target, store=True),
                                  iter=copy_tree(stmt.iterable), body=[], orelse=[],
                                  type_comment=None)
            else:
                header = gast.While(test=make_const(True), body=[], orelse=[])
            lines.append(Line(header, stmt.line, "forward",
                              body=[count] + block(stmt.body), orelse=[],
                              bound_before=set(stmt.carried) | {stmt.counter}))
        elif isinstance(stmt, IterationEnd):
            lines.append(Line(gast.Pass(), stmt.line, "forward", saves_for=stmt.loop))
        elif isinstance(stmt, Jump) and stmt.kind == "break":
            lines.append(Line(gast.Break(), stmt.line, "forward"))
        # (a `continue` always ends its path here, so it is left out)
    return lines


def scalar_check(ret, parsed, classes, order, ns):
    """`if <result not 0-d>: raise`, tested on the values whose shapes the result's
    broadcasts (often just parameters), so the result itself need not be computed."""
    cls = classes[ret.name]
    witnesses = []
    for base in sorted(cls):
        name = base if classes.get(base) == frozenset({base}) else next(
            (n for n in order if classes.get(n) == frozenset({base})), None)
        if name is None:
            witnesses = [ret.name]
            break
        witnesses.append(name)

    def nonscalar_result(*values):
        from .errors import NonScalarResultError
        shape = np.broadcast(*values).shape
        message = f"{parsed.name} must return a scalar to be differentiated, but it " \
                  f"returned a value of shape {shape}"
        hint = "reduce the result to a scalar (np.sum, np.mean), or take the gradient of one element"
        if np.prod(shape) == 1:         # shape (1, 1): the scalar it holds (api.py takes over)
            raise runtime.SizeOneResult(message, parsed.func, shape, filename=parsed.filename,
                                        lineno=ret.line, source_line=parsed.line(ret.line),
                                        hint=hint)
        raise parsed.error(NonScalarResultError, message, lineno=ret.line, hint=hint)
    args = [name_node(w) for w in witnesses]
    ndim = np_call(ns, "ndim", *args) if len(args) == 1 else \
        gast.Attribute(value=gast.Call(func=ns.reference(runtime.broadcast, "broadcast"), args=args,
                                       keywords=[]), attr="ndim", ctx=gast.Load())
    test = gast.Compare(left=ndim, ops=[gast.NotEq()], comparators=[make_const(0)])
    raise_call = gast.Call(func=ns.reference(nonscalar_result, "nonscalar_result"),
                           args=[name_node(w) for w in witnesses], keywords=[])
    return gast.If(test=test, body=[gast.Expr(value=raise_call)], orelse=[])


def _elementwise_leaves(expr, ns):
    """The operands of an elementwise expression (operators, NumPy ufuncs and np.where)."""
    if isinstance(expr, gast.BinOp):
        yield from _elementwise_leaves(expr.left, ns)
        yield from _elementwise_leaves(expr.right, ns)
    elif isinstance(expr, gast.UnaryOp):
        yield from _elementwise_leaves(expr.operand, ns)
    elif isinstance(expr, gast.Compare):
        yield from _elementwise_leaves(expr.left, ns)
        for c in expr.comparators:
            yield from _elementwise_leaves(c, ns)
    elif isinstance(expr, gast.Call) and isinstance(expr.func, gast.Attribute) and \
            ns.object_of(expr.func.value) is np and (
            isinstance(getattr(np, expr.func.attr, None), np.ufunc) or expr.func.attr == "where"):
        for a in expr.args:
            yield from _elementwise_leaves(a, ns)
    else:
        yield expr


def differentiate(normal, wrt, with_value=False, calls=None, vjp=False, full=False):
    """The Gradient (generated statements and outputs) of `normal` w.r.t. parameters `wrt`;
    with `vjp`, of a function returning its value and a backward closure instead; with
    `full`, each gradient in its argument's full shape (for code that differentiates it)."""
    return ReverseMode(normal, tuple(wrt), with_value or vjp, calls, vjp, full).run()
