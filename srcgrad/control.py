"""Pass 2: restructure control flow so that every `return`, `break` and `continue` is the
last statement of its path.

What follows an `if` that ends on some paths moves into the branches that do not, so the
SSA pass never has to merge a path that left.  A `return` inside a loop first becomes a
`break` out of it (with a flag saying it returned), since loops have one exit.

A path that ends in `raise` never reaches what follows either, but it leaves the function
altogether: `if bad: raise E(...)` (else `rest`) becomes the check `if bad: raise E(...)`
followed by `rest`, a statement of its own (normalize.py keeps it whole, as an `Effect`),
so nothing of the raising path is merged or differentiated.  A `return` at the end of a
`with` block moves after it, its value computed inside.
"""
import gast

from .fold import copy_tree


def has_return(stmt):
    """Whether `stmt` contains a `return` of the function it is in (not of a nested one)."""
    if isinstance(stmt, (gast.FunctionDef, gast.Lambda)):
        return False
    if isinstance(stmt, gast.Return):
        return True
    return any(has_return(child) for child in gast.iter_child_nodes(stmt))


def _always_ends(stmts, kinds):
    """Whether every path through a block ends in a statement of one of `kinds`."""
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, kinds):
        return True
    return isinstance(last, gast.If) and _always_ends(last.body, kinds) and \
        _always_ends(last.orelse, kinds)


def always_returns(stmts):
    """Whether every path through a block ends in a `return`."""
    return _always_ends(stmts, gast.Return)


def jumps(stmt):
    """Whether a statement contains a `break`/`continue` of the enclosing loop."""
    if isinstance(stmt, (gast.Break, gast.Continue)):
        return True
    if isinstance(stmt, gast.If):
        return any(jumps(s) for s in stmt.body + stmt.orelse)
    return False


def _always_jumps(stmts):
    return _always_ends(stmts, (gast.Break, gast.Continue))


def _move_rest_into_branches(stmts, ends, contains_end, always_ends):
    """Rewrite a block so that every statement that `ends` a path is the last of it: what
    follows an `if` that ends on some paths moves into the branches that do not (what
    follows an end, which never runs, is dropped)."""
    out = []
    for i, stmt in enumerate(stmts):
        if ends(stmt):
            out.append(stmt)
            return out
        if isinstance(stmt, gast.If) and contains_end(stmt):
            rest = stmts[i + 1:]
            for side in ("body", "orelse"):
                block = getattr(stmt, side)
                if not always_ends(block):
                    block = block + copy_tree(rest)
                setattr(stmt, side, _move_rest_into_branches(block, ends, contains_end, always_ends))
            out.append(stmt)
            return out
        out.append(stmt)
    return out


def restructure_jumps(stmts):
    """Every `break`/`continue` of a loop body ends its path."""
    return _move_rest_into_branches(stmts, lambda s: isinstance(s, (gast.Break, gast.Continue)),
                                    jumps, _always_jumps)


def always_raises(stmts):
    """Whether every path through a block ends in a `raise`."""
    return _always_ends(stmts, gast.Raise)


def is_raise_check(stmt):
    """`if test: <block that always raises>` without `else`: a check (see separate_raises)."""
    return isinstance(stmt, gast.If) and not stmt.orelse and always_raises(stmt.body)


def separate_raises(stmts):
    """Each `if` one side of which always raises becomes a check (`if test: <that side>`,
    with `not test` for the `else` side) followed by the other side and the rest of the
    block: a path that raises leaves the function, so nothing of it merges.  What follows a
    `raise` (or an `if` all of whose paths raise) never runs and is dropped."""
    out = []
    for i, stmt in enumerate(stmts):
        if isinstance(stmt, gast.If):
            body_raises, else_raises = always_raises(stmt.body), always_raises(stmt.orelse)
            if body_raises and else_raises:
                out.append(stmt)
                return out
            if body_raises or else_raises:
                raising, other = (stmt.body, stmt.orelse) if body_raises else (stmt.orelse, stmt.body)
                test = stmt.test if body_raises else gast.copy_location(
                    gast.UnaryOp(op=gast.Not(), operand=stmt.test), stmt.test)
                out.append(gast.copy_location(gast.If(test=test, body=raising, orelse=[]), stmt))
                return out + separate_raises(other + stmts[i + 1:])
            stmt.body, stmt.orelse = separate_raises(stmt.body), separate_raises(stmt.orelse)
        elif isinstance(stmt, (gast.For, gast.While, gast.With)):
            stmt.body = separate_raises(stmt.body)
        out.append(stmt)
        if isinstance(stmt, gast.Raise):
            return out
    return out


