"""Linear least squares trained by stochastic gradient descent, one example per step.

The loss of a single example (x, y) under the model w.x + b is, as in the notes,

    prediction  y_hat = w.x + b
    residual    r = y - y_hat
    loss        l = r**2

Each SGD step picks one random example and moves w and b against the gradient of its
loss. The data are synthetic, drawn from known weights, so we can see whether SGD finds
them again.

    python examples/least_squares_sgd.py
"""
import numpy as np

import srcgrad


def example_loss(w, b, x, y):
    y_hat = w @ x + b
    r = y - y_hat
    return r ** 2


# One compiled gradient, reused at every step: (dl/dw, dl/db).
grad_loss = srcgrad.grad(example_loss, wrt=("w", "b"))


def mean_loss(w, b, X, y):
    """The loss over the whole data set: what SGD is minimising, one example at a time."""
    return np.mean((X @ w + b - y) ** 2)


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    n, d = 200, 3
    w_true, b_true = np.array([2.0, -1.0, 0.5]), 1.5
    X = rng.normal(size=(n, d))
    y = X @ w_true + b_true + 0.1 * rng.normal(size=n)

    w, b = np.zeros(d), 0.0

    # The notes derive dl/db = -2r and dl/dw = -2r x by hand; srcgrad must agree.
    r = y[0] - (w @ X[0] + b)
    dw, db = grad_loss(w, b, X[0], y[0])
    print("gradient at the first example, before training:")
    print(f"  dl/db  srcgrad {db:.4f}   by hand -2r = {-2 * r:.4f}")
    print(f"  dl/dw  srcgrad {np.round(dw, 4)}   by hand -2r x = {np.round(-2 * r * X[0], 4)}")
    print()

    # One example is a noisy guide to the whole loss, so a constant step keeps w jittering
    # around the optimum; shrinking the step over time lets the jitter die down.
    eta0, steps = 0.02, 2000
    print(" step   mean loss")
    print(f"{0:5d}   {mean_loss(w, b, X, y):9.5f}")
    for step in range(1, steps + 1):
        i = rng.integers(n)            # one random example per step
        eta = eta0 / (1 + step / 200)
        dw, db = grad_loss(w, b, X[i], y[i])
        w -= eta * dw
        b -= eta * db
        if step in (10, 30, 100, 300, 1000, 2000):
            print(f"{step:5d}   {mean_loss(w, b, X, y):9.5f}")

    # The floor is set by the noise in y, not by SGD: even the exact least-squares fit
    # leaves about the noise variance (0.01) behind.
    A = np.column_stack([X, np.ones(n)])
    best = np.linalg.lstsq(A, y, rcond=None)[0]
    print(f"best possible (exact least squares): {mean_loss(best[:d], best[d], X, y):.5f}")
    print()
    print("           true     learned")
    for j in range(d):
        print(f"w[{j}]   {w_true[j]:8.3f}   {w[j]:8.3f}")
    print(f"b      {b_true:8.3f}   {b:8.3f}")
