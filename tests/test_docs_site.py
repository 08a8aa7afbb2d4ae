"""The documentation runs: every ```python block in README.md and docs/*.md is executed,
printed output is compared with the page, and the site builds with `mkdocs build --strict`.

Conventions in the Markdown:

- The ```python blocks of a page run in order, in one namespace (a fresh one per page).
- A block runs as a file of its own, so srcgrad can read the functions it defines. Its name
  is the block's title (```` ```python title="quickstart.py" ````, which the site shows
  above the block); line 1 is the block's first line. Untitled blocks get a name of the
  form `<index.md, line 40>`; give a block a title when its output shows its file name.
- `<!-- output -->` on the line before a ```text block: the block is what the most recent
  ```python block of the page prints (compared line by line, trailing blanks ignored).
  When what is printed is generated source, the block is ```python instead, so the site
  highlights it; it is compared, not run. Every block showing generated source (a
  `def grad_...`/`def jvp_...` function or its docstring) is fenced as python.
- `<!-- no-run -->` on the line before a ```python block: the block is a fragment that is
  not run (it must still be valid Python).
- ```console blocks are shell sessions: each line `$ command` is run with bash, in a fresh
  directory holding the page's titled ```python blocks as files (`model.py`), with `python`
  and `srcgrad` the Python running the tests; the lines after it, up to the next `$ `, are
  what it prints (stdout and stderr). That directory is written `~/project` in the page.
  When the last command's output is generated source, the block ends after the command and
  a `<!-- output -->` ```python block follows with the output.
"""
import contextlib
import glob
import importlib.util
import io
import linecache
import os
import re
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = ["README.md"] + sorted(os.path.relpath(p, ROOT)
                               for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+)(?P<info>.*)$")
MARKERS = {"<!-- output -->": "output", "<!-- no-run -->": "no-run",
           # README's quickstart output: what examples/quickstart.py prints, checked by
           # test_generated_source.py::test_readme_quickstart_output_is_current
           "<!-- quickstart-output -->": "shown"}


class Block:
    def __init__(self, page, line, lang, title, text, marker):
        self.page, self.line, self.lang, self.title = page, line, lang, title
        self.text, self.marker = text, marker

    @property
    def where(self):
        return f"{self.page}:{self.line}"


def blocks(page):
    """The fenced code blocks of a Markdown file, with the marker on the line before each."""
    lines = open(os.path.join(ROOT, page), encoding="utf-8").read().splitlines()
    found, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            if lines[i].strip() in MARKERS and not (i + 1 < len(lines) and FENCE.match(lines[i + 1])):
                raise AssertionError(f"{page}:{i + 1}: {lines[i].strip()} must be followed "
                                     "directly by a code block")
            i += 1
            continue
        indent, fence, info = m.group("indent"), m.group("fence"), m.group("info").strip()
        lang = info.split()[0] if info else ""
        title = re.search(r'title="([^"]*)"', info)
        body, j = [], i + 1
        while j < len(lines) and not (lines[j].strip().startswith(fence)
                                      and lines[j].strip().strip("`") == ""):
            body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j])
            j += 1
        assert j < len(lines), f"{page}:{i + 1}: code block is never closed"
        marker = MARKERS.get(lines[i - 1].strip()) if i > 0 else None
        found.append(Block(page, i + 1, lang, title and title.group(1),
                           "\n".join(body) + "\n", marker))
        i = j + 1
    return found


def check_conventions(page_blocks):
    for b in page_blocks:
        if b.marker == "output":
            assert b.lang in ("text", "python"), \
                f"{b.where}: <!-- output --> marks a ```text or ```python block"
        if b.lang in ("text", ""):
            assert not shows_generated_source(b.text), \
                f"{b.where}: a block of generated source is fenced as python, not {b.lang or 'plain'}"
        if b.lang == "console":          # a pdb listing may show generated lines; a command's
            for line in b.text.splitlines():          # whole output may not
                assert not re.match(r"(grad|jvp)_\w+\(|def (grad|jvp)_", line), \
                    f"{b.where}: generated source printed by a command goes in a " \
                    "<!-- output --> ```python block after the console block"
        if b.marker == "no-run":
            assert b.lang == "python", f"{b.where}: <!-- no-run --> marks a ```python block"
            compile(b.text, b.where, "exec")     # a fragment, but valid Python


