from __future__ import annotations

import pytest
import yaml

from kubernai.model.graph import ObjectGraph
from kubernai.model.kserve import (
    Mode,
    UriFormat,
    autoscaler_class,
    autoscaler_classes,
    components,
    deployment_mode,
    is_inference_service,
    is_legacy_mode,
    parse_mode,
    storage_container_formats,
    storage_uri_hint,
    storage_uri_prefixes,
    storage_uri_supported,
    storage_uris,
)
from kubernai.model.resource import Resource, Source, format_path


def resources(text: str) -> list[Resource]:
    return [
        Resource(raw=doc, source=Source(file="f", line=1))
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def isvc(annotations: str = "{}", spec: str = "{predictor: {model: {}}}") -> str:
    return (
        "apiVersion: serving.kserve.io/v1beta1\n"
        "kind: InferenceService\n"
        f"metadata: {{name: m, namespace: ns, annotations: {annotations}}}\n"
        f"spec: {spec}\n"
    )


CONFIG = (
    "apiVersion: v1\nkind: ConfigMap\n"
    "metadata: {{name: inferenceservice-config, namespace: kserve}}\n"
    'data: {{deploy: \'{{"defaultDeploymentMode": "{mode}"}}\'}}\n'
)


@pytest.mark.parametrize(
    ("value", "mode", "legacy"),
    [
        pytest.param("Standard", Mode.STANDARD, False, id="standard"),
        pytest.param("RawDeployment", Mode.STANDARD, True, id="raw-deployment"),
        pytest.param("Knative", Mode.KNATIVE, False, id="knative"),
        pytest.param("Serverless", Mode.KNATIVE, True, id="serverless"),
        pytest.param("ModelMesh", Mode.MODEL_MESH, False, id="modelmesh"),
        pytest.param("standard", None, False, id="case-matters"),
        pytest.param("rawDeployment", None, False, id="camel-case"),
        pytest.param("", None, False, id="empty"),
    ],
)
def test_parse_mode(value, mode, legacy):
    assert parse_mode(value) is mode
    assert is_legacy_mode(value) is legacy


def test_mode_from_annotation_wins_over_configmap():
    objects = resources(
        isvc("{serving.kserve.io/deploymentMode: RawDeployment}")
        + "---\n"
        + CONFIG.format(mode="Serverless")
    )
    graph = ObjectGraph(objects)
    found = deployment_mode(objects[0], graph)
    assert found.mode is Mode.STANDARD
    assert found.standard
    assert found.written == "RawDeployment"
    assert found.describe() == (
        "Standard mode (serving.kserve.io/deploymentMode: RawDeployment)"
    )


def test_mode_from_configmap_when_annotation_absent_or_unknown():
    for written in ("{}", "{serving.kserve.io/deploymentMode: raw}"):
        objects = resources(isvc(written) + "---\n" + CONFIG.format(mode="Standard"))
        found = deployment_mode(objects[0], ObjectGraph(objects))
        assert found.mode is Mode.STANDARD
        assert found.origin == "ConfigMap kserve/inferenceservice-config"
        assert "defaultDeploymentMode in ConfigMap" in found.describe()


def test_mode_unknown_without_configmap_or_with_conflicting_ones():
    objects = resources(isvc())
    assert deployment_mode(objects[0], ObjectGraph(objects)).mode is None
    conflicting = (
        isvc()
        + "---\n"
        + CONFIG.format(mode="Standard")
        + "---\n"
        + CONFIG.format(mode="Knative").replace("kserve}", "kubeflow}")
    )
    objects = resources(conflicting)
    assert deployment_mode(objects[0], ObjectGraph(objects)).mode is None


def test_legacy_configmap_value_is_normalised():
    objects = resources(isvc() + "---\n" + CONFIG.format(mode="Serverless"))
    assert deployment_mode(objects[0], ObjectGraph(objects)).knative


def test_v1alpha2_is_not_read():
    (old,) = resources(
        "apiVersion: serving.kserve.io/v1alpha2\nkind: InferenceService\n"
        "metadata: {name: m}\nspec: {default: {predictor: {}}}\n"
    )
    assert not is_inference_service(old)
    (new,) = resources(isvc())
    assert is_inference_service(new)


def test_components_in_order_and_malformed_skipped():
    (resource,) = resources(
        isvc(spec="{explainer: {art: {}}, transformer: 'x', predictor: {model: {}}}")
    )
    assert [c.name for c in components(resource)] == ["predictor", "explainer"]


def test_autoscaler_class_priority():
    text = isvc(
        "{serving.kserve.io/autoscalerClass: keda}",
        "{predictor: {annotations: {serving.kserve.io/autoscalerClass: hpa},"
        " model: {runtime: rt}}, transformer: {containers: []}}",
    )
    objects = resources(text)
    graph = ObjectGraph(objects)
    predictor, transformer = components(objects[0])
    found = autoscaler_class(objects[0], predictor, graph)
    assert (found.value, found.level, found.hpa) == ("hpa", "component", True)
    found = autoscaler_class(objects[0], transformer, graph)
    assert (found.value, found.level, found.hpa) == ("keda", "InferenceService", False)


def test_autoscaler_class_from_a_serving_runtime_in_input():
    text = (
        isvc(spec="{predictor: {model: {runtime: rt}}}")
        + "---\napiVersion: serving.kserve.io/v1alpha1\nkind: ServingRuntime\n"
        "metadata: {name: rt, namespace: ns}\n"
        "spec: {annotations: {serving.kserve.io/autoscalerClass: none}}\n"
    )
    objects = resources(text)
    (predictor,) = components(objects[0])
    found = autoscaler_class(objects[0], predictor, ObjectGraph(objects))
    assert (found.value, found.level) == ("none", "ServingRuntime rt")


def test_autoscaler_class_values():
    assert autoscaler_classes() == ("hpa", "external", "keda", "none")


def test_storage_uris_from_specs_and_custom_container_env():
    (resource,) = resources(
        isvc(
            spec="{predictor: {tensorflow: {storageUri: 'gs://b/m'},"
            " containers: [{name: kserve-container, env: [{name: A, value: x},"
            " {name: STORAGE_URI, value: 's3://b/c'}]}]},"
            " explainer: {art: {storageUri: '{{ .Values.uri }}'}}}"
        )
    )
    found = [(u.uri, format_path(u.path), u.component) for u in storage_uris(resource)]
    assert found == [
        ("gs://b/m", "spec.predictor.tensorflow.storageUri", "predictor"),
        ("s3://b/c", "spec.predictor.containers[0].env[1].value", "predictor"),
    ]


@pytest.mark.parametrize(
    ("uri", "supported"),
    [
        ("gs://bucket/model", True),
        ("s3://bucket/model", True),
        ("pvc://claim/path", True),
        ("hf://meta-llama/Llama-3.1-8B", True),
        ("oci://registry/model:1", True),
        ("oci+native://registry/model:1", True),
        ("modelscope://qwen/Qwen2-7B", True),
        ("https://example.com/model.tar.gz", True),
        ("https://acct.blob.core.windows.net/container/model", True),
        ("https://acct.blob.core.windows.net", False),
        ("/mnt/models", True),
        ("models/iris", True),
        ("s3a://bucket/model", False),
        ("S3://bucket/model", False),
        ("gcs://bucket/model", False),
        ("model-registry://iris/v1", False),
    ],
)
def test_storage_uri_supported(uri, supported):
    assert storage_uri_supported(uri) is supported


def test_storage_container_formats_from_input():
    objects = resources(
        "apiVersion: serving.kserve.io/v1alpha1\nkind: ClusterStorageContainer\n"
        "metadata: {name: a}\n"
        "spec: {supportedUriFormats: [{prefix: 'model-registry://'},"
        " {regex: 'abfs://(.+)'}, {regex: '(['}]}\n"
        "---\napiVersion: serving.kserve.io/v1alpha1\nkind: ClusterStorageContainer\n"
        "metadata: {name: off}\n"
        "spec: {disabled: true, supportedUriFormats: [{prefix: 'x://'}]}\n"
        "---\napiVersion: serving.kserve.io/v1alpha1\nkind: ClusterStorageContainer\n"
        "metadata: {name: job}\n"
        "spec: {workloadType: localModelDownloadJob,"
        " supportedUriFormats: [{prefix: 'y://'}]}\n"
    )
    formats = storage_container_formats(ObjectGraph(objects))
    assert formats[:2] == (
        UriFormat(prefix="model-registry://"),
        UriFormat(regex="abfs://(.+)"),
    )
    assert storage_uri_supported("model-registry://iris/v1", formats)
    assert storage_uri_supported("abfs://c@a.dfs.core.windows.net/m", formats)
    assert not storage_uri_supported("x://bucket", formats[:2])
    # an unreadable pattern is taken to match: no finding rather than a false one
    assert formats[2].matches("anything://")


@pytest.mark.parametrize(
    ("uri", "hint"),
    [
        ("S3://bucket/model", "s3://"),
        ("s3a://bucket/model", "s3://"),
        ("gcs://bucket/model", "gs://"),
        ("abfss://c@a.dfs.core.windows.net/m", "https://<account>.blob"),
        ("https://acct.blob.core.windows.net", "https://<account>.blob"),
        ("model-registry://iris/v1", ""),
        ("no-scheme", ""),
    ],
)
def test_storage_uri_hint(uri, hint):
    assert storage_uri_hint(uri).startswith(hint)
    assert bool(storage_uri_hint(uri)) is bool(hint)


def test_prefix_list_is_the_controllers():
    assert storage_uri_prefixes()[:10] == (
        "gs://",
        "s3://",
        "pvc://",
        "file://",
        "https://",
        "http://",
        "hdfs://",
        "webhdfs://",
        "oci://",
        "hf://",
    )
