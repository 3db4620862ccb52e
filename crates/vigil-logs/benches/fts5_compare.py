#!/usr/bin/env python3
"""The alternative to Tantivy, measured: SQLite FTS5 holding the same kind of events.

Events of the same shape and size as benches/logs.rs are stored in a table (time, service, host,
tenant, json) with an external-content FTS5 index over the JSON, in WAL mode with
synchronous=FULL (each batch transaction is durable, like an acknowledged append), then the
search shapes of the Rust benchmark are timed (newest 100 by time, plus the total count).

    python3 crates/vigil-logs/benches/fts5_compare.py 1000000 /tmp/fts5.db

Python drives SQLite here, so ingest includes some interpreter overhead; the searches run
almost entirely inside SQLite.
"""

import os
import random
import sqlite3
import statistics
import sys
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
PATH = sys.argv[2] if len(sys.argv) > 2 else "/tmp/vigil-fts5.db"
BATCH = 1000
WORDS = ["failed", "accepted", "password", "session", "opened", "closed", "token", "refresh",
         "denied", "granted", "upload", "export"]
ACTIONS = ["login", "logout", "file_read", "process_start", "http_request", "dns_query"]
rng = random.Random(42)


def ip():
    n = rng.randrange(20_000)
    return f"10.{n // 10_000}.{(n // 100) % 100}.{n % 100}"


def event(seq):
    ms = 1_767_225_600_000 + seq * 37
    user = f"user{rng.randrange(5000):04d}"
    src = ip()
    msg = f"{rng.choice(WORDS)} {rng.choice(WORDS)} for {user} from {src} {rng.choice(WORDS)}"
    item = rng.randrange(1_000_000)
    body = (
        f'{{"@timestamp":"{ms}","event":{{"action":"{rng.choice(ACTIONS)}","outcome":"success",'
        f'"id":"{rng.getrandbits(64):016x}"}},"user":{{"name":"{user}","domain":"CORP"}},'
        f'"source":{{"ip":"{src}","port":{1024 + rng.randrange(60000)}}},'
        f'"destination":{{"ip":"{ip()}","port":443}},"http":{{"method":"GET","status":'
        f'{rng.choice([200, 200, 200, 302, 404, 500])},"bytes":{rng.randrange(100000)}}},'
        f'"url":{{"path":"/api/v1/items/{item}"}},"process":{{"command_line":'
        f'"C:\\\\Windows\\\\System32\\\\cmd.exe /c echo {item}","pid":{rng.randrange(65536)}}},'
        f'"user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64)","message":"{msg}"}}'
    )
    return (ms, f"svc-{rng.randrange(20):02d}", f"host-{rng.randrange(500):03d}",
            f"tenant-{rng.randrange(50):02d}", body)


for suffix in ("", "-wal", "-shm"):
    if os.path.exists(PATH + suffix):
        os.remove(PATH + suffix)
db = sqlite3.connect(PATH, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE events(id INTEGER PRIMARY KEY, time INTEGER, service TEXT, host TEXT,"
           " tenant TEXT, json TEXT)")
db.execute("CREATE INDEX events_time ON events(time)")
db.execute("CREATE VIRTUAL TABLE fts USING fts5(json, content='events', content_rowid='id')")
db.execute("CREATE TRIGGER events_ai AFTER INSERT ON events BEGIN "
           "INSERT INTO fts(rowid, json) VALUES (new.id, new.json); END")

started = time.time()
latencies = []
total_bytes = 0
for start in range(0, N, BATCH):
    rows = [event(s) for s in range(start, min(N, start + BATCH))]
    total_bytes += sum(len(r[4]) for r in rows)
    t = time.time()
    db.execute("BEGIN")
    db.executemany("INSERT INTO events(time, service, host, tenant, json) VALUES (?,?,?,?,?)", rows)
    db.execute("COMMIT")
    latencies.append(time.time() - t)
elapsed = time.time() - started
latencies.sort()
print(f"fts5 ingest: {N} events ({total_bytes / N:.0f} bytes/event), {elapsed:.1f} s, "
      f"{N / elapsed:.0f} events/s (including event generation in Python); "
      f"batch commit p50 {latencies[len(latencies) // 2] * 1000:.1f} ms, "
      f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms")
size = sum(os.path.getsize(PATH + s) for s in ("", "-wal") if os.path.exists(PATH + s))
print(f"fts5 size: {size / 1e6:.0f} MB ({size / N:.0f} bytes/event)")

shapes = [
    ("field-ish term (user0042)", lambda: f'"user{rng.randrange(5000):04d}"'),
    ("free-text IP", lambda: f'"{ip()}"'),
    ("free-text word (denied)", lambda: rng.choice(WORDS)),
    ('phrase ("password for")', lambda: '"password for"'),
]
for name, make in shapes:
    times = []
    hits = 0
    for _ in range(20):
        q = make()
        t = time.time()
        hits = db.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (q,)).fetchone()[0]
        db.execute("SELECT e.id, e.time, e.service, e.json FROM fts JOIN events e ON e.id = fts.rowid"
                   " WHERE fts MATCH ? ORDER BY e.time DESC LIMIT 100", (q,)).fetchall()
        times.append(time.time() - t)
    times.sort()
    print(f"fts5 search {name:<28} median {statistics.median(times) * 1000:8.1f} ms  "
          f"p99 {times[-1] * 1000:8.1f} ms  {hits} hits")
