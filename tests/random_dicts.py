"""Random loss functions that use Python dicts as state filled item by item while the code
runs (the character-level RNN style: `hs[t] = np.tanh(... hs[t - 1] ...)`), differentiated
with srcgrad (reverse and forward mode) and compared with central finite differences.

An independent generator: it was written from Python's semantics and the feature's
description only, never from srcgrad's implementation.  Each program is a module (written
to a temporary .py file and imported, so srcgrad can read its source) defining

    loss(h0, W, V, b, a, X, n, names, idx)
        h0 (3,), W (3, 3), V (2, 3), b (3,), X (7, 3) float64 arrays, a a Python float,
        n an int (2..5), names a list of str ("u" "v" "w", repeats), idx a list of ints
    make_args()     its arguments (drawn from a fixed seed)
    WRT             the positions given to srcgrad.grad (a tuple; X sometimes)
    EXPECT          "ok" (must be differentiated correctly), "refuse" (a SrcgradError
                    naming the file and line of a line marked `# OFFEND`), "either"
                    (correct or such a refusal) or "raise" (the program itself raises:
                    srcgrad must raise too)

The loss is the sum of 2..4 segments, each with its own dicts: recurrences over loop
counters (keys t, t + 1, 2 * t, 3 * t + 1, "h" + str(t); reads of earlier entries; for and
while loops), accumulators at keys t % m (read-modify-write `d[k] = d[k] * a + v`,
`d[k] += v`; initialised by dict literals with differentiated values or by a loop), keys
from list arguments (names[t], idx[t], with repeats: entries overwritten), nested writes
into arrays held in a dict (`d[t][i] = v`, `d[t][i, j] += v`, row writes) with values
depending on the parameters, dicts of Python floats, constant keys outside loops, lists of
arrays written at constant indices, helpers (same file) reading a dict, branches on the
counter (`if t % 2 == 0:`) and on values (`if np.sum(d[k]) > 0.0:`), tanh / sin / exp /
multiply, matrix products, sum / mean, a softmax cross-entropy.  Values are floats, (3,)
and (2, 3) arrays.  About one program in five adds a construct that must be refused
(an alias of a dict read after a write through the other name; an array read after a write
into it through the dict; a helper writing into a dict it receives), may be refused (the
dict used as a whole: .values(), .items(), iteration, len) or raises in Python (a missing key).

Outcomes:
    correct         gradient and jvp match finite differences
    refused-ok      an expected refusal: SrcgradError naming <file>:<line> of an OFFEND line
    REFUSED-UNEXPECTEDLY   a SrcgradError on a program that must work
    REFUSED-BADLOC  an expected refusal whose message does not name an OFFEND line
    NOT-REFUSED     a construct that must be refused gave numbers (right ones: else WRONG)
    WRONG           a gradient / tangent / value that differs from finite differences
    CRASH           any other exception out of srcgrad, or a GradientRuntimeError (the
                    generated code failing) on a program that runs fine in Python
    skipped         finite differences with two steps disagree (a kink too close)
    GENBUG          the generated program itself does not run

    python tests/random_dicts.py --count 1000 --seed 0
    python tests/random_dicts.py --count 1 --seed 17 --show
"""
import argparse
import collections
import importlib.util
import os
import random
import re
import sys
import tempfile
import time
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import srcgrad  # noqa: E402

RTOL, ATOL = 1e-5, 1e-7
NMAX = 7                     # rows of X, length of names and idx
NAMES = ["u", "v", "w"]
PARAMS = ["h0", "W", "V", "b", "a", "X", "n", "names", "idx"]
FLOAT_POS = [0, 1, 2, 3, 4, 5]
# --avoid-known: leave out the constructs of the bugs already found (an entry written before
# a loop, overwritten in it without being read; d[k] = v; d[k] = d[k] * a at repeated keys;
# a missing key), so that other bugs are not hidden behind them
AVOID_KNOWN = False


