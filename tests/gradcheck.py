"""Central finite differences in float64, the reference every gradient test compares with."""
import numpy as np


def numerical_grad(f, args, wrt=0, eps=1e-6, kwargs=None):
    """d f(*args) / d args[wrt] by central differences (args[wrt] an array or a float)."""
    kwargs = kwargs or {}
    args = list(args)
    x = np.array(args[wrt], dtype=np.float64)
    grad = np.zeros_like(x)
    flat = x.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        args[wrt] = x.copy() if x.ndim else float(x)
        up = f(*args, **kwargs)
        flat[i] = old - eps
        args[wrt] = x.copy() if x.ndim else float(x)
        down = f(*args, **kwargs)
        flat[i] = old
        grad.reshape(-1)[i] = (up - down) / (2 * eps)
    return grad


def check(f, *args, wrt=0, rtol=1e-5, atol=1e-7, kwargs=None):
    """Assert srcgrad's gradient of f matches finite differences for each position in wrt."""
    import srcgrad
    positions = wrt if isinstance(wrt, tuple) else (wrt,)
    got = srcgrad.grad(f, wrt=wrt)(*args, **(kwargs or {}))
    got = got if isinstance(wrt, tuple) else (got,)
    for pos, g in zip(positions, got):
        want = numerical_grad(f, args, pos, kwargs=kwargs)
        assert np.shape(g) == np.shape(args[pos]), (np.shape(g), np.shape(args[pos]))
        np.testing.assert_allclose(g, want, rtol=rtol, atol=atol,
                                   err_msg=f"gradient w.r.t. argument {pos} of {f.__name__}")
    return got if isinstance(wrt, tuple) else got[0]
