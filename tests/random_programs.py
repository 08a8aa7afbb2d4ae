"""Issue #3, property-based: random small programs, differentiated and compared with finite
differences.

`generate_program(rng, features)` writes the SOURCE TEXT of a module defining
`f(x, W, a, b, n)` -- x: (N,), W: (M, N), b: (M,) arrays, a: a float, n: a small int --
mixing straight-line NumPy code (elementwise functions, sum/mean, matmul on small shapes)
with the features of issue #3 that are switched on:

    "if"     if/elif/else on data and on n, and/or/not, chains, `a if c else b`, returns
    "for"    for over range(...), rows, elements, enumerate, zip, tuples; break/continue
    "while"  while with a counter, and with a data-dependent condition
    "call"   module-level helpers (keywords, defaults, tuples, recursion, a data branch),
             a lambda and a nested def bound in f, math functions, min/max
    "index"  reads (ints, negative, slices, steps, fancy with repeats, masks, None) and
             writes (x[i] = v, x[i] += v, slices, filling an array in a loop)
    "list"   list literals, append, comprehensions with filters, tuples, dict literals

The program is written to a .py file and imported, so inspect.getsource works.  Only
smooth operations are used; every kink (a comparison in a condition or a mask, min/max) is
kept at least MARGIN away from its threshold: a twin of the program in which each kink
reports its distance is run on candidate inputs, and inputs too close are drawn again, as
are inputs where finite differences with two different steps disagree (steep spots).

By hand (e.g. while implementing a feature):

    python tests/random_programs.py --count 200 --features if,for
    python tests/random_programs.py --seed 17 --show      # one program

Under pytest: SRCGRAD_RANDOM_PROGRAMS sets the number of mixed programs (default 250),
SRCGRAD_RANDOM_SEED the first seed (default 0).
"""
import argparse
import copy
import importlib.util
import math
import os
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests"))
from support import numerical_gradient  # noqa: E402

import srcgrad  # noqa: E402

FEATURES = ("if", "for", "while", "call", "index", "list")
PARAMS = ("x", "W", "a", "b", "n")
WRT = (0, 1, 2, 3)                    # x, W, a, b
MARGIN = 0.02                         # least distance of every kink from its threshold
RTOL, ATOL = 1e-5, 1e-6

# Module-level helpers a program may call (feature "call"); damp's {cond} becomes a kink.
HELPERS = {
    "smooth": "def smooth(u, v, c=0.5):\n    return np.tanh(u) * v + c * u\n",
    "pair": "def pair(u):\n    return np.sin(u), np.cos(u) * 0.5\n",
    "mix": "def mix(u, k):\n    if k > 1:\n        return np.sin(u) * 0.5\n    return u * 0.8\n",
    "repeat": "def repeat(u, times=2):\n    for _ in range(times):\n        u = np.tanh(u) + 0.1 * u\n"
              "    return u\n",
    "rpow": "def rpow(u, k):\n    return u if k <= 1 else u * rpow(u * 0.9, k - 1)\n",
    "damp": "def damp(u):\n    if {cond}:\n        return u\n    return u * 0.5\n",
}

WATCH_PRELUDE = '''
_MARGINS = []


def _cmp(v, op, t):
    d = np.abs(np.asarray(v, dtype=float) - t)
    if d.size:
        _MARGINS.append(float(np.min(d)))
    return v > t if op == ">" else v < t


def _chain(v, lo, hi):
    _MARGINS.append(min(abs(float(v) - lo), abs(float(v) - hi)))
    return lo < v < hi


def _max(u, v):
    _MARGINS.append(abs(float(u) - float(v)))
    return max(u, v)


def _min(u, v):
    _MARGINS.append(abs(float(u) - float(v)))
    return min(u, v)
'''

_TOKEN = re.compile(r"__T(\d+)__")


@dataclass
class Program:
    source: str            # the module under test; defines f(x, W, a, b, n)
    watch_source: str      # the same program, every kink recording its distance in _MARGINS
    N: int
    M: int
    features: tuple

    def make_inputs(self, rng):
        r = np.random.default_rng(rng.randrange(2 ** 32))
        return [r.uniform(-1, 1, self.N), r.uniform(-1, 1, (self.M, self.N)),
                float(r.uniform(-1, 1)), r.uniform(-1, 1, self.M), int(r.integers(0, 4))]

    def margin_and_value(self, args):
        """(least distance of a kink from its threshold on this call, f's value)."""
        namespace = {}
        exec(compile(self.watch_source, "<watch>", "exec"), namespace)
        with np.errstate(all="ignore"):            # overflowing candidates are rejected anyway
            value = namespace["f"](*copy.deepcopy(args))
        return min(namespace["_MARGINS"], default=math.inf), value


