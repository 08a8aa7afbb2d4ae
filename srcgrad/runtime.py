"""Helpers the generated code may call at run time.

Ordinary operations never come here: their adjoints are inline NumPy in the generated
source.  These are the adjoints that need work no single expression does — summing a
broadcast adjoint back to its argument's shape, contractions of arbitrary rank, and
the odd linear-algebra or shape function.  Each takes plain arrays and returns one.
"""
import math
import operator

import numpy as np

from .errors import NonScalarResultError


_PYTHON_SCALARS = (float, int, bool, complex)
_SCALARS = (float, int, np.float64, np.float32, np.int64)


def _array(x):
    """`x` as an array: NumPy's for numbers and lists, another library's array as it is."""
    return x if is_foreign(x) else np.asarray(x)


def sum_over(g, like):
    """The adjoint of a 0-d value that broadcast to `like`'s shape, from `g` (which
    broadcasts to that shape too): `np.sum(np.broadcast_to(g, np.shape(like)))`."""
    if type(like) in _SCALARS or np.ndim(like) == 0:
        return g                            # nothing was broadcast (g is 0-d as well)
    return np.sum(np.broadcast_to(g, np.shape(like)))


def _shape(x):
    if type(x) is np.ndarray:
        return x.shape
    if type(x) in _PYTHON_SCALARS:
        return ()
    shape = getattr(x, "shape", None)       # NumPy scalars, np.broadcast objects
    return shape if shape is not None else np.shape(x)


def unbroadcast(g, like, full=None):
    """Sum `g` over the axes along which `like` was broadcast, giving `like`'s shape.

    `g` has the shape of the broadcast result, or, when `full` is given, broadcasts to
    the shape of `full` (the result) and stands for that broadcast array.
    """
    if type(g) in _SCALARS and type(like) in _SCALARS and (full is None or type(full) in _SCALARS):
        return g                            # numbers: nothing to sum (a loss added up in a loop)
    if type(g) is np.ndarray and type(like) is np.ndarray:
        gshape, shape = g.shape, like.shape
        if gshape == shape and (full is None or gshape == _shape(full)):
            return g                        # nothing was broadcast: the usual case, kept fast
        lead = len(gshape) - len(shape)
        if full is None and lead > 0 and gshape[lead:] == shape:   # a bias added to rows
            return g.sum(axis=0) if lead == 1 else g.sum(axis=tuple(range(lead)))
    if type(like) in _PYTHON_SCALARS and full is None:
        return g.sum() if getattr(g, "ndim", 0) else g      # (any array library's array)
    shape, gshape = _shape(like), _shape(g)
    if full is not None:
        full_shape = _shape(full)
        if gshape != full_shape:
            if gshape == shape and len(shape) == len(full_shape):
                # g's shape is like's; what broadcasting repeated, sum as a count.
                counts = [f // s for f, s in zip(full_shape, shape) if s != f]
                return g * np.prod(counts) if counts else g
            g = np.broadcast_to(g, full_shape)
            gshape = full_shape
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    if not shape:
        return g.sum()
    if gshape[lead:] == shape:          # the common case: only leading axes were added
        return g.sum(axis=0) if lead == 1 else g.sum(axis=tuple(range(lead)))
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1)
    return np.reshape(np.sum(g, axis=axes), shape)


class BroadcastShape:
    """What generated code reads of `np.broadcast(*values)` (shape, ndim, size), for arrays of
    other libraries (Dask, CuPy), computed from their shapes without touching their data."""
    __slots__ = ("shape",)

    def __init__(self, shape):
        self.shape = shape

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return math.prod(self.shape)


_NUMPY_VALUES = (np.ndarray, float, int, bool, np.float64, np.float32, np.int64)


def broadcast(*values):
    """The shape `values` broadcast to, as `np.broadcast(*values)` (whose `.shape`, `.ndim`
    and `.size` generated code reads); NumPy's own object for NumPy values, else one made
    from the values' shapes alone (np.broadcast would read a Dask array's data)."""
    for v in values:
        if type(v) not in _NUMPY_VALUES and not isinstance(v, np.generic):
            return BroadcastShape(np.broadcast_shapes(*map(_shape, values)))
    return np.broadcast(*values)


def size(x):
    """`np.size(x)`, reading the size of another library's array from its shape."""
    if type(x) is np.ndarray:
        return x.size
    shape = _shape(x)
    return math.prod(shape) if shape else 1


def getitem(a, index):
    """`a[index]`: the function indexing stands for in the rule table."""
    return a[index]


_BASIC_PARTS = (int, np.int64, np.intp, slice, type(None), type(Ellipsis))


