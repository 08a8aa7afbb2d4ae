import numpy as np
from support import check

import srcgrad


def test_lecture_example_exact():
    @srcgrad.grad(wrt=(0, 1, 2))
    def L(a, b, c):
        return (a + 3 * b) * c ** 2
    assert L(2.0, 3.0, 4.0) == (16.0, 48.0, 88.0)


def test_least_squares():
    def loss(w, X, y):
        r = X @ w - y
        return np.mean(r ** 2)
    rng = np.random.default_rng(0)
    check(loss, rng.normal(size=3), rng.normal(size=(5, 3)), rng.normal(size=5))
