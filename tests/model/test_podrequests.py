from fractions import Fraction

import yaml

from kubernai.model.podrequests import pod_request, quota_applies_to_all
from kubernai.model.resource import Resource, Source


def template(spec: str):
    raw = {"apiVersion": "v1", "kind": "Pod", "spec": yaml.safe_load(spec)}
    (found,) = Resource(raw=raw, source=Source(file="f", line=1)).templates
    return found


def test_sum_of_containers_limit_defaults_request():
    t = template(
        "containers: [{resources: {requests: {cpu: 500m}}}, {resources: {limits: {cpu: '1'}}}]"
    )
    assert pod_request(t, "cpu") == Fraction(3, 2)


def test_largest_init_container_wins_when_larger():
    t = template(
        "initContainers: [{resources: {limits: {nvidia.com/gpu: 4}}}]\n"
        "containers: [{resources: {limits: {nvidia.com/gpu: 1}}}]"
    )
    assert pod_request(t, "nvidia.com/gpu") == 4


def test_sidecars_add_to_the_app_containers_and_overhead_counts():
    t = template(
        "initContainers: [{restartPolicy: Always, resources: {requests: {memory: 1Gi}}}]\n"
        "containers: [{resources: {requests: {memory: 2Gi}}}]\n"
        "overhead: {memory: 512Mi}"
    )
    assert pod_request(t, "memory") == 3 * 2**30 + 2**29


def test_quota_scopes():
    assert quota_applies_to_all({"spec": {"hard": {}}})
    assert not quota_applies_to_all({"spec": {"scopes": ["BestEffort"]}})
    assert quota_applies_to_all({"spec": "oops"})
