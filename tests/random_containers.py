"""Random loss functions whose parameters come in the containers people use, differentiated
with srcgrad and compared with finite differences.

An independent generator: it was written from the user documentation (README.md and
docs/supported.md) only, not from srcgrad's implementation.  Each program is a small module
(written to a temporary .py file and imported, so srcgrad can read its source) defining

    loss(...)       the function differentiated
    make_args()     its arguments (float64, drawn from a fixed seed)
    WRT             the `wrt` given to srcgrad.grad / srcgrad.value_and_grad

Parameter containers (the differentiated argument): a flat dict "W1", "b1", ... (course
style; sometimes built in another order, as an OrderedDict, with a tied entry, a row bias
(1, d) or a scalar leaf: float / np.float64 / 0-d array), the course's column-major
convention (W (n_l, n_{l-1}), b (n_l, 1), np.dot(W, A) + b, caches appended to a list,
linear_activation_forward helpers), nested dicts, a list of arrays, a list (or tuple) of
(W, b) tuples (a Python float bias sometimes), a pair of lists (Ws, bs), namedtuples
(per layer, or one record with fields W1 b1 ...), typing.NamedTuple classes, dataclasses
(frozen or not, with a float field that has a default, methods and a property), a
dataclass holding a list of layers, a dict of namedtuples, a dict mixing a list of (W, b),
a record and a float, recurrent weights shared across time (dict / record / tuple / list
of dicts, loops over the rows of X), and a types.SimpleNamespace (not documented).
Ways of reading them: constant keys/fields/indices, keys built from a loop counter
('W' + str(l), f"W{l}", "W%d" % l, "W{}".format(l)) over ranges whose bounds come from
the container (also the course's `for l in range(1, L)` plus an output layer, and the
counter read after the loop), `for W, b in layers`, zip (with a data list too), enumerate
(also with a start), while loops, `continue` on an int argument, slices, unpacking
`W, b = layer`, records built inside the loss (`p = P(W, b)`, then `p.W`, `p[0]`),
helpers taking the container or a layer (also returning a tuple, and a recursive tree
walk), `.get`, `.values()`, `.items()`, `getattr`, `dataclasses.replace`, caches filled
with computed keys, regularisers (loops, generator expressions, list comprehensions),
data arrays and float hyperparameters (some left at their defaults), tanh / sin / exp /
log of positive values / sigmoid, matmul with broadcasting, sum / mean.  `wrt`: the
container alone (by position or name), the container plus another argument (a float
hyperparameter or a data array, in either order), and a differentiated array next to a
data container (dict, namedtuple, dataclass, list of batches, dict of batches).
value_and_grad is used for a third of the programs (its value is checked too), keyword
arguments for a quarter, and about a third of the loop-reading programs call the SAME
gradient a second time with a container of another depth and widths (make_args2; a list
of tuples may become a tuple, a float bias an array, an RNN's sequence gets longer).

Each program is classified as
    ok        every leaf of the gradient matches central finite differences
    refused   srcgrad raised a SrcgradError (its first line is recorded, and whether it
              names the generated module's file and line or a synthetic <srcgrad ...> place)
    WRONG     a gradient (or value) that differs, or a gradient whose structure differs from
              the argument's (keys, lengths, namedtuple / dataclass type, leaf shapes)
    CRASH     any other exception out of srcgrad, or a GradientRuntimeError on a program
              that runs fine without srcgrad
    skipped   finite differences with two steps disagree (a steep spot)

    python tests/random_containers.py --count 1000 --seed 0
    python tests/random_containers.py --count 1 --seed 17 --show     # one program
"""
import argparse
import collections
import dataclasses
import importlib.util
import os
import random
import re
import sys
import tempfile
import time
import traceback
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import srcgrad  # noqa: E402

RTOL, ATOL = 1e-5, 1e-7
ACTS = ["np.tanh({})", "np.sin({})", "np.log(1.0 + ({}) ** 2)", "1.0 / (1.0 + np.exp(-({})))",
        "np.exp(-0.5 * ({}) ** 2)", "np.tanh({0}) * 0.5 + 0.1 * ({0})"]


# ----------------------------------------------------------------------------------------
# program text


class Program:
    """Collects module-level definitions, the loss body and make_args lines."""

    def __init__(self, rng, seed):
        self.rng, self.seed = rng, seed
        self.top = []           # module-level definitions (types, helpers)
        self.body = []          # lines of loss (indented by 4)
        self.make = []          # lines of make_args (indented by 4)
        self.params = []        # loss parameters (name or name=default)
        self.ret = []           # make_args return expressions
        self.wrt = 0
        self.tags = []
        self.act = rng.choice(ACTS)
        self.tmp = 0
        self.make2 = None
        self.float_leaf = None
        self.colmajor = False
        self.rnn = False       # make_args2: a second call of the same gradient

    def fresh(self, base):
        self.tmp += 1
        return f"{base}{self.tmp}"

    def A(self, expr):
        return self.act.format(expr)

    def source(self):
        out = ["# generated by tests/random_containers.py, seed %d: %s" % (self.seed, " ".join(self.tags)),
               "import collections", "import dataclasses", "import math", "",
               "import numpy as np", ""]
        out += self.top
        out += ["", "", "def loss(%s):" % ", ".join(self.params)]
        out += ["    " + line for line in self.body]
        out += ["", "", "def make_args():", "    rng = np.random.default_rng(%d)" % self.seed]
        out += ["    " + line for line in self.make]
        out += ["    return (%s,)" % ", ".join(self.ret), ""]
        if self.make2 is not None:
            out += ["", "def make_args2():", "    rng = np.random.default_rng(%d)" % (self.seed + 10 ** 6)]
            out += ["    " + line for line in self.make2]
            out += ["    return (%s,)" % ", ".join(self.ret), ""]
        out += ["", "WRT = %r" % (self.wrt,), ""]
        return "\n".join(out)


def indent(lines, n=1):
    return ["    " * n + line for line in lines]


def step_lines(P, h, W, b, last=None):
    """One dense layer h <- act(h @ W + b); `last` is an expression true on the last layer
    (then no activation), None for 'always activate', True/False when known."""
    r = P.rng
    W = f"({W})" if " " in W else W
    b = f"({b})" if " " in b else b
    style = r.choice(["plain", "split", "helper", "record", "scaled", "matmul"])
    lin = f"{h} @ {W} + {b}"
    lines = []
    if style == "split":
        z = P.fresh("z")
        lines.append(f"{z} = {h} @ {W} + {b}")
        lin = z
    elif style == "helper":
        if "def dense(" not in "\n".join(P.top):
            P.top += ["", "", "def dense(h, W, b):", "    return h @ W + b"]
        lin = f"dense({h}, {W}, {b})"
    elif style == "record":
        if "Rec = " not in "\n".join(P.top):
            P.top += ["", "Rec = collections.namedtuple('Rec', 'W b')"]
        p = P.fresh("rec")
        lines.append(f"{p} = Rec({W}, {b})")
        how = r.choice(["attr", "index", "unpack"])
        if how == "attr":
            lin = f"{h} @ {p}.W + {p}.b"
        elif how == "index":
            lin = f"{h} @ {p}[0] + {p}[1]"
        else:
            w2, b2 = P.fresh("Wr"), P.fresh("br")
            lines.append(f"{w2}, {b2} = {p}")
            lin = f"{h} @ {w2} + {b2}"
        P.tags.append("record-built")
    elif style == "scaled":
        lin = f"alpha * ({h} @ {W}) + {b}"
    elif style == "matmul":
        lin = f"np.matmul({h}, {W}) + {b}"
    if last is None or last is False:
        lines.append(f"{h} = {P.A(lin)}")
    elif last is True:
        lines.append(f"{h} = {lin}")
    else:
        lines.append(f"{h} = {lin} if {last} else {P.A(lin)}")
    return lines


def draw_dims(rng, L):
    return [rng.randint(2, 4) for _ in range(L + 1)]


def arr(shape):
    return "rng.normal(size=(%s,)) * 0.6" % ", ".join(map(str, shape))


