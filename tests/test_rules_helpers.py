"""Tests of the rules of the runtime helpers generated gradients call (unbroadcast,
index_adjoint, matmul_adjoint_lhs, ..., the tape), so that gradients of gradients and
jvp(grad(f)) work; and the test that every rule of srcgrad/rules.py is tested in both modes.

Rule tests live with their family: tests/test_rules_elementwise.py, _reductions, _linalg,
_shape, _creation, _special (scipy.special, when SciPy is installed), test_indexing.py (indexing
and writes) and this file (the helpers).  In
each, `@reverse(function, ...)` marks a test of the gradient through those rules and
`@case(function, *args)` registers a forward-mode case (support.RuleTests);
`test_every_rule_is_tested_in_both_modes` fails when a rule is added without either.
Forward cases are checked with all their float arguments carrying a tangent and with each one
alone, so arguments without a tangent drop out correctly; results are arrays of any shape.
"""
import importlib

import numpy as np
import pytest
from support import RuleTests, check, check_jvp, uniform

import srcgrad
from srcgrad import rules
from srcgrad.runtime import (accumulate, c_adjoint, concatenate_adjoint, diag_adjoint, dot_adjoint, einsum_adjoint,
                             hstack_adjoint, index_adjoint, inner_adjoint, matmul_adjoint_lhs,
                             matmul_adjoint_rhs, meshgrid_adjoint, norm_adjoint, prod_adjoint,
                             r_adjoint, repeat_adjoint, solve_adjoint, sum_over, tape_pop, tape_push,
                             tensordot_adjoint, tile_adjoint, trace_adjoint, unbroadcast,
                             vstack_adjoint, zero_at)
from srcgrad.shape_adjoints import (permutation_adjoint, corrcoef_adjoint, cov_adjoint, average_adjoint, average_weights_adjoint, column_stack_adjoint, compress_adjoint, convolve_adjoint,
                                    correlate_adjoint, cross_adjoint, cumprod_adjoint, diagonal_adjoint, diff_adjoint,
                                    dstack_adjoint, gradient_adjoint, gradient_spacing_adjoint, interp_adjoint, interp_x_adjoint, kron_adjoint, pad_adjoint,
                                    quantile_adjoint, rollaxis_adjoint, take_adjoint, take_along_axis_adjoint,
                                    trapezoid_adjoint)

RULE_TESTS = RuleTests()         # this family's rules: forward cases, reverse tests
case, reverse = RULE_TESTS.case, RULE_TESTS.reverse

# The family files, whose RULE_TESTS together must test every rule in both modes.
FAMILY_FILES = ["test_rules_elementwise", "test_rules_reductions", "test_rules_linalg", "test_rules_shape",
                "test_rules_creation", "test_indexing", "test_rules_helpers", "test_rules_complex"]
if rules.load_scipy(import_it=True):          # SciPy installed: its rules are registered and tested
    FAMILY_FILES += ["test_rules_special", "test_rules_scipy"]


def well_conditioned(n, seed=0, batch=()):
    return uniform(batch + (n, n), seed=seed) + 3.0 * np.eye(n)


# --- forward rules only: runtime helpers of generated gradients -----------------------------
G34, G4 = uniform((3, 4), seed=44), uniform((4,), seed=45)


@case(np.take, G34)
def takes(g):
    return np.take(g, 1, 0), np.take(g, [0, 2], axis=1)


@case(unbroadcast, G34)
@case(index_adjoint, G34)
@case(zero_at, G34)
@case(sum_over, G34)
@case(accumulate, G34)
def scatters(g):
    return (unbroadcast(g, G4), unbroadcast(g, 1.0), index_adjoint(g[0], G34, 1), zero_at(g, (0, 1)),
            sum_over(g[0], G34), sum_over(g[0, 0], 2.0), accumulate(np.zeros((3, 4)), g * 2.0),
            accumulate(0.0, g))


