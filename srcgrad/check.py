"""`check_grad`: srcgrad's gradient against central finite differences, element by element;
`numerical_gradient`: those central differences (also used by the command line and the tests)."""
import inspect

import numpy as np

from .api import GradientFunction, _resolve_wrt, grad
from .parameters import flatten, unflatten
from .errors import GradientCheckError, SrcgradError
from .tracebacks import user_facing


@user_facing
def check_grad(f, *args, wrt=0, rtol=1e-5, atol=1e-6, eps=1e-6, **kwargs):
    """Compare `srcgrad.grad(f, wrt=wrt)(*args, **kwargs)` with central finite differences in
    float64.  Returns the largest absolute difference (a float); raises GradientCheckError
    (a SrcgradError and an AssertionError) naming the argument and its worst element when
    some element differs by more than `atol + rtol * |finite difference|`.

    `wrt` is a position, a name or a tuple of them, as for `grad`; an argument may be a
    float, an array or a dict / list / tuple of them."""
    if isinstance(f, GradientFunction):
        raise SrcgradError("check_grad takes the function itself, not its srcgrad.grad",
                           hint="pass the undecorated loss: check_grad(loss, *args)")
    names, single = _resolve_wrt(f, wrt)
    got = grad(f, wrt=wrt)(*args, **kwargs)
    got = [got] if single else list(got)
    bound = inspect.signature(f).bind(*args, **kwargs)
    worst = 0.0
    for name, gradient in zip(names, got):
        leaves, layout = flatten(bound.arguments[name])
        grad_leaves, _ = flatten(gradient)
        for k, (leaf, g) in enumerate(zip(leaves, grad_leaves)):
            def f_of_leaf(value, k=k):
                changed = list(leaves)
                changed[k] = value
                call = bound.arguments.copy()
                call[name] = unflatten(layout, changed)
                return float(f(**call))
            want = numerical_gradient(f_of_leaf, (leaf,), 0, eps, relative=True)
            g = np.asarray(g, dtype=np.float64)
            if g.shape != want.shape:
                raise GradientCheckError(f"the gradient with respect to {name} has shape {g.shape}, "
                                         f"the argument has shape {want.shape}")
            error = np.abs(g - want)
            if error.size == 0:
                continue
            worst = max(worst, float(error.max()))
            excess = error - (atol + rtol * np.abs(want))
            i = np.unravel_index(int(np.argmax(excess)), error.shape)
            if excess[i] > 0:
                where = name + ("" if len(leaves) == 1 and layout == "leaf" else f" (leaf {k})") + \
                    (f"[{', '.join(map(str, i))}]" if i else "")
                raise GradientCheckError(
                    f"gradient of {getattr(f, '__name__', 'f')} with respect to {where}: srcgrad "
                    f"gives {float(g[i]):.8g}, central finite differences {float(want[i]):.8g} (difference "
                    f"{error[i]:.3g}; tolerance {atol + rtol * abs(want[i]):.3g})",
                    hint="if the function draws random numbers, it must draw the same ones on "
                         "every call (a seeded generator made inside it, or noise passed in); a "
                         "custom rule (custom_vjp, register_vjp) may be wrong; if neither is the "
                         "case, please report this with the function and its inputs")
    return worst


def numerical_gradient(f, args, wrt=0, eps=1e-6, *, kwargs=None, relative=False):
    """The derivative of `f(*args, **kwargs)` with respect to one argument by central finite
    differences in float64: `(f(x + h) - f(x - h)) / 2h`, one element of the argument at a time.

    `wrt` is a position in `args` or a name in `kwargs`; that argument is a float or an array
    (it is passed as a Python float or a fresh float64 array of its shape).  The step `h` is
    `eps`, or `eps * max(1, |x_i|)` with `relative=True`.  Returns a float64 array of shape
    `shape(f(...)) + shape(x)`: the gradient (shape of x) for a scalar `f`, the Jacobian for an
    array-valued one, and a tuple of them when `f` returns a tuple.  Neither `args` nor
    `kwargs` is modified."""
    args, kwargs = list(args), dict(kwargs or {})
    where = kwargs if isinstance(wrt, str) else args
    x = np.array(where[wrt], dtype=np.float64, order="C")     # (C order: `flat` below is a view)
    flat = x.reshape(-1)            # a view: writing into it moves the point
    columns = []
    for i in range(flat.size):
        old = flat[i]
        step = eps * max(1.0, abs(old)) if relative else eps
        ends = []
        for moved in (old + step, old - step):
            flat[i] = moved
            where[wrt] = x.copy() if x.ndim else float(x)
            ends.append(f(*args, **kwargs))
        flat[i] = old
        columns.append(_difference(ends[0], ends[1], 2 * step))
    if columns:
        return _stack(columns[0], columns, x.shape)
    where[wrt] = x.copy()           # an empty argument: f is called once for its result's shape
    value = f(*args, **kwargs)
    return _stack(_difference(value, value, 1.0), [], x.shape)


def _difference(up, down, width):
    if isinstance(up, tuple):
        return tuple(_difference(u, d, width) for u, d in zip(up, down))
    return (np.asarray(up, dtype=np.float64) - np.asarray(down, dtype=np.float64)) / width


def _stack(like, columns, shape):
    """Columns (one per element of the argument, each like `like`) as arrays of shape
    shape(output) + `shape`."""
    if isinstance(like, tuple):
        return tuple(_stack(part, [c[k] for c in columns], shape) for k, part in enumerate(like))
    out = np.empty(np.shape(like) + (len(columns),))
    for k, column in enumerate(columns):
        out[..., k] = column
    return out.reshape(np.shape(like) + shape)
