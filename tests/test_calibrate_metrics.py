"""scripts/calibrate_metrics.py on a small scale: every source measured by both classifiers."""
from __future__ import annotations

import json

from conftest import load_script


def test_calibration_measures_every_source_and_writes_json(tmp_path, capsys, mnist):
    script = load_script("calibrate_metrics")
    out = tmp_path / "calibration.json"
    script.main(["--n", "60", "--steps", "2", "--runs-dir", str(tmp_path / "runs"), "--out", str(out)])
    results = json.loads(out.read_text())["results"]
    assert {"real test images", "blurred, σ = 2", "uniform noise", "cgan, 2 steps"} <= set(results)
    for name in ("uniform noise", "cgan, 2 steps"):
        judged = results[name]["cnn"]
        assert judged["recognisable_share"] == 0 and judged["classes_covered"] == 0
        assert judged["second_opinion"]["recognisable_share"] == 0
    assert results["real test images"]["cnn"]["conditional_accuracy"] > 0.9
    assert set(results["real test images"]["thresholds"]) == {"cnn", "lenet"}
    printed = capsys.readouterr().out
    assert "| source | cnn: accuracy |" in printed and "| real test images | cnn |" in printed
    assert (tmp_path / "runs" / "mnist-cgan-seed0-2" / "checkpoints").is_dir()  # kept for the next call
