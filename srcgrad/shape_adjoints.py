"""Adjoints of the shape, construction and single-output array functions (issue 12)
that no single NumPy expression gives: gathers undone by scatters, the index maps of
np.pad, cumprod through zeros, piecewise-linear interpolation, convolution.

Each takes plain arrays and returns one; generated gradients call them by name.
"""
import numpy as np

from .runtime import Undefined, _diagonal_index, unbroadcast


def _float_dtype(*like):
    """The dtype of an adjoint of these: theirs if it is a float type (float32 stays), else float64."""
    dtype = np.result_type(*like)
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def _float_zeros(shape, *like):
    return np.zeros(shape, dtype=_float_dtype(*like))


def no_gradient(function, param):
    """What a rule gives for an argument srcgrad cannot differentiate: an error at the
    user's line when that argument needs a gradient, never a silent zero."""
    raise Undefined(f"srcgrad has no derivative of {function} with respect to `{param}`; "
                    "pass a constant there, or wrap the call in srcgrad.stop_gradient")


# --- gathers: the adjoint scatters `g` back, adding where an element was read twice ---

def take_along_axis_adjoint(g, arr, indices, axis=-1):
    """Adjoint of np.take_along_axis(arr, indices, axis) (also of sort and partition)."""
    shape = np.shape(arr)
    if axis is None:
        flat = np.bincount(np.ravel(indices) % max(np.size(arr), 1), np.ravel(g), np.size(arr))
        return np.reshape(flat.astype(_float_dtype(g), copy=False), shape)
    g = np.asarray(g)
    axis = axis % g.ndim
    full = list(g.shape)
    full[axis] = shape[axis]             # arr's axes other than `axis` may have broadcast
    out = _float_zeros(full, g)
    where = list(np.ogrid[tuple(slice(n) for n in g.shape)])
    where[axis] = np.broadcast_to(indices, g.shape)
    np.add.at(out, tuple(where), g)
    return unbroadcast(out, arr)


def take_adjoint(g, a, indices, axis=None, mode="raise"):
    """Adjoint of np.take(a, indices, axis, mode): `mode` wraps or clips the indices first."""
    shape = np.shape(a)
    n = np.size(a) if axis is None else shape[axis]
    positions = np.take(np.arange(n), indices, mode=mode)
    if axis is None:
        flat = np.bincount(np.ravel(positions), np.ravel(g), n)
        return np.reshape(flat.astype(_float_dtype(g), copy=False), shape)
    axis = axis % len(shape)
    moved = np.moveaxis(np.asarray(g), list(range(axis, axis + np.ndim(positions))),
                        list(range(np.ndim(positions))))
    out = _float_zeros((n,) + tuple(np.delete(shape, axis)), g)
    np.add.at(out, positions, moved)
    return np.moveaxis(out, 0, axis)


def compress_adjoint(g, condition, a, axis=None):
    """Adjoint of np.compress(condition, a, axis): `g` where the condition kept an element."""
    shape = np.shape(a)
    n = np.size(a) if axis is None else shape[axis]
    kept = np.flatnonzero(np.asarray(condition)[:n])
    return take_adjoint(g, a, kept, axis)


def sort_indices(a, axis, kth=None):
    """The positions np.sort (np.partition with `kth`) reads, ties in their order in `a`."""
    if kth is None:
        return np.argsort(a, axis, kind="stable")
    return np.argpartition(a, kth, axis)


def diagonal_adjoint(g, a, offset=0, axis1=0, axis2=1):
    """Adjoint of np.diagonal: `g` on the chosen diagonal (NumPy puts it last), zeros elsewhere."""
    out = _float_zeros(np.shape(a), g)
    view = np.moveaxis(out, (axis1, axis2), (-2, -1))
    rows, cols = _diagonal_index(view.shape, offset)
    view[..., rows, cols] = g
    return out


# --- joining ------------------------------------------------------------------------

def _columns(x):
    return np.reshape(x, (-1, 1)) if np.ndim(x) < 2 else x


