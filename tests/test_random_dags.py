"""Random expression-DAG programs (tests/random_dags.py, a generator independent of
tests/random_programs.py), differentiated in reverse and forward mode and checked against float64
central differences.

Correct or loud: a program may be refused with a SrcgradError that is not a GradientRuntimeError,
but a gradient, tangent or value that differs from the reference fails the test, and so do a
GradientRuntimeError, any other exception and arguments changed by srcgrad.  The failure message
names the seed and prints the program, its inputs and the difference; reproduce one with
`python tests/random_dags.py --seed N --show`.

SRCGRAD_RANDOM_DAGS sets how many programs (default 1500), SRCGRAD_RANDOM_DAGS_SEED the first seed.
"""
import importlib.util
import os
from collections import Counter

import numpy as np
import pytest

import srcgrad

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("random_dags_generator", os.path.join(HERE, "random_dags.py"))
dags = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dags)

COUNT = int(os.environ.get("SRCGRAD_RANDOM_DAGS", "1500"))
FIRST = int(os.environ.get("SRCGRAD_RANDOM_DAGS_SEED", "0"))
CHUNKS = 6
OK_FLOOR = 0.5           # at least half the programs differentiated and checked, none wrong
SKIP_CEILING = 0.1       # programs with no kink-free input found: rare, or the test is vacuous


def _chunk(k):
    size = -(-COUNT // CHUNKS)
    start = FIRST + k * size
    return start, min(start + size, FIRST + COUNT)


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_random_dags_are_correct_or_refused(tmp_path, chunk):
    start, stop = _chunk(chunk)
    if start >= stop:
        pytest.skip("no programs in this chunk")
    counts = Counter()
    failures = []
    for seed in range(start, stop):
        try:
            result = dags.check_program(seed, str(tmp_path))
        except Exception as exc:          # the generator's own bug: name the seed
            raise AssertionError(f"seed {seed}: the generator failed: {exc!r}") from exc
        counts[result.outcome] += 1
        counts["nonzero"] += result.outcome == "ok" and not result.trivial
        if result.failures:
            failures.append(result)
    total = stop - start
    summary = (f"seeds {start}..{stop - 1}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    assert not failures, (
        f"{len(failures)} program(s) differentiated wrongly or crashed ({summary}); "
        f"seeds {[r.seed for r in failures]}\n\n" + "\n\n".join(r.report() for r in failures[:4]))
    assert counts["ok"] >= OK_FLOOR * total, f"too few programs differentiated: {summary}"
    assert counts["nonzero"] >= 0.7 * counts["ok"], f"too many programs with zero derivatives: {summary}"
    assert counts["skipped"] <= SKIP_CEILING * total, f"too many programs skipped: {summary}"


def test_a_program_is_a_function_of_its_seed(tmp_path):
    for seed in (3, 41, 977):
        assert dags.generate(seed).source() == dags.generate(seed).source()
        assert dags.generate(seed).source(twin=True) == dags.generate(seed).source(twin=True)
        first = dags.check_program(seed, str(tmp_path))
        again = dags.check_program(seed, str(tmp_path))
        assert first.outcome == again.outcome
        assert first.args is not None
        for a, b in zip(first.args, again.args):
            np.testing.assert_array_equal(a, b)
    assert dags.generate(3).source() != dags.generate(4).source()


def _ok_seeds(tmp_path, modes, want=4):
    seeds = []
    for seed in range(400):
        result = dags.check_program(seed, str(tmp_path), modes=modes)
        if result.outcome == "ok" and not result.trivial:
            seeds.append(seed)
        if len(seeds) == want:
            return seeds
    raise AssertionError(f"no {want} programs differentiated in {modes}")


def test_the_check_catches_a_gradient_off_by_a_thousandth(tmp_path, monkeypatch):
    """Not vacuous: the same programs, with srcgrad's results scaled by 1.001, all fail."""
    reverse = _ok_seeds(tmp_path, ("reverse",))
    forward = _ok_seeds(tmp_path, ("forward",))
    scale = lambda g: type(g)(g * 1.001) if isinstance(g, float) else g * 1.001
    grad, value_and_grad, jvp = srcgrad.grad, srcgrad.value_and_grad, srcgrad.jvp

    def wrong_grad(f, wrt=0):
        g = grad(f, wrt=wrt)
        return lambda *args: (tuple(map(scale, g(*args))) if isinstance(wrt, tuple) else scale(g(*args)))

    def wrong_value_and_grad(f, wrt=0):
        g = value_and_grad(f, wrt=wrt)

        def call(*args):
            value, out = g(*args)
            return value, (tuple(map(scale, out)) if isinstance(wrt, tuple) else scale(out))
        return call

    def wrong_jvp(f, primals, tangents):
        value, tangent = jvp(f, primals, tangents)
        return value, tangent * 1.001

    monkeypatch.setattr(srcgrad, "grad", wrong_grad)
    monkeypatch.setattr(srcgrad, "value_and_grad", wrong_value_and_grad)
    monkeypatch.setattr(srcgrad, "jvp", wrong_jvp)
    for seed in reverse:
        result = dags.check_program(seed, str(tmp_path), modes=("reverse",))
        assert [k for k, _, _ in result.failures] == ["reverse-mismatch"] * len(result.failures) != [], \
            result.report()
    for seed in forward:
        result = dags.check_program(seed, str(tmp_path), modes=("forward",))
        assert [k for k, _, _ in result.failures] == ["forward-mismatch"], result.report()


def test_kinks_are_kept_away_from(tmp_path):
    """A draw next to a kink is redrawn: the twin of np.abs reports the distance."""
    kinks = dags.Kinks()
    kinks.abs(np.array([0.5, -0.001, 2.0]))
    kinks.red("max", np.array([[1.0, 1.005], [3.0, 0.0]]), axis=1)
    assert kinks.margin == pytest.approx(0.001)
    structural = dags.Kinks()
    structural.maximum(np.array([1.0, 2.0]), np.array([1.0, 2.5]))    # an exact tie: ignored
    assert structural.margin == pytest.approx(0.5)
    strict = dags.Kinks()
    strict.red("std", np.array([[1.0, 1.0], [0.0, 2.0]]), axis=1)     # std 0 is never ignored
    assert strict.margin == 0.0
