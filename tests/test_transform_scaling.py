"""Issue #13: the time to transform a function grows linearly with its length.

Timing a test is flaky on a shared machine, so these tests count work instead: the Python
function calls that transforming and first calling a function make (cProfile's count, which
does not depend on the machine's speed or load), for a function of K blocks of statements and
for one of 2K blocks of the same kind.  A linear transformer makes at most about twice the
calls (less: part of the work is fixed); a pass that looks again at everything recorded so far
at each statement makes the count grow like the square of the length.  Before issue #13's
work the ratios were 2.19 (grad) and 2.05 (jvp) at these sizes (and 2.5-2.8 at five times
them); now they are 1.98 and 1.96 (2.01 at five times them).
"""
import cProfile
import importlib.util
import pstats
import sys

import numpy as np
import pytest

import srcgrad
from support import check, check_jvp

BLOCKS = 3                       # the shorter function: 3 blocks, about 40 statements
MOST = 2.02                      # calls(2K blocks) / calls(K blocks) of a linear transformer

# One block: straight-line NumPy code, a loop that rebinds a value, a branch on data.  Each
# block reads the state `h` the one before it left, so nothing is dead code.
BLOCK = """\
    a{i} = np.tanh(W @ h + b)
    c{i} = a{i} * h + 0.5 * x
    e{i} = np.sin(c{i}) - np.mean(a{i}) * c{i}
    for j in range(2):
        e{i} = 0.5 * e{i} + np.tanh(W @ e{i}) * a{i}
    if np.sum(e{i}) > 0:
        h = e{i} * c{i} + 0.1 * h
    else:
        h = e{i} + np.cos(c{i}) * h
    r{i} = h / (1.0 + h ** 2)
    h = r{i} + 0.5 * a{i}
"""


def source(blocks):
    body = "".join(BLOCK.format(i=i) for i in range(blocks))
    return f"import numpy as np\n\n\ndef loss(h, W, b, x):\n{body}    return np.sum(h * h)\n"


@pytest.fixture(scope="module")
def losses(tmp_path_factory):
    """{blocks: the loss of that many blocks}, each imported from a file of its own."""
    directory = tmp_path_factory.mktemp("scaling")
    made = {}
    for blocks in (1, BLOCKS, 2 * BLOCKS):
        name = f"scaling_loss_{blocks}"
        path = directory / f"{name}.py"
        path.write_text(source(blocks))
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        made[blocks] = module.loss
    return made


def arguments():
    rng = np.random.default_rng(0)
    n = 4
    return (rng.uniform(-1, 1, n), rng.normal(size=(n, n)) / 2, rng.uniform(-0.5, 0.5, n),
            rng.uniform(-1, 1, n))


MODES = {          # (value_and_grad takes the path grad does)
    "grad": lambda f, args: srcgrad.grad(f, wrt=(0, 1))(*args),
    "jvp": lambda f, args: srcgrad.jvp(f, args, (np.ones(4), None, None, None)),
}


def calls(mode, f, args):
    """The Python function calls of transforming `f` and calling the result once."""
    srcgrad.clear_cache()
    profile = cProfile.Profile()
    profile.enable()
    try:
        MODES[mode](f, args)
    finally:
        profile.disable()
    return sum(entry[1] for entry in pstats.Stats(profile).stats.values())


def test_the_losses_are_differentiated_correctly(losses):
    args = arguments()
    check(losses[BLOCKS], *args)
    check_jvp(losses[BLOCKS], *args, each=False)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_twice_the_statements_cost_at_most_twice_the_work(losses, mode):
    args = arguments()
    MODES[mode](losses[1], args)              # warm: imports, rule templates read once
    short, long = calls(mode, losses[BLOCKS], args), calls(mode, losses[2 * BLOCKS], args)
    assert long / short <= MOST, (f"{mode}: {short} calls for {BLOCKS} blocks, {long} for "
                                  f"{2 * BLOCKS}: x{long / short:.2f}, more than linear")
