"""Expressions, normalized to one operation each: `atom` makes any expression a name or a
constant, emitting a statement (named by naming.py) for each operation it computes;
`operation` gives one operation whose operands are atoms.  Conditions are kept whole.

Every function here takes the running `Normalizer` (normalize.py) as its first argument.
"""
import operator

import gast

from . import containers, desugar, inline, parameters, records, rules, templates
from .containers import UNKNOWN, known
from .errors import UnsupportedSyntaxError
from .fold import copy_tree, make_const
from .ir import Assign
from .naming import describe
from .scope import scoped_names
from .validate import UNSUPPORTED_EXPRESSIONS, unsupported


def atom(norm, node):
    """Normalize `node` to a name or constant, emitting statements for what it computes."""
    if isinstance(node, gast.Name):
        if node.id in norm.runtime_lists and node.id in norm.scope.current:
            return containers.list_snapshot(norm, node.id)
        return norm.load(node.id)
    if isinstance(node, gast.Constant):
        return node
    if isinstance(node, gast.UnaryOp) and isinstance(node.operand, gast.Constant) \
            and isinstance(node.op, (gast.USub, gast.UAdd)):
        return node
    if isinstance(node, gast.Attribute) and norm.is_global_chain(node):
        return norm.scope.global_ref(node)
    if isinstance(node, (gast.Tuple, gast.List)):   # shapes, axes, lists of arrays
        return type(node)(elts=[atom(norm, e) for e in node.elts], ctx=gast.Load())
    if isinstance(node, gast.Dict):
        return containers.nested_dict(norm, node)
    value = operation(norm, node)
    if isinstance(value, (gast.Name, gast.Constant)):   # an existing value, or one known now
        return value
    count = several_outputs(norm, value)
    if count is not None:           # `np.linalg.svd(a)[1]`: a name for each output
        base = describe(value, norm.is_global_chain)
        names = [norm.namer.fresh(f"{base}_{k}") for k in range(count)]
        norm.body.append(Assign(names, value, norm.line))    # (not inlined: several targets)
        func, value = value.func, gast.Tuple(elts=[norm.load_ssa(n) for n in names], ctx=gast.Load())
        name = norm.namer.fresh("seq")
        containers.remember_container(norm, name, value)
        output_fields(norm, name, norm.lookup_quietly(func))     # np.linalg.eigh(a).eigenvalues
        norm.body.append(Assign([name], value, norm.line, temporary=True))
        return norm.load_ssa(name)
    if isinstance(value, (gast.Tuple, gast.List, gast.Dict)):
        name = norm.namer.fresh("seq" if not isinstance(value, gast.Dict) else "dict")
        containers.remember_container(norm, name, value)  # an element that is a container
        norm.body.append(Assign([name], value, norm.line, temporary=True))
        return norm.load_ssa(name)
    name = norm.namer.fresh(describe(value, norm.is_global_chain))
    norm.body.append(Assign([name], value, norm.line, temporary=True))
    return norm.load(name)


def several_outputs(norm, value, unpacked=None):
    """The number of outputs of `value`, a call of a rule with several outputs each carrying an
    adjoint (np.linalg.eigh, np.split) that gives a tuple; None for anything else.  Generated
    code gives each output a name of its own, so their number must be known when the code is read
    (or be the number of names it is `unpacked` into: Python checks that when it runs)."""
    if not isinstance(value, gast.Call):
        return None
    try:
        rule = rules.RULES.get(norm.lookup_quietly(value.func))
    except TypeError:                                 # unhashable: no rule
        return None
    if rule is None or rule.output != "all":
        return None
    params, _, defaults = templates.parameters(rule.template)
    bound = {p: make_const(v) for p, v in defaults.items()}
    bound.update(zip(params, value.args))
    bound.update((k.arg, k.value) for k in value.keywords if k.arg is not None)
    count = rules.output_count(rule, bound, lambda node: _known_value(norm, node))
    if count is None and unpacked is not None:
        count = unpacked
    if count is None:
        raise norm.scope.parsed.error(
            UnsupportedSyntaxError, f"srcgrad needs the number of results of {rule.name} when it "
            "reads the code", lineno=norm.line, construct=rule.name,
            hint="pass a constant number of sections or a list of cut points written out")
    if count == 1:
        raise norm.scope.parsed.error(
            UnsupportedSyntaxError, f"srcgrad cannot differentiate {rule.name} into one piece",
            lineno=norm.line, construct=rule.name, hint="use the array itself")
    return count if isinstance(count, int) else None


