"""A lifecycle as a table of state -> action -> next state, and the refusal clients see for an illegal move."""

from __future__ import annotations


class IllegalTransition(Exception):
    """409 for clients, with the actions that are allowed from the current state."""

    code = "illegal_transition"

    def __init__(self, thing: str, state: str, action: str, allowed: list[str]) -> None:
        self.state, self.action, self.allowed = state, action, allowed
        super().__init__(f"cannot {action} {thing} that is {state}")


class Lifecycle:
    def __init__(self, thing: str, transitions: dict[str, dict[str, str]]) -> None:
        self.thing, self.transitions = thing, transitions  # thing: "an incident", "a change"

    def allowed(self, state: str) -> list[str]:
        return sorted(self.transitions.get(state, {}))

    def next(self, state: str, action: str) -> str:
        """The state `action` leads to from `state`, or IllegalTransition."""
        nxt = self.transitions.get(state, {}).get(action)
        if nxt is None:
            raise IllegalTransition(self.thing, state, action, self.allowed(state))
        return nxt
