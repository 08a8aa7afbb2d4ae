"""Transform-time benchmark: how the time to differentiate a function grows with its length.

Run from the repository root:

    python bench/bench_transform.py                      # N = 17, 200, 1000, 2000
    python bench/bench_transform.py --sizes 17,200 --reps 5
    python bench/bench_transform.py --show 20            # print a generated loss of 20 statements

For each N the script writes a loss function of N statements to a module file in a temporary
directory (srcgrad reads the source), imports it, and times the first call of
`srcgrad.grad(f)(*args)`, `srcgrad.value_and_grad(f)(*args)` and `srcgrad.jvp(f, args, tangents)`:
parse, differentiate, optimize, print and compile the generated function, then one call.  Each
repetition starts from an empty cache (`srcgrad.clear_cache()`) and a fresh function object, and
the table gives the median of the process's CPU time (`time.process_time`: on a machine shared
with other work, the wall time of the same single-threaded run varies much more).  Two kinds of loss:

    straight  straight-line code: arithmetic and NumPy calls on small arrays, each statement
              reading one or two of the values computed shortly before it
    control   the same, with a `for` loop (3 iterations, a few statements each) and an
              `if`/`else` on data every dozen statements

"statements" counts every statement of the body, those inside loops and branches included.
The gradient is checked once against central differences before anything is timed.  This is a
report, not a test: it always exits with status 0.
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import gc  # noqa: E402
import importlib.util  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import srcgrad  # noqa: E402
from bench_core import commit  # noqa: E402

SIZE = 6                                  # length of the vectors, side of the matrix
RECENT = 6                                # a statement reads values among the last RECENT


# --- the generated losses -------------------------------------------------------------------

# One statement each: {0} is the new name, {1} and {2} earlier values (vectors of length SIZE).
# Every result stays bounded (tanh, sin, cos, products of bounded values, scaled sums).
STRAIGHT = [
    "{0} = np.tanh({1}) * w",
    "{0} = {1} + 0.5 * {2}",
    "{0} = np.sin({1}) - {2} * 0.3",
    "{0} = {1} * {2}",
    "{0} = np.exp(-{1} ** 2)",
    "{0} = np.tanh(W @ {1} + b)",
    "{0} = np.cos({1}) * np.mean({2})",
    "{0} = {1} / (1.0 + {2} ** 2)",
    "{0} = np.maximum({1}, 0.1 * {2})",
    "{0} = 0.5 * ({1} - np.sum({2}) / {n})",
]


class Writer:
    """Writes the body of a loss of about `n` statements, naming values v0, v1, ..."""

    def __init__(self, rng, n, control):
        self.rng, self.n, self.control = rng, n, control
        self.values = ["w"]
        self.lines = []                   # (indent, text)
        self.count = 0                    # statements written

    def recent(self):
        return self.rng.choice(self.values[-RECENT:])

    def name(self):
        return f"v{len(self.values)}"

    def statement(self, indent=1, target=None):
        """One line of STRAIGHT assigning `target` (a new value if None)."""
        pattern = self.rng.choice(STRAIGHT)
        a, b = self.recent(), self.recent()
        if target is None:
            target = self.name()
            self.values.append(target)
        self.lines.append((indent, pattern.format(target, a, b, n=SIZE)))
        self.count += 1

    def loop(self):
        """h = v * 1.0; for i in range(3): u = ...; h = ... (4 statements)."""
        h, start, other = self.name(), self.recent(), self.recent()
        u = "u" + h[1:]
        self.lines += [(1, f"{h} = {start} * 1.0"),
                       (1, "for i in range(3):"),
                       (2, f"{u} = np.tanh(W @ {h} + x * i)"),
                       (2, f"{h} = 0.5 * {h} + {u} * {other}")]
        self.values.append(h)
        self.count += 4

    def branch(self):
        """if np.sum(v) > 0: t = ... else: t = ... (3 statements: the if and its two arms)."""
        t, cond = self.name(), self.recent()
        self.lines.append((1, f"if np.sum({cond}) > 0:"))
        self.statement(2, target=t)
        self.lines.append((1, "else:"))
        self.statement(2, target=t)
        self.values.append(t)
        self.count += 1

    def write(self):
        while self.count < self.n - 1:
            step = self.count % 12
            if self.control and step == 5 and self.n - self.count > 6:
                self.loop()
            elif self.control and step == 11 and self.n - self.count > 4:
                self.branch()
            else:
                self.statement()
        last = self.values[-3:]
        self.lines.append((1, "return " + " + ".join(f"np.sum({v} * {v})" for v in last)))
        self.count += 1
        body = "\n".join("    " * indent + text for indent, text in self.lines)
        return f"import numpy as np\n\n\ndef loss(w, W, b, x):\n{body}\n"


def loss_source(n, control, seed=0):
    return Writer(random.Random(f"{n}/{control}/{seed}"), n, control).write()


def inputs():
    rng = np.random.default_rng(0)
    return (rng.uniform(-1, 1, SIZE), rng.normal(size=(SIZE, SIZE)) / np.sqrt(SIZE),
            rng.uniform(-0.5, 0.5, SIZE), rng.uniform(-1, 1, SIZE))


def load(source, directory, name):
    path = os.path.join(directory, name + ".py")
    with open(path, "w") as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module.loss


# --- timing ---------------------------------------------------------------------------------

def fresh(f):
    """A new function object with f's code: srcgrad's cache (keyed by function) misses."""
    g = types.FunctionType(f.__code__, f.__globals__, f.__name__, f.__defaults__, f.__closure__)
    g.__qualname__, g.__module__ = f.__qualname__, f.__module__
    return g


def first_grad(f, args):
    return srcgrad.grad(f)(*args)


def first_value_and_grad(f, args):
    return srcgrad.value_and_grad(f)(*args)


def first_jvp(f, args):
    return srcgrad.jvp(f, args, (np.ones(SIZE), None, None, None))


MODES = {"grad": first_grad, "value_and_grad": first_value_and_grad, "jvp": first_jvp}


def time_first_call(make, f, args, reps):
    """Median seconds of `make(fresh f, args)` over `reps`, each from an empty cache."""
    times = []
    for _ in range(reps):
        srcgrad.clear_cache()
        g = fresh(f)
        gc.collect()
        t0 = time.process_time()
        make(g, args)
        times.append(time.process_time() - t0)
    return statistics.median(times)


def check(f, args):
    """The gradient against central differences along a random direction (float64)."""
    direction = np.random.default_rng(1).normal(size=SIZE)
    eps = 1e-6
    w = args[0]
    numeric = (f(w + eps * direction, *args[1:]) - f(w - eps * direction, *args[1:])) / (2 * eps)
    exact = float(srcgrad.grad(fresh(f))(*args) @ direction)
    if not np.isclose(numeric, exact, rtol=1e-5, atol=1e-7):
        raise AssertionError(f"gradient {exact} != finite differences {numeric}")
    srcgrad.clear_cache()


def reps_for(n, reps):
    return reps if reps else (15 if n <= 50 else 5 if n <= 500 else 3)


def measure(sizes, reps, directory, budget):
    """Rows (kind, N, {mode: seconds or None}); a kind stops growing once one of its
    transforms took more than `budget` seconds."""
    args, rows = inputs(), []
    for control in (False, True):
        kind = "control" if control else "straight"
        over = False
        for n in sizes:
            if over:
                rows.append((kind, n, dict.fromkeys(MODES)))
                continue
            f = load(loss_source(n, control), directory, f"transform_{kind}_{n}")
            check(f, args)
            row = {mode: time_first_call(make, f, args, reps_for(n, reps))
                   for mode, make in MODES.items()}
            rows.append((kind, n, row))
            print(f"  {kind} N={n}: " + ", ".join(f"{m} {t * 1e3:.0f} ms" for m, t in row.items()),
                  file=sys.stderr, flush=True)
            over = max(row.values()) > budget
    return rows


def cell(seconds):
    if seconds is None:
        return "-"
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="17,200,1000,2000",
                        help="numbers of statements, comma-separated")
    parser.add_argument("--reps", type=int, default=0,
                        help="repetitions per case (default: 15 for N <= 50, 5 up to 500, else 3)")
    parser.add_argument("--budget", type=float, default=60.0,
                        help="skip the larger sizes of a kind once a transform took longer (s)")
    parser.add_argument("--show", type=int, metavar="N",
                        help="print the straight-line and control losses of N statements and stop")
    opts = parser.parse_args(argv)
    if opts.show:
        print(loss_source(opts.show, False) + "\n" + loss_source(opts.show, True))
        return 0
    sizes = [int(s) for s in opts.sizes.split(",")]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        rows = measure(sizes, opts.reps, directory, opts.budget)
    print(f"srcgrad {srcgrad.__version__}{commit()} transform benchmark: Python "
          f"{platform.python_version()}, NumPy {np.__version__}, {platform.machine()}, "
          f"{os.cpu_count()} CPU(s); took {time.perf_counter() - started:.0f} s\n")
    print("| loss | statements | grad | value_and_grad | jvp |")
    print("|---|---:|---:|---:|---:|")
    for kind, n, row in rows:
        print(f"| {kind} | {n} | " + " | ".join(cell(row[m]) for m in MODES) + " |")
    print("\nCPU time of the first call from an empty cache (transform + one call), median of "
          + ", ".join(f"{reps_for(n, opts.reps)} (N={n})" for n in sizes))
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:            # a report, not a test: say what broke, exit 0
        import traceback
        traceback.print_exc()
        print(f"\nbenchmark did not complete: {type(exc).__name__}: {exc}")
    sys.exit(0)
