"""The derivative rules: one line per function, read like a page of a calculus book.

Each rule is a lambda `(g, ans, *args)`: `g` is the adjoint of the result, `ans` the
result itself, the rest are the function's parameters (NumPy's own names, so keyword
calls bind).  It returns the adjoint of each differentiable parameter — a tuple whose
i-th entry belongs to the i-th parameter, `None` where there is none.

The lambdas are real code you can call, and they are also *templates*: srcgrad reads
their source, substitutes the names of the user's variables, folds what is known at
transform time (`axis is None`, `keepdims`, constant exponents) and pastes the result
into the generated gradient.  So `d(tanh)` below becomes `dx = dh * (1.0 - h * h)`.

Families:
  elementwise  broadcasting ops; srcgrad sums an adjoint back to its argument's shape
               where broadcasting can have happened.
  reduction    `g` may be a scalar standing for a full array (the adjoint of a sum);
               these rules broadcast it themselves.
  scatter      indexing: `g` as it comes, the adjoint has the full shape of the array.
  vjp          everything else; `g` has the result's full shape.
  nondiff      no derivative: an integer or boolean result, or one flat in each float
               argument between its jumps (each is checked, tests/test_correct_or_loud_rules.py);
               anything else without a rule is an error, never a zero.

SciPy's special functions (scipy.special) have rules of these families too, in a section of
their own, registered once SciPy is imported (`load_scipy`: srcgrad does not import SciPy
itself, and needs only NumPy; a function that calls scipy.special has imported it).

Forward rules (for `srcgrad.jvp`) sit next to the reverse ones, as `jvp=`:
  (none)       elementwise rules: the tangent is derived from the reverse template, since
               each partial derivative is elementwise: the sum over arguments of the
               template with `g` replaced by that argument's tangent (broadcasting does
               what `unbroadcast` undoes in reverse).
  linear       the function applied to the tangents (`np.reshape(t_x, shape)`, `t_x[i]`).
  multilinear  the sum over arguments of the function with that argument replaced by its
               tangent (`t_X @ W + X @ t_W`).
  a lambda     `(t, ans, *some of the rule's parameters)`: the tangent of the result for
               the tangent `t` of the first parameter (a tuple: one term per parameter,
               `None` where there is none), a template like the reverse ones.
Arguments without a tangent drop out when the code is generated.
"""
import math
import sys

import numpy as np

from .custom import stop_gradient
from .runtime import broadcast as runtime_broadcast, size as runtime_size
from .fft_adjoints import (fft_adjoint, ifft_adjoint, irfft_adjoint, rfft_adjoint, sign_conj, sign_conj_adjoint,
                           sign_conj_jvp)
from .runtime import (accumulate, c_adjoint, concatenate_adjoint, concatenate_list_adjoint, diag_adjoint, dot_adjoint,
                      einsum_adjoint, getitem, with_set, zero_at, einsum_adjoint_jvp, norm_jvp, tape_pop, tape_push,
                      hstack_adjoint, index_adjoint, inner_adjoint, inverse_permutation, matmul_adjoint_lhs,
                      matmul_adjoint_rhs, meshgrid_adjoint, norm_adjoint, prod_adjoint, r_adjoint, repeat_adjoint,
                      sequence_of, solve_adjoint, sum_over, tensordot_adjoint, tile_adjoint, trace_adjoint,
                      unbroadcast, vstack_adjoint)
from .linalg_adjoints import (cholesky_adjoint, cholesky_jvp, eig_adjoint, eig_jvp, eigh_adjoint, eigh_jvp,
                              eigen_gaps, lstsq_adjoint, lstsq_jvp, matrix_power_adjoint, matrix_power_jvp, pinv_adjoint, pinv_jvp, qr_adjoint, qr_jvp, split_adjoint,
                              sum_tangents, svd_adjoint, svd_jvp)
from .shape_adjoints import (permutation_adjoint, corrcoef_adjoint, corrcoef_jvp, cov_adjoint, cov_jvp, average_adjoint, average_jvp, average_weights_adjoint, column_stack_adjoint, compress_adjoint, convolve_adjoint,
                             correlate_adjoint, cross_adjoint, cumprod_adjoint, cumprod_jvp, diagonal_adjoint,
                             diff_adjoint, diff_jvp, dstack_adjoint, gradient_adjoint, gradient_spacing_adjoint, gradient_spacing_jvp, interp_adjoint, interp_slope, interp_x_adjoint, kron_adjoint,
                             no_gradient, pad_adjoint, pad_jvp,
                             permutation_source, quantile_adjoint, quantile_jvp, rollaxis_adjoint, select_picks,
                             sort_indices, take_adjoint, take_along_axis_adjoint, trapezoid_adjoint, trapezoid_jvp)

RULES = {}        # NumPy function -> Rule
NONDIFF = set()   # NumPy functions whose result carries no gradient
MACROS = {}       # name -> lambda, inlined into templates that call it
STATIC = {inverse_permutation}   # evaluated at transform time when their arguments are known
HELPERS = (unbroadcast, sum_over, index_adjoint, with_set, zero_at, concatenate_adjoint, concatenate_list_adjoint, diag_adjoint, dot_adjoint, einsum_adjoint,
           hstack_adjoint, inner_adjoint, inverse_permutation, matmul_adjoint_lhs,
           matmul_adjoint_rhs, norm_adjoint, prod_adjoint, repeat_adjoint, solve_adjoint,
           tensordot_adjoint, tile_adjoint, trace_adjoint, vstack_adjoint, r_adjoint, c_adjoint, meshgrid_adjoint,
           einsum_adjoint_jvp, norm_jvp, fft_adjoint, ifft_adjoint, rfft_adjoint, irfft_adjoint,
           sign_conj, sign_conj_adjoint, sign_conj_jvp,
           cholesky_adjoint, cholesky_jvp, eig_adjoint, eig_jvp, eigh_adjoint, eigh_jvp, lstsq_adjoint, lstsq_jvp,
           matrix_power_adjoint, matrix_power_jvp, pinv_adjoint, pinv_jvp, qr_adjoint, qr_jvp, split_adjoint,
           sum_tangents, svd_adjoint, svd_jvp,
           # shape_adjoints (issue 12)
           permutation_adjoint, corrcoef_adjoint, corrcoef_jvp, cov_adjoint, cov_jvp, gradient_adjoint, gradient_spacing_adjoint, gradient_spacing_jvp, average_adjoint, average_jvp, average_weights_adjoint, column_stack_adjoint, compress_adjoint, convolve_adjoint, correlate_adjoint,
           cross_adjoint, cumprod_adjoint, cumprod_jvp, diagonal_adjoint, diff_adjoint, diff_jvp, dstack_adjoint,
           interp_adjoint, interp_slope, interp_x_adjoint, kron_adjoint, no_gradient,
           pad_adjoint, pad_jvp, permutation_source, quantile_adjoint, quantile_jvp, rollaxis_adjoint, select_picks,
           sort_indices, take_adjoint, take_along_axis_adjoint, trapezoid_adjoint, trapezoid_jvp)

LN2, LN10 = float(np.log(2.0)), float(np.log(10.0))
SQRT_PI, SQRT_2PI = float(np.sqrt(np.pi)), float(np.sqrt(2.0 * np.pi))
special = None    # scipy.special, once its rules are registered (load_scipy)


class Rule:
    def __init__(self, func, name, template, family, output=None, jvp=None, missing=(), params=(),
                 only=None, section=None, outputs=None, fields=(), fixed=None, refused=()):
        self.func, self.name, self.template = func, name, template
        self.fixed = fixed or {}  # keyword-only template parameter -> the object it names (a SciPy distribution)
        self.refused = refused    # parameters it has no derivative in, either mode (t.cdf's df): an error
        self.family = family
        self.only = only or {}    # parameter -> the one value the rule supports (a constant)
        self.section = section    # where the docs list it, if not under its family
        self.output = output      # for tuple-valued functions: the output `g` belongs to, or
        #                           "each": output i belongs to array argument i (meshgrid), or
        #                           "all": `g` is a tuple of one adjoint per output (eigh, svd, split)
        self.outputs = outputs    # ("all") how many outputs a call gives, from its arguments (see output_count)
        self.fields = fields      # ("all") the names NumPy's result gives them (`r.eigenvalues`)
        self.jvp = jvp            # forward rule: None (derived), linear, multilinear or a lambda
        # (forward rules only) the parameters tangents flow through, if not the first one,
        # and those whose tangent has no rule
        self.params, self.missing = params, missing

    def __repr__(self):
        return f"<rule {self.name} ({self.family})>"


def output_count(rule, bound, value):
    """How many outputs a call of a rule with `output="all"` gives: n for a tuple of n, or
    (k, n) for one array standing for output k of n (np.linalg.svd with compute_uv=False);
    None if that is not known when the code is read.  `bound` maps the rule's parameters to
    the call's arguments, `value` gives an argument's Python value (LookupError if unknown)."""
    code = rule.outputs.__code__
    try:
        values = [value(bound[name]) for name in code.co_varnames[:code.co_argcount]]
    except LookupError:
        return None
    return rule.outputs(*values)


def output_slots(rule, bound, targets):
    """The names a statement of a rule with several outputs binds, one per output, None for
    the outputs a call computing one array (np.linalg.svd with compute_uv=False) leaves out."""
    if len(targets) > 1:
        return list(targets)
    k, n = output_count(rule, bound, lambda node: node.value)     # (its arguments are constants)
    return [targets[0] if i == k else None for i in range(n)]


def pieces(indices_or_sections):
    """How many arrays np.split gives: a number of sections, or one more than the cut points."""
    return indices_or_sections if isinstance(indices_or_sections, int) else len(indices_or_sections) + 1


def _resolve(names, module=np, prefix="np."):
    """NumPy objects for names like "max amax" or "linalg.norm" (or those of `module`, shown
    with `prefix`); missing ones skipped."""
    for name in names.split():
        obj = module
        for part in name.split("."):
            obj = getattr(obj, part, None)
        if obj is not None:
            yield prefix + name, obj


def _register(names, template, family, module=np, prefix="np.", **options):
    for name, func in _resolve(names, module, prefix):
        if func not in RULES:       # NumPy aliases (concat, concatenate): the first name shows
            RULES[func] = Rule(func, name, template, family, **options)


def elementwise(names, template, **options):
    _register(names, template, "elementwise", **options)


def reduction(names, template, **options):
    _register(names, template, "reduction", **options)


def vjp(names, template, **options):
    _register(names, template, "vjp", **options)


def nondiff(names):
    NONDIFF.update(func for _, func in _resolve(names))