# ---------------------------------------------------------------------------------------
# containers: each returns (construct lines, readers); a reader writes forward code into
# P.body computing h from X, and optionally a regulariser expression R (sum of W**2).


def key_expr(rng, letter, l):
    l = f"({l})" if " " in l else l
    form = rng.choice(["concat", "fstring", "percent", "format"])
    return {"concat": f'"{letter}" + str({l})', "fstring": f'f"{letter}{{{l}}}"',
            "percent": f'"{letter}%d" % {l}', "format": f'"{letter}{{}}".format({l})'}[form], form


def bound_lines(P, name, per_layer=2):
    """Lines defining the number of layers from the container, and the expression for it."""
    form = P.rng.choice(["L", "inline", "len"])
    if form == "L":
        return [f"L = len({name}) // {per_layer}" if per_layer > 1 else f"L = len({name})"], "L"
    if form == "len" and per_layer == 1:
        return [], f"len({name})"
    return [], (f"len({name}) // {per_layer}" if per_layer > 1 else f"len({name})")


def c_dict_flat(P, L, dims):
    mk = ["params = {}"]
    for l in range(1, L + 1):
        mk.append(f'params["W{l}"] = {arr((dims[l-1], dims[l]))}')
        mk.append(f'params["b{l}"] = {arr((dims[l],))}')
    tie = P.rng.random() < 0.25
    if L >= 2 and dims[1] == dims[2] and tie:
        mk.append('params["b2"] = params["b1"]')     # the same array object twice (tied)
        P.tags.append("tied-b")
    order = P.rng.random()
    if order < 0.3:                 # built in another order, as some code does
        mk.append("params = dict(sorted(params.items()))")
    elif order < 0.45:              # a state_dict-like OrderedDict
        mk.append("params = collections.OrderedDict(params)")
        P.tags.append("OrderedDict")
    if P.rng.random() < 0.2:        # a bias kept as a row (1, d)
        mk.append('params["b1"] = params["b1"].reshape(1, -1)')
        P.tags.append("row-bias")
    if P.rng.random() < 0.25:       # a scalar among the arrays: float, np.float64 or 0-d array
        form = P.rng.choice(["%.2f", "np.float64(%.2f)", "np.array(%.2f)"])
        mk.append('params["s"] = ' + form % P.rng.uniform(0.5, 1.5))
        P.tags.append("scalar-" + form.split("(")[0].replace("%.2f", "float"))
        P.float_leaf = 'params["s"]'
        P.tags.append("float-leaf")

    def const(P):
        for l in range(1, L + 1):
            P.body += step_lines(P, "h", f'params["W{l}"]', f'params["b{l}"]', l == L and P.rng.random() < 0.5)
        return " + ".join(f'np.sum(params["W{l}"] ** 2)' for l in range(1, L + 1))

    def loop(P):
        pre, n = bound_lines(P, "params")
        P.body += pre
        kw, form = key_expr(P.rng, "W", "l")
        kb, _ = key_expr(P.rng, "b", "l")
        P.tags.append("key-" + form)
        shape = P.rng.choice(["1..L", "0..L-1", "course"])
        if shape == "1..L":
            P.body.append(f"for l in range(1, {n} + 1):")
            P.body += indent(step_lines(P, "h", f"params[{kw}]", f"params[{kb}]",
                                        P.rng.choice([None, f"l == {n}"])))
        elif shape == "0..L-1":
            kw, _ = key_expr(P.rng, "W", "i + 1")
            kb, _ = key_expr(P.rng, "b", "i + 1")
            P.body.append(f"for i in range({n}):")
            P.body += indent(step_lines(P, "h", f"params[{kw}]", f"params[{kb}]"))
        else:                       # hidden layers in the loop, the output layer after it
            if n != "L":
                P.body.append(f"L = {n}")
            P.body.append("for l in range(1, L):")
            P.body += indent(step_lines(P, "h", f"params[{kw}]", f"params[{kb}]"))
            P.body.append('h = h @ params["W" + str(L)] + params["b" + str(L)]')
        P.tags.append("loop-" + shape)
        reg = P.rng.choice(["loop", "genexp", "listcomp", "keys", "after"])
        if reg == "after" and shape == "1..L":
            return f'np.sum(params["W" + str(l)] ** 2) + np.sum(params[{kb}])'
        if reg == "after" and shape == "0..L-1":
            return 'np.sum(params[f"W{i + 1}"] ** 2)'
        if reg == "after":
            reg = "loop"

        if reg == "loop":
            P.body.append("reg = 0.0")
            P.body.append("for l in range(1, len(params) // 2 + 1):")
            P.body.append(f"    reg = reg + np.sum(params[{kw}] ** 2)")
            return "reg"
        if reg == "genexp":
            return 'sum(np.sum(params[k] ** 2) for k in params if k.startswith("W"))'
        if reg == "listcomp":
            return 'sum([np.sum(v ** 2) for k, v in params.items() if k[0] == "W"])'
        return 'sum(np.sum(params["W%d" % l] ** 2) for l in range(1, len(params) // 2 + 1))'

    def comp(P):
        P.body.append('Ws = [params[f"W{l}"] for l in range(1, len(params) // 2 + 1)]')
        P.body.append('bs = [params["b" + str(l)] for l in range(1, len(params) // 2 + 1)]')
        P.body.append("for W, b in zip(Ws, bs):")
        P.body += indent(step_lines(P, "h", "W", "b"))
        return "sum(np.sum(W ** 2) for W in Ws)"

    def helper(P):
        inner = indent(step_lines(P, "h", 'params["W" + str(l)]', 'params["b" + str(l)]'), 2)
        P.top += ["", "", "def forward(params, X):", "    h = X",
                  "    L = len(params) // 2", "    for l in range(1, L + 1):"]
        P.top += inner
        P.top += ["    return h", "", "", "def l2(params):",
                  "    return sum(np.sum(params[f'W{l}'] ** 2) for l in range(1, len(params) // 2 + 1))"]
        P.body.append("h = forward(params, h)")
        return "l2(params)"

    def cache(P):                   # course code: a dict of caches filled with computed keys
        pre, n = bound_lines(P, "params")
        P.body += pre
        kz, form = key_expr(P.rng, "Z", "l")
        P.tags.append("key-" + form)
        P.body.append('cache = {"A0": h}')
        P.body.append(f"for l in range(1, {n} + 1):")
        P.body.append(f'    cache[{kz}] = cache["A" + str(l - 1)] @ params["W" + str(l)] + params[f"b{{l}}"]')
        P.body.append(f'    cache["A" + str(l)] = {P.A(f"cache[{kz}]")}')
        P.body.append(f'h = cache["A" + str({n})]')
        return None

    def unpacker(P):                # a helper returning one layer's arrays as a tuple
        P.top += ["", "", "def layer_params(params, l):", '    return params["W" + str(l)], params["b" + str(l)]']
        P.body.append("for l in range(1, len(params) // 2 + 1):")
        P.body.append("    W, b = layer_params(params, l)")
        P.body += indent(step_lines(P, "h", "W", "b"))
        return None

    def getter(P):
        P.body.append("for l in range(1, len(params) // 2 + 1):")
        P.body += indent(step_lines(P, "h", 'params.get("W" + str(l))', 'params.get(f"b{l}", 0.0)'))
        return 'np.sum(params.get("W1") ** 2)'

    return mk, {"const": const, "loop": loop, "comp": comp, "helper": helper, "cache": cache,
                "get": getter, "unpacker": unpacker}


