"""Desugaring: constructs rewritten in terms of simpler ones the normalizer already handles.

- a list comprehension is the loop that appends to a new list;
- `sum`, `max`, `min` of a sequence are a chain of `+` (or of two-argument `max`), or the
  NumPy reduction over the first axis;
- `for v in xs` is `for i in range(len(xs)): v = xs[i]` (unrolled when xs is known);
- `x[i] = v` is `x_2 = with_set(x, i, v)`, a new array;
- in forward mode, a generated gradient's tape (`tape.append(v)`, `v = tape.pop()`) is a
  value passed from push to pop (`read_stacks_as_values`).

The functions that rewrite take the running `Normalizer` (normalize.py) as first argument.
"""
from collections import Counter

import gast

from . import containers
from .control import jumps
from .fold import copy_tree, make_const
from .ir import Assign, Effect
from .scope import assigned_names


def _name(n, ctx=gast.Load):
    return gast.Name(id=n, ctx=ctx(), annotation=None, type_comment=None)


# --- comprehensions and reductions -------------------------------------------------------
def comprehension(norm, node):
    """`[e for v in xs if c]` as the loop that appends e to a new list (unrolled when xs is
    known when reading); its variables are its own, renamed so they shadow nothing."""
    renames = {}
    for gen in node.generators:
        if gen.is_async:
            raise norm.error("srcgrad cannot differentiate an async comprehension", node,
                             construct="comprehension")
        for n in gast.walk(gen.target):
            if isinstance(n, gast.Name):
                renames[n.id] = norm.namer.fresh(n.id)

    class Rename(gast.NodeTransformer):
        def visit_Name(self, n):
            return gast.copy_location(_name(renames[n.id], type(n.ctx)), n) if n.id in renames else n
    result = norm.namer.fresh("items")
    body = [gast.Expr(value=gast.Call(func=gast.Attribute(value=_name(result), attr="append",
                                                          ctx=gast.Load()),
                                      args=[Rename().visit(copy_tree(node.elt))], keywords=[]))]
    for gen in reversed(node.generators):
        for cond in reversed(gen.ifs):
            body = [gast.If(test=Rename().visit(copy_tree(cond)), body=body, orelse=[])]
        first = gen is node.generators[0]       # the first iterable is read outside
        body = [gast.For(target=Rename().visit(copy_tree(gen.target)),
                         iter=gen.iter if first else Rename().visit(copy_tree(gen.iter)),
                         body=body, orelse=[], type_comment=None)]
    stmts = [gast.Assign(targets=[_name(result, gast.Store)], value=gast.List(elts=[], ctx=gast.Load()),
                         type_comment=None)] + body
    for stmt in stmts:
        for n in gast.walk(stmt):
            if hasattr(n, "lineno") or isinstance(n, (gast.stmt, gast.expr)):
                n.lineno = getattr(n, "lineno", None) or node.lineno
                n.col_offset = getattr(n, "col_offset", None) or 0
    norm.statements(stmts)
    return norm.atom(_name(result))


def builtin_reduction(norm, reduce, args):
    """`sum`, `max` or `min` of a sequence: a chain of `+` (or of two-argument `max`) over
    a list known when reading, otherwise the NumPy reduction over the first axis."""
    sequence = args[0]
    if isinstance(sequence, (gast.ListComp, gast.GeneratorExp)):
        sequence = norm.atom(sequence)      # a list first (known, where it loops over one)
    elements = containers.static_sequence(norm, sequence)
    if elements is None:
        func = gast.Attribute(value=norm.numpy_ref(), attr=reduce, ctx=gast.Load())
        total = gast.Call(func=func, args=[norm.atom(sequence)],
                          keywords=[gast.keyword(arg="axis", value=make_const(0))])
        if len(args) == 1:
            return total
        elements = [norm.atom(args[1]), norm.atom(total)]
    elif reduce == "sum":
        elements = ([norm.atom(args[1])] if len(args) == 2 else []) + list(elements)
        if not elements:
            return make_const(0)
    elif not elements:
        raise norm.error(f"`{reduce}()` of an empty sequence", args[0], construct=reduce)

    def combine(a, b):
        if reduce == "sum":
            return gast.BinOp(left=a, op=gast.Add(), right=b)
        return gast.Call(func=norm.load(reduce), args=[a, b], keywords=[])
    value = elements[0]
    for element in elements[1:-1]:
        name = norm.namer.fresh(reduce)
        norm.body.append(Assign([name], combine(value, element), norm.line, temporary=True))
        value = norm.load_ssa(name)
    return combine(value, elements[-1]) if len(elements) > 1 else value


