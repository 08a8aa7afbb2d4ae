"""Step 4: make the generated statements short: no copies, no dead code, no needless names.

- copy propagation: `dz = dloss`, `dloss = 1.0` vanish into their uses, then fold;
- dead-code elimination: only what reaches the returned values stays;
- temporaries srcgrad introduced and used once are inlined back into the expression
  they came from, so the forward pass reads like the user's code again.
Works on straight-line code, where a name's latest assignment is the one in force.
"""

import gast
import numpy as np

from . import rules
from .fold import copy_tree, fold, is_const

# Calls that may return (a view of) their first argument rather than a new array.
_ALIASING_NUMPY = {"reshape", "ravel", "transpose", "swapaxes", "moveaxis", "expand_dims",
                   "squeeze", "broadcast_to", "flip", "asarray", "array"}
_ALIASING_HELPERS = {"unbroadcast", "concatenate_adjoint", "hstack_adjoint", "vstack_adjoint"}
_FRESH_NUMPY = {"sum", "mean", "prod", "where", "outer", "dot", "matmul", "inner", "vdot",
                "tensordot", "take", "cumsum", "triu", "tril", "full", "zeros", "ones"}


def _loads(node):
    return [n for n in gast.walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)]


def _targets(stmt):
    if isinstance(stmt, gast.Assign):
        return [n.id for n in gast.walk(stmt.targets[0]) if isinstance(n, gast.Name)]
    return []


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


def propagate_copies(lines, outputs):
    copies = {}
    for line in lines:
        stmt = line.stmt
        if isinstance(stmt, gast.Assign):
            stmt.value = fold(_substitute(stmt.value, copies), rules.STATIC)
        else:
            line.stmt = fold(_substitute(stmt, copies), rules.STATIC)
        for t in _targets(line.stmt):
            copies = {k: v for k, v in copies.items()
                      if k != t and t not in {n.id for n in _loads(v)}}
        if isinstance(stmt, gast.Assign) and isinstance(stmt.targets[0], gast.Name) and \
                (isinstance(stmt.value, gast.Name) or is_const(stmt.value)) and \
                stmt.value is not None and getattr(stmt.value, "id", None) != stmt.targets[0].id:
            copies[stmt.targets[0].id] = stmt.value
    return [fold(_substitute(o, copies), rules.STATIC) if o is not None else None for o in outputs]


def eliminate_dead(lines, outputs):
    live = {n.id for o in outputs if o is not None for n in _loads(o)}
    kept = []
    for line in reversed(lines):
        targets = _targets(line.stmt)
        if isinstance(line.stmt, gast.Assign) and not live.intersection(targets):
            continue
        live.difference_update(targets)
        live.update(n.id for n in _loads(line.stmt))
        kept.append(line)
    return kept[::-1]


def inline_temporaries(lines, outputs):
    """Put single-use forward temporaries back into the statement right after them."""
    uses = {}
    for node in [line.stmt for line in lines] + [o for o in outputs if o is not None]:
        for n in _loads(node):
            uses[n.id] = uses.get(n.id, 0) + 1
    changed = True
    while changed:
        changed = False
        for i in range(len(lines) - 1):
            line, nxt = lines[i], lines[i + 1]
            if not (line.temporary and line.section == "forward" == nxt.section):
                continue
            (name,) = _targets(line.stmt) or (None,)
            if name is None or uses.get(name) != 1 or name not in {n.id for n in _loads(nxt.stmt)}:
                continue
            if isinstance(nxt.stmt, gast.Assign):
                nxt.stmt.value = _substitute(nxt.stmt.value, {name: line.stmt.value})
            else:
                continue
            del lines[i]
            changed = True
            break
    return lines


class _ShapeAttributes(gast.NodeTransformer):
    """`np.size(x)` -> `x.size` where x is certainly a NumPy object (an attribute is cheaper)."""

    def __init__(self, numpy_typed):
        self.numpy_typed = numpy_typed

    def visit_Call(self, node):
        self.generic_visit(node)
        query = getattr(node, "srcgrad_shape_query", None)
        if query and isinstance(node.args[0], gast.Name) and node.args[0].id in self.numpy_typed:
            return gast.Attribute(value=node.args[0], attr=query, ctx=gast.Load())
        return node


