"""Tests of the elementwise rules of srcgrad/rules.py.

Every rule is checked against central finite differences (tests/support.py), on inputs
drawn where the function is smooth, for the shapes broadcasting produces: scalars and
Python floats against arrays, (3, 1) against (1, 4), (4,) against (3, 4), keepdims-style
(3, 1) against (3, 4), and with respect to both operands.  Piecewise rules (maximum,
minimum, abs, clip) are also checked at their kinks against the closed form srcgrad
promises: a tie shares the gradient evenly.

Both modes: reverse-mode tests are marked `@reverse(function, ...)`; the forward-mode cases
(`@case(function, *args)`, checked by test_rule_jvp against central differences along random
directions) are at the end of the file.  See tests/README.md.
"""
import numpy as np
import pytest
from support import RuleTests, check, check_jvp, uniform

import srcgrad

RULE_TESTS = RuleTests()         # this family's rules: forward cases, reverse tests
case, reverse = RULE_TESTS.case, RULE_TESTS.reverse


def rand(shape, lo=-1.0, hi=1.0, seed=0):
    """Uniform(lo, hi) in float64: a Python float for shape "float", else an ndarray."""
    rng = np.random.default_rng(seed)
    if shape == "float":
        return float(rng.uniform(lo, hi))
    return rng.uniform(lo, hi, size=shape)


def broadcast_shape(*shapes):
    return np.broadcast_shapes(*[() if s == "float" else s for s in shapes])


def avoid_zero(x, margin=0.2):
    """Push values away from 0 (keeps the sign, magnitude at least `margin`)."""
    if isinstance(x, float):
        return x if abs(x) >= margin else np.copysign(margin, x) + x
    return np.where(np.abs(x) < margin, np.sign(x) * margin + x, x)


def adjoint_part(source):
    """The backward half of generated source (after the first blank line), no comments."""
    lines = source.split("\n\n", 1)[1].splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("#"))


UNARY_SHAPES = ["float", (), (5,), (3, 4), (2, 3, 4)]
BINARY_SHAPES = [
    ("float", (3, 4)),
    ((3, 4), "float"),
    ((), (3, 4)),
    ((3, 4), ()),
    ((3, 1), (1, 4)),
    ((4,), (3, 4)),
    ((3, 4), (4,)),
    ((3, 4), (3, 1)),     # keepdims-style: reduced along the last axis
    ((1, 4), (3, 4)),     # keepdims-style: reduced along the first axis
    ((2, 1, 4), (3, 1)),
    ((3, 4), (3, 4)),
    ("float", "float"),
]


def shape_id(shapes):
    return "-".join("f" if s == "float" else "x".join(map(str, s)) or "0d" for s in shapes)


BINARY_IDS = [shape_id(s) for s in BINARY_SHAPES]


# --- unary functions ----------------------------------------------------------------
# (function, lower, upper, exclude zero?) -- a domain where the function is smooth.
UNARY = [
    (np.negative, -2, 2, False),
    (np.positive, -2, 2, False),
    (np.square, -2, 2, False),
    (np.sqrt, 0.2, 3, False),
    (np.cbrt, -2, 2, True),
    (np.reciprocal, -2, 2, True),
    (np.exp, -2, 2, False),
    (np.exp2, -2, 2, False),
    (np.expm1, -2, 2, False),
    (np.log, 0.2, 3, False),
    (np.log2, 0.2, 3, False),
    (np.log10, 0.2, 3, False),
    (np.log1p, -0.7, 3, False),
    (np.sin, -3, 3, False),
    (np.cos, -3, 3, False),
    (np.tan, -1.2, 1.2, False),
    (np.arcsin, -0.9, 0.9, False),
    (np.arccos, -0.9, 0.9, False),
    (np.arctan, -3, 3, False),
    (np.sinh, -2, 2, False),
    (np.cosh, -2, 2, False),
    (np.tanh, -2, 2, False),
    (np.arcsinh, -3, 3, False),
    (np.arccosh, 1.2, 3, False),
    (np.arctanh, -0.9, 0.9, False),
    (np.absolute, -2, 2, True),
    (np.fabs, -2, 2, True),
    (np.deg2rad, -90, 90, False),
    (np.rad2deg, -2, 2, False),
    (np.radians, -90, 90, False),
    (np.degrees, -2, 2, False),
]


UNARY_IDS = [u[0].__name__ for u in UNARY]


def unary_input(fn, lo, hi, no_zero, shape, seed=1):
    x = rand(shape, lo, hi, seed)
    return avoid_zero(x) if no_zero else x


@reverse(*[u[0] for u in UNARY])
@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=lambda s: shape_id([s]))
@pytest.mark.parametrize("fn,lo,hi,no_zero", UNARY, ids=UNARY_IDS)
def test_unary_weighted(fn, lo, hi, no_zero, shape):
    w = rand(broadcast_shape(shape), 0.5, 1.5, seed=7)

    def f(x):
        return np.sum(w * fn(x))
    x = unary_input(fn, lo, hi, no_zero, shape)
    got = check(f, x)
    assert np.shape(got) == np.shape(x)


