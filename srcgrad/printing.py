"""Python source of a standard-library AST: srcgrad's own printer of generated code.

One line per statement, no line wrapping, and no more parentheses than the grammar needs
(`return dw, db`, `x ** -1`, `a[1:, None]`), so that what `.source` shows reads like code
written by hand.  It touches no AST class that Python 3.12 deprecates and 3.14 removes
(`ast.Num`, `ast.Str`, ...): numbers and strings are `ast.Constant` since Python 3.8.
A construct generated code never contains (`await`, `match`, ...) is printed by
`ast.unparse`.
"""
import ast
import math

# How tightly each kind of expression binds, loosest first: an operand is put in
# parentheses when it binds more loosely than its place in the enclosing expression needs.
(TUPLE, YIELD, NAMED, TEST, OR, AND, NOT, CMP, BOR, BXOR, BAND, SHIFT, ARITH, TERM,
 FACTOR, POWER, AWAIT, ATOM) = range(18)

BINARY = {  # operator class: (text, precedence)
    ast.BitOr: ("|", BOR), ast.BitXor: ("^", BXOR), ast.BitAnd: ("&", BAND),
    ast.LShift: ("<<", SHIFT), ast.RShift: (">>", SHIFT),
    ast.Add: ("+", ARITH), ast.Sub: ("-", ARITH),
    ast.Mult: ("*", TERM), ast.MatMult: ("@", TERM), ast.Div: ("/", TERM),
    ast.FloorDiv: ("//", TERM), ast.Mod: ("%", TERM), ast.Pow: ("**", POWER),
}
UNARY = {ast.UAdd: "+", ast.USub: "-", ast.Invert: "~", ast.Not: "not "}
COMPARE = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">",
           ast.GtE: ">=", ast.Is: "is", ast.IsNot: "is not", ast.In: "in",
           ast.NotIn: "not in"}
INDENT = "    "


def source(node):
    """The source text of an `ast` statement, list of statements or expression, without a
    trailing newline."""
    if isinstance(node, list):
        return "\n".join(source(n) for n in node)
    if isinstance(node, ast.Module):
        return source(node.body)
    if isinstance(node, ast.expr):
        return expression(node, TUPLE)
    if isinstance(node, ast.arguments):
        return arguments(node)
    return "\n".join(statement(node, ""))


# --- expressions ------------------------------------------------------------------------

def expression(node, context):
    """`node` as it reads where an expression binding at least as tightly as `context` is
    expected: in parentheses if it binds more loosely."""
    text, binds = _expression(node)
    return f"({text})" if binds < context else text


def _expression(node):
    """(text, precedence) of an expression."""
    printer = _EXPRESSIONS.get(type(node))
    if printer is None:                # an f-string is an atom; await, yield: parenthesized
        return ast.unparse(node), ATOM if isinstance(node, ast.JoinedStr) else YIELD
    return printer(node)


def _constant(node):
    value = node.value
    if value is Ellipsis:
        return "...", ATOM
    if isinstance(value, float) and not math.isfinite(value):
        if math.isnan(value):
            return "(1e1000 - 1e1000)", ATOM
        return ("-1e1000", FACTOR) if value < 0 else ("1e1000", ATOM)
    if isinstance(value, complex):
        return ast.unparse(node), ARITH
    text = repr(value)
    # a negative number reads as a unary minus: (-1) ** x, (-1).real
    return text, FACTOR if isinstance(value, (int, float)) and text.startswith("-") else ATOM


def _binop(node):
    op, binds = BINARY[type(node.op)]
    if binds == POWER:       # right-associative; its right operand may be -x
        left, right = expression(node.left, AWAIT), expression(node.right, FACTOR)
    else:
        left, right = expression(node.left, binds), expression(node.right, binds + 1)
    return f"{left} {op} {right}", binds


def _unaryop(node):
    binds = NOT if isinstance(node.op, ast.Not) else FACTOR
    return UNARY[type(node.op)] + expression(node.operand, binds), binds


def _boolop(node):
    binds = AND if isinstance(node.op, ast.And) else OR
    word = " and " if binds == AND else " or "
    return word.join(expression(v, binds + 1) for v in node.values), binds


def _compare(node):
    parts = [expression(node.left, CMP + 1)]
    for op, right in zip(node.ops, node.comparators):
        parts += [COMPARE[type(op)], expression(right, CMP + 1)]
    return " ".join(parts), CMP


def _ifexp(node):
    return (f"{expression(node.body, OR)} if {expression(node.test, OR)} else "
            f"{expression(node.orelse, TEST)}"), TEST