def c_dict_nested(P, L, dims):
    outer = P.rng.choice(["layer", "fc"])
    mk = ["params = {"]
    for l in range(1, L + 1):
        mk.append(f'    "{outer}{l}": {{"W": {arr((dims[l-1], dims[l]))}, "b": {arr((dims[l],))}}},')
    mk.append("}")

    def const(P):
        for l in range(1, L + 1):
            P.body += step_lines(P, "h", f'params["{outer}{l}"]["W"]', f'params["{outer}{l}"]["b"]')
        return f'np.sum(params["{outer}1"]["W"] ** 2)'

    def loop(P):
        k, form = key_expr(P.rng, outer, "l")
        P.tags.append("key-" + form)
        P.body.append("for l in range(1, len(params) + 1):")
        if P.rng.random() < 0.5:
            P.body.append(f"    layer = params[{k}]")
            P.body += indent(step_lines(P, "h", 'layer["W"]', 'layer["b"]'))
        else:
            P.body += indent(step_lines(P, "h", f'params[{k}]["W"]', f'params[{k}]["b"]'))
        return "sum([np.sum(layer['W'] ** 2) for layer in params.values()])"

    def values(P):
        P.body.append("for name in params:")
        P.body.append("    layer = params[name]")
        P.body += indent(step_lines(P, "h", 'layer["W"]', 'layer["b"]'))
        return None

    def helper(P):
        P.top += ["", "", "def apply(layer, h):", "    return " + P.A('h @ layer["W"] + layer["b"]')]
        P.body.append("for l in range(1, len(params) + 1):")
        P.body.append(f'    h = apply(params["{outer}" + str(l)], h)')
        return None

    def recursive(P):               # a tree-walking regulariser, JAX style
        P.top += ["", "", "def tree_l2(tree):", "    if isinstance(tree, dict):",
                  "        total = 0.0", "        for key in tree:", "            total = total + tree_l2(tree[key])",
                  "        return total", "    return np.sum(tree ** 2)"]
        for l in range(1, L + 1):
            P.body += step_lines(P, "h", f'params["{outer}{l}"]["W"]', f'params["{outer}{l}"]["b"]')
        return "tree_l2(params)"

    return mk, {"const": const, "loop": loop, "values": values, "helper": helper, "recursive": recursive}


def c_list_arrays(P, L, dims):
    mk = ["params = ["]
    for l in range(1, L + 1):
        mk.append(f"    {arr((dims[l-1], dims[l]))}, {arr((dims[l],))},")
    mk.append("]")

    def const(P):
        for l in range(L):
            P.body += step_lines(P, "h", f"params[{2*l}]", f"params[{2*l+1}]")
        return "np.sum(params[0] ** 2)"

    def loop(P):
        P.body.append("for l in range(len(params) // 2):")
        P.body += indent(step_lines(P, "h", "params[2 * l]", "params[2 * l + 1]"))
        return "sum(np.sum(params[i] ** 2) for i in range(0, len(params), 2))"

    def slices(P):
        P.body.append("Ws, bs = params[::2], params[1::2]")
        P.body.append("for W, b in zip(Ws, bs):")
        P.body += indent(step_lines(P, "h", "W", "b"))
        return "sum([np.sum(W ** 2) for W in Ws])"

    def unpack(P):
        names = []
        for l in range(1, L + 1):
            names += [f"W{l}", f"b{l}"]
        P.body.append(", ".join(names) + " = params")
        for l in range(1, L + 1):
            P.body += step_lines(P, "h", f"W{l}", f"b{l}")
        return f"np.sum(W{L} ** 2)"

    return mk, {"const": const, "loop": loop, "slices": slices, "unpack": unpack}


def c_list_tuples(P, L, dims):
    bracket = P.rng.choice(["[]", "()"])
    mk = ["layers = " + bracket[0]]
    float_bias = P.rng.random() < 0.2
    if float_bias:
        P.tags.append("float-bias")
    for l in range(1, L + 1):
        bias = "%.2f" % P.rng.uniform(-0.5, 0.5) if float_bias and l == 1 else arr((dims[l],))
        mk.append(f"    ({arr((dims[l-1], dims[l]))}, {bias}),")
    mk.append(bracket[1])
    P.tags.append("outer-" + ("list" if bracket == "[]" else "tuple"))

    def forin(P):
        P.body.append("for W, b in layers:")
        P.body += indent(step_lines(P, "h", "W", "b"))
        return "sum(np.sum(W ** 2) for W, _ in layers)"

    def enum(P):
        P.body.append("for i, (W, b) in enumerate(layers):")
        P.body += indent(step_lines(P, "h", "W", "b", P.rng.choice([None, "i == len(layers) - 1"])))
        return None

    def unpack(P):
        P.body.append("for layer in layers:")
        P.body.append("    W, b = layer")
        P.body += indent(step_lines(P, "h", "W", "b"))
        return "np.sum(layers[0][0] ** 2)"

    def index(P):
        P.body.append("for i in range(len(layers)):")
        P.body += indent(step_lines(P, "h", "layers[i][0]", "layers[i][1]"))
        return "sum([np.sum(layers[i][0] ** 2) for i in range(len(layers))])"

    def const(P):
        for l in range(L):
            P.body += step_lines(P, "h", f"layers[{l}][0]", f"layers[{l}][1]")
        return "np.sum(layers[-1][0] ** 2)"

    def zipdata(P):
        P.params.append("scales")
        P.make.append("scales = [%s]" % ", ".join("%.2f" % P.rng.uniform(0.5, 1.5) for _ in range(L)))
        P.ret.append("scales")
        P.body.append("for (W, b), s in zip(layers, scales):")
        P.body += indent(step_lines(P, "h", "s * W", "b"))
        return None

    def zipstar(P):
        P.body.append("Ws, bs = zip(*layers)")
        P.body.append("for W, b in zip(Ws, bs):")
        P.body += indent(step_lines(P, "h", "W", "b"))
        return None

    def skip(P):                    # a layer skipped (frozen / dropped) by an int argument
        P.params.append("skip")
        P.make.append("skip = %d" % P.rng.randint(0, L))
        P.ret.append("skip")
        P.body.append("for i, (W, b) in enumerate(layers):")
        P.body.append("    if i == skip and W.shape[0] == W.shape[1]:")
        P.body.append("        continue")
        P.body += indent(step_lines(P, "h", "W", "b"))
        return None

    def acts(P):                    # activations appended to a list, the last one read
        P.body.append("activations = [h]")
        P.body.append("for W, b in layers:")
        P.body.append("    activations.append(%s)" % P.A("activations[-1] @ W + b"))
        P.body.append("h = activations[-1]")
        return None

    def lastsep(P):                 # hidden layers in a loop over a slice, the last one apart
        P.body.append("for W, b in layers[:-1]:")
        P.body += indent(step_lines(P, "h", "W", "b"))
        P.body.append("W_out, b_out = layers[-1]")
        P.body.append("h = h @ W_out + b_out")
        return "sum(np.sum(W ** 2) for W, b in layers)"

    def enum1(P):
        P.body.append("for l, (W, b) in enumerate(layers, 1):")
        P.body += indent(step_lines(P, "h", "W", "b", P.rng.choice([None, "l == len(layers)"])))
        return None

    def whileloop(P):
        P.body += ["i = 0", "while i < len(layers):", "    W, b = layers[i]"]
        P.body += indent(step_lines(P, "h", "W", "b"))
        P.body.append("    i += 1")
        return None

    return mk, {"forin": forin, "enum": enum, "unpack": unpack, "index": index, "const": const,
                "zipdata": zipdata, "zipstar": zipstar, "lastsep": lastsep, "enum1": enum1,
                "while": whileloop, "acts": acts, "skip": skip}


def c_two_lists(P, L, dims):
    holder = P.rng.choice(["tuple", "dict"])
    Ws = ", ".join(arr((dims[l-1], dims[l])) for l in range(1, L + 1))
    bs = ", ".join(arr((dims[l],)) for l in range(1, L + 1))
    if holder == "tuple":
        mk = [f"params = ([{Ws}], [{bs}])"]
        get = ["Ws, bs = params"]
    else:
        mk = [f'params = {{"Ws": [{Ws}], "bs": [{bs}]}}']
        get = ['Ws, bs = params["Ws"], params["bs"]']
    P.tags.append("holder-" + holder)

    def zipped(P):
        P.body += get
        P.body.append("for W, b in zip(Ws, bs):")
        P.body += indent(step_lines(P, "h", "W", "b"))
        return "sum(np.sum(W ** 2) for W in Ws)"

    def zip3(P):
        P.params.append("scales")
        P.make.append("scales = [%s]" % ", ".join("%.2f" % P.rng.uniform(0.5, 1.5) for _ in range(L)))
        P.ret.append("scales")
        P.body += get
        P.body.append("for W, b, s in zip(Ws, bs, scales):")
        P.body += indent(step_lines(P, "h", "W", "s * b"))
        return None

    def enum(P):
        P.body += get
        P.body.append("for i, (W, b) in enumerate(zip(Ws, bs)):")
        P.body += indent(step_lines(P, "h", "W", "b", P.rng.choice([None, "i == len(Ws) - 1"])))
        return None

    def rng_(P):
        P.body += get
        P.body.append("for i in range(len(Ws)):")
        P.body += indent(step_lines(P, "h", "Ws[i]", "bs[i]"))
        return "np.sum(Ws[0] ** 2) + np.sum(Ws[-1] ** 2)"

    return mk, {"zip": zipped, "zip3": zip3, "enum": enum, "range": rng_}


