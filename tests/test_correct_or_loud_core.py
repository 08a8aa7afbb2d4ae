"""Issue "Correct or loud": constructs that gave silently wrong gradients in the core
(unpacking arrays into names, an alias of a parameter carried through a loop, writes
through repeated negative indices, writes in a loop while a view is alive).  Each loss is
written the way real code writes it; gradients are checked against finite differences in
reverse and forward mode, refusals against their text and line."""

import numpy as np
import pytest

import srcgrad
from srcgrad import UndefinedGradientError, UnsupportedSyntaxError
from support import check, check_jvp, line_of, note_location




# --- 1. unpacking an array into names -------------------------------------------------
def rosenbrock(theta):                       # 2-D test functions, scipy.optimize style
    a, b = theta
    return (1.0 - a) ** 2 + 100.0 * (b - a ** 2) ** 2


def product(theta):
    a, b = theta
    return a * b ** 2


def rows(M):
    r0, r1 = M
    return np.sum(r0 * r1 ** 2)


def lotka_volterra(params, z):               # ODE parameter fit: rows unpacked in a loop
    alpha, beta = params
    loss = 0.0
    for t in range(z.shape[0] - 1):
        prey, pred = z[t]
        growth = alpha * prey - beta * prey * pred
        loss = loss + (z[t + 1, 0] - prey - 0.1 * growth) ** 2
    return loss


def unpack_expression(x):
    a, b, c = x * 2.0 + 1.0                  # the value of an operation, unpacked
    return a * b - np.sin(c)


def unpack_method(x):
    w1, w2 = x.reshape(2, 3)                  # rows of a reshaped parameter vector
    return np.sum(w1 * np.tanh(w2))


def unpack_one_row_unused(theta):
    a, b, c = theta
    return a * c                              # b gets no gradient: a zero row


def unpack_a_copy_twice(x):
    t = x
    a, b = t
    u, v = a                                   # a row of a matrix, unpacked again
    return u * v + b[0]


def unpack_loose(s, M):
    r0, r1 = M + s                            # s is a scalar: its adjoint comes in full
    return np.sum(r0 ** 2 + 3.0 * r1)


def test_unpacking_gives_each_element_its_own_adjoint():
    np.testing.assert_allclose(srcgrad.grad(product)(np.array([2.0, 3.0])), [9.0, 12.0])
    check(rosenbrock, np.array([-1.2, 1.0]))
    check(product, np.array([2.0, 3.0]))


@pytest.mark.parametrize("func,args", [
    (rows, (np.arange(1.0, 7.0).reshape(2, 3),)),
    (lotka_volterra, (np.array([1.1, 0.4]), np.random.default_rng(0).uniform(0.5, 1.5, (6, 2)))),
    (unpack_expression, (np.array([0.3, -0.7, 1.1]),)),
    (unpack_method, (np.linspace(-1.0, 1.0, 6),)),
    (unpack_one_row_unused, (np.array([0.5, 2.0, -1.5]),)),
    (unpack_a_copy_twice, (np.array([[0.5, 2.0], [-1.5, 0.3]]),)),
])
def test_unpacking_rows_in_reverse_and_forward_mode(func, args):
    check(func, *args)
    check_jvp(func, *args)


def test_unpacking_in_a_loop_differentiates_every_row():
    z = np.random.default_rng(0).uniform(0.5, 1.5, (6, 2))
    check(lotka_volterra, np.array([1.1, 0.4]), z, wrt=(0, 1))


def test_unpacking_a_broadcast_sum_with_a_scalar_parameter():
    M = np.arange(6.0).reshape(2, 3)
    check(unpack_loose, 0.5, M, wrt=(0, 1))
    check_jvp(unpack_loose, 0.5, M)


def test_unpacking_reads_as_the_user_wrote_it():
    source = srcgrad.grad(product).source
    assert "a, b = theta" in source
    assert "dtheta = np.stack([b_sq, db])" in source


