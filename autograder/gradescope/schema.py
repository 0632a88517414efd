"""Gradescope's results.json format, as a JSON schema (from its autograder specification).

Every results.json the course writes -- `make grade`, `make export`, run_autograder -- is checked
against it, so a file Gradescope would reject never leaves the grader.
"""

from __future__ import annotations

import jsonschema

VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
NUMBER = {"type": "number"}

TEST = {
    "type": "object",
    "required": ["name", "score", "max_score"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"}, "name_format": {"type": "string"}, "number": {"type": "string"},
        "score": NUMBER, "max_score": NUMBER, "status": {"enum": ["passed", "failed"]},
        "output": {"type": "string"}, "output_format": {"type": "string"}, "tags": {"type": "array"},
        "visibility": VISIBILITY, "extra_data": {"type": "object"},
    },
}

# Gradescope's leaderboard: one entry per column, {"name", "value", "order": "asc" | "desc" (default)}
LEADERBOARD_ENTRY = {
    "type": "object",
    "required": ["name", "value"],
    "additionalProperties": False,
    "properties": {"name": {"type": "string", "minLength": 1}, "value": {"type": ["number", "string"]},
                   "order": {"enum": ["asc", "desc"]}},
}

RESULTS = {
    "type": "object",
    "required": ["tests"],
    "additionalProperties": False,
    "properties": {
        "score": NUMBER, "execution_time": NUMBER, "output": {"type": "string"},
        "output_format": {"type": "string"}, "test_output_format": {"type": "string"},
        "test_name_format": {"type": "string"}, "visibility": VISIBILITY, "stdout_visibility": VISIBILITY,
        "extra_data": {"type": "object"}, "tests": {"type": "array", "items": TEST},
        "leaderboard": {"type": "array", "items": LEADERBOARD_ENTRY},
    },
}


def validate(results: dict) -> None:
    """Raise jsonschema.ValidationError if Gradescope would not accept these results."""
    jsonschema.validate(results, RESULTS)
