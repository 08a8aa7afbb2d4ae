"""Random expression-DAG programs, differentiated by srcgrad and checked against finite differences.

A second program generator, independent of tests/random_programs.py.  Its design:

* Programs are grown statement by statement over a live environment of *dummy values*: every
  candidate statement is executed on a copy of the environment before it is accepted, so any
  NumPy construct whose shapes work is admissible (broadcasting, fancy indices with negative and
  repeated entries, writes through views, unpacking of rows...) without a shape algebra here.
  Whether an array aliases a parameter is read off the dummies with `np.shares_memory`, so writes
  only ever go into arrays the function owns (never into the caller's arguments), while writes
  into an owned array that other names view are allowed and exercised.
* Each program is rendered twice from one tree of statements: the real module (written to a
  file and imported, as srcgrad reads source with `inspect`) and an *instrumented twin*, in which
  every kinked operation (abs, maximum/minimum, clip, where, max/min reductions, std, the
  arguments of log/sqrt/division/fractional powers, data-dependent `if`) goes through a recorder
  that notes its distance from the kink.  Inputs are redrawn until every kink is at least
  `MARGIN` away and central differences at two step sizes agree; otherwise the program is
  "skipped" (counted, rare).
* Reverse mode (`grad` or `value_and_grad`, `wrt` a position, a name or a tuple) and forward mode
  (`jvp`, a random tangent on one or on all float arguments) are compared with float64 central
  differences; the values both return are compared with `f`'s.

Outcome of a program: "ok", "refused" (a loud SrcgradError that is not a GradientRuntimeError,
or an UndefinedGradientError: a case NumPy leaves undefined, refused at run time),
"skipped" (no kink-free input found), or failures: a gradient/tangent/value that differs from
the reference, a gradient of the wrong shape or type, a GradientRuntimeError, any other
exception, or arguments mutated by srcgrad's generated code.

    python tests/random_dags.py --count 20000 --seed 0     # counts + smallest failing programs
    python tests/random_dags.py --seed 17 --show           # one program (and its check)
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
import traceback
import warnings
from collections import Counter, defaultdict

import numpy as np

RTOL, ATOL = 1e-5, 1e-6          # srcgrad vs finite differences
MARGIN = 0.02                    # least distance of any kink from the inputs' values
STEPS = (1e-6, 1e-4)             # central-difference steps; the reference is the first
MAX_MAGNITUDE = 1e4              # values and gradients beyond this are redrawn
DRAWS = 12                       # input draws per program before it is skipped
MAX_SIZE = 12                    # largest array a program builds

PARAM_POOL = [("x", (3,)), ("M", (2, 3)), ("s", "float"), ("w", (2,)), ("c", (2, 1)),
              ("r", (1, 3)), ("theta", (2,)), ("n", "int")]
LITERALS = ["0.5", "1.5", "2.0", "0.3", "0.7", "1.2"]


class Reject(Exception):
    """A candidate statement or expression that does not work on the dummies."""


# ----------------------------------------------------------------------------------------------
# The kink recorder the twin calls


class Kinks:
    """Kinked operations of the twin: each notes how far its argument is from the kink."""

    def __init__(self):
        self.margin = math.inf
        self.peak = 0.0

    def big(self, a):
        """An assigned value: how large values get (`theta ** 16` then `np.sin` of it is too
        steep for finite differences, and a kink after it is crossed within one step)."""
        try:
            self.peak = max(self.peak, float(np.max(np.abs(np.asarray(a, dtype=float)), initial=0.0)))
        except (TypeError, ValueError):
            pass
        return a

    def note(self, d, strict=False):
        """Distances from a kink.  An exact zero at random inputs is structural (`np.maximum(a, a)`,
        a tie between copies of one element, `np.abs` of a constant zero): both sides are the same
        function near the inputs, the kink is never crossed and the derivative is unique, so it
        is ignored — except where the derivative itself is singular there (std, norm, log, sqrt:
        `strict`)."""
        d = np.asarray(d, dtype=float)
        if not strict:
            d = d[d != 0]
        if d.size:
            self.margin = min(self.margin, float(np.min(d)))

    def abs(self, a):
        self.note(np.abs(a))
        return np.abs(a)

    def maximum(self, a, b):
        self.note(np.abs(np.subtract(a, b)))
        return np.maximum(a, b)

    def minimum(self, a, b):
        self.note(np.abs(np.subtract(a, b)))
        return np.minimum(a, b)

    def clip(self, a, lo, hi):
        self.note(np.abs(np.subtract(a, lo)))
        self.note(np.abs(np.subtract(a, hi)))
        return np.clip(a, lo, hi)

    def gt(self, a, b):
        self.note(np.abs(np.subtract(a, b)))
        return a > b

    def pos(self, a):
        self.note(a, strict=True)     # log, sqrt, division, fractional powers: positive by construction
        return a

    def red(self, name, a, *args, **kwargs):
        arr = np.asarray(a, dtype=float)
        axis = kwargs.get("axis", args[0] if args else None)
        if name in ("max", "min", "amax", "amin"):
            flat = arr.reshape(-1) if axis is None else np.moveaxis(arr, axis, -1)
            if flat.shape[-1] > 1:
                srt = np.sort(flat, axis=-1)
                gap = srt[..., -1] - srt[..., -2] if name in ("max", "amax") else srt[..., 1] - srt[..., 0]
                self.note(gap)
        elif name == "std":
            length = arr.size if axis is None else arr.shape[axis]
            if length > 1:
                self.note(np.std(arr, axis=axis), strict=True)
        elif name == "norm":
            self.note(np.linalg.norm(arr, axis=axis), strict=True)
        if name == "norm":
            return np.linalg.norm(a, *args, **kwargs)
        return getattr(np, name)(a, *args, **kwargs)


# ----------------------------------------------------------------------------------------------
# Program representation


class Node:
    """A statement: `real`/`twin` text of one line (a compound statement's header), `body` and
    `orelse` for compound statements.  `fixed` nodes are never deleted by the shrinker."""

    def __init__(self, real, twin=None, body=None, orelse=None, tags=(), fixed=False):
        self.real, self.twin = real, real if twin is None else twin
        self.body, self.orelse = body, orelse
        self.tags, self.fixed = set(tags), fixed

    def lines(self, twin, indent):
        pad = "    " * indent
        out = [pad + (self.twin if twin else self.real)]
        if self.body is not None:
            for child in self.body or [Node("pass")]:
                out += child.lines(twin, indent + 1)
        if self.orelse:
            out.append(pad + "else:")
            for child in self.orelse:
                out += child.lines(twin, indent + 1)
        return out

    def all_tags(self):
        tags = set(self.tags)
        for child in (self.body or []) + (self.orelse or []):
            tags |= child.all_tags()
        return tags


class Function:
    def __init__(self, name, params, body, terms):
        self.name = name
        self.params = params          # [(name, kind, default text or None)]
        self.body = body              # [Node]
        self.terms = terms            # [(sign, real, twin, tags)] summed by the return

    def lines(self, twin):
        sig = ", ".join(p if d is None else f"{p}={d}" for p, _, d in self.params)
        out = [f"def {self.name}({sig}):"]
        for node in self.body:
            out += node.lines(twin, 1)
        ret = ""
        for k, (sign, real, tw, _) in enumerate(self.terms):
            text = tw if twin else real
            if k == 0:
                ret = ("-" if sign == "-" else "" if sign == "+" else sign + " * ") + text
            else:
                ret += (f" {sign} " if sign in "+-" else f" + {sign} * ") + text
        out.append(f"    return {ret}")
        return out

    def tags(self):
        tags = set()
        for node in self.body:
            tags |= node.all_tags()
        for term in self.terms:
            tags |= set(term[3])
        return tags


class Program:
    def __init__(self, seed, helpers, main, n_value):
        self.seed, self.helpers, self.main, self.n_value = seed, helpers, main, n_value

    def source(self, twin=False):
        parts = ["import numpy as np\n"]
        for h in self.helpers + [self.main]:
            parts.append("\n" + "\n".join(h.lines(twin)) + "\n")
        return "\n".join(parts)

    def tags(self):
        tags = set(self.main.tags())
        for h in self.helpers:
            tags |= h.tags()
        return tags

    def size(self):
        return len(self.source().splitlines())


class E:
    """An expression: real and twin text, its value on the dummies, whether it is an atom (needs
    no parentheses as an operand), the operation count and construct tags."""

    def __init__(self, real, twin, value, atom, ops, tags):
        self.real, self.twin, self.value, self.atom, self.ops, self.tags = real, twin, value, atom, ops, tags

    def p(self, twin=False):
        text = self.twin if twin else self.real
        return text if self.atom else f"({text})"


def _shape(v):
    return np.shape(v)


def _is_pyfloat(v):
    return type(v) is float


def _fmt_index(items):
    return ", ".join(items)


# ----------------------------------------------------------------------------------------------
# The generator


_CODE = {}     # compiled dummy statements (within a program the same text runs several times)


class Gen:
    """Grows the statements of one function over an environment of dummy values."""

    def __init__(self, rng, glob, params, helpers, depth=0, allow=None):
        self.rng = rng
        self.glob = glob                       # {'np': np, helper functions}
        self.env = {}                          # name -> dummy value (aliasing as in the program)
        self.params = [p for p, _, _ in params]
        self.locked = set()                    # names that cannot be rebound (params used as int)
        self.helpers = helpers                 # shared list of Function
        self.depth = depth                     # 0: main function, 1: a helper
        self.allow = allow
        self.ops = 0
        self.counter = 0
        self.used = Counter()
        self.order = []                        # names in order of definition
        self.hidden = set()                    # loop counters / loop-local names not for reuse
        self.touched = []                      # names in the order they were last bound or written
        for name, kind, _ in params:
            if kind == "int":
                self.env[name] = 2
                self.locked.add(name)
            elif kind == "float":
                self.env[name] = float(rng.uniform(-1, 1))
            else:
                self.env[name] = np.asarray(np.random.default_rng(rng.randrange(1 << 30)).normal(size=kind))
            self.order.append(name)

    # -- names and values --------------------------------------------------------------------

    def fresh(self, prefix="v"):
        self.counter += 1
        name = f"{prefix}{self.counter}"
        while name in self.env or name in self.params:
            self.counter += 1
            name = f"{prefix}{self.counter}"
        return name

    def floats(self, pred=None):
        out = []
        for name in self.order:
            if name in self.hidden or name not in self.env:
                continue
            v = self.env[name]
            if isinstance(v, (bool, int)) and not isinstance(v, float):
                continue
            if isinstance(v, np.ndarray) and v.dtype.kind != "f":
                continue
            if pred is None or pred(v):
                out.append(name)
        return out

    def writable(self, name):
        """An array the function owns: it shares no memory with any parameter."""
        v = self.env.get(name)
        if not isinstance(v, np.ndarray) or v.ndim == 0:
            return False
        for p in self.params:
            pv = self.env.get(p)
            if isinstance(pv, np.ndarray) and np.shares_memory(v, pv):
                return False
        return True

    def code(self, text, mode):
        key = (text, mode)
        if key not in _CODE:
            if len(_CODE) > 20000:
                _CODE.clear()
            _CODE[key] = compile(text, "<dummy>", mode)
        return _CODE[key]

    def evaluate(self, text):
        try:
            value = eval(self.code(text, "eval"), self.glob, self.env)
        except Exception as exc:
            raise Reject(str(exc))
        if isinstance(value, (bool, np.bool_)) or (isinstance(value, np.ndarray) and value.dtype.kind != "f"):
            raise Reject("not float")
        if not isinstance(value, (float, np.floating, np.ndarray)):
            raise Reject("not a float value")
        if np.ndim(value) > 2 or np.size(value) > MAX_SIZE or np.size(value) == 0:
            raise Reject("shape")
        return value

    def run(self, text, env=None, extra=None):
        """Execute a statement on `env` (default: the live environment)."""
        env = self.env if env is None else env
        if extra:
            env.update(extra)
        try:
            exec(self.code(text, "exec"), self.glob, env)
        except Exception as exc:
            raise Reject(str(exc))

    def trial(self, text, loop_values=None):
        """Validate a statement on copies of the environment (for each loop-index value)."""
        for extra in loop_values or [None]:
            env = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in self.env.items()}
            self.run(text, env, extra)
            for name, v in env.items():
                if isinstance(v, np.ndarray) and (v.ndim > 2 or v.size > MAX_SIZE or v.size == 0):
                    raise Reject("too big or empty")

    # -- expressions -------------------------------------------------------------------------

    def leaf(self, pred=None, literal=True):
        names = self.floats(pred)
        if literal and (not names or self.rng.random() < 0.08):
            text = self.rng.choice(LITERALS)
            value = float(text)
            if pred is None or pred(value):
                return E(text, text, value, True, 0, set())
        if not names:
            raise Reject("no operand")
        # recent and unused names are preferred: the program is a DAG, not a forest of leaves
        weights = [1.0 + 2.0 * (self.used[n] == 0) + 0.3 * k for k, n in enumerate(names)]
        name = self.rng.choices(names, weights)[0]
        return E(name, name, self.env[name], True, 0, set())

    def expr(self, depth, pred=None):
        """A random expression of at most `depth` nested operations whose value satisfies pred."""
        for _ in range(12):
            if depth <= 0 or self.rng.random() < 0.2:
                try:
                    return self.leaf(pred)
                except Reject:
                    if depth <= 0:
                        raise
                    continue
            try:
                e = self.op(depth)
            except Reject:
                continue
            if pred is None or pred(e.value):
                return e
        return self.leaf(pred)

    def make(self, real, twin, ops, tags, atom=False, parts=()):
        value = self.evaluate(real)
        tags = set(tags)
        for part in parts:
            tags |= part.tags
            ops += part.ops
        return E(real, twin, value, atom, ops, tags)

    def op(self, depth):
        kind = self.rng.choices(
            ["unary", "binary", "reduce", "index", "shape", "matmul", "join", "build", "kink", "power"],
            [14, 16, 12, 8, 4, 5, 3, 3, 8, 5])[0]
        return getattr(self, "op_" + kind)(depth)

    def positive(self, a):
        """A strictly positive expression of `a` (real, twin)."""
        forms = [("{a} * {a} + 0.5", "{t} * {t} + 0.5"),
                 ("np.abs({a}) + 0.3", "_K.abs({t}) + 0.3"),
                 ("1.5 + np.sin({a})", "1.5 + np.sin({t})"),
                 ("np.exp(np.tanh({a}))", "np.exp(np.tanh({t}))"),
                 ("np.square({a}) + 0.2", "np.square({t}) + 0.2"),
                 ("np.exp(-{a} * {a})", "np.exp(-{t} * {t})")]
        real, twin = self.rng.choice(forms)
        return real.format(a=a.p()), "_K.pos(" + twin.format(t=a.p(True)) + ")"

    def op_unary(self, depth):
        a = self.expr(depth - 1)
        name = self.rng.choice(["neg", "exp", "log", "tanh", "sin", "cos", "sqrt", "square", "abs",
                                "exp_tanh", "neg"])
        if name == "neg":
            return self.make("-" + a.p(), "-" + a.p(True), 1, {"neg"}, parts=[a])
        if name in ("log", "sqrt"):
            real, twin = self.positive(a)
            return self.make(f"np.{name}({real})", f"np.{name}({twin})", 2, {name}, True, [a])
        if name == "exp_tanh":
            return self.make(f"np.exp(np.tanh({a.real}))", f"np.exp(np.tanh({a.twin}))", 2, {"exp"}, True, [a])
        if name == "exp":
            if np.max(np.abs(a.value)) > 3:
                raise Reject("exp of a large value")
            return self.make(f"np.exp({a.real})", f"np.exp({a.twin})", 1, {"exp"}, True, [a])
        if name == "abs":
            return self.make(f"np.abs({a.real})", f"_K.abs({a.twin})", 1, {"abs"}, True, [a])
        return self.make(f"np.{name}({a.real})", f"np.{name}({a.twin})", 1, {name}, True, [a])

    def op_power(self, depth):
        a = self.expr(depth - 1)
        exp = self.rng.choice(["2", "3", "2.0", "1.5", "0.5", "-1", "-2", "-0.5", "2", "3.0"])
        if exp in ("2", "3", "2.0", "3.0"):
            return self.make(f"{a.p()} ** {exp}", f"{a.p(True)} ** {exp}", 1, {"pow" + exp}, parts=[a])
        real, twin = self.positive(a)
        return self.make(f"({real}) ** {exp}", f"({twin}) ** {exp}", 2, {"pow" + exp}, parts=[a])

    def broadcast_pair(self, depth):
        a = self.expr(depth - 1)
        sa = _shape(a.value)

        def fits(v):
            try:
                return len(np.broadcast_shapes(sa, _shape(v))) <= 2
            except ValueError:
                return False
        b = self.expr(depth - 1 if self.rng.random() < 0.5 else 0, fits)
        if self.rng.random() < 0.5:
            a, b = b, a
        return a, b

    def op_binary(self, depth):
        a, b = self.broadcast_pair(depth)
        o = self.rng.choice(["+", "-", "*", "/", "+", "*", "/c"])
        if o == "/":
            real, twin = self.positive(b)
            return self.make(f"{a.p()} / ({real})", f"{a.p(True)} / ({twin})", 2, {"div"}, parts=[a, b])
        if o == "/c":
            c = self.rng.choice(["2.0", "3.0", "0.5"])
            return self.make(f"{a.p()} / {c}", f"{a.p(True)} / {c}", 1, {"div"}, parts=[a])
        tag = {"+": "add", "-": "sub", "*": "mul"}[o]
        # the right operand of - needs parentheses when it is itself a sum
        return self.make(f"{a.p()} {o} {b.p()}", f"{a.p(True)} {o} {b.p(True)}", 1, {tag}, parts=[a, b])

    def op_kink(self, depth):
        form = self.rng.choice(["maximum", "minimum", "clip", "where", "where2", "abs"])
        if form in ("maximum", "minimum"):
            a, b = self.broadcast_pair(depth)
            if a.real == b.real:
                raise Reject("a tie by construction")
            return self.make(f"np.{form}({a.real}, {b.real})", f"_K.{form}({a.twin}, {b.twin})", 1,
                             {form}, True, [a, b])
        if form == "clip":
            a = self.expr(depth - 1)
            lo = self.rng.choice(["-0.5", "-1.0", "0.0", "-0.2"])
            hi = self.rng.choice(["0.5", "1.0", "0.8"])
            return self.make(f"np.clip({a.real}, {lo}, {hi})", f"_K.clip({a.twin}, {lo}, {hi})", 1,
                             {"clip"}, True, [a])
        if form == "abs":
            a = self.expr(depth - 1)
            return self.make(f"np.abs({a.real})", f"_K.abs({a.twin})", 1, {"abs"}, True, [a])
        a, b = self.broadcast_pair(depth)
        if form == "where":
            c = self.rng.choice(["0.0", "0.2", "-0.3"])
            e = self.expr(0)
            real = f"np.where({a.p()} > {c}, {b.real}, {e.real})"
            twin = f"np.where(_K.gt({a.p(True)}, {c}), {b.twin}, {e.twin})"
            return self.make(real, twin, 1, {"where"}, True, [a, b, e])
        real = f"np.where({a.p()} > {b.p()}, {a.real}, {b.real})"
        twin = f"np.where(_K.gt({a.p(True)}, {b.p(True)}), {a.twin}, {b.twin})"
        if a.real == b.real:
            raise Reject("a tie by construction")
        return self.make(real, twin, 1, {"where"}, True, [a, b])

    def op_reduce(self, depth):
        a = self.expr(depth - 1, lambda v: np.ndim(v) >= 1)
        nd = np.ndim(a.value)
        name = self.rng.choice(["sum", "mean", "max", "min", "prod", "std", "var", "sum", "mean", "max",
                                "norm"])
        kw = []
        if self.rng.random() < 0.6:
            axis = self.rng.choice(list(range(nd)) + [-1])
            kw.append(f"axis={axis}")
        if self.rng.random() < 0.3:
            kw.append("keepdims=True")
        kws = "".join(", " + k for k in kw)
        twin_kws = kws
        tags = {"red:" + name}
        if any(k.startswith("axis") for k in kw):
            axis = int(kw[0].split("=")[1])
            if np.shape(a.value)[axis] == 1:
                tags.add("red-len1-axis")
        if name == "norm":
            if "keepdims=True" in kw and not any(k.startswith("axis") for k in kw):
                raise Reject("norm keepdims without axis")
            return self.make(f"np.linalg.norm({a.real}{kws})", f"_K.red('norm', {a.twin}{twin_kws})", 1,
                             tags, True, [a])
        kinked = name in ("max", "min", "std")
        method = self.rng.random() < 0.35 and not _is_pyfloat(a.value)
        if method:
            tags.add("method")
            real = f"{a.p()}.{name}({kws[2:]})"
        else:
            real = f"np.{name}({a.real}{kws})"
        twin = f"_K.red('{name}', {a.twin}{twin_kws})" if kinked else (
            f"{a.p(True)}.{name}({kws[2:]})" if method else f"np.{name}({a.twin}{kws})")
        return self.make(real, twin, 1, tags, True, [a])

    def random_index(self, shape, allow_fancy=True):
        """Index text for an array of `shape` (slices with negative steps, negative and repeated
        fancy indices, ints), and its tags."""
        tags = set()
        items = []
        fancy_used = False
        for dim, length in enumerate(shape):
            r = self.rng.random()
            if r < 0.3:
                k = self.rng.randrange(-length, length)
                items.append(str(k))
                tags.add("int-index" if k >= 0 else "neg-index")
            elif r < 0.65 or fancy_used or not allow_fancy:
                sl = self.rng.choice(["::-1", "1:", ":-1", "::2", "-2:", ":", ":", "::-2", "1::-1", ":2"])
                items.append(sl)
                if "-1" in sl or "-2" in sl:
                    tags.add("neg-step" if "::-" in sl or "1::-1" == sl else "neg-slice")
                if sl != ":":
                    tags.add("slice")
            else:
                fancy_used = True
                m = self.rng.randint(1, 3)
                idx = [self.rng.randrange(-length, length) for _ in range(m)]
                if self.rng.random() < 0.4 and m >= 2:
                    idx[-1] = idx[0] - length if idx[0] >= 0 else idx[0] + length   # same element, other sign
                items.append("[" + ", ".join(map(str, idx)) + "]")
                tags.add("fancy")
                if len({i % length for i in idx}) < len(idx):
                    tags.add("fancy-repeat")
                if any(i < 0 for i in idx):
                    tags.add("fancy-neg")
        while len(items) > 1 and items[-1] == ":" and self.rng.random() < 0.7:
            items.pop()
        return _fmt_index(items), tags

    def op_index(self, depth):
        a = self.expr(depth - 1, lambda v: np.ndim(v) >= 1)
        idx, tags = self.random_index(np.shape(a.value))
        return self.make(f"{a.p()}[{idx}]", f"{a.p(True)}[{idx}]", 1, tags | {"index"}, True, [a])

    def op_shape(self, depth):
        a = self.expr(depth - 1, lambda v: np.ndim(v) >= 1)
        shape = np.shape(a.value)
        form = self.rng.choice(["T", "transpose", "reshape", "reshape", "ravel"])
        if form == "T":
            return self.make(f"{a.p()}.T", f"{a.p(True)}.T", 1, {"T"}, True, [a])
        if form == "transpose":
            return self.make(f"np.transpose({a.real})", f"np.transpose({a.twin})", 1, {"transpose"}, True, [a])
        size = int(np.prod(shape))
        targets = {6: ["2, 3", "3, 2", "-1", "6", "3, -1", "1, 6"], 3: ["3", "1, 3", "3, 1", "-1"],
                   2: ["2", "2, 1", "1, 2", "-1"], 4: ["2, 2", "4", "-1"], 1: ["1", "1, 1", "-1"]}.get(size)
        if form == "ravel" or not targets:
            return self.make(f"{a.p()}.ravel()", f"{a.p(True)}.ravel()", 1, {"ravel"}, True, [a])
        t = self.rng.choice(targets)
        if self.rng.random() < 0.3:
            return self.make(f"np.reshape({a.real}, ({t},))".replace(",,", ","),
                             f"np.reshape({a.twin}, ({t},))".replace(",,", ","), 1, {"reshape"}, True, [a])
        return self.make(f"{a.p()}.reshape({t})", f"{a.p(True)}.reshape({t})", 1, {"reshape"}, True, [a])

    def op_matmul(self, depth):
        a = self.expr(depth - 1, lambda v: np.ndim(v) >= 1)
        sa = np.shape(a.value)

        def fits(v):
            sb = np.shape(v)
            return len(sb) >= 1 and sb[0 if len(sb) == 1 else -2] == sa[-1]
        b = self.expr(depth - 1 if self.rng.random() < 0.4 else 0, fits)
        form = self.rng.choice(["@", "@", "dot"])
        if form == "@":
            return self.make(f"{a.p()} @ {b.p()}", f"{a.p(True)} @ {b.p(True)}", 1, {"matmul"}, parts=[a, b])
        return self.make(f"np.dot({a.real}, {b.real})", f"np.dot({a.twin}, {b.twin})", 1, {"dot"}, True, [a, b])

    def op_join(self, depth):
        a = self.expr(depth - 1, lambda v: np.ndim(v) >= 1)
        sa = np.shape(a.value)
        form = self.rng.choice(["concatenate", "stack", "concatenate1", "stack1"])
        if form.startswith("concatenate"):
            axis = 1 if form.endswith("1") and len(sa) == 2 else 0
            b = self.expr(0, lambda v: np.ndim(v) == len(sa) and all(
                x == y for k, (x, y) in enumerate(zip(np.shape(v), sa)) if k != axis))
            ax = ", axis=1" if axis else ""
            return self.make(f"np.concatenate([{a.real}, {b.real}]{ax})",
                             f"np.concatenate([{a.twin}, {b.twin}]{ax})", 1, {"concatenate"}, True, [a, b])
        b = self.expr(0, lambda v: np.shape(v) == sa)
        ax = ", axis=1" if form.endswith("1") else ""
        return self.make(f"np.stack([{a.real}, {b.real}]{ax})", f"np.stack([{a.twin}, {b.twin}]{ax})",
                         1, {"stack"}, True, [a, b])

    def op_build(self, depth):
        """Arrays built from differentiable scalars: np.array, np.full, np.full_like, np.linspace."""
        scalar = lambda v: np.ndim(v) == 0
        form = self.rng.choice(["array", "full", "full_like", "linspace", "ones_like"])
        a = self.expr(depth - 1, scalar)
        if form == "array":
            b = self.expr(0, scalar)
            items = [a, b] + ([self.expr(0, scalar)] if self.rng.random() < 0.5 else [])
            return self.make("np.array([" + ", ".join(i.real for i in items) + "])",
                             "np.array([" + ", ".join(i.twin for i in items) + "])", 1, {"np.array"}, True,
                             items)
        if form == "full":
            shape = self.rng.choice(["3", "(2, 3)", "2", "(2, 1)"])
            return self.make(f"np.full({shape}, {a.real})", f"np.full({shape}, {a.twin})", 1, {"full"}, True, [a])
        if form == "linspace":
            b = self.expr(0, scalar)
            num = self.rng.choice(["3", "2"])
            return self.make(f"np.linspace({a.real}, {b.real}, {num})", f"np.linspace({a.twin}, {b.twin}, {num})",
                             1, {"linspace"}, True, [a, b])
        like = self.expr(0, lambda v: np.ndim(v) >= 1)
        if form == "full_like":
            return self.make(f"np.full_like({like.real}, {a.real})", f"np.full_like({like.twin}, {a.twin})", 1,
                             {"full_like"}, True, [a])
        return self.make(f"np.ones_like({like.real}) * {a.p()}", f"np.ones_like({like.twin}) * {a.p(True)}", 2,
                         {"ones_like"}, parts=[a])

    # -- statements --------------------------------------------------------------------------

    def commit(self, node, names=(), uses=()):
        self.run("\n".join(node.lines(False, 0)))
        m = re.match(r"([A-Za-z_]\w*)\s*(\[|[-+*]?=)", node.real)
        if m and node.body is None:                  # the name this statement (re)binds or writes into
            if m.group(1) in self.touched:
                self.touched.remove(m.group(1))
            self.touched.append(m.group(1))
        for n in names:
            if n not in self.order:
                self.order.append(n)
        for u in uses:
            self.used[u] += 1
        return node

    def uses_of(self, e):
        return [n for n in re.findall(r"[A-Za-z_]\w*", e.real) if n in self.env]

    def st_assign(self, loop=None):
        e = self.expr(self.rng.choice([1, 2, 2, 3]))
        if e.ops == 0:
            raise Reject("a bare leaf")
        name = self.fresh()
        node = Node(f"{name} = {e.real}", f"{name} = _K.big({e.twin})", tags=e.tags)
        self.trial(node.real, loop)
        self.ops += e.ops
        return self.commit(node, [name], self.uses_of(e))

    def st_alias(self, loop=None):
        e = self.leaf(lambda v: not _is_pyfloat(v), literal=False)
        name = self.fresh("a")
        node = Node(f"{name} = {e.real}", tags={"alias"})
        return self.commit(node, [name], [e.real])

    def st_copy(self, loop=None):
        """An owned array: `t = a.copy()`, `np.array(a)`, `np.zeros_like(a)` + writes follow."""
        e = self.leaf(lambda v: np.ndim(v) >= 1, literal=False)
        form = self.rng.choice(["{a}.copy()", "{a}.copy()", "np.array({a})", "np.copy({a})", "np.zeros_like({a})",
                                "{a} * 1.0"])
        name = self.fresh("t")
        node = Node(f"{name} = " + form.format(a=e.real), tags={"copy"})
        self.trial(node.real, loop)
        self.commit(node, [name], [e.real])
        return node

    def st_view(self, loop=None):
        """A view of an owned array, kept alive while the array is written."""
        names = [n for n in self.floats(lambda v: np.ndim(v) >= 1) if self.writable(n)]
        if not names:
            raise Reject("nothing owned")
        t = self.rng.choice(names)
        shape = np.shape(self.env[t])
        forms = ["{t}[1:]", "{t}[::-1]", "{t}.T", "{t}[:-1]", "{t}.reshape(-1)"]
        if len(shape) == 2:
            forms += ["{t}[0]", "{t}[-1]", "{t}[:, ::-1]", "{t}[:, 0]", "{t}[::-1, 1:]"]
        name = self.fresh("view")
        node = Node(f"{name} = " + self.rng.choice(forms).format(t=t), tags={"view"})
        self.trial(node.real, loop)
        self.commit(node, [name], [t])
        if not np.shares_memory(self.env[name], self.env[t]):
            node.tags.discard("view")
        return node

    def st_write(self, loop=None, index=None):
        """`t[idx] = e` or `t[idx] op= e` into an owned array (inside a loop: at the loop index)."""
        names = [n for n in self.floats(lambda v: np.ndim(v) >= 1) if self.writable(n)]
        if not names:
            raise Reject("nothing owned")
        views = [n for n in names if any(m != n and isinstance(self.env[m], np.ndarray) and
                                         np.shares_memory(self.env[m], self.env[n]) for m in self.env)]
        t = self.rng.choice(views if views and self.rng.random() < 0.6 else names)
        shape = np.shape(self.env[t])
        tags = {"write"}
        if index is not None and self.rng.random() < 0.8:
            forms = [index, f"-1 - {index}", index] + ([f"{index}, 0", f":, {index}", f"{index}, ::-1", f"{index}, -1"]
                                                       if len(shape) == 2 else [])
            idx = self.rng.choice(forms)
            tags.add("write-loop-index")
        else:
            idx, itags = self.random_index(shape)
            tags |= {"write-" + t for t in itags}
        target = np.asarray(copy.deepcopy(self.env[t]))
        try:
            extra = {index: 0} if index else {}
            region = eval(f"__t[{idx}]", {"__t": target, **extra})
        except Exception:
            raise Reject("bad index")
        rshape = np.shape(region)

        def fits(v):
            try:
                return np.broadcast_shapes(rshape, np.shape(v)) == rshape
            except ValueError:
                return False
        e = self.expr(self.rng.choice([0, 1, 1, 2]), fits)
        o = self.rng.choice(["=", "=", "+=", "*=", "-="])
        if o != "=":
            tags.add("write-aug")
        node = Node(f"{t}[{idx}] {o} {e.real}", f"{t}[{idx}] {o} {e.twin}", tags=tags | e.tags)
        self.trial(node.real, loop)
        self.ops += e.ops + 1
        return self.commit(node, [], self.uses_of(e) + [t])

    def st_augment(self, loop=None):
        """`h += e` on a scalar or an owned array (in place: its views see it)."""
        names = [n for n in self.floats() if n not in self.locked and
                 (np.ndim(self.env[n]) == 0 or self.writable(n))]
        if not names:
            raise Reject("nothing to augment")
        h = self.rng.choice(names)
        sh = np.shape(self.env[h])
        if h in self.params:
            raise Reject("parameter")

        def fits(v):
            try:
                return np.broadcast_shapes(sh, np.shape(v)) == sh
            except ValueError:
                return False
        e = self.expr(self.rng.choice([0, 1, 2]), fits)
        o = self.rng.choice(["+=", "-=", "*="])
        node = Node(f"{h} {o} {e.real}", f"{h} {o} {e.twin}", tags={"augassign"} | e.tags)
        self.trial(node.real, loop)
        self.ops += e.ops + 1
        return self.commit(node, [], self.uses_of(e) + [h])

    def st_update(self, hname, values, drop=()):
        """`h = <an update of h>` (in a loop body: the value it carries changes each time)."""
        real, twin, etags, ops, uses = self.update_of(hname)
        node = Node(f"{hname} = {real}", f"{hname} = _K.big({twin})", tags=etags - set(drop))
        self.trial(node.real, values)
        self.ops += ops
        return self.commit(node, [], uses)

    def update_of(self, h, depth=2):
        """A shape-preserving expression of `h` (for loop-carried variables and branches)."""
        v = self.env[h]
        sh = np.shape(v)
        forms = ["{h} * {h}", "np.tanh({h} * {e})", "{h} + {e}", "0.5 * {h} + {e}", "np.sin({h}) * {e}",
                 "{h} * {e}", "{h} - {e} * {h}", "np.maximum({h}, {e})"]

        def fits(x):
            try:
                return np.broadcast_shapes(sh, np.shape(x)) == sh
            except ValueError:
                return False
        for _ in range(6):
            form = self.rng.choice(forms)
            e = self.expr(self.rng.randint(0, depth), fits) if "{e}" in form else None
            et = e.p() if e else ""
            tw = e.p(True) if e else ""
            real = form.format(h=h, e=et)
            twin = form.replace("np.maximum", "_K.maximum").format(h=h, e=tw)
            if e is not None and e.real == h and "maximum" in form:
                continue
            try:
                value = self.evaluate(real)
            except Reject:
                continue
            if np.shape(value) == sh:
                return real, twin, (e.tags if e else set()) | {"loop-carried"}, (e.ops if e else 0) + 1, \
                    (self.uses_of(e) if e else [])
        raise Reject("no update")

    def st_read(self, loop, index):
        """`u = A[i]`, `A[-1 - i]`, `A[:, i]` (a row of a 2-D array is a view)."""
        src = self.leaf(lambda v: np.ndim(v) >= 1, literal=False)
        shape = np.shape(src.value)
        forms = [index, f"-1 - {index}", index] + ([f":, {index}", f"{index}, ::-1"] if len(shape) == 2 else [])
        idx = self.rng.choice(forms)
        name = self.fresh("u")
        node = Node(f"{name} = {src.real}[{idx}]", tags={"read-loop-index"})
        self.trial(node.real, loop)
        return self.commit(node, [name], [src.real])

    def st_unpack(self, loop=None, index=None):
        """`a, b = theta`, `r0, r1 = M`, `p, q = Z[i]`, `a, b = b, a`."""
        form = self.rng.random()
        if form < 0.15:
            names = self.floats()
            if len(names) < 2:
                raise Reject("nothing to swap")
            a, b = self.rng.sample(names, 2)
            if a in self.params or b in self.params or a in self.locked or b in self.locked:
                raise Reject("parameter")
            node = Node(f"{a}, {b} = {b}, {a}", tags={"swap"})
            self.trial(node.real, loop)
            return self.commit(node, [], [a, b])
        if index is not None and form < 0.6:
            src = self.leaf(lambda v: np.ndim(v) == 2 and 2 <= np.shape(v)[1] <= 3, literal=False)
            k = np.shape(src.value)[1]
            rows = np.shape(src.value)[0]
            text = f"{src.real}[{index}]"
            tags = {"unpack-row-in-loop"}
        else:
            src = self.leaf(lambda v: np.ndim(v) >= 1 and 2 <= np.shape(v)[0] <= 3, literal=False)
            k = np.shape(src.value)[0]
            text = src.real
            tags = {"unpack-rows" if np.ndim(src.value) == 2 else "unpack-vector"}
        names = [self.fresh("u") for _ in range(k)]
        if self.rng.random() < 0.2 and k >= 2:
            names[-1] = "_" if self.rng.random() < 0.5 else names[-1]
        node = Node(", ".join(names) + f" = {text}", tags=tags)
        self.trial(node.real, loop)
        self.commit(node, [n for n in names if n != "_"], [src.real])
        if "_" in self.env:
            del self.env["_"]
        return node

    def st_call(self, loop=None):
        """A call of a module-level helper (keyword arguments, defaults), generated on demand."""
        if self.depth > 0:
            raise Reject("helpers do not call helpers")
        a = self.expr(self.rng.choice([0, 0, 1]))
        b = self.expr(0)
        if a.real == b.real and _is_pyfloat(a.value):
            raise Reject("same")
        sig = (np.shape(a.value), _is_pyfloat(a.value), np.shape(b.value), _is_pyfloat(b.value))
        helper = None
        for h in self.helpers:
            if h.signature == sig and self.rng.random() < 0.7:
                helper = h
        if helper is None:
            helper = make_helper(self.rng, self.glob, self.helpers, a.value, b.value)
            helper.signature = sig
        forms = ["{h}({a}, {b})", "{h}({a}, {b}, scale={s})", "{h}({a}, b={b})", "{h}(b={b}, a={a})",
                 "{h}({a}, {b}, {s})", "{h}(a={a}, b={b}, scale={s})"]
        form = self.rng.choice(forms)
        s = self.leaf(lambda v: np.ndim(v) == 0).real if "{s}" in form else ""
        name = self.fresh()
        call = form.format(h=helper.name, a=a.real, b=b.real, s=s)
        callt = form.format(h=helper.name, a=a.twin, b=b.twin, s=s)
        node = Node(f"{name} = {call}", f"{name} = {callt}",
                    tags={"call"} | ({"call-kw"} if "=" in form.replace("{", "") else set()) | a.tags)
        self.trial(node.real, loop)
        self.ops += a.ops + 1
        return self.commit(node, [name], self.uses_of(a) + self.uses_of(b) + ([s] if s else []))

    def st_for(self, loop=None):
        """`for i in range(K)` (K literal or the int parameter), `for row in A`, enumerate, zip;
        the body writes at the loop index, updates loop-carried names, unpacks rows."""
        if loop is not None or self.depth > 1:
            raise Reject("no nested loops")
        prelude = []
        # a loop-carried name, sometimes starting as an alias of a parameter or another name
        r = self.rng.random()
        if r < 0.35:
            src = self.leaf(lambda v: not _is_pyfloat(v), literal=False)
            h = self.fresh("h")
            prelude.append(self.commit(Node(f"{h} = {src.real}", tags={"alias-carried"}), [h], [src.real]))
        elif r < 0.5:
            h = self.fresh("acc")
            prelude.append(self.commit(Node(f"{h} = 0.0", tags={"accumulator"}), [h]))
        before = set(self.env)
        ints = [p for p in self.params if p in self.locked]
        form = self.rng.random()
        var = self.rng.choice(["i", "k", "j"])
        while var in self.env:
            var += "_"
        if form < 0.7:
            count = self.rng.choice(["2", "3", "1", "2"] + ints * 2)
            header = f"for {var} in range({count}):"
            values = list(range(eval(count, {}, dict(self.env))))
            loop_values = [{var: v} for v in values] or [{var: 0}]
            tags = {"for-range"} | ({"for-range-n"} if count in ints else set())
            index = var
        else:
            src = self.leaf(lambda v: np.ndim(v) >= 1 and 1 <= np.shape(v)[0] <= 3, literal=False)
            rows = list(range(np.shape(src.value)[0]))
            if self.rng.random() < 0.5:
                row = self.fresh("row")
                header = f"for {var}, {row} in enumerate({src.real}):"
                loop_values = [{var: k, row: src.value[k]} for k in rows]
                index = var
                tags = {"for-enumerate"}
            else:
                row = self.fresh("row")
                header = f"for {row} in {src.real}:"
                loop_values = [{row: src.value[k]} for k in rows]
                index = None
                tags = {"for-array"}
            self.env[row] = src.value[0]
            self.order.append(row)
            self.used[src.real] += 1
        saved_env = self.env
        self.env = dict(saved_env)
        if index:
            self.env[index] = loop_values[0].get(index, 0) if loop_values else 0
            self.hidden.add(index)
        body = []
        n_stmts = self.rng.randint(1, 3)
        kinds = ["write", "carried", "assign", "unpack", "augment", "carried", "write", "read", "read"]
        for _ in range(n_stmts * 4):
            if len(body) >= n_stmts:
                break
            kind = self.rng.choice(kinds)
            try:
                if kind == "carried":
                    cands = [n for n in self.floats() if n not in self.params and n not in self.locked
                             and n not in (index,)]
                    if prelude and self.rng.random() < 0.7:
                        cands = [prelude[0].real.split(" =")[0]]
                    if not cands:
                        continue
                    hname = self.rng.choice(cands)
                    body.append(self.st_update(hname, loop_values))
                elif kind == "write":
                    body.append(self.st_write(loop_values, index))
                elif kind == "assign":
                    body.append(self.st_assign(loop_values))
                elif kind == "read" and index:
                    body.append(self.st_read(loop_values, index))
                elif kind == "unpack":
                    body.append(self.st_unpack(loop_values, index))
                else:
                    body.append(self.st_augment(loop_values))
            except Reject:
                continue
        if prelude and body:
            self.accumulate(prelude[0].real.split(" =")[0], before, index, loop_values, body)
        self.env = saved_env
        if not body:
            raise Reject("empty loop")
        node = Node(header, body=body, tags=tags)
        text = "\n".join(node.lines(False, 0))
        self.trial(text)
        self.run(text)
        # names first bound inside the body are not used after the loop (it may run zero times)
        for n in list(self.env):
            if n not in before:
                self.hidden.add(n)
        if index:
            self.hidden.add(index)
        return prelude + [node]

    def accumulate(self, carried, before, index, loop_values, body):
        """Temporaries of a loop body that nothing read feed the carried name (else they are dead
        after the loop)."""
        for n in [n for n in self.env if n not in before and n != index and self.used[n] == 0][-2:]:
            v = self.env[n]
            if n == carried or (isinstance(v, int) and not isinstance(v, float)):
                continue
            red = n if np.ndim(v) == 0 else self.rng.choice([f"np.sum({n})", f"{n}.mean()", f"np.sum({n} ** 2)"])
            text = (f"{carried} += {red}" if np.ndim(self.env[carried]) == 0 and self.rng.random() < 0.5
                    else f"{carried} = {carried} + {red}")
            try:
                self.trial(text, loop_values)
            except Reject:
                continue
            body.append(self.commit(Node(text, tags={"loop-accumulate"}), [], [n]))

    def st_while(self, loop=None):
        if loop is not None:
            raise Reject("no nested loops")
        k = self.fresh("k")
        ints = [p for p in self.params if p in self.locked]
        bound = self.rng.choice(["2", "3"] + ints)
        prelude = []
        if self.rng.random() < 0.5:
            acc = self.fresh("acc")
            prelude.append(self.commit(Node(f"{acc} = 0.0", tags={"accumulator"}), [acc]))
        init = self.commit(Node(f"{k} = 0", tags={"while"}), [k])
        self.hidden.add(k)
        values = [{k: v} for v in range(eval(bound, {}, dict(self.env)))] or [{k: 0}]
        before = set(self.env)
        saved = self.env
        self.env = dict(saved)
        body = []
        for _ in range(8):
            if len(body) >= 2:
                break
            try:
                kind = self.rng.choice(["write", "carried", "assign"])
                if kind == "write":
                    body.append(self.st_write(values, k))
                elif kind == "assign":
                    body.append(self.st_assign(values))
                else:
                    cands = [n for n in self.floats() if n not in self.params and n not in self.locked]
                    if not cands:
                        continue
                    hname = self.rng.choice(cands)
                    body.append(self.st_update(hname, values))
            except Reject:
                continue
        if prelude and body:
            self.accumulate(prelude[0].real.split(" =")[0], before, k, values, body)
        self.env = saved
        if not body:
            raise Reject("empty while")
        body.append(Node(self.rng.choice([f"{k} += 1", f"{k} = {k} + 1"]), fixed=True))
        node = Node(f"while {k} < {bound}:", body=body, tags={"while"})
        text = "\n".join(node.lines(False, 0))
        self.trial(text)
        self.run(text)
        for n in list(self.env):
            if n not in before:
                self.hidden.add(n)
        return prelude + [init, node]

    def st_if(self, loop=None):
        """`if` on the int parameter (or, rarely, on data, kept away from the threshold):
        shape-preserving rebinds and writes in both branches."""
        ints = [p for p in self.params if p in self.locked]
        if ints and self.rng.random() < 0.8:
            n = ints[0]
            cond = self.rng.choice([f"{n} > 1", f"{n} == 2", f"{n} >= 1", f"{n} < 2", n, f"{n} % 2 == 0"])
            twin_cond = cond
            tags = {"if-int"}
        else:
            a = self.expr(1, lambda v: np.ndim(v) == 0)
            c = self.rng.choice(["0.0", "0.3", "-0.2"])
            cond = f"{a.p()} > {c}"
            twin_cond = f"_K.gt({a.p(True)}, {c})"
            tags = {"if-data"}
        before = set(self.env)
        branches = []
        for _ in range(2 if self.rng.random() < 0.6 else 1):
            saved = self.env
            self.env = copy.copy(saved)
            stmts = []
            for _ in range(6):
                if len(stmts) >= self.rng.randint(1, 2):
                    break
                try:
                    if self.rng.random() < 0.3:
                        stmts.append(self.st_write(None))
                        continue
                    cands = [n for n in self.floats() if n not in self.params and n not in self.locked]
                    if not cands:
                        break
                    hname = self.rng.choice(cands)
                    stmts.append(self.st_update(hname, None, drop={"loop-carried"}))
                except Reject:
                    continue
            self.env = saved
            if not stmts:
                raise Reject("empty branch")
            branches.append(stmts)
        node = Node(f"if {cond}:", f"if {twin_cond}:", body=branches[0],
                    orelse=branches[1] if len(branches) > 1 else None, tags=tags)
        text = "\n".join(node.lines(False, 0))
        self.trial(text)
        self.run(text)
        for n in list(self.env):
            if n not in before:
                self.hidden.add(n)
        return [node]

    STATEMENTS = {"assign": 30, "alias": 4, "copy": 7, "view": 4, "write": 10, "augment": 3,
                  "unpack": 6, "call": 6, "for": 9, "while": 3, "if": 5}

    def statement(self):
        kinds = [k for k in self.STATEMENTS if self.allow is None or k in self.allow]
        kind = self.rng.choices(kinds, [self.STATEMENTS[k] for k in kinds])[0]
        saved = (dict(self.env), list(self.order), set(self.hidden), Counter(self.used), self.ops, list(self.touched))
        try:
            out = getattr(self, "st_" + kind)()
        except Reject:
            # a compound statement may have committed its prelude before failing: roll back
            self.env, self.order, self.hidden, self.used, self.ops, self.touched = saved
            raise
        return out if isinstance(out, list) else [out]

    def terms(self, max_terms=4):
        """The return: a signed sum of scalar reductions of names nobody used (and a few others)."""
        names = self.floats()
        sinks = [n for n in names if self.used[n] == 0 and n not in self.params]
        picks = sinks[-max_terms:]
        touched = [n for n in self.touched if n in names and n not in picks and n not in self.params]
        picks += touched[-self.rng.choice([1, 1, 2]):]
        if not picks or self.rng.random() < 0.3:
            picks.append(self.rng.choice(names))
        out = []
        for n in dict.fromkeys(picks):
            v = self.env[n]
            sign = self.rng.choice(["+", "+", "-", "0.5", "2.0"])
            if np.ndim(v) == 0:
                forms = [("{a}", "{a}")]
            else:
                forms = [("np.sum({a})", "np.sum({a})"), ("np.mean({a})", "np.mean({a})"),
                         ("{a}.sum()", "{a}.sum()"), ("np.sum({a} ** 2)", "np.sum({a} ** 2)"),
                         ("np.max({a})", "_K.red('max', {a})"),
                         ("np.sum(np.clip({a}, -0.5, 0.5))", "np.sum(_K.clip({a}, -0.5, 0.5))"),
                         ("np.sum(np.tanh({a}))", "np.sum(np.tanh({a}))")]
            real, twin = self.rng.choice(forms)
            tags = {"ret-" + real.split("(")[0].replace("{a}", "")} if "clip" not in real else {"ret-clip"}
            if sign == "-":
                tags.add("ret-neg")
            out.append((sign, real.format(a=n), twin.format(a=n), tags))
            self.used[n] += 1
        return out


def make_helper(rng, glob, helpers, a_val, b_val):
    """A module-level helper `h<k>(a, b, scale=<default>)` with a small random body."""
    name = f"h{len(helpers)}"
    default = rng.choice(["0.5", "1.5", "-0.7"])
    params = [("a", None, None), ("b", None, None), ("scale", None, default)]
    g = Gen(rng, glob, [], helpers, depth=1, allow={"assign", "copy", "write", "unpack", "view", "augment"})
    g.env = {"a": copy.deepcopy(a_val), "b": copy.deepcopy(b_val), "scale": float(default)}
    g.params = ["a", "b", "scale"]
    g.order = ["a", "b", "scale"]
    body = []
    for _ in range(8):
        if len(body) >= rng.randint(0, 2):
            break
        try:
            body += g.statement()
        except Reject:
            continue
    for _ in range(10):
        try:
            e = g.expr(2)
            if e.ops == 0:
                continue
            if "scale" not in e.real and rng.random() < 0.7:
                e = g.make(f"{e.p()} * scale", f"{e.p(True)} * scale", 1, set(), parts=[e])
            break
        except Reject:
            continue
    else:
        e = E("a * scale + b", "a * scale + b", None, False, 2, set())
    func = Function(name, params, body, [("+", e.real, e.twin, e.tags | {"helper"})])
    func.signature = None
    src = "\n".join(func.lines(False))
    exec(src, glob)
    helpers.append(func)
    return func


def generate(seed):
    """The program of `seed`."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _generate(seed)


def _generate(seed):
    rng = random.Random(seed)
    pool = PARAM_POOL[:]
    n_params = rng.choice([2, 2, 3, 3, 3, 4])
    params = rng.sample(pool, n_params)
    if all(kind in ("float", "int") for _, kind in params):
        params.append(rng.choice(pool[:2]))
    rng.shuffle(params)
    n_value = rng.choice([0, 1, 2, 2, 3])
    plist = [(name, kind, None) for name, kind in params]
    glob = {"np": np}
    helpers = []
    g = Gen(rng, glob, plist, helpers)
    if "n" in g.env:
        g.env["n"] = n_value
    target = rng.randint(5, 10)
    body = []
    attempts = 0
    while g.ops < target and attempts < 60:
        attempts += 1
        try:
            body += g.statement()
        except Reject:
            continue
    terms = g.terms()
    main = Function("f", plist, body, terms)
    used_helpers = [h for h in helpers]
    return Program(seed, used_helpers, main, n_value)


# ----------------------------------------------------------------------------------------------
# Checking one program


def load(source, directory, name):
    path = os.path.join(directory, name + ".py")
    with open(path, "w") as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_twin(source, kinks):
    namespace = {"_K": kinks}
    exec(compile(source, "<twin>", "exec"), namespace)
    return namespace["f"]


def draw(program, rng):
    args = []
    for name, kind, _ in program.main.params:
        if kind == "int":
            args.append(program.n_value)
        elif kind == "float":
            args.append(float(rng.uniform(-1.2, 1.2)))
        else:
            args.append(rng.normal(scale=0.9, size=kind))
    return args


def copies(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def differentiable(program):
    return [k for k, (_, kind, _) in enumerate(program.main.params) if kind != "int"]


def call(f, args):
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(*copies(args))


def fd_gradient(f, args, pos, h):
    from srcgrad.check import numerical_gradient
    return numerical_gradient(lambda *moved: float(call(f, moved)), args, pos, h)


def fd_direction(f, args, tangents, h):
    from srcgrad.check import numerical_gradient
    def along(s):
        return float(call(f, [a if t is None else (a + s * t if isinstance(a, np.ndarray) else float(a + s * t))
                              for a, t in zip(args, tangents)]))
    return float(numerical_gradient(along, (0.0,), 0, h))


def close(got, want, rtol=RTOL, atol=ATOL):
    got = np.asarray(got, dtype=float)
    want = np.asarray(want, dtype=float)
    return bool(np.all(np.abs(got - want) <= atol + rtol * np.abs(want)))


class Result:
    def __init__(self, seed, program):
        self.seed = seed
        self.program = program
        self.outcome = "ok"
        self.failures = []           # (kind, mode, detail)
        self.refusals = []           # (mode, first line)
        self.args = None
        self.note = ""
        self.trivial = False

    def fail(self, kind, mode, detail):
        self.failures.append((kind, mode, detail))
        self.outcome = "failure"

    def refuse(self, mode, exc):
        self.refusals.append((mode, str(getattr(exc, "reason", exc)).splitlines()[0]))
        if self.outcome == "ok":
            self.outcome = "refused"

    def classes(self):
        return sorted({(k, m) for k, m, _ in self.failures})

    def report(self):
        lines = [f"seed {self.seed}: {self.outcome}" + (f" ({self.note})" if self.note else "")]
        plan = getattr(self, "plan", None)
        if plan:
            lines.append(f"  plan: {plan}")
        for kind, mode, detail in self.failures:
            lines.append(f"  FAILURE {kind} [{mode}]: {detail}")
        for mode, msg in self.refusals:
            lines.append(f"  refused [{mode}]: {msg}")
        lines.append("program:")
        lines.append(self.program.source())
        if self.args is not None:
            names = [p for p, _, _ in self.program.main.params]
            with np.printoptions(precision=17):
                lines.append("inputs: " + ", ".join(f"{n}={a!r}" for n, a in zip(names, self.args)))
        return "\n".join(lines)


def find_inputs(program, f, twin, rng, kinks, grad_at, tangent_at, first=None):
    """Inputs with every kink MARGIN away where central differences at two steps agree: (args,
    value, {position: reference gradient} for `grad_at`, tangents on `tangent_at`, reference
    directional derivative), or None."""
    candidates = ([first] if first is not None else []) + [None] * DRAWS
    find_inputs.why = Counter()
    for cand in candidates:
        args = cand if cand is not None else draw(program, rng)
        kinks.margin, kinks.peak = math.inf, 0.0
        try:
            with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
                tv = twin(*copies(args))
        except FloatingPointError:
            find_inputs.why["floating-point error"] += 1
            continue
        if kinks.margin < MARGIN or not np.isfinite(tv) or max(abs(tv), kinks.peak) > MAX_MAGNITUDE:
            find_inputs.why["kink" if kinks.margin < MARGIN else "magnitude"] += 1
            continue
        value = call(f, args)
        if np.ndim(value) != 0 or float(value) != float(tv):
            raise RuntimeError(f"generator bug: twin {tv!r} != program {value!r}")
        tangents = [None] * len(args)
        for pos in tangent_at:
            tangents[pos] = (rng.normal(size=np.shape(args[pos])) if isinstance(args[pos], np.ndarray)
                             else float(rng.normal()))
        grads = {}
        steep = False
        for pos in sorted(set(grad_at) | set(tangent_at)):
            g1 = fd_gradient(f, args, pos, STEPS[0])
            g2 = fd_gradient(f, args, pos, STEPS[1])
            if not (np.all(np.isfinite(g1)) and np.max(np.abs(g1), initial=0) < MAX_MAGNITUDE and
                    close(g2, g1, RTOL / 5, ATOL / 5)):
                steep = True
                break
            grads[pos] = g1
        if steep:
            find_inputs.why["finite differences disagree"] += 1
            continue
        direct = None
        if tangent_at:
            direct = fd_direction(f, args, tangents, STEPS[0])
            dotted = sum(float(np.sum(grads[p] * np.asarray(tangents[p]))) for p in tangent_at)
            scale = sum(float(np.sum(np.abs(grads[p] * np.asarray(tangents[p])))) for p in tangent_at)
            if abs(direct - dotted) > (ATOL + RTOL * scale) / 5:
                find_inputs.why["directional difference disagrees"] += 1
                continue
        return args, value, grads, tangents, direct
    return None


def _classify(result, mode, exc):
    import srcgrad
    # a case NumPy leaves undefined (a write through repeated indices), refused at run time
    undefined = getattr(srcgrad, "UndefinedGradientError", ())
    if isinstance(exc, srcgrad.GradientRuntimeError) and not isinstance(exc, undefined):
        reason = str(getattr(exc, "reason", exc)).splitlines()[0]
        kind = "GradientRuntimeError: " + normalize_message(re.sub(r"^.*? while computing the \w+ of \w+: ", "",
                                                                   reason))[:90]
        result.fail(kind, mode, reason[:300])
    elif isinstance(exc, srcgrad.SrcgradError):
        result.refuse(mode, exc)
    else:
        tb = traceback.extract_tb(exc.__traceback__)
        where = f"{os.path.basename(tb[-1].filename)}:{tb[-1].lineno}" if tb else "?"
        first = str(exc).splitlines()[0] if str(exc) else ""
        result.fail(f"crash {type(exc).__name__}: {normalize_message(first)[:80]}",
                    mode, f"{type(exc).__name__}: {str(exc)[:200]} (at {where})")


def make_plan(seed, program):
    """What to check on the program of `seed` (by parameter name, so that it survives shrinking):
    reverse mode, forward mode or both; `grad` or `value_and_grad`; `wrt` a tuple, a position
    or a name; the arguments with a tangent."""
    prng = random.Random(seed * 7919 + 1)
    names = [p for p, _, _ in program.main.params]
    diff = [names[k] for k in differentiable(program)]
    text = "\n".join(program.main.lines(False)[1:])
    live = [n for n in diff if re.search(r"\b%s\b" % n, text)]
    diff = live or diff                 # prefer the arguments the function reads
    r = prng.random()
    one = prng.choice(diff)
    return {"modes": ("reverse",) if r < 0.52 else ("forward",) if r < 0.94 else ("reverse", "forward"),
            "api": prng.choice(["value_and_grad", "grad"]),
            "style": prng.choice(["tuple", "position", "name", "tuple", "tuple-names"]),
            "one": one,
            "tangents": diff if prng.random() < 0.25 else [prng.choice(diff)]}


def check_program(seed, directory, program=None, args=None, modes=None, plan=None):
    """Generate (or take) the program of `seed`, check srcgrad on it; a Result."""
    import srcgrad
    program = program or generate(seed)
    result = Result(seed, program)
    plan = plan or make_plan(seed, program)
    result.plan = plan
    modes = modes or plan["modes"]
    names = [p for p, _, _ in program.main.params]
    diff = differentiable(program)
    if plan["style"].startswith("tuple"):
        wrt_pos = diff
        wrt = tuple(names[p] for p in diff) if plan["style"] == "tuple-names" else tuple(diff)
    else:
        if plan["one"] not in names:
            raise Reject("the plan's argument is gone")
        wrt_pos = [names.index(plan["one"])]
        wrt = wrt_pos[0] if plan["style"] == "position" else plan["one"]
    tangent_at = [names.index(n) for n in plan["tangents"] if n in names]
    if "forward" in modes and not tangent_at:
        raise Reject("the plan's tangents are gone")

    check_program.counter = getattr(check_program, "counter", 0) + 1
    module = load(program.source(), directory, f"rdag_{seed}_{check_program.counter}")
    f = module.f
    kinks = Kinks()
    twin = load_twin(program.source(twin=True), kinks)
    rng = np.random.default_rng(seed)
    found = find_inputs(program, f, twin, rng, kinks, wrt_pos if "reverse" in modes else [],
                        tangent_at if "forward" in modes else [], first=args)
    if found is None:
        result.outcome = "skipped"
        result.note = ", ".join(f"{k} {v}" for k, v in find_inputs.why.most_common())
        return result
    args, value, grads, tangents, direct = found
    result.args = args
    result.trivial = all(np.all(np.abs(g) < 1e-9) for g in grads.values()) and \
        (direct is None or abs(direct) < 1e-9)       # every derivative checked is zero
    api = plan["api"]
    reverse_grads = None

    if "reverse" in modes:
        mode = f"{api}(wrt={wrt!r})"
        given = copies(args)
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = getattr(srcgrad, api)(f, wrt=wrt)(*given)
        except Exception as exc:
            _classify(result, mode, exc)
        else:
            for a, b in zip(given, args):
                if not np.array_equal(a, b):
                    result.fail("mutated-input", mode, "srcgrad's gradient changed an argument")
                    break
            if api == "value_and_grad":
                got_value, out = out
                if not (np.ndim(got_value) == 0 and close(got_value, value, 1e-9, 1e-12)):
                    result.fail("value-mismatch", mode, f"srcgrad value {got_value!r}, f returns {value!r}")
            outs = list(out) if isinstance(wrt, tuple) else [out]
            if len(outs) != len(wrt_pos):
                result.fail("shape-mismatch", mode, f"{len(outs)} gradients for {len(wrt_pos)} arguments")
            reverse_grads = {}
            for pos, g in zip(wrt_pos, outs):
                want = grads[pos]
                if np.shape(g) != np.shape(args[pos]) or (isinstance(args[pos], float) and
                                                          not isinstance(g, float)):
                    result.fail("shape-mismatch", mode,
                                f"gradient of {names[pos]}: {type(g).__name__} of shape {np.shape(g)}, "
                                f"argument {type(args[pos]).__name__} of shape {np.shape(args[pos])}")
                    continue
                if not close(g, want):
                    with np.printoptions(precision=8):
                        result.fail("reverse-mismatch", mode,
                                    f"d/d{names[pos]}: srcgrad {np.asarray(g)!r} vs finite differences "
                                    f"{want!r} (max |diff| {np.max(np.abs(np.asarray(g, float) - want)):.3g})")
                else:
                    reverse_grads[pos] = g

    if "forward" in modes:
        mode = "jvp(" + ", ".join(names[k] for k in tangent_at) + ")"
        given = copies(args)
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                got_value, got_tangent = srcgrad.jvp(f, tuple(given), tuple(tangents))
        except Exception as exc:
            _classify(result, mode, exc)
        else:
            for a, b in zip(given, args):
                if not np.array_equal(a, b):
                    result.fail("mutated-input", mode, "srcgrad's JVP changed an argument")
                    break
            if not (np.ndim(got_value) == 0 and close(got_value, value, 1e-9, 1e-12)):
                result.fail("value-mismatch", mode, f"jvp value {got_value!r}, f returns {value!r}")
            scale = sum(float(np.sum(np.abs(grads[p] * np.asarray(tangents[p])))) for p in tangent_at)
            if np.ndim(got_tangent) != 0 or not close(got_tangent, direct, RTOL, ATOL + RTOL * scale):
                dotted = ", finite-difference gradient . tangent " + repr(sum(
                    float(np.sum(grads[p] * tangents[p])) for p in tangent_at))
                if reverse_grads is not None and all(p in reverse_grads for p in tangent_at):
                    dotted += ", reverse gradient . tangent " + repr(sum(
                        float(np.sum(np.asarray(reverse_grads[p]) * tangents[p])) for p in tangent_at))
                with np.printoptions(precision=17):
                    tangent_text = ", ".join(f"t_{names[k]}={tangents[k]!r}" for k in tangent_at)
                result.fail("forward-mismatch", mode,
                            f"jvp tangent {got_tangent!r} vs finite differences {direct!r}{dotted} "
                            f"({tangent_text})")
    return result


# ----------------------------------------------------------------------------------------------
# Shrinking a failing program by deleting statements, return terms, parameters and helpers


def _paths(nodes, prefix=()):
    for k, node in enumerate(nodes):
        yield prefix + (("n", k),), node
        if node.body is not None:
            yield from _paths(node.body, prefix + (("n", k), ("b",)))
        if node.orelse:
            yield from _paths(node.orelse, prefix + (("n", k), ("o",)))


def _variants(program):
    """Smaller programs: one deletion each."""
    # delete a helper
    for k in range(len(program.helpers)):
        p = copy.deepcopy(program)
        del p.helpers[k]
        yield p
    # delete a statement (or unwrap a compound statement), anywhere
    funcs = [("main", None)] + [("helper", k) for k in range(len(program.helpers))]
    for which, hk in funcs:
        func = program.main if which == "main" else program.helpers[hk]
        for path, node in list(_paths(func.body)):
            if node.fixed:
                continue
            for unwrap in ([False, True] if node.body is not None else [False]):
                p = copy.deepcopy(program)
                target = p.main if which == "main" else p.helpers[hk]
                nodes = target.body
                for step in path[:-1]:
                    if step[0] == "n":
                        cur = nodes[step[1]]
                    elif step[0] == "b":
                        nodes = cur.body
                    else:
                        nodes = cur.orelse
                k = path[-1][1]
                if unwrap:
                    nodes[k:k + 1] = [c for c in (nodes[k].body or []) if not c.fixed]
                else:
                    del nodes[k]
                if which == "main" or target.body is not None:
                    yield p
            if node.orelse:
                p = copy.deepcopy(program)
                for q_path, q_node in _paths((p.main if which == "main" else p.helpers[hk]).body):
                    if q_path == path:
                        q_node.orelse = None
                yield p
    # delete a return term
    if len(program.main.terms) > 1:
        for k in range(len(program.main.terms)):
            p = copy.deepcopy(program)
            del p.main.terms[k]
            yield p
    # delete a parameter
    for k in range(len(program.main.params)):
        p = copy.deepcopy(program)
        del p.main.params[k]
        p.dropped = getattr(program, "dropped", ()) + (program.main.params[k][0],)
        yield p


def shrink(result, directory, budget=250):
    """The smallest program found that fails the same way (same failure kind and mode family)."""
    want = {(k, m.split("(")[0]) for k, m in result.classes()}
    best = result
    names_of = lambda prog: [p for p, _, _ in prog.main.params]
    tried = 0
    progress = True
    while progress and tried < budget:
        progress = False
        for cand in _variants(best.program):
            tried += 1
            if tried > budget:
                break
            keep = names_of(cand)
            args = [a for n, a in zip(names_of(best.program), best.args) if n in keep]
            if not any(kind != "int" for _, kind, _ in cand.main.params):
                continue
            try:
                source = cand.source()
                compile(source, "<candidate>", "exec")
                res = check_program(best.seed, directory, program=cand, args=args,
                                    modes=_modes_of(want), plan=best.plan)
            except Exception:
                continue
            if res.args is None:
                continue
            got = {(k, m.split("(")[0]) for k, m in res.classes()}
            if want & got and cand.size() <= best.program.size():
                best = res
                progress = True
                break
    return best


def _modes_of(classes):
    modes = set()
    for _, m in classes:
        modes.add("forward" if m.startswith("jvp") else "reverse")
    return tuple(sorted(modes))


# ----------------------------------------------------------------------------------------------
# Command line


def normalize_message(msg):
    """A message without the program's own names and numbers (NumPy names are kept)."""
    msg = re.sub(r"\b(v|t|view|u|h|a|acc|k|row|i|j)\d+_*\b", "<name>", msg)
    msg = re.sub(r"`(?!np\.)[^`]*`", "`…`", msg)
    msg = re.sub(r"\b\d+\b", "N", msg)
    return msg[:160]


def run_many(seed, count, directory, verbose=False, on_result=None, modes=None):
    counts = Counter()
    failures = []
    refusals = Counter()
    refusal_examples = {}
    tags_ok = Counter()
    t0 = time.perf_counter()
    for s in range(seed, seed + count):
        try:
            res = check_program(s, directory, modes=modes)
        except Exception as exc:       # a bug of this generator, not of srcgrad
            counts["generator-error"] += 1
            if verbose:
                print(f"seed {s}: generator error {exc!r}")
            continue
        counts[res.outcome] += 1
        if res.outcome == "ok" and res.trivial:
            counts["ok (all derivatives zero)"] += 1
        for mode, msg in res.refusals:
            key = normalize_message(msg)
            refusals[key] += 1
            refusal_examples.setdefault(key, (s, msg))
        if res.failures:
            failures.append(res)
        if on_result:
            on_result(res)
        if verbose and res.outcome == "failure":
            print(res.report())
    return counts, failures, refusals, refusal_examples, time.perf_counter() - t0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", action="store_true", help="print the program of --seed and its check")
    parser.add_argument("--twin", action="store_true", help="with --show: the instrumented twin too")
    parser.add_argument("--shrink", type=int, default=12, help="failing programs shrunk per failure class")
    parser.add_argument("--both", action="store_true",
                        help="check reverse and forward mode on every program (default: as each seed's plan says)")
    parser.add_argument("--verbose", action="store_true")
    opts = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="random_dags_") as directory:
        return _main(opts, directory)


def _main(opts, directory):
    import srcgrad
    print(f"srcgrad from {os.path.dirname(srcgrad.__file__)}")
    modes = ("reverse", "forward") if opts.both else None
    if opts.show:
        program = generate(opts.seed)
        print(program.source())
        if opts.twin:
            print(program.source(twin=True))
        res = check_program(opts.seed, directory, program=program, modes=modes)
        print(res.report().split("\nprogram:")[0])
        if res.args is not None:
            names = [p for p, _, _ in program.main.params]
            with np.printoptions(precision=17):
                print("inputs: " + ", ".join(f"{n}={a!r}" for n, a in zip(names, res.args)))
        return 0
    counts, failures, refusals, examples, elapsed = run_many(opts.seed, opts.count, directory, opts.verbose,
                                                             modes=modes)
    total = sum(v for k, v in counts.items() if not k.startswith("ok ("))
    print(f"{total} programs (seeds {opts.seed}..{opts.seed + opts.count - 1}) in {elapsed:.1f} s: " +
          ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    by_class = defaultdict(list)
    for res in failures:
        for kind, mode in res.classes():
            by_class[(kind, mode.split("(")[0])].append(res)
    print(f"\nfailure classes ({len(by_class)}):")
    for key, items in sorted(by_class.items(), key=lambda kv: -len(kv[1])):
        print(f"  {len(items):6d}  {key[0]} [{key[1]}]")
    print(f"\nrefusals (first line, normalized; {sum(refusals.values())} in all):")
    for msg, k in refusals.most_common(25):
        print(f"  {k:6d}  {msg}\n          e.g. seed {examples[msg][0]}: {examples[msg][1][:200]}")
    for key, items in sorted(by_class.items(), key=lambda kv: -len(kv[1])):
        print("\n" + "=" * 100)
        print(f"{key[0]} [{key[1]}]: {len(items)} programs; smallest after shrinking:")
        shrunk = []
        for res in sorted(items, key=lambda r: r.program.size())[:opts.shrink]:
            one = Result(res.seed, res.program)
            one.failures = [f for f in res.failures if (f[0], f[1].split("(")[0]) == key]
            one.args, one.plan = res.args, res.plan
            small = shrink(one, directory)
            shrunk.append(small)
        groups = {}
        for small in sorted(shrunk, key=lambda r: r.program.size()):
            sig = tuple(sorted(small.program.tags()))
            groups.setdefault(sig, small)
        for sig, small in sorted(groups.items(), key=lambda kv: kv[1].program.size()):
            print(f"\n--- constructs: {', '.join(sig)}")
            print(small.report())
    return 1 if failures else 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main())