def output_fields(norm, name, func):
    """The names NumPy's result gives the outputs (`r.eigenvalues` of np.linalg.eigh), as the
    fields of the tuple `name` of them."""
    rule = rules.RULES.get(func)
    if rule is not None and rule.fields:
        norm.fields[name] = {f: k for k, f in enumerate(rule.fields)}


def _known_value(norm, node):
    """The Python value of an argument known when the code is read (a list: of its entries,
    known or not, for its length); LookupError if unknown."""
    if isinstance(node, (gast.Tuple, gast.List)):
        return [containers.static_value(norm, e) for e in node.elts]
    if isinstance(node, gast.Name) and node.id in norm.containers and node.id not in norm.dicts:
        return list(norm.containers[node.id].values())
    value = containers.static_value(norm, node)
    if value is UNKNOWN:
        raise LookupError(node)
    return value


# --- keys: strings and ints known when the code is read ---------------------------------------
_KEY_OPERATORS = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
                  gast.FloorDiv: operator.floordiv, gast.Mod: operator.mod}


def _key_operation(op, left, right):
    """`"W" + "1"`, `len(p) // 2`, `l + 1` on known strs and ints: the constant, else None
    (numbers of the computation itself are left to the generated code)."""
    if left is UNKNOWN or right is UNKNOWN or type(op) not in _KEY_OPERATORS:
        return None
    kinds = {type(left), type(right)}
    if kinds == {str} and not isinstance(op, gast.Add):
        return None
    if str in kinds and len(str(left)) + len(str(right)) > 200:
        return None
    try:
        value = _KEY_OPERATORS[type(op)](left, right)
    except (TypeError, ZeroDivisionError, OverflowError, MemoryError):
        return None
    return make_const(value) if type(value) in (int, str) and (type(value) is int or len(value) <= 200) \
        else None


def formatted(norm, node):
    """An f-string: the string itself where its values are known when the code is read
    (`f"W{l}"` in an unrolled loop), else a name for it, computed when the code runs (a
    string carries no gradient)."""
    parts = []
    for part in node.values:
        if isinstance(part, gast.Constant):
            parts.append(str(part.value))
            continue
        value = known(norm, norm.load(part.value.id)) if isinstance(part.value, gast.Name) \
            else known(norm, part.value)
        spec = part.format_spec
        if spec is not None:
            spec = formatted(norm, spec)
            spec = spec.value if isinstance(spec, gast.Constant) else UNKNOWN
        if value is UNKNOWN or spec is UNKNOWN:
            name = norm.namer.fresh("text")
            norm.body.append(Assign([name], rename_loads(norm, node), norm.line, opaque=True))
            return norm.load_ssa(name)
        if part.conversion in (ord("r"), ord("s"), ord("a")):
            value = {ord("r"): repr, ord("s"): str, ord("a"): ascii}[part.conversion](value)
        parts.append(format(value, spec or ""))
    return make_const("".join(parts))


def operation(norm, node):
    """One operation of `node` applied to atoms."""
    if isinstance(node, gast.BinOp):
        left, right = atom(norm, node.left), atom(norm, node.right)
        key = _key_operation(node.op, known(norm, left), known(norm, right))
        return key if key is not None else gast.BinOp(left=left, op=node.op, right=right)
    if isinstance(node, gast.JoinedStr):
        return formatted(norm, node)
    if isinstance(node, gast.UnaryOp):
        return gast.UnaryOp(op=node.op, operand=atom(norm, node.operand))
    if isinstance(node, gast.Call):
        return call(norm, node)
    if isinstance(node, gast.Attribute):
        value = atom(norm, node.value)
        element = containers.field(norm, value, node.attr)      # p.W of a record: that array
        if element is not None:
            return element
        return gast.Attribute(value=value, attr=node.attr, ctx=gast.Load())
    if isinstance(node, gast.Subscript):
        return subscript(norm, node)
    if isinstance(node, gast.Compare):
        return gast.Compare(left=atom(norm, node.left), ops=node.ops,
                            comparators=[atom(norm, c) for c in node.comparators])
    if isinstance(node, (gast.Tuple, gast.List, gast.Name, gast.Constant)):
        return atom(norm, node)
    if isinstance(node, gast.IfExp):
        return choose(norm, node)
    if isinstance(node, gast.BoolOp):
        return boolean_value(norm, node)
    if isinstance(node, (gast.ListComp, gast.GeneratorExp)):
        return desugar.comprehension(norm, node)
    raise unsupported(norm.scope.parsed, node, UNSUPPORTED_EXPRESSIONS)


