"""Pass 7 (after SSA): refuse an in-place update of an array that another name still reads.

`a += b` and `x[i] = v` update an array in place in Python, and with it every name that
shares its memory; the SSA form rebinds `a` (or `x`) only.  So when another name for the
same memory is read after the update, the normalized program would compute something else
than Python does: refuse it.  This module also holds the one table of functions whose
result may share memory with their argument (optimize.py reads it too).
"""
import gast

from .errors import UnsupportedSyntaxError
from .ir import Assign, Branch, IterationEnd, Jump, Loop, Return, flatten
from .naming import source_text

# Functions and methods (`np.reshape(x, s)`, `x.reshape(s)`) whose result may be a view of
# their first argument (or receiver).
VIEW_FUNCTIONS = frozenset({
    "reshape", "ravel", "transpose", "swapaxes", "moveaxis", "expand_dims", "squeeze",
    "asarray", "asanyarray", "broadcast_to", "diagonal", "flip", "fliplr", "flipud",
    "atleast_1d", "atleast_2d", "atleast_3d", "view", "real", "imag"})
# Attributes that are views of the array they are read from.
VIEW_ATTRIBUTES = frozenset({"T", "mT", "real", "imag"})
# `np.array(x)` copies by default (it is how the error below tells users to make a copy),
# but `np.array(x, copy=False)` does not: optimize.py, which decides whether a gradient's
# output needs a copy and does not read keywords, must count it as possibly its argument.
MAY_RETURN_FIRST_ARGUMENT = VIEW_FUNCTIONS | {"array"}

_AUG_SYMBOLS = {gast.Add: "+=", gast.Sub: "-=", gast.Mult: "*=", gast.Div: "/=",
                gast.Pow: "**=", gast.MatMult: "@=", gast.FloorDiv: "//=", gast.Mod: "%="}


def shared_source(value):
    """The name whose memory the value of `value` may share, if any."""
    if isinstance(value, gast.Name):
        return value.id
    if isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name):
        return value.value.id
    if isinstance(value, gast.Attribute) and isinstance(value.value, gast.Name) and \
            value.attr in VIEW_ATTRIBUTES | VIEW_FUNCTIONS:
        return value.value.id
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
            value.func.attr in VIEW_FUNCTIONS | VIEW_ATTRIBUTES:
        receiver = value.func.value
        if isinstance(receiver, gast.Name) and receiver.id not in ("np", "numpy"):
            return receiver.id                       # x.reshape(...)
        if value.args and isinstance(value.args[0], gast.Name):
            return value.args[0].id                  # np.reshape(x, ...)
    return None


def after(block, marker):
    """The statements that run after `marker` on its path (not in a sibling branch)."""
    for i, stmt in enumerate(block):
        if stmt is marker:
            return list(flatten(block[i + 1:]))
        inner = None
        if isinstance(stmt, Branch):
            inner = after(stmt.body, marker)
            if inner is None:
                inner = after(stmt.orelse, marker)
        elif isinstance(stmt, Loop):
            inner = after(stmt.body, marker)
            if inner is not None:           # the next iteration runs the whole body again
                inner += list(flatten(stmt.body))
        if inner is not None:
            return inner + list(flatten(block[i + 1:]))
    return None


def _sharing_groups(body, stored):
    """{name: the set of names that may share its memory} over a normalized body; `stored`
    maps an Assign to the names it keeps besides its source (a dict and the value written
    into it)."""
    group = {}
    for stmt in flatten(body):
        if not isinstance(stmt, Assign):
            continue
        source = shared_source(stmt.value)     # (`a, b = m`: the rows are views of m)
        sources = stored.get(id(stmt), [] if source is None else [source])
        for target in stmt.targets:
            members = group.get(target, {target})
            for source in sources:  # (a name bound twice, as a loop's, shares with both)
                members |= group.get(source, {source})
            for name in members:
                group[name] = members
    return group


def _refusal(parsed, update, other, line):
    if isinstance(update, gast.Subscript):
        what = f"writing into `{source_text(update.value)}[...]` changes"
        hint = f"make `{other}` a copy (`np.array(...)`), or write into a copy"
    else:
        symbol = _AUG_SYMBOLS.get(type(update.op), "?=")
        what = f"`{update.target.id} {symbol} ...` updates in place"
        hint = f"write `{update.target.id} = {update.target.id} {symbol[:-1]} ...` to make a new array"
    return parsed.error(UnsupportedSyntaxError, f"{what} an array that `{other}` also refers to, "
                        f"and `{other}` is read afterwards", lineno=line,
                        construct="in-place update of a shared array", hint=hint)


