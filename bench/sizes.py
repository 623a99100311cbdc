"""The benchmark sizes, the databases they live in, and how the server runs on them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path("data/bench")
POSTGRES_ROOT = "postgres://postgres@127.0.0.1:5432"
# The demo writes about 8.1 contacts per account (measured: 8,114 for 1,000 accounts).
CONTACTS_PER_ACCOUNT = 8.1


@dataclass(frozen=True, slots=True)
class Target:
    """One database to fill and benchmark: a size on one backend."""

    size: str
    contacts: int
    backend: str  # "sqlite" or "postgres"
    workers: int

    @property
    def accounts(self) -> int:
        return round(self.contacts / CONTACTS_PER_ACCOUNT)

    @property
    def label(self) -> str:
        return f"{self.size}-{self.backend}"

    @property
    def database_name(self) -> str:
        return f"crm_bench_{self.size.lower()}"

    @property
    def url(self) -> str:
        if self.backend == "sqlite":
            return f"sqlite://{DATA_DIR / (self.database_name + '.sqlite3')}"
        return f"{POSTGRES_ROOT}/{self.database_name}"


TARGETS: dict[str, tuple[Target, ...]] = {
    "S": (Target("S", 1_000, "sqlite", 1),),
    "M": (Target("M", 100_000, "sqlite", 1), Target("M", 100_000, "postgres", 2)),
    "L": (Target("L", 1_000_000, "postgres", 2),),
}


def targets_for(sizes: str) -> list[Target]:
    """``"S,M"`` -> the targets of those sizes, in that order."""
    chosen = []
    for size in sizes.upper().split(","):
        if size.strip() not in TARGETS:
            raise SystemExit(f"unknown size {size!r}; choose from {', '.join(TARGETS)}")
        chosen.extend(TARGETS[size.strip()])
    return chosen
