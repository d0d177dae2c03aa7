"""The compute ops' methods of AsyncClient and Client, one per op.

Generated from the op definitions in service/kernels (the ones the server
validates with and info serves) by `go test ./service/kernels/clientgen -update`;
do not edit. AsyncOps holds the coroutines, over AsyncClient.call;
BlockingOps the blocking methods, each running its coroutine on the
Client's event loop.
"""

from __future__ import annotations

from typing import Any, Coroutine, Dict, Optional, TypeVar

import numpy as np
import numpy.typing as npt

from ._reply import Result

__all__ = ["AsyncOps", "BlockingOps"]

T = TypeVar("T")


def _args(**args: Any) -> Dict[str, Any]:
    """A request's arguments: those given, an optional one left None out."""
    return {name: v for name, v in args.items() if v is not None}


class AsyncOps:
    """The compute ops as coroutines: a mixin of AsyncClient, which sends
    them through its call()."""

    async def call(self, op: str, args: Optional[Dict[str, Any]] = None, **opts: Any) -> Result:
        raise NotImplementedError  # AsyncClient's

    async def conv2d(self, image: npt.ArrayLike, kernel: npt.ArrayLike, mode: str = "same",
            **opts: Any) -> np.ndarray:
        """2-D convolution, as scipy.signal.convolve2d.

        2-D convolution of image by kernel (the kernel flipped), as
        scipy.signal.convolve2d with zero fill: mode full, same (centred,
        image-sized) or valid (where the kernel fits); NaN and Inf propagate
        only through the terms that meet the image.

        Arguments:
            image: the image; h or w may be 0 (the output is then zeros).
                Accepts: f32, f64; 2 dimensions; shape [h,w].
            kernel: the kernel, image's dtype, kh and kw >= 1; it may be
                larger than the image. Accepts: f32, f64; the dtype of `image`;
                2 dimensions; shape [kh,kw].
            mode: full: [h+kh-1,w+kw-1]; same: [h,w], full's rows from
                (kh-1)//2 and columns from (kw-1)//2; valid:
                [max(h-kh+1,0),max(w-kw+1,0)]. Accepts: `same`, `valid` or
                `full`.

        Returns out: the convolution, image's dtype (f32 computed in f32).
        Holds: f32, f64; shape per mode.

        Options (keyword only): exec, impl, timeout_ms, threads and progress,
        as for call(). A failure reply raises CrunchError.
        """
        r = await self.call("conv2d", _args(image=image, kernel=kernel, mode=mode), **opts)
        return r["out"]

    async def fft(self, x: npt.ArrayLike, inverse: bool = False, norm: str = "backward",
            **opts: Any) -> np.ndarray:
        """Discrete Fourier transform along the last axis, as numpy.fft.fft/ifft.

        Discrete Fourier transform of each row (the last axis), as
        numpy.fft.fft, or numpy.fft.ifft with inverse; any length n >= 1; real
        input is promoted (f32 to c64, others to c128).

        Arguments:
            x: the signal, one per row; n >= 1, batch >= 0. Accepts: c64,
                c128, f32, f64, u8, u16, u32, i32, i64; 1 or 2 dimensions;
                shape [n] or [batch,n].
            inverse: compute the inverse transform (numpy.fft.ifft).
            norm: which direction is scaled, as NumPy's norm: backward (the
                inverse by 1/n), ortho (both by 1/sqrt(n)) or forward (the
                forward by 1/n). Accepts: `backward`, `ortho` or `forward`.

        Returns y: the transform: c64 for c64 and f32 input, c128 otherwise.
        Holds: c64, c128; shape same as x.

        Options (keyword only): exec, impl, timeout_ms, threads and progress,
        as for call(). A failure reply raises CrunchError.
        """
        r = await self.call("fft", _args(x=x, inverse=bool(inverse), norm=norm), **opts)
        return r["y"]

    async def gemm(self, a: npt.ArrayLike, b: npt.ArrayLike, c: Optional[npt.ArrayLike] = None,
            alpha: float = 1.0, beta: float = 0.0, trans_a: bool = False, trans_b: bool = False,
            **opts: Any) -> np.ndarray:
        """Matrix product alpha*op(a)@op(b) + beta*c.

        General matrix product c = alpha*op(a)*op(b) + beta*c, row-major, BLAS
        semantics.

        Arguments:
            a: left matrix. Accepts: f32, f64; 2 dimensions; shape [m,k],
                or [k,m] with trans_a.
            b: right matrix, same dtype as a. Accepts: f32, f64; the dtype
                of `a`; 2 dimensions; shape [k,n], or [n,k] with trans_b.
            c: added to the product when beta != 0; not modified. Accepts:
                f32, f64; the dtype of `a`; 2 dimensions; shape [m,n].
            alpha: scale of the product.
            beta: scale of c; 0 ignores c's contents.
            trans_a: use a transposed.
            trans_b: use b transposed.

        Returns c: the result. Holds: f32, f64; shape [m,n].

        Options (keyword only): exec, impl, timeout_ms, threads and progress,
        as for call(). A failure reply raises CrunchError.
        """
        r = await self.call("gemm", _args(a=a, b=b, c=c, alpha=float(alpha), beta=float(beta),
            trans_a=bool(trans_a), trans_b=bool(trans_b)), **opts)
        return r["c"]

    async def histogram(self, x: npt.ArrayLike, bins: int = 10,
            range: Optional[npt.ArrayLike] = None, **opts: Any) -> Dict[str, Any]:
        """Counts of x in equal bins, as numpy.histogram.

        Counts of the elements of x in bins equal-width bins over range, as
        numpy.histogram(x, bins, range) (NumPy 1.24's rules, to the bit): bin i
        holds edges[i] <= v < edges[i+1], the last also its right edge; NaN and
        values outside range are not counted; without range it is [min(x),
        max(x)], widened by 0.5 each way when they are equal, [0, 1] for an
        empty x, and NaN or ±Inf in x is then refused; f32 input is binned in
        f32 arithmetic, as NumPy does.

        Arguments:
            x: the values. Accepts: f32, f64; shape any, taken flat.
            bins: number of equal-width bins. Accepts: ≥ 1.
            range: [lo, hi], finite, lo <= hi; absent: x's min and max.
                Accepts: f64, f32, i64, i32; 1 dimension; shape [2].

        Returns a dict:
            counts (tensor): the number of values in each bin. Holds: i64;
                shape [bins].
            edges (tensor): the bins' edges, as NumPy's (for f32 x, NumPy's
                f32 edges, exactly). Holds: f64; shape [bins+1].

        Options (keyword only): exec, impl, timeout_ms, threads and progress,
        as for call(). A failure reply raises CrunchError.
        """
        r = await self.call("histogram", _args(x=x, bins=int(bins), range=range), **opts)
        return {"counts": r["counts"], "edges": r["edges"]}

    async def mandelbrot(self, width: int, height: int, x_min: float = -2.0, x_max: float = 1.0,
            y_min: float = -1.5, y_max: float = 1.5, max_iter: int = 256,
            **opts: Any) -> np.ndarray:
        """Escape counts of the Mandelbrot set over a grid.

        Escape counts of the Mandelbrot iteration z <- z^2 + c (z_0 = 0) over a
        height x width grid: the pixel in row r, column j samples c = (x_min +
        (x_max-x_min)*j/width) + i(y_min + (y_max-y_min)*r/height); its count
        is the smallest k >= 1 with |z_k|^2 > 4, or max_iter if there is none
        below it (float64).

        Arguments:
            width: columns. Accepts: ≥ 0.
            height: rows. Accepts: ≥ 0.
            x_min: real part of column 0. Accepts: finite.
            x_max: real part one column past the last. Accepts: finite.
            y_min: imaginary part of row 0. Accepts: finite.
            y_max: imaginary part one row past the last. Accepts: finite.
            max_iter: iteration cap. Accepts: 1 to 2147483648.

        Returns counts: escape counts, 1 to max_iter. Holds: u32; shape
        [height,width].

        Options (keyword only): exec, impl, timeout_ms, threads and progress,
        as for call(). A failure reply raises CrunchError.
        """
        r = await self.call("mandelbrot", _args(width=int(width), height=int(height),
            x_min=float(x_min), x_max=float(x_max), y_min=float(y_min), y_max=float(y_max),
            max_iter=int(max_iter)), **opts)
        return r["counts"]

    async def modsum(self, n: int, iters: int = 10_000_000, **opts: Any) -> int:
        """Sum of (i*n) mod 97 over i < iters: a stand-in for heavy CPU work.

        Sum over 0 <= i < iters of (i*n) mod 97 (non-negative modulo): a
        stand-in for heavy CPU work.

        Arguments:
            n: multiplier, any int64.
            iters: number of terms. Accepts: ≥ 0.

        Returns total: the sum.

        Options (keyword only): exec, impl, timeout_ms, threads and progress,
        as for call(). A failure reply raises CrunchError.
        """
        r = await self.call("modsum", _args(n=int(n), iters=int(iters)), **opts)
        return int(r["total"])

    async def solve(self, a: npt.ArrayLike, b: npt.ArrayLike, **opts: Any) -> np.ndarray:
        """Solve a @ x = b (LU with partial pivoting).

        X solving a x = b by LU factorisation with partial pivoting; a singular
        or nearly singular a (estimated 1-norm condition number above 2^52), or
        NaN or Inf in a or b, is a numerical error.

        Arguments:
            a: the square matrix. Accepts: f64; 2 dimensions; shape [n,n].
            b: the right-hand side(s). Accepts: f64; 1 or 2 dimensions;
                shape [n] or [n,k].

        Returns x: the solution: a x = b. Holds: f64; shape b's.

        Options (keyword only): exec, impl, timeout_ms, threads and progress,
        as for call(). A failure reply raises CrunchError.
        """
        r = await self.call("solve", _args(a=a, b=b), **opts)
        return r["x"]

    async def sort(self, x: npt.ArrayLike, descending: bool = False, **opts: Any) -> np.ndarray:
        """Sort a vector, NaN last.

        X sorted ascending, or descending; NaN last whatever the direction,
        -0.0 before +0.0 ascending and after it descending.

        Arguments:
            x: the values; not modified. Accepts: i32, i64, u32, f32, f64;
                1 dimension; shape [n].
            descending: sort largest first.

        Returns x: the sorted values, same dtype. Holds: i32, i64, u32, f32,
        f64; shape [n].

        Options (keyword only): exec, impl, timeout_ms, threads and progress,
        as for call(). A failure reply raises CrunchError.
        """
        r = await self.call("sort", _args(x=x, descending=bool(descending)), **opts)
        return r["x"]

    async def stats(self, x: npt.ArrayLike, ddof: int = 0, **opts: Any) -> Dict[str, Any]:
        """Count, sum, mean, var, std, min and max of all elements.

        Count, sum, mean, variance, standard deviation, min and max of all
        elements of x (f32 accumulated in f64); NaN in x makes every result but
        count NaN.

        Arguments:
            x: the values. Accepts: f32, f64; shape any, taken flat.
            ddof: delta degrees of freedom: var divides by count - ddof;
                ddof < count. Accepts: ≥ 0.

        Returns a dict:
            count (int): number of elements.
            sum (float): sum, compensated pairwise: error within a few ulps
                of sum(|x|) for any count.
            mean (float): sum / count; NaN when x is empty.
            var (float): sum of (x - mean)^2 / (count - ddof); NaN when sum
                is not finite.
            std (float): square root of var.
            min (float): smallest element; -0.0 counts below +0.0.
            max (float): largest element; +0.0 counts above -0.0.

        Options (keyword only): exec, impl, timeout_ms, threads and progress,
        as for call(). A failure reply raises CrunchError.
        """
        r = await self.call("stats", _args(x=x, ddof=int(ddof)), **opts)
        return {"count": int(r["count"]), "sum": float(r["sum"]), "mean": float(r["mean"]),
            "var": float(r["var"]), "std": float(r["std"]), "min": float(r["min"]),
            "max": float(r["max"])}


