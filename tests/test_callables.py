"""Callables people differentiate that are not a plain `def`: bound methods (their `self`
read live), `@grad(wrt=...)` on a method in a class body, `functools.partial`, and lambdas
(bound to a name or typed inline).  Gradients against central finite differences."""
import functools
import sys

import numpy as np
import pytest

import srcgrad
from srcgrad import SrcgradError, UnsupportedSyntaxError
from support import check_jvp, line_of, numerical_gradient

RNG = np.random.default_rng(3)
W = RNG.normal(size=3)
X = RNG.normal(size=(4, 3))


def assert_gradient(f, got, args, pos):
    np.testing.assert_allclose(got, numerical_gradient(f, args, pos), rtol=1e-5, atol=1e-7)


class Model:
    def __init__(self, reg):
        self.reg = reg

    def predict(self, w, X):
        return np.tanh(X @ w)

    def loss(self, w, X):
        return np.sum(self.predict(w, X) ** 2) + self.reg * np.sum(w ** 2)

    @srcgrad.grad(wrt="w")
    def dloss(self, w, X):
        return np.sum(self.predict(w, X) ** 2) + self.reg * np.sum(w ** 2)

    @srcgrad.value_and_grad(wrt=("w", "X"))
    def both(self, w, X):
        return np.sum(self.predict(w, X) * X[:, 0]) * self.reg

    @srcgrad.grad
    def forgot_wrt(self, w, X):
        return np.sum(w * X)


class Scaled(Model):
    def predict(self, w, X):
        return np.sin(X @ w) * 2.0


# --- bound methods ---------------------------------------------------------------------------

def test_grad_of_a_bound_method():
    model = Model(0.3)
    g = srcgrad.grad(model.loss)
    assert_gradient(model.loss, g(W, X), (W, X), 0)
    assert_gradient(model.loss, srcgrad.grad(model.loss, wrt=1)(W, X), (W, X), 1)
    assert_gradient(model.loss, srcgrad.grad(model.loss, wrt="X")(W, X), (W, X), 1)
    value, dw = srcgrad.value_and_grad(model.loss)(W, X)
    assert value == pytest.approx(model.loss(W, X))
    np.testing.assert_allclose(dw, g(W, X))


def test_bound_method_source_reads_self_and_inlines_the_other_method():
    source = srcgrad.grad(Model(0.3).loss).source
    assert source.startswith("def grad_loss(w, X):")
    code = [line for line in source.splitlines() if not line.strip().startswith("#")]
    assert any("self.reg" in line for line in code)
    assert any("predict_out = np.tanh(X @ w)" in line for line in code)
    assert not any("self.predict" in line for line in code)


def test_attributes_of_self_are_read_live():
    model = Model(0.3)
    g = srcgrad.grad(model.loss)
    before = g(W, X)
    model.reg = 0.5
    after = g(W, X)
    np.testing.assert_allclose(after - before, 2 * 0.2 * W)
    assert_gradient(model.loss, after, (W, X), 0)


def test_a_method_replaced_later_is_noticed():
    model = Model(0.3)
    g = srcgrad.grad(model.loss)
    g(W, X)
    model.predict = lambda w, X: np.sin(X @ w)            # on the instance
    assert_gradient(model.loss, g(W, X), (W, X), 0)
    del model.predict
    assert_gradient(model.loss, g(W, X), (W, X), 0)


def test_a_method_of_the_class_replaced_later_is_noticed():
    class Local(Model):
        pass
    model = Local(0.3)
    g = srcgrad.grad(model.loss)
    g(W, X)
    Local.predict = Scaled.predict
    assert_gradient(model.loss, g(W, X), (W, X), 0)


def test_subclass_method_is_the_one_inlined_and_objects_are_kept_apart():
    plain, scaled = Model(0.1), Scaled(0.2)
    assert_gradient(plain.loss, srcgrad.grad(plain.loss)(W, X), (W, X), 0)
    assert_gradient(scaled.loss, srcgrad.grad(scaled.loss)(W, X), (W, X), 0)


