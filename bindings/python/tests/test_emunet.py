"""The Python module against the CLI and on its own: equal results, strided views and both dtypes,
errors as exceptions, no leak over 1,000 calls, the GIL released during GPU work.

Needs `emunet` installed (`pip install ./bindings/python`) and the CLI built (`cargo build`; the
binary is $EMUNET_CLI, else target/debug/emunet, else target/release/emunet). A GPU adapter is
required (Mesa's lavapipe will do): without one the tests fail, they do not skip.
"""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import emunet

ROOT = Path(__file__).resolve().parents[3]
W, H = 192, 128


def cli() -> str:
    if os.environ.get("EMUNET_CLI"):
        return os.environ["EMUNET_CLI"]
    for profile in ("debug", "release"):
        path = ROOT / "target" / profile / "emunet"
        if path.exists():
            return str(path)
    pytest.fail("no emunet CLI: run `cargo build` or set EMUNET_CLI")


def run_cli(*args) -> None:
    subprocess.run([cli(), *map(str, args)], check=True, capture_output=True)


@pytest.fixture(scope="module")
def engine():
    return emunet.Engine()


@pytest.fixture(scope="module")
def frames():
    # Two presets so the comparison covers sparse and crowded frames.
    nominal, _, _ = emunet.simulate(count=2, seed=11, preset="nominal", width=W, height=H)
    hard, _, _ = emunet.simulate(count=1, seed=12, preset="hard", width=W, height=H)
    return [nominal[0], nominal[1], hard[0]]


def read_csv(path: Path) -> str:
    return path.read_text()


