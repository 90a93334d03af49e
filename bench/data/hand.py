"""The ``hand`` tier: words written by generative writers, not fonts.

A writer is a parameter vector (``Writer``) drawn from its side's region of
writer-parameter space; in-domain and OOD regions are disjoint in the levers
that make a hand a different kind of hand (allograph preferences, slant, joins,
running-hand connection, pen). Every lever below is documented in
``docs/data.md`` (what it does, its range, its source); ``LEVERS`` names them so
the calibration script can remove each in turn.

Latin writers compose each letter from one of several allographs (the same
letter in Hershey's simplex print, simplex script and cursive families), chosen
per letter occurrence from the writer's own preference, so a writer is
consistent but not a printer; letters are joined by pen-down ligatures through
the baseline. Chinese writers draw hanzi-writer stroke medians in stroke order,
with per-stroke affine deformation, radical proportions of their own and
running-hand connections between consecutive strokes.

Difficulty: ``shape`` scales the per-sample distortions of the hand (drift,
slant wobble and elastic warp grow with it; glyph jitter and stroke deformation
saturate at ``JITTER_CAP``, point noise at 1); it is a property of the writer
region, fitted per side by ``benchmarks/calibrate_hand.py`` against published
real-handwriting figures and bounded by legibility. The imaging pipeline (paper,
ruled lines, ink bleed, blur, noise, resolution, JPEG) is one and the same for
every split.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from bench.data.render import HEIGHT, MAX_WIDTH, _chaikin, _elastic, _pen, _strokes, hershey_glyph

HAND_VERSION = "2"
# Allograph sources for Latin letters: one Hershey family per allograph (print, script, cursive).
ALLOGRAPHS = ("futural", "scripts", "cursive")
JITTER_CAP = 1.3    # shape beyond which per-glyph and per-stroke jitter stop growing
LEVERS = ("allographs", "letter_forms", "proportions", "glyph_jitter", "drift_slant", "joins", "pen_pressure", "elastic",
          "stroke_deform", "running_hand", "radicals", "imaging")


@dataclass(frozen=True)
class Difficulty:
    """What the calibration fits, and which levers are switched off (for the per-lever ablation)."""
    shape_id: float = 1.0       # scale of per-sample hand distortions, in-domain writers
    shape_ood: float = 1.0      # the same for OOD writers
    imaging: float = 2.0        # scale of the shared imaging degradation (set by eye, not fitted)
    off: frozenset[str] = field(default_factory=frozenset)

    def shape(self, side: str) -> float:
        return self.shape_id if side == "id" else self.shape_ood

    def on(self, lever: str) -> bool:
        return lever not in self.off

    def as_dict(self) -> dict:
        return {"shape_id": self.shape_id, "shape_ood": self.shape_ood, "imaging": self.imaging,
                "off": sorted(self.off)}


# Calibrated by benchmarks/calibrate_hand.py (benchmarks/results/hand_calibration.json).
CALIBRATED = Difficulty(shape_id=1.2, shape_ood=1.2, imaging=2.0)


@dataclass(frozen=True)
class Writer:
    seed: int
    side: str                     # "id" or "ood"
    script: str                   # "latin" or "han"
    size: float                   # x-height (Latin) / character box (Chinese), px on the working canvas
    slant: float                  # shear of the whole word
    width: float                  # letter width factor
    spacing: float                # extra letter spacing, fraction of size
    allograph_bias: tuple[float, ...]   # prior weight of each ALLOGRAPHS family for this writer
    allograph_focus: float        # Dirichlet concentration: high = the same allograph every time
    joins: float                  # probability of a pen-down join to the next letter / stroke
    pen: float                    # pen width, fraction of size
    pressure: float               # pen-width swing along a stroke
    ink: float                    # ink grey level
    glyph_jitter: float           # per-glyph size/rotation/offset sigma (1 = strong)
    drift: float                  # baseline drift amplitude, fraction of size
    noise: float                  # pen-path point noise, fraction of size
    deform: float                 # Chinese: per-stroke affine deformation sigma
    radical: float                # Chinese: radical scale relative to the rest of the character
    running: float                # Chinese: probability of a running-hand connection between strokes
    greek: float = 0.0            # probability of the Greek-style forms α for a and ε for e
    dot_skip: float = 0.0         # probability an i or j dot is left out (else it lands a little right)
    ascender: float = 1.0         # ascender length relative to the x-height band
    descender: float = 1.0        # descender length relative to the x-height band


# Writer regions (uniform ranges; a tuple of ranges is a union). In-domain hands are upright to
# forward-slanted, mostly print-and-script, seldom joined; OOD hands are backhand or strongly
# forward, mostly cursive, often joined, with running-hand Chinese and different proportions.
REGIONS = {
    "id": {"slant": ((-0.05, 0.22),), "bias": (3.0, 2.0, 0.6), "focus": ((2.0, 6.0),),
           "joins": ((0.0, 0.3),), "pen": ((0.125, 0.155),), "pressure": ((0.0, 0.3),),
           "running": ((0.0, 0.2),), "radical": ((0.9, 1.08),), "width": ((0.85, 1.15),),
           "greek": ((0.0, 0.1),), "dot_skip": ((0.0, 0.1),), "ascender": ((0.85, 1.15),),
           "descender": ((0.85, 1.15),)},
    "ood": {"slant": ((-0.28, -0.12), (0.28, 0.38)), "bias": (0.6, 1.5, 3.0), "focus": ((0.6, 2.0),),
            "joins": ((0.5, 0.9),), "pen": ((0.112, 0.124), (0.156, 0.166)), "pressure": ((0.3, 0.45),),
            "running": ((0.35, 0.7),), "radical": ((0.78, 0.9), (1.08, 1.2)),
            "greek": ((0.3, 0.7),), "dot_skip": ((0.1, 0.25),), "ascender": ((0.55, 0.75), (1.25, 1.5)),
            "descender": ((0.55, 0.75), (1.25, 1.5)),
            "width": ((0.9, 0.97), (1.15, 1.35))},
}
# Writer seeds: test writers below 200 (as ``small``'s stroke writers); calibration writers are
# a disjoint set drawn from the same regions, so the fit never sees a test writer.
WRITER_SEEDS = {("test", "id"): range(0, 32), ("test", "ood"): range(100, 116),
                ("calib", "id"): range(1000, 1032), ("calib", "ood"): range(1100, 1116)}


def _uniform(rng: np.random.Generator, ranges) -> float:
    lo, hi = ranges[int(rng.integers(len(ranges)))]
    return float(rng.uniform(lo, hi))


def _seed_of(*parts) -> int:
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:8], "little")


def make_writer(seed: int, side: str, script: str) -> Writer:
    """A writer: a pure function of its seed, side and script."""
    rng = np.random.default_rng(_seed_of("hand-writer", HAND_VERSION, script, side, seed))
    region = REGIONS[side]
    bias = np.asarray(region["bias"]) * rng.uniform(0.5, 1.5, len(ALLOGRAPHS))
    return Writer(
        seed=seed, side=side, script=script, size=float(rng.uniform(26, 32)),
        slant=_uniform(rng, region["slant"]), width=_uniform(rng, region["width"]),
        spacing=float(rng.uniform(0.0, 0.14)), allograph_bias=tuple(float(b) for b in bias / bias.sum()),
        allograph_focus=_uniform(rng, region["focus"]), joins=_uniform(rng, region["joins"]),
        pen=_uniform(rng, region["pen"]), pressure=_uniform(rng, region["pressure"]),
        ink=float(rng.uniform(0, 45)), glyph_jitter=float(rng.uniform(0.6, 1.0)),
        drift=float(rng.uniform(0.05, 0.15)), noise=float(rng.uniform(0.005, 0.01)),
        deform=float(rng.uniform(0.6, 1.0)), radical=_uniform(rng, region["radical"]),
        running=_uniform(rng, region["running"]), greek=_uniform(rng, region["greek"]),
        dot_skip=_uniform(rng, region["dot_skip"]), ascender=_uniform(rng, region["ascender"]),
        descender=_uniform(rng, region["descender"]))


@functools.lru_cache(maxsize=65536)
def allograph_weights(writer: Writer, ch: str) -> np.ndarray:
    """This writer's preference over ALLOGRAPHS for letter ``ch`` (a Dirichlet draw around its bias);
    asked for at every letter drawn, so kept (read-only) rather than drawn again."""
    rng = np.random.default_rng(_seed_of("allograph", writer.side, writer.seed, ch))
    weights = rng.dirichlet(np.asarray(writer.allograph_bias) * writer.allograph_focus * len(ALLOGRAPHS) + 1e-3)
    weights.flags.writeable = False
    return weights


def can_write(lang: str, ch: str, stroke_folder: str) -> bool:
    if ch == " ":
        return True
    if lang == "zh":
        return _strokes(stroke_folder, ch) is not None
    return hershey_glyph("futural", ch) is not None


GREEK_FORMS = "ae"
X_TOP, BASE = 0.0, 9.0     # the x-height band every allograph is brought to (``letter``): 9 units


@functools.lru_cache(maxsize=4096)
def letter(family: str, ch: str):
    """(strokes, advance) of ``ch`` in Hershey ``family``, scaled so its lowercase x-height band is
    [X_TOP, BASE]: Hershey's print and Greek families draw lowercase 14 units high, its script
    families 9, and a word mixing them would otherwise mix letter sizes. Dots (i, j) come last, as
    a hand writes them after the stem. Arrays are read-only: callers copy before changing them."""
    glyph = hershey_glyph(family, ch)
    x_glyph = hershey_glyph(family, "o")     # o fills the x-height band in every family (Greek x is chi)
    if glyph is None or x_glyph is None:
        return None
    top = min(float(p[:, 1].min()) for p in x_glyph[0])
    base = max(float(p[:, 1].max()) for p in x_glyph[0])
    k = (BASE - X_TOP) / (base - top)
    strokes = [np.stack([p[:, 0] * k, BASE - (base - p[:, 1]) * k], 1) for p in glyph[0]]
    strokes = sorted(strokes, key=_is_dot)          # stable: the stems keep their order, dots last
    for st in strokes:
        st.flags.writeable = False
    return tuple(strokes), glyph[1] * k


def _is_dot(stroke: np.ndarray) -> bool:
    """A dot: a tiny stroke above the x-height band (of i and j; accents are bigger)."""
    extent = stroke.max(0) - stroke.min(0)
    return bool(extent.max() < 2.5 and stroke[:, 1].max() < X_TOP)


def _dotted(strokes, w: Writer, rng: np.random.Generator, apply: bool):
    """The dot of i / j left out, or set down a little to the right, as hurried hands do. The
    random numbers are drawn whether or not the lever is on, so that switching it off changes
    nothing else (the per-lever ablation compares like with like)."""
    skip, shift = rng.random() < w.dot_skip, rng.uniform(0, 3)
    if not apply:
        return list(strokes)
    if skip:
        return [st for st in strokes if not _is_dot(st)]
    return [st + [shift, 0] if _is_dot(st) else st for st in strokes]


def _proportioned(stroke: np.ndarray, w: Writer) -> np.ndarray:
    """Ascenders and descenders stretched or shrunk against the x-height band, the writer's own proportions."""
    y = stroke[:, 1]
    y = np.where(y < X_TOP, X_TOP + (y - X_TOP) * w.ascender, np.where(y > BASE, BASE + (y - BASE) * w.descender, y))
    return np.stack([stroke[:, 0], y], 1)


