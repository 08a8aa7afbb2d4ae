"""srcgrad.jvp: forward mode by source transformation, for every construct family.

Each function is checked against central finite differences along a random direction
(tests/support.py), with every float argument carrying a tangent and with each alone; then
what the generated source says, and the errors.
"""
import inspect
import os

import numpy as np
import pytest
from support import check_jvp, note_location, numerical_jvp, srcgrad_note

import srcgrad
import usercode_helpers as hm
from srcgrad import SrcgradError

RNG = np.random.default_rng(23)
HERE = os.path.basename(__file__)


def code(source):
    """The generated statements: no signature, docstring or comments."""
    body = source.split('"""')[2]
    return [line.strip() for line in body.splitlines()
            if line.strip() and not line.strip().startswith("#")]


# --- output shapes ------------------------------------------------------------------------
def scalar_out(x):
    return np.sum(np.tanh(x) ** 2)


def vector_out(x, W):
    return np.tanh(W @ x)


def matrix_out(X, W, b):
    return np.maximum(X @ W + b, 0.1 * (X @ W + b))


def tuple_out(x, W):
    h = W @ x
    return h, np.sum(h ** 2), 3.0


@pytest.mark.parametrize("f,args", [
    (scalar_out, (RNG.normal(size=5),)),
    (scalar_out, (0.7,)),
    (vector_out, (RNG.normal(size=3), RNG.normal(size=(4, 3)))),
    (matrix_out, (RNG.normal(size=(5, 3)), RNG.normal(size=(3, 2)), RNG.normal(size=2))),
    (tuple_out, (RNG.normal(size=3), RNG.normal(size=(2, 3)))),
], ids=["scalar", "python-float", "vector", "matrix", "tuple"])
def test_output_shapes(f, args):
    check_jvp(f, *args)


def test_values_and_closed_forms():
    x, v = RNG.normal(size=4), RNG.normal(size=4)
    value, tangent = srcgrad.jvp(scalar_out, (x,), (v,))
    t = np.tanh(x)
    assert value == pytest.approx(np.sum(t ** 2), rel=1e-14)
    assert tangent == pytest.approx(np.sum(2 * t * (1 - t * t) * v), rel=1e-12)
    out, t_out = srcgrad.jvp(tuple_out, (x[:3], np.eye(3)), (v[:3], None))
    assert isinstance(out, tuple) and isinstance(t_out, tuple) and t_out[2] == 0.0
    np.testing.assert_allclose(t_out[0], v[:3])
    assert t_out[1] == pytest.approx(2 * x[:3] @ v[:3])


def test_python_float_in_and_out_and_float32():
    value, tangent = srcgrad.jvp(lambda_free_square, (1.5,), (2.0,))
    assert value == 2.25 and tangent == 6.0
    x32 = np.linspace(-1, 1, 4, dtype=np.float32)
    value, tangent = srcgrad.jvp(vector_out, (x32, np.eye(4, dtype=np.float32)), (x32, None))
    assert tangent.dtype == np.float32
    np.testing.assert_allclose(tangent, (1 - np.tanh(x32) ** 2) * x32, rtol=1e-6)


def lambda_free_square(x):
    return x * x


# --- which arguments carry a tangent ---------------------------------------------------------
def mixed(x, n, flag, scale):
    s = 0.0
    for i in range(n):
        s = s + x[i] * scale if flag else s - x[i]
    return s


def test_tangents_of_ints_bools_and_none_are_ignored():
    x = RNG.normal(size=5)
    v = RNG.normal(size=5)
    value, tangent = srcgrad.jvp(mixed, (x, 3, True, 2.0), (v, 1, 1, None))
    assert value == pytest.approx(mixed(x, 3, True, 2.0))
    assert tangent == pytest.approx(2.0 * np.sum(v[:3]))
    _, tangent = srcgrad.jvp(mixed, (x, 3, True, 2.0), (v, None, None, 1.0))
    assert tangent == pytest.approx(2.0 * np.sum(v[:3]) + np.sum(x[:3]))
    # an int array argument: its tangent is ignored too
    _, tangent = srcgrad.jvp(vector_out, (np.arange(3), np.eye(3)), (np.ones(3), np.eye(3)))
    np.testing.assert_allclose(tangent, (1 - np.tanh(np.arange(3.0)) ** 2) * np.arange(3.0))