def column_stack_adjoint(g, tup, index):
    """Adjoint of array number `index` of np.column_stack(tup) (1-D arrays are columns)."""
    start = sum(np.shape(_columns(x))[1] for x in tup[:index])
    part = g[:, start:start + np.shape(_columns(tup[index]))[1]]
    return np.reshape(part, np.shape(tup[index]))


def dstack_adjoint(g, tup, index):
    """Adjoint of array number `index` of np.dstack(tup) (arrays made 3-D, joined on axis 2)."""
    start = sum(np.shape(np.atleast_3d(x))[2] for x in tup[:index])
    part = g[:, :, start:start + np.shape(np.atleast_3d(tup[index]))[2]]
    return np.reshape(part, np.shape(tup[index]))


def rollaxis_adjoint(g, a, axis, start=0):
    """Adjoint of np.rollaxis: the inverse permutation (read off a zero-stride stand-in)."""
    ndim = np.ndim(a)
    stand_in = np.broadcast_to(0.0, tuple(range(2, ndim + 2)))     # axis k has length k + 2
    order = [n - 2 for n in np.rollaxis(stand_in, axis, start).shape]
    return np.transpose(g, np.argsort(order))


# --- differences and padding ----------------------------------------------------------

def diff_adjoint(g, a, n=1, axis=-1, prepend=None, append=None, which=0):
    """Adjoint of `a` (which=0), `prepend` (1) or `append` (2) in np.diff: the transpose of
    n differences is n differences of `g` padded with n zeros each side, times (-1)^n."""
    axis = axis % max(np.ndim(g), 1)
    widths = [(0, 0)] * np.ndim(g)
    widths[axis] = (n, n)
    whole = np.diff(np.pad(g, widths), n, axis) * (-1.0) ** n
    before = 0 if prepend is None else _joined_length(prepend, a, axis)
    size = np.shape(a)[axis]
    if which == 0:
        return np.take(whole, np.arange(before, before + size), axis)
    if which == 1:
        return unbroadcast(np.take(whole, np.arange(before), axis), prepend)
    return unbroadcast(np.take(whole, np.arange(before + size, whole.shape[axis]), axis), append)


def _joined_length(x, a, axis):
    """How many entries np.diff's prepend/append adds along `axis` (a scalar adds one)."""
    return 1 if np.ndim(x) == 0 else np.shape(x)[axis]


PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")   # each an index map


def pad_adjoint(g, array, pad_width, mode="constant", which=0, constant_values=0, reflect_type="even"):
    """Adjoint of `array` (which=0) or of a scalar `constant_values` (which=1) in np.pad.
    The modes of PAD_MODES copy elements of `array` (or the constant): padding the positions
    0..n-1 the same way tells which element each entry of the result is."""
    if mode not in PAD_MODES or reflect_type != "even":
        raise Undefined(f"srcgrad differentiates np.pad in the modes {', '.join(PAD_MODES)} "
                        f"(reflect_type='even'), not mode={mode!r}, reflect_type={reflect_type!r}")
    shape, size = np.shape(array), np.size(array)
    options = {"constant_values": -1} if mode == "constant" else {}
    source = np.pad(np.arange(size).reshape(shape), pad_width, mode, **options)
    if which == 1:
        if np.ndim(constant_values) != 0:
            raise Undefined("srcgrad differentiates np.pad's constant_values only as one number")
        return np.sum(np.where(source < 0, g, 0.0))
    inside = source >= 0
    flat = np.bincount(source[inside], np.asarray(g)[inside], size)
    return np.reshape(flat.astype(_float_dtype(g), copy=False), shape)


# --- cumulative product: through zeros without dividing by them ------------------------

def _along_last(x, axis):
    return np.ravel(x) if axis is None else np.moveaxis(x, axis, -1)


def _zero_split(a):
    """For a (moved so the axis is last): where the first zero along it is, the positions
    before it, and a with that zero replaced by 1 (so cumprod of it is the product of the
    others)."""
    zero = a == 0
    seen = np.cumsum(zero, axis=-1)
    first = zero & (seen == 1)
    return first, seen == 0, np.where(first, 1.0, a)


