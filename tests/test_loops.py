"""for over range(...), while, break and continue: the backward pass replays the iterations
in reverse, restoring from a tape only what the adjoint reads and the loop overwrote."""
import numpy as np
import pytest
from support import check

import srcgrad

RNG = np.random.default_rng(11)


def power(x, n):
    y = x
    for i in range(n):
        y = y * x
    return np.sum(y)


@pytest.mark.parametrize("n", [0, 1, 4])
def test_for_range_with_an_int_parameter(n):
    check(power, RNG.uniform(0.5, 1.5, size=3), n)


def test_range_arguments_and_loop_variable_used_in_the_body():
    def f(x):
        s = 0.0
        for k in range(1, 7, 2):
            s = s + np.sum(np.sin(x * k)) / k
        return s
    check(f, RNG.normal(size=4))


def test_bounds_from_data():
    def f(x, xs):
        acc = x
        for i in range(len(xs)):
            acc = np.tanh(acc + xs[i])
        return np.sum(acc)
    check(f, RNG.normal(size=3), RNG.normal(size=(5, 3)))


def rnn(Wh, Wx, xs, h0):
    h = h0
    loss = 0.0
    for t in range(len(xs)):
        h = np.tanh(Wh @ h + Wx @ xs[t])
        loss = loss + np.sum(h * h)
    return loss


def test_rnn_backprop_through_time():
    args = (0.5 * RNG.normal(size=(6, 6)), 0.5 * RNG.normal(size=(6, 3)),
            RNG.normal(size=(20, 3)), RNG.normal(size=6))
    check(rnn, *args, wrt=(0, 1, 3))
    source = srcgrad.grad(rnn, wrt=(0, 1)).source
    assert "tape.append" in source and "tape.pop()" in source
    assert "for _ in range(n_iterations):" in source


def test_nested_loops():
    def f(W, x):
        s = 0.0
        for i in range(3):
            v = x
            for j in range(i + 1):
                v = np.tanh(W @ v)
            s = s + np.sum(v * v)
        return s
    check(f, 0.5 * RNG.normal(size=(3, 3)), RNG.normal(size=3), wrt=(0, 1))


def test_while_with_a_counter():
    def f(x):
        i = 0
        y = x
        while i < 3:
            y = np.sin(y) + x
            i += 1
        return np.sum(y)
    check(f, RNG.normal(size=3))


def test_while_with_a_data_dependent_condition():
    def f(x):
        y = x
        while np.sum(y * y) < 50.0:
            y = y * 1.5 + 0.1
        return np.sum(y)
    x = RNG.uniform(0.5, 1.0, size=3)
    check(f, x)


def test_break_and_continue():
    def f(x, limit):
        total = 0.0
        for i in range(10):
            if i % 2 == 1:
                continue
            total = total + np.sum(x ** (i + 1)) / (i + 1)
            if i >= limit:
                break
            total = total * 0.9
        return total
    for limit in (0, 3, 20):
        check(f, RNG.uniform(0.3, 0.9, size=3), limit)


def test_loop_that_runs_zero_times_passes_values_through():
    def f(x, n):
        y = x * 2.0
        for i in range(n):
            y = y * y
        return np.sum(y)
    np.testing.assert_allclose(srcgrad.grad(f)(np.ones(3), 0), 2.0 * np.ones(3))


def test_loop_only_outside_values_accumulate():
    def f(w, xs):
        loss = 0.0
        for i in range(len(xs)):
            loss = loss + np.sum((xs[i] @ w) ** 2)
        return loss
    check(f, RNG.normal(size=2), RNG.normal(size=(4, 3, 2)))


def test_value_and_grad_through_a_loop():
    value, grad = srcgrad.value_and_grad(power)(np.array([1.1, 0.9]), 3)
    assert value == pytest.approx(power(np.array([1.1, 0.9]), 3))
    np.testing.assert_allclose(grad, 4 * np.array([1.1, 0.9]) ** 3)


def test_for_over_array_rows():
    def f(X, w):
        s = 0.0
        for row in X:
            s = s + np.tanh(row @ w)
        return s
    X, w = RNG.normal(size=(4, 3)), RNG.normal(size=3)
    dX, dw = check(f, X, w, wrt=(0, 1))
    t = np.tanh(X @ w)
    np.testing.assert_allclose(dw, X.T @ (1 - t * t), rtol=1e-10)


def test_for_over_enumerate_and_zip_with_tuple_targets():
    def f(xs, ys, w):
        s = 0.0
        for i, (a, b) in enumerate(zip(xs, ys)):
            s = s + (i + 1) * np.sum(a * b * w)
        return s
    check(f, RNG.normal(size=(3, 2)), RNG.normal(size=(4, 2)), RNG.normal(size=2), wrt=(0, 1, 2))


def test_sequence_is_evaluated_once_even_if_its_name_is_rebound():
    def f(b):
        s = 0.0
        for v in b:
            b = b * 2.0
            s = s + v * np.sum(b)
        return s
    b = RNG.normal(size=3)
    value, _ = srcgrad.value_and_grad(f)(b)
    assert value == pytest.approx(f(b))
    check(f, b)


def test_break_in_a_loop_over_a_list_literal_is_not_unrolled_into_the_outer_loop():
    def f(x):
        s = 0.0
        for i in range(3):
            for v in (x, x * 2.0):
                s = s + np.sum(v)
                break
            s = s * 1.5
        return s
    with pytest.raises(srcgrad.SrcgradError):      # loud, not a wrong gradient
        srcgrad.grad(f)(np.ones(2))


def test_return_from_inside_nested_loops():
    def f(x, limit):
        s = 0.0
        for i in range(5):
            for j in range(3):
                s = s + np.sum(np.sin(x * (i + j)))
                if s > limit:
                    return s * 2.0
            s = s * 0.9
        return s
    for limit in (-10.0, 0.5, 100.0):      # return at once, midway, never
        x = RNG.uniform(0.1, 0.5, size=3)
        value, _ = srcgrad.value_and_grad(f)(x, limit)
        assert value == pytest.approx(f(x, limit))
        check(f, x, limit)


def test_return_from_a_while_loop():
    def f(x):
        y = x
        while True:
            y = np.tanh(y) * 1.5
            if np.sum(y * y) > 1.0:
                return np.sum(y)
    check(f, np.array([0.3, -0.2, 0.4]))