def _joinable(ch: str) -> bool:
    return ch.isalpha()


def _letter_form(ch: str, w: Writer, d: Difficulty, rng: np.random.Generator):
    """(family, strokes, advance) of one occurrence of ``ch``: the writer's allograph, its letter
    forms and proportions."""
    family = ALLOGRAPHS[int(rng.choice(len(ALLOGRAPHS), p=allograph_weights(w, ch)))]
    if not d.on("allographs"):
        family = ALLOGRAPHS[0]
    if ch.isupper():
        # Hershey's script and cursive capitals are copperplate flourishes few hands write (a blind
        # audit misread most of them: its I reads as S or J, its A as a loop): capitals are printed.
        family = "futural"
    if rng.random() < w.greek and ch in GREEK_FORMS and d.on("letter_forms"):
        family = "greek"      # α for a, ε for e, as many hands write them
    glyph = letter(family, ch) or letter("futural", ch)
    if glyph is None:
        raise ValueError(f"no Hershey glyph for {ch!r}")
    strokes, advance = glyph
    if ch in "ij":
        strokes = _dotted(strokes, w, rng, d.on("letter_forms"))
    if d.on("proportions"):
        strokes = [_proportioned(st, w) for st in strokes]
    return family, strokes, advance


def _ligature(draw, start: np.ndarray, end: np.ndarray, low: float, width: float, rng: np.random.Generator):
    """A ligature leaves the last letter's exit, dips towards the baseline (``low``) and rises into
    this letter's first stroke: a quadratic curve, as a cursive hand connects."""
    mid = np.array([(start[0] + end[0]) / 2, low])
    t = np.linspace(0, 1, 8)[:, None]
    _pen(draw, (1 - t) ** 2 * start + 2 * (1 - t) * t * mid + t ** 2 * end, width, 0.0, rng)