@pytest.mark.parametrize("fn,lo,hi,no_zero", UNARY, ids=UNARY_IDS)
def test_unary_composed(fn, lo, hi, no_zero):
    """The rule's `g` is a full array (not the seed): the square of the function."""
    def f(x):
        y = fn(x)
        return np.sum(y * y)
    check(f, unary_input(fn, lo, hi, no_zero, (3, 4)))


@pytest.mark.parametrize("fn,lo,hi,no_zero", UNARY, ids=UNARY_IDS)
def test_unary_scalar_result(fn, lo, hi, no_zero):
    """A scalar function of a Python float, returned directly."""
    def f(x):
        return fn(x)
    x = unary_input(fn, lo, hi, no_zero, "float")
    got = check(f, x)
    assert isinstance(got, float)


@reverse(np.absolute)
def test_builtin_abs():
    def f(x, y):
        return np.sum(abs(x) * y) + abs(np.sum(x))
    x = avoid_zero(rand((3, 4), seed=2))
    y = rand((3, 4), seed=3)
    dx, dy = check(f, x, y, wrt=(0, 1))
    np.testing.assert_allclose(dx, np.sign(x) * y + np.sign(np.sum(x)))
    np.testing.assert_allclose(dy, np.abs(x))


def test_abs_at_zero_is_zero():
    """srcgrad's abs rule uses sign(x): the subgradient 0 at the kink."""
    x = np.array([-1.5, 0.0, 2.0])

    def f(x):
        return np.sum(np.abs(x))
    np.testing.assert_array_equal(srcgrad.grad(f)(x), [-1.0, 0.0, 1.0])


@reverse(np.negative, np.positive)
def test_unary_minus_and_plus_operators():
    def f(x):
        return np.sum(-x * x) + np.sum(+x)
    x = rand((4,), seed=4)
    got = check(f, x)
    np.testing.assert_allclose(got, -2 * x + 1)


# --- binary arithmetic with broadcasting --------------------------------------------

def add(x, y):
    return x + y


def sub(x, y):
    return x - y


def mul(x, y):
    return x * y


def div(x, y):
    return x / y


BINARY = [
    # (name, function, x domain, y domain, y away from zero?)
    ("add", np.add, (-2, 2), (-2, 2), False),
    ("subtract", np.subtract, (-2, 2), (-2, 2), False),
    ("multiply", np.multiply, (-2, 2), (-2, 2), False),
    ("divide", np.divide, (-2, 2), (-2, 2), True),
    ("true_divide", np.true_divide, (-2, 2), (0.5, 2), False),
    ("power", np.power, (0.3, 2), (-2, 2), False),
    ("float_power", np.float_power, (0.3, 2), (-2, 2), False),
    ("arctan2", np.arctan2, (-2, 2), (0.3, 2), False),
    ("arctan2_left_half", np.arctan2, (0.3, 2), (-2, -0.3), False),
    ("hypot", np.hypot, (0.3, 2), (-2, -0.3), False),
    ("logaddexp", np.logaddexp, (-3, 3), (-3, 3), False),
    ("logaddexp2", np.logaddexp2, (-3, 3), (-3, 3), False),
    ("maximum", np.maximum, (-2, 2), (-2, 2), False),
    ("minimum", np.minimum, (-2, 2), (-2, 2), False),
    ("fmax", np.fmax, (-2, 2), (-2, 2), False),
    ("fmin", np.fmin, (-2, 2), (-2, 2), False),
]


def binary_inputs(xdom, ydom, y_no_zero, xs, ys):
    x = rand(xs, *xdom, seed=11)
    y = rand(ys, *ydom, seed=12)
    return x, (avoid_zero(y) if y_no_zero else y)


@reverse(*[b[1] for b in BINARY])
@pytest.mark.parametrize("xs,ys", BINARY_SHAPES, ids=BINARY_IDS)
@pytest.mark.parametrize("name,fn,xdom,ydom,y_no_zero", BINARY, ids=[b[0] for b in BINARY])
def test_binary_weighted(name, fn, xdom, ydom, y_no_zero, xs, ys):
    w = rand(broadcast_shape(xs, ys), 0.5, 1.5, seed=5)

    def f(x, y):
        return np.sum(w * fn(x, y))
    x, y = binary_inputs(xdom, ydom, y_no_zero, xs, ys)
    dx, dy = check(f, x, y, wrt=(0, 1))
    assert np.shape(dx) == np.shape(x) and np.shape(dy) == np.shape(y)


