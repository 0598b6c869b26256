"""Load the check-in endpoint over real HTTP and compare it with its floor and a peer.

Starts ``hemproto serve backend`` and each app of ``apps.py`` under uvicorn on 127.0.0.1
(one worker, pinned to one core) and drives each with wrk from the other core, every
request a distinct valid check. Prints requests per second with the median and 99th-
percentile latency, and the two ratios the project tracks: hemproto / floor (goal >= 0.8)
and hemproto / FastAPI + PyJWT (goal >= 1.5).

    python benchmarks/load/run.py                 # 10 s per app, 16 connections
    python benchmarks/load/run.py --duration 20 --json out.json

Needs wrk (Debian: apt-get install wrk), uvicorn, FastAPI and PyJWT (the test extra). It
is a measurement: it never fails on a figure, only on a refused request or a missing tool.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
APPS = {
    "hemproto_serve": "",
    "hemproto": "hemproto_app",
    "floor": "floor_app",
    "fastapi_pyjwt": "fastapi_pyjwt_app",
}
LABELS = {
    "hemproto_serve": "`hemproto serve backend` (the same app, one log line per request)",
    "hemproto": "hemproto.asgi.backend_app under plain uvicorn (verify, decide, sign)",
    "floor": "bare ASGI endpoint: read the body, one X25519 exchange",
    "fastapi_pyjwt": "FastAPI + PyJWT + cryptography, the same job",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_bodies(key_hex: str, count: int, path: Path) -> None:
    import hemproto

    backend_public = hemproto.KeyPair(bytes.fromhex(key_hex)).public
    device = hemproto.DeviceEmulator(backend_public_key=backend_public, max_outstanding=1)
    with path.open("w") as out:
        for _ in range(count):
            out.write(json.dumps(device.challenge(), separators=(",", ":")) + "\n")


def pinned(command: list[str], core: int | None) -> list[str]:
    if core is not None and shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(core), *command]
    return command


def wait_until_listening(port: int, process: subprocess.Popen[bytes], limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start listening in time")


def run_wrk(
    url: str, bodies: Path, offset: int, args: argparse.Namespace, seconds: float
) -> dict[str, float]:
    command = pinned(
        [
            "wrk",
            "-t1",
            f"-c{args.connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-s",
            str(HERE / "post.lua"),
            url,
            "--",
            str(bodies),
            str(offset),
        ],
        core=1,
    )
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True)
    text = done.stdout
    if "Non-2xx" in text or "Socket errors" in text:
        raise RuntimeError(f"wrk saw refused or failed requests:\n{text}")
    figures = dict(
        re.findall(r"^(latency_p50_us|latency_p99_us|requests|duration_us) (\d+)$", text, re.M)
    )
    requests = int(figures["requests"])
    return {
        "requests": requests,
        "rps": requests / (int(figures["duration_us"]) / 1e6),
        "p50_ms": int(figures["latency_p50_us"]) / 1000,
        "p99_ms": int(figures["latency_p99_us"]) / 1000,
    }


def server_command(
    name: str, port: int, key_hex: str, workdir: Path, serve_args: list[str]
) -> list[str]:
    if name == "hemproto_serve":
        key_file = workdir / "backend.key"
        if not key_file.exists():
            import hemproto

            key_file.write_text(hemproto.b64_encode(bytes.fromhex(key_hex)) + "\n")
            key_file.chmod(0o600)
        return [
            sys.executable, "-m", "hemproto", "serve", "backend", "--key", str(key_file),
            "--host", "127.0.0.1", "--port", str(port), *serve_args,
        ]  # fmt: skip
    return [
        sys.executable, "-m", "uvicorn", f"apps:{APPS[name]}", "--factory",
        "--app-dir", str(HERE), "--host", "127.0.0.1", "--port", str(port),
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


def measure(name: str, bodies: Path, key_hex: str, args: argparse.Namespace) -> dict[str, float]:
    port = free_port()
    env = dict(os.environ, HEMBENCH_KEY=key_hex)
    server = subprocess.Popen(
        pinned(
            server_command(name, port, key_hex, bodies.parent, shlex.split(args.serve_args)),
            core=0 if args.pin_server else None,
        ),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_listening(port, server, 30)
        url = f"http://127.0.0.1:{port}/checkin"
        run_wrk(url, bodies, 0, args, args.warmup)
        # The measured run starts far past what the warm-up sent: no check is sent twice.
        return run_wrk(url, bodies, args.bodies // 2, args, args.duration)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per app (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per app")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--bodies", type=int, default=200_000, help="distinct checks to cycle through"
    )
    parser.add_argument(
        "--apps", default=",".join(APPS), help="comma-separated subset of " + ",".join(APPS)
    )
    parser.add_argument(
        "--serve-args",
        default="",
        help="extra options for hemproto serve backend, e.g. '--replay redis://127.0.0.1:6379/0'",
    )
    parser.add_argument(
        "--no-pin-server",
        dest="pin_server",
        action="store_false",
        help="let the server use every core (for --serve-args '--workers 2')",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (Debian: apt-get install wrk)")
    key_hex = os.urandom(32).hex()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        bodies = Path(tmp) / "bodies.jsonl"
        make_bodies(key_hex, args.bodies, bodies)
        for name in args.apps.split(","):
            results[name] = measure(name, bodies, key_hex, args)
            figures = results[name]
            print(
                f"{name:>14}: {figures['rps']:8.0f} req/s  median {figures['p50_ms']:.2f} ms  "
                f"p99 {figures['p99_ms']:.2f} ms  ({figures['requests']} requests)",
                flush=True,
            )
    load = os.getloadavg()[0]
    where = "core 0" if args.pin_server else "any core"
    extra = f" (serve backend {args.serve_args})" if args.serve_args else ""
    print(
        f"\nservers on {where}{extra}, wrk -t1 -c{args.connections} on core 1, "
        f"{args.duration:g} s per app, load average {load:.2f}\n"
    )
    print("| endpoint | requests/s | median | p99 | hemproto / this |")
    print("|---|---:|---:|---:|---:|")
    base = results.get("hemproto_serve") or results.get("hemproto")
    for name, figures in results.items():
        ratio = f"{base['rps'] / figures['rps']:.2f}" if base else "-"
        print(
            f"| {LABELS[name]} | {figures['rps']:.0f} | {figures['p50_ms']:.2f} ms | "
            f"{figures['p99_ms']:.2f} ms | {ratio} |"
        )
    if base and "floor" in results and "fastapi_pyjwt" in results:
        floor = base["rps"] / results["floor"]["rps"]
        peer = base["rps"] / results["fastapi_pyjwt"]["rps"]
        print(
            f"\ntargets: hemproto >= 0.8 x floor: {floor:.2f} ({'yes' if floor >= 0.8 else 'NO'}); "
            f"hemproto >= 1.5 x FastAPI + PyJWT: {peer:.2f} ({'yes' if peer >= 1.5 else 'NO'})"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