def call(norm, node):
    """A call: inlined if it calls the user's code, else a call of atoms."""
    func = node.func
    if isinstance(func, gast.Name) and func.id in norm.scope.local_functions and \
            func.id not in norm.scope.current:
        return inline.inline_local(norm, func.id, node)
    if norm.is_builtin_call(node, "len") and len(node.args) == 1:
        arg = atom(norm, node.args[0])
        if isinstance(arg, gast.Name) and arg.id in norm.containers:
            return make_const(len(norm.containers[arg.id]))
        node = gast.Call(func=func, args=[arg], keywords=[])
    for convert in (str, int):          # `"W" + str(l)`: a key known when reading
        if norm.is_builtin_call(node, convert.__name__) and len(node.args) == 1 and \
                not node.keywords:
            arg = atom(norm, node.args[0])
            if known(norm, arg) is not UNKNOWN:
                return make_const(convert(known(norm, arg)))
            node = gast.Call(func=func, args=[arg], keywords=[])
    for reduce in ("sum", "max", "min"):
        if norm.is_builtin_call(node, reduce) and not node.keywords and \
                0 < len(node.args) <= (2 if reduce == "sum" else 1):
            return desugar.builtin_reduction(norm, reduce, node.args)
    if isinstance(func, gast.Attribute) and func.attr in containers.STR_METHODS:
        value = containers.static_value(norm, node)    # "layer{}".format(l), k.upper()
        if value is not UNKNOWN:
            return make_const(value)
    element = containers.lookup(norm, node)       # d.get("W1"), getattr(p, "W" + str(l))
    if element is not None:
        return element
    if norm.is_global_chain(func) and records.record_fields(norm.lookup_quietly(func)):
        return containers.record(norm, norm.lookup_quietly(func), node)   # P(W, b)
    if norm.is_global_chain(func):
        target = inline.user_function(norm, func)
        if target is not None and (target in norm.inlining or target is norm.root.func):
            target = None       # recursion: the call stays, with a vjp function of its own
        if target is not None:
            return inline.inline_global(norm, target, node)
        func = norm.scope.global_ref(func)
    elif isinstance(func, gast.Attribute):
        func = gast.Attribute(value=atom(norm, func.value), attr=func.attr, ctx=gast.Load())
    else:
        raise norm.error("srcgrad cannot differentiate a call to a computed function",
                         node, construct="call", hint="call a function by its name")
    if any(isinstance(a, gast.Starred) for a in node.args):
        raise norm.error("srcgrad cannot differentiate a call with `*args`", node,
                         construct="starred argument", hint="pass arguments one by one")
    if any(k.arg is None for k in node.keywords):
        raise norm.error("srcgrad cannot differentiate a call with `**kwargs`", node,
                         construct="`**` argument", hint="pass keyword arguments one by one")
    args = [atom(norm, a) for a in node.args]
    keywords = [gast.keyword(arg=k.arg, value=atom(norm, k.value)) for k in node.keywords]
    args, keywords = containers.array_arguments(norm, node.func, args, keywords)
    return gast.Call(func=func, args=args, keywords=keywords)


