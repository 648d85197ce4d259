"""Writes tests/data/readme_overlay.png for the README: a crop of the shipped model's overlay of the
sample frame beside the same crop of the frame, each enlarged 3x.
Run after `emunet segment --overlay --out /tmp/emunet-out tests/data/sample_frame.png`:
    python3 tests/data/make_readme_overlay.py /tmp/emunet-out"""
import sys
from PIL import Image, ImageDraw

out_dir = sys.argv[1]
box = (196, 10, 316, 90)
scale, gap, top = 3, 8, 18
w, h = (box[2] - box[0]) * scale, (box[3] - box[1]) * scale
panels = [("frame", Image.open("tests/data/sample_frame.png").convert("RGB")),
          ("overlay: outlines green, split pieces magenta, positions red",
           Image.open(f"{out_dir}/sample_frame.overlay.png").convert("RGB"))]
figure = Image.new("RGB", (2 * w + gap, h + top), (255, 255, 255))
draw = ImageDraw.Draw(figure)
for i, (title, image) in enumerate(panels):
    figure.paste(image.crop(box).resize((w, h), Image.NEAREST), (i * (w + gap), top))
    draw.text((i * (w + gap) + 2, 3), title, fill=(0, 0, 0))
figure.save("tests/data/readme_overlay.png", optimize=True)
