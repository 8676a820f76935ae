"""Which release of an inference server an image runs, read from its tag.

Only the upstream images are read, whose tags are the release numbers:
TGI ``ghcr.io/huggingface/text-generation-inference:2.0.4`` (also ``3.3.5-rocm``;
huggingface/text-generation-inference README). A tag that is not a version
(``latest``, ``sha-...``) or an image built by someone else gives ``None``:
the release is unknown.
"""

from __future__ import annotations

import re

from kubernai.model.resource import get_str
from kubernai.model.workload import Container

TGI_IMAGE = "huggingface/text-generation-inference"
_VERSION = re.compile(r"v?([0-9]+)\.([0-9]+)(?:\.([0-9]+))?(?:[-+].*)?")

Version = tuple[int, int, int]


def image_repository_and_tag(image: str) -> tuple[str, str]:
    """``registry/repo`` and the tag (``""`` when none); a digest is dropped."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :]
    return name, ""


def tgi_release(container: Container) -> Version | None:
    """The TGI release of an upstream TGI image, or ``None`` when unknown."""
    repository, tag = image_repository_and_tag(get_str(container.raw, "image"))
    if not repository.lower().endswith(TGI_IMAGE):
        return None
    return parse_version(tag)


def is_upstream_tgi(container: Container) -> bool:
    """Whether the image is Hugging Face's published TGI image (CUDA/ROCm/...).

    The TensorRT-LLM and llama.cpp variants start other binaries and are
    excluded.
    """
    repository, tag = image_repository_and_tag(get_str(container.raw, "image"))
    if not repository.lower().endswith(TGI_IMAGE):
        return False
    lowered = tag.lower()
    return "trtllm" not in lowered and "llamacpp" not in lowered


def parse_version(tag: str) -> Version | None:
    """``2.0.4``, ``v3.1`` or ``3.3.5-rocm`` → (major, minor, patch)."""
    match = _VERSION.fullmatch(tag.strip())
    if match is None:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)
