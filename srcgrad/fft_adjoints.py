"""Adjoints of NumPy's FFTs, which generated gradients call.

The convention is that of srcgrad/rules.py: the adjoint of a complex z = u + iv is
dL/du - i dL/dv, so that dL = Re(sum(adjoint * dz)) and the adjoint of a linear map is its
transpose, without a conjugate.  The DFT matrix is symmetric, so the adjoint of each complex
transform is the same transform of `g` (its `norm` scales it the same way), cut back or
padded to the input's shape where `n` or `s` padded or cut the input.  The real transforms
are not complex-linear: rfft's adjoint keeps the real part (its input is real), and irfft's
counts twice each frequency whose conjugate twin it reads implicitly.
"""
import numpy as np

# The norm under which the forward transform scales as the inverse one does under `norm`.
_SWAPPED_NORM = {None: "forward", "backward": "forward", "ortho": "ortho", "forward": "backward"}


def _sizes(s):
    """`s` of an n-D transform, or a 1-D transform's `n` as (n,); None when not given."""
    return None if s is None else (s,) if np.ndim(s) == 0 else tuple(s)


def transform_axes(a, s, axes):
    """The axes an n-dimensional FFT of `a` transforms, counted from 0: NumPy's default
    is every axis, or the last len(s) when only `s` is given."""
    s, ndim = _sizes(s), np.ndim(a)
    if axes is None:
        axes = range(ndim) if s is None else range(ndim - len(s), ndim)
    return tuple(int(axis) % ndim for axis in axes)


def fit_to(x, shape, axes):
    """`x` cut or padded with zeros along `axes` to the sizes of `shape` there (the
    transpose of the cutting or padding an FFT's `n` or `s` did to its input)."""
    cut = [slice(None)] * np.ndim(x)
    pad = [(0, 0)] * np.ndim(x)
    for axis in axes:
        size, want = np.shape(x)[axis], shape[axis]
        if size > want:
            cut[axis] = slice(0, want)
        elif size < want:
            pad[axis] = (0, want - size)
    x = x[tuple(cut)]
    return np.pad(x, pad) if any(p != (0, 0) for p in pad) else x


def _like(adjoint, a):
    """The adjoint of a real `a` is the real part (dL = Re(adjoint * da) for a real da)."""
    return adjoint if np.iscomplexobj(a) else adjoint.real


def fft_adjoint(g, a, s, axes, norm):
    """Adjoint of `a` in np.fft.fftn(a, s, axes, norm) (and fft, fft2)."""
    axes = transform_axes(a, s, axes)
    return _like(fit_to(np.fft.fftn(g, axes=axes, norm=norm), np.shape(a), axes), a)


def ifft_adjoint(g, a, s, axes, norm):
    """Adjoint of `a` in np.fft.ifftn(a, s, axes, norm) (and ifft, ifft2)."""
    axes = transform_axes(a, s, axes)
    return _like(fit_to(np.fft.ifftn(g, axes=axes, norm=norm), np.shape(a), axes), a)


def rfft_adjoint(g, a, s, axes, norm):
    """Adjoint of the real `a` in np.fft.rfftn(a, s, axes, norm) (and rfft2, and rfft(a, n,
    axis, norm) as s = n, axes = (axis,)): the half spectrum padded with zeros to the full
    length, transformed, its real part."""
    axes, s = transform_axes(a, s, axes), _sizes(s)
    sizes = s if s is not None else tuple(np.shape(a)[axis] for axis in axes)
    full = np.fft.fftn(g, s=sizes, axes=axes, norm=norm)
    return fit_to(full.real, np.shape(a), axes)


def irfft_adjoint(g, a, s, axes, norm):
    """Adjoint of `a` in np.fft.irfftn(a, s, axes, norm) (and irfft2, and irfft(a, n, axis,
    norm) as s = n, axes = (axis,)).  The result is real, so only the real part of `g`
    counts.  Along the last axis, irfft reads each frequency 1 <= k < n/2 twice (as itself
    and as its conjugate at n - k): those get twice the inverse transform of g; the
    constant term and, for even n, the one at n/2 once."""
    axes, s = transform_axes(a, s, axes), _sizes(s)
    last = axes[-1]
    n = s[-1] if s is not None else 2 * (np.shape(a)[last] - 1)
    # The inverse transform of a real g on the half spectrum: the forward one, conjugated,
    # under the norm that scales it as the inverse.
    half = np.conj(np.fft.rfftn(np.real(g), axes=axes, norm=_SWAPPED_NORM[norm]))
    twice = np.full(n // 2 + 1, 2.0)
    twice[0] = 1.0
    if n % 2 == 0:
        twice[-1] = 1.0
    half *= np.reshape(twice, (-1,) + (1,) * (np.ndim(half) - 1 - last))
    return fit_to(half, np.shape(a), axes)


# --- the slope of |x|, of real or complex x ---------------------------------------------------

def sign_conj(x):
    """conj(x) / |x|, 0 at 0: the slope of |x| (of a real x, np.sign(x))."""
    if np.iscomplexobj(x):
        size = np.abs(x)
        return np.conj(x) / (size + (size == 0))
    return np.sign(x)


def sign_conj_adjoint(g, ans, x):
    """Adjoint of x in sign_conj(x): flat for a real x; for a complex one, sign_conj only turns,
    by i Im(conj(ans) dx) / |x| (what grad(grad(f)) of a complex |x| meets)."""
    if not np.iscomplexobj(x):
        return 0.0 * g
    size = np.abs(x)
    return 1j * np.imag(np.conj(g) * np.conj(ans)) * ans / (size + (size == 0))


def sign_conj_jvp(t, ans, x):
    """Tangent of sign_conj(x) along t (0 for a real x)."""
    if not np.iscomplexobj(x):
        return 0.0 * t
    size = np.abs(x)
    return -1j * ans * np.imag(ans * t) / (size + (size == 0))