def test_no_argument_with_a_tangent_gives_zeros():
    value, tangent = srcgrad.jvp(vector_out, (np.arange(3), np.eye(3, dtype=int)), (None, None))
    np.testing.assert_array_equal(tangent, np.zeros(3))
    assert np.shape(tangent) == np.shape(value)


# --- branches ---------------------------------------------------------------------------------
def branches(x, y):
    if np.sum(x) > 0:
        z = x * 2.0
    elif np.sum(y) > 1:
        z = np.sin(y) * x
    else:
        z = y                      # no tangent along x on this path: zeros of y's shape
    w = z if z[0] > 0 else -z
    return np.sum(w * w) + (np.max(x) > 0 and 1.0 or 2.0)


@pytest.mark.parametrize("shift", [2.0, -2.0, -0.5])
def test_branches(shift):
    x, y = RNG.normal(size=3) + shift, RNG.normal(size=3) + (2.0 if shift == -0.5 else 0.0)
    check_jvp(branches, x, y)


def early_return(x, k):
    if k > 0:
        return np.sum(x ** 3)
    y = np.exp(x)
    if np.sum(y) > 3:
        return np.sum(y)
    return np.prod(x)


@pytest.mark.parametrize("k,shift", [(1, 0.0), (0, 1.0), (0, -1.0)])
def test_early_returns(k, shift):
    check_jvp(early_return, RNG.normal(size=3) + shift, k)


def test_branch_merging_a_value_without_a_tangent_materializes_zeros_only_there():
    source = srcgrad.jvp_function(branches, wrt=0).source
    assert "t_z = np.zeros_like(y)" in code(source)        # the path where z is y
    assert sum("zeros_like" in line for line in code(source)) == 1


# --- loops ------------------------------------------------------------------------------------
def power(x, n):
    y = x
    for i in range(n):
        y = y * x
    return y


def rnn(Wh, Wx, xs, h0):
    h = h0
    loss = 0.0
    for t in range(len(xs)):
        h = np.tanh(Wh @ h + Wx @ xs[t])
        loss = loss + np.sum(h * h)
    return loss, h


def newton_sqrt(a):
    x = a
    for i in range(50):
        x_new = 0.5 * (x + a / x)
        if np.max(np.abs(x_new - x)) < 1e-12:
            break
        x = x_new
    return x


def skip_negatives(xs):
    total = 0.0
    for v in xs:
        if v < 0:
            continue
        total = total + v ** 2
    return total


def while_loop(x, c):
    i = 0
    while np.sum(x) < c and i < 100:
        x = x * 1.5 + 0.1
        i += 1
    return x


def nested(A, x):
    out = np.zeros(len(x))
    for i in range(A.shape[0]):
        acc = 0.0
        for j in range(A.shape[1]):
            if j > i:
                break
            acc = acc + A[i, j] * np.cos(x[j])
        out[i] = acc
    return out


def iterate_rows(X, w):
    total = 0.0
    for i, row in enumerate(X):
        total = total + np.tanh(row @ w) * (i + 1)
    for a, b in zip(X[0], w):
        total = total + a * b
    return total


def return_in_loop(x):
    for i in range(10):
        x = x * 1.1
        if np.sum(x) > 5:
            return x * 2.0
    return x


@pytest.mark.parametrize("n", [0, 1, 4])
def test_for_range(n):
    check_jvp(power, RNG.uniform(0.5, 1.5, size=3), n)


def test_rnn_loop_with_tuple_result():
    Wh, Wx = RNG.normal(size=(4, 4)) * 0.5, RNG.normal(size=(4, 3))
    check_jvp(rnn, Wh, Wx, RNG.normal(size=(6, 3)), RNG.normal(size=4))


def test_loop_with_break_converges():
    a = RNG.uniform(1, 4, size=3)
    _, tangent = srcgrad.jvp(newton_sqrt, (a,), (np.ones(3),))
    np.testing.assert_allclose(tangent, 0.5 / np.sqrt(a), rtol=1e-10)


def test_continue_and_loop_over_an_array():
    check_jvp(skip_negatives, RNG.normal(size=7))


@pytest.mark.parametrize("c", [-10.0, 3.0, 50.0])
def test_while(c):
    check_jvp(while_loop, np.array([0.3, 0.2]), c)


