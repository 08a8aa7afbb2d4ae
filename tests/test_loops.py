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


# ==============================================================================================
# Issue #3, loops: `for` over range(...) (constant, int parameter, bounds computed from data,
# start/stop/step), over array rows, lists and tuples, enumerate, zip, tuple targets, nested
# loops; `while` with a counter and with a data-dependent condition; break, continue and
# return inside loops; loops that run zero times.
#
# The number of iterations often depends on the inputs: the gradient must be that of the
# iterations the call actually ran.  Inputs of data-dependent loops are chosen (and checked)
# to stay well away from the point where the iteration count would change, so finite
# differences see the same path.
# ==============================================================================================

RNG2 = np.random.default_rng(11)


# --- for over range(...) --------------------------------------------------------------------

def range_constant(x):
    s = 0.0
    for i in range(4):
        s = s + np.sum(np.sin(x * (i + 1)))
    return s


def test_for_over_range_constant():
    x = RNG2.normal(size=3)
    g = check(range_constant, x)
    np.testing.assert_allclose(g, sum(k * np.cos(k * x) for k in range(1, 5)), rtol=1e-12)


def range_int_parameter(x, n):
    for i in range(n):
        x = np.tanh(x) * 1.5
    return np.sum(x ** 2)


@pytest.mark.parametrize("n", [1, 2, 5])
def test_for_over_range_of_an_int_parameter(n):
    check(range_int_parameter, RNG2.normal(size=3), n)


def range_len(x):
    s = 0.0
    for i in range(len(x)):
        s = s + x[i] * x[i - 1]
    return s


def test_for_over_range_len():
    x = RNG2.normal(size=5)
    g = check(range_len, x)
    np.testing.assert_allclose(g, np.roll(x, 1) + np.roll(x, -1), rtol=1e-12)


def range_start_stop_step(x, n):
    s = 0.0
    for i in range(1, n, 2):
        s = s + x[i] ** 2 * i
    for j in range(n - 1, -1, -3):
        s = s + np.sin(x[j])
    return s


@pytest.mark.parametrize("n", [2, 5, 6])
def test_for_over_range_start_stop_step(n):
    x = RNG2.normal(size=6)
    g = check(range_start_stop_step, x, n)
    want = np.zeros(6)
    for i in range(1, n, 2):
        want[i] += 2 * i * x[i]
    for j in range(n - 1, -1, -3):
        want[j] += np.cos(x[j])
    np.testing.assert_allclose(g, want, rtol=1e-12)


def range_from_data(x):
    y = x
    for i in range(np.count_nonzero(x > 0)):
        y = y * x
    return np.sum(y)


@pytest.mark.parametrize("x", [np.array([0.5, -0.7, 1.2, 0.3]), np.array([-0.5, -0.7, 0.2, -0.3])])
def test_for_over_range_with_a_bound_computed_from_data(x):
    k = np.count_nonzero(x > 0)
    g = check(range_from_data, x)
    np.testing.assert_allclose(g, (k + 1) * x ** k, rtol=1e-12)


# --- for over arrays, lists, tuples; enumerate, zip ----------------------------------------

def over_rows(X, w):
    s = 0.0
    for row in X:
        s = s + np.tanh(row @ w) ** 2
    return s


def test_for_over_array_rows_closed_form():
    X, w = RNG2.normal(size=(4, 3)), RNG2.normal(size=3)
    dX, dw = check(over_rows, X, w, wrt=(0, 1))
    t = np.tanh(X @ w)
    np.testing.assert_allclose(dw, X.T @ (2 * t * (1 - t * t)), rtol=1e-10)


def over_list_literal(x):
    s = 0.0
    for v in [x, 2.0 * x, np.sin(x)]:
        s = s + np.sum(v * v)
    return s


def test_for_over_a_list_literal():
    x = RNG2.normal(size=3)
    g = check(over_list_literal, x)
    np.testing.assert_allclose(g, 2 * x + 8 * x + 2 * np.sin(x) * np.cos(x), rtol=1e-12)


def over_tuple_of_parameters(a, b, c):
    s = 0.0
    for w in (a, b, c):
        s = s + np.sum(np.exp(w)) * np.sum(w)
    return s


def test_for_over_a_tuple_of_parameters():
    check(over_tuple_of_parameters, *RNG2.normal(size=(3, 4)), wrt=(0, 1, 2))


def loop_variable_after_loop(x):
    for v in [x, 2.0 * x, x ** 3]:
        pass
    return np.sum(v)


