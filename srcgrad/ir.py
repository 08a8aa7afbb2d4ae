"""The intermediate representation: what the passes hand each other.

Two levels, each a handful of dataclasses:

- the **normalized program** (made by normalize.py): one operation per `Assign`, on names
  and constants, every name assigned once on each path (SSA); `Branch` and `Loop` hold
  blocks of these; `IterationEnd` marks where a loop iteration ends, `Return` the result.
- the **generated program** (made by reverse.py and forward.py): `Line`s, each a Python
  statement with the user's source line it comes from, in the forward or the adjoint
  section; a `Line` with a body is an `if`, `for` or `while`.  `Gradient` is the whole
  generated function before it is printed.

Everything a later pass needs is a declared field: no pass adds attributes to these
objects or to the syntax trees inside them.
"""
import copy
import re
from dataclasses import dataclass, field

import gast


# --- the normalized program ---------------------------------------------------------------
@dataclass
class Assign:
    targets: list            # SSA names; more than one for tuple unpacking
    value: gast.expr         # one operation whose operands are names or constants
    line: int
    temporary: bool = False  # a name srcgrad made up (may be inlined back when printing)
    opaque: bool = False     # a condition, kept whole: evaluated, never differentiated
    carry: str = ""          # "in": a loop's entry copy, "out": the copy ending an iteration


@dataclass
class Branch:
    """`if test: body else: orelse`; names assigned in either branch are merged by copies at
    the end of both (so after the branch each name has one version, whichever path ran)."""
    test: str                # name of the (non-differentiable) condition value
    body: list
    orelse: list
    line: int


@dataclass
class Loop:
    """`for target in range(...)` or `while`.  Names the body rebinds are "carried": they
    get a loop version (copied in before the loop, copied back at the end of each path
    through the body), so after the loop they name the last iteration's values."""
    kind: str                # "for" | "while"
    target: str              # for: the loop variable
    iterable: gast.expr      # for: `range(...)` on names and constants
    body: list
    line: int
    counter: str             # counts the iterations that ran; the backward loop runs as many
    carried: list            # loop versions of the carried names


@dataclass
class IterationEnd:
    """Where an iteration ends: the values its adjoint will need are saved here."""
    loop: Loop
    line: int


@dataclass
class Jump:
    kind: str                # "break" | "continue"
    line: int


@dataclass
class Effect:
    node: gast.stmt          # a statement kept for its side effect (print, assert)
    line: int


@dataclass
class EnterContext:
    """`with context:` (`np.errstate(...)`, `warnings.catch_warnings()`): the statements up to
    the matching ExitContext, in the same block, are its body.  The two mark where the
    block starts and ends and nothing else, so every pass but printing reads through them:
    the body's statements stay in the block like any others."""
    context: gast.expr       # the context manager's expression, reading current versions
    line: int


@dataclass
class ExitContext:
    line: int


def context_blocks(body):
    """The statements of a block, each `with` block as one pair (its EnterContext, the
    statements of its body up to the matching ExitContext)."""
    i = 0
    while i < len(body):
        if not isinstance(body[i], EnterContext):
            yield body[i]
            i += 1
            continue
        depth = 0
        for end in range(i + 1, len(body)):
            if isinstance(body[end], EnterContext):
                depth += 1
            elif isinstance(body[end], ExitContext):
                if depth == 0:
                    break
                depth -= 1
        else:
            raise AssertionError("an EnterContext without its ExitContext")
        yield body[i], body[i + 1:end]
        i = end + 1


class WithHeader(gast.If):
    """The header of a generated `with` block: a Line whose `stmt` is one has the block's
    statements as `body` and no `orelse`.  The passes over Lines treat it as an `if` whose
    test is the context manager (conservative: its body always runs); emit.py prints
    `with <test>:`."""


def context_line(enter, body):
    """The Line of a generated `with` block (EnterContext `enter`) around Lines `body`."""
    header = WithHeader(test=copy.deepcopy(enter.context), body=[], orelse=[])
    return Line(header, enter.line, "forward", body=body, orelse=[])


@dataclass
class Return:
    name: str
    line: int


@dataclass
class NormalFunction:
    parsed: object
    params: list
    body: list
    namer: "Namer"
    result_line: int = 0
    user_names: set = field(default_factory=set)
    injections: dict = field(default_factory=dict)  # name -> object the code refers to by it
    tapes: set = field(default_factory=set)     # names of a generated gradient's tape (jvp of it)
    dicts: frozenset = frozenset()      # names of values that are dicts (read when the code runs)
    # `v = xs[i]` and `xs_2 = list_set(xs, i, v)` of a list built in a loop: v or xs_2 -> len(xs)
    list_lengths: dict = field(default_factory=dict)
    list_starts: frozenset = frozenset()  # list literals (`hs = [h0]`) a loop then appends to
    leaves: dict = field(default_factory=dict)  # container parameter -> its leaves' names


