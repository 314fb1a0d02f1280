#!/usr/bin/env python3
"""The tables of docs/evaluation.md, from `bourse sim --json`.

For each month and cluster it runs every policy once with the simulator's
defaults (lag 1, pre-copy migrations) and prints, in Markdown:

  - the targets table (issue 13): is the market lowest on pressure but
    repack, does it move less than drs, are its returns under 2 %, is
    there no host swap, does it hold at most 1.05 x hyperv's memory;
  - one table per cluster, every policy and the lower bound;
  - or, with --summary, one line per cluster (the "Other cluster sizes"
    table): --summary 7-4x32,8-6x48 (month-HOSTSxGIB).

  python3 contrib/analysis/eval_tables.py --bourse build/bourse \\
      --traces ../shared/traces/bitbrains-rnd [--months 7,8] \\
      [--hosts 8] [--host-gib 24,32,64] [--param NAME=VALUE ...]
  python3 contrib/analysis/eval_tables.py --summary 7-4x32,7-6x48,...

--param goes to `bourse sim` as it is (a market parameter, to measure a
change before it becomes a default). Python 3 standard library only.
"""
import argparse
import json
import subprocess
import sys

POLICIES = ("market", "static", "hyperv", "esx", "threshold", "drs", "repack")
RIVALS = ("static", "hyperv", "esx", "threshold", "drs")
HELD_TARGET = 1.05
RETURNS_TARGET = 0.02


def fail(msg):
    sys.stderr.write("eval_tables: %s\n" % msg)
    sys.exit(2)


def run_sim(bourse, trace, hosts, gib, params):
    cmd = [bourse, "sim", "--trace", trace, "--hosts", str(hosts),
           "--host-gib", str(gib), "--json"]
    for p in params:
        cmd += ["--param", p]
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, check=False)
    if res.returncode != 0:
        fail("%s: exit %d: %s" % (" ".join(cmd), res.returncode,
                                  res.stderr.strip()))
    try:
        return json.loads(res.stdout)
    except ValueError as e:
        fail("%s: not JSON: %s" % (" ".join(cmd), e))
    return None


def num(x, digits=1):
    """1,234.5 as the doc writes it; whole numbers without the decimals."""
    x = round(x, digits)
    if x == int(x):
        return "{:,}".format(int(x))
    return "{:,.{}f}".format(x, digits)


def targets(p):
    """(lowest?, fewer moves?, returns ok?, no host swap?, held ok?) with
    the figures each cell shows."""
    m = p["market"]
    best = min(RIVALS, key=lambda k: p[k]["pressure_gib_h"])
    low = m["pressure_gib_h"] < p[best]["pressure_gib_h"]
    low_s = "%s (%s vs %s %s)" % ("yes" if low else "**no**",
                                  num(m["pressure_gib_h"], 0), best,
                                  num(p[best]["pressure_gib_h"], 0))
    fewer = m["migrations"] < p["drs"]["migrations"]
    fewer_s = "%s (%s vs %s)" % ("yes" if fewer else "**no**",
                                 num(m["migrations"]),
                                 num(p["drs"]["migrations"]))
    share = m["return_migrations"] / m["migrations"] if m["migrations"] else 0
    ret_s = "%s (%.1f %%)" % ("yes" if share < RETURNS_TARGET else "**no**",
                              100 * share)
    swap_s = "yes" if m["host_swap_gib_h"] == 0 else \
        "**no** (%s GiB-h)" % num(m["host_swap_gib_h"])
    ratio = m["held_gib_avg"] / p["hyperv"]["held_gib_avg"]
    held_s = "%s (%.3f)" % ("yes" if ratio <= HELD_TARGET else "**no**",
                            ratio)
    return [low_s, fewer_s, ret_s, swap_s, held_s]


