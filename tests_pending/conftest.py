"""Tests written ahead of issue #3 (control flow, calls, containers, indexing).

CI does not collect this directory (pyproject.toml: testpaths = ["tests"]); run it with
`python -m pytest tests_pending`.  Each file covers one feature and is self-contained:
move it into tests/ when its feature lands (test_calls.py needs _helpers_mod.py with it).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "tests"))   # gradcheck
sys.path.insert(0, HERE)                                      # _helpers_mod