def test_unpacking_a_vector_of_the_wrong_length_fails_as_python_does():
    with pytest.raises(ValueError, match="too many values to unpack") as info:
        srcgrad.grad(product)(np.array([1.0, 2.0, 3.0]))
    assert type(info.value) is ValueError
    assert note_location(info.value) == (__file__, line_of(product, "a, b = theta"))


def unpack_runtime_list(x, n):
    xs = []
    for i in range(n):
        xs.append(x * i)
    a, b = xs
    return np.sum(a * b)


def test_unpacking_a_list_built_in_a_loop_is_refused_at_its_line():
    with pytest.raises(UnsupportedSyntaxError, match="unpacking a list built in a loop") as info:
        srcgrad.grad(unpack_runtime_list)(np.ones(3), 2)
    assert info.value.lineno == line_of(unpack_runtime_list, "a, b = xs")


# --- 4. a loop-carried variable that starts as an alias of a parameter ------------------
def alias_for(w):
    h = w
    for i in range(2):
        h = h * h
    return np.sum(h * w)


def alias_while(w):
    h = w
    i = 0
    while i < 2:
        h = h * h
        i += 1
    return np.sum(h * w)


def alias_nested(w, n):
    h = w
    for i in range(n):
        for j in range(2):
            h = np.tanh(h) * w
    return np.sum(h * w + h)


@pytest.mark.parametrize("func", [alias_for, alias_while])
def test_alias_of_a_parameter_carried_through_a_loop(func):
    w = np.array([1.1, 0.7])
    # closed form: h = w ** 4, loss = sum(w ** 5), gradient 5 w ** 4
    np.testing.assert_allclose(srcgrad.grad(func)(w), 5.0 * w ** 4, rtol=1e-12)
    check_jvp(func, w)


def test_alias_of_a_parameter_carried_through_nested_loops():
    check(alias_nested, np.array([0.3, -0.8, 1.2]), 3)
    check_jvp(alias_nested, np.array([0.3, -0.8, 1.2]), 3)


# --- 5. a write through a repeated index spelled with a negative index ------------------
def write_negative_repeat(v, x):
    t = x.copy()
    t[[0, -3]] = v
    return np.sum(t * np.array([1.0, 2.0, 3.0]))


def write_repeat_in_tuple(v, X):
    T = X.copy()
    T[[0, 1, -2], [1, 2, -1]] = v
    return np.sum(T ** 2)


def augmented_write_repeat_unused_value(c):     # the write's value is never needed
    v1 = c * np.var(c, axis=0)
    v1[[-2, -2, 1], -2:] -= np.mean(v1, axis=0)
    return 0.5 * v1.sum()


def test_a_repeated_write_is_refused_even_where_its_value_is_not_needed():
    c = np.array([[0.08], [-0.92]])
    with pytest.raises(UndefinedGradientError) as info:
        srcgrad.grad(augmented_write_repeat_unused_value)(c)
    assert info.value.lineno == line_of(augmented_write_repeat_unused_value, "v1[[-2, -2, 1]")


def loop_write_by_counter(x):                     # the common case: no check emitted
    out = np.zeros((3, 2))
    for i in range(3):
        out[i] = x * i
    return np.sum(out ** 2)


def test_writes_by_loop_counter_are_not_checked_for_repeats():
    assert "check_no_repeats" not in srcgrad.grad(loop_write_by_counter).source
    assert "check_no_repeats(t, [0, -3])" in srcgrad.grad(write_negative_repeat).source
    check(loop_write_by_counter, np.array([0.5, -1.5]))


def write_distinct_negative(v, x):
    t = x.copy()
    t[[0, -1]] = v
    return np.sum(t * np.array([1.0, 2.0, 3.0]))


@pytest.mark.parametrize("func,args,marker", [
    (write_negative_repeat, (np.array([1.0, 2.0]), np.zeros(3)), "t[[0, -3]] = v"),
    (write_repeat_in_tuple, (np.array([1.0, 2.0, 3.0]), np.zeros((3, 3))), "T[[0, 1, -2]"),
])
def test_write_through_a_repeated_negative_index_is_refused(func, args, marker):
    with pytest.raises(UndefinedGradientError, match="write through repeated indices") as info:
        srcgrad.grad(func)(*args)
    assert info.value.lineno == line_of(func, marker)
    with pytest.raises(UndefinedGradientError, match="write through repeated indices"):
        srcgrad.jvp(func, args, (np.ones_like(args[0]), None))


