"""W7: JPEG read + decode + bilinear resize to 224x224 (float32) in a parallel map.

Generates ``--count`` 256x256 JPEG files (smooth random content, quality 90) in a
temporary directory, then, alternating in one process, runs the same work through:

- tf.data: ``from_tensor_slices(paths).map(read_file + decode_jpeg + resize,
  num_parallel_calls=AUTOTUNE).batch(64)``
- PyTorch ``DataLoader`` (2 workers, persistent, batch 64) over a map-style dataset
  whose ``__getitem__`` opens the file with PIL, resizes (bilinear) and returns float32
- datapipe: ``from_tensor_slices(paths).map(read + dp.image.decode_jpeg +
  dp.image.resize, num_parallel_calls=N).batch(64)`` with N = AUTOTUNE, 1 and 2

and prints images/s, MB/s of output and the ratios; then times each datapipe stage
(read, decode, resize, batch stack) in CPU time on one core, and counts page faults.
Writes JSON to benchmarks/results/.

Fresh memory costs here: every image's 600 KB float32 output and every 38 MB batch
are new pages the kernel must fault in (glibc hands large blocks back to the OS).
Setting ``MALLOC_MMAP_THRESHOLD_=268435456 MALLOC_TRIM_THRESHOLD_=1073741824`` in the
environment keeps freed blocks for reuse, for every framework in the run.

    /tmp/tfenv/bin/python benchmarks/jpeg_decode.py --rounds 3
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

import datapipe as dp
import datapipe.image as dpi
from datapipe.io.filesystem import open_input

try:  # run as a script (benchmarks/ on sys.path) or imported as benchmarks.jpeg_decode
    import harness
    import workloads as peers
except ImportError:  # pragma: no cover
    from benchmarks import harness, workloads as peers

SIZE, OUT, BATCH = 256, 224, 64
ROW_BYTES = OUT * OUT * 3 * 4  # one float32 output image
TARGETS = [("datapipe", "tf.data", 1.0), ("datapipe", "torch DataLoader (2 workers)", 3.0)]


def make_files(directory: Path, count: int, seed: int = 0) -> list[str]:
    """``count`` smooth random 256x256 JPEGs (quality 90); their paths."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        small = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
        path = directory / f"img_{i:05d}.jpg"
        small.resize((SIZE, SIZE), Image.Resampling.BICUBIC).save(path, "JPEG", quality=90)
        paths.append(str(path))
    return paths


def read_file(path: Any) -> bytes:
    """The whole file (``path`` a str, bytes or 0-d array element)."""
    if isinstance(path, np.ndarray):
        path = path.item()
    if isinstance(path, bytes):
        path = path.decode()
    with open_input(path) as f:
        return f.read()


def load(path: Any) -> np.ndarray:
    """read + decode + bilinear resize to 224x224 float32 (tf.image.resize numerics)."""
    return dpi.resize(dpi.decode_jpeg(read_file(path), channels=3), (OUT, OUT))


def _count(iterator: Any) -> int:
    return sum(len(batch) for batch in iterator)


def datapipe_runner(paths: list[str], parallel: Any) -> Any:
    ds = dp.Dataset.from_tensor_slices(paths).map(load, num_parallel_calls=parallel) \
        .batch(BATCH)

    def run() -> int:
        iterator = iter(ds)
        try:
            return _count(iterator)
        finally:
            iterator.close()
    return run


def tf_runner(paths: list[str]) -> Any:
    import tensorflow as tf

    def tf_load(path: Any) -> Any:
        image = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
        return tf.image.resize(image, (OUT, OUT))

    ds = tf.data.Dataset.from_tensor_slices(paths).map(
        tf_load, num_parallel_calls=tf.data.AUTOTUNE).batch(BATCH)
    return lambda: sum(int(b.shape[0]) for b in ds)


