"""Step 5: print generated code as Python source: the one printer of gradients, vjp
functions (recursion) and JVP functions, with a comment quoting the user's line above each
block it differentiates, and the map from printed lines back to the user's lines."""
import io
import tokenize

import gast

from .fold import copy_tree
from .ir import WithHeader, as_statement
from .printing import source


def to_source(node):
    """Python source of a gast node (statement or expression), one line per statement."""
    return source(gast.gast_to_ast(node))


def _as_branches(stmt):
    """`x = A if c else B` (or `x = x + (A if c else B)`, `x = f(x, A if c else B)`) as an
    if/else statement."""
    if not isinstance(stmt, gast.Assign):
        return None
    value = stmt.value
    if isinstance(value, gast.IfExp):
        def branch(v):
            return gast.Assign(targets=stmt.targets, value=v, type_comment=None)
    elif isinstance(value, gast.BinOp) and isinstance(value.right, gast.IfExp):
        binop = value

        def branch(v):
            return gast.Assign(targets=stmt.targets, value=gast.BinOp(
                left=binop.left, op=binop.op, right=v), type_comment=None)
        value = value.right
    elif isinstance(value, gast.Call) and value.args and isinstance(value.args[-1], gast.IfExp):
        call = value

        def branch(v):
            return gast.Assign(targets=stmt.targets, value=gast.Call(
                func=call.func, args=call.args[:-1] + [v], keywords=call.keywords), type_comment=None)
        value = value.args[-1]
    else:
        return None
    return gast.If(test=value.test, body=[branch(value.body)], orelse=[branch(value.orelse)])


def statement_source(stmt, width=88):
    """Source of a generated statement; long conditional assignments become if/else."""
    text = to_source(stmt)
    if len(text) + 4 > width:
        branches = _as_branches(stmt)
        if branches is not None:
            return to_source(branches)
    return text


def code_only(text):
    """A source line without its trailing comment and extra spaces, for quoting."""
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(text.strip()).readline)
                  if t.type == tokenize.COMMENT]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return text.strip()
    if tokens:
        text = text.strip()[:tokens[0].start[1]]
    return text.strip()


def _signature(parsed, name, tangent_params=()):
    """`def name(...):` with `f`'s parameters (annotations dropped) and, for a JVP function,
    the tangent parameters: keyword-only if `f` has defaults or `*args`, else appended."""
    header = gast.FunctionDef(name=name, args=_arguments(parsed, tangent_params),
                              body=[gast.Pass()], decorator_list=[], returns=None,
                              type_comment=None, type_params=[])
    return to_source(header).splitlines()[:-1]


def signature_text(parsed, name):
    """`name(x, t=1.5)`: how a generated function named `name` is called."""
    return f"{name}({to_source(_arguments(parsed))})"


def _arguments(parsed, tangent_params=()):
    args = copy_tree(parsed.node.args)
    for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
        if a is not None:
            a.annotation = None
    params = [gast.Name(id=t, ctx=gast.Param(), annotation=None, type_comment=None)
              for t in tangent_params]
    if args.defaults or args.vararg is not None or args.kwonlyargs:
        args.kwonlyargs += params
        args.kw_defaults += [None] * len(params)
    else:
        args.args += params
    return args


def _tuple(elts):
    return gast.Tuple(elts=list(elts), ctx=gast.Load())


def _gradients(outputs):
    """One gradient bare, several as a tuple."""
    return outputs[0] if len(outputs) == 1 else _tuple(outputs)


def _print(lines, parsed, out, line_map, indent, block_line, headed=("adjoint",)):
    """Print Lines at `indent`; a comment quoting the source line heads each run of lines
    (of the `headed` sections) that come from one source line."""
    for line in lines:
        if line.section in headed and line.line != block_line:
            block_line = line.line
            out.append(f"{indent}# {parsed.short_filename}:{line.line}  {code_only(parsed.line(line.line))}")
        if line.note:
            out.append(f"{indent}# {line.note}")
        if line.body is not None:
            header = line.stmt
            if isinstance(header, gast.For):
                out.append(f"{indent}for {_bare(to_source(header.target))} in {to_source(header.iter)}:")
            elif isinstance(header, gast.While):
                out.append(f"{indent}while True:")
            elif isinstance(header, WithHeader):
                out.append(f"{indent}with {to_source(header.test)}:")
            else:
                out.append(f"{indent}if {_bare(to_source(header.test))}:")
            line_map[len(out)] = line.line
            _print(line.body, parsed, out, line_map, indent + "    ", line.line, headed) or \
                out.append(indent + "    pass")
            if line.orelse:
                out.append(f"{indent}else:")
                _print(line.orelse, parsed, out, line_map, indent + "    ", line.line, headed)
            continue
        for text in statement_source(as_statement(line.stmt)).splitlines():
            out.append(indent + text)
            line_map[len(out)] = line.line
    return bool(lines)


