"""Readable names for the values normalization makes: `X @ w` is `X_at_w`, `x ** 2` is
`x_sq`, `np.tanh(z)` is `tanh_z`, so the generated source reads like the user's."""
import ast

import gast

_NUMBER_WORDS = {0: "zero", 1: "one", 2: "two", 3: "three", 4: "four", 5: "five",
                 10: "ten", 0.5: "half"}
_OP_WORDS = {gast.Add: "plus", gast.Sub: "minus", gast.Mult: "times", gast.Div: "over",
             gast.MatMult: "at", gast.Pow: "pow", gast.FloorDiv: "floordiv", gast.Mod: "mod"}
_LONGEST = 18       # longer names fall back to the operation's word


def _word(n):
    if isinstance(n, gast.Name):
        return n.id
    if isinstance(n, gast.Constant) and isinstance(n.value, (int, float)) and n.value in _NUMBER_WORDS:
        return _NUMBER_WORDS[n.value]
    if isinstance(n, gast.Attribute):
        return n.attr
    return None


def _binop_name(node):
    left, right = _word(node.left), _word(node.right)
    name = None
    if isinstance(node.op, gast.Pow) and right in ("two", "three"):
        name = f"{left}_{'sq' if right == 'two' else 'cube'}" if left else None
    elif isinstance(node.op, (gast.Mult, gast.Add)) and isinstance(node.left, gast.Constant) \
            and left and right:     # 3 * b reads best as b_times_three
        name = f"{right}_{_OP_WORDS[type(node.op)]}_{left}"
    elif left and right:
        name = f"{left}_{_OP_WORDS.get(type(node.op), 'op')}_{right}"
    return name or _OP_WORDS.get(type(node.op), "value")


def _call_name(node, is_method):
    fname = _word(node.func) or "call"
    if is_method:
        recv = _word(node.func.value)
        name = f"{recv}_{fname}" if recv else fname
    else:
        arg = _word(node.args[0]) if node.args else None
        name = f"{fname}_{arg}" if arg else fname
    return fname if len(name) > _LONGEST else name


def describe(node, is_global_chain):
    """A readable name for the value of `node` (a one-operation expression);
    `is_global_chain(func)` tells a method call (`x.sum()`) from a function's (`np.sum`)."""
    name = None
    if isinstance(node, gast.BinOp):
        name = _binop_name(node)
    elif isinstance(node, gast.UnaryOp):
        name = f"neg_{_word(node.operand)}" if _word(node.operand) else "neg"
    elif isinstance(node, gast.Call):
        name = _call_name(node, isinstance(node.func, gast.Attribute) and
                          not is_global_chain(node.func))
    elif isinstance(node, gast.Attribute):
        name = f"{_word(node.value)}_{node.attr}"
    elif isinstance(node, gast.Subscript):
        name = f"{_word(node.value) or 'item'}_item"
    elif isinstance(node, gast.Compare):
        name = "mask"
    if name and len(name) > _LONGEST:
        name = _OP_WORDS.get(type(getattr(node, "op", None))) or name.split("_")[0]
    return name or "t"


def source_text(node):
    """The Python source of expression `node` (for messages)."""
    return ast.unparse(gast.gast_to_ast(node))
