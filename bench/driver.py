"""The load driver: start a server process, send a workload from N clients, measure.

Clients are asyncio tasks sharing one ``httpx.AsyncClient`` (one keep-alive connection per
client). Each runs requests back to back for a warm-up, then for a fixed duration; every
HTTP request's latency is kept. Peak memory comes from ``/proc/<pid>/status`` (VmHWM) of the
server and all its worker processes, reset (``clear_refs``) before each measurement.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from bench.workloads import WRITE_STEPS, WRITE_WORKLOAD, Workloads

READY_TIMEOUT = 120.0


@dataclass(frozen=True, slots=True)
class CellResult:
    """One workload at one concurrency against one server."""

    workload: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    peak_rss_mib: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


class ServerProcess:
    """A server started as its own process group, stopped with it."""

    def __init__(self, command: Sequence[str], port: int, log_path: Path, env: dict[str, str]):
        self.command = list(command)
        self.port = port
        self.log_path = log_path
        self.env = {**os.environ, **env}
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command, stdout=log, stderr=subprocess.STDOUT, env=self.env,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + READY_TIMEOUT
        async with httpx.AsyncClient() as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.command} exited; see {self.log_path}")
                try:
                    if (await http.get(f"{self.base_url}/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.command} not ready after {READY_TIMEOUT:.0f} s")

    def stop(self) -> None:
        if self.process is None:
            return
        os.killpg(self.process.pid, 15)  # the group: our own server and its workers only
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait()
        self.process = None

    def pids(self) -> list[int]:
        """The server process and its descendants (uvicorn workers)."""
        if self.process is None:
            return []
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
        found, queue = [], [self.process.pid]
        while queue:
            pid = queue.pop()
            found.append(pid)
            queue.extend(children.get(pid, []))
        return found

    def reset_peak_memory(self) -> None:
        for pid in self.pids():
            # Not permitted or gone: the peak then counts from the process's start.
            with contextlib.suppress(OSError):
                Path(f"/proc/{pid}/clear_refs").write_text("5")

    def peak_memory_mib(self) -> float:
        """Sum of VmHWM (peak resident set) over the server's processes."""
        total_kib = 0
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        total_kib += int(line.split()[1])
            except OSError:
                continue
        return total_kib / 1024


class Caller(Protocol):
    """How one kind of server is asked for a workload's request ``variant``."""

    async def read(self, http: httpx.AsyncClient, workload: str, variant: int) -> None: ...

    async def write_round(
        self, http: httpx.AsyncClient, variant: int, latencies: list[float]
    ) -> None: ...


class RequestFailed(Exception):
    pass


class GraphQLCaller:
    """Sends the workloads' GraphQL requests to ``POST /graphql`` with the bearer token."""

    def __init__(self, workloads: Workloads, token: str) -> None:
        self.workloads = workloads
        self.headers = {"Authorization": f"Bearer {token}"}

    async def read(self, http: httpx.AsyncClient, workload: str, variant: int) -> None:
        await self._post(http, self.workloads.reads[workload][variant].body())

    async def write_round(
        self, http: httpx.AsyncClient, variant: int, latencies: list[float]
    ) -> None:
        script = self.workloads.writes[variant]
        nonce, contact_id = secrets.token_hex(6), None
        for step in range(WRITE_STEPS):
            started = time.perf_counter()
            data = await self._post(http, script.step(step, nonce, contact_id).body())
            latencies.append(time.perf_counter() - started)
            contact_id = contact_id or data["createContact"]["contact"]["id"]

    async def _post(self, http: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
        response = await http.post("/graphql", json=body, headers=self.headers)
        result = response.json()
        if response.status_code != 200 or result.get("errors"):
            raise RequestFailed(str(result)[:300])
        for payload in result["data"].values():
            if isinstance(payload, dict) and payload.get("errors"):
                raise RequestFailed(str(payload["errors"])[:300])
        return result["data"]


class FloorCaller:
    """Asks the floor (``bench.floor``) to replay the same requests' SQL."""

    def __init__(self, workloads: Workloads) -> None:
        self.workloads = workloads

    async def read(self, http: httpx.AsyncClient, workload: str, variant: int) -> None:
        await self._post(http, {"workload": workload, "variant": variant})

    async def write_round(
        self, http: httpx.AsyncClient, variant: int, latencies: list[float]
    ) -> None:
        nonce, ids = secrets.token_hex(6), {}
        for step in range(WRITE_STEPS):
            started = time.perf_counter()
            body = {"workload": WRITE_WORKLOAD, "variant": variant, "step": step,
                    "nonce": nonce, "ids": ids}  # fmt: skip
            ids = (await self._post(http, body))["ids"]
            latencies.append(time.perf_counter() - started)

    async def _post(self, http: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
        response = await http.post("/floor", json=body)
        if response.status_code != 200:
            raise RequestFailed(response.text[:300])
        return response.json()


def variant_count(workloads: Workloads, workload: str) -> int:
    if workload == WRITE_WORKLOAD:
        return len(workloads.writes)
    return len(workloads.reads[workload])


async def drive(
    server: ServerProcess,
    caller: Caller,
    workloads: Workloads,
    workload: str,
    concurrency: int,
    duration: float,
    warmup: float,
) -> CellResult:
    """Run ``workload`` from ``concurrency`` clients: warm-up, then ``duration`` seconds."""
    variants = itertools.cycle(range(variant_count(workloads, workload)))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    timeout = httpx.Timeout(60.0)
    async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=timeout) as http:

        async def client(until: float, latencies: list[float], failures: list[str]) -> None:
            while time.perf_counter() < until:
                variant = next(variants)
                try:
                    if workload == WRITE_WORKLOAD:
                        await caller.write_round(http, variant, latencies)
                    else:
                        started = time.perf_counter()
                        await caller.read(http, workload, variant)
                        latencies.append(time.perf_counter() - started)
                except (RequestFailed, httpx.TransportError, ValueError) as failure:
                    failures.append(f"{type(failure).__name__}: {failure}")

        async def phase(seconds: float) -> tuple[list[float], list[str], float]:
            latencies: list[float] = []
            failures: list[str] = []
            started = time.perf_counter()
            until = started + seconds
            await asyncio.gather(*(client(until, latencies, failures) for _ in range(concurrency)))
            return latencies, failures, time.perf_counter() - started

        await phase(warmup)
        server.reset_peak_memory()
        latencies, failures, elapsed = await phase(duration)
    if failures:
        print(f"  {len(failures)} failed requests, e.g. {failures[0]}", file=sys.stderr)
    latencies.sort()
    return CellResult(
        workload=workload,
        concurrency=concurrency,
        requests=len(latencies),
        errors=len(failures),
        seconds=elapsed,
        p50_ms=_percentile(latencies, 0.50) * 1000,
        p99_ms=_percentile(latencies, 0.99) * 1000,
        peak_rss_mib=server.peak_memory_mib(),
    )


def _percentile(ordered: Sequence[float], share: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]
