#!/usr/bin/env python3
"""Soak test of the live harness (issue 10).

Runs `cutover run` on a generated scenario: blue and green (2 instances
each) both up from 0 s, open-loop load at RATE for SECONDS, and a switch
every SWITCH_EVERY seconds between the pools. While it runs, samples the
runner's VmRSS (/proc/<pid>/status) and its open file descriptors
(/proc/<pid>/fd) from outside, every 50 ms.

Passes (exit 0) when the run was valid and passed (zero dropped), every
switch happened, the fd count during the load stays within what the load's
connections can hold open (FD_BOUND_PER_CONNECTION per client connection:
its own socket, the switcher's accepted one, and an upstream connection to
each of the 4 instances at most) and comes back within FD_SLACK of its start
once the load is over (a leak stays), and RSS growth from warm to the
end is within what the per-request records explain (64 B each, x2 for
vector growth) plus RSS_SLACK_MB. Prints the figures and writes them to
OUT/soak.json.

  tests/soak/soak.py --binary build/release/sim/cli/cutover --seconds 60 --rate 3000
"""
import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time

FD_SLACK = 8
CONNECTIONS = 64
FD_BOUND_PER_CONNECTION = 2 + 4
RSS_SLACK_MB = 48
RECORD_BYTES = 64


def scenario_yaml(seconds, rate, switch_every):
    steps = ["  - { at: 0s, start: blue }", "  - { at: 0s, start: green }"]
    pool = "blue"
    t = switch_every
    switches = 0
    while t < seconds - 0.5:  # a switch in the last half second would not be measured
        pool = "green" if pool == "blue" else "blue"
        steps.append(f"  - {{ at: {int(round(t * 1000))}ms, switch: {pool} }}")
        switches += 1
        t += switch_every
    svc = ("{{ version: {v}, instances: 2, latency: {{ distribution: lognormal, p50: 1ms, p99: 5ms }},"
           " startup: {{ listen_after: 20ms, ready_after: 50ms }} }}")
    text = "\n".join([
        "name: soak",
        "description: >",
        f"  Soak: {rate}/s for {seconds} s, a switch every {switch_every} s between two live pools.",
        "seed: 11",
        f"duration: {seconds}s",
        "services:",
        "  blue: " + svc.format(v="v1"),
        "  green: " + svc.format(v="v2"),
        "load:",
        f"  - {{ arrivals: constant, rate: {rate}/s, connections: {CONNECTIONS}, timeout: 2s }}",
        "timeline:",
        *steps,
        f"expect: {{ dropped: 0, final_active: {pool} }}",
        "",
    ])
    return text, switches


