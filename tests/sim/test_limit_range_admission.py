"""LimitRange defaulting happens after the API server copies limits into requests."""

from __future__ import annotations

import io
import json

from kubernai.cli.main import main

LIMIT_RANGE = """\
apiVersion: v1
kind: LimitRange
metadata: {name: defaults, namespace: ml}
spec:
  limits:
    - type: Container
      default: {nvidia.com/gpu: "1", cpu: "2"}
"""


def simulate(tmp_path, workload: str) -> list[dict]:
    (tmp_path / "cluster.yaml").write_text(LIMIT_RANGE)
    (tmp_path / "job.yaml").write_text(workload)
    out = io.StringIO()
    main(
        [
            "simulate", "--nodes", "1xNVIDIA-H100-80GB-HBM3:8",
            "--cluster", str(tmp_path / "cluster.yaml"),
            "--submit", str(tmp_path / "job.yaml"), "--format", "json",
        ],
        stdout=out,
        stderr=io.StringIO(),
    )  # fmt: skip
    return json.loads(out.getvalue())["pods"]


def test_a_gpu_limit_is_the_request_before_limitranger_runs(tmp_path):
    pods = simulate(
        tmp_path,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ml}\nspec:\n"
        "  tolerations: [{key: nvidia.com/gpu, operator: Exists}]\n"
        "  containers:\n    - name: c\n      resources: {limits: {nvidia.com/gpu: 8, cpu: '8'}}\n",
    )
    assert pods[0]["node"] is not None, pods[0]["message"]


def test_a_default_cpu_limit_below_the_request_rejects_the_pod(tmp_path):
    pods = simulate(
        tmp_path,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: ml}\nspec:\n"
        "  replicas: 1\n  template:\n    spec:\n      containers:\n        - name: c\n"
        "          resources: {requests: {cpu: '8'}}\n",
    )
    assert pods[0]["node"] is None
    assert "must be less than or equal to cpu limit" in pods[0]["message"]
