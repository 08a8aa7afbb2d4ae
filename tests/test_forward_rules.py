"""Forward-mode tests for every rule of srcgrad/rules.py, against central finite differences.

Each rule (the table's NumPy functions, indexing, writes, and the runtime helpers generated
gradients call) has cases below, registered with `@case(function)`; `test_every_rule_has_a_case`
fails when a rule is added without one.  Each case is checked with all its float arguments
carrying a tangent and with each one alone, so arguments without a tangent drop out correctly.
Results are arrays of any shape, not only scalars.
"""
import numpy as np
import pytest
from support import check_jvp

import srcgrad
from srcgrad import rules
from srcgrad.runtime import (c_adjoint, concatenate_adjoint, diag_adjoint, dot_adjoint, einsum_adjoint,
                             hstack_adjoint, index_adjoint, inner_adjoint, matmul_adjoint_lhs,
                             matmul_adjoint_rhs, meshgrid_adjoint, norm_adjoint, prod_adjoint,
                             r_adjoint, repeat_adjoint, solve_adjoint, tape_pop, tape_push,
                             tensordot_adjoint, tile_adjoint, trace_adjoint, unbroadcast,
                             vstack_adjoint, zero_at)

CASES = []        # (rule key, function, arguments)


def case(key, *args):
    """Register `f(*args)` as a case of the rule for `key` (a NumPy function or helper)."""
    def register(f):
        CASES.append((key, f, args))
        return f
    return register


