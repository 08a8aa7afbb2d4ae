"""Forward-mode benchmark: srcgrad.jvp against tangents written by hand in NumPy.

Run from the repository root:

    python bench/bench_forward.py            # full run (about 10 s)
    python bench/bench_forward.py --quick

Like bench_core.py: each case is first checked (the two tangents agree in float64), then the
two are timed alternately, a batch of calls per round, and the medians compared.  Two ways
to call srcgrad are timed: `srcgrad.jvp(f, primals, tangents)` (which looks up the cached
transform for the arguments' types and checks the tangents) and the `jvp_function(f)` object
(which only checks the tangents).  This is a report, not a test: it always exits with 0.
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import gc  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import srcgrad  # noqa: E402


def tanh_sq(x):
    return np.sum(np.tanh(x) ** 2)


def tanh_sq_hand(x, t_x):
    t = np.tanh(x)
    return np.sum(t * t), np.sum(2.0 * t * (1.0 - t * t) * t_x)


def mlp_layer(W, b, X):
    return np.tanh(X @ W + b)


def mlp_layer_hand(W, b, X, t_W, t_b):
    h = np.tanh(X @ W + b)
    return h, (X @ t_W + t_b) * (1.0 - h * h)


def mlp(W1, b1, W2, b2, X):
    h = np.tanh(X @ W1 + b1)
    return h @ W2 + b2


def mlp_hand(W1, b1, W2, b2, X, t_W1, t_b1, t_W2, t_b2):
    h = np.tanh(X @ W1 + b1)
    t_h = (X @ t_W1 + t_b1) * (1.0 - h * h)
    return h @ W2 + b2, t_h @ W2 + h @ t_W2 + t_b2


def cases():
    rng = np.random.default_rng(0)
    x = rng.normal(size=10)
    yield "sum(tanh(x)**2), x: 10", tanh_sq, (x,), (rng.normal(size=10),), tanh_sq_hand
    W, b, X = rng.normal(size=(64, 128)) * 0.1, rng.normal(size=128), rng.normal(size=(32, 64))
    yield ("MLP layer tanh(X @ W + b), 32x64 @ 64x128", mlp_layer, (W, b, X),
           (rng.normal(size=W.shape), rng.normal(size=b.shape), None), mlp_layer_hand)
    W1, b1 = rng.normal(size=(784, 256)) * 0.05, rng.normal(size=256)
    W2, b2, X = rng.normal(size=(256, 10)) * 0.1, rng.normal(size=10), rng.normal(size=(64, 784))
    tangents = tuple(rng.normal(size=p.shape) for p in (W1, b1, W2, b2)) + (None,)
    yield "MLP 784-256-10, batch 64", mlp, (W1, b1, W2, b2, X), tangents, mlp_hand


def per_call(fn, calls):
    gc.disable()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    elapsed = time.perf_counter() - start
    gc.enable()
    return elapsed / calls


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    rounds = 30 if parser.parse_args().quick else 150
    print("| case | hand-written (µs) | srcgrad.jvp (µs) | ratio | jvp_function (µs) | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, f, primals, tangents, hand in cases():
        active = tuple(i for i, t in enumerate(tangents) if t is not None)
        fj = srcgrad.jvp_function(f, wrt=active)
        given = tuple(t for t in tangents if t is not None)
        want = hand(*primals, *given)
        for got in (srcgrad.jvp(f, primals, tangents), fj(primals, given)):
            for g, w in zip(got, want):
                np.testing.assert_allclose(g, w, rtol=1e-10)
        runs = {"hand": lambda: hand(*primals, *given),
                "jvp": lambda: srcgrad.jvp(f, primals, tangents),
                "function": lambda: fj(primals, given)}
        calls = max(1, int(0.005 / per_call(runs["jvp"], 20)))
        times = {k: [] for k in runs}
        for _ in range(rounds):
            for key, run in runs.items():
                times[key].append(per_call(run, calls))
        med = {k: statistics.median(v) * 1e6 for k, v in times.items()}
        print(f"| {name} | {med['hand']:.2f} | {med['jvp']:.2f} | {med['jvp'] / med['hand']:.3f}x "
              f"| {med['function']:.2f} | {med['function'] / med['hand']:.3f}x |")
    print(f"\nNumPy {np.__version__}, Python {sys.version.split()[0]}, BLAS threads 1, "
          f"{rounds} rounds")


if __name__ == "__main__":
    main()