def _lambda(node):
    args = arguments(node.args)
    return f"lambda {args}: {expression(node.body, TEST)}" if args else \
        f"lambda: {expression(node.body, TEST)}", TEST


def _named(node):
    return f"{expression(node.target, ATOM)} := {expression(node.value, TEST)}", NAMED


def _tuple(node):
    if not node.elts:
        return "()", ATOM
    items = ", ".join(expression(e, TEST) for e in node.elts)
    return (items + "," if len(node.elts) == 1 else items), TUPLE


def _items(elts):
    return ", ".join(expression(e, TEST) for e in elts)


def _dict(node):
    items = [f"**{expression(v, BOR)}" if k is None else
             f"{expression(k, TEST)}: {expression(v, TEST)}" for k, v in zip(node.keys, node.values)]
    return "{" + ", ".join(items) + "}", ATOM


def _comprehensions(generators):
    text = ""
    for g in generators:
        text += " async for " if g.is_async else " for "
        text += f"{expression(g.target, TUPLE)} in {expression(g.iter, OR)}"
        text += "".join(f" if {expression(c, OR)}" for c in g.ifs)
    return text


def _comprehension(open_, close):
    return lambda node: (open_ + expression(node.elt, TEST) +
                         _comprehensions(node.generators) + close, ATOM)


def _dictcomp(node):
    return ("{" + f"{expression(node.key, TEST)}: {expression(node.value, TEST)}" +
            _comprehensions(node.generators) + "}"), ATOM


def _attribute(node):
    value = node.value
    text = expression(value, ATOM)
    if isinstance(value, ast.Constant) and isinstance(value.value, (int, float)) \
            and not text.startswith("("):
        text = f"({text})"                   # (1).real, not 1.real
    return f"{text}.{node.attr}", ATOM


def _call(node):
    args = [expression(a, TEST) for a in node.args]
    if len(node.args) == 1 and not node.keywords and isinstance(node.args[0], ast.GeneratorExp):
        args = [args[0][1:-1]]               # f(x for x in y): the call's parentheses suffice
    args += [f"**{expression(k.value, TEST)}" if k.arg is None else
             f"{k.arg}={expression(k.value, TEST)}" for k in node.keywords]
    return f"{expression(node.func, ATOM)}({', '.join(args)})", ATOM


def _index(node):
    """What goes between the brackets of a subscript."""
    if isinstance(node, ast.Tuple) and node.elts:
        items = ", ".join(_index(e) if isinstance(e, ast.Slice) else expression(e, TEST)
                          for e in node.elts)
        return items + "," if len(node.elts) == 1 else items
    if isinstance(node, ast.Slice):
        text = ":".join(["" if part is None else expression(part, TEST)
                         for part in (node.lower, node.upper)])
        return text + (f":{expression(node.step, TEST)}" if node.step is not None else "")
    return expression(node, TUPLE)


def _subscript(node):
    return f"{expression(node.value, ATOM)}[{_index(node.slice)}]", ATOM


_EXPRESSIONS = {
    ast.Name: lambda node: (node.id, ATOM),
    ast.Constant: _constant,
    ast.BinOp: _binop,
    ast.UnaryOp: _unaryop,
    ast.BoolOp: _boolop,
    ast.Compare: _compare,
    ast.IfExp: _ifexp,
    ast.Lambda: _lambda,
    ast.NamedExpr: _named,
    ast.Tuple: _tuple,
    ast.List: lambda node: (f"[{_items(node.elts)}]", ATOM),
    ast.Set: lambda node: ("{" + _items(node.elts) + "}", ATOM),
    ast.Dict: _dict,
    ast.ListComp: _comprehension("[", "]"),
    ast.SetComp: _comprehension("{", "}"),
    ast.GeneratorExp: _comprehension("(", ")"),
    ast.DictComp: _dictcomp,
    ast.Attribute: _attribute,
    ast.Call: _call,
    ast.Subscript: _subscript,
    ast.Starred: lambda node: ("*" + expression(node.value, BOR), ATOM),
}


