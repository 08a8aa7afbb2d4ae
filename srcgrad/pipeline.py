"""The transformation, assembled once for each kind of generated function:

    parse -> normalize -> differentiate -> optimize -> place the tape -> print -> compile

`reverse_gradient` makes a gradient (`grad`, `value_and_grad`), `vjp_function` a function
returning the value and a backward closure (`jacobian`, `hessian`), `forward_jvp` a
forward-mode JVP function (`jvp`, `jvp_function`).  The steps up to `optimize` run while
deps.py records what they read, so a caller can tell when the result has gone stale.
"""
from dataclasses import dataclass, field

import gast

from . import deps, parameters, runtime
from .build import build, runtime_error
from .checkpoint import checkpoint_loops
from .emit import emit, emit_jvp, emit_program, emit_vjp
from .errors import SrcgradError
from .forward import differentiate_forward, tidy
from .inplace import accumulate_in_place, hoist_shape_queries
from .ir import TapePop, as_statement
from .normalize import normalize
from .optimize import eliminate_dead, inline_temporaries, optimize, output_copies, propagate_copies
from .recursion import VjpFunctions
from .reverse import differentiate
from .source import parse_function
from .tape import place_tape


@dataclass
class Program:
    """A generated function, printed and compiled."""
    parsed: object                   # the user's function (source.ParsedFunction)
    code: object                     # the generated program: a Gradient, or forward's Tangents
    source: str                      # the printed text (the vjp functions it calls first)
    line_map: dict                   # printed line number -> the user's line
    fn: object                       # the compiled function
    filename: str                    # the name it is compiled under (tracebacks, linecache)
    deps: object                     # what the transformation read (deps.Dependencies)
    copies: list = field(default_factory=list)  # reverse, per gradient: may alias an argument
    reusable: bool = True            # a vjp function: its backward closure may run again

    def runtime_error(self, exc, what):
        """A GradientRuntimeError for `exc` naming the user's line, or None if `exc` did not
        pass through this function; `what` it computes ("gradient", "JVP")."""
        return runtime_error(self.parsed, self.filename, self.source, self.line_map, exc, what)


def reverse_gradient(func, wrt, with_value, full=False, layouts=None, sum_result=False, checkpoint=False):
    """The gradient of `func` with respect to parameter names `wrt` (with its value first
    if `with_value`); `full`: every gradient has its argument's shape (a gradient that is
    itself differentiated).  `layouts`: {parameter of `wrt`: the layout of its container}
    (parameters.py): its gradient is a container of that layout, `copies` one flag per
    leaf.  `sum_result`: the gradient of `np.sum` of the result (api.py, a result of size 1).
    `checkpoint`: loops keep checkpoints rather than a full tape (checkpoint.py)."""
    with deps.recording() as recorded:
        normal = normalize(parse_function(func), layouts=layouts, sum_result=sum_result)
        calls = VjpFunctions(normal.namer)
        gradient = differentiate(normal, parameters.leaf_wrt(wrt, normal.leaves), with_value,
                                 calls=calls, full=full)
        gradient.lines[:0] = parameters.read_lines(normal.leaves, layouts, normal.parsed.node.lineno)
        optimize(gradient)
        if not full:        # (a gradient that is differentiated again keeps its sums pure)
            accumulate_in_place(gradient.lines, gradient.namespace)
        place_tape(gradient)
        if checkpoint:
            checkpoint_loops(gradient)
        # (after the tape: what a backward iteration pops is bound in it)
        hoist_shape_queries(gradient.lines, gradient.namespace, gradient.namer, set(normal.params))
        copies = output_copies(gradient)
        if normal.leaves:
            gradient.outputs = parameters.assemble(gradient.outputs, wrt, normal.leaves,
                                                   layouts, gradient.namespace)
            gradient.wrt = tuple(wrt)
        vjps = vjp_gradients(gradient, calls)
    return _compiled(gradient, emit(gradient), vjps, recorded, copies=copies)


