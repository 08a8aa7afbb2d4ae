"""What each normalized statement computes, as far as differentiation cares: its Op.

`x * y` is the rule of np.multiply bound to (x, y); `y = x` a copy; `a, b = theta` an
unpacking; `np.sum(mask)` with no varied operand computes nothing differentiable; a call
srcgrad cannot differentiate becomes a "problem" Op, raised only if a gradient would flow
through it.  Both modes resolve with this one class; forward mode (`forward=True`) also
knows tuples of results ("pack"), custom forward rules and forward-only rules.
"""
import inspect
import keyword
import types

import gast
import numpy as np

from . import custom, inline, rules, runtime, templates
from .errors import NoDerivativeRuleError, UnsupportedSyntaxError
from .fold import const_value, make_const
from .ir import Op, walk

_BINOP_FUNCS = {gast.Add: np.add, gast.Sub: np.subtract, gast.Mult: np.multiply,
                gast.Div: np.divide, gast.Pow: np.power, gast.MatMult: np.matmul,
                gast.Mod: np.mod, gast.FloorDiv: np.floor_divide}
_BITWISE = (gast.BitAnd, gast.BitOr, gast.BitXor, gast.Invert, gast.Not)  # masks: no gradient
_UNARY_FUNCS = {gast.USub: np.negative, gast.UAdd: np.positive}
NONDIFF_BUILTINS = {len, int, bool, round, range, print, isinstance, type}   # (str(x) holds x)
# the methods that draw random numbers (np.random.Generator's and RandomState's)
_GENERATOR_METHODS = {name for cls in (np.random.Generator, np.random.RandomState) for name in dir(cls)
                      if not name.startswith("_") and name not in ("bit_generator", "spawn", "get_state",
                                                                   "set_state", "seed")}


