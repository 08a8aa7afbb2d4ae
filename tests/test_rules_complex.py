"""Tests of the rules for complex values and the FFT (srcgrad/rules.py, "complex numbers and
the FFT"; srcgrad/fft_adjoints.py).

Each loss is real and its parameters real; complex values appear in between.  Gradients are
checked against central finite differences in float64, and in float32 (complex64 in between)
against the float64 gradient; tangents (`@case`) against differences along random directions.
The real FFTs are checked at even and odd lengths, where the frequencies irfft reads twice
differ.  Both modes: see tests/README.md.
"""
import numpy as np
import pytest
from support import RuleTests, check, check_jvp, numerical_gradient, uniform

import srcgrad
from srcgrad.fft_adjoints import fft_adjoint, ifft_adjoint, irfft_adjoint, rfft_adjoint, sign_conj

RULE_TESTS = RuleTests()         # this family's rules: forward cases, reverse tests
case, reverse = RULE_TESTS.case, RULE_TESTS.reverse


def crand(shape, seed=0):
    """A complex array, real and imaginary parts uniform in (-1, 1)."""
    return uniform(shape, seed=seed) + 1j * uniform(shape, seed=seed + 100)


def check_float32(f, *args, wrt=0):
    """The gradient of float32 arguments is float32, real, and close to the float64 one."""
    want = srcgrad.grad(f, wrt=wrt)(*args)
    args32 = [a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype == np.float64 else a
              for a in args]
    got = srcgrad.grad(f, wrt=wrt)(*args32)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-4)


# --- real, imag, conj, angle, abs --------------------------------------------------------

W = crand((3, 4), seed=1)         # complex data the losses combine the parameters with


@reverse(np.real, np.imag, np.conjugate)
def test_real_imag_conj():
    def f(x, y):
        z = (x + 1j * y) * W
        return np.sum(np.real(z) ** 2 * np.imag(z)) + np.sum(np.real(np.conj(z) * W))
    x, y = uniform((3, 4), seed=2), uniform((3, 4), seed=3)
    check(f, x, y, wrt=(0, 1))
    check_float32(f, x, y)


def test_attributes_and_methods():
    """`.real`, `.imag`, `.conj()` and `.conjugate()` are the functions."""
    def f(x):
        z = np.exp(1j * x) * W
        return np.sum(z.real * z.imag) + np.sum((z.conj() * z.conjugate()).real)
    x = uniform((3, 4), seed=4)
    check(f, x)
    check_float32(f, x)


@reverse(np.angle)
@pytest.mark.parametrize("deg", [False, True])
def test_angle(deg):
    def f(x):
        return np.sum(np.angle(W * (1.0 + 0.5j * x), deg=deg) ** 2)
    x = uniform((3, 4), seed=5)
    check(f, x)


@reverse(np.absolute)
def test_abs_of_complex():
    """|z|, abs(z) and np.abs: a real result of complex values, its adjoint's imaginary part
    (from `r * exp(1j * x)`, where r feeds a complex product) discarded."""
    def f(x, y):
        z = x + 1j * y
        r = np.abs(z) * abs(W)
        return np.sum(np.abs(r * np.exp(1j * x) + W) ** 3)
    x, y = uniform((3, 4), seed=6), uniform((3, 4), seed=7)
    check(f, x, y, wrt=(0, 1))
    check_float32(f, x, y)


