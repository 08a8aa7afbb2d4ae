"""Step 4: make the generated statements short: no copies, no dead code, no needless names.

- copy propagation: `dz = dloss`, `dloss = 1.0` vanish into their uses, then fold;
- dead-code elimination: only what reaches the returned values stays;
- temporaries srcgrad introduced and used once are inlined back into the expression
  they came from, so the forward pass reads like the user's code again.
Works on straight-line code, where a name's latest assignment is the one in force.
"""
import copy

import gast
import numpy as np

from . import rules
from .fold import fold, is_const

# Calls whose result is a new array, never a view of an input (see `output_copies`).
_FRESH_NUMPY = {"sum", "mean", "prod", "where", "outer", "dot", "matmul", "inner", "vdot",
                "tensordot", "take", "cumsum", "triu", "tril", "full", "zeros", "ones"}
_VIEW_HELPERS = {"unbroadcast", "concatenate_adjoint", "hstack_adjoint", "vstack_adjoint"}


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
            return copy.deepcopy(self.mapping[node.id])
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


def _is_fresh(expr):
    """Whether `expr` certainly makes a new array (rather than returning or viewing one)."""
    if isinstance(expr, (gast.BinOp, gast.UnaryOp, gast.Compare)) or is_const(expr):
        return True
    if isinstance(expr, gast.IfExp):
        return _is_fresh(expr.body) and _is_fresh(expr.orelse)
    if isinstance(expr, gast.Call):
        obj = getattr(expr.func, "srcgrad_object", None)
        if obj is not None:
            return obj.__name__ not in _VIEW_HELPERS
        if isinstance(expr.func, gast.Attribute) and \
                getattr(expr.func.value, "srcgrad_object", None) is np:
            return isinstance(getattr(np, expr.func.attr, None), np.ufunc) or \
                expr.func.attr in _FRESH_NUMPY
    return False


def output_copies(lines, outputs):
    """Per output, whether the caller must copy it (it may alias an input or another output)."""
    last = {}
    for line in lines:
        for t in _targets(line.stmt):
            last[t] = line.stmt.value
    flags = []
    for o in outputs:
        if isinstance(o, gast.Name):
            flags.append(o.id not in last or not _is_fresh(last[o.id]))
        else:
            flags.append(not _is_fresh(o))
    names = [o.id for o in outputs if isinstance(o, gast.Name)]
    return [f or (isinstance(o, gast.Name) and names.count(o.id) > 1) for f, o in zip(flags, outputs)]


def optimize(gradient):
    """Optimize the Gradient's statements in place; returns per-output copy flags."""
    ends = gradient.outputs + [gradient.value]
    ends = propagate_copies(gradient.lines, ends)
    gradient.outputs, gradient.value = ends[:-1], ends[-1]
    lines = eliminate_dead(gradient.lines, ends)
    gradient.lines = inline_temporaries(lines, ends)
    return output_copies(gradient.lines, gradient.outputs)
