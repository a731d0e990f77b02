"""Sharded S3 read: datapipe's list_files + parallel interleave vs fsspec's own cat_file.

A moto S3 server runs on loopback (in this process); ``--shards`` objects of
``--shard-mib`` MiB of random bytes are uploaded once. Each round then reads all of
them with every variant, alternating (the order rotates per round):

* ``fsspec_cat_file``: ``fs.cat_file(path)`` for each object in turn (s3fs, sync API);
* ``fsspec_cat``: ``fs.cat(paths)``, s3fs's concurrent fetch of the whole list;
* ``datapipe_open_input``: ``dp.Dataset.list_files("s3://bucket/shards/*") + interleave(...,
  num_parallel_calls=8)``, each shard read whole through ``open_input`` (read-ahead
  blocks on the I/O thread);
* ``datapipe_tfrecord`` (when ``--tfrecord`` and the TFRecord reader exist): the same
  shards written as TFRecord files of 1 MiB records, read with
  ``TFRecordDataset(dp.Dataset.list_files(...), num_parallel_reads=8)``.

Every variant checks it received every byte. The figure of merit is MB/s; the target
(issue 4) is datapipe >= 80% of ``cat_file``'s (the best of ``cat_file`` and ``cat``
is reported too). Results go to
``benchmarks/results/s3_read.json``.

    python benchmarks/s3_read.py --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import fsspec
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

from s3_server import ProcessS3Server, S3Server  # noqa: E402

import datapipe as dp  # noqa: E402
from datapipe.io.async_reader import configure  # noqa: E402
from datapipe.io.filesystem import open_input  # noqa: E402

BUCKET = "datapipe-bench"
MiB = 1 << 20


def upload(server: S3Server, shards: int, shard_mib: int) -> int:
    client = server.client()
    client.create_bucket(Bucket=BUCKET)
    rng = np.random.default_rng(0)
    for index in range(shards):
        body = rng.bytes(shard_mib * MiB)
        client.put_object(Bucket=BUCKET, Key=f"shards/part-{index:02d}.bin", Body=body)
    return shards * shard_mib * MiB


def upload_tfrecords(server: S3Server, shards: int, shard_mib: int) -> bool:
    try:
        from datapipe.io.tfrecord import TFRecordWriter  # type: ignore[import-not-found]
    except ImportError:
        return False
    rng = np.random.default_rng(1)
    options = server.storage_options()
    for index in range(shards):
        url = f"s3://{BUCKET}/tfrecords/part-{index:02d}.tfrecord"
        with TFRecordWriter(url, storage_options=options) as writer:
            for _ in range(shard_mib):
                writer.write(rng.bytes(MiB - 16))
    return True


def run_fsspec_cat_file(fs: Any, paths: list[str]) -> int:
    return sum(len(fs.cat_file(path)) for path in paths)


def run_fsspec_cat(fs: Any, paths: list[str]) -> int:
    return sum(len(data) for data in fs.cat(paths).values())


def run_datapipe(options: dict, parallel: int) -> int:
    def read_shard(path: bytes) -> bytes:
        with open_input(path, options) as f:
            return f.read()

    ds = dp.Dataset.list_files(f"s3://{BUCKET}/shards/*", shuffle=False, storage_options=options)
    ds = ds.interleave(lambda p: dp.Dataset.from_tensors(p).map(read_shard),
                       cycle_length=parallel, num_parallel_calls=parallel)
    return sum(len(x) for x in ds)


def run_tfrecord(options: dict, parallel: int) -> int:
    files = dp.Dataset.list_files(f"s3://{BUCKET}/tfrecords/*", shuffle=False,
                                  storage_options=options)
    ds = dp.TFRecordDataset(files, num_parallel_reads=parallel, storage_options=options)
    return sum(len(x) for x in ds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--shard-mib", type=int, default=16)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--block-mib", type=int, default=8,
                        help="datapipe read-ahead block size (MiB)")
    parser.add_argument("--blocks-in-flight", type=int, default=None,
                        help="datapipe read-ahead blocks in flight per file (default: "
                             "the library's)")
    parser.add_argument("--server", choices=("process", "thread"), default="process",
                        help="moto in its own process (default: like a real store, it does "
                             "not share the client's GIL) or in a thread of this one")
    parser.add_argument("--tfrecord", action="store_true",
                        help="also read the shards as TFRecord files")
    parser.add_argument("--idle-timeout", type=float, default=30.0,
                        help="seconds the I/O thread stays up with no file open "
                             "(datapipe's default is 1 s): passes measure steady "
                             "reading, not a restart each (the cold start is timed "
                             "separately)")
    parser.add_argument("--settle", type=float, default=0.5,
                        help="seconds of idle before each pass, so the server's and the "
                             "previous variant's leftover work lands on no one's clock")
    parser.add_argument("--out", default=str(HERE / "results" / "s3_read.json"))
    args = parser.parse_args(argv)

    configure(block_size=args.block_mib * MiB, idle_timeout=args.idle_timeout)
    if args.blocks_in_flight is not None:
        configure(blocks_in_flight=args.blocks_in_flight)
    server = (ProcessS3Server() if args.server == "process" else S3Server()).start()
    try:
        total = upload(server, args.shards, args.shard_mib)
        options = server.storage_options()
        fs = fsspec.filesystem("s3", skip_instance_cache=True, **options)
        paths = sorted(fs.glob(f"{BUCKET}/shards/*"))
        variants = {
            "fsspec_cat_file": lambda: run_fsspec_cat_file(fs, paths),
            "fsspec_cat": lambda: run_fsspec_cat(fs, paths),
            "datapipe_open_input": lambda: run_datapipe(options, args.parallel),
        }
        if args.tfrecord and upload_tfrecords(server, args.shards, args.shard_mib):
            variants["datapipe_tfrecord"] = lambda: run_tfrecord(options, args.parallel)
        for run in variants.values():  # warm-up: connections, imports
            run()
        names = list(variants)
        seconds: dict[str, list[float]] = {name: [] for name in names}
        for round_index in range(args.rounds):
            order = names[round_index % len(names):] + names[:round_index % len(names)]
            for name in order:
                time.sleep(args.settle)
                start = time.perf_counter()
                got = variants[name]()
                seconds[name].append(time.perf_counter() - start)
                expected = total if name != "datapipe_tfrecord" else (
                    args.shards * args.shard_mib * (MiB - 16))
                if got != expected:
                    raise SystemExit(f"{name} read {got} bytes, expected {expected}")
    finally:
        server.stop()

    mbps = {name: total / 1e6 / statistics.median(values) for name, values in seconds.items()}
    best_fsspec = max(mbps["fsspec_cat_file"], mbps["fsspec_cat"])
    # The target is against cat_file; the best of cat_file and cat is reported
    # too (cat fetches the objects concurrently).
    ratios = {name: value / mbps["fsspec_cat_file"] for name, value in mbps.items()
              if name.startswith("datapipe")}
    best_ratios = {name: value / best_fsspec for name, value in mbps.items()
                   if name.startswith("datapipe")}
    print(f"{args.shards} shards x {args.shard_mib} MiB on loopback moto, "
          f"{args.rounds} rounds (median)")
    print(f"{'variant':24s} {'MB/s':>9s}  {'vs cat_file':>11s}  {'vs best fsspec':>14s}")
    for name in names:
        ratio = f"{ratios[name]:.2f}x" if name in ratios else ""
        best = f"{best_ratios[name]:.2f}x" if name in best_ratios else ""
        print(f"{name:24s} {mbps[name]:9.1f}  {ratio:>11s}  {best:>14s}")
    report = {
        "benchmark": "s3_read",
        "config": vars(args),
        "bytes": total,
        "host": {"python": platform.python_version(), "machine": platform.machine(),
                 "cpus": os.cpu_count()},
        "versions": {"datapipe": getattr(dp, "__version__", "dev"),
                     "fsspec": fsspec.__version__,
                     "s3fs": __import__("s3fs").__version__,
                     "moto": __import__("moto").__version__},
        "seconds": seconds,
        "mb_per_s": mbps,
        "ratio_vs_cat_file": ratios,
        "ratio_vs_best_fsspec": best_ratios,
        "target": {"ratio": 0.8, "met": all(r >= 0.8 for r in ratios.values())},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
