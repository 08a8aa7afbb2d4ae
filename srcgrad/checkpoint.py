"""Checkpointing (opt-in: `grad(f, checkpoint=True)`): a long loop's tape in O(sqrt(T)) memory.

The plain gradient pushes every iteration's intermediates on a tape and pops them in the
backward loop, so a loop of T iterations keeps T sets of intermediates alive.  Checkpointed,
the forward loop keeps only the values it carries from one iteration to the next, once
every `stride` ~ sqrt(T) iterations.  The backward pass takes the checkpoints last to first;
for each it replays that stretch of the forward loop, which pushes its tape as before, then
runs the backward loop over it:

    checkpoints = []                          for start, h_2 in reversed(checkpoints):
    for t in steps:                               n_iterations = start
        if n_iterations % stride == 0:            for t in steps[start:start + stride]:
            checkpoints.append((n_iterations,         ... the forward body, with its tape
                                h_2))             for _ in range(n_iterations - start):
        ... the forward body, no tape                 ... the backward body, as before

About twice the forward work, for sqrt(T) checkpoints and one stretch of tape.  A replay
recomputes exactly what the forward loop computed, so it refuses a loop whose body calls
anything that might not give the same result again (random numbers, an unknown function) or
that changes a list or dict in place.  This runs on the final code, after the tape is placed.
"""
import builtins
import copy

import gast
import numpy as np

from . import rules, runtime
from .errors import UnsupportedSyntaxError
from .ir import Line, TapePop, TapePush, all_lines, is_loop, loads, targets

# what a replayed body may call: functions that give the same result for the same arguments
_PURE_BUILTINS = {len, range, float, int, bool, abs, min, max, round, isinstance, type, print,
                  enumerate, zip, tuple, list, sum, reversed}
_RUNTIME_PURE = set(rules.HELPERS) | {runtime.accumulate, runtime.getitem, runtime.with_set}
_CONTAINER_WRITES = {getattr(runtime, name) for name in (
    "list_append", "list_pop", "list_set", "dict_set", "take_item", "drop_item") if hasattr(runtime, name)}
_MUTATING_METHODS = {"append", "pop", "extend", "insert", "remove", "clear", "update",
                     "setdefault", "popitem", "sort", "fill", "put", "resize", "itemset"}


def checkpoint_loops(gradient):
    """Checkpoint each top-level loop of `gradient` that has a tape (in place)."""
    lines = gradient.lines
    for position, backward in enumerate(list(lines)):
        if backward.restores is None or not backward.body or \
                not isinstance(backward.body[0].stmt, TapePop):
            continue                        # (a backward loop that restores nothing)
        loop = backward.restores[0]
        forward = next((line for line in lines if is_loop(line) and line.section == "forward"
                        and any(inner.saves_for is loop for inner in all_lines(line.body))), None)
        if forward is None:
            continue
        _check_replayable(gradient, forward, loop)
        lines[lines.index(backward)] = _checkpointed(gradient, forward, backward, loop)


def _check_replayable(gradient, forward, loop):
    """Refuse, at the user's line, a loop a replay could not compute again exactly."""
    def refuse(line, what, hint):
        raise gradient.parsed.error(UnsupportedSyntaxError, f"srcgrad cannot checkpoint the loop "
                                    f"on line {forward.line}: {what}", lineno=line,
                                    construct="checkpoint=True", hint=hint)
    if not isinstance(forward.stmt, gast.For):
        refuse(forward.line, "it is a while loop", "checkpoint a for loop (`for t in range(T)`), "
               "or call grad without checkpoint=True")
    if not (forward.body and targets(forward.body[0].stmt) == [loop.counter]):
        refuse(forward.line, "its iterations are not counted", "call grad without checkpoint=True")
    for line in all_lines(forward.body):
        if isinstance(line.stmt, TapePush):
            continue
        for node in gast.walk(line.stmt):
            if not isinstance(node, gast.Call):
                continue
            func = node.func
            if isinstance(func, gast.Attribute) and func.attr in _MUTATING_METHODS:
                refuse(line.line, f"its body changes a list or dict in place (`.{func.attr}`)",
                       "build the list outside the loop, or call grad without checkpoint=True")
            if _object(gradient, func) in _CONTAINER_WRITES:
                refuse(line.line, "its body changes a list or dict in place",
                       "build the list outside the loop, or call grad without checkpoint=True")
            if not _pure(gradient, func):
                shown = gast.dump(func) if not isinstance(func, (gast.Name, gast.Attribute)) \
                    else _dotted(func)
                refuse(line.line, f"its body calls `{shown}`, which a replay might not compute "
                       "again exactly (random numbers, state)",
                       "draw random numbers before the loop and pass them in, or call grad "
                       "without checkpoint=True")


