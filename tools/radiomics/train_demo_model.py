#!/usr/bin/env python3
"""Train the shipped illustrative radiomics model on SYNTHETIC feature vectors and write it to Models/.

    python3 tools/radiomics/train_demo_model.py [--out Models]

Writes, deterministically (fixed seeds; the same package versions give the same bytes):
  net-radiomics-lr-1.0.0.model.json   the artifact, trialgate.model/1 (standardised logistic regression)
  net-radiomics-lr-1.0.0.card.json    its card (the model.registered payload but the artifact and settings texts)
  pyradiomics-ct.yaml                 the pyradiomics parameter file the card registers
  demo-features.json                  radiomics records of three phantom lesions (phantom.py + extract.py): one
                                      above the threshold, one in the grey zone, one below

No patient data is used anywhere: the training and validation cases are drawn from a known logistic rule on
feature vectors shaped like those pyradiomics gives for the phantoms of phantom.py. The model is illustrative, not
a validated instrument.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import export_model  # noqa: E402
from extract import pyradiomics_software, unit_of  # noqa: E402

SEED = 20
MODEL_ID, VERSION = "net-radiomics-lr", "1.0.0"
FEATURES = [
    "original_firstorder_Mean",
    "original_firstorder_90Percentile",
    "original_firstorder_Variance",
    "original_firstorder_Skewness",
    "original_firstorder_Entropy",
    "original_shape_MeshVolume",
    "original_shape_Sphericity",
    "original_glcm_JointEntropy",
]

# The pyradiomics parameter file. Deterministic by construction: one image type (Original), an explicit label,
# resampling to 1 mm isotropic voxels with a fixed interpolator and padding, a fixed bin width, no normalisation,
# no intensity shift, no diagnostics (they hold versions and times, not features).
SETTINGS = """\
# pyradiomics parameter file of the illustrative model net-radiomics-lr 1.0.0 (Models/README.md).
# Its SHA-256 is the card's extraction.settings_sha256: extract.py refuses any other file.
imageType:
  Original: {}
featureClass:
  firstorder: [Mean, 90Percentile, Variance, Skewness, Entropy]
  shape: [MeshVolume, Sphericity]
  glcm: [JointEntropy]
setting:
  label: 1
  binWidth: 25
  resampledPixelSpacing: [1, 1, 1]
  interpolator: sitkBSpline
  padDistance: 5
  preCrop: true
  normalize: false
  voxelArrayShift: 0
  force2D: false
  additionalInfo: false