@case(concatenate_adjoint, uniform((5, 3), seed=46))
@case(hstack_adjoint, uniform((5, 3), seed=46))
@case(vstack_adjoint, uniform((5, 3), seed=46))
def join_adjoints(g):
    parts = (np.ones((2, 3)), np.ones((3, 3)))
    return (concatenate_adjoint(g, parts, 0, 1), hstack_adjoint(g.T, (np.ones((3, 2)), np.ones((3, 3))), 0),
            vstack_adjoint(g, parts, 1))


@case(r_adjoint, uniform((6,), seed=72))
@case(c_adjoint, uniform((6,), seed=72))
@case(meshgrid_adjoint, uniform((6,), seed=72))
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


@case(matmul_adjoint_lhs, uniform((3, 2), seed=47), uniform((3, 4), seed=48), uniform((4, 2), seed=49))
@case(matmul_adjoint_rhs, uniform((3, 2), seed=47), uniform((3, 4), seed=48), uniform((4, 2), seed=49))
def matmul_adjoints(g, a, b):       # g: the adjoint of a @ b
    return (matmul_adjoint_lhs(g, a, b), matmul_adjoint_rhs(g, a, b),
            matmul_adjoint_lhs(g[0], a[0], b), matmul_adjoint_rhs(g[:, 0], a, b[:, 0]))


@case(dot_adjoint, uniform((3,), seed=49), uniform((3, 4), seed=50), uniform((4,), seed=51))
@case(inner_adjoint, uniform((3,), seed=49), uniform((3, 4), seed=50), uniform((4,), seed=51))
@case(tensordot_adjoint, uniform((3,), seed=49), uniform((3, 4), seed=50), uniform((4,), seed=51))
def product_adjoints(g, a, b):
    return (dot_adjoint(g, a, b, 0), dot_adjoint(g, a, b, 1), inner_adjoint(g, a, b, 0),
            inner_adjoint(g, a, b, 1), tensordot_adjoint(g, a, b, 1, 0), tensordot_adjoint(g, a, b, 1, 1))


@case(einsum_adjoint, uniform((3, 5), seed=52), uniform((3, 4), seed=53), uniform((4, 5), seed=54))
def einsum_adjoints(g, a, b):
    return einsum_adjoint(g, "ij,jk->ik", (a, b), 0), einsum_adjoint(g, "ij,jk->ik", (a, b), 1)


P34 = uniform((3, 4), 0.5, 1.5, seed=55)


@case(prod_adjoint, uniform((4,), seed=56))
@case(norm_adjoint, uniform((4,), seed=56))
@case(solve_adjoint, uniform((4,), seed=56))
def nonlinear_adjoints_in_g(g):
    A = well_conditioned(4, seed=57)
    return (prod_adjoint(g, np.prod(P34, axis=0), P34, 0, False),
            norm_adjoint(g, np.linalg.norm(P34, 1, axis=0), P34, 1, 0, False),
            solve_adjoint(g, np.linalg.solve(A, P34[0]), A, P34[0], 0),
            solve_adjoint(g, np.linalg.solve(A, P34[0]), A, P34[0], 1))


@case(tape_push, uniform((3,), seed=58), 0.5)
@case(tape_pop, uniform((3,), seed=58), 0.5)
def tapes(x, s):
    tape = tape_push(tape_push([], x * s), (x, 2.0))
    (a, b), tape = tape_pop(tape)
    c, tape = tape_pop(tape)
    return a * b + c, len(tape)


# --- srcgrad/shape_adjoints.py: adjoints of issue 12's shape and array functions ---------------
S234 = uniform((2, 3, 4), seed=120)


