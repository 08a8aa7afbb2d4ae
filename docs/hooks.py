"""MkDocs hooks: the parts of the site that are read from the code when the site is built.

A page asks for generated content with an HTML comment on a line of its own (invisible
when the Markdown is read on GitHub):

    <!-- srcgrad: rule-table -->
        the derivative rules, rendered from srcgrad.rules (RULES grouped by family, those
        of scipy.special in a section of their own when SciPy is installed; each rule's
        template lambda as its formula), then the functions with no derivative,
        the array methods, attributes and builtins srcgrad maps to NumPy functions
    <!-- srcgrad: api srcgrad.grad -->
        the signature and docstring of an object (a dotted name importable from srcgrad)
    <!-- srcgrad: include bench/README.md ## Latest results -->
        one section of a file of the repository, from its heading to the next heading
        of the same or a higher level (the heading itself left out)

An unknown marker, a missing object or a missing section stops the build.
"""
import ast
import html
import importlib
import inspect
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:          # document the checkout the site is built from
    sys.path.insert(0, ROOT)

MARKER = re.compile(r"^<!-- srcgrad: (?P<what>[\w-]+)(?: (?P<arg>.*?))? -->[ \t]*$", re.M)


def on_page_markdown(markdown, page, config, files, **kwargs):
    return MARKER.sub(lambda m: _expand(m.group("what"), m.group("arg"), page), markdown)


def _expand(what, arg, page):
    if what == "rule-table":
        return rule_table()
    if what == "api":
        return api_entry(arg)
    if what == "include":
        path, _, heading = arg.partition(" ")
        return include_section(path, heading)
    raise ValueError(f"{page.file.src_path}: unknown marker <!-- srcgrad: {what} -->")


# --- the rule table --------------------------------------------------------------------------

# How rules that are not NumPy functions are written in user code.
_SPELLED = {"indexing": "a[index]", "with_set": "a[index] = value", "np.r_": "np.r_[a, b, ...]",
            "np.c_": "np.c_[a, b, ...]"}


def _lambdas(module):
    """(source lines, {(first line, argument names): lambda node}) for every lambda in a
    module's source."""
    source = inspect.getsource(module)
    found = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Lambda):
            names = tuple(a.arg for a in node.args.posonlyargs + node.args.args)
            found[(node.lineno, names)] = node
    return source.splitlines(), found


def _template(func, source, found):
    """(parameters, body) of a template lambda, as they are written in the source."""
    code = func.__code__
    names = code.co_varnames[:code.co_argcount]
    node = found.get((code.co_firstlineno, names))
    if node is None:
        raise ValueError(f"cannot find the source of the template {func!r} "
                         f"(line {code.co_firstlineno})")
    text = _segment(source, node)
    params = text[len("lambda"):text.index(":", len("lambda"))].strip()
    return params, _segment(source, node.body)


def _segment(source, node):
    """The source text of a node (ast.get_source_segment, without re-splitting the whole
    source at every call). Column offsets count UTF-8 bytes."""
    lines = source if isinstance(source, list) else source.splitlines()
    first, last = node.lineno - 1, node.end_lineno - 1
    encoded = [line.encode("utf-8") for line in lines[first:last + 1]]
    if first == last:
        return encoded[0][node.col_offset:node.end_col_offset].decode("utf-8")
    parts = [encoded[0][node.col_offset:]] + encoded[1:-1] + [encoded[-1][:node.end_col_offset]]
    return b"\n".join(parts).decode("utf-8")


def _families(doc):
    """{family: description} from the 'Families:' list in srcgrad.rules' docstring."""
    families, current = {}, None
    for line in doc.split("Families:", 1)[-1].splitlines():
        entry = re.match(r"^  (\w+)\s{2,}(.*)$", line)
        if entry:
            current = entry.group(1)
            families[current] = entry.group(2).strip()
        elif current and line.startswith("    ") and line.strip():
            families[current] += " " + line.strip()
        elif not line.strip():
            current = None
    return families


_FAMILY_TITLES = {"elementwise": "Elementwise", "reduction": "Reductions",
                  "vjp": "Other functions (vector–Jacobian products)", "scatter": "Indexing",
                  "scipy": "SciPy: scipy.special", "complex": "Complex values and the FFT",
                  "scipy.stats": "SciPy: scipy.stats", "scipy.linalg": "SciPy: scipy.linalg",
                  "scipy.signal": "SciPy: scipy.signal"}