def _bare(text):
    """An expression's text without the parentheses the printer puts around a whole one."""
    if not (text.startswith("(") and text.endswith(")")):
        return text
    depth = 0
    for i, char in enumerate(text):
        depth += char == "("
        depth -= char == ")"
        if depth == 0 and i < len(text) - 1:
            return text              # `(a) + (b)`: those parentheses are not one pair
    return text[1:-1]


def _sections(lines):
    return ([line for line in lines if line.section == "forward"],
            [line for line in lines if line.section == "adjoint"])


def _where(parsed):
    return f"{parsed.name} ({parsed.short_filename}:{parsed.node.lineno})"


def emit(gradient, name=None, outputs=None):
    """(source text, {generated line number: user's source line}) of a Gradient, named
    `name` (default its own).  `outputs` are returned instead of the gradient's outputs
    (export fits each to its argument), one a line when there are several."""
    parsed = gradient.parsed
    what = "Value and gradient" if gradient.value is not None else "Gradient"
    out = _signature(parsed, name or gradient.name)
    out.append(f'    """{what} of {_where(parsed)} with respect to {", ".join(gradient.wrt)}; '
               f'generated by srcgrad."""')
    line_map = {}
    forward, adjoint = _sections(gradient.lines)
    _print(forward, parsed, out, line_map, "    ", None)
    out.append("")              # a blank line between the forward and the adjoint pass
    _print(adjoint, parsed, out, line_map, "    ", None)
    if outputs is not None and len(outputs) > 1:     # lined up after "return ("
        returned = "    return (" + ",\n            ".join(to_source(o) for o in outputs) + ")"
    else:
        grads = _gradients(outputs if outputs is not None else gradient.outputs)
        returned = "    " + to_source(gast.Return(
            value=grads if gradient.value is None else _tuple([gradient.value, grads])))
    for text in returned.split("\n"):
        out.append(text)
        line_map[len(out)] = parsed.node.lineno
    return "\n".join(out) + "\n", line_map


def emit_vjp(gradient):
    """(source, line map) of a vjp Gradient: `def vjp_f(...)` returning `(value, backward)`,
    `backward(g)` the adjoint pass as a closure over the forward pass's variables."""
    parsed = gradient.parsed
    out = _signature(parsed, gradient.name)
    out.append(f'    """{_where(parsed)} and a function giving the gradient of '
               f'{", ".join(gradient.wrt)} from the gradient of the result; generated by '
               f'srcgrad for a recursive call."""')
    line_map = {}
    forward, adjoint = _sections(gradient.lines)
    _print(forward, parsed, out, line_map, "    ", None)
    out.append(f"    def {gradient.backward_name}({gradient.seed}):")
    # values the backward pass restores from the tape are the forward pass's variables
    shared = sorted(stored_names(adjoint) & (stored_names(forward) | set(gradient.wrt)
                                        | {a.id for a in parsed.node.args.args}))
    if shared:
        out.append(f"        nonlocal {', '.join(shared)}")
    _print(adjoint, parsed, out, line_map, "        ", None)
    out.append("        " + to_source(gast.Return(value=_gradients(gradient.outputs))))
    out.append(f"    return {to_source(gradient.value)}, {gradient.backward_name}")
    line_map[len(out)] = parsed.node.lineno
    return "\n".join(out) + "\n", line_map


def stored_names(lines):
    """Every name the Lines bind."""
    names = set()
    for line in lines:
        names.update(n.id for n in gast.walk(as_statement(line.stmt))
                     if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store))
        for block in (line.body or [], line.orelse or []):
            names |= stored_names(block)
    return names


def emit_jvp(code):
    """(source text, line map) of forward mode's Tangents: `def jvp_f(x, ..., t_x)` returning
    `(value, tangent)`."""
    parsed = code.parsed
    out = _signature(parsed, code.name, code.tangent_params)
    along = ", ".join(code.tangent_params) or "no argument"
    out.append(f'    """Value and forward-mode derivative (JVP) of {_where(parsed)} along '
               f'{along}; generated by srcgrad."""')
    line_map = {}
    _print(code.lines, parsed, out, line_map, "    ", None, headed=("forward", "adjoint"))
    out.append("    " + to_source(gast.Return(value=_tuple([code.value, code.tangent]))))
    line_map[len(out)] = parsed.node.lineno
    return "\n".join(out) + "\n", line_map


def emit_program(texts):
    """One source text of several printed functions, (source, line map) each, in order (the
    vjp functions a gradient calls, then the gradient): the text and the joined line map."""
    joined, line_map, offset = [], {}, 0
    for text, lines in texts:
        joined.append(text)
        line_map.update({k + offset: v for k, v in lines.items()})
        offset += text.count("\n") + 1
    return "\n".join(joined), line_map
