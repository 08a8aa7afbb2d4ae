"""User code under test, imported by tests/test_calls.py and test_forward.py: its globals are its own."""
import numpy as onp      # deliberately not `np`: the helper's names resolve in this module

SCALE = 0.5


def scaled_square(v, power=2):
    return SCALE * onp.sum(v ** power)


def pair(v):
    return onp.sin(v), onp.cos(v) * 0.5
