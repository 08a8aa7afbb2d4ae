"""Step 4: make the generated statements short: no copies, no dead code, no needless names.

- copy propagation: `dz = dloss`, `dloss = 1.0` vanish into their uses, then fold;
- dead-code elimination: only what reaches the returned values stays;
- temporaries srcgrad introduced and used once are inlined back into the expression
  they came from, so the forward pass reads like the user's code again.
Branches are `Line`s with `body`/`orelse`: each pass recurses, and treats a branch as
assigning every name either side assigns.
"""

import gast
import numpy as np

from . import rules, runtime
# NumPy calls that may return (a view of) their first argument rather than a new array
from .aliasing import MAY_RETURN_FIRST_ARGUMENT as _ALIASING_NUMPY
from .fold import copy_tree, fold, is_const, make_const
from .ir import TapePop, all_lines, header, is_loop, loads, targets, walk

_ALIASING_HELPERS = {"unbroadcast", "sum_over", "concatenate_adjoint", "hstack_adjoint", "vstack_adjoint",
                     "column_stack_adjoint", "dstack_adjoint", "rollaxis_adjoint"}
_FRESH_NUMPY = {"sum", "mean", "prod", "where", "outer", "dot", "matmul", "inner", "vdot",
                "tensordot", "take", "cumsum", "triu", "tril", "full", "zeros", "ones"}


def _assigned(line):
    """Names a Line assigns (a branch: what either side assigns; a backward loop: also the
    values its tape restores, although the pops are only placed at the very end)."""
    if line.body is None:
        return targets(line.stmt)
    names = [t for inner in all_lines(line.body + line.orelse) for t in targets(inner.stmt)]
    return names + sorted(line.restores[1]) if line.restores else names


def _nodes(lines):
    """The statement nodes of Lines (branch headers, i.e. their tests, included)."""
    return [line.stmt for line in all_lines(lines)]


class _Substitute(gast.NodeTransformer):
    def __init__(self, mapping):
        self.mapping = mapping

    def visit_Name(self, node):
        if isinstance(node.ctx, gast.Load) and node.id in self.mapping:
            return copy_tree(self.mapping[node.id])
        return node


def _substitute(node, mapping):
    if not mapping:
        return node
    return _Substitute(mapping).visit(node)


def _set_header(line, value):
    if isinstance(line.stmt, gast.For):
        line.stmt.iter = value
    else:
        line.stmt.test = value


class _Copies:
    """Names that copy another name or a constant (name -> that expression), with the
    names each one's value reads, so that binding a name forgets what it invalidates
    without looking at every recorded copy."""

    def __init__(self, values=None, readers=None):
        self.values = values if values is not None else {}     # name -> Name or constant
        self.readers = readers if readers is not None else {}  # name -> copies that read it

    def copy(self):
        return _Copies(dict(self.values), {k: set(v) for k, v in self.readers.items()})

    def record(self, name, value):
        self.forget(name)
        self.values[name] = value
        if isinstance(value, gast.Name):
            self.readers.setdefault(value.id, set()).add(name)

    def forget(self, name):
        """`name` is bound again: neither it nor a copy of it stands for anything now."""
        value = self.values.pop(name, None)
        if isinstance(value, gast.Name):
            self.readers[value.id].discard(name)
        for reader in self.readers.pop(name, ()):
            del self.values[reader]

    def without(self, names):
        kept = self.copy()
        for name in names:
            kept.forget(name)
        return kept