class Forward:
    """A forward rule given by the structure of the function rather than by a template."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


linear = Forward("linear")              # tangent = the function of the tangents
multilinear = Forward("multilinear")    # tangent = sum over arguments, one tangent at a time
FORWARD_ONLY = {}  # function -> Rule with a forward rule only (runtime helpers of gradients)


def forward_only(funcs, jvp, missing="", params=""):
    """Forward rules for functions generated gradients call (so `jvp(grad(f))` works).
    `linear`: linear in the first parameter (or in `params`), the others are read for their
    shapes only; `missing` names parameters whose tangent has no rule (an error if they have one)."""
    for func in funcs if isinstance(funcs, tuple) else (funcs,):
        for name, obj in _resolve(func) if isinstance(func, str) else [(func.__name__, func)]:
            FORWARD_ONLY[obj] = Rule(obj, name, None, "forward", jvp=jvp,
                                     missing=tuple(missing.split()), params=tuple(params.split()))


# Template building blocks, inlined where they are used.
keep = MACROS["keep"] = lambda g, axis, keepdims: g if keepdims or axis is None else np.expand_dims(g, axis)
count = MACROS["count"] = lambda a, ans, axis: np.size(a) if axis is None else np.size(a) / np.size(ans)
mT = MACROS["mT"] = lambda x: np.swapaxes(x, -1, -2)
sigmoid = MACROS["sigmoid"] = lambda x: 0.5 * (1.0 + np.tanh(0.5 * x))   # 1 / (1 + e^-x), no overflow
ramp = MACROS["ramp"] = lambda num, endpoint: np.arange(num) / ((num - 1 if endpoint else num) or 1)  # stop's share in linspace
real = MACROS["real"] = lambda g, ans: g if ans.dtype.kind in "fc" else 0.0 * g   # none through an integer result

# --- arithmetic -------------------------------------------------------------------
elementwise("add",        lambda g, ans, x1, x2: (g, g))
elementwise("subtract",   lambda g, ans, x1, x2: (g, -g))
elementwise("multiply",   lambda g, ans, x1, x2: (g * x2, g * x1))
elementwise("divide",     lambda g, ans, x1, x2: (g / x2, -g * ans / x2))
elementwise("negative",   lambda g, ans, x: -g)
elementwise("positive",   lambda g, ans, x: g)
# x1 ** x2 is flat in x2 where x1 == 0: log(x1 + (x1 == 0)) gives that 0 rather than 0 * log(0).
elementwise("power",      lambda g, ans, x1, x2: (g * x2 * x1 ** (x2 - 1), g * ans * np.log(x1 + (x1 == 0))))
elementwise("float_power", lambda g, ans, x1, x2: (g * x2 * x1 ** (x2 - 1), g * ans * np.log(x1 + (x1 == 0))))
elementwise("square",     lambda g, ans, x: g * 2.0 * x)
# At 0 the slope of sqrt is infinite; where the adjoint is 0 (a masked distance) it gives 0, not 0/0.
elementwise("sqrt",       lambda g, ans, x: g * 0.5 / (ans + (g == 0)))
elementwise("cbrt",       lambda g, ans, x: g / (3.0 * ans * ans))
elementwise("mod remainder fmod", lambda g, ans, x1, x2: (g, -g * ((x1 - ans) / x2)))
elementwise("reciprocal", lambda g, ans, x: -g * ans * ans)
# --- exponentials and logarithms -----------------------------------------------------
elementwise("exp",        lambda g, ans, x: g * ans)
elementwise("exp2",       lambda g, ans, x: g * ans * LN2)
elementwise("expm1",      lambda g, ans, x: g * (ans + 1.0))
elementwise("log",        lambda g, ans, x: g / x)
elementwise("log2",       lambda g, ans, x: g / (x * LN2))
elementwise("log10",      lambda g, ans, x: g / (x * LN10))
elementwise("log1p",      lambda g, ans, x: g / (1.0 + x))
elementwise("logaddexp",  lambda g, ans, x1, x2: (g * sigmoid(x1 - x2), g * sigmoid(x2 - x1)))
elementwise("logaddexp2", lambda g, ans, x1, x2: (g * sigmoid((x1 - x2) * LN2), g * sigmoid((x2 - x1) * LN2)))
# --- trigonometric and hyperbolic ----------------------------------------------------
elementwise("sin",        lambda g, ans, x: g * np.cos(x))
elementwise("cos",        lambda g, ans, x: -g * np.sin(x))
elementwise("tan",        lambda g, ans, x: g * (1.0 + ans * ans))
elementwise("arcsin",     lambda g, ans, x: g / np.sqrt(1.0 - x * x))
elementwise("arccos",     lambda g, ans, x: -g / np.sqrt(1.0 - x * x))
elementwise("arctan",     lambda g, ans, x: g / (1.0 + x * x))
elementwise("arctan2",    lambda g, ans, x1, x2: (g * x2 / (x1 * x1 + x2 * x2), -g * x1 / (x1 * x1 + x2 * x2)))
elementwise("hypot",      lambda g, ans, x1, x2: (g * x1 / ans, g * x2 / ans))
elementwise("sinh",       lambda g, ans, x: g * np.cosh(x))
elementwise("cosh",       lambda g, ans, x: g * np.sinh(x))
elementwise("tanh",       lambda g, ans, x: g * (1.0 - ans * ans))
elementwise("arcsinh",    lambda g, ans, x: g / np.sqrt(x * x + 1.0))
elementwise("arccosh",    lambda g, ans, x: g / (np.sqrt(x - 1.0) * np.sqrt(x + 1.0)))   # (not sqrt(x^2 - 1): of complex x, its sign)
elementwise("arctanh",    lambda g, ans, x: g / (1.0 - x * x))
elementwise("deg2rad radians", lambda g, ans, x: g * (np.pi / 180.0))
elementwise("rad2deg degrees", lambda g, ans, x: g * (180.0 / np.pi))
# --- piecewise: ties share the gradient evenly ---------------------------------------
# Of a complex x, d|x| = Re(conj(x) dx) / |x|, and only the real part of g counts (`.real` of
# a real array is the array itself).  sign_conj(x) is np.sign(x) of a real x; of a complex
# one it is not flat, and has a rule of its own, for grad(grad(f)).
elementwise("absolute fabs", lambda g, ans, x: g.real * sign_conj(x), jvp=lambda t, ans, x: np.real(t * sign_conj(x)))
elementwise("maximum fmax", lambda g, ans, x1, x2: (g * (x1 == ans) / ((x1 == x2) + 1.0), g * (x2 == ans) / ((x1 == x2) + 1.0)))
elementwise("minimum fmin", lambda g, ans, x1, x2: (g * (x1 == ans) / ((x1 == x2) + 1.0), g * (x2 == ans) / ((x1 == x2) + 1.0)))
elementwise("heaviside",  lambda g, ans, x1, x2: (None, g * (x1 == 0)))     # x2 is the value at x1 == 0
elementwise("clip",       lambda g, ans, a, a_min=None, a_max=None: (g * ((a_min is None or a >= a_min) & (a_max is None or a <= a_max)), g * (a < a_min), g * (a > a_max)))
elementwise("where",      lambda g, ans, condition, x, y: (None, np.where(condition, g, 0.0), np.where(condition, 0.0, g)), jvp=linear)
# --- reductions ----------------------------------------------------------------------
# `_dtype` and `_out` hold NumPy's positional slots, so `np.sum(x, 0, None, None, True)`
# binds `keepdims` (and `np.var(x, 0, None, None, 1)` binds `ddof`) where NumPy does.
reduction("sum",          lambda g, ans, a, axis=None, _dtype=None, _out=None, keepdims=False: keep(g, axis, keepdims), jvp=linear)
reduction("mean",         lambda g, ans, a, axis=None, _dtype=None, _out=None, keepdims=False: keep(g, axis, keepdims) / count(a, ans, axis), jvp=linear)
reduction("prod",         lambda g, ans, a, axis=None, _dtype=None, _out=None, keepdims=False: prod_adjoint(g, ans, a, axis, keepdims),
                          jvp=lambda t, ans, a, axis, keepdims: np.sum(t * prod_adjoint(1.0, ans, a, axis, keepdims), axis=axis, keepdims=keepdims))
reduction("max amax min amin", lambda g, ans, a, axis=None, _out=None, keepdims=False: keep(g, axis, keepdims) * (a == keep(ans, axis, keepdims)) / np.sum(a == keep(ans, axis, keepdims), axis=axis, keepdims=True),
                          jvp=lambda t, ans, a, axis, keepdims: np.sum(t * (a == keep(ans, axis, keepdims)), axis=axis, keepdims=keepdims) / np.sum(a == keep(ans, axis, keepdims), axis=axis, keepdims=keepdims))
reduction("var",          lambda g, ans, a, axis=None, _dtype=None, _out=None, ddof=0, keepdims=False: keep(g, axis, keepdims).real * 2.0 * (a - np.mean(a, axis=axis, keepdims=True)).conjugate() / (count(a, ans, axis) - ddof),
                          jvp=lambda t, ans, a, axis, ddof, keepdims: 2.0 * np.sum(np.real(t * (a - np.mean(a, axis=axis, keepdims=True)).conjugate()), axis=axis, keepdims=keepdims) / (count(a, ans, axis) - ddof))
# A std or a norm that is 0 (over one element, at x = 0) has a numerator that is exactly 0
# too: `ans + (ans == 0)` divides it by 1 there, giving the subgradient 0 (as PyTorch does).
# Of complex values they are real, as |z| is: `.real` of g, `.conjugate()` of the values.
reduction("std",          lambda g, ans, a, axis=None, _dtype=None, _out=None, ddof=0, keepdims=False: keep(g.real / (ans + (ans == 0)), axis, keepdims) * (a - np.mean(a, axis=axis, keepdims=True)).conjugate() / (count(a, ans, axis) - ddof),
                          jvp=lambda t, ans, a, axis, ddof, keepdims: np.sum(np.real(t * (a - np.mean(a, axis=axis, keepdims=True)).conjugate()), axis=axis, keepdims=keepdims) / ((count(a, ans, axis) - ddof) * (ans + (ans == 0))))
reduction("linalg.norm",  lambda g, ans, x, ord=None, axis=None, keepdims=False: x.conjugate() * keep(g.real / (ans + (ans == 0)), axis, keepdims) if ord is None else norm_adjoint(g, ans, x, ord, axis, keepdims),
                          jvp=lambda t, ans, x, ord, axis, keepdims: np.sum(np.real(x.conjugate() * t), axis=axis, keepdims=keepdims) / (ans + (ans == 0)) if ord is None else norm_jvp(t, ans, x, ord, axis, keepdims))
vjp("cumsum",             lambda g, ans, a, axis=None, _dtype=None, _out=None: np.flip(np.cumsum(np.flip(g, axis), axis), axis) if axis is not None else np.reshape(np.flip(np.cumsum(np.flip(g))), np.shape(a)), jvp=linear)
# cumprod through zeros: no division by them (shape_adjoints.cumprod_adjoint)
vjp("cumprod",            lambda g, ans, a, axis=None, _dtype=None, _out=None: cumprod_adjoint(g, ans, a, axis),
                          jvp=lambda t, ans, a, axis: cumprod_jvp(t, ans, a, axis))
# NaNs drop out of the nan-reductions; nanmax/nanmin share ties evenly, as max does.
reduction("nansum",       lambda g, ans, a, axis=None, _dtype=None, _out=None, keepdims=False: keep(g, axis, keepdims) * ~np.isnan(a),
                          jvp=lambda t, ans, a, axis, keepdims: np.sum(np.where(np.isnan(a), 0.0, t), axis=axis, keepdims=keepdims))
reduction("nanmean",      lambda g, ans, a, axis=None, _dtype=None, _out=None, keepdims=False: keep(g, axis, keepdims) * ~np.isnan(a) / np.sum(~np.isnan(a), axis=axis, keepdims=True),
                          jvp=lambda t, ans, a, axis, keepdims: np.sum(np.where(np.isnan(a), 0.0, t), axis=axis, keepdims=keepdims) / np.sum(~np.isnan(a), axis=axis, keepdims=keepdims))
reduction("nanmax nanmin", lambda g, ans, a, axis=None, _out=None, keepdims=False: keep(g, axis, keepdims) * (a == keep(ans, axis, keepdims)) / np.sum(a == keep(ans, axis, keepdims), axis=axis, keepdims=True),
                          jvp=lambda t, ans, a, axis, keepdims: np.sum(np.where(a == keep(ans, axis, keepdims), t, 0.0), axis=axis, keepdims=keepdims) / np.sum(a == keep(ans, axis, keepdims), axis=axis, keepdims=keepdims))
# log(sum(exp(a))) along axis (0 by default), from its own result: no overflow
reduction("logaddexp.reduce", lambda g, ans, array, axis=0, _dtype=None, _out=None, keepdims=False: keep(g, axis, keepdims) * np.exp(array - keep(ans, axis, keepdims)),
                          jvp=lambda t, ans, array, axis, keepdims: np.sum(t * np.exp(array - keep(ans, axis, keepdims)), axis=axis, keepdims=keepdims))
# max - min, each shared evenly between ties
reduction("ptp",          lambda g, ans, a, axis=None, _out=None, keepdims=False: keep(g, axis, keepdims) * ((a == np.max(a, axis=axis, keepdims=True)) / np.sum(a == np.max(a, axis=axis, keepdims=True), axis=axis, keepdims=True) - (a == np.min(a, axis=axis, keepdims=True)) / np.sum(a == np.min(a, axis=axis, keepdims=True), axis=axis, keepdims=True)),
                          jvp=lambda t, ans, a, axis, keepdims: np.sum(t * ((a == np.max(a, axis=axis, keepdims=True)) / np.sum(a == np.max(a, axis=axis, keepdims=True), axis=axis, keepdims=True) - (a == np.min(a, axis=axis, keepdims=True)) / np.sum(a == np.min(a, axis=axis, keepdims=True), axis=axis, keepdims=True)), axis=axis, keepdims=keepdims))
# sum(a * w) / sum(w): differentiable in a and in the weights
vjp("average",            lambda g, ans, a, axis=None, weights=None, returned=False, *, keepdims=False: (average_adjoint(g, a, axis, weights, keepdims), None, average_weights_adjoint(g, ans, a, axis, weights, keepdims)), only={"returned": False},
                          jvp=lambda t, ans, a, axis, weights, keepdims: (average_jvp(t, ans, a, axis, weights, keepdims, 0), None, average_jvp(t, ans, a, axis, weights, keepdims, 1)))
# Covariance Xc Xc^T / (N - ddof) of the centred data (rows are variables unless rowvar=False),
# correlation C / (s s^T) with s = sqrt(diag C); observation weights are refused.
vjp("cov",                lambda g, ans, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, *, dtype=None: (cov_adjoint(g, m, y, rowvar, bias, ddof, 0), cov_adjoint(g, m, y, rowvar, bias, ddof, 1)), only={"fweights": None, "aweights": None},
                          jvp=lambda t, ans, m, y, rowvar, bias, ddof: (cov_jvp(t, m, y, rowvar, bias, ddof, 0), cov_jvp(t, m, y, rowvar, bias, ddof, 1)))
vjp("corrcoef",           lambda g, ans, x, y=None, rowvar=True, *, dtype=None: (corrcoef_adjoint(g, ans, x, y, rowvar, 0), corrcoef_adjoint(g, ans, x, y, rowvar, 1)),
                          jvp=lambda t, ans, x, y, rowvar: (corrcoef_jvp(t, ans, x, y, rowvar, 0), corrcoef_jvp(t, ans, x, y, rowvar, 1)))
# Order statistics ('linear' method): sorted[lo] * (1 - f) + sorted[lo + 1] * f.  Ties: equal
# elements take their sorted places in their order in `a` (so of a median between two equal
# values, the first of them in `a` may get both halves); other methods are refused.
vjp("quantile",           lambda g, ans, a, q, axis=None, _out=None, overwrite_input=False, method="linear", keepdims=False, *, weights=None: quantile_adjoint(g, a, q, axis, keepdims, method), only={"weights": None},
                          jvp=lambda t, ans, a, q, axis, keepdims, method: quantile_jvp(t, a, q, axis, keepdims, method))
vjp("percentile",         lambda g, ans, a, q, axis=None, _out=None, overwrite_input=False, method="linear", keepdims=False, *, weights=None: quantile_adjoint(g, a, np.true_divide(q, 100.0), axis, keepdims, method), only={"weights": None},
                          jvp=lambda t, ans, a, q, axis, keepdims, method: quantile_jvp(t, a, np.true_divide(q, 100.0), axis, keepdims, method))
vjp("median",             lambda g, ans, a, axis=None, _out=None, overwrite_input=False, keepdims=False: quantile_adjoint(g, a, 0.5, axis, keepdims),
                          jvp=lambda t, ans, a, axis, keepdims: quantile_jvp(t, a, 0.5, axis, keepdims))
vjp("trapezoid trapz",    lambda g, ans, y, x=None, dx=1.0, axis=-1: (trapezoid_adjoint(g, y, x, dx, axis, 0), trapezoid_adjoint(g, y, x, dx, axis, 1), trapezoid_adjoint(g, y, x, dx, axis, 2)),
                          jvp=lambda t, ans, y, x, dx, axis: (trapezoid_jvp(t, y, x, dx, axis, 0), trapezoid_jvp(t, y, x, dx, axis, 1), trapezoid_jvp(t, y, x, dx, axis, 2)))
# --- linear algebra ------------------------------------------------------------------
vjp("matmul",             lambda g, ans, x1, x2: (g @ x2.T if x2.ndim == 2 else matmul_adjoint_lhs(g, x1, x2), x1.T @ g if x1.ndim == 2 else matmul_adjoint_rhs(g, x1, x2)), jvp=multilinear)
vjp("dot",                lambda g, ans, a, b: (np.dot(g, b.T) if np.ndim(b) == 2 and np.ndim(a) >= 1 else dot_adjoint(g, a, b, 0), np.dot(a.T, g) if np.ndim(a) == 2 and 1 <= np.ndim(b) <= 2 else dot_adjoint(g, a, b, 1)), jvp=multilinear)
vjp("outer",              lambda g, ans, a, b: (np.reshape(g @ np.ravel(b), np.shape(a)), np.reshape(np.ravel(a) @ g, np.shape(b))), jvp=multilinear)
vjp("inner",              lambda g, ans, a, b: (inner_adjoint(g, a, b, 0), inner_adjoint(g, a, b, 1)), jvp=multilinear)
vjp("vdot",               lambda g, ans, a, b: ((g * np.reshape(b, np.shape(a))).conj(), g * np.reshape(a, np.shape(b)).conj()), jvp=multilinear)   # sum(conj(a) * b)
vjp("tensordot",          lambda g, ans, a, b, axes=2: (tensordot_adjoint(g, a, b, axes, 0), tensordot_adjoint(g, a, b, axes, 1)), jvp=multilinear)
vjp("einsum",             lambda g, ans, subscripts, *operands: (None, einsum_adjoint(g, subscripts, operands, index)), jvp=multilinear)
vjp("trace",              lambda g, ans, a, offset=0, axis1=0, axis2=1, _dtype=None, _out=None: trace_adjoint(g, a, offset, axis1, axis2), jvp=linear)
vjp("diag",               lambda g, ans, v, k=0: diag_adjoint(g, v, k), jvp=linear)
vjp("linalg.inv",         lambda g, ans, a: -(mT(ans) @ g @ mT(ans)),
                          jvp=lambda t, ans, a: -(ans @ t @ ans))
vjp("linalg.solve",       lambda g, ans, a, b: (solve_adjoint(g, ans, a, b, 0), solve_adjoint(g, ans, a, b, 1)),
                          jvp=lambda t, ans, a, b: (np.linalg.solve(a, -(t @ ans[..., None]))[..., 0] if np.ndim(b) == 1 else np.linalg.solve(a, -(t @ ans)), np.linalg.solve(a, t)))
vjp("linalg.det",         lambda g, ans, a: np.expand_dims(g * ans, (-1, -2)) * np.linalg.inv(mT(a)),
                          jvp=lambda t, ans, a: ans * np.trace(np.linalg.solve(a, t), axis1=-2, axis2=-1))
vjp("linalg.matrix_power", lambda g, ans, a, n: (matrix_power_adjoint(g, a, n), None), jvp=lambda t, ans, a, n: matrix_power_jvp(t, a, n))
# Factorizations (srcgrad/linalg_adjoints.py).  Those with several outputs have `g` and `ans` as tuples
# with one entry per output (`g[k]` None where output k gets no gradient).  The vectors of eigh,
# eig and svd need distinct eigen/singular values: where two are equal their derivative does
# not exist and the helper raises UndefinedGradientError; the values alone need no gaps.
# cholesky and eigh read one triangle of `a`: their adjoints lie on that triangle.
vjp("linalg.cholesky",    lambda g, ans, a: cholesky_adjoint(g, ans), jvp=lambda t, ans, a: cholesky_jvp(t, ans))
vjp("linalg.eigh",        lambda g, ans, a, UPLO="L": eigh_adjoint(g[0], g[1], ans[0], ans[1], UPLO), output="all", outputs=lambda: 2,
                          fields=("eigenvalues", "eigenvectors"),
                          jvp=lambda t, ans, a, UPLO: eigh_jvp(t, ans[0], ans[1], UPLO))
# eig of a real matrix whose eigenvalues come out real (complex ones: UndefinedGradientError)
vjp("linalg.eig",         lambda g, ans, a: eig_adjoint(g[0], g[1], ans[0], ans[1]), output="all", outputs=lambda: 2,
                          fields=("eigenvalues", "eigenvectors"),
                          jvp=lambda t, ans, a: eig_jvp(t, ans[0], ans[1]))
# full_matrices=True differentiates for a square matrix only (the extra vectors are arbitrary)
vjp("linalg.svd",         lambda g, ans, a, full_matrices=True, compute_uv=True, hermitian=False: svd_adjoint(g[0], g[1], g[2], ans[0], ans[1], ans[2], a, full_matrices),
                          output="all", outputs=lambda compute_uv: 3 if compute_uv else (1, 3), fields=("U", "S", "Vh"), only={"hermitian": False},
                          jvp=lambda t, ans, a, full_matrices: svd_jvp(t, ans[0], ans[1], ans[2], a, full_matrices))
vjp("linalg.qr",          lambda g, ans, a, mode="reduced": qr_adjoint(g[0], g[1], ans[0], ans[1], a), output="all", outputs=lambda: 2, fields=("Q", "R"),
                          only={"mode": "reduced"}, jvp=lambda t, ans, a: qr_jvp(t, ans[0], ans[1], a))
# pinv and lstsq: where the rank of `a` does not change (the cut-off rcond is not crossed)
vjp("linalg.pinv",        lambda g, ans, a, rcond=None, hermitian=False: pinv_adjoint(g, ans, a), only={"hermitian": False},
                          jvp=lambda t, ans, a: pinv_jvp(t, ans, a))
# lstsq's residuals are |b - a x|^2 at the optimal x; its rank has no derivative
vjp("linalg.lstsq",       lambda g, ans, a, b, rcond=None: (lstsq_adjoint(g[0], g[1], g[3], ans[0], ans[1], a, b, 0), lstsq_adjoint(g[0], g[1], g[3], ans[0], ans[1], a, b, 1)),
                          output="all", outputs=lambda: 4,
                          jvp=lambda t, ans, a, b: (lstsq_jvp(t, None, ans[0], ans[1], a, b), lstsq_jvp(None, t, ans[0], ans[1], a, b)))
# Each piece's adjoint in its place (zeros for a piece without one); how many pieces must be
# known when the code is read: a constant number of sections or a list of cut points.
vjp("split array_split",  lambda g, ans, ary, indices_or_sections, axis=0: split_adjoint(g, ans, axis), output="all",
                          outputs=lambda indices_or_sections: pieces(indices_or_sections), jvp=linear)
vjp("hsplit",             lambda g, ans, ary, indices_or_sections: split_adjoint(g, ans, 1 if np.ndim(ary) > 1 else 0), output="all",
                          outputs=lambda indices_or_sections: pieces(indices_or_sections), jvp=linear)
vjp("vsplit",             lambda g, ans, ary, indices_or_sections: split_adjoint(g, ans, 0), output="all",
                          outputs=lambda indices_or_sections: pieces(indices_or_sections), jvp=linear)
vjp("dsplit",             lambda g, ans, ary, indices_or_sections: split_adjoint(g, ans, 2), output="all",
                          outputs=lambda indices_or_sections: pieces(indices_or_sections), jvp=linear)
# The helpers above are differentiated by reading their code (for hessians), except these two:
# F[i, j] = 1 / (w_j - w_i) moves by F[i, j]^2 (dw_i - dw_j); split_adjoint is linear.
forward_only(eigen_gaps, lambda t, ans, values, name, what: ans * ans * (t[..., :, None] - t[..., None, :]))
forward_only(split_adjoint, linear)
RULES[eigen_gaps] = Rule(eigen_gaps, "eigen_gaps", lambda g, ans, values, name, what: (np.sum(g * ans * ans, axis=-1) - np.sum(g * ans * ans, axis=-2), None, None), "vjp")
RULES[split_adjoint] = Rule(split_adjoint, "split_adjoint", lambda g, ans, gs, pieces, axis: (concatenate_adjoint(g, pieces, axis, index), None, None), "vjp")
vjp("linalg.slogdet",     lambda g, ans, a: np.expand_dims(g, (-1, -2)) * np.linalg.inv(mT(a)), output=1,
                          jvp=lambda t, ans, a: np.trace(np.linalg.solve(a, t), axis1=-2, axis2=-1))
# --- shape ---------------------------------------------------------------------------
vjp("reshape",            lambda g, ans, a, shape=None, newshape=None: np.reshape(g, np.shape(a)), jvp=linear)
vjp("ravel",              lambda g, ans, a: np.reshape(g, np.shape(a)), jvp=linear)
vjp("expand_dims",        lambda g, ans, a, axis: np.reshape(g, np.shape(a)), jvp=linear)
vjp("squeeze",            lambda g, ans, a, axis=None: np.reshape(g, np.shape(a)), jvp=linear)
vjp("asarray array",      lambda g, ans, a: g, jvp=linear)
vjp("copy",               lambda g, ans, a, order="K", subok=False: g, jvp=linear)
vjp("transpose",          lambda g, ans, a, axes=None: g.T if axes is None else np.transpose(g, inverse_permutation(axes)), jvp=linear)
vjp("swapaxes",           lambda g, ans, a, axis1, axis2: np.swapaxes(g, axis1, axis2), jvp=linear)
vjp("moveaxis",           lambda g, ans, a, source, destination: np.moveaxis(g, destination, source), jvp=linear)
vjp("flip",               lambda g, ans, m, axis=None: np.flip(g, axis), jvp=linear)
vjp("roll",               lambda g, ans, a, shift, axis=None: np.reshape(np.roll(g, np.negative(shift), axis), np.shape(a)), jvp=linear)
vjp("triu",               lambda g, ans, m, k=0: np.triu(g, k), jvp=linear)
vjp("tril",               lambda g, ans, m, k=0: np.tril(g, k), jvp=linear)
vjp("broadcast_to",       lambda g, ans, array, shape: unbroadcast(g, array), jvp=linear)
vjp("concatenate concat", lambda g, ans, arrays, axis=0: concatenate_adjoint(g, arrays, axis, index), jvp=linear)
vjp("stack",              lambda g, ans, arrays, axis=0: np.take(g, index, axis), jvp=linear)
vjp("hstack",             lambda g, ans, tup: hstack_adjoint(g, tup, index), jvp=linear)
vjp("vstack",             lambda g, ans, tup: vstack_adjoint(g, tup, index), jvp=linear)
vjp("tile",               lambda g, ans, A, reps: tile_adjoint(g, A, reps), jvp=linear)
vjp("repeat",             lambda g, ans, a, repeats, axis=None: repeat_adjoint(g, a, repeats, axis), jvp=linear)
vjp("r_",                 lambda g, ans, *arrays: r_adjoint(g, arrays, index), jvp=linear)    # np.r_[a, b, ...]
vjp("c_",                 lambda g, ans, *arrays: c_adjoint(g, arrays, index), jvp=linear)    # np.c_[a, b, ...]
vjp("row_stack",          lambda g, ans, tup, *, dtype=None, casting="same_kind": vstack_adjoint(g, tup, index), jvp=linear)
vjp("column_stack",       lambda g, ans, tup: column_stack_adjoint(g, tup, index), jvp=linear)
vjp("dstack",             lambda g, ans, tup: dstack_adjoint(g, tup, index), jvp=linear)
vjp("append",             lambda g, ans, arr, values, axis=None: (np.reshape(g[:np.size(arr)], np.shape(arr)) if axis is None else np.take(g, np.arange(np.shape(arr)[axis]), axis), np.reshape(g[np.size(arr):], np.shape(values)) if axis is None else np.take(g, np.arange(np.shape(arr)[axis], np.shape(g)[axis]), axis)),
                          jvp=lambda t, ans, arr, values, axis: (np.append(t, np.zeros(np.shape(values)), axis), np.append(np.zeros(np.shape(arr)), t, axis)))
vjp("atleast_1d atleast_2d atleast_3d", lambda g, ans, arys: np.reshape(g, np.shape(arys)), jvp=linear)   # one array
vjp("flipud",             lambda g, ans, m: np.flipud(g), jvp=linear)
vjp("fliplr",             lambda g, ans, m: np.fliplr(g), jvp=linear)
vjp("rot90",              lambda g, ans, m, k=1, axes=(0, 1): np.rot90(g, -k, axes), jvp=linear)
vjp("rollaxis",           lambda g, ans, a, axis, start=0: rollaxis_adjoint(g, a, axis, start), jvp=linear)
vjp("diagonal",           lambda g, ans, a, offset=0, axis1=0, axis2=1: diagonal_adjoint(g, a, offset, axis1, axis2), jvp=linear)
# --- gathers: the adjoint adds g back where each element was read ------------------------------
vjp("take",               lambda g, ans, a, indices, axis=None, _out=None, mode="raise": take_adjoint(g, a, indices, axis, mode), jvp=linear)
vjp("take_along_axis",    lambda g, ans, arr, indices, axis=-1: take_along_axis_adjoint(g, arr, indices, axis), jvp=linear)
vjp("compress",           lambda g, ans, condition, a, axis=None, _out=None: (None, compress_adjoint(g, condition, a, axis)), jvp=linear)
# Ties: equal elements keep their order in `a` (a stable sort), so the k-th of them in `a` gets
# the gradient of the k-th of their places in the result; np.partition's are matched the same way.
vjp("sort",               lambda g, ans, a, axis=-1, kind=None, order=None, *, stable=None: permutation_adjoint(g, a, sort_indices(a, axis), axis), only={"order": None},
                          jvp=lambda t, ans, a, axis: np.take_along_axis(t, sort_indices(a, axis), axis))
vjp("partition",          lambda g, ans, a, kth, axis=-1, kind="introselect", order=None: permutation_adjoint(g, a, permutation_source(ans, a, axis), axis), only={"order": None},
                          jvp=lambda t, ans, a, axis: np.take_along_axis(t, permutation_source(ans, a, axis), axis))
# np.select picks each element from the first choice whose condition holds, else the default.
vjp("select",             lambda g, ans, condlist, choicelist, default=0: (None, unbroadcast(g * (select_picks(condlist, g) == index), choicelist[index]), unbroadcast(g * (select_picks(condlist, g) == len(condlist)), default)),
                          jvp=lambda t, ans, condlist, choicelist, default: (None, np.where(select_picks(condlist, ans) == index, t, 0.0), np.where(select_picks(condlist, ans) == len(condlist), t, 0.0)))
# --- differences, padding, convolution: linear maps whose transposes the helpers apply --------
# np.gradient along one axis (a 1-D array, or axis=k) with one uniform spacing; edge_order 1 or 2
vjp("gradient",           lambda g, ans, f, *varargs, axis=None, edge_order=1: (gradient_adjoint(g, f, varargs, axis, edge_order), gradient_spacing_adjoint(g, ans, f, varargs, axis, edge_order, index)),
                          jvp=lambda t, ans, f, *varargs, axis, edge_order: (np.gradient(t, *varargs, axis=axis, edge_order=edge_order), gradient_spacing_jvp(t, ans, f, varargs, axis, edge_order, index)))
vjp("diff",               lambda g, ans, a, n=1, axis=-1, prepend=None, append=None: (diff_adjoint(g, a, n, axis, prepend, append, 0), None, None, diff_adjoint(g, a, n, axis, prepend, append, 1), diff_adjoint(g, a, n, axis, prepend, append, 2)),
                          jvp=lambda t, ans, a, n, axis, prepend, append: (diff_jvp(t, a, n, axis, prepend, append, 0), None, None, diff_jvp(t, a, n, axis, prepend, append, 1), diff_jvp(t, a, n, axis, prepend, append, 2)))
# The modes that copy elements (constant, edge, reflect, symmetric, wrap); the others are refused.
vjp("pad",                lambda g, ans, array, pad_width, mode="constant", constant_values=0, reflect_type="even": (pad_adjoint(g, array, pad_width, mode, 0, constant_values, reflect_type), None, None, pad_adjoint(g, array, pad_width, mode, 1, constant_values, reflect_type)),
                          jvp=lambda t, ans, array, pad_width, mode, constant_values, reflect_type: (pad_jvp(t, array, pad_width, mode, 0, constant_values, reflect_type), None, None, pad_jvp(t, array, pad_width, mode, 1, constant_values, reflect_type)))
vjp("convolve",           lambda g, ans, a, v, mode="full": (convolve_adjoint(g, a, v, mode, 0), convolve_adjoint(g, a, v, mode, 1)), jvp=multilinear)
vjp("correlate",          lambda g, ans, a, v, mode="valid": (correlate_adjoint(g, a, v, mode, 0), correlate_adjoint(g, a, v, mode, 1)), jvp=multilinear)
vjp("kron",               lambda g, ans, a, b: (kron_adjoint(g, a, b, 0), kron_adjoint(g, a, b, 1)), jvp=multilinear)
vjp("cross",              lambda g, ans, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None: (cross_adjoint(g, a, b, 0, axisa, axisb, axisc, axis), cross_adjoint(g, a, b, 1, axisa, axisb, axisc, axis)), jvp=multilinear)
# Piecewise linear in x: at a knot, the slope of the segment that starts there (at the last
# knot, of the one that ends there); outside the knots, flat.  Not differentiated in xp.
vjp("interp",             lambda g, ans, x, xp, fp, left=None, right=None, period=None: (interp_x_adjoint(g, x, xp, fp), no_gradient("np.interp", "xp"), interp_adjoint(g, x, xp, fp, left, right, "fp"), interp_adjoint(g, x, xp, fp, left, right, "left"), interp_adjoint(g, x, xp, fp, left, right, "right")), only={"period": None},
                          jvp=lambda t, ans, x, xp, fp, left, right: (t * interp_slope(x, xp, fp), no_gradient("np.interp", "xp"), np.interp(x, xp, t, None if left is None else 0.0, None if right is None else 0.0), t * (np.asarray(x) < xp[0]), t * (np.asarray(x) > xp[-1])))
# Cleaning and elementwise shaping: np.nan_to_num passes g where x is finite, and to the
# replacement values where it replaced; sinc's slope is 0 at 0.
elementwise("nan_to_num", lambda g, ans, x, copy=True, nan=0.0, posinf=None, neginf=None: (g * np.isfinite(x), None, g * np.isnan(x), g * np.isposinf(x), g * np.isneginf(x)))
elementwise("sinc",       lambda g, ans, x: g * (np.cos(np.pi * x) - ans) / np.where(x == 0, 1.0, x))
# x.astype(t): the identity to a float type, no gradient through an integer (or boolean) one.
RULES[np.ndarray.astype] = Rule(np.ndarray.astype, "np.ndarray.astype", lambda g, ans, a, dtype, order="K", casting="unsafe", subok=True, copy=True: real(g, ans), "vjp",
                                jvp=lambda t, ans, a: real(np.asarray(t, ans.dtype) if ans.dtype.kind == "f" else t, ans))
vjp("astype",             lambda g, ans, x, dtype, *, copy=True, device=None: real(g, ans),      # np.astype (NumPy >= 2.1)
                          jvp=lambda t, ans, x: real(np.asarray(t, ans.dtype) if ans.dtype.kind == "f" else t, ans))
# --- building arrays: the fill value and the end points are differentiable ---------------------
# An integer result (np.full_like of an int array) truncates its fill value: no derivative.
vjp("full",               lambda g, ans, shape, fill_value, dtype=None: (None, unbroadcast(g if dtype is None else real(g, ans), fill_value)),
                          jvp=lambda t, ans, shape, fill_value, dtype: (None, np.full(np.shape(ans), t) if dtype is None else real(np.full(np.shape(ans), t), ans)))
vjp("full_like",          lambda g, ans, a, fill_value, dtype=None: (None, unbroadcast(real(g, ans), fill_value)),
                          jvp=lambda t, ans, a, fill_value: (None, real(np.full(np.shape(ans), t), ans)))
# start + k * step: flat in stop (it only sets how many); np.arange(x) counts from 0 up to x.
vjp("arange",             lambda g, ans, start, stop=None, step=None: (np.sum(g) if stop is not None else 0.0, None, np.sum(g * np.arange(np.size(ans)))),
                          jvp=lambda t, ans, start, stop, step: (np.full(np.shape(ans), t) if stop is not None else np.zeros(np.shape(ans)), None, t * np.arange(np.size(ans))))
# linspace is start * (1 - ramp) + stop * ramp along `axis`; logspace is base ** linspace
# (`start + 0.0 * base`: that linspace in the shape of ans); geomspace is linspace in log space.
vjp("linspace",           lambda g, ans, start, stop, num=50, endpoint=True, *, axis=0: (unbroadcast(np.tensordot(1.0 - ramp(num, endpoint), g, (0, axis)), start), unbroadcast(np.tensordot(ramp(num, endpoint), g, (0, axis)), stop)),
                          jvp=lambda t, ans, start, stop, num, endpoint, axis: (np.linspace(t, np.zeros_like(stop), num, endpoint, axis=axis), np.linspace(np.zeros_like(start), t, num, endpoint, axis=axis)))
vjp("logspace",           lambda g, ans, start, stop, num=50, endpoint=True, base=10.0, *, axis=0: (unbroadcast(np.tensordot(1.0 - ramp(num, endpoint), g * ans, (0, axis)) * np.log(base), start), unbroadcast(np.tensordot(ramp(num, endpoint), g * ans, (0, axis)) * np.log(base), stop), None, None, unbroadcast(np.sum(g * ans * np.linspace(start + 0.0 * base, stop, num, endpoint, axis=axis), axis=axis) / base, base)),
                          jvp=lambda t, ans, start, stop, num, endpoint, base, axis: (ans * np.linspace(t * np.log(base), 0.0 * stop, num, endpoint, axis=axis), ans * np.linspace(0.0 * start, t * np.log(base), num, endpoint, axis=axis), None, None, ans * np.linspace(start * t / base, stop * t / base, num, endpoint, axis=axis)))
vjp("geomspace",          lambda g, ans, start, stop, num=50, endpoint=True, *, axis=0: (unbroadcast(np.tensordot(1.0 - ramp(num, endpoint), g * ans, (0, axis)) / start, start), unbroadcast(np.tensordot(ramp(num, endpoint), g * ans, (0, axis)) / stop, stop)),
                          jvp=lambda t, ans, start, stop, num, endpoint, axis: (ans * np.linspace(t / start, 0.0 * stop, num, endpoint, axis=axis), ans * np.linspace(0.0 * start, t / stop, num, endpoint, axis=axis)))
# `a, b = np.meshgrid(x, y)`: grid i repeats array i, so its adjoint sums over the other axes.
vjp("meshgrid",           lambda g, ans, *xi, copy=True, sparse=False, indexing="xy": meshgrid_adjoint(g, xi, index, indexing), output="each", jvp=linear)
# A list built at run time (appended to in a loop) and passed whole: one adjoint per element.
SEQUENCE_RULES = {
    np.stack:       lambda g, ans, arrays, axis=0: np.moveaxis(g, axis, 0),
    np.concatenate: lambda g, ans, arrays, axis=0: concatenate_list_adjoint(g, arrays, axis),
}
# --- complex numbers and the FFT ------------------------------------------------------------
# A real loss of real inputs may pass through complex values.  The adjoint of z = u + iv is
# dL/du - i dL/dv, so that dL = Re(sum(adjoint * dz)): a holomorphic f has the adjoint
# g * f'(z), the rules above as they are; a linear map has its transpose's, with no conjugate;
# and a real x has the real part of what reaches it.  The adjoint of a real value may carry an
# imaginary part from the complex values it fed: where complex values give a real result
# (real, imag, abs, angle, irfft) only the real part of `g` is read, and a real parameter's
# gradient is the real part (runtime.fit_gradient).  docs/how-it-works.md, "Complex values".
_FIRST_COMPLEX = len(RULES)     # (the docs list this section's rules in a table of their own)
elementwise("real",       lambda g, ans, val: np.real(g))
elementwise("imag",       lambda g, ans, val: -1j * np.real(g), jvp=lambda t, ans, val: np.imag(t))
# the real part where the imaginary one is negligible (then as np.real), else the values as they are
vjp("real_if_close",      lambda g, ans, a, tol=100: g if ans.dtype.kind == "c" else np.real(g), section="complex",
                          jvp=lambda t, ans, a: t if ans.dtype.kind == "c" else np.real(t))
elementwise("conjugate",  lambda g, ans, x: np.conj(g))
# d angle(z) = Im(dz / z)
elementwise("angle",      lambda g, ans, z, deg=False: -1j * np.real(g) / z * (180.0 / np.pi if deg else 1.0),
                          jvp=lambda t, ans, z, deg: np.imag(t / z) * (180.0 / np.pi if deg else 1.0))
# The transforms are linear: forward mode applies them to the tangents.  A 1-D transform is the
# n-D one along (axis,); its `n`, like `s`, pads or cuts the input, which the adjoint undoes.
vjp("fft.fft",            lambda g, ans, a, n=None, axis=-1, norm=None: fft_adjoint(g, a, None, (axis,), norm), jvp=linear)
vjp("fft.ifft",           lambda g, ans, a, n=None, axis=-1, norm=None: ifft_adjoint(g, a, None, (axis,), norm), jvp=linear)
vjp("fft.rfft",           lambda g, ans, a, n=None, axis=-1, norm=None: rfft_adjoint(g, a, n, (axis,), norm), jvp=linear)
vjp("fft.irfft",          lambda g, ans, a, n=None, axis=-1, norm=None: irfft_adjoint(g, a, n, (axis,), norm), jvp=linear)
vjp("fft.fft2",           lambda g, ans, a, s=None, axes=(-2, -1), norm=None: fft_adjoint(g, a, s, axes, norm), jvp=linear)
vjp("fft.ifft2",          lambda g, ans, a, s=None, axes=(-2, -1), norm=None: ifft_adjoint(g, a, s, axes, norm), jvp=linear)
vjp("fft.rfft2",          lambda g, ans, a, s=None, axes=(-2, -1), norm=None: rfft_adjoint(g, a, s, axes, norm), jvp=linear)
vjp("fft.irfft2",         lambda g, ans, a, s=None, axes=(-2, -1), norm=None: irfft_adjoint(g, a, s, axes, norm), jvp=linear)
vjp("fft.fftn",           lambda g, ans, a, s=None, axes=None, norm=None: fft_adjoint(g, a, s, axes, norm), jvp=linear)
vjp("fft.ifftn",          lambda g, ans, a, s=None, axes=None, norm=None: ifft_adjoint(g, a, s, axes, norm), jvp=linear)
vjp("fft.rfftn",          lambda g, ans, a, s=None, axes=None, norm=None: rfft_adjoint(g, a, s, axes, norm), jvp=linear)
vjp("fft.irfftn",         lambda g, ans, a, s=None, axes=None, norm=None: irfft_adjoint(g, a, s, axes, norm), jvp=linear)
vjp("fft.fftshift",       lambda g, ans, x, axes=None: np.fft.ifftshift(g, axes), jvp=linear)
vjp("fft.ifftshift",      lambda g, ans, x, axes=None: np.fft.fftshift(g, axes), jvp=linear)
# abs's slope (np.sign of real values), a function of its own for second derivatives
RULES[sign_conj] = Rule(sign_conj, "sign_conj", lambda g, ans, x: sign_conj_adjoint(g, ans, x), "elementwise",
                        jvp=lambda t, ans, x: sign_conj_jvp(t, ans, x))
for _rule in list(RULES.values())[_FIRST_COMPLEX:]:
    _rule.section = "complex"
# --- indexing: x[index] --------------------------------------------------------------------
# "scatter": takes a scalar stand-in for g as it is, and gives the full shape of `a`.
RULES[getitem] = Rule(getitem, "indexing", lambda g, ans, a, index: index_adjoint(g, a, index), "scatter", jvp=linear)
# `for v in x` over an argument or a global: `x` itself when it is an array (or the list of a
# dict's keys, which carry no gradient)
RULES[sequence_of] = Rule(sequence_of, "iteration", lambda g, ans, x: g, "vjp", jvp=linear)
# x[index] = value, as `x_2 = with_set(x, index, value)`: what was overwritten gets no gradient.
RULES[with_set] = Rule(with_set, "with_set", lambda g, ans, a, index, value: (zero_at(g, index), None, unbroadcast(g[index], value)), "vjp",
                      jvp=linear)
# --- forward rules only: what generated gradients call, so jvp(grad(f)) is a Hessian-vector product
forward_only("take", linear)
forward_only((unbroadcast, sum_over, index_adjoint, zero_at, concatenate_adjoint, hstack_adjoint, vstack_adjoint,
              diag_adjoint, trace_adjoint, tile_adjoint, repeat_adjoint, r_adjoint, c_adjoint, meshgrid_adjoint), linear)
forward_only(matmul_adjoint_lhs, lambda t, ans, g, b, a: (matmul_adjoint_lhs(t, a, b), matmul_adjoint_lhs(g, a, t)))
forward_only(matmul_adjoint_rhs, lambda t, ans, g, a, b: (matmul_adjoint_rhs(t, a, b), matmul_adjoint_rhs(g, t, b)))
# `which` is a constant in generated code: the operand it names is read for its shape only.
forward_only(dot_adjoint, lambda t, ans, g, a, b, which: (dot_adjoint(t, a, b, which), dot_adjoint(g, t, b, which) if which == 1 else None, dot_adjoint(g, a, t, which) if which == 0 else None))
forward_only(inner_adjoint, lambda t, ans, g, a, b, which: (inner_adjoint(t, a, b, which), inner_adjoint(g, t, b, which) if which == 1 else None, inner_adjoint(g, a, t, which) if which == 0 else None))
forward_only(tensordot_adjoint, lambda t, ans, g, a, b, axes, which: (tensordot_adjoint(t, a, b, axes, which), tensordot_adjoint(g, t, b, axes, which) if which == 1 else None, tensordot_adjoint(g, a, t, axes, which) if which == 0 else None))
forward_only(einsum_adjoint, lambda t, ans, g, operands, subscripts, which: (einsum_adjoint(t, subscripts, operands, which), einsum_adjoint_jvp(g, subscripts, operands, which, index, t) if index != which else None))
forward_only((fft_adjoint, ifft_adjoint, rfft_adjoint, irfft_adjoint), linear)   # in g; `a` read for its shape and dtype
forward_only(prod_adjoint, linear, missing="ans a")
forward_only(norm_adjoint, linear, missing="ans x")
forward_only(solve_adjoint, linear, missing="ans a")
# a gradient's tape (forward.py reads `tape.append(v)` as `tape = tape_push(tape, v)`)
forward_only(tape_push, linear, params="tape value")
forward_only(accumulate, linear, params="total part")      # a loop's sum, added in place
forward_only(tape_pop, linear)
# ... and of shape_adjoints: each linear in the adjoint it is given, reading the rest for
# shapes and positions (which are locally constant: a sort's order, a quantile's places)
forward_only((gradient_adjoint, permutation_adjoint, take_adjoint, take_along_axis_adjoint, diagonal_adjoint, column_stack_adjoint, dstack_adjoint,
              rollaxis_adjoint, diff_adjoint, pad_adjoint, trapezoid_adjoint), linear)
forward_only(quantile_adjoint, linear, params="g")
forward_only(gradient_spacing_adjoint, linear, missing="ans f spacing")
forward_only(compress_adjoint, linear, params="g")
forward_only(cumprod_adjoint, linear, missing="ans a")
forward_only(average_adjoint, linear, missing="weights")
forward_only(average_weights_adjoint, linear, missing="mean a weights")
forward_only(cov_adjoint, linear, missing="m y")
forward_only(corrcoef_adjoint, linear, missing="ans x y")
forward_only(interp_adjoint, linear, missing="x xp")            # (the weights do not depend on fp)
forward_only(interp_x_adjoint, lambda t, ans, g, x, xp, fp: (interp_x_adjoint(t, x, xp, fp), None, None, interp_x_adjoint(g, x, xp, t)),
             missing="xp")                                       # (the slope is flat in x between knots)
forward_only(convolve_adjoint, lambda t, ans, g, a, v, mode, which: (convolve_adjoint(t, a, v, mode, which), convolve_adjoint(g, t, v, mode, which) if which == 1 else None, convolve_adjoint(g, a, t, mode, which) if which == 0 else None))
forward_only(correlate_adjoint, lambda t, ans, g, a, v, mode, which: (correlate_adjoint(t, a, v, mode, which), correlate_adjoint(g, t, v, mode, which) if which == 1 else None, correlate_adjoint(g, a, t, mode, which) if which == 0 else None))
forward_only(kron_adjoint, lambda t, ans, g, a, b, which: (kron_adjoint(t, a, b, which), kron_adjoint(g, t, b, which) if which == 1 else None, kron_adjoint(g, a, t, which) if which == 0 else None))
forward_only(cross_adjoint, lambda t, ans, g, a, b, which, axisa, axisb, axisc, axis: (cross_adjoint(t, a, b, which, axisa, axisb, axisc, axis), cross_adjoint(g, t, b, which, axisa, axisb, axisc, axis) if which == 1 else None, cross_adjoint(g, a, t, which, axisa, axisb, axisc, axis) if which == 0 else None))
# --- no derivative: only functions whose result is an integer, a boolean, or constant in each
# float argument wherever it is continuous (tests/test_correct_or_loud_rules.py checks each one)
nondiff("zeros ones empty zeros_like ones_like empty_like eye identity tri shape ndim size result_type "
        "sign floor ceil round around rint trunc fix "
        "argmax argmin argsort argwhere nonzero flatnonzero count_nonzero searchsorted "
        "equal not_equal less less_equal greater greater_equal isclose allclose array_equal "
        "logical_and logical_or logical_not logical_xor isnan isinf isfinite signbit all any "
        "floor_divide")

NONDIFF.update((stop_gradient, sort_indices, permutation_source, select_picks,
                runtime_size, runtime_broadcast))     # (shapes: srcgrad's np.size and np.broadcast)

# --- the helpers generated gradients call: differentiating a gradient (grad(grad(f))) -----
# Each is linear in the adjoint it is given; matmul's are bilinear: <G, lhs(g, x1, x2)> is
# <G @ x2, g>, and <G, rhs(g, x1, x2)> is <x1 @ G, g>.
for _helper, _template in [
        (unbroadcast,        lambda g, ans, a, like, full=None: (unbroadcast(np.broadcast_to(g, np.shape(a) if full is None else np.shape(full)), a), None, None)),
        (sum_over,           lambda g, ans, a, like: (unbroadcast(np.broadcast_to(g, np.shape(like)), a), None)),
        (index_adjoint,      lambda g, ans, a, like, index: (unbroadcast(g[index], a), None, None)),
        (zero_at,            lambda g, ans, a, index: (zero_at(g, index), None)),
        (matmul_adjoint_lhs, lambda g, ans, gz, x1, x2: (g @ x2, None, matmul_adjoint_rhs(gz, g, x2))),
        (matmul_adjoint_rhs, lambda g, ans, gz, x1, x2: (x1 @ g, matmul_adjoint_lhs(gz, x1, g), None))]:
    RULES[_helper] = Rule(_helper, _helper.__name__, _template, "vjp")   # (forward: FORWARD_ONLY)


# --- SciPy: scipy.special, scipy.stats, scipy.linalg --------------------------------------
SCIPY = {}        # name generated code gives it -> scipy.special, scipy.stats, scipy.linalg (once loaded)
stats = linalg = signal = None


def load_scipy(import_it=False):
    """Register the rules of scipy.special once SciPy is imported (or, with `import_it`, import
    it if it is installed), and those of scipy.stats and scipy.linalg once each is imported;
    (and scipy.signal's); True when scipy.special's are registered.  srcgrad calls this before it reads a function,
    so the rules are there whenever the function can call SciPy."""
    global special, stats, linalg, signal
    if special is None and (import_it or any(m in sys.modules for m in ("scipy.special", "scipy.linalg", "scipy.signal"))):
        try:
            import scipy.special
        except ImportError:
            return False
        special = SCIPY["special"] = scipy.special
        _scipy_rules()
    if special is not None and stats is None and (import_it or "scipy.stats" in sys.modules):
        import scipy.stats
        stats = SCIPY["stats"] = scipy.stats
        _scipy_stats_rules()
    if special is not None and linalg is None and (import_it or "scipy.linalg" in sys.modules):
        import scipy.linalg
        linalg = SCIPY["linalg"] = scipy.linalg
        _scipy_linalg_rules()
    if linalg is not None and signal is None and (import_it or "scipy.signal" in sys.modules):
        import scipy.signal
        signal = SCIPY["signal"] = scipy.signal
        _scipy_signal_rules()
    return special is not None


def _scipy_rules():
    def ufunc(names, template, **options):
        _register(names, template, "elementwise", special, "scipy.special.", section="scipy", **options)

    def other(names, template, family="vjp", **options):
        _register(names, template, family, special, "scipy.special.", section="scipy", **options)
    # sigmoids, logs of sums of exponentials: from `ans`, which SciPy computes with the max shifted out
    ufunc("expit",       lambda g, ans, x: g * ans * (1.0 - ans))
    ufunc("logit",       lambda g, ans, x: g / (x * (1.0 - x)))
    other("logsumexp",   lambda g, ans, a, axis=None, b=None, keepdims=False, return_sign=False: (keep(g, axis, keepdims) * np.exp(a - keep(ans, axis, keepdims)) if b is None else unbroadcast(keep(g, axis, keepdims) * b * np.exp(a - keep(ans, axis, keepdims)), a), None, None if b is None else unbroadcast(keep(g, axis, keepdims) * np.exp(a - keep(ans, axis, keepdims)), b)),
                         "reduction", only={"return_sign": False},
                         jvp=lambda t, ans, a, axis, b, keepdims: (np.sum(t * np.exp(a - keep(ans, axis, keepdims)) * (1.0 if b is None else b), axis=axis, keepdims=keepdims), None, np.sum(t * np.exp(a - keep(ans, axis, keepdims)), axis=axis, keepdims=keepdims)))
    other("softmax",     lambda g, ans, x, axis=None: ans * (g - np.sum(g * ans, axis=axis, keepdims=True)),
                         jvp=lambda t, ans, x, axis: ans * (t - np.sum(t * ans, axis=axis, keepdims=True)))
    other("log_softmax", lambda g, ans, x, axis=None: g - np.exp(ans) * np.sum(g, axis=axis, keepdims=True),
                         jvp=lambda t, ans, x, axis: t - np.sum(t * np.exp(ans), axis=axis, keepdims=True))
    # gamma and beta functions; polygamma's order n is an integer, with no derivative
    ufunc("gammaln",     lambda g, ans, x: g * special.digamma(x))
    ufunc("digamma psi", lambda g, ans, x: g * special.zeta(2.0, x))       # polygamma(1, x), in x's dtype
    ufunc("polygamma",   lambda g, ans, n, x: (None, g * special.polygamma(n + 1, x)))
    ufunc("gamma",       lambda g, ans, x: g * ans * special.digamma(x))
    ufunc("beta",        lambda g, ans, a, b: (g * ans * (special.digamma(a) - special.digamma(a + b)), g * ans * (special.digamma(b) - special.digamma(a + b))))
    ufunc("betaln",      lambda g, ans, a, b: (g * (special.digamma(a) - special.digamma(a + b)), g * (special.digamma(b) - special.digamma(a + b))))
    # error functions and the normal distribution
    ufunc("erf",         lambda g, ans, x: g * (2.0 / SQRT_PI) * np.exp(-x * x))
    ufunc("erfc",        lambda g, ans, x: -g * (2.0 / SQRT_PI) * np.exp(-x * x))
    ufunc("erfinv",      lambda g, ans, y: g * (0.5 * SQRT_PI) * np.exp(ans * ans))
    ufunc("erfcinv",     lambda g, ans, y: -g * (0.5 * SQRT_PI) * np.exp(ans * ans))
    ufunc("ndtr",        lambda g, ans, x: g * np.exp(-0.5 * x * x) / SQRT_2PI)
    ufunc("log_ndtr",    lambda g, ans, x: g * np.exp(-0.5 * x * x - ans) / SQRT_2PI)    # pdf / cdf, no 0/0 in the tail
    ufunc("ndtri",       lambda g, ans, y: g * SQRT_2PI * np.exp(0.5 * ans * ans))
    # x log y and entropies: flat in y where x == 0 (the value is 0 there), so no 0/0
    ufunc("xlogy",       lambda g, ans, x, y: (g * np.log(y), g * x / np.where(x == 0, 1.0, y)))
    ufunc("xlog1py",     lambda g, ans, x, y: (g * np.log1p(y), g * x / np.where(x == 0, 1.0, 1.0 + y)))
    ufunc("entr",        lambda g, ans, x: -g * (np.log(x) + 1.0))
    ufunc("rel_entr",    lambda g, ans, x, y: (g * (np.log(x / y) + 1.0), -g * x / np.where(x == 0, 1.0, y)))
    ufunc("kl_div",      lambda g, ans, x, y: (g * np.log(x / y), g * (1.0 - x / np.where(x == 0, 1.0, y))))
    # modified Bessel functions: I0' = I1, I1' = (I0 + I2) / 2; the scaled ones carry exp(-|x|)
    ufunc("i0",          lambda g, ans, x: g * special.i1(x))
    ufunc("i1",          lambda g, ans, x: g * 0.5 * (special.i0(x) + special.iv(2, x)))
    ufunc("i0e",         lambda g, ans, x: g * (special.i1e(x) - np.sign(x) * ans))
    ufunc("i1e",         lambda g, ans, x: g * (0.5 * (special.i0e(x) + special.ive(2, x)) - np.sign(x) * ans))
    # Bessel functions in their argument: Z_v' = (Z_{v-1} - Z_{v+1}) / 2 for J and Y, with + for I,
    # and -(K_{v-1} + K_{v+1}) / 2 for K; the order `v` is refused where it varies (`refused`)
    ufunc("j0",          lambda g, ans, x: -g * special.j1(x))
    ufunc("j1",          lambda g, ans, x: g * 0.5 * (special.j0(x) - special.jv(2, x)))
    ufunc("y0",          lambda g, ans, x: -g * special.y1(x))
    ufunc("y1",          lambda g, ans, x: g * 0.5 * (special.y0(x) - special.yv(2.0, x)))
    ufunc("jv",          lambda g, ans, v, z: (None, g * 0.5 * (special.jv(v - 1, z) - special.jv(v + 1, z))), refused=("v",))
    ufunc("yv",          lambda g, ans, v, z: (None, g * 0.5 * (special.yv(v - 1, z) - special.yv(v + 1, z))), refused=("v",))
    ufunc("yn",          lambda g, ans, n, x: (None, g * 0.5 * (special.yn(n - 1, x) - special.yn(n + 1, x))))   # n: an integer
    ufunc("iv",          lambda g, ans, v, z: (None, g * 0.5 * (special.iv(v - 1, z) + special.iv(v + 1, z))), refused=("v",))
    ufunc("ive",         lambda g, ans, v, z: (None, g * (0.5 * (special.ive(v - 1, z) + special.ive(v + 1, z)) - np.sign(z) * ans)), refused=("v",))
    ufunc("kv",          lambda g, ans, v, z: (None, -g * 0.5 * (special.kv(v - 1, z) + special.kv(v + 1, z))), refused=("v",))
    ufunc("kve",         lambda g, ans, v, z: (None, g * (ans - 0.5 * (special.kve(v - 1, z) + special.kve(v + 1, z)))), refused=("v",))
    # incomplete gamma and beta functions in x (their densities); the shape parameters are refused
    ufunc("gammainc",    lambda g, ans, a, x: (None, g * np.exp((a - 1.0) * np.log(x) - x - special.gammaln(a))), refused=("a",))
    ufunc("gammaincc",   lambda g, ans, a, x: (None, -g * np.exp((a - 1.0) * np.log(x) - x - special.gammaln(a))), refused=("a",))
    ufunc("betainc",     lambda g, ans, a, b, x: (None, None, g * np.exp((a - 1.0) * np.log(x) + (b - 1.0) * np.log1p(-x) - special.betaln(a, b))), refused=("a", "b"))
    # 1/gamma: 0 at the poles of gamma (x = 0, -1, ...), where digamma is infinite: nan there
    ufunc("rgamma",      lambda g, ans, x: -g * ans * special.digamma(x))
    ufunc("multigammaln", lambda g, ans, a, d: (g * np.sum(special.digamma(np.expand_dims(a, -1) - 0.5 * np.arange(d)), axis=-1), None))
    ufunc("zeta",        lambda g, ans, x, q=None: (None, -g * x * special.zeta(x + 1.0, q)), refused=("x",))   # Hurwitz, in q
    # more functions of one argument
    ufunc("erfcx",       lambda g, ans, x: g * (2.0 * x * ans - 2.0 / SQRT_PI))
    ufunc("dawsn",       lambda g, ans, x: g * (1.0 - 2.0 * x * ans))
    ufunc("exp1",        lambda g, ans, x: -g * np.exp(-x) / x)
    ufunc("expi",        lambda g, ans, x: g * np.exp(x) / x)
    ufunc("log_expit",   lambda g, ans, x: g * special.expit(-x))
    ufunc("softplus",    lambda g, ans, x: g * special.expit(x))
    # robust losses: quadratic near 0, linear (huber) or hyperbolic (pseudo-Huber) far out
    ufunc("huber",       lambda g, ans, delta, r: (None, g * np.clip(r, -delta, delta)), refused=("delta",))
    ufunc("pseudo_huber", lambda g, ans, delta, r: (None, g * r / np.sqrt(1.0 + (r / delta) ** 2)), refused=("delta",))
    NONDIFF.add(special.gammasgn)       # the sign of gamma: piecewise constant


# --- SciPy: scipy.stats --------------------------------------------------------------------
# A distribution with `loc` and `scale` is its standard one at z = (x - loc) / scale, with
# density f(z) / scale.  So d/dloc = -d/dx, and d/dscale = -z d/dx, less 1 / scale for a log
# density (ans / scale for a density).  Densities are written with the standard score
# d log f / dz (`score`, srcgrad/scipy_adjoints.py); distribution functions with the density
# itself (`dist.pdf`: SciPy's, zero off the support), their logs with density / function =
# exp(logpdf - ans), which has no 0 / 0 in the tails.  A cdf's derivative in a shape parameter
# (t's df, gamma's a) has no closed form: it is refused (`refused`).
zs = MACROS["zs"] = lambda x, loc, scale: (x - loc) / scale
# no shape parameters: norm, expon, laplace, cauchy, logistic
_logpdf = lambda g, ans, x, loc=0.0, scale=1.0, *, score: (g * score(zs(x, loc, scale)) / scale, -g * score(zs(x, loc, scale)) / scale, -g * (zs(x, loc, scale) * score(zs(x, loc, scale)) + 1.0) / scale)
_pdf    = lambda g, ans, x, loc=0.0, scale=1.0, *, score: (g * ans * score(zs(x, loc, scale)) / scale, -g * ans * score(zs(x, loc, scale)) / scale, -g * ans * (zs(x, loc, scale) * score(zs(x, loc, scale)) + 1.0) / scale)
_cdf    = lambda g, ans, x, loc=0.0, scale=1.0, *, dist: (g * dist.pdf(x, loc, scale), -g * dist.pdf(x, loc, scale), -g * dist.pdf(x, loc, scale) * zs(x, loc, scale))
_logcdf = lambda g, ans, x, loc=0.0, scale=1.0, *, dist: (g * np.exp(dist.logpdf(x, loc, scale) - ans), -g * np.exp(dist.logpdf(x, loc, scale) - ans), -g * np.exp(dist.logpdf(x, loc, scale) - ans) * zs(x, loc, scale))
_sf     = lambda g, ans, x, loc=0.0, scale=1.0, *, dist: (-g * dist.pdf(x, loc, scale), g * dist.pdf(x, loc, scale), g * dist.pdf(x, loc, scale) * zs(x, loc, scale))
_logsf  = lambda g, ans, x, loc=0.0, scale=1.0, *, dist: (-g * np.exp(dist.logpdf(x, loc, scale) - ans), g * np.exp(dist.logpdf(x, loc, scale) - ans), g * np.exp(dist.logpdf(x, loc, scale) - ans) * zs(x, loc, scale))
# one shape parameter df (t, chi2); `dshape` is d log f / d df
_logpdf_df = lambda g, ans, x, df, loc=0.0, scale=1.0, *, score, dshape: (g * score(zs(x, loc, scale), df) / scale, g * dshape(zs(x, loc, scale), df), -g * score(zs(x, loc, scale), df) / scale, -g * (zs(x, loc, scale) * score(zs(x, loc, scale), df) + 1.0) / scale)
_pdf_df    = lambda g, ans, x, df, loc=0.0, scale=1.0, *, score, dshape: (g * ans * score(zs(x, loc, scale), df) / scale, g * ans * dshape(zs(x, loc, scale), df), -g * ans * score(zs(x, loc, scale), df) / scale, -g * ans * (zs(x, loc, scale) * score(zs(x, loc, scale), df) + 1.0) / scale)
_cdf_df    = lambda g, ans, x, df, loc=0.0, scale=1.0, *, dist: (g * dist.pdf(x, df, loc, scale), None, -g * dist.pdf(x, df, loc, scale), -g * dist.pdf(x, df, loc, scale) * zs(x, loc, scale))
_logcdf_df = lambda g, ans, x, df, loc=0.0, scale=1.0, *, dist: (g * np.exp(dist.logpdf(x, df, loc, scale) - ans), None, -g * np.exp(dist.logpdf(x, df, loc, scale) - ans), -g * np.exp(dist.logpdf(x, df, loc, scale) - ans) * zs(x, loc, scale))
_sf_df     = lambda g, ans, x, df, loc=0.0, scale=1.0, *, dist: (-g * dist.pdf(x, df, loc, scale), None, g * dist.pdf(x, df, loc, scale), g * dist.pdf(x, df, loc, scale) * zs(x, loc, scale))
_logsf_df  = lambda g, ans, x, df, loc=0.0, scale=1.0, *, dist: (-g * np.exp(dist.logpdf(x, df, loc, scale) - ans), None, g * np.exp(dist.logpdf(x, df, loc, scale) - ans), g * np.exp(dist.logpdf(x, df, loc, scale) - ans) * zs(x, loc, scale))
# one shape parameter a (gamma)
_logpdf_a = lambda g, ans, x, a, loc=0.0, scale=1.0, *, score, dshape: (g * score(zs(x, loc, scale), a) / scale, g * dshape(zs(x, loc, scale), a), -g * score(zs(x, loc, scale), a) / scale, -g * (zs(x, loc, scale) * score(zs(x, loc, scale), a) + 1.0) / scale)
_pdf_a    = lambda g, ans, x, a, loc=0.0, scale=1.0, *, score, dshape: (g * ans * score(zs(x, loc, scale), a) / scale, g * ans * dshape(zs(x, loc, scale), a), -g * ans * score(zs(x, loc, scale), a) / scale, -g * ans * (zs(x, loc, scale) * score(zs(x, loc, scale), a) + 1.0) / scale)
_cdf_a    = lambda g, ans, x, a, loc=0.0, scale=1.0, *, dist: (g * dist.pdf(x, a, loc, scale), None, -g * dist.pdf(x, a, loc, scale), -g * dist.pdf(x, a, loc, scale) * zs(x, loc, scale))
_logcdf_a = lambda g, ans, x, a, loc=0.0, scale=1.0, *, dist: (g * np.exp(dist.logpdf(x, a, loc, scale) - ans), None, -g * np.exp(dist.logpdf(x, a, loc, scale) - ans), -g * np.exp(dist.logpdf(x, a, loc, scale) - ans) * zs(x, loc, scale))
_sf_a     = lambda g, ans, x, a, loc=0.0, scale=1.0, *, dist: (-g * dist.pdf(x, a, loc, scale), None, g * dist.pdf(x, a, loc, scale), g * dist.pdf(x, a, loc, scale) * zs(x, loc, scale))
_logsf_a  = lambda g, ans, x, a, loc=0.0, scale=1.0, *, dist: (-g * np.exp(dist.logpdf(x, a, loc, scale) - ans), None, g * np.exp(dist.logpdf(x, a, loc, scale) - ans), g * np.exp(dist.logpdf(x, a, loc, scale) - ans) * zs(x, loc, scale))
# two shape parameters a, b (beta)
_logpdf_ab = lambda g, ans, x, a, b, loc=0.0, scale=1.0, *, score, da, db: (g * score(zs(x, loc, scale), a, b) / scale, g * da(zs(x, loc, scale), a, b), g * db(zs(x, loc, scale), a, b), -g * score(zs(x, loc, scale), a, b) / scale, -g * (zs(x, loc, scale) * score(zs(x, loc, scale), a, b) + 1.0) / scale)
_pdf_ab    = lambda g, ans, x, a, b, loc=0.0, scale=1.0, *, score, da, db: (g * ans * score(zs(x, loc, scale), a, b) / scale, g * ans * da(zs(x, loc, scale), a, b), g * ans * db(zs(x, loc, scale), a, b), -g * ans * score(zs(x, loc, scale), a, b) / scale, -g * ans * (zs(x, loc, scale) * score(zs(x, loc, scale), a, b) + 1.0) / scale)
_cdf_ab    = lambda g, ans, x, a, b, loc=0.0, scale=1.0, *, dist: (g * dist.pdf(x, a, b, loc, scale), None, None, -g * dist.pdf(x, a, b, loc, scale), -g * dist.pdf(x, a, b, loc, scale) * zs(x, loc, scale))
_logcdf_ab = lambda g, ans, x, a, b, loc=0.0, scale=1.0, *, dist: (g * np.exp(dist.logpdf(x, a, b, loc, scale) - ans), None, None, -g * np.exp(dist.logpdf(x, a, b, loc, scale) - ans), -g * np.exp(dist.logpdf(x, a, b, loc, scale) - ans) * zs(x, loc, scale))
_logsf_ab  = lambda g, ans, x, a, b, loc=0.0, scale=1.0, *, dist: (-g * np.exp(dist.logpdf(x, a, b, loc, scale) - ans), None, None, g * np.exp(dist.logpdf(x, a, b, loc, scale) - ans), g * np.exp(dist.logpdf(x, a, b, loc, scale) - ans) * zs(x, loc, scale))
_sf_ab     = lambda g, ans, x, a, b, loc=0.0, scale=1.0, *, dist: (-g * dist.pdf(x, a, b, loc, scale), None, None, g * dist.pdf(x, a, b, loc, scale), g * dist.pdf(x, a, b, loc, scale) * zs(x, loc, scale))
# Poisson: k is an integer (no derivative); the cdf is Q(floor(k) + 1, mu), with d/dmu = -pmf(floor(k))
_logpmf  = lambda g, ans, k, mu, loc=0: (None, g * (k - loc - mu) / mu, None)
_pmf     = lambda g, ans, k, mu, loc=0: (None, g * ans * (k - loc - mu) / mu, None)
_pcdf    = lambda g, ans, k, mu, loc=0: (None, -g * stats.poisson.pmf(np.floor(k), mu, loc), None)
_plogcdf = lambda g, ans, k, mu, loc=0: (None, -g * np.exp(stats.poisson.logpmf(np.floor(k), mu, loc) - ans), None)
_psf     = lambda g, ans, k, mu, loc=0: (None, g * stats.poisson.pmf(np.floor(k), mu, loc), None)
_plogsf  = lambda g, ans, k, mu, loc=0: (None, g * np.exp(stats.poisson.logpmf(np.floor(k), mu, loc) - ans), None)

# multivariate normal: for each point -(x - mean)^T C^-1 (x - mean) / 2 - log det(2 pi C) / 2; Dirichlet
_MULTIVARIATE = {
    "multivariate_normal.logpdf": (lambda g, ans, x, mean=None, cov=1, allow_singular=False: (mvn_logpdf_adjoint(g, x, mean, cov, 0), mvn_logpdf_adjoint(g, x, mean, cov, 1), mvn_logpdf_adjoint(g, x, mean, cov, 2)),
                                   lambda t, ans, x, mean, cov: (mvn_logpdf_jvp(t, x, mean, cov, 0), mvn_logpdf_jvp(t, x, mean, cov, 1), mvn_logpdf_jvp(t, x, mean, cov, 2))),
    "multivariate_normal.pdf":    (lambda g, ans, x, mean=None, cov=1, allow_singular=False: (mvn_logpdf_adjoint(g * ans, x, mean, cov, 0), mvn_logpdf_adjoint(g * ans, x, mean, cov, 1), mvn_logpdf_adjoint(g * ans, x, mean, cov, 2)),
                                   lambda t, ans, x, mean, cov: (ans * mvn_logpdf_jvp(t, x, mean, cov, 0), ans * mvn_logpdf_jvp(t, x, mean, cov, 1), ans * mvn_logpdf_jvp(t, x, mean, cov, 2))),
    # entropy = log det(2 pi e C) / 2: none through the mean
    "multivariate_normal.entropy": (lambda g, ans, mean=None, cov=1: (None, mvn_entropy_adjoint(g, mean, cov)),
                                    lambda t, ans, mean, cov: (None, mvn_entropy_jvp(t, mean, cov))),
    "dirichlet.logpdf":           (lambda g, ans, x, alpha: (dirichlet_logpdf_adjoint(g, x, alpha, 0), dirichlet_logpdf_adjoint(g, x, alpha, 1)),
                                   lambda t, ans, x, alpha: (dirichlet_logpdf_jvp(t, x, alpha, 0), dirichlet_logpdf_jvp(t, x, alpha, 1))),
    "dirichlet.pdf":              (lambda g, ans, x, alpha: (dirichlet_logpdf_adjoint(g * ans, x, alpha, 0), dirichlet_logpdf_adjoint(g * ans, x, alpha, 1)),
                                   lambda t, ans, x, alpha: (ans * dirichlet_logpdf_jvp(t, x, alpha, 0), ans * dirichlet_logpdf_jvp(t, x, alpha, 1))),
}
_DENSITY = {"": (_logpdf, _pdf), "df": (_logpdf_df, _pdf_df), "a": (_logpdf_a, _pdf_a), "ab": (_logpdf_ab, _pdf_ab)}
_DISTRIBUTION = {"": (_cdf, _logcdf, _sf, _logsf), "df": (_cdf_df, _logcdf_df, _sf_df, _logsf_df),
                 "a": (_cdf_a, _logcdf_a, _sf_a, _logsf_a), "ab": (_cdf_ab, _logcdf_ab, _sf_ab, _logsf_ab)}


def _scipy_stats_rules():
    from . import scipy_adjoints as sa

    def stat(names, template, **options):
        _register(names, template, "elementwise", stats, "scipy.stats.", section="scipy.stats", **options)
    for name, shapes in [("norm", ""), ("expon", ""), ("laplace", ""), ("cauchy", ""), ("logistic", ""),
                         ("t", "df"), ("chi2", "df"), ("gamma", "a"), ("beta", "ab")]:
        dist, refused = getattr(stats, name), (shapes,) if shapes == "df" else tuple(shapes)
        fixed = {"score": sa.SCORES[name]}
        fixed.update({"da": sa.beta_dlogf_a, "db": sa.beta_dlogf_b} if shapes == "ab" else
                     {"dshape": sa.SHAPE_DERIVATIVES[name]} if shapes else {})
        for method, template in zip(("logpdf", "pdf"), _DENSITY[shapes]):
            stat(f"{name}.{method}", template, fixed=fixed)
        for method, template in zip(("cdf", "logcdf", "sf", "logsf"), _DISTRIBUTION[shapes]):
            stat(f"{name}.{method}", template, fixed={"dist": dist}, refused=refused)
    for method, template in [("logpmf", _logpmf), ("pmf", _pmf), ("cdf", _pcdf), ("logcdf", _plogcdf),
                             ("sf", _psf), ("logsf", _plogsf)]:
        stat(f"poisson.{method}", template)
    # multivariate: the normal's cov is read by SciPy in its lower triangle (adjoint there only)
    helpers = [getattr(sa, name) for name in "mvn_logpdf_adjoint mvn_logpdf_jvp mvn_entropy_adjoint mvn_entropy_jvp dirichlet_logpdf_adjoint "
                                              "dirichlet_logpdf_jvp".split()]
    global HELPERS
    HELPERS += tuple(helpers)
    globals().update((f.__name__, f) for f in helpers)      # (the templates name them)
    for name, template in _MULTIVARIATE.items():
        _register(name, template[0], "vjp", stats, "scipy.stats.", section="scipy.stats", jvp=template[1],
                  only={"allow_singular": False} if "allow_singular" in template[0].__code__.co_varnames else {})



# --- SciPy: scipy.linalg --------------------------------------------------------------------
# One matrix at a time (the helpers say so when given a stack).  A factorization that reads one
# triangle of `a` (cholesky, cho_factor) gives an adjoint on that triangle alone: exactly what
# changing each entry of `a` does.  `cho_factor`'s (c, lower) goes to cho_solve written out:
# `c, lower = cho_factor(a)`, then `cho_solve((c, lower), b)`.
def _scipy_linalg_rules():
    global HELPERS
    from . import scipy_adjoints
    helpers = [getattr(scipy_adjoints, name) for name in (
        "solve_triangular_adjoint_a solve_triangular_adjoint_b solve_triangular_jvp_a triangle_cholesky_adjoint "
        "triangle_cholesky_jvp cho_factor_adjoint cho_factor_jvp cho_solve_adjoint signal_convolve_adjoint lu_factor_adjoint "
        "lu_factor_jvp lu_solve_adjoint lu_solve_adjoint_b solve_banded_adjoint solve_banded_jvp").split()]
    HELPERS += tuple(helpers)
    globals().update((f.__name__, f) for f in helpers)      # (the templates name them)

    def la(names, template, **options):
        _register(names, template, "vjp", linalg, "scipy.linalg.", section="scipy.linalg", **options)
    la("solve_triangular", lambda g, ans, a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False, check_finite=True: (solve_triangular_adjoint_a(g, ans, a, trans, lower, unit_diagonal), solve_triangular_adjoint_b(g, a, trans, lower, unit_diagonal)),
                           jvp=lambda t, ans, a, b, trans, lower, unit_diagonal: (solve_triangular_jvp_a(t, ans, a, trans, lower, unit_diagonal), linalg.solve_triangular(a, t, trans, lower, unit_diagonal)))
    la("cholesky",         lambda g, ans, a, lower=False, overwrite_a=False, check_finite=True: triangle_cholesky_adjoint(g, ans, lower),
                           jvp=lambda t, ans, a, lower: triangle_cholesky_jvp(t, ans, lower))
    la("cho_factor",       lambda g, ans, a, lower=False, overwrite_a=False, check_finite=True: cho_factor_adjoint(g, ans, lower), output=0,
                           jvp=lambda t, ans, a, lower: cho_factor_jvp(t, ans, lower))
    la("cho_solve",        lambda g, ans, c_and_lower, b, overwrite_b=False, check_finite=True: (cho_solve_adjoint(g, ans, c_and_lower, index), linalg.cho_solve(c_and_lower, g)),
                           jvp=lambda t, ans, c_and_lower, b: (None, linalg.cho_solve(c_and_lower, t)), missing=("c_and_lower",))
    # lu_factor's (lu, piv) packs L (unit lower) and U of a[perm] = L U (the helpers factor a
    # again for piv, the other output); piv holds integers: no derivative
    la("lu_factor",        lambda g, ans, a, overwrite_a=False, check_finite=True: lu_factor_adjoint(g, ans, a), output=0,
                           jvp=lambda t, ans, a: lu_factor_jvp(t, ans, a))
    la("lu_solve",         lambda g, ans, lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True: (lu_solve_adjoint(g, ans, lu_and_piv, trans, index), lu_solve_adjoint_b(g, lu_and_piv, trans)),
                           jvp=lambda t, ans, lu_and_piv, b, trans: (None, linalg.lu_solve(lu_and_piv, t, trans)), missing=("lu_and_piv",))
    # exp(A)'s adjoint is its Frechet derivative at A^T in the direction g
    la("expm",             lambda g, ans, A: linalg.expm_frechet(A.T, g, compute_expm=False),
                           jvp=lambda t, ans, A: linalg.expm_frechet(A, t, compute_expm=False))
    # X = sqrtm(A): X dX + dX X = dA, a Sylvester equation
    la("sqrtm",            lambda g, ans, A: linalg.solve_sylvester(ans.T, ans.T, g),
                           jvp=lambda t, ans, A: linalg.solve_sylvester(ans, ans, t))
    # banded storage: b's adjoint solves with A^T (its bands swapped), ab's is -(A^-T g) x^T in the band
    la("solve_banded",     lambda g, ans, l_and_u, ab, b, overwrite_ab=False, overwrite_b=False, check_finite=True: (None, solve_banded_adjoint(g, ans, l_and_u, ab, 0), solve_banded_adjoint(g, ans, l_and_u, ab, 1)),
                           jvp=lambda t, ans, l_and_u, ab, b: (None, solve_banded_jvp(t, ans, l_and_u, ab), linalg.solve_banded(l_and_u, ab, t)))
    # A X + X B = Q:  A^T Y + Y B^T = g gives Q's adjoint Y, then A's -Y X^T and B's -X^T Y
    la("solve_sylvester",  lambda g, ans, a, b, q: (-linalg.solve_sylvester(a.T, b.T, g) @ ans.T, -ans.T @ linalg.solve_sylvester(a.T, b.T, g), linalg.solve_sylvester(a.T, b.T, g)),
                           jvp=lambda t, ans, a, b, q: (linalg.solve_sylvester(a, b, -(t @ ans)), linalg.solve_sylvester(a, b, -(ans @ t)), linalg.solve_sylvester(a, b, t)))
    # as NumPy's, for a general matrix (assume_a=None): a structure assumed reads part of `a` only
    la("inv",              lambda g, ans, a, overwrite_a=False, check_finite=True, *, assume_a=None, lower=False: -(ans.T @ g @ ans.T), only={"assume_a": None},
                           jvp=lambda t, ans, a: -(ans @ t @ ans))
    la("det",              lambda g, ans, a, overwrite_a=False, check_finite=True: g * ans * linalg.inv(a).T,
                           jvp=lambda t, ans, a: ans * np.trace(linalg.solve(a, t)))
    la("solve",            lambda g, ans, a, b, lower=False, overwrite_a=False, overwrite_b=False, check_finite=True, assume_a=None, transposed=False: (solve_adjoint(g, ans, a, b, 0), solve_adjoint(g, ans, a, b, 1)), only={"assume_a": None, "transposed": False},
                           jvp=lambda t, ans, a, b: (np.linalg.solve(a, -(t @ ans[..., None]))[..., 0] if np.ndim(b) == 1 else np.linalg.solve(a, -(t @ ans)), np.linalg.solve(a, t)))


# --- SciPy: scipy.signal --------------------------------------------------------------------
# convolve is bilinear; an input's adjoint is g, placed in the full output, correlated with the other
def _scipy_signal_rules():
    _register("convolve", lambda g, ans, in1, in2, mode="full", method="auto": (signal_convolve_adjoint(g, in1, in2, mode, 0), signal_convolve_adjoint(g, in1, in2, mode, 1)),
              "vjp", signal, "scipy.signal.", section="scipy.signal", jvp=multilinear)

# Array methods and attributes, as the NumPy functions they stand for.
METHODS = {name: getattr(np, name) for name in (
    "sum mean prod max min var std cumsum dot reshape ravel transpose swapaxes squeeze clip "
    "trace repeat round argmax argmin all any nonzero").split()}
METHODS.update(flatten=np.ravel, copy=np.asarray, astype=np.ndarray.astype, conj=np.conjugate,
               conjugate=np.conjugate,
               **{name: getattr(np, name) for name in "take diagonal cumprod".split() if hasattr(np, name)})
ATTRIBUTES = {"T": np.transpose, "real": np.real, "imag": np.imag}
SHAPE_ATTRIBUTES = {"shape", "ndim", "size", "dtype", "itemsize", "nbytes"}
BUILTINS = {abs: np.absolute, float: np.asarray, max: np.maximum, min: np.minimum,
            math.exp: np.exp, math.log: np.log, math.log1p: np.log1p, math.expm1: np.expm1,
            math.sqrt: np.sqrt, math.sin: np.sin, math.cos: np.cos, math.tan: np.tan,
            math.tanh: np.tanh, math.sinh: np.sinh, math.cosh: np.cosh, math.atan: np.arctan,
            math.asin: np.arcsin, math.acos: np.arccos, math.atan2: np.arctan2,
            math.hypot: np.hypot, math.pow: np.power, math.fabs: np.absolute,
            math.log2: np.log2, math.log10: np.log10}

load_scipy()      # (SciPy imported before srcgrad: its rules now)