def _own_jumps(stmts, in_loop=False):
    """The `return`s of a block, and its `break`s and `continue`s not of a loop inside it."""
    for stmt in stmts:
        if isinstance(stmt, gast.Return) or (
                isinstance(stmt, (gast.Break, gast.Continue)) and not in_loop):
            yield stmt
        elif isinstance(stmt, gast.If):
            yield from _own_jumps(stmt.body + stmt.orelse, in_loop)
        elif isinstance(stmt, (gast.For, gast.While)):
            yield from _own_jumps(stmt.body, True)
        elif isinstance(stmt, gast.With):
            yield from _own_jumps(stmt.body, in_loop)


def jumps_out_of_with(stmt):
    """The first `return`/`break`/`continue` that leaves a `with` block early, or None (a
    `return` ending its block was moved after it by `lift_with_returns`)."""
    return next(_own_jumps(stmt.body), None)


def lift_with_returns(stmts, namer):
    """`with cm: ...; return e` becomes `with cm: ...; result = e` then `return result`."""
    out = []
    for stmt in stmts:
        if isinstance(stmt, gast.If):
            stmt.body, stmt.orelse = lift_with_returns(stmt.body, namer), lift_with_returns(stmt.orelse, namer)
        elif isinstance(stmt, (gast.For, gast.While, gast.With)):
            stmt.body = lift_with_returns(stmt.body, namer)
        out.append(stmt)
        if isinstance(stmt, gast.With) and stmt.body and isinstance(stmt.body[-1], gast.Return) \
                and stmt.body[-1].value is not None and jumps_out_of_with(
                    gast.With(items=stmt.items, body=stmt.body[:-1], type_comment=None)) is None:
            ret = stmt.body[-1]
            result = namer.fresh("result")
            stmt.body[-1] = _assign(result, ret.value, ret)
            out.append(gast.copy_location(gast.Return(value=_named(result)), ret))
    return out


def restructure_returns(stmts, namer):
    """Every `return` ends its path; one inside a loop first becomes a `break` out of it.
    `namer` (an ir.Namer) names the flag and the result such a loop sets.  (Checks that
    raise are separated first, see `separate_raises`.)"""
    stmts = lift_with_returns(separate_raises(stmts), namer)
    return _move_rest_into_branches(lift_loop_returns(stmts, namer),
                                    lambda s: isinstance(s, gast.Return),
                                    lambda s: not isinstance(s, gast.FunctionDef) and has_return(s),
                                    always_returns)


def _breaks(stmts):
    """Whether a loop body has a `break` of its own (not of a loop inside it)."""
    for stmt in stmts:
        if isinstance(stmt, gast.Break):
            return True
        if isinstance(stmt, gast.If) and (_breaks(stmt.body) or _breaks(stmt.orelse)):
            return True
    return False


def _named(node_id, store=False):
    return gast.Name(id=node_id, ctx=gast.Store() if store else gast.Load(),
                     annotation=None, type_comment=None)


def _assign(name, value, like):
    return gast.copy_location(gast.Assign(targets=[_named(name, True)], value=value,
                                          type_comment=None), like)


def _returns_as_breaks(block, flag, result):
    """A loop body with each `return e` as `result = e; flag = True; break` (and `if flag:
    break` after each inner loop it leaves)."""
    new = []
    for s in block:
        if isinstance(s, gast.Return):
            new += [_assign(result, s.value, s), _assign(flag, gast.Constant(value=True, kind=None), s),
                    gast.copy_location(gast.Break(), s)]
        elif isinstance(s, gast.If):
            s.body = _returns_as_breaks(s.body, flag, result)
            s.orelse = _returns_as_breaks(s.orelse, flag, result)
            new.append(s)
        elif isinstance(s, (gast.For, gast.While)) and has_return(s):
            s.body = _returns_as_breaks(s.body, flag, result)
            new += [s, gast.copy_location(gast.If(
                test=_named(flag), body=[gast.copy_location(gast.Break(), s)], orelse=[]), s)]
        else:
            new.append(s)
    return new


def lift_loop_returns(stmts, namer):
    """`return e` inside a loop becomes `result = e; returned = True; break` (and `if returned:
    break` after each loop it leaves), with `if returned: return result` after the loop."""
    out = []
    for stmt in stmts:
        if not (isinstance(stmt, (gast.For, gast.While)) and has_return(stmt)):
            out.append(stmt)
            continue
        flag = namer.fresh("returned")
        result = namer.fresh("early_result")
        endless = isinstance(stmt, gast.While) and isinstance(stmt.test, gast.Constant) \
            and stmt.test.value is True and not _breaks(stmt.body)
        stmt.body = _returns_as_breaks(stmt.body, flag, result)
        leave = gast.copy_location(gast.Return(value=_named(result)), stmt)
        out += [_assign(flag, gast.Constant(value=False, kind=None), stmt), stmt,
                leave if endless else gast.copy_location(
                    gast.If(test=_named(flag), body=[leave], orelse=[]), stmt)]
    return out
