#!/usr/bin/env python3
"""Convert a fitted scikit-learn model to the portable artifact `trialgate.model/1` (docs/model-evidence.md), and
build its model card.

Two kinds are converted:
- a `Pipeline(StandardScaler, LogisticRegression)` of two classes: `means` and `scales` are the scaler's `mean_` and
  `scale_`, `coefficients` and `intercept` the classifier's `coef_[0]` and `intercept_[0]`;
- a `GradientBoostingClassifier` of two classes: `base_score` is its initial raw prediction (the log-odds of the
  training prior, `_raw_predict_init`), `learning_rate` its own, the trees `estimators_[k, 0].tree_` with a leaf's
  value `value[node][0][0]`, and `input_rounding: "binary32"`: scikit-learn converts the inputs of
  `decision_function` and `predict_proba` to float32 before its trees compare them with their (float64)
  thresholds (`validate_data(..., dtype=np.float32)` in sklearn/ensemble/_gb.py and `const float32_t[:, ::1] X`
  in sklearn/ensemble/_gradient_boosting.pyx, checked on scikit-learn 1.9.1).

Numbers are written as Python's `repr` writes them (the shortest digits that read back to the same binary64), so
the artifact holds exactly the model's numbers.

    python3 tools/radiomics/export_model.py MODEL.joblib --features original_firstorder_Mean original_shape_MeshVolume \\
        --out MODEL.json [--card-info INFO.json --settings PARAMS.yaml --card-out CARD.json]

`--features` names the model's inputs in the order of its columns; a name takes its unit from extract.py's table,
or `NAME=UNIT` gives it. `--card-info` is a JSON object with the card's descriptive members (model_id, version,
title, predicts, intended_use, population, extraction without settings and settings_sha256, training, validation,
operating_point with threshold, grey_zone and source); the card written adds artifact_sha256,
extraction.settings_sha256 and the operating point in linear-predictor units.
"""

import argparse
import hashlib
import json
import math
import os
import pickle
import sys

import numpy as np

FORMAT = "trialgate.model/1"


def _num(x):
    """A binary64 value as a Python float (so json writes it with repr), refusing NaN and infinities."""
    v = float(x)
    if not math.isfinite(v):
        raise ValueError(f"{v} is not a finite number: the artifact holds only finite numbers")
    return v


def _features(features, n):
    """[(name, unit)] from names or (name, unit) pairs, checked against the model's number of inputs."""
    out = []
    for f in features:
        if isinstance(f, str):
            name, _, unit = f.partition("=")
            if not unit:
                sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
                from extract import unit_of
                unit = unit_of(name)
                if unit is None:
                    raise ValueError(f"feature {name}: no unit known; give it as {name}=UNIT")
            out.append((name, unit))
        else:
            out.append((str(f[0]), str(f[1])))
    if len(out) != n:
        raise ValueError(f"{len(out)} features named, the model takes {n}")
    if len({name for name, _ in out}) != len(out):
        raise ValueError("feature names repeat")
    return out


def lr_artifact(pipeline, features):
    """The artifact (a dict) of a fitted Pipeline(StandardScaler, LogisticRegression) of two classes."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    steps = [s for _, s in pipeline.steps]
    if len(steps) != 2 or not isinstance(steps[0], StandardScaler) or not isinstance(steps[1], LogisticRegression):
        raise ValueError("expected Pipeline(StandardScaler, LogisticRegression)")
    scaler, lr = steps
    if lr.coef_.shape[0] != 1 or len(lr.classes_) != 2:
        raise ValueError("expected a logistic regression of two classes")
    n = lr.coef_.shape[1]
    means = scaler.mean_ if scaler.with_mean else np.zeros(n)
    scales = scaler.scale_ if scaler.with_std else np.ones(n)
    return {
        "format": FORMAT,
        "kind": "logistic_regression",
        "features": [{"name": name, "unit": unit} for name, unit in _features(features, n)],
        "means": [_num(v) for v in means],
        "scales": [_num(v) for v in scales],
        "coefficients": [_num(v) for v in lr.coef_[0]],
        "intercept": _num(lr.intercept_[0]),
    }


def _tree_nodes(tree):
    """A scikit-learn tree's nodes in pre-order (each node before its children, so children have higher indices)."""
    order, stack = [], [0]
    while stack:
        node = stack.pop()
        order.append(node)
        if tree.children_left[node] != -1:
            stack.append(int(tree.children_right[node]))
            stack.append(int(tree.children_left[node]))
    index = {old: new for new, old in enumerate(order)}
    nodes = []
    for old in order:
        left, right = int(tree.children_left[old]), int(tree.children_right[old])
        if left == -1:
            nodes.append({"value": _num(tree.value[old][0][0])})
        else:
            nodes.append({"feature": int(tree.feature[old]), "threshold": _num(tree.threshold[old]),
                          "left": index[left], "right": index[right]})
    return nodes


def gbt_artifact(model, features):
    """The artifact (a dict) of a fitted two-class GradientBoostingClassifier."""
    from sklearn.ensemble import GradientBoostingClassifier
    if not isinstance(model, GradientBoostingClassifier):
        raise ValueError("expected a GradientBoostingClassifier")
    if len(model.classes_) != 2 or model.estimators_.shape[1] != 1:
        raise ValueError("expected a gradient-boosted classifier of two classes")
    n = model.n_features_in_
    base = model._raw_predict_init(np.zeros((1, n), dtype=np.float32))
    return {
        "format": FORMAT,
        "kind": "gradient_boosted_trees",
        "features": [{"name": name, "unit": unit} for name, unit in _features(features, n)],
        "base_score": _num(base[0, 0]),
        "learning_rate": _num(model.learning_rate),
        "input_rounding": "binary32",
        "trees": [{"nodes": _tree_nodes(est.tree_)} for est in model.estimators_[:, 0]],
    }


