"""Random programs mixing straight-line NumPy code with branches, loops, indexing and calls, checked
against finite differences (the generator is tests/random_programs.py; run it by hand for
more programs: `python tests/random_programs.py --count 1000 --features all`).

Correct or loud: a program may be refused with a SrcgradError (it uses something not yet
supported), but a gradient or value that differs from the reference fails the test, and so
does any other error.  SRCGRAD_RANDOM_PROGRAMS sets how many programs (default 150)."""
import importlib.util
import os

import pytest

import srcgrad

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "random_program_generator", os.path.join(HERE, "random_programs.py"))
generator = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generator)

COUNT = int(os.environ.get("SRCGRAD_RANDOM_PROGRAMS", "150"))


@pytest.mark.parametrize("features,floor", [
    (("if", "for", "while", "index"), 2),            # at least half differentiated
    (("if", "for", "while", "index", "call"), 2),
    (("if", "for", "while", "index", "call", "list"), 2),
])
def test_random_programs_are_correct_or_refused(tmp_path, features, floor):
    differentiated, refused = 0, 0
    for seed in range(COUNT):
        try:
            generator.check_program(seed, features, str(tmp_path))
            differentiated += 1
        except AssertionError as failure:
            cause = failure.__cause__
            if isinstance(cause, srcgrad.SrcgradError) and \
                    not isinstance(cause, srcgrad.GradientRuntimeError):
                refused += 1            # loud: a construct that is not supported yet
                continue
            raise
    # not vacuous: a good share of the programs is differentiated and checked
    assert differentiated >= COUNT // floor, (differentiated, refused)