def test_write_through_distinct_negative_indices_is_differentiated():
    g = srcgrad.grad(write_distinct_negative)(np.array([1.0, 2.0]), np.zeros(3))
    np.testing.assert_allclose(g, [1.0, 3.0])
    check(write_distinct_negative, np.array([1.0, 2.0]), np.zeros(3), wrt=(0, 1))


# --- 6. a write inside a loop while a view of the array is alive ------------------------
def view_then_loop_write(v1):
    v1 = v1.copy()
    v2 = v1[0]
    for i in range(1):
        v1[0] = 0.0
    return np.sum(v2 ** 2)


def transpose_view_then_loop_write(v1):
    v1 = v1.copy()
    v2 = v1.T
    for i in range(2):
        v1[i] = v1[i] * 2.0
    return np.sum(v2 ** 2)


def reshape_view_then_loop_write(v1):
    v1 = v1.copy()
    v2 = v1.reshape(-1)
    for i in range(2):
        v1[i, 0] = 1.0
    return np.sum(v2 ** 2)


def view_read_in_the_next_iteration(x):
    y = x.copy()
    row = y[0]
    total = 0.0
    for i in range(3):
        total = total + np.sum(row)
        y[0] = y[0] * 2.0
    return total


def unpacked_rows_then_write(M):
    M = M.copy()
    a, b = M                                  # rows of M are views of it
    M[0] = 0.0
    return np.sum(a * b)


@pytest.mark.parametrize("func,marker", [
    (unpacked_rows_then_write, "M[0] = 0.0"),
    (view_then_loop_write, "v1[0] = 0.0"),
    (transpose_view_then_loop_write, "v1[i] = v1[i] * 2.0"),
    (reshape_view_then_loop_write, "v1[i, 0] = 1.0"),
    (view_read_in_the_next_iteration, "y[0] = y[0] * 2.0"),
])
def test_a_write_in_a_loop_while_a_view_is_alive_is_refused(func, marker):
    with pytest.raises(UnsupportedSyntaxError, match="also refers to") as info:
        srcgrad.grad(func)(np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert info.value.lineno == line_of(func, marker)


def fill_rows_in_a_loop(x):                 # views made afresh each iteration: fine
    H = np.zeros((4, 2))
    H[0] = x
    for t in range(3):
        h = H[t]
        H[t + 1] = np.tanh(h) + x
    return np.sum(H ** 2)


def test_writing_rows_in_a_loop_without_a_live_view_is_differentiated():
    check(fill_rows_in_a_loop, np.array([0.3, -0.4]))


# --- found by tests/random_dags.py ---------------------------------------------------------
def broadcast_shape_used_after_a_branch(n, c, x):
    v2 = np.linalg.norm(c, axis=-1, keepdims=True) - np.max(c, axis=1)
    if n:
        v2 = 0.5 * v2 + x[::2]
    return 0.5 * np.mean(v2)


@pytest.mark.parametrize("n", [0, 1])
def test_a_shape_computed_in_a_branch_is_not_read_after_it(n):
    c = np.array([[-1.09], [-0.78]])
    check(broadcast_shape_used_after_a_branch, n, c, np.ones(3), wrt=1)


# --- a list emptied by the loop that tests it -------------------------------------------
def popped_while_not_empty(x):
    xs = []
    for i in range(3):
        xs.append(x * (i + 1.0))
    total = 0.0
    while xs:                       # the tape keeps the truth of `xs`, not the list
        v = xs.pop()
        total = total + np.sum(v * v)
    return total


def test_while_a_list_is_not_empty():
    x = np.array([0.3, -0.2])
    np.testing.assert_allclose(srcgrad.grad(popped_while_not_empty)(x), 2 * x * (1 + 4 + 9))
    check(popped_while_not_empty, x)