def test_nested_loops_break_and_writes():
    check_jvp(nested, RNG.normal(size=(4, 4)), RNG.normal(size=4))


def test_enumerate_and_zip():
    check_jvp(iterate_rows, RNG.normal(size=(3, 4)), RNG.normal(size=4))


@pytest.mark.parametrize("start", [0.1, 2.0])
def test_return_inside_a_loop(start):
    check_jvp(return_in_loop, np.full(3, start))


def test_loop_has_no_tape_and_no_broadcasts():
    source = srcgrad.jvp_function(rnn, wrt=(0, 1)).source
    assert "tape" not in source and "broadcast_to" not in source and "n_iterations" not in source
    assert "t_h_3 = (t_Wh @ h_2 + Wh @ t_h_2 + t_Wx @ xs_item) * (1.0 - h_3 * h_3)" in code(source)


# --- calls, containers, indexing --------------------------------------------------------------
def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def layer(x, W, b, act=np.tanh):
    return act(x @ W + b)


def with_helpers(x, params):
    h = layer(x, params["W"], params["b"])
    h2 = layer(h, params["W"].T, b=0.0, act=np.sin)
    a, b = hm.pair(h2)
    square = lambda v: v * v        # noqa: E731
    return sigmoid(square(a) + b) + hm.scaled_square(x, power=3)


def test_helpers_inlined_and_static_containers():
    x, W, b = RNG.normal(size=(2, 3)), RNG.normal(size=(3, 3)), RNG.normal(size=3)

    def f(x, W, b):
        return with_helpers(x, {"W": W, "b": b})
    check_jvp(f, x, W, b)
    assert "sigmoid(" not in "\n".join(code(srcgrad.jvp_function(f).source))


def lists_and_tuples(a, b):
    xs = [a, b * 2.0]
    total = 0.0
    for v in xs:                    # a list known when the code is read: unrolled
        total = total + np.sum(v ** 2)
    pair = (xs[0], xs[-1])
    return total + np.sum(np.stack(pair)), len(xs)


def test_lists_and_tuples():
    check_jvp(lists_and_tuples, RNG.normal(size=3), RNG.normal(size=3))


def indexing(x, idx):
    y = np.zeros(4)
    for i in range(4):
        y[i] = x[idx[i]] ** 2        # filling an array in a loop
    y[1:3] += x[:2]
    z = x[x > 0]
    return y, np.sum(z) * x[-1]


def test_indexing_reads_and_writes():
    check_jvp(indexing, RNG.normal(size=5), np.array([4, 0, 2, 2]))


# --- jvp of a gradient: Hessian-vector products ----------------------------------------------
def loss(w, X, y):
    r = X @ w - y
    return np.mean(np.tanh(r) ** 2) + 0.1 * np.sum(w ** 4)


def test_jvp_of_grad_is_a_hessian_vector_product():
    X, y, w, v = RNG.normal(size=(6, 3)), RNG.normal(size=6), RNG.normal(size=3), RNG.normal(size=3)
    grad = srcgrad.grad(loss)
    value, hv = srcgrad.jvp(grad, (w, X, y), (v, None, None))
    np.testing.assert_allclose(value, grad(w, X, y), rtol=1e-12)
    np.testing.assert_allclose(hv, numerical_jvp(grad, (w, X, y), (v, None, None)), rtol=1e-6)
    # along the data too: the mixed second derivative
    check_jvp(srcgrad.grad(loss), w, X, y, rtol=1e-5)


def test_jvp_of_value_and_grad_with_two_wrt():
    X, y, w = RNG.normal(size=(5, 3)), RNG.normal(size=5), RNG.normal(size=3)

    def f(w, b, X, y):
        return np.sum(np.abs(X @ w + b - y) ** 2.5)
    check_jvp(srcgrad.value_and_grad(f, wrt=(0, 1)), w, 0.3, X, y)


def test_jvp_of_gradient_through_branches_and_helpers():
    def f(x, W):
        h = layer(x, W, 0.5)
        if np.sum(h) > 0:
            return np.sum(sigmoid(h) * x[0])
        return np.sum(np.maximum(h, 0.0) ** 2)
    for shift in (3.0, -3.0):
        check_jvp(srcgrad.grad(f, wrt=(0, 1)), RNG.normal(size=(2, 3)) + shift, RNG.normal(size=(3, 3)))


