"""`check_grad`: srcgrad's gradient against central finite differences, element by element."""
import inspect

import numpy as np

from .api import GradientFunction, _flatten_tree, _resolve_wrt, _unflatten_tree, grad
from .errors import GradientCheckError, SrcgradError


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
        leaves, layout = _flatten_tree(bound.arguments[name])
        grad_leaves, _ = _flatten_tree(gradient)
        for k, (leaf, g) in enumerate(zip(leaves, grad_leaves)):
            def f_of_leaf(value, k=k):
                changed = list(leaves)
                changed[k] = value
                call = bound.arguments.copy()
                call[name] = _unflatten_tree(layout, changed)
                return float(f(**call))
            want = _central_differences(f_of_leaf, leaf, eps)
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
                    hint="a custom rule (custom_vjp, register_vjp) may be wrong; if none is "
                         "involved, please report this with the function and its inputs")
    return worst


def _central_differences(f, x, eps):
    x = np.array(x, dtype=np.float64)
    out = np.zeros_like(x)
    flat, grads = x.reshape(-1), out.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        step = eps * max(1.0, abs(old))
        flat[i] = old + step
        up = f(x.copy() if x.ndim else float(x))
        flat[i] = old - step
        down = f(x.copy() if x.ndim else float(x))
        flat[i] = old
        grads[i] = (up - down) / (2 * step)
    return out
