#!/usr/bin/env python3
"""Extract a lesion's radiomic features for a registered model and write the `radiomics.recorded` record.

The record's members are those of docs/model-evidence.md ("radiomics.recorded"). The features are extracted by
pyradiomics with exactly the parameter file the model card registers (its SHA-256 is checked against the card's
`extraction.settings_sha256` first), only the features the model's artifact lists are kept, and each carries its
UCUM unit from the table below, which must be the unit the artifact expects.

The card, one of:
  --card SHOWN.json                  what `trialgate model show ID@VERSION --json` prints (card, artifact and settings)
  --card CARD.json --settings PARAMS.yaml --artifact MODEL.json
  --model ID@VERSION --trialgate BIN --store STORE   (runs `BIN model show ID@VERSION --json`)

The output, one of:
  (default)                          the record's fields, JSON, on stdout or in --out FILE
  --candidate C --request            one socket request line: {"cmd":"record","kind":"radiomics","candidate":C,"fields":{...}}
  --candidate C --trialgate BIN --store STORE
                                     runs `BIN record radiomics --candidate C --fields-file FILE --store STORE --json`

Example:
  python3 tools/radiomics/extract.py --image ct.nii.gz --mask mask.nii.gz \\
      --card Models/net-radiomics-lr-1.0.0.card.json --settings Models/pyradiomics-ct.yaml \\
      --artifact Models/net-radiomics-lr-1.0.0.model.json \\
      --study-date 2026-03-02 --study-uid ST-0001 --series-uid SE-0001 --contrast-phase portal_venous \\
      --segmentation-reader reader-a --segmentation-method manual --qc-status pass --qc-reader reader-b --qc-date 2026-03-03

Errors name the field, the value and what was expected; the exit status is then 1 (2 for bad usage).
"""

import argparse
import datetime
import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile

# --- units -----------------------------------------------------------------------------------------------------
#
# The UCUM unit of every feature pyradiomics computes on the original (unfiltered) image of a CT in Hounsfield
# units. Each unit follows from the feature's definition in the pyradiomics documentation ("Radiomic Features",
# pyradiomics.readthedocs.io, v3.0.1; the same formulas are the docstrings of radiomics/firstorder.py, shape.py,
# shape2D.py, glcm.py, glrlm.py, glszm.py, gldm.py and ngtdm.py of the installed package):
#
# - first order, on the voxel intensities X(i) (HU): Minimum, 10Percentile, 90Percentile, Maximum, Mean, Median,
#   InterquartileRange, Range, MeanAbsoluteDeviation, RobustMeanAbsoluteDeviation, RootMeanSquared and
#   StandardDeviation are intensities or differences of intensities: [hnsf'U]. Variance is a mean of squared
#   deviations and Energy a sum of squared intensities, sum (X(i) + c)^2: [hnsf'U]2. TotalEnergy is Energy
#   multiplied by the volume of one voxel, V_voxel sum (X(i) + c)^2 (V_voxel in mm^3): [hnsf'U]2.mm3.
#   Skewness and Kurtosis are moments divided by powers of the SD, Entropy and Uniformity are computed on the
#   probabilities of the discretised grey levels: 1.
# - shape (3D), on the mask's mesh and voxels in physical space: MeshVolume and VoxelVolume mm3; SurfaceArea mm2;
#   SurfaceVolumeRatio (area / volume) /mm; Maximum3DDiameter, Maximum2DDiameterSlice/Column/Row and
#   MajorAxisLength, MinorAxisLength, LeastAxisLength mm; Sphericity, Compactness1, Compactness2,
#   SphericalDisproportion, Elongation and Flatness are ratios of like quantities: 1.
# - shape2D (force2D): MeshSurface, PixelSurface mm2; Perimeter, MaximumDiameter, MajorAxisLength,
#   MinorAxisLength mm; PerimeterSurfaceRatio /mm; Sphericity, SphericalDisproportion, Elongation 1.
# - texture (glcm, glrlm, glszm, gldm, ngtdm): computed on the indices of the discretised grey levels (bins of
#   binWidth HU, numbered from 1) and on counts of voxels, runs, zones and neighbours, not on HU: 1.
#
# A feature not in this table (a filtered image type, a feature of a later pyradiomics) has no unit here and is
# refused: a model's inputs must be given with their units.

