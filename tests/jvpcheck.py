"""Central finite differences along a direction, the reference every forward-mode test uses."""
import numpy as np

import srcgrad


def is_float(value):
    return type(value) is float or (isinstance(value, (np.ndarray, np.generic)) and
                                     value.dtype.kind == "f")


def numerical_jvp(f, args, tangents, eps=1e-6):
    """(f(args + eps t) - f(args - eps t)) / 2 eps, per output of a tuple result."""
    def moved(sign):
        return [a + sign * eps * t if t is not None else a for a, t in zip(args, tangents)]
    def difference(up, down):
        if isinstance(up, tuple):
            return tuple(difference(u, d) for u, d in zip(up, down))
        return (np.asarray(up, dtype=float) - np.asarray(down, dtype=float)) / (2 * eps)
    return difference(f(*moved(1.0)), f(*moved(-1.0)))


def random_tangents(args, seed=0):
    rng = np.random.default_rng(seed)
    return [(float(rng.normal()) if type(a) is float else rng.normal(size=np.shape(a)))
            if is_float(a) else None for a in args]


def assert_close(got, want, rtol, atol, what):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want), (got, want)
        for g, w in zip(got, want):
            assert_close(g, w, rtol, atol, what)
        return
    assert np.shape(got) == np.shape(want), (what, np.shape(got), np.shape(want))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=what, equal_nan=False)


def check_jvp(f, *args, rtol=1e-5, atol=1e-7, seed=0, each=True):
    """Assert srcgrad.jvp(f) matches finite differences, with every float argument carrying a
    tangent and (if `each`) with each one alone; returns the tangent of the first check."""
    tangents = random_tangents(args, seed)
    active = [i for i, t in enumerate(tangents) if t is not None]
    assert active, "no float argument to differentiate"
    subsets = [active] + ([[i] for i in active] if each and len(active) > 1 else [])
    first = None
    for subset in subsets:
        chosen = [t if i in subset else None for i, t in enumerate(tangents)]
        value, tangent = srcgrad.jvp(f, args, chosen)
        assert_close(value, f(*args), 1e-12, 0, f"value of {f.__name__}")
        assert_close(tangent, numerical_jvp(f, args, chosen), rtol, atol,
                     f"tangent of {f.__name__} along arguments {subset}")
        first = tangent if first is None else first
    return first