@case(take_adjoint, G34)
@case(take_along_axis_adjoint, G34)
@case(permutation_adjoint, G34)
@case(compress_adjoint, G34)
@case(diagonal_adjoint, G34)
@case(rollaxis_adjoint, G34)
def gather_adjoints(g):
    return (take_adjoint(g, np.ones((3, 5)), [0, 2, 2, 1], 1), take_adjoint(g[0], S234, [5, 0, 5, 1]),
            take_along_axis_adjoint(g, np.ones((3, 2)), np.array([[0, 1, 0, 1]] * 3), 1),
            permutation_adjoint(g, S234[0], np.argsort(S234[0], 0), 0), permutation_adjoint(g[0], np.ones(4), [3, 0, 1, 2], None),
            compress_adjoint(g[:2], [True, False, True], np.ones((5, 4)), 0),
            diagonal_adjoint(g[:2, :3], S234, 0, 1, 2), rollaxis_adjoint(g, np.ones((4, 3)), 1))


@case(gradient_adjoint, uniform((3, 5), seed=121))
@case(gradient_spacing_adjoint, uniform((3, 5), seed=121))
@case(column_stack_adjoint, uniform((3, 5), seed=121))
@case(dstack_adjoint, uniform((3, 5), seed=121))
@case(diff_adjoint, uniform((3, 5), seed=121))
@case(pad_adjoint, uniform((3, 5), seed=121))
@case(trapezoid_adjoint, uniform((3, 5), seed=121))
def linear_adjoints(g):
    return (column_stack_adjoint(g, (np.ones(3), np.ones((3, 4))), 1), dstack_adjoint(g[None], (np.ones((1, 3)), np.ones((1, 3, 4))), 1),
            diff_adjoint(g, np.ones((3, 7)), 2, -1, None, 1.0, 0), diff_adjoint(g, np.ones((3, 7)), 2, 1, None, 1.0, 2),
            pad_adjoint(g, np.ones((1, 3)), ((1, 1), (1, 1)), "reflect"), pad_adjoint(g[:, :4], np.ones((2, 3)), (1, 0), "constant", 1, 2.0),
            trapezoid_adjoint(g[0], np.ones((5, 4)), None, 0.5, 1, 0), trapezoid_adjoint(g[0, :2], P34[:2].T, None, 0.5, 0, 2),
            gradient_adjoint(g, np.ones((3, 5)), (0.5,), 1, 2), gradient_adjoint(g[0], np.ones(5)),
            gradient_spacing_adjoint(g, np.gradient(np.outer(P34[:, 0], np.arange(5.0)), 0.5, axis=0), np.ones((3, 5)), (0.5,), 0, 1, 0))


@case(quantile_adjoint, G4)
@case(cumprod_adjoint, G4)
@case(average_adjoint, G4)
@case(average_weights_adjoint, G4)
@case(interp_adjoint, G4)
def nonlinear_helpers_in_g(g):
    x = np.array([0.1, 0.0, 0.7, -0.2])
    return (quantile_adjoint(g[:3], P34, 0.4, 1), cumprod_adjoint(g, np.cumprod(x), x, 0),
            average_adjoint(g[:3], P34, 1, G4), average_weights_adjoint(g[:3], np.average(P34, 1, G4), P34, 1, G4, False),
            interp_adjoint(g, x, np.array([0.0, 0.5, 1.0]), np.array([1.0, 2.0, 0.0]), None, None, "fp"),
            interp_adjoint(g, x, np.array([0.0, 0.5, 1.0]), np.array([1.0, 2.0, 0.0]), 0.5, None, "left"))


@case(cov_adjoint, G34[:, :3])
@case(corrcoef_adjoint, G34[:, :3])
def covariance_adjoints(g):
    x = uniform((3, 5), seed=129)
    return cov_adjoint(g, x), cov_adjoint(g[:2, :2], x[0], x[1], True, False, None, 1), corrcoef_adjoint(g, np.corrcoef(x), x)


@case(interp_x_adjoint, G4, uniform((3,), seed=128))
def interp_slopes(g, fp):
    return interp_x_adjoint(g, np.array([0.1, 0.0, 0.7, -0.2]), np.array([0.0, 0.5, 1.0]), fp)