def test_loop_variable_keeps_its_last_value_after_the_loop():
    x = RNG2.normal(size=3)
    np.testing.assert_allclose(srcgrad.grad(loop_variable_after_loop)(x), 3 * x ** 2, rtol=1e-12)


def over_enumerate(X, w):
    s = 0.0
    for i, row in enumerate(X):
        s = s + (i + 1) * np.sum(row * w) ** 2
    for k, v in enumerate([w, w * w], 1):
        s = s + k * np.sum(v)
    return s


def test_for_over_enumerate():
    check(over_enumerate, RNG2.normal(size=(3, 2)), RNG2.normal(size=2), wrt=(0, 1))


def over_zip(X, Y):
    s = 0.0
    for p, q in zip(X, Y):
        s = s + np.dot(p, q) ** 2
    return s


def test_for_over_zip():
    X, Y = RNG2.normal(size=(4, 3)), RNG2.normal(size=(4, 3))
    dX, dY = check(over_zip, X, Y, wrt=(0, 1))
    d = np.sum(X * Y, axis=1)
    np.testing.assert_allclose(dX, 2 * d[:, None] * Y, rtol=1e-10)


def zip_of_unequal_lengths(x, y):
    s = 0.0
    for p, q in zip(x, y):          # zip stops at the shorter: y[3:] is never used
        s = s + p * q
    return s


def test_zip_stops_at_the_shorter_sequence():
    x, y = RNG2.normal(size=3), RNG2.normal(size=5)
    dx, dy = check(zip_of_unequal_lengths, x, y, wrt=(0, 1))
    np.testing.assert_allclose(dy, np.concatenate([x, np.zeros(2)]), rtol=1e-12)


def tuple_targets(xs, ys):
    s = 0.0
    for i, (a, b) in enumerate(zip(xs, ys)):
        s = s + (i + 1) * a * np.sin(b)
    return s


def test_tuple_targets_of_enumerate_zip():
    xs, ys = RNG2.normal(size=4), RNG2.normal(size=4)
    dxs, dys = check(tuple_targets, xs, ys, wrt=(0, 1))
    k = np.arange(1, 5)
    np.testing.assert_allclose(dxs, k * np.sin(ys), rtol=1e-12)
    np.testing.assert_allclose(dys, k * xs * np.cos(ys), rtol=1e-12)


def swap_state(a, b, n):
    for i in range(n):
        a, b = b, a * 0.5 + np.sin(b)
    return np.sum(a * b)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_loop_carrying_two_values_with_tuple_assignment(n):
    check(swap_state, RNG2.normal(size=3), RNG2.normal(size=3), n, wrt=(0, 1))


# --- nested loops ------------------------------------------------------------------------

def nested_range(W, x):
    s = 0.0
    for i in range(W.shape[0]):
        for j in range(W.shape[1]):
            s = s + W[i, j] * x[j] ** (i + 1)
    return s


def test_nested_loops_over_ranges():
    W, x = RNG2.normal(size=(3, 4)), RNG2.normal(size=4)
    dW, dx = check(nested_range, W, x, wrt=(0, 1))
    np.testing.assert_allclose(dW, np.stack([x, x ** 2, x ** 3]), rtol=1e-12)


def nested_over_rows_and_elements(X):
    s = 0.0
    for row in X:
        for v in row:
            s = s + np.sin(v) * v
    return s


def test_nested_loops_over_rows_and_their_elements():
    X = RNG2.normal(size=(3, 2))
    g = check(nested_over_rows_and_elements, X)
    np.testing.assert_allclose(g, np.cos(X) * X + np.sin(X), rtol=1e-12)


def inner_bound_from_outer(x):
    for i in range(4):
        for j in range(i):
            x = np.sin(x) + 0.1 * j * x
    return np.sum(x)


def test_nested_loop_whose_bound_is_the_outer_variable():
    check(inner_bound_from_outer, RNG2.normal(size=3))


# --- while ------------------------------------------------------------------------------

def while_counter(x, n):
    k = 0
    while k < n:
        x = np.sin(x) + x
        k += 1
    return np.sum(x ** 2)


@pytest.mark.parametrize("n", [0, 1, 3])
def test_while_with_a_counter_parameter(n):
    check(while_counter, RNG2.normal(size=3), n)


def while_with_temporaries(x, n):
    k = 0
    while k < n:
        k = k + 1
        y = np.sqrt(1.0 + x ** 2)
        x = 0.7 * x + 0.3 * y * x
    return np.sum(x ** 2)


