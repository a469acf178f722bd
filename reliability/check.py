"""The invariant, read straight from the tables: ledger = the model, no award twice, and the
cached totals equal the ledger's sums."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select

from reliability.model import LEVELS
from storage.engine import make_engine
from storage.models import CrewRow, LedgerRow, MemberRow, TotalRow

Award = tuple[str, str, int]


@dataclass
class Census:
    """What the database holds, per crew (chat id): ledger rows and cached totals."""

    ledger: dict[str, Counter[Award]] = field(default_factory=dict)
    rows: int = 0
    problems: list[str] = field(default_factory=list)

    def crew(self, chat_id: str) -> Counter[Award]:
        return self.ledger.get(chat_id, Counter())


async def census(url: str) -> Census:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(
                select(CrewRow.chat_id, MemberRow.name, LedgerRow.crew_id, LedgerRow.member_id,
                       LedgerRow.reason, LedgerRow.source, LedgerRow.points, LedgerRow.level,
                       LedgerRow.month)
                .join(CrewRow, CrewRow.id == LedgerRow.crew_id)
                .join(MemberRow, MemberRow.id == LedgerRow.member_id))).all()
            totals = (await conn.execute(
                select(TotalRow.crew_id, TotalRow.period, TotalRow.member_id, TotalRow.level,
                       TotalRow.points))).all()
    finally:
        await engine.dispose()
    out = Census(rows=len(rows))
    seen: Counter[tuple[int, int, str, str]] = Counter()
    sums: dict[tuple[int, str, int, int], int] = defaultdict(int)
    for chat, name, crew_id, member_id, reason, source, points, level, month in rows:
        out.ledger.setdefault(chat, Counter())[(name, reason, points)] += 1
        seen[(crew_id, member_id, reason, source)] += 1
        if reason != "revoked" and LEVELS.get(reason) != level:
            out.problems.append(f"{reason} recorded at level {level}")
        for period in ("all", month):
            sums[(crew_id, period, member_id, level)] += points
    out.problems += [f"award twice: {key}" for key, n in seen.items() if n > 1]
    cached = {(c, p, m, lv): pts for c, p, m, lv, pts in totals}
    for key in sorted(set(cached) | set(sums), key=str):
        if cached.get(key, 0) != sums.get(key, 0):
            out.problems.append(f"cached total {key} is {cached.get(key)}, the ledger says "
                                f"{sums.get(key, 0)}")
    return out


def differences(expected: Counter[Award], actual: Counter[Award]) -> list[str]:
    """Awards missing from the ledger, and awards the rules did not make."""
    missing, extra = expected - actual, actual - expected
    return ([f"missing {n} x {a}" for a, n in sorted(missing.items())]
            + [f"extra {n} x {a}" for a, n in sorted(extra.items())])
