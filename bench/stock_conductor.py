"""One stock TaskFlow conductor process: ``python -m bench.stock_conductor ...``.

Serves the board until SIGTERM or SIGINT, then stops claiming and exits. With
``--tables-once`` its SQLAlchemy backend builds its ``Connection`` (and table
metadata) once; everything else stays stock.
"""

from __future__ import annotations

import argparse
import logging
import signal
from types import FrameType

from bench import stock


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", required=True, help="ZooKeeper host:port")
    parser.add_argument("--path", required=True, help="jobboard path")
    parser.add_argument("--connection", required=True, help="SQLAlchemy URL")
    parser.add_argument("--name", required=True, help="conductor name")
    parser.add_argument("--kind", choices=stock.KINDS, default="blocking")
    parser.add_argument("--wait-timeout", type=float, default=0.5)
    parser.add_argument("--max-jobs", type=int, default=4)
    parser.add_argument("--tables-once", action="store_true",
                        help="build TaskFlow's Connection once (and pool SQLite connections)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    persistence = stock.backend(args.connection, tables_once=args.tables_once)
    jobboard = stock.board(args.name, args.hosts, args.path, persistence)
    conductor = stock.conductor(args.kind, args.name, jobboard, persistence,
                                args.wait_timeout, args.max_jobs)

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        conductor.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        conductor.run()
    finally:
        jobboard.close()
        persistence.close()


if __name__ == "__main__":
    main()