class _Scope:
    """What a statement may use: values by type ("s", "vN", "vM", "m"), int names, nesting."""

    def __init__(self, variables, ints, depth, in_loop=False):
        self.vars, self.ints, self.depth, self.in_loop = variables, ints, depth, in_loop

    def child(self, in_loop=None):
        return _Scope(dict(self.vars), list(self.ints), self.depth + 1,
                      self.in_loop if in_loop is None else in_loop)


class _Writer:
    """Writes one random program; every choice is drawn from `rng`."""

    def __init__(self, rng, features):
        self.rng = rng
        self.features = frozenset(features)
        self.N = rng.choice([2, 3, 4])
        self.M = rng.choice([m for m in (2, 3, 4) if m != self.N])
        self.tokens = []         # kinks: ("cmp", expr, op, thr) | ("chain", expr, lo, hi) | ("max"/"min", a, b)
        self.helpers = []
        self.prelude = []        # lines at the top of f: a lambda, a nested def
        self.lines = []
        self.count = 0
        self.modified = []       # names reassigned somewhere: worth returning
        self.statements = 0
        self.budget = rng.randint(5, 10)

    # --- small pieces ------------------------------------------------------------------
    def has(self, feature):
        return feature in self.features

    def fresh(self, prefix):
        self.count += 1
        return f"{prefix}{self.count}"

    def token(self, *record):
        self.tokens.append(record)
        return f"__T{len(self.tokens) - 1}__"

    def emit(self, indent, text):
        self.lines.append("    " * indent + text)

    def const(self):
        value = round(self.rng.uniform(0.2, 1.2) * self.rng.choice([1, -1]), 2)
        return f"({value!r})" if value < 0 else repr(value)      # -1.02 ** 2 is negative

    def length(self, typ):
        return {"vN": self.N, "vM": self.M}[typ]

    def use_helper(self, name):
        if name not in self.helpers:
            self.helpers.append(name)
        return name

    def use_prelude(self, name):
        if name == "sq" and not any(line.startswith("sq =") for line in self.prelude):
            self.prelude.append("sq = lambda z: z * np.tanh(z)  # noqa: E731")
        if name == "scaled" and not any(line.startswith("def scaled") for line in self.prelude):
            self.prelude += ["def scaled(z, power=2):", "    return np.sin(z) * a + 0.1 * z ** power"]
        return name

    # --- expressions ---------------------------------------------------------------------
    def leaf(self, typ, scope):
        names = [n for n, t in scope.vars.items() if t == typ]
        if typ == "s":
            r = self.rng.random()
            if r < 0.15:
                return self.const()
            if r < 0.3 and scope.ints:
                return f"(0.3 * {self.rng.choice(scope.ints)})"
            if r < 0.35:
                return "(0.2 * n)"
        if len(names) > 3 and self.rng.random() < 0.5:
            names = names[-3:]          # favour recent values: loop variables, fresh results
        return self.rng.choice(names)

    def expr(self, typ, scope, depth=0):
        if depth >= 3 or self.rng.random() < 0.2 + 0.2 * depth:
            return self.leaf(typ, scope)
        options = self.options(typ, scope, depth + 1)
        return self.rng.choice(options)()

    def options(self, typ, scope, d):
        rng = self.rng

        def e(t=typ):
            return self.expr(t, scope, d)

        o = [lambda: f"np.tanh({e()})", lambda: f"np.sin({e()})", lambda: f"np.cos({e()})",
             lambda: f"({e()} + {e()})", lambda: f"({e()} - {e()})", lambda: f"({e()} * {e()})",
             lambda: f"({e()} * {self.const()})", lambda: f"({e()} / (1.5 + {e()} ** 2))",
             lambda: f"np.exp(0.5 * np.tanh({e()}))", lambda: f"np.log(1.5 + {e()} ** 2)",
             lambda: f"np.sqrt(1.0 + {e()} ** 2)"]
        if typ != "s":
            o.append(lambda: f"({e('s')} * {e()})")
        if typ == "s":
            o += [lambda: f"np.sum({e('vN')})", lambda: f"np.mean({e('vM')})",
                  lambda: f"({e('vN')} @ {e('vN')})", lambda: f"(np.sum({e('m')} ** 2) * 0.1)",
                  lambda: f"np.sum({e('vM')} * {e('vM')})"] * 2
        if typ == "vM":
            o += [lambda: f"({e('m')} @ {e('vN')})"] * 3
        if typ == "vN":
            o += [lambda: f"({e('vM')} @ {e('m')})", lambda: f"({e('m')}.T @ {e('vM')})"] * 2
        if typ == "m":
            o += [lambda: f"np.outer({e('vM')}, {e('vN')})"]
        if self.has("index"):
            o += self.index_options(typ, scope, e)
        if self.has("call"):
            o += self.call_options(typ, scope, e)
        if self.has("list"):
            o += self.list_options(typ, scope, e, d)
        if self.has("if"):
            o.append(lambda: f"({e()} if {self.condition(scope)} else {e()})")
        return o

    def index_options(self, typ, scope, e):
        rng, N, M = self.rng, self.N, self.M
        if typ == "s":
            o = [lambda: f"{e('vN')}[{rng.randrange(-N, N)}]",
                 lambda: f"{e('m')}[{rng.randrange(-M, M)}, {rng.randrange(-N, N)}]",
                 lambda: f"np.sum({e('vN')}[{rng.choice(['1:', '::2', '::-1', '-2:', '1::2', ':-1'])}])",
                 lambda: f"np.sum({e('m')}[{rng.choice(['1:, ::2', ':, 1:', '::-1, :1', '-1:, ::-1'])}])",
                 lambda: f"np.sum({e('vN')}[[0, 0, 1, 0]] * np.array([1.0, 2.0, 3.0, 4.0]))",
                 lambda: f"np.sum({e('m')}[[1, 0, 1], [0, 0, 0]])",
                 lambda: f"(np.sum({e('vM')}[:, None] * {e('m')}) * 0.3)",
                 lambda: f"np.sum({e('vN')}[np.newaxis, :] @ {e('m')}.T)"]
            if scope.ints:
                o.append(lambda: f"{e('vN')}[{rng.choice(scope.ints)} % {N}]")
            names = [n for n, t in scope.vars.items() if t in ("vN", "vM")]
            if names:
                v = rng.choice(names)
                o.append(lambda: f"np.sum({v}[{self.token('cmp', v, '>', self.threshold())}])")
            return o
        if typ == "vN":
            return [lambda: f"{e('m')}[{rng.randrange(-M, M)}]", lambda: f"{e('vN')}[::-1]",
                    lambda: f"{e('m')}[[0, 1, 0]].sum(axis=0)"]
        if typ == "vM":
            return [lambda: f"{e('m')}[:, {rng.randrange(-N, N)}]", lambda: f"{e('vM')}[::-1]"]
        return [lambda: f"{e('m')}[::-1, :]"]

    def call_options(self, typ, scope, e):
        rng = self.rng
        o = [lambda: f"{self.use_helper('smooth')}({e()}, {e()})",
             lambda: f"{self.use_helper('smooth')}({e()}, {e('s')}, c={self.const()})",
             lambda: f"{self.use_helper('smooth')}(v={e()}, u={e()})",
             lambda: f"{self.use_prelude('sq')}({e()})",
             lambda: f"{self.use_prelude('scaled')}({e()})",
             lambda: f"{self.use_prelude('scaled')}({e()}, power=3)"]
        if self.has("list"):                 # pair(...)[0]: a tuple result, indexed
            o.append(lambda: f"{self.use_helper('pair')}({e()})[{rng.choice([0, 1])}]")
        if self.has("if"):                   # helpers with branches inside
            o += [lambda: f"{self.use_helper('mix')}({e()}, {rng.choice(['1', '2', 'n'])})",
                  lambda: f"{self.use_helper('rpow')}({e()}, {rng.choice(['1', '2', '3', 'n'])})",
                  lambda: f"{self.use_helper('damp')}({e()})"]
        if self.has("for"):                  # a helper with a loop inside
            o += [lambda: f"{self.use_helper('repeat')}({e()})",
                  lambda: f"{self.use_helper('repeat')}({e()}, times={rng.choice(['1', '3', 'n'])})"]
        if typ == "s":
            o += [lambda: f"math.sin({e()})", lambda: f"math.exp(0.5 * math.tanh({e()}))",
                  lambda: f"math.sqrt(1.0 + {e()} ** 2)", lambda: f"math.log(1.5 + {e()} ** 2)",
                  lambda: self.token(rng.choice(["max", "min"]), e(), e()),
                  lambda: f"float({e()})"]
        return o

    def list_options(self, typ, scope, e, d):
        rng = self.rng

        def e_with(i, t=typ):
            inner = scope.child()
            inner.ints.append(i)
            return self.expr(t, inner, d)

        def comprehension():
            i = self.fresh("i")
            k = rng.randint(2, 4)
            return f"sum([{e_with(i)} * (0.5 + 0.3 * {i}) for {i} in range({k}) if {i} != 1])"
        o = [comprehension,
             lambda: f"sum([{e()}, {e()}])",
             lambda: f"[{e()}, {e()}, {e()}][{rng.choice([0, 1, -1])}]",
             lambda: f"({e()}, {e()})[{rng.choice([0, 1, -1])}]",
             lambda: f"{{'p': {e()}, 'q': {e()}}}['{rng.choice('pq')}']"]
        if typ == "s":
            def elements():
                p = self.fresh("p")
                inner = scope.child()
                inner.vars[p] = "s"
                v = self.expr(rng.choice(["vN", "vM"]), scope, d)
                return f"sum([{self.expr('s', inner, d)} for {p} in {v}])"
            o.append(elements)
        return o

    def threshold(self):
        return round(self.rng.uniform(-0.5, 0.5), 2)

    def condition(self, scope):
        rng = self.rng

        def data():
            return self.token("cmp", self.expr("s", scope, 1), rng.choice("<>"), self.threshold())
        ints = ["n > 1", "n % 2 == 0", "n >= 2", "n != 1"] + [f"{i} > 0" for i in scope.ints] \
            + [f"{i} % 2 == 1" for i in scope.ints]
        kind = rng.random()
        if not self.has("if") or kind < 0.35:
            return data()
        if kind < 0.5:
            return rng.choice(ints)
        if kind < 0.6:
            return f"{rng.choice(ints)} and {data()}"
        if kind < 0.7:
            return f"{data()} or {rng.choice(ints)}"
        if kind < 0.78:
            return f"not {data()}"
        if kind < 0.88:
            lo = self.threshold()
            return self.token("chain", self.expr("s", scope, 1), lo, round(lo + rng.uniform(0.3, 1.5), 2))
        v = self.expr(rng.choice(["vN", "vM"]), scope, 1)
        return f"np.{rng.choice(['any', 'all'])}({self.token('cmp', v, rng.choice('<>'), self.threshold())})"

    # --- statements ----------------------------------------------------------------------
    def block(self, scope, indent, count):
        for _ in range(max(1, count)):
            self.statement(scope, indent)

    def value_names(self, scope):
        return list(scope.vars)

    def statement(self, scope, indent):
        rng = self.rng
        self.statements += 1
        kinds = ["assign"] * 4 + ["reassign"] * 3
        compound = scope.depth < 2 and self.statements < self.budget + 4
        if compound:
            kinds += ["if"] * 2 * self.has("if") + ["for"] * 3 * self.has("for") \
                + ["while"] * 2 * self.has("while") + ["write"] * 2 * self.has("index") \
                + ["fill"] * (self.has("index") and self.has("for")) + ["append"] * self.has("list")
        if self.has("if"):
            kinds += ["ifexp"]
        if self.has("call"):
            kinds += ["tuple_call"]
        if scope.in_loop and self.has("if"):
            kinds += ["jump"]
        getattr(self, "stmt_" + rng.choice(kinds))(scope, indent)

    def new_type(self):
        return self.rng.choice(["s", "s", "s", "vN", "vN", "vN", "vM", "vM", "m"])

    def stmt_assign(self, scope, indent):
        typ = self.new_type()
        name = self.fresh("t")
        self.emit(indent, f"{name} = {self.expr(typ, scope)}")
        scope.vars[name] = typ

    def stmt_reassign(self, scope, indent):
        name = self.rng.choice(self.value_names(scope))
        typ = scope.vars[name]
        self.modified.append(name)
        if self.rng.random() < 0.4:
            self.emit(indent, f"{name} = 0.7 * {name} + 0.3 * {self.expr(typ, scope, 1)}")
        else:
            self.emit(indent, f"{name} = {self.expr(typ, scope)}")

    def stmt_ifexp(self, scope, indent):
        typ = self.new_type()
        name = self.fresh("t")
        self.emit(indent, f"{name} = {self.expr(typ, scope, 1)} if {self.condition(scope)} "
                          f"else {self.expr(typ, scope, 1)}")
        scope.vars[name] = typ

    def stmt_tuple_call(self, scope, indent):
        typ = self.new_type()
        p, q = self.fresh("t"), self.fresh("t")
        self.emit(indent, f"{p}, {q} = {self.use_helper('pair')}({self.expr(typ, scope, 1)})")
        scope.vars[p] = scope.vars[q] = typ

    def stmt_jump(self, scope, indent):
        word = "break" if self.rng.random() < 0.5 else "continue"
        self.emit(indent, f"if {self.condition(scope)}:")
        self.emit(indent + 1, word)

    def branch(self, scope, indent, exports):
        inner = scope.child()
        self.block(inner, indent + 1, self.rng.randint(1, 2))
        for name, typ in exports:
            self.emit(indent + 1, f"{name} = {self.expr(typ, inner)}")
        if self.rng.random() < 0.15:
            self.emit(indent + 1, f"return {self.final(inner)}")

    def stmt_if(self, scope, indent):
        rng = self.rng
        self.emit(indent, f"if {self.condition(scope)}:")
        has_else = rng.random() < 0.6
        exports = [(self.fresh("t"), self.new_type())] if has_else and rng.random() < 0.4 else []
        self.branch(scope, indent, exports)
        while rng.random() < 0.3:
            self.emit(indent, f"elif {self.condition(scope)}:")
            self.branch(scope, indent, exports)
        if has_else:
            self.emit(indent, "else:")
            self.branch(scope, indent, exports)
        for name, typ in exports:
            scope.vars[name] = typ

    def stmt_for(self, scope, indent):
        rng = self.rng
        inner = scope.child(in_loop=True)
        kind = rng.choice(["range", "range", "rows", "elements", "enumerate", "zip", "enumerate_zip",
                           "sequence"])
        i = self.fresh("i")
        if kind == "range":
            vector = self.leaf(rng.choice(["vN", "vM"]), scope)
            bounds = rng.choice([str(rng.randint(0, 3)), "n", "1, n + 2", "n, -1, -1",
                                 f"len({self.leaf('vN', scope)})", f"0, {self.N}, 2",
                                 f"len({self.leaf('vM', scope)}) - 1, -1, -2",
                                 f"np.count_nonzero({self.token('cmp', vector, '>', self.threshold())})"])
            head, inner.ints = f"for {i} in range({bounds}):", inner.ints + [i]
        elif kind in ("rows", "enumerate"):
            r = self.fresh("r")
            rows = self.leaf("m", scope)
            head = f"for {r} in {rows}:" if kind == "rows" else f"for {i}, {r} in enumerate({rows}):"
            inner.vars[r] = "vN"
            if kind == "enumerate":
                inner.ints = inner.ints + [i]
        elif kind == "elements":
            p = self.fresh("p")
            head = f"for {p} in {self.expr(rng.choice(['vN', 'vM']), scope, 2)}:"
            inner.vars[p] = "s"
        elif kind in ("zip", "enumerate_zip"):
            p, q = self.fresh("p"), self.fresh("q")
            u, v = (self.expr(rng.choice(["vN", "vM"]), scope, 2) for _ in range(2))
            head = f"for {p}, {q} in zip({u}, {v}):" if kind == "zip" else \
                f"for {i}, ({p}, {q}) in enumerate(zip({u}, {v})):"
            inner.vars[p] = inner.vars[q] = "s"
            if kind == "enumerate_zip":
                inner.ints = inner.ints + [i]
        else:
            typ = self.new_type()
            u = self.fresh("u")
            items = ", ".join(self.expr(typ, scope, 1) for _ in range(rng.randint(1, 3)))
            head = f"for {u} in ({items},):" if rng.random() < 0.5 else f"for {u} in [{items}]:"
            inner.vars[u] = typ
        self.emit(indent, head)
        self.stmt_reassign_outer(scope, inner, indent + 1)
        self.block(inner, indent + 1, rng.randint(0, 2))

    def stmt_reassign_outer(self, outer, inner, indent):
        """A loop body's first statement: update a value that lives on after the loop."""
        name = self.rng.choice(self.value_names(outer))
        typ = outer.vars[name]
        self.modified.append(name)
        self.emit(indent, f"{name} = 0.7 * {name} + 0.3 * {self.expr(typ, inner)}")

    def stmt_while(self, scope, indent):
        rng = self.rng
        k = self.fresh("k")
        self.emit(indent, f"{k} = 0")
        inner = scope.child(in_loop=True)
        inner.ints = inner.ints + [k]
        r = rng.random() * (1.0 if self.has("if") else 0.8)    # `while True` needs if/break
        if r < 0.4:
            self.emit(indent, f"while {k} < {rng.choice(['1', '2', '3', 'n'])}:")
        elif r < 0.8:
            self.emit(indent, f"while {k} < {rng.randint(1, 3)} and ({self.condition(scope)}):")
        else:
            self.emit(indent, "while True:")
        self.emit(indent + 1, f"{k} = {k} + 1")
        self.stmt_reassign_outer(scope, inner, indent + 1)
        if r >= 0.8:          # before the rest of the body: a `continue` there cannot skip it
            self.emit(indent + 1, f"if {k} >= {rng.randint(1, 3)} or ({self.condition(inner)}):")
            self.emit(indent + 2, "break")
        self.block(inner, indent + 1, rng.randint(0, 1))
        scope.ints.append(k)

    def stmt_write(self, scope, indent):
        rng = self.rng
        typ = rng.choice(["vN", "vM", "vN", "m"])
        t = self.fresh("w")
        self.emit(indent, f"{t} = {self.expr(typ, scope, 1)} * 1.0")
        if typ == "m":
            i, j = rng.randrange(-self.M, self.M), rng.randrange(-self.N, self.N)
            self.emit(indent, rng.choice([f"{t}[{i}] = {self.expr('vN', scope, 1)}",
                                          f"{t}[:, {j}] = {self.expr('vM', scope, 1)}",
                                          f"{t}[{i}, {j}] += {self.expr('s', scope, 1)}"]))
        else:
            L = self.length(typ)
            k = rng.randrange(-L, L)
            scope.vars[t] = typ
            self.emit(indent, rng.choice([
                f"{t}[{k}] = {self.expr('s', scope, 1)}",
                f"{t}[{k}] += {self.expr('s', scope, 1)}",
                f"{t}[:2] = {self.expr(typ, scope, 1)}[-2:]",
                f"{t}[::2] = {self.expr(typ, scope, 1)}[::2] * 0.5"]))
        scope.vars[t] = typ

    def stmt_fill(self, scope, indent):
        rng = self.rng
        t, i = self.fresh("w"), self.fresh("i")
        inner = scope.child(in_loop=True)
        inner.ints = inner.ints + [i]
        if rng.random() < 0.7:
            typ = rng.choice(["vN", "vM"])
            self.emit(indent, f"{t} = np.zeros({self.length(typ)})")
            self.emit(indent, f"for {i} in range({self.length(typ)}):")
            self.emit(indent + 1, f"{t}[{i}] = {self.expr('s', inner, 1)}")
        else:
            typ = "m"
            self.emit(indent, f"{t} = np.zeros(({self.M}, {self.N}))")
            self.emit(indent, f"for {i} in range({self.M}):")
            self.emit(indent + 1, f"{t}[{i}] = {self.expr('vN', inner, 1)}")
        scope.vars[t] = typ

    def stmt_append(self, scope, indent):
        rng = self.rng
        typ = self.new_type()
        lst, i, t = self.fresh("lst"), self.fresh("i"), self.fresh("t")
        inner = scope.child(in_loop=True)
        inner.ints = inner.ints + [i]
        self.emit(indent, f"{lst} = []")
        if self.has("for"):
            self.emit(indent, f"for {i} in range({rng.randint(1, 3)}):")
            self.emit(indent + 1, f"{lst}.append({self.expr(typ, inner, 1)})")
        else:
            for _ in range(rng.randint(1, 3)):
                self.emit(indent, f"{lst}.append({self.expr(typ, scope, 1)})")
        use = rng.choice([f"{lst}[-1] + {lst}[0]", f"sum({lst})", f"{lst}[0] * len({lst})"])
        self.emit(indent, f"{t} = {use}")
        scope.vars[t] = typ

    # --- the whole program -------------------------------------------------------------------
    def final(self, scope):
        names = self.value_names(scope)
        recent = [n for n in names if n not in PARAMS][-2:]
        modified = [n for n in dict.fromkeys(reversed(self.modified)) if n in scope.vars][:3]
        chosen = list(dict.fromkeys(recent + modified + self.rng.sample(names, 1)))
        terms = []
        for name in chosen:
            typ = scope.vars[name]
            term = name if typ == "s" else f"np.sum({name})" if typ != "m" else f"np.sum({name}) * 0.3"
            terms.append(term if not terms else f"{self.const()} * {term}")
        return " + ".join(terms)

    def write(self):
        scope = _Scope({"x": "vN", "W": "m", "a": "s", "b": "vM"}, [], 0)
        while self.statements < self.budget:
            self.statement(scope, 1)
        self.emit(1, f"return {self.final(scope)}")
        body = ["    " + line for line in self.prelude] + self.lines
        helpers = [HELPERS[h] for h in self.helpers]
        if "damp" in self.helpers:
            cond = self.token("cmp", "np.sum(u * u)", "<", 1.0)
            helpers[self.helpers.index("damp")] = HELPERS["damp"].format(cond=cond)
        text = "\n\n".join(["import math\n\nimport numpy as np\n"] + helpers
                           + ["def f(x, W, a, b, n):\n" + "\n".join(body) + "\n"])
        return self.render(text, watch=False), self.render(text, watch=True)

    def render(self, text, watch):
        def one(match):
            kind, *parts = self.tokens[int(match.group(1))]
            if kind == "cmp":
                v, op, t = parts
                return f"_cmp({v}, {op!r}, {t})" if watch else f"({v}) {op} {t}"
            if kind == "chain":
                v, lo, hi = parts
                return f"_chain({v}, {lo}, {hi})" if watch else f"{lo} < {v} < {hi}"
            u, v = parts
            return f"_{kind}({u}, {v})" if watch else f"{kind}({u}, {v})"
        while _TOKEN.search(text):
            text = _TOKEN.sub(one, text)
        if watch:
            text = text.replace("import numpy as np\n", "import numpy as np\n" + WATCH_PRELUDE, 1)
        return text