class Gen:
    def __init__(self, seed):
        self.seed = seed
        self.r = random.Random(seed)
        self.lines = []          # loss body, without the base indentation
        self.top = []            # module-level helpers
        self.tags = []
        self.k = 0
        self.expect = "ok"

    def fresh(self, base):
        self.k += 1
        return f"{base}{self.k}"

    def emit(self, depth, line):
        self.lines.append("    " * depth + line)

    # --- expressions --------------------------------------------------------------------
    def vec(self, ins):
        """A (3,) expression from the (3,) expressions `ins` and the parameters."""
        r = self.r
        u = ins[0] if r.random() < 0.75 else r.choice(ins)
        v = r.choice(list(ins) + ["b", "h0"])
        return r.choice([
            f"np.tanh(W @ {u} + {v})",
            f"np.tanh(np.dot(W, {u}) + b) * a",
            f"np.sin({u}) * 0.5 + 0.5 * {v}",
            f"np.multiply(np.tanh({u}), {v})",
            f"np.exp(-{u} * {u}) * {v}",
            f"np.tanh({u} * a + {v})",
            f"{u} * 0.8 + np.tanh({v}) * 0.3",
            f"np.tanh(np.dot({u}, W) - {v})",
            f"np.tanh(V.T @ (V @ {u}) + {v})",
        ])

    def mat(self, ins, mins=()):
        """A (2, 3) expression."""
        r = self.r
        u = r.choice(ins)
        forms = [f"np.tanh(V * {u})", f"np.sin(V @ W) * {u}", f"np.tanh(np.outer(V @ {u}, b))",
                 f"V * a + np.tanh({u})"]
        if mins:
            m = r.choice(mins)
            forms += [f"np.tanh({m} @ W) * 0.9 + V * 0.1", f"np.multiply({m}, np.tanh({u}))",
                      f"{m} * a + np.tanh(V) * 0.2"]
        return r.choice(forms)

    def red(self, e):
        """A scalar from a float / array expression."""
        return self.r.choice([f"np.sum({e})", f"np.sum({e} ** 2) * 0.5", f"np.mean(np.tanh({e}))",
                              f"np.sum(np.sin({e}))", f"a * np.sum({e})"])

    def of_shape(self, shape, ins, mins=()):
        if shape == "vec":
            return self.vec(ins)
        if shape == "mat":
            return self.mat(ins, mins)
        u = self.r.choice(ins)
        return self.r.choice([f"a * 0.7 + 0.1", f"np.sum({u}) * 0.3", f"a * np.tanh(np.sum({u}))"])

    def loop_open(self, depth, start="0", stop="n"):
        """for or while; returns (depth of the body, closing lines)."""
        if self.r.random() < 0.25:
            self.tags.append("while")
            self.emit(depth, f"t = {start}")
            self.emit(depth, f"while t < {stop}:")
            return depth + 1, [(depth + 1, "t += 1")]
        rng = f"range({stop})" if start == "0" else f"range({start}, {stop})"
        self.emit(depth, f"for t in {rng}:")
        return depth + 1, []

    def loop_close(self, closing):
        for d, line in closing:
            self.emit(d, line)

    def value_branch(self, depth, target):
        """`if np.sum(target) > 0.0:` rewriting the entry."""
        self.tags.append("value-if")
        self.emit(depth, f"if np.sum({target}) > 0.0:")
        self.emit(depth + 1, f"{target} = {target} * 0.5 + 0.1")
        if self.r.random() < 0.6:
            self.emit(depth, "else:")
            self.emit(depth + 1, f"{target} = np.tanh({target}) * a")

    # --- segments -----------------------------------------------------------------------
    def seg_recurrence(self):
        r = self.r
        hs, ys = self.fresh("hs"), self.fresh("ys")
        key = r.choice(["t", "t + 1", "2 * t", "3 * t + 1", "str"])
        self.tags.append("rec-" + key.replace(" ", ""))
        if key == "str":
            K = lambda e: f'"h" + str({e})'
        else:
            K = lambda e: key.replace("t", f"({e})") if e != "t" else key
        init = r.choice(["np.copy(h0)", "h0", "np.tanh(h0)", "h0 * a"])
        if r.random() < 0.5:
            self.emit(0, f"{hs}, {ys} = {{}}, {{}}")
        else:
            self.emit(0, f"{hs} = {{}}")
            self.emit(0, f"{ys} = {{}}")
        first = '"h-1"' if key == "str" else str(eval(key, {"t": -1}))
        self.emit(0, f"{hs}[{first}] = {init}")
        d, close = self.loop_open(0)
        prev = f"{hs}[{K('t - 1')}]"
        cur = f"{hs}[{K('t')}]"
        if r.random() < 0.3:
            self.tags.append("counter-if")
            self.emit(d, "if t % 2 == 0:")
            self.emit(d + 1, f"{cur} = {self.vec([prev, 'X[t]'])}")
            self.emit(d, "else:")
            self.emit(d + 1, f"{cur} = {self.vec([prev, 'X[t]'])}")
        else:
            self.emit(d, f"{cur} = {self.vec([prev, 'X[t]'])}")
        if r.random() < 0.25:
            self.value_branch(d, cur)
        if r.random() < 0.3:
            self.tags.append("overwrite")
            self.emit(d, f"{cur} = {cur} + 0.1 * {prev}")
        out = r.choice(["softmax", "sum", "none"])
        if out == "softmax":
            ps = self.fresh("ps")
            self.emit(d, f"{ys}[t] = np.dot(V, {cur})")
            self.emit(d, f"{ps} = np.exp({ys}[t]) / np.sum(np.exp({ys}[t]))")
            self.emit(d, f"loss += -np.log({ps}[idx[t] % 2])")
        elif out == "sum":
            self.emit(d, f"loss += {self.red(cur)} * 0.1")
        self.loop_close(close)
        again = r.choice(["none", "none", "const", "loop"])
        if again == "const":          # an entry written in the loop, rewritten after it
            self.tags.append("rewrite-after")
            e = f"{hs}[{K('n - 1')}]"
            self.emit(0, r.choice([f"{e} = {e} * a + 0.1", f"{e} = np.tanh({e}) + b",
                                   f"{hs}[{K('0')}] = {hs}[{K('0')}] * a"]))
        elif again == "loop":         # every entry rewritten by a second loop
            self.tags.append("rewrite-loop")
            self.emit(0, "for t in range(n):")
            self.emit(1, f"{cur} = {r.choice([f'{cur} * 0.5 + 0.1 * {prev}', f'np.sin({cur}) * a'])}")
        after = r.choice(["last", "second-loop", "both"])
        if after in ("last", "both"):
            self.emit(0, f"loss += {self.red(hs + '[' + K('n - 1') + ']')}")
        if after in ("second-loop", "both"):
            self.emit(0, "for t in range(n):")
            self.emit(1, f"loss += 0.1 * np.sum({cur} * {prev})")
            if out == "softmax" and r.random() < 0.5:
                self.emit(1, f"loss += 0.05 * np.sum({ys}[t])")

    def seg_modulo(self):
        r = self.r
        acc = self.fresh("acc")
        m = r.choice([2, 3])
        shape = r.choice(["vec", "mat", "float"])
        self.tags.append(f"mod{m}-{shape}")
        if r.random() < 0.5:
            self.tags.append("literal-init")
            vals = [self.of_shape(shape, ["h0", "b"]) for _ in range(m)]
            self.emit(0, f"{acc} = {{" + ", ".join(f"{i}: {v}" for i, v in enumerate(vals)) + "}")
        else:
            self.emit(0, f"{acc} = {{}}")
            self.emit(0, f"for k in range({m}):")
            zero = {"vec": "np.zeros(3)", "mat": "np.zeros((2, 3))", "float": "0.0"}[shape]
            self.emit(1, f"{acc}[k] = {r.choice([zero, self.of_shape(shape, ['h0', 'b'])])}")
        d, close = self.loop_open(0)
        if r.random() < 0.25:
            self.tags.append("counter-if")
            self.emit(d, r.choice(["if t % 2 == 0:", "if t > 0:", "if idx[t] != 1:"]))
            d += 1
        k = f"{acc}[t % {m}]"
        v = self.of_shape(shape, ["X[t]", "h0"])
        form = r.choice(["mul", "iadd", "via-k"])
        if form == "mul":
            self.emit(d, f"{k} = {k} * a + {v}")
        elif form == "iadd":
            self.emit(d, f"{k} += {v}")
        else:
            self.emit(d, f"j = t % {m}")
            self.emit(d, f"{acc}[j] = np.tanh({acc}[j]) + {v}" if shape != "float" else f"{acc}[j] = {acc}[j] * 0.9 + {v}")
        if r.random() < 0.2 and shape != "float":
            self.value_branch(d, k)
        self.loop_close(close)
        read = r.choice(["all", "last"])
        if read == "all":
            self.emit(0, f"for k in range({m}):")
            self.emit(1, f"loss += {self.red(acc + '[k]')}")
        else:
            self.emit(0, f"loss += {self.red(acc + '[(n - 1) % ' + str(m) + ']')}")

    def seg_names(self):
        r = self.r
        st = self.fresh("st")
        shape = r.choice(["vec", "mat", "float"])
        lit = r.random() < 0.5
        self.tags.append(f"names-{shape}" + ("-lit" if lit else ""))
        if lit:
            vals = [self.of_shape(shape, ["h0", "b"]) for _ in NAMES]
            self.emit(0, f"{st} = {{" + ", ".join(f'"{k}": {v}' for k, v in zip(NAMES, vals)) + "}")
        else:
            self.emit(0, f"{st} = {{}}")
        d, close = self.loop_open(0)
        key = f"{st}[names[t]]"
        v = self.of_shape(shape, ["X[t]", "b"])
        if lit and (r.random() < 0.6 or AVOID_KNOWN):
            self.emit(d, f"{key} = {key} * a + {v}" if r.random() < 0.5 else f"{key} += {v}")
        else:
            self.emit(d, f"{key} = {v}")
        if r.random() < 0.5:
            self.emit(d, f"loss += 0.1 * {self.red(key)}")
        self.loop_close(close)
        read = r.choice(["loop", "first", "const"])
        if read == "loop":
            self.emit(0, "for t in range(n):")
            self.emit(1, f"loss += {self.red(key)}")
        elif read == "first" or not lit:
            self.emit(0, f"loss += {self.red(st + '[names[0]]')}")
        else:
            self.emit(0, f'loss += {self.red(st + chr(91) + chr(34) + r.choice(NAMES) + chr(34) + chr(93))}')

    def seg_idx(self):
        r = self.r
        dd = self.fresh("di")
        shape = r.choice(["vec", "mat"])
        self.tags.append("idx-" + shape)
        self.emit(0, f"{dd} = {{}}")
        d, close = self.loop_open(0)
        self.emit(d, f"{dd}[idx[t]] = {self.of_shape(shape, ['X[t]', 'h0'])}")
        if r.random() < 0.5 and not AVOID_KNOWN:
            self.emit(d, f"{dd}[idx[t]] = {dd}[idx[t]] * a")
        self.loop_close(close)
        self.emit(0, "for t in range(n):")
        self.emit(1, f"loss += {self.red(dd + '[idx[t]]')}")

    def elem(self, i):
        return self.r.choice([f"a * b[{i}]", f"np.sum(W[{i}] * h0)", f"np.tanh(h0[{i}]) * a",
                              f"np.sum(V[1] * X[t]) * h0[{i}]", "a * 0.5"])

    def seg_nested(self):
        r = self.r
        zs = self.fresh("zs")
        shape = r.choice(["vec", "mat"])
        self.tags.append("nested-" + shape)
        self.emit(0, f"{zs} = {{}}")
        copy_prev = r.random() < 0.3
        if copy_prev:
            self.tags.append("copy-prev")
            self.emit(0, f"{zs}[-1] = " + ("b * a" if shape == "vec" else "V * 1.0"))
        d, close = self.loop_open(0)
        if copy_prev:
            self.emit(d, f"{zs}[t] = np.copy({zs}[t - 1])")
            if shape == "vec":
                i = r.choice(["t % 3", "0", "idx[t] % 3"])
                self.emit(d, f"{zs}[t][{i}] = {zs}[t][{i}] * a + {self.elem(r.choice([0, 1, 2]))}")
            else:
                self.emit(d, f"{zs}[t][t % 2, {r.choice(['1', 't % 3'])}] += {self.elem(r.choice([0, 2]))}")
        elif shape == "vec":
            self.emit(d, f"{zs}[t] = {r.choice(['np.zeros(3)', 'np.copy(b)', 'np.tanh(W @ h0) * 1.0', 'b * a'])}")
            i = r.choice(["t % 3", "0", "2", "idx[t] % 3"])
            self.emit(d, f"{zs}[t][{i}] = {self.elem(r.choice([0, 1, 2]))}")
            if r.random() < 0.5:
                self.emit(d, f"{zs}[t][{r.choice(['1', '(t + 1) % 3'])}] += {self.elem(1)}")
        else:
            if not copy_prev:
                self.emit(d, f"{zs}[t] = {r.choice(['np.zeros((2, 3))', 'V * a', 'np.copy(V)'])}")
                self.emit(d, f"{zs}[t][t % 2, {r.choice(['1', 't % 3', '0'])}] += {self.elem(r.choice([0, 2]))}")
            if r.random() < 0.5:
                self.emit(d, f"{zs}[t][{r.choice(['0', '1'])}] = {self.vec(['X[t]', 'h0'])}")
            if r.random() < 0.4:
                self.emit(d, f"{zs}[t][1, 2] = {zs}[t][1, 2] * a + {self.elem(1)}")
        if r.random() < 0.3:
            self.value_branch(d, f"{zs}[t]")
        self.loop_close(close)
        self.emit(0, "for t in range(n):")
        self.emit(1, f"loss += {self.red(zs + '[t]')}")

    def seg_floats(self):
        r = self.r
        s = self.fresh("s")
        self.tags.append("floats")
        self.emit(0, f"{s} = {{}}" if r.random() < 0.5 else f"{s} = {{0: 1.0}}")
        self.emit(0, f"{s}[0] = {r.choice(['a', 'a * 0.5 + 0.2', 'float(a)'])}")
        d, close = self.loop_open(0, "1", "n")
        self.emit(d, f"{s}[t] = " + r.choice([f"{s}[t - 1] * a + 0.25", f"{s}[t - 1] * 0.9 + a * t * 0.1",
                                              f"{s}[t - 1] * a + 0.1 * np.sum(X[t] * b)",
                                              f"np.tanh({s}[t - 1]) + a"]))
        if r.random() < 0.3:
            self.emit(d, f"if t % 2 == 1:")
            self.emit(d + 1, f"{s}[t] = {s}[t] * a")
        self.loop_close(close)
        self.emit(0, f"loss += {s}[n - 1]" + r.choice(["", f" * {s}[0]", f" + {s}[n // 2]"]))

    def seg_const(self):
        r = self.r
        c = self.fresh("c")
        self.tags.append("const-keys")
        self.emit(0, f"{c} = {{}}" if r.random() < 0.5 else f'{c} = {{"p": h0 * a, 1: np.tanh(b)}}')
        self.emit(0, f'{c}["z"] = W @ h0 + b')
        self.emit(0, f'{c}["h"] = np.tanh({c}["z"])')
        self.emit(0, f'{c}[0] = {self.red(c + chr(91) + chr(34) + "h" + chr(34) + chr(93))}')
        if r.random() < 0.5:
            self.emit(0, f'{c}["z"] = {c}["z"] * a')
        self.emit(0, f'loss += {c}[0] + np.sum({c}["z"] * {c}["h"])')

    def seg_literal_read(self):
        r = self.r
        lit = self.fresh("lit")
        if r.random() < 0.5:
            self.tags.append("literal-int-computed")
            self.emit(0, f"{lit} = {{0: h0 * a, 1: np.tanh(b), 2: W @ h0}}")
            key = r.choice(["t % 3", "(2 * t) % 3", "idx[t] % 3"])
        else:
            self.tags.append("literal-str-computed")
            self.emit(0, f'{lit} = {{"u": h0 * a, "v": np.tanh(b), "w": W @ h0}}')
            key = "names[t]"
        self.emit(0, "for t in range(n):")
        self.emit(1, f"loss += np.sum({lit}[{key}] * X[t])")

    def seg_list(self):
        r = self.r
        L = self.fresh("L")
        self.tags.append("list-const-index")
        self.emit(0, f"{L} = [np.zeros(3), np.zeros((2, 3))]")
        self.emit(0, f"{L}[0][1] = a * b[0]")
        self.emit(0, f"{L}[1][0, 2] = np.sum(h0 * b)")
        if r.random() < 0.5:
            self.emit(0, f"{L}[1][1] = np.tanh(W @ b)")
        if r.random() < 0.5:
            self.emit(0, f"{L}[0][2] += np.sum(V[0] * h0)")
        self.emit(0, f"loss += np.sum({L}[0] * h0) + np.sum(np.sin({L}[1]))")

    def seg_helper(self):
        r = self.r
        hd = self.fresh("hd")
        kind = r.choice(["dsum", "pick"])
        self.tags.append("helper-" + kind)
        if kind == "dsum" and "def dsum(" not in "\n".join(self.top):
            self.top += ["", "", "def dsum(d, m):", "    total = 0.0", "    for t in range(m):",
                         "        total = total + np.sum(np.tanh(d[t]))", "    return total"]
        if kind == "pick" and "def pick(" not in "\n".join(self.top):
            self.top += ["", "", "def pick(d, k):", "    return d[k] * 2.0 + 1.0"]
        self.emit(0, f"{hd} = {{}}")
        self.emit(0, f"{hd}[-1] = b")
        d, close = self.loop_open(0)
        self.emit(d, f"{hd}[t] = {self.vec([hd + '[t - 1]', 'X[t]'])}")
        self.loop_close(close)
        if kind == "dsum":
            self.emit(0, f"loss += dsum({hd}, n)")
        else:
            self.emit(0, "for t in range(n):")
            self.emit(1, f"loss += np.sum(pick({hd}, t) * h0)")

    # --- constructs that must (or may) be refused, or raise ---------------------------
    def bad_alias(self):
        q = self.fresh("q")
        self.tags.append("BAD-alias")
        self.emit(0, f"{q} = {{}}")
        self.emit(0, f"{q}[0] = h0 * 0.5")
        self.emit(0, f"{q}2 = {q}  # OFFEND")
        d, close = self.loop_open(0, "1", "n")
        self.emit(d, f"{q}[t] = np.tanh({q}[t - 1]) * a  # OFFEND")
        self.loop_close(close)
        self.emit(0, f"loss += np.sum({q}2[n - 1])  # OFFEND")
        self.expect = "refuse"

    def bad_array_alias(self):
        r = self.r
        ds = self.fresh("ds")
        self.tags.append("BAD-array-alias")
        self.emit(0, "hv = np.tanh(W @ h0)")
        self.emit(0, f"{ds} = {{}}")
        if r.random() < 0.5:
            self.emit(0, "for t in range(n):")
            self.emit(1, f"{ds}[t] = hv  # OFFEND")
            self.emit(1, f"{ds}[t][t % 3] = a  # OFFEND")
        else:
            self.emit(0, f"{ds}[0] = hv  # OFFEND")
            self.emit(0, f"{ds}[0][1] = a * b[0]  # OFFEND")
        self.emit(0, "loss += np.sum(hv * b)  # OFFEND")
        self.expect = "refuse"

    def bad_helper_write(self):
        pd = self.fresh("pd")
        self.tags.append("BAD-helper-write")
        # a procedure (implicit None) or a helper returning the value it stored
        ret = self.r.choice([[], ["    return v"], ["    return d[k]"]])
        self.tags.append("returns" if ret else "procedure")
        self.top += ["", "", "def put(d, k, v):", "    d[k] = v  # OFFEND"] + ret
        self.emit(0, f"{pd} = {{}}")
        self.emit(0, "for t in range(n):")
        self.emit(1, f"put({pd}, t, np.tanh(h0 * t + b))  # OFFEND")
        self.emit(0, f"loss += np.sum({pd}[n - 1])  # OFFEND")
        self.expect = "refuse"

    def whole_dict(self):
        r = self.r
        wd = self.fresh("wd")
        form = r.choice(["values-sum", "np-array-values", "items", "iter", "len"])
        self.tags.append("WHOLE-" + form)
        self.emit(0, f"{wd} = {{}}")
        self.emit(0, "for t in range(n):")
        self.emit(1, f"{wd}[t] = np.tanh(h0 * t + b) * a")
        if form == "values-sum":
            self.emit(0, f"loss += sum(np.sum(v) for v in {wd}.values())  # OFFEND")
        elif form == "np-array-values":
            self.emit(0, f"loss += np.sum(np.array(list({wd}.values())) ** 2)  # OFFEND")
        elif form == "items":
            self.emit(0, f"for k, v in {wd}.items():  # OFFEND")
            self.emit(1, "loss += np.sum(v) * k  # OFFEND")
        elif form == "iter":
            self.emit(0, f"for k in {wd}:  # OFFEND")
            self.emit(1, f"loss += np.sum({wd}[k])  # OFFEND")
        else:
            self.emit(0, f"loss += np.sum({wd}[len({wd}) - 1])  # OFFEND")
        if self.expect == "ok":
            self.expect = "either"

    def missing_key(self):
        mk = self.fresh("mk")
        self.tags.append("RAISE-missing-key")
        self.emit(0, f"{mk} = {{}}")
        self.emit(0, "for t in range(n):")
        self.emit(1, f"{mk}[t] = h0 * t")
        self.emit(0, f"loss += np.sum({mk}[n])")
        self.expect = "raise"


