"""`make bench`: objects per second. Prints numbers, asserts nothing."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import generate

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
KUBERNAI = [sys.executable, "-m", "kubernai"]


def one_core() -> list[str]:
    """Pin to one core where taskset exists, so the number is per core."""
    return ["taskset", "-c", "0"] if shutil.which("taskset") else []


def timed(command: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
        )
        times.append(time.perf_counter() - start)
    return times


def count_objects(path: Path) -> int:
    done = subprocess.run(
        [
            *KUBERNAI,
            "check",
            "--no-config",
            "-f",
            "json",
            "--fail-on",
            "never",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    import json

    return int(json.loads(done.stdout)["summary"]["objects"])


def throughput(label: str, path: Path, runs: int) -> None:
    objects = count_objects(path)
    command = [
        *one_core(), *KUBERNAI, "check", "--no-config", "-f", "json",
        "-o", os.devnull, "--fail-on", "never", str(path),
    ]  # fmt: skip
    times = timed(command, runs)
    best, median = min(times), statistics.median(times)
    print(
        f"{label:<28} {objects:>7} objects  median {median:6.2f} s  "
        f"best {best:6.2f} s  {objects / median:8.0f} objects/s end to end "
        "(one core, all rules)"
    )


def in_process(label: str, path: Path, runs: int) -> None:
    """Load and check without the interpreter's start: the engine's own rate."""
    import gc

    from kubernai.config import Config
    from kubernai.engine import run, select_rules
    from kubernai.load.files import load_paths

    config = Config()
    rules = select_rules(config)
    times, objects = [], 0
    for _ in range(runs):
        gc.disable()
        start = time.perf_counter()
        loaded = load_paths([str(path)])
        run(loaded, config=config, rules=rules)
        times.append(time.perf_counter() - start)
        gc.enable()
        objects = len(loaded.resources)
        del loaded
    median = statistics.median(times)
    print(
        f"{label + ' (in process)':<28} {objects:>7} objects  median {median:6.2f} s  "
        f"{objects / median:8.0f} objects/s load + rules"
    )


def main() -> None:
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    startup = timed([*KUBERNAI, "--version"], 15)
    print(
        f"{'startup (--version)':<28} "
        f"median {statistics.median(startup) * 1000:6.1f} ms"
    )
    with tempfile.TemporaryDirectory() as folder:
        empty = Path(folder) / "empty.yaml"
        empty.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
        small = timed([*KUBERNAI, "check", "--no-config", str(empty)], 10)
        print(
            f"{'check one object':<28} median {statistics.median(small) * 1000:6.1f} ms"
        )
        if CORPUS.is_dir():
            throughput("../shared/corpus", CORPUS, 5)
            in_process("../shared/corpus", CORPUS, 5)
        else:
            print("../shared/corpus absent: corpus benchmark skipped")
        generated = Path(folder) / "generated"
        generate(generated, objects=20_000)
        throughput("generated corpus", generated, 3)
        in_process("generated corpus", generated, 3)
    from bench.sim import bench_simulate

    print(f"{'simulate':<28} {bench_simulate()}")


if __name__ == "__main__":
    main()
