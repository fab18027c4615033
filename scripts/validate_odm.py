#!/usr/bin/env python3
"""Validates a CDISC ODM 1.3.2 document, as `trialgate export --format odm` writes it, with libraries made for it.

    python3 scripts/validate_odm.py FILE        exit 0 when valid, 1 with the problems listed when not
    python3 scripts/validate_odm.py --self-check  proves the checks catch broken documents

1. The ODM 1.3.2 XML schema (CDISC's ODM1-3-2.xsd and its foundation schema, as the odmlib package ships them),
   with the xmlschema validator.
2. odmlib's ODM 1.3.2 object model: the document loads into it, its OIDs are unique and every OID reference
   resolves to a definition of the right kind (odmlib's OID checker), and child elements are in model order.
3. What the schema cannot say and the ODM 1.3.2 specification does (sections "ClinicalData", "Transactions",
   "Clinical Data Element Ordering"): every ItemGroupData is an ItemGroupRef of its form's FormDef and every
   ItemData an ItemRef of its group's ItemGroupDef; values fit their ItemDef's DataType and CodeList; a unit an
   ItemData names is one its ItemDef allows; in a Transactional file every SubjectData says its TransactionType;
   AuditRecords of an entity come in time order, none after the file's CreationDateTime.

Needs: pip install odmlib==0.2.1 (which brings xmlschema).
"""
import datetime
import re
import sys
import tempfile
import xml.etree.ElementTree as ET

NS = "{http://www.cdisc.org/ns/odm/v1.3}"


def schema_problems(path):
    import xmlschema
    from odmlib import schema_manager

    schema = xmlschema.XMLSchema(schema_manager.get_schema_path("odm", "1.3.2"))
    return [f"schema: {e.path}: {e.reason}" for e in list(schema.iter_errors(path))[:20]]


def odmlib_problems(path):
    from odmlib import loader, odm_loader
    from odmlib.oid_generator import create_oid_checker

    try:
        doc = loader.ODMLoader(odm_loader.XMLODMLoader(model_package="odm_1_3_2", ns_uri="http://www.cdisc.org/ns/odm/v1.3"))
        doc.open_odm_document(path)
        odm = doc.load_odm()
    except Exception as e:  # odmlib raises its own errors and ValueError/TypeError for bad values
        return [f"odmlib: the document does not load into the ODM 1.3.2 model: {e}"]
    problems = []
    try:
        odm.verify_oids(create_oid_checker("odm_1_3_2"))
    except Exception as e:
        problems.append(f"odmlib: OID check: {e}")
    try:
        odm.verify_order()
    except Exception as e:
        problems.append(f"odmlib: element order: {e}")
    return problems


