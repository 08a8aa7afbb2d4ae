"""Writes through a subscript: `x[i] = v`, `d[k] = v`, `d[k][i] = v`, `L[i][j] = v`.

Each makes a new version of what it writes into:
- an array: `x_2 = with_set(x, i, v)`, a new array (desugar.write);
- a list or dict known when the code is read (containers.py), at a key known then and
  outside a loop that runs a number of times known only when it runs: a new known
  container, holding `v` at that key;
- any other dict (a key known only when the code runs, or a write in such a loop): a
  dict filled when the code runs, `d_2 = dict_set(d, k, v)` (the dict updated in place
  and returned).  Reads of it stay reads (`d_2[k]`); the backward pass keeps its adjoint
  as a dict of adjoints (runtime.DictAdjoint), so a read or a write costs O(1) there too;
- a nested target reads the element, writes into it and writes it back:
  `d[k][i] = v` is `e = d[k]; e_2 = with_set(e, i, v); d_2 = dict_set(d, k, e_2)`.

Every function here takes the running `Normalizer` (normalize.py) as its first argument.
"""
import gast

from . import containers, desugar
from .fold import make_const
from .ir import Assign
from .naming import source_text


def _load(node):
    return gast.Subscript(value=node.value, slice=node.slice, ctx=gast.Load())


def _root(node):
    while isinstance(node, gast.Subscript):
        node = node.value
    return node


def subscript(norm, target, value, node=None):
    """`target = value` for a subscript `target`, `value` an atom."""
    node = node or target
    base = target.value
    if isinstance(base, gast.Subscript) and isinstance(_root(base), gast.Name):
        element = norm.atom(_load(base))             # d[k][i] = v: write into d[k] ...
        if not isinstance(element, gast.Name):
            raise norm.error("srcgrad cannot write into this element", node,
                             construct="subscript assignment")
        if element.id in norm.containers:             # ... a container known when reading
            return _into_known(norm, base, element.id, target.slice, value, node) or \
                _refuse_list_write(norm, node)
        root = _root(base).id
        new = norm.namer.fresh(f"{element.id}_set")  # ... an array: a new one, written back
        norm.user_of[new] = root
        if element.id not in norm.user_of and element.id not in norm.user_names:
            # read out of it here: (a version of) the container's variable
            norm.user_of[element.id] = root
        index = desugar.index_value(norm.index(target.slice))
        desugar.checked_write(norm, element.id, new, index, value, node)
        return subscript(norm, base, norm.load_ssa(new), node)
    if not (isinstance(base, gast.Name) and base.id in norm.scope.current):
        raise norm.error("srcgrad cannot differentiate this assignment target", node,
                         construct="subscript assignment")
    ssa = norm.scope.current[base.id]
    if ssa in norm.containers:
        if _into_known(norm, base, ssa, target.slice, value, node):
            return
        if ssa in norm.lists:               # a list literal, written at an index known
            norm.runtime_lists.add(base.id)     # only when the code runs: from here on, a list
            norm.list_starts.add(ssa)           # read and written when it runs
            forget_known(norm, ssa)
            return _into_list(norm, base.id, ssa, target.slice, value, node)
        if ssa not in norm.dicts:           # a tuple, or a record
            raise norm.error(f"`{source_text(base)}` is a tuple or a record: Python does not "
                             "write into it (TypeError)", node, construct="write into a tuple",
                             hint="build a new one, or keep the values in a list or dict")
    if ssa in norm.containers or ssa in norm.runtime_dicts:
        return _into_dict(norm, base.id, ssa, target.slice, value, node)
    if base.id in norm.runtime_lists:
        return _into_list(norm, base.id, ssa, target.slice, value, node)
    desugar.write(norm, target, value, node)


def forget_known(norm, ssa):
    """A known list or dict is written when the code runs from here on: every name for it
    (`M = L`, or the container itself held in another) is read when the code runs too, so a
    read through another name after a write is seen (and refused, aliasing.py), never
    answered from the contents it had when the code was read."""
    held = norm.containers.get(ssa)
    for n, elements in list(norm.containers.items()):
        if elements is held:
            del norm.containers[n]
            if n in norm.lists and n in norm.user_of:
                norm.runtime_lists.add(norm.user_of[n])


def _refuse_list_write(norm, node):
    raise norm.error("srcgrad cannot differentiate a write into a list or tuple at an index "
                     "known only when the code runs, or in a loop over a number of "
                     "iterations known only then", node, construct="write into a list",
                     hint="keep the values in an array (`x = np.zeros(n); x[i] = v`) or in a "
                          "dict (`d = {}; d[i] = v`)")


