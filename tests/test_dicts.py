"""Dicts filled item by item inside the differentiated function (`hs = {}; hs[t] = ...`),
as real scripts keep their state: keys known only when the code runs, reads of earlier
entries, overwrites, nested writes into the arrays they hold, and what is refused."""
import numpy as np
import pytest

import srcgrad
from support import check, check_jvp, line_of, note_location

rng = np.random.default_rng(7)


# --- the classic character-level RNN loss, verbatim -----------------------------------------
hidden_size, vocab_size = 6, 5


def lossFun(inputs, targets, hprev, Wxh, Whh, Why, bh, by):
    xs, hs, ys, ps = {}, {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0
    # forward pass
    for t in range(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))  # encode in 1-of-k representation
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)  # hidden state
        ys[t] = np.dot(Why, hs[t]) + by  # unnormalized log probabilities for next chars
        ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))  # probabilities for next chars
        loss += -np.log(ps[t][targets[t], 0])  # softmax (cross-entropy loss)
    return loss


def rnn_arguments(length=7):
    inputs = list(rng.integers(0, vocab_size, size=length))
    targets = list(rng.integers(0, vocab_size, size=length))
    return (inputs, targets, rng.normal(size=(hidden_size, 1)) * 0.1,
            rng.normal(size=(hidden_size, vocab_size)) * 0.3,
            rng.normal(size=(hidden_size, hidden_size)) * 0.3,
            rng.normal(size=(vocab_size, hidden_size)) * 0.3,
            rng.normal(size=(hidden_size, 1)) * 0.1, rng.normal(size=(vocab_size, 1)) * 0.1)


def test_the_char_rnn_loss_verbatim():
    args = rnn_arguments()
    check(lossFun, *args, wrt=(2, 3, 4, 5, 6, 7))
    check_jvp(lossFun, *args, each=False)


def test_the_char_rnn_loss_over_one_character_and_none():
    check(lossFun, *rnn_arguments(1), wrt=(2, 3, 4, 5, 6, 7))
    args = rnn_arguments(0)                 # no characters: loss 0, gradients zero
    grads = srcgrad.grad(lossFun, wrt=(3, 4))(*args)
    assert [g.shape for g in grads] == [args[3].shape, args[4].shape]
    assert not any(np.any(g) for g in grads)


def test_a_dict_adjoint_costs_the_same_per_step():
    # reads and writes of the dict are O(1) in the backward pass: no adjoint of the whole
    # dict is built per step (the source has no list or array of all entries)
    source = srcgrad.grad(lossFun, wrt=(3, 4)).source
    assert "dict_set(hs" in source and "add_at(dhs" in source and "pop_adjoint(dhs" in source
    assert "index_adjoint(dhs" not in source and "list(" not in source


