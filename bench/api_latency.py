"""Latency of the HTTP API against a running deployment (e.g. standalone mode).

    .venv/bin/python bench/api_latency.py --url http://127.0.0.1:8080 [--token T] [--jobs 200]

Posts ``--jobs`` jobs of ``--flow`` one after another, then reads the job list
a page at a time and each job; prints the median and 90th percentile of each
operation in milliseconds. The conductor runs the posted jobs meanwhile, as in
real use.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from orchestrator.api.client import ApiClient


def _timed(samples: list[float], call: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    result = call()
    samples.append((time.perf_counter() - start) * 1000)
    return result


def _row(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[max(0, int(len(ordered) * 0.9) - 1)]
    return f"| {name} | {len(samples)} | {statistics.median(samples):.1f} | {p90:.1f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--token")
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--flow", default="bench-1-task")
    args = parser.parse_args()
    posts: list[float] = []
    pages: list[float] = []
    gets: list[float] = []
    with ApiClient(args.url, args.token) as api:
        ids = [_timed(posts, lambda: api.post_job(args.flow))["id"] for _ in range(args.jobs)]
        marker = None
        while True:
            page = _timed(pages, lambda: api.list_jobs(limit=50, marker=marker))  # noqa: B023
            marker = page["next_marker"]
            if marker is None:
                break
        for job_id in ids:
            _timed(gets, lambda: api.get_job(job_id))  # noqa: B023
    print(f"{args.jobs} jobs of {args.flow} against {args.url}\n")
    print("| operation | calls | median ms | p90 ms |\n|---|---|---|---|")
    print(_row("POST /v1/jobs", posts))
    print(_row("GET /v1/jobs?limit=50 (each page)", pages))
    print(_row("GET /v1/jobs/<id> (with tasks)", gets))


if __name__ == "__main__":
    main()
