#!/usr/bin/env python3
"""Checks the layout of a TrialGate HTML report in headless Chromium at 1280 px, and that its PDF says the same.

Usage: scripts/report-layout.py REPORT.html [--screenshot OUT.png] [--pdf REPORT.pdf] [--chromium PATH]

Chromium loads a copy of the page with a small measuring script added at the end (the report itself has no scripts and forbids them by its Content-Security-Policy, which the copy drops),
and dumps the DOM with the measurements in it. The check fails (exit 1, naming each problem) when:
  - the page is wider than the 1280 px window (a horizontal scroll bar);
  - a timestamp, site name or candidate id wraps onto a second line (an id longer than 24 characters, class `long`,
    may break: TrialGate ids may have 64);
  - two boxes of the CONSORT flow overlap, or a box's text runs outside it;
  - an arrow does not start on the edge of the box it comes from and end on the edge of the box it goes to, or a box
    other than the first has no arrow into it;
  - the flow's counts do not add up (assessed = excluded + not yet decided + withdrawn during assessment + found
    eligible; found eligible = withdrawn after + awaiting sign-off + overridden + confirmed);
  - the histogram has no tick values on either axis, or a bar without its count.
With --pdf, pdftotext (poppler-utils) reads the PDF, which must hold every box title of the flow with its count, the
checkpoint's root and every candidate of the screening log. With --screenshot, a 1280 px wide PNG of the whole page.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

WIDTH = 1280

MEASURE = r"""
<script>
(function () {
  const out = {problems: [], titles: {}, candidates: [], root: null};
  const bad = (m) => out.problems.push(m);
  const doc = document.documentElement;
  out.height = Math.ceil(Math.max(doc.scrollHeight, document.body.scrollHeight));
  if (doc.scrollWidth > window.innerWidth) bad(`the page is ${doc.scrollWidth} px wide, wider than the ${window.innerWidth} px window`);
  for (const el of document.querySelectorAll('.ts, .site, .id:not(.long)')) {
    const rects = el.getClientRects();
    const lh = parseFloat(getComputedStyle(el).fontSize) * 1.6;
    const h = el.getBoundingClientRect().height;
    if (rects.length !== 1 || h > lh) bad(`"${el.textContent}" (${el.className}) wraps: ${rects.length} line boxes, ${h.toFixed(1)} px high`);
  }
  const boxes = {};
  for (const r of document.querySelectorAll('rect.flow-box')) {
    const b = {x: +r.getAttribute('x'), y: +r.getAttribute('y'), w: +r.getAttribute('width'), h: +r.getAttribute('height'), el: r};
    boxes[r.dataset.box] = b;
    for (const t of r.parentNode.querySelectorAll('text')) {
      const tb = t.getBBox();
      if (tb.x < b.x || tb.y < b.y || tb.x + tb.width > b.x + b.w + 0.5 || tb.y + tb.height > b.y + b.h + 0.5)
        bad(`text "${t.textContent}" runs outside box ${r.dataset.box}`);
    }
    const title = r.parentNode.querySelector('text');
    out.titles[r.dataset.box] = title ? title.textContent : '';
  }
  const ids = Object.keys(boxes);
  if (ids.length < 9) bad(`the flow has ${ids.length} boxes, expected 9`);
  for (let i = 0; i < ids.length; i++) for (let j = i + 1; j < ids.length; j++) {
    const a = boxes[ids[i]], b = boxes[ids[j]];
    if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) bad(`boxes ${ids[i]} and ${ids[j]} overlap`);
  }
  const onEdge = (p, b) => {
    const inX = p.x >= b.x - 1 && p.x <= b.x + b.w + 1, inY = p.y >= b.y - 1 && p.y <= b.y + b.h + 1;
    const edgeX = Math.abs(p.x - b.x) <= 1 || Math.abs(p.x - (b.x + b.w)) <= 1;
    const edgeY = Math.abs(p.y - b.y) <= 1 || Math.abs(p.y - (b.y + b.h)) <= 1;
    return inX && inY && (edgeX || edgeY);
  };
  const into = new Set();
  for (const p of document.querySelectorAll('path.flow-arrow')) {
    const from = boxes[p.dataset.from], to = boxes[p.dataset.to];
    if (!from || !to) { bad(`an arrow names boxes ${p.dataset.from} → ${p.dataset.to}, which are not both there`); continue; }
    const start = p.getPointAtLength(0), end = p.getPointAtLength(p.getTotalLength());
    if (!onEdge(start, from)) bad(`the arrow ${p.dataset.from} → ${p.dataset.to} does not start on the edge of ${p.dataset.from}`);
    if (!onEdge(end, to)) bad(`the arrow ${p.dataset.from} → ${p.dataset.to} does not end on the edge of ${p.dataset.to}`);
    into.add(p.dataset.to);
  }
  for (const id of ids) if (id !== 'assessed' && !into.has(id)) bad(`no arrow leads to box ${id}`);
  const hist = document.querySelector('svg[aria-label="Model score histogram"]');
  if (!hist) bad('no model score histogram');
  else {
    const xTicks = hist.querySelectorAll('text.tick-x').length, yTicks = hist.querySelectorAll('text.tick-y').length;
    if (xTicks < 2 || yTicks < 2) bad(`the histogram has ${xTicks} x-axis and ${yTicks} y-axis tick values`);
    const bars = hist.querySelectorAll('rect.bar').length, counts = hist.querySelectorAll('text.count').length;
    if (bars !== counts) bad(`the histogram has ${bars} bars and ${counts} counts`);
  }
  for (const td of document.querySelectorAll('table.log td:first-child span.id')) out.candidates.push(td.textContent);
  const code = [...document.querySelectorAll('p.meta code')].map(c => c.textContent).find(t => /^[0-9a-f]{64}$/.test(t) && document.body.innerText.includes('Signed checkpoint'));
  out.root = code || null;
  const pre = document.createElement('pre');
  pre.id = 'layout-result';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""


def find_chromium(given):
    for name in [given, os.environ.get("TRIALGATE_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"]:
        if name and shutil.which(name):
            return shutil.which(name)
    sys.exit("report-layout: no Chromium found (install chromium, or pass --chromium PATH)")


def chromium(browser, profile, *args):
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def count(title):
    m = re.search(r"\(n=(\d+)\)", title)
    return int(m.group(1)) if m else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("html")
    ap.add_argument("--screenshot")
    ap.add_argument("--pdf")
    ap.add_argument("--chromium")
    a = ap.parse_args()
    browser = find_chromium(a.chromium)
    page = open(a.html, encoding="utf-8").read()
    problems = []
    with tempfile.TemporaryDirectory() as work:
        measured = os.path.join(work, "measured.html")
        with open(measured, "w", encoding="utf-8") as f:
            # The page forbids scripts (its Content-Security-Policy); this copy lifts that to run the measuring one.
            f.write(re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page).replace("</body>", MEASURE + "</body>"))
        run = chromium(browser, os.path.join(work, "p1"), f"--window-size={WIDTH},900", "--virtual-time-budget=3000",
                       "--dump-dom", "file://" + measured)
        m = re.search(r'<pre id="layout-result">(.*?)</pre>', run.stdout, re.S)
        if not m:
            sys.exit(f"report-layout: Chromium gave no measurements (exit {run.returncode}): {run.stderr[-500:]}")
        result = json.loads(m.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
        problems += result["problems"]
        t = {k: count(v) for k, v in result["titles"].items()}
        if None in t.values():
            problems.append(f"a flow box has no count in its title: {result['titles']}")
        else:
            upper = t["excluded"] + t["undecided"] + t["withdrawn-before"] + t["eligible"]
            lower = t["withdrawn-after"] + t["awaiting"] + t["overridden"] + t["confirmed"]
            if upper != t["assessed"]:
                problems.append(f"assessed {t['assessed']} ≠ excluded + not yet decided + withdrawn + eligible = {upper}")
            if lower != t["eligible"]:
                problems.append(f"found eligible {t['eligible']} ≠ withdrawn after + awaiting + overridden + confirmed = {lower}")
        if a.screenshot:
            shot = chromium(browser, os.path.join(work, "p2"), f"--window-size={WIDTH},{result['height']}",
                            f"--screenshot={os.path.abspath(a.screenshot)}", "file://" + os.path.abspath(a.html))
            if shot.returncode != 0 or not os.path.exists(a.screenshot):
                problems.append(f"no screenshot (exit {shot.returncode}): {shot.stderr[-300:]}")
        if a.pdf:
            text = subprocess.run(["pdftotext", "-layout", a.pdf, "-"], capture_output=True, text=True, check=True).stdout
            flat = re.sub(r"\s+", " ", text)
            for box, title in result["titles"].items():
                if re.sub(r"\s+", " ", title) not in flat:
                    problems.append(f"the PDF does not say \"{title}\" (box {box})")
            if result["root"] and result["root"] not in flat.replace(" ", ""):
                problems.append("the PDF does not show the checkpoint's root")
            # An id longer than 24 characters may break across lines in its cell: pdftotext's reading order (without
            # -layout) keeps a cell's lines together, so it is looked for with every space and line break taken out.
            raw = subprocess.run(["pdftotext", a.pdf, "-"], capture_output=True, text=True, check=True).stdout
            joined = re.sub(r"\s+", "", raw)
            missing = [c for c in result["candidates"] if c not in flat and not (len(c) > 24 and re.sub(r"\s+", "", c) in joined)]
            if missing:
                problems.append(f"the PDF misses candidates {missing}")
    for p in problems:
        print("report-layout: FAIL " + p)
    if problems:
        return 1
    print(f"report-layout: OK ({len(result['titles'])} flow boxes, {len(result['candidates'])} candidates, page {result['height']} px high at {WIDTH} px"
          + (", PDF text matches" if a.pdf else "") + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
