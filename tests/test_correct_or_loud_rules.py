"""Correct or loud: no silently wrong gradient (the rule table's part of the issue).

A. functions that were taken to have no derivative and have one: np.full, np.full_like,
   np.arange, np.linspace, np.logspace, np.geomspace, np.meshgrid, np.heaviside, np.r_[...],
   np.c_[...]; and objects indexed by a value with a gradient, refused rather than zero;
B. deny by default: every function of the no-derivative list is checked to be flat in its
   float arguments; unknown calls, attributes, methods and subscripts are errors;
C. non-finite gradients where the true one is finite (std over one element, norms and
   square roots at 0 under a mask);
D. crashes that should be values (a negated boolean mask, methods on Python floats in
   forward mode).

Gradients are compared with float64 central differences (gradcheck.check), tangents with
directional differences (jvpcheck.check_jvp), or with closed forms.
"""
import contextlib
import inspect
import io
import os
import re
import warnings

import numpy as np
import pytest
from gradcheck import check, numerical_grad
from jvpcheck import check_jvp

import srcgrad
from srcgrad import rules
from srcgrad.custom import stop_gradient
from srcgrad.reverse import _NONDIFF_BUILTINS

HERE = os.path.basename(__file__)
rng = np.random.default_rng(2024)
X3, Y4 = rng.normal(size=3), rng.normal(size=4)
W43 = rng.normal(size=(4, 3))


def line_of(f, text):
    """The line number of the first line of `f`'s source that contains `text`."""
    lines, first = inspect.getsourcelines(f)
    return first + next(i for i, line in enumerate(lines) if text in line)


def both_modes(f, *args):
    """Run grad(f) and jvp(f) on args: each raises or returns; yields the errors."""
    tangents = [np.ones_like(a) if isinstance(a, np.ndarray) else 1.0 for a in args]
    for run in (lambda: srcgrad.grad(f)(*args), lambda: srcgrad.jvp(f, args, tangents)):
        with pytest.raises(srcgrad.SrcgradError) as info:
            run()
        yield info.value


# --- C. finite gradients where the value is flat or at a kink ------------------------------

@contextlib.contextmanager
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")            # a 0/0 would warn
        yield


def std_of_single_elements(x):
    return np.sum(np.std(x[:, None], axis=1)) + np.sum(x)


def std_of_scalar(s):
    return np.std(s) + 2.0 * s


def std_of_equal_elements(x):
    return np.std(np.full(4, x[0])) + np.sum(x)


@pytest.mark.parametrize("f,arg,want", [(std_of_single_elements, X3, np.ones(3)),
                                        (std_of_scalar, 0.3, 2.0),
                                        (std_of_equal_elements, X3, np.ones(3))])
def test_std_of_a_constant_has_zero_gradient(f, arg, want):
    with no_warnings():
        np.testing.assert_array_equal(srcgrad.grad(f)(arg), want)        # was NaN
        tangent = np.ones_like(arg) if isinstance(arg, np.ndarray) else 1.0
        assert srcgrad.jvp(f, (arg,), (tangent,))[1] == pytest.approx(np.sum(want * tangent))


POINTS = rng.normal(size=(5, 2))


def distances_upper_triangle(x):
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    return np.sum(np.triu(d, 1) ** 1.5)


def distances_triu_indices(x):
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    return np.sum(np.exp(-d[np.triu_indices(5, 1)]))


def distances_by_sqrt(x):
    d = np.sqrt(np.sum((x[:, None] - x[None]) ** 2, axis=-1))
    return np.sum(np.triu(d, 1))


@pytest.mark.parametrize("f", [distances_upper_triangle, distances_triu_indices, distances_by_sqrt])
def test_pairwise_distances_with_the_diagonal_unused(f):
    with no_warnings():
        got = srcgrad.grad(f)(POINTS)                # was NaN everywhere
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, numerical_grad(f, (POINTS,)), rtol=1e-5, atol=1e-7)
        check_jvp(f, POINTS)


def test_norm_at_zero_has_the_subgradient_zero():
    def f(x):
        return np.linalg.norm(x) + np.sum(np.linalg.norm(np.stack([x, 2.0 * x]), axis=1))
    with no_warnings():
        np.testing.assert_array_equal(srcgrad.grad(f)(np.zeros(3)), 0.0)
        assert srcgrad.jvp(f, (np.zeros(3),), (np.ones(3),))[1] == 0.0


def test_sqrt_at_zero_keeps_its_infinite_slope_where_it_is_used():
    def f(x):
        return np.sum(np.sqrt(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isinf(srcgrad.grad(f)(np.array([0.0, 1.0])))[0]     # d sqrt(x)/dx -> inf


# --- D. crashes that should be values ------------------------------------------------------

CLIPPED = np.array([0.3, -0.7, 1.2, 0.45])
MASK1, MASK2 = np.array([True, False, True, True]), np.array([True, True, False, True])


def negated_clip(x):
    return -np.sum(np.clip(x, -0.5, 0.5))


def negated_maximum(x):
    return 1.0 - np.sum(np.maximum(x, 0.0))


def two_clips(x):
    return np.sum(np.clip(x, -0.5, 0.5)) + np.sum(np.clip(x, -0.6, 0.6))


def two_boolean_masks(x, m1, m2):
    return np.sum(x * m1) + np.sum(x * m2)


def negated_boolean_mask(x, m1, m2):
    return -np.sum(x * m1) - np.sum(m2 * x)


@pytest.mark.parametrize("f,args,want", [
    (negated_clip, (CLIPPED,), [-1.0, 0.0, 0.0, -1.0]),        # raised TypeError (-bool)
    (negated_maximum, (CLIPPED,), [-1.0, 0.0, -1.0, -1.0]),    # raised TypeError
    (two_clips, (CLIPPED,), [2.0, 0.0, 0.0, 2.0]),             # was [1, 0, 0, 1]: True + True
    (two_boolean_masks, (CLIPPED, MASK1, MASK2), [2.0, 1.0, 1.0, 2.0]),     # was all 1
    (negated_boolean_mask, (CLIPPED, MASK1, MASK2), [-2.0, -1.0, -1.0, -2.0])])
def test_boolean_masks_in_adjoints_are_numbers(f, args, want):
    got = srcgrad.grad(f)(*args)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(got, numerical_grad(f, args), atol=1e-7)
    if f in (negated_clip, negated_maximum, two_clips):
        check_jvp(f, *args)


def clip_method_of_a_float(s):
    return np.clip(s, 0.0, 1.0).sum()


def methods_of_a_float(s):
    t = np.clip(s, 0.0, 1.0) * 2.0
    return t.T + t.reshape(1).sum() + t.mean() + t.copy() + t.ravel().flatten()[0]


@pytest.mark.parametrize("f,want", [(clip_method_of_a_float, 1.0), (methods_of_a_float, 10.0)])
def test_methods_of_python_floats_in_forward_mode(f, want):
    value, tangent = srcgrad.jvp(f, (0.5,), (1.0,))     # raised AttributeError ('float'...)
    assert value == f(0.5) and tangent == pytest.approx(want)
    assert srcgrad.grad(f)(0.5) == pytest.approx(want)