# Every lever below draws its random numbers whether it is on or off, and an off lever only drops
# their effect: switching one lever off must not reshuffle the draws of the others.
OFF_PRESSURE = 1e-9      # a pressure swing too small to see: the same draws as a real swing


def draw_latin(text: str, w: Writer, d: Difficulty, rng: np.random.Generator):
    from PIL import Image, ImageDraw

    shape = d.shape(w.side)
    unit = w.size / (BASE - X_TOP)          # px per unit: ``size`` is the x-height
    # Room for tall script capitals and long descenders at the writer's proportions (up to ~3 and
    # ~2 x-heights), glyph scale and drift: the word is cropped to its ink afterwards.
    canvas = Image.new("L", (int(w.size * 2.6 * w.width * (len(text) + 2)) + 60, int(w.size * 9)), 0)
    draw = ImageDraw.Draw(canvas)
    baseline = w.size * 5.2
    drift_amp = w.drift * w.size * shape if d.on("drift_slant") else 0.0
    drift_phase, drift_len = rng.uniform(0, 2 * np.pi), rng.uniform(3.0, 8.0)
    pen_swing = rng.uniform(0.9, 1.1)
    pen = max(1.2, w.pen * w.size * (pen_swing if d.on("pen_pressure") else 1.0))
    pressure = w.pressure if d.on("pen_pressure") else OFF_PRESSURE
    # A hand's letters vary only so much: glyph jitter saturates where the rest keeps growing.
    jitter = w.glyph_jitter * min(shape, JITTER_CAP) if d.on("glyph_jitter") else 0.0
    x = 20.0
    previous = None
    for i, ch in enumerate(text):
        if ch == " ":
            x += 6.0 * unit * w.width
            previous = None
            continue
        family, strokes, advance = _letter_form(ch, w, d, rng)
        y = baseline + drift_amp * np.sin(drift_phase + i / drift_len * 2 * np.pi)
        scale = float(np.clip(rng.normal(1.0, 0.06 * jitter), 0.8, 1.25))
        angle = float(np.clip(rng.normal(0, np.radians(5.0) * jitter), -np.radians(10), np.radians(10)))
        dx, dy = rng.normal(0, 0.04 * jitter * w.size, size=2)
        cos, sin = np.cos(angle), np.sin(angle)
        cx = advance / 2
        width = w.width * float(np.clip(rng.normal(1.0, 0.06 * jitter), 0.8, 1.2))
        first = True
        exit_point = None
        for stroke in strokes:
            pts = stroke + rng.normal(0, w.noise * min(shape, 1.0) * 9.0, size=stroke.shape)
            pts = _chaikin(pts) if len(pts) > 2 else pts
            px, py = (pts[:, 0] - cx) * scale * width, (pts[:, 1] - BASE) * scale
            px, py = px * cos - py * sin, px * sin + py * cos
            xy = np.stack([x + (px + cx * width) * unit + dx, y + py * unit + dy], 1)
            # Hershey's cursive letters carry their own entry and exit strokes: a ligature into one
            # would draw a second, looping join.
            join = rng.random() < w.joins
            if first and previous is not None and join and d.on("joins") and _joinable(ch) and family != "cursive":
                _ligature(draw, previous, xy[0], y - 0.1 * w.size, pen * 0.8, rng)
            _pen(draw, xy, pen * rng.uniform(0.85, 1.15), pressure, rng)
            first = False
            if not _is_dot(stroke):
                exit_point = xy[-1]       # the pen leaves a letter from its last stem, not its dot
        previous = exit_point if _joinable(ch) else None
        spacing = w.spacing + rng.normal(0, 0.05 * jitter)
        x += (advance * width * scale + spacing * 9.0 + 1.0) * unit
    return canvas