_SECTIONS = {"scipy": "the functions of `scipy.special`, when SciPy is installed (srcgrad needs only "
                      "NumPy; these rules are registered once SciPy is imported). Each is "
                      "elementwise (broadcasting), a reduction (logsumexp) or a "
                      "vector–Jacobian product (softmax, log_softmax), as the families above.",
             "complex": "a real loss of real parameters through complex values. The adjoint of "
                        "z = u + iv is ∂L/∂u − i ∂L/∂v (see [complex values](how-it-works.md#complex-values)): "
                        "the rules above hold as they are for complex values, these are the ones "
                        "that are not holomorphic, and the FFTs (`g` has the result's full shape).",
             "scipy.stats": "the distributions of `scipy.stats` as they are called, "
                            "`stats.norm.logpdf(x, loc, scale)` (by position or keyword), in `x`, "
                            "`loc`, `scale` and the shape parameters; `z` is `(x - loc) / scale`, "
                            "`score` the standard distribution's d log f / dz and `dist` the "
                            "distribution (both named in the generated code). A cdf (logcdf, sf, "
                            "logsf) in a shape parameter raises `NoDerivativeRuleError`, and so do "
                            "the methods of frozen distributions (`stats.norm(mu, s).logpdf(x)`).",
             "scipy.linalg": "the functions of `scipy.linalg` on one matrix (not stacks). "
                             "`cholesky` and `cho_factor` read one triangle of `a`, and their "
                             "gradient is on that triangle; `cho_factor`'s result goes to "
                             "`cho_solve` written out: `c, low = cho_factor(a)`, then "
                             "`cho_solve((c, low), b)` (forward mode through `c` is refused); `lu_factor` "
                             "and `lu_solve` alike. "
                             "`solve` and `inv` with `assume_a=None` only.",
             "scipy.signal": "`scipy.signal.convolve`, modes full, same and valid, in both inputs."}


def _code(text):
    return "<code>" + html.escape(text) + "</code>"