SEGMENTS = ["seg_recurrence", "seg_recurrence", "seg_modulo", "seg_names", "seg_idx", "seg_nested",
            "seg_nested", "seg_floats", "seg_const", "seg_literal_read", "seg_list", "seg_helper"]
BAD = ["bad_alias", "bad_array_alias", "bad_helper_write", "whole_dict", "whole_dict", "missing_key"]


def build(seed, drop=(), wrt_only=None):
    """The program of `seed`; `drop`: indices of segments left out and `wrt_only`: the
    positions kept in WRT (both for minimizing: the random draws stay the same)."""
    g = Gen(seed)
    r = g.r
    g.emit(0, "loss = 0.0")
    spans = []

    def segment(method):
        start, ntags = len(g.lines), len(g.tags)
        getattr(g, method)()
        spans.append((start, len(g.lines), ntags, len(g.tags)))

    for _ in range(r.randint(1, 3)):
        segment(r.choice(SEGMENTS))
    bad = r.random() < 0.2
    if bad:
        segment(r.choice([b for b in BAD if not (AVOID_KNOWN and b == "missing_key")]))
    if r.random() < 0.5 and not bad:
        segment(r.choice(SEGMENTS))
    g.nsegments = len(spans)
    for i in sorted(set(drop), reverse=True):
        a, b, ta, tb = spans[i]
        del g.lines[a:b]
        del g.tags[ta:tb]
    g.emit(0, "return loss")
    wrt = tuple(sorted(r.sample(FLOAT_POS[:5], r.randint(1, 5))))
    if r.random() < 0.2:
        wrt = wrt + (5,)
    if wrt_only is not None:
        wrt = tuple(p for p in wrt if p in wrt_only)
    n = r.randint(2, 5)
    names = [r.choice(NAMES) for _ in range(NMAX)]
    idx = [r.randint(0, 3) for _ in range(NMAX)]
    a = round(r.uniform(0.5, 1.0), 3)
    src = [f"# generated by tests/random_dicts.py, seed {seed}: {' '.join(g.tags)}",
           "import numpy as np"]
    src += g.top
    src += ["", "", "def loss(" + ", ".join(PARAMS) + "):"]
    src += ["    " + line for line in g.lines]
    src += ["", "", "def make_args():", f"    rng = np.random.default_rng({seed})",
            "    return (rng.normal(size=3) * 0.7, rng.normal(size=(3, 3)) * 0.6,",
            "            rng.normal(size=(2, 3)) * 0.6, rng.normal(size=3) * 0.5,",
            f"            {a!r}, rng.normal(size=({NMAX}, 3)) * 0.5, {n}, {names!r}, {idx!r})",
            "", "", f"WRT = {wrt!r}", f"EXPECT = {g.expect!r}", ""]
    return "\n".join(src), g


