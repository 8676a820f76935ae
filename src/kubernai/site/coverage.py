"""Which checks and calculators cover a mechanism, generated from the registry."""

from __future__ import annotations

from kubernai.rules.base import Rule
from kubernai.rules.catalog import all_rules

CALCULATORS: dict[str, tuple[tuple[str, str], ...]] = {
    "kv-cache-sizing-for-llm-serving": (
        ("kubernai calc kv-cache", "vLLM KV-cache capacity, concurrency and fit"),
    ),
    "deepspeed-zero-stages": (
        ("kubernai calc zero", "DeepSpeed ZeRO model-state memory per GPU and node"),
        ("kubernai calc train-memory", "model states per GPU by strategy"),
    ),
    "pytorch-ddp-vs-fsdp": (
        ("kubernai calc train-memory", "DDP and FSDP model states per GPU"),
    ),
    "gradient-accumulation-mechanics": (
        (
            "kubernai calc batch",
            "global batch, accumulation and DeepSpeed's batch rule",
        ),
    ),
    "checkpoint-storage-patterns": (
        ("kubernai calc checkpoint", "checkpoint size and write time"),
    ),
    "eviction-and-gpu-workloads": (
        ("kubernai calc checkpoint", "whether a checkpoint fits the grace period"),
    ),
    "mixed-precision-bf16-vs-fp16": (
        ("kubernai calc precision", "BF16/FP16/FP8 ranges and GPU support"),
    ),
    "kube-scheduler-scoring-for-gpu-pods": (
        ("kubernai simulate", "kube-scheduler's filters, scores and messages offline"),
    ),
    "gang-scheduling-with-volcano": (
        ("kubernai simulate", "gang placement, all or nothing"),
    ),
    "priority-preemption-for-ai-pods": (
        ("kubernai simulate", "preemption victims and the nominated node"),
    ),
}
"""Calculators and commands that model a mechanism."""


def rules_for(slug: str) -> list[type[Rule]]:
    """The rules whose mechanism is ``slug``, by code."""
    return [rule for rule in all_rules().values() if rule.mechanism == slug]


def coverage_markdown(slug: str) -> str:
    """The generated "Checks and calculators" section of an article."""
    lines = ["## Checks and calculators", ""]
    rules = rules_for(slug)
    if rules:
        lines.append("| code | name | severity | finds |")
        lines.append("|---|---|---|---|")
        for rule in rules:
            lines.append(
                f"| [{rule.code}](/rules/{rule.name}/) | `{rule.name}` | "
                f"{rule.severity.value} | {rule.summary()} |"
            )
        lines.append("")
    for command, what in CALCULATORS.get(slug, ()):
        lines.append(f"- `{command}`: {what}.")
    if not rules and slug not in CALCULATORS:
        lines.append("No check covers this mechanism yet.")
    return "\n".join(lines) + "\n"
