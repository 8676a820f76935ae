from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubernai.model.quantity import parse_count, parse_quantity


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("1", Fraction(1), id="plain"),
        pytest.param("500m", Fraction(1, 2), id="milli"),
        pytest.param("100m", Fraction(1, 10), id="milli-exact"),
        pytest.param("16Gi", Fraction(16 * 2**30), id="gibi"),
        pytest.param("1Ki", Fraction(1024), id="kibi"),
        pytest.param("1k", Fraction(1000), id="kilo"),
        pytest.param("1M", Fraction(10**6), id="mega"),
        pytest.param("1e3", Fraction(1000), id="exponent"),
        pytest.param("1E-3", Fraction(1, 1000), id="negative-exponent"),
        pytest.param("1.5", Fraction(3, 2), id="decimal"),
        pytest.param(".5", Fraction(1, 2), id="leading-dot"),
        pytest.param("+2", Fraction(2), id="plus"),
        pytest.param("-1", Fraction(-1), id="minus"),
        pytest.param("10n", Fraction(1, 10**8), id="nano"),
        pytest.param("2u", Fraction(2, 10**6), id="micro"),
        pytest.param("1Ei", Fraction(2**60), id="exbi"),
        pytest.param(2, Fraction(2), id="yaml-int"),
        pytest.param(0.5, Fraction(1, 2), id="yaml-float"),
    ],
)
def test_parse_quantity_exact(text, expected):
    assert parse_quantity(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "1 Gi",
        "1GB",
        "1.2.3",
        "Gi",
        "1e",
        "1e1000000000",
        True,
        None,
        [],
        {},
        "1ki",
    ],
)
def test_parse_quantity_rejects(text):
    assert parse_quantity(text) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("8", 8),
        (8, 8),
        ("2.0", 2),
        ("0.5", None),
        ("500m", None),
        ("-1", None),
        ("x", None),
    ],
)
def test_parse_count(value, expected):
    assert parse_count(value) == expected


@given(
    st.integers(min_value=0, max_value=10**12),
    st.sampled_from(["", "k", "M", "Ki", "Gi"]),
)
def test_integer_with_suffix_round_trips(number, suffix):
    factor = {"": 1, "k": 1000, "M": 10**6, "Ki": 1024, "Gi": 2**30}[suffix]
    assert parse_quantity(f"{number}{suffix}") == number * factor


@given(st.text(max_size=40))
def test_parse_quantity_never_raises(text):
    result = parse_quantity(text)
    assert result is None or isinstance(result, Fraction)