def record_def(P, name, fields, defaults=None):
    kind = P.rng.choice(["namedtuple", "NamedTuple-class", "dataclass", "dataclass-frozen"])
    if defaults:
        kind = P.rng.choice(["dataclass", "dataclass-frozen", "namedtuple-defaults"])
    P.tags.append(f"{name}:{kind}")
    if kind == "namedtuple":
        P.top += ["", f"{name} = collections.namedtuple({name!r}, {' '.join(fields)!r})"]
    elif kind == "namedtuple-defaults":
        P.top += ["", f"{name} = collections.namedtuple({name!r}, {' '.join(fields + list(defaults))!r}, "
                  f"defaults=({', '.join(map(repr, defaults.values()))},))"]
    elif kind == "NamedTuple-class":
        P.top[0:0] = ["import typing"]
        P.top += ["", "", f"class {name}(typing.NamedTuple):"] + [f"    {f}: np.ndarray" for f in fields]
    else:
        frozen = "(frozen=True)" if kind.endswith("frozen") else ""
        P.top += ["", "", f"@dataclasses.dataclass{frozen}", f"class {name}:"]
        P.top += [f"    {f}: np.ndarray" for f in fields]
        for k, v in (defaults or {}).items():
            P.top.append(f"    {k}: float = {v!r}")
    return kind


def c_record_layers(P, L, dims):
    with_gain = P.rng.random() < 0.5
    kind = record_def(P, "Layer", ["W", "b"], {"gain": 1.0} if with_gain else None)
    mk = ["layers = ["]
    for l in range(1, L + 1):
        g = ""
        if with_gain and P.rng.random() < 0.5:
            g = ", gain=%.2f" % P.rng.uniform(0.5, 1.5)
        mk.append(f"    Layer(W={arr((dims[l-1], dims[l]))}, b={arr((dims[l],))}{g}),")
    mk.append("]")
    is_tuple = kind.startswith(("namedtuple", "NamedTuple"))
    Wx = "layer.gain * layer.W" if with_gain else "layer.W"
    is_class = not kind.startswith("namedtuple")
    if is_class:                    # methods on the record class
        P.top += ["", "    def __call__(self, h):", "        return " + P.A("h @ self.weight + self.b"),
                  "", "    def forward(self, h):", "        return self(h)",
                  "", "    @property", "    def weight(self):",
                  "        return " + ("self.gain * self.W" if with_gain else "self.W")]

    def attr(P):
        P.body.append("for layer in layers:")
        P.body += indent(step_lines(P, "h", Wx, "layer.b"))
        return "sum(np.sum(layer.W ** 2) for layer in layers)"

    def index(P):
        P.body.append("for l in range(len(layers)):")
        P.body += indent(step_lines(P, "h", "layers[l].W", "layers[l].b"))
        return None

    def enum(P):
        P.body.append("for i, layer in enumerate(layers):")
        P.body += indent(step_lines(P, "h", Wx, "layer.b", P.rng.choice([None, "i == len(layers) - 1"])))
        return None

    def helper(P):
        P.top += ["", "", "def apply(layer, h):", "    return " + P.A(f"h @ ({Wx}) + layer.b")]
        P.body.append("for layer in layers:")
        P.body.append("    h = apply(layer, h)")
        return None

    readers = {"attr": attr, "index": index, "enum": enum, "helper": helper}
    if is_class:
        def call(P):
            P.body.append("for layer in layers:")
            P.body.append("    h = " + P.rng.choice(["layer(h)", "layer.forward(h)"]))
            return "sum(np.sum(layer.weight ** 2) for layer in layers)"

        def prop(P):
            P.body.append("for layer in layers:")
            P.body += indent(step_lines(P, "h", "layer.weight", "layer.b"))
            return None
        readers.update(call=call, prop=prop)
    if is_tuple:
        def unpack(P):
            P.body.append("for layer in layers:")
            P.body.append("    W, b" + (", g" if with_gain else "") + " = layer")
            P.body += indent(step_lines(P, "h", "g * W" if with_gain else "W", "b"))
            return None

        def posidx(P):
            P.body.append("for layer in layers:")
            P.body += indent(step_lines(P, "h", "layer[0]", "layer[1]"))
            return "np.sum(layers[0][0] ** 2)"
        readers.update(unpack=unpack, posidx=posidx)
    return mk, readers


def c_record_params(P, L, dims):
    fields = []
    for l in range(1, L + 1):
        fields += [f"W{l}", f"b{l}"]
    kind = record_def(P, "Params", fields)
    mk = ["params = Params(" + ", ".join(
        f"W{l}={arr((dims[l-1], dims[l]))}, b{l}={arr((dims[l],))}" for l in range(1, L + 1)) + ")"]
    is_tuple = not kind.startswith("dataclass")

    def attr(P):
        for l in range(1, L + 1):
            P.body += step_lines(P, "h", f"params.W{l}", f"params.b{l}")
        return "np.sum(params.W1 ** 2)"

    def getattr_(P):
        P.body.append(f"for l in range(1, {L} + 1):")
        P.body += indent(step_lines(P, "h", 'getattr(params, "W" + str(l))', "getattr(params, f'b{l}')"))
        return None

    def helper(P):
        P.top += ["", "", "def first_layer(p, X):", "    return " + P.A("X @ p.W1 + p.b1")]
        P.body.append("h = first_layer(params, h)")
        for l in range(2, L + 1):
            P.body += step_lines(P, "h", f"params.W{l}", f"params.b{l}")
        return None

    def replace(P):
        if is_tuple:
            P.body.append("q = params._replace(W1=0.5 * params.W1)")
        else:
            P.body.append("q = dataclasses.replace(params, W1=0.5 * params.W1)")
        for l in range(1, L + 1):
            P.body += step_lines(P, "h", f"q.W{l}", f"q.b{l}")
        return None

    readers = {"attr": attr, "getattr": getattr_, "helper": helper, "replace": replace}
    if is_tuple:
        def posidx(P):
            for l in range(L):
                P.body += step_lines(P, "h", f"params[{2*l}]", f"params[{2*l+1}]")
            return "np.sum(params[0] ** 2)"

        def unpack(P):
            P.body.append(", ".join(fields) + " = params")
            for l in range(1, L + 1):
                P.body += step_lines(P, "h", f"W{l}", f"b{l}")
            return None
        readers.update(posidx=posidx, unpack=unpack)
    return mk, readers


def c_dict_of_records(P, L, dims):
    record_def(P, "Layer", ["W", "b"])
    names = [f"layer{l}" for l in range(1, L + 1)]
    if L == 2 and P.rng.random() < 0.5:
        names = ["enc", "dec"]
    mk = ["params = {"]
    for l, n in enumerate(names, 1):
        mk.append(f'    "{n}": Layer({arr((dims[l-1], dims[l]))}, {arr((dims[l],))}),')
    mk.append("}")

    def const(P):
        for n in names:
            P.body += step_lines(P, "h", f'params["{n}"].W', f'params["{n}"].b')
        return f'np.sum(params["{names[0]}"].W ** 2)'

    def loop(P):
        if names[0] == "enc":
            return const(P)
        k, form = key_expr(P.rng, "layer", "l")
        P.tags.append("key-" + form)
        P.body.append("for l in range(1, len(params) + 1):")
        P.body += indent(step_lines(P, "h", f"params[{k}].W", f"params[{k}].b"))
        return None

    def values(P):
        P.body.append("for layer in params.values():")
        P.body += indent(step_lines(P, "h", "layer.W", "layer.b"))
        return None

    return mk, {"const": const, "loop": loop, "values": values}