def rnn_loss(Wh, Wx, xs, h0):
    return rnn(Wh, Wx, xs, h0)[0]


def loops_for_hessians(x, A, n):
    s = 0.0
    for i in range(n):                          # a tape of this loop...
        if i % 2 == 0:
            s = s + np.sin(x[i % 3]) * x[(i + 1) % 3]
        else:
            s = s * 0.9
            if s > 5.0:
                break
    y = x
    k = 0
    while np.sum(y ** 2) < 10.0 and k < 20:    # ... and of this one, on the same list
        y = A @ np.tanh(y) + 0.5 * y
        k += 1
    return s + np.sum(y * y)


def test_jvp_of_grad_through_loops_replays_the_tape_with_a_tangent_tape():
    Wh, Wx = RNG.normal(size=(4, 4)) * 0.5, RNG.normal(size=(4, 3))
    xs, h0 = RNG.normal(size=(5, 3)), RNG.normal(size=4)
    for wrt in (0, (0, 1)):
        check_jvp(srcgrad.grad(rnn_loss, wrt=wrt), Wh, Wx, xs, h0, rtol=1e-5)
    grad = srcgrad.grad(loops_for_hessians, wrt=(0, 1))
    for n in (0, 3, 8):
        check_jvp(grad, RNG.normal(size=3), RNG.normal(size=(3, 3)), n, rtol=1e-5)
    source = srcgrad.jvp_function(grad, wrt=0).source
    assert "t_tape = []" in source and "tape_pop(t_tape" in source


def test_jvp_of_grad_of_data_pushed_without_a_tangent():
    """The tape holds values without a tangent (the data `xs[t]`): their tangents come off
    the tangent tape as 0.0 and are broadcast where a rule needs a full one."""
    def f(w, xs):
        total = 0.0
        for t in range(len(xs)):
            total = total + np.sum(np.tanh(xs[t] * w) * xs[t])
        return total
    check_jvp(srcgrad.grad(f, wrt=(0, 1)), RNG.normal(size=3), RNG.normal(size=(4, 3)), rtol=1e-5)


def stack_user(x):
    stack = []
    for i in range(3):
        stack.append(x * (i + 1.0))
    a = stack.pop()
    b = stack.pop()
    return a * b


def test_a_stack_in_user_code():
    check_jvp(stack_user, RNG.normal(size=3))


def test_jvp_of_a_jvp_function_is_a_second_directional_derivative():
    def f(x):
        return np.sum(np.sin(x) * x ** 2)
    x, v, w = RNG.normal(size=3), RNG.normal(size=3), RNG.normal(size=3)
    (_, first), (_, second) = srcgrad.jvp(srcgrad.jvp_function(f), (x, v), (w, np.zeros(3)))
    hessian = np.diag(2 * np.sin(x) + 4 * x * np.cos(x) - x ** 2 * np.sin(x))
    assert second == pytest.approx(v @ hessian @ w, rel=1e-10)


# --- custom rules -----------------------------------------------------------------------------
@srcgrad.custom_vjp
def softplus(x):
    return np.log1p(np.exp(x))


@softplus.defjvp
def softplus_jvp(t, ans, x):
    return t / (1.0 + np.exp(-x))


def scaled(x, k):
    return x * k


srcgrad.register_jvp(scaled, lambda tangents, ans, x, k: tangents[0] * k + x * tangents[1])


def with_custom_rules(x, k):
    return np.sum(softplus(x) * scaled(x, k))


def test_custom_forward_rules_are_called_and_shown():
    check_jvp(with_custom_rules, RNG.normal(size=4), 2.0)
    source = srcgrad.jvp_function(with_custom_rules, wrt=(0, 1)).source
    lines = [line.strip() for line in source.splitlines()]
    at = lines.index("t_softplus_x = softplus_jvp(t_x, softplus_x, x)")
    assert lines[at - 1] == "# custom forward rule of softplus: softplus_jvp"
    at = lines.index("t_scaled_x = jvp_rule((t_x, t_k), scaled_x, x, k)")
    assert lines[at - 1] == "# custom forward rule of scaled: a lambda"
    # a function with a rule is called, not inlined
    assert "scaled_x = scaled(x, k)" in lines
    # an argument without a tangent gets 0.0
    source = srcgrad.jvp_function(with_custom_rules, wrt=0).source
    assert "t_scaled_x = jvp_rule((t_x, 0.0), scaled_x, x, k)" in source