def generate_program(rng, features=FEATURES):
    """A random Program drawn from `rng` (a random.Random) using `features`, a subset of
    FEATURES; () gives straight-line code."""
    unknown = set(features) - set(FEATURES)
    if unknown:
        raise ValueError(f"unknown features {sorted(unknown)}; choose from {FEATURES}")
    writer = _Writer(rng, features)
    source, watch_source = writer.write()
    return Program(source, watch_source, writer.N, writer.M, tuple(features))


def _richardson_grad(f, args, pos, h=1e-3):
    """d f / d args[pos] by Richardson-extrapolated central differences: a second estimate,
    independent of numerical_gradient's step, to tell whether finite differences can be trusted."""
    def central(step):
        return numerical_gradient(f, args, pos, eps=step)
    return (4 * central(h / 2) - central(h)) / 3


def program_and_inputs(seed, features=FEATURES):
    """(program, inputs, reference), reproducible from (seed, features): inputs keep every kink
    at least MARGIN away, and finite differences at two step sizes agree there.  reference is
    (f's value, [finite-difference gradient for each position in WRT])."""
    rng = random.Random(f"{seed}/{','.join(sorted(features))}")
    for _ in range(20):
        program = generate_program(rng, features)
        namespace = {}
        exec(compile(program.source, "<program>", "exec"), namespace)
        f = namespace["f"]
        for _ in range(10):
            args = program.make_inputs(rng)
            try:
                margin, value = program.margin_and_value(args)
            except (ValueError, OverflowError):     # math.sin(inf) and the like: values blew up
                continue
            if not (margin >= MARGIN and np.isfinite(value) and abs(value) < 1e3):
                continue
            with np.errstate(all="ignore"):
                grads = [numerical_gradient(f, copy.deepcopy(args), pos) for pos in WRT]
                checks = [_richardson_grad(f, copy.deepcopy(args), pos) for pos in WRT]
            tol = dict(rtol=RTOL / 4, atol=ATOL / 4 * (1 + abs(value)))
            if all(np.allclose(g, c, **tol) for g, c in zip(grads, checks)):
                return program, args, (value, grads)
    raise RuntimeError(f"seed {seed}: no program with inputs where finite differences are reliable")


