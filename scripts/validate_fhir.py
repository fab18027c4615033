#!/usr/bin/env python3
"""Validates a FHIR export of TrialGate (`trialgate export --format fhir`, NDJSON) with the FHIR models of
fhir.resources, not with TrialGate's own code.

fhir.resources 8.3.0 ships FHIR R5, R4B and STU3 models but not R4, so the lines are parsed with its R4B models:
ResearchStudy and ResearchSubject have the same elements, cardinalities and status value sets in R4 and R4B.
The models check structure, types, cardinalities (status, study and individual are required) and the id pattern;
this script adds what they leave out:

- ids at most 64 characters (FHIR R4 `id` datatype), unique per resource type;
- `status` in the R4 value set bound as required (research-study-status, research-subject-status);
- no empty strings, arrays or objects (FHIR JSON representation: every element has a value or children);
- every subject's `study` refers to a ResearchStudy of the same file, and each study comes once, before its subjects;
- each subject's identifier (system and value) is unique: no two candidates were merged.

Usage: scripts/validate_fhir.py FILE.ndjson [--subjects N]    exit 0 when valid, 1 naming the first problems
"""
import argparse
import json
import re
import sys

try:
    from fhir.resources.R4B.researchstudy import ResearchStudy
    from fhir.resources.R4B.researchsubject import ResearchSubject
except ImportError as e:
    sys.exit(f"validate_fhir.py: fhir.resources is not installed ({e}); install it: python3 -m pip install 'fhir.resources==8.3.0'")

# FHIR R4, valueset-research-study-status and valueset-research-subject-status (both bound as required).
STUDY_STATUS = {"active", "administratively-completed", "approved", "closed-to-accrual", "closed-to-accrual-and-intervention",
                "completed", "disapproved", "in-review", "temporarily-closed-to-accrual",
                "temporarily-closed-to-accrual-and-intervention", "withdrawn"}
SUBJECT_STATUS = {"candidate", "eligible", "follow-up", "ineligible", "not-registered", "off-study", "on-study",
                  "on-study-intervention", "on-study-observation", "pending-on-study", "potential-candidate", "screening",
                  "withdrawn"}
MODELS = {"ResearchStudy": (ResearchStudy, STUDY_STATUS), "ResearchSubject": (ResearchSubject, SUBJECT_STATUS)}
# FHIR R4, datatypes: id.
ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def empty_values(value, path):
    """The paths of empty strings, arrays and objects inside `value`."""
    if value in ("", [], {}):
        yield path
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from empty_values(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from empty_values(v, f"{path}[{i}]")


def validate(path):
    """(problems, studies, subjects) of the NDJSON file at `path`."""
    problems, studies, subjects, identifiers = [], {}, {}, {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            where = f"{path}:{number}"
            try:
                data = json.loads(line)
            except json.JSONDecodeError as e:
                problems.append(f"{where}: not JSON: {e}")
                continue
            kind = data.get("resourceType") if isinstance(data, dict) else None
            if kind not in MODELS:
                problems.append(f"{where}: resourceType {kind!r}, expected ResearchStudy or ResearchSubject")
                continue
            model, statuses = MODELS[kind]
            try:
                model.model_validate(data)
            except Exception as e:  # pydantic's ValidationError, and whatever else the models raise on bad input
                problems.append(f"{where}: {kind} {data.get('id')!r} is not a valid R4B {kind}: {e}")
            rid = data.get("id")
            if not isinstance(rid, str) or not ID.fullmatch(rid):
                problems.append(f"{where}: {kind} id {rid!r} is not a FHIR id (1 to 64 of A-Z a-z 0-9 - .)")
            if data.get("status") not in statuses:
                problems.append(f"{where}: {kind} {rid!r} status {data.get('status')!r} is not in the R4 value set")
            problems += [f"{where}: {kind} {rid!r} has an empty value at {p}" for p in empty_values(data, kind)]
            seen = studies if kind == "ResearchStudy" else subjects
            if rid in seen:
                problems.append(f"{where}: {kind} id {rid!r} again (first on line {seen[rid]})")
            seen[rid] = number
            if kind == "ResearchSubject":
                ref = (data.get("study") or {}).get("reference", "")
                if not ref.startswith("ResearchStudy/") or ref.removeprefix("ResearchStudy/") not in studies:
                    problems.append(f"{where}: ResearchSubject {rid!r} refers to {ref!r}, not to a ResearchStudy exported before it")
                for ident in data.get("identifier") or []:
                    key = (ident.get("system"), ident.get("value"))
                    if key in identifiers:
                        problems.append(f"{where}: ResearchSubject {rid!r} has identifier {key} again (line {identifiers[key]})")
                    identifiers[key] = number
    if not studies:
        problems.append(f"{path}: no ResearchStudy")
    return problems, studies, subjects


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file")
    parser.add_argument("--subjects", type=int, help="the number of ResearchSubject resources expected")
    args = parser.parse_args()
    problems, studies, subjects = validate(args.file)
    if args.subjects is not None and len(subjects) != args.subjects:
        problems.append(f"{args.file}: {len(subjects)} ResearchSubject resources, expected {args.subjects}")
    if problems:
        for p in problems[:20]:
            print(p, file=sys.stderr)
        if len(problems) > 20:
            print(f"... and {len(problems) - 20} more", file=sys.stderr)
        sys.exit(1)
    print(f"{args.file}: valid FHIR R4 (R4B models): {len(studies)} ResearchStudy, {len(subjects)} ResearchSubject")


if __name__ == "__main__":
    main()
