"""TRN055 object-store-credentials-missing."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.data_streaming import (
    IDENTITY_ANNOTATIONS,
    credentials,
    is_training,
    store_uris,
)
from kubernai.model.graph import ObjectGraph
from kubernai.model.resource import Resource
from kubernai.rules.base import Finding, Rule, Severity

_WHAT = {
    "aws": "AWS credentials (AWS_* credential env, envFrom, a Secret volume)",
    "gcp": "Google Cloud credentials (GOOGLE_APPLICATION_CREDENTIALS, GCS_KEY/"
    "GCS_SECRET, envFrom, a Secret volume)",
    "azure": "Azure credentials (AZURE_* credential env, envFrom, a Secret volume, "
    "the label azure.workload.identity/use)",
    "oci": "OCI credentials (an OCI config file from a Secret volume, envFrom)",
}
_INVISIBLE = {
    "aws": "the node's instance role or an EKS Pod Identity association",
    "gcp": "the node's service account or IAM roles granted to the Kubernetes "
    "ServiceAccount itself",
    "azure": "the node's managed identity",
    "oci": "instance principals",
}


class ObjectStoreCredentialsMissing(Rule):
    """Training pod reads an object store with no credentials in the manifest.

    ## Mechanism
    A training pod that streams shards from `s3://`, `gs://`, `azure://` or
    `oci://` needs credentials for the bucket. The manifest can show them in
    several ways: credential env vars (`AWS_ACCESS_KEY_ID`,
    `GOOGLE_APPLICATION_CREDENTIALS`, MosaicML streaming's `GCS_KEY`/
    `GCS_SECRET` and `AZURE_ACCOUNT_ACCESS_KEY`...), `envFrom`, a mounted
    Secret, or workload identity on the pod's ServiceAccount (IRSA's
    `eks.amazonaws.com/role-arn`, GKE's `iam.gke.io/gcp-service-account`,
    Azure's `azure.workload.identity/client-id` with the pod label
    `azure.workload.identity/use: "true"`). When none of these is present,
    access depends on identities that no manifest shows: the node's
    instance role or an EKS Pod Identity association on AWS, the node's
    service account or IAM granted directly to the Kubernetes
    ServiceAccount on GKE, the node's managed identity on Azure. That may be
    intended; often it is not, and the job fails at its first shard with
    `403 Forbidden` (MosaicML streaming retries without signing when boto3
    finds no credentials, which only public buckets allow, then reports
    `Object s3://... not found! Either check the bucket path or the bucket
    permission`), or, with a node role, every pod on the node can read the
    bucket. This is a notice, not an error: the
    rule runs on training pods only (Kubeflow training kinds, torchrun,
    DeepSpeed, Accelerate or Composer launchers, streaming datasets), says
    nothing when the pod's ServiceAccount is named but not in the input,
    and skips `s3://anonymous@` URIs.

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
                  args: ["train_loader.dataset.remote=s3://corpus/c4-mds",
                         "train_loader.dataset.local=/tmp/c4"]
                  resources:
                    limits: {nvidia.com/gpu: 8}
    ```

    ## Use instead
    ```yaml
    apiVersion: v1
    kind: ServiceAccount
    metadata:
      name: trainer
      annotations:
        eks.amazonaws.com/role-arn: arn:aws:iam::111122223333:role/corpus-reader
    ---
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
              serviceAccountName: trainer
              containers:
                - name: pytorch
                  image: mosaicml/llm-foundry:2.7.0_cu128-latest
                  command: ["composer", "train/train.py", "/config/pretrain.yaml"]
                  args: ["train_loader.dataset.remote=s3://corpus/c4-mds",
                         "train_loader.dataset.local=/tmp/c4"]
                  resources:
                    limits: {nvidia.com/gpu: 8}
    ```

    ## References
    - https://docs.mosaicml.com/projects/streaming/en/stable/how_to_guides/configure_cloud_storage_credentials.html
    - https://docs.aws.amazon.com/eks/latest/userguide/iam-roles-for-service-accounts.html
    - https://docs.aws.amazon.com/eks/latest/userguide/pod-identities.html
    - https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity
    - https://azure.github.io/azure-workload-identity/docs/topics/service-account-labels-and-annotations.html
    - https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html
    """

    code = "TRN055"
    name = "object-store-credentials-missing"
    severity = Severity.INFO
    mechanism = "dataset-streaming-from-object-storage"
    workloads_only = True

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        for template in resource.templates:
            uris = store_uris(resource, template, graph)
            if not uris or not is_training(resource, template, graph):
                continue
            reported: set[str] = set()
            for uri in uris:
                if uri.provider in reported:
                    continue
                found = credentials(
                    resource, template, uri.container, uri.provider, graph
                )
                if found.found or found.unknown:
                    continue
                reported.add(uri.provider)
                annotation = IDENTITY_ANNOTATIONS.get(uri.provider)
                account = f"ServiceAccount {found.service_account!r}"
                identity = (
                    f"; {account} has no {annotation} annotation"
                    if annotation
                    and graph.get(
                        "ServiceAccount", resource.namespace, found.service_account
                    )
                    else f"; the pod runs as {account}"
                )
                where = f" (in {uri.source})" if uri.source else ""
                yield self.finding(
                    resource,
                    f"{uri.container.label} uses {uri.uri}{where} but shows no "
                    f"{_WHAT[uri.provider]}{identity}: access then rests on "
                    f"{_INVISIBLE[uri.provider]}, which manifests do not show",
                    path=uri.where,
                )
