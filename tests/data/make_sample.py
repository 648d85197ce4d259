"""Writes sample_frame.png: a small synthetic emulsion-like frame (bright noisy background, dark
Gaussian grains a few pixels across, faint large out-of-focus blobs) for the README's first command.
It is only a stand-in until `emunet simulate` exists. Run: python3 tests/data/make_sample.py"""
import numpy as np
from PIL import Image

rng = np.random.default_rng(2026)
h, w = 256, 320
y, x = np.mgrid[0:h, 0:w] + 0.5
img = 205.0 * (1.0 - 0.03 * ((x - w / 2) ** 2 + (y - h / 2) ** 2) / (w * w / 4))
dark = np.zeros((h, w))
for _ in range(60):  # in-focus grains
    cx, cy, a = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.3, 0.6)
    dark = 1 - (1 - dark) * (1 - a * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * 1.2 ** 2)))
for _ in range(40):  # out-of-focus haze
    cx, cy, a = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.05, 0.12)
    dark = 1 - (1 - dark) * (1 - a * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * 4.0 ** 2)))
img = img * (1 - dark) + rng.normal(0, 2.5, (h, w)) + rng.normal(0, 1.5, (1, w))
Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8), "L").save("sample_frame.png")