class Resolver:
    """The Op of each Assign.  It reads, never writes, the analysis under way (`facts`):
    which values vary with the inputs and which names are the function's own values."""

    def __init__(self, parsed, ns, facts, forward=False, recursive=False):
        self.parsed, self.ns, self.facts = parsed, ns, facts
        self.forward = forward          # resolve for forward mode (jvp)
        self.recursive = recursive      # calls of user functions become vjp calls

    def is_varied(self, atom):
        return self.facts.is_varied(atom)

    def problem(self, cls, message, line, construct=None, hint=None):
        return Op("problem", problem=self.parsed.error(cls, message, lineno=line,
                                                       construct=construct, hint=hint))

    def rule_op(self, rule, args, keywords, stmt):
        params, vararg, defaults = templates.parameters(rule.template)
        named = params + templates.keyword_only(rule.template)     # what keywords may bind
        bound = {}
        shown = rule.name
        if len(args) > len(params) and vararg is None:
            return self.problem(UnsupportedSyntaxError, f"srcgrad's rule for {shown} takes at most "
                                f"{len(params)} positional arguments", stmt.line, construct=shown)
        for p, obj in rule.fixed.items():   # a SciPy distribution, or its score, by a name of ours
            bound[p] = self.ns.reference(obj, getattr(obj, "__name__", None) or obj.name)
        for p, a in zip(params, args):
            bound[p] = a
        if vararg is not None:
            bound[vararg] = gast.Tuple(elts=list(args[len(params):]), ctx=gast.Load())
        for k in keywords:
            if k.arg not in named or k.arg in bound:
                return self.problem(UnsupportedSyntaxError,
                                    f"srcgrad's rule for {shown} does not support the argument "
                                    f"`{k.arg}=`", stmt.line, construct=f"{shown}({k.arg}=...)",
                                    hint=f"call {shown} with the arguments: {', '.join(named)}")
            bound[k.arg] = k.value
        for p in named:
            if p not in bound:
                if p not in defaults:
                    return self.problem(UnsupportedSyntaxError, f"{shown} is missing argument `{p}`",
                                        stmt.line, construct=shown)
                bound[p] = make_const(defaults[p])
        for p in rule.refused:          # a parameter its rule has no derivative in (t.cdf's df)
            if p in bound and any(self.is_varied(n) for n in gast.walk(bound[p]) if isinstance(n, gast.Name)):
                return self.problem(NoDerivativeRuleError, f"srcgrad has no derivative rule for {shown} "
                                    f"with respect to `{p}`", stmt.line, construct=f"{shown}({p}=...)",
                                    hint=f"pass `{p}` as a constant, or give the function a rule of yours "
                                         f"with srcgrad.register_vjp / srcgrad.custom_vjp")
        for p, value in rule.only.items():
            if const_value(bound[p]) is not value:
                return self.problem(UnsupportedSyntaxError, f"srcgrad's rule for {shown} supports "
                                    f"only `{p}={value!r}`", stmt.line, construct=f"{shown}({p}=...)",
                                    hint=f"leave `{p}` out of the call you differentiate")
        body = templates.lambda_node(rule.template).body
        names = params + ([vararg] if vararg else [])
        elts = body.elts if isinstance(body, gast.Tuple) else [body]
        entries = [(p, not (isinstance(e, gast.Constant) and e.value is None))
                   for p, e in zip(names, elts)]
        pieces = templates.template_uses(rule.template, "index") and "index" not in params
        for p, diff in entries:         # lists of values are arrays made first (containers.py)
            listed = bound[p] if diff and isinstance(bound[p], (gast.Tuple, gast.List)) else None
            if listed is not None and any(self.is_varied(e) and (
                    not pieces or isinstance(e, (gast.Tuple, gast.List))) for e in listed.elts):
                return self.problem(UnsupportedSyntaxError, f"srcgrad cannot differentiate {shown} "
                                    "of a list of values written out here", stmt.line,
                                    construct=f"list in {shown}", hint="make it an array first: "
                                    "`v = np.array([a, b])`, then pass v")
        operands = [bound[p] for p, diff in entries if diff]
        return Op("rule", rule=rule, bindings=bound, entries=entries, operands=operands)

    def resolve(self, stmt):
        """The Op of one Assign."""
        value = stmt.value
        if self.forward and not stmt.opaque and isinstance(value, (gast.Tuple, gast.List)):
            return Op("pack", operands=list(value.elts))      # a tuple of results
        op = self._resolve(stmt)
        if op.kind not in ("dict_build", "dict_set", "dict_get", "list_get", "list_set",
                           "list_build", "copy", "nondiff", "problem") and \
                any(isinstance(n, gast.Name) and n.id in self.facts.dicts and self.is_varied(n)
                    for a in op.operands for n in walk(a)):
            return self.problem(UnsupportedSyntaxError, "srcgrad cannot differentiate this use of "
                                "a list, tuple or dict holding differentiated values in this "
                                "version", stmt.line, construct="dict",
                                hint="read its entries or fields (`d[k]`, `p.W`) and pass those on")
        if self.forward and op.kind == "rule" and isinstance(value, gast.Attribute):   # x.T
            op.form = self.function_form(op.rule, [value.value], [])
        return op

    def _resolve(self, stmt):
        value, line = stmt.value, stmt.line
        if stmt.opaque:
            return Op("nondiff")
        if isinstance(value, gast.Name) and len(stmt.targets) > 1:
            return self.unpack_op(stmt)
        if isinstance(value, gast.Name):
            return Op("copy", operands=[value])
        if isinstance(value, gast.BinOp) and isinstance(value.op, gast.Mult) and \
                isinstance(value.left, gast.Name) and isinstance(value.right, gast.Name) and \
                value.left.id == value.right.id:       # x * x: one contribution, 2 * g * x
            return self.rule_op(rules.RULES[np.power], [value.left, make_const(2)], [], stmt)
        if isinstance(value, gast.BinOp) and type(value.op) in _BINOP_FUNCS:
            func = _BINOP_FUNCS[type(value.op)]
            if func in rules.NONDIFF:
                return Op("nondiff")
            return self.rule_op(rules.RULES[func], [value.left, value.right], [], stmt)
        if isinstance(value, gast.UnaryOp) and type(value.op) in _UNARY_FUNCS:
            return self.rule_op(rules.RULES[_UNARY_FUNCS[type(value.op)]], [value.operand], [], stmt)
        if isinstance(value, gast.Attribute) and isinstance(value.value, gast.Name) \
                and self.facts.is_local(value.value.id):
            if value.attr in rules.ATTRIBUTES:
                return self.rule_op(rules.RULES[rules.ATTRIBUTES[value.attr]], [value.value], [], stmt)
            if value.attr in rules.SHAPE_ATTRIBUTES or not self.is_varied(value.value):
                return Op("nondiff")
            return self.problem(NoDerivativeRuleError, f"srcgrad has no derivative rule for the "
                                f"attribute `.{value.attr}`", line, construct=f".{value.attr}")
        helper = self.ns.injected.get(getattr(value, "func", None) and getattr(value.func, "id", None))
        if helper in (runtime.list_append, runtime.list_pop, runtime.list_snapshot):
            kind = helper.__name__
            operands = [a for a in value.args[:2 if kind == "list_append" else 1] if self.is_varied(a)]
            return Op(kind, operands=operands) if operands else Op("nondiff")
        if helper is runtime.list_set:              # xs_2 = list_set(xs, i, v)
            operands = [a for a in (value.args[0], value.args[2]) if self.is_varied(a)]
            return Op("list_set", operands=operands, bindings={"length": gast.Name(
                id=self.facts.list_lengths[stmt.targets[0]], ctx=gast.Load(), annotation=None,
                type_comment=None)}) if operands else Op("nondiff")
        if helper is runtime.dict_keys:             # keys: no gradient
            return Op("nondiff")
        if helper is runtime.dict_set:              # d_2 = dict_set(d, key, v)
            operands = [a for a in (value.args[0], value.args[2]) if self.is_varied(a)]
            return Op("dict_set", operands=operands) if operands else Op("nondiff")
        if isinstance(value, gast.Dict):            # {key: v, ...} read when the code runs
            operands = [v for v in value.values if self.is_varied(v)]
            return Op("dict_build", operands=operands) if operands else Op("nondiff")
        if isinstance(value, gast.List) and stmt.targets[0] in self.facts.list_starts:
            operands = [e for e in value.elts if self.is_varied(e)]    # hs = [h0], then appended
            return Op("list_build", operands=operands) if operands else Op("nondiff")
        if stmt.targets[0] in self.facts.list_lengths and isinstance(value, gast.Subscript):
            return Op("list_get", operands=[value.value], bindings={   # xs[i], xs built in a loop
                "length": gast.Name(id=self.facts.list_lengths[stmt.targets[0]], ctx=gast.Load(),
                                    annotation=None, type_comment=None)}) \
                if self.is_varied(value.value) else Op("nondiff")
        if isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name) and \
                value.value.id in self.facts.dicts:  # d[key]
            return Op("dict_get", operands=[value.value]) if self.is_varied(value.value) \
                else Op("nondiff")
        if isinstance(value, gast.Call) and getattr(value.func, "id", None) in self.ns.injected and \
                self.ns.injected[value.func.id] is rules.with_set:
            if not self.is_varied(value.args[0]) and not self.is_varied(value.args[2]):
                return Op("nondiff")
            return self.rule_op(rules.RULES[rules.with_set], value.args, [], stmt)
        if isinstance(value, gast.Call):
            return self.resolve_call(value, stmt)
        varied = [n for n in walk(value) if isinstance(n, gast.Name) and self.is_varied(n)]
        if not varied:
            return Op("nondiff")
        if isinstance(value, gast.Subscript):
            if not self.is_varied(value.value):         # the index carries the gradient
                return self.varied_index(value, stmt)
            picked = self.pick_op(value, line)
            if picked is not None:
                return picked
            if isinstance(value.value, (gast.List, gast.Tuple)):
                return self.problem(UnsupportedSyntaxError, "srcgrad cannot differentiate indexing "
                                    "a list or tuple by a value known only when it runs", line,
                                    construct="container", hint="index it with a constant")
            return self.rule_op(rules.RULES[rules.getitem],
                                [value.value, index_value(value.slice)], [], stmt)
        if isinstance(value, (gast.Tuple, gast.List, gast.Dict)):
            return self.problem(UnsupportedSyntaxError, "srcgrad cannot differentiate this use of "
                                "a list, tuple or dict holding differentiated values in this "
                                "version", line, construct="container",
                                hint="read its elements with constant keys (`params['W']`, "
                                     "`xs[0]`) or by one index (`xs[i]`), pass it to a NumPy "
                                     "function as an array, or keep arrays in separate variables")
        if isinstance(value, gast.Compare) or isinstance(getattr(value, "op", None), _BITWISE):
            return Op("nondiff")    # comparisons and masks: no gradient
        return self.problem(UnsupportedSyntaxError, "srcgrad cannot differentiate this operation",
                            line, construct=type(getattr(value, "op", value)).__name__)

    def pick_op(self, value, line):
        """`x[i]` of a tuple or list of values (`x = a, b, c`, or written out), `i` known only
        when the code runs: the element chosen, whose adjoint is the result's (the others'
        none).  Forward mode indexes a named tuple's tuple of tangents (a getitem rule)."""
        base, index = value.value, value.slice
        if isinstance(index, (gast.Slice, gast.Tuple)):
            return None
        if isinstance(base, (gast.List, gast.Tuple)):
            elements = base.elts
        elif isinstance(base, gast.Name) and not self.forward:
            elements = self.facts.packs.get(base.id)
        else:
            elements = None
        if elements is None:
            return None
        if any(self.is_varied(e) and (isinstance(e, (gast.List, gast.Tuple)) or (
                isinstance(e, gast.Name) and e.id in self.facts.packs)) for e in elements):
            return self.problem(UnsupportedSyntaxError, "srcgrad cannot differentiate indexing a "
                                "list or tuple of lists by a value known only when it runs",
                                line, construct="nested list indexed at run time",
                                hint="make it an array and index that: `np.array(x)[i, j]`")
        if not all(isinstance(e, (gast.Name, gast.Constant)) for e in elements):
            return None
        return Op("pick", bindings={"elements": list(elements), "index": index},
                  operands=[e for e in elements if self.is_varied(e)])

    def unpack_op(self, stmt):
        """`a, b = theta`: the rows of one array (a tuple of values is unpacked when the
        code is read)."""
        source = self.facts.defined_by.get(stmt.value.id)
        if source is not None and self.is_varied(stmt.value):
            tuple_valued = source.kind in ("vjp_call", "custom") or (
                source.kind == "rule" and source.rule.output is not None)
            what = "a list built in a loop" if source.kind == "list_snapshot" else \
                "a tuple of results" if tuple_valued else None
            if what is not None:
                return self.problem(UnsupportedSyntaxError, f"srcgrad cannot differentiate "
                                    f"unpacking {what} held in a variable", stmt.line,
                                    construct="tuple unpacking",
                                    hint="unpack it where it is made, or index it: `a = v[0]`")
        return Op("unpack", operands=[stmt.value])

    def varied_index(self, value, stmt):
        """`np.r_[x, y]`, `np.c_[x, y]` (joining arrays: rules of their own); any other object
        indexed by a value with a gradient (`table[x]`) is refused, never read as zero."""
        base, line = value.value, stmt.line
        try:
            obj = None if isinstance(base, gast.Name) and self.facts.is_local(base.id) else self.ns.lookup(base)
        except Exception:
            obj = None
        name = source_text(base) if isinstance(base, (gast.Name, gast.Attribute)) else "a value"
        if obj is np.r_ or obj is np.c_:
            items = value.slice.elts if isinstance(value.slice, gast.Tuple) else [value.slice]
            if any(isinstance(e, gast.Slice) or isinstance(const_value(e), str) for e in items):
                return self.problem(NoDerivativeRuleError, f"srcgrad differentiates {name}[...] of "
                                    "arrays and numbers only, not of slices or string directives",
                                    line, construct=f"{name}[...]", hint="build the array with "
                                    "np.concatenate, np.stack or np.column_stack (np.arange, "
                                    "np.linspace for ranges)")
            return self.rule_op(rules.RULES[obj], items, [], stmt)
        return self.problem(NoDerivativeRuleError, f"srcgrad has no derivative rule for indexing "
                            f"`{name}` with a value that carries a gradient", line,
                            construct=f"{name}[...]", hint=f"compute {name}[...] outside the "
                            "differentiated function, or write it with NumPy functions srcgrad knows")

    def resolve_call(self, call, stmt):
        """The Op of a call (forward mode first looks for forward rules)."""
        func = call.func
        if not self.forward:
            return self._resolve_call(call, stmt)
        if not (isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name)
                and self.facts.is_local(func.value.id)):          # not a method of a local value
            try:
                obj = self.ns.lookup(func)
            except (AttributeError, KeyError, IndexError, ValueError):
                obj = None
            if obj is not None:
                operands = list(call.args) + [k.value for k in call.keywords]
                rule = custom.jvp_rule(obj)
                if rule is not None:
                    return Op("custom", rule=rule, operands=operands)
                if isinstance(obj, custom.custom_vjp) or custom.vjp_rule(obj) is not None:
                    return self.no_forward_rule(obj, func, operands, stmt)
                if hashable(obj) and obj in rules.FORWARD_ONLY:
                    return self.forward_only_op(rules.FORWARD_ONLY[obj], call, stmt)
        op = self._resolve_call(call, stmt)
        if op.kind == "rule" and op.rule.name.startswith("np.") and isinstance(func, gast.Attribute) \
                and isinstance(func.value, gast.Name) and self.facts.is_local(func.value.id):   # x.sum()
            rest = list(call.args)
            if func.attr in ("reshape", "transpose") and len(rest) > 1:
                rest = [gast.Tuple(elts=rest, ctx=gast.Load())]
            op.form = self.function_form(op.rule, [func.value] + rest, call.keywords)
        return op

    def _resolve_call(self, call, stmt):
        func, args = call.func, list(call.args)
        any_varied = any(self.is_varied(a) for a in args + [k.value for k in call.keywords])
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) \
                and self.facts.is_local(func.value.id):             # a method of a local value
            if not self.is_varied(func.value) and not any_varied:
                return Op("nondiff")
            target = rules.METHODS.get(func.attr)
            if target is None and func.attr in FROZEN_METHODS:       # stats.norm(mu, s).logpdf(x)
                return self.problem(NoDerivativeRuleError, f"srcgrad has no derivative rule for the "
                                    f"method `.{func.attr}()`", stmt.line, construct=f".{func.attr}()",
                                    hint=f"a frozen scipy.stats distribution has none: call the "
                                         f"distribution's own method with the parameters, "
                                         f"stats.norm.{func.attr}(x, loc, scale) for "
                                         f"stats.norm(loc, scale).{func.attr}(x); otherwise compute "
                                         f"this value outside the differentiated function")
            if target is None and func.attr in _GENERATOR_METHODS and not self.is_varied(func.value):
                # `rng.normal(mu, 1.0)` with `rng` an argument: a random draw, as for a global rng
                return self.problem(NoDerivativeRuleError, f"srcgrad has no derivative rule for the "
                                    f"random function `{source_text(func)}` of a value that carries a "
                                    f"gradient", stmt.line, construct=source_text(func),
                                    hint="draw the noise from constants and transform it: "
                                         "mu + sigma * rng.standard_normal(shape)")
            if target is None or (target not in rules.RULES and target not in rules.NONDIFF):
                return self.problem(NoDerivativeRuleError, f"srcgrad has no derivative rule for the "
                                    f"method `.{func.attr}()`", stmt.line, construct=f".{func.attr}()",
                                    hint="call the NumPy function instead, or compute this value "
                                         "outside the differentiated function")
            rest = args
            if func.attr in ("reshape", "transpose") and len(rest) > 1:
                rest = [gast.Tuple(elts=rest, ctx=gast.Load())]
            args = [func.value] + rest
            if target in rules.NONDIFF:
                return Op("nondiff")
            return self.rule_op(rules.RULES[target], args, call.keywords, stmt)
        try:
            obj = self.ns.lookup(func)
        except (AttributeError, KeyError, IndexError, ValueError):
            return self.problem(UnsupportedSyntaxError, f"name `{source_text(func)}` is not defined",
                                stmt.line, construct=source_text(func))
        obj = rules.BUILTINS.get(obj, obj) if hashable(obj) else obj
        if isinstance(obj, custom.custom_vjp) or custom.vjp_rule(obj) is not None:
            return self.custom_op(obj, func, call, stmt, any_varied)
        if obj in (np.array, np.asarray) and args and isinstance(args[0], (gast.Tuple, gast.List)) \
                and not call.keywords and len(args) == 1:
            obj = np.stack                  # np.array([a, b]): the elements stacked
        if hashable(obj) and obj in rules.RULES:
            if not any_varied:
                return Op("nondiff")
            return self.rule_op(rules.RULES[obj], args, call.keywords, stmt)
        if not any_varied or (hashable(obj) and (obj in rules.NONDIFF or obj in NONDIFF_BUILTINS)):
            return Op("nondiff")
        if is_random(obj):             # rng.normal(mu, sigma) moves with mu and sigma
            return self.problem(NoDerivativeRuleError, f"srcgrad has no derivative rule for the random "
                                f"function `{source_text(func)}` of a value that carries a gradient",
                                stmt.line, construct=source_text(func), hint="draw the noise from "
                                "constants and transform it: mu + sigma * rng.standard_normal(shape)")
        if (inline.library_function(obj) or library_object(obj)) and (getattr(obj, "__module__", None) or "").split(".")[0] != "srcgrad":
            return self.library_problem(func, stmt)     # (before recursion: it is not the user's)
        if isinstance(obj, types.FunctionType) and self.recursive and \
                (obj.__module__ or "").split(".")[0] != "srcgrad":
            return self.recursive_op(obj, func, call, stmt)
        if isinstance(obj, types.FunctionType) and (obj.__module__ or "").split(".")[0] == "srcgrad":
            return self.problem(NoDerivativeRuleError, f"srcgrad has no derivative rule for its helper "
                                f"`{source_text(func)}` in this version", stmt.line, construct=source_text(func),
                                hint="a derivative of a gradient that uses lists built in loops or "
                                     "dicts filled when it runs is not supported yet; compute that "
                                     "derivative by other means")
        if isinstance(obj, types.FunctionType):
            return self.problem(UnsupportedSyntaxError, f"srcgrad cannot differentiate through a call "
                                f"to your function `{source_text(func)}` in this version", stmt.line,
                                construct="user function call",
                                hint=f"inline the body of {source_text(func)} into the differentiated function")
        return self.problem(NoDerivativeRuleError, f"srcgrad has no derivative rule for "
                            f"`{source_text(func)}`", stmt.line, construct=source_text(func),
                            hint=f"rewrite with functions srcgrad knows (see the rule table in the docs), "
                                 f"or compute {source_text(func)}(...) outside the differentiated function "
                                 f"and pass it in as an argument")

    def library_problem(self, func, stmt):
        """A function of NumPy, SciPy or another installed library, written in Python, with no
        rule: srcgrad does not read library code, so it needs a rule of the user's."""
        name = source_text(func)
        return self.problem(NoDerivativeRuleError, f"srcgrad has no derivative rule for `{name}`, "
                            "a function of an installed library (srcgrad does not differentiate "
                            "library code)", stmt.line, construct=name,
                            hint=f"give it a rule: srcgrad.register_vjp({name}, rule) with "
                                 f"def rule(g, ans, *args): ... (and srcgrad.register_jvp for jvp), "
                                 f"or compute {name}(...) outside the differentiated function and "
                                 f"pass it in as an argument")

    def custom_op(self, obj, func, call, stmt, any_varied):
        """A call of a function with a user-given reverse rule `rule(g, ans, *args)`."""
        if not any_varied:
            return Op("nondiff")
        name = source_text(func)
        rule = custom.vjp_rule(obj)
        if rule is None:
            return self.problem(NoDerivativeRuleError, f"`{name}` is a custom_vjp function without "
                                "a reverse rule", stmt.line, construct=name,
                                hint=f"define it: @{name}.defvjp, then def rule(g, ans, *args): ...")
        if any(self.is_varied(k.value) for k in call.keywords):
            return self.problem(UnsupportedSyntaxError, f"srcgrad passes the arguments of `{name}` "
                                "to its custom rule by position", stmt.line, construct=name,
                                hint=f"call {name} with positional arguments")
        shown = getattr(rule, "__name__", "")
        if not shown.isidentifier() or keyword.iskeyword(shown):      # a lambda
            shown = name.split(".")[-1] + "_vjp"
        return Op("custom", rule=rule, bindings={"args": list(call.args), "shown": shown},
                  operands=[a for a in call.args if self.is_varied(a)])

    def recursive_op(self, obj, func, call, stmt):
        """A call of the user's function that could not be inlined (it is recursive): the
        generated code calls its generated vjp function, which returns the value and a
        closure giving the gradients of the arguments."""
        name = source_text(func)
        try:
            bound = inspect.signature(obj).bind(*call.args, **{k.arg: k.value for k in call.keywords})
        except TypeError as exc:
            return self.problem(UnsupportedSyntaxError, f"bad call of `{name}`: {exc}", stmt.line,
                                construct=name)
        wrt = tuple(p for p, a in bound.arguments.items()
                    if isinstance(a, gast.AST) and self.is_varied(a))
        if not wrt:
            return Op("nondiff")
        held = [p for p in wrt if self.holds_values(bound.arguments[p])]
        if held:        # its vjp function would take the container for one array
            return self.problem(UnsupportedSyntaxError, f"srcgrad differentiates a call of the "
                                f"recursive function `{name}` with respect to arrays and numbers "
                                f"passed to it, not a list, tuple or dict holding them (its "
                                f"argument `{held[0]}` here)", stmt.line, construct="recursive call",
                                hint=f"pass the arrays {name} needs as arguments of their own, or "
                                     "write the recursion as a loop")
        if obj.__globals__ is not self.parsed.func.__globals__ or obj.__code__.co_freevars:
            return self.problem(UnsupportedSyntaxError, f"srcgrad differentiates the recursive "
                                f"function `{name}` only when it is defined at the top level of "
                                f"the module of {self.parsed.name}", stmt.line, construct="recursive call",
                                hint="move the recursive function next to the function you differentiate")
        return Op("vjp_call", rule=(obj, wrt), bindings=dict(bound.arguments),
                  operands=[bound.arguments[p] for p in wrt])

    def holds_values(self, atom):
        """Whether `atom` names a list, tuple or dict written out (or read from a parameter
        container) whose elements carry a gradient."""
        if not isinstance(atom, gast.Name):
            return False
        op = self.facts.defined_by.get(atom.id)
        return atom.id in self.facts.packs or atom.id in self.facts.dicts or (
            op is not None and op.kind == "problem" and op.problem.construct == "container")

    def function_form(self, rule, args, keywords):
        """`np.sum(x, axis=0)` for `x.sum(axis=0)` (`np.transpose(x)` for `x.T`), sharing the
        argument nodes: a tangent may be a Python float, which has no such methods."""
        func = self.ns.reference(np, "np")
        for part in rule.name.split(".")[1:]:
            func = gast.Attribute(value=func, attr=part, ctx=gast.Load())
        return gast.Call(func=func, args=list(args), keywords=list(keywords))

    def no_forward_rule(self, obj, func, operands, stmt):
        if not any(self.is_varied(a) for a in operands):
            return Op("nondiff")
        name = source_text(func)
        hint = (f"give it one: `@{name}.defjvp` on a function `rule(tangents, ans, *args)`"
                if isinstance(obj, custom.custom_vjp) else
                f"register one with srcgrad.register_jvp({name}, rule)")
        return self.problem(NoDerivativeRuleError, f"`{name}` has a custom reverse rule but no "
                            "forward rule, which jvp needs", stmt.line, construct=name, hint=hint)

    def forward_only_op(self, rule, call, stmt):
        """Bind a call of a function with a forward rule only (by its own signature)."""
        signature = call_signature(rule.func)
        try:
            bound = signature.bind(*call.args, **{k.arg: k.value for k in call.keywords})
        except TypeError as exc:
            return self.problem(UnsupportedSyntaxError, f"{rule.name}: {exc}", stmt.line,
                                construct=rule.name)
        bindings = {}
        for name, param in signature.parameters.items():
            if param.kind == param.VAR_POSITIONAL:
                bindings[name] = gast.Tuple(elts=list(bound.arguments.get(name, ())), ctx=gast.Load())
            elif name in bound.arguments:
                bindings[name] = bound.arguments[name]
            elif param.default is not param.empty:
                bindings[name] = make_const(param.default)
        params = differentiable(rule) + list(rule.missing)
        operands = [bindings[p] for p in params if p in bindings]
        return Op("rule", rule=rule, bindings=bindings, operands=operands)


