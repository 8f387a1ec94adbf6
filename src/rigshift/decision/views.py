"""A view's JSON with the decision beside it, and back: light (no economics or planner imported)."""

from __future__ import annotations

import json

from rigshift.decision.types import DecisionSummary


def with_decision(view_json: str, summary: DecisionSummary) -> str:
    """A view's JSON object with the decision as its first key: `{"decision": {...}, ...view}`."""
    body = view_json.lstrip()
    if not body.startswith("{"):
        raise ValueError("a view's JSON must be an object")
    rest = body[1:].lstrip()
    head = '{\n "decision": ' + summary.model_dump_json()
    return head + ("\n}" if rest.startswith("}") else ",\n " + rest)


def without_decision(text: str) -> str:
    """What a view wrote with `with_decision`, less the decision (to read it back as the view)."""
    data = json.loads(text)
    if isinstance(data, dict):
        data.pop("decision", None)
    return json.dumps(data)
