"""Constant folding and the algebra that keeps generated adjoints short.

Applied to instantiated templates (where `axis is None` or `x2 - 1` are known at
transform time) and again after the optimizer substitutes constants (the seed 1.0).
"""
import math
import operator

import gast

_BINOPS = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
           gast.Div: operator.truediv, gast.Pow: operator.pow, gast.FloorDiv: operator.floordiv,
           gast.Mod: operator.mod}
_COMPARE = {gast.Eq: operator.eq, gast.NotEq: operator.ne, gast.Lt: operator.lt,
            gast.LtE: operator.le, gast.Gt: operator.gt, gast.GtE: operator.ge,
            gast.Is: operator.is_, gast.IsNot: operator.is_not}
_NO_VALUE = object()


def copy_tree(node):
    """A copy of a syntax tree."""
    if isinstance(node, list):
        return [copy_tree(n) for n in node]
    if not isinstance(node, gast.AST):
        return node
    new = node.__class__.__new__(node.__class__)
    new.__dict__.update((k, copy_tree(v)) for k, v in node.__dict__.items())
    return new


def const_value(node):
    """The Python value of a constant expression node, or _NO_VALUE."""
    if isinstance(node, gast.Constant):
        return node.value
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd)):
        v = const_value(node.operand)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return -v if isinstance(node.op, gast.USub) else v
    if isinstance(node, gast.Tuple):
        values = [const_value(e) for e in node.elts]
        if all(v is not _NO_VALUE for v in values):
            return tuple(values)
    return _NO_VALUE


def is_const(node):
    return const_value(node) is not _NO_VALUE


def make_const(value):
    """A node for `value`: plain Python numbers (never NumPy scalars), negatives as unary
    minus (so `(-1.0) ** 2` keeps its parentheses when printed).  None if not representable."""
    if value is None or isinstance(value, (bool, str)):
        return gast.Constant(value=value, kind=None)
    if isinstance(value, tuple):
        elts = [make_const(v) for v in value]
        if any(e is None for e in elts):
            return None
        return gast.Tuple(elts=elts, ctx=gast.Load())
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()  # a NumPy scalar
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and math.isfinite(value):
        number = value
    else:
        return None
    if number < 0 or (number == 0 and math.copysign(1, number) < 0):
        return gast.UnaryOp(op=gast.USub(), operand=gast.Constant(value=-number, kind=None))
    return gast.Constant(value=number, kind=None)


def _truth(test):
    """The truth value of a condition, when it is known (`x or True` is true whatever x is)."""
    v = const_value(test)
    if v is not _NO_VALUE:
        return bool(v)
    if isinstance(test, gast.BoolOp):
        known = [bool(const_value(e)) for e in test.values if is_const(e)]
        if isinstance(test.op, gast.Or) and any(known):
            return True
        if isinstance(test.op, gast.And) and not all(known) and known:
            return False
    return _NO_VALUE


def _is_number(node, number):
    v = const_value(node)
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == number


def _is_scalar(node, scalars):
    """Whether `node` is certainly a 0-d value: a number, or a name in `scalars`."""
    if isinstance(node, gast.Name) and node.id in scalars:
        return True
    v = const_value(node)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return True
    if isinstance(node, gast.BinOp) and isinstance(node.op, (gast.Mult, gast.Div, gast.Add, gast.Sub)):
        return _is_scalar(node.left, scalars) and _is_scalar(node.right, scalars)
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        return _is_scalar(node.operand, scalars)
    return False


# NumPy functions whose result is boolean (masks), as templates and user code spell them.
_BOOLEAN_FUNCS = {"equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
                  "logical_and", "logical_or", "logical_not", "logical_xor", "isnan", "isinf",
                  "isfinite", "signbit", "isclose", "allclose", "array_equal", "all", "any"}


def _maybe_boolean(node, data):
    """Whether `node` may hold booleans: a mask (`x >= lo`, `a & b`), or a value of the
    user's data (a name in `data`: its dtype is unknown).  `1.0 * mask` is then
    not `mask`: adjoints are numbers, and booleans add as `or` and cannot be negated."""
    if isinstance(node, (gast.Compare, gast.BoolOp)):
        return True
    if isinstance(node, gast.UnaryOp):
        return isinstance(node.op, (gast.Not, gast.Invert)) or _maybe_boolean(node.operand, data)
    if isinstance(node, gast.BinOp):
        if isinstance(node.op, (gast.BitAnd, gast.BitOr, gast.BitXor)):
            return True
        if isinstance(node.op, gast.Div):
            return False
        return _maybe_boolean(node.left, data) and _maybe_boolean(node.right, data)
    if isinstance(node, gast.Constant):
        return isinstance(node.value, bool)
    if isinstance(node, gast.Name):
        return node.id in data
    if isinstance(node, gast.Call):
        return getattr(node.func, "attr", getattr(node.func, "id", None)) in _BOOLEAN_FUNCS
    return False