def _propagate(lines, copies, objects, data):
    """Substitute and fold, line by line, recording the copies made along the way (a
    _Copies); `lines` is updated in place."""
    kept = []
    for line in lines:
        stmt = line.stmt
        mapping = copies.values
        if line.body is None and isinstance(stmt, gast.Assign) and \
                isinstance(stmt.targets[0], gast.Name) and \
                isinstance(mapping.get(getattr(stmt.value, "id", None)), gast.Name) and \
                mapping[stmt.value.id].id == stmt.targets[0].id:
            continue                         # `a = b` where b is a copy of a: nothing to do
        if line.body is not None:
            _set_header(line, fold(_substitute(header(line), mapping), rules.STATIC, objects, data=data))
            inner = copies.without(set(_assigned(line))) if is_loop(line) else copies
            _propagate(line.body, inner.copy(), objects, data)
            _propagate(line.orelse, inner.copy(), objects, data)
        elif isinstance(stmt, gast.Assign):
            stmt.value = fold(_substitute(stmt.value, mapping), rules.STATIC, objects, data=data)
        else:
            line.stmt = stmt = fold(_substitute(stmt, mapping), rules.STATIC, objects, data=data)
        for t in _assigned(line):
            copies.forget(t)
        if line.body is None and isinstance(stmt, gast.Assign) and \
                isinstance(stmt.targets[0], gast.Name) and \
                (isinstance(stmt.value, gast.Name) or is_const(stmt.value)):
            if getattr(stmt.value, "id", None) == stmt.targets[0].id:
                continue                     # `a = a`
            copies.record(stmt.targets[0].id, stmt.value)
        kept.append(line)
    lines[:] = kept
    return copies


def propagate_copies(lines, outputs, objects=None, data=frozenset()):
    """Replace names that copy others (`a = b`) or constants by what they copy; `objects`:
    what the namespace's names refer to (for folding calls of static functions); `data`:
    names that may hold booleans (see fold)."""
    copies = _propagate(lines, _Copies(), objects or {}, data).values
    return [fold(_substitute(o, copies), rules.STATIC, objects, data=data) if o is not None
            else None for o in outputs]


def _eliminate(lines, live, shape_uses=None):
    """(kept lines, names live before them); assignments nobody reads are dropped.  With
    `shape_uses`, a use of a value for its shape alone does not keep it."""
    kept = []
    for line in reversed(lines):
        if line.body is not None and is_loop(line):
            # live at the end of an iteration: what is live after the loop, and what the
            # next iteration reads; found by iterating (on copies) until nothing is added
            loop_live = set(live)
            while True:
                _, more = _eliminate([_shallow(x) for x in line.body], set(loop_live),
                                     shape_uses)
                if more <= loop_live:
                    break
                loop_live |= more
            line.body, _ = _eliminate(line.body, set(loop_live), shape_uses)
            if not line.body:
                continue
            live = loop_live | {n.id for n in loads(header(line))}
            kept.append(line)
            continue
        if line.body is not None:
            body, live_body = _eliminate(line.body, set(live), shape_uses)
            orelse, live_else = _eliminate(line.orelse, set(live), shape_uses)
            if not body and not orelse:
                continue
            line.body, line.orelse = body, orelse
            live = live_body | live_else | {n.id for n in loads(line.stmt.test)}
            kept.append(line)
            continue
        bound = targets(line.stmt)
        if isinstance(line.stmt, gast.Assign) and not live.intersection(bound) and not line.keep:
            continue
        live.difference_update(bound)
        live.update(n.id for n in loads(line.stmt)
                    if not (shape_uses is not None and shape_uses.is_shape_use(n)))
        kept.append(line)
    return kept[::-1], live


def _shallow(line):
    """A copy of a Line tree sharing statements (so elimination can be tried, not done)."""
    if line.body is None:
        return line
    copy = type(line)(line.stmt, line.line, line.section, line.temporary,
                      [_shallow(x) for x in line.body], [_shallow(x) for x in line.orelse])
    return copy


def eliminate_dead(lines, outputs):
    live = {n.id for o in outputs if o is not None for n in loads(o)}
    return _eliminate(lines, live)[0]


def inline_temporaries(lines, outputs):
    """Put single-use forward temporaries back into the statement right after them."""
    uses = {}
    for node in _nodes(lines) + [o for o in outputs if o is not None]:
        for n in loads(node):
            uses[n.id] = uses.get(n.id, 0) + 1
    _inline(lines, uses)
    return lines