def _names_read(stmt):
    if isinstance(stmt, Return):
        return {stmt.name}
    node = stmt.value if isinstance(stmt, Assign) else getattr(stmt, "node", None)
    if node is None or isinstance(stmt, (Branch, Loop, IterationEnd, Jump)):
        return set()
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name)}


def check_in_place_updates(parsed, body, updates, user_of, dict_writes=(), list_writes=()):
    """Raise (as an error of `parsed`) if a name sharing memory with an updated array is read
    after the update, or another name for a dict after a write into it.  `updates` lists
    (update statement, SSA name before it, the Assign made for it); `dict_writes` (write,
    dict before, after, its Assign); `user_of` maps SSA names to the user's variables."""
    _check_dict_writes(parsed, body, dict_writes, user_of, "dict")
    _check_dict_writes(parsed, body, list_writes, user_of, "list")
    stored = {id(marker): [old, marker.value.args[2].id] if isinstance(
        marker.value.args[2], gast.Name) else [old]
        for _, old, _, marker in list(dict_writes) + list(list_writes)}
    group = _sharing_groups(body, stored)
    for update, old, marker in updates:
        # other versions of the same variable are not other names for the array; the
        # array itself is, under any name that still holds it (a helper's parameter)
        variable = user_of.get(old, old)
        sharing = {n for n in group.get(old, {old}) if user_of.get(n, n) != variable}
        sharing.add(old)
        first = _first_read_after(body, marker, sharing)
        if first is not None:
            raise _refusal(parsed, update, user_of.get(first, first), marker.line)


def _first_read_after(body, marker, names):
    """The first of `names` read after `marker` on its path, following copies (another
    name for the value is not a read of it) and rebindings (another value from there on);
    None if none is."""
    names = set(names)
    for later in after(body, marker) or []:
        if isinstance(later, Assign) and isinstance(later.value, gast.Name):
            if later.value.id in names:
                names |= set(later.targets)
            else:
                names -= set(later.targets)
            continue
        read = _names_read(later) & names
        if read:
            return sorted(read)[0]
        if isinstance(later, Assign):
            names -= set(later.targets)
    return None


def _check_dict_writes(parsed, body, dict_writes, user_of, kind):
    """`d_2 = dict_set(d, k, v)` updates the dict `d` names in place: every name for that
    dict but `d_2` (and its copies) is out of date, and reading one would read `d_2`'s
    entries where the adjoints are kept for `d`'s.  Refuse such a read.  (`kind`: "dict",
    or "list" for `xs_2 = list_set(xs, i, v)`.)"""
    same = {}                       # name -> names for the same dict (copies and writes)
    written = {id(marker): old for _, old, _, marker in dict_writes}
    for stmt in flatten(body):
        if isinstance(stmt, Assign) and len(stmt.targets) == 1:
            source = stmt.value.id if isinstance(stmt.value, gast.Name) else written.get(id(stmt))
            if source is not None:
                members = same.get(stmt.targets[0], {stmt.targets[0]}) | same.get(source, {source})
                for name in members:
                    same[name] = members
    for write, old, new, marker in dict_writes:
        stale = _first_read_after(body, marker, same.get(old, {old}) - {new})
        if stale is None:
            continue
        first, name = user_of.get(stale, stale), source_text(write.value)
        if first == user_of.get(old, old):          # the same name: a function's parameter
            raise parsed.error(UnsupportedSyntaxError, f"the function called here writes into "
                               f"the {kind} `{first}` it is passed, and `{first}` is read "
                               "afterwards", lineno=marker.line,
                               construct=f"write into a {kind} passed to a function",
                               hint=f"return the new value and write it into the {kind} where "
                                    "the function is called")
        raise parsed.error(UnsupportedSyntaxError, f"writing into `{name}[...]` changes a {kind} "
                           f"that `{first}` also refers to, and `{first}` is read afterwards",
                           lineno=marker.line, construct=f"write into a shared {kind}",
                           hint=f"read it as `{name}` after the write, or make `{first}` a copy "
                                f"(`{kind}({name})`) before it")
