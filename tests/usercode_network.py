"""User code under test (tests/test_calls.py imports it): a differentiated call must follow a function into
the module that defines it, with that module's globals and its own name for NumPy."""
import numpy as onp

SCALE = 0.5


def softplus(z):
    return onp.log1p(onp.exp(z))


def scaled_tanh(z, k=SCALE):
    return onp.tanh(k * z) / k


def weighted(z):
    return SCALE * z * z          # reads the module global at call time


def two_layer(x, W1, W2):
    return W2 @ scaled_tanh(W1 @ x)   # calls a helper of its own module


def mse(pred, target):
    return onp.mean((pred - target) ** 2)