class _TorchImages:
    """Map-style dataset: PIL open + bilinear resize + float32 tensor."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Any:
        import torch
        with Image.open(self.paths[index]) as image:
            image = image.convert("RGB").resize((OUT, OUT), Image.Resampling.BILINEAR)
            return torch.from_numpy(np.asarray(image, dtype=np.float32))


def torch_runner(paths: list[str], workers: int = 2) -> Any:
    from torch.utils.data import DataLoader
    loader = DataLoader(_TorchImages(paths), batch_size=BATCH, num_workers=workers,
                        persistent_workers=workers > 0)
    return lambda: sum(len(b) for b in loader)


def stage_times(paths: list[str], count: int = 256) -> dict[str, float]:
    """Microseconds of CPU time per image of each datapipe stage, on one core.

    CPU time (``time.thread_time``), not wall time: other jobs on the machine do not
    inflate it. Resize outputs are kept alive until their batch is stacked, as in the
    pipeline, so fresh-memory page faults are counted where they happen; the resize
    is also timed on one reused image alone, and the minor page faults per image of
    the whole loop are reported.
    """
    import resource

    from datapipe.structure.stacking import stack as stack_batch
    paths = paths[:count]
    clock = time.thread_time
    times = {"read": 0.0, "decode": 0.0, "resize (outputs kept for the batch)": 0.0,
             "batch stack (datapipe native path)": 0.0}
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for start in range(0, len(paths), BATCH):
        outputs = []
        for path in paths[start:start + BATCH]:
            t0 = clock()
            data = read_file(path)
            t1 = clock()
            image = dpi.decode_jpeg(data, channels=3)
            t2 = clock()
            outputs.append(dpi.resize(image, (OUT, OUT)))
            t3 = clock()
            times["read"] += t1 - t0
            times["decode"] += t2 - t1
            times["resize (outputs kept for the batch)"] += t3 - t2
        t0 = clock()
        stack_batch(outputs, "batch")
        times["batch stack (datapipe native path)"] += clock() - t0
        del outputs
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    image = dpi.decode_jpeg(read_file(paths[0]), channels=3)
    t0 = clock()
    for _ in range(len(paths)):
        dpi.resize(image, (OUT, OUT))
    times["resize alone (output memory reused)"] = clock() - t0
    # the uint8 -> float32 conversion NumPy would need (the native kernel reads uint8)
    t0 = clock()
    for _ in range(len(paths)):
        image.astype(np.float32)
    times["convert u8->f32 (not needed: fused)"] = clock() - t0
    result = {k: v / len(paths) * 1e6 for k, v in times.items()}
    result["minor page faults per image"] = faults / len(paths)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--frameworks", default="datapipe,tf.data,torch")
    parser.add_argument("--settle", type=float, default=1.0,
                        help="seconds of idle before each pass, so one framework's "
                             "leftover work (worker processes, threads) does not "
                             "land on the next one's clock")
    parser.add_argument("--out", default=str(harness.RESULTS_DIR / "jpeg_decode.json"))
    args = parser.parse_args(argv)
    wanted = args.frameworks.split(",")
    with tempfile.TemporaryDirectory(prefix="w7_jpeg_") as tmp:
        print(f"writing {args.count} JPEGs {SIZE}x{SIZE} q90 to {tmp} ...", flush=True)
        paths = make_files(Path(tmp), args.count)
        total_bytes = sum(Path(p).stat().st_size for p in paths)
        runners: dict[str, Any] = {}
        if "datapipe" in wanted:
            runners["datapipe"] = datapipe_runner(paths, dp.AUTOTUNE)
            runners["datapipe (1 worker)"] = datapipe_runner(paths, 1)
            runners["datapipe (2 workers)"] = datapipe_runner(paths, 2)
        notes = []
        if "tf.data" in wanted:
            try:
                runners["tf.data"] = tf_runner(paths)
            except ImportError as exc:
                notes.append(f"tf.data skipped: {exc}")
        if "torch" in wanted:
            try:
                runners["torch DataLoader (2 workers)"] = torch_runner(paths, 2)
            except ImportError as exc:
                notes.append(f"torch skipped: {exc}")
        for run in runners.values():  # warm-up: imports, workers, caches
            run()
        figures: dict[str, list[dict[str, float]]] = {label: [] for label in runners}
        labels = list(runners)
        for round_index in range(args.rounds):
            shift = round_index % len(labels)
            for label in labels[shift:] + labels[:shift]:
                time.sleep(args.settle)
                result = harness.measure(runners[label], len(paths), ROW_BYTES)
                figures[label].append(result)
                print(f"round {round_index + 1}/{args.rounds} {label:<30} "
                      f"{result['elements_per_s']:>8,.0f} img/s  cpu {result['cpu']:.2f}",
                      flush=True)
        stages = stage_times(paths) if "datapipe" in wanted else {}
    medians = {label: statistics.median(r["elements_per_s"] for r in rounds)
               for label, rounds in figures.items()}
    print(f"\n{'variant':<32}{'img/s (median)':>16}{'MB/s in':>10}")
    for label, rate in medians.items():
        print(f"{label:<32}{rate:>16,.0f}{rate * total_bytes / len(paths) / 1e6:>10.1f}")
    ratios = {f"{a}/{b}": medians[a] / medians[b] for a in medians if a.startswith("datapipe")
              for b in medians if not b.startswith("datapipe")}
    if "datapipe (1 worker)" in medians and "datapipe (2 workers)" in medians:
        ratios["datapipe 2 workers / 1 worker"] = (medians["datapipe (2 workers)"]
                                                   / medians["datapipe (1 worker)"])
    for key, value in ratios.items():
        print(f"ratio {key}: {value:.2f}")
    targets = [{"variant": a, "versus": b, "needed": n,
                "ratio": medians[a] / medians[b] if a in medians and b in medians else None}
               for a, b, n in TARGETS]
    for t in targets:
        t["met"] = None if t["ratio"] is None else t["ratio"] >= t["needed"]
        print(f"target {t['variant']} >= {t['needed']}x {t['versus']}: "
              f"{'n/a' if t['ratio'] is None else format(t['ratio'], '.2f')} "
              f"({'met' if t['met'] else 'missed' if t['met'] is False else 'n/a'})")
    if stages:
        print("\ndatapipe, one core, CPU microseconds per image:")
        for key, value in stages.items():
            print(f"  {key:<40}{value:>8.0f}")
    report = {
        "benchmark": "W7 jpeg decode + resize",
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "config": {"count": len(paths), "size": SIZE, "out": OUT, "batch": BATCH,
                   "quality": 90, "rounds": args.rounds, "argv": sys.argv[1:],
                   "jpeg_bytes_total": total_bytes},
        "host": harness._host(),
        "versions": {"python": sys.version.split()[0], "numpy": np.__version__,
                     "pillow": Image.__version__, "datapipe": dp.__version__,
                     **peers.framework_versions(("tf.data", "torch"))},
        "notes": notes, "rounds": figures, "medians": medians, "ratios": ratios,
        "targets": targets, "stages_us_per_image": stages,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
