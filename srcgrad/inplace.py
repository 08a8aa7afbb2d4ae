"""Step 4b: sums a backward loop builds are added into in place, as a person writes them.

A weight used in every step of a recurrence gets its gradient summed over the steps:
`dW = dW + np.dot(dz, h.T)` each iteration allocates a new array of W's size, where a
hand-written backward pass writes `dW += np.dot(dz, h.T)`.  This pass gives such sums
`dW = accumulate(dW, np.dot(dz, h.T))` (runtime.accumulate adds in place when the shapes
and dtypes agree) where that is safe: `dW` starts the loop as the number `0.0`, so its
first sum makes a new array that nothing else holds, and inside the loop nothing but
those sums reads or binds it.  Only sums of matrix products are rewritten (all of one
name's sums, if one of them is): they are the large arrays (for small ones the call costs
more than the array it saves).
"""
import gast
import numpy as np

from . import runtime
from .fold import const_value
from .ir import Line, all_lines, is_loop, loads, targets


def accumulate_in_place(lines, ns):
    """Rewrite the sums of backward loops in `lines` (and nested blocks), in place."""
    for k, line in enumerate(lines):
        if line.body is None:
            continue
        if is_loop(line) and line.section == "adjoint":
            for name in _started_at_zero(lines[:k]):
                _rewrite(line, name, ns)
        accumulate_in_place(line.body, ns)
        accumulate_in_place(line.orelse or [], ns)


def _started_at_zero(before):
    """Names bound to 0.0 in the lines just before a loop (nothing reading them between)."""
    names = []
    for line in reversed(before):
        if line.body is not None or not isinstance(line.stmt, gast.Assign):
            break
        bound = targets(line.stmt)
        if len(bound) == 1 and const_value(line.stmt.value) == 0.0 and \
                not isinstance(const_value(line.stmt.value), bool):
            names.append(bound[0])
        else:
            break
    return names


def _part(value, name):
    """The added part if `value` is `name + part` (part not reading name), else None."""
    if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Add) and \
            isinstance(value.left, gast.Name) and value.left.id == name and \
            not any(n.id == name for n in loads(value.right)):
        return value.right
    return None


def _is_product(part, ns):
    if isinstance(part, gast.IfExp):        # a rule choosing by rank: either side
        return _is_product(part.body, ns) or _is_product(part.orelse, ns)
    if isinstance(part, gast.BinOp) and isinstance(part.op, gast.MatMult):
        return True
    if not isinstance(part, gast.Call):
        return False
    try:
        func = ns.lookup(part.func)
    except Exception:       # (not a function of the user's namespace)
        return False
    return any(func is f for f in (np.dot, np.matmul, np.outer))


def _rewrite(loop, name, ns):
    sums, others = [], False
    for line in all_lines(loop.body):
        stmt = line.stmt
        if line.body is not None:
            others = others or any(n.id == name for n in loads(stmt.iter if isinstance(
                stmt, gast.For) else stmt.test))
            continue
        part = _part(stmt.value, name) if isinstance(stmt, gast.Assign) and \
            targets(stmt) == [name] else None
        if part is not None:
            sums.append((stmt, part))
        elif name in targets(stmt) or any(n.id == name for n in loads(stmt)):
            others = True
    if others or not any(_is_product(part, ns) for _, part in sums):
        return
    helper = ns.reference(runtime.accumulate, "accumulate")
    for stmt, part in sums:
        stmt.value = gast.Call(func=helper, args=[stmt.value.left, part], keywords=[])


# --- shape queries of values a backward loop does not change ------------------------------
_QUERIES = ("ndim", "shape", "size")


def hoist_shape_queries(lines, ns, namer, params):
    """`np.ndim(W)` in a backward loop, `W` a parameter nothing in the loop binds, is asked
    once before the loop (`ndim_W = np.ndim(W)`): a rule choosing by rank asks it in every
    iteration otherwise.  (Only parameters: they are bound even where the loop runs no
    iteration after a branch that bound something else.)"""
    k = 0
    while k < len(lines):
        line = lines[k]
        if line.body is not None:
            hoist_shape_queries(line.body, ns, namer, params)
            hoist_shape_queries(line.orelse or [], ns, namer, params)
            if is_loop(line) and line.section == "adjoint":
                hoisted = _hoist(line, ns, namer, params)
                lines[k:k] = hoisted
                k += len(hoisted)
        k += 1


def _query(node, ns):
    if isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
            node.func.attr in _QUERIES and len(node.args) == 1 and not node.keywords and \
            isinstance(node.args[0], gast.Name):
        try:
            return ns.lookup(node.func) is getattr(np, node.func.attr)
        except Exception:       # (not a name of the user's namespace)
            return False
    return False


def _hoist(loop, ns, namer, params):
    bound = {loop.stmt.target.id} if isinstance(loop.stmt, gast.For) and \
        isinstance(loop.stmt.target, gast.Name) else set()
    for line in all_lines(loop.body):
        bound.update(targets(line.stmt))
        if line.body is not None and isinstance(line.stmt, gast.For):
            bound.update(n.id for n in gast.walk(line.stmt.target) if isinstance(n, gast.Name))
    names, hoisted = {}, []

    class Replace(gast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            if not _query(node, ns) or node.args[0].id in bound or node.args[0].id not in params:
                return node
            key = (node.func.attr, node.args[0].id)
            if key not in names:
                names[key] = namer.fresh(f"{node.func.attr}_{node.args[0].id}")
                hoisted.append(Line(gast.Assign(targets=[gast.Name(id=names[key], ctx=gast.Store(),
                                                                   annotation=None, type_comment=None)],
                                                value=node, type_comment=None), loop.line, "adjoint"))
            return gast.Name(id=names[key], ctx=gast.Load(), annotation=None, type_comment=None)
    for line in all_lines(loop.body):
        if line.body is None and isinstance(line.stmt, gast.Assign):
            line.stmt.value = Replace().visit(line.stmt.value)
        elif line.body is not None and isinstance(line.stmt, gast.If):
            line.stmt.test = Replace().visit(line.stmt.test)
    return hoisted