@pytest.mark.parametrize("xs,ys", BINARY_SHAPES, ids=BINARY_IDS)
@pytest.mark.parametrize("name,fn,xdom,ydom,y_no_zero", BINARY, ids=[b[0] for b in BINARY])
def test_binary_summed(name, fn, xdom, ydom, y_no_zero, xs, ys):
    """Plain sum: the adjoint reaching the rule is the scalar seed standing for an array."""
    def f(x, y):
        return np.sum(fn(x, y))
    x, y = binary_inputs(xdom, ydom, y_no_zero, xs, ys)
    check(f, x, y, wrt=(0, 1))


OPERATORS = [("+", add, False), ("-", sub, False), ("*", mul, False), ("/", div, True)]


@reverse(np.add, np.subtract, np.multiply, np.divide)
@pytest.mark.parametrize("xs,ys", BINARY_SHAPES, ids=BINARY_IDS)
@pytest.mark.parametrize("op,fn,y_no_zero", OPERATORS, ids=[o[0] for o in OPERATORS])
def test_operators(op, fn, y_no_zero, xs, ys):
    w = rand(broadcast_shape(xs, ys), 0.5, 1.5, seed=5)
    x, y = binary_inputs((-2, 2), (-2, 2), y_no_zero, xs, ys)
    # Each operator written out, so srcgrad sees the BinOp itself.
    if op == "+":
        def f(x, y):
            return np.sum(w * (x + y))
    elif op == "-":
        def f(x, y):
            return np.sum(w * (x - y))
    elif op == "*":
        def f(x, y):
            return np.sum(w * (x * y))
    else:
        def f(x, y):
            return np.sum(w * (x / y))
    dx, dy = check(f, x, y, wrt=(0, 1))
    # The closed form, summed over broadcast axes.
    full = broadcast_shape(xs, ys)
    X, Y = np.broadcast_to(x, full), np.broadcast_to(y, full)
    wx = {"+": w, "-": w, "*": w * Y, "/": w / Y}[op]
    wy = {"+": w, "-": -w, "*": w * X, "/": -w * X / Y ** 2}[op]

    def reduce_to(g, like):
        shape = np.shape(like)
        g = np.sum(g, axis=tuple(range(g.ndim - len(shape))))
        return np.sum(g, axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True).reshape(shape)
    np.testing.assert_allclose(dx, reduce_to(wx, x), rtol=1e-12)
    np.testing.assert_allclose(dy, reduce_to(wy, y), rtol=1e-12)


def test_operator_with_python_constants():
    def f(x):
        return np.sum(3.0 * x - x / 2.0 + 1.0 - 2.0 / x)
    x = avoid_zero(rand((3, 4), seed=6))
    got = check(f, x)
    np.testing.assert_allclose(got, 3.0 - 0.5 + 2.0 / x ** 2)


def test_augmented_assignment():
    def f(x, y):
        z = x * y
        z += y
        z *= x
        z -= y
        z /= 2.0
        return np.sum(z)
    x, y = rand((3, 1), seed=1), rand((4,), seed=2)
    check(f, x, y, wrt=(0, 1))


# --- power --------------------------------------------------------------------------

@reverse(np.power)
@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=lambda s: shape_id([s]))
@pytest.mark.parametrize("p", [2, 3, 0.5, -1, -2, 2.0, 1, 0])
def test_power_constant_exponent(p, shape):
    def f(x):
        return np.sum(x ** p)
    x = rand(shape, 0.3, 2.0, seed=3)
    got = check(f, x)
    np.testing.assert_allclose(got, p * np.asarray(x, float) ** (p - 1) if p else 0 * np.asarray(x))


def test_power_literal_exponents():
    """Exponents written as literals are folded at transform time."""
    def f(x):
        return np.sum(x ** 2 + x ** 3 + x ** 0.5 + x ** -1 + x ** -2 + np.power(x, 3))
    x = rand((3, 4), 0.3, 2.0, seed=8)
    got = check(f, x)
    np.testing.assert_allclose(got, 2 * x + 6 * x ** 2 + 0.5 / np.sqrt(x) - x ** -2 - 2 * x ** -3)


def test_square_of_negative_base():
    """An integer exponent must not involve log(x): negative bases are fine."""
    def f(x):
        return np.sum(x ** 2 + x ** 3)
    x = rand((5,), -2.0, -0.5, seed=3)
    got = check(f, x)
    np.testing.assert_allclose(got, 2 * x + 3 * x ** 2)


def test_power_source_square_is_plain_product():
    def f(x):
        return np.sum(x ** 2)
    src = srcgrad.grad(f).source
    assert "log" not in src
    assert "x ** 1" not in src and "** (2 - 1)" not in src
    x = rand((4,), seed=1)
    np.testing.assert_allclose(srcgrad.grad(f)(x), 2 * x)


@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=lambda s: shape_id([s]))
def test_power_constant_base(shape):
    def f(x):
        return np.sum(2.0 ** x + np.power(3.0, x))
    x = rand(shape, -2, 2, seed=4)
    got = check(f, x)
    np.testing.assert_allclose(got, np.log(2.0) * 2.0 ** np.asarray(x) + np.log(3.0) * 3.0 ** np.asarray(x))


