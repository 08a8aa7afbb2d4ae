"""Each pipeline pass on its own: normalize, fold, templates, optimize."""
import gast
import numpy as np
import pytest

from srcgrad import rules, templates
from srcgrad.emit import to_source
from srcgrad.fold import fold, make_const
from srcgrad.ir import Assign, Line, Return
from srcgrad.normalize import normalize
from srcgrad.optimize import eliminate_dead, inline_temporaries, propagate_copies
from srcgrad.reverse import assign
from srcgrad.source import parse_function


def expr(text):
    return gast.parse(text).body[0].value


def src(node):
    if isinstance(node, gast.expr):     # printed as an assignment, so without outer parentheses
        return to_source(gast.Assign(targets=[gast.Name(id="_", ctx=gast.Store(), annotation=None,
                                                        type_comment=None)],
                                     value=node, type_comment=None))[4:]
    return to_source(node)


# --- normalize ---------------------------------------------------------------------------

def residual(w, X, y):
    r = X @ w - y
    r = r * 2.0
    a, b = r, w
    return np.mean(r ** 2)


def test_normalize_one_operation_per_statement_in_ssa_form():
    normal = normalize(parse_function(residual))
    assigns = [s for s in normal.body if isinstance(s, Assign)]
    assert [(s.targets, src(s.value)) for s in assigns] == [
        (["X_at_w"], "X @ w"), (["r"], "X_at_w - y"), (["r_2"], "r * 2.0"),
        (["a"], "r_2"), (["b"], "w"), (["r_2_sq"], "r_2 ** 2"), (["residual"], "np.mean(r_2_sq)")]
    assert [s.temporary for s in assigns] == [True, False, False, False, False, True, False]
    assert isinstance(normal.body[-1], Return) and normal.body[-1].name == "residual"
    first = residual.__code__.co_firstlineno
    assert [s.line - first for s in assigns] == [1, 1, 2, 3, 3, 4, 4]


def swap(a, b):
    a, b = b, a
    return a * b


def test_normalize_tuple_swap_reads_old_values():
    normal = normalize(parse_function(swap))
    assert [(s.targets, src(s.value)) for s in normal.body if isinstance(s, Assign)][:2] == [
        (["a_2"], "b"), (["b_2"], "a")]


# --- fold --------------------------------------------------------------------------------

@pytest.mark.parametrize("text,folded", [
    ("g if True or axis is None else np.expand_dims(g, axis)", "g"),
    ("g if keepdims or None is None else h", "g"),
    ("g if False or 0 is None else h", "h"),
    ("g if a and b else h", "g if a and b else h"),
    ("g if a and False else h", "h"),
    ("1.0 * 2 * x", "2.0 * x"),
    ("g * x2 * x1 ** (x2 - 1)", "g * x2 * x1 ** (x2 - 1)"),
    ("x ** (2 - 1)", "x"),
    ("x / 1", "x"),
    ("0 - x", "-x"),
    ("-(-x)", "x"),
    ("x * -1.0", "-x"),
    ("True & (a <= b)", "a <= b"),
    ("3 - 5", "-2"),
    ("(1 - 2) ** 2", "1"),
])
def test_fold(text, folded):
    assert src(fold(expr(text))) == folded


def test_make_const_never_emits_numpy_scalars_or_negative_constants():
    node = make_const(np.float64(-0.5))
    assert isinstance(node, gast.UnaryOp) and node.operand.value == 0.5
    assert type(node.operand.value) is float
    base = gast.BinOp(left=make_const(-1.0), op=gast.Pow(), right=make_const(2))
    assert src(base) == "(-1.0) ** 2" and eval(src(base)) == 1.0
    assert make_const(float("nan")) is None


# --- templates -----------------------------------------------------------------------------

class _FakeNamespace:
    def __init__(self):
        self.objects = {}

    def reference(self, obj, preferred):
        self.objects[preferred] = obj
        return gast.Name(id=preferred, ctx=gast.Load(), annotation=None, type_comment=None)


def names(**values):
    return {k: (expr(v) if isinstance(v, str) else v) for k, v in values.items()}


def test_template_instantiation_substitutes_and_folds():
    rule = rules.RULES[np.tanh]
    (dx,) = templates.instantiate(rule.template, names(g="dh", ans="h", x="z"), _FakeNamespace())
    assert src(dx) == "dh * (1.0 - h * h)"
    rule = rules.RULES[np.power]
    dx1, dx2 = templates.instantiate(rule.template, names(g="dy", ans="y", x1="x", x2=make_const(2)),
                                     _FakeNamespace())
    assert src(dx1) == "dy * 2 * x"
    rule = rules.RULES[np.sum]
    (da,) = templates.instantiate(rule.template, names(g="ds", ans="s", a="x", axis=make_const(None),
                                                       keepdims=make_const(False)), _FakeNamespace())
    assert src(da) == "ds"
    (da,) = templates.instantiate(rule.template, names(g="ds", ans="s", a="x", axis=make_const(1),
                                                       keepdims=make_const(False)), _FakeNamespace())
    assert src(da) == "np.expand_dims(ds, 1)"