def call_signature(func):
    if func not in _SIGNATURES:
        _SIGNATURES[func] = inspect.signature(func)
    return _SIGNATURES[func]


_SIGNATURES = {}


def template_entries(template):
    """(parameter, has a term?) per parameter of a rule lambda (after its first two)."""
    node = templates.lambda_node(template)
    names = [a.id for a in node.args.args][2:] + ([node.args.vararg.id] if node.args.vararg else [])
    elts = node.body.elts if isinstance(node.body, gast.Tuple) else [node.body]
    return [(p, not (isinstance(e, gast.Constant) and e.value is None)) for p, e in zip(names, elts)]


def differentiable(rule):
    """The parameters of a rule through which a tangent flows."""
    if rule.params:
        return list(rule.params)
    if callable(rule.jvp):
        return [p for p, has in template_entries(rule.jvp) if has]
    if rule.template is not None:
        return [p for p, has in template_entries(rule.template) if has]
    return [next(iter(call_signature(rule.func).parameters))]     # forward-only, linear


def index_value(node):
    """An index as a value (`1:3` inside brackets is `slice(1, 3, None)` outside them)."""
    if isinstance(node, gast.Slice):
        parts = [p if p is not None else make_const(None) for p in (node.lower, node.upper, node.step)]
        if node.step is None:
            parts = parts[:2] if node.lower is not None else [parts[1]]
        return gast.Call(func=gast.Name(id="slice", ctx=gast.Load(), annotation=None, type_comment=None),
                         args=parts, keywords=[])
    if isinstance(node, gast.Tuple):
        return gast.Tuple(elts=[index_value(e) for e in node.elts], ctx=gast.Load())
    return node


FROZEN_METHODS = {"logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "logpmf", "pmf", "ppf", "isf"}


def library_object(obj):
    """A callable of NumPy or SciPy that is not a plain Python function (np.polyfit, behind
    NumPy's dispatcher)."""
    return callable(obj) and (getattr(obj, "__module__", None) or "").split(".")[0] in ("numpy", "scipy")


def hashable(obj):
    try:
        hash(obj)
        return True
    except TypeError:
        return False


def is_random(obj):
    owner = getattr(obj, "__self__", None)
    return isinstance(owner, (np.random.RandomState, np.random.Generator)) or \
        getattr(obj, "__module__", "") in ("numpy.random", "numpy.random.mtrand")


def source_text(node):
    """`np.linalg.norm` for the chain of attributes naming a function."""
    if isinstance(node, gast.Attribute):
        return f"{source_text(node.value)}.{node.attr}"
    return getattr(node, "id", "?")
