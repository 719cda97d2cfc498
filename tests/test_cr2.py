"""CR2 (clubSandwich): against clubSandwich run for real, and robu vs clubSandwich."""
import csv
from pathlib import Path

import numpy as np
import pytest

import harness
from harness.core.cr2 import cr2_fit
from harness.core.rma import rma_arrays

FIX = Path(__file__).resolve().parent.parent / "fixtures"


def _cols(path):
    rows = list(csv.DictReader(open(path)))
    return {k: [r[k] for r in rows] for k in rows[0]}


@pytest.fixture(scope="module")
def corrdat():
    d = _cols(FIX / "corrdat/data.csv")
    return {k: np.array([float(x) for x in v]) for k, v in d.items()}


@pytest.mark.filterwarnings("ignore::harness.api.RobuWarning")
def test_cr2_equals_robu_corr_with_single_effect_clusters():
    """One effect per cluster, DL tau^2: CR2 on rma.uni equals robu CORR small = TRUE
    (stats-reference 4.11: same weights 1/(v+tau^2), same A_j, same Phi)."""
    rng = np.random.default_rng(3)
    y, v = rng.normal(0.2, 0.3, 12), rng.uniform(0.01, 0.1, 12)
    x = rng.normal(size=12)
    X = np.column_stack([np.ones(12), x])
    fit = rma_arrays(y, v, X, method="DL")
    r = cr2_fit(y, v, X, list(range(12)), tau2=float(fit["tau2"]))
    rb = harness.robu(y, v, list(range(12)), mods=x, coef_names=["x"])
    np.testing.assert_allclose(r["beta"], rb.b_r, rtol=1e-12)
    np.testing.assert_allclose(r["SE"], rb.SE, rtol=1e-10)
    np.testing.assert_allclose(r["df_Satt"], rb.dfs, rtol=1e-10)


@pytest.mark.r
@pytest.mark.parametrize("method", ["FE", "DL", "REML"])
@pytest.mark.parametrize("weighted", [False, True])
def test_cr2_matches_clubsandwich(r_engine, corrdat, method, weighted):
    mods = ["males", "college", "binge"]
    X = np.column_stack([np.ones(len(corrdat["var"]))] + [corrdat[m] for m in mods])
    w = corrdat["uw_invvar"] if weighted else None
    fit = rma_arrays(corrdat["effectsize"], corrdat["var"], X, method=method, control={"threshold": 1e-12, "maxiter": 1000}, weights=w, r2=False)
    py = cr2_fit(corrdat["effectsize"], corrdat["var"], X, corrdat["studyid"], tau2=float(fit["tau2"]), weights=w, constraints=np.eye(4)[1:])
    data = {"yi": corrdat["effectsize"], "vi": corrdat["var"], "cluster": corrdat["studyid"]}
    if weighted:
        data["weights"] = w
    r = r_engine.call("mh_cr2", data=data, mods={m: corrdat[m] for m in mods}, method=method, wald=np.array(mods, dtype=object))
    assert r.error is None, r.error
    v = r.value
    rtol = 1e-10 if method != "REML" else 1e-8  # REML: tau^2 iterated in both engines (threshold 1e-12)
    for q in ("beta", "SE", "tstat", "df_Satt", "p_Satt", "CI_L", "CI_U"):
        np.testing.assert_allclose(py[q], v[q], rtol=rtol, err_msg=q)
    for q in ("Fstat", "delta", "df_denom", "p_val"):
        np.testing.assert_allclose(py[q], v[q][0], rtol=rtol, err_msg=q)


@pytest.mark.r
def test_robu_vs_clubsandwich_user_weights_df(r_engine, corrdat):
    """With user weights robumeta and clubSandwich give the same CR2 SEs but different
    Satterthwaite dfs (robumeta: Phi = I; clubSandwich: Phi = diag(mean v_j)); with
    CORR weights and small = TRUE they agree."""
    mods = ["males", "college", "binge"]
    data = {"yi": corrdat["effectsize"], "vi": corrdat["var"], "study": corrdat["studyid"], "uw": corrdat["uw_invvar"]}
    cs = r_engine.call("mh_robu_clubsandwich", data=data, mods={m: corrdat[m] for m in mods}, modelweights="USER").value
    M = np.column_stack([corrdat[m] for m in mods])
    py = harness.robu(corrdat["effectsize"], corrdat["var"], corrdat["studyid"], mods=M, coef_names=mods, userweights=corrdat["uw_invvar"])
    np.testing.assert_allclose(py.SE, cs["SE"], rtol=1e-10)
    assert np.all(np.abs(py.dfs - np.array(cs["dfs"])) / np.array(cs["dfs"]) > 1e-3)
    del data["uw"]
    cs = r_engine.call("mh_robu_clubsandwich", data=data, mods={m: corrdat[m] for m in mods}, modelweights="CORR").value
    py = harness.robu(corrdat["effectsize"], corrdat["var"], corrdat["studyid"], mods=M, coef_names=mods)
    np.testing.assert_allclose(py.SE, cs["SE"], rtol=1e-10)
    np.testing.assert_allclose(py.dfs, cs["dfs"], rtol=1e-10)


