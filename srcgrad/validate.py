"""Pass 1: refuse what cannot be differentiated, at its own line, before anything is rewritten
(a `yield` or `try` would otherwise surface later as a missing `return`).

`raise` and `with` pass here: control.py keeps a `raise` under a condition as a check, and
normalize.py keeps `with np.errstate(...)` / `with warnings.catch_warnings()` blocks and
refuses other context managers (it can look up what a `with` calls)."""
import gast

from .errors import UnsupportedSyntaxError

# Statements and expressions this version refuses, with what to tell the user (`with` and
# `raise` only in the forms normalize.py cannot keep).
UNSUPPORTED_STATEMENTS = {
    gast.AsyncFor: ("`async for` loop", None),
    gast.With: ("`with` statement", "only `with np.errstate(...):` and `with warnings.catch_warnings():` "
                "are kept; move other `with` blocks outside the differentiated function"),
    gast.AsyncWith: ("`async with` statement", None),
    gast.Try: ("`try` statement", "move error handling outside the differentiated function (call the "
               "gradient inside `try`); to validate inputs, use `if <bad>: raise ...`"),
    gast.FunctionDef: ("decorated nested function", "define the helper without decorators"),
    gast.AsyncFunctionDef: ("`async def`", "async functions cannot be differentiated"),
    gast.ClassDef: ("class definition", "define classes at module level"),
    gast.Global: ("`global` declaration", "pass the value in as an argument"),
    gast.Nonlocal: ("`nonlocal` declaration", "pass the value in as an argument"),
    gast.Delete: ("`del` statement", "remove the `del`; srcgrad keeps the values it needs"),
    gast.Import: ("`import` inside the function", "import at module level"),
    gast.ImportFrom: ("`import` inside the function", "import at module level"),
    gast.Raise: ("`raise` statement", "raise under a condition (`if x.ndim != 2: raise ValueError(...)`): "
                 "srcgrad keeps such checks; a function must return a scalar on the other paths"),
}
UNSUPPORTED_EXPRESSIONS = {
    gast.Lambda: ("lambda", "bind the lambda to a name first (`act = lambda z: ...`), or use `def`"),
    gast.SetComp: ("set comprehension", "use a list comprehension"),
    gast.DictComp: ("dict comprehension", "use a list comprehension, or a dict literal with constant keys"),
    gast.Set: ("set literal", None),
    gast.Yield: ("`yield`", "return one scalar instead of generating values"),
    gast.YieldFrom: ("`yield from`", "return one scalar instead of generating values"),
    gast.Await: ("`await`", "async code cannot be differentiated"),
    gast.NamedExpr: ("assignment expression `:=`", "assign with a separate statement"),
    gast.Starred: ("starred expression `*x`", None),
}


def unsupported(parsed, node, table):
    """The error refusing `node`, a statement or expression of `parsed`'s code listed in `table`."""
    construct, hint = table.get(type(node), (type(node).__name__, None))
    return parsed.error(UnsupportedSyntaxError,
                        f"srcgrad cannot differentiate a function containing a {construct}",
                        node=node, construct=construct, hint=hint)


def _walk_own_scope(node):
    yield node
    if isinstance(node, (gast.FunctionDef, gast.Lambda)):
        return                       # its own scope: checked if it is called
    for child in gast.iter_child_nodes(node):
        yield from _walk_own_scope(child)


def reject_unsupported(parsed, stmts):
    """Raise for the first refused statement or expression in `stmts` (code of `parsed`)."""
    for stmt in stmts:
        for node in _walk_own_scope(stmt):
            if isinstance(node, (gast.Yield, gast.YieldFrom, gast.Await)):
                raise unsupported(parsed, node, UNSUPPORTED_EXPRESSIONS)
            if type(node) in UNSUPPORTED_STATEMENTS and not (
                    isinstance(node, gast.FunctionDef) and not node.decorator_list) and \
                    not isinstance(node, (gast.With, gast.Raise)):
                raise unsupported(parsed, node, UNSUPPORTED_STATEMENTS)
