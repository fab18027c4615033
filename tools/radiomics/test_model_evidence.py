#!/usr/bin/env python3
"""End to end: a radiomics model as evidence, from CT phantom to audit bundle, against scikit-learn.

    python3 tools/radiomics/test_model_evidence.py --trialgate .build/debug/trialgate [-v] [--keep DIR]

1. Synthetic CT volumes with lesions and masks (phantom.py); their features extracted with extract.py (from the
   card file, from `trialgate model show`, and recorded through `trialgate record radiomics` and the socket
   request line of `--request`).
2. Two models trained with scikit-learn on synthetic feature vectors: a standardised logistic regression and a
   GradientBoostingClassifier (20 trees of depth 3), exported to trialgate.model/1 and registered in a fresh
   store, with a third registration (the same logistic artifact) whose card has a grey zone.
3. Every case is recorded and scored: TrialGate's linear predictor must equal scikit-learn's decision_function
   (logistic) or raw prediction (trees) to 1e-12, its probability predict_proba to 1e-12, and its gate (decide)
   must agree with scikit-learn's decision, lp >= threshold_lp (unknown inside the grey zone), on every case,
   including cases placed within 1e-9 of the threshold: for the logistic model, one feature moved so that the
   linear predictor lands at threshold_lp +- k*1e-10 and exactly on it where a feature value reaches it; for the
   trees, a feature set exactly on a split threshold, and on the binary32 values next to it.
4. The refusals: a model_score.recorded 1e-6 away from the recomputed score; a swapped artifact at registration; a
   score naming an unregistered version; a failed QC gives needs_review naming QC.
5. The exported bundle passes audit/verify_bundle.py and carries each artifact byte for byte.

Prints one summary line; exits 1 on any failure.
"""

import argparse
import datetime
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import export_model as em  # noqa: E402
from extract import pyradiomics_software, unit_of  # noqa: E402
from train_demo_model import FEATURES, SETTINGS, synthetic_cases  # noqa: E402

failures = []
notes = []


def check(ok, what):
    if not ok:
        failures.append(what)
    return ok


def expit(lp):
    return 1.0 / (1.0 + math.exp(-lp))


class TrialGate:
    """A fresh store driven through the command line."""

    def __init__(self, binary, tmp):
        self.binary, self.tmp = binary, tmp
        self.store = os.path.join(tmp, "t.sqlite")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALGATE_")}
        self.env.update(TRIALGATE_STORE=self.store, TRIALGATE_ACTOR="alice")
        self.calls = 0

    def run(self, *args, stdin=None):
        self.calls += 1
        return subprocess.run([self.binary, *args], cwd=self.tmp, env=self.env, capture_output=True, text=True,
                              input=stdin, timeout=300)

    def json(self, *args):
        r = self.run(*args, "--json")
        if r.returncode != 0:
            raise RuntimeError(f"trialgate {' '.join(args)} exited {r.returncode}: {(r.stderr or r.stdout).strip()}")
        return json.loads(r.stdout)

    def refused(self, what, args, must_name):
        """`args` must exit non-zero with a message naming each of `must_name`."""
        r = self.run(*args)
        message = (r.stderr + r.stdout).strip()
        ok = r.returncode != 0 and all(word.lower() in message.lower() for word in must_name)
        check(ok, f"{what}: expected a refusal naming {', '.join(must_name)}; exit {r.returncode}: {message[:400]}")
        return message


def py(*args, cwd):
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


# --- models ---------------------------------------------------------------------------------------------------

def train_models():
    rng = np.random.default_rng(2020)
    X, y = synthetic_cases(rng, 400)
    lr = Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression(C=1.0, max_iter=1000))]).fit(X, y)
    gbt = GradientBoostingClassifier(n_estimators=20, max_depth=3, learning_rate=0.3, random_state=0).fit(X, y)
    return X, lr, gbt