# --- for loops ---------------------------------------------------------------------------
def for_loop(norm, stmt):
    """`for` over a range, over a sequence known when reading (unrolled), or over one known
    when the code runs (by index)."""
    if stmt.orelse:
        raise norm.error("srcgrad cannot differentiate `for ... else`", stmt,
                         construct="`for`-`else`", hint="move the `else` part after the loop")
    it = stmt.iter
    if norm.is_builtin_call(it, "range"):
        if not isinstance(stmt.target, gast.Name):
            raise norm.error("srcgrad needs a single loop variable in `for ... in range(...)`",
                             stmt.target, construct="`for` target")
        args = [norm.atom(a) for a in it.args]
        counts = _known_range(norm, args)
        if counts is not None and not any(jumps(s) for s in stmt.body) and \
                _reads_containers_by(norm, stmt.body, stmt.target.id):
            # `for l in range(1, 3): params["W" + str(l)]`: unrolled, so each key is known
            for count in counts:
                bind(norm, stmt.target, make_const(count))
                norm.statements(copy_tree(stmt.body))
            return
        iterable = gast.Call(func=it.func, args=args, keywords=[])
        norm.loop("for", stmt.target.id, iterable, stmt.body, stmt.lineno)
        return
    # unrolling would have to follow a `break`/`continue`: such loops run by index
    static = None if any(jumps(s) for s in stmt.body) else containers.static_sequence(norm, it)
    if static is not None:
        for element in static:
            bind(norm, stmt.target, element)
            norm.statements(copy_tree(stmt.body))
        return
    # Over a sequence: `for v in xs` runs as `for i in range(len(xs)): v = xs[i]`.
    index = stmt.target.elts[0].id if norm.is_builtin_call(it, "enumerate") and \
        isinstance(stmt.target, gast.Tuple) and isinstance(stmt.target.elts[0], gast.Name) \
        and len(it.args) == 1 and not it.keywords else norm.namer.fresh("index")
    length, elements = _sequence(norm, it, stmt.target, index)
    prefix = []
    for target, value in elements:
        if isinstance(target, gast.Name) and target.id == index:
            continue
        node = gast.Assign(targets=[target], value=value, type_comment=None)
        node.lineno, node.col_offset = stmt.lineno, stmt.col_offset
        prefix.append(node)
    iterable = gast.Call(func=_name("range"), args=[length], keywords=[])
    norm.loop("for", index, iterable, prefix + stmt.body, stmt.lineno)


_MOST_UNROLLED = 64         # iterations: a longer loop stays a loop


def _known_range(norm, args):
    """The values of `range(*args)` if its bounds are known when reading (and it is short)."""
    bounds = [containers.known(norm, a) for a in args]
    if not bounds or containers.UNKNOWN in bounds or not all(type(b) is int for b in bounds) or \
            (len(bounds) == 3 and bounds[2] == 0):
        return None
    counts = range(*bounds)
    return counts if len(counts) <= _MOST_UNROLLED else None