def test_segment_equals_cli_8_and_16_bit(engine, frames, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    names = []
    for i, f in enumerate(frames):
        Image.fromarray(f).save(inputs / f"f{i}.png")
        names.append(f"f{i}")
    # 16-bit: the same frames scaled to the full range (the engine normalises by the bit depth).
    wide = [f.astype(np.uint16) * 257 + (np.arange(W, dtype=np.uint16) % 3) for f in frames]
    for i, f in enumerate(wide):
        Image.fromarray(f).save(inputs / f"w{i}.png")
    out = tmp_path / "out"
    run_cli("segment", "--out", out, inputs)
    for name, f in [*zip(names, frames), *((f"w{i}", f) for i, f in enumerate(wide))]:
        r = engine.segment(f)
        cli_mask = np.asarray(Image.open(out / f"{name}.mask.png")) != 0
        np.testing.assert_array_equal(r.mask, cli_mask, err_msg=name)
        np.testing.assert_array_equal(r.prob, np.load(out / f"{name}.prob.npy"), err_msg=name)
        assert emunet.clusters_csv(r.clusters) == read_csv(out / f"{name}.clusters.csv"), name
        assert len(r.clusters) > 10, name


def csv_values(text: str) -> np.ndarray:
    return np.array([[float(v) for v in line.split(",")] for line in text.splitlines()[1:]])


def test_classic_equals_cli(frames, tmp_path):
    for i, f in enumerate(frames):
        Image.fromarray(f).save(tmp_path / f"f{i}.png")
    paths = [tmp_path / f"f{i}.png" for i in range(len(frames))]
    for args, kwargs in [([], {}), (["--threshold", "40"], {"threshold": 40.0})]:
        cpu, gpu = tmp_path / f"cpu{len(args)}", tmp_path / f"gpu{len(args)}"
        run_cli("classic", "--cpu", "--out", cpu, *args, *paths)
        run_cli("classic", "--out", gpu, *args, *paths)
        for i, f in enumerate(frames):
            r = emunet.classic(f, **kwargs)
            assert r.prob is None and r.response.shape == (H, W)
            # The module runs the CPU reference: equal to `classic --cpu` to the last digit.
            cli_mask = np.asarray(Image.open(cpu / f"f{i}.mask.png")) != 0
            np.testing.assert_array_equal(r.mask, cli_mask)
            ours = emunet.clusters_csv(r.clusters)
            assert ours == read_csv(cpu / f"f{i}.clusters.csv")
            # The GPU pipeline (the CLI's default) sums in another order: the same clusters,
            # values within 1e-6 relative.
            cli_mask = np.asarray(Image.open(gpu / f"f{i}.mask.png")) != 0
            np.testing.assert_array_equal(r.mask, cli_mask)
            np.testing.assert_allclose(
                csv_values(ours), csv_values(read_csv(gpu / f"f{i}.clusters.csv")),
                rtol=1e-6, atol=1e-4,
            )


def test_simulate_equals_cli(tmp_path):
    images, masks, grains = emunet.simulate(
        count=2, seed=5, preset="mixed", width=W, height=H, frames_per_view=2
    )
    assert images.shape == (4, H, W) and images.dtype == np.uint8
    assert masks.shape == (4, H, W) and masks.dtype == np.bool_
    run_cli("simulate", "--out", tmp_path, "--count", 2, "--seed", 5, "--preset", "mixed",
            "--width", W, "--height", H, "--frames-per-view", 2)
    files = sorted((tmp_path / "images").glob("*.png"))
    assert len(files) == 4
    for i, path in enumerate(files):
        np.testing.assert_array_equal(images[i], np.asarray(Image.open(path)))
        truth = np.asarray(Image.open(tmp_path / "masks" / path.name)) != 0
        np.testing.assert_array_equal(masks[i], truth)
    rows = (tmp_path / "grains.csv").read_text().splitlines()[1:]
    assert len(rows) == len(grains)
    for row, g in zip(rows, grains):
        cells = row.split(",")
        assert int(cells[1]) == g["grain"]
        assert abs(float(cells[2]) - g["x_px"]) < 1e-3 and abs(float(cells[6]) - g["z_um"]) < 1e-3
        assert cells[8] in ("true", "false", "1", "0")
        assert (cells[8] in ("true", "1")) == bool(g["in_focus"])
        assert int(cells[9]) == g["track"] and int(cells[10]) == g["truth_px"]


def test_strided_views_and_dtypes(engine, frames):
    big = np.ascontiguousarray(np.repeat(np.repeat(frames[0], 2, axis=0), 2, axis=1))
    base = engine.segment(np.ascontiguousarray(big[::2, ::2]))
    views = {
        "every other pixel": big[::2, ::2],
        "Fortran order": np.asfortranarray(big[::2, ::2]),
        "padded rows": np.pad(frames[0], ((0, 0), (0, 13)))[:, :W],
    }
    for what, view in views.items():
        r = engine.segment(view)
        np.testing.assert_array_equal(r.prob, base.prob, err_msg=what)
        np.testing.assert_array_equal(r.clusters, base.clusters, err_msg=what)
    flipped = engine.segment(frames[0][::-1, ::-1])
    np.testing.assert_array_equal(flipped.prob, engine.segment(frames[0][::-1, ::-1].copy()).prob)
    wide = frames[0].astype(np.uint16) * 257
    r16 = engine.segment(wide)
    assert r16.mask.shape == (H, W) and r16.prob.dtype == np.float32
    np.testing.assert_array_equal(engine.segment(wide[:, ::-1]).prob,
                                  engine.segment(wide[:, ::-1].copy()).prob)


def test_result_types(engine, frames):
    r = engine.segment(frames[0])
    assert r.prob.dtype == np.float32 and r.prob.shape == (H, W)
    assert r.mask.dtype == np.bool_ and r.mask.shape == (H, W)
    np.testing.assert_array_equal(r.mask, r.prob >= engine.threshold)
    assert r.clusters.dtype == emunet.CLUSTER_DTYPE
    assert list(r.clusters.dtype.names) == (
        "id,x,y,area,volume,cog_x,cog_y,peak,peak_x,peak_y,x0,y0,x1,y1,mxx,mxy,myy".split(",")
    )
    np.testing.assert_array_equal(r.clusters["id"], np.arange(len(r.clusters)))
    assert r.clusters["area"].sum() <= r.mask.sum()
    assert r.elapsed > 0
    r.clusters["x"] += 1.0  # writable, owned by the caller


def test_segment_batch_equals_segment(engine, frames):
    mixed = [frames[0], frames[1][:64, :96], frames[2], frames[1]]
    batch = engine.segment_batch(mixed)
    assert len(batch) == 4
    for f, b in zip(mixed, batch):
        one = engine.segment(f)
        np.testing.assert_array_equal(b.prob, one.prob)
        np.testing.assert_array_equal(b.clusters, one.clusters)
    assert engine.segment_batch([]) == []


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((0, 8), np.uint8), "empty"),
        (np.zeros((16, 16, 3), np.uint8), "3-D array"),
        (np.zeros(16, np.uint8), "1-D array"),
        (np.zeros((16, 16), np.float32), "float32"),
        (np.zeros((16, 16), np.int16), "int16"),
        ([[1, 2], [3, 4]], "list"),
        (None, "NoneType"),
    ],
)
def test_bad_frames_raise_value_error(engine, bad, message):
    with pytest.raises(ValueError, match=message):
        engine.segment(bad)
    with pytest.raises(ValueError, match=message):
        emunet.classic(bad)


