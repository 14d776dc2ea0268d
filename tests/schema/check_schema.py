#!/usr/bin/env python3
"""Checks that scenarios/schema.json and the scenario loader agree.

    tests/schema/check_schema.py CUTOVER_BINARY [SOURCE_DIR]

1. Every scenarios/*.yaml and tests/schema/*.yaml (all-keys.yaml uses every
   key the loader knows) is valid against the schema, and `cutover validate`
   accepts it (exit 0).
2. Every tests/data/bad/*.yaml is rejected by `cutover validate` (exit 2) and
   by the schema, except files marked `# schema: accepts` (semantic errors a
   schema cannot see); those must be accepted by the schema, so the mark
   stays honest.
3. The schema itself is a valid draft-07 schema.

YAML is read as YAML 1.2 reads it (what editors' yaml-language-server does):
only true/false are booleans, so `on:` stays a key and `yes` a string.
Needs python3-yaml and python3-jsonschema (Debian packages). Exit 0 when all
agree, 1 otherwise (each disagreement printed), 2 on bad usage, 77 when a
module is missing (a skip for ctest).
"""
import json
import pathlib
import re
import subprocess
import sys

try:
    import jsonschema
    import yaml
except ImportError as missing:  # ctest: SKIP_RETURN_CODE 77
    print(f"skipped: {missing}; apt-get install python3-yaml python3-jsonschema", file=sys.stderr)
    sys.exit(77)


class Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans and no implicit timestamps."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))

VALIDATE_TIMEOUT_S = 30
SCHEMA_ACCEPTS = re.compile(r"^#\s*schema:\s*accepts\s*$", re.M)


def schema_errors(validator, path):
    """The schema's complaints about a file (a YAML error counts as one)."""
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=Yaml12Loader)
    except yaml.YAMLError as e:
        return [f"YAML: {str(e).splitlines()[0]}"]
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    return [f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}" for e in errors]


def run_validate(binary, path):
    """(exit code, stderr) of `cutover validate FILE`."""
    try:
        p = subprocess.run([binary, "validate", str(path)], capture_output=True, text=True,
                           timeout=VALIDATE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {VALIDATE_TIMEOUT_S} s"
    return p.returncode, p.stderr


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    binary = argv[1]
    root = pathlib.Path(argv[2]) if len(argv) == 3 else pathlib.Path(__file__).resolve().parents[2]
    schema = json.loads((root / "scenarios" / "schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    problems = []

    good = sorted((root / "scenarios").glob("*.yaml")) + sorted((root / "tests" / "schema").glob("*.yaml"))
    for path in good:
        for err in schema_errors(validator, path):
            problems.append(f"{path.name}: the schema rejects a good file: {err}")
        code, err = run_validate(binary, path)
        if code != 0:
            problems.append(f"{path.name}: cutover validate exits {code}: {err.strip()}")

    bad = sorted((root / "tests" / "data" / "bad").glob("*.yaml"))
    marked = 0
    for path in bad:
        text = path.read_text(encoding="utf-8")
        accepts = bool(SCHEMA_ACCEPTS.search(text))
        marked += accepts
        errs = schema_errors(validator, path)
        if accepts and errs:
            problems.append(f"bad/{path.name}: marked '# schema: accepts' but the schema rejects it: {errs[0]}")
        if not accepts and not errs:
            problems.append(f"bad/{path.name}: the loader's error is one the schema should catch, but it accepts the file")
        code, err = run_validate(binary, path)
        if code != 2:
            problems.append(f"bad/{path.name}: cutover validate exits {code}, expected 2")

    for p in problems:
        print(p)
    print(f"{len(good)} good files, {len(bad)} bad files ({marked} only the loader can reject): "
          f"{'all agree' if not problems else f'{len(problems)} disagreements'}")
    if not good or not bad:
        print("no files found: wrong source dir?")
        return 1
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