def c_mixed(P, L, dims):
    head_kind = record_def(P, "Head", ["W", "b"])
    mk = ["params = {", '    "encoder": [']
    for l in range(1, L):
        mk.append(f"        ({arr((dims[l-1], dims[l]))}, {arr((dims[l],))}),")
    mk.append("    ],")
    mk.append(f'    "head": Head({arr((dims[L-1], dims[L]))}, {arr((dims[L],))}),')
    mk.append('    "scale": %.2f,' % P.rng.uniform(0.5, 1.5))
    mk.append("}")

    def loop(P):
        P.body.append('for W, b in params["encoder"]:')
        P.body += indent(step_lines(P, "h", "W", "b"))
        P.body.append('h = params["scale"] * (h @ params["head"].W + params["head"].b)')
        return 'np.sum(params["head"].W ** 2)'

    def index(P):
        P.body.append('enc = params["encoder"]')
        P.body.append("for i in range(len(enc)):")
        P.body += indent(step_lines(P, "h", "enc[i][0]", "enc[i][1]"))
        P.body.append('head = params["head"]')
        if head_kind.startswith("dataclass"):
            P.body.append('h = (h @ head.W + head.b) * params["scale"]')
        else:
            P.body.append('h = (h @ head[0] + head[1]) * params["scale"]')
        return 'sum(np.sum(W ** 2) for W, b in params["encoder"]) + np.sum(head.W ** 2)'

    def helper(P):
        P.top += ["", "", "def encode(encoder, h):", "    for W, b in encoder:",
                  "        h = " + P.A("h @ W + b"), "    return h",
                  "", "", "def head_out(head, h, scale):", "    return scale * (h @ head.W + head.b)"]
        P.body.append('h = encode(params["encoder"], h)')
        P.body.append('h = head_out(params["head"], h, params["scale"])')
        return None

    return mk, {"loop": loop, "index": index, "helper": helper}


def c_course(P, L, dims):
    mk = ["params = {}"]
    for l in range(1, L + 1):
        mk.append(f'params["W{l}"] = {arr((dims[l], dims[l-1]))}')
        mk.append(f'params["b{l}"] = np.zeros(({dims[l]}, 1)) + {arr((dims[l], 1))}')
    P.colmajor = True

    def lin(W, A, b):
        return P.rng.choice([f"np.dot({W}, {A}) + {b}", f"{W} @ {A} + {b}"])

    def loop(P):
        kw, form = key_expr(P.rng, "W", "l")
        P.tags.append("key-" + form)
        P.body += ["A = X", "L = len(params) // 2", "for l in range(1, L):"]
        P.body.append(f"    Z = {lin(f'params[{kw}]', 'A', 'params[' + repr('b') + ' + str(l)]')}")
        P.body.append(f"    A = {P.A('Z')}")
        P.body.append(f"AL = {lin('params[f' + repr('W{L}') + ']', 'A', 'params[' + repr('b') + ' + str(L)]')}")
        P.body.append("h = AL")
        return 'sum(np.sum(np.square(params["W" + str(l)])) for l in range(1, L + 1))'

    def caches(P):                  # the course's caches: a list of tuples appended in the loop
        P.body += ["A = X", "caches = []", "L = len(params) // 2", "for l in range(1, L + 1):",
                   '    A_prev = A', '    W = params["W" + str(l)]', '    b = params["b" + str(l)]',
                   f"    Z = {lin('W', 'A_prev', 'b')}", f"    A = {P.A('Z')}",
                   "    caches.append((A_prev, W, b, Z))", "h = A"]
        return None

    def helper(P):                  # linear_activation_forward(A_prev, W, b)
        P.top += ["", "", "def linear_forward(A, W, b):", f"    Z = {lin('W', 'A', 'b')}", "    cache = (A, W, b)",
                  "    return Z, cache", "", "", "def linear_activation_forward(A_prev, W, b):",
                  "    Z, linear_cache = linear_forward(A_prev, W, b)", f"    A = {P.A('Z')}", "    return A, (linear_cache, Z)"]
        P.body += ["A = X", "L = len(params) // 2", "for l in range(1, L + 1):",
                   '    A, cache = linear_activation_forward(A, params["W" + str(l)], params["b" + str(l)])', "h = A"]
        return "np.sum(params['W1'] ** 2)"

    return mk, {"loop": loop, "caches": caches, "helper": helper}


def c_namespace(P, L, dims):
    """Attributes of a plain object (types.SimpleNamespace): not documented as a container."""
    P.top[0:0] = ["import types"]
    mk = ["params = types.SimpleNamespace(" + ", ".join(
        f"W{l}={arr((dims[l-1], dims[l]))}, b{l}={arr((dims[l],))}" for l in range(1, L + 1)) + ")"]

    def attr(P):
        for l in range(1, L + 1):
            P.body += step_lines(P, "h", f"params.W{l}", f"params.b{l}")
        return "np.sum(params.W1 ** 2)"

    return mk, {"attr": attr}


def c_rnn(P, L, dims):
    """Weights shared across time: a recurrent net over the rows of X (its length is data)."""
    d, k = dims[0], dims[1]
    holder = P.rng.choice(["dict", "record", "tuple", "list-of-dicts"])
    P.tags.append("rnn-" + holder)
    P.rnn = True
    if holder == "record":
        record_def(P, "Cell", ["Wx", "Wh", "b"])
        mk = [f"params = Cell({arr((d, k))}, {arr((k, k))}, {arr((k,))})"]
        get = ["Wx, Wh, b = params.Wx, params.Wh, params.b"]
        names = ("params.Wx", "params.Wh", "params.b")
    elif holder == "tuple":
        mk = [f"params = ({arr((d, k))}, {arr((k, k))}, {arr((k,))})"]
        get = ["Wx, Wh, b = params"]
        names = ("params[0]", "params[1]", "params[2]")
    elif holder == "list-of-dicts":   # stacked recurrent layers
        mk = ["params = ["] + [f'    {{"Wx": {arr((d if l == 0 else k, k))}, "Wh": {arr((k, k))}, "b": {arr((k,))}}},'
                               for l in range(L)] + ["]"]
        get, names = None, None
    else:
        mk = [f'params = {{"Wx": {arr((d, k))}, "Wh": {arr((k, k))}, "b": {arr((k,))}}}']
        get = ['Wx, Wh, b = params["Wx"], params["Wh"], params["b"]']
        names = ('params["Wx"]', 'params["Wh"]', 'params["b"]')

    def rows(P):
        if names is None:
            P.body += ["seq = X", "for cell in params:", "    h = np.zeros(cell[\"b\"].shape)", "    outs = []",
                       "    for x_t in seq:",
                       "        h = " + P.A('x_t @ cell["Wx"] + h @ cell["Wh"] + cell["b"]'),
                       "        outs.append(h)", "    seq = np.stack(outs)", "h = seq"]
            return "sum(np.sum(cell['Wh'] ** 2) for cell in params)"
        P.body += get + ["state = np.zeros(b.shape)", "outs = []", "for x_t in X:",
                         "    state = " + P.A("x_t @ Wx + state @ Wh + b"), "    outs.append(state)",
                         "h = np.stack(outs)"]
        return "np.sum(Wh ** 2)"

    def direct(P):
        if names is None:
            return rows(P)
        Wx, Wh, b = names
        P.body += [f"state = np.zeros({b}.shape)", "outs = []", "for t in range(X.shape[0]):",
                   "    state = " + P.A(f"X[t] @ {Wx} + state @ {Wh} + {b}"), "    outs.append(state)",
                   "h = np.array(outs)" if P.rng.random() < 0.3 else "h = np.stack(outs)"]
        return None

    def last(P):                    # only the last state is read, by a while loop
        if names is None:
            return rows(P)
        Wx, Wh, b = names
        P.body += [f"state = np.zeros({b}.shape)", "t = 0", "while t < len(X):",
                   "    state = " + P.A(f"X[t] @ {Wx} + state @ {Wh} + {b}"), "    t += 1",
                   "h = state * np.ones((X.shape[0], 1))"]
        return None

    return mk, {"rows": rows, "direct": direct, "last": last}


