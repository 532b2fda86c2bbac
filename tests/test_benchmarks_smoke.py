"""The benchmarks' shared helpers (``benchmarks/_common.py``): anchors, results, fresh runs, the
counting server. No timing is checked here, only that the plumbing says what it measured."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def common() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_common", BENCHMARKS / "_common.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_common"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_anchor_unset_is_not_available(common: ModuleType) -> None:
    for kind in ("lindi", "hdmf_zarr", "lazynwb", "kerchunk"):
        found = common.anchor(kind, environ={})
        assert found.python is None and not found.available
        assert found.why.startswith("not available")
        assert common.ANCHOR_VARS[kind] in found.why


def test_anchor_path_that_is_not_a_file(common: ModuleType, tmp_path: Path) -> None:
    var = common.ANCHOR_VARS["lindi"]
    found = common.anchor("lindi", environ={var: str(tmp_path / "nope" / "python")})
    assert found.python is None and "is not a file" in found.why


def test_anchor_set_and_kerchunk_falls_back_to_lindi(common: ModuleType) -> None:
    env = {common.ANCHOR_VARS["lindi"]: sys.executable}
    assert common.anchor("lindi", environ=env).python == sys.executable
    assert common.anchor("kerchunk", environ=env).python == sys.executable
    assert common.anchor("hdmf_zarr", environ=env).python is None
    with pytest.raises(KeyError):
        common.anchor("no-such-tool", environ=env)


def test_report_json_and_markdown(common: ModuleType, tmp_path: Path) -> None:
    report = common.Report("demo", process_state="every tool warm")
    report.add("read", "ours", seconds=0.5, requests=3, bytes=1000)
    report.add("read", "lindi", measured={"seconds": 2.0, "other": 1})
    report.add("read", "kerchunk", measured={"error": "failed (exit 1): boom"})
    missing = common.anchor("hdmf_zarr", environ={})
    report.unavailable("read", missing)
    assert report.ratio("read", "ours", "lindi") == pytest.approx(0.25)
    assert report.ratio("read", "ours", "kerchunk") is None  # no time: no ratio
    report.note("a note")
    out = tmp_path / "sub" / "demo.json"
    report.finish(out)
    data = json.loads(out.read_text())
    assert data["benchmark"] == "demo"
    assert data["notes"] == ["process state: every tool warm", "a note"]
    assert [tuple(r) for r in data["rows"]] == [common.ROW_FIELDS] * 4
    ours, lindi, kerchunk, zarr = data["rows"]
    assert (ours["seconds"], ours["requests"], ours["bytes"], ours["ratio"]) == (0.5, 3, 1000, 0.25)
    assert "lindi" in ours["note"]
    assert lindi["seconds"] == 2.0 and lindi["ratio"] is None
    assert kerchunk["seconds"] is None and "boom" in kerchunk["note"]
    assert zarr["tool"] == "hdmf_zarr" and zarr["note"] == missing.why
    rows = list(common.iter_rows(data))
    assert rows[0].case == "read" and rows[0].ratio == 0.25
    text = report.markdown()
    assert text.splitlines()[2] == "| case | tool | seconds | requests | bytes | ratio | note |"
    assert "| read | ours | 0.5 | 3 | 1,000 | **0.250** |" in text
    assert "not available: $HDMF_LINDI_BENCH_HDMF_ZARR_PYTHON is not set" in text
    with pytest.raises(ValueError, match="lacks"):
        list(common.iter_rows({"benchmark": "x", "rows": [{"case": "a"}]}))


def test_run_fresh_keeps_the_best_and_reports_errors(common: ModuleType) -> None:
    script = "import json, sys; print('noise'); print(json.dumps({'seconds': float(sys.argv[1])}))"
    assert common.run_fresh(sys.executable, script, ["0.25"], repeat=2) == {"seconds": 0.25}
    failed = common.run_fresh(sys.executable, "raise SystemExit('broken driver')")
    assert "broken driver" in failed["error"]
    silent = common.run_fresh(sys.executable, "pass")
    assert "no JSON" in silent["error"]
    imports = common.run_fresh(sys.executable, "import json, hdmf_lindi; print(json.dumps({'seconds': 1}))")
    assert imports == {"seconds": 1}


def test_server_process_counts_requests_and_bytes(common: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "data.bin").write_bytes(bytes(range(256)) * 100)
    with common.ServerProcess(tmp_path) as server:
        request = urllib.request.Request(server.url("data.bin"), headers={"Range": "bytes=10-109"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.read() == (bytes(range(256)) * 100)[10:110]
        with urllib.request.urlopen(server.url("data.bin"), timeout=10) as answer:
            assert len(answer.read()) == 25_600
        assert server.traffic() == common.Traffic(
            requests=2, bytes=100, unranged_gets=1, unranged_bytes=25_600
        )
        server.clear()
        assert server.traffic() == common.Traffic(0, 0, 0, 0)


@pytest.mark.parametrize("script", sorted(BENCHMARKS.glob("bench_*.py")), ids=lambda p: p.name)
def test_benchmark_follows_the_convention(script: Path) -> None:
    """Each benchmark takes --workdir, --json and --quick (its --help says so)."""
    proc = subprocess.run([sys.executable, str(script), "--help"], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    for flag in ("--workdir", "--json", "--quick"):
        assert flag in proc.stdout


def test_summary_gathers_results_versions_and_machine(tmp_path: Path) -> None:
    """``_summary.py`` (run by run.sh) writes latest.md/json from the benchmarks' JSON files."""
    result = {
        "benchmark": "demo",
        "rows": [{"case": "c", "tool": "ours", "seconds": 0.125, "requests": 2, "bytes": 10,
                  "ratio": 0.5, "note": "n"}],
        "notes": ["process state: warm"],
    }
    (tmp_path / "demo.json").write_text(json.dumps(result))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HDMF_LINDI_BENCH_")}
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "_summary.py"), "--results", str(tmp_path),
         "--command", "bash benchmarks/run.sh --quick", "--failed", "gone", "--", "demo", "gone"],
        capture_output=True, text=True, timeout=120, check=False, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "latest.json").read_text())
    assert summary["results"] == {"demo": result}
    assert summary["benchmarks"] == ["demo", "gone"] and summary["failed"] == ["gone"]
    assert summary["machine"]["cores"] >= 1 and summary["commit"]
    ours = summary["versions"]["ours (.venv)"]
    assert ours["hdmf-lindi"] and ours["h5py"] and ours["HDF5"] and ours["numpy"]
    lindi = summary["versions"]["lindi ($HDMF_LINDI_BENCH_LINDI_PYTHON)"]
    assert lindi == {"not available": "not available: $HDMF_LINDI_BENCH_LINDI_PYTHON is not set"}
    text = (tmp_path / "latest.md").read_text()
    assert "Command: `bash benchmarks/run.sh --quick`" in text
    assert "| c | ours | 0.125 | 2 | 10 | **0.500** | n |" in text
    assert "### gone" in text and "failed: no result" in text
