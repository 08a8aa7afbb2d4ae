"""Parameter containers: a differentiated argument that is a dict, list, tuple or record
(namedtuple, dataclass) of arrays, nested or not (`grad(loss)(params, X, y)`).

The user's function itself is transformed, for the layout the argument has at the call
(its keys, fields and lengths: api.py keys its cache by it).  Three small steps:

- `flatten` / `unflatten`: an argument's leaves and layout, and back (api.py);
- `read_leaves` (run by the normalizer before the body): the generated function keeps the
  user's parameters; its first lines read each leaf from the argument
  (`W1 = params['W1']`), and the parameter then names a container known when reading the
  code (containers.py), its elements those leaves, so `params['W1']` *is* `W1`.  The
  leaves are what the gradient is taken with respect to;
- `assemble`: the gradient's outputs, one per leaf, put back together in the argument's
  type (`return {'W1': dW1, 'b1': db1}`).

A layout is "leaf", ("dict", ((key, layout), ...)), ("list" | "tuple", (layout, ...)) or
("record", cls, ((field, layout), ...)).
"""
import ast
import keyword

import gast

from . import containers, records
from .errors import SrcgradError
from .fold import copy_tree, make_const
from .ir import Assign, Line


def flatten(tree):
    """(leaves, layout) of a nested dict / list / tuple / record; anything else is a leaf."""
    if records.is_record(tree):
        leaves, layout = [], []
        try:
            fields = records.items(tree)
        except ValueError as exc:
            raise SrcgradError(f"srcgrad cannot take {type(tree).__name__} apart as a parameter "
                               f"container: {exc}") from None
        for f, v in fields:
            sub, sub_layout = flatten(v)
            leaves += sub
            layout.append((f, sub_layout))
        return leaves, ("record", type(tree), tuple(layout))
    if isinstance(tree, dict):
        leaves, layout = [], []
        for k, v in tree.items():
            if not isinstance(k, (str, int)):
                raise SrcgradError(f"srcgrad needs string or integer keys in a parameter dict, "
                                   f"not {k!r}")
            sub, sub_layout = flatten(v)
            leaves += sub
            layout.append((k, sub_layout))
        return leaves, ("dict", tuple(layout))
    if isinstance(tree, (list, tuple)):
        leaves, layout = [], []
        for v in tree:
            sub, sub_layout = flatten(v)
            leaves += sub
            layout.append(sub_layout)
        return leaves, (type(tree).__name__, tuple(layout))
    return [tree], "leaf"


def unflatten(layout, leaves):
    """The container of `layout` holding `leaves` (in order)."""
    leaves = iter(leaves)

    def build(node):
        if node == "leaf":
            return next(leaves)
        if node[0] == "record":
            return node[1](**{f: build(sub) for f, sub in node[2]})
        kind, parts = node
        if kind == "dict":
            return {k: build(sub) for k, sub in parts}
        items = [build(sub) for sub in parts]
        return items if kind == "list" else tuple(items)
    return build(layout)


def leaves_of(layout, value):
    """The leaves of `value`, a container of `layout` (a generated gradient's result)."""
    if layout == "leaf":
        return [value]
    if layout[0] == "record":
        return [x for f, sub in layout[2] for x in leaves_of(sub, getattr(value, f))]
    kind, parts = layout
    if kind == "dict":
        return [x for k, sub in parts for x in leaves_of(sub, value[k])]
    return [x for sub, v in zip(parts, value) for x in leaves_of(sub, v)]


def _steps(layout):
    """(step, sub-layout) of each part of a container layout; a step is ("key", k),
    ("index", i) or ("field", f)."""
    if layout[0] == "record":
        return [(("field", f), sub) for f, sub in layout[2]]
    kind, parts = layout
    if kind == "dict":
        return [(("key", k), sub) for k, sub in parts]
    return [(("index", i), sub) for i, sub in enumerate(parts)]


def leaf_paths(layout, path=()):
    """The path (a tuple of steps) of each leaf, in order."""
    if layout == "leaf":
        return [path]
    return [p for step, sub in _steps(layout) for p in leaf_paths(sub, path + (step,))]


def _part(text):
    """A key or field as part of a name: letters, digits and underscores."""
    return "".join(c if c.isalnum() or c == "_" else "_" for c in str(text)).strip("_")