class Sampler(threading.Thread):
    """Samples VmRSS (kB) and the fd count of `pid`, tagged with run time
    (from the runner's progress lines; None before t=0)."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.mark = None  # (run time of the last progress line, monotonic time it was read)
        self.samples = []  # (run_t, rss_kb, fds)
        self.stop = threading.Event()

    def sample(self):
        try:
            with open(f"/proc/{self.pid}/status") as f:
                rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
            fds = len(os.listdir(f"/proc/{self.pid}/fd"))
        except (OSError, StopIteration):
            return
        if self.mark is not None:
            run_t = self.mark[0] + (time.monotonic() - self.mark[1])
            self.samples.append((round(run_t, 2), rss, fds))

    def run(self):
        while not self.stop.wait(0.05):
            self.sample()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.environ.get("CUTOVER_BINARY", "build/release/sim/cli/cutover"))
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--rate", type=int, default=3000)
    ap.add_argument("--switch-every", type=float, default=2)
    ap.add_argument("--out", default="reports/out/soak")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="passed on to cutover run (e.g. validity.max_late_sends=100%% under a sanitizer)")
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    text, switches = scenario_yaml(args.seconds, args.rate, args.switch_every)
    scenario = os.path.join(args.out, "soak.yaml")
    with open(scenario, "w") as f:
        f.write(text)
    run_dir = os.path.join(args.out, "run")
    cmd = [args.binary, "run", scenario, "--out", run_dir]
    for kv in args.set:
        cmd += ["--set", kv]
    print("soak:", " ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    sampler = Sampler(proc.pid)
    sampler.start()
    progress = re.compile(r"\[\s*([\d.]+)/[\d.]+ s\]")
    err_tail = []
    # Bounded: the run's length plus setup, stop and report time.
    deadline = time.monotonic() + args.seconds + 120
    for line in proc.stderr:
        err_tail = (err_tail + [line])[-40:]
        m = progress.search(line)
        if m:
            sampler.mark = (float(m.group(1)), time.monotonic())
            sampler.sample()
            print(line.rstrip(), flush=True)
        if time.monotonic() > deadline:
            proc.kill()
            break
    try:
        code = proc.wait(timeout=max(1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    sampler.stop.set()
    sampler.join()

    failures = []
    report = {}
    try:
        with open(os.path.join(run_dir, "report.json")) as f:
            report = json.load(f)
    except (OSError, ValueError) as e:
        failures.append(f"no report.json: {e}")
    s = sampler.samples
    if len(s) < 4:
        failures.append(f"only {len(s)} samples of the runner")
        s = s or [(0, 0, 0)]
    warm_at = min(2 * args.switch_every + 1, args.seconds / 2)  # both pools have served by then
    start = s[0]  # t=0: services up, load not yet connected
    warm = next((x for x in s if x[0] >= warm_at), s[0])
    during = [x for x in s if x[0] <= args.seconds - 0.5] or s
    end = during[-1]  # the last sample with the load still running
    # The load is over (its connections closed) while the runner stops the
    # services and measures; a short run may end before a sample lands there.
    after = next((x for x in reversed(s) if x[0] >= args.seconds + 0.05), None)
    during_fd_max = max(x[2] for x in during)
    fd_bound = start[2] + CONNECTIONS * FD_BOUND_PER_CONNECTION + FD_SLACK
    summary = report.get("summary", {})
    switched = sum(1 for e in report.get("events", []) if e.get("source") == "switcher" and e.get("kind") == "switched")
    figures = {
        "seconds": args.seconds, "rate_per_s": args.rate, "switch_every_s": args.switch_every,
        "exit_code": code, "valid": report.get("verdict", {}).get("valid"),
        "passed": report.get("verdict", {}).get("passed"),
        "invalid_reasons": report.get("verdict", {}).get("invalid_reasons"),
        "dropped": summary.get("dropped"), "outcomes": summary.get("outcomes"),
        "intended": summary.get("intended"), "sent": summary.get("sent"),
        "late_sends": summary.get("late_sends"), "achieved_rate_per_s": summary.get("achieved_rate_per_s"),
        "p99_ms": summary.get("latency", {}).get("p99_ms"),
        "switches_planned": switches, "switches_done": switched,
        "rss_kb": {"start": start[1], "warm": warm[1], "end": end[1], "after_load": after[1] if after else None,
                   "max": max(x[1] for x in s)},
        "fds": {"start": start[2], "warm": warm[2], "end": end[2], "after_load": after[2] if after else None,
                "during_load_max": during_fd_max, "during_load_bound": fd_bound,
                "max": max(x[2] for x in s)},
        "sample_times_s": {"start": start[0], "warm": warm[0], "end": end[0], "after_load": after[0] if after else None},
        "samples": len(s),
    }
    requests = sum(summary.get("outcomes", {}).values()) if isinstance(summary.get("outcomes"), dict) else 0
    figures["requests"] = requests
    rss_bound_kb = (figures["requests"] * RECORD_BYTES * 2) // 1024 + RSS_SLACK_MB * 1024
    figures["rss_growth_bound_kb"] = rss_bound_kb
    with open(os.path.join(args.out, "soak.json"), "w") as f:
        json.dump(figures, f, indent=2)

    if code != 0:
        failures.append(f"cutover exited {code}")
    if figures["dropped"] != 0:
        failures.append(f"dropped {figures['dropped']}")
    if switched < switches:  # (the initial activation of blue counts as one more)
        failures.append(f"{switched} of {switches} switches happened")
    # A leak grows with requests or switches and does not come back once the
    # load's connections are closed. During the load the count follows the
    # connections in use (a late burst opens more: 132 once on a busy machine,
    # against 40 in the first half), so there only the most the load's
    # connections can hold counts.
    if during_fd_max > fd_bound:
        failures.append(f"fd count {during_fd_max} during the load, over the {fd_bound} its connections can hold")
    if after and after[2] > start[2] + FD_SLACK:
        failures.append(f"fd count {after[2]} after the load, {start[2]} before it: a leak")
    if end[1] - warm[1] > rss_bound_kb:
        failures.append(f"RSS grew {end[1] - warm[1]} kB from warm to end, over {rss_bound_kb} kB")

    print(json.dumps(figures, indent=2))
    if failures:
        print("SOAK FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        print("runner stderr (tail):\n" + "".join(err_tail), file=sys.stderr)
        return 1
    print(f"SOAK PASSED: {figures['requests']} requests, {switched} switches, 0 dropped; "
          f"RSS {start[1] // 1024} -> {end[1] // 1024} MB, fds {start[2]} -> {end[2]} (load on) -> {after[2] if after else '(no sample)'} (load off)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
