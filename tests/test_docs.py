"""The documentation lists exactly what the rule registry holds."""
import os
import re

from srcgrad import rules

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_supported_page_names_every_rule():
    text = open(os.path.join(ROOT, "docs", "supported.md")).read()
    words = set(re.findall(r"[a-z_0-9.]+", text))
    rules.load_scipy(import_it=True)
    names = [re.sub(r"^(np|scipy\.special)\.", "", r.name) for r in rules.RULES.values()]
    missing = sorted(n for n in names if n not in words)
    assert not missing, f"docs/supported.md does not mention: {missing}"


# --- README's support list and docs/supported.md say the same ---------------------------------

def _normalized(text):
    return re.sub(r"\s+", " ", text)


def readme_support_list():
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    return _normalized(readme.split("## What is supported\n", 1)[1].split("\n## ", 1)[0])


def supported_page():
    return _normalized(open(os.path.join(ROOT, "docs", "supported.md"), encoding="utf-8").read())


def language_rows():
    """The rows of the Language table of docs/supported.md."""
    text = open(os.path.join(ROOT, "docs", "supported.md"), encoding="utf-8").read()
    table = text.split("## Language\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in table.splitlines()
            if line.startswith("| ") and not line.startswith("| Construct")]


# Each construct and function family, as a pattern that finds it in both texts. Every row of
# the Language table must be one of these, so a row added to docs/supported.md fails here until
# the README names it too.
FAMILIES = {
    "assignment": r"re-assignment",
    "operators": r"`\+ - \* / \*\* @",
    "NumPy calls with keywords": r"keyword arguments",
    "array methods": r"array methods",
    "attributes": r"`x\.T`",
    "branches": r"`elif`",
    "early returns": r"early (and multiple )?`?return",
    "loops": r"`while`",
    "loops over sequences": r"`enumerate",
    "arrays unpacked into names": r"a, b = theta",
    "indexing reads": r"masks",
    "arguments not differentiated": r"not differentiated",
    "print, assert, logging": r"logging",
    "checks that raise": r"raise ValueError",
    "np.errstate": r"np\.errstate",
    "unused statements": r"value is not used",
    "calls to your own functions": r"calls to your own",
    "what can be differentiated": r"functools\.partial",
    "math functions": r"`math` functions",
    "literals at constant keys": r"constant keys",
    "lists passed whole": r"passed whole",
    "np.array of lists": r"`np\.array`",
    "index known only at run time": r"known only at run time",
    "parameter containers": r"parameter containers",
    "keys from loop counters": r"str\(l\)",
    "records": r"namedtuple",
    "a list of numbers as the argument": r"list of numbers",
    "recursive functions": r"recursive functions",
    "custom rules": r"custom_vjp",
    "writing into arrays": r"writ\w* into arrays",
    "dicts filled item by item": r"item by item",
    "lists built in loops": r"lists built (in loops|while the code runs)",
    "refused: a dict used as a whole": r"used as a whole",
    "refused: nested recursion": r"recursive function (nested in|defined inside) another",
    "refused: in-place updates seen by another name": r"in-place updates",
    "refused: try, other with blocks, generators": r"`try`",
    "results of size 1": r"size 1",
    "refused: results that are not scalars": r"not a scalar",
    "refused: source that cannot be read": r"source cannot be read",
    # the derivative rules, by family
    "elementwise": r"elementwise",
    "reductions": r"reductions",
    "linear algebra": r"linear algebra",
    "shape functions": r"shape",
    "building arrays": r"building arrays",
    "indexing": r"indexing",
    "scipy.special": r"scipy\.special",
    "no derivative": r"no derivative",
}


def test_readme_and_supported_page_name_the_same_families():
    readme, page = readme_support_list(), supported_page()
    missing = {where: [family for family, pattern in FAMILIES.items()
                       if not re.search(pattern, text, re.I)]
               for where, text in (("README.md", readme), ("docs/supported.md", page))}
    assert missing == {"README.md": [], "docs/supported.md": []}, missing


def test_every_row_of_the_supported_table_is_a_family():
    unnamed = [row.split("|")[1].strip()[:80] for row in language_rows()
               if not any(re.search(p, row, re.I) for p in FAMILIES.values())]
    assert not unnamed, ("rows of docs/supported.md's Language table that README.md does not "
                         f"name (add each to FAMILIES and to the README's support list): {unnamed}")


def test_every_name_in_the_readme_support_list_is_on_the_supported_page():
    """The names in the README's code spans (functions, statements, methods) appear on
    docs/supported.md, so the README promises nothing the page does not cover."""
    page_names = {name.rstrip(".") for name in re.findall(r"[A-Za-z_][\w.]*", supported_page())}
    missing = set()
    prose = re.sub(r"```.*?```", "", readme_support_list())      # code spans, not blocks
    for span in re.findall(r"`([^`]+)`", prose):
        if re.fullmatch(r"[\w/]+\.py", span):          # a file of the repository
            continue
        missing |= {name.rstrip(".") for name in re.findall(r"[A-Za-z_][\w.]*", span)
                    if name.rstrip(".") not in page_names}
    assert not missing, f"named in README.md's support list, not on docs/supported.md: {sorted(missing)}"


def test_the_agreement_checks_notice_a_difference():
    row = "| a construct nobody has heard of | supported |"
    assert not any(re.search(p, row, re.I) for p in FAMILIES.values())
    assert not re.search(FAMILIES["records"], "lists, dicts and tuples", re.I)