@case(convolve_adjoint, uniform((6,), seed=123), uniform((4,), seed=124), uniform((3,), seed=125))
@case(correlate_adjoint, uniform((6,), seed=123), uniform((4,), seed=124), uniform((3,), seed=125))
@case(kron_adjoint, uniform((6,), seed=123), uniform((4,), seed=124), uniform((3,), seed=125))
@case(cross_adjoint, uniform((6,), seed=123), uniform((4,), seed=124), uniform((3,), seed=125))
def bilinear_adjoints(g, a, v):
    return (convolve_adjoint(g, a, v, "full", 0), convolve_adjoint(g[:4], a, v, "same", 1),
            correlate_adjoint(g[:2], a, v, "valid", 0), correlate_adjoint(g, v, a, "full", 1),
            kron_adjoint(np.concatenate([g, g[:3]]), a[:3], v, 0), kron_adjoint(np.concatenate([g, g[:3]]), a[:3], v + a[0], 1),
            cross_adjoint(g[:3], a[:3], v, 0), cross_adjoint(g[:3], a[1:], v, 1))


# Hessians through issue 12's rules: forward mode over their gradients (the helpers above).
def sort_pad_loss(x):
    return np.sum(np.sin(np.pad(np.sort(x, axis=0), 1, "edge")) * np.arange(1.0, 43.0).reshape(6, 7))


def take_diff_loss(x):
    return np.sum(np.diff(np.take(x, [0, 3, 3, 1], axis=1), prepend=0.5) ** 3)


def quantile_loss(x):
    return np.sum(np.quantile(x, [0.2, 0.7], axis=1) ** 2) + np.median(x * x, axis=0) @ np.arange(3.0, 8.0)


def convolve_kron_loss(x):
    v = np.array([0.5, -1.0, 2.0])
    return np.sum(np.convolve(x[0], v, "same") ** 2) + np.sum(np.kron(x[1], x[2]) ** 2) + np.sum(np.cross(x[:, :3], v) ** 2)


def interp_average_loss(x):
    fp = np.array([0.3, -1.0, 2.0, 1.0, 0.5])
    at = np.array([0.2, 1.3, 2.1, 2.9, 3.6])     # (interp_adjoint has no forward rule in x yet)
    return np.sum(np.interp(at, np.arange(5.0), x[1] * fp) ** 2) + np.average(x, 1, np.arange(1.0, 6.0)) @ x[:, 0]


@pytest.mark.parametrize("f", [sort_pad_loss, take_diff_loss, quantile_loss, convolve_kron_loss,
                               interp_average_loss], ids=lambda f: f.__name__)
def test_hessians_through_shape_adjoints(f):
    x = uniform((4, 5), 0.5, 1.5, seed=126)
    g = srcgrad.grad(f)
    eps = 1e-6
    numeric = np.stack([(g(x + eps * e.reshape(x.shape)) - g(x - eps * e.reshape(x.shape))) / (2 * eps)
                        for e in np.eye(x.size)], -1).reshape(x.shape + x.shape)
    np.testing.assert_allclose(srcgrad.hessian(f)(x), numeric, rtol=1e-5, atol=1e-6)


def test_hessian_through_cumprod_is_refused():
    """cumprod's adjoint has no forward rule in `ans` and `a` (yet): refused, naming it."""
    def f(x):
        return np.sum(np.cumprod(x) ** 2)
    with pytest.raises(srcgrad.NoDerivativeRuleError, match="cumprod_adjoint with respect to its argument `ans`"):
        srcgrad.hessian(f)(uniform((4,), seed=127))


# --- reverse mode: the helpers that also have a reverse rule (for grad(grad(f))) -----------
W34, W4 = uniform((3, 4), 0.5, 1.5, seed=73), uniform((4,), 0.5, 1.5, seed=74)


