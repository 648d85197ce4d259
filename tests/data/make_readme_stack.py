"""README picture of a focal stack's grains and microtracks: a top view (x, y) of one region of a
view, grains coloured by depth, found tracks drawn through the layer with their grains ringed,
and a side view (x, z) beneath. Usage:
    python3 make_readme_stack.py VIEW.grains.csv VIEW.tracks.csv X0 Y0 X1 Y1 OUT.png
(the commands that made tests/data/readme_stack.png are in the README, Focal stacks)."""
import csv
import sys

from PIL import Image, ImageDraw

grains_csv, tracks_csv = sys.argv[1], sys.argv[2]
x0, y0, x1, y1 = (float(v) for v in sys.argv[3:7])
out = sys.argv[7]
S = 6.0  # pixels per µm
grains = {int(r["grain"]): r for r in csv.DictReader(open(grains_csv))}
tracks = list(csv.DictReader(open(tracks_csv)))
zs = [float(r["z_um"]) for r in grains.values()]
zmin, zmax = min(zs), max(zs)


def colour(z):
    # Dark blue (top of the layer) → green → yellow (bottom).
    t = min(max((z - zmin) / (zmax - zmin), 0.0), 1.0)
    stops = [(40, 30, 110), (30, 140, 140), (110, 200, 70), (250, 230, 40)]
    k = min(int(t * 3), 2)
    f = t * 3 - k
    a, b = stops[k], stops[k + 1]
    return tuple(int(a[i] + (b[i] - a[i]) * f) for i in range(3))


w, h = int((x1 - x0) * S), int((y1 - y0) * S)
side = int((zmax - zmin) * S) + 1
img = Image.new("RGB", (w, h + 12 + side), (250, 250, 250))
d = ImageDraw.Draw(img)
d.rectangle([0, h, w, h + 12], fill=(255, 255, 255))
on_track = {int(g) for t in tracks for g in t["grains"].split(";") if g}
for g in grains.values():
    x, y, z = float(g["x_um"]), float(g["y_um"]), float(g["z_um"])
    if not (x0 <= x < x1):
        continue
    px = (x - x0) * S
    if y0 <= y < y1:
        py = (y - y0) * S
        d.ellipse([px - 2, py - 2, px + 2, py + 2], fill=colour(z))
    if y0 <= y < y1:  # side view: the same region's grains, depth downwards
        pz = h + 12 + (z - zmin) * S
        d.ellipse([px - 1.5, pz - 1.5, px + 1.5, pz + 1.5], fill=colour(z))
for t in tracks:
    xa, ya, za = float(t["x0_um"]), float(t["y0_um"]), float(t["z0_um"])
    tx, ty = float(t["tx"]), float(t["ty"])
    ends = [(xa + tx * (z - za), ya + ty * (z - za), z) for z in (zmin, zmax)]
    if not any(x0 <= x < x1 and y0 <= y < y1 for x, y, _ in ends):
        continue
    d.line([((x - x0) * S, (y - y0) * S) for x, y, _ in ends], fill=(220, 30, 30), width=2)
    d.line([((x - x0) * S, h + 12 + (z - zmin) * S) for x, _, z in ends], fill=(220, 30, 30), width=2)
    for gid in t["grains"].split(";"):
        g = grains[int(gid)]
        x, y, z = float(g["x_um"]), float(g["y_um"]), float(g["z_um"])
        px, py, pz = (x - x0) * S, (y - y0) * S, h + 12 + (z - zmin) * S
        d.ellipse([px - 5, py - 5, px + 5, py + 5], outline=(220, 30, 30), width=2)
        d.ellipse([px - 4, pz - 4, px + 4, pz + 4], outline=(220, 30, 30), width=2)
img.save(out, optimize=True)
print(f"{out}: {img.size[0]}×{img.size[1]}, {len(on_track)} track grains in the view")