def _basic_index(index):
    """Whether `index` selects each element at most once (no integer arrays)."""
    parts = index if isinstance(index, tuple) else (index,)
    for p in parts:         # (the usual parts first, by type: isinstance of np.integer is slow)
        if type(p) in _BASIC_PARTS or isinstance(p, (int, np.integer, slice)) or \
                (isinstance(p, np.ndarray) and p.dtype == bool):
            continue
        return False
    return True


def index_adjoint(g, like, index):
    """Adjoint of `like[index]`: `g` placed into zeros of like's shape; where integer-array
    indices repeat an element, its adjoints add up."""
    # (a float, the usual adjoint of one element, needs no promotion rules)
    dtype = np.float64 if type(g) in (float, np.float64) else np.result_type(g, 1.0)
    if type(like) is not np.ndarray and is_foreign(like):
        return _foreign_index_adjoint(g, like, index, dtype)
    out = np.zeros(_shape(like), dtype=dtype)
    if _basic_index(index):
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


class Undefined(ValueError):
    """Raised by a helper where the gradient is undefined; reaches the user as an
    UndefinedGradientError naming their line."""


class ForeignArrayError(Undefined):
    """An adjoint srcgrad computes only for NumPy arrays, met with another library's."""


def is_foreign(x):
    """Whether `x` is an array of another library NumPy's functions dispatch to (Dask, CuPy)."""
    return hasattr(type(x), "__array_function__") and not isinstance(x, np.ndarray) and hasattr(x, "shape")


def _foreign_index_adjoint(g, like, index, dtype):
    """index_adjoint for another library's array, without np.add.at (NumPy's alone): a basic
    index writes into zeros of like's library; `p[np.arange(N), y]`, the gather of one
    element a row, is a one-hot mask times g."""
    if _basic_index(index):
        out = np.zeros_like(like, dtype=dtype)
        out[index] = g
        return out
    if isinstance(index, tuple) and len(index) == 2 and len(_shape(like)) == 2:
        rows, cols = index
        n = _shape(like)[0]
        if type(rows) is np.ndarray and rows.ndim == 1 and len(rows) == n and \
                np.array_equal(rows, np.arange(n)) and getattr(cols, "ndim", 0) == 1:
            cols = cols if type(cols) is type(like) else np.asarray(cols, like=like)
            hit = cols[:, None] == np.arange(_shape(like)[1], like=like)
            return np.where(hit, g[:, None] if getattr(g, "ndim", 0) else g, 0.0).astype(dtype)
    raise ForeignArrayError(f"srcgrad computes the gradient of indexing with integer arrays "
                            f"(other than `p[np.arange(N), y]`) for NumPy arrays only, not for "
                            f"{type(like).__module__.split('.')[0]} arrays: its adjoint adds "
                            f"with np.add.at")


def check_no_repeats(a, index):
    """Refuse a write `a[index] = v` that reaches one element twice: NumPy leaves undefined
    which of the values stays, and so which one gets the gradient."""
    if type(index) is int or isinstance(index, np.integer):
        return                              # one element (the usual write)
    if not _basic_index(index):
        # the positions written, negative indices and broadcast index arrays resolved
        written = np.arange(np.size(a)).reshape(np.shape(a))[index]
        if np.size(np.unique(written)) != np.size(written):
            raise Undefined("srcgrad cannot differentiate a write through repeated indices "
                            "(NumPy leaves undefined which of the values written there stays)")


def with_set(a, index, value):
    """A copy of `a` with `a[index] = value` (srcgrad's form of a write into an array)."""
    if type(a) is np.ndarray and type(value) in (int, float) and a.dtype.kind == "f":
        out = a.copy()                      # (a number written into floats: no promotion)
    else:
        out = np.array(a, dtype=np.result_type(a, value))
    out[index] = value
    return out


def zero_at(g, index):
    """`g` with zeros at `index`: the adjoint of a value that a write replaced there."""
    out = np.array(g)
    out[index] = 0
    return out


def inverse_permutation(axes):
    """The axes that undo `np.transpose(x, axes)` (`axes` may count from the end)."""
    if axes is None:          # reversing the axes is its own inverse
        return None
    return tuple(int(i) for i in np.argsort([int(i) % len(axes) for i in axes]))


# --- contractions of any rank ------------------------------------------------------

def _swap_last(x):
    return np.swapaxes(x, -1, -2)


def _matmul_promote(g, a, b):
    """View `a @ b` with 1-D operands as 2-D ones (NumPy's own rule), g to match."""
    a, b, g = _array(a), _array(b), _array(g)
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    if b.ndim == 1:
        g = g[..., None]
    if a.ndim == 1:
        g = np.expand_dims(g, -2)
    return g, a2, b2


def matmul_adjoint_lhs(g, a, b):
    """Adjoint of `a` in `a @ b`, any ranks (batched operands broadcast)."""
    a_ndim, b_ndim = np.ndim(a), np.ndim(b)
    if b_ndim == 1:
        if a_ndim == 1:
            return g * b
        if a_ndim == 2:
            return np.outer(g, b)
    g2, a2, b2 = _matmul_promote(g, a, b)
    return np.reshape(unbroadcast(g2 @ _swap_last(b2), a2), np.shape(a))


