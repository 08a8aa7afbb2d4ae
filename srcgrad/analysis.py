"""Step 3: what the normalized program computes, read once for both modes.

`analyze` resolves each statement to its Op (resolve.py) and computes, forward through
the program:

- which values are *varied*: they depend on the inputs being differentiated;
- a *shape class* per value: the set of "base" shapes whose broadcast it is (`x * y`
  has class {x, y}, as do `y * x` and `(x * y) - y`); equal classes mean equal shapes,
  so no broadcast can happen between them;
- which values are certainly NumPy arrays or scalars (not Python numbers);

and, backward from the result, which values are *useful*: the result depends on the
inputs through them.  Reverse and forward mode both read the resulting `Analysis`.
"""
import itertools
from dataclasses import dataclass

import gast
import numpy as np

from . import rules
from .fold import const_value, make_const
from .ir import Assign, Branch, Loop, flatten, walk
from .namespace import Namespace
from .resolve import Resolver, hashable, is_random

SCALAR = frozenset()                     # 0-d values
SHAPE = frozenset({"<x.shape>"})         # shape tuples (their items are scalars)
# the kinds of Op through which a gradient flows from operands to targets
_FLOWS = {"rule", "copy", "unpack", "problem", "custom", "vjp_call", "list_append", "list_pop",
          "list_snapshot", "list_get", "list_set", "list_build", "pick", "dict_build", "dict_set", "dict_get"}
DICT_OPS = ("dict_build", "dict_set", "dict_get", "list_get", "list_set", "list_build")


@dataclass(frozen=True)
class Analysis:
    ops: dict                # id(Assign) -> Op
    varied: frozenset
    useful: frozenset
    classes: dict            # value name -> shape class
    numpy_typed: frozenset   # values certainly ndarray or NumPy scalar (have .size)
    order: tuple             # value names in order of definition
    counter: object          # numbers for fresh shape classes, continuing the analysis's

    def op(self, stmt):
        return self.ops[id(stmt)]

    def is_varied(self, atom):
        if isinstance(atom, (gast.Tuple, gast.List)):
            return any(self.is_varied(e) for e in atom.elts)
        return isinstance(atom, gast.Name) and atom.id in self.varied

    def is_active(self, stmt):
        """Whether an Assign needs an adjoint (or a tangent): varied and useful."""
        return isinstance(stmt, Assign) and bool(self.useful.intersection(stmt.targets)) \
            and bool(self.varied.intersection(stmt.targets))

    def fresh_class(self):
        return frozenset({f"<shape {next(self.counter)}>"})

    def class_of(self, atom):
        """The shape class of an atom: a name's own, or its base shape if the program does
        not define it (a global); a constant's, see `constant_class`."""
        if isinstance(atom, gast.Name):
            return self.classes.get(atom.id, frozenset({atom.id}))
        return constant_class(atom, self.fresh_class)

    def broadcast_class(self, atoms):
        return frozenset().union(*[self.class_of(a) for a in atoms])


def constant_class(atom, fresh_class):
    """A number's shape class is SCALAR (as is None's: an absent bound, say); any other
    constant's is one of its own."""
    value = const_value(atom)
    if value is None or isinstance(value, (int, float)):
        return SCALAR
    return fresh_class()


def analyze(normal, wrt, ns=None, forward=False, recursive=False):
    """The Analysis of a NormalFunction for gradients (or tangents) of parameters `wrt`;
    `ns` names NumPy and the helpers (the code generated next uses it); see Resolver for
    `forward` and `recursive`."""
    if ns is None:
        ns = Namespace(normal.parsed.func, normal.namer, normal.injections)
    analyzer = _Analyzer(normal, wrt, ns, forward, recursive)
    analyzer.analyze()
    ret = normal.body[-1]
    useful = analyzer.find_useful(normal.body, {ret.name})
    return Analysis(analyzer.ops, frozenset(analyzer.varied), frozenset(useful), analyzer.tokens,
                    frozenset(analyzer.numpy_typed), tuple(analyzer.order),
                    itertools.count(analyzer.token_count + 1))


