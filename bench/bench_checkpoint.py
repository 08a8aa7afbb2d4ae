"""Checkpointed loops against the full tape: time and peak memory of the gradient of an RNN
over T steps (`grad(f, checkpoint=True)` vs `grad(f)`), in one process.

    python bench/bench_checkpoint.py            # T = 1,000, 10,000, 100,000 (about a minute)

Time is the median of 5 calls; memory the peak that tracemalloc sees during one call (the
transformation made before).  A report, not a test.
"""
import os
import statistics
import sys
import time
import tracemalloc

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import srcgrad  # noqa: E402


def rnn(Wh, Wx, xs, h0):
    h = h0
    loss = 0.0
    for t in range(len(xs)):
        h = np.tanh(Wh @ h + Wx @ xs[t])
        loss = loss + np.sum(h * h)
    return loss


def median_time(f, args, reps=5):
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        f(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak(f, args):
    tracemalloc.start()
    f(*args)
    result = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result


def main():
    rng = np.random.default_rng(0)
    n = 16
    Wh, Wx = rng.normal(size=(n, n)) * 0.3, rng.normal(size=(n, 8))
    full, kept = srcgrad.grad(rnn, wrt=(0, 1)), srcgrad.grad(rnn, wrt=(0, 1), checkpoint=True)
    print(f"RNN h = {n}, gradient w.r.t. Wh and Wx; NumPy {np.__version__}")
    print(f"{'T':>8} {'full ms':>9} {'ckpt ms':>9} {'time x':>7} {'full MB':>9} {'ckpt MB':>9} {'memory x':>9}")
    for T in (1_000, 10_000, 100_000):
        args = (Wh, Wx, rng.normal(size=(T, 8)), np.zeros(n))
        full(*args), kept(*args)
        t_full, t_kept = median_time(full, args), median_time(kept, args)
        m_full, m_kept = peak(full, args), peak(kept, args)
        print(f"{T:>8} {t_full * 1e3:>9.1f} {t_kept * 1e3:>9.1f} {t_kept / t_full:>7.2f} "
              f"{m_full / 1e6:>9.2f} {m_kept / 1e6:>9.2f} {m_full / m_kept:>9.1f}")


if __name__ == "__main__":
    main()