def generate(seed, drop=(), wrt_only=None):
    return build(seed, drop, wrt_only)[0]


# ---------------------------------------------------------------------------------------
# running


class Result:
    def __init__(self, seed, kind, detail="", source=""):
        self.seed, self.kind, self.detail, self.source = seed, kind, detail, source

    @property
    def tags(self):
        return self.source.split("\n", 1)[0].split(": ", 1)[1] if self.source else ""


def first_line(exc):
    text = str(exc).strip().split("\n", 1)[0]
    return f"{type(exc).__name__}: {text}"


def load(name, directory, source):
    path = os.path.join(directory, name + ".py")
    with open(path, "w") as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module, path


def offend_lines(source):
    return [i + 1 for i, line in enumerate(source.split("\n")) if "# OFFEND" in line]


def names_place(exc, path, lines):
    """Does the message name `<file>:<line>` of one of `lines`?"""
    base = re.escape(os.path.basename(path))
    found = [int(m) for m in re.findall(base + r":(\d+)", str(exc))]
    return any(l in lines for l in found), found


def fd_gradient(f, args, pos):
    g1 = srcgrad.numerical_gradient(f, list(args), pos, eps=1e-6)
    g2 = srcgrad.numerical_gradient(f, list(args), pos, eps=1e-5)
    if not np.allclose(g1, g2, rtol=1e-5, atol=1e-7):
        return None
    return g1


