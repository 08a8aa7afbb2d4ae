"""Random programs (the generator of tests/test_random_programs.py: branches, loops, indexing,
calls) under forward mode: the JVP along random tangents must equal the finite-difference
gradient contracted with them, and the JVP of the gradient (a Hessian-vector product) must
equal finite differences of the gradient.

Correct or loud: a program may be refused with a SrcgradError, but a wrong value or tangent,
or any other error, fails.  SRCGRAD_RANDOM_PROGRAMS (default 150) sets the scale: half as
many programs per feature set here, a tenth for Hessian-vector products (slower to check)."""
import copy
import os

import numpy as np
import pytest
from support import numerical_jvp
from test_random_programs import generator

import srcgrad

COUNT = int(os.environ.get("SRCGRAD_RANDOM_PROGRAMS", "150")) // 2


def tangents_for(args, seed):
    rng = np.random.default_rng(1000 + seed)
    return [rng.normal(size=np.shape(a)) if i in generator.WRT else None
            for i, a in enumerate(args)]


def program(seed, features, directory):
    program, args, (_, reference) = generator.program_and_inputs(seed, features)
    tag = "_".join(sorted(features))
    module = generator.load_module(program.source, directory, f"srcgrad_forward_{tag}_{seed}")
    return program, module.f, args, reference


def refused(exc):
    return isinstance(exc, srcgrad.SrcgradError) and not isinstance(exc, srcgrad.GradientRuntimeError)


@pytest.mark.parametrize("features,floor", [
    (("if", "for", "while", "index"), 0.9),          # (refused: lists of values, as by grad)
    (("if", "for", "while", "index", "call"), 0.5),  # (and recursive helpers)
])
def test_random_programs_forward_mode(tmp_path, features, floor):
    checked = 0
    for seed in range(COUNT):
        source, f, args, reference = program(seed, features, str(tmp_path))
        tangents = tangents_for(args, seed)
        before = copy.deepcopy(args)
        try:
            value, tangent = srcgrad.jvp(f, args, tangents)
        except Exception as exc:                     # noqa: BLE001
            if refused(exc):
                continue
            raise AssertionError(generator.describe(seed, source, args, repr(exc))) from exc
        for a, b in zip(args, before):
            assert np.array_equal(a, b), generator.describe(seed, source, args, "an argument changed")
        want = f(*copy.deepcopy(before))
        assert np.isclose(value, want, rtol=1e-10, atol=1e-12), generator.describe(
            seed, source, args, f"value {value!r}, plain f gives {want!r}")
        expected = sum(np.sum(g * tangents[i]) for i, g in zip(generator.WRT, reference))
        assert np.isclose(tangent, expected, rtol=generator.RTOL,
                          atol=generator.ATOL * (1 + abs(want)) * 10), generator.describe(
            seed, source, args, f"tangent {tangent!r}, finite differences give {expected!r}")
        checked += 1
    assert checked >= COUNT * floor, checked


def test_random_programs_hessian_vector_products(tmp_path):
    """jvp(grad(f)) against central differences of grad(f), where grad(f) exists."""
    checked, count = 0, max(COUNT // 5, 10)        # (a tenth of the scale)
    for seed in range(count):
        source, f, args, _ = program(seed, ("if", "for", "while", "index"), str(tmp_path))
        grad = srcgrad.grad(f, wrt=generator.WRT)
        try:
            grad(*args)
        except srcgrad.SrcgradError:
            continue                                 # no gradient: nothing to compare with
        tangents = tangents_for(args, seed)
        try:
            value, hv = srcgrad.jvp(grad, args, tangents)
        except Exception as exc:                     # noqa: BLE001
            if refused(exc):
                continue
            raise AssertionError(generator.describe(seed, source, args, repr(exc))) from exc
        want = numerical_jvp(grad, args, tangents, eps=1e-5)
        for got, ref in zip(hv, want):
            scale = 1 + np.max(np.abs(ref))
            assert np.allclose(got, ref, rtol=1e-4, atol=1e-5 * scale), generator.describe(
                seed, source, args, f"Hessian-vector product {got!r}, finite differences {ref!r}")
        checked += 1
    assert checked >= count * 0.8, checked
