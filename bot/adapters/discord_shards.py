"""Discord gateway shards: which this process runs, IDENTIFY pacing, and the fatal closes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

import discord

log = logging.getLogger("crewbot.discord")

IDENTIFY_WINDOW = 5.0  # seconds: Discord allows max_concurrency IDENTIFYs per window
SPARE = 0.2  # seconds more, for the time between the hook and Discord receiving the IDENTIFY
TURN = IDENTIFY_WINDOW + SPARE


def syncs_commands(shard_ids: Sequence[int] | None) -> bool:
    """Whether this process syncs the application commands: the one holding shard 0 (every
    process when it runs every shard). Commands belong to the application, not to a shard, so
    one sync is enough; every process syncing would repeat the same writes and spend Discord's
    daily limit on command creation."""
    return shard_ids is None or 0 in shard_ids


class Turns(Protocol):
    """IDENTIFY turns shared with the other processes of the bot (storage.identify_turns)."""

    async def take(self, bucket: int) -> None: ...

    async def close(self) -> None: ...


class IdentifyPacer:
    """Discord's IDENTIFY limit: shards sharing a bucket (shard id modulo max_concurrency)
    identify at least 5 s apart; different buckets at once. Within this process by the clock;
    across processes by `shared` turns when the processes share PostgreSQL. (discord.py's own
    default waits 5 s before every shard but the first in a process, whatever max_concurrency
    is, and knows nothing of other processes.)"""

    def __init__(self, max_concurrency: int = 1, shared: Turns | None = None) -> None:
        self.max_concurrency = max(1, max_concurrency)
        self.shared = shared
        self.next_free: dict[int, float] = {}

    async def wait(self, shard_id: int | None) -> None:
        loop = asyncio.get_running_loop()
        bucket = (shard_id or 0) % self.max_concurrency
        now = loop.time()
        start = max(now, self.next_free.get(bucket, now))
        self.next_free[bucket] = start + TURN  # claimed before sleeping: no race
        if start > now:
            await asyncio.sleep(start - now)
        if self.shared is not None:
            try:
                await self.shared.take(bucket)
            except Exception as error:  # the database is down: identify anyway, as before
                log.warning("platform=discord outcome=identify_turn_unshared error=%s",
                            type(error).__name__)


def shard_states(client: discord.AutoShardedClient) -> dict[int, bool]:
    """Each shard this process runs, connected or not (one not launched yet counts as not);
    empty until the shard count is known."""
    launched = client.shards
    ids = client.shard_ids if client.shard_ids is not None else range(client.shard_count or 0)
    return {i: i in launched and not launched[i].is_closed() for i in ids}


SHARD_SETTINGS = "CREWBOT_DISCORD_SHARD_COUNT"


def refusal(code: int | None, shard_id: int | None, count: int | None,
            count_set: bool) -> str | None:
    """What a fatal gateway close means and which setting to change; None for other closes."""
    shard = f"shard {shard_id} of {count}" if shard_id is not None and count else "a shard"
    if code == 4010:
        return (f"Discord refused {shard} as an invalid shard (gateway close 4010): give every "
                f"process the same {SHARD_SETTINGS} and only shard numbers below it in "
                "CREWBOT_DISCORD_SHARD_IDS, or unset both to run every shard in one process")
    if code == 4011:
        fix = (f"raise {SHARD_SETTINGS} (the same in every process, its shards split with "
               "CREWBOT_DISCORD_SHARD_IDS) or unset it to use the count Discord recommends"
               if count_set else
               f"set {SHARD_SETTINGS} above {count}, the count Discord recommended, and restart")
        return (f"Discord requires more shards: this bot is in too many servers for {count} "
                f"shard(s) (gateway close 4011, sharding required): {fix}")
    if code == 4012:
        return ("Discord refused the gateway version this Crewbot speaks (gateway close 4012): "
                "upgrade Crewbot")
    if code == 4013:
        return ("Discord refused the gateway intents Crewbot asks for as invalid (gateway close "
                "4013): upgrade Crewbot; if CREWBOT_DISCORD_API_URL is set, check it points at "
                "a Discord-compatible server")
    if code == 4014:
        return ("Discord refused the gateway intents Crewbot asks for as not allowed (gateway "
                "close 4014, disallowed intents): Crewbot needs no privileged intent, so if "
                "CREWBOT_DISCORD_API_URL is set, check it points at a Discord-compatible server; "
                "otherwise upgrade Crewbot")
    return None
