"""Core benchmark: srcgrad's generated gradients against hand-written NumPy gradients.

Run from the repository root:

    python bench/bench_core.py            # full run (about 20 s)
    python bench/bench_core.py --quick    # fewer rounds (a few seconds)

For each case the script first checks that srcgrad's gradient equals the hand-written one
(float64, np.testing.assert_allclose), then times the two alternately in one process
(hand, srcgrad, hand, srcgrad, ...), each round timing a batch of calls, and reports the
median per-call time of each and the ratio of the medians.  The last case times the
transformation itself: `srcgrad.grad(f)` plus the first `.source` access on a fresh
function object.  This is a report, not a test: it always exits with status 0.
"""
import os

# Single-threaded BLAS, before NumPy is imported: the matmuls of the MLP cases would
# otherwise use a thread pool whose start-up and scheduling noise swamps what we measure.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import gc  # noqa: E402
import itertools  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import srcgrad  # noqa: E402


# --- the losses, written plainly for srcgrad, and their hand-written gradients ----------
# The hand-written gradients are what a careful NumPy programmer writes: reuse forward
# values, no redundant passes over the data, sums instead of broadcasts.  Their scalar
# literals are floats (`2.0 * t`, not `2 * t`): with NumPy 2 an int literal costs about
# 0.14 us more per operation, which would flatter srcgrad on the small cases.

def tanh_sq(x):
    return np.sum(np.tanh(x) ** 2)


def tanh_sq_hand(x):
    t = np.tanh(x)
    return 2.0 * t * (1.0 - t * t)