HU, HU2 = "[hnsf'U]", "[hnsf'U]2"
FIRST_ORDER_UNITS = {
    "Minimum": HU, "10Percentile": HU, "90Percentile": HU, "Maximum": HU, "Mean": HU, "Median": HU,
    "InterquartileRange": HU, "Range": HU, "MeanAbsoluteDeviation": HU, "RobustMeanAbsoluteDeviation": HU,
    "RootMeanSquared": HU, "StandardDeviation": HU,
    "Variance": HU2, "Energy": HU2, "TotalEnergy": HU2 + ".mm3",
    "Skewness": "1", "Kurtosis": "1", "Entropy": "1", "Uniformity": "1",
}
SHAPE_UNITS = {
    "MeshVolume": "mm3", "VoxelVolume": "mm3", "SurfaceArea": "mm2", "SurfaceVolumeRatio": "/mm",
    "Maximum3DDiameter": "mm", "Maximum2DDiameterSlice": "mm", "Maximum2DDiameterColumn": "mm",
    "Maximum2DDiameterRow": "mm", "MajorAxisLength": "mm", "MinorAxisLength": "mm", "LeastAxisLength": "mm",
    "Sphericity": "1", "Compactness1": "1", "Compactness2": "1", "SphericalDisproportion": "1",
    "Elongation": "1", "Flatness": "1",
}
SHAPE2D_UNITS = {
    "MeshSurface": "mm2", "PixelSurface": "mm2", "Perimeter": "mm", "PerimeterSurfaceRatio": "/mm",
    "MaximumDiameter": "mm", "MajorAxisLength": "mm", "MinorAxisLength": "mm",
    "Sphericity": "1", "SphericalDisproportion": "1", "Elongation": "1",
}
TEXTURE_CLASSES = ("glcm", "glrlm", "glszm", "gldm", "ngtdm")

CONTRAST_PHASES = ("non_contrast", "arterial", "portal_venous", "delayed")
SEGMENTATION_METHODS = ("manual", "semi_automatic")
QC_STATUSES = ("pass", "fail", "pending")
ARTIFACT_FORMAT = "trialgate.model/1"


class Refused(Exception):
    """An input that cannot give a record: the message names the field, the value and what was expected."""


def unit_of(feature):
    """The UCUM unit of a pyradiomics feature name (`original_firstorder_Mean`), or None when the table has none."""
    parts = feature.split("_", 2)
    if len(parts) != 3 or parts[0] != "original":
        return None
    _, cls, name = parts
    if cls == "firstorder":
        return FIRST_ORDER_UNITS.get(name)
    if cls == "shape":
        return SHAPE_UNITS.get(name)
    if cls == "shape2D":
        return SHAPE2D_UNITS.get(name)
    if cls in TEXTURE_CLASSES:
        return "1"
    return None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pyradiomics_software():
    import radiomics
    return "pyradiomics " + radiomics.__version__.lstrip("v")


# --- the card --------------------------------------------------------------------------------------------------

def read_text(path, what):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise Refused(f"{what}: cannot read {path}: {err}")


