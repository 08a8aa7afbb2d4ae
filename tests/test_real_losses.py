"""Loss functions written the way tutorials, course assignments and research scripts write
them (2-D test functions unpacked from a parameter vector, ODE fits, mixtures, attention,
layer norm, pairwise distances), each checked against finite differences in reverse mode
and, where forward mode applies, in forward mode."""
import numpy as np
import pytest

from support import check, check_jvp

rng = np.random.default_rng(0)
X = rng.normal(size=(8, 3))
Y = rng.normal(size=8)


def himmelblau(p):
    x, y = p
    return (x ** 2 + y - 11) ** 2 + (x + y ** 2 - 7) ** 2


def beale(p):
    x, y = p[0], p[1]
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y ** 2) ** 2 + (2.625 - x + x * y ** 3) ** 2


def huber(w, X, y, delta=1.0):
    r = X @ w - y
    return np.sum(np.where(np.abs(r) <= delta, 0.5 * r ** 2, delta * (np.abs(r) - 0.5 * delta)))


def softmax_cross_entropy(W, X, y):
    scores = X @ W
    scores -= np.max(scores, axis=1, keepdims=True)
    probs = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)
    return -np.mean(np.log(probs[np.arange(len(y)), y]))


def relu_mlp(W1, X, W2, y):
    h = np.maximum(0, X @ W1)
    out = h @ W2
    return 0.5 * np.sum((out - y) ** 2)


def lotka_volterra_euler(params, y0, n):
    a, b, c, d = params
    x, y = y0
    dt = 0.01
    total = 0.0
    for i in range(n):
        dx = a * x - b * x * y
        dy = d * x * y - c * y
        x, y = x + dt * dx, y + dt * dy
        total += x ** 2 + y
    return total


def gaussian_mixture_nll(mu, X):
    likelihood = 0.0
    for k in range(mu.shape[0]):
        diff = X - mu[k]
        likelihood = likelihood + np.exp(-0.5 * np.sum(diff ** 2, axis=1))
    return -np.sum(np.log(likelihood))


def kmeans_objective(C, X):
    d = np.sum((X[:, None, :] - C[None, :, :]) ** 2, axis=-1)
    return np.sum(np.min(d, axis=1))


def attention(Wq, X):
    Q = X @ Wq
    s = Q @ X.T / np.sqrt(X.shape[1])
    s = s - s.max(axis=-1, keepdims=True)
    a = np.exp(s)
    a /= a.sum(-1, keepdims=True)
    return np.sum((a @ X) ** 2)


def layer_norm(gain, x):
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return np.sum(gain * (x - mu) / np.sqrt(var + 1e-5))


def pairwise_energy(x):
    d = np.linalg.norm(x[:, None, :] - x[None, :, :], axis=-1)
    return np.sum(np.triu(1.0 / (d + np.eye(len(x))), 1))     # the diagonal is 0 and unused


def rnn_over_rows(Wh, xs):
    h = np.zeros(Wh.shape[0])
    loss = 0.0
    for x in xs:
        h = np.tanh(Wh @ h + x)
        loss = loss + np.sum(h)
    return loss


def fibonacci_like(p):
    a, b = p
    for i in range(3):
        a, b = b, a + b * 0.5
    return a * b


def polynomial_fit(c, t, y):
    c0, c1, c2 = c
    pred = c0 + c1 * t + c2 * t ** 2
    return np.mean((pred - y) ** 2)


def pairs_in_a_loop(P):
    s = 0.0
    for a, b in P:
        s = s + a * b ** 2
    return s


def split_weights(theta, X):
    W1, W2 = theta.reshape(2, 3, 3)
    return np.sum(np.tanh(X @ W1) @ W2)


CASES = [
    (himmelblau, (np.array([1.2, 0.7]),), 0),
    (beale, (np.array([1.2, 0.7]),), 0),
    (huber, (rng.normal(size=3), X, Y), 0),
    (softmax_cross_entropy, (rng.normal(size=(3, 4)), X, rng.integers(0, 4, 8)), 0),
    (relu_mlp, (rng.normal(size=(3, 5)), X, rng.normal(size=(5, 2)), rng.normal(size=(8, 2))), 0),
    (lotka_volterra_euler, (np.array([1.0, 0.5, 0.8, 0.3]), np.array([1.0, 0.7]), 20), (0, 1)),
    (gaussian_mixture_nll, (rng.normal(size=(3, 2)), rng.normal(size=(10, 2))), 0),
    (kmeans_objective, (rng.normal(size=(3, 2)), rng.normal(size=(10, 2))), 0),
    (attention, (rng.normal(size=(3, 3)), X), 0),
    (layer_norm, (rng.normal(size=3), X), (0, 1)),
    (pairwise_energy, (rng.normal(size=(5, 2)),), 0),
    (rnn_over_rows, (rng.normal(size=(3, 3)) * 0.5, rng.normal(size=(4, 3))), (0, 1)),
    (fibonacci_like, (np.array([1.5, -0.5]),), 0),
    (polynomial_fit, (rng.normal(size=3), np.linspace(0, 1, 7), rng.normal(size=7)), 0),
    (pairs_in_a_loop, (rng.normal(size=(4, 2)),), 0),
    (split_weights, (rng.normal(size=18) * 0.5, X), 0),
]


@pytest.mark.parametrize("func,args,wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_real_loss_in_reverse_mode(func, args, wrt):
    check(func, *args, wrt=wrt, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("func,args,wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_real_loss_in_forward_mode(func, args, wrt):
    check_jvp(func, *args, rtol=1e-5, atol=1e-6)