def artifact_of(model, features):
    """The artifact (a dict) of either kind."""
    from sklearn.pipeline import Pipeline
    return lr_artifact(model, features) if isinstance(model, Pipeline) else gbt_artifact(model, features)


def _dumps(v):
    return json.dumps(v, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))


def artifact_text(artifact):
    """The artifact's JSON text: one member per line, a tree's nodes one per line; numbers as repr writes them."""
    lines = []
    items = list(artifact.items())
    for i, (key, value) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if key == "features":
            body = ",\n".join("    " + _dumps(f) for f in value)
            lines.append(f'  "features": [\n{body}\n  ]{comma}')
        elif key == "trees":
            trees = []
            for t in value:
                nodes = ",\n".join("      " + _dumps(nd) for nd in t["nodes"])
                trees.append(f'    {{"nodes": [\n{nodes}\n    ]}}')
            lines.append('  "trees": [\n' + ",\n".join(trees) + f"\n  ]{comma}")
        else:
            lines.append(f"  {_dumps(key)}: {_dumps(value)}{comma}")
    text = "{\n" + "\n".join(lines) + "\n}\n"
    if json.loads(text) != artifact:
        raise AssertionError("the artifact text does not read back to the artifact")
    return text


def logit(p):
    return math.log(p / (1 - p))


def linear_predictor(artifact, x):
    """The linear predictor of `artifact` (a dict) on feature values `x` (in the order of its features), with the
    arithmetic of docs/model-evidence.md: binary64 operations in the order written (CPython floats do not fuse)."""
    if artifact["kind"] == "logistic_regression":
        s = 0.0
        for xi, m, sc, c in zip(x, artifact["means"], artifact["scales"], artifact["coefficients"]):
            z = (float(xi) - m) / sc
            s = s + c * z
        return s + artifact["intercept"]
    binary32 = artifact["input_rounding"] == "binary32"
    values = [float(np.float32(v)) if binary32 else float(v) for v in x]
    lp, rate = artifact["base_score"], artifact["learning_rate"]
    for tree in artifact["trees"]:
        nodes, node = tree["nodes"], 0
        while "value" not in nodes[node]:
            n = nodes[node]
            node = n["left"] if values[n["feature"]] <= n["threshold"] else n["right"]
        lp = lp + rate * nodes[node]["value"]
    return lp


def verdict(card, lp):
    """The gate's verdict on a linear predictor: unknown in [grey_zone_lp[0], grey_zone_lp[1]), else pass when
    lp >= threshold_lp, else fail."""
    op = card["operating_point"]
    low, high = op["grey_zone_lp"]
    if low <= lp < high:
        return "unknown"
    return "pass" if lp >= op["threshold_lp"] else "fail"


def make_card(*, model_id, version, title, predicts, intended_use, population, artifact_text, settings_text,
              extraction, training, validation, operating_point):
    """The card file `trialgate model register --card` reads: every member of the model.registered payload but
    `artifact` and `extraction.settings` (which register reads from the artifact and settings files), with
    `artifact_sha256`, `extraction.settings_sha256` and the operating point's `threshold_lp` and `grey_zone_lp`
    (the logits of `threshold` and `grey_zone`)."""
    extraction = {k: v for k, v in extraction.items() if k not in ("settings", "settings_sha256")}
    extraction["settings_sha256"] = hashlib.sha256(settings_text.encode("utf-8")).hexdigest()
    op = {k: v for k, v in operating_point.items() if k not in ("threshold_lp", "grey_zone_lp")}
    op["threshold_lp"] = logit(op["threshold"])
    op["grey_zone_lp"] = [logit(op["grey_zone"][0]), logit(op["grey_zone"][1])]
    return {
        "model_id": model_id,
        "version": version,
        "title": title,
        "predicts": predicts,
        "intended_use": intended_use,
        "population": population,
        "artifact_sha256": hashlib.sha256(artifact_text.encode("utf-8")).hexdigest(),
        "extraction": extraction,
        "training": training,
        "validation": validation,
        "operating_point": op,
    }


def card_text(card):
    return json.dumps(card, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description="Convert a fitted scikit-learn model (joblib or pickle) to trialgate.model/1, "
                                             "and optionally write its card.",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="the fitted model: a joblib or pickle file")
    ap.add_argument("--features", nargs="+", required=True, help="the inputs in column order: NAME or NAME=UNIT")
    ap.add_argument("--out", required=True, help="the artifact file to write")
    ap.add_argument("--card-info", help="JSON: the card's descriptive members (see the module's help)")
    ap.add_argument("--settings", help="the pyradiomics parameter file (with --card-info)")
    ap.add_argument("--card-out", help="the card file to write (with --card-info)")
    args = ap.parse_args(argv)
    if bool(args.card_info) != bool(args.card_out) or (args.card_info and not args.settings):
        ap.error("--card-info, --settings and --card-out go together")
    try:
        import joblib
        model = joblib.load(args.model)
    except ImportError:
        with open(args.model, "rb") as f:
            model = pickle.load(f)  # only a file you made yourself: unpickling runs code
    try:
        text = artifact_text(artifact_of(model, args.features))
    except ValueError as err:
        print(f"export_model: {err}", file=sys.stderr)
        return 1
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    if args.card_info:
        with open(args.card_info, encoding="utf-8") as f:
            info = json.load(f)
        with open(args.settings, "rb") as f:
            settings = f.read().decode("utf-8")
        card = make_card(artifact_text=text, settings_text=settings, **info)
        with open(args.card_out, "w", encoding="utf-8") as f:
            f.write(card_text(card))
    print(f"export_model: wrote {args.out}" + (f" and {args.card_out}" if args.card_out else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