def load_card(card_text, settings_text=None, artifact_text=None):
    """The card (a dict), the settings text and the artifact text, checked against each other: the settings' and the
    artifact's SHA-256 must be the card's. `card_text` is a card file or what `trialgate model show --json` prints;
    a text given separately must equal the one the card carries, when it carries one."""
    try:
        card = json.loads(card_text)
    except ValueError as err:
        raise Refused(f"card: not JSON: {err}")
    if isinstance(card, dict) and isinstance(card.get("card"), dict) and "extraction" not in card:
        card = card["card"]  # `trialgate model show --json`: {"card": {...}, "seq", "registered_at", "registered_by"}
    if not isinstance(card, dict) or not isinstance(card.get("extraction"), dict):
        raise Refused("card: expected an object with an `extraction` object (a model card)")
    for what, given, carried in (("settings", settings_text, card["extraction"].get("settings")),
                                 ("artifact", artifact_text, card.get("artifact"))):
        if given is not None and carried is not None and given != carried:
            raise Refused(f"{what}: the file given differs from the text the card carries")
    settings_text = settings_text if settings_text is not None else card["extraction"].get("settings")
    artifact_text = artifact_text if artifact_text is not None else card.get("artifact")
    if not isinstance(settings_text, str):
        raise Refused("extraction.settings: the card carries no parameter file; give it with --settings PARAMS.yaml")
    if not isinstance(artifact_text, str):
        raise Refused("artifact: the card carries no artifact; give it with --artifact MODEL.json")
    got, want = sha256_hex(settings_text.encode("utf-8")), card["extraction"].get("settings_sha256")
    if got != want:
        raise Refused(f"extraction.settings_sha256: the parameter file hashes to {got}, the card expects {want}")
    got, want = sha256_hex(artifact_text.encode("utf-8")), card.get("artifact_sha256")
    if got != want:
        raise Refused(f"artifact_sha256: the artifact hashes to {got}, the card expects {want}")
    try:
        artifact = json.loads(artifact_text)
    except ValueError as err:
        raise Refused(f"artifact: not JSON: {err}")
    if not isinstance(artifact, dict) or artifact.get("format") != ARTIFACT_FORMAT:
        raise Refused(f"artifact.format: {artifact.get('format') if isinstance(artifact, dict) else artifact!r}, expected {ARTIFACT_FORMAT}")
    features = artifact.get("features")
    if not isinstance(features, list) or not features or not all(
            isinstance(f, dict) and isinstance(f.get("name"), str) and isinstance(f.get("unit"), str) for f in features):
        raise Refused("artifact.features: expected a list of {name, unit}")
    return card, settings_text, [(f["name"], f["unit"]) for f in features]


def card_from_trialgate(binary, store, model):
    r = subprocess.run([binary, "model", "show", model, "--json", "--store", store], capture_output=True, text=True)
    if r.returncode != 0:
        raise Refused(f"model: `trialgate model show {model}` exited {r.returncode}: {(r.stderr or r.stdout).strip()}")
    return r.stdout


# --- images and extraction -------------------------------------------------------------------------------------

def read_image(path, what):
    """A SimpleITK image from a file SimpleITK reads (NIfTI, NRRD, MetaImage...) or a DICOM series directory."""
    import SimpleITK as sitk
    if os.path.isdir(path):
        reader = sitk.ImageSeriesReader()
        series = reader.GetGDCMSeriesIDs(path)
        if len(series) != 1:
            raise Refused(f"{what}: {path} holds {len(series)} DICOM series, expected exactly one")
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(path, series[0]))
        return reader.Execute()
    if not os.path.isfile(path):
        raise Refused(f"{what}: {path} is neither a file nor a DICOM series directory")
    try:
        return sitk.ReadImage(path)
    except RuntimeError as err:
        raise Refused(f"{what}: SimpleITK cannot read {path}: {str(err).strip().splitlines()[-1]}")


def extract_features(image, mask, settings_text, wanted):
    """Runs pyradiomics' RadiomicsFeatureExtractor with exactly `settings_text` as its parameter file and returns
    {name: {"value", "unit"}} for the (name, expected unit) pairs of `wanted`, in their order."""
    from radiomics import featureextractor
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        params = os.path.join(tmp, "params.yaml")
        with open(params, "wb") as f:
            f.write(settings_text.encode("utf-8"))
        try:
            extractor = featureextractor.RadiomicsFeatureExtractor(params)
        except Exception as err:
            raise Refused(f"extraction.settings: pyradiomics refuses the parameter file: {err}")
        try:
            result = extractor.execute(image, mask)
        except Exception as err:
            raise Refused(f"mask: pyradiomics could not extract features: {err}")
    missing = [name for name, _ in wanted if name not in result]
    if missing:
        raise Refused("features: the extraction gave no " + ", ".join(missing)
                      + " (the model's inputs); the parameter file must enable them")
    features = {}
    for name, expected in wanted:
        unit = unit_of(name)
        if unit is None:
            raise Refused(f"features.{name}: no unit is known for this feature (only original-image features of "
                          f"firstorder, shape, shape2D and texture classes have one); the artifact expects {expected}")
        if unit != expected:
            raise Refused(f"features.{name}: unit {unit}, the artifact expects {expected}")
        value = float(result[name])
        if value != value or value in (float("inf"), float("-inf")):
            raise Refused(f"features.{name}: value {value} is not a finite number")
        features[name] = {"value": value, "unit": unit}
    return features


