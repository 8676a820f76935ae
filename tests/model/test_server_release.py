from __future__ import annotations

import pytest

from kubernai.model.server_release import (
    image_repository_and_tag,
    is_upstream_tgi,
    parse_version,
    tgi_release,
)
from kubernai.model.workload import Container


def container(image: object) -> Container:
    return Container(path=("spec", "containers", 0), raw={"image": image})


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        pytest.param("ghcr.io/a/b:1.2", ("ghcr.io/a/b", "1.2"), id="tag"),
        pytest.param("localhost:5000/a/b", ("localhost:5000/a/b", ""), id="port"),
        pytest.param("a/b:1@sha256:ff", ("a/b", "1"), id="digest"),
        pytest.param("b", ("b", ""), id="bare"),
    ],
)
def test_image_repository_and_tag(image, expected):
    assert image_repository_and_tag(image) == expected


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        pytest.param("2.0.4", (2, 0, 4), id="semver"),
        pytest.param("v3.1", (3, 1, 0), id="v-prefix"),
        pytest.param("3.3.5-rocm", (3, 3, 5), id="suffix"),
        pytest.param("latest", None, id="latest"),
        pytest.param("sha-db931fc", None, id="sha"),
    ],
)
def test_parse_version(tag, expected):
    assert parse_version(tag) == expected


@pytest.mark.parametrize(
    ("image", "release", "upstream"),
    [
        pytest.param(
            "ghcr.io/huggingface/text-generation-inference:2.4.1",
            (2, 4, 1),
            True,
            id="upstream",
        ),
        pytest.param(
            "ghcr.io/huggingface/text-generation-inference:3.3.5-trtllm",
            (3, 3, 5),
            False,
            id="trtllm-variant",
        ),
        pytest.param(
            "us-docker.pkg.dev/deeplearning-platform-release/gcr.io/"
            "huggingface-text-generation-inference-cu124.2-4.ubuntu2204.py311",
            None,
            False,
            id="other-build",
        ),
        pytest.param(None, None, False, id="no-image"),
    ],
)
def test_tgi_release_and_upstream(image, release, upstream):
    assert tgi_release(container(image)) == release
    assert is_upstream_tgi(container(image)) is upstream
