"""srcgrad: automatic differentiation of plain Python/NumPy code by source transformation.

    @srcgrad.grad
    def loss(w, X, y):
        return np.mean((X @ w - y) ** 2)

    dw = loss(w, X, y)        # the gradient, computed by generated NumPy code
    print(loss.source)        # ... which you can read

    value, tangent = srcgrad.jvp(f, (x,), (v,))   # forward mode: f(x) and its derivative along v
"""
from .api import grad, value_and_grad
from .deps import clear_cache
from .check import check_grad, numerical_gradient
from .custom import custom_vjp, register_jvp, register_vjp, stop_gradient
from .derivatives import hessian, jacobian
from .forward_api import jvp, jvp_function
from .errors import (ArgumentTypeError, GradientRuntimeError, NoDerivativeRuleError,
                     NonScalarResultError, SourceUnavailableError, SrcgradError,
                     UnsupportedSyntaxError, GradientCheckError, UndefinedGradientError)

__version__ = "0.1.0"
__all__ = ["grad", "value_and_grad", "jvp", "jvp_function", "jacobian", "hessian", "check_grad",
           "numerical_gradient", "clear_cache", "custom_vjp", "register_vjp", "register_jvp", "stop_gradient", "SrcgradError",
           "UnsupportedSyntaxError", "NoDerivativeRuleError", "NonScalarResultError",
           "SourceUnavailableError", "GradientRuntimeError", "GradientCheckError",
           "ArgumentTypeError", "UndefinedGradientError"]