def cumprod_adjoint(g, ans, a, axis=None):
    """Adjoint of np.cumprod.  Before the first zero: the usual sum(g * ans) / a; at the first
    zero: the sum of g times the products of the others; after it: 0."""
    g, ans, a_moved = (np.broadcast_to(_along_last(x, axis), np.shape(_along_last(ans, axis)))
                       for x in (g, ans, a))
    first, before, others = _zero_split(a_moved)
    rest = lambda x: np.flip(np.cumsum(np.flip(x, -1), -1), -1)     # sum from here to the end
    out = rest(g * ans) / np.where(before, a_moved, 1.0) * before + \
        rest(g * np.cumprod(others, -1)) * first
    return np.reshape(out, np.shape(a)) if axis is None else np.moveaxis(out, -1, axis)


def cumprod_jvp(t, ans, a, axis=None):
    """Tangent of np.cumprod along `t`: before the first zero ans * cumsum(t / a); from it on,
    the tangent of that zero times the product of the others."""
    t, ans_moved, a_moved = (np.broadcast_to(_along_last(x, axis), np.shape(_along_last(ans, axis)))
                             for x in (t, ans, a))
    first, before, others = _zero_split(a_moved)
    out = before * ans_moved * np.cumsum(t * before / np.where(before, a_moved, 1.0), -1) + \
        ~before * np.cumprod(others, -1) * np.sum(t * first, -1, keepdims=True)
    return out if axis is None else np.moveaxis(out, -1, axis)


# --- interpolation --------------------------------------------------------------------

def _segments(x, xp):
    """For each x: the segment of xp it lies on (the one starting at a knot x equals; the last
    one at the last knot) and its position in it, 0..1 (outside below 0 or above 1)."""
    i = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, len(xp) - 2)
    return i, (x - xp[i]) / (xp[i + 1] - xp[i])


def interp_adjoint(g, x, xp, fp, left=None, right=None, which="fp"):
    """Adjoint of `fp`, `left` or `right` (which) in np.interp(x, xp, fp, left, right): each x
    mixes the two ends of its segment."""
    x, xp, fp = np.asarray(x), np.asarray(xp), np.asarray(fp)
    g = np.broadcast_to(g, x.shape)
    below, above = x < xp[0], x > xp[-1]
    if which == "left":
        return np.sum(g * below)
    if which == "right":
        return np.sum(g * above)
    keep = ~((below & (left is not None)) | (above & (right is not None)))
    if len(xp) == 1:               # a constant: fp[0] wherever left/right do not replace it
        return np.sum(g * keep)[None]
    i, w = _segments(x, xp)
    w = np.clip(w, 0.0, 1.0)           # outside: the end value (unless left/right replace it)
    out = np.bincount(np.ravel(i), np.ravel(g * (1.0 - w) * keep), len(fp)) + \
        np.bincount(np.ravel(i + 1), np.ravel(g * w * keep), len(fp))
    return out.astype(_float_dtype(g, fp), copy=False)


def interp_x_adjoint(g, x, xp, fp):
    """Adjoint of `x` in np.interp(x, xp, fp): g times the slope of x's segment (interp_slope)."""
    return g * interp_slope(x, xp, fp)


def interp_slope(x, xp, fp):
    """d np.interp(x, xp, fp) / dx: the slope of x's segment (see _segments), 0 outside."""
    x, xp, fp = np.asarray(x), np.asarray(xp), np.asarray(fp)
    if len(xp) == 1:
        return np.zeros(x.shape)
    i, _ = _segments(x, xp)
    return (fp[i + 1] - fp[i]) / (xp[i + 1] - xp[i]) * ((x >= xp[0]) & (x <= xp[-1]))


# --- convolution, Kronecker and cross products ------------------------------------------

