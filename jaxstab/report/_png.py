"""Many points as one PNG image (a ``data:`` URI), for figures with thousands of seeds.

A vector point costs ~14 bytes; at 100,000 seeds that is megabytes of page. Past a
threshold the points are drawn into a bitmap instead: every point is still there (no
thinning), just as pixels. Written with NumPy and zlib, so no imaging library is needed.
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Sequence

import numpy as np

SCALE = 2  # pixels per SVG unit: sharp on high-density screens and in print


def _disc(radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offsets and coverage (anti-aliased by 4x4 supersampling) of a disc."""
    r = int(np.ceil(radius))
    sub = (np.arange(4) + 0.5) / 4 - 0.5
    dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
    yy = dy[..., None, None] + sub[:, None]
    xx = dx[..., None, None] + sub[None, :]
    cover = ((xx**2 + yy**2) <= radius**2).mean(axis=(-1, -2))
    keep = cover > 0
    return dy[keep], dx[keep], cover[keep]


def _rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], float) / 255


def points_png(w: float, h: float, groups: Sequence[tuple[Sequence[float], Sequence[float],
                                                          str, float]],
               radius: float) -> str:
    """A ``w`` x ``h`` (SVG units) transparent image with each group's points
    ((xs, ys) in SVG units, colour ``#rrggbb``, opacity) as discs of ``radius``;
    groups are painted in order, one over the other."""
    W, H = max(1, int(round(w * SCALE))), max(1, int(round(h * SCALE)))
    rgb = np.zeros((H, W, 3))
    alpha = np.zeros((H, W))
    dy, dx, cover = _disc(radius * SCALE)
    for xs, ys, colour, opacity in groups:
        px = np.round(np.asarray(xs, float) * SCALE).astype(np.int64)
        py = np.round(np.asarray(ys, float) * SCALE).astype(np.int64)
        yy = (py[:, None] + dy[None, :]).ravel()
        xx = (px[:, None] + dx[None, :]).ravel()
        a = np.broadcast_to(cover * opacity, (px.size, cover.size)).ravel()
        ok = (yy >= 0) & (yy < H) & (xx >= 0) & (xx < W)
        # Points of one colour over each other: coverage 1 - prod(1 - a), summed in logs.
        # (np.bincount sums as np.add.at does, in order, 10x faster at 600,000 points)
        log_clear = np.bincount(yy[ok] * W + xx[ok],
                                weights=np.log1p(-np.minimum(a[ok], 0.999)),
                                minlength=H * W).reshape(H, W)
        layer = 1 - np.exp(log_clear)
        rgb = rgb * (1 - layer[..., None]) + _rgb(colour) * layer[..., None]
        alpha = alpha * (1 - layer) + layer
    # rgb holds colour premultiplied by alpha; PNG wants it straight.
    with np.errstate(all="ignore"):
        straight = np.where(alpha[..., None] > 0, rgb / alpha[..., None], 0)
    pixels = np.concatenate([straight, alpha[..., None]], axis=-1)
    data = np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)
    return "data:image/png;base64," + base64.b64encode(_encode(data)).decode("ascii")


def _encode(rgba: np.ndarray) -> bytes:
    h, w, _ = rgba.shape
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rgba.reshape(h, w * 4)], axis=1)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), 9)) + chunk(b"IEND", b""))