def tangents_for(args, wrt, seed):
    rng = np.random.default_rng(seed + 7)
    out = []
    for i, x in enumerate(args):
        if i not in wrt:
            out.append(None)
        elif type(x) is float:
            out.append(float(rng.normal()))
        else:
            out.append(rng.normal(size=np.shape(x)))
    return out


def fd_jvp(f, args, tangents, eps):
    def along(s):
        return f(*[x + s * t if t is not None else x for x, t in zip(args, tangents)])
    return (along(eps) - along(-eps)) / (2 * eps)


def crash(seed, mode, exc, source):
    return Result(seed, "CRASH", f"{mode}: {first_line(exc)}\n{exc}\n" + "".join(
        traceback.format_exception(type(exc), exc, exc.__traceback__)[-4:]), source)


def expected_refusal(seed, module, path, source, args):
    lines = offend_lines(source)
    tangents = tangents_for(args, module.WRT, seed)
    for mode, run in (("grad", lambda: srcgrad.grad(module.loss, wrt=module.WRT)(*args)),
                      ("jvp", lambda: srcgrad.jvp(module.loss, tuple(args), tuple(tangents)))):
        try:
            run()
        except srcgrad.GradientRuntimeError as exc:     # the program runs fine in Python
            return crash(seed, mode, exc, source)
        except srcgrad.SrcgradError as exc:
            ok, found = names_place(exc, path, lines)
            if not ok:
                return Result(seed, "REFUSED-BADLOC", f"{mode}: names lines {found}, offending lines "
                              f"{lines}: {first_line(exc)}", source)
            continue
        except Exception as exc:
            return Result(seed, "CRASH", f"{mode}: {first_line(exc)}\n" + "".join(
                traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:]), source)
        if mode == "grad":
            return None      # no refusal: the caller checks the numbers
        val, tan = run()     # grad refused, jvp did not: are its numbers right?
        t1 = fd_jvp(module.loss, args, tangents, 1e-6)
        if not np.isclose(tan, t1, rtol=RTOL, atol=ATOL):
            return Result(seed, "WRONG", f"jvp (grad refused) tangent {tan!r} != finite differences {t1!r}",
                          source)
        return Result(seed, "NOT-REFUSED", "grad refused, jvp accepted (its numbers right)", source)
    return Result(seed, "refused-ok", "", source)