def _radical_scaled(medians: list, radical: tuple[int, ...] | None, factor: float) -> list[np.ndarray]:
    strokes = [np.asarray(s, dtype=np.float64) for s in medians]
    if not radical or abs(factor - 1.0) < 1e-6 or len(radical) >= len(strokes):
        return strokes
    part = np.concatenate([strokes[k] for k in radical])
    centre = (part.min(0) + part.max(0)) / 2
    for k in radical:
        strokes[k] = centre + (strokes[k] - centre) * factor
    return strokes


@functools.lru_cache(maxsize=8192)
def _radicals(folder: str, ch: str) -> tuple[int, ...] | None:
    path = Path(folder) / f"{ch}.json"
    radical = json.loads(path.read_text()).get("radStrokes") if path.is_file() else None
    return tuple(radical) if radical else None


def draw_han(text: str, w: Writer, d: Difficulty, rng: np.random.Generator, folder: str):
    from PIL import Image, ImageDraw

    shape = d.shape(w.side)
    box = w.size * 2.4
    # Room for a character at its largest (1.3 boxes) with drift either way; cropped to the ink later.
    canvas = Image.new("L", (int(box * 1.5 * len(text)) + int(2 * box), int(box * 3)), 0)
    draw = ImageDraw.Draw(canvas)
    pen_swing = rng.uniform(0.9, 1.1)
    pen = max(1.5, w.pen * box * 0.28 * (pen_swing if d.on("pen_pressure") else 1.0))
    pressure = w.pressure if d.on("pen_pressure") else OFF_PRESSURE
    jitter = w.glyph_jitter * min(shape, JITTER_CAP) if d.on("glyph_jitter") else 0.0
    deform = w.deform * min(shape, JITTER_CAP) if d.on("stroke_deform") else 0.0
    drift_amp = w.drift * box * shape if d.on("drift_slant") else 0.0
    drift_phase = rng.uniform(0, 2 * np.pi)
    x0 = box * 0.5
    for i, ch in enumerate(text):
        medians = _strokes(folder, ch) if ch != " " else None
        if ch != " " and medians is None:
            raise ValueError(f"no stroke data for {ch!r}")
        scale = box / 1024 * float(np.clip(rng.normal(1.0, 0.08 * jitter), 0.75, 1.3))
        y0 = box * 0.8 + drift_amp * np.sin(drift_phase + i * 1.3) + rng.normal(0, 0.04 * jitter * box)
        factor = w.radical * float(rng.normal(1.0, 0.03))
        factor = factor if d.on("radicals") else 1.0
        strokes = _radical_scaled(medians or [], _radicals(folder, ch) if medians else None, factor)
        angle = float(np.clip(rng.normal(0, np.radians(4.0) * jitter), -np.radians(10), np.radians(10)))
        previous = None
        for pts in strokes:
            pts = pts.copy()
            pts[:, 1] = 900 - pts[:, 1]   # hanzi-writer's y axis points up
            # Stroke-level deformation: each stroke its own rotation, length and offset about its
            # centre, as a hand's strokes vary while their order and topology stay (none when off).
            c = pts.mean(0)
            a = np.clip(rng.normal(0, np.radians(4.0) * deform), -np.radians(10), np.radians(10))
            s = np.clip(rng.normal(1.0, 0.08 * deform), 0.75, 1.25)
            rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
            pts = c + (pts - c) @ rot.T * s + np.clip(rng.normal(0, 12.0 * deform, size=2), -30, 30)
            pts = pts + rng.normal(0, w.noise * min(shape, 1.0) * 1024, size=pts.shape)
            # Running hand rounds corners more: an extra smoothing round for connected writers.
            pts = _chaikin(pts, 3 if d.on("running_hand") and w.running > 0.3 else 2)
            c = np.array([512.0, 450.0])
            rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
            pts = c + (pts - c) @ rot.T
            xy = np.stack([x0 + pts[:, 0] * scale, y0 + pts[:, 1] * scale], 1)
            near = previous is not None and np.hypot(*(xy[0] - previous)) < 0.35 * box
            connect = rng.random() < w.running
            if near and connect and d.on("running_hand"):
                # Running hand: the pen stays down from one stroke's end to the next stroke's start,
                # in stroke order, as a thin connecting trace (only to a stroke that starts nearby,
                # as a hand connects; a trace across the character would be a new stroke).
                _pen(draw, np.stack([previous, xy[0]]), max(1.0, pen * 0.3), 0.0, rng)
            _pen(draw, xy, pen * rng.uniform(0.8, 1.2), pressure, rng)
            previous = xy[-1]
        x0 += box * (1.0 + w.spacing) * (scale * 1024 / box)
    return canvas


