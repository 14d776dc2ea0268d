#!/usr/bin/env python3
"""Validates report.json files against docs/report-schema.json (JSON Schema 2020-12).

usage: validate_report.py [--schema SCHEMA] [--expect-invalid] REPORT_JSON_OR_DIR...
A directory means every */report.json below it. Exit 0 when all are valid,
1 when one is not (each error printed with its JSON path), 2 on bad usage.
--expect-invalid inverts the check (exit 0 when every file is invalid): it
shows that the schema can fail, on tests/data/reports/schema-violations.json.
Needs python3-jsonschema (Debian: apt-get install -y python3-jsonschema).
"""
import argparse
import json
import pathlib
import sys

try:
    import jsonschema
except ImportError:  # pragma: no cover
    print("error: python3-jsonschema is missing (apt-get install -y python3-jsonschema)", file=sys.stderr)
    sys.exit(2)

ROOT = pathlib.Path(__file__).resolve().parents[2]
MAX_ERRORS = 20


def reports(paths):
    for p in map(pathlib.Path, paths):
        if p.is_dir():
            yield from sorted(p.glob("**/report.json"))
        else:
            yield p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--schema", default=str(ROOT / "docs" / "report-schema.json"))
    ap.add_argument("--expect-invalid", action="store_true")
    ap.add_argument("paths", nargs="+")
    args = ap.parse_args()
    schema = json.loads(pathlib.Path(args.schema).read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    checked, bad = 0, 0
    for path in reports(args.paths):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            print(f"{path}: cannot read: {e}")
            return 1
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        checked += 1
        for e in errors[:MAX_ERRORS]:
            where = "/".join(str(p) for p in e.absolute_path) or "(top)"
            print(f"{path}: {where}: {e.message}")
        bad += 1 if errors else 0
    if checked == 0 and bad == 0:
        print("error: no report.json found", file=sys.stderr)
        return 2
    print(f"{checked} report(s) checked, {bad} invalid")
    if args.expect_invalid:
        return 0 if checked > 0 and bad == checked else 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