def test_frame_too_small_for_the_network(engine):
    with pytest.raises(ValueError, match="smaller than 2\\^D"):
        engine.segment(np.zeros((2, 2), np.uint8))
    # The classical pipeline takes any size (its 4 px border leaves nothing here).
    assert len(emunet.classic(np.zeros((2, 2), np.uint8)).clusters) == 0


def test_other_bad_input(engine, frames, tmp_path):
    with pytest.raises(FileNotFoundError):
        emunet.Engine(tmp_path / "missing.safetensors")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(ValueError, match="garbage.safetensors"):
        emunet.Engine(garbage)
    with pytest.raises(ValueError, match="precision"):
        emunet.Engine(precision="f64")
    with pytest.raises(ValueError, match="prob_format"):
        emunet.Engine(prob_format="f64")
    with pytest.raises(ValueError, match="frame 1"):
        engine.segment_batch([frames[0], np.zeros((4, 4), np.float64)])
    with pytest.raises(ValueError, match="not both"):
        emunet.classic(frames[0], threshold=50, target_clusters=100)
    with pytest.raises(ValueError, match="finite"):
        emunet.classic(frames[0], threshold=float("nan"))
    with pytest.raises(ValueError, match="preset"):
        emunet.simulate(preset="bogus")
    with pytest.raises(ValueError):
        emunet.simulate(count=0)
    # The engine still works after every refusal.
    assert len(engine.segment(frames[0]).clusters) > 0


def test_explicit_weights_and_precision(frames):
    shipped = ROOT / "crates" / "emunet" / "weights" / "default.safetensors"
    f32 = emunet.Engine(shipped, precision="f32").segment(frames[0])
    auto = emunet.Engine(str(shipped)).segment(frames[0])
    assert np.abs(f32.prob - auto.prob).max() < 1e-2
    assert (f32.mask != auto.mask).mean() < 1e-3


def test_pixel_size_equals_cli(tmp_path):
    images, _, _ = emunet.simulate(
        count=1, seed=13, preset="nominal", width=W, height=H, pixel_um=0.22
    )
    sim = tmp_path / "sim"
    run_cli("simulate", "--out", sim, "--count", 1, "--seed", 13, "--width", W, "--height", H,
            "--pixel-um", 0.22)
    np.testing.assert_array_equal(images[0], np.asarray(Image.open(sim / "images" / "f00000.png")))
    out = tmp_path / "out"
    run_cli("segment", "--pixel-um", 0.22, "--out", out, sim / "images")
    r = emunet.Engine(pixel_um=0.22).segment(images[0])
    assert r.mask.shape == (H, W)
    np.testing.assert_array_equal(r.mask, np.asarray(Image.open(out / "f00000.mask.png")) != 0)
    np.testing.assert_array_equal(r.prob, np.load(out / "f00000.prob.npy"))
    assert emunet.clusters_csv(r.clusters) == read_csv(out / "f00000.clusters.csv")
    with pytest.raises(ValueError, match="pixel size"):
        emunet.Engine(pixel_um=-0.3)