def matmul_adjoint_rhs(g, a, b):
    """Adjoint of `b` in `a @ b`, any ranks (batched operands broadcast)."""
    a_ndim, b_ndim = np.ndim(a), np.ndim(b)
    if a_ndim == 1:
        if b_ndim == 1:
            return g * a
        if b_ndim == 2:
            return np.outer(a, g)
    g2, a2, b2 = _matmul_promote(g, a, b)
    return np.reshape(unbroadcast(_swap_last(a2) @ g2, b2), np.shape(b))


def _tensordot_axes(a_ndim, b_ndim, axes):
    """NumPy's `axes` argument of tensordot as two lists of non-negative axes."""
    if isinstance(axes, (int, np.integer)):
        return list(range(a_ndim - axes, a_ndim)), list(range(axes))
    ia, ib = axes
    ia = [ia] if isinstance(ia, (int, np.integer)) else list(ia)
    ib = [ib] if isinstance(ib, (int, np.integer)) else list(ib)
    return [i % a_ndim for i in ia], [i % b_ndim for i in ib]


def tensordot_adjoint(g, a, b, axes, which):
    """Adjoint of operand `which` (0 or 1) of `np.tensordot(a, b, axes)`."""
    a, b, g = _array(a), _array(b), _array(g)
    ia, ib = _tensordot_axes(a.ndim, b.ndim, axes)
    a_free = [i for i in range(a.ndim) if i not in ia]
    b_free = [i for i in range(b.ndim) if i not in ib]
    nfa = len(a_free)
    if which == 0:
        # g's trailing axes pair with b's free axes; what is left is a's free axes
        # followed by b's contracted axes in b's order, which pair with ia.
        out = np.tensordot(g, b, axes=(list(range(nfa, g.ndim)), b_free))
        contracted = sorted(ib)
        order = a_free + [ia[ib.index(j)] for j in contracted]
    else:
        out = np.tensordot(a, g, axes=(a_free, list(range(nfa))))
        contracted = sorted(ia)
        order = [ib[ia.index(j)] for j in contracted] + b_free
    return np.transpose(out, tuple(int(i) for i in np.argsort(order)))


def dot_adjoint(g, a, b, which):
    """Adjoint of operand `which` of `np.dot(a, b)`, any ranks."""
    a, b = _array(a), _array(b)
    if a.ndim == 0 or b.ndim == 0 or a.ndim == 1 == b.ndim:
        other = b if which == 0 else a
        return unbroadcast(g * other, a if which == 0 else b)
    axes = ([a.ndim - 1], [max(b.ndim - 2, 0)])
    return tensordot_adjoint(g, a, b, axes, which)


def inner_adjoint(g, a, b, which):
    """Adjoint of operand `which` of `np.inner(a, b)`, any ranks."""
    a, b = _array(a), _array(b)
    if a.ndim == 0 or b.ndim == 0:
        other = b if which == 0 else a
        return unbroadcast(g * other, a if which == 0 else b)
    return tensordot_adjoint(g, a, b, ([a.ndim - 1], [b.ndim - 1]), which)


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _einsum_labels(subscripts, operands):
    """Explicit per-operand label strings and output labels, ellipses spelled out."""
    subscripts = subscripts.replace(" ", "")
    inputs, arrow, output = subscripts.partition("->")
    inputs = inputs.split(",")
    used = set(subscripts) - set(".,->")
    spare = [c for c in _LETTERS if c not in used]
    ell_ndim = max((np.ndim(op) - (len(s) - 3) for s, op in zip(inputs, operands) if "..." in s),
                   default=0)
    ell = "".join(spare[:ell_ndim])
    labels = []
    for s, op in zip(inputs, operands):
        if "..." in s:
            n = np.ndim(op) - (len(s) - 3)
            s = s.replace("...", ell[ell_ndim - n:] if n else "")
        labels.append(s)
    if arrow:
        output = output.replace("...", ell)
    else:
        counts = {}
        for s in labels:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        output = ell + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in ell))
    return labels, output


