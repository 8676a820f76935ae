"""Write a synthetic corpus of realistic AI-platform manifests for benchmarks."""

from __future__ import annotations

import random
from pathlib import Path

import yaml

IMAGES = [
    "vllm/vllm-openai:v0.6.3",
    "nvcr.io/nvidia/pytorch:24.07-py3",
    "ghcr.io/huggingface/text-generation-inference:2.4.0",
    "nvcr.io/nvidia/tritonserver:24.08-py3",
]


def _container(rng: random.Random, gpus: int) -> dict:
    limits = {
        "cpu": str(rng.choice([4, 8, 16])),
        "memory": f"{rng.choice([32, 64, 128])}Gi",
    }
    requests = dict(limits)
    if gpus:
        limits["nvidia.com/gpu"] = gpus
        if rng.random() < 0.1:
            requests["nvidia.com/gpu"] = gpus + 1  # a mistake CLU003 catches
    return {
        "name": "main",
        "image": rng.choice(IMAGES),
        "args": ["--model", "meta-llama/Llama-3.1-8B-Instruct", "--port", "8000"],
        "ports": [{"containerPort": 8000, "name": "http"}],
        "env": [
            {"name": "HF_HOME", "value": "/models"},
            {"name": "NCCL_DEBUG", "value": "WARN"},
        ],
        "resources": {"limits": limits, "requests": requests},
        "volumeMounts": [{"name": "shm", "mountPath": "/dev/shm"}],
        "readinessProbe": {
            "httpGet": {"path": "/health", "port": 8000},
            "periodSeconds": 5,
        },
    }


def _pod_spec(rng: random.Random, gpus: int) -> dict:
    spec: dict = {
        "containers": [_container(rng, gpus)],
        "volumes": [
            {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}}
        ],
    }
    if gpus and rng.random() < 0.7:
        spec["tolerations"] = [
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
        ]
    return spec


def _objects(rng: random.Random, index: int, namespace: str) -> list[dict]:
    name = f"svc-{index:05d}"
    labels = {"app": name}
    gpus = rng.choice([0, 1, 1, 2, 8])
    meta = {"name": name, "namespace": namespace, "labels": labels}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": rng.randint(1, 4),
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": _pod_spec(rng, gpus)},
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8000}]},
    }
    job = {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "metadata": {"name": f"train-{index:05d}", "namespace": namespace},
        "spec": {
            "pytorchReplicaSpecs": {
                role: {"replicas": count, "template": {"spec": _pod_spec(rng, 8)}}
                for role, count in (("Master", 1), ("Worker", 3))
            }
        },
    }
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta,
        "data": {"config.yaml": "max_model_len: 8192\ngpu_memory_utilization: 0.9\n"},
    }
    return [deployment, service, job, config]


def generate(folder: Path, *, objects: int, per_file: int = 100, seed: int = 7) -> int:
    """Write about ``objects`` objects in files of ``per_file``; returns the count."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    written, batch, file_index, index = 0, [], 0, 0
    while written < objects:
        namespace = f"team-{index % 20}"
        for obj in _objects(rng, index, namespace):
            batch.append(obj)
            written += 1
        index += 1
        if len(batch) >= per_file or written >= objects:
            path = folder / f"stack-{file_index:04d}.yaml"
            path.write_text(
                yaml.safe_dump_all(batch, sort_keys=False), encoding="utf-8"
            )
            batch, file_index = [], file_index + 1
    return written
