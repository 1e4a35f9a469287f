"""The issue's targets, checked against one run's medians.

Each row names the target, where it was checked, what was measured and a
verdict: ``met``, or ``missed`` with the factor still to gain (2.0× means the
figure must double, or halve, to meet it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bench.findings import Findings
from bench.workload import OURS, STOCK, TABLES_ONCE, Case

THROUGHPUT_VS_STOCK = 10.0
THROUGHPUT_VS_TABLES_ONCE = 2.0
CPU_VS_ENGINE = 4.0
STATEMENTS_PER_TASK = 3.0
TRANSACTIONS_PER_TASK = 2.0
POST_MS = 3.0
# Idle load is "flat" when the rate with the most jobs exceeds the rate with
# none by at most this many requests/s or this fraction, whichever is larger.
FLAT_ABSOLUTE = 1.0
FLAT_RELATIVE = 0.25


@dataclass(frozen=True)
class Row:
    target: str
    where: str
    measured: str
    verdict: str


def check(findings: Findings) -> list[Row]:
    rows: list[Row] = []
    one_task = [c for c in findings.cases() if c.flow == "bench-1-task"]
    for case in one_task:
        ours = findings.jobs_per_s(case, OURS)
        for other, goal in ((STOCK, THROUGHPUT_VS_STOCK),
                            (TABLES_ONCE, THROUGHPUT_VS_TABLES_ONCE)):
            theirs = findings.jobs_per_s(case, other)
            ratio = None if ours is None or not theirs else ours / theirs
            rows.append(Row(f"1-task jobs/s ≥ {goal:g}× {other}", _where(case),
                            _ratio_text(ratio, ours, theirs), _at_least(ratio, goal)))
    for case in findings.cases():
        ours = findings.cpu_ms_per_job(case, OURS)
        engine = findings.engine_ms(case.flow)
        ratio = None if ours is None or not engine else ours / engine
        measured = "—" if ratio is None else f"{ratio:.1f}× ({ours:.1f} / {engine:.1f} ms)"
        rows.append(Row(f"conductor CPU/job ≤ {CPU_VS_ENGINE:g}× engine alone",
                        f"{_where(case)}, {case.flow}", measured,
                        _at_most(ratio, CPU_VS_ENGINE)))
    for (backend, flow) in findings.sql:
        counts = findings.sql_per_task(backend, flow, OURS)
        if counts is None:
            continue
        unit = "per task" if flow != "bench-1-task" else "per job (1 task)"
        verdict = _at_most(counts.statements, STATEMENTS_PER_TASK)
        measured = f"{counts.statements:.1f}"
        if counts.extra:
            total = counts.statements + counts.extra
            measured += f" (+ {counts.extra:.1f} pre-pings/pragmas = {total:.1f})"
            verdict += f"; with them: {_at_most(total, STATEMENTS_PER_TASK)}"
        rows.append(Row(f"≤ {STATEMENTS_PER_TASK:g} statements per task",
                        f"{backend}, {flow}, {unit}", measured, verdict))
        rows.append(Row(f"≤ {TRANSACTIONS_PER_TASK:g} transactions per task",
                        f"{backend}, {flow}, {unit}", f"{counts.transactions:.1f}",
                        _at_most(counts.transactions, TRANSACTIONS_PER_TASK)))
    for (backend, system) in findings.posts:
        if system != OURS:
            continue
        med, p90 = findings.post_latency_ms(backend, system)
        measured = "—" if med is None else f"median {med:.1f} ms (p90 {p90 or 0:.1f})"
        rows.append(Row(f"post ≤ {POST_MS:g} ms", f"{backend}, quiet", measured,
                        _at_most(med, POST_MS)))
    for label, by_jobs in findings.idle_rates().items():
        if not label.startswith(OURS):
            continue
        sizes = sorted(n for n, r in by_jobs.items() if r.requests_per_s is not None)
        if len(sizes) < 2:
            rows.append(Row("idle ZooKeeper load flat in jobs", label, "—", "not measured"))
            continue
        low, high = by_jobs[sizes[0]].requests_per_s, by_jobs[sizes[-1]].requests_per_s
        assert low is not None and high is not None
        allowed = max(FLAT_ABSOLUTE, FLAT_RELATIVE * low)
        measured = ", ".join(f"{by_jobs[n].requests_per_s:.1f}/s with {n:,}" for n in sizes)
        verdict = "met" if high - low <= allowed else (
            f"missed: +{high - low:.1f}/s (allowed +{allowed:.1f})")
        rows.append(Row("idle ZooKeeper load flat in jobs", label, measured, verdict))
    return rows


def render(rows: list[Row]) -> str:
    lines = ["| target | where | measured (ours) | verdict |", "|---|---|---|---|"]
    lines += [f"| {r.target} | {r.where} | {r.measured} | {r.verdict} |" for r in rows]
    return "\n".join(lines)


def _where(case: Case) -> str:
    return f"{case.backend}, {case.conductors} conductor{'s' if case.conductors > 1 else ''}"


def _ratio_text(ratio: float | None, ours: float | None, theirs: float | None) -> str:
    if ratio is None or ours is None or theirs is None:
        return "—"
    return f"{ratio:.2f}× ({ours:.1f} / {theirs:.1f} jobs/s)"


def _verdict(value: float | None, goal: float, met: Callable[[float], bool],
             factor: Callable[[float], float]) -> str:
    if value is None:
        return "not measured"
    if met(value):
        return "met"
    return f"missed ({factor(value):.1f}× to go)"


def _at_least(value: float | None, goal: float) -> str:
    return _verdict(value, goal, lambda v: v >= goal, lambda v: goal / v if v else float("inf"))


def _at_most(value: float | None, goal: float) -> str:
    return _verdict(value, goal, lambda v: v <= goal, lambda v: v / goal)