@reverse(np.power)
def test_power_both_arguments_broadcast():
    def f(x, y):
        return np.sum(x ** y)
    x = rand((3, 1), 0.3, 2, seed=1)
    y = rand((1, 4), -2, 2, seed=2)
    dx, dy = check(f, x, y, wrt=(0, 1))
    np.testing.assert_allclose(dx, np.sum(y * x ** (y - 1), axis=1, keepdims=True))
    np.testing.assert_allclose(dy, np.sum(x ** y * np.log(x), axis=0, keepdims=True))


def test_power_exponent_gradient_at_zero_base():
    """0 ** y is 0 for every y > 0: the exponent's gradient there is 0, not nan."""
    def f(x, p):
        return np.sum(x ** p) + np.sum(np.float_power(x, p))
    x = np.array([0.0, 1.0, 2.0])
    dx, dp = srcgrad.grad(f, wrt=(0, 1))(x, 2.0)
    np.testing.assert_allclose(dx, 2 * 2 * x)
    assert dp == pytest.approx(2 * 4.0 * np.log(2.0), rel=1e-14)


def test_source_constant_base_folds_its_log():
    def f(x):
        return np.sum(2.0 ** x)
    src = adjoint_part(srcgrad.grad(f).source)
    assert "np.log(2.0)" in src and "==" not in src


def test_power_exponent_only():
    """Only the exponent is differentiated; the base is an array argument."""
    def f(b, y):
        return np.sum(b ** y)
    b = rand((4,), 0.5, 2, seed=1)
    y = rand("float", -1, 1, seed=2)
    got = check(f, b, y, wrt=1)
    assert isinstance(got, float)


# --- maximum / minimum with ties ----------------------------------------------------

@reverse(np.maximum, np.fmax, np.minimum, np.fmin)
@pytest.mark.parametrize("fn,pick", [(np.maximum, np.greater), (np.fmax, np.greater),
                                     (np.minimum, np.less), (np.fmin, np.less)],
                         ids=["maximum", "fmax", "minimum", "fmin"])
def test_max_min_ties_split_evenly(fn, pick):
    x = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 5.0]])
    y = np.array([[1.0, 3.0, 2.0], [0.0, -2.0, 5.0]])     # ties at (0,0), (1,0), (1,2)
    w = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])

    def f(x, y):
        return np.sum(w * fn(x, y))
    dx, dy = srcgrad.grad(f, wrt=(0, 1))(x, y)
    tie = x == y
    np.testing.assert_allclose(dx, w * (pick(x, y) + 0.5 * tie))
    np.testing.assert_allclose(dy, w * (pick(y, x) + 0.5 * tie))
    np.testing.assert_allclose(dx + dy, w)   # the gradient is conserved


@pytest.mark.parametrize("fn", [np.maximum, np.minimum], ids=["maximum", "minimum"])
def test_max_min_ties_with_broadcasting(fn):
    x = np.array([[0.0], [1.0], [2.0]])          # (3, 1)
    y = np.array([1.0, 2.0, -1.0, 0.0])          # (4,)

    def f(x, y):
        return np.sum(fn(x, y))
    dx, dy = srcgrad.grad(f, wrt=(0, 1))(x, y)
    X, Y = np.broadcast_arrays(x, y)
    win_x = (X > Y) if fn is np.maximum else (X < Y)
    share_x = win_x + 0.5 * (X == Y)
    np.testing.assert_allclose(dx, np.sum(share_x, axis=1, keepdims=True))
    np.testing.assert_allclose(dy, np.sum(1.0 - share_x, axis=0))


def test_fmax_fmin_send_the_gradient_past_nan():
    """fmax/fmin ignore a NaN operand, so the other operand gets the whole gradient."""
    x = np.array([np.nan, 1.0, 3.0])
    y = np.array([2.0, np.nan, 1.0])
    w = np.array([1.0, 2.0, 3.0])

    def big(x, y):
        return np.sum(w * np.fmax(x, y))

    def small(x, y):
        return np.sum(w * np.fmin(x, y))
    dx, dy = srcgrad.grad(big, wrt=(0, 1))(x, y)
    np.testing.assert_array_equal(dx, [0.0, 2.0, 3.0])
    np.testing.assert_array_equal(dy, [1.0, 0.0, 0.0])
    dx, dy = srcgrad.grad(small, wrt=(0, 1))(x, y)
    np.testing.assert_array_equal(dx, [0.0, 2.0, 0.0])
    np.testing.assert_array_equal(dy, [1.0, 0.0, 3.0])


def test_relu_at_zero_and_scalar_tie():
    def f(x):
        return np.sum(np.maximum(x, 0.0))
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(srcgrad.grad(f)(x), [0.0, 0.5, 1.0])


