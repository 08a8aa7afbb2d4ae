"""The front end's passes on their own: validate, control, scope, naming, desugar, aliasing,
and the driver's two modes."""
import ast
import textwrap

import gast
import numpy as np
import pytest

from srcgrad.aliasing import MAY_RETURN_FIRST_ARGUMENT, VIEW_FUNCTIONS, shared_source
from srcgrad.control import restructure_jumps, restructure_returns
from srcgrad.desugar import stacks
from srcgrad.errors import NonScalarResultError, UnsupportedSyntaxError
from srcgrad.ir import Assign, Namer
from srcgrad.naming import describe
from srcgrad.normalize import normalize
from srcgrad.scope import assigned_names, lookup_chain, lookup_name
from srcgrad.source import parse_function
from srcgrad.validate import reject_unsupported


def body(text):
    return gast.parse(textwrap.dedent(text)).body


def unparse(stmts):
    return ast.unparse(gast.gast_to_ast(gast.Module(body=stmts, type_ignores=[])))


def expr(text):
    return gast.parse(text).body[0].value


# --- validate ----------------------------------------------------------------------------

def guarded(x):
    y = x * 2.0
    try:
        y = y + 1.0
    except ValueError:
        pass
    return np.sum(y)


def test_validate_refuses_a_try_at_its_line():
    parsed = parse_function(guarded)
    with pytest.raises(UnsupportedSyntaxError) as info:
        reject_unsupported(parsed, parsed.node.body)
    assert info.value.construct == "`try` statement"
    assert info.value.lineno == guarded.__code__.co_firstlineno + 2
    assert info.value.hint.startswith("move error handling outside the differentiated function")


def test_validate_leaves_a_nested_def_to_be_checked_when_called():
    reject_unsupported(None, body("""
        def helper(z):
            yield z
        y = 1
    """))               # no error: the nested function's body is its own scope


# --- control -----------------------------------------------------------------------------

def test_restructure_returns_moves_the_rest_into_the_branch_that_does_not_return():
    stmts = restructure_returns(body("""
        if x > 0:
            return x
        y = x * 2
        return y
    """), Namer(set()))
    assert unparse(stmts) == "if x > 0:\n    return x\nelse:\n    y = x * 2\n    return y"


def test_a_return_inside_a_loop_becomes_a_break():
    stmts = restructure_returns(body("""
        for i in range(3):
            if i == 2:
                return i
        return 0
    """), Namer(set()))
    assert unparse(stmts) == textwrap.dedent("""\
        returned = False
        for i in range(3):
            if i == 2:
                early_result = i
                returned = True
                break
        if returned:
            return early_result
        else:
            return 0""")


def test_restructure_jumps_drops_what_follows_a_jump():
    stmts = restructure_jumps(body("""
        if a:
            continue
        b = 1
        break
        c = 2
    """))
    assert unparse(stmts) == "if a:\n    continue\nelse:\n    b = 1\n    break"


# --- scope -------------------------------------------------------------------------------

SCALE = 3.0


def test_lookup_name_reads_closure_then_globals_then_builtins():
    SCALE = 5.0                                  # noqa: N806 (shadows the global)

    def f(x):
        return x * SCALE + abs(x) + np.sum(x)
    assert lookup_name(f, "SCALE") == 5.0
    assert lookup_name(f, "np") is np
    assert lookup_name(f, "abs") is abs
    assert lookup_name(f, "SCALE", {"SCALE": 7.0}) == 7.0
    with pytest.raises(AttributeError):
        lookup_name(f, "no_such_name")
    assert lookup_chain(f, expr("np.linalg.norm")) is np.linalg.norm
    assert lookup_chain(f, expr("alias.pi"), {"alias": np}) == np.pi


def test_assigned_names_include_rebound_arrays_and_not_a_comprehensions_own():
    assert assigned_names(body("""
        out[i] = v
        ys = [k * 2 for k in xs]
        xs.append(1)
    """)) == {"out", "ys", "xs"}


# --- naming ------------------------------------------------------------------------------

@pytest.mark.parametrize("text,name", [
    ("X @ w", "X_at_w"), ("x ** 2", "x_sq"), ("3 * b", "b_times_three"),
    ("np.tanh(z)", "tanh_z"), ("-x", "neg_x"), ("a < b", "mask"), ("x[0]", "x_item")])
def test_describe_names_a_value_after_what_it_computes(text, name):
    assert describe(expr(text), lambda node: True) == name


# --- desugar -----------------------------------------------------------------------------

def test_stacks_are_lists_only_pushed_and_popped():
    func = gast.parse(textwrap.dedent("""
        def g(x):
            tape = []
            other = []
            tape.append(x)
            other.append(x)
            y = tape.pop()
            return other
    """)).body[0]
    assert stacks(func) == {"tape"}


# --- aliasing ----------------------------------------------------------------------------

def updates_a_view(w):
    v = w.reshape(-1)
    w += 1.0
    return np.sum(v)


