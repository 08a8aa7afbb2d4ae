"""`jacobian` and `hessian`: derivatives of array-valued functions, built from generated code.

A Jacobian is assembled a row at a time from a generated vjp function (reverse mode: one
backward pass per element of the result) or a column at a time from the generated jvp
function (forward mode: one pass per element of the argument), whichever needs fewer passes.
A Hessian is the Jacobian of the gradient.
"""
import inspect
import weakref

import numpy as np

from . import deps
from .api import GradientFunction, _resolve_wrt, cached, grad
from .errors import SrcgradError, UnsupportedSyntaxError
from .pipeline import vjp_function
from .tracebacks import user_facing


class VjpFunction:
    """`vjp(*args) -> (f(*args), backward)`, `backward(g)` the vector-Jacobian product with
    respect to `wrt` (a tuple of gradients when `wrt` has several names)."""

    def __init__(self, func, wrt):
        program = vjp_function(func, wrt)
        self.source, self.fn, self.deps = program.source, program.fn, program.deps
        self.reusable = program.reusable    # else each backward pass needs its forward pass

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


_VJPS = weakref.WeakKeyDictionary()   # function -> {wrt: VjpFunction}


@deps.on_clear
def _clear():
    _VJPS.clear()


def _vjp_function(func, wrt):
    """The cached VjpFunction, made (again) if missing or stale."""
    with deps.LOCK:
        return cached(_VJPS, func, wrt, lambda: VjpFunction(func, wrt))


def _plain(f):
    """The function to transform: a srcgrad gradient stands for its generated code."""
    return f.full_function() if isinstance(f, GradientFunction) else f


@user_facing
def jacobian(f, wrt=0):
    """A function giving the Jacobian of array-valued `f` with respect to parameter `wrt`
    (a position or a name), of shape `f(...).shape + x.shape`: built from generated forward
    code (a column per element of x) when x has fewer elements than the result, otherwise
    from generated reverse code (a row per element of the result)."""
    func = _plain(f)
    if isinstance(wrt, (tuple, list)):
        raise SrcgradError("jacobian takes one parameter in wrt",
                           hint="call jacobian once per parameter")
    (name,), _ = _resolve_wrt(func, wrt)
    signature = inspect.signature(func)

    @user_facing
    def jacobian_function(*args, **kwargs):
        func = _plain(f)                # (a gradient's generated code: made again if stale)
        x_shape = np.shape(signature.bind(*args, **kwargs).arguments[name])
        out = func(*args, **kwargs)
        out_shape = np.shape(out)
        # A complex result: by columns, each the derivative of its real and imaginary parts.
        if np.iscomplexobj(out) or int(np.prod(x_shape, dtype=int)) < int(np.prod(out_shape, dtype=int)):
            return _by_columns(func, name, signature, args, kwargs, x_shape, out_shape,
                               dtype=complex if np.iscomplexobj(out) else float)
        return _by_rows(func, name, args, kwargs, x_shape, out_shape)

    jacobian_function.__name__ = f"jacobian_{getattr(func, '__name__', 'f')}"
    jacobian_function.__doc__ = f"Jacobian of {getattr(func, '__name__', 'f')} with respect to {name}."
    return jacobian_function


def _by_rows(func, name, args, kwargs, x_shape, out_shape):
    """Reverse mode: row i is the vector-Jacobian product with the i-th unit vector."""
    vjp = _vjp_function(func, (name,))
    rows = np.zeros((int(np.prod(out_shape, dtype=int)), int(np.prod(x_shape, dtype=int))))
    value, backward = vjp(*args, **kwargs)
    for i in range(rows.shape[0]):
        if i and not vjp.reusable:          # its tape was used up: run the forward pass again
            value, backward = vjp(*args, **kwargs)
        seed = np.zeros(out_shape)
        seed.flat[i] = 1.0
        # (the real part: complex values in between leave one on a real x's adjoint, rules.py)
        rows[i] = np.broadcast_to(np.real(backward(seed if out_shape else 1.0)), x_shape).ravel()
    return rows.reshape(out_shape + x_shape)


def _by_columns(func, name, signature, args, kwargs, x_shape, out_shape, f=None, dtype=float):
    """Forward mode: column j is the Jacobian-vector product with the j-th unit vector (of a
    real result, the real part: complex values in between may leave an imaginary one)."""
    from .forward_api import jvp
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    primals = tuple(bound.arguments.values())
    position = list(bound.arguments).index(name)
    columns = np.zeros((int(np.prod(out_shape, dtype=int)), int(np.prod(x_shape, dtype=int))), dtype)
    for j in range(columns.shape[1]):
        tangent = np.zeros(x_shape)
        tangent.flat[j] = 1.0
        tangents = tuple(tangent if k == position else None for k in range(len(primals)))
        _, column = jvp(f if f is not None else func, primals, tangents)
        column = column if dtype is complex else np.real(column)
        columns[:, j] = np.broadcast_to(column, out_shape).ravel()
    return columns.reshape(out_shape + x_shape)


@user_facing
def hessian(f, wrt=0):
    """A function giving the Hessian of scalar-valued `f` with respect to parameter `wrt`,
    of shape `x.shape + x.shape`: forward mode over srcgrad's gradient (a Hessian-vector
    product per element of x), or reverse over reverse where forward mode cannot follow the
    gradient's code (lists built in loops, recursion)."""
    inner = grad(f, wrt=wrt)
    func = inner.full_function()
    (name,), _ = _resolve_wrt(func, wrt)
    signature = inspect.signature(func)

    @user_facing
    def hessian_function(*args, **kwargs):
        func = inner.full_function()    # made again if what it read has changed
        x_shape = np.shape(signature.bind(*args, **kwargs).arguments[name])
        try:
            return _by_columns(func, name, signature, args, kwargs, x_shape, x_shape, f=inner)
        except UnsupportedSyntaxError:
            return _by_rows(func, name, args, kwargs, x_shape, x_shape)

    hessian_function.__name__ = f"hessian_{getattr(f, '__name__', 'f')}"
    hessian_function.__doc__ = f"Hessian of {getattr(f, '__name__', 'f')} with respect to {name}."
    return hessian_function