def test_rule_lambdas_are_runnable_code():
    x = np.array([0.3, -0.2])
    dx = rules.RULES[np.tanh].template(np.ones(2), np.tanh(x), x)
    np.testing.assert_allclose(dx, 1 - np.tanh(x) ** 2)


def test_every_rule_template_can_be_found():
    for rule in rules.RULES.values():
        templates.lambda_node(rule.template)


# --- optimize ------------------------------------------------------------------------------

def lines(*statements, section="adjoint"):
    out = []
    for s in statements:
        target, value = s.split(" = ", 1)
        out.append(Line(assign(target, expr(value)), 1, section))
    return out


def test_copy_propagation_folds_the_seed():
    code = lines("dloss = 1.0", "dz = dloss", "dx = dz * 2.0 * x")
    outputs = propagate_copies(code, [gast.Name(id="dx", ctx=gast.Load(), annotation=None,
                                                type_comment=None)])
    code = eliminate_dead(code, outputs)
    assert [src(line.stmt) for line in code] == ["dx = 2.0 * x"]


def test_copy_propagation_respects_reassignment():
    code = lines("dy = dz", "dz = dz + 1.0", "dx = dy * dz")
    outputs = propagate_copies(code, [expr("dx")])
    assert [src(line.stmt) for line in code][-1] == "dx = dy * dz"


def test_single_use_temporaries_are_inlined_in_order():
    code = lines("t1 = a()", "t2 = b()", "z = f(t1, t2)", section="forward")
    for line in code[:2]:
        line.temporary = True
    code = inline_temporaries(code, [expr("z")])
    assert [src(line.stmt) for line in code] == ["z = f(a(), b())"]


# --- inplace: sums a backward loop builds -----------------------------------------------------
def recurrence(W, U, h0, xs):
    h, total = h0, 0.0
    for t in range(len(xs)):
        h = np.tanh(np.dot(W, h) + np.dot(U, xs[t]))
        total = total + np.sum(h ** 2)
    return total


def recurrence_read_inside(W, h0, n):
    h = h0
    for t in range(n):
        h = np.tanh(np.dot(W, h)) * np.sum(W)      # W's adjoint is read in the loop too
    return np.sum(h)


def test_loop_sums_of_products_are_added_in_place_and_stay_right():
    from support import check
    rng = np.random.default_rng(3)
    W, U = rng.normal(size=(4, 4)) * 0.5, rng.normal(size=(4, 3))
    h0, xs = rng.normal(size=(4, 1)), [rng.normal(size=(3, 1)) for _ in range(5)]
    import srcgrad
    source = srcgrad.grad(recurrence, wrt=(0, 1)).source
    assert "dW = accumulate(dW, np.dot(" in source and "dU = accumulate(dU, np.dot(" in source
    check(recurrence, W, U, h0, xs, wrt=(0, 1))
    g1 = srcgrad.grad(recurrence, wrt=(0, 1))(W, U, h0, xs)
    g2 = srcgrad.grad(recurrence, wrt=(0, 1))(W, U, h0, xs)     # a second call: fresh sums
    for a, b in zip(g1, g2):
        np.testing.assert_array_equal(a, b)
    assert not np.shares_memory(g1[0], g2[0])
    check(recurrence_read_inside, W, h0, 3)
    # (a sum read by anything else in the loop keeps `dW = dW + ...`)
    hessian_source = srcgrad.grad(recurrence, wrt=0)
    assert np.allclose(srcgrad.hessian(recurrence)(W, U, h0, xs[:2]).shape, (4, 4, 4, 4))


def test_accumulate_adds_in_place_only_where_shape_and_dtype_agree():
    from srcgrad.runtime import accumulate
    total = np.zeros((2, 2))
    assert accumulate(total, np.ones((2, 2))) is total and total[0, 0] == 1.0
    grown = accumulate(total, np.ones((3, 2, 2)))        # broadcast: a new array
    assert grown is not total and grown.shape == (3, 2, 2)
    promoted = accumulate(np.zeros(2, np.float32), np.ones(2))
    assert promoted.dtype == np.float64
    assert accumulate(0.0, np.ones(2)).tolist() == [1.0, 1.0]


def test_a_parameters_rank_is_asked_once_before_a_backward_loop():
    import srcgrad
    rng = np.random.default_rng(4)
    W, U = rng.normal(size=(4, 4)) * 0.5, rng.normal(size=(4, 3))
    h0, xs = rng.normal(size=(4, 1)), [rng.normal(size=(3, 1)) for _ in range(4)]
    source = srcgrad.grad(recurrence, wrt=(0, 1)).source
    backward = source[source.index("for _ in range"):]
    assert "ndim_W = np.ndim(W)" in source and "np.ndim(W)" not in backward
    assert "np.ndim(h_2)" in backward or "np.ndim(h)" in backward    # bound in the loop: asked there
    from support import check
    check(recurrence, W, U, h0, xs, wrt=(0, 1))
    check(recurrence, W, U, h0, [], wrt=(0, 1))                        # no iteration at all
