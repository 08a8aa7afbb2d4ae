"""Step 6: the tape.  Each backward loop pops, at the start of an iteration, the values
its body reads that the forward loop rebinds; the forward loop pushes them where its
iterations end (the `IterationEnd` markers, Lines with `saves_for`).  This runs after the
optimizer, on the final code, so only what the final code reads is saved.
"""
import gast

from .ir import Line, TapePop, TapePush, all_lines, header, is_loop, loads, targets


def _reads(lines):
    """Names Lines read from outside; a nested backward loop restores its own values, so only
    what it reads beyond them counts."""
    names = set()
    for line in lines:
        if line.restores is not None:
            names |= {n.id for n in loads(header(line))} | (_reads(line.body) - line.restores[1])
        elif line.body is not None:
            names |= {n.id for n in loads(header(line))} | _reads(line.body) | _reads(line.orelse)
        else:
            names |= {n.id for n in loads(line.stmt)}
    return names


def _maybe_unbound(line, saves):
    """Names a forward loop saves at the end of an iteration that some path through its
    body does not bind (a value set in one branch, a nested loop's values)."""
    if not (is_loop(line) and line.section == "forward"):
        return []
    saved = set()
    for inner in all_lines(line.body):
        if inner.saves_for is not None and id(inner.saves_for) in saves:
            saved |= set(saves[id(inner.saves_for)].names)
    surely = set()
    for inner in line.body:                 # statements every iteration runs first
        if inner.body is not None or inner.saves_for is not None:
            break
        surely.update(targets(inner.stmt))
    if isinstance(line.stmt, gast.For):
        surely.update(n.id for n in gast.walk(line.stmt.target) if isinstance(n, gast.Name))
    return sorted(saved - surely - line.bound_before)


def place_tape(gradient):
    """Each backward loop pops, at the start of an iteration, the values its body reads
    that the forward loop rebinds; the forward loop pushes them where its iterations end.
    Decided last, so only what the final code reads is saved."""
    saves, tape = {}, None
    for line in list(all_lines(gradient.lines)):
        if line.restores is None:
            continue
        loop, inside = line.restores
        read = sorted(_reads(line.body) & inside)
        if not read:
            continue
        tape = tape or gradient.namer.fresh("tape")
        line.body.insert(0, Line(TapePop(tape, read), line.line, "adjoint"))
        saves[id(loop)] = TapePush(tape, read)

    def fill(lines):
        out = []
        for line in lines:
            if line.body is not None:
                unbound = _maybe_unbound(line, saves)
                if unbound:      # saved on every path, bound on some: bind them first
                    names = [gast.Name(id=n, ctx=gast.Store(), annotation=None, type_comment=None)
                             for n in unbound]
                    out.append(Line(gast.Assign(targets=names, value=gast.Constant(
                        value=None, kind=None), type_comment=None), line.line, line.section))
                line.body, line.orelse = fill(line.body), fill(line.orelse)
            loop = line.saves_for
            if loop is not None:
                if id(loop) not in saves:
                    continue
                line.stmt = saves[id(loop)]
            out.append(line)
        return out
    gradient.lines = fill(gradient.lines)
    if tape is not None:
        init = gast.Assign(targets=[gast.Name(id=tape, ctx=gast.Store(), annotation=None,
                                              type_comment=None)],
                           value=gast.List(elts=[], ctx=gast.Load()), type_comment=None)
        gradient.lines.insert(0, Line(init, gradient.parsed.node.lineno, "forward"))
