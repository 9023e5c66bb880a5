"""Acknowledge and resolve links, made as a page is sent (in the sender's claim, so they are committed before the
page that carries them leaves)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from libs.config import TierlineConfig
from libs.uow import Tx
from libs.web import Origin
from services.escalation.domain.acklinks import ACTIONS, AckLink, new_token
from services.escalation.domain.notifications import Delivery
from services.escalation.domain.pages import with_links
from services.escalation.store import ack_links


class LinkMaker:
    """Each page, as it is sent, gets fresh acknowledge and resolve links (a retry gets new ones; the old stay
    good until they expire): made here so that only their hashes are ever stored."""

    def __init__(self, config: TierlineConfig, origin: Origin, valid_for: timedelta) -> None:
        self.config, self.origin, self.valid_for = config, origin, valid_for

    async def add(self, tx: Tx, due: list[Delivery]) -> list[Delivery]:
        out, issued = [], []
        now = datetime.now(UTC)
        for d in due:
            person = self.config.directory.person(d.tenant, d.person) if d.person else None
            if person is None:
                out.append(d)
                continue
            urls = {}
            for action in ACTIONS:
                token = new_token()
                issued.append(AckLink.issue(token, at=now, valid_for=self.valid_for, incident_id=d.incident_id,
                                            tenant=d.tenant, number=d.number, person=person.name,
                                            acts_as=person.acts_as, action=action, notification_id=d.id,
                                            method=d.kind))  # fmt: skip
                urls[action] = f"{self.origin.url or ''}/v1/ack/{token}"
            body = with_links(d.kind, json.loads(d.body), urls, now + self.valid_for)
            out.append(replace(d, body=json.dumps(body)))
        await ack_links.issue(tx.conn, issued)
        return out
