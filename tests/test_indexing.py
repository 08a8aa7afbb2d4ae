"""Reading elements of differentiated arrays: the adjoint scatters back into zeros, and
repeated integer-array indices add up."""
import numpy as np
import pytest
from support import check

import srcgrad

RNG = np.random.default_rng(5)


@pytest.mark.parametrize("name", ["int", "negative", "slice_step", "multi", "none", "fancy_repeats",
                                  "mask", "ellipsis", "row_then_element"])
def test_index_reads(name):
    def f_int(x):
        return x[1] * x[2]

    def f_negative(x):
        return np.sum(x[-1] ** 2)

    def f_slice_step(x):
        return np.sum(np.sin(x[::2]))

    def f_multi(x):
        return np.sum(x[1:, ::2] ** 2)

    def f_none(x):
        return np.sum(x[None, :] * x[:, None])

    def f_fancy_repeats(x):
        return np.sum(x[[0, 0, 2, 0]] * np.arange(4.0))

    def f_mask(x):
        return np.sum(x[x > 0] ** 3)

    def f_ellipsis(x):
        return np.sum(x[..., 0] ** 2)

    def f_row_then_element(x):
        row = x[1]
        return row[0] * np.sum(row)
    f = locals()["f_" + name]
    shape = (4,) if name in ("int", "negative", "slice_step", "none", "fancy_repeats", "mask") else (3, 4)
    check(f, RNG.normal(size=shape))


def test_repeated_indices_accumulate_exactly():
    def f(x):
        return np.sum(x[[1, 1, 1]])
    np.testing.assert_array_equal(srcgrad.grad(f)(np.zeros(3)), [0.0, 3.0, 0.0])


def test_index_computed_from_data_and_loop_variable():
    def f(x, k):
        s = 0.0
        for i in range(k):
            s = s + x[i] * x[k - 1 - i]
        return s
    check(f, RNG.normal(size=5), 4)


def test_data_indexed_by_position_carries_no_gradient():
    def f(w, X):
        return np.sum(X[0] * w) + np.sum(X[1:] @ w)
    check(f, RNG.normal(size=3), RNG.normal(size=(4, 3)))
