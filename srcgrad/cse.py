"""Pass 8 (after SSA): a value computed twice is computed once.

`np.exp(ys[t]) / np.sum(np.exp(ys[t]))` reads `ys[t]` and takes its exponential twice;
a person writing the gradient by hand computes it once, and so does the generated code:
the second computation becomes a copy of the first (which optimize.py then removes), and
the backward pass sums both uses' adjoints into the one value.

Only operations without effects are merged: arithmetic, comparisons, reads (`x[i]`,
`d[k]` of one version of a dict, `x.T`) and NumPy functions with a derivative rule.  Two
computations are the same when their source is; within a block, the first stays available
until a name it reads is bound again (a loop's carried names, a branch's merged ones),
and a loop's body starts afresh (its first lines run again with new values).
"""
import gast
import numpy as np

from . import rules
from .ir import Assign, Branch, Loop, flatten, walk


def _key(node, copies):
    """What `node` computes, as a hashable tree, each name read as the value it copies."""
    if isinstance(node, gast.Name):
        return copies.get(node.id, node.id)
    if isinstance(node, gast.Constant):
        return ("constant", type(node.value).__name__, repr(node.value))
    if isinstance(node, list):
        return tuple(_key(n, copies) for n in node)
    if isinstance(node, gast.AST):
        return (type(node).__name__,) + tuple(
            _key(getattr(node, f), copies) for f in node._fields
            if f not in ("ctx", "annotation", "type_comment"))
    return node                     # an operator's or an attribute's name


def _names(value):
    return {n.id for n in walk(value) if isinstance(n, gast.Name)}


def merge_common(body, lookup):
    """Merge repeated computations in a normalized body, in place.  `lookup(func)` is the
    object a called expression names (or None)."""
    _block(body, _Known(), _Pure(lookup))


class _Pure:
    def __init__(self, lookup):
        self.lookup = lookup

    def __call__(self, value):
        """Whether an operation may be computed once for two of its uses."""
        if isinstance(value, (gast.BinOp, gast.UnaryOp, gast.Compare)):
            return True
        if isinstance(value, gast.Subscript):
            return isinstance(value.value, gast.Name)
        if isinstance(value, gast.Attribute):
            return value.attr in rules.ATTRIBUTES and isinstance(value.value, gast.Name)
        if isinstance(value, gast.Call) and not any(k.arg in (None, "out") for k in value.keywords):
            obj = self.lookup(value.func)
            try:
                return isinstance(obj, np.ufunc) or obj is len or (
                    obj in rules.RULES and obj is not rules.with_set)
            except TypeError:                       # unhashable: not a function we know
                return False
        return False


class _Known:
    """What a point of a block knows: `available`, the source of a value -> (its name, the
    names it reads); `copies`, name -> the name it is a copy of.  Each is indexed by the
    names it mentions, so binding a name forgets only what mentions it."""

    def __init__(self):
        self.available, self.copies = {}, {}
        self.mentions = {}          # name -> keys of `available` whose entry mentions it
        self.copied_by = {}         # name -> names that are copies of it

    def copy(self):
        known = _Known()
        known.available, known.copies = dict(self.available), dict(self.copies)
        known.mentions = {k: set(v) for k, v in self.mentions.items()}
        known.copied_by = {k: set(v) for k, v in self.copied_by.items()}
        return known

    def add(self, key, name, reads):
        self.available[key] = (name, reads)
        for mentioned in {name} | reads:
            self.mentions.setdefault(mentioned, set()).add(key)

    def add_copy(self, name, source):
        self.copies[name] = source
        self.copied_by.setdefault(source, set()).add(name)

    def forget(self, names):
        """`names` are bound again: forget the values that are or read them, and copies."""
        for name in names:
            for key in self.mentions.pop(name, ()):
                entry = self.available.pop(key, None)
                if entry is not None:
                    for mentioned in {entry[0]} | entry[1]:
                        if mentioned != name:
                            self.mentions[mentioned].discard(key)
            source = self.copies.pop(name, None)
            if source is not None:
                self.copied_by[source].discard(name)
            for copy in self.copied_by.pop(name, ()):
                del self.copies[copy]


def _block(stmts, known, pure):
    for stmt in stmts:
        if isinstance(stmt, Branch):
            for side in (stmt.body, stmt.orelse):
                _block(side, known.copy(), pure)
            known.forget(_bound(stmt.body) | _bound(stmt.orelse))
        elif isinstance(stmt, Loop):
            _block(stmt.body, _Known(), pure)
            known.forget(_bound(stmt.body) | {stmt.target} | set(stmt.carried))
        elif isinstance(stmt, Assign):
            known.forget(set(stmt.targets))
            if len(stmt.targets) != 1 or stmt.carry or stmt.opaque:
                continue
            target, copies = stmt.targets[0], known.copies
            if isinstance(stmt.value, gast.Name) and stmt.value.id != target:
                known.add_copy(target, copies.get(stmt.value.id, stmt.value.id))
                continue
            if not pure(stmt.value):
                continue
            key = _key(stmt.value, copies)
            if key in known.available:
                stmt.value = gast.Name(id=known.available[key][0], ctx=gast.Load(),
                                       annotation=None, type_comment=None)
                known.add_copy(target, known.available[key][0])
            else:
                reads = {copies.get(n, n) for n in _names(stmt.value)} | _names(stmt.value)
                if target not in reads:
                    known.add(key, target, reads)


def _bound(stmts):
    return {t for s in flatten(stmts) if isinstance(s, Assign) for t in s.targets}
