#!/usr/bin/env python3
"""Issue 19: the four scoped queries of `qoljetim bench data`, side by side on one machine, in one run:
Qoljetim's engine and its HTTP path (signed in, Cedar, scope, durable audit record, JSON) against DuckDB
with the same Parquet files loaded into an in-memory table. Checks that every system gives the same
answer, prints p50/p95 per query and system, the ratios, each process's resident memory and the cold
start. Run it through `scripts/compare-duckdb` (which pins DuckDB and builds the release binary).

Modes:
  interleaved (default): both in memory at once; each round runs every query on the engine, DuckDB and
                         HTTP in turn, so that the machine's state is shared.
  sequential:            Qoljetim, then DuckDB, then Qoljetim again (A, B, A), for sizes where the
                         two do not fit in memory together (100 million rows on 24 GiB).
"""

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import time

import duckdb


def memory_kib(pid="self"):
    rss = hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return rss, hwm


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p * (len(s) - 1))))]


class Qoljetim:
    """`qoljetim bench data-peer`: the server with its engine, driven over a pipe."""

    def __init__(self, binary, rows, data_dir):
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [binary, "bench", "data-peer", "--rows", str(rows), "--data-dir", data_dir],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.ready = self._read()
        self.wall_to_ready = time.perf_counter() - started

    def _read(self):
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit(f"qoljetim bench data-peer ended (exit {self.proc.wait()})")
            if line.startswith("{"):
                return json.loads(line)

    def ask(self, **command):
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        answer = self._read()
        if "error" in answer:
            raise SystemExit(f"qoljetim: {answer['error']}")
        return answer

    def run(self, path, case, times):
        a = self.ask(**{"do": path, "case": case, "times": times})
        return a["ms"], normalise(a["rows"])

    def quit(self):
        self.proc.stdin.write(json.dumps({"do": "quit"}) + "\n")
        self.proc.stdin.flush()
        self.proc.wait()


def normalise(rows):
    """Rows as {codes: values}, codes as integers (the API prints them with their width)."""
    out = {}
    for codes, values in rows:
        out[tuple(int(c) for c in codes)] = tuple(int(v) for v in values)
    return out


def sql_of(case):
    scope = case["scope"]
    where = [
        f"fiscal_year = {case['fiscal_year']}",
        f"fiscal_year IN ({', '.join(map(str, scope['fiscal_years']))})",
        f"budget_level IN ({', '.join(map(str, scope['levels']))})",
    ]
    if scope["kato_range"]:
        lo, hi = scope["kato_range"]
        where.append(f"budget >= {lo} AND budget < {hi}")
    if scope["administrators"]:
        where.append(f"administrator IN ({', '.join(map(str, scope['administrators']))})")
    groups = ", ".join(case["group_by"])
    sums = ", ".join(f"CAST(SUM({m}) AS BIGINT)" for m in case["measures"])
    select = f"{groups}, {sums}" if groups else sums
    group = f" GROUP BY {groups}" if groups else ""
    return f"SELECT {select} FROM expenditure WHERE {' AND '.join(where)}{group}"


