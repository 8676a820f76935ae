from __future__ import annotations

import json
from importlib import resources

import pytest

from kubernai.model.mig import mig_profile, product_label, profile_base


@pytest.mark.parametrize(
    ("name", "profile"),
    [
        ("nvidia.com/mig-1g.10gb", "1g.10gb"),
        ("nvidia.com/mig-1g.10gb.me", "1g.10gb.me"),
        ("nvidia.com/mig-7g.141gb", "7g.141gb"),
        ("nvidia.com/gpu", None),
        ("nvidia.com/mig-", None),
        ("nvidia.com/mig-large", None),
        ("example.com/mig-1g.5gb", None),
    ],
)
def test_mig_profile(name, profile):
    assert mig_profile(name) == profile


def test_profile_base_drops_attributes():
    assert profile_base("1g.10gb+me") == "1g.10gb"
    assert profile_base("1g.24gb-me") == "1g.24gb"
    assert profile_base("1g.5gbme") == "1g.5gb"  # `+` removed from GFD labels
    assert profile_base("gpu") is None


@pytest.mark.parametrize(
    ("value", "gpu", "single"),
    [
        ("NVIDIA-H100-80GB-HBM3", "H100 80GB", ""),
        ("NVIDIA-H100-PCIe", "H100 80GB", ""),
        ("A100-SXM4-40GB", "A100 40GB", ""),
        ("NVIDIA-A100-80GB-PCIe-SHARED", "A100 80GB", ""),
        ("NVIDIA-A100-SXM4-40GB-MIG-1g.5gb", "A100 40GB", "1g.5gb"),
        ("A100-SXM4-40GB-MIG-1g.5gb-SHARED", "A100 40GB", "1g.5gb"),
        ("Tesla-T4", "T4", ""),
        ("NVIDIA-RTX-PRO-6000-Blackwell-Server-Edition", None, ""),
    ],
)
def test_product_label(value, gpu, single):
    label = product_label(value)
    assert (label.gpu.name if label.gpu else None) == gpu
    assert label.single_profile == single


def test_profiles_per_product():
    h100 = product_label("NVIDIA-H100-80GB-HBM3").gpu
    assert h100 is not None
    assert h100.offers("3g.40gb")
    assert h100.offers("1g.10gb.me")
    assert not h100.offers("3g.20gb")
    a100 = product_label("NVIDIA-A100-SXM4-40GB").gpu
    assert a100 is not None
    assert a100.offers("3g.20gb")
    assert not a100.offers("3g.40gb")
    t4 = product_label("Tesla-T4").gpu
    assert t4 is not None
    assert not t4.supports_mig
    assert not t4.offers("1g.5gb")


def test_catalog_entries_carry_sources_and_well_formed_profiles():
    text = resources.files("kubernai").joinpath("data/mig_profiles.json").read_text()
    data = json.loads(text)
    assert data["source"]
    products = [p.lower() for gpu in data["gpus"] for p in gpu["products"]]
    assert len(products) == len(set(products))
    for gpu in data["gpus"]:
        assert gpu["source"]
        assert gpu["products"]
        for profile in gpu["profiles"]:
            assert profile_base(profile) is not None, profile