@reverse(unbroadcast, index_adjoint, zero_at, sum_over)
def test_scatter_helpers_gradient():
    def f(g):
        return (np.sum(W4 * unbroadcast(g, G4)) + 2.0 * unbroadcast(g, 1.0) +
                np.sum(W34 * index_adjoint(g[0], G34, 1)) + np.sum(W34 * zero_at(g, (0, 1))) +
                5.0 * sum_over(g[1], G34) + 7.0 * sum_over(g[2, 3], 1.5))
    dg = check(f, G34)
    want = W4 + 2.0 + W34.copy()
    want[0] += W34[1]                 # g[0] lands on row 1 of index_adjoint's result
    want[0, 1] -= W34[0, 1]           # zero_at drops element (0, 1)
    want[1] += 5.0 * 3                # g[1] summed over 3 broadcast rows
    want[2, 3] += 7.0
    np.testing.assert_allclose(dg, want, rtol=1e-12)


@reverse(matmul_adjoint_lhs, matmul_adjoint_rhs)
def test_matmul_adjoints_gradient():
    g, a, b = uniform((3, 2), seed=47), uniform((3, 4), seed=48), uniform((4, 2), seed=49)
    wa, wb = uniform((3, 4), 0.5, 1.5, seed=75), uniform((4, 2), 0.5, 1.5, seed=76)

    def f(g, a, b):           # lhs(g, a, b) = g @ b.T (the adjoint of a), rhs = a.T @ g
        return np.sum(wa * matmul_adjoint_lhs(g, a, b)) + np.sum(wb * matmul_adjoint_rhs(g, a, b))
    dg, da, db = check(f, g, a, b, wrt=(0, 1, 2))
    np.testing.assert_allclose(dg, wa @ b + a @ wb, rtol=1e-12)
    np.testing.assert_allclose(da, g @ wb.T, rtol=1e-12)
    np.testing.assert_allclose(db, wa.T @ g, rtol=1e-12)


# --- the tests ------------------------------------------------------------------------------
def _key_name(key):
    rule = rules.RULES.get(key) or rules.FORWARD_ONLY.get(key)
    return rule.name


def family_rule_tests():
    return {name: importlib.import_module(name).RULE_TESTS for name in FAMILY_FILES}


def test_every_rule_is_tested_in_both_modes():
    """Each rule of rules.RULES has a reverse test and a forward case in a family file; each
    of rules.FORWARD_ONLY a forward case.  Exempt from reverse tests, by design: the rules
    in FORWARD_ONLY only (np.take and the helpers generated gradients call that have no
    reverse rule), since grad never meets them."""
    families = family_rule_tests()
    forward = {key for tests in families.values() for key, _, _ in tests.cases}
    reverse_ = {key for tests in families.values() for key in tests.reversed}
    no_forward = [_key_name(k) for k in list(rules.RULES) + list(rules.FORWARD_ONLY) if k not in forward]
    no_reverse = [_key_name(k) for k in rules.RULES if k not in reverse_]
    assert not no_forward, f"rules without a forward-mode case: {no_forward}"
    assert not no_reverse, f"rules without a reverse-mode test: {no_reverse}"
    unknown = [key for key in forward | reverse_ if key not in rules.RULES and key not in rules.FORWARD_ONLY]
    assert not unknown, f"tests name functions that have no rule: {unknown}"


def test_each_marked_reverse_test_exists():
    """`@reverse` marks test functions the family file defines (so a marker cannot outlive its test)."""
    for name, tests in family_rule_tests().items():
        module = importlib.import_module(name)
        for key, names in tests.reversed.items():
            for test in names:
                assert test.startswith("test_") and callable(getattr(module, test, None)), (name, test)


@pytest.mark.parametrize("key,f,args", RULE_TESTS.cases, ids=RULE_TESTS.case_ids())
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