def arguments(args):
    """A parameter list, without its parentheses: `a, /, b=1, *c, d, **e`."""
    positional = list(getattr(args, "posonlyargs", [])) + list(args.args)
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    parts = []
    for i, (a, default) in enumerate(zip(positional, defaults)):
        parts.append(_parameter(a, default))
        if i + 1 == len(getattr(args, "posonlyargs", [])):
            parts.append("/")
    if args.vararg is not None:
        parts.append("*" + _parameter(args.vararg, None))
    elif args.kwonlyargs:
        parts.append("*")
    parts += [_parameter(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    if args.kwarg is not None:
        parts.append("**" + _parameter(args.kwarg, None))
    return ", ".join(parts)


def _parameter(arg, default):
    text = arg.arg
    if arg.annotation is not None:
        text += f": {expression(arg.annotation, TEST)}"
    if default is not None:
        text += (" = " if arg.annotation is not None else "=") + expression(default, TEST)
    return text


# --- statements -------------------------------------------------------------------------

def statement(node, indent):
    """The lines of a statement at `indent`."""
    printer = _STATEMENTS.get(type(node))
    if printer is None:
        return [indent + line for line in ast.unparse(node).splitlines()]
    return printer(node, indent)


def _block(body, indent):
    return [line for stmt in body for line in statement(stmt, indent + INDENT)]


def _simple(text_of):
    return lambda node, indent: [indent + text_of(node)]


def _assign(node):
    targets = " = ".join(expression(t, TUPLE) for t in node.targets)
    return f"{targets} = {expression(node.value, TUPLE)}"


def _augassign(node):
    op = BINARY[type(node.op)][0]
    return f"{expression(node.target, TUPLE)} {op}= {expression(node.value, TUPLE)}"


def _annassign(node):
    target = expression(node.target, ATOM)
    if not node.simple and isinstance(node.target, ast.Name):
        target = f"({target})"
    value = f" = {expression(node.value, TUPLE)}" if node.value is not None else ""
    return f"{target}: {expression(node.annotation, TEST)}{value}"


def _optional(keyword, value):
    return keyword if value is None else f"{keyword} {expression(value, TUPLE)}"


def _raise(node):
    if node.exc is None:
        return "raise"
    cause = f" from {expression(node.cause, TEST)}" if node.cause is not None else ""
    return f"raise {expression(node.exc, TEST)}{cause}"


def _assert(node):
    message = f", {expression(node.msg, TEST)}" if node.msg is not None else ""
    return f"assert {expression(node.test, TEST)}{message}"


def _if(node, indent, keyword="if"):
    lines = [f"{indent}{keyword} {expression(node.test, NAMED)}:"] + _block(node.body, indent)
    if len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If):
        return lines + _if(node.orelse[0], indent, "elif")
    if node.orelse:
        lines += [f"{indent}else:"] + _block(node.orelse, indent)
    return lines


def _else(node, indent):
    return [f"{indent}else:"] + _block(node.orelse, indent) if node.orelse else []


def _for(node, indent):
    keyword = "async for" if isinstance(node, ast.AsyncFor) else "for"
    head = f"{indent}{keyword} {expression(node.target, TUPLE)} in {expression(node.iter, TUPLE)}:"
    return [head] + _block(node.body, indent) + _else(node, indent)


def _while(node, indent):
    return ([f"{indent}while {expression(node.test, NAMED)}:"] + _block(node.body, indent) +
            _else(node, indent))


def _with(node, indent):
    items = ", ".join(expression(i.context_expr, TEST) +
                      (f" as {expression(i.optional_vars, TEST)}" if i.optional_vars else "")
                      for i in node.items)
    keyword = "async with" if isinstance(node, ast.AsyncWith) else "with"
    return [f"{indent}{keyword} {items}:"] + _block(node.body, indent)


def _function(node, indent):
    decorators = [f"{indent}@{expression(d, TEST)}" for d in node.decorator_list]
    keyword = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    returns = f" -> {expression(node.returns, TEST)}" if node.returns is not None else ""
    return decorators + [f"{indent}{keyword} {node.name}({arguments(node.args)}){returns}:"] + \
        _block(node.body, indent)


_STATEMENTS = {
    ast.Expr: _simple(lambda node: expression(node.value, TUPLE)),
    ast.Assign: _simple(_assign),
    ast.AugAssign: _simple(_augassign),
    ast.AnnAssign: _simple(_annassign),
    ast.Return: _simple(lambda node: _optional("return", node.value)),
    ast.Delete: _simple(lambda node: "del " + ", ".join(expression(t, TEST)
                                                        for t in node.targets)),
    ast.Pass: _simple(lambda node: "pass"),
    ast.Break: _simple(lambda node: "break"),
    ast.Continue: _simple(lambda node: "continue"),
    ast.Raise: _simple(_raise),
    ast.Assert: _simple(_assert),
    ast.Global: _simple(lambda node: "global " + ", ".join(node.names)),
    ast.Nonlocal: _simple(lambda node: "nonlocal " + ", ".join(node.names)),
    ast.If: _if,
    ast.For: _for,
    ast.AsyncFor: _for,
    ast.While: _while,
    ast.With: _with,
    ast.AsyncWith: _with,
    ast.FunctionDef: _function,
    ast.AsyncFunctionDef: _function,
}
