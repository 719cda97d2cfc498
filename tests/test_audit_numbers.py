"""Reported numbers as intervals (harness.audit.numbers)."""
import math

import pytest

from harness.audit.numbers import decimals_of, parse_reported


@pytest.mark.parametrize("text,lo,hi", [
    ("-0.37", -0.375, -0.365),          # the example
    ("5.90", 5.895, 5.905),             # trailing zero kept from the string
    ("43", 42.5, 43.5),                 # an integer I2 in percent
    ("\u22120.87", -0.875, -0.865),     # U+2212 minus sign as printed in papers
    ("-0.00", -0.005, 0.0),             # printed sign kept: the value was negative
    ("p = 0.04", 0.035, 0.045),
    ("1.5e-3", 0.00145, 0.00155),
])
def test_rounded_numbers(text, lo, hi):
    r = parse_reported(text)
    assert r.lo == pytest.approx(lo, abs=1e-15) and r.hi == pytest.approx(hi, abs=1e-15)
    assert not r.is_bound


def test_zero_of_a_nonnegative_quantity():
    r = parse_reported("0.00", lower=0.0)
    assert (r.lo, r.hi) == (0.0, 0.005)


@pytest.mark.parametrize("text,lo,hi,op", [
    ("< 0.0001", 0.0, 1e-4, "<"),
    ("P < 0.00001", 0.0, 1e-5, "<"),
    ("p<0.05", 0.0, 0.05, "<"),
    ("≤ 0.01", 0.0, 0.01, "<="),
    ("> 0.1", 0.1, 1.0, ">"),
])
def test_bounds(text, lo, hi, op):
    r = parse_reported(text, lower=0.0, upper=1.0)
    assert (r.lo, r.hi, r.bound) == (lo, hi, op)
    assert r.contains(3e-6) == (hi > 3e-6 and lo < 3e-6)


def test_contains_is_inclusive_at_the_rounding_edges():
    r = parse_reported("-0.37")
    assert r.contains(-0.375) and r.contains(-0.365) and r.contains(-0.3700001)
    assert not r.contains(-0.3751) and not r.contains(-0.3649)


def test_numbers_with_decimals():
    assert parse_reported(5.9, decimals=2).text == "5.90"
    assert parse_reported(5.9, decimals=2).lo == pytest.approx(5.895)
    assert decimals_of("12") == 0 and decimals_of("0.125") == 3


@pytest.mark.parametrize("bad", ["abc", "", "< x", "1.2.3", True, math.nan])
def test_bad_values(bad):
    with pytest.raises(ValueError):
        parse_reported(bad)
