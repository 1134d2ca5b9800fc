"""Validates result records (rosetta's and every peer's --json) against docs/schema/result-record.schema.json.

Usage:
    python3 validate_record.py RECORD.json...
Prints one line per violation, "<file>: <field path>: <message>", and exits 1 when there is any; exit 0 when every
record is valid; exit 2 with one line when a file cannot be read or the validator (Debian's python3-jsonschema,
installed by tools/setup.sh) is missing. Beyond the schema it checks the rule the schema cannot state: every null
measurement (steady, metrics.*) has its reason in "unavailable".
"""

import json
import os
import sys

SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "schema",
                      "result-record.schema.json")
MEASUREMENTS = ["steady"] + ["metrics." + name for name in ("tflops", "peak_tflops", "peak_fraction",
                                                             "peak_memory_bytes", "energy_joules_per_unit")]


def field(record, path):
    value = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def violations(record, validator):
    """[(field path, message)] of one record."""
    found = [("/".join(str(p) for p in error.absolute_path) or "(record)", error.message)
             for error in sorted(validator.iter_errors(record), key=lambda e: list(e.absolute_path))]
    if isinstance(record, dict) and isinstance(record.get("unavailable"), dict) and isinstance(record.get("metrics"), dict):
        for path in MEASUREMENTS:
            if field(record, path) is None and path not in record["unavailable"]:
                found.append((path, "null without a reason in \"unavailable\""))
    return found


def main(paths):
    try:
        import jsonschema
    except ImportError:
        print("validate_record: error: python3-jsonschema is not installed (tools/setup.sh installs it)",
              file=sys.stderr)
        return 2
    with open(SCHEMA) as f:
        validator = jsonschema.Draft202012Validator(json.load(f))
    bad = 0
    for path in paths:
        try:
            with open(path) as f:
                record = json.load(f)
        except (OSError, ValueError) as error:
            print("validate_record: error: %s: %s" % (path, error), file=sys.stderr)
            return 2
        for where, message in violations(record, validator):
            print("%s: %s: %s" % (path, where, message))
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print("usage: validate_record.py RECORD.json...", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
