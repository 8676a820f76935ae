"""Simulator benchmark: 5,000 nodes × 50,000 pods, pods per second and peak memory.

Run ``python bench/sim.py`` (or call :func:`bench_simulate` from ``bench/run.py``).
The cluster is 4,000 8-GPU H100 nodes and 1,000 CPU nodes made with
``--nodes``; the submissions are 500 Deployments of CPU pods (60 replicas
each) and 400 Jobs of GPU pods (50 pods each, 1–8 GPUs), so that the GPU
nodes fill up and the last pods go through the failure message and the
preemption dry run too. Default profile, one process.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from kubernai.model.resource import Resource, Source
from kubernai.sim import Options, simulate

NODES = ("4000xNVIDIA-H100-80GB-HBM3:8", "1000xcpu:64")


def _deployment(index: int, replicas: int) -> Resource:
    raw: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"web-{index}", "namespace": f"team-{index % 20}"},
        "spec": {
            "replicas": replicas,
            "template": {
                "metadata": {"labels": {"app": f"web-{index}"}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "registry.example/web:1",
                            "resources": {
                                "requests": {
                                    "cpu": f"{250 * (1 + index % 4)}m",
                                    "memory": f"{512 * (1 + index % 3)}Mi",
                                }
                            },
                        }
                    ]
                },
            },
        },
    }
    return Resource(raw, Source("bench", 1))


def _job(index: int, parallelism: int) -> Resource:
    gpus = (1, 2, 4, 8)[index % 4]
    raw: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": f"train-{index}", "namespace": f"ml-{index % 10}"},
        "spec": {
            "parallelism": parallelism,
            "template": {
                "metadata": {"labels": {"job": f"train-{index}"}},
                "spec": {
                    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}],
                    "containers": [
                        {
                            "name": "trainer",
                            "image": "registry.example/train:1",
                            "resources": {
                                "requests": {"cpu": f"{8 * gpus}", "memory": "64Gi"},
                                "limits": {"nvidia.com/gpu": str(gpus)},
                            },
                        }
                    ],
                },
            },
        },
    }
    return Resource(raw, Source("bench", 1))


def workloads(pods: int = 50_000) -> list[Resource]:
    """Deployments and GPU Jobs adding up to ``pods`` pods."""
    found: list[Resource] = []
    cpu_pods = pods * 3 // 5
    for index in range(cpu_pods // 60):
        found.append(_deployment(index, 60))
    for index in range((pods - cpu_pods) // 50):
        found.append(_job(index, 50))
    return found


def bench_simulate(
    nodes: tuple[str, ...] = NODES, pods: int = 50_000, seed: int = 0
) -> dict[str, float]:
    """Run once; pods/s over the whole run and peak resident memory (MiB)."""
    submit = workloads(pods)
    start = time.perf_counter()
    result = simulate([], submit, nodes=nodes, options=Options(seed=seed))
    elapsed = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    summary = result.summary
    return {
        "nodes": float(summary["nodes"]),  # type: ignore[arg-type]
        "pods": float(summary["pods"]),  # type: ignore[arg-type]
        "scheduled": float(summary["scheduled"]),  # type: ignore[arg-type]
        "pending": float(summary["pending"]),  # type: ignore[arg-type]
        "seconds": elapsed,
        "pods_per_second": summary["pods"] / elapsed,  # type: ignore[operator]
        "peak_rss_mib": peak_kib / 1024,
    }


def main() -> None:
    numbers = bench_simulate()
    print(
        f"simulate: {numbers['nodes']:.0f} nodes, {numbers['pods']:.0f} pods "
        f"({numbers['scheduled']:.0f} scheduled, {numbers['pending']:.0f} pending) "
        f"in {numbers['seconds']:.1f} s = {numbers['pods_per_second']:.0f} pods/s, "
        f"peak RSS {numbers['peak_rss_mib']:.0f} MiB"
    )


if __name__ == "__main__":
    main()
