"""TRN056 invalid-s3-endpoint-url."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.data_streaming import (
    S3_ENDPOINT_URL,
    endpoint_problem,
    env_setting,
    is_training,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity

ENDPOINT_ENV = (S3_ENDPOINT_URL, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
"""``S3_ENDPOINT_URL`` is passed to boto3 by MosaicML streaming and Composer;
boto3 1.28 and later read the other two themselves."""


class InvalidS3EndpointUrl(Rule):
    """S3-compatible endpoint given without a scheme or with an invalid host.

    ## Mechanism
    To read shards from MinIO, Ceph RGW, R2 or another S3-compatible store,
    MosaicML streaming and Composer pass `S3_ENDPOINT_URL` to boto3 as
    `endpoint_url`, and boto3 1.28 and later also take `AWS_ENDPOINT_URL_S3`
    and `AWS_ENDPOINT_URL` from the environment. botocore accepts an endpoint
    only when `urlsplit()` finds a host in it and that host is a valid DNS
    name or IP address; otherwise creating the S3 client raises `ValueError:
    Invalid endpoint: minio.storage:9000`. Without `http://` or `https://`
    no host is found, so `minio.storage:9000` or `minio.storage.svc` fails
    when the first shard is fetched, on every rank. The rule runs on training
    pods only (Kubeflow training kinds, torchrun, DeepSpeed, Accelerate or
    Composer launchers, streaming datasets), where these variables reach
    boto3; other clients (the MinIO SDK, TensorFlow's `S3_ENDPOINT`) take a
    bare host and are not checked.

    ## Example
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: pretrain
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 2
          template:
            spec:
              containers:
                - name: pytorch
                  image: mosaicml/llm-foundry:2.7.0_cu128-latest
                  command: ["composer", "train/train.py", "/config/pretrain.yaml"]
                  args: ["train_loader.dataset.remote=s3://corpus/c4-mds"]
                  env:
                    - name: S3_ENDPOINT_URL
                      value: minio.storage.svc:9000
                    - name: AWS_ACCESS_KEY_ID
                      valueFrom:
                        secretKeyRef: {name: minio-creds, key: access-key}
                    - name: AWS_SECRET_ACCESS_KEY
                      valueFrom:
                        secretKeyRef: {name: minio-creds, key: secret-key}
                  resources:
                    limits: {nvidia.com/gpu: 8}
    ```

    ## Use instead
    ```yaml
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata:
      name: pretrain
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 2
          template:
            spec:
              containers:
                - name: pytorch
                  image: mosaicml/llm-foundry:2.7.0_cu128-latest
                  command: ["composer", "train/train.py", "/config/pretrain.yaml"]
                  args: ["train_loader.dataset.remote=s3://corpus/c4-mds"]
                  env:
                    - name: S3_ENDPOINT_URL
                      value: http://minio.storage.svc:9000
                    - name: AWS_ACCESS_KEY_ID
                      valueFrom:
                        secretKeyRef: {name: minio-creds, key: access-key}
                    - name: AWS_SECRET_ACCESS_KEY
                      valueFrom:
                        secretKeyRef: {name: minio-creds, key: secret-key}
                  resources:
                    limits: {nvidia.com/gpu: 8}
    ```

    ## References
    - mosaicml/streaming `streaming/base/storage/download.py`
      (`endpoint_url=os.environ.get('S3_ENDPOINT_URL')`)
    - mosaicml/composer `composer/utils/object_store/s3_object_store.py`
    - https://docs.mosaicml.com/projects/streaming/en/stable/how_to_guides/configure_cloud_storage_credentials.html
    - boto/botocore `botocore/endpoint.py` (`Invalid endpoint`) and
      `botocore/utils.py` (`is_valid_endpoint_url`)
    - https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
    - https://github.com/boto/botocore/pull/2973 (endpoint URLs from the environment)
    """

    code = "TRN056"
    name = "invalid-s3-endpoint-url"
    severity = Severity.WARNING
    mechanism = "dataset-streaming-from-object-storage"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            settings = [
                (container, setting)
                for container in template.containers
                for name in ENDPOINT_ENV
                if (setting := env_setting(container, name)) is not None
                and setting.known
                and setting.text
            ]
            if not settings or not is_training(resource, template, graph):
                continue
            for container, setting in settings:
                problem = endpoint_problem(setting.text)
                if problem:
                    yield self.finding(
                        resource,
                        f"{setting.shown} in {container.label}: {problem}; boto3 "
                        "refuses it with ValueError: Invalid endpoint",
                        path=setting.where,
                    )