def parse_datetime(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def value_problem(data_type, value):
    try:
        if data_type == "integer":
            int(value)
        elif data_type in ("float", "double"):
            if not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?", value):
                raise ValueError
        elif data_type == "date":
            datetime.date.fromisoformat(value)
        elif data_type == "datetime":
            parse_datetime(value)
        elif data_type == "boolean":
            if value not in ("true", "false", "1", "0"):
                raise ValueError
        elif data_type == "base64Binary":
            import base64
            base64.b64decode(value, validate=True)
    except ValueError:
        return f"is not a valid {data_type}"
    return None


def structure_problems(path):
    root = ET.parse(path).getroot()
    problems = []
    if root.tag != NS + "ODM":
        return [f"structure: the root element is {root.tag}, not ODM in the ODM 1.3 namespace"]
    if root.get("ODMVersion") != "1.3.2":
        problems.append(f"structure: ODMVersion is {root.get('ODMVersion')!r}, expected '1.3.2'")
    created = parse_datetime(root.get("CreationDateTime"))
    forms = {f.get("OID"): {r.get("ItemGroupOID") for r in f.iter(NS + "ItemGroupRef")} for f in root.iter(NS + "FormDef")}
    groups = {g.get("OID"): {r.get("ItemOID") for r in g.iter(NS + "ItemRef")} for g in root.iter(NS + "ItemGroupDef")}
    code_lists = {c.get("OID"): {i.get("CodedValue") for i in c} for c in root.iter(NS + "CodeList")}
    items = {}
    for i in root.iter(NS + "ItemDef"):
        cl = i.find(NS + "CodeListRef")
        items[i.get("OID")] = (i.get("DataType"), {u.get("MeasurementUnitOID") for u in i.findall(NS + "MeasurementUnitRef")},
                               cl.get("CodeListOID") if cl is not None else None)
    transactional = root.get("FileType") == "Transactional"
    for clinical in root.iter(NS + "ClinicalData"):
        last_audit = {}
        for subject in clinical.findall(NS + "SubjectData"):
            key = subject.get("SubjectKey")
            if transactional and subject.get("TransactionType") is None:
                problems.append(f"structure: SubjectData {key}: a top-level data element of a Transactional file needs a TransactionType")
            for form in subject.iter(NS + "FormData"):
                form_oid = form.get("FormOID")
                for group in form.findall(NS + "ItemGroupData"):
                    group_oid = group.get("ItemGroupOID")
                    if group_oid not in forms.get(form_oid, set()):
                        problems.append(f"structure: SubjectData {key}: ItemGroupData {group_oid} is not an ItemGroupRef of FormDef {form_oid}")
                    for item in group.findall(NS + "ItemData"):
                        oid = item.get("ItemOID")
                        where = f"SubjectData {key}, FormData {form_oid} {form.get('FormRepeatKey') or ''}, ItemData {oid}"
                        if oid not in groups.get(group_oid, set()):
                            problems.append(f"structure: {where}: not an ItemRef of ItemGroupDef {group_oid}")
                            continue
                        data_type, units, code_list = items[oid]
                        value = item.get("Value")
                        if value is not None and item.get("TransactionType") != "Remove":
                            why = value_problem(data_type, value)
                            if why:
                                problems.append(f"structure: {where}: value {value!r} {why}")
                            if code_list and value not in code_lists.get(code_list, set()):
                                problems.append(f"structure: {where}: value {value!r} is not in CodeList {code_list}")
                        unit = item.find(NS + "MeasurementUnitRef")
                        if unit is not None and unit.get("MeasurementUnitOID") not in units:
                            problems.append(f"structure: {where}: unit {unit.get('MeasurementUnitOID')} is not a MeasurementUnitRef of its ItemDef")
            # AuditRecords of one entity in time order (ODM 1.3.2, "Clinical Data Element Ordering"), none after the file.
            for signature in subject.iter(NS + "Signature"):
                stamp = parse_datetime(signature.findtext(NS + "DateTimeStamp"))
                if stamp > created:
                    problems.append(f"structure: SubjectData {key}: a Signature at {stamp} is after the file's CreationDateTime {created}")
            for element in subject.iter():
                audit = element.find(NS + "AuditRecord")
                if audit is None:
                    continue
                stamp = parse_datetime(audit.findtext(NS + "DateTimeStamp"))
                if stamp > created:
                    problems.append(f"structure: SubjectData {key}: an AuditRecord at {stamp} is after the file's CreationDateTime {created}")
                entity = (key, element.tag, element.get("FormOID"), element.get("FormRepeatKey"), element.get("ItemGroupOID"), element.get("ItemOID"))
                if entity in last_audit and stamp < last_audit[entity]:
                    problems.append(f"structure: SubjectData {key}: AuditRecords of {element.tag} {entity[2:]} are not in time order")
                last_audit[entity] = stamp
    return problems


def problems(path):
    try:
        ET.parse(path)
    except ET.ParseError as e:
        return [f"not well-formed XML: {e}"]
    found = schema_problems(path)
    # The model and structure checks assume a schema-valid document.
    if found:
        return found
    return odmlib_problems(path) + structure_problems(path)


MINIMAL = """<?xml version="1.0" encoding="UTF-8"?>
<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" ODMVersion="1.3.2" FileType="Transactional" FileOID="F.1" CreationDateTime="2026-12-01T00:00:00Z">
  <Study OID="ST.1">
    <GlobalVariables><StudyName>S</StudyName><StudyDescription>S</StudyDescription><ProtocolName>S</ProtocolName></GlobalVariables>
    <MetaDataVersion OID="MDV.1" Name="v">
      <StudyEventDef OID="SE.1" Name="Screening" Repeating="No" Type="Scheduled"><FormRef FormOID="F.A" Mandatory="Yes"/></StudyEventDef>
      <FormDef OID="F.A" Name="A" Repeating="No"><ItemGroupRef ItemGroupOID="IG.A" Mandatory="Yes"/></FormDef>
      <ItemGroupDef OID="IG.A" Name="A" Repeating="No"><ItemRef ItemOID="IT.AGE" Mandatory="No"/></ItemGroupDef>
      <ItemDef OID="IT.AGE" Name="age" DataType="integer"/>
    </MetaDataVersion>
  </Study>
  <AdminData><User OID="USR.a"><LoginName>a</LoginName></User>
    <Location OID="LOC.1" Name="SITE-01"><MetaDataVersionRef StudyOID="ST.1" MetaDataVersionOID="MDV.1" EffectiveDate="2026-01-01"/></Location></AdminData>
  <ClinicalData StudyOID="ST.1" MetaDataVersionOID="MDV.1">
    <SubjectData SubjectKey="C-1" TransactionType="Insert">
      <StudyEventData StudyEventOID="SE.1"><FormData FormOID="F.A"><ItemGroupData ItemGroupOID="IG.A">
        <ItemData ItemOID="IT.AGE" Value="61"><AuditRecord><UserRef UserOID="USR.a"/><LocationRef LocationOID="LOC.1"/>
          <DateTimeStamp>2026-11-30T10:00:00Z</DateTimeStamp><SourceID>2</SourceID></AuditRecord></ItemData>
      </ItemGroupData></FormData></StudyEventData>
    </SubjectData>
  </ClinicalData>
</ODM>
"""

BROKEN = {
    "element out of schema order": ('<SourceID>2</SourceID></AuditRecord>', '</AuditRecord>'), # placeholder replaced below
    "unknown FileType": ('FileType="Transactional"', 'FileType="Partial"'),
    "UserRef to no User": ('<UserRef UserOID="USR.a"/>', '<UserRef UserOID="USR.nobody"/>'),
    "ItemData outside its group": ('<ItemData ItemOID="IT.AGE"', '<ItemData ItemOID="IT.MISSING"'),
    "integer item holding text": ('Value="61"', 'Value="sixty-one"'),
    "audit record after the file": ('2026-11-30T10:00:00Z', '2026-12-02T10:00:00Z'),
    "top-level SubjectData without TransactionType": (' TransactionType="Insert"', ''),
    "not well-formed": ('</ClinicalData>', '</Clinical>'),
}
BROKEN["element out of schema order"] = ('<UserRef UserOID="USR.a"/><LocationRef LocationOID="LOC.1"/>',
                                         '<LocationRef LocationOID="LOC.1"/><UserRef UserOID="USR.a"/>')


def self_check():
    failures = 0
    with tempfile.TemporaryDirectory() as d:
        def check(name, text, expect_valid):
            nonlocal failures
            path = f"{d}/doc.xml"
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            found = problems(path)
            ok = (not found) == expect_valid
            failures += not ok
            print(f"{'ok' if ok else 'FAIL'}: {name}: {'valid' if not found else found[0]}")
        check("a minimal valid document", MINIMAL, True)
        for name, (old, new) in BROKEN.items():
            assert old in MINIMAL, name
            check(name, MINIMAL.replace(old, new, 1), False)
    print(f"{len(BROKEN) + 1 - failures} passed, {failures} failed")
    return 1 if failures else 0


def main(argv):
    if argv[1:] == ["--self-check"]:
        return self_check()
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    found = problems(argv[1])
    for p in found:
        print(f"{argv[1]}: {p}", file=sys.stderr)
    if found:
        print(f"{argv[1]}: INVALID ODM 1.3.2 ({len(found)} problem{'s' if len(found) > 1 else ''}{', first 20 shown' if len(found) >= 20 else ''})", file=sys.stderr)
        return 1
    root = ET.parse(argv[1]).getroot()
    print(f"{argv[1]}: valid ODM 1.3.2: {len(root.findall(f'.//{NS}SubjectData'))} SubjectData, "
          f"{len(root.findall(f'.//{NS}ItemData'))} ItemData, {len(root.findall(f'.//{NS}AuditRecord'))} AuditRecords")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
