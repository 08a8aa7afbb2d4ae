"""Gradients over arrays of other libraries (issue #14): generated code is NumPy code, and
NumPy's functions dispatch to Dask and CuPy arrays (`__array_function__`, `__array_ufunc__`).

- A strict stand-in for CuPy (tests/strict_array.py: no conversion to NumPy, no NumPy array
  operands) over losses and the rule families: the gradient is computed in the argument's
  own library and equals NumPy's.
- Dask with the synchronous scheduler and a callback counting computes: a NumPy parameter
  with Dask data gets a NumPy gradient, and the value and all the gradients come from one
  compute per call (one pass over the data); a Dask parameter gets a lazy Dask gradient.
- One run on a two-worker `dask.distributed.LocalCluster`.
"""
import numpy as np
import pytest
from strict_array import StrictArray

import srcgrad


# --- the losses (module level: srcgrad reads their source) -------------------------------------
def least_squares(w, X, y):
    r = X @ w - y
    return np.mean(r ** 2)


def ridge(w, X, y, lam):
    return np.sum((X @ w - y) ** 2) / len(y) + lam * np.sum(w * w)


def logistic(w, b, X, y):
    z = X @ w + b
    return np.mean(np.logaddexp(0.0, z) - y * z)


def mlp(W1, b1, W2, b2, X, y):
    h = np.tanh(X @ W1 + b1)
    out = h @ W2 + b2
    return np.mean((out - y) ** 2)


def softmax_cross_entropy(W, b, X, labels):
    scores = X @ W + b
    scores = scores - np.max(scores, axis=1, keepdims=True)
    p = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)
    n = X.shape[0]
    return -np.mean(np.log(p[np.arange(n), labels]))


def softmax_one_hot(W, b, X, Y):
    scores = X @ W + b
    scores = scores - np.max(scores, axis=1, keepdims=True)
    log_p = scores - np.log(np.sum(np.exp(scores), axis=1, keepdims=True))
    return -np.mean(np.sum(Y * log_p, axis=1))


def rnn(Wh, Wx, xs, h0):
    h = h0
    loss = 0.0
    for t in range(len(xs)):
        h = np.tanh(Wh @ h + Wx @ xs[t])
        loss = loss + np.sum(h * h)
    return loss


def problems(seed=0, n=40, d=5, k=3):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(n, d)), rng.normal(size=n)
    labels = rng.integers(0, k, size=n)
    return [
        ("least_squares", least_squares, (0,), (rng.normal(size=d), X, y)),
        ("ridge", ridge, (0,), (rng.normal(size=d), X, y, 0.1)),
        ("logistic", logistic, (0, 1), (rng.normal(size=d), 0.3, X, (y > 0).astype(float))),
        ("mlp", mlp, (0, 1, 2, 3), (rng.normal(size=(d, 4)), rng.normal(size=4), rng.normal(size=4), 0.2, X, y)),
        ("softmax", softmax_cross_entropy, (0, 1), (rng.normal(size=(d, k)), rng.normal(size=k), X, labels)),
        ("softmax_one_hot", softmax_one_hot, (0, 1), (rng.normal(size=(d, k)), rng.normal(size=k), X,
                                                     np.eye(k)[labels])),
        ("rnn", rnn, (0, 1), (rng.normal(size=(4, 4)) * 0.5, rng.normal(size=(4, d)), X[:6], np.zeros(4))),
    ]


def as_list(result, with_value):
    value, grads = result if with_value else (None, result)
    grads = list(grads) if isinstance(grads, tuple) else [grads]
    return ([value] if with_value else []) + grads


def host(x):
    return x.data if isinstance(x, StrictArray) else np.asarray(x)


# --- a strict stand-in for CuPy -----------------------------------------------------------------
def on_device(args):
    """Float arrays moved to the "device"; integer labels too (CuPy indexes with them)."""
    return tuple(StrictArray(a) if isinstance(a, np.ndarray) else a for a in args)


