"""Paging by schedule against the running escalation service (incident events published as triage would): the
person on call is paged at each step through each contact method in turn, delayed pages are cancelled by an
acknowledgement, an override changes who is paged, a handoff pages the incoming person once with two replicas,
and a restart in the middle misses and doubles nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from libs.events import utcnow
from libs.testing import apply_config, stream_envelopes
from tests.conftest import auth, eventually
from tests.escalation.oncall import api, hit, oncall_config, paged, pages, person, rota
from tests.escalation.support import Bus, Receiver, stream_events


async def escalation(settings, start, config):
    settings = settings.model_copy(update={"config": config, "notify_backoff_s": 0.3})
    return settings, await start("escalation", settings)


async def listed(http, esc, incident):
    status, body = await api(http, "GET", f"{esc.url}/v1/sla/notifications?incident={incident}")
    assert status == 200, body
    return body["items"]


async def test_the_person_on_call_is_paged_at_each_step_and_delayed_pages_stop_at_the_ack(
    settings, start, http, tmp_path
):
    receiver = await Receiver().start()
    later = {"kind": "slack", "url": f"{receiver.url}/ann-sms", "delay": "1h"}  # not reached before the ack
    people = [person("ann", receiver.url, later), person("bob", receiver.url), person("carl", receiver.url)]
    steps = [{"tier": 1, "after": "1s", "notify": ["schedule:primary"]},
             {"tier": 2, "after": "10m", "notify": ["schedule:secondary", "user:carl"]}]  # fmt: skip
    settings, esc = await escalation(settings, start, oncall_config(tmp_path, receiver, steps=steps, people=people))
    inc = await Bus.open(settings, "P3", number="ACME-501")
    await inc.opened()
    await eventually(paged(receiver, "bob", "carl"), timeout=15)
    [ann], [bob], [carl] = pages(receiver, "ann"), pages(receiver, "bob"), pages(receiver, "carl")
    assert ann["text"] == "[P3] ACME-501 ERP DB down: paging ann (on call for primary; escalation step 1, round 1)"
    assert bob["text"].endswith("paging bob (on call for secondary; escalation step 2, round 1)")
    assert carl["text"].endswith("paging carl (escalation step 2, round 1)")  # named by the step itself
    for page in (ann, bob, carl):
        assert set(page["links"]) == {"acknowledge", "resolve"} and page["links"]["acknowledge"].startswith(esc.url)
    assert len({ann["links"]["acknowledge"], bob["links"]["acknowledge"], carl["links"]["acknowledge"]}) == 3
    _, policy = await api(http, "GET", f"{esc.url}/v1/sla/incidents/{inc.iid}")
    assert policy["escalation"]["on_call"] == {"secondary": "bob"}

    await inc.acknowledged(2)

    async def cancelled():
        items = await listed(http, esc, inc.iid)
        return [i for i in items if i["status"] == "cancelled"]

    [sms] = await eventually(cancelled)
    assert (sms["person"], sms["kind"], sms["schedule"], sms["attempts"]) == ("ann", "slack", "primary", 0)
    items = await listed(http, esc, inc.iid)
    assert sorted((i["person"], i["kind"], i["status"]) for i in items) == [
        ("ann", "slack", "cancelled"), ("ann", "webhook", "delivered"), ("bob", "webhook", "delivered"),
        ("carl", "webhook", "delivered"),
    ]  # fmt: skip
    delivered = await stream_events(settings, {"notification.delivered"}, inc.iid)
    assert sorted((d["person"], d["schedule"]) for _, d in delivered) == [
        ("ann", "primary"), ("bob", "secondary"), ("carl", None),
    ]  # fmt: skip
    assert receiver.on("/ann-sms") == []
    await inc.close()
    await receiver.stop()


async def test_an_override_changes_who_is_paged_and_is_on_the_ledger(settings, start, http, tmp_path):
    receiver = await Receiver().start()
    steps = [{"tier": 1, "after": "10m", "notify": ["schedule:primary"]}]
    settings, esc = await escalation(settings, start, oncall_config(tmp_path, receiver, steps=steps))
    now = utcnow()
    body = {"user": "bob", "start": (now - timedelta(minutes=1)).isoformat(),
            "end": (now + timedelta(hours=1)).isoformat(), "note": "ann at the dentist"}  # fmt: skip
    status, override = await api(http, "POST", f"{esc.url}/v1/schedules/primary/overrides", "manager-token", body)
    assert status == 201, override
    _, who = await api(http, "GET", f"{esc.url}/v1/schedules/primary/oncall", "eng-token")
    assert (who["on_call"]["user"], who["on_call"]["override_id"]) == ("bob", override["id"])
    inc = await Bus.open(settings, "P3")
    await inc.opened()
    await eventually(paged(receiver, "bob"))
    assert pages(receiver, "ann") == []

    status, removed = await api(http, "DELETE", f"{esc.url}/v1/schedules/primary/overrides/{override['id']}",
                                "manager-token")  # fmt: skip
    assert status == 200 and removed["removed"]["removed_by"] == "max"
    # Removing it hands the still unacknowledged incident back to ann, who is paged at once.
    await eventually(paged(receiver, "ann"))
    [handoff] = pages(receiver, "ann")
    assert handoff["trigger"] == "handoff" and "paging ann (on call for primary)" in handoff["text"]
    found = await stream_events(settings, {"schedule.override_added", "schedule.override_removed"})
    assert [(k, d["user"], d["by"], d["override_id"]) for k, d in found] == [
        ("schedule.override_added", "bob", "max", override["id"]),
        ("schedule.override_removed", "bob", "max", override["id"]),
    ]
    assert {e.tenant for e in await stream_envelopes(settings, "schedule.")} == {"_provider"}  # a provider schedule
    await inc.close()
    await receiver.stop()


async def test_two_replicas_page_each_person_once_also_at_the_handoff(settings, start, http, tmp_path):
    receiver = await Receiver().start()
    steps = [{"tier": 1, "after": "10m", "notify": ["schedule:primary"]}]
    settings, esc = await escalation(settings, start, oncall_config(tmp_path, receiver, steps=steps))
    await start("escalation", settings)  # a second replica: same consumer, same tables
    now = utcnow()
    body = {
        "user": "bob",
        "start": (now + timedelta(seconds=3)).isoformat(),
        "end": (now + timedelta(hours=1)).isoformat(),
    }
    status, _ = await api(http, "POST", f"{esc.url}/v1/schedules/primary/overrides", "admin-token", body)
    assert status == 201
    incidents = [await Bus.open(settings, "P3", number=f"ACME-{600 + n}") for n in range(12)]
    await asyncio.gather(*(i.opened() for i in incidents))
    await eventually(paged(receiver, "ann", "bob", each=12), timeout=20)
    await asyncio.sleep(1)  # anything doubled would have arrived by now
    for who, trigger in (("ann", "step"), ("bob", "handoff")):
        got = pages(receiver, who)
        assert sorted(p["incident"]["number"] for p in got) == sorted(i.incident.ref["number"] for i in incidents)
        assert {p["trigger"] for p in got} == {trigger}
    deliveries = [h["Tierline-Delivery"] for _, h, _ in receiver.requests]
    assert len(deliveries) == len(set(deliveries)) == 24
    for i in incidents:
        await i.close()
    await receiver.stop()


async def test_a_restart_mid_way_misses_and_doubles_nothing(settings, start, http, tmp_path):
    receiver = await Receiver().start()
    soon = {"kind": "slack", "url": f"{receiver.url}/ann-sms", "delay": "3s"}  # falls due while escalation is down
    people = [person("ann", receiver.url, soon), person("bob", receiver.url), person("carl", receiver.url)]
    steps = [{"tier": 1, "after": "10m", "notify": ["schedule:primary"]}]
    settings, esc = await escalation(settings, start, oncall_config(tmp_path, receiver, steps=steps, people=people))
    now = utcnow()
    body = {
        "user": "bob",
        "start": (now + timedelta(seconds=4)).isoformat(),
        "end": (now + timedelta(hours=1)).isoformat(),
    }
    assert (await api(http, "POST", f"{esc.url}/v1/schedules/primary/overrides", "admin-token", body))[0] == 201
    inc = await Bus.open(settings, "P3")
    await inc.opened()
    await eventually(paged(receiver, "ann"))
    await esc.stop()  # the delayed page and the handoff both fall due while it is down
    await asyncio.sleep(5)
    assert receiver.on("/ann-sms") == [] and pages(receiver, "bob") == []
    esc = await start("escalation", settings)
    await eventually(hit(receiver, "/ann-sms"))
    await eventually(paged(receiver, "bob"))
    await esc.stop()
    esc = await start("escalation", settings)  # another restart sends nothing again
    await asyncio.sleep(1.5)
    assert (len(pages(receiver, "ann")), len(receiver.on("/ann-sms")), len(pages(receiver, "bob"))) == (1, 1, 1)
    async with http.get(f"{esc.url}/v1/sla/incidents/{inc.iid}", headers=auth("admin-token")) as r:
        assert (await r.json())["escalation"]["on_call"] == {"primary": "bob"}
    await inc.close()
    await receiver.stop()


async def test_a_schedule_changed_by_applying_the_config_pages_the_new_person_without_a_restart(
    settings, start, http, tmp_path
):
    receiver = await Receiver().start()
    steps = [{"tier": 1, "after": "10m", "notify": ["schedule:primary"]}]
    settings, esc = await escalation(settings, start, oncall_config(tmp_path, receiver, steps=steps))
    (tmp_path / "v2").mkdir()
    changed = oncall_config(tmp_path / "v2", receiver, steps=steps, schedules=[rota("primary", "bob")])
    assert await apply_config(settings, changed) == 2

    async def bob_on_call():
        _, who = await api(http, "GET", f"{esc.url}/v1/schedules/primary/oncall", "eng-token")
        return who["on_call"]["user"] == "bob"

    await eventually(bob_on_call)
    inc = await Bus.open(settings, "P3")
    await inc.opened()
    await eventually(paged(receiver, "bob"))
    assert pages(receiver, "ann") == []
    await inc.close()
    await receiver.stop()