def _dotted(node):
    if isinstance(node, gast.Attribute):
        return _dotted(node.value) + "." + node.attr
    return node.id if isinstance(node, gast.Name) else "..."


def _object(gradient, func):
    """The object a call's function names, or None (a method of a local value: `h.sum`)."""
    obj = gradient.namespace.object_of(func)
    if obj is None:
        try:
            obj = gradient.namespace.lookup(func)
        except Exception:
            obj = None
    return obj


def _pure(gradient, func):
    """Whether the function a call names gives the same result for the same arguments."""
    obj = _object(gradient, func)
    if obj is None:
        return isinstance(func, gast.Attribute) and func.attr in rules.METHODS
    if obj in _RUNTIME_PURE or obj in rules.RULES or obj in rules.NONDIFF:
        module = getattr(obj, "__module__", "") or ""
        return not module.startswith("numpy.random")
    if getattr(builtins, getattr(obj, "__name__", ""), None) is obj:
        return obj in _PURE_BUILTINS
    if isinstance(obj, np.ufunc):
        return True
    module = getattr(obj, "__module__", "") or ""
    return module.split(".")[0] in ("numpy", "scipy") and "random" not in module


def _name(name, store=False):
    return gast.Name(id=name, ctx=gast.Store() if store else gast.Load(), annotation=None,
                     type_comment=None)


def _assign(target, value):
    return gast.Assign(targets=[target], value=value, type_comment=None)


def _call(func, *args):
    return gast.Call(func=func, args=list(args), keywords=[])


def _without_tape(lines):
    """Lines with every tape push left out (at any depth)."""
    out = []
    for line in lines:
        if isinstance(line.stmt, TapePush):
            continue
        if line.body is not None:
            line.body, line.orelse = _without_tape(line.body), _without_tape(line.orelse or [])
        out.append(line)
    return out


def _exposed(lines, defined):
    """(names `lines` read before binding them on some path, names bound on every path),
    given the names `defined` already."""
    exposed, defined = set(), set(defined)
    for line in lines:
        stmt = line.stmt
        if line.body is not None:
            entry = stmt.iter if isinstance(stmt, gast.For) else getattr(stmt, "test", None)
            exposed |= {n.id for n in loads(entry)} - defined if entry is not None else set()
            inner = set(defined)
            if isinstance(stmt, gast.For):
                inner |= {n.id for n in gast.walk(stmt.target) if isinstance(n, gast.Name)}
            body_exposed, body_defined = _exposed(line.body, inner)
            else_exposed, else_defined = _exposed(line.orelse or [], defined)
            exposed |= body_exposed | else_exposed
            if not is_loop(line):            # (a loop's body may not run at all)
                defined |= body_defined & else_defined
            continue
        exposed |= {n.id for n in loads(stmt)} - defined
        defined |= set(targets(stmt))
    return exposed, defined


