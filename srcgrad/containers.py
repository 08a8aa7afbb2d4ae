"""Containers whose layout is known when the code is read: partial evaluation.

`xs = [a, b]`, `d = {"W": w}`, `t = helper(x)` (a tuple): reads with constant keys then
resolve to the element itself (`d["W"]` is `w`), loops over them are unrolled, and
appending to one makes a new, longer known list.  Lists whose length is known only when
the code runs (appended to in a loop) become values handled by runtime helpers instead.

Every function here takes the running `Normalizer` (normalize.py) as its first argument.
"""
import gast
import numpy as np

from . import records
from .errors import SrcgradError
from .fold import make_const
from .ir import Assign
from .scope import list_method

_NOTHING = object()
UNKNOWN = object()          # what `known` gives for a value known only when the code runs


def known(norm, node):
    """The str or int an atom is known to hold when the code is read (a constant, or a name
    bound to one: `l` in a loop over a range that was unrolled), else UNKNOWN."""
    if isinstance(node, gast.Constant) and type(node.value) in (int, str):
        return node.value
    if isinstance(node, gast.Name) and type(norm.constants.get(node.id)) in (int, str):
        return norm.constants[node.id]
    return UNKNOWN


STR_METHODS = {"startswith", "endswith", "format", "lower", "upper", "strip", "replace",
                "isdigit", "zfill"}          # of a str known when reading: evaluated then


def static_value(norm, node):
    """The Python value of expression `node` if it is known when the code is read (built
    from constants, names bound to str/int constants, `len` of known containers, and str
    methods), else UNKNOWN.  Nothing is emitted: it only reads."""
    if isinstance(node, gast.Constant):
        return node.value
    if isinstance(node, gast.Name):
        ssa = norm.scope.current.get(node.id, node.id)
        return norm.constants[ssa] if ssa in norm.constants else UNKNOWN
    if isinstance(node, gast.UnaryOp):
        value = static_value(norm, node.operand)
        if value is UNKNOWN:
            return UNKNOWN
        ops = {gast.Not: lambda v: not v, gast.USub: lambda v: -v, gast.UAdd: lambda v: +v}
        return ops[type(node.op)](value) if type(node.op) in ops and \
            (isinstance(node.op, gast.Not) or type(value) is int) else UNKNOWN
    if isinstance(node, gast.BoolOp):
        values = [static_value(norm, v) for v in node.values]
        if UNKNOWN in values:
            return UNKNOWN
        return all(values) if isinstance(node.op, gast.And) else any(values)
    if isinstance(node, gast.Compare):
        left = static_value(norm, node.left)
        for op, right_node in zip(node.ops, node.comparators):
            right = static_value(norm, right_node)
            compare = _COMPARISONS.get(type(op))
            if left is UNKNOWN or right is UNKNOWN or compare is None or \
                    type(left) not in (int, str) or type(right) not in (int, str):
                return UNKNOWN
            if not compare(left, right):
                return False
            left = right
        return True
    if isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
            node.func.attr in STR_METHODS and not node.keywords:
        receiver = static_value(norm, node.func.value)
        args = [static_value(norm, a) for a in node.args]
        if type(receiver) is str and UNKNOWN not in args and \
                all(type(a) in (int, str) for a in args):
            try:
                result = getattr(receiver, node.func.attr)(*args)
            except (ValueError, IndexError, KeyError, TypeError):
                return UNKNOWN
            return result if type(result) in (int, str, bool) else UNKNOWN
    if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and \
            node.func.id in ("len", "str", "int") and node.func.id not in norm.scope.current \
            and len(node.args) == 1 and not node.keywords:
        arg = node.args[0]
        if node.func.id == "len":
            if isinstance(arg, gast.Name) and norm.scope.current.get(arg.id) in norm.containers:
                return len(norm.containers[norm.scope.current[arg.id]])
            return UNKNOWN
        value = static_value(norm, arg)
        return {"str": str, "int": int}[node.func.id](value) if type(value) in (int, str) \
            and (node.func.id == "str" or type(value) is int) else UNKNOWN
    if isinstance(node, gast.BinOp):
        left, right = static_value(norm, node.left), static_value(norm, node.right)
        if type(left) in (int, str) and type(right) in (int, str):
            op = {gast.Add: lambda a, b: a + b, gast.Sub: lambda a, b: a - b,
                  gast.Mult: lambda a, b: a * b, gast.FloorDiv: lambda a, b: a // b,
                  gast.Mod: lambda a, b: a % b}.get(type(node.op))
            if op is not None and not (type(left) is str and type(right) is str and
                                       not isinstance(node.op, gast.Add)):
                try:
                    result = op(left, right)
                except (TypeError, ZeroDivisionError, ValueError):
                    return UNKNOWN
                return result if type(result) in (int, str) and len(str(result)) <= 200 else UNKNOWN
    return UNKNOWN


