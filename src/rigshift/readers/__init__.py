"""Reading what users hand rigshift, within limits: one place for file size, YAML aliases and
nesting, JSON syntax, and pydantic errors turned into located problems.

Every loader (fleet sources, demand, prices, model files) goes through these, so a hostile or
broken file gets one located `InputError` (exit 2) instead of a traceback, a hang or a
MemoryError. The limits are in `limits.py` and documented in docs/fleet.md.
"""

from rigshift.readers.json_safe import load_json
from rigshift.readers.limits import LIMITS, Limits, read_text
from rigshift.readers.validation import fields_in, json_path, problems_from_validation
from rigshift.readers.yaml_safe import load_yaml, load_yaml_with_node

__all__ = [
    "LIMITS",
    "Limits",
    "fields_in",
    "json_path",
    "load_json",
    "load_yaml",
    "load_yaml_with_node",
    "problems_from_validation",
    "read_text",
]