def image_pipeline(mask, w: Writer, d: Difficulty, rng: np.random.Generator):
    """Ink mask -> a scanned page crop. Slant and elastic warp belong to the hand; the rest is imaging."""
    arr, draws = _warped_ink(mask, w, d, rng)
    return _scanned(arr, w, d, rng, draws)


def _warped_ink(mask, w: Writer, d: Difficulty, rng: np.random.Generator):
    """The word slanted, cropped to its ink, brought to twice the output height, padded and warped;
    with the imaging draws for ``_scanned`` (drawn here, before the warp's, in a fixed order)."""
    from PIL import Image

    shape = d.shape(w.side)
    slant = w.slant + rng.normal(0, 0.05 * shape)
    slant = slant if d.on("drift_slant") else 0.0
    # The imaging draws, made whether or not the lever is on (see OFF_PRESSURE's comment).
    draws = {"bleed": rng.uniform(0.0, 0.8), "res": rng.uniform(0.0, 1.0), "blur": rng.uniform(0.0, 0.6),
             "ruled": rng.random(), "row": rng.uniform(0.72, 0.9), "depth": rng.uniform(25, 60),
             "double": rng.random(), "quality": rng.uniform(0, 35),
             "elastic": rng.uniform(2.0, 5.0), "cell": int(rng.integers(32, 64))}
    wd, ht = mask.size
    mask = mask.transform((wd + int(abs(slant) * ht), ht), Image.AFFINE,
                          (1, slant, -max(slant, 0) * ht, 0, 1, 0), resample=Image.BILINEAR)
    bbox = mask.getbbox()
    if bbox is None:
        raise ValueError("the writer drew nothing")
    mask = mask.crop(bbox)
    # Work at twice the output height: enough detail for the warp, cheap enough for the build.
    work_h = 2 * HEIGHT - 16
    scale = work_h / mask.height
    mask = mask.resize((max(8, round(mask.width * scale)), work_h), Image.BILINEAR)
    arr = np.asarray(mask, dtype=np.float32)
    pad = rng.integers(6, 22, size=4)
    arr = np.pad(arr, ((pad[0], pad[1]), (pad[2], pad[3])))
    # Chinese characters pack many strokes into a box: the same warp costs them more, so less of it.
    alpha = draws["elastic"] * shape * (0.6 if w.script == "han" else 1.0) if d.on("elastic") else 0.0
    return _elastic(arr, alpha=alpha, cell=draws["cell"], rng=rng), draws   # alpha 0: the same draws, no warp