_COMPARISONS = {gast.Eq: lambda a, b: a == b, gast.NotEq: lambda a, b: a != b,
                gast.Lt: lambda a, b: a < b, gast.LtE: lambda a, b: a <= b,
                gast.Gt: lambda a, b: a > b, gast.GtE: lambda a, b: a >= b,
                gast.In: lambda a, b: a in b, gast.NotIn: lambda a, b: a not in b}


def remember_container(norm, name, value):
    """Record what SSA name `name`, bound to atom `value`, is known to hold: a container's
    elements, or a str/int constant (a key)."""
    norm.container_depth[name] = len(norm.loops)
    if isinstance(value, gast.Constant) and isinstance(value.value, (str, int)):
        norm.constants[name] = value.value
    if isinstance(value, (gast.Tuple, gast.List)):
        norm.containers[name] = dict(enumerate(value.elts))
        if isinstance(value, gast.List):
            norm.lists.add(name)
    elif isinstance(value, gast.Dict):
        norm.containers[name] = {k.value: v for k, v in zip(value.keys, value.values)}
        norm.dicts.add(name)
    elif isinstance(value, gast.Name) and value.id in norm.containers:
        norm.containers[name] = norm.containers[value.id]
        if value.id in norm.dicts:
            norm.dicts.add(name)
        if value.id in norm.lists:
            norm.lists.add(name)
        if value.id in norm.fields:
            norm.fields[name] = norm.fields[value.id]