def test_max_of_x_with_itself():
    """maximum(x, x) = x: both ties give half, summed back to 1."""
    def f(x):
        return np.sum(np.maximum(x, x) * 3.0)
    x = rand((4,), seed=2)
    np.testing.assert_allclose(srcgrad.grad(f)(x), 3.0 * np.ones(4))


# --- clip -----------------------------------------------------------------------------

@reverse(np.clip)
@pytest.mark.parametrize("shape", [(), (7,), (3, 4)], ids=lambda s: shape_id([s]))
def test_clip_constant_bounds(shape):
    def f(x):
        return np.sum(np.clip(x, -0.5, 0.5) ** 2)
    x = rand(shape, -1, 1, seed=9)
    x = np.where(np.abs(np.abs(x) - 0.5) < 0.05, 0.3, x)   # no point near a bound
    got = check(f, x)
    np.testing.assert_allclose(got, 2 * x * (np.abs(x) <= 0.5))


def test_clip_none_bounds():
    x = np.array([-2.0, -0.7, -0.2, 0.3, 0.8, 1.5])

    def upper_only(x):
        return np.sum(np.clip(x, None, 0.5) * 2.0)

    def lower_only(x):
        return np.sum(np.clip(x, -0.5, None) * 2.0)

    def keywords(x):
        return np.sum(np.clip(x, a_min=None, a_max=0.5) * 2.0)
    np.testing.assert_allclose(check(upper_only, x), 2.0 * (x <= 0.5))
    np.testing.assert_allclose(check(lower_only, x), 2.0 * (x >= -0.5))
    np.testing.assert_allclose(check(keywords, x), 2.0 * (x <= 0.5))
    assert "None" not in adjoint_part(srcgrad.grad(upper_only).source)


def test_clip_method():
    def f(x):
        return np.sum(x.clip(-0.5, 0.5) * x)
    x = np.array([-2.0, -0.3, 0.2, 0.9])
    np.testing.assert_allclose(check(f, x), np.clip(x, -0.5, 0.5) + x * (np.abs(x) <= 0.5))


@reverse(np.clip)
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4), (3, 4)), ((3, 4), (4,), (3, 1)),
                                    ((3, 4), (), (1, 4)), ((4,), (3, 1), (3, 4))],
                         ids=shape_id)
def test_clip_array_bounds(shapes):
    xs, los, his = shapes
    x = rand(xs, -2, 2, seed=1)
    lo = rand(los, -1.0, -0.2, seed=2)
    hi = rand(his, 0.2, 1.0, seed=3)
    w = rand(broadcast_shape(*shapes), 0.5, 1.5, seed=4)

    def f(x, lo, hi):
        return np.sum(w * np.clip(x, lo, hi))
    dx, dlo, dhi = check(f, x, lo, hi, wrt=(0, 1, 2))
    X, LO, HI = np.broadcast_arrays(x, lo, hi)
    np.testing.assert_allclose(np.sum(dx) + np.sum(dlo) + np.sum(dhi), np.sum(w))
    assert np.sum(dlo) == pytest.approx(np.sum(w * (X < LO)))
    assert np.sum(dhi) == pytest.approx(np.sum(w * (X > HI)))


def test_clip_ties_with_array_bounds_conserve_the_gradient():
    """At x == bound the gradient goes somewhere, once: the three adjoints add up to g."""
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    lo = np.array([-0.5, -0.5, -0.5, -0.5, -0.5])
    hi = np.array([0.5, 0.5, 0.5, 0.5, 0.5])
    w = np.array([1.0, 2.0, 3.0, 4.0, 5.0])

    def f(x, lo, hi):
        return np.sum(w * np.clip(x, lo, hi))
    dx, dlo, dhi = srcgrad.grad(f, wrt=(0, 1, 2))(x, lo, hi)
    np.testing.assert_allclose(dx + dlo + dhi, w)
    np.testing.assert_allclose(dx[[0, 2, 4]], [0.0, 3.0, 0.0])
    np.testing.assert_allclose(dlo[[0, 2, 4]], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(dhi[[0, 2, 4]], [0.0, 0.0, 5.0])


def test_maximum_tie_with_python_float():
    def f(x, c):
        return np.sum(np.maximum(x, c) * np.array([1.0, 2.0, 3.0]))
    dx, dc = srcgrad.grad(f, wrt=(0, 1))(np.array([0.5, 1.0, 2.0]), 1.0)
    np.testing.assert_allclose(dx, [0.0, 1.0, 3.0])
    assert isinstance(dc, float) and dc == 1.0 + 1.0


# --- where ------------------------------------------------------------------------

@reverse(np.where)
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4), (3, 4)), ((3, 4), (3, 1), ()),
                                    ((3, 4), (4,), (3, 4)), ((4,), (3, 1), (3, 4)),
                                    ((3, 4), "float", (1, 4))],
                         ids=shape_id)
