"""Webhook receiver throughput: signed GitHub deliveries per second, sustained, on loopback.

The server runs in its own process (as in production); several client threads in this process post valid
signed ``pull_request`` closed events (one new connection per delivery, as the forges do). The handler is
trivial, so the figure is the receiver's own cost: parsing, HMAC check, JSON decode, per-request locking,
the log line. Baseline, measured alternately in the same run: a bare ``ThreadingHTTPServer`` that reads
the body and answers 200 without checking anything.

    python3 benchmarks/webhook.py [--seconds 10] [--threads 4] [--rounds 2]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SECRET = "benchmark-webhook-secret"
REQUESTS = 64  # distinct pull requests, so per-request locks rarely meet


def _serve_promoter(ports: multiprocessing.Queue, stop: multiprocessing.Event) -> None:
    import logging
    import os

    from promoter import masking
    from promoter.hook import HookServer

    log = logging.getLogger("promoter")
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
    handler.addFilter(masking.MaskingFilter())
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    server = HookServer("127.0.0.1:0", lambda _event: "deleted", gitlab_token=None, github_secret=SECRET)
    threading.Thread(target=lambda: (stop.wait(), server.shutdown()), daemon=True).start()
    ports.put(server.port)
    server.serve_forever()


def _serve_baseline(ports: multiprocessing.Queue, stop: multiprocessing.Event) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Bare(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Bare)
    threading.Thread(target=lambda: (stop.wait(), httpd.shutdown()), daemon=True).start()
    ports.put(httpd.server_address[1])
    httpd.serve_forever(poll_interval=0.2)
    httpd.server_close()


def _deliveries() -> list[tuple[bytes, dict[str, str]]]:
    from promoter.hook import github_signature

    out = []
    for number in range(1, REQUESTS + 1):
        payload = {
            "action": "closed",
            "number": number,
            "pull_request": {"number": number, "merged": True, "head": {"ref": f"feature/{number}"}},
            "repository": {"full_name": "acme/api"},
        }
        body = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": f"delivery-{number}",
            "X-Hub-Signature-256": github_signature(SECRET, body),
        }
        out.append((body, headers))
    return out


def _client(port: int, offset: int, start: float, seconds: float, counts: Counter, failures: Counter) -> None:
    deliveries = _deliveries()
    index = offset
    while True:
        now = time.monotonic()
        if now - start >= seconds:
            return
        body, headers = deliveries[index % len(deliveries)]
        index += 1
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("POST", "/", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except OSError as exc:
            status = type(exc).__name__
        finally:
            conn.close()
        second = int(time.monotonic() - start)
        if status == 200 and second < seconds:
            counts[second] += 1
        elif status != 200:
            failures[status] += 1


def measure(target: str, seconds: int, threads: int) -> tuple[list[int], Counter]:
    """Per-second counts of successful deliveries over ``seconds``, and failures by status."""
    context = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue = context.Queue()
    stop = context.Event()
    serve = _serve_promoter if target == "promoter" else _serve_baseline
    process = context.Process(target=serve, args=(ports, stop))
    process.start()
    try:
        port = ports.get(timeout=30)
        counts: list[Counter] = [Counter() for _ in range(threads)]
        failures: list[Counter] = [Counter() for _ in range(threads)]
        start = time.monotonic()
        workers = [
            threading.Thread(target=_client, args=(port, n * 7, start, seconds, counts[n], failures[n]))
            for n in range(threads)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        stop.set()
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
    total = sum(counts, Counter())
    return [total[second] for second in range(seconds)], sum(failures, Counter())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    per_second: dict[str, list[int]] = {"promoter": [], "baseline": []}
    failures: dict[str, Counter] = {"promoter": Counter(), "baseline": Counter()}
    for round_ in range(args.rounds):
        for target in ("promoter", "baseline") if round_ % 2 == 0 else ("baseline", "promoter"):
            rates, failed = measure(target, args.seconds, args.threads)
            per_second[target].extend(rates)
            failures[target] += failed
            rate = sum(rates) / args.seconds
            print(f"round {round_ + 1} {target:9s} {rate:8.0f} deliveries/s  per second: {rates}")

    print(f"\n{args.rounds} x {args.seconds} s per server, {args.threads} client threads, loopback")
    medians = {}
    for target in ("promoter", "baseline"):
        rates = per_second[target]
        medians[target] = statistics.median(rates)
        print(
            f"{target:9s} median {medians[target]:7.0f}/s  min {min(rates):6d}/s  "
            f"total {sum(rates):7d}  failures {dict(failures[target]) or 0}"
        )
    print(f"ratio promoter/baseline (medians): {medians['promoter'] / medians['baseline']:.2f}")


if __name__ == "__main__":
    main()