def c_model_dataclass(P, L, dims):
    record_def(P, "Layer", ["W", "b"])
    frozen = P.rng.random() < 0.5
    P.top += ["", "", "@dataclasses.dataclass" + ("(frozen=True)" if frozen else ""), "class Model:",
              "    layers: list", "    temperature: float = 1.0"]
    P.tags.append("Model:dataclass" + ("-frozen" if frozen else ""))
    t = "" if P.rng.random() < 0.5 else ", temperature=%.2f" % P.rng.uniform(0.5, 2.0)
    mk = ["model = Model(["]
    for l in range(1, L + 1):
        mk.append(f"    Layer({arr((dims[l-1], dims[l]))}, {arr((dims[l],))}),")
    mk.append(f"]{t})")

    def loop(P):
        P.body.append("for layer in model.layers:")
        P.body += indent(step_lines(P, "h", "layer.W", "layer.b"))
        P.body.append("h = h / model.temperature")
        return "sum(np.sum(layer.W ** 2) for layer in model.layers)"

    def index(P):
        P.body.append("for i in range(len(model.layers)):")
        P.body += indent(step_lines(P, "h", "model.layers[i].W", "model.layers[i].b"))
        P.body.append("h = h * (1.0 / model.temperature)")
        return None

    return mk, {"loop": loop, "index": index}


CONTAINERS = {"dict_flat": c_dict_flat, "dict_nested": c_dict_nested, "list_arrays": c_list_arrays,
              "list_tuples": c_list_tuples, "two_lists": c_two_lists, "record_layers": c_record_layers,
              "record_params": c_record_params, "dict_of_records": c_dict_of_records,
              "model_dataclass": c_model_dataclass, "mixed": c_mixed,
              "course": c_course, "namespace": c_namespace, "rnn": c_rnn}
FIXED_READERS = {"const", "unpack", "posidx", "attr", "replace", "getattr", "recursive"}   # written for one depth
CONTAINER_ARG = {"list_tuples": "layers", "record_layers": "layers", "model_dataclass": "model"}


def gen_param_program(P):
    r = P.rng
    kind = r.choice(sorted(CONTAINERS))
    L = r.choice([1, 2, 2, 3])
    if kind == "record_params":
        L = r.choice([1, 2])
    dims = draw_dims(r, L)
    n = r.randint(3, 5)
    name = CONTAINER_ARG.get(kind, "params")
    state = r.getstate()
    mk, readers = CONTAINERS[kind](P, L, dims)
    reader = r.choice(sorted(readers))
    second = None
    if reader not in FIXED_READERS and kind != "record_params" and (kind, reader) != ("dict_of_records", "loop") \
            and (r.random() < 0.35 or reader == "skip"):
        # the same gradient called again with a container of another depth (and widths)
        P2 = Program(random.Random(), P.seed)
        P2.rng.setstate(state)
        L2 = r.choice([l for l in (1, 2, 3, 4) if l != L or reader == "skip"])
        dims2 = draw_dims(r, L2)
        mk2, _ = CONTAINERS[kind](P2, L2, dims2)
        if "float-bias" in P.tags:
            mk2.append("layers = [(W, np.full(W.shape[1], b) if isinstance(b, float) else b) for W, b in layers]")
        if kind == "list_tuples" and r.random() < 0.5:
            mk2.append("layers = list(layers) if isinstance(layers, tuple) else tuple(layers)")
            P.tags.append("then-other-sequence-type")
        second = (L2, dims2, mk2)
    P.tags[0:0] = [kind, reader, f"L={L}"]
    P.params = [name, "X", "y"]
    P.make += mk
    if kind == "rnn":
        n = P.rng.randint(2, 5)
        P.make += [f"X = {arr((n, dims[0]))}", f"y = {arr((n, dims[1]))}"]
    elif P.colmajor:
        P.make += [f"X = {arr((dims[0], n))}", f"y = {arr((dims[-1], n))}"]
    else:
        P.make += [f"X = {arr((n, dims[0]))}", f"y = {arr((n, dims[-1]))}"]
    P.ret = [name, "X", "y"]
    extra = []
    P.body.append("h = X")
    reg = readers[reader](P)
    uses_alpha = any("alpha" in line for line in P.body + P.top)
    if uses_alpha and any("alpha" in line for line in P.top):
        P.top = [line.replace("alpha", "0.8") for line in P.top]
        uses_alpha = any("alpha" in line for line in P.body)
    lossform = r.choice(["mse", "half-sse", "logcosh", "mean-sq-axis"])
    out = {"mse": "np.mean((h - y) ** 2)", "half-sse": "0.5 * np.sum((h - y) ** 2) / X.shape[0]",
           "logcosh": "np.mean(np.log(np.cosh(h - y)))",
           "mean-sq-axis": "np.sum(np.mean((h - y) ** 2, axis=0))"}[lossform]
    if P.colmajor:
        out = out.replace("X.shape[0]", "X.shape[1]")
    if P.float_leaf:
        P.body.append(f"h = {P.float_leaf} * h")
    P.body.append(f"data_loss = {out}")
    result = "data_loss"
    if reg is not None and r.random() < 0.6:
        P.body.append(f"reg = {reg}")
        P.tags.append("reg-genexp" if " for " in reg and not reg.startswith("sum([") else
                      "reg-listcomp" if " for " in reg else "reg-plain")
        result = "data_loss + lam * reg"
        P.params.append("lam")
        P.make.append("lam = %.3f" % r.uniform(0.01, 0.2))
        P.ret.append("lam")
        extra.append("lam")
    if uses_alpha:
        P.params.append("alpha")
        P.make.append("alpha = %.3f" % r.uniform(0.5, 1.5))
        P.ret.append("alpha")
        extra.append("alpha")
    P.body.append(f"return {result}")
    if second is not None:
        L2, dims2, mk2 = second
        n2 = r.randint(3, 5)
        if kind == "rnn":
            P.make2 = mk2 + [f"X = {arr((n2 + 2, dims2[0]))}", f"y = {arr((n2 + 2, dims2[1]))}"]
        elif P.colmajor:
            P.make2 = mk2 + [f"X = {arr((dims2[0], n2))}", f"y = {arr((dims2[-1], n2))}"]
        else:
            P.make2 = mk2 + [f"X = {arr((n2, dims2[0]))}", f"y = {arr((n2, dims2[-1]))}"]
        if "skip" in P.ret:
            P.make2.append("skip = %d" % r.randint(0, L2))
        if "scales" in P.ret:
            P.make2.append("scales = [%s]" % ", ".join("%.2f" % r.uniform(0.5, 1.5) for _ in range(L2)))
        P.make2 += [line for line in P.make if line.startswith(("lam =", "alpha =", "s0 ="))]
        P.tags.append(f"then-L={L2}")
    # wrt
    choice = r.random()
    pos = 0 if r.random() < 0.7 else name
    if choice < 0.55:
        P.wrt = pos
    elif choice < 0.75 and extra:
        e = r.choice(extra)
        P.wrt = (pos, e if r.random() < 0.5 else P.params.index(e))
    elif choice < 0.9:
        P.wrt = (pos, r.choice(["X", "y", 2]))
    else:
        P.wrt = (r.choice(["y", 2]), pos)
    wrt_items = P.wrt if isinstance(P.wrt, tuple) else (P.wrt,)
    if "lam" in P.params and "lam" == P.params[-1] and "lam" not in wrt_items and \
            P.params.index("lam") not in wrt_items and r.random() < 0.4:
        value = [line for line in P.make if line.startswith("lam =")][0].split("= ")[1]
        P.params[-1] = "lam=" + value           # a hyperparameter left at its default
        P.ret.remove("lam")
        P.make = [line for line in P.make if not line.startswith("lam =")]
        if P.make2:
            P.make2 = [line for line in P.make2 if not line.startswith("lam =")]
        P.tags.append("default-lam")
    P.tags.append(f"wrt={P.wrt!r}")