# --- the record ------------------------------------------------------------------------------------------------

def date_arg(field, text):
    try:
        datetime.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise Refused(f"{field}: {text!r} is not a date YYYY-MM-DD")
    if len(text) != 10:
        raise Refused(f"{field}: {text!r} is not a date YYYY-MM-DD")
    return text


def record_fields(args, card, settings_text, features, image, mask_bytes):
    """The `radiomics.recorded` fields, every member docs/model-evidence.md lists."""
    if args.contrast_phase not in CONTRAST_PHASES:
        raise Refused(f"contrast_phase: {args.contrast_phase!r}, expected one of {', '.join(CONTRAST_PHASES)}")
    if args.segmentation_method not in SEGMENTATION_METHODS:
        raise Refused(f"segmentation_method: {args.segmentation_method!r}, expected one of {', '.join(SEGMENTATION_METHODS)}")
    if args.qc_status not in QC_STATUSES:
        raise Refused(f"qc_status: {args.qc_status!r}, expected one of {', '.join(QC_STATUSES)}")
    study_date = date_arg("study_date", args.study_date)
    fields = {
        "study_date": study_date,
        "study_uid": args.study_uid,
        "series_uid": args.series_uid,
        "contrast_phase": args.contrast_phase,
        # NIfTI stores the spacing as binary32: 2.5 stays 2.5, 0.8 becomes 0.800000011920929; 4 decimals keep what was meant.
        "slice_thickness_mm": round(float(image.GetSpacing()[2]), 4),
        "mask_sha256": sha256_hex(mask_bytes),
        "segmentation_reader": args.segmentation_reader,
        "segmentation_method": args.segmentation_method,
        "qc_status": args.qc_status,
        "software": pyradiomics_software(),
        "settings_sha256": sha256_hex(settings_text.encode("utf-8")),
        "features": features,
    }
    if not 0.1 <= fields["slice_thickness_mm"] <= 20:
        raise Refused(f"slice_thickness_mm: {fields['slice_thickness_mm']} (the image's z spacing), expected 0.1-20 mm")
    if args.qc_status == "pending":
        if args.qc_reader is not None or args.qc_date is not None:
            raise Refused("qc_reader, qc_date: given with qc_status pending, expected neither until the second reader has read")
    else:
        if args.qc_reader is None or args.qc_date is None:
            raise Refused(f"qc_reader, qc_date: required with qc_status {args.qc_status}")
        if args.qc_reader == args.segmentation_reader:
            raise Refused(f"qc_reader: {args.qc_reader!r} is the segmentation reader, expected a second reader")
        qc_date = date_arg("qc_date", args.qc_date)
        if qc_date < study_date:
            raise Refused(f"qc_date: {qc_date} is before study_date {study_date}, expected on or after it")
        fields["qc_reader"], fields["qc_date"] = args.qc_reader, qc_date
    expected_software = card["extraction"].get("software")
    if expected_software != fields["software"]:
        raise Refused(f"software: {fields['software']} is installed, the card's extraction expects {expected_software}")
    card_phase = card["extraction"].get("contrast_phase")
    if card_phase is not None and card_phase != args.contrast_phase:
        print(f"extract: warning: contrast_phase {args.contrast_phase}, the card's extraction expects {card_phase} "
              "(recorded as it is: the gate decides)", file=sys.stderr)
    return fields