def load_module(source, directory, name):
    """Write `source` to directory/name.py and import it (so inspect.getsource works)."""
    path = os.path.join(directory, name + ".py")
    with open(path, "w") as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def describe(seed, program, args, problem):
    shown = "\n".join(f"    {p} = {a.tolist() if isinstance(a, np.ndarray) else a!r}"
                      for p, a in zip(PARAMS, args))
    numbered = "\n".join(f"{i + 1:3d}  {line}" for i, line in enumerate(program.source.splitlines()))
    return (f"random program, seed {seed}, features {program.features}: {problem}\n"
            f"--- source ---\n{numbered}\n--- inputs ---\n{shown}\n"
            f"--- reproduce ---\n    python tests/random_programs.py --seed {seed} "
            f"--features {','.join(program.features) or 'none'} --show")


def check_program(seed, features, directory):
    """Differentiate the program of (seed, features) w.r.t. x, W, a, b; compare value and
    gradients with the plain function and finite differences.  AssertionError (with the
    source and inputs) on any mismatch or error."""
    program, args, (_, reference) = program_and_inputs(seed, features)
    tag = "_".join(sorted(features)) or "none"
    module = load_module(program.source, directory, f"srcgrad_random_{tag}_{seed}")
    f = module.f
    before = copy.deepcopy(args)
    try:
        value, grads = srcgrad.value_and_grad(f, wrt=WRT)(*args)
    except Exception as exc:                         # noqa: BLE001  (reported with the program)
        raise AssertionError(describe(seed, program, args, f"{type(exc).__name__}: {exc}")) from exc
    for p, a, b in zip(PARAMS, args, before):
        if not np.array_equal(a, b):
            raise AssertionError(describe(seed, program, args, f"the gradient call modified {p}"))
    want = f(*copy.deepcopy(before))
    if not np.isclose(value, want, rtol=1e-10, atol=1e-12):
        raise AssertionError(describe(seed, program, args, f"value {value!r}, plain f gives {want!r}"))
    for pos, g, num in zip(WRT, grads, reference):
        if np.shape(g) != np.shape(num) or not np.allclose(g, num, rtol=RTOL, atol=ATOL * (1 + abs(want))):
            raise AssertionError(describe(seed, program, args,
                                          f"gradient w.r.t. {PARAMS[pos]}:\n    srcgrad {g!r}\n"
                                          f"    finite differences {num!r}"))