def _inline(lines, uses):
    """One pass, a line at a time: a temporary used once goes into the line that follows
    it, and so in turn can the temporary that is then just before that line."""
    for line in lines:
        if line.body is not None:
            _inline(line.body, uses)
            _inline(line.orelse, uses)
    kept = []
    for nxt in lines:
        while kept and _inline_into(kept[-1], nxt, uses):
            kept.pop()
        kept.append(nxt)
    lines[:] = kept


def _inline_into(line, nxt, uses):
    """Put `line`, a single-use forward temporary, into `nxt`; whether it was."""
    if not (line.temporary and line.section == "forward" == nxt.section):
        return False
    (name,) = targets(line.stmt) or (None,)
    if nxt.body is not None:       # into a loop header: `for t in range(n):`
        if not isinstance(nxt.stmt, gast.For) or uses.get(name) != 1 or \
                name not in {n.id for n in loads(nxt.stmt.iter)}:
            return False
        nxt.stmt.iter = _substitute(nxt.stmt.iter, {name: line.stmt.value})
        return True
    if not isinstance(nxt.stmt, gast.Assign):
        return False
    if name is None or uses.get(name) != 1 or name not in {n.id for n in loads(nxt.stmt)}:
        return False
    nxt.stmt.value = _substitute(nxt.stmt.value, {name: line.stmt.value})
    return True


def _needed(lines, outputs, params, shape_uses):
    """Names the code computes anyway: live when uses for a shape alone do not count."""
    live = {n.id for o in outputs if o is not None for n in loads(o)}
    kept, _ = _eliminate([_shallow(line) for line in lines], live, shape_uses)
    return set(params) | {t for line in kept for t in _assigned(line)}


class _ShapeQueries(gast.NodeTransformer):
    """Answer each shape-only use from values the code keeps anyway: a value of the same
    shape class, or the NumPy broadcast of values whose classes make it up."""

    def __init__(self, gradient, needed, ns, everywhere, in_loops):
        self.gradient, self.needed, self.ns = gradient, needed, ns
        self.classes, self.uses = gradient.classes, gradient.shape_uses
        self.in_loops = in_loops        # values a forward loop sets (kept only on the tape)
        # NumPy values first (`x.size` is cheaper than `np.size(x)`), then values not set
        # in a loop, earlier ones first; the name last, so the choice is always the same
        position = {n: i for i, n in enumerate(gradient.order)}
        by_preference = sorted(everywhere, key=lambda n: (n not in gradient.numpy_typed,
                                                          n in in_loops, position.get(n, 0), n))
        self.candidates = [n for n in by_preference if n in self.classes]
        self.is_candidate = set(self.candidates)
        self.first_of_class = {}        # shape class -> its preferred candidate
        for name in self.candidates:
            self.first_of_class.setdefault(self.classes[name], name)
        # (a later candidate of a class covers nothing the first one does not)
        self.largest_first = sorted(self.first_of_class.values(),
                                    key=lambda n: -len(self.classes[n]))

    def stand_in(self, node):
        cls = self.uses.shape_class(node)
        if cls is None or node.id in self.is_candidate:
            return node
        if node.id in self.needed and (node.id not in self.in_loops or
                                       cls not in self.first_of_class):
            return node         # (a value set in a loop is best not kept for its shape alone)
        if cls in self.first_of_class:
            return gast.Name(id=self.first_of_class[cls], ctx=gast.Load(), annotation=None,
                             type_comment=None)
        cover, covered = [], frozenset()
        for name in self.largest_first:
            part = self.classes[name]
            if part and part <= cls and not part <= covered:
                cover.append(name)
                covered |= part
        if covered != cls or not cover:
            return node
        call = gast.Call(func=self.ns.reference(runtime.broadcast, "broadcast"),   # (Dask-safe)
                         args=[gast.Name(id=n, ctx=gast.Load(), annotation=None, type_comment=None)
                               for n in cover], keywords=[])
        self.uses.broadcasts[id(call)] = call
        return call

    def visit_Call(self, node):
        query = self.uses.query(node)
        if query and isinstance(node.args[0], gast.Name):
            arg = node.args[0]
            if self.uses.shape_class(arg) == frozenset():   # 0-d
                return make_const({"size": 1, "ndim": 0, "shape": ()}[query])
            arg = self.stand_in(arg)
            if self.uses.is_broadcast(arg) or (
                    isinstance(arg, gast.Name) and arg.id in self.gradient.numpy_typed):
                return gast.Attribute(value=arg, attr=query, ctx=gast.Load())   # x.size: cheaper
            node.args[0] = arg
            if query == "size":     # (np.size would read the data of a Dask array)
                node.func = self.ns.reference(runtime.size, "size")
            return node
        self.generic_visit(node)
        if self.ns.object_of(node.func) is rules.unbroadcast:
            node.args[1:] = [self.stand_in(a) if isinstance(a, gast.Name) else a
                             for a in node.args[1:]]
        return node