class Namer:
    """Hands out identifiers that collide with nothing the function mentions."""

    def __init__(self, taken):
        self.taken = set(taken)

    def fresh(self, base):
        base = re.sub(r"\W", "_", base).strip("_") or "t"
        if base[0].isdigit():
            base = "t" + base
        name, n = base, 1
        while name in self.taken:
            n += 1
            name = f"{base}_{n}"
        self.taken.add(name)
        return name



def flatten(body):
    """The statements of a normalized body in program order, branches included."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, Branch):
            yield from flatten(stmt.body)
            yield from flatten(stmt.orelse)
        elif isinstance(stmt, Loop):
            yield from flatten(stmt.body)


# --- the generated program ----------------------------------------------------------------
@dataclass
class Op:
    """What one normalized assignment computes, as far as differentiation cares."""
    kind: str                        # rule | copy | unpack | nondiff | problem | custom | ...
    rule: object = None
    bindings: dict = field(default_factory=dict)
    entries: list = field(default_factory=list)   # (param, differentiable?) per template entry
    operands: list = field(default_factory=list)  # atoms a gradient may flow into
    problem: Exception = None
    form: gast.expr = None           # forward mode: `np.sum(x)` for the method call `x.sum()`


@dataclass
class Adjoint:
    name: str
    loose: bool


@dataclass
class Line:
    """A statement of the generated function and the source line it came from.  A branch
    or loop is a Line whose `stmt` is the header and whose `body`/`orelse` hold Lines."""
    stmt: gast.stmt                  # (or a TapePush / TapePop)
    line: int
    section: str                     # forward | adjoint
    temporary: bool = False
    body: list = None
    orelse: list = None
    restores: tuple = None           # a backward loop: (its Loop, the names its iterations bind)
    saves_for: Loop = None           # a forward iteration's end: where that loop's tape is pushed
    bound_before: set = field(default_factory=set)   # a forward loop: names bound before it runs
    note: str = None                 # a comment printed above the statement
    keep: bool = False               # kept even if nothing reads what it binds (it may raise)


@dataclass
class TapePush:
    """`tape.append(values)`: where a forward loop's iteration ends, the values its backward
    iteration will read (placed by tape.py)."""
    tape: str
    names: list

    def statement(self):
        values = [_name(n) for n in self.names]
        pushed = values[0] if len(values) == 1 else gast.Tuple(elts=values, ctx=gast.Load())
        return gast.Expr(value=gast.Call(func=gast.Attribute(value=_name(self.tape), attr="append",
                                                             ctx=gast.Load()),
                                         args=[pushed], keywords=[]))


@dataclass
class TapePop:
    """`names = tape.pop()`: a backward loop's iteration starts by restoring them."""
    tape: str
    names: list

    def statement(self):
        stored = [_name(n, store=True) for n in self.names]
        target = stored[0] if len(stored) == 1 else gast.Tuple(elts=stored, ctx=gast.Store())
        pop = gast.Call(func=gast.Attribute(value=_name(self.tape), attr="pop", ctx=gast.Load()),
                        args=[], keywords=[])
        return gast.Assign(targets=[target], value=pop, type_comment=None)


def _name(name, store=False):
    return gast.Name(id=name, ctx=gast.Store() if store else gast.Load(), annotation=None,
                     type_comment=None)


def as_statement(stmt):
    """The Python statement a Line holds (a tape push or pop written out)."""
    return stmt.statement() if isinstance(stmt, (TapePush, TapePop)) else stmt


@dataclass
class ShapeUses:
    """Where generated code uses a value for its shape alone (`np.size(x)`, the `x` of
    `unbroadcast(g, x)`): the optimizer may answer such a use from another value of the
    same shape class that the code keeps anyway (optimize.resolve_shape_queries).  Keyed
    by node identity; each entry keeps its node, so the id stays that node's."""
    queries: dict = field(default_factory=dict)     # id(call) -> (call, "size" | "shape" | "ndim")
    classes: dict = field(default_factory=dict)     # id(name) -> (name, its value's shape class)
    broadcasts: dict = field(default_factory=dict)  # id(call) -> `np.broadcast(...)` made for a shape

    def query(self, node):
        entry = self.queries.get(id(node))
        return entry[1] if entry is not None and entry[0] is node else None

    def shape_class(self, node):
        entry = self.classes.get(id(node))
        return entry[1] if entry is not None and entry[0] is node else None

    def is_shape_use(self, node):
        return self.shape_class(node) is not None

    def is_broadcast(self, node):
        return self.broadcasts.get(id(node)) is node