GENERATED = re.compile(r"^\s*def (grad|jvp)_\w+\(|generated by srcgrad\.", re.M)


def shows_generated_source(text):
    return bool(GENERATED.search(text))


def run_page(page):
    """Run a page's python blocks; return a list of (block, expected, printed) to compare."""
    page_blocks = blocks(page)
    check_conventions(page_blocks)
    namespace = {"__name__": "docs_" + re.sub(r"\W", "_", os.path.splitext(page)[0])}
    registered, comparisons, last = {}, [], None     # registered: file name -> entry it hid
    try:
        for b in page_blocks:
            if b.marker == "output":
                assert last is not None, f"{b.where}: output block with no python block before it"
                assert not last[0].marker, f"{b.where}: output of a block that is not run"
                if last[0].lang == "console":        # compared by run_console
                    continue
                comparisons.append((b, b.text, last[1]))
                continue
            if b.lang == "console":
                last = (b, None)
            if b.lang != "python":
                continue
            if b.marker in ("no-run", "shown"):
                last = (b, None)
                continue
            filename = b.title or f"<{os.path.basename(page)}, line {b.line}>"
            assert filename not in registered, \
                f"{b.where}: another block of {page} is already titled {filename!r}"
            registered[filename] = linecache.cache.get(filename)
            linecache.cache[filename] = (len(b.text), None, b.text.splitlines(True), filename)
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                try:
                    exec(compile(b.text, filename, "exec"), namespace)
                except Exception as exc:
                    raise AssertionError(f"the python block at {b.where} raised "
                                         f"{type(exc).__name__}: {exc}") from exc
            last = (b, out.getvalue())
    finally:
        for filename, hidden in registered.items():
            if hidden is None:
                linecache.cache.pop(filename, None)
            else:
                linecache.cache[filename] = hidden
    return comparisons


def console_sessions(page_blocks):
    """[(block, [(command, expected output)])] of a page's ```console blocks; the output of
    a block's last command may be the <!-- output --> block right after it."""
    sessions = []
    for i, b in enumerate(page_blocks):
        if b.lang != "console":
            continue
        commands = []
        for line in b.text.splitlines():
            if line.startswith("$ "):
                commands.append([line[2:], []])
            else:
                assert commands, f"{b.where}: a console block starts with a `$ ` command"
                if commands[-1][1] == [] and commands[-1][0].endswith("\\"):
                    commands[-1][0] = commands[-1][0][:-1] + line.strip()   # continued
                else:
                    commands[-1][1].append(line)
        pairs = [(command, "\n".join(out)) for command, out in commands]
        follows = page_blocks[i + 1] if i + 1 < len(page_blocks) else None
        if follows is not None and follows.marker == "output":
            assert not pairs[-1][1].strip(), f"{b.where}: output both in the block and after it"
            pairs[-1] = (pairs[-1][0], follows.text)
        sessions.append((b, pairs))
    return sessions


PROJECT = "~/project"       # how a page writes the directory its console commands run in


