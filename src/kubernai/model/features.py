"""Cheap facts about an object that tell which rules can find anything in it.

A rule that sets ``requires`` (see :class:`kubernai.rules.base.Rule`) looks
only at what these features stand for: its check finds nothing in an object
without them, so the engine does not call it there. Each feature is read from
derivations the rules compute anyway (memoised per object, template or
container), so asking costs about what the first rule to look would pay.
"""

from __future__ import annotations

from collections.abc import Callable

from kubernai.model.checkpoint import checkpoint_mounts, checkpoint_options
from kubernai.model.deepspeed_precision import precision_configs
from kubernai.model.distributed_env import training_containers
from kubernai.model.gpu import accelerator_names
from kubernai.model.kubelet_config import kubelet_configs
from kubernai.model.model_download import may_download
from kubernai.model.node_labels import label_terms
from kubernai.model.resource import Resource
from kubernai.model.scheduler_config import configs_in
from kubernai.model.server_cache import template_servers
from kubernai.model.topology import has_topology_terms
from kubernai.model.training import deepspeed_configs, launches

ACCELERATOR = "accelerator"
"""A container of a pod template asks for an accelerator (``accelerator_names``)."""
LLM_SERVER = "llm-server"
"""A pod template runs an inference server (``template_servers``)."""
LAUNCHER = "launcher"
"""A pod template runs a training launcher: torchrun, deepspeed, accelerate
(``training.launches``)."""
DISTRIBUTED_TRAINING = "distributed-training"
"""An app container runs distributed training (``training_containers``)."""
POD_TOPOLOGY = "pod-topology"
"""A pod template sets pod (anti-)affinity or spread constraints
(``has_topology_terms``)."""
NODE_LABEL_TERMS = "node-label-terms"
"""The object requires node labels (``node_labels.label_terms``)."""
CHECKPOINT_HINTS = "checkpoint-hints"
"""A container names a checkpoint option or mounts a checkpoint volume
(``checkpoint.checkpoint_options`` or ``checkpoint.checkpoint_mounts``)."""
MODEL_DOWNLOADS = "model-downloads"
"""A container may download model files (``model_download.may_download``)."""
DEEPSPEED_CONFIG = "deepspeed-config"
"""A ConfigMap holds a DeepSpeed JSON config (``training.deepspeed_configs`` or
``deepspeed_precision.precision_configs``)."""
KUBELET_CONFIG = "kubelet-config"
"""The object is or carries a KubeletConfiguration (``kubelet_configs``)."""
SCHEDULER_CONFIG = "scheduler-config"
"""The object is or carries a kube-scheduler configuration
(``scheduler_config.configs_in``)."""


def _accelerator(resource: Resource) -> bool:
    return any(accelerator_names(c) for t in resource.templates for c in t.containers)


def _llm_server(resource: Resource) -> bool:
    return any(template_servers(t) for t in resource.templates)


def _launcher(resource: Resource) -> bool:
    return any(next(launches(t), None) is not None for t in resource.templates)


def _distributed_training(resource: Resource) -> bool:
    return next(training_containers(resource), None) is not None


def _pod_topology(resource: Resource) -> bool:
    return any(has_topology_terms(t) for t in resource.templates)


def _node_label_terms(resource: Resource) -> bool:
    return next(label_terms(resource), None) is not None


def _checkpoint_hints(resource: Resource) -> bool:
    return any(
        next(checkpoint_options(c), None) is not None
        or next(checkpoint_mounts(c), None) is not None
        for t in resource.templates
        for c in t.containers
    )


def _model_downloads(resource: Resource) -> bool:
    return any(may_download(c) for t in resource.templates for c in t.containers)


def _deepspeed_config(resource: Resource) -> bool:
    return bool(precision_configs(resource)) or (
        next(deepspeed_configs(resource), None) is not None
    )


def _kubelet_config(resource: Resource) -> bool:
    return next(kubelet_configs(resource), None) is not None


def _scheduler_config(resource: Resource) -> bool:
    return bool(configs_in(resource))


FEATURES: dict[str, Callable[[Resource], bool]] = {
    ACCELERATOR: _accelerator,
    LLM_SERVER: _llm_server,
    LAUNCHER: _launcher,
    DISTRIBUTED_TRAINING: _distributed_training,
    POD_TOPOLOGY: _pod_topology,
    NODE_LABEL_TERMS: _node_label_terms,
    CHECKPOINT_HINTS: _checkpoint_hints,
    MODEL_DOWNLOADS: _model_downloads,
    DEEPSPEED_CONFIG: _deepspeed_config,
    KUBELET_CONFIG: _kubelet_config,
    SCHEDULER_CONFIG: _scheduler_config,
}
"""Every feature by name, with the test that tells whether an object has it."""


def has_feature(resource: Resource, name: str) -> bool:
    """Whether ``resource`` has the feature.

    A test that fails on malformed input counts as present, so that the
    rules run and report what they report on such input.
    """
    try:
        return FEATURES[name](resource)
    except Exception:  # noqa: BLE001 - the rules report the crash themselves
        return True


def present_features(resource: Resource, names: frozenset[str]) -> frozenset[str]:
    """Those of ``names`` that ``resource`` has."""
    return frozenset(name for name in names if has_feature(resource, name))