def cluster_table(d):
    p = d["policies"]
    hv = p["hyperv"]["held_gib_avg"]
    head = ["policy", "pressure (GiB-h)", "pressured (%)", "guest swap (GiB)",
            "host swap (GiB-h)", "held (GiB)", "held vs hyperv", "migrations",
            "returns", "GiB moved", "double-held (GiB-h)"]
    out = ["| " + " | ".join(head) + " |",
           "| --- |" + " ---: |" * (len(head) - 1)]
    for k in POLICIES:
        if k not in p:
            continue
        r = p[k]
        out.append("| %s | %s | %s | %s | %s | %s | %d %% | %s | %s | %s | %s |" % (
            k, num(r["pressure_gib_h"]), num(r["pressured_pct"], 2),
            num(r["guest_swap_gib"], 0), num(r["host_swap_gib_h"]),
            num(r["held_gib_avg"]), round(100 * r["held_gib_avg"] / hv),
            num(r["migrations"]), num(r["return_migrations"]),
            num(r["gib_moved"], 0), num(r["double_held_gib_h"])))
    out.append("| lower bound | %s |" % num(d["lower_bound_gib_h"]) +
               " |" * (len(head) - 2))
    return "\n".join(out)


MONTHS = {"7": "July", "8": "August"}


def summary_row(name, d):
    p = d["policies"]
    m = p["market"]
    best = min(RIVALS + ("market",), key=lambda k: p[k]["pressure_gib_h"])
    cells = [name, num(d["lower_bound_gib_h"], 0)]
    cells += [num(p[k]["pressure_gib_h"], 0) for k in
              ("market", "drs", "hyperv", "esx", "threshold", "repack")]
    cells += [best, "%s / %s" % (num(m["migrations"]),
                                 num(p["drs"]["migrations"])),
              num(m["return_migrations"]),
              "%d %%" % round(100 * m["held_gib_avg"] /
                              p["hyperv"]["held_gib_avg"])]
    return "| " + " | ".join(cells) + " |"


def summary(a, spec):
    print("| month-cluster | bound | market | drs | hyperv | esx | threshold "
          "| repack | best | migrations | returns | held vs hyperv |")
    print("| --- |" + " ---: |" * 7 + " --- |" + " ---: |" * 3)
    for cell in spec.split(","):
        try:
            m, shape = cell.split("-")
            hosts, gib = (int(x) for x in shape.split("x"))
        except ValueError:
            fail("--summary: cells like 7-4x32, not '%s'" % cell)
        if m not in MONTHS or hosts < 1 or gib < 1:
            fail("--summary: month 7 or 8 and positive sizes: '%s'" % cell)
        d = run_sim(a.bourse, "%s/2013-%s" % (a.traces, m), hosts, gib,
                    a.param)
        print(summary_row(cell, d))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bourse", default="build/bourse")
    ap.add_argument("--traces", default="../shared/traces/bitbrains-rnd")
    ap.add_argument("--months", default="7,8")
    ap.add_argument("--hosts", type=int, default=8)
    ap.add_argument("--host-gib", default="24,32,64")
    ap.add_argument("--param", action="append", default=[])
    ap.add_argument("--summary", default=None)
    a = ap.parse_args()
    if a.summary:
        summary(a, a.summary)
        return 0
    if a.hosts < 1:
        fail("--hosts must be at least 1")
    try:
        gibs = [int(g) for g in a.host_gib.split(",")]
    except ValueError:
        fail("--host-gib: a list of whole GiB, like 24,32,64")
    months = a.months.split(",")
    for m in months:
        if m not in MONTHS:
            fail("--months: 7 or 8, not '%s'" % m)
    runs = []
    for m in months:
        for g in gibs:
            d = run_sim(a.bourse, "%s/2013-%s" % (a.traces, m), a.hosts, g,
                        a.param)
            runs.append(("%s, %d x %d" % (MONTHS[m], a.hosts, g), d))
    print("| month, cluster | lowest pressure but repack? | fewer migrations "
          "than drs? | return migrations < 2 %? | no host swap? | held <= "
          "1.05 x hyperv? |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, d in runs:
        print("| %s | %s |" % (name, " | ".join(targets(d["policies"]))))
    for name, d in runs:
        print("\n### %s GiB\n" % name)
        print(cluster_table(d))
    return 0


if __name__ == "__main__":
    sys.exit(main())