def einsum_adjoint(g, subscripts, operands, which):
    """Adjoint of operand `which` of `np.einsum(subscripts, *operands)`."""
    labels, output = _einsum_labels(subscripts, operands)
    target = labels[which]
    op = _array(operands[which])
    others = [(s, o) for i, (s, o) in enumerate(zip(labels, operands)) if i != which]
    known = set(output).union(*[set(s) for s, _ in others]) if others else set(output)
    unique = "".join(dict.fromkeys(c for c in target if c in known))
    spec = ",".join([output] + [s for s, _ in others]) + "->" + unique
    part = np.einsum(spec, g, *[o for _, o in others])
    sizes = {c: n for c, n in zip(target, op.shape)}
    # Ellipsis dimensions of size 1 that einsum broadcast against the others: sum them.
    wide = tuple(i for i, c in enumerate(unique) if sizes[c] == 1 and part.shape[i] != 1)
    if wide:
        part = np.sum(part, axis=wide, keepdims=True)
    # Labels only `which` carries were summed away inside it: broadcast them back.
    full = "".join(dict.fromkeys(target))
    part = np.einsum(unique + "->" + unique, part)  # a copy we may expand
    part = np.expand_dims(part, tuple(i for i, c in enumerate(full) if c not in unique))
    part = np.broadcast_to(part, [sizes[c] for c in full])
    if full == target:
        return np.array(part)
    # Repeated labels (a diagonal such as "ii"): write onto that diagonal of zeros.
    out = np.zeros(op.shape, dtype=np.result_type(part.dtype, op.dtype, float))
    np.einsum(target + "->" + full, out)[...] = part
    return out


# --- reductions and linear algebra -------------------------------------------------

def _keep(g, axis, ndim):
    """Re-insert reduced axes into `g` so it broadcasts against the input."""
    if np.ndim(g) == 0:
        return g              # a 0-d adjoint (standing for a full one) broadcasts as it is
    if axis is None:
        return np.reshape(g, (1,) * ndim)
    return np.expand_dims(g, axis)


def prod_adjoint(g, ans, a, axis=None, keepdims=False):
    """Adjoint of np.prod, exact when `a` has zeros (product of all the others)."""
    a = _array(a)
    if not keepdims:
        g = _keep(g, axis, a.ndim)
    axes = tuple(range(a.ndim)) if axis is None else tuple(np.atleast_1d(axis) % max(a.ndim, 1))
    rest = [i for i in range(a.ndim) if i not in axes]
    moved = np.transpose(a, rest + list(axes))
    flat = moved.reshape(moved.shape[:len(rest)] + (-1,))
    ones = np.ones_like(flat[..., :1])     # (in a's array library)
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.flip(np.cumprod(np.concatenate([ones, np.flip(flat[..., 1:], -1)], axis=-1),
                               axis=-1), -1)
    others = np.transpose((left * right).reshape(moved.shape),
                          tuple(int(i) for i in np.argsort(rest + list(axes))))
    return g * others


def norm_adjoint(g, ans, x, ord=None, axis=None, keepdims=False):
    """Adjoint of np.linalg.norm for the orders NumPy defines on vectors and matrices."""
    x = _array(x)
    if x.dtype.kind == "c":
        raise TypeError(f"srcgrad has no derivative rule for np.linalg.norm(x, ord={ord!r}) of "
                        f"complex values (only the default order)")
    matrix = (axis is None and x.ndim == 2 and ord is not None) or (
        axis is not None and np.ndim(axis) == 1 and len(axis) == 2)
    if axis is None:
        axis_t = tuple(range(x.ndim))
    else:
        axis_t = tuple(int(i) % x.ndim for i in np.atleast_1d(axis))
    if not keepdims:
        g = _keep(g, axis_t, x.ndim)
        ans = np.expand_dims(ans, axis_t)
    if ord in (None, "fro") or (ord == 2 and not matrix):
        return g * x / (ans + (ans == 0))          # at x = 0, the subgradient 0
    if not matrix:
        if ord == np.inf or ord == -np.inf:
            hit = np.abs(x) == ans
            return g * np.sign(x) * hit / np.sum(hit, axis=axis_t, keepdims=True)
        if ord == 0:
            return np.zeros_like(x, dtype=float)
        return g * np.sign(x) * np.abs(x) ** (ord - 1) / (ans + (ans == 0)) ** (ord - 1)
    r, c = axis_t
    xm = np.moveaxis(x, (r, c), (-2, -1))
    gm = g if np.ndim(g) == 0 else np.moveaxis(g, (r, c), (-2, -1))
    if ord in ("nuc", 2, -2):
        u, s, vt = np.linalg.svd(xm, full_matrices=False)
        if ord == "nuc":
            d = u @ vt
        else:
            k = 0 if ord == 2 else -1
            d = u[..., :, k:k + 1 or None] @ vt[..., k:k + 1 or None, :]
        return np.moveaxis(gm * d, (-2, -1), (r, c))
    if ord in (1, -1, np.inf, -np.inf):
        along = -2 if ord in (1, -1) else -1         # column sums for 1, row sums for inf
        sums = np.sum(np.abs(xm), axis=along, keepdims=True)
        best = np.max(sums, axis=-1 if along == -2 else -2, keepdims=True) if ord > 0 else \
            np.min(sums, axis=-1 if along == -2 else -2, keepdims=True)
        hit = sums == best
        d = np.sign(xm) * hit / np.sum(hit, axis=(-2, -1), keepdims=True)
        return np.moveaxis(gm * d, (-2, -1), (r, c))
    raise NotImplementedError(f"srcgrad has no derivative of np.linalg.norm with ord={ord!r}")