@pytest.mark.parametrize("n", [0, 2])
def test_while_whose_body_has_temporaries_runs_zero_or_more_times(n):
    x = RNG2.normal(size=3)
    g = check(while_with_temporaries, x, n)
    if n == 0:
        np.testing.assert_allclose(g, 2 * x, rtol=1e-12)


def while_on_data(x):
    while np.sum(x * x) < 10.0:
        x = x * 1.5
    return np.sum(np.sin(x))


def steps_while_on_data(x):
    """(iterations, the conditions' distances from 10.0) for while_on_data."""
    k, margins = 0, []
    while True:
        margins.append(abs(np.sum(x * x) - 10.0))
        if np.sum(x * x) >= 10.0:
            return k, min(margins)
        x, k = x * 1.5, k + 1


@pytest.mark.parametrize("x", [np.array([0.6, 0.8]), np.array([0.3, -0.45]), np.array([3.5, 1.0])],
                         ids=["3-steps", "5-steps", "0-steps"])
def test_while_on_data_closed_form(x):
    k, margin = steps_while_on_data(x)
    assert margin > 0.5
    g = check(while_on_data, x)
    np.testing.assert_allclose(g, 1.5 ** k * np.cos(1.5 ** k * x), rtol=1e-12)


def while_with_break(x):
    k = 0
    while True:
        x = np.tanh(x) + x * 0.9
        k = k + 1
        if np.max(x) > 2.0 or k >= 6:
            break
    return np.sum(x)


@pytest.mark.parametrize("x,steps", [(np.array([1.0, 0.2]), 2), (np.array([0.3, 0.2]), 4),
                                     (np.array([0.05, -0.3]), 6)])
def test_while_true_with_break(x, steps):
    y, margins = x.copy(), []
    for k in range(1, 7):
        y = np.tanh(y) + y * 0.9
        margins.append(abs(np.max(y) - 2.0))
        if np.max(y) > 2.0 or k >= 6:
            break
    assert k == steps and min(margins) > 0.05
    check(while_with_break, x)


# --- break, continue, return inside loops ---------------------------------------------------

def for_with_break(x):
    for i in range(10):
        x = x * 1.3 + 0.1
        if np.sum(x) > 3.0:
            break
    return np.sum(x ** 2)


@pytest.mark.parametrize("x", [np.array([0.5, 0.4]), np.array([1.6, 1.1]), np.array([-0.5, -0.6])],
                         ids=["breaks-late", "breaks-first", "never-breaks"])
def test_break(x):
    y, margins = x.copy(), []
    for i in range(10):
        y = y * 1.3 + 0.1
        margins.append(abs(np.sum(y) - 3.0))
        if np.sum(y) > 3.0:
            break
    assert min(margins) > 0.05
    check(for_with_break, x)


def for_with_continue(x, X):
    s = 0.0
    for i in range(6):
        if i % 2 == 0:
            continue
        s = s + np.sum(x ** i)
    for row in X:
        if np.sum(row) < 0:
            continue
        s = s + np.sum(row ** 2) * np.sum(x)
    return s


def test_continue():
    x = RNG2.normal(size=3)
    X = np.array([[1.0, 0.5], [-1.0, 0.2], [0.3, 0.4]])
    dx, dX = check(for_with_continue, x, X, wrt=(0, 1))
    np.testing.assert_array_equal(dX[1], 0.0)          # the skipped row gets nothing


def return_inside_loop(x):
    for i in range(10):
        x = np.sin(x) + x
        if np.max(x) > 2.0:
            return np.sum(x) * i
    return -np.sum(x)


@pytest.mark.parametrize("x", [np.array([0.5, 0.1]), np.array([0.02, -0.01])],
                         ids=["returns-in-loop", "falls-through"])
def test_return_inside_a_loop(x):
    y, margins = x.copy(), []
    for i in range(10):
        y = np.sin(y) + y
        margins.append(abs(np.max(y) - 2.0))
        if np.max(y) > 2.0:
            break
    assert min(margins) > 0.05
    check(return_inside_loop, x)


# --- accumulation, an RNN, loops that run zero times ---------------------------------------

def accumulated_loss(w, X, y):
    loss = 0.0
    for i in range(len(X)):
        loss = loss + (X[i] @ w - y[i]) ** 2
    return loss / len(X)


def test_accumulating_a_loss_in_a_loop():
    X, y, w = RNG2.normal(size=(6, 3)), RNG2.normal(size=6), RNG2.normal(size=3)
    g = srcgrad.grad(accumulated_loss)(w, X, y)
    np.testing.assert_allclose(g, 2 * X.T @ (X @ w - y) / 6, rtol=1e-10)