def _into_known(norm, base, ssa, key_node, value, node):
    """`c[key] = value` on a container known when reading, at a key known then: a new known
    container, True; False if the key or the number of writes is known only when it runs."""
    if isinstance(key_node, (gast.Slice, gast.Tuple)) or norm.container_depth.get(ssa) != len(norm.loops):
        return False
    key = containers.static_value(norm, key_node)
    elements = norm.containers[ssa]
    is_dict = ssa in norm.dicts
    if type(key) not in (int, str) or (not is_dict and ssa not in norm.lists):
        return False
    if not is_dict:
        if type(key) is not int or not -len(elements) <= key < len(elements):
            raise norm.error(f"list assignment index {key} out of range for a list of "
                             f"{len(elements)}", node, construct="write into a list")
        key %= len(elements)
    if isinstance(value, gast.Name) and value.id in norm.runtime_dicts:
        raise norm.error("srcgrad cannot keep a dict filled when the code runs inside another "
                         "container", node, construct="dict in a container")
    others = [n for n, held in norm.containers.items()      # (a temporary is read no more)
              if held is elements and n in norm.user_of and norm.user_of[n] != norm.user_of.get(ssa, ssa)]
    parent = norm.scope.current.get(base.value.id) if isinstance(base, gast.Subscript) and \
        isinstance(base.value, gast.Name) else None     # (written back into it next)
    holders = [n for n, held in norm.containers.items() if n != parent and any(
        isinstance(e, gast.Name) and e.id == ssa for e in held.values())]
    if others or holders:
        other = norm.user_of.get((others or holders)[0], (others or holders)[0])
        raise norm.error(f"writing into `{source_text(base)}[...]` changes a container that "
                         f"`{other}` also refers to", node, construct="write into a shared container",
                         hint=f"build a new container (`{source_text(base)} = dict(...)` or a list "
                              "literal) instead of writing into a shared one")
    updated = dict(elements)
    updated[key] = value
    if is_dict:
        display = gast.Dict(keys=[gast.Constant(value=k, kind=None) for k in updated],
                            values=list(updated.values()))
    else:
        display = gast.List(elts=[updated[k] for k in range(len(updated))], ctx=gast.Load())
    if isinstance(base, gast.Name):
        new = norm.define(base.id)
    else:                                   # the element of a container, itself written back
        new = norm.namer.fresh(f"{ssa}_set")
        norm.user_of[new] = norm.user_of.get(ssa, ssa)
    containers.remember_container(norm, new, display)
    norm.body.append(Assign([new], display, norm.line))
    if not isinstance(base, gast.Name):
        subscript(norm, base, norm.load_ssa(new), node)
    return True


def _into_dict(norm, name, ssa, key_node, value, node):
    """`d[key] = value` on a dict filled when the code runs: `d_2 = dict_set(d, key, value)`."""
    if isinstance(key_node, gast.Slice):
        raise norm.error("a dict has no slices", node, construct="dict write")
    if isinstance(value, gast.Name) and (value.id in norm.containers or value.id in norm.runtime_dicts):
        raise norm.error("srcgrad cannot keep a list, tuple or dict inside a dict filled when "
                         "the code runs", node, construct="container in a dict",
                         hint="keep arrays in it (`np.array(...)` of a list), or use one dict per "
                              "kind of value")
    key = norm.atom(key_node) if not isinstance(key_node, gast.Tuple) else norm.index(key_node)
    forget_known(norm, ssa)
    new = norm.define(name)
    func = gast.Name(id=norm.helper_name("dict_set"), ctx=gast.Load(), annotation=None,
                     type_comment=None)
    norm.body.append(Assign([new], gast.Call(func=func, args=[norm.load_ssa(ssa), key, value],
                                             keywords=[]), norm.line))
    norm.runtime_dicts.add(new)
    norm.dict_writes.append((node, ssa, new, norm.body[-1]))


def _into_list(norm, name, ssa, index_node, value, node):
    """`xs[i] = value` on a list appended to in a loop: `xs_2 = list_set(xs, i, value)` (the
    list updated in place and returned), its length kept for the backward pass."""
    if isinstance(index_node, (gast.Slice, gast.Tuple)):
        raise norm.error("srcgrad cannot differentiate a write into a slice of a list built in a "
                         "loop", node, construct="write into a list",
                         hint="write one element at a time, or make it an array")
    if isinstance(value, gast.Name) and (value.id in norm.containers or value.id in norm.runtime_dicts):
        raise norm.error("srcgrad cannot keep a list, tuple or dict inside a list built in a "
                         "loop", node, construct="container in a list")
    index = norm.atom(index_node)
    length = norm.namer.fresh(f"len_{name}")
    norm.body.append(Assign([length], gast.Call(func=gast.Name(id="len", ctx=gast.Load(), annotation=None,
                                                               type_comment=None),
                                                args=[norm.load_ssa(ssa)], keywords=[]),
                            norm.line, temporary=True))
    new = norm.define(name)
    func = gast.Name(id=norm.helper_name("list_set"), ctx=gast.Load(), annotation=None,
                     type_comment=None)
    norm.body.append(Assign([new], gast.Call(func=func, args=[norm.load_ssa(ssa), index, value],
                                             keywords=[]), norm.line))
    norm.list_lengths[new] = length
    norm.list_writes.append((node, ssa, new, norm.body[-1]))


def written_items(stmts):
    """User names a block writes items of (`d[k] = v`, `d[k][i] = v`) without rebinding."""
    written, bound = set(), set()
    for stmt in stmts:
        for n in gast.walk(stmt):
            if isinstance(n, gast.Subscript) and isinstance(n.ctx, gast.Store) and \
                    isinstance(_root(n), gast.Name):
                written.add(_root(n).id)
            elif isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                bound.add(n.id)
    return written - bound