def rand(shape, lo=-1.0, hi=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return float(rng.uniform(lo, hi)) if shape == "float" else rng.uniform(lo, hi, size=shape)


def away_from_zero(x, margin=0.3):
    return np.where(np.abs(x) < margin, np.sign(x) * margin + x, x)


def well_conditioned(n, seed=0, batch=()):
    return rand(batch + (n, n), seed=seed) + 3.0 * np.eye(n)


# --- elementwise: unary, with a domain where the function is smooth ---------------------------
UNARY = [(np.negative, -2, 2), (np.positive, -2, 2), (np.square, -2, 2), (np.sqrt, 0.2, 3),
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


def extremes_of(fn):
    def extremes(a):
        return fn(a), fn(a, axis=0), fn(a, axis=1, keepdims=True)
    return extremes


for _fn, _lo, _hi in UNARY:
    case(_fn, rand((3, 4), _lo, _hi, seed=1))(unary_of(_fn))
    case(_fn, rand("float", _lo, _hi, seed=2))(unary_of(_fn))

BINARY = [(np.add, (-2, 2), (-2, 2)), (np.subtract, (-2, 2), (-2, 2)),
          (np.multiply, (-2, 2), (-2, 2)), (np.divide, (-2, 2), (0.5, 2)),
          (np.power, (0.3, 2), (-2, 2)), (np.float_power, (0.3, 2), (-2, 2)),
          (np.mod, (0.1, 5), (1.1, 1.7)), (np.remainder, (0.1, 5), (1.1, 1.7)),
          (np.fmod, (0.1, 5), (1.1, 1.7)), (np.arctan2, (-2, 2), (0.3, 2)),
          (np.hypot, (0.3, 2), (-2, -0.3)), (np.logaddexp, (-3, 3), (-3, 3)),
          (np.logaddexp2, (-3, 3), (-3, 3)), (np.maximum, (-2, 2), (-2, 2)),
          (np.minimum, (-2, 2), (-2, 2)), (np.fmax, (-2, 2), (-2, 2)), (np.fmin, (-2, 2), (-2, 2))]

for _fn, _xd, _yd in BINARY:
    for _xs, _ys in [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((4,), (3, 4)), ("float", (3, 4)),
                     ((3, 4), "float")]:
        case(_fn, rand(_xs, *_xd, seed=3), rand(_ys, *_yd, seed=4))(binary_of(_fn))


@case(np.add, rand((2, 3), 0.5, 2, seed=1), rand((3,), seed=2))
@case(np.multiply, rand((2, 3), 0.5, 2, seed=1), rand((3,), seed=2))
@case(np.subtract, rand((2, 3), 0.5, 2, seed=1), rand((3,), seed=2))
@case(np.divide, rand((2, 3), 0.5, 2, seed=1), rand((3,), 1, 2, seed=2))
@case(np.power, rand((2, 3), 0.5, 2, seed=1), rand((3,), seed=2))
def operators(x, y):
    return (x + y) * (x - y) / y + x ** y + -x * +y


@case(np.power, rand((3, 4), 0.5, 2, seed=5))
@case(np.multiply, rand((3, 4), 0.5, 2, seed=5))
def constant_powers(x):
    return x ** 2 + x ** 0.5 + 2.0 ** x + x * x


@case(np.absolute, rand("float", seed=6), rand((2, 3), seed=7))
@case(np.maximum, rand("float", seed=6), rand((2, 3), seed=7))
@case(np.minimum, rand("float", seed=6), rand((2, 3), seed=7))
def builtins_for_ufuncs(s, x):
    return abs(x) + abs(s) + max(s, 0.1) * min(s, 0.5)


@case(np.clip, away_from_zero(rand((3, 4), -2, 2, seed=7)), -0.5, 0.7)
def clip_constant_bounds(a, lo, hi):
    return np.clip(a, -0.5, 0.7) * np.clip(a, lo, hi)


@case(np.clip, rand((3, 4), -2, 2, seed=7), rand((3, 4), -2, -0.8, seed=8), rand((4,), 0.8, 2, seed=9))
def clip_array_bounds(a, lo, hi):
    return np.clip(a, lo, hi) + a.clip(lo, None)


@case(np.where, rand((3, 4), seed=10), rand((4,), seed=11))
def where(x, y):
    return np.where(x > 0, x, y) + np.where(y < 0, 2.0, x * y)


# --- reductions ---------------------------------------------------------------------------
A34 = rand((3, 4), 0.5, 1.5, seed=12)


@case(np.sum, A34)
def sums(a):
    return np.sum(a), np.sum(a, axis=0), a.sum(1, keepdims=True), np.sum(a, (0, 1))


@case(np.mean, A34)
def means(a):
    return np.mean(a), np.mean(a, axis=1), a.mean(axis=0, keepdims=True)


@case(np.prod, A34)
def prods(a):
    return np.prod(a), np.prod(a, axis=0), a.prod(axis=1, keepdims=True)


@case(np.prod, np.array([[0.0, 2.0, 3.0], [1.5, 0.0, 0.0]]))
def prod_with_zeros(a):
    return np.prod(a, axis=1), np.prod(a)


for _fn in (np.max, np.amax, np.min, np.amin):
    case(_fn, A34)(extremes_of(_fn))


@case(np.max, A34)
@case(np.min, A34)
def extreme_methods(a):
    return a.max(axis=1) - a.min()


@case(np.var, A34)
def variances(a):
    return np.var(a), np.var(a, axis=0), np.var(a, axis=1, ddof=1, keepdims=True), a.var()


@case(np.std, A34)
def deviations(a):
    return np.std(a), np.std(a, axis=0, ddof=1), a.std(axis=1, keepdims=True)


@case(rules.np.linalg.norm, A34)
def norms(a):
    return (np.linalg.norm(a), np.linalg.norm(a, axis=1), np.linalg.norm(a, axis=0, keepdims=True),
            np.linalg.norm(a[0], 1), np.linalg.norm(a[1], np.inf), np.linalg.norm(a[2], 3),
            np.linalg.norm(a, "fro"), np.linalg.norm(a, "nuc"), np.linalg.norm(a, 2),
            np.linalg.norm(a, 1), np.linalg.norm(a, -np.inf))


@case(np.cumsum, A34)
def cumsums(a):
    return np.cumsum(a), np.cumsum(a, axis=0), a.cumsum(axis=1)


# --- linear algebra -------------------------------------------------------------------------
@case(np.matmul, rand((3, 4), seed=13), rand((4, 2), seed=14))
def matmul_2d(a, b):
    return a @ b, np.matmul(a, b[:, 0]), a[0] @ b, a @ a.T


@case(np.matmul, rand((2, 3, 4), seed=15), rand((4, 5), seed=16))
def matmul_batched(a, b):
    return a @ b


@case(np.dot, rand((3, 4), seed=17), rand((4,), seed=18))
def dots(a, b):
    return np.dot(a, b), a.dot(b), np.dot(b, b), np.dot(2.0, b), np.dot(a, a.T)


@case(np.outer, rand((3,), seed=19), rand((4,), seed=20))
@case(np.inner, rand((3,), seed=19), rand((4,), seed=20))
@case(np.vdot, rand((3,), seed=19), rand((4,), seed=20))
def products(a, b):
    return np.outer(a, b), np.inner(a, a), np.vdot(b, b)


@case(np.tensordot, rand((2, 3, 4), seed=21), rand((3, 4, 5), seed=22))
def tensordots(a, b):
    return np.tensordot(a, b), np.tensordot(a, b, axes=([1], [0]))


@case(np.einsum, rand((3, 4), seed=23), rand((4, 5), seed=24))
def einsums(a, b):
    return np.einsum("ij,jk->ik", a, b), np.einsum("ij,ij->i", a, a), np.einsum("ii", a[:, :3])


@case(np.trace, rand((3, 4), seed=25))
def traces(a):
    return np.trace(a), np.trace(a, 1), a.trace()


@case(np.diag, rand((3, 4), seed=26), rand((3,), seed=27))
def diags(a, v):
    return np.diag(a), np.diag(v), np.diag(v, 1)


@case(rules.np.linalg.inv, well_conditioned(3, seed=28))
@case(rules.np.linalg.inv, well_conditioned(3, seed=29, batch=(2,)))
def inverse(a):
    return np.linalg.inv(a)


@case(rules.np.linalg.solve, well_conditioned(3, seed=30), rand((3,), seed=31))
@case(rules.np.linalg.solve, well_conditioned(3, seed=30), rand((3, 2), seed=31))
@case(rules.np.linalg.solve, well_conditioned(3, seed=30, batch=(2,)), rand((2, 3, 2), seed=31))
def solve(a, b):
    return np.linalg.solve(a, b)


@case(rules.np.linalg.det, well_conditioned(3, seed=32))
@case(rules.np.linalg.det, well_conditioned(2, seed=33, batch=(3,)))
def determinant(a):
    return np.linalg.det(a)


@case(rules.np.linalg.slogdet, well_conditioned(3, seed=34))
def log_determinant(a):
    sign, logdet = np.linalg.slogdet(a)
    return logdet * sign


# --- shape --------------------------------------------------------------------------------
X234 = rand((2, 3, 4), seed=35)


@case(np.reshape, X234)
@case(np.ravel, X234)
@case(np.expand_dims, X234)
@case(np.squeeze, X234)
def reshapes(x):
    return (np.reshape(x, (6, 4)), x.reshape(4, 6), x.reshape(-1), np.ravel(x), x.flatten(),
            np.expand_dims(x, 1), np.squeeze(x[:1]), x[:, :1].squeeze(axis=1))


@case(np.asarray, X234)
@case(np.array, X234)
@case(np.copy, X234)
def copies(x):
    return np.asarray(x), np.array(x), x.copy(), np.copy(x), float(x[0, 0, 0])


@case(np.transpose, X234)
@case(np.swapaxes, X234)
@case(np.moveaxis, X234)
def transposes(x):
    return (x.T, np.transpose(x), np.transpose(x, (1, 0, 2)), x.transpose(2, 0, 1),
            np.swapaxes(x, 0, 2), np.moveaxis(x, 0, -1))


@case(np.flip, X234)
@case(np.roll, X234)
def flips(x):
    return np.flip(x), np.flip(x, 1), np.roll(x, 2), np.roll(x, -1, axis=2)


@case(np.triu, rand((4, 4), seed=36))
@case(np.tril, rand((4, 4), seed=36))
def triangles(m):
    return np.triu(m), np.tril(m, -1), np.triu(m, 1)


@case(np.broadcast_to, rand((4,), seed=37))
def broadcasts(x):
    return np.broadcast_to(x, (3, 4))


@case(np.concatenate, rand((2, 3), seed=38), rand((4, 3), seed=39))
@case(np.stack, rand((2, 3), seed=38), rand((4, 3), seed=39))
@case(np.hstack, rand((2, 3), seed=38), rand((4, 3), seed=39))
@case(np.vstack, rand((2, 3), seed=38), rand((4, 3), seed=39))
def joins(a, b):
    return (np.concatenate([a, b]), np.concatenate((a, b[:2]), axis=1), np.stack([a, b[:2]]),
            np.stack([a, a, b[1:3]], axis=-1), np.hstack([a, b[:2]]), np.vstack([a, b, a]),
            np.concatenate([a, np.ones((1, 3))]))


@case(np.r_, rand((3,), seed=60), rand("float", seed=61))
@case(np.c_, rand((3,), seed=60), rand("float", seed=61))
def index_tricks(a, s):
    return np.r_[a, s, 2.0, a[:2]], np.r_[a], np.c_[a, a * s], np.c_[np.ones((3, 2)), a]


# --- building arrays -----------------------------------------------------------------------
@case(np.full, rand("float", seed=62), rand((3,), seed=63))
@case(np.full_like, rand("float", seed=62), rand((3,), seed=63))
def fills(s, v):
    return (np.full((2, 3), s), np.full((2, 3), v), np.full(3, s, dtype=float),
            np.full(3, s, dtype=int), np.full_like(v, s), np.full_like(np.arange(3), s))


@case(np.arange, rand("float", 0.1, 0.5, seed=64), rand("float", 0.2, 0.3, seed=65))
def ranges(a, h):
    return np.arange(a, 2.0, h), np.arange(a + 3.3), np.arange(0.0, 1.0, step=h)


@case(np.linspace, rand("float", seed=66), rand((3,), 1, 2, seed=67))
@case(np.logspace, rand("float", seed=66), rand((3,), 1, 2, seed=67))
@case(np.geomspace, rand("float", 0.2, 1, seed=66), rand((3,), 1, 2, seed=67))
def spaces(a, b):
    return (np.linspace(a, b, 4), np.linspace(a, 2.0, 5, endpoint=False), np.linspace(b, a, 3, axis=-1),
            np.logspace(a, b, 4, base=b[0]), np.logspace(b, a, 3, axis=1),
            np.geomspace(abs(a) + 0.1, b, 4), np.geomspace(b, 3.0, 3, False, axis=-1))


@case(np.meshgrid, rand((3,), seed=68), rand((2,), seed=69))
def grids(x, y):
    a, b = np.meshgrid(x, y)
    c, d = np.meshgrid(x, y * 2.0, indexing="ij", sparse=True)
    e = np.meshgrid(y, x)
    return a * b, c + d, e[0] - e[1]


@case(np.heaviside, away_from_zero(rand((3,), seed=70)), rand("float", seed=71))
def steps(x, h):
    return np.heaviside(x, h), np.heaviside(np.array([0.0, 1.0]), h * x[:2])


@case(np.tile, rand((2, 3), seed=40))
@case(np.repeat, rand((2, 3), seed=40))
def repeats(a):
    return np.tile(a, 2), np.tile(a, (2, 1)), np.repeat(a, 2), np.repeat(a, [1, 3], axis=0)


# --- indexing and writes ------------------------------------------------------------------
@case(rules.getitem, rand((4, 3), seed=41))
def reads(x):
    return x[1], x[1:3, ::2], x[[0, 2, 2]], x[x > 0], x[..., -1], x[:, None, 0]


@case(rules.with_set, rand((4, 3), seed=42), rand((3,), seed=43))
def writes(x, v):
    x = x * 1.0               # (writing into the caller's array would change the reference too)
    x[1] = v
    x[2, 0] = 5.0
    x[[0, 3], 1] = v[:2]
    x[:, 2] += v[0]
    return x


# --- forward rules only: runtime helpers of generated gradients -----------------------------
G34, G4 = rand((3, 4), seed=44), rand((4,), seed=45)


@case(np.take, G34)
def takes(g):
    return np.take(g, 1, 0), np.take(g, [0, 2], axis=1)


@case(unbroadcast, G34)
@case(index_adjoint, G34)
@case(zero_at, G34)
def scatters(g):
    return unbroadcast(g, G4), unbroadcast(g, 1.0), index_adjoint(g[0], G34, 1), zero_at(g, (0, 1))


@case(concatenate_adjoint, rand((5, 3), seed=46))
@case(hstack_adjoint, rand((5, 3), seed=46))
@case(vstack_adjoint, rand((5, 3), seed=46))
def join_adjoints(g):
    parts = (np.ones((2, 3)), np.ones((3, 3)))
    return (concatenate_adjoint(g, parts, 0, 1), hstack_adjoint(g.T, (np.ones((3, 2)), np.ones((3, 3))), 0),
            vstack_adjoint(g, parts, 1))


@case(r_adjoint, rand((6,), seed=72))
@case(c_adjoint, rand((6,), seed=72))
@case(meshgrid_adjoint, rand((6,), seed=72))
def index_trick_adjoints(g):
    parts = (np.ones(2), 1.0, np.ones(3))
    return (r_adjoint(g, parts, 2), c_adjoint(np.reshape(g, (2, 3)), (np.ones(2), np.ones((2, 2))), 1),
            meshgrid_adjoint(np.reshape(g, (2, 3)), (np.ones(3), np.ones(2)), 1))


@case(diag_adjoint, G34)
@case(trace_adjoint, G34)
@case(tile_adjoint, G34)
@case(repeat_adjoint, G34)
def shape_adjoints(g):
    return (diag_adjoint(g[0, :3], np.ones((3, 3))), trace_adjoint(g[0, 0], np.ones((3, 4))),
            tile_adjoint(g, np.ones((3, 2)), (1, 2)), repeat_adjoint(g, np.ones((3, 2)), 2, 1))


@case(matmul_adjoint_lhs, rand((3, 2), seed=47), rand((3, 4), seed=48), rand((4, 2), seed=49))
@case(matmul_adjoint_rhs, rand((3, 2), seed=47), rand((3, 4), seed=48), rand((4, 2), seed=49))
def matmul_adjoints(g, a, b):       # g: the adjoint of a @ b
    return (matmul_adjoint_lhs(g, a, b), matmul_adjoint_rhs(g, a, b),
            matmul_adjoint_lhs(g[0], a[0], b), matmul_adjoint_rhs(g[:, 0], a, b[:, 0]))


@case(dot_adjoint, rand((3,), seed=49), rand((3, 4), seed=50), rand((4,), seed=51))
@case(inner_adjoint, rand((3,), seed=49), rand((3, 4), seed=50), rand((4,), seed=51))
@case(tensordot_adjoint, rand((3,), seed=49), rand((3, 4), seed=50), rand((4,), seed=51))
def product_adjoints(g, a, b):
    return (dot_adjoint(g, a, b, 0), dot_adjoint(g, a, b, 1), inner_adjoint(g, a, b, 0),
            inner_adjoint(g, a, b, 1), tensordot_adjoint(g, a, b, 1, 0), tensordot_adjoint(g, a, b, 1, 1))


@case(einsum_adjoint, rand((3, 5), seed=52), rand((3, 4), seed=53), rand((4, 5), seed=54))
def einsum_adjoints(g, a, b):
    return einsum_adjoint(g, "ij,jk->ik", (a, b), 0), einsum_adjoint(g, "ij,jk->ik", (a, b), 1)


P34 = rand((3, 4), 0.5, 1.5, seed=55)


@case(prod_adjoint, rand((4,), seed=56))
@case(norm_adjoint, rand((4,), seed=56))
@case(solve_adjoint, rand((4,), seed=56))
def nonlinear_adjoints_in_g(g):
    A = well_conditioned(4, seed=57)
    return (prod_adjoint(g, np.prod(P34, axis=0), P34, 0, False),
            norm_adjoint(g, np.linalg.norm(P34, 1, axis=0), P34, 1, 0, False),
            solve_adjoint(g, np.linalg.solve(A, P34[0]), A, P34[0], 0),
            solve_adjoint(g, np.linalg.solve(A, P34[0]), A, P34[0], 1))


@case(tape_push, rand((3,), seed=58), 0.5)
@case(tape_pop, rand((3,), seed=58), 0.5)
def tapes(x, s):
    tape = tape_push(tape_push([], x * s), (x, 2.0))
    (a, b), tape = tape_pop(tape)
    c, tape = tape_pop(tape)
    return a * b + c, len(tape)


# --- the tests ------------------------------------------------------------------------------
def _key_name(key):
    rule = rules.RULES.get(key) or rules.FORWARD_ONLY.get(key)
    return rule.name


def test_every_rule_has_a_case():
    covered = {key for key, _, _ in CASES}
    missing = [_key_name(k) for k in list(rules.RULES) + list(rules.FORWARD_ONLY) if k not in covered]
    assert not missing, f"rules without a forward-mode case: {missing}"


@pytest.mark.parametrize("key,f,args", CASES,
                         ids=[f"{_key_name(k)}-{f.__name__}-{i}" for i, (k, f, _) in enumerate(CASES)])
def test_rule_jvp(key, f, args):
    check_jvp(f, *args)


def test_each_rule_has_a_forward_rule_of_its_kind():
    """Elementwise rules derive theirs; the others say `linear`, `multilinear` or give a
    template whose parameters are the rule's (so the template binds)."""
    from srcgrad import templates
    for rule in list(rules.RULES.values()) + list(rules.FORWARD_ONLY.values()):
        if rule.func in rules.FORWARD_ONLY and rule is not rules.FORWARD_ONLY[rule.func]:
            continue      # a helper of generated gradients: forward mode uses its FORWARD_ONLY rule
        if rule.jvp is None:
            assert rule.family == "elementwise", rule
        elif callable(rule.jvp):
            names = [a.id for a in templates.lambda_node(rule.jvp).args.args]
            assert names[:2] == ["t", "ans"], rule
            if rule.template is not None:
                params, vararg, _ = templates.parameters(rule.template)
                params += templates.keyword_only(rule.template)
                assert set(names[2:]) <= set(params) | {vararg}, rule
        else:
            assert rule.jvp in (rules.linear, rules.multilinear), rule


def test_missing_forward_rule_of_a_helper_is_an_error():
    def f(a):
        return prod_adjoint(np.ones(3), np.prod(a, axis=0), a, 0, False)
    with pytest.raises(srcgrad.NoDerivativeRuleError, match="prod_adjoint with respect to its argument `ans`"):
        srcgrad.jvp(f, (P34[:, :3],), (np.ones((3, 3)),))
