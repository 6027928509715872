"""Make the README's screenshots from the browser walk, so they show the app as it is today.

``make screenshots`` runs the classroom walk of ``tests/app/test_browser.py`` (Home, Explore a real example,
Classify with every shipped model, record-and-train, try a new take) in headless Chromium, then keeps four of
its full-page screenshots: the top of each page (``--height`` pixels), scaled to ``--width`` and reduced to a
256-colour palette, so each PNG stays small. They are written to ``docs/img/`` (temporary name, then rename).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "tests" / "_artifacts"
#: docs/img name -> screenshot of the walk (a prefix: the Classify step names its model).
PICKS = {"home.png": "classroom_1_home", "explore.png": "classroom_2_explore_real_example",
         "classify.png": "classroom_3_classify_0_", "train.png": "classroom_5_trained_and_tried"}


def _find(prefix: str) -> Path:
    found = sorted(p for p in SHOTS.glob(f"{prefix}*.png") if not p.stem.endswith("_card"))
    if not found:
        raise SystemExit(f"error: the walk left no screenshot {prefix}*.png in {SHOTS}")
    return found[0]


def shrink(src: Path, dst: Path, *, width: int, height: int) -> None:
    """The top ``height`` pixels of ``src``, scaled to ``width``, as a 256-colour PNG at ``dst``."""
    with Image.open(src) as im:
        im = im.convert("RGB")
        im = im.crop((0, 0, im.width, min(im.height, height)))
        im = im.resize((width, round(im.height * width / im.width)), Image.LANCZOS)
        im = im.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        tmp = dst.with_suffix(".tmp.png")
        im.save(tmp, optimize=True)
        os.replace(tmp, dst)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "img"))
    parser.add_argument("--width", type=int, default=900)
    parser.add_argument("--height", type=int, default=1400, help="pixels kept from the top of each page")
    parser.add_argument("--no-walk", action="store_true", help="reuse the screenshots of the last walk")
    args = parser.parse_args(argv)
    if not args.no_walk:
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "tests/app/test_browser.py", "-k", "classroom_walk"], cwd=ROOT, check=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, prefix in PICKS.items():
        shrink(_find(prefix), out / name, width=args.width, height=args.height)
        print(f"{out / name}: {(out / name).stat().st_size // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
