"""Writes tests/data/readme_nominal.png for the README: a 240x160 crop of a simulated nominal
frame beside its truth mask and the classical pipeline's mask, each enlarged 2x.
Run after `emunet simulate --out /tmp/nominal --count 1 --seed 2026`:
    python3 tests/data/make_readme_figure.py /tmp/nominal f00000"""
import sys
from PIL import Image, ImageDraw

sim, name = sys.argv[1], sys.argv[2]
box = (520, 400, 760, 560)
panels = [("frame", f"{sim}/images/{name}.png"), ("truth mask", f"{sim}/masks/{name}.png"),
          ("classical mask (FEDRA 6x6, T=50)", f"{sim}/masks_classic/{name}.png")]
scale, gap, top = 2, 8, 18
w, h = (box[2] - box[0]) * scale, (box[3] - box[1]) * scale
out = Image.new("L", (3 * w + 2 * gap, h + top), 255)
draw = ImageDraw.Draw(out)
for i, (title, path) in enumerate(panels):
    crop = Image.open(path).convert("L").crop(box).resize((w, h), Image.NEAREST)
    out.paste(crop, (i * (w + gap), top))
    draw.text((i * (w + gap) + 2, 3), title, fill=0)
out.save("tests/data/readme_nominal.png", optimize=True)
