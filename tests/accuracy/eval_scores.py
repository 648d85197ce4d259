"""Object and pixel scores from an `emunet eval --json` report, shared by the report scripts."""
import json
import math


def scores(path):
    """Pixel Jaccard, grain efficiency, purity, position RMS and clusters/grains per frame, and
    the same object scores of the truth mask itself (eval's ceiling)."""
    r = json.load(open(path))
    o, c = r["objects"], r["ceiling"]
    nf = max(len(r["frames"]), 1)
    return dict(j=r["jaccard"],
                eff=o["matched"] / max(o["grains"], 1),
                pur=o["matched"] / max(o["clusters"], 1),
                rms=math.sqrt(o["sum_d2"] / max(o["matched"], 1)),
                n=o["clusters"] / nf, g=o["grains"] / nf,
                ceff=c["matched"] / max(c["grains"], 1),
                cpur=c["matched"] / max(c["clusters"], 1),
                crms=math.sqrt(c["sum_d2"] / max(c["matched"], 1)),
                cn=c["clusters"] / nf)