def _table(header, rows):
    out = ["<table>", "<thead><tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr></thead>",
           "<tbody>"]
    out += ["<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows]
    out.append("</tbody></table>")
    return "\n".join(out)


def _np_name(func):
    for prefix, owner in (("np.", "numpy"), ("np.linalg.", "numpy.linalg")):
        module = importlib.import_module(owner)
        if getattr(module, getattr(func, "__name__", ""), None) is func:
            return prefix + func.__name__
    return getattr(func, "__name__", repr(func))


def _names(rule):
    """The rule's name, and NumPy's own name for the function when that differs
    (np.mod is np.remainder)."""
    names = [rule.name]
    own = "np." + getattr(rule.func, "__name__", "")
    if rule.name.startswith("np.") and own != rule.name and own.count(".") == rule.name.count(".") \
            and getattr(importlib.import_module("numpy"), own[3:], None) is rule.func:
        names.append(own)
    return names


def rule_groups():
    """{family: [(names, parameters, adjoints)]} from srcgrad.rules.RULES, in registration
    order; aliases that share a template (max, amax, min, amin) are one entry."""
    from srcgrad import rules

    rules.load_scipy(import_it=True)   # SciPy's section too, when it is installed
    source, found = _lambdas(rules)
    grouped = {}                      # family (or section) -> [[names, template]]
    for rule in rules.RULES.values():
        entries = grouped.setdefault(rule.section or rule.family, [])
        if not entries or entries[-1][1] is not rule.template:
            entries.append([[], rule.template])
        entries[-1][0] += [n for n in _names(rule) if n not in entries[-1][0]]
    return {family: [(names,) + _template(template, source, found) for names, template in entries]
            for family, entries in grouped.items()}


def rule_table():
    from srcgrad import rules

    source, found = _lambdas(rules)   # for the building blocks below
    families = dict(_families(rules.__doc__ or ""), **_SECTIONS)
    groups = rule_groups()
    total = sum(len(entries) for entries in groups.values())
    out = [f"{len(rules.RULES)} functions, {total} rules, read from `srcgrad.rules.RULES`.", ""]
    for family, entries in groups.items():
        out += [f"## {_FAMILY_TITLES.get(family, family.capitalize())}", ""]
        if family in families:
            out += [f"*{family}*: {families[family]}", ""]
        table = [[", ".join(_code(_SPELLED.get(n, n)) for n in names), _code(params), _code(body)]
                 for names, params, body in entries]
        out += [_table(["function", "parameters", "adjoint(s)"], table), ""]

    out += ["## Building blocks", "",
            "Templates call these small lambdas; srcgrad pastes their bodies in place.", ""]
    macros = []
    for name, func in rules.MACROS.items():
        params, body = _template(func, source, found)
        macros.append([_code(name), _code(params), _code(body)])
    out += [_table(["name", "parameters", "value"], macros), ""]
    out += ["The larger adjoints are functions in `srcgrad/runtime.py` (those of the FFT in "
            "`srcgrad/fft_adjoints.py`), called by the generated code:", ""]
    helpers = [[_code(h.__name__), html.escape((inspect.getdoc(h) or "").split("\n\n")[0]
                                               .replace("\n", " "))] for h in rules.HELPERS]
    out += [_table(["helper", "what it computes"], helpers), ""]

    out += ["## No derivative", "",
            "These functions give no gradient to their arguments (their results are integers, "
            "booleans, or constant in each float argument wherever they are continuous). Using them on values that carry a "
            "gradient is fine; nothing flows back through them. Each is checked by a test "
            "that moves its float arguments and sees its result stay put. The functions of "
            "`np.random` are constants when drawn from constants; given a value with a gradient "
            "(`rng.normal(mu, 1.0)`) they raise `NoDerivativeRuleError`, like any function "
            "without a rule.", ""]
    out += [", ".join(_code(n) for n in sorted(_np_name(f) for f in rules.NONDIFF)), ""]

    out += ["## Methods, attributes and builtins", "",
            "Array methods and attributes, and some builtins and `math` functions, are "
            "differentiated as the NumPy function they stand for.", ""]
    mapped = [[_code(f"x.{name}(...)"), _code(_np_name(func))]
              for name, func in rules.METHODS.items()]
    mapped += [[_code(f"x.{name}"), _code(_np_name(func))]
               for name, func in rules.ATTRIBUTES.items()]
    for builtin, func in rules.BUILTINS.items():
        prefix = "math." if getattr(builtin, "__module__", None) == "math" else ""
        mapped.append([_code(f"{prefix}{builtin.__name__}(...)"), _code(_np_name(func))])
    out += [_table(["written as", "differentiated as"], mapped), ""]
    out += ["Shape attributes are constants: " +
            ", ".join(_code("x." + a) for a in sorted(rules.SHAPE_ATTRIBUTES)) + ".", ""]
    return "\n".join(out)


# --- API entries -----------------------------------------------------------------------------

def api_entry(dotted):
    obj = None
    for split in range(dotted.count("."), 0, -1):    # srcgrad.GradientFunction.source, ...
        parts = dotted.split(".")
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for part in parts[split:]:
            obj = getattr(obj, part)
        break
    if obj is None:
        raise ValueError(f"cannot import {dotted}")
    doc = inspect.getdoc(obj)
    if not doc:
        raise ValueError(f"{dotted} has no docstring")
    if isinstance(obj, property):
        shown = dotted
    elif inspect.isclass(obj):
        bases = ", ".join(b.__name__ for b in obj.__bases__)
        shown = f"class {dotted}({bases})"
    else:
        shown = f"{dotted}{inspect.signature(obj)}"
    return f"```python\n{shown}\n```\n\n{doc}\n"


# --- include a section of another file -------------------------------------------------------

def include_section(path, heading):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        lines = f.read().splitlines()
    level = len(heading) - len(heading.lstrip("#"))
    try:
        start = lines.index(heading) + 1
    except ValueError:
        raise ValueError(f"{path} has no heading {heading!r}") from None
    end = len(lines)
    for i in range(start, len(lines)):
        m = re.match(r"^(#+) ", lines[i])
        if m and len(m.group(1)) <= level:
            end = i
            break
    return "\n".join(lines[start:end]).strip() + "\n"