def record(norm, cls, call):
    """`P(W, b)` for a namedtuple or dataclass `P`: a container known when reading the code,
    whose fields (`p.W`) are its elements; returns the name it is bound to."""
    fields, shown = records.record_fields(cls), cls.__name__
    if any(isinstance(a, gast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        raise norm.error(f"srcgrad needs the fields of {shown}(...) one by one", call,
                         construct=f"{shown}(...)", hint="pass each field by name or position")
    if len(call.args) > len(fields):
        raise norm.error(f"{shown} has {len(fields)} fields, not {len(call.args)}", call,
                         construct=f"{shown}(...)")
    values = dict(zip(fields, (norm.atom(a) for a in call.args)))
    for k in call.keywords:
        if k.arg not in fields or k.arg in values:
            raise norm.error(f"{shown} got an unexpected or repeated field `{k.arg}`", call,
                             construct=f"{shown}(...)")
        values[k.arg] = norm.atom(k.value)
    defaults = records.defaults(cls)
    for f in fields:
        if f not in values:
            if f not in defaults or isinstance(defaults[f], records.Factory):
                raise norm.error(f"{shown}(...) is missing its field `{f}`", call,
                                 construct=f"{shown}(...)", hint=f"pass `{f}=` explicitly")
            values[f] = make_const(defaults[f])
            if values[f] is None:
                raise norm.error(f"srcgrad cannot use the default of the field `{f}` of "
                                 f"{shown}", call, construct=f"{shown}(...)",
                                 hint=f"pass `{f}=` explicitly")
    name = norm.namer.fresh(shown.lower())
    if records.is_namedtuple(cls):      # a tuple: `p[0]` and `W, b = p` read it too
        value = gast.Tuple(elts=[values[f] for f in fields], ctx=gast.Load())
        norm.fields[name] = {f: k for k, f in enumerate(fields)}
    else:
        value = gast.Dict(keys=[make_const(f) for f in fields], values=[values[f] for f in fields])
        norm.fields[name] = {f: f for f in fields}
    remember_container(norm, name, value)
    norm.body.append(Assign([name], value, norm.line, temporary=True))
    return norm.load_ssa(name)


def field(norm, value, attr):
    """`p.W` of a record known when reading the code: the element itself, else None."""
    if isinstance(value, gast.Name) and attr in norm.fields.get(value.id, {}):
        return norm.containers[value.id][norm.fields[value.id][attr]]
    return None


def static_element(norm, value, index):
    """The element a constant index reads from a container known when reading the code."""
    if not (isinstance(value, gast.Name) and value.id in norm.containers):
        return None
    key = index.value if isinstance(index, gast.Constant) else None
    if isinstance(index, gast.Name):
        key = norm.constants.get(norm.scope.current.get(index.id, index.id))
    if isinstance(index, gast.UnaryOp) and isinstance(index.op, gast.USub) and \
            isinstance(index.operand, gast.Constant) and isinstance(index.operand.value, int):
        key = -index.operand.value
    elements = norm.containers[value.id]
    if isinstance(key, int) and key < 0 and value.id not in norm.dicts and \
            all(isinstance(k, int) for k in elements):
        key += len(elements)
    return elements.get(key) if key is not None else None


def static_slice(norm, value, index):
    """`xs[1:3]` of a list known when reading, with constant bounds: a tuple of its elements."""
    if not (isinstance(value, gast.Name) and value.id in norm.containers and
            isinstance(index, gast.Slice)):
        return None
    bounds = [None if b is None else static_value(norm, b)
              for b in (index.lower, index.upper, index.step)]
    elements = norm.containers[value.id]
    if any(b is not None and type(b) is not int for b in bounds) or value.id in norm.dicts or \
            not all(isinstance(k, int) for k in elements):
        return None
    chosen = [elements[k] for k in range(len(elements))][slice(*bounds)]
    return gast.Tuple(elts=list(chosen), ctx=gast.Load())


def static_append(norm, call):
    """`xs.append(v)` on a list known when reading the code: a new version of it, one
    element longer.  (Not in a loop over a range, where its length would vary.)"""
    if not (isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute) and
            call.func.attr == "append" and isinstance(call.func.value, gast.Name) and
            len(call.args) == 1 and not call.keywords):
        return False
    name = call.func.value.id
    ssa = norm.scope.current.get(name)
    if ssa not in norm.containers or not all(isinstance(k, int) for k in norm.containers[ssa]):
        return False
    if norm.container_depth.get(ssa) != len(norm.loops):
        return False            # in a loop that runs a number of times known when it runs
    elements = norm.containers[ssa]
    value = gast.List(elts=[elements[k] for k in range(len(elements))] + [norm.atom(call.args[0])],
                      ctx=gast.Load())
    new = norm.define(name)
    remember_container(norm, new, value)
    norm.body.append(Assign([new], value, norm.line))
    return True


def dict_literal(norm, node):
    """A dict literal with constant keys, its values atoms (lists and tuples named first)."""
    keys = []
    for k in node.keys:
        key = static_value(norm, k) if k is not None else UNKNOWN
        if type(key) not in (str, int):
            raise norm.error("srcgrad needs constant keys (strings or integers) in a dict "
                             "literal", node, construct="dict literal")
        keys.append(gast.Constant(value=key, kind=None))
    values = []
    for v in node.values:
        if isinstance(v, (gast.List, gast.Tuple)):
            name = norm.namer.fresh("seq")      # (named before its elements are)
            value = norm.atom(v)
            remember_container(norm, name, value)
            norm.body.append(Assign([name], value, norm.line, temporary=True))
            values.append(norm.load_ssa(name))
        else:
            values.append(norm.atom(v))
    return gast.Dict(keys=keys, values=values)


def nested_dict(norm, node):
    """A dict literal inside an expression, bound to a name of its own: that name."""
    name = norm.namer.fresh("dict")
    value = dict_literal(norm, node)
    remember_container(norm, name, value)
    norm.body.append(Assign([name], value, norm.line, temporary=True))
    return norm.load_ssa(name)


def static_sequence(norm, it):
    """The elements of an iterable whose length is known when reading the code (a list or
    tuple literal, or one read from a parameter container), else None."""
    if isinstance(it, (gast.List, gast.Tuple)):
        return [norm.atom(e) for e in it.elts]
    if norm.is_builtin_call(it, "enumerate") and 1 <= len(it.args) <= 2 and not it.keywords:
        start = it.args[1] if len(it.args) == 2 else gast.Constant(value=0, kind=None)
        inner = static_sequence(norm, it.args[0])
        if inner is None or not (isinstance(start, gast.Constant) and isinstance(start.value, int)):
            return None
        return [(make_const(start.value + k), e) for k, e in enumerate(inner)]
    if norm.is_builtin_call(it, "zip") and it.args and not it.keywords:
        inners = [static_sequence(norm, a) for a in it.args]
        if all(inner is None for inner in inners):
            return None
        # `zip(params, data)`: as long as the known ones; the others are read by index
        length = min(len(inner) for inner in inners if inner is not None)
        inners = [inner if inner is not None else
                  [norm.atom(gast.Subscript(value=a, slice=make_const(k), ctx=gast.Load()))
                   for k in range(length)] for inner, a in zip(inners, it.args)]
        return list(zip(*inners))
    if isinstance(it, gast.Call) and isinstance(it.func, gast.Attribute) and not it.args and \
            not it.keywords and it.func.attr in ("values", "keys", "items"):
        return _dict_view(norm, it)
    if isinstance(it, gast.Attribute) and not norm.is_global_chain(it):
        value = norm.atom(it.value)         # `model.layers` of a record known when reading
        if not (isinstance(value, gast.Name) and it.attr in norm.fields.get(value.id, {})):
            return None
    if isinstance(it, (gast.Name, gast.Subscript, gast.Attribute)):
        try:
            value = norm.atom(it) if not isinstance(it, gast.Name) else norm.load(it.id)
        except SrcgradError:
            return None
        if isinstance(value, gast.Name) and value.id in norm.containers:
            elements = norm.containers[value.id]
            if value.id in norm.dicts and value.id not in norm.fields:
                return [make_const(k) for k in elements]      # `for name in params`: keys
            if sorted(elements) == list(range(len(elements))):
                return [elements[k] for k in range(len(elements))]
    return None


def _dict_view(norm, call):
    """`d.values()`, `d.keys()`, `d.items()` of a dict known when reading: its elements."""
    receiver = call.func.value
    if not isinstance(receiver, gast.Name) or receiver.id not in norm.scope.current:
        return None
    value = norm.load(receiver.id)
    elements = norm.containers.get(value.id) if isinstance(value, gast.Name) else None
    if elements is None or value.id in norm.fields:
        return None                         # (a record has no such methods)
    keys = [make_const(k) for k in elements]
    if call.func.attr == "keys":
        return keys
    if call.func.attr == "values":
        return list(elements.values())
    return list(zip(keys, elements.values()))


def lookup(norm, call):
    """`d.get(key[, default])` of a dict, `getattr(record, name[, default])` of a record,
    known when reading, with a key known then: the element (or the default), else None."""
    if norm.is_builtin_call(call, "getattr") and 2 <= len(call.args) <= 3 and not call.keywords:
        record, name = norm.atom(call.args[0]), known(norm, norm.atom(call.args[1]))
        if isinstance(record, gast.Name) and record.id in norm.fields and type(name) is str:
            found = field(norm, record, name)
            if found is None and len(call.args) == 3:
                return norm.atom(call.args[2])
            return found
        return None
    if not (isinstance(call.func, gast.Attribute) and call.func.attr == "get" and
            isinstance(call.func.value, gast.Name) and call.func.value.id in norm.scope.current
            and 1 <= len(call.args) <= 2 and not call.keywords):
        return None
    value = norm.load(call.func.value.id)
    if not (isinstance(value, gast.Name) and value.id in norm.containers) or value.id in norm.fields:
        return None
    key = known(norm, norm.atom(call.args[0]))
    if key is UNKNOWN:
        return None
    elements = norm.containers[value.id]
    if key in elements:
        return elements[key]
    return norm.atom(call.args[1]) if len(call.args) == 2 else make_const(None)


def _helper_ref(norm, helper):
    return gast.Name(id=norm.helper_name(helper), ctx=gast.Load(), annotation=None,
                     type_comment=None)


def list_operation(norm, targets, call):
    """`xs.append(v)` and `v = xs.pop()` on a list whose length is known only when it runs
    (appended to in a loop): `xs_2 = list_append(xs, v)`, `xs_2, v = list_pop(xs, 1)`."""
    method = list_method(call)
    if method is None or call.func.value.id not in norm.scope.current or (
            method == "pop" and call.func.value.id not in norm.runtime_lists):
        return False
    name = call.func.value.id
    norm.runtime_lists.add(name)
    old = norm.load(name)
    func = _helper_ref(norm, "list_" + method)
    if method == "append":
        value = norm.atom(call.args[0])
        norm.body.append(Assign([norm.define(name)], gast.Call(func=func, args=[old, value],
                                                               keywords=[]), norm.line))
        return True
    if not all(isinstance(t, gast.Name) for t in targets):
        raise norm.error("srcgrad needs names to unpack a value taken from a list", call,
                         construct="pop", hint="write `a, b = xs.pop()`")
    count = make_const(len(targets))
    new = norm.define(name)
    norm.body.append(Assign([new] + [norm.define(t.id) for t in targets],
                            gast.Call(func=func, args=[old, count], keywords=[]), norm.line))
    return True


def list_item(norm, name, index_node):
    """`xs[i]` of a list appended to in a loop: the element as it is now, and the list's
    length then, which the backward pass needs to add the read's adjoint at that element
    (O(1); reading a copy of the whole list, as an array, would cost its length)."""
    xs, index = norm.load(name), norm.atom(index_node)
    length = norm.namer.fresh(f"len_{name}")
    norm.body.append(Assign([length], gast.Call(func=gast.Name(id="len", ctx=gast.Load(), annotation=None,
                                                               type_comment=None),
                                                args=[xs], keywords=[]), norm.line, temporary=True))
    item = norm.namer.fresh(f"{name}_item")
    norm.body.append(Assign([item], gast.Subscript(value=xs, slice=index, ctx=gast.Load()),
                            norm.line, temporary=True))
    norm.list_lengths[item] = length
    return norm.load_ssa(item)


def list_snapshot(norm, name):
    """A list appended to in a loop, read as a whole: a copy of it as it is now, so the
    backward pass sees this version whatever is appended later."""
    version = norm.scope.current[name]
    if version in norm.snapshots:               # read again with nothing appended since
        return norm.load_ssa(norm.snapshots[version])
    snapshot = norm.snapshots[version] = norm.namer.fresh(f"{name}_now")
    norm.body.append(Assign([snapshot], gast.Call(func=_helper_ref(norm, "list_snapshot"),
                                                  args=[norm.load(name)], keywords=[]),
                            norm.line, temporary=True))
    return norm.load_ssa(snapshot)


# --- lists and tuples of computed values passed to NumPy functions -------------------------
def _holds_values(node):
    """Whether a list or tuple literal holds a name (a computed value, or data)."""
    return any(isinstance(n, gast.Name) for n in gast.walk(node))


def _literal_of(norm, node):
    """A list or tuple literal node holds, or the layout of a known list or tuple it names."""
    if isinstance(node, (gast.List, gast.Tuple)):
        return node
    if isinstance(node, gast.Name) and node.id in norm.containers and node.id not in norm.dicts:
        elements = norm.containers[node.id]
        if elements and all(type(k) is int for k in elements) and \
                set(elements) == set(range(len(elements))):
            return gast.List(elts=[elements[k] for k in range(len(elements))], ctx=gast.Load())
    return None


def _elements_as_arrays(norm, literal):
    """The literal with each element that is itself a list of values made an array first."""
    elts = []
    for e in literal.elts:
        inner = _literal_of(norm, e)
        elts.append(_as_array(norm, inner) if inner is not None and _holds_values(inner) else e)
    return gast.List(elts=elts, ctx=gast.Load())


def _as_array(norm, literal):
    """`np.array(literal)` as a value of its own (nested lists of values first): a name."""
    value = gast.Call(func=gast.Attribute(value=norm.numpy_ref(), attr="array", ctx=gast.Load()),
                      args=[_elements_as_arrays(norm, literal)], keywords=[])
    name = norm.namer.fresh("array")
    norm.body.append(Assign([name], value, norm.line, temporary=True))
    return norm.load_ssa(name)


def array_arguments(norm, func, args, keywords):
    """A list or tuple of values passed to a NumPy function with a derivative rule, where it
    takes an array (`np.sum([1, a * a, 2])`, `np.mean(xs)` of a list `xs` known when reading):
    NumPy makes it an array, and so does this, as a value of its own (`np.array([...])`), whose
    gradient the rule of np.array (np.stack) takes apart.  Where a function takes a sequence
    of arrays (np.stack, np.concatenate, np.array itself) its elements that are lists of values
    become arrays.  Returns the arguments, rewritten."""
    from . import rules, templates
    from .resolve import template_entries
    if not norm.is_global_chain(func):
        return args, keywords
    obj = norm.lookup_quietly(func)
    if obj is None or not _hashable(obj):
        return args, keywords
    sequence_of_arrays = obj in (np.array, np.asarray) and len(args) == 1 and not keywords
    if not sequence_of_arrays and obj not in rules.RULES:
        return args, keywords
    if sequence_of_arrays:
        literal = _literal_of(norm, args[0])
        if literal is None or not _holds_values(literal):
            return args, keywords
        return [_elements_as_arrays(norm, literal)], keywords
    rule = rules.RULES[obj]
    if rule.template is None:
        return args, keywords
    params, vararg, _ = templates.parameters(rule.template)
    entries = dict(template_entries(rule.template))
    takes_pieces = templates.template_uses(rule.template, "index") and "index" not in params
    sequence = next((p for p in params + [vararg] if entries.get(p)), None) if takes_pieces else None

    def rewrite(param, arg):
        literal = _literal_of(norm, arg)
        if literal is None or not _holds_values(literal) or not entries.get(param):
            return arg
        if param == sequence and param != vararg:   # np.stack(xs), np.concatenate([[a, b], c])
            return _elements_as_arrays(norm, literal)
        return _as_array(norm, literal)       # (an operand of np.einsum("i,i", [a, b], x), too)
    new_args = [rewrite(params[k] if k < len(params) else vararg, a) for k, a in enumerate(args)]
    new_keywords = [gast.keyword(arg=k.arg, value=rewrite(k.arg, k.value)) for k in keywords]
    return new_args, new_keywords


def _hashable(obj):
    try:
        hash(obj)
        return True
    except TypeError:
        return False