def solve_adjoint(g, ans, a, b, which):
    """Adjoint of operand `which` of x = np.linalg.solve(a, b)."""
    vector = np.ndim(b) == 1
    g_mat = g[..., None] if vector else g
    gb = np.linalg.solve(np.swapaxes(a, -1, -2), g_mat)
    if which == 1:
        return unbroadcast(gb[..., 0] if vector else gb, b)
    x = ans[..., None] if vector else ans
    return unbroadcast(-gb @ np.swapaxes(x, -1, -2), a)


def _diagonal_index(shape, offset):
    rows, cols = shape[-2], shape[-1]
    start_r, start_c = (0, offset) if offset >= 0 else (-offset, 0)
    n = max(0, min(rows - start_r, cols - start_c))
    i = np.arange(n)
    return i + start_r, i + start_c


def trace_adjoint(g, a, offset=0, axis1=0, axis2=1):
    """Adjoint of np.trace: `g` on the chosen diagonal, zeros elsewhere."""
    a = _array(a)
    out = np.zeros(a.shape, dtype=np.result_type(g, a.dtype, float))
    view = np.moveaxis(out, (axis1, axis2), (-2, -1))
    r, c = _diagonal_index(view.shape, offset)
    view[..., r, c] = np.expand_dims(g, -1)
    return out


def diag_adjoint(g, v, k=0):
    """Adjoint of np.diag (which builds a matrix from a vector or reads a diagonal)."""
    v = _array(v)
    if v.ndim == 1:
        return np.array(np.diag(g, k))
    out = np.zeros(v.shape, dtype=np.result_type(g, v.dtype, float))
    r, c = _diagonal_index(v.shape, k)
    out[r, c] = g
    return out


# --- joining and repeating ---------------------------------------------------------

def _piece(g, arrays, axis, index, sizes):
    start = sum(sizes[:index])
    where = [slice(None)] * g.ndim
    where[axis] = slice(start, start + sizes[index])
    return g[tuple(where)]


def concatenate_adjoint(g, arrays, axis, index):
    """Adjoint of array number `index` of np.concatenate(arrays, axis)."""
    if axis is None:
        sizes = [np.size(a) for a in arrays]
        return np.reshape(_piece(np.ravel(g), arrays, 0, index, sizes), np.shape(arrays[index]))
    axis = axis % g.ndim
    return _piece(g, arrays, axis, index, [np.shape(a)[axis] for a in arrays])


def hstack_adjoint(g, arrays, index):
    """Adjoint of array number `index` of np.hstack(arrays)."""
    axis = 0 if np.ndim(arrays[0]) <= 1 else 1
    sizes = [np.shape(np.atleast_1d(a))[axis] for a in arrays]
    return np.reshape(_piece(g, arrays, axis, index, sizes), np.shape(arrays[index]))


def vstack_adjoint(g, arrays, index):
    """Adjoint of array number `index` of np.vstack(arrays)."""
    sizes = [np.shape(np.atleast_2d(a))[0] for a in arrays]
    return np.reshape(_piece(g, arrays, 0, index, sizes), np.shape(arrays[index]))


def r_adjoint(g, arrays, index):
    """Adjoint of item number `index` of np.r_[arrays] (arrays and numbers): its rows of g."""
    sizes = [np.shape(np.atleast_1d(a))[0] for a in arrays]
    return np.reshape(_piece(g, arrays, 0, index, sizes), np.shape(arrays[index]))


def c_adjoint(g, arrays, index):
    """Adjoint of item number `index` of np.c_[arrays]: its columns of g (a 1-D array, or a
    number, is one column)."""
    sizes = [np.shape(a)[-1] if np.ndim(a) >= 2 else 1 for a in arrays]
    return np.reshape(_piece(g, arrays, np.ndim(g) - 1, index, sizes), np.shape(arrays[index]))


def meshgrid_adjoint(g, xi, index, indexing="xy"):
    """Adjoint of array number `index` of np.meshgrid(*xi) from the adjoint `g` of grid number
    `index`: g summed over every axis but the one that array runs along."""
    axis = 1 - index if indexing == "xy" and len(xi) > 1 and index < 2 else index
    others = tuple(k for k in range(np.ndim(g)) if k != axis)
    return np.reshape(np.sum(g, axis=others), np.shape(xi[index]))