class _Analyzer:
    def __init__(self, normal, wrt, ns, forward, recursive):
        self.normal, self.forward = normal, forward
        # a tape (of a generated gradient that jvp differentiates) is varied wherever it is,
        # so its pushes and pops stay paired
        self.varied = set(wrt) | set(normal.tapes)
        self.tokens = {}            # value name -> shape class
        self.ops = {}               # id(Assign) -> Op
        self.numpy_typed = set()    # values certainly ndarray or NumPy scalar
        self.fixed = set()          # loop-carried values: shape class fixed at loop entry
        self.carried_ends = {}      # carried value -> classes it is given at iteration ends
        self.order = []             # value names in order of definition
        self.defined_by = {}        # value name -> the Op of (its last) definition
        self.token_count = 0
        self.packs = {}             # name -> the elements of the tuple or list literal it holds
        self.dicts = normal.dicts   # names of dicts (read when the code runs)
        self.list_lengths, self.list_starts = normal.list_lengths, normal.list_starts
        self.ns = ns
        self.resolver = Resolver(normal.parsed, ns, self, forward, recursive)

    def is_varied(self, atom):
        if isinstance(atom, (gast.Tuple, gast.List)):
            return any(self.is_varied(e) for e in atom.elts)
        return isinstance(atom, gast.Name) and atom.id in self.varied

    def is_local(self, name):
        """Whether `name` is a value of the function (not a global)."""
        return name in self.tokens

    # --- shape classes -----------------------------------------------------------
    def fresh_class(self):
        self.token_count += 1
        return frozenset({f"<shape {self.token_count}>"})

    def class_of(self, atom):
        if isinstance(atom, gast.Name):     # parameters and globals: a base shape of their own
            return self.tokens.setdefault(atom.id, frozenset({atom.id}))
        return constant_class(atom, self.fresh_class)

    def broadcast_class(self, atoms):
        return frozenset().union(*[self.class_of(a) for a in atoms])

    def numpy_result(self, stmt, op):
        """Whether the value is certainly a NumPy array or scalar (not a Python number)."""
        value = stmt.value
        if self.forward and op.kind == "rule" and op.rule.family == "forward":
            return False        # a runtime helper may give a Python number or a tuple
        if op.kind in DICT_OPS:
            return False        # a dict, or what one holds
        if isinstance(value, gast.BinOp) and isinstance(value.op, gast.MatMult):
            return True         # Python numbers have no `@`: the result is NumPy's
        if isinstance(value, (gast.BinOp, gast.UnaryOp, gast.Name)) or \
                (isinstance(value, gast.Attribute) and value.attr == "T"):
            return any(isinstance(n, gast.Name) and n.id in self.numpy_typed
                       for n in walk(value))
        if isinstance(value, gast.Subscript):
            return isinstance(value.value, gast.Name) and value.value.id in self.numpy_typed
        if isinstance(value, gast.Call):
            if isinstance(value.func, gast.Attribute) and isinstance(value.func.value, gast.Name) \
                    and self.is_local(value.func.value.id):      # a method of a local value
                return value.func.value.id in self.numpy_typed
            try:
                callee = self.ns.lookup(value.func)
            except Exception:
                callee = None
            if hashable(callee) and callee in rules.BUILTINS:
                return False                # math.exp, abs, max: Python numbers for Python numbers
            if op.kind == "rule" and op.rule.output is not None and len(stmt.targets) == 1:
                return False                # a tuple (np.linalg.slogdet, np.meshgrid) in one name
            return op.kind == "rule" or (op.kind == "nondiff" and is_numpy_call(self.ns, value.func))
        return False

    def shape_token(self, stmt, op):
        value = stmt.value
        if op.kind == "copy":
            return self.class_of(value)
        if op.kind == "rule" and op.rule.func is rules.with_set:
            return self.class_of(op.bindings["a"])         # a write keeps the array's shape
        if op.kind == "rule":
            family = op.rule.family
            if family == "elementwise":
                return self.broadcast_class([op.bindings[p] for p, _ in op.entries])
            if family == "reduction":
                if const_value(op.bindings.get("axis", make_const(0))) is None and \
                        const_value(op.bindings.get("keepdims")) is False:
                    return SCALAR
            return self.fresh_class()
        if isinstance(value, gast.Attribute):
            return SHAPE if value.attr == "shape" else SCALAR if value.attr in ("ndim", "size") \
                else self.fresh_class()
        if isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name) \
                and self.tokens.get(value.value.id) == SHAPE \
                and isinstance(const_value(value.slice), int):
            return SCALAR
        if isinstance(value, gast.Call) and isinstance(value.func, gast.Name) and value.func.id == "len":
            return SCALAR
        if isinstance(value, gast.Compare):
            return self.broadcast_class([value.left] + value.comparators)
        if isinstance(value, gast.Constant) or const_value(value) is not None and \
                isinstance(const_value(value), (int, float)):
            return self.class_of(value)
        return self.fresh_class()

    # --- the passes ----------------------------------------------------------------
    def analyze(self):
        """Resolve every statement; compute varied values and shape classes (forward)."""
        for p in self.normal.params:
            self.tokens[p] = frozenset({p})
            self.order.append(p)
        self.analyze_block(self.normal.body)

    def analyze_block(self, body):
        for stmt in body:
            if isinstance(stmt, Assign):
                self.analyze_assign(stmt)
            elif isinstance(stmt, Branch):
                self.analyze_block(stmt.body)
                self.analyze_block(stmt.orelse)
            elif isinstance(stmt, Loop):
                self.analyze_loop(stmt)

    def analyze_loop(self, stmt):
        for name in [stmt.counter] + ([stmt.target] if stmt.target else []):
            self.tokens[name] = SCALAR
        # A carried value keeps the shape class it enters with if every iteration
        # ends with a value of that class (`total = total + scalar`); otherwise its
        # shape may change from one iteration to the next: a class of its own.
        for name in stmt.carried:
            self.tokens.setdefault(name, self.fresh_class())
            self.numpy_typed.discard(name)
            self.fixed.add(name)
        inner = {t for s in flatten(stmt.body) if isinstance(s, Assign)
                 for t in s.targets} - self.fixed
        for attempt in range(len(stmt.carried) + 2):
            for name in inner:
                self.tokens.pop(name, None)
            self.carried_ends = {}
            self.analyze_block(stmt.body)
            changed = [v for v in stmt.carried
                       if self.carried_ends.get(v, {self.tokens[v]}) != {self.tokens[v]}]
            for name in changed:
                self.tokens[name] = self.fresh_class()
            if not changed and attempt >= 1:   # (twice at least: varied feeds back too)
                break
        if self.forward:
            # The body's shape classes once more, from the carried values' final ones
            # (the last attempt above gave a carried value a new class after the body
            # was read): then `t_s_2 * 0.5` is seen to have the shape of `s_2 * 0.5`.
            inner = {t for s in flatten(stmt.body) if isinstance(s, Assign)
                     for t in s.targets} - self.fixed
            for name in inner:          # (and whether they are NumPy values: afresh)
                self.tokens.pop(name, None)
                self.numpy_typed.discard(name)
            self.carried_ends = {}
            self.analyze_block(stmt.body)

    def analyze_assign(self, stmt):
        if isinstance(stmt.value, (gast.Tuple, gast.List)) and len(stmt.targets) == 1 and \
                not stmt.carry:
            self.packs[stmt.targets[0]] = stmt.value.elts
        elif isinstance(stmt.value, gast.Name) and stmt.value.id in self.packs and \
                len(stmt.targets) == 1 and not stmt.carry:     # `y = x`: the same elements
            self.packs[stmt.targets[0]] = self.packs[stmt.value.id]
        op = self.resolver.resolve(stmt)
        self.ops[id(stmt)] = op
        for t in stmt.targets:
            self.defined_by[t] = op
        if op.kind in _FLOWS and (
                op.kind == "problem" or any(self.is_varied(a) for a in op.operands)):
            self.varied.update(stmt.targets)
        numpy_result = self.numpy_result(stmt, op)
        token = self.shape_token(stmt, op) if len(stmt.targets) == 1 else None
        for t in stmt.targets:
            if stmt.carry == "out":             # a carried value: note the class it ends with
                self.carried_ends.setdefault(t, set()).add(
                    token if token is not None else self.fresh_class())
                continue
            if stmt.carry == "in":              # ...and the class it enters with
                self.tokens[t] = token
                if t not in self.order:
                    self.order.append(t)
                continue
            token_t = token if token is not None else self.fresh_class()
            if t in self.tokens:        # assigned on several paths or in a loop
                if self.tokens[t] != token_t:
                    token_t = self.fresh_class()
                if not numpy_result:
                    self.numpy_typed.discard(t)
            else:
                self.order.append(t)
                if numpy_result:
                    self.numpy_typed.add(t)
            self.tokens[t] = token_t
        if self.forward and op.kind in ("pack", "custom") and any(self.is_varied(a) for a in op.operands):
            self.varied.update(stmt.targets)
        if self.forward and op.kind == "rule" and isinstance(op.rule.output, int) and \
                len(stmt.targets) > 1:
            # `sign, logdet = np.linalg.slogdet(a)`: only the rule's output has a tangent
            self.varied.difference_update(t for i, t in enumerate(stmt.targets)
                                          if i != op.rule.output)

    def find_useful(self, body, useful):
        """Values through which the result depends on the inputs (backward)."""
        for stmt in reversed(body):
            if isinstance(stmt, Branch):
                useful = self.find_useful(stmt.body, set(useful)) | \
                    self.find_useful(stmt.orelse, set(useful))
            elif isinstance(stmt, Loop):
                while True:                      # until the next iteration adds nothing
                    more = self.find_useful(stmt.body, set(useful))
                    if more <= useful:
                        break
                    useful |= more
            elif isinstance(stmt, Assign) and useful.intersection(stmt.targets):
                op = self.ops[id(stmt)]
                if op.kind == "problem" and self.varied.intersection(stmt.targets):
                    raise op.problem
                for atom in op.operands:
                    useful.update(_names_in(atom))
        return useful



def _names_in(node):
    return [n.id for n in walk(node) if isinstance(n, gast.Name)]


def is_numpy_call(ns, func):
    try:
        obj = ns.lookup(func)
    except Exception:
        return False
    return isinstance(obj, np.ufunc) or (getattr(obj, "__module__", None) or "").startswith("numpy") \
        and obj not in (np.shape, np.ndim, np.size) and not is_random(obj)