def check(seed, directory, drop=(), wrt_only=None, name=None):
    source, g = build(seed, drop, wrt_only)
    module, path = load(name or f"dprog_{seed}", directory, source)
    args = module.make_args()
    wrt = module.WRT
    f = module.loss
    if module.EXPECT == "raise":
        try:
            f(*args)
        except Exception:
            pass
        else:
            return Result(seed, "GENBUG", "program expected to raise does not", source)
        tangents = tangents_for(args, wrt, seed)
        for mode, run in (("grad", lambda: srcgrad.grad(f, wrt=wrt)(*args)),
                          ("jvp", lambda: srcgrad.jvp(f, tuple(args), tuple(tangents)))):
            try:
                out = run()
            except Exception:
                continue
            return Result(seed, "WRONG", f"{mode} returned {out!r} on a program that raises", source)
        return Result(seed, "refused-ok", "raised", source)
    try:
        value = f(*args)
    except Exception as exc:
        return Result(seed, "GENBUG", f"program does not run: {first_line(exc)}", source)
    if not (np.ndim(value) == 0 and np.isfinite(value)):
        return Result(seed, "GENBUG", f"value {value!r}", source)
    refs = []
    for pos in wrt:
        ref = fd_gradient(f, args, pos)
        if ref is None:
            return Result(seed, "skipped", "finite differences unstable", source)
        refs.append(ref)
    if module.EXPECT == "refuse":
        res = expected_refusal(seed, module, path, source, args)
        if res is not None:
            return res
        expect_refusal = True
    else:
        expect_refusal = False
    # reverse mode
    try:
        grads = srcgrad.grad(f, wrt=wrt)(*args)
    except srcgrad.GradientRuntimeError as exc:
        return crash(seed, "grad", exc, source)
    except srcgrad.SrcgradError as exc:
        if module.EXPECT == "either":
            res = expected_refusal(seed, module, path, source, args)
            if res is not None:
                return res
            return Result(seed, "CRASH", "grad refused, then did not", source)
        return Result(seed, "REFUSED-UNEXPECTEDLY", f"grad: {first_line(exc)}\n{exc}", source)
    except Exception as exc:
        return Result(seed, "CRASH", f"grad: {first_line(exc)}\n" + "".join(
            traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:]), source)
    if not isinstance(grads, tuple) or len(grads) != len(wrt):
        return Result(seed, "WRONG", f"grad returned {type(grads).__name__} for wrt={wrt}", source)
    for pos, gr, ref in zip(wrt, grads, refs):
        gr = np.asarray(gr, dtype=float)
        if gr.shape != np.shape(ref) or not np.allclose(gr, ref, rtol=RTOL, atol=ATOL):
            err = np.max(np.abs(gr - ref)) if gr.shape == np.shape(ref) else "shape"
            return Result(seed, "WRONG", f"gradient wrt {PARAMS[pos]}: got {np.round(gr, 6).tolist()} "
                          f"expected {np.round(ref, 6).tolist()} (max err {err})", source)
    # forward mode
    tangents = tangents_for(args, wrt, seed)
    t1, t2 = fd_jvp(f, args, tangents, 1e-6), fd_jvp(f, args, tangents, 1e-5)
    if np.isclose(t1, t2, rtol=1e-5, atol=1e-7):
        try:
            val, tan = srcgrad.jvp(f, tuple(args), tuple(tangents))
        except srcgrad.GradientRuntimeError as exc:
            return crash(seed, "jvp", exc, source)
        except srcgrad.SrcgradError as exc:
            if module.EXPECT == "either":
                return Result(seed, "REFUSED-UNEXPECTEDLY", f"jvp refused a program grad accepted: "
                              f"{first_line(exc)}", source)
            return Result(seed, "REFUSED-UNEXPECTEDLY", f"jvp: {first_line(exc)}\n{exc}", source)
        except Exception as exc:
            return Result(seed, "CRASH", f"jvp: {first_line(exc)}\n" + "".join(
                traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:]), source)
        if not np.isclose(val, value, rtol=1e-12, atol=1e-12):
            return Result(seed, "WRONG", f"jvp value {val!r} != {value!r}", source)
        if not np.isclose(tan, t1, rtol=RTOL, atol=ATOL):
            return Result(seed, "WRONG", f"jvp tangent {tan!r} != finite differences {t1!r}", source)
    if expect_refusal:
        return Result(seed, "NOT-REFUSED", "numbers right, but the construct should be refused", source)
    return Result(seed, "correct", "", source)


