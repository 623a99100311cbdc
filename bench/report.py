"""Results on disk (one JSON per database) and the Markdown report built from them."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.driver import CellResult
from bench.sizes import DATA_DIR, TARGETS, Target

REPORT_PATH = DATA_DIR / "report.md"


@dataclass(slots=True)
class TargetResult:
    """Everything measured on one database."""

    target: Target
    server: list[CellResult] = field(default_factory=list)
    floor: list[CellResult] = field(default_factory=list)
    statements_per_request: dict[str, float] = field(default_factory=dict)
    by_page_size: dict[str, dict[str, int]] = field(default_factory=dict)
    # workload -> ExecutionCost fields (in-process, one request of the pool)
    execution: dict[str, dict[str, float]] = field(default_factory=dict)
    profiles: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return DATA_DIR / f"results-{self.target.label}.json"

    def save(self) -> None:
        document = {
            "target": asdict(self.target),
            "server": [asdict(cell) for cell in self.server],
            "floor": [asdict(cell) for cell in self.floor],
            "statements_per_request": self.statements_per_request,
            "by_page_size": self.by_page_size,
            "execution": self.execution,
            "profiles": self.profiles,
            "rows": self.rows,
        }
        self.path.write_text(json.dumps(document, indent=1))

    @staticmethod
    def load(path: Path) -> TargetResult:
        document = json.loads(path.read_text())
        return TargetResult(
            target=Target(**document["target"]),
            server=[CellResult(**cell) for cell in document["server"]],
            floor=[CellResult(**cell) for cell in document["floor"]],
            statements_per_request=document["statements_per_request"],
            by_page_size=document["by_page_size"],
            execution=document["execution"],
            profiles=document["profiles"],
            rows=document.get("rows", {}),
        )

    def cell(self, kind: str, workload: str, concurrency: int) -> CellResult | None:
        cells = self.server if kind == "server" else self.floor
        return next(
            (c for c in cells if c.workload == workload and c.concurrency == concurrency), None
        )


def load_all() -> list[TargetResult]:
    """Saved results, in the order of TARGETS."""
    results = []
    for targets in TARGETS.values():
        for target in targets:
            path = DATA_DIR / f"results-{target.label}.json"
            if path.exists():
                results.append(TargetResult.load(path))
    return results


def machine(postgres_version: str | None) -> list[str]:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    mem_kib = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )  # fmt: skip
    lines = [
        f"- CPU: {os.cpu_count()} × {cpu} (`nproc` = {_nproc()})",
        f"- RAM: {mem_kib / 1024 / 1024:.1f} GiB",
        f"- Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}",
    ]
    if postgres_version:
        lines.append(f"- PostgreSQL {postgres_version} (same machine, default configuration)")
    return lines


def _nproc() -> str:
    try:
        return subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def render(results: list[TargetResult], postgres_version: str | None, command: str) -> str:
    out = ["# Benchmark report", "", f"`{command}`", "", *machine(postgres_version), ""]
    for result in results:
        out.extend(_target_section(result))
    out.extend(_targets_section(results))
    return "\n".join(out) + "\n"


def _target_section(result: TargetResult) -> list[str]:
    t = result.target
    rows = ", ".join(f"{count:,} {table}" for table, count in result.rows.items())
    out = [
        f"## {t.size} on {'SQLite' if t.backend == 'sqlite' else 'PostgreSQL'}, "
        f"{t.workers} worker{'s' if t.workers > 1 else ''}",
        "",
        rows,
        "",
        "| workload | clients | req/s | p50 ms | p99 ms | statements/req | peak RSS MiB "
        "| floor req/s | floor p50 ms | req/s ÷ floor | p50 × floor |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for cell in result.server:
        floor = result.cell("floor", cell.workload, cell.concurrency)
        statements = result.statements_per_request.get(cell.workload, 0)
        ratio_rps = cell.rps / floor.rps if floor and floor.rps else float("nan")
        ratio_p50 = cell.p50_ms / floor.p50_ms if floor and floor.p50_ms else float("nan")
        errors = f" ({cell.errors} failed)" if cell.errors else ""
        out.append(
            f"| {cell.workload}{errors} | {cell.concurrency} | {cell.rps:.1f} | {cell.p50_ms:.1f} "
            f"| {cell.p99_ms:.1f} | {statements:.1f} | {cell.peak_rss_mib:.0f} "
            f"| {floor.rps if floor else 0:.1f} | {floor.p50_ms if floor else 0:.1f} "
            f"| {ratio_rps:.2f} | {ratio_p50:.2f} |"
        )
    pages = "; ".join(
        f"{workload}: " + ", ".join(f"first {size} → {n}" for size, n in sizes.items())
        for workload, sizes in result.by_page_size.items()
    )
    out += [
        "",
        f"Statements per request by page size: {pages}.",
        "",
        "In-process `schema.execute` (one request of each pool; mean of 20 executions, in the "
        "least disturbed of 5 rounds, with the median of the rounds; the last two columns: "
        "graphql-core's own execution of the same request in the same minutes, and the "
        "GraphQL layer's ratio to it):",
        "",
        "| workload | resolved fields | ms per execution | ms with SQL in flight "
        "| µs per field | µs per field without SQL | µs per field in GraphQL "
        "| … median of rounds | graphql-core µs per field | ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    nan = float("nan")
    for workload, e in result.execution.items():
        layer, standard = e.get("per_field_graphql_us", nan), _standard(e)
        out.append(
            f"| {workload} | {e['fields']:,.0f} | {e['total_ms']:.1f} | {e['database_ms']:.1f} "
            f"| {e['per_field_us']:.1f} | {e['per_field_without_database_us']:.1f} "
            f"| {layer:.2f} | {e.get('per_field_graphql_median_us', nan):.2f} "
            f"| {standard:.2f} | {layer / standard:.2f} |"
        )
    return [*out, ""]


def _standard(execution: dict[str, float]) -> float:
    """graphql-core's cost per field for the same request (NaN in results from before)."""
    return execution.get("per_field_graphql_standard_us", float("nan"))