def test_u8_probabilities_keep_the_mask_and_clusters(frames):
    f32 = emunet.Engine(precision="f32").segment(frames[0])
    u8 = emunet.Engine(precision="f32", prob_format="u8").segment(frames[0])
    assert u8.prob.dtype == np.float32
    assert np.array_equal(np.round(u8.prob * 255) / 255, u8.prob)
    assert np.abs(u8.prob - f32.prob).max() <= 1 / 510 + 1e-6
    assert np.array_equal(u8.mask, f32.mask)
    assert len(u8.clusters) == len(f32.clusters)


def test_hung_device_raises_device_lost(frames, monkeypatch):
    # A GPU that does not answer within EMUNET_GPU_TIMEOUT is taken to be hung: that call and
    # every later one raise DeviceLostError (a RuntimeError), quickly.
    monkeypatch.setenv("EMUNET_GPU_TIMEOUT", "0.001")
    hung = emunet.Engine()
    monkeypatch.delenv("EMUNET_GPU_TIMEOUT")
    assert issubclass(emunet.DeviceLostError, RuntimeError)
    with pytest.raises(emunet.DeviceLostError, match="taken to be hung"):
        hung.segment(frames[0])
    start = time.perf_counter()
    with pytest.raises(emunet.DeviceLostError, match="taken to be hung"):
        hung.segment(frames[0])
    assert time.perf_counter() - start < 1.0


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_no_leak_over_1000_calls(engine, frames):
    frame = np.ascontiguousarray(frames[2][:64, :64])
    samples = []
    for i in range(1000):
        r = engine.segment(frame[:, ::-1] if i % 2 else frame)
        emunet.classic(frame)
        if i in (199, 599, 999):
            samples.append(rss_mib())
    assert len(r.clusters) > 0
    # Each call hands back ~25 KiB of arrays: a leak of them alone would add ~20 MiB over the
    # last 800 calls.
    growth = samples[-1] - samples[0]
    print(f"RSS after 200/600/1000 calls: {samples} MiB")
    assert growth < 4.0, f"RSS grew {growth:.1f} MiB from call 200 to call 1000: {samples}"


def test_gil_released_during_gpu_work(engine):
    # 1 Mpixel: long enough on any adapter for a counter thread to make progress, which it
    # can only do while the engine has the GIL released.
    images, _, _ = emunet.simulate(count=1, seed=3, preset="easy", width=1024, height=1024)
    engine.segment(images[0][:64, :64])
    ticks = 0
    done = threading.Event()

    def count():
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    start = time.perf_counter()
    engine.segment(images[0])
    seconds = time.perf_counter() - start
    done.set()
    t.join()
    # With the GIL held the whole call, the thread would tick at most a few times (the switch
    # interval is 5 ms); released, it ticks about once per millisecond of the call.
    assert ticks > 0.2 * seconds * 1000 and ticks > 20, (ticks, seconds)


def test_stubs_ship_with_the_package():
    package = Path(emunet.__file__).parent
    assert (package / "_emunet.pyi").is_file()
    assert (package / "py.typed").is_file()
    assert emunet.__version__ == "0.1.0"


def test_readme_snippet_runs_and_agrees_with_the_cli(tmp_path):
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## From Python"):]
    snippet = section[section.index("```python\n") + 10:]
    snippet = snippet[:snippet.index("```")]
    (tmp_path / "tests" / "data").mkdir(parents=True)
    sample = ROOT / "tests" / "data" / "sample_frame.png"
    (tmp_path / "tests" / "data" / "sample_frame.png").write_bytes(sample.read_bytes())
    (tmp_path / "snippet.py").write_text(snippet)
    done = subprocess.run([sys.executable, "snippet.py"], cwd=tmp_path, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    run_cli("segment", "--out", tmp_path / "cli", sample)
    assert (tmp_path / "sample_frame.clusters.csv").read_text() == (
        tmp_path / "cli" / "sample_frame.clusters.csv"
    ).read_text()