def run(args):
    if args.model:
        if not (args.trialgate and args.store):
            raise Refused("model: --model ID@VERSION needs --trialgate BIN and --store STORE to read the card")
        card_text = card_from_trialgate(args.trialgate, args.store, args.model)
    elif args.card:
        card_text = read_text(args.card, "card")
    else:
        raise Refused("card: give --card FILE or --model ID@VERSION")
    settings_text = read_text(args.settings, "settings") if args.settings else None
    artifact_text = read_text(args.artifact, "artifact") if args.artifact else None
    card, settings_text, wanted = load_card(card_text, settings_text, artifact_text)

    image = read_image(args.image, "image")
    if os.path.isdir(args.mask):
        raise Refused(f"mask: {args.mask} is a directory; the record carries the SHA-256 of the mask file's bytes, "
                      "so the mask is one file (NIfTI, NRRD...)")
    mask = read_image(args.mask, "mask")
    with open(args.mask, "rb") as f:
        mask_bytes = f.read()
    features = extract_features(image, mask, settings_text, wanted)
    return record_fields(args, card, settings_text, features, image, mask_bytes)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Extract a lesion's radiomic features for a registered model and write "
                                             "the radiomics.recorded record (docs/model-evidence.md).",
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--image", required=True, help="the CT volume: a file SimpleITK reads (NIfTI...) or a DICOM series directory")
    ap.add_argument("--mask", required=True, help="the lesion mask: one file SimpleITK reads (NIfTI...)")
    ap.add_argument("--card", help="the model card: `trialgate model show ID@VERSION --json` output, or a card file")
    ap.add_argument("--settings", help="the pyradiomics parameter file (when the card does not carry it)")
    ap.add_argument("--artifact", help="the model artifact, trialgate.model/1 (when the card does not carry it)")
    ap.add_argument("--model", help="ID@VERSION: read the card from the store with `trialgate model show`")
    ap.add_argument("--study-date", required=True)
    ap.add_argument("--study-uid", required=True)
    ap.add_argument("--series-uid", required=True)
    ap.add_argument("--contrast-phase", required=True, help=", ".join(CONTRAST_PHASES))
    ap.add_argument("--segmentation-reader", required=True)
    ap.add_argument("--segmentation-method", required=True, help=", ".join(SEGMENTATION_METHODS))
    ap.add_argument("--qc-status", required=True, help=", ".join(QC_STATUSES))
    ap.add_argument("--qc-reader", help="the second reader (required unless --qc-status pending)")
    ap.add_argument("--qc-date", help="the second reader's date (required unless --qc-status pending)")
    ap.add_argument("--out", help="write the fields here instead of stdout")
    ap.add_argument("--candidate", help="the candidate, for --request or --trialgate")
    ap.add_argument("--request", action="store_true", help="print a socket `record` request line instead of the fields")
    ap.add_argument("--trialgate", help="a trialgate binary: record the fields with it (needs --store and --candidate)")
    ap.add_argument("--store", help="the store, with --trialgate")
    args = ap.parse_args(argv)
    if args.request and not args.candidate:
        ap.error("--request needs --candidate")
    recording = bool(args.trialgate and args.candidate)
    if recording and not args.store:
        ap.error("--trialgate with --candidate needs --store")
    if args.request and recording:
        ap.error("--request prints the request; --trialgate records it: choose one")

    try:
        fields = run(args)
    except Refused as err:
        print(f"extract: {err}", file=sys.stderr)
        return 1

    text = json.dumps(fields, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if args.request:
        line = json.dumps({"cmd": "record", "kind": "radiomics", "candidate": args.candidate, "fields": fields},
                          separators=(",", ":"), ensure_ascii=False) + "\n"
        sys.stdout.write(line)
        return 0
    if recording:
        with tempfile.TemporaryDirectory() as tmp:
            path = args.out or os.path.join(tmp, "fields.json")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            r = subprocess.run([args.trialgate, "record", "radiomics", "--candidate", args.candidate, "--fields-file", path,
                                "--store", args.store, "--json"], capture_output=True, text=True)
        sys.stdout.write(r.stdout)
        sys.stderr.write(r.stderr)
        return r.returncode
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