def gen_data_program(P):
    """A differentiated array w (and maybe a bias b) next to a data container."""
    r = P.rng
    kind = r.choice(["dict", "record", "batches", "dict-batches", "config"])
    d, n = r.randint(2, 4), r.randint(3, 5)
    P.tags[0:0] = ["data-" + kind]
    P.params = ["w", "data"]
    P.make += [f"w = {arr((d,))}"]
    P.ret = ["w", "data"]
    act = P.act
    if kind == "dict":
        P.make += [f'data = {{"X": {arr((n, d))}, "y": {arr((n,))}, "lam": 0.1}}']
        P.body += ['X, y = data["X"], data["y"]', f"pred = {act.format('X @ w')}",
                   'return np.mean((pred - y) ** 2) + data["lam"] * np.sum(w ** 2)']
    elif kind == "record":
        rk = record_def(P, "Batch", ["X", "y"])
        P.make += [f"data = Batch({arr((n, d))}, {arr((n,))})"]
        if rk.startswith("dataclass") or r.random() < 0.5:
            P.body += [f"pred = {act.format('data.X @ w')}", "return np.mean((pred - data.y) ** 2)"]
        else:
            P.body += ["X, y = data", f"pred = {act.format('X @ w')}", "return np.sum((pred - y) ** 2)"]
    elif kind == "batches":
        nb = r.randint(1, 3)
        P.make += ["data = [" + ", ".join(f"({arr((n, d))}, {arr((n,))})" for _ in range(nb)) + "]"]
        how = r.choice(["forin", "enum", "index"])
        P.tags.append(how)
        P.body.append("total = 0.0")
        if how == "forin":
            P.body += ["for Xb, yb in data:", f"    total = total + np.sum(({act.format('Xb @ w')} - yb) ** 2)"]
        elif how == "enum":
            P.body += ["for i, (Xb, yb) in enumerate(data):",
                       f"    total = total + (i + 1) * np.mean(({act.format('Xb @ w')} - yb) ** 2)"]
        else:
            P.body += ["for i in range(len(data)):",
                       f"    total = total + np.sum(({act.format('data[i][0] @ w')} - data[i][1]) ** 2)"]
        P.body.append("return total / len(data)")
    elif kind == "dict-batches":
        nb = r.randint(1, 3)
        P.make += ["data = {" + ", ".join(f'"batch{i}": {{"X": {arr((n, d))}, "y": {arr((n,))}}}'
                                          for i in range(nb)) + "}"]
        P.body += ["total = 0.0", "for i in range(len(data)):", '    batch = data[f"batch{i}"]',
                   "    total = total + np.mean((%s - batch['y']) ** 2)" % act.format("batch['X'] @ w"),
                   "return total"]
    else:
        record_def(P, "Config", ["X", "y"], {"lam": 0.1})
        P.make += [f"data = Config({arr((n, d))}, {arr((n,))}, lam=0.05)" if "namedtuple-defaults" not in P.tags[-1]
                   else f"data = Config({arr((n, d))}, {arr((n,))})"]
        P.body += [f"pred = {act.format('data.X @ w')}",
                   "return np.mean((pred - data.y) ** 2) + data.lam * np.sum(w ** 2)"]
    if r.random() < 0.4:
        P.params.append("b")
        P.make.append("b = %.3f" % r.uniform(-0.5, 0.5))
        P.ret.append("b")
        P.body[-1] = P.body[-1] + " + np.sum(np.tanh(w + b))"
        P.wrt = r.choice([(0, 2), ("w", "b"), (2, 0)])
    else:
        P.wrt = r.choice([0, "w"])
    P.tags.append(f"wrt={P.wrt!r}")


def generate(seed):
    rng = random.Random(seed)
    P = Program(rng, seed)
    if rng.random() < 0.8:
        gen_param_program(P)
    else:
        gen_data_program(P)
    return P.source()


# ----------------------------------------------------------------------------------------
# checking


def load(seed, directory):
    path = os.path.join(directory, f"cprog_{seed}.py")
    with open(path, "w") as fh:
        fh.write(generate(seed))
    name = f"cprog_{seed}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module       # dataclasses look their module up
    spec.loader.exec_module(module)
    return module, path


def is_record(x):
    return dataclasses.is_dataclass(x) and not isinstance(x, type)


def leaves(x, path=()):
    """(path, leaf) for each float or float array inside x; path items are ('k', key),
    ('i', index) or ('f', field)."""
    if isinstance(x, np.ndarray):
        if x.dtype.kind == "f":
            yield path, x
    elif isinstance(x, float):
        yield path, x
    elif isinstance(x, dict):
        for k, v in x.items():
            yield from leaves(v, path + (("k", k),))
    elif isinstance(x, tuple) and hasattr(x, "_fields"):
        for f in x._fields:
            yield from leaves(getattr(x, f), path + (("f", f),))
    elif isinstance(x, (list, tuple)):
        for i, v in enumerate(x):
            yield from leaves(v, path + (("i", i),))
    elif is_record(x):
        for f in dataclasses.fields(x):
            yield from leaves(getattr(x, f.name), path + (("f", f.name),))
    elif isinstance(x, types.SimpleNamespace):
        for k, v in vars(x).items():
            yield from leaves(v, path + (("f", k),))


def get(x, path):
    for how, k in path:
        x = getattr(x, k) if how == "f" else x[k]
    return x


def put(x, path, value):
    """A copy of x with the leaf at path replaced (containers rebuilt, leaves shared)."""
    if not path:
        return value
    (how, k), rest = path[0], path[1:]
    if how == "k":
        y = dict(x)
        y[k] = put(x[k], rest, value)
        return y
    if how == "i":
        items = list(x)
        items[k] = put(x[k], rest, value)
        return items if isinstance(x, list) else tuple(items)
    if isinstance(x, tuple):
        return x._replace(**{k: put(getattr(x, k), rest, value)})
    if isinstance(x, types.SimpleNamespace):
        return types.SimpleNamespace(**{**vars(x), k: put(getattr(x, k), rest, value)})
    return dataclasses.replace(x, **{k: put(getattr(x, k), rest, value)})


def structure_problem(g, x, where="gradient"):
    """None, or why g does not have the structure of x."""
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        if not isinstance(g, np.ndarray):
            return f"{where}: {type(g).__name__} for an array of shape {x.shape}"
        if g.shape != x.shape:
            return f"{where}: shape {g.shape} for an array of shape {x.shape}"
        return None
    if isinstance(x, float) and not isinstance(x, np.ndarray):
        if not isinstance(g, float):
            return f"{where}: {type(g).__name__} for a Python float"
        return None
    if isinstance(x, dict):
        if type(g) is not dict and type(g) is not type(x):
            return f"{where}: {type(g).__name__} for a dict"
        if list(g.keys()) != list(x.keys()):
            if set(g.keys()) == set(x.keys()):
                return None if True else None      # order does not matter
            return f"{where}: keys {sorted(map(str, g))} for keys {sorted(map(str, x))}"
        for k in x:
            p = structure_problem(g[k], x[k], f"{where}[{k!r}]")
            if p:
                return p
        return None
    if isinstance(x, tuple) and hasattr(x, "_fields") or is_record(x) or isinstance(x, types.SimpleNamespace):
        if type(g) is not type(x):
            return f"{where}: {type(g).__name__} for a {type(x).__name__}"
        names = x._fields if isinstance(x, tuple) else list(vars(x)) if isinstance(x, types.SimpleNamespace) \
            else [f.name for f in dataclasses.fields(x)]
        for f in names:
            xv = getattr(x, f)
            if not any(True for _ in leaves(xv)):
                continue
            p = structure_problem(getattr(g, f), xv, f"{where}.{f}")
            if p:
                return p
        return None
    if isinstance(x, (list, tuple)):
        if type(g) is not type(x):
            return f"{where}: {type(g).__name__} for a {type(x).__name__}"
        if len(g) != len(x):
            return f"{where}: length {len(g)} for length {len(x)}"
        for i, (gv, xv) in enumerate(zip(g, x)):
            if not any(True for _ in leaves(xv)):
                continue
            p = structure_problem(gv, xv, f"{where}[{i}]")
            if p:
                return p
        return None
    return None