def card_for(model_id, artifact_text, threshold, grey_zone, lp_override=None):
    card = em.make_card(
        model_id=model_id, version="1.0.0", title=f"{model_id}: test model on synthetic data",
        predicts="a synthetic label", intended_use="Testing only: trained on synthetic data, not a validated instrument.",
        population="None: synthetic feature vectors.", artifact_text=artifact_text, settings_text=SETTINGS,
        extraction={"software": pyradiomics_software(), "image_type": "Original", "resampling_mm": [1, 1, 1],
                    "bin_width": 25, "contrast_phase": "portal_venous"},
        training={"dataset": "synthetic (tools/radiomics/test_model_evidence.py)", "size": 400},
        validation={"dataset": "synthetic (the training draw; a test fixture)", "size": 400, "auc": 0.8, "auc_ci95": [0.75, 0.85],
                    "calibration": "not assessed: a test fixture"},
        operating_point={"threshold": threshold, "grey_zone": grey_zone, "source": "a test fixture"})
    if lp_override is not None:
        # The threshold in linear-predictor units set to an lp the trees reach, and the probability to its expit:
        # the card's rule (lp within 1e-9 of the logit) holds.
        op = card["operating_point"]
        op["threshold_lp"] = lp_override
        op["grey_zone_lp"] = [lp_override, lp_override]
        check(abs(em.logit(op["threshold"]) - lp_override) < 1e-9, "gbt card: threshold_lp is not within 1e-9 of the logit")
    return card


# --- cases near the gate --------------------------------------------------------------------------------------

def nudge(x, j, f, target, want_side, steps=4000):
    """`x` with feature `j` moved so that f(x) is as close to `target` as binary64 allows on side `want_side`
    (">=" or "<"), or == target when want_side is "=="; None when no value within `steps` ulps gets there."""
    x = list(map(float, x))
    lo, hi = -1e7, 1e7
    # Bisection on the feature value (f is monotone in one feature), then a walk over neighbouring doubles.
    sign = 1.0 if f(x[:j] + [x[j] + 1.0] + x[j + 1:]) > f(x) else -1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if (f(x[:j] + [mid] + x[j + 1:]) - target) * sign < 0:
            lo = mid
        else:
            hi = mid
    v = hi
    best = None
    for direction in (math.inf, -math.inf):
        w = v
        for _ in range(steps):
            lp = f(x[:j] + [w] + x[j + 1:])
            ok = lp == target if want_side == "==" else (lp >= target if want_side == ">=" else lp < target)
            if ok and (best is None or abs(lp - target) < abs(best[1] - target)):
                best = (w, lp)
            if want_side == "==" and ok:
                break
            w = math.nextafter(w, direction)
    if best is None:
        return None
    return x[:j] + [best[0]] + x[j + 1:]


def f32_neighbours(t):
    """The binary32 values around a double threshold t: f32(t) rounded, the next binary32 above and below it."""
    r = np.float32(t)
    return [float(r), float(np.nextafter(r, np.float32(np.inf))), float(np.nextafter(r, np.float32(-np.inf)))]


def tree_path(artifact, tree_index, x):
    nodes, node, path = artifact["trees"][tree_index]["nodes"], 0, []
    while "value" not in nodes[node]:
        n = nodes[node]
        path.append(n)
        node = n["left"] if float(np.float32(x[n["feature"]])) <= n["threshold"] else n["right"]
    return path