def run(seeds, directory, show=False, stream=sys.stdout):
    results = []
    for seed in seeds:
        if show:
            print(f"# ---- seed {seed}\n{generate(seed)}", file=stream)
        try:
            res = check(seed, directory)
        except Exception as exc:          # the runner or the generated program is at fault
            res = Result(seed, "GENBUG", f"{first_line(exc)}\n{traceback.format_exc()}", generate(seed))
        finally:
            sys.modules.pop(f"dprog_{seed}", None)
        results.append(res)
        if show:
            print(f"# => {res.kind} {res.detail}\n", file=stream)
    return results


_attempt = [0]


def attempt(seed, directory, drop=(), wrt_only=None):
    _attempt[0] += 1
    name = f"dmin_{seed}_{_attempt[0]}"
    try:
        return check(seed, directory, drop, wrt_only, name)
    except Exception as exc:
        return Result(seed, "GENBUG", first_line(exc), generate(seed, drop, wrt_only))
    finally:
        sys.modules.pop(name, None)


def minimize(result, directory):
    """The smallest program (segments left out, fewer WRT positions) of the same seed with
    the same outcome as `result`."""
    seed, kind = result.seed, result.kind
    nseg = build(seed)[1].nsegments
    drop, best = set(), result
    for i in range(nseg):
        res = attempt(seed, directory, drop | {i})
        if res.kind == kind:
            drop.add(i)
            best = res
    wrt = list(_wrt_of(best.source))
    for pos in list(wrt):
        if len(wrt) == 1:
            break
        res = attempt(seed, directory, drop, tuple(p for p in wrt if p != pos))
        if res.kind == kind:
            wrt.remove(pos)
            best = res
    best.detail = f"(minimized: segments {sorted(drop)} left out) " + best.detail
    return best


