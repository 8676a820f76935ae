import pytest

from kubernai.model.selector import map_selector_matches, selector_matches

LABELS = {"app": "vllm", "tier": "gpu", "replicas": 2}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({}, True),
        ({"matchLabels": {"app": "vllm"}}, True),
        ({"matchLabels": {"app": "tgi"}}, False),
        ({"matchLabels": {"replicas": 2}}, True),
        (
            {
                "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["gpu", "cpu"]}
                ]
            },
            True,
        ),
        (
            {
                "matchExpressions": [
                    {"key": "tier", "operator": "NotIn", "values": ["gpu"]}
                ]
            },
            False,
        ),
        (
            {
                "matchExpressions": [
                    {"key": "zone", "operator": "NotIn", "values": ["a"]}
                ]
            },
            True,
        ),
        ({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, True),
        ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, False),
        ({"matchExpressions": [{"key": "app", "operator": "Gt"}]}, None),
        ("oops", None),
        ({"matchLabels": "oops"}, None),
    ],
)
def test_label_selector(selector, expected):
    assert selector_matches(selector, LABELS) is expected


def test_service_selector_empty_selects_nothing():
    assert map_selector_matches({}, LABELS) is False
    assert map_selector_matches({"app": "vllm"}, LABELS) is True
    assert map_selector_matches(None, LABELS) is None