@reverse(sign_conj)
def test_slope_of_abs():
    """sign_conj(x), the slope of |x| in generated gradients: np.sign of real values (flat),
    conj(z) / |z| of complex ones (turning with z), 0 at 0."""
    def f(x, y):
        return np.sum(np.real(sign_conj(x + 1j * y) * W)) + np.sum(sign_conj(x) * y)
    x, y = uniform((3, 4), seed=45), uniform((3, 4), seed=46)
    check(f, x, y, wrt=(0, 1))
    np.testing.assert_array_equal(sign_conj(np.array([-2.0, 0.0, 3.0])), [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(sign_conj(np.array([3 + 4j, 0j])), [0.6 - 0.8j, 0])


def test_abs_closed_form():
    """d|x + iy|/dx = x / |x + iy|, d/dy = y / |x + iy|."""
    x, y = uniform((5,), seed=8), uniform((5,), seed=9)
    dx, dy = srcgrad.grad(lambda x, y: np.sum(np.abs(x + 1j * y)), wrt=(0, 1))(x, y)
    np.testing.assert_allclose(dx, x / np.hypot(x, y), rtol=1e-12)
    np.testing.assert_allclose(dy, y / np.hypot(x, y), rtol=1e-12)
    assert dx.dtype == np.float64


# --- the rules for real values, reached by complex ones: holomorphic, unchanged ------------

@reverse(np.exp, np.log, np.sin, np.cos, np.multiply, np.divide, np.power, np.square, np.sqrt)
def test_holomorphic_functions():
    def f(x):
        z = x * W + 2.0
        w = np.exp(z) / (1.0 + z ** 2) + np.log(z) * np.sin(z) - np.cos(z) / z + np.square(z) * np.sqrt(z)
        return np.sum(np.abs(w) ** 2) + np.sum(np.real(z ** x))
    x = uniform((3, 4), 0.5, 1.5, seed=10)
    check(f, x)
    check_float32(f, x)


HOLOMORPHIC = [np.negative, np.positive, np.square, np.sqrt, np.reciprocal, np.exp, np.exp2, np.expm1,
               np.log, np.log2, np.log10, np.log1p, np.sin, np.cos, np.tan, np.arcsin, np.arccos,
               np.arctan, np.sinh, np.cosh, np.tanh, np.arcsinh, np.arccosh, np.arctanh]


@reverse(*HOLOMORPHIC)
@pytest.mark.parametrize("fn", HOLOMORPHIC, ids=[fn.__name__ for fn in HOLOMORPHIC])
def test_each_holomorphic_function_of_complex_values(fn):
    """Complex values on both sides of the real axis (where arccosh's derivative is
    1 / (sqrt(z - 1) sqrt(z + 1)), not 1 / sqrt(z^2 - 1)); both modes."""
    def f(x):
        z = x * W + np.array([[0.3], [-2.0], [2.0]])
        return np.sum(np.abs(fn(z)) ** 2)
    x = uniform((3, 4), 0.2, 1.0, seed=17)
    check(f, x)
    check_jvp(f, x)


@reverse(np.sum, np.mean, np.matmul, np.dot, np.reshape, np.transpose)
def test_linear_maps_of_complex():
    """Sums, products and shapes of complex values: their adjoints are the transposes, with
    no conjugate."""
    A = crand((4, 3), seed=11)

    def f(x):
        z = np.exp(1j * x)                       # (3, 4)
        m = z @ A + np.dot(W, z.T) + np.reshape(z, (4, 3)).T[:, :3]
        s = np.sum(m, axis=0) * np.mean(z)
        return np.sum(np.abs(m[1:, ::2]) ** 2) + np.abs(np.sum(s)) + np.real(np.transpose(z)[2, 1])
    x = uniform((3, 4), seed=12)
    check(f, x)
    check_float32(f, x)


V = crand((4,), seed=18)


def written_row(x):
    z = np.zeros((3, 4), dtype=complex)
    z[1] = x[1] * V
    return np.sum(np.abs(z + W) ** 2)


REACHED = {   # rules of other families, reached by complex values: as they are
    "divide": lambda x: np.sum(np.abs((x + W) / (V + x)) ** 2),
    "power": lambda x: np.sum(np.abs((x * W + 2) ** (V * x[0])) ** 2) + np.sum(np.abs(x ** (V + 1j * x)) ** 2),
    "maximum": lambda x: np.sum(np.abs(np.maximum(W, x * V)) ** 2) + np.abs(np.max(x * W)),
    "full": lambda x: np.sum(np.abs(np.full((2, 3), x[0, 0] * (1 + 1j)) * W[:2, :3]) ** 2),
    "where": lambda x: np.sum(np.abs(np.where(x > 0.5, x * W, W)) ** 2),
    "einsum": lambda x: np.sum(np.abs(np.einsum("ij,j->i", x * W, V)) ** 2),
    "prod-cumsum": lambda x: np.abs(np.prod(x * W)) + np.sum(np.abs(np.cumsum(x * W, axis=1)) ** 2),
    "inv-solve-det": lambda x: (np.sum(np.abs(np.linalg.inv(x[:, :3] * W[:, :3] + 2 * np.eye(3))) ** 2)
                                + np.sum(np.abs(np.linalg.solve(x[:, :3] * W[:, :3] + 2 * np.eye(3), V[:3])) ** 2)
                                + np.abs(np.linalg.det(x[:, :3] * W[:, :3] + 2 * np.eye(3)))),
    "joins": lambda x: np.sum(np.abs(np.concatenate([x * W, W])) ** 2) + np.abs(np.mean(np.stack([x * W, W]), axis=0)).sum(),
    "products": lambda x: (np.abs(np.tensordot(x * W, W, 2)) + np.sum(np.abs(np.outer(x[0] * V, W[1])) ** 2)
                           + np.sum(np.abs(np.inner(x * W, V)) ** 2)),
    "trace-diag": lambda x: np.abs(np.trace(x[:, :3] * W[:, :3])) + np.sum(np.abs(np.diag(x[:, :3] * W[:, :3]))),
    "write": written_row,
}


@pytest.mark.parametrize("name", list(REACHED))
def test_rules_reached_by_complex_values(name):
    x = uniform((3, 4), 0.2, 1.0, seed=19)
    check(REACHED[name], x)
    check_jvp(REACHED[name], x)


@reverse(np.vdot)
def test_vdot_conjugates_its_first_operand():
    def f(x, y):
        a = np.exp(1j * x) * W
        b = (y + 1j) * W
        return np.abs(np.vdot(a, b)) ** 2 + np.real(np.vdot(b, a * a))
    x, y = uniform((3, 4), seed=13), uniform((3, 4), seed=14)
    check(f, x, y, wrt=(0, 1))


def test_complex_data_reaching_abs():
    """Complex data combined with a real parameter: abs of it is complex abs."""
    def f(w, c):
        return np.sum(np.abs(w - c))
    w, c = uniform((6,), seed=15), crand((6,), seed=16)
    np.testing.assert_allclose(srcgrad.grad(f)(w, c), np.real(w - c) / np.abs(w - c), rtol=1e-12)
    check(f, w, c)


# --- the FFT -------------------------------------------------------------------------------

def weights_like(y):
    """Positive weights of y's shape, each element its own."""
    return uniform(np.shape(y), 0.5, 1.5, seed=np.size(y))


def spectral_loss(y, weights):
    """A real loss of a complex (or real) array, each element weighted differently."""
    return np.sum(weights * np.abs(y + 0.3) ** 2) + np.sum(np.real(y) * weights)


FFT_1D = [   # (function, n, axis, norm)
    (np.fft.fft, None, -1, None), (np.fft.fft, 7, -1, None), (np.fft.fft, 3, 0, "ortho"),
    (np.fft.ifft, None, -1, None), (np.fft.ifft, 8, -1, "forward"), (np.fft.ifft, 4, 0, None),
    (np.fft.rfft, None, -1, None), (np.fft.rfft, 7, -1, None), (np.fft.rfft, 4, 0, "ortho"),
    (np.fft.rfft, 9, 0, "forward"),
    (np.fft.irfft, None, -1, None), (np.fft.irfft, 7, -1, None), (np.fft.irfft, 10, -1, "ortho"),
    (np.fft.irfft, 3, 0, "forward"), (np.fft.irfft, 5, 0, None),
]
REAL_INPUT = (np.fft.rfft, np.fft.rfft2, np.fft.rfftn)


def fft_id(fn, *args):
    return fn.__name__ + "-" + ",".join(str(a) for a in args)


def check_transform(fn, args, x):
    """The gradient of a weighted loss of fn(z, *args) against finite differences."""
    real_input = fn in REAL_INPUT
    weights = weights_like(fn(x if real_input else x + 0j, *args))

    first, second, third = args

    def f(x):
        z = x if real_input else x + 1j * x ** 2
        return spectral_loss(fn(z, first, second, third), weights)
    check(f, x)


@reverse(np.fft.fft, np.fft.ifft, np.fft.rfft, np.fft.irfft)
@pytest.mark.parametrize("fn,n,axis,norm", FFT_1D, ids=[fft_id(*c) for c in FFT_1D])
@pytest.mark.parametrize("width", [5, 6])
def test_fft_1d(fn, n, axis, norm, width):
    """Along the last axis or axis 0, input lengths 5 and 6 (odd and even), `n` padding or
    cutting, each norm; the transforms of complex inputs get `x + 1j * x ** 2`."""
    check_transform(fn, (n, axis, norm), uniform((4, width), seed=21))


FFT_ND = [   # (function, s, axes, norm)
    (np.fft.fft2, None, (-2, -1), None), (np.fft.fft2, (3, 7), (-2, -1), None), (np.fft.fft2, None, (0, 2), "ortho"),
    (np.fft.ifft2, None, (-2, -1), None), (np.fft.ifft2, (5, 3), (-2, -1), "forward"),
    (np.fft.rfft2, None, (-2, -1), None), (np.fft.rfft2, (4, 4), (-2, -1), None), (np.fft.rfft2, None, (2, 0), "ortho"),
    (np.fft.irfft2, None, (-2, -1), None), (np.fft.irfft2, (2, 7), (-2, -1), None), (np.fft.irfft2, (3, 4), (1, 0), None),
    (np.fft.fftn, None, None, None), (np.fft.fftn, (2, 6), (1, 2), None), (np.fft.fftn, None, (1,), "forward"),
    (np.fft.ifftn, None, None, None), (np.fft.ifftn, (3, 2, 4), (0, 1, 2), "ortho"),
    (np.fft.rfftn, None, None, None), (np.fft.rfftn, (3, 5), (-2, -1), None), (np.fft.rfftn, None, (0, 1), "forward"),
    (np.fft.irfftn, None, None, None), (np.fft.irfftn, (4, 3, 5), (0, 1, 2), None), (np.fft.irfftn, None, (2, 1), "ortho"),
    (np.fft.irfftn, (6,), (-1,), None),
]


@reverse(np.fft.fft2, np.fft.ifft2, np.fft.rfft2, np.fft.irfft2, np.fft.fftn, np.fft.ifftn,
         np.fft.rfftn, np.fft.irfftn)
@pytest.mark.parametrize("fn,s,axes,norm", FFT_ND, ids=[fft_id(*c) for c in FFT_ND])
def test_fft_nd(fn, s, axes, norm):
    check_transform(fn, (s, axes, norm), uniform((3, 4, 5), seed=22))


def test_fft_keywords():
    """Keyword arguments bind to the rules' parameters."""
    def f(x):
        y = np.fft.rfft(x, n=7, axis=0, norm="ortho")
        z = np.fft.irfftn(y, s=(6, 3), axes=(0, 1), norm="forward")
        return spectral_loss(np.fft.fft2(z, s=(4, 3)) + 1j * x[:4, :3], 1.0)
    check(f, uniform((5, 4), seed=27))


@reverse(np.fft.fftshift, np.fft.ifftshift)
def test_fft_shifts():
    def f(x):
        y = np.fft.fftshift(np.fft.fft(x, axis=0), axes=0)
        return spectral_loss(y * np.arange(5)[:, None], np.abs(W[0])) + spectral_loss(np.fft.ifftshift(x * x), np.abs(W[1]))
    x = uniform((5, 4), seed=23)
    check(f, x)


def test_fft_round_trip_is_the_identity():
    """irfft(rfft(x)) is x, odd length included; ifft(fft(x)).real too: gradient 2 x."""
    for n in (6, 7):
        x = uniform((n,), seed=n)
        np.testing.assert_allclose(srcgrad.grad(lambda x: np.sum(np.fft.irfft(np.fft.rfft(x), n) ** 2))(x),
                                   2 * x, rtol=1e-12)
        np.testing.assert_allclose(srcgrad.grad(lambda x: np.sum(np.fft.ifft(np.fft.fft(x)).real ** 2))(x),
                                   2 * x, rtol=1e-12)


def test_parseval():
    """sum |fft(x)|^2 = n sum x^2: the gradient is 2 n x, real, in the argument's dtype."""
    for dtype in (np.float64, np.float32):
        x = uniform((8,), seed=24).astype(dtype)
        got = srcgrad.grad(lambda x: np.sum(np.abs(np.fft.fft(x)) ** 2))(x)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, 16 * x, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_power_spectrum_filter_float32():
    """A low-pass filter through rfft/irfft, in float32 (complex64 in between)."""
    def f(x, h):
        y = np.fft.irfft(np.fft.rfft(x) * h, n=x.shape[-1])
        return np.sum(y ** 2) + np.sum(np.abs(np.fft.fftshift(np.fft.fft2(x))))
    x, h = uniform((3, 9), seed=25), uniform((5,), seed=26)
    check(f, x, h, wrt=(0, 1))
    check_float32(f, x, h)


def test_fft_scalar_parameter():
    """A Python float parameter through complex values gets a float back."""
    def f(s):
        return np.sum(np.abs(np.fft.fft(s * np.arange(4.0) + 1j)) ** 2)
    got = check(f, 0.7)
    assert type(got) is float


def test_generated_source_reads_like_numpy():
    def f(x):
        return np.sum(np.abs(np.fft.rfft(x)))
    source = srcgrad.grad(f).source
    assert "rfft_adjoint(" in source and "sign_conj(rfft_x)" in source


# --- forward mode ----------------------------------------------------------------------------

def real_if_close_loss(x, y):
    z = x + 1j * (y * 1e-18)                 # imaginary parts negligible: the real part
    w = x + 1j * y                           # not negligible: the complex values themselves
    return np.sum(np.real_if_close(z) ** 2) + np.sum(np.abs(np.real_if_close(w) * W) ** 2)


@reverse(np.real_if_close)
def test_real_if_close_either_way():
    x, y = uniform((3, 4), seed=32), uniform((3, 4), seed=33)
    check(real_if_close_loss, x, y, wrt=(0, 1))


@case(np.real_if_close, uniform((3, 4), seed=34), uniform((3, 4), seed=35))
def real_if_close_values(x, y):
    return np.real_if_close(x + 1j * (y * 1e-18)) * 2.0, np.abs(np.real_if_close(x + 1j * y))


@case(np.real, uniform((3, 4), seed=30), uniform((3, 4), seed=31))
@case(np.imag, uniform((3, 4), seed=30), uniform((3, 4), seed=31))
@case(np.conjugate, uniform((3, 4), seed=30), uniform((3, 4), seed=31))
@case(np.absolute, uniform((3, 4), seed=30), uniform((3, 4), seed=31))
@case(np.angle, uniform((3, 4), seed=30), uniform((3, 4), seed=31))
def complex_parts(x, y):
    z = (x + 1j * y) * W
    return (np.real(z) * np.imag(z), np.real(np.conj(z) * W), np.abs(z), np.angle(z),
            np.angle(z, deg=True), z.imag + z.conj().real)


def fft_case(fn, shape, first, second=None, third=None):
    """A forward case of fn(z, first, second, third) and of fn with its defaults."""
    real_input = fn in REAL_INPUT

    def f(x):
        z = x if real_input else x + 1j * x ** 2
        return np.abs(fn(z) + 0.3), np.real(fn(z, first, second, third) * (1.0 - 0.5j))

    def shifts(x):
        return np.abs(fn(x + 1j * x ** 2) + 0.3), np.real(fn(x + 1j * x ** 2, first) * (1.0 - 0.5j))
    f = shifts if fn in (np.fft.fftshift, np.fft.ifftshift) else f
    f.__name__ = fn.__name__
    case(fn, uniform(shape, seed=32))(f)


fft_case(np.fft.fft, (4, 5), 7, 0, "ortho")
fft_case(np.fft.ifft, (4, 5), 3, -1, "forward")
fft_case(np.fft.rfft, (4, 5), 6, 0, None)
fft_case(np.fft.irfft, (4, 5), 7, 0, "ortho")
fft_case(np.fft.fft2, (3, 4, 5), (3, 2), (-2, -1), None)
fft_case(np.fft.ifft2, (3, 4, 5), None, (0, 1), "ortho")
fft_case(np.fft.rfft2, (3, 4, 5), (2, 7), (-2, -1), None)
fft_case(np.fft.irfft2, (3, 4, 5), (3, 5), (-2, -1), None)
fft_case(np.fft.fftn, (3, 4, 5), (2, 6), (2, 0), None)
fft_case(np.fft.ifftn, (3, 4, 5), None, None, "forward")
fft_case(np.fft.rfftn, (3, 4, 5), None, (0, 1), None)
fft_case(np.fft.irfftn, (3, 4, 5), (4, 3, 6), (0, 1, 2), None)
fft_case(np.fft.fftshift, (4, 5), 1)
fft_case(np.fft.ifftshift, (4, 5), (0,))


@case(sign_conj, uniform((3, 4), seed=45), uniform((3, 4), seed=46))
def slope_of_abs(x, y):
    return np.real(sign_conj(x + 1j * y) * W), sign_conj(x) * y


@case(np.var, uniform((3, 4), seed=43))
@case(np.std, uniform((3, 4), seed=43))
@case(np.linalg.norm, uniform((3, 4), seed=43))
def spread_and_norm_of_complex(x):
    z = np.exp(1j * x) * W + x
    return np.var(z, axis=0), np.std(z, axis=1, ddof=1), np.linalg.norm(z * x), np.linalg.norm(z, axis=1)


@case(fft_adjoint, uniform((3, 6), seed=35))
@case(ifft_adjoint, uniform((3, 6), seed=35))
@case(rfft_adjoint, uniform((3, 6), seed=35))
@case(irfft_adjoint, uniform((3, 6), seed=35))
def fft_adjoints_in_g(g):
    """The helpers of the reverse rules (jvp(grad(f)) meets them): linear in g."""
    z, a = g + 1j * g ** 2, W[:, :5] * (1.0 + 0.5j)
    return (np.abs(fft_adjoint(z, a, None, (1,), "ortho") + 0.3), np.abs(ifft_adjoint(z, a.real, None, (0, 1), None) + 0.3),
            rfft_adjoint(z[:, :4], W.real, (3, 6), (0, 1), None), np.abs(irfft_adjoint(g, a, None, (1,), "forward") + 0.3))


@pytest.mark.parametrize("key,f,args", RULE_TESTS.cases, ids=RULE_TESTS.case_ids())
def test_rule_jvp(key, f, args):
    check_jvp(f, *args)


def test_jvp_of_a_real_loss_is_real():
    def f(x):
        return np.sum(np.abs(np.fft.rfft(x)) ** 2)
    x, t = uniform((7,), seed=33), uniform((7,), seed=34)
    value, tangent = srcgrad.jvp(f, (x,), (t,))
    assert np.isrealobj(tangent)
    np.testing.assert_allclose(tangent, np.dot(srcgrad.grad(f)(x), t), rtol=1e-10)


# --- loud, not wrong ---------------------------------------------------------------------------

def test_complex_parameter_is_refused():
    def f(z):
        return np.sum(np.abs(np.fft.fft(z)))
    with pytest.raises(srcgrad.ArgumentTypeError, match="complex"):
        srcgrad.grad(f)(crand((4,)))


# --- second derivatives ------------------------------------------------------------------------

def test_hessian_through_complex_values():
    """hessian (forward over reverse) through the FFT helpers, abs and angle of complex values,
    against finite differences of srcgrad's gradient."""
    def f(x):
        y = np.fft.irfft(np.fft.rfft(x) * (1.0 + 0.5j), n=x.size)
        z = np.exp(1j * x) * np.fft.fft(x)
        return np.sum(y ** 2 * x) + np.sum(np.abs(z) ** 3) + np.sum(np.angle(z + 2.0))
    x = uniform((5,), 0.1, 1.0, seed=40)
    gradient = srcgrad.grad(f)
    want = np.array([numerical_gradient(lambda x: gradient(x)[i], (x,), 0) for i in range(5)])
    np.testing.assert_allclose(srcgrad.hessian(f)(x), want, rtol=1e-6, atol=1e-6)


def test_jacobian_of_a_complex_result():
    """The Jacobian of np.fft.fft is the DFT matrix (complex); of its real part, the real part."""
    def spectrum(x):
        return np.fft.fft(x)

    def real_part(x):
        return np.fft.fft(x).real

    def imaginary_part(x):
        return np.fft.rfft(x).imag[:2]
    x = uniform((4,), seed=41)
    dft = np.fft.fft(np.eye(4), axis=0)
    np.testing.assert_allclose(srcgrad.jacobian(spectrum)(x), dft, atol=1e-12)
    np.testing.assert_allclose(srcgrad.jacobian(real_part)(x), dft.real, atol=1e-12)
    np.testing.assert_allclose(srcgrad.jacobian(imaginary_part)(x), dft.imag[:2], atol=1e-12)


@reverse(np.var, np.std, np.linalg.norm)
@pytest.mark.parametrize("axis", [None, 1])
def test_spread_and_norm_of_complex(axis):
    """var, std and the 2-norm of complex values are real, as |z| is."""
    def f(x):
        z = np.exp(1j * x) * W + x
        return (np.sum(np.var(z, axis=axis, ddof=1) ** 2) + np.sum(np.std(z, axis=axis))
                + np.sum(np.linalg.norm(z * x, axis=axis) ** 3))
    x = uniform((3, 4), seed=42)
    check(f, x)
    check_float32(f, x)


def test_other_norms_of_complex_are_refused():
    def f(x):
        return np.linalg.norm(np.exp(1j * x) * W, 1)
    with pytest.raises(srcgrad.SrcgradError, match="norm.*complex"):
        srcgrad.grad(f)(uniform((3, 4), seed=44))