def test_where(shapes):
    cs, xs, ys = shapes
    cond = rand(cs, seed=1) > 0
    x, y = rand(xs, seed=2), rand(ys, seed=3)
    w = rand(broadcast_shape(*shapes), 0.5, 1.5, seed=4)

    def f(x, y):
        return np.sum(w * np.where(cond, x, y))
    dx, dy = check(f, x, y, wrt=(0, 1))
    C, W = np.broadcast_arrays(cond, w)
    np.testing.assert_allclose(np.sum(dx), np.sum(W * C))
    np.testing.assert_allclose(np.sum(dy), np.sum(W * ~C))


def test_where_condition_from_values():
    def f(x):
        return np.sum(np.where(x > 0, x ** 2, -x))
    x = avoid_zero(rand((3, 4), seed=5))
    np.testing.assert_allclose(check(f, x), np.where(x > 0, 2 * x, -1.0))


def test_where_summed_seed():
    def f(x, y):
        return np.sum(np.where(np.array([True, False, True]), x, y))
    x, y = rand((2, 3), seed=1), rand("float", seed=2)
    dx, dy = check(f, x, y, wrt=(0, 1))
    np.testing.assert_allclose(dx, [[1, 0, 1], [1, 0, 1]])
    assert dy == 2.0


# --- non-differentiable elementwise functions ---------------------------------------

@pytest.mark.parametrize("fn", [np.sign, np.floor, np.ceil, np.round, np.around, np.rint,
                                np.trunc, np.fix], ids=lambda f: f.__name__)
def test_piecewise_constant_has_zero_gradient(fn):
    def alone(x):
        return np.sum(fn(x))

    def mixed(x):
        return np.sum(fn(x) * x)
    x = rand((3, 4), -3, 3, seed=2) + 0.01
    np.testing.assert_array_equal(srcgrad.grad(alone)(x), np.zeros((3, 4)))
    np.testing.assert_allclose(srcgrad.grad(mixed)(x), fn(x))


# --- generated source ------------------------------------------------------------

def test_source_tanh_square_needs_no_unbroadcast():
    def f(x):
        return np.sum(np.tanh(x) ** 2)
    src = srcgrad.grad(f).source
    assert "unbroadcast" not in src and "broadcast_to" not in src
    assert "1.0 - " in src          # the tanh rule reuses the forward value
    x = rand((3, 4), seed=1)
    np.testing.assert_allclose(srcgrad.grad(f)(x), 2 * np.tanh(x) * (1 - np.tanh(x) ** 2))


def test_source_same_variable_chain_has_no_unbroadcast():
    def f(x):
        y = np.exp(x) * np.sin(x)
        return np.sum(np.log1p(y * y))
    src = srcgrad.grad(f).source
    assert "unbroadcast" not in src
    check(f, rand((5,), seed=3))


def test_source_broadcast_operand_is_summed_back():
    def f(x, b):
        return np.sum(np.tanh(x + b))
    src = srcgrad.grad(f, wrt=(0, 1)).source
    assert "unbroadcast" in src
    check(f, rand((3, 4), seed=1), rand((4,), seed=2), wrt=(0, 1))


def test_source_scalar_operand_uses_sum():
    """A full reduction is a known scalar: its adjoint is a plain np.sum, no unbroadcast."""
    def f(x):
        m = np.mean(x)
        return np.sum(np.exp(x - m) * 2.0)
    src = adjoint_part(srcgrad.grad(f).source)
    assert "np.sum(" in src and "unbroadcast" not in src and "broadcast_to" not in src
    x = rand((3, 4), seed=1)
    e = np.exp(x - x.mean())
    np.testing.assert_allclose(check(f, x), 2.0 * e - 2.0 * np.sum(e) / x.size)


def test_python_float_parameter_gradient():
    def f(x, s):
        return np.sum(np.exp(x * s))
    x = rand((3, 4), seed=1)
    dx, ds = check(f, x, 0.7, wrt=(0, 1))
    assert isinstance(ds, float)
    np.testing.assert_allclose(ds, np.sum(x * np.exp(0.7 * x)))
    np.testing.assert_allclose(dx, 0.7 * np.exp(0.7 * x))


def test_deep_chain_of_unary_rules():
    def f(x):
        a = np.sqrt(np.exp(x) + 1.0)
        b = np.arctan(np.sinh(a) / np.cosh(a))
        c = np.log(np.cosh(b)) * np.cbrt(x + 3.0)
        return np.sum(np.tanh(c) + np.expm1(-c ** 2) + np.log10(a) + np.exp2(b))
    check(f, rand((2, 3), seed=9))


# --- argument types -------------------------------------------------------------

def test_python_int_argument():
    def f(x):
        return x ** 3 + np.sin(x)
    got = srcgrad.grad(f)(2)
    assert isinstance(got, float)
    assert got == pytest.approx(12.0 + np.cos(2.0), rel=1e-14)


