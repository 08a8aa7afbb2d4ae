"""Custom derivative rules: `@custom_vjp` functions and `register_vjp` / `register_jvp`.

A reverse rule has the signature `rule(g, ans, *args)`: `g` is the adjoint of the result,
`ans` the result, `args` the positional arguments of the call.  It returns one gradient per
positional argument (a single value when there is one argument; `None` for none).

A forward rule has the signature `rule(tangents, ans, *args)`: `tangents` holds one tangent
per positional argument (the tangent itself when there is one argument; `0.0` for an
argument that carries none).  It returns the tangent of the result.

Functions with a custom rule are not read or inlined: the generated code calls them, and
calls the rule in the backward (or tangent) pass.  Setting a rule forgets the compiled
gradients and JVP functions (they may have used the function's previous rule, or none).
"""
import functools

from . import deps

CUSTOM_VJP = {}   # function -> reverse rule
CUSTOM_JVP = {}   # function -> forward rule


class custom_vjp:
    """Decorator: a function whose derivative is given by rules you define.

        @srcgrad.custom_vjp
        def softplus(x):
            return np.log1p(np.exp(x))

        @softplus.defvjp
        def softplus_vjp(g, ans, x):
            return g / (1.0 + np.exp(-x))
    """

    def __init__(self, func):
        functools.update_wrapper(self, func)
        self.func = func
        self.vjp = None
        self.jvp = None

    def __call__(self, *args, **kwargs):
        return self.func(*args, **kwargs)

    def defvjp(self, rule):
        """Set the reverse rule `rule(g, ans, *args)`; returns `rule`, so it works as a decorator."""
        _check_callable(rule, "defvjp")
        self.vjp = rule
        deps.clear_cache()
        return rule

    def defjvp(self, rule):
        """Set the forward rule `rule(tangents, ans, *args)`; returns `rule`."""
        _check_callable(rule, "defjvp")
        self.jvp = rule
        deps.clear_cache()
        return rule

    def __repr__(self):
        return f"<srcgrad.custom_vjp {getattr(self.func, '__qualname__', self.func)!r}>"


def stop_gradient(x):
    """`x` itself, as a constant: no gradient flows back through it."""
    return x


def register_vjp(func, rule):
    """Use `rule(g, ans, *args)` as the reverse derivative of `func` (e.g. a SciPy function)."""
    _check_callable(rule, "register_vjp")
    if isinstance(func, custom_vjp):
        func.defvjp(rule)
    else:
        CUSTOM_VJP[func] = rule
        deps.clear_cache()
    return rule


def register_jvp(func, rule):
    """Use `rule(tangents, ans, *args)` as the forward derivative of `func`."""
    _check_callable(rule, "register_jvp")
    if isinstance(func, custom_vjp):
        func.defjvp(rule)
    else:
        CUSTOM_JVP[func] = rule
        deps.clear_cache()
    return rule


def vjp_rule(func):
    """The custom reverse rule for `func`, or None."""
    if isinstance(func, custom_vjp):
        return func.vjp
    try:
        return CUSTOM_VJP.get(func)
    except TypeError:         # unhashable callables have no registered rule
        return None


def jvp_rule(func):
    """The custom forward rule for `func`, or None."""
    if isinstance(func, custom_vjp):
        return func.jvp
    try:
        return CUSTOM_JVP.get(func)
    except TypeError:
        return None


def _check_callable(rule, where):
    if not callable(rule):
        from .errors import SrcgradError
        raise SrcgradError(f"{where} needs a function, not {rule!r}",
                           hint="pass the rule as a function: def rule(g, ans, *args): ...")