class BlockingOps:
    """The compute ops, blocking: a mixin of Client, which runs AsyncOps'
    coroutines on its event loop."""

    _aio: AsyncOps

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        raise NotImplementedError  # Client's

    def conv2d(self, image: npt.ArrayLike, kernel: npt.ArrayLike, mode: str = "same",
            **opts: Any) -> np.ndarray:
        return self._run(self._aio.conv2d(image, kernel, mode, **opts))

    def fft(self, x: npt.ArrayLike, inverse: bool = False, norm: str = "backward",
            **opts: Any) -> np.ndarray:
        return self._run(self._aio.fft(x, inverse, norm, **opts))

    def gemm(self, a: npt.ArrayLike, b: npt.ArrayLike, c: Optional[npt.ArrayLike] = None,
            alpha: float = 1.0, beta: float = 0.0, trans_a: bool = False, trans_b: bool = False,
            **opts: Any) -> np.ndarray:
        return self._run(self._aio.gemm(a, b, c, alpha, beta, trans_a, trans_b, **opts))

    def histogram(self, x: npt.ArrayLike, bins: int = 10,
            range: Optional[npt.ArrayLike] = None, **opts: Any) -> Dict[str, Any]:
        return self._run(self._aio.histogram(x, bins, range, **opts))

    def mandelbrot(self, width: int, height: int, x_min: float = -2.0, x_max: float = 1.0,
            y_min: float = -1.5, y_max: float = 1.5, max_iter: int = 256,
            **opts: Any) -> np.ndarray:
        return self._run(self._aio.mandelbrot(width, height, x_min, x_max, y_min, y_max, max_iter,
            **opts))

    def modsum(self, n: int, iters: int = 10_000_000, **opts: Any) -> int:
        return self._run(self._aio.modsum(n, iters, **opts))

    def solve(self, a: npt.ArrayLike, b: npt.ArrayLike, **opts: Any) -> np.ndarray:
        return self._run(self._aio.solve(a, b, **opts))

    def sort(self, x: npt.ArrayLike, descending: bool = False, **opts: Any) -> np.ndarray:
        return self._run(self._aio.sort(x, descending, **opts))

    def stats(self, x: npt.ArrayLike, ddof: int = 0, **opts: Any) -> Dict[str, Any]:
        return self._run(self._aio.stats(x, ddof, **opts))


for _name in ("conv2d", "fft", "gemm", "histogram", "mandelbrot", "modsum", "solve", "sort",
    "stats"):
    getattr(BlockingOps, _name).__doc__ = getattr(AsyncOps, _name).__doc__
