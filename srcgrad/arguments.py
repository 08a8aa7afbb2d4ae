"""What a differentiated argument may be: a real floating-point or integer number or array
(Python int and float, NumPy scalars, ndarrays, and the arrays of libraries NumPy's functions
dispatch to: Dask, CuPy), or a dict / list / tuple / namedtuple /
dataclass of them.  Anything else is refused, naming the parameter, before generated code
runs: a string or None would otherwise flow into arithmetic that happens to accept it, a
complex number lose its imaginary part, a masked array get gradients for its masked
entries."""
import types

import numpy as np

from . import records
from .errors import ArgumentTypeError

_REAL = "fiu"          # dtype kinds with a gradient: floating, signed and unsigned integer
_GENERAL = ("srcgrad differentiates with respect to real floating-point or integer numbers "
            "and arrays (or dicts, lists, tuples, namedtuples and dataclasses of them)")


def problem(value):
    """(category, what the value is, hint) if it cannot be differentiated with respect to,
    else None.  Categories: masked, matrix, subclass, bool, complex, dtype, none, iterator,
    text, other."""
    kind = type(value)
    if kind is float or kind is int or (kind is np.ndarray and value.dtype.kind in _REAL):
        return None
    if isinstance(value, np.ma.MaskedArray):
        return ("masked", "a masked array (numpy.ma.MaskedArray)",
                "srcgrad would differentiate the masked entries too: pass `x.filled(value)` "
                "(masked entries replaced) or `x.compressed()` (only the unmasked ones), a "
                "plain ndarray")
    if isinstance(value, np.matrix):
        return ("matrix", "a numpy.matrix",
                "pass np.asarray(x): `*` and `**` are matrix products for np.matrix, and "
                "srcgrad's rules are those of ndarray")
    if isinstance(value, (bool, np.bool_)) or getattr(getattr(value, "dtype", None), "kind", "") == "b":
        return ("bool", "a bool" if np.ndim(value) == 0 else "a bool array",
                "a bool has no gradient: pass floats (x.astype(float)), or leave this "
                "parameter out of wrt")
    if isinstance(value, (complex, np.complexfloating)) or (
            isinstance(value, np.ndarray) and value.dtype.kind == "c"):
        return ("complex", f"the complex number {value!r:.40}" if np.ndim(value) == 0 else
                f"a complex array (dtype {value.dtype})",
                "srcgrad differentiates real functions of real inputs: pass the real and "
                "imaginary parts (x.real, x.imag) as separate real arguments")
    if isinstance(value, (np.ndarray, np.generic)):
        dtype = value.dtype
        if dtype.kind in _REAL:
            if isinstance(value, (np.generic, np.memmap)):
                return None
            return ("subclass", f"an instance of {kind.__module__}.{kind.__qualname__}, a "
                                "subclass of ndarray",
                    "pass np.asarray(x): srcgrad's rules are those of plain ndarrays")
        return ("dtype", f"an array of dtype {dtype}" if isinstance(value, np.ndarray) else
                f"a NumPy {dtype} scalar",
                "convert it: np.asarray(x, dtype=float)" if dtype.kind == "O" else
                "pass an array of floats")
    if isinstance(value, (int, float)):      # subclasses (not bool): real numbers
        return None
    if hasattr(kind, "__array_function__") and hasattr(value, "shape") and \
            getattr(getattr(value, "dtype", None), "kind", "") in _REAL:
        return None         # another library's array (Dask, CuPy): NumPy's functions dispatch to it
    if value is None:
        return ("none", "None", "pass a float or an array of floats (None, a default perhaps, "
                                "has no gradient)")
    if isinstance(value, types.GeneratorType) or (hasattr(value, "__next__") and
                                                   hasattr(value, "__iter__")):
        return ("iterator", f"a {kind.__name__}",
                "pass an array: np.array(list(values)) or np.fromiter(values, dtype=float)")
    if isinstance(value, (str, bytes)):
        return ("text", f"a {kind.__name__} ({value!r:.40})", "pass a float or an array of floats")
    name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    if hasattr(value, "__dict__") and not callable(value):
        return ("other", f"a {name}", "put its arrays in a dict, a namedtuple or a dataclass "
                                      "(srcgrad takes those apart and gives the gradient the same "
                                      "shape), or pass them as separate arguments")
    return ("other", f"a {name}", "pass a float or an array of floats")


def check(value, name, where):
    """Raise ArgumentTypeError if `value`, the argument of parameter `name`, cannot be
    differentiated with respect to (`where` is e.g. "grad of loss")."""
    found = problem(value)
    if found is not None:
        _, what, hint = found
        raise ArgumentTypeError(f"{where}: the argument `{name}` is {what}; {_GENERAL}",
                                hint=hint)


def check_tree(value, name, where):
    """`check` every leaf of a dict / list / tuple / record argument, naming it
    (`params['W'][0]`, `p.W`)."""
    if records.is_record(value):
        for f in records.record_fields(type(value)):
            check_tree(getattr(value, f), f"{name}.{f}", where)
    elif isinstance(value, dict):
        for k, v in value.items():
            check_tree(v, f"{name}[{k!r}]", where)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_tree(v, f"{name}[{i}]", where)
    else:
        check(value, name, where)


def is_number_list(value):
    """Whether `value` is a non-empty list of real numbers (Python or NumPy scalars, not
    bools): as a differentiated argument, its gradient is a float64 array of its length."""
    return type(value) is list and bool(value) and all(
        type(v) in (int, float) or isinstance(v, (np.floating, np.integer)) for v in value)
