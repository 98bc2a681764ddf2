"""Several seeds of one variant: the spread of each metric, and what it allows us to say.

A GAN's numbers move from seed to seed by more than many of the differences people report between
variants ("92.2 % vs 90.9 %" from one seed each says little). So when a comparison has several runs
of a variant (``ganlab compare --seeds 3``), every metric is reported as its mean with its spread:

* ``mean``, ``sd`` (the sample standard deviation, n - 1 in the denominator), ``min``, ``max``, ``n``;
* shown as ``mean [min–max]`` for 2 or 3 seeds (a standard deviation of 2 numbers is not worth much)
  and ``mean ± sd`` for 4 or more.

:func:`clearly_better` says whether one group beats another by more than the seeds scatter: only when
their ranges (min–max) do not overlap. With 3 seeds that is a rough test, not a significance test,
and the report says so.
"""
from __future__ import annotations

import math
import statistics
from typing import Any


def spread(values: list[float | None]) -> dict[str, Any] | None:
    """Mean, sample sd, min, max and count of the values that are numbers (None for none)."""
    numbers = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not numbers:
        return None
    return {
        "mean": statistics.fmean(numbers),
        "sd": statistics.stdev(numbers) if len(numbers) > 1 else 0.0,
        "min": min(numbers),
        "max": max(numbers),
        "n": len(numbers),
        "values": numbers,
    }


def describe(summary: dict[str, Any] | None, digits: int = 4) -> str:
    """``0.912 [0.905–0.921]`` for 2–3 values, ``0.912 ± 0.007`` for 4 or more, ``0.912`` for one."""
    if summary is None:
        return "—"
    mean = f"{summary['mean']:.{digits}g}"
    if summary["n"] == 1:
        return mean
    if summary["n"] <= 3:
        return f"{mean} [{summary['min']:.{digits}g}–{summary['max']:.{digits}g}]"
    return f"{mean} ± {summary['sd']:.{digits - 1}g}"


def clearly_better(a: dict[str, Any], b: dict[str, Any], higher_is_better: bool) -> bool:
    """Whether ``a`` beats ``b`` by more than their seeds scatter: their min–max ranges do not overlap."""
    if higher_is_better:
        return a["min"] > b["max"]
    return a["max"] < b["min"]


def group_spreads(metrics_by_run: list[dict[str, Any]], keys: list[str]) -> dict[str, dict[str, Any] | None]:
    """For the runs of one variant (several seeds): the spread of each metric in ``keys``."""
    return {key: spread([metrics.get(key) for metrics in metrics_by_run]) for key in keys}