def test_callable_attribute_of_self_is_watched():
    class Net:
        def __init__(self):
            self.act = np.tanh

        def loss(self, w):
            return np.sum(self.act(w) ** 2)
    net = Net()
    g = srcgrad.grad(net.loss)
    assert_gradient(net.loss, g(W), (W,), 0)
    net.act = np.sin
    assert_gradient(net.loss, g(W), (W,), 0)


def test_jvp_of_a_bound_method():
    model = Model(0.3)
    check_jvp(model.loss, W, X)
    jf = srcgrad.jvp_function(model.loss, wrt=0)
    value, tangent = jf((W, X), X[0])
    assert value == pytest.approx(model.loss(W, X))
    assert tangent == pytest.approx(numerical_gradient(model.loss, (W, X), 0) @ X[0])


def test_recursive_method_is_refused_at_its_line():
    class Rec:
        def loss(self, x, n):
            if n == 0:
                return np.sum(x)
            return self.loss(x * 2.0, n - 1)
    with pytest.raises(UnsupportedSyntaxError) as info:
        srcgrad.grad(Rec().loss)(W, 2)
    assert info.value.lineno == line_of(Rec.loss, "return self.loss")
    assert "calls itself" in str(info.value)


# --- @grad on a method in a class body -----------------------------------------------------

def test_decorated_method():
    model = Model(0.3)
    assert_gradient(model.loss, model.dloss(W, X), (W, X), 0)
    assert model.dloss is model.dloss           # made once per object
    model.reg = 0.5
    assert_gradient(model.loss, model.dloss(W, X), (W, X), 0)
    other = Scaled(0.1)
    assert_gradient(other.loss, other.dloss(W, X), (W, X), 0)


def test_decorated_method_value_and_two_gradients():
    model = Model(0.7)
    value, (dw, dX) = model.both(W, X)

    def both(w, X):
        return np.sum(np.tanh(X @ w) * X[:, 0]) * 0.7
    assert value == pytest.approx(both(W, X))
    assert_gradient(both, dw, (W, X), 0)
    assert_gradient(both, dX, (W, X), 1)


def test_plain_grad_on_a_method_refuses_to_differentiate_self():
    with pytest.raises(SrcgradError) as info:
        Model(0.1).forgot_wrt(W, X)
    err = info.value
    assert "would differentiate `self`" in str(err)
    assert 'wrt="w"' in err.hint
    assert err.lineno == line_of(Model.forgot_wrt.__wrapped__, "@srcgrad.grad")
    assert err.filename == __file__


# --- functools.partial -----------------------------------------------------------------------

def weighted(w, X, a=1.0, b=0.0):
    return np.sum((X @ w) ** 2) * a + b * np.sum(w)


def test_partial_with_keyword():
    p = functools.partial(weighted, a=2.0)
    p.__name__ = "p"            # (for the test helpers' messages)
    assert_gradient(p, srcgrad.grad(p)(W, X), (W, X), 0)
    assert_gradient(p, srcgrad.grad(p, wrt=1)(W, X), (W, X), 1)
    value, dw = srcgrad.value_and_grad(p)(W, X)
    assert value == pytest.approx(p(W, X))
    check_jvp(p, W, X)


def test_partial_with_positional_counts_wrt_from_the_remaining_parameters():
    def data_first(X, w, scale):
        return np.sum(np.tanh(X @ w)) * scale
    p = functools.partial(data_first, X)
    p.__name__ = "p"
    assert_gradient(p, srcgrad.grad(p)(W, 1.5), (W, 1.5), 0)
    assert srcgrad.grad(p, wrt=1)(W, 1.5) == pytest.approx(numerical_gradient(p, (W, 1.5), 1))
    assert srcgrad.grad(p, wrt="scale")(W, 1.5) == pytest.approx(np.sum(np.tanh(X @ W)))
    assert "def grad_data_first(w, scale):" in srcgrad.grad(p).source
    check_jvp(p, W, 1.5)


