#!/usr/bin/env python3
"""Online headroom rules outside the hindsight bound's classes, against the
market's own line (docs/evaluation.md, "Rules the bound leaves out").

The hindsight bound (hindsight_bound.py) covers headroom from a VM's own
recent rises and the hour of day. This script measures, on the same grid
and without hosts (as the bound does), two kinds of rule it leaves out,
each a real online rule (no hindsight), lag 1:

  burst-hold  while a VM is jumping (its last W seen samples span at least
              A MiB), it holds s + F x (peak of those W - s) as well;
  contagion   while at least K VMs rose by 1 GiB or more in the last seen
              step, every VM that has jumped before holds s + F x its
              typical jump (an EWMA of its past jumps of 1 GiB or more).

Both sit on top of the market's want, max(ceil(1.2 s), s + r x rms), with
r = --base-r. The market's line is its want at r = 0 ... 3 (--line). For
each rule the table gives its pressure and memory, and the market line's
pressure at the same memory (interpolated): a rule below the line buys
more pressure per GiB than the price of risk does.

  nice -n 19 python3 contrib/analysis/online_rules.py \\
      --trace ../shared/traces/bitbrains-rnd/2013-7 --host-gib 64

Python 3 standard library only; 1-2 minutes a month.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hindsight_bound as hb  # noqa: E402  (the same grid and lag)

JUMP_MIB = 1024


def clamp(x, lo, hi):
    return min(max(x, lo), hi)


def market_allocs(grid, r):
    return [[clamp(max(b, s + r * rms), f, c) for s, rms, b, f, c in
             zip(vm.seen, vm.rms, vm.buf, vm.floor, vm.ceil)] for vm in grid]


def burst_hold(grid, r, w, span, frac):
    out = []
    for vm in grid:
        a, hist = [], []
        for s, rms, b, f, c in zip(vm.seen, vm.rms, vm.buf, vm.floor,
                                   vm.ceil):
            hist.append(s)
            recent = hist[-w:]
            x = max(b, s + r * rms)
            if max(recent) - min(recent) >= span:
                x = max(x, s + frac * (max(recent) - s))
            a.append(clamp(x, f, c))
        out.append(a)
    return out


def jumps_per_step(grid, n_steps):
    cnt = [0] * n_steps
    for vm in grid:
        for off in range(1, len(vm.seen)):
            if vm.seen[off] - vm.seen[off - 1] >= JUMP_MIB:
                cnt[vm.k0 + off] += 1
    return cnt


def contagion(grid, cnt, r, k, frac):
    out = []
    for vm in grid:
        a, amp, prev = [], 0.0, None
        for off, (s, rms, b, f, c) in enumerate(
                zip(vm.seen, vm.rms, vm.buf, vm.floor, vm.ceil)):
            if prev is not None and s - prev >= JUMP_MIB:
                amp = 0.8 * amp + 0.2 * (s - prev) if amp else s - prev
            prev = s
            x = max(b, s + r * rms)
            if cnt[vm.k0 + off] >= k and amp:
                x = max(x, s + frac * amp)
            a.append(clamp(x, f, c))
        out.append(a)
    return out


def on_line(line, held):
    """The market line's pressure at this memory (linear between points)."""
    for (h0, s0), (h1, s1) in zip(line, line[1:]):
        if h0 <= held <= h1:
            return s0 + (s1 - s0) * (held - h0) / (h1 - h0)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trace", required=True)
    ap.add_argument("--host-gib", type=int, default=64)
    ap.add_argument("--base-r", type=float, default=0.5)
    ap.add_argument("--line", default="0,0.25,0.5,0.75,1,1.5,2,3")
    a = ap.parse_args()
    if a.host_gib < 1 or a.base_r < 0:
        hb.fail("--host-gib must be positive and --base-r not negative")
    if not os.path.isdir(a.trace):
        hb.fail("--trace %s: not a directory" % a.trace)
    grid, _, n = hb.load_grid(hb.load_trace(a.trace), a.host_gib)
    hv_s, hv_h = hb.measure(grid, [vm.buf for vm in grid], n)
    line = []
    for r in sorted(float(x) for x in a.line.split(",")):
        s, h = hb.measure(grid, market_allocs(grid, r), n)
        line.append((h, s))
    print("trace %s, %d GiB hosts, no hosts modelled; hyperv %.1f GiB-h at "
          "%.2f GiB" % (a.trace, a.host_gib, hv_s, hv_h))
    print("| rule | pressure (GiB-h) | held (GiB) | held vs hyperv | market "
          "line at that memory | vs line |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")

    def row(name, allocs):
        s, h = hb.measure(grid, allocs, n)
        ref = on_line(line, h)
        vs = "%+.1f %%" % (100 * (s / ref - 1)) if ref else "off the line"
        print("| %s | %.1f | %.2f | %.3f | %s | %s |" % (
            name, s, h, h / hv_h, "%.1f" % ref if ref else "-", vs),
            flush=True)

    for h, s in line:
        print("| market line | %.1f | %.2f | %.3f | | |" % (s, h, h / hv_h))
    r = a.base_r
    for w in (3, 6):
        for span in (1024, 2048):
            for frac in (0.5, 1.0):
                row("burst-hold r=%g W=%d A=%d F=%g" % (r, w, span, frac),
                    burst_hold(grid, r, w, span, frac))
    cnt = jumps_per_step(grid, n)
    for k in (2, 4, 8):
        for frac in (0.5, 1.0):
            row("contagion r=%g K=%d F=%g" % (r, k, frac),
                contagion(grid, cnt, r, k, frac))
    return 0


if __name__ == "__main__":
    sys.exit(main())