def leaf_names(namer, func, layouts):
    """{parameter: [a name for each of its leaves]}: the keys and fields themselves (`W1`,
    `layer1_W`) where no other leaf, no name of the function and no global takes them,
    else prefixed by the parameter (`params_W1`, `layers_0`)."""
    paths = {p: leaf_paths(layout) for p, layout in layouts.items()}
    bare = {}
    for p, ps in paths.items():
        for path in ps:
            parts = [_part(v) for _, v in path]
            plain = "_".join(parts) if path and all(parts) and path[0][0] != "index" else ""
            bare[p, path] = plain if plain.isidentifier() and not keyword.iskeyword(plain) else ""
    counts = {}
    for name in bare.values():
        counts[name] = counts.get(name, 0) + 1
    closure = set(func.__code__.co_freevars)
    names = {}
    for p, ps in paths.items():
        names[p] = []
        for path in ps:
            name = bare[p, path]
            if not name or counts[name] > 1 or name in namer.taken or name in func.__globals__ \
                    or name in closure or name in layouts:
                name = "_".join([p] + [str(v) for _, v in path]) if path else p
            names[p].append(namer.fresh(name))
    return names


def _read(base, step):
    kind, v = step
    if kind == "field":
        return gast.Attribute(value=base, attr=v, ctx=gast.Load())
    return gast.Subscript(value=base, slice=make_const(v), ctx=gast.Load())


def _load(name):
    return gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None)


def read_leaves(norm, layouts):
    """Before the body is read: for each container parameter (`layouts`: {name: layout}),
    its leaves become inputs of the normalized function (after its parameters), and the
    parameter's name stands for a container known when reading whose elements are those
    leaves.  Returns ({parameter: [its leaves' names]}, in the order `flatten` gives the
    leaves; the Assigns of those containers)."""
    names = leaf_names(norm.namer, norm.root.func, layouts)
    line = norm.root.node.lineno
    literals = []
    for p in list(norm.params):
        if p not in layouts:
            continue
        norm.params.extend(names[p])
        leaves = iter(names[p])

        def known(layout, label, read):
            """The name of a container known when reading, of `layout`, holding the leaves
            (`read`: the expression reading it from the argument)."""
            if layout == "leaf":
                return _load(next(leaves))
            elements = [(step, known(sub, f"{label}_{step[1]}", _read(read, step)))
                        for step, sub in _steps(layout)]
            if layout[0] == "dict" or (layout[0] == "record" and not records.is_namedtuple(layout[1])):
                value = gast.Dict(keys=[make_const(s[1]) for s, _ in elements],
                                  values=[e for _, e in elements])
            elif layout[0] == "list":
                value = gast.List(elts=[e for _, e in elements], ctx=gast.Load())
            else:
                value = gast.Tuple(elts=[e for _, e in elements], ctx=gast.Load())
            ssa = norm.namer.fresh(f"{label}_items")     # (`ws_items[i]`, when one is read so)
            containers.remember_container(norm, ssa, value)
            if layout[0] == "record":
                norm.fields[ssa] = {f: (k if records.is_namedtuple(layout[1]) else f)
                                    for k, ((_, f), _) in enumerate(elements)}
            norm.user_of[ssa] = p
            norm.arguments[ssa] = read
            norm.body.append(Assign([ssa], value, line))
            literals.append(norm.body[-1])
            return _load(ssa)
        norm.scope.current[p] = known(layouts[p], p, _load(p)).id
    return names, literals


def argument_read(norm, atom):
    """For code kept whole (a condition, a check, a print), what it reads for `atom` if
    that is a container read from a parameter: the argument itself (`p`, `p['layers'][0]`),
    as the user's code would, else None.  A copy (`layer = p['layers'][0]`) shares the
    table of elements of the container it copies (containers.remember_container)."""
    if not isinstance(atom, gast.Name) or not norm.arguments:
        return None
    read = norm.arguments.get(atom.id)
    if read is None and atom.id in norm.containers:
        elements = norm.containers[atom.id]
        read = next((r for ssa, r in norm.arguments.items()
                     if norm.containers.get(ssa) is elements), None)
    return None if read is None else copy_tree(read)


