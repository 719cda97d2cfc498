"""The command line end to end: verify the bundled fixtures, JSON shape, exit codes."""
import json
import re
import subprocess
import sys

import pytest


def run(*args, cwd=None, columns=None):
    """``metaharness ARGS`` in a subprocess (piped: no colour), ``COLUMNS`` set when given."""
    import os

    env = {**os.environ, "NO_COLOR": "1", **({"COLUMNS": str(columns)} if columns else {})}
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=cwd, env=env)


def test_verify_bundled_fixtures_agree(tmp_path, r_engine):
    out = tmp_path / "out.json"
    page = tmp_path / "out.html"
    p = run("verify", "--json", str(out), "--html", str(page))
    assert p.returncode == 0, p.stdout + p.stderr
    last = p.stdout.strip().splitlines()[-1]
    assert "analyses" in last and " 0 differ, 0 errors" in last
    doc = json.loads(out.read_text())
    assert doc["schema"] == 1
    assert {"python", "r"} <= set(doc["engines"])
    assert doc["engines"]["r"]["metafor"]
    a = doc["analyses"][0]
    assert {"id", "fixture", "quantities"} <= set(a)
    q = a["quantities"][0]
    assert set(q) >= {"name", "python", "r", "abs_diff", "rel_diff", "tolerance", "verdict"}
    # bundled fixtures agree, except differences registered as explained (each with its reason)
    assert all(q["verdict"] in ("agree", "explained") for a in doc["analyses"] for q in a["quantities"])
    assert all(q["explanation"] for a in doc["analyses"] for q in a["quantities"] if q["verdict"] == "explained")
    check_bundled_report(page, doc)


def check_bundled_report(page, doc):
    """The bundled fixtures' HTML report: at most 10 MB (it was 67 MB, one base64 matplotlib SVG per plot
    and every table inline), and in headless Chromium every analysis is there and reachable from the summary."""
    from harness.reports import browser

    size = page.stat().st_size
    assert size <= 10_000_000, f"{size / 1e6:.1f} MB"
    try:
        browser.find_chromium()
    except browser.BrowserUnavailable as e:  # `make test` installs it: never skipped
        raise AssertionError(str(e)) from None
    dom = browser.dump_dom(page, timeout=300)
    n = len(doc["analyses"])
    assert dom.count('<section class="analysis"') == n
    for a in doc["analyses"]:
        anchor = "a-" + "".join(c if c.isalnum() or c in "-_." else "_" for c in a["id"])
        assert f'id="{anchor}"' in dom and f'href="#{anchor}"' in dom, a["id"]
    agree = sum(a["verdict"] == "agree" for a in doc["analyses"])
    explained = sum(a["verdict"] == "explained" for a in doc["analyses"])
    assert f"{n} analyses: {agree} agree, {explained} explained" in dom and "All" not in dom.split("</section>")[0].split("banner")[1]
    # the explained analyses' forests are in the page; the agreeing ones' are stored, one block each
    assert dom.count('class="plot forest"') >= explained and dom.count('<details class="lazy" data-z=') == agree