class Result:
    def __init__(self, seed, kind, detail="", where=None, source=""):
        self.seed, self.kind, self.detail, self.where, self.source = seed, kind, detail, where, source


def first_line(exc):
    text = str(exc).strip().split("\n", 1)[0]
    return f"{type(exc).__name__}: {text}"


def locate(exc, path):
    text = str(exc)
    base = os.path.basename(path)
    if re.search(re.escape(base) + r":\d+", text):
        return "user-line"
    if "<srcgrad" in text:
        return "synthetic"
    return "no-location"


def wrt_positions(module, wrt):
    import inspect
    names = list(inspect.signature(module.loss).parameters)
    items = wrt if isinstance(wrt, tuple) else (wrt,)
    return [names.index(w) if isinstance(w, str) else w for w in items]


def references(module, args, positions):
    """Finite differences for every leaf of the differentiated arguments (None when two
    steps disagree)."""
    refs = []
    for pos in positions:
        per = []
        for lpath, leaf in leaves(args[pos]):
            def f(v, pos=pos, lpath=lpath):
                a = list(args)
                a[pos] = put(args[pos], lpath, v)
                return module.loss(*a)
            n1 = srcgrad.numerical_gradient(f, [leaf], 0, eps=1e-6)
            n2 = srcgrad.numerical_gradient(f, [leaf], 0, eps=1e-5)
            if not np.allclose(n1, n2, rtol=1e-6, atol=1e-8):
                return None
            per.append((lpath, n1))
        refs.append(per)
    return refs


def compare(seed, gradfn, use_vg, args, value, refs, positions, wrt, path, source, label, names=None):
    try:
        if names:           # the data passed by keyword: grad(loss)(params, X=X, y=y)
            out = gradfn(args[0], **dict(zip(names[1:], args[1:])))
        else:
            out = gradfn(*args)
        if use_vg:
            got_value, grads = out
        else:
            grads = out
    except srcgrad.GradientRuntimeError as exc:
        return Result(seed, "CRASH", label + first_line(exc) + "\n" + "".join(
            traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:]), locate(exc, path), source)
    except srcgrad.SrcgradError as exc:
        return Result(seed, "refused", first_line(exc), locate(exc, path), source)
    except Exception as exc:
        return Result(seed, "CRASH", label + first_line(exc) + "\n" + "".join(
            traceback.format_exception(type(exc), exc, exc.__traceback__)[-8:]), None, source)
    if use_vg and not np.isclose(got_value, value, rtol=1e-12, atol=1e-12):
        return Result(seed, "WRONG", f"{label}value {got_value!r} != {value!r}", source=source)
    if isinstance(wrt, tuple):
        if not isinstance(grads, tuple) or len(grads) != len(positions):
            return Result(seed, "WRONG", f"{label}wrt={wrt!r} gave {type(grads).__name__}", source=source)
        grads = list(grads)
    else:
        grads = [grads]
    for pos, g, per in zip(positions, grads, refs):
        p = structure_problem(g, args[pos], f"gradient of argument {pos}")
        if p:
            return Result(seed, "WRONG", label + "structure: " + p, source=source)
        for lpath, ref in per:
            gl = np.asarray(get(g, lpath), dtype=float)
            if gl.shape != np.shape(ref) or not np.allclose(gl, ref, rtol=RTOL, atol=ATOL):
                err = np.max(np.abs(gl - ref)) if gl.shape == np.shape(ref) else "shape"
                return Result(seed, "WRONG", f"{label}argument {pos} leaf {lpath}: got {np.round(gl, 6).tolist()} "
                              f"expected {np.round(ref, 6).tolist()} (max err {err})", source=source)
    return None


def check(seed, directory):
    source = generate(seed)
    module, path = load(seed, directory)
    wrt = module.WRT
    positions = wrt_positions(module, wrt)
    calls = [module.make_args()]
    if hasattr(module, "make_args2"):
        calls.append(module.make_args2())
    prepared = []
    for args in calls:
        value = module.loss(*args)      # the program itself must run
        assert np.ndim(value) == 0 and np.isfinite(value), (seed, value)
        refs = references(module, args, positions)
        if refs is None:
            return Result(seed, "skipped", "finite differences unstable", source=source)
        prepared.append((args, value, refs))
    use_vg = seed % 3 == 0
    gradfn = (srcgrad.value_and_grad if use_vg else srcgrad.grad)(module.loss, wrt=wrt)
    for i, (args, value, refs) in enumerate(prepared):
        label = "" if i == 0 else "second call (make_args2): "
        names = None
        if seed % 4 == 1:
            import inspect
            names = list(inspect.signature(module.loss).parameters)
            label += "(called with keyword arguments) "
        bad = compare(seed, gradfn, use_vg, args, value, refs, positions, wrt, path, source, label, names)
        if bad is not None:
            return bad
    return Result(seed, "ok", source=source)


def run(seeds, directory, show=False, stream=sys.stdout):
    results = []
    for seed in seeds:
        if show:
            print(f"# ---- seed {seed}\n{generate(seed)}", file=stream)
        try:
            res = check(seed, directory)
        except Exception as exc:      # the generated program itself is at fault
            res = Result(seed, "GENBUG", f"program does not run: {first_line(exc)}", source=generate(seed))
        finally:
            sys.modules.pop(f"cprog_{seed}", None)
        results.append(res)
        if show:
            print(f"# => {res.kind} {res.detail} {res.where or ''}\n", file=stream)
    return results


def normalize(message):
    m = re.sub(r"\S*cprog_\d+\.py:\d+", "<test>:N", message)
    m = re.sub(r"cprog_\d+", "cprog_N", m)
    m = re.sub(r"<srcgrad[^>]*>(:\d+)?", "<srcgrad>", m)
    m = re.sub(r"\b\d+\b", "N", m)
    return m[:160]


def summary(results, elapsed, stream=sys.stdout):
    counts = collections.Counter(r.kind for r in results)
    print(f"{len(results)} programs in {elapsed:.1f} s: " + ", ".join(
        f"{k} {counts[k]}" for k in ["ok", "refused", "skipped", "WRONG", "CRASH", "GENBUG"]), file=stream)
    refusals = collections.defaultdict(list)
    tag_of = {r.seed: " ".join(r.source.split("\n", 1)[0].split(": ", 1)[1].split(" ")[:2])
              for r in results if r.source}
    for r in results:
        if r.kind == "refused":
            refusals[(normalize(r.detail), r.where)].append(r.seed)
    if refusals:
        print("\nrefusals (count, location named, message, example seeds):", file=stream)
        for (msg, where), seeds in sorted(refusals.items(), key=lambda kv: -len(kv[1])):
            print(f"  {len(seeds):4d}  [{where}]  {msg}   (seeds {', '.join(map(str, seeds[:5]))})", file=stream)
            kinds = collections.Counter(tag_of[s] for s in seeds)
            print("          from: " + ", ".join(f"{k} {v}" for k, v in kinds.most_common(6)), file=stream)
    tags = collections.Counter()
    for r in results:
        if r.kind == "refused":
            tags[" ".join(r.source.split("\n", 1)[0].split(": ", 1)[1].split(" ")[:2])] += 1
    if tags:
        print("\nrefusals by container and reader: " + ", ".join(f"{k} {v}" for k, v in tags.most_common()), file=stream)
    for r in results:
        if r.kind in ("WRONG", "CRASH", "GENBUG"):
            print(f"\n==== {r.kind} seed {r.seed}: {r.detail}\n{r.source}", file=stream)
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1, help="number of programs (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--show", action="store_true", help="print each program and its outcome")
    opts = parser.parse_args(argv)
    directory = tempfile.mkdtemp(prefix="srcgrad_containers_")
    sys.path.insert(0, directory)
    start = time.perf_counter()
    results = run(range(opts.seed, opts.seed + opts.count), directory, opts.show)
    counts = summary(results, time.perf_counter() - start)
    return 1 if counts["WRONG"] or counts["CRASH"] else 0


if __name__ == "__main__":
    sys.exit(main())
