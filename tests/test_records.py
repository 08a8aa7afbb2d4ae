"""Namedtuples and dataclasses: as parameter containers (`grad(loss)(params, X)` returns a
gradient of the same type), and built inside the loss (`p = P(W, b)`, then `p.W`)."""
import dataclasses
from collections import namedtuple

import numpy as np
import pytest
from support import check, check_jvp, line_of

import srcgrad
from srcgrad.check import numerical_gradient

rng = np.random.default_rng(7)
X = rng.normal(size=(5, 3))
Y = rng.normal(size=5)

Params = namedtuple("Params", "W b")


@dataclasses.dataclass
class Layer:
    W: np.ndarray
    b: np.ndarray


@dataclasses.dataclass(frozen=True)
class Scaled:
    w: np.ndarray
    scale: float = 2.0


def field_gradients(f, record, args, fields):
    """Finite-difference gradients of f(record, *args) with respect to each field."""
    out = {}
    for name in fields:
        def of_field(value, name=name):
            return f(dataclasses.replace(record, **{name: value}) if dataclasses.is_dataclass(record)
                     else record._replace(**{name: value}), *args)
        out[name] = numerical_gradient(of_field, [getattr(record, name)])
    return out


def mse(p, X, y):
    return np.mean((np.tanh(X @ p.W + p.b) - y) ** 2)


def test_namedtuple_parameters_give_a_namedtuple_gradient():
    p = Params(rng.normal(size=3), 0.3)
    g = srcgrad.grad(mse)(p, X, Y)
    assert type(g) is Params and isinstance(g.b, float) and g.W.shape == (3,)
    want = field_gradients(mse, p, (X, Y), Params._fields)
    np.testing.assert_allclose(g.W, want["W"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(g.b, want["b"], rtol=1e-6, atol=1e-8)
    value, g2 = srcgrad.value_and_grad(mse)(p, X, Y)
    assert value == pytest.approx(mse(p, X, Y)) and type(g2) is Params
    np.testing.assert_allclose(g2.W, g.W)


def stacked(layers, X):
    h = X
    for layer in layers:
        h = np.tanh(h @ layer.W + layer.b)
    return np.sum(h ** 2)


def test_a_list_of_dataclass_layers():
    layers = [Layer(rng.normal(size=(3, 4)), rng.normal(size=4)),
              Layer(rng.normal(size=(4, 2)), rng.normal(size=2))]
    g = srcgrad.grad(stacked)(layers, X)
    assert [type(x) for x in g] == [Layer, Layer]
    for k in range(2):
        def of_layer(W, b, k=k):
            changed = list(layers)
            changed[k] = Layer(W, b)
            return stacked(changed, X)
        np.testing.assert_allclose(g[k].W, numerical_gradient(of_layer, [layers[k].W, layers[k].b], 0),
                                   rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(g[k].b, numerical_gradient(of_layer, [layers[k].W, layers[k].b], 1),
                                   rtol=1e-6, atol=1e-8)


def scaled_loss(s, x):
    return s.scale * np.sum(np.sin(s.w * x))


def test_frozen_dataclass_with_a_default_and_a_record_of_data():
    s = Scaled(rng.normal(size=3), 1.5)
    g = srcgrad.grad(scaled_loss)(s, X[0])
    assert type(g) is Scaled
    want = field_gradients(scaled_loss, s, (X[0],), ("w", "scale"))
    np.testing.assert_allclose(g.w, want["w"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(g.scale, want["scale"], rtol=1e-6, atol=1e-8)
    # the record as data, the array differentiated
    check(scaled_loss, s, X[0], wrt=1)


def built_inside(W, b, x):
    p = Params(W, b=b)
    q = Scaled(p.W)                  # scale: its default, 2.0
    first, second = p                # a namedtuple is a tuple
    return np.sum(np.tanh(x @ q.w + p.b)) * q.scale + np.sum(first * second) + p[1]


def test_records_built_inside_the_loss():
    W, b, x = rng.normal(size=3), 0.4, X[:2]
    check(built_inside, W, b, x, wrt=(0, 1))
    check_jvp(built_inside, W, b, x)
    source = srcgrad.grad(built_inside, wrt=(0, 1)).source
    assert "Params" not in source and "Scaled" not in source   # read when the code is read


def stacked_fields(W, b):
    p = Params(W, b)
    return np.sum(np.stack(p) ** 2)          # a namedtuple is a tuple: NumPy stacks it


def test_a_namedtuple_used_as_a_whole_is_a_tuple():
    check(stacked_fields, rng.normal(size=2), rng.normal(size=2), wrt=(0, 1))


def dataclass_used_whole(w):
    s = Scaled(w)
    return np.sum(s)


def test_a_dataclass_used_as_a_whole_is_refused_at_its_line():
    with pytest.raises(srcgrad.UnsupportedSyntaxError,
                       match="cannot differentiate this use of a list, tuple or dict") as info:
        srcgrad.grad(dataclass_used_whole)(np.ones(2))
    assert f":{line_of(dataclass_used_whole, 'np.sum(s)')}:" in str(info.value)


def test_jvp_of_a_record_parameter_is_refused_with_a_hint():
    p = Params(np.ones(3), 0.3)
    with pytest.raises(srcgrad.SrcgradError, match="argument 0 is a Params") as info:
        srcgrad.jvp(mse, (p, X, Y), (p, np.zeros_like(X), np.zeros_like(Y)))
    assert "pass the arrays as separate arguments" in str(info.value)


def missing_field(W):
    return np.sum(Params(W).W)


def test_a_record_missing_a_field_is_refused():
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match="missing its field `b`") as info:
        srcgrad.grad(missing_field)(np.ones(2))
    assert f":{line_of(missing_field, 'Params(W)')}:" in str(info.value)


def test_a_bad_leaf_is_named_by_its_field():
    with pytest.raises(srcgrad.ArgumentTypeError, match=r"`p\.b` is None"):
        srcgrad.grad(mse)(Params(np.ones(3), None), X, Y)


def attributes_of(p, X):
    return np.sum(np.tanh(X @ p.W))


def test_an_object_of_attributes_is_refused_before_its_code_is_read():
    import types
    with pytest.raises(srcgrad.ArgumentTypeError, match="`p` is a types.SimpleNamespace") as info:
        srcgrad.grad(attributes_of)(types.SimpleNamespace(W=np.ones(3)), X)
    assert "a dict, a namedtuple or a dataclass" in info.value.hint
    np.testing.assert_allclose(srcgrad.grad(attributes_of)(Params(np.ones(3), 0.0), X).W,
                               X.T @ (1 - np.tanh(X @ np.ones(3)) ** 2))