def _reads_containers_by(norm, body, variable):
    """Whether `body` reads a container known when reading the code with a key computed from
    the loop variable (or from a name the body assigns)."""
    moving = assigned_names(body) | {variable}

    def known_container(node):       # `params`, or a record's field `model.layers`
        if isinstance(node, gast.Attribute):
            return isinstance(node.value, gast.Name) and \
                node.attr in norm.fields.get(norm.scope.current.get(node.value.id), {})
        return isinstance(node, gast.Name) and norm.scope.current.get(node.id) in norm.containers

    def moves(node):
        return any(isinstance(n, gast.Name) and n.id in moving for n in gast.walk(node))
    for node in (n for stmt in body for n in gast.walk(stmt)):
        if isinstance(node, gast.Subscript) and known_container(node.value) and moves(node.slice):
            return True                                 # params["W" + str(l)]
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and \
                node.func.id == "getattr" and len(node.args) >= 2 and \
                known_container(node.args[0]) and moves(node.args[1]):
            return True                                 # getattr(p, f"W{l}")
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
                node.func.attr == "get" and known_container(node.func.value) and \
                node.args and moves(node.args[0]):
            return True                                 # params.get(f"W{l}")
        if isinstance(node, gast.Call) and any(known_container(a) for a in node.args) and \
                any(not isinstance(a, gast.Subscript) and
                    any(isinstance(n, gast.Name) and n.id == variable for n in gast.walk(a))
                    for a in node.args + [k.value for k in node.keywords]):
            # layer_params(params, l): the counter passed on (not step(params, h, xs[t]),
            # which reads data by it)
            return True
    return False


def bind(norm, target, atom):
    """Bind a target to an atom that is already normalized (not to be read again)."""
    if isinstance(target, gast.Name):
        name = norm.define(target.id)
        containers.remember_container(norm, name, atom)
        norm.body.append(Assign([name], atom, norm.line))
        return
    if isinstance(target, (gast.Tuple, gast.List)) and isinstance(atom, tuple) and \
            len(atom) == len(target.elts):             # enumerate / zip over known lists
        for t, a in zip(target.elts, atom):
            bind(norm, t, a)
        return
    if isinstance(target, (gast.Tuple, gast.List)) and isinstance(atom, (gast.Tuple, gast.List)) \
            and len(atom.elts) == len(target.elts):   # `for W, b in [(W1, b1), (W2, b2)]`
        for t, a in zip(target.elts, atom.elts):
            bind(norm, t, a)
        return
    if isinstance(target, (gast.Tuple, gast.List)) and isinstance(atom, gast.Name) and \
            atom.id in norm.containers and \
            sorted(norm.containers[atom.id]) == list(range(len(target.elts))):
        for k, t in enumerate(target.elts):
            bind(norm, t, norm.containers[atom.id][k])
        return
    raise norm.error("srcgrad cannot unpack this value in a loop over a list", target,
                     construct="`for` target")