# --- pytest ------------------------------------------------------------------------------------

COUNT = int(os.environ.get("SRCGRAD_RANDOM_PROGRAMS", "250"))
FIRST_SEED = int(os.environ.get("SRCGRAD_RANDOM_SEED", "0"))


@pytest.fixture(scope="module")
def directory(tmp_path_factory):
    return str(tmp_path_factory.mktemp("random_programs"))


@pytest.mark.parametrize("seed", range(FIRST_SEED, FIRST_SEED + COUNT))
def test_random_program(seed, directory):
    check_program(seed, FEATURES, directory)


@pytest.mark.parametrize("feature", FEATURES)
@pytest.mark.parametrize("seed", range(8))
def test_random_program_with_one_feature(feature, seed, directory):
    check_program(seed, (feature,), directory)


@pytest.mark.parametrize("seed", range(30))
def test_random_straight_line_program(seed, directory):
    """Straight-line programs only: these must pass before and after issue #3."""
    check_program(seed, (), directory)


MARKERS = {"if": ["if ", " else ", "elif ", "not ", "return"],
           "for": ["for ", "enumerate(", "zip(", "break", "continue"], "while": ["while "],
           "call": ["smooth(", "pair(", "math.", "sq(", "scaled(", "rpow("],
           "index": ["[0]", "[::", "[[", "] = ", "] += ", "np.zeros("],
           "list": ["sum([", ".append(", "['"]}