def test_a_value_with_a_tangent_passed_by_keyword_to_a_custom_rule_is_refused():
    def f(x):
        return np.sum(softplus(x=x))
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match="keyword argument `x=`"):
        srcgrad.jvp(f, (np.ones(2),), (np.ones(2),))


@srcgrad.custom_vjp
def doubled(x):
    return x * 2.0


@doubled.defvjp
def doubled_vjp(g, ans, x):
    return 2.0 * g


def uses_doubled(x):
    return np.sum(doubled(x))


def test_custom_vjp_without_forward_rule_is_an_error_with_a_hint():
    with pytest.raises(srcgrad.NoDerivativeRuleError) as info:
        srcgrad.jvp(uses_doubled, (np.ones(3),), (np.ones(3),))
    error = info.value
    assert error.filename.endswith(HERE)
    assert error.lineno == inspect.getsourcelines(uses_doubled)[1] + 1
    assert "`doubled` has a custom reverse rule but no forward rule" in str(error)
    assert "@doubled.defjvp" in error.hint
    # without a tangent reaching it, it is just called
    assert srcgrad.jvp(uses_doubled, (np.arange(3),), (None,))[0] == 6


# --- the generated source --------------------------------------------------------------------
def test_source_of_an_elementwise_chain():
    assert code(srcgrad.jvp_function(scalar_out).source) == [
        "tanh_x = np.tanh(x)",
        "scalar_out = np.sum(tanh_x ** 2)",
        "t_scalar_out = np.sum(t_x * (1.0 - tanh_x * tanh_x) * 2.0 * tanh_x)",
        "return scalar_out, t_scalar_out"]


def mlp(W1, b1, W2, b2, X):
    h = np.tanh(X @ W1 + b1)
    return h @ W2 + b2


def test_source_of_an_mlp_reads_like_hand_written_tangents():
    source = srcgrad.jvp_function(mlp, wrt=(0, 1, 2, 3)).source
    assert code(source) == [
        "h = np.tanh(X @ W1 + b1)",
        "t_h = (X @ t_W1 + t_b1) * (1.0 - h * h)",
        "mlp = h @ W2 + b2",
        "t_mlp = t_h @ W2 + h @ t_W2 + t_b2",
        "return mlp, t_mlp"]
    assert source.startswith("def jvp_mlp(W1, b1, W2, b2, X, t_W1, t_b1, t_W2, t_b2):")
    first = inspect.getsourcelines(mlp)[1]
    comments = [line.strip() for line in source.splitlines() if line.strip().startswith("#")]
    assert comments == [f"# {HERE}:{first + 1}  h = np.tanh(X @ W1 + b1)",
                        f"# {HERE}:{first + 2}  return h @ W2 + b2"]


def test_arguments_without_tangents_leave_no_terms():
    source = srcgrad.jvp_function(mlp, wrt=1).source      # only b1
    assert code(source)[1] == "t_h = t_b1 * (1.0 - h * h)"
    assert code(source)[3] == "t_mlp = t_h @ W2"
    for text in ("0 *", "* 0", "zeros", "0.0 +"):
        assert text not in source


def test_loose_tangent_broadcast_only_where_a_rule_needs_the_full_shape():
    def f(b, X):
        z = X + b                   # t_z is t_b: a row that stands for every row of z
        return np.sum(z, axis=0), np.tanh(z)
    source = srcgrad.jvp_function(f).source
    assert "np.sum(np.broadcast_to(t_b, np.shape(z)), axis=0)" in source
    assert "t_b * (1.0 - tanh_z * tanh_z)" in source
    check_jvp(f, RNG.normal(size=3), RNG.normal(size=(4, 3)))


def test_defaults_keyword_only_tangents_and_star_args():
    def f(x, scale=2.0, *rest, power=2):
        return np.sum(x ** power) * scale
    fj = srcgrad.jvp_function(f)
    assert fj.source.startswith("def jvp_f(x, scale=2.0, *rest, power=2, t_x):")
    assert fj((np.ones(3),), np.ones(3)) == (6.0, 12.0)