# --- the test ------------------------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description="End-to-end test of models as evidence against scikit-learn.")
    ap.add_argument("--trialgate", required=True, help="the trialgate binary")
    ap.add_argument("--keep", help="keep the work directory here (default: a temporary one, removed)")
    ap.add_argument("-v", action="store_true", help="print every case")
    args = ap.parse_args(argv)
    binary = os.path.abspath(args.trialgate)
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        print(f"FAILED: no trialgate binary at {binary}")
        return 1
    tmp = os.path.abspath(args.keep) if args.keep else tempfile.mkdtemp(prefix="tg-model-")
    if args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
    try:
        return run(binary, tmp, args.v)
    except Exception as err:  # a step that could not run is a failure, said as such
        import traceback
        traceback.print_exc()
        print(f"FAILED: {err}")
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def run(binary, tmp, verbose):
    tg = TrialGate(binary, tmp)
    help_text = tg.run("--help").stdout
    if "\n  model " not in help_text:
        print(f"FAILED: {binary} has no `model` command (a build without models as evidence)")
        return 1
    today = datetime.datetime.now(datetime.timezone.utc).date()
    study_date, qc_date = (today - datetime.timedelta(days=10)).isoformat(), (today - datetime.timedelta(days=9)).isoformat()

    # Models and their files.
    X_train, lr, gbt = train_models()
    features = [(name, unit_of(name)) for name in FEATURES]
    lr_art, gbt_art = em.lr_artifact(lr, features), em.gbt_artifact(gbt, features)
    lr_text, gbt_text = em.artifact_text(lr_art), em.artifact_text(gbt_art)
    # The trees' threshold: the lp of one training case, so that cases which keep its paths land exactly on it.
    x_gate = [float(v) for v in X_train[np.argsort(gbt.decision_function(X_train))[len(X_train) // 2]]]
    gbt_threshold_lp = em.linear_predictor(gbt_art, x_gate)
    lr_card = card_for("test-lr", lr_text, 0.6, [0.6, 0.6])
    grey_card = card_for("test-lr-grey", lr_text, 0.6, [0.45, 0.65])
    gbt_card = card_for("test-gbt", gbt_text, expit(gbt_threshold_lp), [expit(gbt_threshold_lp)] * 2, lp_override=gbt_threshold_lp)
    files = {}
    for name, text in [("lr.model.json", lr_text), ("gbt.model.json", gbt_text), ("params.yaml", SETTINGS),
                       ("lr.card.json", em.card_text(lr_card)), ("grey.card.json", em.card_text(grey_card)),
                       ("gbt.card.json", em.card_text(gbt_card))]:
        files[name] = write(os.path.join(tmp, name), text)
    models = {  # model id -> (card, artifact, scikit-learn model)
        "test-lr": (lr_card, lr_art, lr), "test-lr-grey": (grey_card, lr_art, lr), "test-gbt": (gbt_card, gbt_art, gbt)}

    # The store, the models, the policy.
    tg.json("init", "--trial", "RADIOMICS-T1")
    for model_id, card_file, art_file in [("test-lr", "lr.card.json", "lr.model.json"),
                                          ("test-lr-grey", "grey.card.json", "lr.model.json"),
                                          ("test-gbt", "gbt.card.json", "gbt.model.json")]:
        tg.json("model", "register", "--card", files[card_file], "--artifact", files[art_file], "--settings", files["params.yaml"])
    refusals = 0
    tg.refused("swapped artifact at registration", ["model", "register", "--card", files["grey.card.json"],
               "--artifact", files["gbt.model.json"], "--settings", files["params.yaml"]], ["artifact_sha256"])
    tg.refused("settings other than the card's at registration", ["model", "register", "--card", files["gbt.card.json"],
               "--artifact", files["gbt.model.json"], "--settings", write(os.path.join(tmp, "other.yaml"), SETTINGS + "# edited\n")],
               ["settings_sha256"])
    tg.refused("the same id@version registered twice", ["model", "register", "--card", files["lr.card.json"],
               "--artifact", files["lr.model.json"], "--settings", files["params.yaml"]], ["test-lr@1.0.0", "already"])
    refusals += 3
    listed = tg.json("model", "list")
    check("test-gbt" in json.dumps(listed) and "test-lr-grey" in json.dumps(listed), f"model list: {listed}")
    shown = tg.json("model", "show", "test-gbt@1.0.0")
    shown = shown.get("card", shown) if "extraction" not in shown else shown  # the card, or the card under "card"
    check(shown.get("artifact") == gbt_text and shown.get("extraction", {}).get("settings") == SETTINGS,
          "model show: the artifact and settings texts are not the registered bytes")
    check(tg.run("model", "show", "test-gbt@1.0.0", "--artifact").stdout == gbt_text, "model show --artifact: not the artifact's bytes")
    write(os.path.join(tmp, "shown-lr.json"), tg.run("model", "show", "test-lr@1.0.0", "--json").stdout)

    gate = "when: {{model: {m}, versions: [\"1.0.0\"], require_qc: true, contrast_phase: portal_venous, max_age_days: 60}}"
    policy = ["policy: model-evidence-test", 'version: "1.0.0"', "title: Model gates of the end-to-end test", "clinical_model: 2",
              "criteria:"]
    for cid, m in [("R1-lr", "test-lr"), ("R2-lr-grey", "test-lr-grey"), ("R3-gbt", "test-gbt")]:
        policy += [f"  - id: {cid}", "    kind: inclusion", f"    description: {m} at or above its threshold",
                   "    source: test fixture", "    " + gate.format(m=m)]
    tg.json("policy", "publish", write(os.path.join(tmp, "policy.yaml"), "\n".join(policy) + "\n"))

    # Phantoms and extraction.
    record_args = ["--study-date", study_date, "--contrast-phase", "portal_venous", "--segmentation-reader", "reader-a",
                   "--segmentation-method", "manual", "--qc-status", "pass", "--qc-reader", "reader-b", "--qc-date", qc_date]
    phantoms = [["--seed", "31", "--lesion-hu", "130"], ["--seed", "32", "--lesion-hu", "95", "--radius", "14", "12", "10"],
                ["--seed", "33", "--lesion-hu", "60", "--radius", "9"], ["--seed", "34", "--lesion-hu", "85", "--lesion-sd", "28"],
                ["--seed", "35", "--lesion-hu", "110", "--texture-hu", "25"], ["--seed", "36", "--lesion-hu", "40", "--radius", "15", "13", "11"]]
    extracted = []
    for i, pargs in enumerate(phantoms, start=1):
        image, mask = os.path.join(tmp, f"ct-{i}.nii.gz"), os.path.join(tmp, f"mask-{i}.nii.gz")
        r = py(os.path.join(HERE, "phantom.py"), *pargs, "--out-image", image, "--out-mask", mask, cwd=tmp)
        if not check(r.returncode == 0, f"phantom {i}: {r.stderr}"):
            continue
        ids = ["--study-uid", f"ST-{i:03d}", "--series-uid", f"SE-{i:03d}"]
        if i == 1:  # the card as `trialgate model show --json` prints it
            source = ["--card", os.path.join(tmp, "shown-lr.json")]
        elif i == 2:  # read from the store by the tool itself
            source = ["--model", "test-lr@1.0.0", "--trialgate", binary, "--store", tg.store]
        else:
            source = ["--card", files["lr.card.json"], "--settings", files["params.yaml"], "--artifact", files["lr.model.json"]]
        r = py(os.path.join(HERE, "extract.py"), "--image", image, "--mask", mask, *source, *ids, *record_args, cwd=tmp)
        if not check(r.returncode == 0, f"extract.py on phantom {i}: {r.stderr.strip()}"):
            continue
        fields = json.loads(r.stdout)
        with open(mask, "rb") as f:
            check(fields["mask_sha256"] == hashlib.sha256(f.read()).hexdigest(), f"phantom {i}: mask_sha256 is not the mask file's")
        check(fields["slice_thickness_mm"] == 2.5 and fields["settings_sha256"] == lr_card["extraction"]["settings_sha256"]
              and fields["software"] == pyradiomics_software() and sorted(fields["features"]) == sorted(FEATURES),
              f"phantom {i}: record fields {json.dumps(fields)[:300]}")
        extracted.append((f"phantom {i}", fields, image, mask))
    if not extracted:
        print("FAILED: no phantom could be extracted: " + "; ".join(failures))
        return 1
    template = {k: v for k, v in extracted[0][1].items() if k != "features"}

    # extract.py's own refusals: another parameter file, a unit the artifact does not expect.
    _, _, image, mask = extracted[0]
    r = py(os.path.join(HERE, "extract.py"), "--image", image, "--mask", mask, "--card", files["lr.card.json"],
           "--settings", os.path.join(tmp, "other.yaml"), "--artifact", files["lr.model.json"], "--study-uid", "S", "--series-uid", "S",
           *record_args, cwd=tmp)
    check(r.returncode == 1 and "settings_sha256" in r.stderr, f"extract.py with another parameter file: exit {r.returncode}: {r.stderr}")
    wrong_unit = json.loads(lr_text)
    wrong_unit["features"][5]["unit"] = "cm3"
    wrong_text = json.dumps(wrong_unit)
    wrong_card = dict(lr_card, artifact_sha256=hashlib.sha256(wrong_text.encode()).hexdigest())
    r = py(os.path.join(HERE, "extract.py"), "--image", image, "--mask", mask,
           "--card", write(os.path.join(tmp, "wrong.card.json"), json.dumps(wrong_card)), "--settings", files["params.yaml"],
           "--artifact", write(os.path.join(tmp, "wrong.model.json"), wrong_text), "--study-uid", "S", "--series-uid", "S",
           *record_args, cwd=tmp)
    check(r.returncode == 1 and all(w in r.stderr for w in ("original_shape_MeshVolume", "mm3", "cm3")),
          f"extract.py with an artifact expecting cm3: exit {r.returncode}: {r.stderr}")
    refusals += 2

    # The cases: feature vectors, each with how it was made.
    cases = [(name, [fields["features"][f]["value"] for f in FEATURES], fields) for name, fields, _, _ in extracted]
    rng = np.random.default_rng(99)
    X_syn, _ = synthetic_cases(rng, 24)
    cases += [(f"synthetic {i}", [float(v) for v in x], None) for i, x in enumerate(X_syn, start=1)]
    lr_f = lambda x: em.linear_predictor(lr_art, x)  # noqa: E731
    sk_lr = lambda x: float(lr.decision_function(np.array([x]))[0])  # noqa: E731
    near, split_cases = 0, 0
    for card, label in [(lr_card, "threshold"), (grey_card, "grey zone low"), (grey_card, "grey zone high")]:
        op = card["operating_point"]
        target = {"threshold": op["threshold_lp"], "grey zone low": op["grey_zone_lp"][0], "grey zone high": op["grey_zone_lp"][1]}[label]
        for k in (-3, -1, 1, 3):
            x = nudge(X_syn[k % len(X_syn)], 0 if k < 0 else 1, lr_f, target + k * 1e-10, ">=" if k > 0 else "<")
            if check(x is not None, f"no feature value puts the logistic lp at {label} {k:+d}e-10"):
                cases.append((f"lr {label} {k:+d}e-10", x, None))
                near += 1
        # Exactly on it: a feature value whose lp is the target in the format's arithmetic and in scikit-learn's.
        found = 0
        for b in range(len(X_syn)):
            for j in range(len(FEATURES)):
                x = nudge(X_syn[b], j, lr_f, target, "==", steps=300)
                if x is not None and sk_lr(x) == target:
                    cases.append((f"lr exactly on the {label} (case {b}, feature {j})", x, None))
                    found += 1
                    near += 1
                    break
            if found >= 2:
                break
        if not found:
            notes.append(f"no feature value puts the logistic lp exactly on the {label} (lp = s + intercept cannot land on "
                         f"{target!r} from these cases); its cases at +-1e-10 and +-3e-10 stand")
    # Trees: features on split thresholds of the gate case's paths, and the binary32 values next to them.
    for t in range(4):
        for node in tree_path(gbt_art, t, x_gate):
            j, th = node["feature"], node["threshold"]
            for v in [th, math.nextafter(th, math.inf), math.nextafter(th, -math.inf)] + f32_neighbours(th):
                cases.append((f"gbt tree {t} feature {j} at {v!r} (threshold {th!r})", x_gate[:j] + [v] + x_gate[j + 1:], None))
                split_cases += 1
    cases.append(("gbt gate case itself", x_gate, None))
    # The cases where rounding to binary32 changes a path (a tie rounded to even, a value just above a threshold that
    # is itself a binary32 value): there, comparing unrounded values would give another lp.
    unrounded = dict(gbt_art, input_rounding="none")
    rounding_matters = sum(em.linear_predictor(unrounded, x) != em.linear_predictor(gbt_art, x) for _, x, _ in cases)
    check(rounding_matters > 0, "no case where binary32 rounding changes the trees' path: the rounding is untested")

    # Record, score and decide every case.
    # scikit-learn on each case alone (its logistic decision_function is a BLAS product, whose summation order can
    # differ between one row and many: the exact-boundary cases were chosen with one row).
    one = lambda f, x: float(np.ravel(f(np.array([x])))[-1])  # noqa: E731
    sk = {"test-lr": ([one(lr.decision_function, c[1]) for c in cases], [one(lr.predict_proba, c[1]) for c in cases]),
          "test-gbt": ([one(gbt.decision_function, c[1]) for c in cases], [one(gbt.predict_proba, c[1]) for c in cases])}
    sk["test-lr-grey"] = sk["test-lr"]
    worst = {"lp": {m: 0.0 for m in models}, "p": {m: 0.0 for m in models}}
    agree = {m: 0 for m in models}
    outcomes = {}
    exact_lp = {m: 0 for m in models}
    for n, (name, x, fields) in enumerate(cases):
        cand = f"TC-{n + 1:04d}"
        tg.json("candidate", "register", cand, "--site", "SITE-01")
        if fields is None:
            fields = dict(template, study_uid=f"ST-C{n + 1:04d}", series_uid=f"SE-C{n + 1:04d}",
                          features={f: {"value": float(v), "unit": unit_of(f)} for f, v in zip(FEATURES, x)})
        if n == 0:  # the socket request line extract.py prints, through `trialgate exec`
            _, _, image, mask = extracted[0]
            r = py(os.path.join(HERE, "extract.py"), "--image", image, "--mask", mask, "--card", files["lr.card.json"],
                   "--settings", files["params.yaml"], "--artifact", files["lr.model.json"], "--candidate", cand, "--request",
                   "--study-uid", "ST-001", "--series-uid", "SE-001", *record_args, cwd=tmp)
            reply = tg.run("exec", stdin=r.stdout)
            check(r.returncode == 0 and '"ok":true' in reply.stdout, f"extract.py --request through exec: {r.stderr}{reply.stdout}{reply.stderr}")
        elif n == 1:  # extract.py recording with the binary
            _, _, image, mask = extracted[1]
            r = py(os.path.join(HERE, "extract.py"), "--image", image, "--mask", mask, "--card", files["lr.card.json"],
                   "--settings", files["params.yaml"], "--artifact", files["lr.model.json"], "--candidate", cand,
                   "--trialgate", binary, "--store", tg.store, "--study-uid", "ST-002", "--series-uid", "SE-002", *record_args, cwd=tmp)
            check(r.returncode == 0, f"extract.py --trialgate: {r.stderr}")
        else:
            tg.json("record", "radiomics", "--candidate", cand, "--fields-file", write(os.path.join(tmp, "fields.json"), json.dumps(fields)))
        decision = tg.json("decide", cand)
        d = decision.get("decision", decision)
        outcomes[d.get("outcome")] = outcomes.get(d.get("outcome"), 0) + 1
        observed = {}
        for c in d.get("criteria", []):
            for key, value in (c.get("observed") or {}).items():
                if key.startswith("model."):
                    observed[key[len("model."):]] = (value, c)
        for m, (card, art, _) in models.items():
            score = tg.json("model", "score", "--candidate", cand, "--model", f"{m}@1.0.0")
            lp, p = score.get("linear_predictor"), score.get("probability")
            sk_lp, sk_p = float(sk[m][0][n]), float(sk[m][1][n])
            if not check(isinstance(lp, float) and isinstance(p, float), f"{name} {m}: score {score}"):
                continue
            worst["lp"][m] = max(worst["lp"][m], abs(lp - sk_lp))
            worst["p"][m] = max(worst["p"][m], abs(p - sk_p))
            exact_lp[m] += lp == sk_lp
            check(abs(lp - sk_lp) <= 1e-12, f"{name} {m}: TrialGate lp {lp!r}, scikit-learn {sk_lp!r}")
            check(abs(p - sk_p) <= 1e-12, f"{name} {m}: TrialGate probability {p!r}, scikit-learn {sk_p!r}")
            check(lp == em.linear_predictor(art, x), f"{name} {m}: TrialGate lp {lp!r}, the format's arithmetic {em.linear_predictor(art, x)!r}")
            check(score.get("problems", []) == [], f"{name} {m}: score problems {score.get('problems')}")
            want = em.verdict(card, sk_lp)
            obs, crit = observed.get(m, ({}, {}))
            got = obs.get("verdict")
            if check(got == want, f"{name} {m}: TrialGate's gate says {got}, scikit-learn's lp {sk_lp!r} gives {want} "
                                  f"(threshold_lp {card['operating_point']['threshold_lp']!r})"):
                agree[m] += 1
            check(obs.get("linear_predictor") == lp and obs.get("artifact_sha256") == card["artifact_sha256"]
                  and obs.get("threshold_lp") == card["operating_point"]["threshold_lp"] and obs.get("qc_status") == "pass",
                  f"{name} {m}: the decision's observed {json.dumps(obs)[:300]}")
            check(crit.get("result") == {"pass": "pass", "fail": "fail", "unknown": "unknown"}[want],
                  f"{name} {m}: criterion result {crit.get('result')} for verdict {want}")
            if verbose:
                print(f"  {name:60s} {m:13s} lp {lp!r:24s} sklearn {sk_lp!r:24s} {got}")

    # The refusals of a score from outside, on the first phantom's candidate (TC-0001).
    lp1 = em.linear_predictor(lr_art, cases[0][1])
    p1 = expit(lp1)
    base = ["record", "model-score", "--candidate", "TC-0001", "model=test-lr", "version=1.0.0",
            f"artifact_sha256={lr_card['artifact_sha256']}", "predicts=a synthetic label", f"study_date={study_date}"]
    tg.refused("a score 1e-6 above the recomputed one", base + [f"score={p1 + 1e-6!r}"], ["score"])
    tg.refused("a score 1e-6 below the recomputed one", base + [f"score={p1 - 1e-6!r}"], ["score"])
    r = tg.run(*base, f"score={p1!r}")
    check(r.returncode == 0, f"the recomputed score itself is refused: {r.stderr.strip()}")
    tg.refused("a score naming an unregistered version", [a if a != "version=1.0.0" else "version=9.9.9" for a in base] + [f"score={p1!r}"],
               ["9.9.9"])
    tg.refused("a score naming another artifact", [a if not a.startswith("artifact_sha256=") else f"artifact_sha256={gbt_card['artifact_sha256']}"
                                                   for a in base] + [f"score={p1!r}"], ["artifact_sha256"])
    refusals += 4

    # A failed QC: the gate needs review, naming QC.
    cand = "TC-QC-FAIL"
    tg.json("candidate", "register", cand, "--site", "SITE-01")
    fields = dict(extracted[0][1], qc_status="fail")
    tg.json("record", "radiomics", "--candidate", cand, "--fields-file", write(os.path.join(tmp, "fields.json"), json.dumps(fields)))
    d = tg.json("decide", cand)
    d = d.get("decision", d)
    gates = [c for c in d.get("criteria", []) if any(k.startswith("model.") for k in (c.get("observed") or {}))]
    check(d.get("outcome") == "needs_review" and len(gates) == 3 and all(
        c.get("result") == "unknown" and "qc" in (c.get("reason") or "").lower() for c in gates),
        f"failed QC: outcome {d.get('outcome')}, gates " + json.dumps([(c.get("id"), c.get("result"), c.get("reason")) for c in gates]))
    refusals += 1

    # The bundle, through the independent verifier.
    bundle = os.path.join(tmp, "bundle")
    r = tg.run("export", "--out", bundle)
    check(r.returncode == 0, f"export: {r.stderr.strip()}")
    for m, text in [("test-lr", lr_text), ("test-lr-grey", lr_text), ("test-gbt", gbt_text)]:
        path = os.path.join(bundle, "models", f"{m}@1.0.0.json")
        check(os.path.isfile(path) and open(path, encoding="utf-8").read() == text, f"bundle: {path} is not the registered artifact")
    r = py(os.path.join(REPO, "audit", "verify_bundle.py"), bundle, cwd=tmp)
    check(r.returncode == 0 and r.stdout.startswith("OK"), f"audit/verify_bundle.py: exit {r.returncode}: {r.stdout[-2000:]}{r.stderr[-1000:]}")
    verified = r.stdout.strip().splitlines()[0] if r.stdout else ""

    fmt = lambda d: ", ".join(f"{m} {v:.3g}" for m, v in d.items())  # noqa: E731
    summary = (f"{len(cases)} cases ({len(extracted)} extracted from phantoms, {near} logistic within 1e-9 of a threshold or grey-zone "
               f"boundary, {split_cases} trees on a split or the binary32 values next to it, "
               f"{rounding_matters} of them where binary32 rounding changes the lp) "
               f"x 3 registered models; max |TrialGate - scikit-learn| lp: {fmt(worst['lp'])}; probability: {fmt(worst['p'])}; "
               f"lp bit-identical to scikit-learn: " + ", ".join(f"{m} {exact_lp[m]}/{len(cases)}" for m in models)
               + "; gate agrees: " + ", ".join(f"{m} {agree[m]}/{len(cases)}" for m in models)
               + f"; outcomes {outcomes}; {refusals} refusals checked; {tg.calls} trialgate calls; verifier: {verified[:120]}")
    for note in notes:
        print(f"note: {note}")
    if failures:
        print(f"FAILED: {len(failures)} checks")
        for f in failures[:50]:
            print("  " + f)
        print(f"({summary})")
        return 1
    print(f"OK: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
