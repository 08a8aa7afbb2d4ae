"""A strict stand-in for a GPU array library (CuPy's rules, on the CPU): `StrictArray` wraps a
NumPy array, goes through NumPy's functions and ufuncs by `__array_function__` and
`__array_ufunc__`, and refuses what CuPy refuses: being turned into a NumPy array
(`np.asarray(x)`, `out[...] = x`) and NumPy arrays as operands (`x + np.ones(3)`).  Python
and NumPy scalars are fine, as with CuPy.  A gradient computed on StrictArrays without an
error never left the "device"."""
import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin


class DeviceError(TypeError):
    pass


def _unwrap(x):
    if isinstance(x, StrictArray):
        return x.data
    if isinstance(x, np.ndarray) and x.ndim > 0:
        raise DeviceError("a NumPy array given to a StrictArray operation (CuPy refuses this)")
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v) for v in x)
    return x


def _unwrap_host(x):
    return x.data if isinstance(x, StrictArray) else x


def _wrap(x):
    if isinstance(x, (np.ndarray, np.generic)) and x.dtype.kind in "fciub":    # (CuPy's
        return StrictArray(x)       # reductions and indexing give 0-d arrays, not scalars)
    if isinstance(x, tuple):
        return tuple(_wrap(v) for v in x)
    if isinstance(x, list):
        return [_wrap(v) for v in x]
    return x


class StrictArray(NDArrayOperatorsMixin):
    __slots__ = ("data",)

    def __init__(self, data):
        self.data = np.asarray(data)

    def __array__(self, *args, **kwargs):
        raise DeviceError("implicit conversion of a StrictArray to a NumPy array (CuPy refuses this)")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if "out" in kwargs:
            kwargs["out"] = tuple(_unwrap(o) for o in kwargs["out"])
        return _wrap(getattr(ufunc, method)(*_unwrap(list(inputs)), **kwargs))

    def __array_function__(self, func, types, args, kwargs):
        if func in (np.asarray, np.array, np.asanyarray):     # copies to the "device", as
            return StrictArray(np.array(_unwrap_host(args[0])))  # cupy.asarray(host array)
        return _wrap(func(*_unwrap(list(args)), **{k: _unwrap(v) for k, v in kwargs.items()}))

    # what an ndarray has that code reads
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)
    dtype = property(lambda self: self.data.dtype)
    T = property(lambda self: StrictArray(self.data.T))

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):       # (NumPy index arrays are fine, as with CuPy)
        parts = index if isinstance(index, tuple) else (index,)
        parts = tuple(p.data if isinstance(p, StrictArray) else p for p in parts)
        return _wrap(self.data[parts if isinstance(index, tuple) else parts[0]])

    def __setitem__(self, index, value):
        self.data[index] = _unwrap(value)

    def __float__(self):
        return float(self.data)

    def __repr__(self):
        return f"StrictArray({self.data!r})"

    def __getattr__(self, name):        # methods: sum, mean, reshape, astype, copy, ...
        attr = getattr(self.data, name)
        if not callable(attr):
            return _wrap(attr)
        return lambda *args, **kwargs: _wrap(attr(*_unwrap(list(args)), **{
            k: _unwrap(v) for k, v in kwargs.items()}))
