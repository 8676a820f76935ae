from __future__ import annotations

import pytest
import yaml

from kubernai.model.resource import Resource, Source, format_path


def resource(text: str) -> Resource:
    return Resource(raw=yaml.safe_load(text), source=Source(file="f.yaml", line=1))


POD_SPEC = "{containers: [{name: c, resources: {limits: {nvidia.com/gpu: 1}}}]}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            f"apiVersion: v1\nkind: Pod\nspec: {POD_SPEC}",
            [("spec", "", 1)],
            id="pod",
        ),
        pytest.param(
            f"apiVersion: apps/v1\nkind: Deployment\nspec: {{replicas: 3, template: {{spec: {POD_SPEC}}}}}",
            [("spec.template.spec", "", 3)],
            id="deployment",
        ),
        pytest.param(
            f"apiVersion: apps/v1\nkind: DaemonSet\nspec: {{template: {{spec: {POD_SPEC}}}}}",
            [("spec.template.spec", "", None)],
            id="daemonset-has-no-count",
        ),
        pytest.param(
            f"apiVersion: batch/v1\nkind: CronJob\nspec: {{jobTemplate: {{spec: {{parallelism: 4, template: {{spec: {POD_SPEC}}}}}}}}}",
            [("spec.jobTemplate.spec.template.spec", "", 4)],
            id="cronjob",
        ),
        pytest.param(
            "apiVersion: kubeflow.org/v1\nkind: PyTorchJob\nspec:\n  pytorchReplicaSpecs:\n"
            f"    Master: {{replicas: 1, template: {{spec: {POD_SPEC}}}}}\n"
            f"    Worker: {{replicas: 7, template: {{spec: {POD_SPEC}}}}}\n",
            [
                ("spec.pytorchReplicaSpecs.Master.template.spec", "Master", 1),
                ("spec.pytorchReplicaSpecs.Worker.template.spec", "Worker", 7),
            ],
            id="pytorchjob",
        ),
        pytest.param(
            f"apiVersion: kubeflow.org/v2beta1\nkind: MPIJob\nspec: {{mpiReplicaSpecs: {{Worker: {{replicas: 2, template: {{spec: {POD_SPEC}}}}}}}}}",
            [("spec.mpiReplicaSpecs.Worker.template.spec", "Worker", 2)],
            id="mpijob",
        ),
        pytest.param(
            "apiVersion: leaderworkerset.x-k8s.io/v1\nkind: LeaderWorkerSet\nspec:\n"
            "  replicas: 2\n  leaderWorkerTemplate:\n    size: 4\n"
            f"    leaderTemplate: {{spec: {POD_SPEC}}}\n    workerTemplate: {{spec: {POD_SPEC}}}\n",
            [
                ("spec.leaderWorkerTemplate.leaderTemplate.spec", "leader", 2),
                ("spec.leaderWorkerTemplate.workerTemplate.spec", "worker", 6),
            ],
            id="lws-with-leader",
        ),
        pytest.param(
            "apiVersion: leaderworkerset.x-k8s.io/v1\nkind: LeaderWorkerSet\nspec:\n"
            f"  replicas: 2\n  leaderWorkerTemplate:\n    size: 4\n    workerTemplate: {{spec: {POD_SPEC}}}\n",
            [("spec.leaderWorkerTemplate.workerTemplate.spec", "worker", 8)],
            id="lws-without-leader",
        ),
        pytest.param(
            "apiVersion: jobset.x-k8s.io/v1alpha2\nkind: JobSet\nspec:\n  replicatedJobs:\n"
            f"    - {{name: workers, replicas: 2, template: {{spec: {{parallelism: 4, template: {{spec: {POD_SPEC}}}}}}}}}\n",
            [("spec.replicatedJobs[0].template.spec.template.spec", "workers", 8)],
            id="jobset",
        ),
        pytest.param(
            "apiVersion: batch.volcano.sh/v1alpha1\nkind: Job\nspec:\n  tasks:\n"
            f"    - {{name: worker, replicas: 4, template: {{spec: {POD_SPEC}}}}}\n",
            [("spec.tasks[0].template.spec", "worker", 4)],
            id="volcano-job",
        ),
        pytest.param(
            "apiVersion: ray.io/v1\nkind: RayService\nspec:\n  rayClusterConfig:\n"
            f"    headGroupSpec: {{template: {{spec: {POD_SPEC}}}}}\n"
            f"    workerGroupSpecs: [{{groupName: gpu, replicas: 3, template: {{spec: {POD_SPEC}}}}}]\n",
            [
                ("spec.rayClusterConfig.headGroupSpec.template.spec", "head", 1),
                ("spec.rayClusterConfig.workerGroupSpecs[0].template.spec", "gpu", 3),
            ],
            id="rayservice",
        ),
        pytest.param(
            "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nspec:\n"
            "  predictor: {minReplicas: 2, model: {modelFormat: {name: huggingface}, resources: {limits: {nvidia.com/gpu: 1}}}}\n",
            [("spec.predictor", "predictor", 2)],
            id="inferenceservice",
        ),
        pytest.param(
            "apiVersion: serving.knative.dev/v1\nkind: Service\n"
            f"spec: {{template: {{spec: {POD_SPEC}}}}}",
            [("spec.template.spec", "", None)],
            id="knative-service",
        ),
        pytest.param(
            "apiVersion: v1\nkind: Service\nspec: {template: {spec: {containers: []}}}",
            [],
            id="core-service-is-no-workload",
        ),
    ],
)
def test_workload_table(text, expected):
    found = [
        (format_path(t.path), t.role, t.replicas) for t in resource(text).templates
    ]
    assert found == expected


def test_kserve_runtime_based_predictor_is_incomplete_and_has_the_model_container():
    (template,) = resource(
        "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nspec:\n"
        "  predictor: {model: {resources: {limits: {nvidia.com/gpu: 1}}}}\n"
    ).templates
    assert not template.complete
    (container,) = template.containers
    assert container.path == ("spec", "predictor", "model")
    assert container.limits == {"nvidia.com/gpu": 1}


def test_trainjob_resources_per_node():
    (template,) = resource(
        "apiVersion: trainer.kubeflow.org/v1alpha1\nkind: TrainJob\nspec:\n"
        "  trainer: {numNodes: 4, resourcesPerNode: {limits: {nvidia.com/gpu: 8}}}\n"
    ).templates
    assert template.replicas == 4
    assert template.containers[0].limits == {"nvidia.com/gpu": 8}
    assert not template.complete


def test_init_containers_come_first_and_are_marked():
    (template,) = resource(
        "apiVersion: v1\nkind: Pod\nspec:\n"
        "  initContainers: [{name: fetch}]\n  containers: [{name: main}, oops]\n"
    ).templates
    assert [(c.name, c.init) for c in template.containers] == [
        ("fetch", True),
        ("main", False),
    ]