def convolve_adjoint(g, a, v, mode="full", which=0):
    """Adjoint of `a` (which=0) or `v` (1) in np.convolve(a, v, mode): `g` placed in the full
    result, then correlated with the other operand."""
    n, m = len(a), len(v)
    full = np.zeros(n + m - 1, dtype=_float_dtype(g))
    start = {"full": 0, "same": (min(n, m) - 1) // 2, "valid": min(n, m) - 1}[mode]
    full[start:start + len(g)] = g
    return np.correlate(full, v if which == 0 else a, "valid")


def correlate_adjoint(g, a, v, mode="valid", which=0):
    """Adjoint in np.correlate(a, v, mode), which is np.convolve(a, v[::-1], mode) (real data;
    NumPy reverses the result when v is the longer one)."""
    if len(v) > len(a):
        g = np.asarray(g)[::-1]
        a, v, which = v, a, 1 - which
        part = convolve_adjoint(g, a, v[::-1], mode, which)
        return part if which == 0 else part[::-1]
    part = convolve_adjoint(g, a, v[::-1], mode, which)
    return part if which == 0 else part[::-1]


def kron_adjoint(g, a, b, which=0):
    """Adjoint of `a` (which=0) or `b` (1) in np.kron(a, b): g's axes split into (a's, b's)
    pairs, contracted with the other operand."""
    a, b = np.asarray(a), np.asarray(b)
    ndim = max(a.ndim, b.ndim)
    a_shape = (1,) * (ndim - a.ndim) + a.shape
    b_shape = (1,) * (ndim - b.ndim) + b.shape
    split = np.reshape(g, [n for pair in zip(a_shape, b_shape) for n in pair])
    other = np.reshape(b if which == 0 else a, b_shape if which == 0 else a_shape)
    other_axes = list(range(1, 2 * ndim, 2)) if which == 0 else list(range(0, 2 * ndim, 2))
    out = np.tensordot(split, other, (other_axes, list(range(ndim))))
    return np.reshape(out, np.shape(a) if which == 0 else np.shape(b))


def _three(x):
    """2-vectors as 3-vectors with z = 0 (np.cross treats them so)."""
    x = np.asarray(x)
    return np.concatenate([x, np.zeros(x.shape[:-1] + (1,), x.dtype)], -1) if x.shape[-1] == 2 else x


def cross_adjoint(g, a, b, which=0, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """Adjoint of `a` (which=0) or `b` (1) in np.cross(a, b, axisa, axisb, axisc, axis):
    <g, a x b> = <a, b x g> = <b, g x a>.  A cross of two 2-vectors is the z component."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b, g = np.moveaxis(a, axisa, -1), np.moveaxis(b, axisb, -1), np.asarray(g)
    if a.shape[-1] == 2 and b.shape[-1] == 2:
        g = np.stack([np.zeros_like(g), np.zeros_like(g), g], -1)
    else:
        g = np.moveaxis(g, axisc, -1)
    out = np.cross(_three(b), g) if which == 0 else np.cross(g, _three(a))
    like = a if which == 0 else b
    return np.moveaxis(unbroadcast(out[..., :like.shape[-1]], like), -1, axisa if which == 0 else axisb)


def average_adjoint(g, a, axis=None, weights=None, keepdims=False):
    """Adjoint of `a` in np.average(a, axis, weights, keepdims) = sum(a * w) / sum(w) along axis
    (1-D weights lie along `axis`)."""
    a = np.asarray(a)
    w = _average_weights(a, axis, weights)
    if not keepdims and axis is not None:
        g = np.expand_dims(g, axis)
    return g * w / np.sum(w, axis=axis, keepdims=True)


def average_weights_adjoint(g, mean, a, axis=None, weights=None, keepdims=False):
    """Adjoint of `weights` in np.average (`mean` its result)."""
    a = np.asarray(a)
    w = _average_weights(a, axis, weights)
    if not keepdims and axis is not None:
        g, mean = np.expand_dims(g, axis), np.expand_dims(mean, axis)
    part = g * (a - mean) / np.sum(w, axis=axis, keepdims=True)
    return np.reshape(unbroadcast(part, _along_axis(a, axis, weights)), np.shape(weights))


def average_jvp(t, ans, a, axis=None, weights=None, keepdims=False, which=0):
    """Tangent of np.average along the tangent `t` of `a` (which=0) or of `weights` (1)."""
    a = np.asarray(a)
    w = _average_weights(a, axis, weights)
    total = np.sum(w, axis=axis, keepdims=True)
    kept = ans if keepdims or axis is None else np.expand_dims(ans, axis)
    part = t * w if which == 0 else _along_axis(a, axis, t) * (a - kept)
    return np.sum(part / total, axis=axis, keepdims=keepdims)


def _average_weights(a, axis, weights):
    if weights is None:
        return np.ones(a.shape, _float_dtype(a))
    return np.broadcast_to(_along_axis(a, axis, np.asarray(weights)), a.shape)


def _along_axis(a, axis, w):
    """np.average's weights (or their tangent) in a shape that broadcasts against `a`: 1-D
    weights of a many-dimensional `a` lie along `axis`."""
    if np.shape(w) == np.shape(a) or axis is None:
        return w
    shape = [1] * np.ndim(a)
    shape[axis] = -1
    return np.reshape(w, shape)


def trapezoid_adjoint(g, y, x=None, dx=1.0, axis=-1, which=0):
    """Adjoint of `y` (which=0), `x` (1) or `dx` (2) in np.trapezoid(y, x, dx, axis), the sum
    of (x[i+1] - x[i]) * (y[i] + y[i+1]) / 2 along axis."""
    y = np.moveaxis(np.asarray(y, dtype=_float_dtype(y)), axis, -1)
    g = np.expand_dims(g, -1)
    if which == 2:
        return np.sum(g * (y[..., 1:] + y[..., :-1]) / 2.0)
    steps = np.full(y.shape[-1] - 1, dx, y.dtype) if x is None else np.diff(np.moveaxis(x, axis, -1) if np.ndim(x) > 1 else x, axis=-1)
    if which == 0:
        zero = np.zeros(np.shape(steps)[:-1] + (1,), np.result_type(steps))
        out = g * (np.concatenate([zero, steps], -1) + np.concatenate([steps, zero], -1)) / 2.0
        return np.moveaxis(unbroadcast(out, y) if np.shape(out) != y.shape else out, -1, axis)
    means = g * (y[..., 1:] + y[..., :-1]) / 2.0
    zero = np.zeros(means.shape[:-1] + (1,), means.dtype)
    out = np.concatenate([zero, means], -1) - np.concatenate([means, zero], -1)
    if np.ndim(x) > 1:
        return np.moveaxis(unbroadcast(out, np.moveaxis(np.asarray(x), axis, -1)), -1, axis)
    return np.sum(np.reshape(out, (-1, out.shape[-1])), 0)


# --- order statistics -------------------------------------------------------------------

def quantile_adjoint(g, a, q, axis=None, keepdims=False, method="linear"):
    """Adjoint of `a` in np.quantile(a, q, axis, method='linear', keepdims): each quantile is
    sorted[lo] * (1 - f) + sorted[lo + 1] * f at place q * (n - 1), and the sorted elements
    pass their shares back to where they came from.  Ties: equal elements take their sorted
    places in their order in `a`, so one of them may get both shares of a median."""
    lo, hi, f, order, moved = _quantile_places(a, q, axis, method)
    reduced = moved.shape[:-1]
    g = np.reshape(g, np.shape(q) + reduced)       # (keepdims or not)
    g = np.moveaxis(g, list(range(np.ndim(q))), list(range(-np.ndim(q), 0)))   # q's axes last
    g = np.reshape(g, reduced + (-1,))
    where = tuple(w[..., None] for w in np.ogrid[tuple(slice(k) for k in reduced)])
    sorted_adjoint = _float_zeros(moved.shape, g)
    for places, share in ((lo, 1.0 - f), (hi, f)):
        np.add.at(sorted_adjoint, where + (np.ravel(places),),
                  g * np.ravel(share))
    out = take_along_axis_adjoint(sorted_adjoint, moved, order, -1)
    return np.reshape(out, np.shape(a)) if axis is None else np.moveaxis(out, -1, axis)


def permutation_source(ans, a, axis):
    """Indices with np.take_along_axis(a, indices, axis) == ans, for `ans` a rearrangement of
    `a` along `axis` (np.partition's): equal values are matched in their order in each."""
    a_order = np.argsort(a, axis, kind="stable")
    ans_order = np.argsort(ans, axis, kind="stable")
    source = np.empty_like(a_order)
    np.put_along_axis(source, ans_order, a_order, axis)
    return source


def diff_jvp(t, a, n=1, axis=-1, prepend=None, append=None, which=0):
    """Tangent of np.diff along the tangent `t` of `a` (which=0), `prepend` (1) or `append` (2):
    the differences of the joined array with zeros in place of the other parts."""
    axis = axis % np.ndim(a)
    def part(x, k):
        if x is None:
            return None
        shape = list(np.shape(a))
        shape[axis] = _joined_length(x, a, axis)
        return np.broadcast_to(t, shape) if k == which else np.zeros(shape, _float_dtype(t))
    parts = [part(prepend, 1), t if which == 0 else np.zeros(np.shape(a), _float_dtype(t)), part(append, 2)]
    return np.diff(np.concatenate([p for p in parts if p is not None], axis), n, axis)


def pad_jvp(t, array, pad_width, mode="constant", which=0, constant_values=0, reflect_type="even"):
    """Tangent of np.pad along the tangent `t` of `array` (which=0) or of `constant_values` (1)."""
    if mode not in PAD_MODES or reflect_type != "even":
        pad_adjoint(t, array, pad_width, mode, which, constant_values, reflect_type)   # refuses
    if which == 1:
        return np.pad(np.zeros(np.shape(array), _float_dtype(t)), pad_width, constant_values=t)
    return np.pad(t, pad_width, mode) if mode != "constant" else np.pad(t, pad_width)


def quantile_jvp(t, a, q, axis=None, keepdims=False, method="linear"):
    """Tangent of np.quantile(a, q, axis, method='linear', keepdims) along `t`: the sorted
    tangents at the quantile's two places, mixed as the values are (ties as in quantile_adjoint)."""
    lo, hi, f, order, moved = _quantile_places(a, q, axis, method)
    t_sorted = np.take_along_axis(np.reshape(t, -1) if axis is None else np.moveaxis(t, axis, -1), order, -1)
    out = t_sorted[..., lo] * (1.0 - f) + t_sorted[..., hi] * f        # reduced shape + q's shape
    out = np.moveaxis(out, list(range(moved.ndim - 1, out.ndim)), list(range(np.ndim(q))))
    if keepdims:
        kept = list(np.shape(a)) if axis is not None else [1] * np.ndim(a)
        if axis is not None:
            kept[axis] = 1
        out = np.reshape(out, np.shape(q) + tuple(kept))
    return out


def _quantile_places(a, q, axis, method):
    if method != "linear":
        raise Undefined(f"srcgrad differentiates quantiles with method='linear' only, not {method!r}")
    a = np.asarray(a)
    moved = np.reshape(a, -1) if axis is None else np.moveaxis(a, axis, -1)
    n = moved.shape[-1]
    position = np.asarray(q, dtype=float) * (n - 1)
    lo = np.clip(np.floor(position).astype(int), 0, n - 1)
    return lo, np.minimum(lo + 1, n - 1), position - lo, np.argsort(moved, -1, kind="stable"), moved


def select_picks(condlist, like):
    """For np.select(condlist, choicelist, default): which choice each element of the result
    (in the shape of `like`) comes from, len(condlist) for the default."""
    conditions = np.broadcast_arrays(*[np.asarray(c, bool) for c in condlist], np.empty(np.shape(like), bool))[:-1]
    first = np.argmax(np.stack(list(conditions) + [np.ones(np.shape(like), bool)]), axis=0)
    return first


def trapezoid_jvp(t, y, x=None, dx=1.0, axis=-1, which=0):
    """Tangent of np.trapezoid(y, x, dx, axis) along the tangent `t` of `y` (which=0), `x` (1)
    or `dx` (2)."""
    y_moved = np.moveaxis(np.asarray(y), axis, -1)
    means = (y_moved[..., 1:] + y_moved[..., :-1]) / 2.0
    if which == 2:
        return t * np.sum(means, -1)
    if which == 1:
        steps = np.diff(np.moveaxis(t, axis, -1) if np.ndim(t) > 1 else t, axis=-1)
        return np.sum(steps * means, -1)
    t_moved = np.moveaxis(t, axis, -1)
    steps = np.full(y_moved.shape[-1] - 1, dx, _float_dtype(y_moved)) if x is None else \
        np.diff(np.moveaxis(x, axis, -1) if np.ndim(x) > 1 else x, axis=-1)
    return np.sum(steps * (t_moved[..., 1:] + t_moved[..., :-1]) / 2.0, -1)


# --- np.gradient: a fixed stencil along one axis ------------------------------------------

def _gradient_axis(f, axis, spacing, edge_order):
    """The one axis np.gradient(f, *spacing, axis=axis, edge_order) differentiates along, its
    uniform step; refuses what gives several results or needs coordinates."""
    if axis is None and np.ndim(f) != 1:
        raise Undefined("srcgrad differentiates np.gradient along one axis (a 1-D array, or axis=k), "
                        "which gives one array")
    if len(spacing) > 1 or any(np.ndim(h) != 0 for h in spacing):
        raise Undefined("srcgrad differentiates np.gradient with one uniform spacing (a number), "
                        "not with coordinates")
    if edge_order not in (1, 2):
        raise Undefined(f"np.gradient's edge_order is 1 or 2, not {edge_order!r}")
    axis = 0 if axis is None else (axis[0] if isinstance(axis, (tuple, list)) else axis)
    return axis, (spacing[0] if spacing else 1.0)


def gradient_adjoint(g, f, spacing=(), axis=None, edge_order=1):
    """Adjoint of `f` in np.gradient(f, *spacing, axis=axis, edge_order=edge_order): the
    transpose of central differences inside, one-sided ones (of order edge_order) at the ends."""
    axis, h = _gradient_axis(f, axis, spacing, edge_order)
    g = np.moveaxis(np.asarray(g), axis, -1) / h
    out = _float_zeros(g.shape, g)
    out[..., 2:] += 0.5 * g[..., 1:-1]
    out[..., :-2] -= 0.5 * g[..., 1:-1]
    if edge_order == 1:
        out[..., 1] += g[..., 0]
        out[..., 0] -= g[..., 0]
        out[..., -1] += g[..., -1]
        out[..., -2] -= g[..., -1]
    else:
        out[..., :3] += np.multiply.outer(g[..., 0], [-1.5, 2.0, -0.5])
        out[..., -3:] += np.multiply.outer(g[..., -1], [0.5, -2.0, 1.5])
    return np.moveaxis(out, -1, axis)


def gradient_spacing_adjoint(g, ans, f, spacing=(), axis=None, edge_order=1, index=0):
    """Adjoint of the spacing h (number `index`, the only one) in np.gradient: its result is
    proportional to 1 / h."""
    _, h = _gradient_axis(f, axis, spacing, edge_order)
    return -np.sum(g * ans) / h


def gradient_spacing_jvp(t, ans, f, spacing=(), axis=None, edge_order=1, index=0):
    """Tangent of np.gradient along the tangent `t` of its spacing (number `index`, the only one)."""
    _, h = _gradient_axis(f, axis, spacing, edge_order)
    return -ans * t / h


# --- covariance and correlation ---------------------------------------------------------

def _observations(m, y, rowvar):
    """np.cov's data as variables x observations (rows are variables)."""
    x = np.atleast_2d(m)
    if not rowvar and x.shape[0] != 1:
        x = x.T
    if y is not None:
        y = np.atleast_2d(y)
        if not rowvar and y.shape[0] != 1:
            y = y.T
        x = np.concatenate([x, y], 0)
    return x


def _cov_parts(m, y, rowvar, bias, ddof):
    x = _observations(m, y, rowvar)
    ddof = (0 if bias else 1) if ddof is None else ddof
    return x, x - np.mean(x, axis=1, keepdims=True), x.shape[1] - ddof


def _to_inputs(dx, m, y, rowvar, which):
    """The adjoint of the stacked data, back to `m` (which=0) or `y` (1) in their shapes."""
    rows = np.atleast_2d(m).shape[0] if (rowvar or np.ndim(m) < 2 or np.shape(m)[0] == 1) else np.shape(m)[1]
    part = dx[:rows] if which == 0 else dx[rows:]
    like = m if which == 0 else y
    if not rowvar and np.ndim(like) == 2 and np.shape(like)[0] != 1:
        part = part.T
    return np.reshape(part, np.shape(like))


def cov_adjoint(g, m, y=None, rowvar=True, bias=False, ddof=None, which=0):
    """Adjoint of `m` (which=0) or `y` (1) in np.cov: C = Xc Xc^T / (N - ddof) with Xc the
    centred data, so dX = (G + G^T) Xc / (N - ddof) (centring is absorbed: Xc's rows sum to 0)."""
    _, centred, count = _cov_parts(m, y, rowvar, bias, ddof)
    g = np.reshape(g, (centred.shape[0],) * 2)
    return _to_inputs((g + g.T) @ centred / count, m, y, rowvar, which)


def cov_jvp(t, m, y=None, rowvar=True, bias=False, ddof=None, which=0):
    """Tangent of np.cov along the tangent `t` of `m` (which=0) or `y` (1)."""
    _, centred, count = _cov_parts(m, y, rowvar, bias, ddof)
    zeros = (np.zeros_like(m, dtype=_float_dtype(t)), None if y is None else np.zeros_like(y, dtype=_float_dtype(t)))
    tangents = (t, zeros[1]) if which == 0 else (zeros[0], t)
    dx = _observations(tangents[0], tangents[1], rowvar)
    dx = dx - np.mean(dx, axis=1, keepdims=True)
    out = (dx @ centred.T + centred @ dx.T) / count
    return out if centred.shape[0] > 1 else out[0, 0]


def corrcoef_adjoint(g, ans, x, y=None, rowvar=True, which=0):
    """Adjoint in np.corrcoef: R = C / (s s^T) with s = sqrt(diag C); the adjoint of C is
    G / (s s^T) less, on the diagonal, the row and column sums of G * R over 2 s^2."""
    c = np.cov(x, y, rowvar)
    s = np.sqrt(np.diag(np.atleast_2d(c)))
    g, r = np.atleast_2d(g), np.atleast_2d(ans)
    gr = g * r
    g_cov = g / np.outer(s, s) - np.diag((gr.sum(0) + gr.sum(1)) / (2.0 * s * s))
    return cov_adjoint(g_cov, x, y, rowvar, False, None, which)


def corrcoef_jvp(t, ans, x, y=None, rowvar=True, which=0):
    """Tangent of np.corrcoef along the tangent `t` of `x` (which=0) or `y` (1)."""
    c = np.cov(x, y, rowvar)
    s = np.sqrt(np.diag(np.atleast_2d(c)))
    dc = np.atleast_2d(cov_jvp(t, x, y, rowvar, False, None, which))
    relative = np.diag(dc) / (2.0 * s * s)                  # ds / s
    out = dc / np.outer(s, s) - np.atleast_2d(ans) * (relative[:, None] + relative[None, :])
    return np.reshape(out, np.shape(ans))


def permutation_adjoint(g, a, indices, axis=-1):
    """Adjoint of np.take_along_axis(a, indices, axis) where `indices` permute a along axis
    (np.sort, np.partition): each element was read once, so g is put back, nothing added."""
    out = np.empty(np.shape(a), dtype=_float_dtype(g))
    if axis is None:
        out.reshape(-1)[indices] = np.ravel(g)
    else:
        np.put_along_axis(out, indices, g, axis)
    return out
