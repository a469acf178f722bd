"""The outbox leaves fairly: every chat's oldest post first, each chat's own posts in order."""

from __future__ import annotations

from tests.conftest import START


async def test_posts_are_leased_round_robin_across_chats(any_app) -> None:
    async with any_app.game.uow() as store:
        busy = await store.crews.add_crew("telegram", "-1", "Busy", START)
        quiet = await store.crews.add_crew("telegram", "-2", "Quiet", START)
        for n in range(3):
            await store.outbox.add_post(busy.id, "telegram", {"n": f"busy {n}"}, START)
        await store.outbox.add_post(quiet.id, "telegram", {"n": "quiet 0"}, START)
        await store.commit()
    async with any_app.game.uow() as store:
        leased = await store.outbox.lease_posts("telegram", 10, START)
        await store.commit()
    assert [payload["n"] for _, _, payload in leased] == [
        "busy 0", "quiet 0", "busy 1", "busy 2"]
