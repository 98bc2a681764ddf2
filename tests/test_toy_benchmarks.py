"""The 2-D benchmark scripts run and print well-formed JSON (their figures are not asserted)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_script(name: str, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / name), *arguments],
                          capture_output=True, text=True, timeout=300)


def test_toy_gan_study_prints_one_json_row_per_seed(tmp_path):
    out = tmp_path / "rows.jsonl"
    result = run_script("toy_gan.py", "--steps", "30", "--seeds", "0,1", "--eval-at", "10",
                        "--g-width", "16", "--d-width", "16", "--conditional", "--json", str(out))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["seed"] for row in rows] == [0, 1] and rows[0]["setting"]["conditional"] is True
    assert [c["step"] for c in rows[0]["checkpoints"]] == [10, 30]
    assert {"modes_covered", "high_quality_fraction", "mode_kl", "conditional_accuracy"} <= set(
        rows[0]["checkpoints"][-1])
    assert rows[0]["ms_per_step"] > 0 and rows[0]["cpu_ms_per_step"] > 0


def test_views_speed_prints_the_cost_of_a_frame(tmp_path):
    out = tmp_path / "views.json"
    result = run_script("views_speed.py", "--frames", "2", "--json", str(out))
    assert result.returncode == 0, result.stderr
    row = json.loads(out.read_text())
    assert row["frames"] == 2 and row["compute_ms"]["cpu_median"] > 0
    assert row["draw_and_png_ms"]["wall_median"] > 0 and row["gif_kb"] > 0 and row["html_kb"] > row["png_kb_median"]