def _scanned(arr: np.ndarray, w: Writer, d: Difficulty, rng: np.random.Generator, draws: dict):
    """The warped ink on paper, as a scanner sees it: bleed, resolution, blur, paper, ruled line,
    ink, noise and JPEG (one pipeline for every split)."""
    from PIL import Image, ImageFilter

    q = d.imaging if d.on("imaging") else 0.0
    if q:
        # Ink bleed: the ink spreads into the paper fibres, thickening and softening edges.
        bleed = draws["bleed"] * q
        if bleed > 0.2:
            soft = np.asarray(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
                              .filter(ImageFilter.GaussianBlur(bleed)), dtype=np.float32)
            arr = np.maximum(arr, np.clip(soft * 1.3, 0, 255))
    mask = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), mode="L")
    if mask.width * HEIGHT > MAX_WIDTH * mask.height:
        # A long phrase keeps its proportions: smaller on a wider strip of paper, never squeezed.
        strip = Image.new("L", (mask.width, round(mask.width * HEIGHT / MAX_WIDTH)), 0)
        strip.paste(mask, (0, (strip.height - mask.height) // 2))
        mask = strip
    width = max(8, min(MAX_WIDTH, round(mask.width * HEIGHT / mask.height)))
    if q:
        # Scan resolution: written at a lower resolution, then brought up to the benchmark height.
        res = 1.0 - 0.25 * min(q, 2.0) * draws["res"]
        low = (max(4, round(width * res)), max(8, round(HEIGHT * res)))
        mask = mask.resize(low, Image.BOX).resize((width, HEIGHT), Image.BILINEAR)
        blur = draws["blur"] * q
        if blur > 0.2:
            mask = mask.filter(ImageFilter.GaussianBlur(blur))
    else:
        mask = mask.resize((width, HEIGHT), Image.BILINEAR)
    alpha = np.asarray(mask, dtype=np.float32) / 255.0
    paper = float(rng.uniform(200, 250))
    texture = Image.fromarray(rng.normal(0, 1, (max(2, HEIGHT // 6), max(2, width // 6))).astype(np.float32),
                              mode="F").resize((width, HEIGHT), Image.BICUBIC)
    background = paper + np.asarray(texture) * rng.uniform(2, 6 + 6 * q)
    if q and draws["ruled"] < 0.35:
        # A ruled line under the word (notebook paper), faint and a little off the baseline.
        row = int(np.clip(HEIGHT * draws["row"], 0, HEIGHT - 1))
        background[row:row + 1 + int(draws["double"] < 0.3), :] -= draws["depth"]
    # Ink varies along the word (pen loading) and between samples.
    ink_field = np.asarray(Image.fromarray(rng.normal(0, 1, (2, max(2, width // 40))).astype(np.float32), mode="F")
                           .resize((width, HEIGHT), Image.BICUBIC))
    ink = w.ink + rng.normal(0, 10) + ink_field * 15 * q
    pixels = background * (1 - alpha) + ink * alpha
    pixels = pixels + rng.normal(0, rng.uniform(1, 2 + 2.5 * q), alpha.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="L")
    if q:
        quality = int(round(95 - draws["quality"] * q))
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=max(20, quality))
        image = Image.open(io.BytesIO(buf.getvalue())).convert("L")
    return image


def render_hand(text: str, writer: Writer, d: Difficulty, rng: np.random.Generator, stroke_folder: str):
    mask = (draw_han(text, writer, d, rng, stroke_folder) if writer.script == "han"
            else draw_latin(text, writer, d, rng))
    return image_pipeline(mask, writer, d, rng)


def without(d: Difficulty, lever: str) -> Difficulty:
    if lever not in LEVERS:
        raise ValueError(f"unknown lever {lever!r} (choose from {', '.join(LEVERS)})")
    return replace(d, off=d.off | {lever})