def mlp_loss(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    out = h @ W2 + b2
    return np.mean((out - Y) ** 2)


def mlp_hand(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    out = h @ W2 + b2
    d_out = (2.0 / out.size) * (out - Y)
    dW2 = h.T @ d_out
    db2 = d_out.sum(axis=0)
    d_pre = (d_out @ W2.T) * (1.0 - h * h)
    dW1 = X.T @ d_pre
    db1 = d_pre.sum(axis=0)
    return dW1, db1, dW2, db2


def logreg_loss(w, b, X, y):
    # Mean log-loss with labels y in {0, 1}: log(1 + e^z) - y z, with log(1 + e^z)
    # computed as logaddexp(0, z), which neither overflows nor loses precision.
    z = X @ w + b
    return np.mean(np.logaddexp(0.0, z) - y * z)


def logreg_hand(w, b, X, y):
    z = X @ w + b
    p = 0.5 * (1.0 + np.tanh(0.5 * z))     # sigmoid(z), without overflow for large |z|
    r = (p - y) / y.size
    return X.T @ r, r.sum()


def rnn_loss(Wh, Wx, xs, h0):
    h = h0
    loss = 0.0
    for t in range(len(xs)):
        h = np.tanh(Wh @ h + Wx @ xs[t])
        loss = loss + np.sum(h * h)
    return loss


def rnn_hand(Wh, Wx, xs, h0):
    # Backpropagation through time: keep the states, walk them back.
    hs = [h0]
    h = h0
    for t in range(len(xs)):
        h = np.tanh(Wh @ h + Wx @ xs[t])
        hs.append(h)
    dWh, dWx, dh = np.zeros_like(Wh), np.zeros_like(Wx), np.zeros_like(h0)
    for t in range(len(xs) - 1, -1, -1):
        h = hs[t + 1]
        dpre = (dh + 2.0 * h) * (1.0 - h * h)
        dWh += np.outer(dpre, hs[t])
        dWx += np.outer(dpre, xs[t])
        dh = Wh.T @ dpre
    return dWh, dWx


def mlp17(W1, b1, W2, b2, W3, b3, X, Y):
    z1 = X @ W1
    a1 = z1 + b1
    h1 = np.tanh(a1)
    z2 = h1 @ W2
    a2 = z2 + b2
    h2 = np.tanh(a2)
    z3 = h2 @ W3
    out = z3 + b3
    r = out - Y
    sq = r * r
    data = np.mean(sq)
    p1 = np.sum(W1 * W1)
    p2 = np.sum(W2 * W2)
    p3 = np.sum(W3 * W3)
    penalty = p1 + p2 + p3
    loss = data + 1e-3 * penalty
    return loss


def mlp17_hand(W1, b1, W2, b2, W3, b3, X, Y):
    h1 = np.tanh(X @ W1 + b1)
    h2 = np.tanh(h1 @ W2 + b2)
    out = h2 @ W3 + b3
    d_out = (2.0 / out.size) * (out - Y)
    dW3 = h2.T @ d_out + 2e-3 * W3
    db3 = d_out.sum(axis=0)
    d2 = (d_out @ W3.T) * (1.0 - h2 * h2)
    dW2 = h1.T @ d2 + 2e-3 * W2
    db2 = d2.sum(axis=0)
    d1 = (d2 @ W2.T) * (1.0 - h1 * h1)
    dW1 = X.T @ d1 + 2e-3 * W1
    db1 = d1.sum(axis=0)
    return dW1, db1, dW2, db2, dW3, db3


MLP17_WRT = (0, 1, 2, 3, 4, 5)


# --- data ---------------------------------------------------------------------------

def mlp_args(rng, batch, n_in, n_hidden, n_out):
    return (rng.normal(size=(n_in, n_hidden)) / np.sqrt(n_in), 0.1 * rng.normal(size=n_hidden),
            rng.normal(size=(n_hidden, n_out)) / np.sqrt(n_hidden), 0.1 * rng.normal(size=n_out),
            rng.normal(size=(batch, n_in)), rng.normal(size=(batch, n_out)))


def mlp17_args():
    rng = np.random.default_rng(1)
    W1, b1, W2, b2, X, _ = mlp_args(rng, 16, 8, 16, 16)
    W3, b3 = rng.normal(size=(16, 4)) / 4, 0.1 * rng.normal(size=4)
    return W1, b1, W2, b2, W3, b3, X, rng.normal(size=(16, 4))


def make_cases():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(256, 20))
    w_true = rng.normal(size=20)
    y = (X @ w_true + 0.5 * rng.normal(size=256) > 0).astype(float)
    return [
        dict(name="sum(tanh(x)**2), x: 10", hand=tanh_sq_hand,
             auto=srcgrad.grad(tanh_sq), args=(rng.normal(size=10),), target=1.5),
        dict(name="MLP 64-128-10, batch 32", hand=mlp_hand,
             auto=srcgrad.grad(mlp_loss, wrt=(0, 1, 2, 3)),
             args=mlp_args(rng, 32, 64, 128, 10), target=1.1),
        dict(name="MLP 784-256-10, batch 64", hand=mlp_hand,
             auto=srcgrad.grad(mlp_loss, wrt=(0, 1, 2, 3)),
             args=mlp_args(rng, 64, 784, 256, 10), target=1.1),
        dict(name="RNN loop, 50 steps, state 16", hand=rnn_hand,
             auto=srcgrad.grad(rnn_loss, wrt=(0, 1)),
             args=(rng.normal(size=(16, 16)) / 4, rng.normal(size=(16, 8)) / 3,
                   rng.normal(size=(50, 8)), rng.normal(size=16)), target=1.5),
        dict(name="logistic regression, X: 256x20", hand=logreg_hand,
             auto=srcgrad.grad(logreg_loss, wrt=(0, 1)),
             args=(0.3 * rng.normal(size=20), 0.1, X, y), target=1.3),
    ]


# --- checking and timing ------------------------------------------------------------

def as_tuple(g):
    return g if isinstance(g, tuple) else (g,)


def verify(name, hand, auto, args):
    """Both gradients must agree, in value, shape and dtype, before we time them."""
    for i, (h, a) in enumerate(zip(as_tuple(hand(*args)), as_tuple(auto(*args)))):
        np.testing.assert_allclose(a, h, rtol=1e-10, atol=1e-13,
                                   err_msg=f"{name}: gradient {i} differs")
        assert np.shape(a) == np.shape(h), (name, i, np.shape(a), np.shape(h))
        assert np.asarray(a).dtype == np.float64, (name, i, np.asarray(a).dtype)


def batch_time(f, args, n):
    """Seconds for `n` calls of f(*args), with the collector off (as timeit does)."""
    loop = itertools.repeat(None, n)
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in loop:
            f(*args)
        return time.perf_counter() - t0
    finally:
        if gc_was_on:
            gc.enable()


def inner_count(fs, args, batch_seconds):
    """Calls per batch so that the slower of `fs` takes about `batch_seconds` per batch."""
    n = 1
    while True:
        t = max(min(batch_time(f, args, n) for _ in range(3)) for f in fs)
        if t >= 0.2 * batch_seconds:
            return max(1, round(n * batch_seconds / t))
        n *= 2


def time_pair(hand, auto, args, rounds, batch_seconds):
    """Median seconds per call of hand and auto, timed alternately, and the calls per batch."""
    for f in (hand, auto):                               # warm-up before calibrating
        batch_time(f, args, 20)
    n = inner_count((hand, auto), args, batch_seconds)
    for _ in range(3):                                   # warm-up at full batch size
        batch_time(hand, args, n)
        batch_time(auto, args, n)
    th, ta = [], []
    for _ in range(rounds):
        th.append(batch_time(hand, args, n) / n)
        ta.append(batch_time(auto, args, n) / n)
    q1, _, q3 = statistics.quantiles([a / h for h, a in zip(th, ta)], n=4)
    return statistics.median(th), statistics.median(ta), n, (q1, q3)


def fresh(f):
    """A new function object with f's code: srcgrad's cache (keyed by function) misses."""
    g = types.FunctionType(f.__code__, f.__globals__, f.__name__, f.__defaults__, f.__closure__)
    g.__qualname__, g.__module__ = f.__qualname__, f.__module__
    return g


def transform_once(f, wrt):
    t0 = time.perf_counter()
    gf = srcgrad.grad(fresh(f), wrt=wrt)
    gf.source
    return time.perf_counter() - t0


def time_transform(f, wrt, reps):
    for _ in range(3):                                   # warm-up: imports, rule templates
        transform_once(f, wrt)
    times = []
    for _ in range(reps):
        gc.collect()
        times.append(transform_once(f, wrt))
    return statistics.median(times), min(times)


# --- report -------------------------------------------------------------------------

def failure(exc):
    """A one-line table cell for a case that could not be timed."""
    if isinstance(exc, AssertionError):
        return "gradients differ, not timed"
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}".replace("|", "/")[:100]


