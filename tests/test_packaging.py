"""The package as users get it: `python -m build` makes an sdist and a wheel from a copy of
this checkout; each installs into a fresh virtual environment (NumPy and gast from the
package index) where srcgrad gives the seed example's gradient and `srcgrad --version`
prints the version written in srcgrad/__init__.py.

Needs the `build` extra (`pip install -e ".[build]"`, pip 22.3 or newer) and a reachable
package index; about a minute.  Skipped when `build` is not importable.
"""
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

import srcgrad

pytest.importorskip("build")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKE = """
import os, sys
import srcgrad
assert os.path.realpath(srcgrad.__file__).startswith(os.path.realpath(sys.prefix)), srcgrad.__file__

def L(a, b, c):
    return (a + 3 * b) * c ** 2

print(srcgrad.__version__, srcgrad.grad(L, wrt=(0, 1, 2))(2.0, 3.0, 4.0))
"""
# what the sdist's tests and examples need from the checkout
IN_SDIST = ["README.md", "CHANGELOG.md", "MANIFEST.in", "pyproject.toml", "mkdocs.yml",
            "srcgrad/__init__.py", "srcgrad/printing.py", "tests/conftest.py",
            "tests/support.py", "tests/test_packaging.py", "tests/README.md",
            "examples/char_rnn.py", "examples/data/tiny_text.txt", "docs/index.md",
            "docs/hooks.py", "bench/README.md"]


def _run(*argv, **kwargs):
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                          timeout=600, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, argv))}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _ignored(directory, names):
    """What a copy of the checkout leaves out: version control, environments, caches,
    earlier builds."""
    return [n for n in names if n in (".git", "build", "dist", "site", "__pycache__",
                                      ".pytest_cache") or n.startswith(".venv") or
            n.endswith(".egg-info")]


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """(sdist path, wheel path), built from a copy of the checkout."""
    work = tmp_path_factory.mktemp("packaging")
    source = work / "srcgrad-checkout"
    shutil.copytree(ROOT, source, ignore=_ignored)
    _run(sys.executable, "-m", "build", "--outdir", work / "dist", source)
    sdist = work / "dist" / f"srcgrad-{srcgrad.__version__}.tar.gz"
    wheel = work / "dist" / f"srcgrad-{srcgrad.__version__}-py3-none-any.whl"
    assert sdist.is_file() and wheel.is_file(), os.listdir(work / "dist")
    return sdist, wheel


def test_the_sdist_holds_what_its_tests_need(dist):
    with tarfile.open(dist[0]) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    missing = [n for n in IN_SDIST if n not in names]
    assert not missing
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_the_wheel_holds_the_package_only(dist):
    with zipfile.ZipFile(dist[1]) as archive:
        names = archive.namelist()
        metadata = archive.read(f"srcgrad-{srcgrad.__version__}.dist-info/METADATA").decode()
    assert {n.split("/")[0] for n in names} == {"srcgrad", f"srcgrad-{srcgrad.__version__}.dist-info"}
    assert "srcgrad/printing.py" in names and "srcgrad/__main__.py" in names
    assert f"Version: {srcgrad.__version__}\n" in metadata
    requires = sorted(line.split(":", 1)[1].split(">=")[0].strip() for line in
                      metadata.splitlines() if line.startswith("Requires-Dist:") and
                      "extra ==" not in line)
    assert requires == ["gast", "numpy"]           # astor is no longer needed


@pytest.mark.parametrize("kind", ["sdist", "wheel"])
def test_installs_into_a_fresh_environment_and_differentiates(dist, kind, tmp_path):
    artifact = dist[0] if kind == "sdist" else dist[1]
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)    # this pip installs into it
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    _run(sys.executable, "-m", "pip", "--python", python, "install", "-q", artifact, env=env)
    (tmp_path / "smoke.py").write_text(SMOKE)       # a file: srcgrad reads L's source
    out = _run(python, tmp_path / "smoke.py", cwd=tmp_path, env=env)
    assert out == f"{srcgrad.__version__} (16.0, 48.0, 88.0)\n"
    assert _run(bin_dir / "srcgrad", "--version", cwd=tmp_path, env=env) == \
        f"srcgrad {srcgrad.__version__}\n"
