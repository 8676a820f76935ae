"""OPS041 egress-policy-blocks-dns."""

from __future__ import annotations

from collections.abc import Iterator

from kubernai.model.gpu import requests_accelerator
from kubernai.model.graph import ObjectGraph
from kubernai.model.network_policy import (
    EGRESS,
    NetworkPolicy,
    PolicyPort,
    host_network,
    namespace_text,
    parse_policy,
    policies_for,
    policy_names,
    same_scope,
)
from kubernai.model.resource import Path, Resource
from kubernai.rules.base import Finding, Rule, Severity

DNS_PORT = 53


class EgressPolicyBlocksDns(Rule):
    """Egress NetworkPolicy on GPU pods that allows no DNS traffic.

    ## Mechanism
    Once a NetworkPolicy with `Egress` in its `policyTypes` selects a pod,
    the pod may only open the connections that some egress rule of the
    policies selecting it allows. Name resolution is one of them: the pod's
    resolver sends queries to the cluster DNS (CoreDNS pods behind the
    `kube-dns` Service in `kube-system`) on UDP port 53, falling back to TCP
    53 for large answers. Egress rules written for the real destinations
    (object storage on 443, a database, a registry) without a DNS rule make
    every lookup time out: model downloads from the Hugging Face Hub or S3,
    `MASTER_ADDR` and rendezvous endpoints given as Service names, and
    metrics push gateways all fail with errors such as
    `dial tcp: lookup huggingface.co: i/o timeout` or
    `Temporary failure in name resolution`. A port entry without `protocol`
    means TCP, so `- port: 53` alone still drops the UDP queries. The rule
    reports an Egress policy that selects GPU pods of the input when the
    NetworkPolicies of the namespace in the input allow some egress but no
    rule allows UDP port 53; a rule without `ports`, a named port or a port
    range counts as allowing it, whatever its peers. Where pods resolve
    through NodeLocal DNSCache (169.254.20.10) or GKE Cloud DNS
    (169.254.169.254), the port-53 rule must also reach that address
    (an `ipBlock`), which the rule does not check.

    ## Example
    ```yaml
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata:
      name: trainer-egress
      namespace: team-a
    spec:
      podSelector:
        matchLabels: {app: trainer}
      policyTypes: [Egress]
      egress:
        - to:
            - ipBlock: {cidr: 0.0.0.0/0}
          ports:
            - {protocol: TCP, port: 443}
            - port: 53
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: finetune
      namespace: team-a
    spec:
      template:
        metadata:
          labels: {app: trainer}
        spec:
          restartPolicy: Never
          containers:
            - name: trainer
              image: nvcr.io/nvidia/pytorch:24.07-py3
              resources:
                limits:
                  nvidia.com/gpu: 8
    ```

    ## Use instead
    ```yaml
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata:
      name: trainer-egress
      namespace: team-a
    spec:
      podSelector:
        matchLabels: {app: trainer}
      policyTypes: [Egress]
      egress:
        - to:
            - ipBlock: {cidr: 0.0.0.0/0}
          ports:
            - {protocol: TCP, port: 443}
        - to:
            - namespaceSelector:
                matchLabels: {kubernetes.io/metadata.name: kube-system}
              podSelector:
                matchLabels: {k8s-app: kube-dns}
          ports:
            - {protocol: UDP, port: 53}
            - {protocol: TCP, port: 53}
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: finetune
      namespace: team-a
    spec:
      template:
        metadata:
          labels: {app: trainer}
        spec:
          restartPolicy: Never
          containers:
            - name: trainer
              image: nvcr.io/nvidia/pytorch:24.07-py3
              resources:
                limits:
                  nvidia.com/gpu: 8
    ```

    ## References
    - https://kubernetes.io/docs/concepts/services-networking/network-policies/#the-two-sorts-of-pod-isolation
    - https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/#NetworkPolicySpec
    - https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/
    - https://kubernetes.io/docs/tasks/administer-cluster/dns-debugging-resolution/
    - https://github.com/tektoncd/operator/pull/4001 (link-local resolvers)
    """

    code = "OPS041"
    name = "egress-policy-blocks-dns"
    severity = Severity.ERROR
    mechanism = "network-policy-for-multi-tenant-ai"
    kinds = frozenset({"NetworkPolicy"})

    def check(self, resource: Resource, graph: ObjectGraph) -> Iterator[Finding]:
        policy = parse_policy(resource)
        if policy.malformed or EGRESS not in policy.types:
            return
        scope = policies_for(graph, resource)
        if any(p.malformed for p in scope):
            return
        egress = [p for p in scope if EGRESS in p.types]
        rules = [r for p in egress for r in p.rules_for(EGRESS)]
        if not rules:
            return  # all egress denied on purpose: DNS is not the question
        if any(r.allows_port(DNS_PORT, "UDP") is not False for r in rules):
            return
        selected = _gpu_workload(policy, graph)
        if selected is None:
            return
        tcp_only = _tcp_dns_port(policy)
        if tcp_only is not None:
            how = (
                "its rule allows port 53 with protocol unset, which means TCP only, "
                "and no rule allows UDP 53"
                if not tcp_only.protocol_written
                else "its rule allows TCP 53 but no rule allows UDP 53"
            )
            path: Path = tcp_only.path
        else:
            how = (
                f"none of the {len(rules)} egress rule(s) of the Egress policies of "
                f"{namespace_text(resource.namespace)} in the input "
                f"({policy_names(egress)}) allows UDP port 53"
            )
            path = _anchor(policy)
        yield self.finding(
            resource,
            f"policy isolates the egress of {selected.display()} (GPU pods) and "
            f"{how}: DNS lookups from these pods time out (`lookup ...: i/o "
            "timeout`)",
            path=path,
        )


def _gpu_workload(policy: NetworkPolicy, graph: ObjectGraph) -> Resource | None:
    """A GPU workload of the input whose pods the policy certainly selects."""
    namespace = policy.resource.namespace
    for workload in graph.workloads_in(namespace):
        if not same_scope(policy.resource, workload):
            continue
        for template in workload.templates:
            if (
                requests_accelerator(template)
                and not host_network(template.spec)
                and policy.selects(template.labels) is True
            ):
                return workload
    return None


def _tcp_dns_port(policy: NetworkPolicy) -> PolicyPort | None:
    for rule in policy.rules_for(EGRESS):
        for port in rule.ports:
            if port.covers(DNS_PORT, "TCP") is True:
                return port
    return None


def _anchor(policy: NetworkPolicy) -> Path:
    rules = policy.rules_for(EGRESS)
    if rules:
        return ("spec", "egress")
    if policy.types_written:
        return ("spec", "policyTypes")
    return ("spec", "podSelector")