def _sequence(norm, it, target, index):
    """(length, [(target, value)]) for `for target in it`: the values are expressions of
    the loop index `index`."""
    if norm.is_builtin_call(it, "enumerate") and len(it.args) == 1 and not it.keywords:
        if not (isinstance(target, gast.Tuple) and len(target.elts) == 2):
            raise norm.error("srcgrad needs `for i, v in enumerate(...)`", target,
                             construct="`for` target")
        length, rest = _sequence(norm, it.args[0], target.elts[1], index)
        return length, [(target.elts[0], _name(index))] + rest
    if norm.is_builtin_call(it, "zip") and it.args and not it.keywords:
        if not (isinstance(target, gast.Tuple) and len(target.elts) == len(it.args)):
            raise norm.error("srcgrad needs one loop variable per sequence in `zip(...)`",
                             target, construct="`for` target")
        lengths, elements = [], []
        for seq, t in zip(it.args, target.elts):
            length, rest = _sequence(norm, seq, t, index)
            lengths.append(length)
            elements += rest
        length = lengths[0] if len(lengths) == 1 else gast.Call(
            func=_name("min"), args=lengths, keywords=[])
        return length, elements
    walked = _dict_walked(norm, it)
    if walked is not None:               # a dict: its keys then, its entries read by key
        name, view = walked
        keys = norm.namer.fresh(f"{name}_keys")
        norm.body.append(Assign([keys], gast.Call(func=_name(norm.helper_name("dict_keys")),
                                                  args=[norm.load(name)], keywords=[]),
                                norm.line, temporary=True))
        key = gast.Subscript(value=_name(keys), slice=_name(index), ctx=gast.Load())
        entry = gast.Subscript(value=_name(name), slice=key, ctx=gast.Load())
        length = gast.Call(func=_name("len"), args=[_name(keys)], keywords=[])
        if view == "items":
            if not (isinstance(target, gast.Tuple) and len(target.elts) == 2):
                raise norm.error("srcgrad needs `for k, v in d.items()`", target,
                                 construct="`for` target")
            return length, [(target.elts[0], key), (target.elts[1], entry)]
        return length, [(target, entry if view == "values" else key)]
    seq = norm.atom(it)
    if not isinstance(seq, gast.Name):
        seq = norm.atom(gast.Call(func=_name("list"), args=[seq], keywords=[]))
    elif not isinstance(it, gast.Name) or it.id not in norm.scope.current or (
            it.id in norm.params and norm.scope.current[it.id] == it.id):
        # an argument, a global or a call's result (`d.items()`): what it is is known only
        # when the code runs.  A dict (a view, a set, a generator) is iterated as Python
        # does, by its keys; indexing it by position would read its values
        seq = norm.atom(gast.Call(func=_name(norm.helper_name("sequence_of")), args=[seq], keywords=[]))
    # The sequence is evaluated once, before the loop (rebinding its name in the body
    # does not change what is iterated): keep it under a name of its own.
    snapshot = norm.namer.fresh(f"{seq.id}_seq")
    norm.body.append(Assign([snapshot], seq, norm.line, temporary=True))
    seq = _name(snapshot)
    length = gast.Call(func=_name("len"), args=[seq], keywords=[])
    return length, [(target, gast.Subscript(value=seq, slice=_name(index), ctx=gast.Load()))]


def _dict_walked(norm, it):
    """(the dict's name, "keys" / "values" / "items") for `for ... in d` (its keys),
    `d.keys()`, `d.values()`, `d.items()` over a dict read when the code runs."""
    view = "keys"
    if isinstance(it, gast.Call) and isinstance(it.func, gast.Attribute) and \
            it.func.attr in ("keys", "values", "items") and not it.args and not it.keywords:
        it, view = it.func.value, it.func.attr
    if isinstance(it, gast.Name) and norm.scope.current.get(it.id) in norm.dicts | norm.runtime_dicts:
        return it.id, view
    return None


# --- element assignment ------------------------------------------------------------------
def write(norm, target, value, node):
    """`x[index] = value` as `x_2 = with_set(x, index, value)`: a new array, so the value
    it overwrote (and the caller's array) stays as it was."""
    name = target.value.id
    old = norm.scope.current[name]
    index = index_value(norm.index(target.slice))
    checked_write(norm, old, norm.define(name), index, value, node)


def checked_write(norm, old, new, index, value, node):
    """`new = with_set(old, index, value)`, checked for repeated indices where they may be."""
    if not surely_basic(norm, index):    # kept even where the write itself is not needed
        check = gast.Call(func=_name(norm.helper_name("check_no_repeats")),
                          args=[norm.load_ssa(old), copy_tree(index)], keywords=[])
        norm.body.append(Effect(gast.Expr(value=check), norm.line))
    func = _name(norm.helper_name("with_set"))
    norm.body.append(Assign([new], gast.Call(func=func, args=[norm.load_ssa(old), index, value],
                                             keywords=[]), norm.line))
    norm.updates.append((node, old, norm.body[-1]))


def surely_basic(norm, index):
    """Whether an index certainly reaches each element once: ints, slices, None, `...`
    and the variables of loops over ranges (an array of ints may repeat one)."""
    parts = index.elts if isinstance(index, gast.Tuple) else [index]
    for p in parts:
        if isinstance(p, gast.Call) and getattr(p.func, "id", None) == "slice":
            continue
        if isinstance(p, gast.Constant) and (p.value is None or p.value is Ellipsis or
                                             type(p.value) is int):
            continue
        if isinstance(p, gast.UnaryOp) and isinstance(p.operand, gast.Constant):
            continue                    # -1
        if isinstance(p, gast.Name) and (p.id in norm.range_targets or
                                         type(norm.constants.get(p.id)) is int):
            continue
        return False
    return True