@dataclass
class Gradient:
    """The generated function, before it is optimized and printed."""
    parsed: object
    name: str
    lines: list
    outputs: list                    # one expression per requested gradient
    value: object                    # expression for f's value, or None
    namespace: object                # namespace.Namespace: the names of NumPy and the helpers
    wrt: tuple
    namer: Namer
    classes: dict = None             # value name -> shape class
    numpy_typed: set = None          # values certainly NumPy arrays or scalars
    order: list = None               # value names in order of definition
    seed: str = None                 # a vjp function: the parameter of its backward closure
    calls: list = field(default_factory=list)   # (function, wrt) of the vjp functions it calls
    backward_name: str = None        # a vjp function: the name of its backward closure
    shape_uses: ShapeUses = field(default_factory=ShapeUses)
    data: set = field(default_factory=set)  # names of the user's data in adjoints: may be boolean


def walk(node):
    """Every node of a syntax tree, in the order of `ast.walk` (breadth first), as a list:
    three times as fast as ast.walk, which the passes call for every statement."""
    nodes, ast_type = [node], gast.AST
    append = nodes.append
    for current in nodes:           # (the list grows while it is read: a queue)
        fields = current.__dict__
        for name in current._fields:
            child = fields.get(name)
            if child is None:
                continue
            if isinstance(child, ast_type):
                append(child)
            elif type(child) is list:
                for item in child:
                    if isinstance(item, ast_type):
                        append(item)
    return nodes


def loads(node):
    """The names an expression or statement reads."""
    node = as_statement(node)
    return [n for n in walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)]


def targets(stmt):
    """The names an assignment binds."""
    if isinstance(stmt, TapePop):
        return list(stmt.names)
    if isinstance(stmt, gast.Assign):
        return [n.id for n in walk(stmt.targets[0]) if isinstance(n, gast.Name)]
    return []


def all_lines(lines):
    """Every Line, nested ones included, in program order."""
    for line in lines:
        yield line
        if line.body is not None:
            yield from all_lines(line.body)
            yield from all_lines(line.orelse)


def is_loop(line):
    """Whether a compound Line is a `for` or `while` loop (else an `if`)."""
    return isinstance(line.stmt, (gast.For, gast.While))


def header(line):
    """The expression a compound Line evaluates on entry: an if's test, a for's iterable."""
    return line.stmt.iter if isinstance(line.stmt, gast.For) else line.stmt.test


def dump(body, note=None, indent=""):
    """The normalized program as text, one statement a line, for reading it (the docs,
    tests, a debugger); `note(stmt)` may add a comment to an Assign."""
    from .emit import to_source        # (the printer is not needed by the IR itself)
    out = []
    for stmt in body:
        if isinstance(stmt, Assign):
            target = gast.Name(id=", ".join(stmt.targets), ctx=gast.Store(), annotation=None,
                               type_comment=None)
            text = indent + to_source(gast.Assign(targets=[target], value=stmt.value,
                                                  type_comment=None)).strip()
            extra = note(stmt) if note is not None else ""
            flags = [f for f, on in (("temporary", stmt.temporary), ("opaque", stmt.opaque),
                                     (f"carry {stmt.carry}", stmt.carry)) if on]
            comment = "; ".join([f"line {stmt.line}"] + flags + ([extra] if extra else []))
            out.append(f"{text:<40} # {comment}")
        elif isinstance(stmt, Branch):
            out.append(f"{indent}if {stmt.test}:")
            out.append(dump(stmt.body, note, indent + "    ") or indent + "    pass")
            out.append(f"{indent}else:")
            out.append(dump(stmt.orelse, note, indent + "    ") or indent + "    pass")
        elif isinstance(stmt, Loop):
            head = f"for {stmt.target} in {to_source(stmt.iterable).strip()}" \
                if stmt.kind == "for" else "while True"
            out.append(f"{indent}{head}:{'':<20} # counted by {stmt.counter}; carries "
                       f"{', '.join(stmt.carried) or 'nothing'}")
            out.append(dump(stmt.body, note, indent + "    "))
        elif isinstance(stmt, IterationEnd):
            out.append(f"{indent}<end of iteration>")
        elif isinstance(stmt, Jump):
            out.append(f"{indent}{stmt.kind}")
        elif isinstance(stmt, Effect):
            out.append(f"{indent}{to_source(stmt.node).strip()}")
        elif isinstance(stmt, EnterContext):
            out.append(f"{indent}<with {to_source(stmt.context).strip()}>")
        elif isinstance(stmt, ExitContext):
            out.append(f"{indent}<end of with>")
        elif isinstance(stmt, Return):
            out.append(f"{indent}return {stmt.name}")
    return "\n".join(line for line in out if line)
