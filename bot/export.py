"""`crewbot export`: every crew with its members and ledger, as JSON or CSV."""

from __future__ import annotations

import csv
import io
import json

from bot.commands.game import CrewExport
from bot.rules import settings as crew_settings
from bot.rules.levels import LEVELS
from bot.rules.words import Lookup, entry_words


def as_dict(crews: list[CrewExport], congregations: list[dict] | None = None) -> dict:
    """Every crew; and every congregation (bot.commands.congregations.exported), a key of its
    own so that the crews' shape stays as it was."""
    out = []
    for item in crews:
        user = {m.id: m.user_id for m in item.members}
        out.append({
            "platform": item.crew.platform,
            "chat_id": item.crew.chat_id,
            "title": item.crew.title,
            "members": [{
                "user_id": m.user_id,
                "name": m.name,
                "points": sum(item.totals.get(m.id, {}).values()),
                "by_level": {str(level.number): item.totals.get(m.id, {}).get(level.number, 0)
                             for level in LEVELS},
            } for m in item.members],
            "ledger": [{
                "user_id": user[e.member_id], "points": e.points, "level": e.level,
                "reason": e.reason, "ref": e.source, "at": e.at.isoformat(),
            } for e in item.ledger],
        })
    return {"crews": out, "congregations": congregations or []}


def as_json(crews: list[CrewExport], congregations: list[dict] | None = None) -> str:
    return json.dumps(as_dict(crews, congregations), indent=2, ensure_ascii=False)


def entry_texts(item: CrewExport) -> list[str]:
    """Each ledger entry of a crew in the words members read ("missed the meeting of ...")."""
    tz = str(crew_settings.effective(item.crew.settings)["timezone"])
    lookup = Lookup(item.meetings, {e.id: e for e in item.ledger}, tz)
    return [entry_words(e, lookup) for e in item.ledger]


def as_csv(crews: list[CrewExport]) -> str:
    """One row per member (record=member) and per ledger entry (record=entry). `what` says an
    entry in words for people; `reason` keeps its code for programs."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["record", "platform", "chat_id", "title", "user_id", "name", "points",
                     "level", "what", "reason", "ref", "at"])
    for item, crew in zip(crews, as_dict(crews)["crews"], strict=True):
        head = ["", crew["platform"], crew["chat_id"], crew["title"]]
        names = {m["user_id"]: m["name"] for m in crew["members"]}
        for m in crew["members"]:
            writer.writerow(["member", *head[1:], m["user_id"], m["name"], m["points"], "", "",
                             "", "", ""])
        for e, what in zip(crew["ledger"], entry_texts(item), strict=True):
            writer.writerow(["entry", *head[1:], e["user_id"], names.get(e["user_id"], ""),
                             e["points"], e["level"], what, e["reason"], e["ref"], e["at"]])
    return buffer.getvalue()
