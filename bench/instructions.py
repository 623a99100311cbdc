"""Instructions per request, counted by callgrind: the Python work of a request, in a figure
that does not move with the machine's speed.

    python -m bench.instructions --size M --workloads spa-list,partner-slim [--requests 10]

On a shared VM a timing moves by 10-50 % from one minute to the next; the number of
instructions a request executes does not (callgrind gives the same count to about 0.1 %, run
after run), so two commits can be compared one after the other. Each workload runs
in-process, as ``bench.inprocess`` runs it, under ``valgrind --tool=callgrind`` with the
counting switched off; after warm-up requests it is switched on (``callgrind_control``) for
``--requests`` executions of the first request of the workload's pool, then off again.

The report gives instructions per request on the main thread (all the Python: GraphQL, the
ORM, building rows) and on the other threads (aiosqlite runs SQLite's statements on its
own; on PostgreSQL the server does that work, outside this process). Needs valgrind
(Debian's package) and a generated database (``python -m bench generate``).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.sizes import targets_for
from bench.workloads import READ_WORKLOADS

WARM_UP = 5
POLL_SECONDS = 0.05
TIMEOUT_SECONDS = 600


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("--size", default="M", help="S, M or L (default M)")
    parser.add_argument("--workloads", default="spa-list,partner-slim,contact-card,search")
    parser.add_argument("--requests", type=int, default=10, help="requests counted (10)")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # the process callgrind runs
    args = parser.parse_args(argv)
    if args.child:
        [workload] = args.workloads.split(",")
        asyncio.run(_run_requests(args.size, workload, args.requests, Path(args.child)))
        return
    for tool in ("valgrind", "callgrind_control"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (Debian: apt install valgrind)")
    [target, *_] = targets_for(args.size)  # an unknown size stops here, named
    workloads = [workload.strip() for workload in args.workloads.split(",")]
    unknown = sorted(set(workloads) - set(READ_WORKLOADS))
    if unknown:
        raise SystemExit(f"unknown workloads {unknown}; choose from {', '.join(READ_WORKLOADS)}")
    if args.requests < 1:
        raise SystemExit("--requests must be at least 1")
    print(f"instructions per request, {args.requests} requests, size {target.size}")
    for workload in workloads:
        main_thread, others = count(target.size, workload, args.requests)
        print(f"{workload:<14} main thread {main_thread / 1e6:8.2f}M   "
              f"other threads {others / 1e6:8.2f}M")  # fmt: skip


def count(size: str, workload: str, requests: int) -> tuple[float, float]:
    """Instructions per request of ``workload``: on the main thread, and on all others."""
    with tempfile.TemporaryDirectory() as folder:
        step = Path(folder) / "step"
        out = Path(folder) / "callgrind.out"
        log = Path(folder) / "log"  # a file, not a pipe: a full pipe would stall the child
        command = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes",
            f"--callgrind-out-file={out}", sys.executable, "-m", "bench.instructions",
            "--size", size, "--workloads", workload, "--requests", str(requests),
            "--child", str(step),
        ]  # fmt: skip
        with (
            log.open("wb") as sink,
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=sink) as child,
        ):
            try:
                _wait_for(step.with_suffix(".ready"), child)
                _callgrind(child.pid, "on")
                step.with_suffix(".go").touch()
                _wait_for(step.with_suffix(".done"), child)
                _callgrind(child.pid, "off")
                step.with_suffix(".exit").touch()
                child.wait(TIMEOUT_SECONDS)
            finally:
                if child.poll() is None:
                    child.kill()
        if child.returncode != 0:
            failure = log.read_text(errors="replace")[-2000:]
            raise SystemExit(f"{workload}: the measured process failed:\n{failure}")
        totals = [_total(path) for path in sorted(Path(folder).glob("callgrind.out-*"))]
    if not totals:
        raise SystemExit(f"{workload}: callgrind wrote no counts")
    return totals[0] / requests, sum(totals[1:]) / requests


def _callgrind(pid: int, state: str) -> None:
    subprocess.run(["callgrind_control", f"--instr={state}", str(pid)],
                   check=True, capture_output=True)  # fmt: skip


def _wait_for(path: Path, child: subprocess.Popen) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not path.exists():
        if child.poll() is not None:
            return  # it ended early: its exit status says why
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {path.name} after {TIMEOUT_SECONDS} s")
        time.sleep(POLL_SECONDS)


def _total(path: Path) -> int:
    """The ``totals:`` line of one thread's callgrind output: its instructions."""
    for line in path.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    return 0


async def _run_requests(size: str, workload: str, requests: int, step: Path) -> None:
    """In the process callgrind runs: warm up, then run ``requests`` between the steps."""
    from bench.generate import ADMIN_TOKEN
    from bench.inprocess import run_request
    from bench.run import bench_settings
    from bench.sizes import TARGETS
    from bench.workloads import sample_workloads
    from server import build_app, context_for

    app = build_app(bench_settings(TARGETS[size.upper()][0]), prepare=False)
    async with app.router.lifespan_context(app):
        request = (await sample_workloads()).reads[workload][0]
        signed_in = await context_for(f"Bearer {ADMIN_TOKEN}")
        for _ in range(WARM_UP):
            await run_request(request, signed_in)
        step.with_suffix(".ready").touch()
        while not step.with_suffix(".go").exists():
            time.sleep(POLL_SECONDS)
        for _ in range(requests):
            await run_request(request, signed_in)
        step.with_suffix(".done").touch()
        while not step.with_suffix(".exit").exists():
            time.sleep(POLL_SECONDS)


if __name__ == "__main__":
    main(sys.argv[1:])
