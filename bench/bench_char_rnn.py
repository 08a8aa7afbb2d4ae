"""The character-level RNN loss, written as the classic script writes it (state in dicts
filled step by step), differentiated by srcgrad, against the gradient written by hand.

Run from the repository root:

    python bench/bench_char_rnn.py            # T = 25 and T = 400 (about 20 s)
    python bench/bench_char_rnn.py --quick    # fewer rounds

Hidden size 100, vocabulary 65 (the size of a small text's alphabet).  The hand-written
function computes the loss and the gradients together, as the script's `lossFun` does
(its forward loop, then its backward loop over the same dicts), without the gradient
clipping, which is not part of the gradient.  srcgrad's side is `value_and_grad` of the
loss (the same work: loss and gradients) and `grad` alone.  Both are checked equal first
(float64, rtol 1e-10), then timed alternately in one process; the table gives the median
per-call times and their ratio.  A report, not a test: it always exits with status 0.
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

hidden_size, vocab_size = 100, 65


def lossFun(inputs, targets, hprev, Wxh, Whh, Why, bh, by):
    xs, hs, ys, ps = {}, {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0
    for t in range(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
        ys[t] = np.dot(Why, hs[t]) + by
        ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))
        loss += -np.log(ps[t][targets[t], 0])
    return loss


def loss_with_a_list(inputs, targets, hprev, Wxh, Whh, Why, bh, by):
    """The same loss, its hidden states kept in a list that grows (`hs[-1]`: the last)."""
    hs = [np.copy(hprev)]
    loss = 0
    for t in range(len(inputs)):
        x = np.zeros((vocab_size, 1))
        x[inputs[t]] = 1
        hs.append(np.tanh(np.dot(Wxh, x) + np.dot(Whh, hs[-1]) + bh))
        y = np.dot(Why, hs[-1]) + by
        p = np.exp(y) / np.sum(np.exp(y))
        loss += -np.log(p[targets[t], 0])
    return loss


def loss_and_gradients_by_hand(inputs, targets, hprev, Wxh, Whh, Why, bh, by):
    """The loss and its gradients, the backward loop written out from the chain rule."""
    xs, hs, ps = {}, {}, {}
    hs[-1] = hprev
    loss = 0.0
    for t in range(len(inputs)):
        x = np.zeros((vocab_size, 1))
        x[inputs[t]] = 1.0
        xs[t] = x
        hs[t] = np.tanh(np.dot(Wxh, x) + np.dot(Whh, hs[t - 1]) + bh)
        e = np.exp(np.dot(Why, hs[t]) + by)
        ps[t] = e / np.sum(e)
        loss -= np.log(ps[t][targets[t], 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dh_later = np.zeros_like(hprev)        # what step t + 1 sends back into h[t]
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])                # softmax and cross-entropy together: p - onehot
        dy[targets[t]] -= 1.0
        dWhy += np.dot(dy, hs[t].T)
        dby += dy
        dh = np.dot(Why.T, dy) + dh_later
        dz = (1.0 - hs[t] * hs[t]) * dh
        dbh += dz
        dWxh += np.dot(dz, xs[t].T)
        dWhh += np.dot(dz, hs[t - 1].T)
        dh_later = np.dot(Whh.T, dz)
    return loss, (dh_later, dWxh, dWhh, dWhy, dbh, dby)


def arguments(length, seed=0):
    rng = np.random.default_rng(seed)
    return (list(rng.integers(0, vocab_size, size=length)),
            list(rng.integers(0, vocab_size, size=length)),
            rng.normal(size=(hidden_size, 1)) * 0.1,
            rng.normal(size=(hidden_size, vocab_size)) * 0.01,
            rng.normal(size=(hidden_size, hidden_size)) * 0.01,
            rng.normal(size=(vocab_size, hidden_size)) * 0.01,
            np.zeros((hidden_size, 1)), np.zeros((vocab_size, 1)))


def median_times(functions, args, rounds, batch_seconds):
    """Median seconds per call of each function, timed alternately in batches."""
    calls = []
    for f in functions:                     # calls per batch: about batch_seconds each
        start, n = time.perf_counter(), 0
        while time.perf_counter() - start < batch_seconds / 4:
            f(*args)
            n += 1
        calls.append(max(1, int(n * 4 * batch_seconds / (time.perf_counter() - start) / 4)))
    samples = [[] for _ in functions]
    gc.disable()
    try:
        for _ in range(rounds):
            for f, n, out in zip(functions, calls, samples):
                start = time.perf_counter()
                for _ in range(n):
                    f(*args)
                out.append((time.perf_counter() - start) / n)
    finally:
        gc.enable()
    return [statistics.median(s) for s in samples]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--show-source", action="store_true", help="print the generated code")
    options = parser.parse_args()
    rounds, batch = (15, 0.02) if options.quick else (60, 0.05)
    wrt = ("hprev", "Wxh", "Whh", "Why", "bh", "by")
    both = srcgrad.value_and_grad(lossFun, wrt=wrt)
    only = srcgrad.grad(lossFun, wrt=wrt)
    listed = srcgrad.value_and_grad(loss_with_a_list, wrt=wrt)
    if options.show_source:
        print(both.source)
    print(f"char RNN, hidden {hidden_size}, vocabulary {vocab_size}; single-threaded BLAS")
    print("| T | hand-written (ms) | srcgrad value_and_grad (ms) | ratio | srcgrad grad (ms) | ratio "
          "| state in a list: value_and_grad (ms) | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for length in (25, 400):
        args = arguments(length)
        loss, grads = loss_and_gradients_by_hand(*args)
        for f in (both, listed):
            value, mine = f(*args)
            np.testing.assert_allclose(value, loss, rtol=1e-10)
            for g, h in zip(mine, grads):
                np.testing.assert_allclose(g, h, rtol=1e-10, atol=1e-14)
        hand, with_value, alone, in_list = median_times(
            [loss_and_gradients_by_hand, both, only, listed], args, rounds, batch)
        print(f"| {length} | {hand * 1e3:.3f} | {with_value * 1e3:.3f} | {with_value / hand:.2f}x "
              f"| {alone * 1e3:.3f} | {alone / hand:.2f}x | {in_list * 1e3:.3f} | {in_list / hand:.2f}x |")


if __name__ == "__main__":
    main()