def _broadcast_key(node, uses):
    if uses.is_broadcast(node):
        return tuple(a.id for a in node.args)
    return None


class _NameBroadcasts(gast.NodeTransformer):
    def __init__(self, names, uses):
        self.names, self.uses = names, uses

    def visit_Call(self, node):
        key = _broadcast_key(node, self.uses)
        if key in self.names:
            return gast.Name(id=self.names[key], ctx=gast.Load(), annotation=None, type_comment=None)
        self.generic_visit(node)
        return node


def _hoist_broadcasts(gradient, lines, counts=None, names=None):
    """Compute each `np.broadcast(a, b)` that appears more than once just once."""
    if counts is None:
        counts, names = {}, {}
        if not gradient.shape_uses.broadcasts:
            return lines            # (none was made: nothing to look for)
        for node in _nodes(lines):
            for sub in walk(node):
                key = _broadcast_key(sub, gradient.shape_uses)
                if key:
                    counts[key] = counts.get(key, 0) + 1
    out = []
    for line in lines:
        if line.body is not None:     # (a name made inside a block is not seen after it)
            line.body = _hoist_broadcasts(gradient, line.body, counts, dict(names))
            line.orelse = _hoist_broadcasts(gradient, line.orelse, counts, dict(names))
            out.append(line)
            continue
        for node in walk(line.stmt):
            key = _broadcast_key(node, gradient.shape_uses)
            if key and counts[key] > 1 and key not in names:
                names[key] = gradient.namer.fresh("shape_of_" + "_".join(key))
                out.append(type(line)(gast.Assign(
                    targets=[gast.Name(id=names[key], ctx=gast.Store(), annotation=None,
                                       type_comment=None)],
                    value=copy_tree(node), type_comment=None), line.line, line.section))
        if names:
            line.stmt = _NameBroadcasts(names, gradient.shape_uses).visit(line.stmt)
        out.append(line)
    return out


def _available(lines):
    """Names the forward pass binds on every path (so they exist wherever adjoints run)."""
    names = set()
    for line in lines:
        if line.section != "forward":
            continue
        if line.body is not None:
            if not is_loop(line):
                names |= _available(line.body) & _available(line.orelse)
        else:
            names.update(targets(line.stmt))
    return names


def resolve_shape_queries(gradient, lines, outputs):
    """Where a value is used only for its shape, use values the code keeps anyway, so the
    first one need not be kept (or computed at all)."""
    params = gradient.order[:len(gradient.parsed.node.args.args)]
    needed = _needed(lines, outputs, params, gradient.shape_uses)
    in_loops = {t for line in all_lines(lines) if is_loop(line) and line.section == "forward"
                for inner in all_lines(line.body) for t in targets(inner.stmt)}
    rewrite = _ShapeQueries(gradient, needed, gradient.namespace,
                            needed & (_available(lines) | set(params)), in_loops)
    for line in all_lines(lines):
        line.stmt = fold(rewrite.visit(line.stmt), rules.STATIC, gradient.namespace.objects,
                         data=gradient.data)
    return _hoist_broadcasts(gradient, lines)