def _bound(lines):
    names = set()
    for line in all_lines(lines):
        if line.body is not None:
            if isinstance(line.stmt, gast.For):
                names.update(n.id for n in gast.walk(line.stmt.target) if isinstance(n, gast.Name))
        else:
            names.update(targets(line.stmt))
    return names


def _state(forward, loop):
    """What an iteration starts from: the names the body rebinds that it reads before it
    binds them (sorted), the iteration counter first."""
    own = {n.id for n in gast.walk(forward.stmt.target) if isinstance(n, gast.Name)}
    body = [line for line in forward.body if not isinstance(line.stmt, TapePush)]
    exposed, _ = _exposed(body, own)
    return [loop.counter] + sorted((exposed & _bound(forward.body)) - {loop.counter})


def _checkpointed(gradient, forward, backward, loop):
    """Rewrite `forward` to keep checkpoints; return the Line that replaces `backward`."""
    namer, ns, at = gradient.namer, gradient.namespace, forward.line
    steps, stride, saved, start = (namer.fresh(n) for n in ("steps", "stride", "checkpoints", "start"))
    replay_body = copy.deepcopy(forward.body)           # (with its tape pushes)
    state = _state(forward, loop)
    unbound = [n for n in state[1:] if n not in forward.bound_before]

    # before the loop: its steps, how often to keep a checkpoint, the list of them
    before = [Line(_assign(_name(steps, True), forward.stmt.iter), at, "forward"),
              Line(_assign(_name(stride, True), _call(ns.reference(runtime.checkpoint_stride,
                                                                   "checkpoint_stride"),
                                                      _call(_name("len"), _name(steps)))), at, "forward"),
              Line(_assign(_name(saved, True), gast.List(elts=[], ctx=gast.Load())), at, "forward")]
    if unbound:             # (bound by an earlier iteration: None before the first)
        before += [Line(_assign(_name(n, True), gast.Constant(value=None, kind=None)), at, "forward")
                   for n in unbound]
    kept = gast.Tuple(elts=[_name(n) for n in state], ctx=gast.Load()) if len(state) > 1 else _name(state[0])
    keep = gast.Expr(value=_call(gast.Attribute(value=_name(saved), attr="append", ctx=gast.Load()), kept))
    test = gast.Compare(left=gast.BinOp(left=_name(loop.counter), op=gast.Mod(), right=_name(stride)),
                        ops=[gast.Eq()], comparators=[gast.Constant(value=0, kind=None)])
    forward.body = [Line(gast.If(test=test, body=[], orelse=[]), at, "forward",
                         body=[Line(keep, at, "forward")], orelse=[])] + _without_tape(forward.body)
    forward.stmt.iter = _name(steps)
    index = gradient.lines.index(forward)
    gradient.lines[index:index] = before

    # the backward pass: each stretch replayed from its checkpoint, then run backward
    stretch = gast.Subscript(value=_name(steps), slice=gast.Slice(
        lower=_name(start), upper=gast.BinOp(left=_name(start), op=gast.Add(), right=_name(stride)),
        step=None), ctx=gast.Load())
    replay = Line(gast.For(target=copy.deepcopy(forward.stmt.target), iter=stretch, body=[], orelse=[],
                           type_comment=None), at, "adjoint", body=replay_body, orelse=[],
                  note="replay this stretch of the loop from its checkpoint, keeping its tape")
    backward.stmt.iter = _call(_name("range"), gast.BinOp(left=_name(loop.counter), op=gast.Sub(),
                                                          right=_name(start)))
    restore = Line(_assign(_name(loop.counter, True), _name(start)), at, "adjoint")
    target = gast.Tuple(elts=[_name(start, True)] + [_name(n, True) for n in state[1:]],
                        ctx=gast.Store()) if len(state) > 1 else _name(start, True)
    header = gast.For(target=target,
                      iter=_call(_name("reversed"), _name(saved)), body=[], orelse=[], type_comment=None)
    return Line(header, backward.line, "adjoint", body=[restore, replay, backward], orelse=[])