def test_generator_is_reproducible_valid_and_covers_every_feature():
    seen = {marker: 0 for markers in MARKERS.values() for marker in markers}
    for seed in range(60):
        program, args, _ = program_and_inputs(seed)
        again, args_again, _ = program_and_inputs(seed)
        assert again.source == program.source and again.watch_source == program.watch_source
        assert all(np.array_equal(u, v) for u, v in zip(args, args_again))
        namespace = {}
        exec(compile(program.source, f"<seed {seed}>", "exec"), namespace)
        value = namespace["f"](*copy.deepcopy(args))
        assert value == program.margin_and_value(args)[1], program.source
        assert np.ndim(value) == 0
        for marker in seen:
            seen[marker] += marker in program.source
    missing = [m for m, k in seen.items() if k < 3]
    assert not missing, f"markers seen fewer than 3 times in 60 programs: {missing}"
    assert "__T" not in program.source and "_cmp(" not in program.source


def test_kinks_are_kept_away_from_their_thresholds():
    recorded = 0
    for seed in range(100):
        program, args, _ = program_and_inputs(seed, ("if",))
        margin, _ = program.margin_and_value(args)
        assert margin >= MARGIN
        recorded += margin < math.inf
    assert recorded > 50            # most programs pass some condition on data


def test_a_wrong_gradient_is_reported_with_source_and_inputs(monkeypatch, directory):
    real = srcgrad.value_and_grad

    def off_by_a_little(f, wrt):
        def run(*args):
            value, grads = real(f, wrt=wrt)(*args)
            return value, (grads[0] * 1.001,) + tuple(grads[1:])
        return run
    monkeypatch.setattr(srcgrad, "value_and_grad", off_by_a_little)
    with pytest.raises(AssertionError) as info:
        check_program(3, (), directory)
    program, args, _ = program_and_inputs(3, ())
    text = str(info.value)
    assert "gradient w.r.t. x" in text and "def f(x, W, a, b, n):" in text
    assert repr(args[2]) in text and "--seed 3 --features none" in text