def missing_element(norm, value, key, node):
    """The error for `params["W3"]`, a constant key that the container passed as a
    differentiated argument does not have (an index past its end), else None."""
    read = argument_read(norm, value)
    wanted = containers.known(norm, key)
    if read is None or wanted is containers.UNKNOWN or not isinstance(value, gast.Name):
        return None
    elements = norm.containers.get(value.id)
    if not elements or value.id in norm.fields:       # (a record's fields: attributes)
        return None
    shown = ast.unparse(gast.gast_to_ast(read))
    if value.id in norm.dicts:
        what = (f"`{shown}` has no key {wanted!r}: the dict passed has the keys "
                f"{', '.join(map(repr, elements))}")
    elif isinstance(wanted, int):
        what = f"`{shown}[{wanted}]` is out of range: the list or tuple passed has {len(elements)} elements"
    else:
        what = f"`{shown}` is a list or tuple of {len(elements)} elements: it has no key {wanted!r}"
    return norm.scope.parsed.error(
        SrcgradError, what, node=node, construct="parameter container",
        hint="srcgrad reads the keys of the container passed as a differentiated argument when "
             "it generates the code, on every path (also one that the call would not take)")


def read_lines(leaves, layouts, line):
    """The generated function's first Lines: each leaf read from its argument
    (`W1 = params['W1']`, `W = p.W`), at the `def`'s line."""
    lines = []
    for p, names in leaves.items():
        for name, path in zip(names, leaf_paths(layouts[p])):
            value = _load(p)
            for step in path:
                value = _read(value, step)
            target = gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)
            lines.append(Line(gast.Assign(targets=[target], value=value, type_comment=None),
                              line, "forward"))
    return lines


def place_literals(body, literals):
    """Give each container read from a parameter the line of the first statement that reads
    it (an error about how it is used, and its adjoint's heading, then name that line)."""
    names = {a.targets[0]: a for a in literals}
    if not names:
        return
    for stmt in _statements(body):
        if any(stmt is a for a in literals):
            continue
        value = getattr(stmt, "value", None) or getattr(stmt, "iterable", None) or \
            getattr(stmt, "node", None)
        if value is None or isinstance(value, str):
            continue
        for n in gast.walk(value):
            if isinstance(n, gast.Name) and n.id in names:
                literal = names.pop(n.id)
                literal.line = stmt.line
                for e in gast.walk(literal.value):      # its inner containers: read first there
                    if isinstance(e, gast.Name) and e.id in names:
                        names.pop(e.id).line = stmt.line
        if not names:
            return


def _statements(body):
    for stmt in body:
        yield stmt
        for block in ("body", "orelse"):
            inner = getattr(stmt, block, None)
            if isinstance(inner, list):
                yield from _statements(inner)


def assemble(outputs, wrt, leaves, layouts, ns):
    """The gradient's outputs (one per leaf of `leaves`, the names of each parameter's
    leaves, or per plain parameter) as one expression per parameter of `wrt`, each
    container built in its argument's type."""
    outputs = list(outputs)
    result = []
    for w in wrt:
        if w not in layouts:
            result.append(outputs.pop(0))
            continue
        mine, outputs = outputs[:len(leaves[w])], outputs[len(leaves[w]):]
        mine = iter(mine)

        def build(layout):
            if layout == "leaf":
                return next(mine)
            parts = [(step, build(sub)) for step, sub in _steps(layout)]
            if layout[0] == "record":
                cls = ns.reference(layout[1], layout[1].__name__)
                return gast.Call(func=cls, args=[], keywords=[
                    gast.keyword(arg=s[1], value=e) for s, e in parts])
            if layout[0] == "dict":
                return gast.Dict(keys=[make_const(s[1]) for s, _ in parts],
                                 values=[e for _, e in parts])
            if layout[0] == "list":
                return gast.List(elts=[e for _, e in parts], ctx=gast.Load())
            return gast.Tuple(elts=[e for _, e in parts], ctx=gast.Load())
        result.append(build(layouts[w]))
    return result


def leaf_wrt(wrt, leaves):
    """`wrt` with each container parameter replaced by its leaves' names."""
    return tuple(n for w in wrt for n in leaves.get(w, [w]))
