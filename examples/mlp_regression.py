"""A tiny neural network, 1 input - 3 tanh units - 1 output, fitted to a curve by SGD.

The model from the notes:

    f(x) = w0 + w1 tanh(v1 x + b1) + w2 tanh(v2 x + b2) + w3 tanh(v3 x + b3)

has ten parameters (w0; w, v, b with three entries each). We write the squared error of
one example exactly like that formula and let srcgrad derive all ten partial derivatives.

    python examples/mlp_regression.py [PLOT.png]

The plot of data and fit goes to PLOT.png if given, else to mlp_regression.png in the
directory named by $SRCGRAD_PLOT_DIR, else in the current directory. Without matplotlib
the script still trains and prints; it only skips the plot.
"""
import os
import sys

import numpy as np

import srcgrad


def example_loss(w0, w, v, b, x, y):
    h = np.tanh(v * x + b)             # the three hidden units
    f = w0 + np.sum(w * h)
    return (f - y) ** 2


# All ten partial derivatives, grouped like the parameters: (dw0, dw, dv, db).
grad_loss = srcgrad.grad(example_loss, wrt=("w0", "w", "v", "b"))


def predict(w0, w, v, b, xs):
    """f at many points at once (for reporting and plotting; training uses one x)."""
    return w0 + np.tanh(np.outer(xs, v) + b) @ w


def plot_path(default_name):
    """The command-line argument, else $SRCGRAD_PLOT_DIR/<name>, else ./<name>."""
    if len(sys.argv) > 1:
        return sys.argv[1]
    return os.path.join(os.environ.get("SRCGRAD_PLOT_DIR", "."), default_name)


def save_plot(path, xs, ys, params):
    try:
        import matplotlib
        matplotlib.use("Agg")          # write a file; no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: skipping the plot (pip install matplotlib)")
        return
    grid = np.linspace(xs.min(), xs.max(), 200)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(xs, ys, s=10, color="gray", label="data")
    ax.plot(grid, predict(*params, grid), color="C1", lw=2, label="1-3-1 tanh network")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"plot saved to {path}")


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    n = 100
    xs = np.sort(rng.uniform(-3, 3, size=n))
    ys = np.sin(xs) + 0.1 * rng.normal(size=n)

    # Small random weights: large ones would start the tanh units saturated (flat), and
    # identical ones would make the three units learn the same thing.
    w0 = 0.0
    w, v, b = (0.5 * rng.normal(size=3) for _ in range(3))

    def mse():
        return np.mean((predict(w0, w, v, b, xs) - ys) ** 2)

    # The loss surface is not convex and single examples are noisy, so take many small
    # steps and let them shrink as the fit settles.
    eta0, steps = 0.05, 20000
    print(" step   mean squared error")
    print(f"{0:5d}   {mse():.4f}")
    for step in range(1, steps + 1):
        i = rng.integers(n)            # one random example per step, as in the notes
        eta = eta0 / (1 + step / 5000)
        dw0, dw, dv, db = grad_loss(w0, w, v, b, xs[i], ys[i])
        w0 -= eta * dw0
        w -= eta * dw
        v -= eta * dv
        b -= eta * db
        if step in (100, 1000, 5000, 10000, 20000):
            print(f"{step:5d}   {mse():.4f}")

    print("(the noise alone has mean squared error 0.01)")
    print()
    print(f"w0 = {w0:.3f}")
    print(f"w  = {np.round(w, 3)}")
    print(f"v  = {np.round(v, 3)}")
    print(f"b  = {np.round(b, 3)}")
    save_plot(plot_path("mlp_regression.png"), xs, ys, (w0, w, v, b))