def _roots(expr, defs, forward, ns, seen=()):
    """The arrays `expr` may share memory with: names of adjoints made fresh, "input" for
    anything the caller may hold (a parameter or a forward value), "?" when unknown."""
    if is_const(expr) or isinstance(expr, (gast.BinOp, gast.UnaryOp, gast.Compare)):
        return set()                                   # arithmetic makes a new array
    if isinstance(expr, gast.Name):
        if expr.id in forward or expr.id not in defs or expr.id in seen:
            return {"input"}
        inner = _roots(defs[expr.id], defs, forward, ns, seen + (expr.id,))
        return {expr.id} if not inner else inner
    if isinstance(expr, gast.IfExp):
        return _roots(expr.body, defs, forward, ns, seen) | _roots(expr.orelse, defs, forward, ns, seen)
    if isinstance(expr, (gast.Attribute, gast.Subscript)):
        return _roots(expr.value, defs, forward, ns, seen)
    if isinstance(expr, gast.Call):
        helper = ns.object_of(expr.func)
        numpy_attr = expr.func.attr if isinstance(expr.func, gast.Attribute) and \
            ns.object_of(expr.func.value) is np else None
        if helper is not None:
            if helper.__name__ in _ALIASING_HELPERS:
                return _roots(expr.args[0], defs, forward, ns, seen)
            return set()
        if numpy_attr is not None:
            if numpy_attr in _ALIASING_NUMPY:
                return _roots(expr.args[0], defs, forward, ns, seen)
            if isinstance(getattr(np, numpy_attr, None), np.ufunc) or numpy_attr in _FRESH_NUMPY:
                return set()
    return {"?"}


def _definitions(lines, defs, forward):
    """Latest definition of each adjoint name; after a branch, either side's."""
    for line in lines:
        if line.body is not None:
            sides = [_definitions(side, dict(defs), forward) for side in (line.body, line.orelse)]
            for name in set(sides[0]) | set(sides[1]):
                a, b = sides[0].get(name), sides[1].get(name)
                defs[name] = a if a is b else gast.IfExp(
                    test=gast.Constant(value=True, kind=None),
                    body=a if a is not None else b, orelse=b if b is not None else a)
            continue
        for t in targets(line.stmt):
            if line.section == "forward" or isinstance(line.stmt, TapePop):
                forward.add(t)              # (a value the tape restores is a forward value)
            else:
                defs[t] = line.stmt.value
    return defs


def output_copies(gradient):
    """Per output, whether the caller must copy it: it may alias an array the caller holds
    (an argument), or another output."""
    forward = set(gradient.order[:len(gradient.parsed.node.args.args)])
    defs = _definitions(gradient.lines, {}, forward)
    flags, claimed = [], set()
    for o in gradient.outputs:
        roots = _roots(o, defs, forward, gradient.namespace)
        flags.append(bool(roots & ({"input", "?"} | claimed)))
        claimed |= roots
    return flags


def optimize(gradient):
    """Optimize the Gradient's statements in place: copies propagated, dead code removed,
    shape-only uses answered from values kept anyway, single-use temporaries put back."""
    ends = gradient.outputs + [gradient.value]
    ends = propagate_copies(gradient.lines, ends, gradient.namespace.objects, gradient.data)
    gradient.outputs, gradient.value = ends[:-1], ends[-1]
    lines = eliminate_dead(gradient.lines, ends)
    lines = resolve_shape_queries(gradient, lines, ends)
    lines = eliminate_dead(lines, ends)
    gradient.lines = inline_temporaries(lines, ends)