def test_single_cluster_is_an_error():
    with pytest.raises(ValueError, match="single cluster"):
        cr2_fit(np.array([0.1, 0.2]), np.array([0.1, 0.1]), np.ones((2, 1)), ["a", "a"])


@pytest.mark.r
def test_cr2_rma_mv_fixed_sigma2_matches_clubsandwich(r_engine):
    """rma.mv(random = ~ 1 | district) with sigma2 fixed in both engines: CR2 to 1e-12."""
    from harness.core.cr2 import cr2_fit_mv

    d = _cols(FIX / "konstantopoulos2011/data.csv")
    y, v, g = (np.array([float(x) for x in d[k]]) for k in ("yi", "vi", "district"))
    py = cr2_fit_mv(y, v, np.ones((len(y), 1)), g, sigma2=0.05)
    r = r_engine.call("mh_cr2_mv", data={"yi": y, "vi": v, "cluster": g}, sigma2=0.05).value
    for q in ("beta", "SE", "df_Satt", "p_Satt", "CI_L", "CI_U"):
        np.testing.assert_allclose(py[q], r[q], rtol=1e-12, err_msg=q)


def test_reml_sigma2_is_a_stationary_point():
    """reml_sigma2 zeroes the REML score d(-2 log L_R)/d sigma^2 = tr(P J) - r'W J W r,
    written out here with dense k x k matrices (P = W - W X (X'WX)^-1 X'W, J = same-cluster
    indicator), and sigma^2 slightly above/below gives scores of opposite sign."""
    from harness.core.cr2 import reml_sigma2

    d = _cols(FIX / "konstantopoulos2011/data.csv")
    y, v, g = (np.array([float(x) for x in d[k]]) for k in ("yi", "vi", "district"))
    X = np.ones((len(y), 1))
    s2 = reml_sigma2(y, v, X, g)
    J = (g[:, None] == g[None, :]).astype(float)

    def score(s):
        Wm = np.linalg.inv(np.diag(v) + s * J)
        P = Wm - Wm @ X @ np.linalg.solve(X.T @ Wm @ X, X.T @ Wm)
        return np.trace(P @ J) - y @ P @ J @ P @ y, np.trace(P @ J)

    sc, scale = score(s2)
    assert s2 > 0 and abs(sc) < 1e-10 * scale
    assert score(s2 * (1 - 1e-7))[0] < 0 < score(s2 * (1 + 1e-7))[0]


@pytest.mark.r
def test_public_cr2_matches_clubsandwich(r_engine, corrdat):
    mods = ["males", "college", "binge"]
    M = np.column_stack([corrdat[m] for m in mods])
    fit = harness.cr2(corrdat["effectsize"], corrdat["var"], corrdat["studyid"], mods=M, coef_names=mods, method="DL")
    r = r_engine.call("mh_cr2", data={"yi": corrdat["effectsize"], "vi": corrdat["var"], "cluster": corrdat["studyid"]},
                      mods={m: corrdat[m] for m in mods}, method="DL", wald=np.array(mods, dtype=object)).value
    assert fit.coef_names == tuple(r["coef_names"])
    np.testing.assert_allclose(fit.SE, r["SE"], rtol=1e-10)
    np.testing.assert_allclose(fit.df_Satt, r["df_Satt"], rtol=1e-10)
    np.testing.assert_allclose([fit.Fstat, fit.df_denom, fit.p_val], [r["Fstat"][0], r["df_denom"][0], r["p_val"][0]], rtol=1e-10)
    assert list(fit.summary_frame().columns) == ["beta", "SE", "tstat", "df_Satt", "p_Satt", "CI_L", "CI_U"]
