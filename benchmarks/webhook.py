"""Webhook receiver: a burst of close events against a real env repo, and signed deliveries per second.

Burst: a real bare env repo holds ``--previews`` preview files (200) on ``dynamic-envs``; ``promoter hook
serve`` runs in its own process (``--gc-interval 0``) against it, with a loopback GitLab API double that
says every merge request is merged (``tests/support/fakeforge.py``). ``--clients`` threads (100) send one
signed GitLab merge event per preview, all released at the same moment, one new connection per delivery.
Reported: statuses, p50 / p99 / max answer time, time from the first delivery until the last deletion
lands on the branch (polled every 20 ms), the number of commits, and whether every preview is gone.
``--per-delivery-baseline`` also runs the same burst against the former design, emulated with today's
library: a ``ThreadingHTTPServer`` whose handler runs ``preview down`` (fetch, edit, push) inside each
request.

Throughput: the receiver in its own process (its queue drained by the worker, whose rounds discard the
events: no git work) receiving valid signed GitHub ``pull_request`` closed events from ``--threads`` client
threads, one new connection per delivery as the forges do; baseline, alternated in the same run: a bare
stdlib ``ThreadingHTTPServer`` that reads the body and answers 200 without checking anything. Medians of
the per-second counts.

    python3 benchmarks/webhook.py [--previews 200] [--clients 100] [--seconds 10] [--threads 4] [--rounds 2]
                                  [--per-delivery-baseline] [--skip-burst] [--skip-throughput]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "benchmark-webhook-secret"
REQUESTS = 64  # distinct pull requests in the throughput run
PROJECT = "acme/api"
CONFIG = """\
version: 1
forge: {{type: gitlab, url: "{url}", project: acme/environments}}
environments: {{staging: {{branch: staging}}}}
previews: {{template: manifests, ttl: 7d, max_delete: 1000}}
"""


# --- burst ------------------------------------------------------------------------------------------------
def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def make_repo(root: Path, count: int) -> Path:
    """A bare env repo with ``count`` previews (created an hour ago) of requests 1..count."""
    from promoter.templating import PreviewContext, render_preview

    bare, seed = root / "env.git", root / "seed"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git("config", "uploadpack.allowFilter", "true", cwd=bare)
    git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=bare)
    subprocess.run(["git", "init", "-q", "-b", "main", str(seed)], check=True)
    (seed / "README.md").write_text("env repo\n")
    (seed / "apps").mkdir()
    created = datetime.now(timezone.utc) - timedelta(hours=1)
    for number in range(1, count + 1):
        ctx = PreviewContext.create(
            id=number,
            branch=f"feature-{number}",
            tag="1.0.0",
            image="registry.example.com/acme/api",
            project=PROJECT,
            ttl=timedelta(days=7),
            now=created,
        )
        (seed / "apps" / f"{ctx.slug}.yaml").write_text(render_preview("manifests", ctx))
    git("add", "-A", cwd=seed)
    git("-c", "user.name=b", "-c", "user.email=b@x", "commit", "-q", "-m", "seed", cwd=seed)
    git("push", "-q", str(bare), "HEAD:refs/heads/main", "HEAD:refs/heads/dynamic-envs", cwd=seed)
    return bare


def previews_left(bare: Path) -> int:
    out = git("ls-tree", "--name-only", "dynamic-envs", "apps/", cwd=bare)
    return len([line for line in out.splitlines() if line])


def close_event(number: int) -> tuple[bytes, dict[str, str]]:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = {
        "object_kind": "merge_request",
        "event_type": "merge_request",
        "user": {"id": 1, "name": "Administrator", "username": "root"},
        "project": {"id": 1, "name": "api", "path_with_namespace": PROJECT, "default_branch": "main"},
        "object_attributes": {
            "id": 1000 + number,
            "iid": number,
            "source_branch": f"feature-{number}",
            "target_branch": "main",
            "state": "merged",
            "action": "merge",
            "created_at": now,
            "updated_at": now,
        },
    }
    headers = {
        "Content-Type": "application/json",
        "X-Gitlab-Event": "Merge Request Hook",
        "X-Gitlab-Event-UUID": str(uuid.uuid4()),
        "X-Gitlab-Token": SECRET,
    }
    return json.dumps(payload).encode(), headers


def post(port: int, body: bytes, headers: dict[str, str]) -> int | str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        conn.request("POST", "/", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError as exc:
        return type(exc).__name__
    finally:
        conn.close()


def serve_per_delivery(config: str, bare: str, ports: multiprocessing.Queue, stop: Any) -> None:
    """The former design, emulated: one ``preview down`` (fetch, edit, push) inside each request."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from promoter.workflows.preview import preview_down
    from promoter.workflows.session import open_session

    class PerDelivery(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            try:
                session = open_session(config_path=config, repo=bare)
                preview_down(session, data["object_attributes"]["iid"], project=PROJECT)
                status = 200
            except Exception:
                status = 500
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # as the former receiver: a burst waits in the backlog

    httpd = Server(("127.0.0.1", 0), PerDelivery)
    threading.Thread(target=lambda: (stop.wait(), httpd.shutdown()), daemon=True).start()
    ports.put(httpd.server_address[1])
    httpd.serve_forever(poll_interval=0.2)
    httpd.server_close()


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def burst(previews: int, clients: int, design: str) -> dict[str, Any]:
    from tests.support.fakeforge import fake_forge

    with tempfile.TemporaryDirectory(prefix="promoter-bench-hook-") as tmp, fake_forge() as forge:
        root = Path(tmp)
        bare = make_repo(root, previews)
        config = root / "promoter.yaml"
        config.write_text(CONFIG.format(url=forge.url))
        for number in range(1, previews + 1):
            forge.set(PROJECT, number, "merged")
        seeded = int(git("rev-list", "--count", "dynamic-envs", cwd=bare))
        stop = None
        if design == "promoter":
            env = {**os.environ, "PROMOTER_WEBHOOK_SECRET": SECRET, "PROMOTER_TOKEN": "bench-token"}
            command = [sys.executable, "-m", "promoter", "--config", str(config), "--repo", str(bare)]
            process: Any = subprocess.Popen(
                [*command, "hook", "serve", "--listen", "127.0.0.1:0", "--gc-interval", "0"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert process.stderr is not None
            match = re.search(r"127\.0\.0\.1:(\d+)", process.stderr.readline())
            assert match, "the receiver did not start"
            port = int(match.group(1))
            server_log: list[str] = []
            threading.Thread(target=lambda: server_log.extend(process.stderr), daemon=True).start()
        else:
            context = multiprocessing.get_context("spawn")
            ports: multiprocessing.Queue = context.Queue()
            stop = context.Event()
            process = context.Process(target=serve_per_delivery, args=(str(config), str(bare), ports, stop))
            process.start()
            port = ports.get(timeout=60)

        deliveries = [close_event(number) for number in range(1, previews + 1)]
        gate = threading.Barrier(clients + 1)
        answers: list[tuple[int | str, float]] = []
        lock = threading.Lock()

        def client(mine: list[tuple[bytes, dict[str, str]]]) -> None:
            gate.wait()
            for body, headers in mine:
                began = time.monotonic()
                status = post(port, body, headers)
                with lock:
                    answers.append((status, time.monotonic() - began))

        threads = [threading.Thread(target=client, args=(deliveries[n::clients],)) for n in range(clients)]
        for thread in threads:
            thread.start()
        gate.wait()
        started = time.monotonic()
        last_landed = None
        give_up = float("inf")  # once every answer is in: the former design is done, the worker gets 120 s
        while time.monotonic() < give_up:
            if previews_left(bare) == 0:
                last_landed = time.monotonic() - started
                break
            if give_up == float("inf") and all(not thread.is_alive() for thread in threads):
                give_up = time.monotonic() + (120 if design == "promoter" else 0)
            time.sleep(0.02)
        for thread in threads:
            thread.join()
        if design == "promoter":
            process.terminate()
            process.wait(timeout=60)
        else:
            stop.set()
            process.join(timeout=60)
        times = sorted(seconds for _, seconds in answers)
        # the receiver's own view: from accepting the connection to the answer written (its log lines)
        handled = (
            sorted(
                float(ms) / 1000 for line in server_log for ms in re.findall(r" ms=([0-9.]+)$", line.strip())
            )
            if design == "promoter"
            else []
        )
        return {
            "design": design,
            "statuses": dict(Counter(status for status, _ in answers)),
            "p50": statistics.median(times),
            "p99": percentile(times, 0.99),
            "max": times[-1],
            "server": (statistics.median(handled), percentile(handled, 0.99)) if handled else None,
            "last_deletion": last_landed,
            "left": previews_left(bare),
            "commits": int(git("rev-list", "--count", "dynamic-envs", cwd=bare)) - seeded,
        }


# --- throughput -------------------------------------------------------------------------------------------
def _serve_promoter(ports: multiprocessing.Queue, stop: Any) -> None:
    import logging

    from promoter import masking
    from promoter.hook import DeletionQueue, HookServer, Worker

    log = logging.getLogger("promoter")
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
    handler.addFilter(masking.MaskingFilter())
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    queue = DeletionQueue(capacity=1_000_000)
    worker = Worker(queue, lambda events: f"{len(events)} discarded", gc_interval=0)  # rounds without git
    worker.start()
    server = HookServer("127.0.0.1:0", queue.offer, gitlab_token=None, github_secret=SECRET)
    threading.Thread(target=lambda: (stop.wait(), server.shutdown()), daemon=True).start()
    ports.put(server.port)
    server.serve_forever()


def _serve_baseline(ports: multiprocessing.Queue, stop: Any) -> None:
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


def _signed_deliveries() -> list[tuple[bytes, dict[str, str]]]:
    from promoter.hook import github_signature

    out = []
    for number in range(1, REQUESTS + 1):
        payload = {
            "action": "closed",
            "number": number,
            "pull_request": {
                "number": number,
                "merged": True,
                "updated_at": "2026-01-05T10:00:00Z",
                "head": {"ref": f"feature/{number}"},
            },
            "repository": {"full_name": PROJECT},
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
    deliveries = _signed_deliveries()
    index = offset
    while time.monotonic() - start < seconds:
        body, headers = deliveries[index % len(deliveries)]
        index += 1
        status = post(port, body, headers)
        second = int(time.monotonic() - start)
        if status in (200, 202) and second < seconds:
            counts[second] += 1
        elif status not in (200, 202):
            failures[status] += 1


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(target: str, seconds: int, threads: int) -> tuple[list[int], Counter, float]:
    """Per-second counts of successful deliveries over ``seconds``, failures by status, and the server's
    CPU time per delivery (microseconds): a figure the other load on a shared machine disturbs less."""
    context = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue = context.Queue()
    stop = context.Event()
    serve = _serve_promoter if target == "promoter" else _serve_baseline
    process = context.Process(target=serve, args=(ports, stop))
    process.start()
    try:
        port = ports.get(timeout=30)
        assert process.pid is not None
        cpu_before = cpu_seconds(process.pid)
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
        cpu_used = cpu_seconds(process.pid) - cpu_before
    finally:
        stop.set()
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
    total = sum(counts, Counter())
    served = sum(total.values())
    return [total[second] for second in range(seconds)], sum(failures, Counter()), cpu_used / served * 1e6


def throughput(seconds: int, threads: int, rounds: int) -> None:
    per_second: dict[str, list[int]] = {"promoter": [], "baseline": []}
    failures: dict[str, Counter] = {"promoter": Counter(), "baseline": Counter()}
    cpu: dict[str, list[float]] = {"promoter": [], "baseline": []}
    for round_ in range(rounds):
        for target in ("promoter", "baseline") if round_ % 2 == 0 else ("baseline", "promoter"):
            rates, failed, micros = measure(target, seconds, threads)
            per_second[target].extend(rates)
            failures[target] += failed
            cpu[target].append(micros)
            print(
                f"round {round_ + 1} {target:9s} {sum(rates) / seconds:8.0f} deliveries/s  "
                f"server CPU {micros:5.0f} us/delivery  per second: {rates}"
            )
    print(f"\n{rounds} x {seconds} s per server, {threads} client threads, loopback")
    medians = {}
    for target in ("promoter", "baseline"):
        rates = per_second[target]
        medians[target] = statistics.median(rates)
        print(
            f"{target:9s} median {medians[target]:7.0f}/s  min {min(rates):6d}/s  "
            f"total {sum(rates):7d}  failures {dict(failures[target]) or 0}  "
            f"server CPU median {statistics.median(cpu[target]):5.0f} us/delivery"
        )
    ratio = medians["baseline"] / medians["promoter"]
    cpu_ratio = statistics.median(cpu["promoter"]) / statistics.median(cpu["baseline"])
    print(f"baseline/promoter deliveries/s (medians): {ratio:.2f}x (target: at most 1.3x)")
    print(f"promoter/baseline server CPU per delivery (medians): {cpu_ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--previews", type=int, default=200)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--per-delivery-baseline", action="store_true")
    parser.add_argument("--skip-burst", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()

    if not args.skip_burst:
        designs = ["promoter"] + (["per-delivery"] if args.per_delivery_baseline else [])
        print(f"burst: {args.previews} close events from {args.clients} clients, one preview each")
        for design in designs:
            result = burst(args.previews, args.clients, design)
            landed = result["last_deletion"]
            server = result["server"]
            inside = (
                f"  (in the receiver: p50 {server[0] * 1000:.1f} ms, p99 {server[1] * 1000:.1f} ms)"
                if server
                else ""
            )
            print(
                f"{design:12s} statuses {result['statuses']}  answer p50 {result['p50'] * 1000:.1f} ms  "
                f"p99 {result['p99'] * 1000:.1f} ms  max {result['max'] * 1000:.1f} ms  "
                f"last deletion {'never' if landed is None else f'{landed:.2f} s'}  "
                f"previews left {result['left']}  commits {result['commits']}{inside}"
            )
        print()
    if not args.skip_throughput:
        throughput(args.seconds, args.threads, args.rounds)


if __name__ == "__main__":
    main()