def run_console(page, directory):
    """Run a page's console blocks; return a list of (block, command, expected, printed)."""
    page_blocks = blocks(page)
    bin_dir = directory / ".bin"
    bin_dir.mkdir()
    for name, args in (("python", ""), ("srcgrad", " -m srcgrad")):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}"{args} "$@"\n')
        shim.chmod(0o755)
    for b in page_blocks:
        if b.lang == "python" and b.title:
            (directory / b.title).write_text(b.text, encoding="utf-8")
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
               PYTHONPATH=ROOT, PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONWARNINGS", None)
    results = []
    for b, pairs in console_sessions(page_blocks):
        for command, expected in pairs:
            run = subprocess.run(["bash", "-c", command], cwd=directory, env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
            printed = run.stdout.replace(str(directory), PROJECT)
            results.append((b, command, expected, printed))
    return results


def normalized(text):
    return "\n".join(line.rstrip() for line in text.rstrip("\n").splitlines())


@pytest.mark.parametrize("page", PAGES)
def test_code_blocks_run_and_print_what_the_page_shows(page, monkeypatch):
    import srcgrad.custom            # rules a page registers stay on that page
    monkeypatch.setattr(srcgrad.custom, "CUSTOM_VJP", dict(srcgrad.custom.CUSTOM_VJP))
    monkeypatch.setattr(srcgrad.custom, "CUSTOM_JVP", dict(srcgrad.custom.CUSTOM_JVP))
    for block, expected, printed in run_page(page):
        assert normalized(printed) == normalized(expected), \
            f"the output block at {block.where} is not what the code above it prints, " \
            f"which is:\n{printed}"


CONSOLE_PAGES = [p for p in PAGES if any(b.lang == "console" for b in blocks(p))]


@pytest.mark.parametrize("page", CONSOLE_PAGES)
def test_console_sessions_print_what_the_page_shows(page, tmp_path):
    for block, command, expected, printed in run_console(page, tmp_path):
        assert normalized(printed) == normalized(expected), \
            f"at {block.where}, `{command}` prints:\n{printed}"


def test_every_page_is_in_the_site_nav():
    mkdocs_yml = open(os.path.join(ROOT, "mkdocs.yml"), encoding="utf-8").read()
    listed = set(re.findall(r"^\s+- [^:\n]+: (\S+\.md)\s*$", mkdocs_yml, re.M))
    pages = {os.path.basename(p) for p in PAGES if p.startswith("docs")}
    assert pages == listed, (f"in docs/ but not in the nav of mkdocs.yml: {sorted(pages - listed)}; "
                             f"in the nav but not in docs/: {sorted(listed - pages)}")


def test_output_blocks_are_compared(tmp_path):
    """The harness notices a wrong output block (so a passing run means something)."""
    page = tmp_path / "page.md"          # an absolute path: os.path.join(ROOT, page) is page
    text = ("```python\nprint(6 * 7)\n```\n\n<!-- output -->\n```text\n42\n```\n\n"
            "<!-- no-run -->\n```python\nundefined_name()\n```\n")
    page.write_text(text)
    [(block, expected, printed)] = run_page(str(page))
    assert printed == "42\n" and expected == "42\n"
    page.write_text(text.replace("print(6 * 7)", "print(6 * 9)"))
    [(block, expected, printed)] = run_page(str(page))
    assert normalized(printed) != normalized(expected)
    page.write_text(text.replace("<!-- output -->\n```text", "<!-- output -->\n```bash"))
    with pytest.raises(AssertionError, match="marks a ```text or ```python block"):
        run_page(str(page))
    page.write_text(text.replace("print(6 * 7)", "print('def grad_f(x):')")
                    .replace("42", "def grad_f(x):"))
    with pytest.raises(AssertionError, match="fenced as python"):
        run_page(str(page))


def test_console_sessions_are_compared(tmp_path):
    """The console harness runs each command where the page's files are, and notices a
    wrong output."""
    page = tmp_path / "page.md"
    text = ('```python title="six.py"\nprint(6 * 7)\n```\n\n'
            '```console\n$ python six.py\n42\n$ ls six.py && pwd\nsix.py\n~/project\n```\n')
    page.write_text(text)
    work = tmp_path / "work"
    work.mkdir()
    results = run_console(str(page), work)
    assert [(command, normalized(printed)) for _, command, _, printed in results] == \
        [("python six.py", "42"), ("ls six.py && pwd", "six.py\n~/project")]
    assert all(normalized(printed) == normalized(expected) for _, _, expected, printed in results)
    page.write_text(text.replace("\n42\n", "\n54\n"))
    work = tmp_path / "work2"
    work.mkdir()
    [(_, _, expected, printed), _] = run_console(str(page), work)
    assert normalized(expected) == "54" and normalized(printed) == "42"


def load_hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", os.path.join(ROOT, "docs", "hooks.py"))
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    return hooks


def operations(func):
    """What a function does, as the sequence of its instructions' arguments (names,
    constants, operators), which does not depend on how the interpreter spells them."""
    import dis
    return [i.argval for i in dis.get_instructions(func)
            if i.arg is not None and "JUMP" not in i.opname]


def test_rule_table_formulas_are_the_templates():
    """Each formula the rule table shows compiles to its rule's template, and every rule
    of the registry is shown (the hook needs no MkDocs to run)."""
    import numpy as np
    from srcgrad import rules
    shown = {}
    for family, entries in load_hooks().rule_groups().items():
        for names, params, body in entries:
            for name in names:
                shown[name] = (family, params, body)
    for rule in rules.RULES.values():
        family, params, body = shown[rule.name]
        assert family == (rule.section or rule.family)
        rebuilt = eval(f"lambda {params}: {body}", vars(rules))
        assert operations(rebuilt) == operations(rule.template), rule.name
        assert rebuilt.__code__.co_varnames == rule.template.__code__.co_varnames, rule.name
    assert shown["np.remainder"] == shown["np.mod"] and "np.amax" in shown
    table = load_hooks().rule_table()
    assert all(f"<code>{np_name}</code>" in table for np_name in ("np.zeros_like", "np.argmax"))


def _missing_docs_packages():
    return [name for name in ("mkdocs", "material") if importlib.util.find_spec(name) is None]


@pytest.mark.skipif(bool(_missing_docs_packages()),
                    reason="the site build needs the docs extra: pip install -e \".[docs]\" "
                           "(mkdocs and mkdocs-material are not installed)")
def test_site_builds_strict(tmp_path):
    site = tmp_path / "site"
    start = time.perf_counter()
    # No --quiet: with it, MkDocs 1.6 does not count warnings and --strict lets them pass.
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                             "--config-file", os.path.join(ROOT, "mkdocs.yml"),
                             "--site-dir", str(site)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, NO_MKDOCS_2_WARNING="1"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert time.perf_counter() - start < 60
    for page in ("index.html", "how-it-works/index.html", "supported/index.html",
                 "rules/index.html", "api/index.html", "performance/index.html", "cli/index.html",
                 "notebooks/index.html", "sharp-bits/index.html"):
        assert (site / page).is_file(), page
    assert not (site / "hooks.py").exists()
    check_generated_source_is_highlighted(site)
    check_long_lines_wrap(site)

    # The rule table is generated from the registry: every rule and its formula are there.
    import html
    import inspect
    rules_page = html.unescape((site / "rules" / "index.html").read_text(encoding="utf-8"))
    hooks = load_hooks()
    for family, entries in hooks.rule_groups().items():
        for names, params, body in entries:
            assert f"<code>{hooks._SPELLED.get(names[0], names[0])}</code>" in rules_page, names
            assert f"<code>{body}</code>" in rules_page, names
    # API docstrings and the benchmark table are pulled in at build time.
    api_page = html.unescape((site / "api" / "index.html").read_text(encoding="utf-8"))
    import srcgrad
    first_line = re.sub(r"`", "", inspect.getdoc(srcgrad.value_and_grad).split("\n")[0])
    assert first_line in re.sub(r"<[^>]+>", "", api_page)
    bench = open(os.path.join(ROOT, "bench", "README.md"), encoding="utf-8").read()
    row = next(line for line in bench.split("## Latest results", 1)[1].splitlines()
               if line.startswith("| MLP"))
    perf_page = html.unescape((site / "performance" / "index.html").read_text(encoding="utf-8"))
    assert row.split("|")[2].strip() in perf_page


HIGHLIGHT = re.compile(r'<div class="(?:language-(?P<lang>\w+) )?highlight"[^>]*>(?P<body>.*?)</div>', re.S)


def check_generated_source_is_highlighted(site):
    """Every block of generated source on the site, from a page or a hook, is highlighted
    as Python (a console session, such as pdb listing generated lines, is checked in the
    Markdown by check_conventions)."""
    import html
    seen = 0
    for page in site.rglob("*.html"):
        for m in HIGHLIGHT.finditer(page.read_text(encoding="utf-8")):
            text = html.unescape(re.sub(r"<[^>]+>", "", m.group("body")))
            if shows_generated_source(text) and m.group("lang") != "console":
                seen += 1
                assert m.group("lang") == "python", f"{page}: generated source shown as " \
                                                    f"{m.group('lang')}: {text[:80]!r}"
                assert 'class="k">def</span>' in m.group("body"), f"{page}: not highlighted"
    assert seen >= 10


def check_long_lines_wrap(site):
    """Code blocks wrap lines longer than the column (a generated gradient's docstring is
    about 90 characters) instead of scrolling their ends out of sight."""
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "stylesheets/extra.css" in index
    css = (site / "stylesheets" / "extra.css").read_text(encoding="utf-8")
    rule = re.search(r"\.md-typeset pre > code\s*\{([^}]*)\}", css)
    assert rule and re.search(r"white-space:\s*pre-wrap", rule.group(1)), css