def rnn_20_steps(Wh, Wx, xs, ys):
    h = np.zeros(Wh.shape[0])
    loss = 0.0
    for t in range(20):
        h = np.tanh(Wh @ h + Wx @ xs[t])
        loss = loss + np.sum(h * ys[t])
    return loss + np.sum(h ** 2)


def test_rnn_over_20_steps():
    rng = np.random.default_rng(20)
    Wh = rng.normal(size=(4, 4)) * 0.4
    Wx = rng.normal(size=(4, 3)) * 0.5
    xs, ys = rng.normal(size=(20, 3)), rng.normal(size=(20, 4))
    check(rnn_20_steps, Wh, Wx, xs, ys, wrt=(0, 1))


def zero_iterations(x, n, X):
    s = np.sum(x ** 2)
    for i in range(n):
        s = s * np.sum(x)
    for row in X:
        s = s + np.sum(row * x)
    for v in []:
        s = s + v
    while n < 0:
        s = s * 2.0
    return s


def test_loops_that_run_zero_times():
    x = RNG2.normal(size=3)
    g = srcgrad.grad(zero_iterations)(x, 0, np.zeros((0, 3)))
    np.testing.assert_allclose(g, 2 * x, rtol=1e-12)
    check(zero_iterations, x, 2, RNG2.normal(size=(2, 3)))      # and the same loops running


# --- a list that grows, read by index: O(1) per read ------------------------------------------
def grown_and_read(W, U, h0, xs):
    hs = [h0]
    for t in range(len(xs)):
        hs.append(np.tanh(np.dot(W, hs[t]) + np.dot(U, xs[t])))
    loss = 0.0
    for t in range(1, len(hs)):
        loss = loss + np.sum(hs[t] * hs[-1]) + np.sum(hs[t - 1] ** 2)
    return loss + np.sum(np.stack(hs) ** 2)       # read whole as well


def test_a_growing_list_read_by_index_costs_one_element_per_read():
    rng = np.random.default_rng(11)
    W, U = rng.normal(size=(4, 4)) * 0.5, rng.normal(size=(4, 3))
    h0, xs = rng.normal(size=(4, 1)), [rng.normal(size=(3, 1)) for _ in range(5)]
    check(grown_and_read, W, U, h0, xs, wrt=(0, 1, 2))
    source = srcgrad.grad(grown_and_read, wrt=(0, 1, 2)).source
    loop = source[source.index("for t in range(len_xs)"):source.index("hs_now = ")]
    assert "list_snapshot" not in loop                 # no copy of the list per step
    assert "add_item(dhs" in source and "index_adjoint(dhs" not in source
    with pytest.raises(srcgrad.SrcgradError, match="list built in a loop"):
        srcgrad.jvp(grown_and_read, (W, U, h0, xs), (W, None, None, None))


def written_after_it_grew(x, n):
    L = []
    for t in range(n):
        L.append(x * (t + 1))
    for t in range(n):
        L[t][0] = np.sin(L[t][1])          # into an element: read, written, written back
        L[t] = L[t] * L[t - 1]
    return np.sum(L[n - 1] * L[0])


def literal_written_by_index(x, i, n):
    L = [x * 1.0, x * 2.0, x * 3.0]
    L[i][0] = 5.0                          # an index known only when the code runs
    for t in range(n):
        L[t % 3] = np.tanh(L[(t + 1) % 3] * x)
    return np.sum(L[0] * L[1] + L[2])


def another_name_for_a_written_list(x, n):
    L = [x, x * 2.0]
    M = L
    for t in range(n):
        L[t % 2] = L[t % 2] * x
    return np.sum(M[0])


def test_writes_into_lists_read_when_the_code_runs():
    x = np.array([0.3, 0.5, 0.7])
    check(written_after_it_grew, x, 3)
    check(literal_written_by_index, x, 1, 4)
    check(literal_written_by_index, x, 2, 0)
    with pytest.raises(srcgrad.SrcgradError, match="changes a list that `M` also refers to") as info:
        srcgrad.grad(another_name_for_a_written_list)(x, 2)
    assert "test_loops.py" in str(info.value)


def concatenated_after_the_loop(x, n):
    parts = []
    for t in range(n):
        parts.append(x * (t + 1))
    return np.sum(np.concatenate(parts) ** 2)


def test_a_list_built_in_a_loop_passed_to_concatenate():
    # (failed with "template name 'concatenate_list_adjoint' is neither a parameter nor known")
    check(concatenated_after_the_loop, np.array([0.3, 0.5]), 3)
