"""Effect sizes against hand computation (written out) and against metafor::escalc run for real."""
import math

import numpy as np
import pytest

import harness
from harness.core import effect_sizes as es


def test_md_by_hand():
    # Edinburgh trial of Normand (1999): 155 vs 156 patients, means 55 vs 75, SDs 47 vs 64
    yi, vi = es.md(55, 47, 155, 75, 64, 156)
    assert yi == -20
    assert vi == pytest.approx(47**2 / 155 + 64**2 / 156, rel=1e-15)  # 14.2516... + 26.2564...


def test_md_ho_by_hand():
    # pooled variance: ((155-1)*47^2 + (156-1)*64^2)/(155+156-2) = (340186 + 634880)/309 = 3155.55...
    sp2 = (154 * 47**2 + 155 * 64**2) / 309
    _, vi = es.md(55, 47, 155, 75, 64, 156, vtype="HO")
    assert vi == pytest.approx(sp2 * (1 / 155 + 1 / 156), rel=1e-15)
    # Normand (1999) Table VIII prints this variance as 40.59
    assert round(float(vi), 2) == 40.59


def test_exact_correction_by_hand():
    # J(2) = Gamma(1)/(sqrt(1) Gamma(1/2)) = 1/sqrt(pi)
    assert es.cmicalc(2) == pytest.approx(1 / math.sqrt(math.pi), rel=1e-14)
    # J(10) = Gamma(5)/(sqrt(5) Gamma(4.5)); Gamma(5) = 24, Gamma(4.5) = 11.6317283966...
    assert es.cmicalc(10) == pytest.approx(24 / (math.sqrt(5) * math.gamma(4.5)), rel=1e-14)
    # undefined for m <= 1, as metafor's NA
    assert np.isnan(es.cmicalc(1))


def test_smd_by_hand():
    # n1 = n2 = 10, means 12 and 10, SDs 2 and 2: d = 1, m = 18
    J = math.gamma(9) / (math.sqrt(9) * math.gamma(8.5))
    yi, vi = es.smd(12, 2, 10, 10, 2, 10)
    assert yi == pytest.approx(J, rel=1e-14)
    assert vi == pytest.approx(1 / 10 + 1 / 10 + J**2 / 40, rel=1e-14)  # LS: 1/n1 + 1/n2 + g^2/(2N)


def test_smd_revman_by_hand():
    # RevMan 5: g = d (1 - 3/(4N - 9)), SE^2 = N/(n1 n2) + g^2/(2(N - 3.94)); N = 20, d = 1
    g = 1 * (1 - 3 / (4 * 20 - 9))
    yi, vi = es.smd_revman(12, 2, 10, 10, 2, 10)
    assert yi == pytest.approx(g, rel=1e-15)
    assert vi == pytest.approx(20 / 100 + g**2 / (2 * (20 - 3.94)), rel=1e-15)


def test_escalc_takes_yi_and_sei():
    r = harness.escalc("GEN", yi=[0.1, 0.2], sei=[0.5, 0.25])
    assert list(r.vi) == [0.25, 0.0625]


@pytest.mark.parametrize("measure", ["MD", "SMD"])
@pytest.mark.parametrize("vtype", ["LS", "UB"])
def test_escalc_matches_metafor(agreement, measure, vtype):
    data = dict(m1i=[55.0, 27, 64, 66, 14], sd1i=[47.0, 7, 17, 20, 8], n1i=[155.0, 31, 75, 18, 8],
                m2i=[75.0, 29, 119, 137, 18], sd2i=[64.0, 4, 29, 48, 11], n2i=[156.0, 32, 71, 18, 13])
    r = agreement.r("mh_escalc", data=data, measure=measure, vtype=vtype)
    py = harness.escalc(measure, vtype=vtype, **data)
    agreement.check({"yi": py.yi, "vi": py.vi}, r, default=1e-13)


def test_rom_by_hand():
    # ln(55/75) and sd1^2/(n1 m1^2) + sd2^2/(n2 m2^2) = 47^2/(155*55^2) + 64^2/(156*75^2);
    # correct=False: no bias correction (metafor 3.8-1 and 4.8-0)
    yi, vi = es.rom(55, 47, 155, 75, 64, 156, correct=False)
    assert yi == pytest.approx(math.log(55 / 75), rel=1e-15)
    assert vi == pytest.approx(2209 / (155 * 3025) + 4096 / (156 * 5625), rel=1e-14)


def test_smdh_by_hand():
    # n1 = n2 = 10, means 12 and 10, SDs 2 and 4: s = sqrt((4 + 16)/2) = sqrt(10), m = 18
    J = math.gamma(9) / (math.sqrt(9) * math.gamma(8.5))
    g = J * 2 / math.sqrt(10)
    yi, vi = es.smdh(12, 2, 10, 10, 4, 10, legacy_variances=True)
    assert yi == pytest.approx(g, rel=1e-14)
    # metafor 3.8-1 "LS": J^2 [g^2 (2^4/9 + 4^4/9) / (2 (20)^2) + (4/9 + 16/9) / 10]
    assert vi == pytest.approx(J**2 * (g**2 * (16 / 9 + 256 / 9) / (2 * 400) + (4 / 9 + 16 / 9) / 10), rel=1e-14)


def test_smd_from_t_by_hand():
    # t = 2 with n1 = n2 = 10: d = 2 sqrt(1/10 + 1/10), then Hedges' g with J(18)
    J = math.gamma(9) / (math.sqrt(9) * math.gamma(8.5))
    yi, _ = es.smd_from_t(2.0, 10, 10)
    assert yi == pytest.approx(J * 2 * math.sqrt(0.2), rel=1e-14)