@pytest.mark.parametrize("with_value", [False, True], ids=["grad", "value_and_grad"])
@pytest.mark.parametrize("name,f,wrt,args", problems(), ids=[p[0] for p in problems()])
def test_strict_device_arrays_stay_on_the_device(name, f, wrt, args, with_value):
    make = srcgrad.value_and_grad if with_value else srcgrad.grad
    want = as_list(make(f, wrt=wrt)(*args), with_value)
    got = as_list(make(f, wrt=wrt)(*on_device(args)), with_value)
    for i, (g, w) in enumerate(zip(got, want)):
        param = args[wrt[i - with_value]] if i >= with_value else None
        if isinstance(param, np.ndarray):       # a device argument: a device gradient
            assert isinstance(g, StrictArray), (i, type(g))
            assert g.shape == param.shape and g.dtype == param.dtype
        elif param is not None:                 # a float argument: a float
            assert type(g) is float, (i, type(g))
        np.testing.assert_allclose(host(g), w, rtol=1e-12, atol=1e-14)


# --- the rule families on the stand-in ---------------------------------------------------------
def unary(x):
    return (np.sin(x) + np.cos(x) + np.tan(x * 0.5) + np.exp(x) + np.log(x) + np.log1p(x)
            + np.expm1(x) + np.sqrt(x) + np.cbrt(x) + np.square(x) + np.tanh(x) + np.sinh(x)
            + np.cosh(x) + np.arcsin(x * 0.5) + np.arccos(x * 0.5) + np.arctan(x) + np.arcsinh(x)
            + np.arctanh(x * 0.5) + np.log2(x) + np.log10(x) + np.exp2(x) + np.abs(x - 0.5)
            + np.reciprocal(x) + np.negative(x) + np.degrees(x) + np.radians(x))


def binary(x, y):
    return (x * y + x / y - y + x ** y + np.power(y, 2.0) + np.maximum(x, y) + np.minimum(x, y)
            + np.arctan2(x, y) + np.hypot(x, y) + np.logaddexp(x, y) + np.logaddexp2(x, y)
            + np.mod(x + 3.0, y) + np.where(x > y, x, y) + np.clip(x, 0.3, 0.6))


def reductions(x):
    return (np.sum(x, axis=0) @ np.mean(x, axis=0) + np.max(x) + np.min(x, axis=1).sum()
            + np.var(x, axis=1).sum() + np.std(x) + np.prod(x, axis=1).sum()
            + np.linalg.norm(x, axis=1).sum() + x.sum() + x.mean())


def products(x, y):
    return (np.sum((x @ y.T) ** 2) + np.dot(x[0], y[1]) + np.sum(np.tensordot(x, y, axes=([1], [1])) ** 2)
            + np.sum(np.outer(x[0], y[0]) ** 2) + np.inner(x[1], y[1]))


def shapes(x):
    return (np.sum(np.reshape(x, (-1,)) ** 3) + np.sum(np.transpose(x)[0])
            + np.sum(np.concatenate([x, x * 2.0], axis=0)[2:]) + np.sum(np.stack([x, x ** 2])[1])
            + np.sum(np.expand_dims(x, 0) ** 2) + np.sum(np.tile(x, (2, 1))[:, 1])
            + np.sum(x[1:, ::2] ** 2) + np.sum(x.T[0]) + np.sum(np.flip(x, 0)[0])
            + np.sum(np.swapaxes(x, 0, 1)[1]) + np.sum(np.squeeze(x[None]) ** 3)
            + np.sum(np.cumsum(x, axis=0) ** 2))


# Not yet on a strict device library: a matrix-valued rule's result summed whole (its adjoint,
# one number, is broadcast by np.broadcast_to into a NumPy array), einsum's and trace's
# adjoints (NumPy arrays and writes through views inside).
def sum_of_product(x, y):
    return np.sum(x @ y.T)


def einsum_trace(x, y):
    return np.sum(np.einsum("ij,kj->ik", x, y) ** 2) + np.trace(x[:, :3] ** 2)


FAMILIES = [("elementwise", unary, 1), ("binary", binary, 2), ("reductions", reductions, 1),
            ("products", products, 2), ("shapes", shapes, 1)]


GAPS = [("sum_of_product", sum_of_product, 2), ("einsum_trace", einsum_trace, 2)]


@pytest.mark.parametrize("name,fn,arity", FAMILIES + [pytest.param(*gap, marks=pytest.mark.xfail(
    strict=True, reason="not yet on a strict device library (issue #14)")) for gap in GAPS],
    ids=[f[0] for f in FAMILIES + GAPS])