def test_partial_of_a_bound_method():
    model = Model(0.3)
    p = functools.partial(model.loss, X=X)
    assert_gradient(p, srcgrad.grad(p)(W), (W,), 0)


def test_partial_binding_too_many_arguments_is_refused():
    with pytest.raises(SrcgradError) as info:
        srcgrad.grad(functools.partial(weighted, W, X, 1.0, 0.0, 5.0))
    assert "positional" in str(info.value)


# --- lambdas ---------------------------------------------------------------------------------

inner_product = lambda x, y: np.sum(x * y)            # noqa: E731
squares = lambda x: np.sum(x ** 2); cubes = lambda x: np.sum(x ** 3)     # noqa: E702,E731


def test_module_level_lambda():
    g = srcgrad.grad(inner_product)
    np.testing.assert_allclose(g(W, X[0]), X[0])
    np.testing.assert_allclose(srcgrad.grad(inner_product, wrt=1)(W, X[0]), W)
    assert srcgrad.grad(inner_product).source.startswith("def grad_inner_product(x, y):")
    check_jvp(inner_product, W, X[0])


def test_inline_lambda():
    g = srcgrad.grad(lambda x: np.sum(x ** 2))
    np.testing.assert_allclose(g(W), 2 * W)
    assert g.source.startswith("def grad_lambda_fn(x):")
    value, tangent = srcgrad.jvp(lambda x: np.sum(np.sin(x)), (W,), (X[0],))
    assert tangent == pytest.approx(np.cos(W) @ X[0])


def test_inline_lambda_over_several_lines_and_closure():
    scale = 3.0
    g = srcgrad.grad(
        lambda x: np.sum(np.tanh(x) * scale))
    np.testing.assert_allclose(g(W), 3.0 * (1 - np.tanh(W) ** 2))


@pytest.mark.skipif(sys.version_info < (3, 11), reason="code objects have columns from 3.11")
def test_lambdas_on_one_line_are_told_apart_by_column():
    np.testing.assert_allclose(srcgrad.grad(squares)(W), 2 * W)
    np.testing.assert_allclose(srcgrad.grad(cubes)(W), 3 * W ** 2)
    both = [lambda x: np.sum(x * 2.0), lambda x: np.sum(x * 3.0)]
    np.testing.assert_allclose(srcgrad.grad(both[1])(W), 3.0 * np.ones(3))
    np.testing.assert_allclose(srcgrad.grad(both[0])(W), 2.0 * np.ones(3))


def test_lambdas_that_cannot_be_told_apart_are_refused():
    first = lambda x: np.sum(x * 2.0); second = lambda x: np.sum(x * 3.0)   # noqa: E702,E731
    # (Python 3.11+ tells them apart by columns; without column information, as before
    # 3.11, it cannot)
    columns = sys.version_info >= (3, 11)
    if columns:
        second.__code__ = second.__code__.replace(co_linetable=b"")
    with pytest.raises(UnsupportedSyntaxError) as info:
        srcgrad.grad(second)(W)
    err = info.value
    assert "cannot tell which of the 2 lambdas" in str(err)
    assert err.lineno == line_of(test_lambdas_that_cannot_be_told_apart_are_refused, "first = ")
    assert "a line of its own" in err.hint
    if columns:
        np.testing.assert_allclose(srcgrad.grad(first)(W), 2.0 * np.ones(3))


def test_an_error_in_a_lambda_names_its_line():
    with pytest.raises(SrcgradError) as info:
        srcgrad.grad(lambda x: np.sum(x.tolist()))(W)
    assert info.value.lineno == line_of(test_an_error_in_a_lambda_names_its_line, "lambda x:")


def test_what_is_not_a_function_is_still_refused():
    with pytest.raises(SrcgradError) as info:
        srcgrad.grad(np.sum)
    assert "not" in str(info.value) and "function" in str(info.value)
    with pytest.raises(SrcgradError):
        srcgrad.grad(functools.partial(np.sum, axis=0))