def _targets_section(results: list[TargetResult]) -> list[str]:
    by_label = {r.target.label: r for r in results}
    out = ["## Targets of issue 4", "", "| target | measured | met |", "| --- | --- | --- |"]

    def row(name: str, measured: str, met: bool | None) -> None:
        out.append(f"| {name} | {measured} | {'—' if met is None else 'yes' if met else 'no'} |")

    flat = [
        (r.target.label, workload, sizes)
        for r in results
        for workload, sizes in r.by_page_size.items()
    ]
    if flat:
        grows = [f"{label} {w}" for label, w, sizes in flat if len(set(sizes.values())) > 1]
        row("statements do not grow with page size",
            "grow: " + ", ".join(grows) if grows else "constant at 10/50/100 everywhere",
            not grows)  # fmt: skip
    m = by_label.get("M-sqlite")
    cell = m.cell("server", "spa-list", 1) if m else None
    if cell:
        row("spa-list, M, SQLite, 1 worker, 1 client: p50 ≤ 25 ms", f"{cell.p50_ms:.1f} ms",
            cell.p50_ms <= 25)  # fmt: skip
    for label in ("M-sqlite", "M-postgres", "L-postgres", "S-sqlite"):
        spa = by_label[label].execution.get("spa-list") if label in by_label else None
        if spa:
            graphql = spa.get("per_field_graphql_us", float("nan"))
            median = spa.get("per_field_graphql_median_us", float("nan"))
            row(f"execution ≤ 1 µs per resolved field ({label}, spa-list)",
                f"{graphql:.2f} µs in the GraphQL layer (least disturbed round; median "
                f"{median:.2f}), {graphql / _standard(spa):.2f} × graphql-core's "
                f"{_standard(spa):.2f} µs in the same minutes; {spa['per_field_us']:.1f} µs "
                f"with every data fetch, {spa['per_field_without_database_us']:.1f} µs "
                "without SQL", graphql <= 1)  # fmt: skip
            break
    big = by_label.get("L-postgres")
    if big:
        server, floor = big.cell("server", "spa-list", 16), big.cell("floor", "spa-list", 16)
        if server and floor:
            ratio = floor.rps / server.rps if server.rps else float("inf")
            row("spa-list, L, PostgreSQL, 2 workers, 16 clients: within 2× of the floor",
                f"floor does {ratio:.2f}× the server's req/s "
                f"(p50 {server.p50_ms:.0f} vs {floor.p50_ms:.0f} ms)", ratio <= 2)  # fmt: skip
        search = big.cell("server", "search", 1)
        if search:
            row("search, L, p50 ≤ 50 ms (1 client)", f"{search.p50_ms:.1f} ms",
                search.p50_ms <= 50)  # fmt: skip
    else:
        row("spa-list at L within 2× of the floor; search at L p50 ≤ 50 ms", "L not run", None)
    return [*out, ""]


def write_report(results: list[TargetResult], postgres_version: str | None, command: str) -> Path:
    REPORT_PATH.write_text(render(results, postgres_version, command))
    for result in results:
        for workload, text in result.profiles.items():
            (DATA_DIR / f"profile-{result.target.label}-{workload}.txt").write_text(text)
    return REPORT_PATH