def resolve_shape_queries(gradient, lines, outputs):
    """Where a value is used only for its shape, use a value of the same shape class that
    the code keeps anyway, so the first one need not be kept (or computed at all)."""
    nodes = [line.stmt for line in lines] + [o for o in outputs if o is not None]
    real = {n.id for node in nodes for n in _loads(node) if not hasattr(n, "srcgrad_shape_class")}
    params = set(gradient.order[:len(gradient.parsed.node.args.args)])
    stand_in = {}
    for prefer_numpy in (True, False):
        for name in gradient.order:
            cls = gradient.classes.get(name)
            usable = name in real or (name in params and not prefer_numpy)
            if cls is not None and usable and cls not in stand_in and \
                    (name in gradient.numpy_typed or not prefer_numpy):
                stand_in[cls] = name
    for node in nodes:
        for n in _loads(node):
            cls = getattr(n, "srcgrad_shape_class", None)
            if cls is not None and n.id not in real and cls in stand_in:
                n.id = stand_in[cls]
    rewrite = _ShapeAttributes(gradient.numpy_typed)
    for line in lines:
        line.stmt = rewrite.visit(line.stmt)


def _roots(expr, defs, forward, seen=()):
    """The arrays `expr` may share memory with: names of adjoints made fresh, "input" for
    anything the caller may hold (a parameter or a forward value), "?" when unknown."""
    if is_const(expr) or isinstance(expr, (gast.BinOp, gast.UnaryOp, gast.Compare)):
        return set()                                   # arithmetic makes a new array
    if isinstance(expr, gast.Name):
        if expr.id in forward or expr.id not in defs or expr.id in seen:
            return {"input"}
        inner = _roots(defs[expr.id], defs, forward, seen + (expr.id,))
        return {expr.id} if not inner else inner
    if isinstance(expr, gast.IfExp):
        return _roots(expr.body, defs, forward, seen) | _roots(expr.orelse, defs, forward, seen)
    if isinstance(expr, (gast.Attribute, gast.Subscript)):
        return _roots(expr.value, defs, forward, seen)
    if isinstance(expr, gast.Call):
        helper = getattr(expr.func, "srcgrad_object", None)
        numpy_attr = expr.func.attr if isinstance(expr.func, gast.Attribute) and \
            getattr(expr.func.value, "srcgrad_object", None) is np else None
        if helper is not None:
            if helper.__name__ in _ALIASING_HELPERS:
                return _roots(expr.args[0], defs, forward, seen)
            return set()
        if numpy_attr is not None:
            if numpy_attr in _ALIASING_NUMPY:
                return _roots(expr.args[0], defs, forward, seen)
            if isinstance(getattr(np, numpy_attr, None), np.ufunc) or numpy_attr in _FRESH_NUMPY:
                return set()
    return {"?"}


def output_copies(gradient, lines, outputs):
    """Per output, whether the caller must copy it: it may alias an array the caller holds
    (an argument), or another output."""
    defs, forward = {}, set(gradient.order[:len(gradient.parsed.node.args.args)])
    for line in lines:
        for t in _targets(line.stmt):
            if line.section == "forward":
                forward.add(t)
            else:
                defs[t] = line.stmt.value
    flags, claimed = [], set()
    for o in outputs:
        roots = _roots(o, defs, forward)
        flags.append(bool(roots & ({"input", "?"} | claimed)))
        claimed |= roots
    return flags


def optimize(gradient):
    """Optimize the Gradient's statements in place; returns per-output copy flags."""
    ends = gradient.outputs + [gradient.value]
    ends = propagate_copies(gradient.lines, ends)
    gradient.outputs, gradient.value = ends[:-1], ends[-1]
    lines = eliminate_dead(gradient.lines, ends)
    resolve_shape_queries(gradient, lines, ends)
    lines = eliminate_dead(lines, ends)
    gradient.lines = inline_temporaries(lines, ends)
    return output_copies(gradient, gradient.lines, gradient.outputs)
