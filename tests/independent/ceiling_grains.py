"""The truth's ceilings for microtracks: writes `<view>.grains.csv` files (the columns of `emunet
grains`) made from the simulator's truth instead of a network, for `emunet tracks` to run on.

    python3 ceiling_grains.py masks    SIM_DIR OUT_DIR   # the truth masks' clusters
    python3 ceiling_grains.py resolved SIM_DIR OUT_DIR   # every grain on its own

`masks`: a perfect per-plane segmentation. Each plane's truth mask (SIM_DIR/masks/<frame>.png)
is cut into 8-connected clusters; a cluster holds the in-focus grains whose centre pixel it
covers, and clusters that hold the same grain on two planes are one. Each such group becomes one
grain at the mean position of its truth grains: what any segmentation of single planes could
deliver at best, since a plane shows grains within its depth of field and a grain's width of
each other as one cluster. Its `volume` is 100 × the number of truth grains it holds (exact
multiplicities, for trying weights). `resolved`: every grain of the view at its true position
(none merged, none missed): the finder's own ceiling.
"""
import csv
import os
import sys

import numpy as np
from PIL import Image
from scipy import ndimage

HEADER = ("view,grain,x_px,y_px,x_um,y_um,z_um,best_plane,first_plane,planes,area,volume,peak,"
          "quality")


def main():
    mode, sim, out = sys.argv[1:4]
    if mode not in ("masks", "resolved"):
        sys.exit("mode: masks or resolved")
    os.makedirs(out, exist_ok=True)
    rows = list(csv.DictReader(open(os.path.join(sim, "grains.csv"))))
    for view in sorted({r["frame"].split("_")[0] for r in rows}):
        mine = [r for r in rows if r["frame"].split("_")[0] == view]
        where = {r["grain"]: tuple(float(r[k]) for k in ("x_um", "y_um", "z_um", "x_px", "y_px"))
                 for r in mine}
        if mode == "resolved":
            groups = [[g] for g in where]
        else:
            groups = mask_groups(sim, mine)
        with open(os.path.join(out, f"{view}.grains.csv"), "w") as f:
            f.write(HEADER + "\n")
            for k, members in enumerate(groups):
                x_um, y_um, z_um, x_px, y_px = np.mean([where[g] for g in members], axis=0)
                f.write(f"{view},{k},{x_px:.4f},{y_px:.4f},{x_um:.4f},{y_um:.4f},{z_um:.4f},"
                        f"0,0,1,4,{100 * len(members)},50,0\n")
        print(f"{view}: {len(where)} truth grains, {len(groups)} grains written ({mode})")


def mask_groups(sim, rows):
    """Groups of truth grains that the truth masks show as one cluster (across planes too)."""
    parent = {}

    def root(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    # The grains each plane shows in focus with a truth pixel of their own.
    by_frame = {}
    for r in rows:
        if r["in_focus"] == "1" and int(r["truth_px"]) > 0:
            by_frame.setdefault(r["frame"], []).append(r)
    for frame, shown in sorted(by_frame.items()):
        mask = np.array(Image.open(os.path.join(sim, "masks", frame + ".png"))) > 0
        labels, _ = ndimage.label(mask, structure=np.ones((3, 3)))
        h, w = labels.shape
        for r in shown:
            x, y = int(float(r["x_px"])), int(float(r["y_px"]))
            if not (0 <= x < w and 0 <= y < h) or labels[y, x] == 0:
                continue
            a, b = ("cluster", frame, int(labels[y, x])), ("grain", r["grain"])
            parent.setdefault(a, a)
            parent.setdefault(b, b)
            parent[root(a)] = root(b)
    groups = {}
    for node in parent:
        if node[0] == "grain":
            groups.setdefault(root(node), []).append(node[1])
    return list(groups.values())


if __name__ == "__main__":
    main()