def _wrt_of(source):
    m = re.search(r"^WRT = (.*)$", source, re.M)
    return eval(m.group(1)) if m else ()


KINDS = ["correct", "refused-ok", "skipped", "REFUSED-UNEXPECTEDLY", "REFUSED-BADLOC", "NOT-REFUSED",
         "WRONG", "CRASH", "GENBUG"]
BAD_KINDS = ("REFUSED-UNEXPECTEDLY", "REFUSED-BADLOC", "NOT-REFUSED", "WRONG", "CRASH", "GENBUG")


def summary(results, elapsed, stream=sys.stdout):
    counts = collections.Counter(r.kind for r in results)
    print(f"{len(results)} programs in {elapsed:.1f} s: " + ", ".join(
        f"{k} {counts[k]}" for k in KINDS), file=stream)
    refused = collections.Counter()
    for r in results:
        if r.kind == "refused-ok":
            refused[" ".join(t for t in r.tags.split() if t.isupper() or t.startswith(("BAD", "WHOLE", "RAISE")))] += 1
    if refused:
        print("refused as expected: " + ", ".join(f"{k} {v}" for k, v in refused.most_common()), file=stream)
    whole = collections.Counter((t, r.kind) for r in results for t in r.tags.split() if t.startswith("WHOLE"))
    if whole:
        print("dict as a whole: " + ", ".join(f"{k[0]}->{k[1]} {v}" for k, v in sorted(whole.items())),
              file=stream)
    for r in results:
        if r.kind in BAD_KINDS:
            print(f"\n==== {r.kind} seed {r.seed}: {r.detail}\n{r.source}", file=stream)
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1, help="number of programs (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--show", action="store_true", help="print each program and its outcome")
    parser.add_argument("--minimize", action="store_true",
                        help="shrink each failing program (segments, WRT) before printing it")
    parser.add_argument("--avoid-known", action="store_true",
                        help="leave out the constructs of the bugs already found (see AVOID_KNOWN)")
    opts = parser.parse_args(argv)
    global AVOID_KNOWN
    AVOID_KNOWN = opts.avoid_known
    directory = tempfile.mkdtemp(prefix="srcgrad_dicts_")
    sys.path.insert(0, directory)
    start = time.perf_counter()
    results = run(range(opts.seed, opts.seed + opts.count), directory, opts.show)
    if opts.minimize:
        results = [minimize(r, directory) if r.kind in BAD_KINDS and r.kind != "GENBUG" else r
                   for r in results]
    counts = summary(results, time.perf_counter() - start)
    return 1 if any(counts[k] for k in BAD_KINDS) else 0


if __name__ == "__main__":
    sys.exit(main())