def tile_adjoint(g, a, reps):
    """Adjoint of np.tile: sum the copies."""
    shape = np.shape(a)
    reps = (reps,) if np.ndim(reps) == 0 else tuple(reps)
    n = max(len(shape), len(reps))
    shape_n = (1,) * (n - len(shape)) + tuple(shape)
    reps_n = (1,) * (n - len(reps)) + reps
    split = np.reshape(g, [d for pair in zip(reps_n, shape_n) for d in pair])
    return np.reshape(np.sum(split, axis=tuple(range(0, 2 * n, 2))), shape)


def repeat_adjoint(g, a, repeats, axis=None):
    """Adjoint of np.repeat: sum each element's copies."""
    shape = np.shape(a)
    if axis is None:
        n, g_moved = int(np.prod(shape)), np.ravel(g)
    else:
        axis = axis % len(shape)
        n, g_moved = shape[axis], np.moveaxis(g, axis, 0)
    owner = np.repeat(np.arange(n), repeats)
    out = np.zeros((n,) + g_moved.shape[1:], dtype=np.result_type(g_moved, float))
    np.add.at(out, owner, g_moved)
    if axis is None:          # np.repeat flattened `a`: give the sums a's shape back
        return np.reshape(out, shape)
    return np.moveaxis(out, 0, axis)


# --- forward mode ------------------------------------------------------------------

def norm_jvp(t, ans, x, ord=None, axis=None, keepdims=False):
    """Tangent of np.linalg.norm(x, ord, axis, keepdims) along `t`, for the orders without an
    inline rule: the derivative `norm_adjoint` gives, contracted with `t`."""
    axes = None if axis is None else tuple(np.atleast_1d(axis))
    return np.sum(norm_adjoint(1.0, ans, x, ord, axis, keepdims) * t, axis=axes, keepdims=keepdims)


def einsum_adjoint_jvp(g, subscripts, operands, which, index, t):
    """Tangent of `einsum_adjoint(g, subscripts, operands, which)` along the tangent `t` of
    operand number `index` (it is linear in each operand other than `which`)."""
    operands = tuple(operands[:index]) + (t,) + tuple(operands[index + 1:])
    return einsum_adjoint(g, subscripts, operands, which)


def tape_push(tape, value):
    """`tape.append(value)` as a function of the tape (how forward mode reads a generated
    gradient's tape: an ordinary value, with a tangent tape next to it)."""
    tape.append(value)
    return tape


def tape_pop(tape):
    """`tape.pop()`, returning the tape too (each pop reads the version the last one left)."""
    return tape.pop(), tape


# --- the wrapper's finishing touch -------------------------------------------------

class SizeOneResult(NonScalarResultError):
    """Raised by a gradient's check when the result has size 1 but not 0 dimensions (shape
    (1, 1), say): the gradient was written for a 0-d result, so the call is answered by the
    gradient of the scalar it holds instead (api.py).  `func` is the function whose result
    it is, `shape` the result's shape."""

    def __init__(self, message, func, shape, **where):
        super().__init__(message, **where)
        self.func, self.shape = func, shape



def checkpoint_stride(n):
    """How many iterations apart a checkpointed loop of `n` keeps its checkpoints: about
    sqrt(n), so it keeps sqrt(n) checkpoints and replays sqrt(n) iterations at a time."""
    return max(1, math.isqrt(n))


def is_lazy(x):
    """Whether `x` is a lazy (Dask) collection: computed only when asked."""
    return hasattr(type(x), "__dask_graph__")


def realize(values, likes):
    """`values` (a function's value and gradients) with those that are lazy (Dask) where
    their argument in `likes` is not (None: the value) computed, all in one `dask.compute`,
    so one pass over the data gives them all.  A gradient of a Dask argument stays lazy,
    and the value with it when every argument is one."""
    eager = any(like is not None and not is_lazy(like) for like in likes)
    lazy = [i for i, (v, like) in enumerate(zip(values, likes))
            if is_lazy(v) and (not is_lazy(like) if like is not None else eager)]
    if not lazy:
        return values
    import dask             # (imported already: there is a Dask collection here)
    done = dask.compute(*[values[i] for i in lazy])
    values = list(values)
    for i, v in zip(lazy, done):
        values[i] = v
    return values


def _fit_foreign(grad, like, copy):
    """`fit_gradient` for an argument of another array library (Dask, CuPy): the gradient
    made in that library, never through NumPy (which would compute or copy it to the host)."""
    dtype = like.dtype if like.dtype.kind in "fc" else np.float64
    if type(grad) is type(like) and grad.shape == like.shape:
        grad = grad if grad.dtype == dtype else grad.astype(dtype)
        return grad.copy() if copy else grad
    return np.zeros_like(like, dtype=dtype) + grad      # (a number, or a broadcast array)