def subscript(norm, node):
    if isinstance(node.value, gast.Name) and node.value.id in norm.runtime_lists and \
            node.value.id in norm.scope.current and not isinstance(node.slice, (gast.Slice, gast.Tuple)):
        return containers.list_item(norm, node.value.id, node.slice)    # hs[t - 1]
    value = atom(norm, node.value)
    position = containers.static_value(norm, node.slice) if isinstance(
        node.slice, (gast.Constant, gast.UnaryOp)) else None
    if isinstance(value, (gast.Tuple, gast.List)) and type(position) is int and \
            -len(value.elts) <= position < len(value.elts):
        return value.elts[position]              # helper(x)[0], [a, b][1], [a, b][-1]
    key = node.slice
    if isinstance(value, gast.Name) and value.id in norm.containers and \
            not isinstance(key, (gast.Slice, gast.Tuple, gast.Constant, gast.Name, gast.UnaryOp)):
        key = atom(norm, key)           # `params["W" + str(l)]`: the key, known or computed
    element = containers.static_element(norm, value, key)   # params["W"]: that array
    if element is None:
        element = containers.static_slice(norm, value, key)
    if element is not None:
        return element
    missing = parameters.missing_element(norm, value, key, node)    # params["W3"]
    if missing is not None:
        raise missing
    return gast.Subscript(value=value, slice=key if key is not node.slice else index(norm, key),
                          ctx=gast.Load())


def index(norm, node):
    if isinstance(node, gast.Slice):
        return gast.Slice(*[atom(norm, p) if p is not None else None
                            for p in (node.lower, node.upper, node.step)])
    if isinstance(node, gast.Tuple):
        return gast.Tuple(elts=[index(norm, e) for e in node.elts], ctx=gast.Load())
    return atom(norm, node)


def condition(norm, node):
    """Evaluate a condition into a name. Conditions carry no gradient, so it is kept
    whole (`np.sum(x) > 0 and n < 3`) rather than split into operations."""
    if calls_user_code(norm, node):          # inlined like any expression
        value = atom(norm, node)
        if isinstance(value, gast.Name):
            return value.id
        node = value
    name = norm.namer.fresh("cond")
    test = rename_loads(norm, node)
    if isinstance(node, gast.Name) and node.id in norm.runtime_lists:
        # `while xs:` tests a list that later pops empty: the tape must keep its truth
        # value then, not the list itself
        test = gast.Call(func=gast.Name(id="bool", ctx=gast.Load(), annotation=None,
                                        type_comment=None), args=[test], keywords=[])
    norm.body.append(Assign([name], test, norm.line, opaque=True))
    return name



def calls_user_code(norm, node):
    for sub in gast.walk(node):
        if isinstance(sub, gast.Call) and (
                (isinstance(sub.func, gast.Name) and sub.func.id in norm.scope.local_functions
                 and sub.func.id not in norm.scope.current) or
                (norm.is_global_chain(sub.func) and
                 inline.user_function(norm, sub.func) is not None)):
            return True
    return False


def choose(norm, node):
    """`a if c else b` as a Branch assigning a fresh name on both sides."""
    test = condition(norm, node.test)
    key = norm.namer.fresh("chosen")
    norm.branch(test, lambda: norm.assign_name(key, node.body),
                lambda: norm.assign_name(key, node.orelse), norm.line)
    return norm.load(key)


def boolean_value(norm, node):
    """`a and b` / `a or b` used as a value: the operand that decides, as Python does."""
    left = atom(norm, node.values[0])
    for value in node.values[1:]:
        test = condition(norm, copy_tree(left))
        key = norm.namer.fresh("either" if isinstance(node.op, gast.Or) else "both")
        first, second = (value, left) if isinstance(node.op, gast.And) else (left, value)
        norm.branch(test, lambda v=first: norm.assign_name(key, v),
                    lambda v=second: norm.assign_name(key, v), norm.line)
        left = norm.load(key)
    return left


def rename_loads(norm, node):
    """`node` kept whole (a condition, an `assert`), reading the current versions."""
    for n in gast.walk(node):
        if isinstance(n, gast.NamedExpr):
            raise unsupported(norm.scope.parsed, n, UNSUPPORTED_EXPRESSIONS)
    own = scoped_names(node)      # a comprehension's or lambda's own variables

    class Rename(gast.NodeTransformer):
        def visit_Name(self, n):
            if isinstance(n.ctx, gast.Load) and n.id not in own:
                loaded = norm.load(n.id)
                read = parameters.argument_read(norm, loaded)    # a parameter container: as passed
                return loaded if read is None else read
            return n
    return Rename().visit(node)