def _negate(node):
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        return node.operand
    return gast.UnaryOp(op=gast.USub(), operand=node)


class _Folder(gast.NodeTransformer):
    def __init__(self, static_functions, objects, scalars, data):
        self.static, self.objects = static_functions, objects
        self.scalars, self.data = scalars, data

    def visit_BinOp(self, node):
        self.generic_visit(node)
        left, right, op = node.left, node.right, type(node.op)
        lv, rv = const_value(left), const_value(right)
        if lv is not _NO_VALUE and rv is not _NO_VALUE and op in _BINOPS:
            try:
                folded = make_const(_BINOPS[op](lv, rv))
            except Exception:  # e.g. 1 / 0: leave it for run time
                folded = None
            if folded is not None:
                return folded
        if op is gast.Mult and isinstance(right, gast.BinOp) and isinstance(right.op, gast.Mult) \
                and _is_scalar(left, self.scalars) and _is_scalar(right.left, self.scalars):
            # g * (0.5 * Y) -> (g * 0.5) * Y: one multiplication of an array instead of two
            return self.visit(gast.BinOp(left=gast.BinOp(left=left, op=gast.Mult(), right=right.left),
                                         op=gast.Mult(), right=right.right))
        if op is gast.Mult:      # (times 1 or -1 a boolean stays a product: a number)
            if _is_number(left, 1) and not _maybe_boolean(right, self.data):
                return right
            if _is_number(right, 1) and not _maybe_boolean(left, self.data):
                return left
            if _is_number(left, -1) and not _maybe_boolean(right, self.data):
                return _negate(right)
            if _is_number(right, -1) and not _maybe_boolean(left, self.data):
                return _negate(left)
        if op in (gast.Div, gast.Pow) and _is_number(right, 1):
            return left
        if op is gast.Add and _is_number(left, 0) and not _maybe_boolean(right, self.data):
            return right
        if op in (gast.Add, gast.Sub) and _is_number(right, 0) and not _maybe_boolean(left, self.data):
            return left
        if op is gast.Add and lv is False:      # `ans + (g == 0)` where g is a known 1.0
            return right
        if op in (gast.Add, gast.Sub) and rv is False:
            return left
        if op is gast.Sub and _is_number(left, 0) and not _maybe_boolean(right, self.data):
            return _negate(right)
        if op is gast.BitAnd:  # `True & (a <= hi)` from a clip bound that is None
            if lv is True and isinstance(right, gast.Compare):
                return right
            if rv is True and isinstance(left, gast.Compare):
                return left
        return node

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        v = const_value(node.operand)
        if isinstance(node.op, gast.Not) and v is not _NO_VALUE:
            return make_const(not v)
        if isinstance(node.op, gast.USub):
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return make_const(-v)
            if isinstance(node.operand, gast.UnaryOp) and isinstance(node.operand.op, gast.USub):
                return node.operand.operand
        return node

    def visit_Attribute(self, node):
        self.generic_visit(node)
        if node.attr == "T" and isinstance(const_value(node.value), (int, float)):
            return node.value        # `g.T` of a transpose's template, g a known number
        if node.attr == "real" and isinstance(const_value(node.value), (int, float)):
            return node.value        # `g.real` of a rule for complex values, g a real number
        return node

    def visit_Compare(self, node):
        self.generic_visit(node)
        if len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
            lv, rv = const_value(node.left), const_value(node.comparators[0])
            if lv is not _NO_VALUE and rv is not _NO_VALUE:
                return make_const(bool(_COMPARE[type(node.ops[0])](lv, rv)))
        return node

    def visit_BoolOp(self, node):
        self.generic_visit(node)
        is_or = isinstance(node.op, gast.Or)
        values = list(node.values)
        while len(values) > 1:
            v = const_value(values[0])
            if v is _NO_VALUE:
                break
            if bool(v) == is_or:      # `True or ...` / `False and ...`
                return values[0]
            values.pop(0)             # `False or x` / `True and x`
        if len(values) == 1:
            return values[0]
        node.values = values
        return node

    def visit_IfExp(self, node):
        self.generic_visit(node)
        v = _truth(node.test)
        if v is not _NO_VALUE:
            return node.body if v else node.orelse
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        func = self.objects.get(node.func.id) if isinstance(node.func, gast.Name) else None
        if func in self.static and not node.keywords:
            args = [const_value(a) for a in node.args]
            if all(a is not _NO_VALUE for a in args):
                folded = make_const(func(*args))
                if folded is not None:
                    return folded
        return node


def fold(node, static_functions=frozenset(), objects=None, scalars=frozenset(), data=frozenset()):
    """Fold constants and trivial algebra in an expression (or statement) tree.  Calls of
    `static_functions` on constants are evaluated (`objects`: what names refer to); names
    in `scalars` are 0-d; names in `data` may hold booleans."""
    return _Folder(static_functions, objects or {}, scalars, data).visit(node)