# --- keys known only when the code runs ---------------------------------------------------
def running_states(x, w, n):
    h = {}
    h[0] = x
    for t in range(1, n):
        h[t] = np.sin(h[t - 1] * w) + h[t // 2]     # reads earlier entries, some twice
    return np.sum(h[n - 1] ** 2)


def named_parts(x, names):
    parts = {}
    for i in range(len(names)):
        parts[names[i]] = x * (i + 1)
    total = 0.0
    for name in names:
        total = total + np.sum(np.tanh(parts[name]))
    return total


def overwritten(x, n):
    d = {"acc": x}
    for t in range(n):
        d["acc"] = d["acc"] * x + 1.0            # each write replaces what later reads see
        d[t] = d["acc"]
    return np.sum(d["acc"]) + np.sum(d[0] * d[n - 1])


def augmented(x, y, n):
    d = {}
    for t in range(n):
        d[t % 2] = x * t
        d[t % 2] += y * d[t % 2]
    return np.sum(d[0]) + np.sum(d[1] ** 2)


def in_branches(x, n):
    d = {}
    for t in range(n):
        if t % 3 == 0:
            d[t] = np.exp(x * 0.1 * t)
        else:
            d[t] = x * t
        if np.sum(d[t]) > 0.0:                    # on the data
            d[t] = d[t] * 2.0
    total = 0.0
    for t in range(n):
        total = total + np.sum(d[t])
    return total


def in_a_while_loop(x):
    d = {0: x}
    t = 0
    while t < 4:
        d[t + 1] = np.cos(d[t]) * x
        t += 1
    return np.sum(d[4])


def walked(x, n):
    d = {}
    for t in range(n):
        d[t] = np.sin(x * (t + 1))
    total = 0.0
    for v in d.values():
        total = total + np.sum(v ** 2)
    for k, v in d.items():
        total = total + k * np.sum(v)
    for k in d:
        if k == 1:
            break                       # a loop that stops early: not unrolled, by index
        total = total + np.sum(d[k] * x)
    return total


def comprehended(x, n):
    d = {}
    for t in range(n):
        d[t] = np.sin(x * (t + 1))
    return sum(np.sum(v ** 2) for v in d.values()) + np.sum(np.stack([d[k] for k in d]))


def test_a_dict_walked_by_comprehensions():
    check(comprehended, rng.normal(size=3), 4)        # (forward mode: lists built in loops, no)


def literal_walked_with_a_break(a, b):
    d = {3: a, 1: b}
    total = 0.0
    for k in d:                         # keys, in insertion order, as Python walks them
        total = total + k * np.sum(d[k])
        if np.sum(d[k]) > 100.0:
            break
    return total


@pytest.mark.parametrize("f, args", [
    (walked, (rng.normal(size=3), 4)),
    (literal_walked_with_a_break, (rng.normal(size=2), rng.normal(size=2))),
    (running_states, (rng.normal(size=3), 0.7, 6)),
    (named_parts, (rng.normal(size=(2, 3)), ["a", "bb", "c"])),
    (overwritten, (rng.uniform(0.1, 0.9, size=3), 4)),
    (augmented, (rng.normal(size=3), rng.normal(size=3), 5)),
    (in_branches, (rng.normal(size=3), 7)),
    (in_a_while_loop, (rng.normal(size=2),)),
], ids=lambda v: getattr(v, "__name__", ""))
def test_dicts_with_keys_known_when_the_code_runs(f, args):
    floats = tuple(i for i, a in enumerate(args) if isinstance(a, (float, np.ndarray)))
    check(f, *args, wrt=floats)
    check_jvp(f, *args)


# --- writes at keys known when the code is read ---------------------------------------------
def written_at_constant_keys(x):
    d = {}
    d["a"] = x * 2
    d["b"] = d["a"] + 1
    d["a"] = np.tanh(d["b"])
    return np.sum(d["a"] * d["b"])


def test_writes_at_constant_keys_are_read_when_the_code_is_read():
    check(written_at_constant_keys, rng.normal(size=3))
    check_jvp(written_at_constant_keys, rng.normal(size=3))
    source = srcgrad.grad(written_at_constant_keys).source
    assert "dict_set" not in source and "at_key" not in source   # plain names, as if unrolled


def into_arrays_held(x, v):
    d = {"W": np.zeros((2, 3)), "b": x * 1.0}
    d["W"][0] = v                             # nested writes into the arrays a dict holds
    d["W"][1, 2] = np.sum(x)
    d["b"][1] += v[0]
    L = [x * 1.0, x * 2.0]
    L[1][0] = v[2]
    return np.sum(d["W"] ** 2) + np.sum(d["b"] * L[1]) + np.sum(L[0])


def into_arrays_in_a_loop(x, n):
    xs = {}
    for t in range(n):
        xs[t] = x * t
        xs[t][t % 3] = np.sin(x[0])
    return np.sum(xs[n - 1] * xs[1])


def test_nested_writes_into_arrays_held_in_dicts_and_lists():
    check(into_arrays_held, rng.normal(size=3), rng.normal(size=3), wrt=(0, 1))
    check_jvp(into_arrays_held, rng.normal(size=3), rng.normal(size=3))
    check(into_arrays_in_a_loop, rng.normal(size=3), 4)
    check_jvp(into_arrays_in_a_loop, rng.normal(size=3), 4)


def read_by_a_helper(d, t):
    return d[t] * d[t - 1]


def passed_to_a_helper(x, n):
    d = {-1: x}
    for t in range(n):
        d[t] = np.tanh(d[t - 1])
    return np.sum(read_by_a_helper(d, n - 1))


def test_a_dict_passed_to_a_helper_that_reads_it():
    check(passed_to_a_helper, rng.normal(size=3), 3)


# --- refused, at the user's line ------------------------------------------------------------
def used_whole(x):
    d = {}
    d[0] = x
    return np.sum(d)


def another_name_read_after_a_write(x, n):
    d = {0: x}
    a = d
    for t in range(n):
        d[t + 1] = d[t] * x
    return np.sum(a[n])


def another_name_read_at_a_constant_key(x, n):
    d = {0: x}
    a = d
    for t in range(n):
        d[0] = d[0] * x                 # a[0] is this new value in Python
    return np.sum(a[0])


def array_read_after_a_write_through_the_dict(x, n):
    d = {}
    for t in range(n):
        h = x * t
        d[t] = h
        d[t][0] = 1.0
        x = h + x
    return np.sum(x)


def written_by_a_helper(d, t, x):
    d[t] = x
    return t


def helper_writes_the_dict(x):
    d = {0: x}
    _ = written_by_a_helper(d, 1, x * 2)
    return np.sum(d[0] * d[1])


def into_a_tuple(x):
    t = (x, x * 2.0)
    t[0] = x * 3.0
    return np.sum(t[0])


def dict_in_a_dict(x, n):
    d = {}
    for t in range(n):
        d[t] = {"h": x}
    return np.sum(d[0]["h"])


@pytest.mark.parametrize("f, args, message, text", [
    (used_whole, (np.ones(2),), "cannot differentiate this use of a list, tuple or dict",
     "return np.sum(d)"),
    (another_name_read_after_a_write, (np.ones(2), 2),
     "changes a dict that `a` also refers to, and `a` is read afterwards", "d[t + 1] = d[t] * x"),
    (another_name_read_at_a_constant_key, (np.ones(2), 2),
     "changes a dict that `a` also refers to, and `a` is read afterwards", "d[0] = d[0] * x"),
    (array_read_after_a_write_through_the_dict, (np.ones(3), 2),
     "an array that `h` also refers to", "d[t][0] = 1.0"),
    (helper_writes_the_dict, (np.ones(2),), "writes into the dict `d` it is passed, and `d` is "
     "read afterwards", "_ = written_by_a_helper"),
    (into_a_tuple, (np.ones(2),), "`t` is a tuple or a record: Python does not write into it",
     "t[0] = x * 3.0"),
    (dict_in_a_dict, (np.ones(2), 2), "cannot keep a list, tuple or dict inside a dict",
     'd[t] = {"h": x}'),
], ids=lambda v: getattr(v, "__name__", ""))
def test_refused_at_the_users_line(f, args, message, text):
    with pytest.raises(srcgrad.SrcgradError, match=message) as info:
        srcgrad.grad(f)(*args)
    assert f"test_dicts.py:{line_of(f, text)}:" in str(info.value)


def missing_key(x, n):
    d = {}
    for t in range(n):
        d[t] = x * t
    return np.sum(d[n])


def test_a_missing_key_raises_as_in_python():
    with pytest.raises(KeyError):
        missing_key(np.ones(2), 2)
    with pytest.raises(KeyError) as info:
        srcgrad.grad(missing_key)(np.ones(2), 2)
    assert info.value.args == (2,)          # the key, as Python gives it
    assert note_location(info.value) == (__file__, line_of(missing_key, "return np.sum(d[n])"))


# --- a loop over a dict srcgrad cannot see when it reads the code: an argument, a global -------
COUNTS = {0: 1.0, 1: 2.0, 2: 2.0}


def weighted_by_argument(x, counts):
    total = 0.0
    for k in counts:
        total = total + counts[k] * np.sum(x)
    return total


def weighted_by_global(x):
    total = 0.0
    for k in COUNTS:
        total = total + COUNTS[k] * np.sum(x * x)
    return total


def weighted_items(x, counts):
    total = 0.0
    for k, v in counts.items():
        total = total + v * np.sum(x) * len(k)
    return total


def test_a_loop_over_a_dict_argument_or_global_runs_over_its_keys():
    """`for k in counts` with `counts` an argument or a global dict: its keys, as Python
    iterates it (it was run by position, reading counts[0], counts[1]... as keys: silently
    wrong for integer keys, found by the docs' examples)."""
    x = np.array([1.0, 2.0])
    counts = {0: 1.0, 1: 2.0, 2: 2.0}
    np.testing.assert_allclose(srcgrad.grad(weighted_by_argument)(x, counts), [5.0, 5.0])
    assert srcgrad.jvp(weighted_by_argument, (x, counts), (np.ones(2), None))[1] == pytest.approx(10.0)
    np.testing.assert_allclose(srcgrad.grad(weighted_by_global)(x), 10.0 * x)
    np.testing.assert_allclose(srcgrad.grad(weighted_by_argument)(x, {"a": 1.0, "b": 2.0}), [3.0, 3.0])
    np.testing.assert_allclose(srcgrad.grad(weighted_items)(x, {"ab": 1.0, "c": 2.0}), [4.0, 4.0])
    np.testing.assert_allclose(srcgrad.grad(weighted_by_argument)(x, [0, 1]), [1.0, 1.0])  # a list: by position