def test_bad_spec_exits_2(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text('[dataset]\ndata = "data.csv"\nsource = "x"\n[[analysis]]\nid = "a"\nmeasure = "SMD"\nmethd = "REML"\n')
    (tmp_path / "data.csv").write_text("m1i,sd1i,n1i,m2i,sd2i,n2i\n1,1,10,0,1,10\n2,1,10,0,1,10\n")
    p = run("verify", str(spec))
    assert p.returncode == 2
    assert "unknown key 'methd'" in p.stderr and "did you mean 'method'" in p.stderr
    # and the kind's keys, with where they are described
    assert "its keys are measure, m1i, sd1i," in p.stderr and "`metaharness kinds rma` describes them" in p.stderr


def test_bad_cell_names_file_line_and_column(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text('[dataset]\ndata = "data.csv"\nsource = "x"\n[[analysis]]\nid = "a"\nmeasure = "SMD"\n')
    (tmp_path / "data.csv").write_text("m1i,sd1i,n1i,m2i,sd2i,n2i\n1,1,10,0,1,10\n2,abc,10,0,1,10\n")
    p = run("verify", str(spec))
    assert p.returncode == 2
    assert "data.csv, line 3, column 'sd1i': 'abc' is not a number" in p.stderr


def test_doctor_reports_both_engines(r_engine):
    p = run("doctor")
    assert p.returncode == 0, p.stdout
    release = r_engine.versions()["metafor"]
    assert f"metafor          {release}" in p.stdout and "supported (tested releases: 3.8-1, 4.8-0, 5.0-1)" in p.stdout
    assert "library paths" in p.stdout
    assert f"Conventions the Python side follows: metafor {release} (the R engine's release)" in p.stdout
    assert "ROM bias-corrected by default" in p.stdout
    assert "downgrade" not in p.stdout and "verified with" not in p.stdout
    assert "numpy" in p.stdout


def test_a_folder_without_a_spec_by_name_says_what_was_looked_for(tmp_path):
    (tmp_path / "analysis.toml").write_text('[dataset]\ndata = "data.csv"\nsource = "x"\n')
    p = run("verify", str(tmp_path))
    assert p.returncode == 2, p.stdout + p.stderr
    assert "no spec file in this folder (looked for spec.toml and *.spec.toml" in p.stderr
    assert "analysis.toml" in p.stderr and "0 analyses" not in p.stdout


def test_kinds_lists_every_kind_with_its_keys():
    from harness.analyses import KINDS

    p = run("kinds", columns=120)
    assert p.returncode == 0, p.stderr
    for name, kind in KINDS.items():
        assert f'== kind = "{name}"' in p.stdout
    # every key of every kind is in the listing (the keys of one kind under its heading)
    blocks = {b.split('"', 2)[1]: b for b in p.stdout.split("== kind = ")[1:]}
    for name, kind in KINDS.items():
        for key, spec in kind.keys.items():
            assert re.search(rf"^{re.escape(key)}\s", blocks[name], re.M), (name, key)
    assert '"FE", "EE", "CE"' in blocks["rma"] and "(required)" in blocks["robu"]  # allowed values; required keys
    assert max(len(line) for line in p.stdout.splitlines()) <= 120
    doc = json.loads(run("kinds", "robu", "--json", "-").stdout)
    assert doc["robu"]["keys"]["modelweights"] == {"type": "string", "default": "CORR", "choices": ["CORR", "HIER"], "required": False, "expand": True,
                                                   "help": "", "requires": None}
    assert doc["robu"]["keys"]["rho"]["requires"] == {"modelweights": ["CORR"]}
    p = run("kinds", "robo")
    assert p.returncode == 2 and "did you mean 'robu'" in p.stderr


CSV = "study,m1i,sd1i,n1i,m2i,sd2i,n2i\nAlpha,10.2,3.1,25,12.0,3.4,24\nBeta,8.9,2.7,40,9.6,2.9,41\nGamma,11.5,4.0,18,13.9,4.2,20\nDelta,9.8,3.3,60,NA,3.0,58\nEpsilon,10.9,3.6,33,12.7,3.8,30\n"


def test_terminal_summary_shows_both_engines_pooled_estimate_tau2_and_i2(tmp_path, r_engine):
    """Per analysis, without --detail: the pooled estimate [CI], tau^2 and I^2 (the engines agree: printed
    once, "both"); ids wrap within the terminal's width; dropped studies with full agreement: no empty table."""
    (tmp_path / "data.csv").write_text(CSV)
    (tmp_path / "spec.toml").write_text('[dataset]\ndata = "data.csv"\nslab = "study"\nsource = "made-up numbers"\nna = "omit"\n'
                                        '[[analysis]]\nid = "a-rather-long-analysis-identifier-for-the-demo-data"\nmeasure = "MD"\nmethod = ["DL", "REML"]\n')
    out = tmp_path / "o.json"
    p = run("verify", str(tmp_path / "spec.toml"), "--json", str(out), columns=100)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert max(len(line) for line in lines) <= 100, [line for line in lines if len(line) > 100]
    doc = json.loads(out.read_text())
    for a in doc["analyses"]:
        q = {r["name"]: r for r in a["quantities"]}
        # 4 significant digits, or 3 where long ids would otherwise wrap a lot
        for d in (4, 3):
            est = f"{q['beta']['python']:.{d}g} [{q['ci_lb']['python']:.{d}g}, {q['ci_ub']['python']:.{d}g}]"
            row = next((line for line in lines if est in line), None)
            if row:
                break
        assert row, (est, lines)
        assert " both " in row and f"{q['tau2']['python']:.{d}g}" in row and f"{q['I2']['python']:.{d}g}" in row
        assert abs(q["beta"]["python"] - q["beta"]["r"]) < 1e-12  # printed once: the engines agree at the digits shown
    # the dropped study is reported; no table header follows when nothing differs
    assert "dropped study 'Delta' (line 5)" in p.stdout
    assert "quantity    Python" not in p.stdout and "abs diff" not in p.stdout
    # a narrow terminal: every line fits, the ids wrap and stay readable in full (DL and REML distinguishable)
    p = run("verify", str(tmp_path / "spec.toml"), columns=80)
    lines = p.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, [line for line in lines if len(line) > 80]
    table = lines[2:lines.index("", 2)]
    flat = "".join(line.split(" ", 1)[0] for line in table)
    assert "a-rather-long-analysis-identifier-for-the-demo-data-DL" in flat and "a-rather-long-analysis-identifier-for-the-demo-data-REML" in flat


@pytest.mark.r
def test_audit_tables_fit_the_terminal():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    for cols in (80, 120):
        p = run("audit", str(root / "fixtures" / "published" / "dersimonian2007.toml"), columns=cols)
        assert max(len(line) for line in p.stdout.splitlines()) <= cols, cols


def test_sigterm_stops_a_command_as_an_interrupt(monkeypatch, capsys):
    """SIGTERM (``kill``, a batch system's time limit) ends a command the way Ctrl-C does: the
    command's own KeyboardInterrupt handling runs (a campaign keeps its store), exit 130, and the
    previous SIGTERM handler is back afterwards."""
    import os
    import signal
    import time

    from harness import cli
    from harness.commands import kinds

    seen = []

    def run(args):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(10)  # the handler raises at the next bytecode
        except KeyboardInterrupt:
            seen.append("cleanup")
            raise
        return 0

    monkeypatch.setattr(kinds, "run", run)
    before = signal.getsignal(signal.SIGTERM)
    t0 = time.perf_counter()
    assert cli.main(["kinds"]) == 130
    assert time.perf_counter() - t0 < 5 and seen == ["cleanup"]
    assert "metaharness: interrupted" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is before