def commit():
    """' (git abc1234)' for the checkout srcgrad was imported from, if it is one."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5,
                             cwd=os.path.dirname(os.path.abspath(srcgrad.__file__)))
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "."], capture_output=True,
                               text=True, timeout=5,
                               cwd=os.path.dirname(os.path.abspath(srcgrad.__file__)))
    except (OSError, subprocess.SubprocessError):
        return ""
    if out.returncode:
        return ""
    return f" (git {out.stdout.strip()}{', modified' if dirty.stdout.strip() else ''})"

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a few seconds)")
    parser.add_argument("--show-source", action="store_true",
                        help="also print the generated gradient of each case")
    opts = parser.parse_args(argv)
    rounds, batch_seconds, transform_reps = (30, 0.005, 15) if opts.quick else (200, 0.01, 60)

    rows, notes = [], []
    started = time.perf_counter()
    for c in make_cases():
        target = f"<= {c['target']}x"
        try:
            verify(c["name"], c["hand"], c["auto"], c["args"])
        except Exception as exc:        # a wrong or failing gradient is reported, not timed
            rows.append((c["name"], "-", "-", "-", target, "NO: " + failure(exc)))
            continue
        th, ta, n, (q1, q3) = time_pair(c["hand"], c["auto"], c["args"], rounds,
                                        batch_seconds)
        ratio = ta / th
        rows.append((c["name"], f"{th * 1e6:.2f}", f"{ta * 1e6:.2f}", f"{ratio:.3f}x",
                     target, "yes" if ratio <= c["target"] else "NO"))
        notes.append(f"{c['name']}: {n} calls per batch, per-round ratio IQR "
                     f"{q1:.3f}-{q3:.3f}")
    name, target = "transform a 17-line function", "<= 30 ms"
    try:
        verify(name, mlp17_hand, srcgrad.grad(mlp17, wrt=MLP17_WRT), mlp17_args())
        med, best = time_transform(mlp17, MLP17_WRT, transform_reps)
        rows.append((name, "-", f"{med * 1e3:.1f} ms", "-", target,
                     "yes" if med * 1e3 <= 30 else "NO"))
        notes.append(f"{name}: grad(f, wrt=6 parameters) + first .source on a fresh "
                     f"function object; median of {transform_reps}, min {best * 1e3:.1f} ms")
    except Exception as exc:
        rows.append((name, "-", "-", "-", target, "NO: " + failure(exc)))
    elapsed = time.perf_counter() - started

    print(f"srcgrad {srcgrad.__version__}{commit()} core benchmark"
          f"{' (--quick)' if opts.quick else ''}: Python {platform.python_version()}, "
          f"NumPy {np.__version__}, {platform.machine()}, {os.cpu_count()} CPU(s), "
          f"BLAS threads 1")
    print(f"{rounds} alternating rounds per case, median per-call time; "
          f"took {elapsed:.1f} s\n")
    print("| case | hand-written (µs) | srcgrad (µs) | ratio | target | ok? |")
    print("|---|---:|---:|---:|---:|:---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
    for note in notes:
        print("  " + note)

    if opts.show_source:
        for c in make_cases():
            print(f"\n# --- {c['name']}\n{c['auto'].source}")
        print(f"# --- mlp17\n{srcgrad.grad(mlp17, wrt=MLP17_WRT).source}")
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:            # a report, not a test: say what broke, exit 0
        import traceback
        traceback.print_exc()
        print(f"\nbenchmark did not complete: {type(exc).__name__}: {exc}")
    sys.exit(0)