def vjp_function(func, wrt):
    """`vjp_f(*args) -> (f(*args), backward)`, `backward(g)` the vector-Jacobian product of
    `func` with respect to parameter names `wrt`."""
    with deps.recording() as recorded:
        normal = normalize(parse_function(func))
        calls = VjpFunctions(normal.namer)
        vjp = _vjp_gradient(normal, wrt, calls)
        others = vjp_gradients(vjp, calls, done=[(func, tuple(wrt))])
    program = _compiled(vjp, emit_vjp(vjp), others, recorded)
    # a backward pass that pops a list (a loop's tape, a list built at run time) uses it up
    program.reusable = not any(_pops(g.lines, g.namespace.injected) for g in [vjp] + others)
    return program


def forward_jvp(func, wrt):
    """The JVP function of `func` along parameter names `wrt`: `jvp_f(*args, *tangents)
    -> (f(*args), its derivative along the tangents)`."""
    with deps.recording() as recorded:
        code = differentiate_forward(normalize(parse_function(func), mode="forward"), wrt)
        optimize_forward(code)
    return _compiled(code, emit_jvp(code), [], recorded)


def optimize_forward(code):
    """Copy propagation, dead code and single-use temporaries, as for gradients.  Temporaries
    are also inlined first, so `t_x_3 = t_times` takes the expression, not the other name."""
    code.lines = inline_temporaries(code.lines, [code.value, code.tangent])
    ends = propagate_copies(code.lines, [code.value, code.tangent], code.namespace.objects)
    code.value, code.tangent = ends
    lines = eliminate_dead(code.lines, ends)
    code.lines = inline_temporaries(lines, ends)
    tidy(code)


def vjp_gradients(gradient, calls, done=()):
    """The optimized vjp Gradients of the recursive calls `gradient` makes, and of those
    they make in turn (but not those in `done`)."""
    done, pending, result = set(done), list(gradient.calls), []
    while pending:
        key = pending.pop(0)
        if key in done:
            continue
        done.add(key)
        func, wrt = key
        normal = normalize(parse_function(func))
        normal.namer.taken.update(calls.names.values())
        calls.namers.append(normal.namer)
        vjp = _vjp_gradient(normal, wrt, calls)
        result.append(vjp)
        pending.extend(vjp.calls)
    return result


def _vjp_gradient(normal, wrt, calls):
    vjp = differentiate(normal, wrt, calls=calls, vjp=True)
    optimize(vjp)
    place_tape(vjp)
    return vjp


def _compiled(code, printed, vjps, recorded, **fields):
    """Print the vjp functions `code` calls before it, and compile them together."""
    source, line_map = emit_program([emit_vjp(v) for v in vjps] + [printed])
    injected = _injected([code.namespace] + [v.namespace for v in vjps])
    fn, filename = build(source, code.name, code.parsed, injected)
    deps.mark(fn, recorded)
    return Program(code.parsed, code, source, line_map, fn, filename, recorded, **fields)


def _injected(namespaces):
    """The objects the generated functions refer to by name, one object per name."""
    names = {}
    for namespace in namespaces:
        for name, obj in namespace.injected.items():
            if names.setdefault(name, obj) is not obj:
                raise SrcgradError(f"srcgrad gave two things the name `{name}` in the gradient "
                                   "of a recursive function", hint="rename one of your variables "
                                   f"named `{name}`, or report this as a bug")
    return names


def _pops(lines, injected):
    """Whether any of the Lines pops a list: the tape, or the runtime's `list_pop`."""
    for line in lines:
        if isinstance(line.stmt, TapePop):
            return True
        for node in gast.walk(as_statement(line.stmt)):
            if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and \
                    injected.get(node.func.id) is runtime.list_pop:
                return True
        if _pops(line.body or [], injected) or _pops(line.orelse or [], injected):
            return True
    return False
