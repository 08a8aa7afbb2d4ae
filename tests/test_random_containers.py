"""Random loss functions reading parameters from containers (dicts "W1"/"b1", nested dicts,
lists of (W, b), namedtuples, dataclasses, mixes), checked against finite differences.  The
generator is tests/random_containers.py, written from the user documentation only; run it by
hand for more programs: `python tests/random_containers.py --count 1000 --seed 0`.

Correct or loud: a program may be refused with a SrcgradError (counted, not a failure), but
a gradient that differs from finite differences (WRONG), a gradient whose structure differs
from its argument's, or any other exception (CRASH) fails the test.
SRCGRAD_RANDOM_CONTAINERS sets how many programs (default 60)."""
import collections
import importlib.util
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "random_containers_generator", os.path.join(HERE, "random_containers.py"))
generator = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generator)

COUNT = int(os.environ.get("SRCGRAD_RANDOM_CONTAINERS", "60"))
FIRST = int(os.environ.get("SRCGRAD_RANDOM_SEED", "0"))


def test_random_containers_are_correct_or_refused(tmp_path):
    results = generator.run(range(FIRST, FIRST + COUNT), str(tmp_path))
    counts = collections.Counter(r.kind for r in results)
    bad = [r for r in results if r.kind in ("WRONG", "CRASH", "GENBUG")]
    assert not bad, "\n\n".join(f"{r.kind} seed {r.seed}: {r.detail}\n{r.source}" for r in bad)
    # not vacuous: a good share of the programs is differentiated and checked
    assert counts["ok"] >= COUNT // 3, dict(counts)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_program_is_reproducible(seed):
    assert generator.generate(seed) == generator.generate(seed)