def fit_gradient(grad, like, copy):
    """Give `grad` the shape and floating dtype of the argument `like` it belongs to.

    `copy` is set where the generated code's result may alias another array.
    """
    if type(like) is np.ndarray:
        if not copy and type(grad) is np.ndarray and grad.shape == like.shape and (
                grad.dtype is like.dtype or grad.dtype == like.dtype) and like.dtype.kind in "fc":
            return grad
        out = np.empty(like.shape, like.dtype if like.dtype.kind in "fc" else np.float64)
        # A real argument's gradient is the real part of its adjoint (complex intermediates:
        # dL = Re(adjoint * dx), rules.py); only a complex argument keeps an imaginary part.
        out[...] = grad if like.dtype.kind == "c" else np.real(grad)
        return out
    if type(like) in _PYTHON_SCALARS and _shape(grad) == ():
        return float(grad.real)
    if isinstance(like, np.generic) and np.ndim(grad) == 0:
        return (like.dtype.type if like.dtype.kind in "fc" else np.float64)(grad if like.dtype.kind == "c" else grad.real)
    if hasattr(like, "__array_function__") and hasattr(like, "dtype") and not isinstance(like, np.ndarray):
        return _fit_foreign(grad, like, copy)
    return fit_gradient(grad, np.asarray(like), copy)


# --- a list or tuple of values indexed by a number known only when the code runs ---------
def pick_adjoint(g, index, k, count):
    """The adjoint of element `k` of a list or tuple of `count` values that `xs[index]` read:
    `g` if the index chose it, else 0.0 (standing for zeros of its shape)."""
    return g if operator.index(index) % count == k else 0.0


# --- lists whose length is known only when the code runs (appended to in a loop) ----------
def list_append(xs, value):
    """`xs.append(value)`, as an expression: the list itself, one element longer."""
    xs.append(value)
    return xs


def list_pop(xs, count):
    """`xs.pop()` as an expression: `(xs, value)`, or `(xs, *value)` unpacked into `count`."""
    value = xs.pop()
    return (xs, value) if count == 1 else (xs, *value)


def list_snapshot(xs):
    """The list as it is now: what a read sees, whatever is appended later."""
    return list(xs)


class ListAdjoint(list):
    """The adjoint of such a list: one adjoint per element (0.0 where none flows).  It adds
    element by element, to another ListAdjoint, to an array of the list's length or to a
    scalar; 0.0 (no adjoint yet) adds as nothing."""
    __array_ufunc__ = None          # `array + ListAdjoint` comes here, not to NumPy

    def __add__(self, other):
        if isinstance(other, (int, float)) and other == 0:
            return self
        if isinstance(other, (list, np.ndarray)) and len(other) == len(self):
            return ListAdjoint(a + b for a, b in zip(self, other))
        if np.ndim(other) == 0:
            return ListAdjoint(a + other for a in self)
        raise TypeError(f"cannot add the adjoint of a list of {len(self)} and {other!r}")

    __radd__ = __add__


def list_adjoint(d_list, snapshot):
    """The adjoint of a list read as a whole (np.stack(xs), xs[i], sum(xs)...), one entry
    per element: an array adjoint of the list, taken as an array, is split into rows."""
    if isinstance(d_list, ListAdjoint):
        return d_list
    return ListAdjoint(np.broadcast_to(d_list, np.shape(snapshot)))


def add_item(d_list, index, length, g):
    """The adjoint of a list of `length` elements whose element `index` was read (`xs[t - 1]`),
    with adjoint `g`, added in place: O(1), where the adjoint of the whole list read as an
    array would be O(length).  (0.0, no adjoint yet: one of zeros, made once.)"""
    if not isinstance(d_list, ListAdjoint):
        if not (isinstance(d_list, float) and d_list == 0.0):
            raise TypeError(f"srcgrad: the adjoint of a list is {type(d_list).__name__}")
        d_list = ListAdjoint([0.0] * length)
    elif len(d_list) != length:
        raise RuntimeError(f"srcgrad internal error: the adjoint of a list of {length} has "
                           f"{len(d_list)} elements")
    position = operator.index(index) % length
    d_list[position] = d_list[position] + g
    return d_list


def list_set(xs, index, value):
    """`xs[index] = value` as an expression: the list itself, updated."""
    xs[index] = value
    return xs


def take_item(d_list, index, length):
    """The adjoint of the value `xs[index] = value` stored in a list of `length` elements:
    what reads of that element gave, taken off (0.0 if none reached it)."""
    if not isinstance(d_list, ListAdjoint):
        return 0.0
    position = operator.index(index) % length
    g, d_list[position] = d_list[position], 0.0
    return g


def drop_item(d_list, index, length):
    """`d_list` with the adjoint of element `index` dropped (a constant was stored there)."""
    if isinstance(d_list, ListAdjoint):
        d_list[operator.index(index) % length] = 0.0
    return d_list