class DuckDb:
    def __init__(self, budget_dir):
        files = sorted(glob.glob(os.path.join(budget_dir, "analytical_central", "expenditure", "fy*__*.parquet")))
        years = [os.path.basename(f).split("__")[0] for f in files]
        if len(set(years)) != len(years):
            raise SystemExit("more than one version of a fiscal year; the comparison reads the bench's own data")
        self.rss_before, _ = memory_kib()
        self.con = duckdb.connect(":memory:")
        started = time.perf_counter()
        listed = ", ".join(f"'{f}'" for f in files)
        self.con.execute(f"CREATE TABLE expenditure AS SELECT * FROM read_parquet([{listed}])")
        self.load_seconds = time.perf_counter() - started
        self.rows = self.con.execute("SELECT count(*) FROM expenditure").fetchone()[0]
        self.rss_after, _ = memory_kib()
        self.threads = self.con.execute("SELECT current_setting('threads')").fetchone()[0]

    def run(self, sql, groups, times):
        took, rows = [], None
        for _ in range(times):
            t = time.perf_counter()
            rows = self.con.execute(sql).fetchall()
            took.append((time.perf_counter() - t) * 1e3)
        return took, {tuple(r[:groups]): tuple(r[groups:]) for r in rows}

    def close(self):
        self.con.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--data-dir", default="data-bench")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--per-round", type=int, default=10)
    ap.add_argument("--mode", choices=["interleaved", "sequential"], default="interleaved")
    ap.add_argument("--binary", default="target/release/qoljetim")
    args = ap.parse_args()

    times = {}  # (system, case) -> [ms]
    answers = {}  # (system, case) -> rows
    memory = {}
    starts = []

    def record(system, case, took, rows):
        times.setdefault((system, case), []).extend(took)
        previous = answers.setdefault((system, case), rows)
        if previous != rows:
            raise SystemExit(f"{system} answered query {case} differently in two runs")

    def qoljetim_rounds(q, with_duck=None):
        for _ in range(args.rounds):
            for i, case in enumerate(q.ready["cases"]):
                record("engine", i, *q.run("engine", i, args.per_round))
                if with_duck:
                    record("duckdb", i, *with_duck.run(sql_of(case), len(case["group_by"]), args.per_round))
                record("http", i, *q.run("http", i, args.per_round))

    def duck_rounds(d, cases):
        for _ in range(args.rounds):
            for i, case in enumerate(cases):
                record("duckdb", i, *d.run(sql_of(case), len(case["group_by"]), args.per_round))

    print(f"== {args.rows:,} expenditure rows, mode {args.mode}, {os.cpu_count()} cores, "
          f"DuckDB {duckdb.__version__}", flush=True)
    q = Qoljetim(args.binary, args.rows, args.data_dir)
    starts.append(q.ready["start_seconds"])
    cases = q.ready["cases"]
    memory["qoljetim"] = q.ready["rss_kib"]
    if args.mode == "interleaved":
        d = DuckDb(q.ready["budget_dir"])
        qoljetim_rounds(q, d)
        memory["qoljetim"] = max(memory["qoljetim"], q.ask(**{"do": "memory"})["rss_kib"])
        q.quit()
        d.close()
    else:
        qoljetim_rounds(q)
        memory["qoljetim"] = max(memory["qoljetim"], q.ask(**{"do": "memory"})["rss_kib"])
        q.quit()
        d = DuckDb(q.ready["budget_dir"])
        duck_rounds(d, cases)
        d.close()
        del d.con
        q = Qoljetim(args.binary, args.rows, args.data_dir)
        starts.append(q.ready["start_seconds"])
        qoljetim_rounds(q)
        memory["qoljetim"] = max(memory["qoljetim"], q.ask(**{"do": "memory"})["rss_kib"])
        q.quit()
    duck_kib = d.rss_after - d.rss_before

    n = args.rounds * args.per_round * (2 if args.mode == "sequential" else 1)
    print(f"{'query (fiscal year 2026)':<72} {'engine p50/p95':>16} {'HTTP p50/p95':>16} "
          f"{'DuckDB p50/p95':>16} {'DuckDB÷engine':>13} {'answers':>8}")
    goals = []
    for i, case in enumerate(cases):
        e, h, k = times[("engine", i)], times[("http", i)], times[("duckdb", i)]
        same = answers[("engine", i)] == answers[("duckdb", i)] == answers[("http", i)]
        ratio = statistics.median(k) / statistics.median(e)
        print(f"{case['label']:<72} {pct(e, .5):7.2f}/{pct(e, .95):6.2f}ms {pct(h, .5):7.2f}/{pct(h, .95):6.2f}ms "
              f"{pct(k, .5):7.2f}/{pct(k, .95):6.2f}ms {ratio:12.2f}× {('same ' + str(len(answers[('engine', i)]))) if same else 'DIFFER':>8}")
        goals.append((f"query {i + 1}: engine p50 ≤ DuckDB p50", pct(e, .5) <= pct(k, .5)))
        goals.append((f"query {i + 1}: HTTP p95 ≤ 100 ms", pct(h, .95) <= 100))
        goals.append((f"query {i + 1}: the same answer on all three", same))
    # The engine maps its files: RSS counts the pages queries have touched; the files' size is what
    # all of the data takes once every page is resident. The goal is held against the larger.
    engine_bytes = sum(os.path.getsize(f) for f in glob.glob(os.path.join(q.ready["budget_dir"], "*", "*", "*.arrow")))
    per_row_files = engine_bytes / args.rows
    per_row_q = max(memory["qoljetim"] * 1024, engine_bytes) / args.rows
    per_row_d = duck_kib * 1024 / max(1, d.rows)
    print(f"({n} runs per query and system; engine and HTTP timed inside the Qoljetim process, DuckDB "
          f"around execute+fetchall, threads={d.threads})")
    print(f"memory: Qoljetim process RSS {memory['qoljetim'] / 2**20:.2f} GiB = "
          f"{memory['qoljetim'] * 1024 / args.rows:.0f} B per expenditure row (the server and SQLite included); "
          f"its mapped engine files (all four datasets) {engine_bytes / 2**30:.2f} GiB = {per_row_files:.0f} B per "
          f"expenditure row; DuckDB table {duck_kib / 2**20:.2f} GiB = {per_row_d:.0f} B per row "
          f"(RSS after CREATE TABLE − before)")
    print(f"cold start: Qoljetim server up with its data in {', '.join(f'{s:.2f} s' for s in starts)}; "
          f"DuckDB CREATE TABLE from the Parquet files {d.load_seconds:.2f} s")
    goals.append(("memory ≤ 130 B per row", per_row_q <= 130))
    goals.append(("cold start ≤ 10 s", max(starts) <= 10))
    for name, ok in goals:
        print(f"  {'met   ' if ok else 'MISSED'} {name}")
    return 0 if all(ok for _, ok in goals) else 1


if __name__ == "__main__":
    sys.exit(main())
