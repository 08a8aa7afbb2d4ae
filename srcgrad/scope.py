"""What a function's code sees: the per-function state of the normalizer (a `Scope`, one for
the function and one for each helper inlined into it), what a block of code binds, and the
one lookup of a global name: closure, then module globals, then builtins."""
import builtins
from dataclasses import dataclass, field

import gast

from .fold import copy_tree

RESULT = "<result>"     # the pseudo-variable every `return` assigns


@dataclass
class Scope:
    """The state that belongs to the function whose code is being read; inlining a call
    reads the callee's code in a new Scope and then returns to the caller's."""
    parsed: object                  # source.ParsedFunction whose code this is
    current: dict                   # user variable -> its SSA name now
    renames: dict = field(default_factory=dict)   # global name -> injected name (or node)
    local_functions: dict = field(default_factory=dict)  # name -> (def/lambda node, defaults)
    result_var: str = RESULT        # the pseudo-variable `return` assigns
    result_base: str = "result"     # what versions of the result are called
    result_arity: int = None        # elements of the tuple an inlined helper returns
    line_override: int = None       # inlined statements take the line of their call

    def load(self, name):
        """A read of user variable (or global) `name`, as this code sees it."""
        if name in self.current:
            return gast.Name(id=self.current[name], ctx=gast.Load(), annotation=None,
                             type_comment=None)
        ssa = self.renames.get(name, name)
        if not isinstance(ssa, str):     # a global of an inlined helper's module
            return copy_tree(ssa)
        return gast.Name(id=ssa, ctx=gast.Load(), annotation=None, type_comment=None)

    def global_ref(self, node):
        """A global chain (`np.tanh`) as the code being inlined sees it."""
        if isinstance(node, gast.Attribute):
            return gast.Attribute(value=self.global_ref(node.value), attr=node.attr, ctx=gast.Load())
        return self.load(node.id)

    def lookup(self, node, injected):
        """The object a global chain names in this code (`injected`: names srcgrad binds)."""
        if isinstance(node, gast.Attribute):
            return getattr(self.lookup(node.value, injected), node.attr)
        name = self.renames.get(node.id, node.id)
        if not isinstance(name, str):
            if isinstance(name, gast.Name) and name.id == node.id:
                name = name.id                   # (a function passed under its own name)
            else:
                return self.lookup(name, injected)
        return lookup_name(self.parsed.func, name, injected)


def lookup_name(func, name, injected=None):
    """The object `name` means inside Python function `func`: an entry of `injected` (names
    srcgrad binds itself), a closure cell, a global or a builtin.  AttributeError if none."""
    if injected and name in injected:
        return injected[name]
    code = func.__code__
    if name in code.co_freevars:
        return func.__closure__[code.co_freevars.index(name)].cell_contents
    if name in func.__globals__:
        return func.__globals__[name]
    return getattr(builtins, name)


def lookup_chain(func, node, injected=None):
    """The object a global chain (`np.linalg.norm`, a gast Name or Attribute) names in `func`."""
    if isinstance(node, gast.Attribute):
        return getattr(lookup_chain(func, node.value, injected), node.attr)
    return lookup_name(func, node.id, injected)


_OWN_SCOPES = (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp, gast.Lambda)


def scoped_names(node):
    """Names bound inside comprehensions and lambdas within `node` (their own scopes)."""
    names = set()
    for sub in gast.walk(node):
        if isinstance(sub, gast.Lambda):
            names.update(a.id for a in sub.args.args + sub.args.kwonlyargs)
        elif isinstance(sub, _OWN_SCOPES):
            names.update(n.id for n in gast.walk(sub)
                         if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store))
    return names


def list_method(node):
    """`xs.append(v)` or `xs.pop()` on a name: the method's name, else None."""
    if isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
            isinstance(node.func.value, gast.Name) and not node.keywords and \
            (node.func.attr, len(node.args)) in (("append", 1), ("pop", 0)):
        return node.func.attr
    return None


def _rebound_base(node):
    """`out` for `out[i][j] = v`, which rebinds `out` (to a new array)."""
    base = node.value
    while isinstance(base, gast.Subscript):
        base = base.value
    return base.id if isinstance(base, gast.Name) else None


def assigned_names(stmts):
    """User names a block assigns (loop targets included; not a comprehension's own)."""
    names = set()
    for stmt in stmts:
        if isinstance(stmt, gast.FunctionDef):
            continue
        inner = scoped_names(stmt)
        for node in gast.walk(stmt):
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store) and \
                    node.id not in inner:
                names.add(node.id)
            elif isinstance(node, gast.Subscript) and isinstance(node.ctx, gast.Store):
                if _rebound_base(node) is not None:
                    names.add(_rebound_base(node))
            elif isinstance(node, gast.Return):
                names.add(RESULT)
            elif list_method(node) is not None:  # `xs.append(v)`, `xs.pop()` make a new version
                names.add(node.func.value.id)
    return names