# --- by hand ----------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1, help="number of programs (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--features", default="all",
                        help="comma-separated subset of " + ",".join(FEATURES) + ", 'all' or 'none'")
    parser.add_argument("--show", action="store_true", help="print each program's source and inputs")
    parser.add_argument("--stop", action="store_true", help="stop at the first failure")
    opts = parser.parse_args(argv)
    features = FEATURES if opts.features == "all" else () if opts.features == "none" else \
        tuple(f for f in opts.features.split(",") if f)
    directory = tempfile.mkdtemp(prefix="srcgrad_random_")
    failures, start = {}, time.perf_counter()
    for seed in range(opts.seed, opts.seed + opts.count):
        if opts.show:
            program, args, _ = program_and_inputs(seed, features)
            print(describe(seed, program, args, "shown") + "\n")
        try:
            check_program(seed, features, directory)
        except AssertionError as exc:
            text = str(exc)
            first = text.split("\n", 1)[0].split(": ", 1)[1]
            failures.setdefault(first.split(":")[0][:60], []).append(seed)
            print(text, "\n", file=sys.stderr)
            if opts.stop:
                break
    n_failed = sum(map(len, failures.values()))
    print(f"{opts.count - n_failed} of {opts.count} programs passed in {time.perf_counter() - start:.1f} s")
    for kind, seeds in sorted(failures.items(), key=lambda kv: -len(kv[1])):
        print(f"  {len(seeds):4d}  {kind}  (seeds {', '.join(map(str, seeds[:10]))}{' ...' * (len(seeds) > 10)})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