def test_cached_per_function_and_arguments():
    fj = srcgrad.jvp_function(mlp, wrt=(0, 2))
    assert fj._transform() is srcgrad.jvp_function(mlp, wrt=("W1", "W2"))._transform()
    assert fj._transform() is not srcgrad.jvp_function(mlp, wrt=0)._transform()
    assert repr(fj) == "<srcgrad.jvp_function of mlp along W1, W2>"


def test_decorator_forms():
    @srcgrad.jvp_function
    def f(x):
        return np.sin(x)

    @srcgrad.jvp_function(wrt="y")
    def g(x, y):
        return x * y
    assert f((0.0,), 1.0) == (0.0, 1.0)
    assert g((3.0, 2.0), 1.0) == (6.0, 3.0)


# --- errors -----------------------------------------------------------------------------------
def test_tangent_checks_before_running():
    x = np.ones(3)
    with pytest.raises(SrcgradError, match=r"the tangent of `x` in jvp of scalar_out has shape "
                                           r"\(4,\), but `x` has shape \(3,\)"):
        srcgrad.jvp(scalar_out, (x,), (np.ones(4),))
    with pytest.raises(SrcgradError, match="the tangent of `x` in jvp of scalar_out is int64, "
                                           "not a float or a float array"):
        srcgrad.jvp(scalar_out, (x,), (np.ones(3, dtype=np.int64),))
    with pytest.raises(SrcgradError, match="is int, not a float"):
        srcgrad.jvp(scalar_out, (1.5,), (1,))
    with pytest.raises(SrcgradError, match=r"jvp needs one tangent per argument: 1 argument\(s\), "
                                           r"2 tangent\(s\)"):
        srcgrad.jvp(scalar_out, (x,), (x, x))
    with pytest.raises(SrcgradError, match="`n` is int 3, not a float or a float array"):
        srcgrad.jvp_function(power, wrt=1)((x, 3), 1.0)
    with pytest.raises(SrcgradError, match="complex"):
        srcgrad.jvp(scalar_out, (x + 1j,), (x,))
    with pytest.raises(SrcgradError, match="argument 0 is a dict; srcgrad's jvp takes tangents "
                                           "of arrays and floats, not of containers"):
        srcgrad.jvp(scalar_out, ({"w": x},), ({"w": x},))


def with_try(x):
    try:
        y = np.log(x)
    except ValueError:
        y = x
    return y


def sorts(x):
    return np.unwrap(x) * 2.0


def test_unsupported_constructs_and_functions_name_file_line_and_construct():
    with pytest.raises(srcgrad.UnsupportedSyntaxError) as info:
        srcgrad.jvp(with_try, (np.ones(2),), (np.ones(2),))
    assert info.value.construct == "`try` statement"
    assert info.value.lineno == inspect.getsourcelines(with_try)[1] + 1
    assert info.value.filename.endswith(HERE)
    with pytest.raises(srcgrad.NoDerivativeRuleError) as info:
        srcgrad.jvp(sorts, (np.ones(2),), (np.ones(2),))
    assert info.value.construct == "np.unwrap"
    assert info.value.lineno == inspect.getsourcelines(sorts)[1] + 1


def test_runtime_error_names_the_users_line():
    def f(a, b):
        c = a @ b
        return c
    with pytest.raises(ValueError, match="matmul") as info:     # NumPy's error, noted
        srcgrad.jvp(f, (np.ones((2, 3)), np.ones((2, 3))), (np.ones((2, 3)), None))
    assert note_location(info.value) == (__file__, inspect.getsourcelines(f)[1] + 1)
    assert "while computing the JVP of f" in srcgrad_note(info.value)


def _appends_in_a_loop(x):
    hs = []
    for i in range(3):
        hs.append(np.sin(x * i))
    return np.sum(np.stack(hs))


def test_forward_mode_refuses_lists_built_in_loops_loudly():
    # reverse mode differentiates them; forward mode must not return a zero tangent
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match="list built in a loop") as info:
        srcgrad.jvp(_appends_in_a_loop, (np.ones(2),), (np.ones(2),))
    assert info.value.lineno == _appends_in_a_loop.__code__.co_firstlineno + 3