def test_integer_array_argument_gets_float_gradient():
    def f(x):
        return np.sum(x * x + 0.5 * x)
    x = np.arange(1, 5)
    got = srcgrad.grad(f)(x)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, 2.0 * x + 0.5)


def test_float32_argument_keeps_its_dtype():
    def f(x, y):
        return np.sum(np.tanh(x) * y)
    x = rand((3, 4), seed=1).astype(np.float32)
    y = rand((4,), seed=2)
    dx, dy = srcgrad.grad(f, wrt=(0, 1))(x, y)
    assert dx.dtype == np.float32 and dy.dtype == np.float64
    np.testing.assert_allclose(dx, (1 - np.tanh(x) ** 2) * y, rtol=1e-5)
    np.testing.assert_allclose(dy, np.sum(np.tanh(x), axis=0), rtol=1e-5)


def test_same_variable_in_both_operands():
    def f(x):
        return np.sum(x ** x + x * x - x / (x + 2.0) + np.hypot(x, x) + np.arctan2(x, x + 3.0))
    check(f, rand((2, 3), 0.3, 2.0, seed=3))


@reverse(np.logaddexp)
def test_logaddexp_is_stable_for_large_arguments():
    def f(x, y):
        return np.sum(np.logaddexp(x, y) + np.logaddexp2(x, y))
    x = np.array([1000.0, -1000.0, 700.0])
    y = np.array([1000.5, -999.0, 700.0])
    dx, dy = srcgrad.grad(f, wrt=(0, 1))(x, y)
    assert np.all(np.isfinite(dx)) and np.all(np.isfinite(dy))
    s = 1.0 / (1.0 + np.exp(y - x))
    s2 = 1.0 / (1.0 + 2.0 ** (y - x))
    np.testing.assert_allclose(dx, s + s2)
    np.testing.assert_allclose(dy, (1 - s) + (1 - s2))


def test_broadcast_chain_through_several_rules():
    def f(x, b, c):
        h = np.tanh(x * b + c)
        return np.sum(np.log1p(np.exp(h)) * b - h / (c + 3.0))
    x, b, c = rand((3, 4), seed=1), rand((4,), seed=2), rand((3, 1), seed=3)
    check(f, x, b, c, wrt=(0, 1, 2))


def test_modulo_operator_is_not_silently_constant():
    def f(x):
        return np.sum((x % 1.0) * 3.0)
    x = np.array([0.3, 1.7, 2.2])
    try:
        got = srcgrad.grad(f)(x)
    except srcgrad.NoDerivativeRuleError:
        return                      # refusing is fine too; a wrong answer is not
    np.testing.assert_allclose(got, [3.0, 3.0, 3.0])


@reverse(np.mod, np.fmod)
@pytest.mark.parametrize("op", ["mod", "fmod", "operator"])
def test_modulo_both_operands(op):
    def f_mod(x, c):
        return np.sum(np.mod(x, c) ** 2)

    def f_fmod(x, c):
        return np.sum(np.fmod(x, c) ** 2)

    def f_operator(x, c):
        return np.sum((x % c) ** 2)
    f = {"mod": f_mod, "fmod": f_fmod, "operator": f_operator}[op]
    x = np.array([[0.3, 1.7, -2.2], [4.1, -0.6, 5.3]])
    c = np.array([0.7, 1.3, 2.1])
    check(f, x, c, wrt=(0, 1))


@reverse(np.heaviside)
def test_heaviside_value_at_zero_has_a_gradient():
    def f(x, h0):
        return np.sum(np.heaviside(x, h0) * np.array([1.0, 2.0, 4.0]))
    x = np.array([0.0, 0.5, -0.5])
    dx, dh0 = srcgrad.grad(f, wrt=(0, 1))(x, 0.3)
    np.testing.assert_array_equal(dx, 0.0)        # a step: flat where it is not a jump
    assert dh0 == 1.0                             # heaviside(0, h0) = h0
    assert srcgrad.jvp(f, (x, 0.3), (None, 1.0))[1] == 1.0


# ==============================================================================================
# Forward mode: each rule of the family on a case of its own (`@case(function, *args)`),
# against central differences along random directions (support.check_jvp).
# ==============================================================================================

# --- elementwise: unary, with a domain where the function is smooth ---------------------------
UNARY_CASES = [(np.negative, -2, 2), (np.positive, -2, 2), (np.square, -2, 2), (np.sqrt, 0.2, 3),
         (np.cbrt, 0.3, 2), (np.reciprocal, 0.3, 2), (np.exp, -2, 2), (np.exp2, -2, 2),
         (np.expm1, -2, 2), (np.log, 0.2, 3), (np.log2, 0.2, 3), (np.log10, 0.2, 3),
         (np.log1p, -0.7, 3), (np.sin, -3, 3), (np.cos, -3, 3), (np.tan, -1.2, 1.2),
         (np.arcsin, -0.9, 0.9), (np.arccos, -0.9, 0.9), (np.arctan, -3, 3), (np.sinh, -2, 2),
         (np.cosh, -2, 2), (np.tanh, -2, 2), (np.arcsinh, -3, 3), (np.arccosh, 1.2, 3),
         (np.arctanh, -0.9, 0.9), (np.absolute, 0.3, 2), (np.fabs, -2, -0.3),
         (np.deg2rad, -90, 90), (np.rad2deg, -2, 2), (np.radians, -90, 90), (np.degrees, -2, 2)]