def updates_a_copy(w):
    v = np.array(w)
    w += 1.0
    return np.sum(v * w)


def test_an_in_place_update_of_an_array_read_under_another_name_is_refused():
    with pytest.raises(UnsupportedSyntaxError) as info:
        normalize(parse_function(updates_a_view))
    assert info.value.reason == ("`w += ...` updates in place an array that `v` also refers "
                                 "to, and `v` is read afterwards")
    assert info.value.lineno == updates_a_view.__code__.co_firstlineno + 2
    normalize(parse_function(updates_a_copy))     # a copy shares nothing


def test_one_table_of_view_returning_functions():
    assert shared_source(expr("np.transpose(a)")) == "a"
    assert shared_source(expr("a.T")) == "a"
    assert shared_source(expr("np.array(a)")) is None       # a copy (the suggested fix)
    assert MAY_RETURN_FIRST_ARGUMENT - VIEW_FUNCTIONS == {"array"}


# --- the driver's two modes ----------------------------------------------------------------

def two_results(x):
    y = x * 2.0
    return y, np.sin(y)


def test_forward_mode_allows_a_tuple_result_reverse_mode_does_not():
    with pytest.raises(NonScalarResultError):
        normalize(parse_function(two_results))
    normal = normalize(parse_function(two_results), mode="forward")
    assert [(s.targets, unparse([gast.Expr(value=s.value)])) for s in normal.body
            if isinstance(s, Assign)] == [
        (["y"], "x * 2.0"), (["sin_y"], "np.sin(y)"), (["two_results"], "(y, sin_y)")]
    with pytest.raises(ValueError):
        normalize(parse_function(two_results), mode="sideways")


# --- cse.py: a value computed twice is computed once ----------------------------------------
def softmax_written_twice(y, w):
    p = np.exp(y * w) / np.sum(np.exp(y * w))
    q = np.random.default_rng(0).normal() + np.random.default_rng(0).normal()   # not merged
    for t in range(3):
        w = np.tanh(w * y) + np.tanh(w * y)                      # merged afresh each iteration
    return np.sum(p * w) + q


def test_cse_merges_repeated_pure_computations_only():
    from srcgrad.ir import flatten
    from support import check
    normal = normalize(parse_function(softmax_written_twice))
    sources = [unparse_value(s.value) for s in flatten(normal.body) if isinstance(s, Assign)]
    assert sum(s.startswith("np.exp(") for s in sources) == 1
    assert sum(s.startswith("np.tanh(") for s in sources) == 1        # once per iteration
    assert sum(".normal()" in s for s in sources) == 2                # random draws stay two
    check(softmax_written_twice, np.array([0.3, -1.2, 0.5]), np.array([0.7, 0.1, -0.4]),
          wrt=(0, 1))


def unparse_value(node):
    return ast.unparse(gast.gast_to_ast(node))


# --- parameters: a container argument's leaves, inputs of the normalized function ------------

def _two_layers(params, X):
    h = np.tanh(X @ params["layers"][0]["W"])
    if np.sum(params["scale"]) > 0.0:
        h = h * params["scale"]
    return np.sum(h @ params["layers"][1]["W"])


def test_parameters_makes_the_leaves_inputs_and_the_argument_a_known_container():
    from srcgrad import ir, parameters
    from srcgrad.emit import statement_source
    params = {"layers": [{"W": np.ones((2, 2))}, {"W": np.ones((2, 1))}], "scale": 2.0}
    leaves, layout = parameters.flatten(params)
    assert len(leaves) == 3 and layout == (
        "dict", (("layers", ("list", (("dict", (("W", "leaf"),)), ("dict", (("W", "leaf"),))))),
                 ("scale", "leaf")))
    assert parameters.unflatten(layout, [1, 2, 3]) == {"layers": [{"W": 1}, {"W": 2}], "scale": 3}
    assert parameters.leaves_of(layout, {"layers": [{"W": 1}, {"W": 2}], "scale": 3}) == [1, 2, 3]
    normal = normalize(parse_function(_two_layers), layouts={"params": layout})
    assert normal.params == ["params", "X", "layers_0_W", "layers_1_W", "scale"]
    assert normal.leaves == {"params": ["layers_0_W", "layers_1_W", "scale"]}
    dumped = ir.dump(normal.body)
    # static reads are the leaves themselves; the condition, kept whole, reads the argument
    assert "X_at_layers_0_W = X @ layers_0_W" in dumped
    assert "np.sum(params['scale']) > 0.0" in dumped
    assert "params['layers']" not in dumped.replace("params['scale']", "")
    lines = parameters.read_lines(normal.leaves, {"params": layout}, 1)
    assert [statement_source(line.stmt).strip() for line in lines] == [
        "layers_0_W = params['layers'][0]['W']", "layers_1_W = params['layers'][1]['W']",
        "scale = params['scale']"]
