"""Rules are lambdas; their source is the template pasted into generated code.

`instantiate` finds a rule lambda's syntax tree, substitutes the expressions bound to
its parameters, inlines macros (`keep`, `mT`), names NumPy and runtime helpers through
the generated function's namespace, and folds what is known at transform time.
"""
import builtins
import linecache
import threading

import gast
import numpy as np

from . import rules
from .fold import copy_tree, fold, make_const

_LAMBDAS = {}   # (filename, first line) -> [gast.Lambda, ...]
_READ = set()   # the files whose lambdas are in _LAMBDAS
_MENTIONED = {}  # id of a gast.Lambda in _LAMBDAS -> the names its body mentions
_LOCK = threading.Lock()


def lambda_node(fn):
    """The gast.Lambda node that defined the lambda `fn`."""
    code = fn.__code__
    key = (code.co_filename, code.co_firstlineno)
    if code.co_filename not in _READ:
        with _LOCK:             # each file read once, even when threads ask at the same time
            if code.co_filename not in _READ:
                tree = gast.parse("".join(linecache.getlines(code.co_filename)))
                for node in gast.walk(tree):
                    if isinstance(node, gast.Lambda):
                        _LAMBDAS.setdefault((code.co_filename, node.lineno), []).append(node)
                _READ.add(code.co_filename)
    nodes = [n for n in _LAMBDAS.get(key, ())
             if [a.id for a in n.args.args] == list(code.co_varnames[:code.co_argcount])]
    if len(nodes) != 1:
        raise RuntimeError(f"cannot find the source of rule {fn!r} "
                           f"({code.co_filename}:{code.co_firstlineno}): one lambda per line")
    return nodes[0]


def parameters(fn):
    """(positional parameter names after g and ans, vararg name or None, defaults dict);
    the defaults of keyword-only parameters (see `keyword_only`) included."""
    node = lambda_node(fn)
    names = [a.id for a in node.args.args]
    defaults = dict(zip(names[len(names) - len(fn.__defaults__ or ()):], fn.__defaults__ or ()))
    defaults.update(fn.__kwdefaults__ or {})
    vararg = node.args.vararg.id if node.args.vararg is not None else None
    return names[2:], vararg, defaults


def keyword_only(fn):
    """The names of a rule's keyword-only parameters (`*xi, indexing="xy"`, `*, axis=0`)."""
    return [a.id for a in lambda_node(fn).args.kwonlyargs]


class _Instantiate(gast.NodeTransformer):
    def __init__(self, bindings, env, namespace, scalars):
        self.bindings, self.env, self.namespace = bindings, env, namespace
        self.scalars = scalars

    def visit_Name(self, node):
        if node.id in self.bindings:
            return copy_tree(self.bindings[node.id])
        obj = self.env.get(node.id, getattr(builtins, node.id, None))
        if obj is np:
            return self.namespace.reference(np, "np")
        for name, module in rules.SCIPY.items():            # scipy.special, scipy.stats, ...
            if obj is module:
                return self.namespace.reference(obj, name)
        if isinstance(obj, (int, float)) and not isinstance(obj, bool):
            return make_const(obj)
        if obj in rules.HELPERS:
            return self.namespace.reference(obj, obj.__name__)
        if obj is not None and getattr(builtins, node.id, None) is obj:
            return node
        raise RuntimeError(f"template name {node.id!r} is neither a parameter nor known")

    def visit_Subscript(self, node):
        """`g[1]` of a rule with several outputs, whose `g` is bound to a tuple: that entry."""
        self.generic_visit(node)
        if isinstance(node.value, gast.Tuple) and isinstance(node.slice, gast.Constant) and \
                type(node.slice.value) is int:
            return node.value.elts[node.slice.value]
        return node

    def visit_Call(self, node):
        target = self.env.get(getattr(node.func, "id", None))
        if isinstance(node.func, gast.Name) and any(target is m for m in rules.MACROS.values()):
            args = [self.visit(a) for a in node.args]
            if target is rules.keep and isinstance(args[0], gast.Name) and args[0].id in self.scalars:
                return args[0]        # a 0-d adjoint broadcasts without re-inserted axes
            names = [a.id for a in lambda_node(target).args.args]
            return _expand(target, dict(zip(names, args)), self.namespace, self.scalars)
        self.generic_visit(node)
        return node


def _expand(fn, bindings, namespace, scalars):
    body = copy_tree(lambda_node(fn).body)
    return _Instantiate(bindings, fn.__globals__, namespace, scalars).visit(body)


def instantiate(fn, bindings, namespace, scalars=frozenset(), data=frozenset()):
    """The folded body of rule lambda `fn` with parameters replaced by `bindings`; names in
    `scalars` are 0-d, names in `data` may hold booleans (see fold).

    Returns a list with one expression (or None) per differentiable parameter."""
    body = fold(_expand(fn, bindings, namespace, scalars), rules.STATIC, namespace.objects,
                scalars, data)
    if isinstance(lambda_node(fn).body, gast.Tuple) and isinstance(body, gast.Tuple):
        return [None if (isinstance(e, gast.Constant) and e.value is None) else e
                for e in body.elts]
    return [body]


def template_uses(fn, name, position=None):
    """Whether the rule's template (its term number `position`, if given) mentions parameter
    `name` (e.g. "ans")."""
    node = lambda_node(fn)
    key = (id(node), position)
    names = _MENTIONED.get(key)
    if names is None:       # (the node stays in _LAMBDAS, so its id is never reused)
        body = node.body
        if position is not None and isinstance(body, gast.Tuple):
            body = body.elts[position]
        names = _MENTIONED[key] = frozenset(n.id for n in gast.walk(body) if isinstance(n, gast.Name))
    return name in names