def unary_of(fn):
    def unary(x):
        return fn(x)           # (fn: a closure variable, which srcgrad reads as it is)
    return unary


def binary_of(fn):
    def binary(x, y):
        return fn(x, y)
    return binary


for _fn, _lo, _hi in UNARY_CASES:
    case(_fn, uniform((3, 4), _lo, _hi, seed=1))(unary_of(_fn))
    case(_fn, uniform("float", _lo, _hi, seed=2))(unary_of(_fn))

BINARY_CASES = [(np.add, (-2, 2), (-2, 2)), (np.subtract, (-2, 2), (-2, 2)),
          (np.multiply, (-2, 2), (-2, 2)), (np.divide, (-2, 2), (0.5, 2)),
          (np.power, (0.3, 2), (-2, 2)), (np.float_power, (0.3, 2), (-2, 2)),
          (np.mod, (0.1, 5), (1.1, 1.7)), (np.remainder, (0.1, 5), (1.1, 1.7)),
          (np.fmod, (0.1, 5), (1.1, 1.7)), (np.arctan2, (-2, 2), (0.3, 2)),
          (np.hypot, (0.3, 2), (-2, -0.3)), (np.logaddexp, (-3, 3), (-3, 3)),
          (np.logaddexp2, (-3, 3), (-3, 3)), (np.maximum, (-2, 2), (-2, 2)),
          (np.minimum, (-2, 2), (-2, 2)), (np.fmax, (-2, 2), (-2, 2)), (np.fmin, (-2, 2), (-2, 2))]

for _fn, _xd, _yd in BINARY_CASES:
    for _xs, _ys in [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((4,), (3, 4)), ("float", (3, 4)),
                     ((3, 4), "float")]:
        case(_fn, uniform(_xs, *_xd, seed=3), uniform(_ys, *_yd, seed=4))(binary_of(_fn))


@case(np.add, uniform((2, 3), 0.5, 2, seed=1), uniform((3,), seed=2))
@case(np.multiply, uniform((2, 3), 0.5, 2, seed=1), uniform((3,), seed=2))
@case(np.subtract, uniform((2, 3), 0.5, 2, seed=1), uniform((3,), seed=2))
@case(np.divide, uniform((2, 3), 0.5, 2, seed=1), uniform((3,), 1, 2, seed=2))
@case(np.power, uniform((2, 3), 0.5, 2, seed=1), uniform((3,), seed=2))
def operators(x, y):
    return (x + y) * (x - y) / y + x ** y + -x * +y


@case(np.power, uniform((3, 4), 0.5, 2, seed=5))
@case(np.multiply, uniform((3, 4), 0.5, 2, seed=5))
def constant_powers(x):
    return x ** 2 + x ** 0.5 + 2.0 ** x + x * x


@case(np.absolute, uniform("float", seed=6), uniform((2, 3), seed=7))
@case(np.maximum, uniform("float", seed=6), uniform((2, 3), seed=7))
@case(np.minimum, uniform("float", seed=6), uniform((2, 3), seed=7))
def builtins_for_ufuncs(s, x):
    return abs(x) + abs(s) + max(s, 0.1) * min(s, 0.5)


@case(np.clip, avoid_zero(uniform((3, 4), -2, 2, seed=7), 0.3), -0.5, 0.7)
def clip_constant_bounds(a, lo, hi):
    return np.clip(a, -0.5, 0.7) * np.clip(a, lo, hi)


@case(np.clip, uniform((3, 4), -2, 2, seed=7), uniform((3, 4), -2, -0.8, seed=8), uniform((4,), 0.8, 2, seed=9))
def clip_array_bounds(a, lo, hi):
    return np.clip(a, lo, hi) + a.clip(lo, None)


@case(np.where, uniform((3, 4), seed=10), uniform((4,), seed=11))
def where(x, y):
    return np.where(x > 0, x, y) + np.where(y < 0, 2.0, x * y)


@case(np.heaviside, avoid_zero(uniform((3,), seed=70), 0.3), uniform("float", seed=71))
def steps(x, h):
    return np.heaviside(x, h), np.heaviside(np.array([0.0, 1.0]), h * x[:2])


@pytest.mark.parametrize("key,f,args", RULE_TESTS.cases, ids=RULE_TESTS.case_ids())
def test_rule_jvp(key, f, args):
    check_jvp(f, *args)
