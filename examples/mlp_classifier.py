"""A two-layer network classifying handwritten digits, trained by minibatch SGD.

scikit-learn ships a small digits data set (1797 images of 8x8 pixels, labels 0-9) inside
the package, so nothing is downloaded. The network is

    hidden = relu(X W1 + b1)          64 pixels -> 64 hidden units
    scores = hidden W2 + b2           64 hidden units -> 10 classes

trained with the softmax cross-entropy loss. The weights live in one dict, and srcgrad
returns the gradient as a dict with the same keys -- the update is one line per step.

    python examples/mlp_classifier.py [PLOT.png]

The loss curve goes to PLOT.png if given, else to mlp_classifier_loss.png in the directory
named by $SRCGRAD_PLOT_DIR, else in the current directory. Without matplotlib the script
still trains and prints; it only skips the plot. Needs scikit-learn for the data:
`pip install -e ".[examples]"` in the repository installs it and matplotlib.
"""
import os
import sys

import numpy as np

import srcgrad

try:
    from sklearn.datasets import load_digits
except ImportError:
    sys.exit("mlp_classifier.py needs scikit-learn for its data set: pip install scikit-learn")


def scores(params, X):
    hidden = np.maximum(0.0, X @ params["W1"] + params["b1"])
    return hidden @ params["W2"] + params["b2"]


def loss(params, X, labels):
    z = scores(params, X)
    # Subtracting each row's maximum leaves the softmax unchanged but keeps exp() from
    # overflowing; log-softmax is then z minus the log of the row's sum of exps.
    z = z - np.max(z, axis=1, keepdims=True)
    log_p = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(log_p[np.arange(len(labels)), labels])


# value_and_grad: the loss (for the curve) and the gradient from one pass. Called with
# the params dict, the gradient comes back as a dict with the same keys.
loss_and_grad = srcgrad.value_and_grad(loss)


def accuracy(params, X, labels):
    return np.mean(np.argmax(scores(params, X), axis=1) == labels)


def plot_path(default_name):
    """The command-line argument, else $SRCGRAD_PLOT_DIR/<name>, else ./<name>."""
    if len(sys.argv) > 1:
        return sys.argv[1]
    return os.path.join(os.environ.get("SRCGRAD_PLOT_DIR", "."), default_name)


def save_plot(path, losses, steps_per_epoch):
    try:
        import matplotlib
        matplotlib.use("Agg")          # write a file; no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: skipping the plot (pip install matplotlib)")
        return
    steps = np.arange(1, len(losses) + 1) / steps_per_epoch
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(steps, losses, lw=0.6, color="C0", alpha=0.5, label="minibatch loss")
    per_epoch = np.reshape(losses, (-1, steps_per_epoch)).mean(axis=1)
    ax.plot(np.arange(1, len(per_epoch) + 1), per_epoch, "o-", color="C1", label="epoch mean")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"loss curve saved to {path}")


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    digits = load_digits()
    X = digits.data / 16.0             # pixel intensities 0..16 -> 0..1
    labels = digits.target

    # Hold out a quarter of the images: accuracy on them is the honest measure.
    order = rng.permutation(len(X))
    test, train = order[: len(X) // 4], order[len(X) // 4:]
    X_train, y_train, X_test, y_test = X[train], labels[train], X[test], labels[test]

    d, hidden, classes = X.shape[1], 64, 10
    # Scaled random weights (He initialisation) keep the ReLU units' outputs at a
    # similar size in both layers, so neither starts out dead nor exploding.
    params = {
        "W1": rng.normal(size=(d, hidden)) * np.sqrt(2 / d),
        "b1": np.zeros(hidden),
        "W2": rng.normal(size=(hidden, classes)) * np.sqrt(2 / hidden),
        "b2": np.zeros(classes),
    }

    epochs, batch, eta = 15, 32, 0.1
    steps_per_epoch = len(X_train) // batch
    losses = []
    print(f"{len(X_train)} training and {len(X_test)} test images; "
          f"{epochs} epochs of {steps_per_epoch} minibatches of {batch}")
    print("epoch   train loss   test accuracy")
    for epoch in range(1, epochs + 1):
        shuffled = rng.permutation(len(X_train))   # a fresh order each epoch
        for k in range(steps_per_epoch):
            rows = shuffled[k * batch:(k + 1) * batch]
            value, grads = loss_and_grad(params, X_train[rows], y_train[rows])
            for name in params:
                params[name] -= eta * grads[name]
            losses.append(value)
        if epoch in (1, 2, 5, 10, 15):
            print(f"{epoch:5d}   {np.mean(losses[-steps_per_epoch:]):10.4f}   "
                  f"{accuracy(params, X_test, y_test):13.4f}")

    print()
    print(f"train accuracy: {accuracy(params, X_train, y_train):.4f}")
    print(f"test accuracy: {accuracy(params, X_test, y_test):.4f}")
    save_plot(plot_path("mlp_classifier_loss.png"), losses, steps_per_epoch)
