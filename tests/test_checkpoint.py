"""Checkpointed loops (`grad(f, checkpoint=True)`, srcgrad/checkpoint.py): the same gradient
as the full tape, to the last bit (a replay computes the same floats again), in memory that
grows like sqrt(T); loops a replay could not compute again are refused at their line."""
import tracemalloc

import numpy as np
import pytest
from support import line_of, numerical_gradient

import srcgrad


def rnn(Wh, Wx, xs, h0):
    h = h0
    loss = 0.0
    for t in range(len(xs)):
        h = np.tanh(Wh @ h + Wx @ xs[t])
        loss = loss + np.sum(h * h)
    return loss


def rnn_args(T, n=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, n)) * 0.4, rng.normal(size=(n, 3)), rng.normal(size=(T, 3)), np.zeros(n)


@pytest.mark.parametrize("T", [0, 1, 2, 3, 4, 5, 10, 17, 50])
def test_same_gradient_as_the_full_tape(T):
    args = rnn_args(T)
    plain = srcgrad.value_and_grad(rnn, wrt=(0, 1))(*args)
    kept = srcgrad.value_and_grad(rnn, wrt=(0, 1), checkpoint=True)(*args)
    assert kept[0] == plain[0]
    for a, b in zip(kept[1], plain[1]):
        assert np.array_equal(a, b)
    np.testing.assert_allclose(kept[1][0], numerical_gradient(rnn, args, 0), rtol=1e-6, atol=1e-8)


def test_the_source_keeps_checkpoints_and_replays():
    source = srcgrad.grad(rnn, checkpoint=True).source
    assert "checkpoints.append((n_iterations, h_2))" in source, source
    assert "for start, h_2 in reversed(checkpoints):" in source, source
    forward, backward = source.split("in reversed(checkpoints)")
    assert "tape.append" not in forward and "tape.append" in backward, source   # replays only


def branches_and_inner_loops(w, xs):
    s = 0.0
    v = w
    for t in range(len(xs)):
        if xs[t] > 0:
            v = np.sin(v * xs[t])
        else:
            v = v + np.cos(w) * xs[t]
        for k in range(2):
            s = s + np.sum(v ** 2) * (k + 1)
        if t > 2 and xs[t] > 1.5:
            break
    return s


def two_loops_over_items(w, xs, ys):
    h = w
    for x in xs:
        h = np.tanh(h * x + 0.1)
    total = np.sum(h)
    for y in ys:
        total = total + np.sum(np.exp(-h * y))
        h = h * 0.9
    return total


@pytest.mark.parametrize("seed", range(4))
def test_branches_inner_loops_break_and_several_loops(seed):
    rng = np.random.default_rng(seed)
    w, xs, ys = rng.normal(size=3), rng.normal(size=12) * 1.5, rng.normal(size=7)
    for f, args in [(branches_and_inner_loops, (w, xs)), (two_loops_over_items, (w, xs, ys))]:
        want = srcgrad.grad(f)(*args)
        got = srcgrad.grad(f, checkpoint=True)(*args)
        assert np.array_equal(got, want), f.__name__
        np.testing.assert_allclose(got, numerical_gradient(f, args, 0), rtol=1e-6, atol=1e-8)


def test_containers_and_value_and_grad():
    def loss(params, xs):
        h = params["h0"]
        for t in range(len(xs)):
            h = np.tanh(params["W"] @ h + xs[t])
        return np.sum(h ** 2)
    rng = np.random.default_rng(1)
    params = {"W": rng.normal(size=(3, 3)) * 0.5, "h0": rng.normal(size=3)}
    xs = rng.normal(size=(30, 3))
    want = srcgrad.value_and_grad(loss)(params, xs)
    got = srcgrad.value_and_grad(loss, checkpoint=True)(params, xs)
    assert got[0] == want[0]
    for k in params:
        assert np.array_equal(got[1][k], want[1][k])


def peak_bytes(f, *args):
    """The peak of memory allocated while `f` runs (transformed before: not counted)."""
    f(*args[:2], args[2][:2], *args[3:])
    tracemalloc.start()
    try:
        f(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_grows_like_the_square_root_of_the_length():
    """T = 4,096 steps of a 4-unit RNN: the full tape holds ~3 arrays per step; checkpointed,
    sqrt(T) = 64 checkpoints and one stretch of 64 steps of tape."""
    args = rnn_args(4096)
    kept = peak_bytes(srcgrad.grad(rnn, wrt=(0, 1), checkpoint=True), *args)
    full = peak_bytes(srcgrad.grad(rnn, wrt=(0, 1)), *args)
    assert kept * 10 < full, (kept, full)


def test_a_hundred_thousand_steps():
    args = rnn_args(100_000)
    got = srcgrad.grad(rnn, wrt=(0, 1), checkpoint=True)(*args)
    want = srcgrad.grad(rnn, wrt=(0, 1))(*args)
    assert all(np.array_equal(a, b) for a, b in zip(got, want))


@pytest.mark.parametrize("body,what", [
    ("h = h + np.random.normal(size=3)", "np.random.normal"),
    ("hs.append(h)", "changes a list or dict in place"),
])
def test_a_loop_a_replay_cannot_repeat_is_refused_at_its_line(tmp_path, body, what):
    path = tmp_path / "replayed.py"
    path.write_text("import numpy as np\n\n\ndef loss(w, xs):\n    h = w\n    hs = []\n"
                    "    for t in range(len(xs)):\n        h = np.tanh(h * xs[t])\n"
                    f"        {body}\n    return np.sum(h) + (np.sum(hs[-1]) if hs else 0.0)\n")
    namespace = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    with pytest.raises(srcgrad.UnsupportedSyntaxError) as info:
        srcgrad.grad(namespace["loss"], checkpoint=True)(np.ones(3), np.ones(5))
    message = str(info.value)
    assert f"replayed.py:9: srcgrad cannot checkpoint the loop on line 7" in message, message
    assert what in message, message


def test_a_while_loop_is_refused():
    def loss(w):
        s = w
        while np.sum(s) < 10.0:
            s = s * 2.0
        return np.sum(s)
    with pytest.raises(srcgrad.UnsupportedSyntaxError, match="it is a while loop") as info:
        srcgrad.grad(loss, checkpoint=True)(np.ones(2))
    assert f":{line_of(loss, 'while')}:" in str(info.value)
    assert srcgrad.grad(loss)(np.ones(2)) == pytest.approx([8.0, 8.0])