def index_value(node):
    """An index as a value (`1:3` inside brackets is `slice(1, 3)` outside them)."""
    if isinstance(node, gast.Slice):
        parts = [p if p is not None else gast.Constant(value=None, kind=None)
                 for p in (node.lower, node.upper, node.step)]
        if node.step is None:
            parts = parts[:2] if node.lower is not None else [parts[1]]
        return gast.Call(func=_name("slice"), args=parts, keywords=[])
    if isinstance(node, gast.Tuple):
        return gast.Tuple(elts=[index_value(e) for e in node.elts], ctx=gast.Load())
    return node


# --- a generated gradient's tape, in forward mode ------------------------------------------
def stacks(func):
    """Names bound once to `[]` and otherwise used only in `name.append(v)` statements and
    `target = name.pop()` assignments."""
    empty, stores, fine = Counter(), Counter(), set()
    for node in gast.walk(func):
        if isinstance(node, gast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], gast.Name) and isinstance(node.value, gast.List) \
                and not node.value.elts:
            empty[node.targets[0].id] += 1
        if _stack_call(node) is not None:
            fine.add(id(node.value.func.value))
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
            stores[node.id] += 1
    other_uses = {n.id for n in gast.walk(func) if isinstance(n, gast.Name) and
                  isinstance(n.ctx, gast.Load) and id(n) not in fine}
    return {name for name, count in empty.items()
            if count == 1 == stores[name] and name not in other_uses}


def _stack_call(node):
    """The name in a statement `name.append(v)` or `target = name.pop()`, else None."""
    call = node.value if isinstance(node, (gast.Expr, gast.Assign)) else None
    if not (isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute) and
            isinstance(call.func.value, gast.Name) and not call.keywords):
        return None
    if isinstance(node, gast.Expr) and call.func.attr == "append" and len(call.args) == 1:
        return call.func.value.id
    if isinstance(node, gast.Assign) and len(node.targets) == 1 and call.func.attr == "pop" \
            and not call.args:
        return call.func.value.id
    return None


class _StackCalls(gast.NodeTransformer):
    """`name.append(v)` -> `name = push(name, v)`; `t = name.pop()` -> `t, name = pop(name)`."""

    def __init__(self, names, push, pop):
        self.names, self.push, self.pop = names, push, pop

    def visit_Expr(self, node):
        name = _stack_call(node)
        if name not in self.names:
            return node
        new = gast.Assign(targets=[_name(name, gast.Store)], value=gast.Call(
            func=_name(self.push), args=[_name(name)] + node.value.args, keywords=[]),
            type_comment=None)
        return gast.copy_location(new, node)

    def visit_Assign(self, node):
        name = _stack_call(node)
        if name not in self.names:
            return self.generic_visit(node)
        target = gast.Tuple(elts=[node.targets[0], _name(name, gast.Store)], ctx=gast.Store())
        new = gast.Assign(targets=[target], value=gast.Call(
            func=_name(self.pop), args=[_name(name)], keywords=[]), type_comment=None)
        return gast.copy_location(new, node)


def read_stacks_as_values(norm, func):
    """Rewrite FunctionDef `func`'s stacks (a generated gradient's tape) as values:
    `tape.append(v)` as `tape = push(tape, v)`, `a, b = tape.pop()` as `(a, b), tape =
    pop(tape)`.  The tape is then carried through loops like any value, and each pop reads
    the tape the one before it left (so no pop is dropped as dead code when its values are).
    Returns the stacks' names."""
    names = stacks(func)
    if names:
        rewrite = _StackCalls(names, norm.helper_name("tape_push"), norm.helper_name("tape_pop"))
        func.body = [rewrite.visit(stmt) for stmt in func.body]
    return names
