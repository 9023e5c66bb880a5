"""Reporting's pure rules, no I/O: every report figure is computed here from ledger events.

- `period`: the period a report covers (calendar months in UTC, a query's bounds, the periods before it);
- `stories`: what happened to each incident and change, rebuilt from its ledger events;
- `figures`, `availability`, `lists`: the report's figures, availability and credits, and its item lists;
- `report`: one tenant's report for one period, put together from the above;
- `explain`: one incident's SLA clocks explained step by step;
- `ledger`: an event as the ledger records it, checked against its contract.
"""