"""

# The three demo lesions (phantom.py arguments): a dense lesion, an intermediate one and a faint one.
DEMO_LESIONS = [
    ("above", ["--seed", "11", "--lesion-hu", "135", "--radius", "13", "11", "10"]),
    ("grey zone", ["--seed", "12", "--lesion-hu", "92", "--radius", "12", "10", "9"]),
    ("below", ["--seed", "13", "--lesion-hu", "45", "--radius", "9", "8", "7"]),
]


def true_lp(X):
    """The known rule the synthetic labels come from (log-odds)."""
    mean, volume, joint_entropy = X[:, 0], X[:, 5], X[:, 7]
    return -0.3 + 0.05 * (mean - 85.0) + 0.7 * np.log(volume / 4500.0) + 0.6 * (joint_entropy - 3.0)


def synthetic_cases(rng, n):
    """`n` feature vectors (columns in the order of FEATURES) shaped like phantom lesions, and their labels."""
    hu = rng.uniform(30.0, 160.0, n)
    sd = rng.uniform(8.0, 30.0, n)
    volume = np.exp(rng.normal(math.log(4500.0), 0.7, n))
    sphericity = rng.uniform(0.6, 0.9, n)
    mean = 0.96 * hu + 0.04 * 40.0 + rng.normal(0.0, 2.0, n)
    variance = np.maximum(sd ** 2 + 60.0 + rng.normal(0.0, 20.0, n), 1.0)
    p90 = mean + 1.28 * np.sqrt(variance) + rng.normal(0.0, 2.0, n)
    skewness = rng.normal(0.0, 0.3, n) - 0.005 * (hu - 80.0)
    entropy = 0.9 + 0.04 * np.sqrt(variance) + rng.normal(0.0, 0.05, n)
    joint_entropy = 2.0 * entropy - 0.1 + rng.normal(0.0, 0.1, n)
    X = np.column_stack([mean, p90, variance, skewness, entropy, volume, sphericity, joint_entropy])
    y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-true_lp(X)))).astype(int)
    return X, y


def train(n=400, seed=SEED):
    """The model, fitted on 70 % of `n` synthetic cases; and the held-out 30 %."""
    rng = np.random.default_rng(seed)
    X, y = synthetic_cases(rng, n)
    n_train = int(n * 0.7)
    model = Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression(C=1.0, max_iter=1000))])
    model.fit(X[:n_train], y[:n_train])
    return model, (X[:n_train], y[:n_train]), (X[n_train:], y[n_train:])


def validation(model, X, y, seed=SEED):
    """AUC with a bootstrap 95 % CI (2000 resamples, percentile), and a calibration text, on the held-out split."""
    p = model.predict_proba(X)[:, 1]
    auc = roc_auc_score(y, p)
    rng = np.random.default_rng(seed + 1)
    boots = []
    while len(boots) < 2000:
        i = rng.integers(0, len(y), len(y))
        if y[i].min() != y[i].max():
            boots.append(roc_auc_score(y[i], p[i]))
    low, high = np.percentile(boots, [2.5, 97.5])
    lp = model.decision_function(X)
    slope_fit = LogisticRegression(C=1e6, max_iter=1000).fit(lp.reshape(-1, 1), y)
    calibration = (f"held-out synthetic split: Brier score {brier_score_loss(y, p):.3f}; logistic recalibration slope "
                   f"{slope_fit.coef_[0, 0]:.2f}, intercept {slope_fit.intercept_[0]:.2f}; mean predicted {p.mean():.3f}, "
                   f"observed {y.mean():.3f}")
    return round(float(auc), 4), [round(float(low), 4), round(float(high), 4)], calibration


def build_card(artifact_text, sizes, auc, ci, calibration):
    return export_model.make_card(
        model_id=MODEL_ID, version=VERSION,
        title="Contrast-CT radiomics response score, illustrative (synthetic data)",
        predicts="objective response at 6 months (illustrative: the labels are synthetic)",
        intended_use=("Illustrative, trained on synthetic data, not a validated instrument. It shows how a radiomics "
                      "model is registered, scored and gated in TrialGate's log; its output must not inform any "
                      "decision about a person."),
        population=("None: no patient data was used. The synthetic cases imitate pyradiomics features of "
                    "single ellipsoid lesions in synthetic portal-venous CT volumes (tools/radiomics/phantom.py)."),
        artifact_text=artifact_text, settings_text=SETTINGS,
        extraction={"software": pyradiomics_software(), "image_type": "Original", "resampling_mm": [1, 1, 1],
                    "bin_width": 25, "contrast_phase": "portal_venous"},
        training={"dataset": f"synthetic feature vectors from a known logistic rule plus Bernoulli noise "
                             f"(tools/radiomics/train_demo_model.py, seed {SEED}); no patient data", "size": sizes[0]},
        validation={"dataset": "held-out split of the same synthetic draw (30 %)", "size": sizes[1], "auc": auc,
                    "auc_ci95": ci, "calibration": calibration},
        operating_point={"threshold": 0.60, "grey_zone": [0.45, 0.65],
                         "source": "illustrative choice for the demonstration, not derived from outcome data"},
    )


def demo_lesions(out_dir, card_path, settings_path, artifact_path, artifact, card):
    """Runs phantom.py and extract.py on the three demo lesions; returns the demo-features document."""
    lesions = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (label, args) in enumerate(DEMO_LESIONS, start=1):
            image, mask = os.path.join(tmp, f"ct-{i}.nii.gz"), os.path.join(tmp, f"mask-{i}.nii.gz")
            subprocess.run([sys.executable, os.path.join(HERE, "phantom.py"), *args, "--out-image", image, "--out-mask", mask],
                           check=True, capture_output=True)
            r = subprocess.run([sys.executable, os.path.join(HERE, "extract.py"), "--image", image, "--mask", mask,
                                "--card", card_path, "--settings", settings_path, "--artifact", artifact_path,
                                "--study-date", "2026-03-02", "--study-uid", f"ST-DEMO-{i:03d}", "--series-uid", f"SE-DEMO-{i:03d}",
                                "--contrast-phase", "portal_venous", "--segmentation-reader", "reader-a",
                                "--segmentation-method", "manual", "--qc-status", "pass", "--qc-reader", "reader-b",
                                "--qc-date", "2026-03-03"], capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"extract.py on demo lesion {i}: {r.stderr.strip()}")
            fields = json.loads(r.stdout)
            x = [fields["features"][f["name"]]["value"] for f in artifact["features"]]
            lp = export_model.linear_predictor(artifact, x)
            got = export_model.verdict(card, lp)
            want = {"above": "pass", "grey zone": "unknown", "below": "fail"}[label]
            print(f"demo lesion {i} ({label}): linear predictor {lp!r}, probability {1 / (1 + math.exp(-lp)):.4f}, verdict {got}")
            if got != want:
                raise RuntimeError(f"demo lesion {i} should be {label} ({want}) but scores {lp!r} ({got}): retune DEMO_LESIONS")
            lesions.append({"label": label, "phantom_args": args, "fields": fields,
                            "expected": {"linear_predictor": lp, "probability": 1 / (1 + math.exp(-lp)), "verdict": got}})
    return {"model": f"{MODEL_ID}@{VERSION}", "lesions": lesions}


def main(argv=None):
    ap = argparse.ArgumentParser(description="Train the illustrative radiomics model on synthetic data and write Models/.")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.dirname(HERE)), "Models"))
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    model, (X_train, _), (X_test, y_test) = train()
    features = [(name, unit_of(name)) for name in FEATURES]
    artifact = export_model.lr_artifact(model, features)
    text = export_model.artifact_text(artifact)
    # The exported artifact reproduces scikit-learn's decision function.
    worst = max(abs(export_model.linear_predictor(artifact, x) - d) for x, d in zip(X_test, model.decision_function(X_test)))
    if worst > 1e-12:
        raise RuntimeError(f"the artifact's linear predictor differs from decision_function by {worst}")
    auc, ci, calibration = validation(model, X_test, y_test)
    card = build_card(text, (len(X_train), len(X_test)), auc, ci, calibration)
    paths = {k: os.path.join(args.out, name) for k, name in [
        ("artifact", f"{MODEL_ID}-{VERSION}.model.json"), ("card", f"{MODEL_ID}-{VERSION}.card.json"),
        ("settings", "pyradiomics-ct.yaml"), ("demo", "demo-features.json")]}
    with open(paths["artifact"], "w", encoding="utf-8") as f:
        f.write(text)
    with open(paths["card"], "w", encoding="utf-8") as f:
        f.write(export_model.card_text(card))
    with open(paths["settings"], "w", encoding="utf-8") as f:
        f.write(SETTINGS)
    print(f"trained on {len(X_train)} synthetic cases; held-out AUC {auc} (95 % CI {ci[0]}-{ci[1]}); {calibration}")
    demo = demo_lesions(args.out, paths["card"], paths["settings"], paths["artifact"], artifact, card)
    with open(paths["demo"], "w", encoding="utf-8") as f:
        f.write(json.dumps(demo, indent=2, ensure_ascii=False) + "\n")
    print("wrote " + ", ".join(paths.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
