"""Benchmark: what the job engine costs a request, and how long mail waits in the queue (not part of the test suite).

    .venv/bin/python .ci/bench_jobs.py
    .venv/bin/python .ci/bench_jobs.py --runs 3 --people 100 --delays-ms 0 250 1000
    TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/tandem_test .venv/bin/python .ci/bench_jobs.py

It builds the multi-host rig of tests/multihost (a fresh ``tandem_rig_<random>`` database beside TEST_DATABASE_URL's,
two gunicorn hosts, two ``flask worker`` processes, an SMTP sink; dropped at the end), then for each sink delay
(the relay's time per message) and each run it schedules fresh review meetings and times the real invitation POST
(signed in as a leader, with its CSRF token) inviting nobody new (the facilitator themselves: the same request,
no mail), 1 person and a department of ``--people`` people. After each POST it waits until every invitation is delivered, so each run starts with an empty queue.

It prints the POST's p50 latency per size, the ratio with mail to without, and the queue latency of the
invitations (outbox created_at → sent_at: written in the request's transaction → accepted by the relay), p50 and
p99. The relay's delay should show in the queue latency and not in the request. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.multihost.rig import Client, Rig, base_database_url, on_the_hour, percentile, wait_until  # noqa: E402

LEADER = "marketing.lead@example.com"


def invite(rig: Rig, lead: Client, form: dict, title: str) -> tuple[float, int]:
    """Schedule a meeting, invite through the page; (seconds the POST took, first outbox id it may have written)."""
    meeting = rig.schedule_meeting(LEADER, title, on_the_hour(datetime.now(UTC), 72))
    token = lead.csrf(f"/meetings/{meeting}")
    marker = rig.scalar("SELECT coalesce(max(id), 0) FROM outbox_message")
    answer = lead.post(f"/meetings/{meeting}/invite", {"csrf_token": token, **form})
    if answer.status != 302:
        raise SystemExit(f"the invitation POST answered {answer.status}:\n{answer.text[:1000]}")
    return answer.seconds, marker


def delivered(rig: Rig, marker: int, recipients: list[str], expected: int) -> list[float]:
    """Wait until the ``expected`` invitations written after ``marker`` are sent; their queue latencies (s)."""

    def done():
        rows = rig.query(
            "SELECT status, EXTRACT(EPOCH FROM sent_at - created_at) AS seconds FROM outbox_message "
            'WHERE id > %s AND "to" = ANY(%s)',
            (marker, recipients),
        )
        return rows if len(rows) == expected and all(r["status"] == "sent" for r in rows) else None

    rows = wait_until(done, 600, f"{expected} invitation(s) to be delivered", every=0.2)
    return [float(r["seconds"]) for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="POSTs per size and sink delay (default 5)")
    parser.add_argument("--people", type=int, default=200, help="people in the big invitation (default 200)")
    parser.add_argument("--delays-ms", type=int, nargs="+", default=[0, 250], help="sink delays per message")
    args = parser.parse_args()

    print(f"database server: {base_database_url().render_as_string(hide_password=True).split('@')[-1]}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench_jobs_") as tmp, Rig(Path(tmp)) as rig:
        print(f"rig: {len(rig.hosts)} hosts, {len(rig.workers)} workers, database {rig.database}", flush=True)
        crowd = [e for _, e in rig.add_people("bench.", args.people, department="Bench invitees", function="marketing")]
        single = rig.add_people("bench.single.", 1, department="Bench single", function="marketing")
        sizes = {
            "no mail": ({"people": rig.scalar('SELECT id FROM "user" WHERE email = %s', (LEADER,))}, []),
            "1 person": ({"people": single[0][0]}, [single[0][1]]),
            f"{args.people} people": ({"departments": rig.department_id("Bench invitees")}, crowd),
        }
        lead = Client(rig.hosts[0])
        lead.sign_in(LEADER)
        invite(
            rig, lead, sizes["no mail"][0], "Bench warm-up"
        )  # the first request of a gunicorn worker pays for its imports

        results = []
        for delay in args.delays_ms:
            rig.sink.delay = delay / 1000
            times: dict[str, list[float]] = {name: [] for name in sizes}
            queue: list[float] = []
            for run in range(args.runs):
                for name, (form, recipients) in sizes.items():
                    seconds, marker = invite(rig, lead, form, f"Bench {delay} ms {name} #{run}")
                    times[name].append(seconds)
                    if recipients:
                        latencies = delivered(rig, marker, recipients, len(recipients))
                        if len(recipients) > 1:
                            queue += latencies
            print(f"  sink {delay} ms: {args.runs} run(s) done, {len(queue)} invitations delivered", flush=True)
            results.append((delay, {name: percentile(values, 50) for name, values in times.items()}, queue))
        rig.sink.delay = 0.0
        concurrency = len(rig.workers) * int(rig.env.get("JOBS_WORKER_CONCURRENCY", "4"))

    big = f"{args.people} people"
    print()
    print("invitation POST latency, p50 of", args.runs, "runs (seconds); queue latency = outbox created_at → sent_at")
    header = f"{'sink delay':>10}  {'no mail':>9}  {'1 person':>9}  {big:>11}  {'mail/none':>9}  "
    print(header + f"{'queue p50':>9}  {'queue p99':>9}  {'messages':>8}")
    for delay, p50, queue in results:
        print(
            f"{delay:>7} ms  {p50['no mail']:>9.3f}  {p50['1 person']:>9.3f}  {p50[big]:>11.3f}  "
            f"{p50[big] / p50['no mail']:>9.1f}  {percentile(queue, 50):>9.2f}  {percentile(queue, 99):>9.2f}  "
            f"{len(queue):>8}"
        )
    if len(results) > 1:
        first, last = results[0], results[-1]
        print(
            f"\n{big}: the POST at {last[0]} ms per message took {last[1][big] / first[1][big]:.2f}× its time at "
            f"{first[0]} ms (the relay is not in the request); the queue's p99 went "
            f"{percentile(first[2], 99):.2f} s → {percentile(last[2], 99):.2f} s "
            f"(floor at {last[0]} ms with {concurrency} deliveries at a time: "
            f"{args.people * last[0] / 1000 / concurrency:.2f} s for the last of {args.people})."
        )


if __name__ == "__main__":
    main()