def test_rule_families_on_the_device(name, fn, arity):
    rng = np.random.default_rng(1)
    args = [rng.uniform(0.2, 0.8, size=(3, 4)) for _ in range(arity)]
    w = rng.uniform(0.5, 1.5, size=np.shape(fn(*args)))
    loss = {1: lambda x: np.sum(w * fn(x)), 2: lambda x, y: np.sum(w * fn(x, y))}[arity]
    wrt = tuple(range(arity))
    want = srcgrad.grad(loss, wrt=wrt)(*args)
    w = StrictArray(w) if np.ndim(w) else w
    got = srcgrad.grad(loss, wrt=wrt)(*on_device(args))
    for g, expected in zip(got, want):
        assert isinstance(g, StrictArray)
        np.testing.assert_allclose(g.data, expected, rtol=1e-10, atol=1e-12)


def test_an_integer_gather_other_than_one_a_row_is_refused_by_name():
    def pick(x, rows, cols):
        return np.sum(x[rows, cols] ** 2)
    x = StrictArray(np.ones((3, 4)))
    with pytest.raises(srcgrad.SrcgradError, match="np.add.at") as info:
        srcgrad.grad(pick)(x, np.array([0, 0, 2]), np.array([1, 1, 3]))
    assert "indexing with integer arrays" in str(info.value)


# --- Dask ---------------------------------------------------------------------------------------
def dask_problems():
    da = pytest.importorskip("dask.array")
    out = []
    for name, f, wrt, args in problems(n=400):
        if name in ("rnn", "softmax"):   # (Dask indexes with one integer array at a time)
            continue
        data = [da.from_array(a, chunks=100) if isinstance(a, np.ndarray) and i not in wrt else a
                for i, a in enumerate(args)]
        out.append((name, f, wrt, args, tuple(data)))
    return out


class ComputeCounter:
    def __init__(self):
        from dask.callbacks import Callback
        counter = self

        class Counting(Callback):
            def _start(self, dsk):
                counter.count += 1
        self.count, self.callback = 0, Counting()

    def __enter__(self):
        self.callback.__enter__()
        return self

    def __exit__(self, *exc):
        self.callback.__exit__(*exc)


@pytest.mark.parametrize("with_value", [False, True], ids=["grad", "value_and_grad"])
def test_dask_data_one_compute_per_call(with_value):
    dask = pytest.importorskip("dask")
    make = srcgrad.value_and_grad if with_value else srcgrad.grad
    with dask.config.set(scheduler="synchronous"):
        for name, f, wrt, args, data in dask_problems():
            want = as_list(make(f, wrt=wrt)(*args), with_value)
            with ComputeCounter() as counter:
                got = as_list(make(f, wrt=wrt)(*data), with_value)
            assert counter.count == 1, (name, counter.count)
            for g, w in zip(got, want):
                assert type(g) in (np.ndarray, float, np.float64), (name, type(g))
                np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_a_dask_parameter_gets_a_lazy_gradient():
    dask = pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(2)
    w, X, y = rng.normal(size=5), rng.normal(size=(300, 5)), rng.normal(size=300)
    with dask.config.set(scheduler="synchronous"):
        with ComputeCounter() as counter:
            g = srcgrad.grad(least_squares)(da.from_array(w, chunks=5), da.from_array(X, chunks=100),
                                            da.from_array(y, chunks=100))
        assert counter.count == 0 and isinstance(g, da.Array)
        np.testing.assert_allclose(g.compute(), srcgrad.grad(least_squares)(w, X, y), rtol=1e-12)


def test_on_a_local_cluster():
    distributed = pytest.importorskip("distributed")
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(3)
    w, X = rng.normal(size=5), rng.normal(size=(2000, 5))
    y = (X @ np.array([1.0, -2.0, 0.5, 0.0, 3.0]) > 0).astype(float)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        Xd, yd = da.from_array(X, chunks=500), da.from_array(y, chunks=500)
        value, (gw, gb) = srcgrad.value_and_grad(logistic, wrt=(0, 1))(w, 0.1, Xd, yd)
    want_value, (want_w, want_b) = srcgrad.value_and_grad(logistic, wrt=(0, 1))(w, 0.1, X, y)
    assert isinstance(gw, np.ndarray) and type(gb) is float
    np.testing.assert_allclose([value, gb], [want_value, want_b], rtol=1e-12)
    np.testing.assert_allclose(gw, want_w, rtol=1e-12)