def item_adjoint(d_list, k):
    """The adjoint of element `k` of a list written out (`hs = [h0]`) that a loop then
    appended to (0.0 if none reached it)."""
    if isinstance(d_list, float) and d_list == 0.0:
        return 0.0
    return d_list[k]


def list_append_adjoint(d_list, count):
    """Backward of `xs_2 = list_append(xs, v)`: `(d_xs, d_v)` taken off the end of d_xs_2;
    `d_v` unpacked into `count` adjoints when v was a tuple."""
    if not isinstance(d_list, ListAdjoint):
        if not (isinstance(d_list, float) and d_list == 0.0):
            raise TypeError(f"srcgrad: the adjoint of a list is {type(d_list).__name__}")
        return (0.0,) * (count + 1) if count > 1 else (0.0, 0.0)   # no adjoint reached it
    d_value = d_list.pop()
    if count == 1:
        return d_list, d_value
    return (d_list, *(d_value if isinstance(d_value, tuple) else (d_value,) * count))


def list_pop_adjoint(d_list, *d_values):
    """Backward of `xs_2, v = list_pop(xs, n)`: d_xs is d_xs_2 with d_v put back on the end."""
    d_list = d_list if isinstance(d_list, ListAdjoint) else ListAdjoint()
    d_list.append(d_values[0] if len(d_values) == 1 else d_values)
    return d_list


def concatenate_list_adjoint(g, arrays, axis):
    """Adjoint of np.concatenate(arrays, axis) for a list built at run time: g cut back into
    the pieces, one entry per array."""
    sizes = [np.shape(a)[axis] for a in arrays]
    return ListAdjoint(np.split(g, np.cumsum(sizes)[:-1], axis))


# --- dicts filled item by item when the code runs (dicts.py) ------------------------------
def dict_set(d, key, value):
    """`d[key] = value` as an expression: the dict itself, updated."""
    d[key] = value
    return d


class DictAdjoint(dict):
    """The adjoint of such a dict: key -> the adjoint of the value stored there (a key not
    in it: none).  Every version of the dict shares one adjoint, so a sum adds into its
    left operand in place: each read adds O(1), not a copy of the whole dict; 0.0 (no
    adjoint yet) adds as nothing."""
    __array_ufunc__ = None          # `0.0 + DictAdjoint` comes here, not to NumPy

    def __add__(self, other):
        if isinstance(other, (int, float)) and other == 0:
            return self
        if not isinstance(other, DictAdjoint) or other is self:
            return NotImplemented
        for key, g in other.items():
            self[key] = self[key] + g if key in self else g
        return self

    __radd__ = __add__


def at_key(key, g):
    """The adjoint of a dict whose entry `key` was read, with adjoint `g`."""
    return DictAdjoint({key: g})


def add_at(d_dict, key, g):
    """`d_dict + at_key(key, g)`, in place: another read of entry `key`."""
    if type(d_dict) is not DictAdjoint:
        return d_dict + DictAdjoint({key: g})
    d_dict[key] = d_dict[key] + g if key in d_dict else g
    return d_dict


def pop_adjoint(d_dict, key):
    """The adjoint of the value `d[key] = value` stored: what reads of that entry gave
    (taken off, so reads before the write add up anew); 0.0 if none reached it."""
    return d_dict.pop(key, 0.0) if isinstance(d_dict, DictAdjoint) else 0.0


def without_key(d_dict, key):
    """`d_dict` with the adjoint at `key` dropped: `d[key] = v` stored a constant there, so
    what reads of it gave reaches no earlier value."""
    if isinstance(d_dict, DictAdjoint):
        d_dict.pop(key, None)
    return d_dict


def adjoint_at(d_dict, key):
    """The adjoint of the value a dict literal holds at `key` (0.0 if none reached it)."""
    return d_dict.get(key, 0.0) if isinstance(d_dict, DictAdjoint) else 0.0


def tangent_at(d_tangent, key):
    """The tangent of `d[key]` from the dict of tangents of `d` (0.0 where it has none)."""
    return d_tangent.get(key, 0.0)


def sequence_of(x):
    """What `for v in x` runs over, as a sequence read by position: `x` itself if it is one
    (an array, a list, a tuple), else the list of what iterating it gives (a dict's keys,
    a set's elements, a generator's values)."""
    if isinstance(x, (np.ndarray, list, tuple, range, str)) or hasattr(type(x), "__array_function__"):
        return x
    return list(x)


def dict_keys(d):
    """The keys of `d` as they are now (a loop over `d`, `d.values()`, `d.items()`)."""
    return list(d)


def accumulate(total, part):
    """`total + part`, added into `total` in place where its shape and dtype are part's:
    a sum a backward loop builds, which nothing else holds (inplace.py)."""
    if type(total) is np.ndarray and type(part) is np.ndarray and total.shape == part.shape \
            and total.dtype == part.dtype:
        total += part
        return total
    return total + part
