"""A small mutational fuzzing loop in the standard library only, for where atheris is not
installed. It takes a subset of libFuzzer's command line so that the same commands work
with either driver:

    minifuzz.run(test_one_input, ["-max_total_time=60", "corpus_dir", ...])

  DIR ...                 corpus directories: every file is a seed; inputs that reach a new
                          feature are written to the first one (as libFuzzer does)
  FILE ...                replay these inputs once each and stop (no fuzzing)
  -max_total_time=S       stop after S seconds (0: no limit)
  -runs=N                 stop after N inputs (-1: no limit)
  -seed=N                 random seed (default: from the clock, printed for a rerun)
  -max_len=N              longest input generated (default 4096)
  -artifact_prefix=P      a failing input is written to P + "crash-<sha1>"
  -dict=FILE              libFuzzer dictionary: "quoted" tokens, one per line
  -minimize_crash=1 FILE  shrink a failing input (-runs= bounds the tries); writes
                          -exact_artifact_path=P, by default FILE + ".min"
  other -flags            accepted and ignored, with a note

There is no coverage feedback. The target reports "features" instead (here: the distinct
refusal messages with their numbers blanked), and an input is kept when it adds one. The
mutations are byte-level ones plus a structure-aware one the target supplies (mutate the
bytes under a base64url segment and re-encode it).

The summary uses libFuzzer's final-stats wording (stat::number_of_executed_units, ...), so
one parser reads both drivers. Exit status: 0, or 77 (libFuzzer's) on a failing input.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import os
import random
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

# Characters that matter to the codecs and the token grammar, tried more often than chance.
INTERESTING: list[int] = [*b"=.-_+/AQgw09azZ", 0x00, 0x0A, 0x20, 0x7F, 0x80, 0xC3, 0xFF]
ALPHANUMERIC = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
FINDING_EXIT = 77


def _parse(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    flags: dict[str, str] = {}
    paths: list[str] = []
    for arg in argv:
        if arg.startswith("-") and "=" in arg:
            key, value = arg[1:].split("=", 1)
            flags[key.lstrip("-")] = value
        elif arg.startswith("-"):
            print(f"minifuzz: ignoring {arg}", file=sys.stderr)
        else:
            paths.append(arg)
    return flags, paths


def _load_dict(path: str) -> list[bytes]:
    tokens = []
    with open(path, encoding="latin-1") as handle:
        for line in handle:
            line = line.strip()
            if not line or line.startswith("#") or '"' not in line:
                continue
            # libFuzzer's format: name="text" with C-style \xNN escapes.
            quoted = line[line.index('"') :]
            try:
                tokens.append(ast.literal_eval("b" + quoted))
            except (SyntaxError, ValueError):
                print(f"minifuzz: bad dictionary line {line!r}", file=sys.stderr)
    return tokens


class Mutator:
    def __init__(
        self,
        rng: random.Random,
        max_len: int,
        tokens: list[bytes],
        structured: Callable[..., bytes | None] | None,
    ) -> None:
        self.rng = rng
        self.max_len = max_len
        self.tokens = tokens or [b"=", b".", b"=="]
        self.structured = structured

    def byte(self) -> int:
        r = self.rng.random()
        if r < 0.5:
            return self.rng.choice(INTERESTING)
        if r < 0.8:
            return int(self.rng.choice(ALPHANUMERIC))
        return self.rng.randrange(256)

    def once(self, data: bytearray, pool: list[bytes]) -> bytearray:
        rng = self.rng
        n = len(data)
        op = rng.randrange(10)
        if op == 0 and n:
            i = rng.randrange(n)
            data[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n:
            data[rng.randrange(n)] = self.byte()
        elif op == 2:
            data.insert(rng.randrange(n + 1), self.byte())
        elif op == 3 and n:
            i = rng.randrange(n)
            del data[i : i + rng.randint(1, 4)]
        elif op == 4 and n:
            i = rng.randrange(n)
            j = min(n, i + rng.randint(1, 16))
            k = rng.randrange(n + 1)
            data[k:k] = data[i:j]
        elif op == 5:
            token = rng.choice(self.tokens)
            i = rng.randrange(n + 1)
            data[i:i] = token
        elif op == 6 and pool:
            # Crossover: a head of this input, a tail of another.
            other = rng.choice(pool)
            data = data[: rng.randint(0, n)] + other[rng.randint(0, len(other)) :]
        elif op == 7 and n:
            del data[rng.randrange(n) :]
        elif op == 8 and self.structured is not None and n:
            inner = Mutator(rng, 1 << 16, self.tokens, None)
            out = self.structured(
                bytes(data), lambda b: bytes(inner.once(bytearray(b), [])), rng.randrange(1 << 30)
            )
            if out is not None:
                data = bytearray(out)
        else:
            data.append(self.byte())
        return data

    def mutate(self, seed: bytes, pool: list[bytes]) -> bytes:
        data = bytearray(seed)
        for _ in range(self.rng.choice((1, 1, 2, 3, 4))):
            data = self.once(data, pool)
        return bytes(data[: self.max_len])


def _report(data: bytes, prefix: str) -> None:
    traceback.print_exc()
    name = prefix + "crash-" + hashlib.sha1(data, usedforsecurity=False).hexdigest()
    try:
        with open(name, "wb") as handle:
            handle.write(data)
        print(f"minifuzz: failing input written to {name}", file=sys.stderr)
    except OSError as exc:
        print(f"minifuzz: could not write {name}: {exc}", file=sys.stderr)
    print(
        f"minifuzz: failing input ({len(data)} bytes, base64): {base64.b64encode(data).decode()}",
        file=sys.stderr,
    )


def _failure(test_one_input: Callable[[bytes], None], data: bytes) -> str | None:
    """How `data` fails, as exception class and message up to its context, or None."""
    try:
        test_one_input(data)
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).split(' [', 1)[0]}"
    return None


def _minimize(test_one_input: Callable[[bytes], None], path: str, flags: dict[str, str]) -> int:
    """Shrink a failing input while it fails the same way (same exception class and the
    same message, its quoted context aside): cut ever smaller chunks, then turn bytes
    into 'A'. Writes -exact_artifact_path (default: the input's name + ".min")."""
    with open(path, "rb") as handle:
        data = handle.read()
    target = _failure(test_one_input, data)
    if target is None:
        print(f"minifuzz: {path} does not fail; nothing to minimise", file=sys.stderr)
        return 2
    print(f"minifuzz: minimising {len(data)} bytes that fail with {target}", file=sys.stderr)
    budget = int(flags.get("runs", "100000"))
    if budget < 0:
        budget = 100000

    def still_fails(candidate: bytes) -> bool:
        nonlocal budget
        budget -= 1
        return _failure(test_one_input, candidate) == target

    # Halving chunk sizes, and multiples of 4 too: cutting a whole base64 group keeps the
    # length class, which is often what the failure depends on.
    changed = True
    while changed and budget > 0:
        changed = False
        sizes = {len(data) >> k for k in range(len(data).bit_length())} | {4, 8, 12, 16}
        for chunk in sorted((c for c in sizes if 0 < c <= len(data)), reverse=True):
            i = 0
            while i < len(data) and budget > 0:
                candidate = data[:i] + data[i + chunk :]
                if still_fails(candidate):
                    data = candidate
                    changed = True
                else:
                    i += chunk
    for i in range(len(data)):
        if budget <= 0:
            break
        if data[i] != 0x41:
            candidate = data[:i] + b"A" + data[i + 1 :]
            if still_fails(candidate):
                data = candidate
    out = flags.get("exact_artifact_path", path + ".min")
    with open(out, "wb") as result:
        result.write(data)
    print(f"minifuzz: minimised to {len(data)} bytes: {out} ({data[:80]!r})", file=sys.stderr)
    return 0


def run(
    test_one_input: Callable[[bytes], None],
    argv: list[str],
    *,
    features: set[Any] | None = None,
    structured: Callable[..., bytes | None] | None = None,
) -> int:
    flags, paths = _parse(argv)
    prefix = flags.get("artifact_prefix", "./")
    files = [p for p in paths if os.path.isfile(p)]
    dirs = [p for p in paths if os.path.isdir(p)]

    if files and not dirs and flags.get("minimize_crash") == "1":
        if len(files) != 1:
            print("minifuzz: -minimize_crash=1 takes one input file", file=sys.stderr)
            return 2
        return _minimize(test_one_input, files[0], flags)

    if files and not dirs:
        # Replay mode, like libFuzzer given file names.
        for path in files:
            with open(path, "rb") as handle:
                data = handle.read()
            print(f"minifuzz: running {path}", file=sys.stderr)
            try:
                test_one_input(data)
            except Exception:
                _report(data, prefix)
                return FINDING_EXIT
        print(f"minifuzz: {len(files)} input(s) pass", file=sys.stderr)
        return 0

    seed = int(flags.get("seed", "0")) or int(time.time() * 1000) % (1 << 31)
    max_time = float(flags.get("max_total_time", "0"))
    max_runs = int(flags.get("runs", "-1"))
    max_len = int(flags.get("max_len", "4096"))
    tokens = _load_dict(flags["dict"]) if "dict" in flags else []
    # Reproducible mutations from a printed seed, not secrets.
    rng = random.Random(seed)  # noqa: S311
    print(f"INFO: minifuzz, Seed: {seed}", file=sys.stderr)
    if features is None:
        features = set()

    pool: list[bytes] = []
    for directory in dirs:
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            if os.path.isfile(path):
                with open(path, "rb") as handle:
                    pool.append(handle.read()[:max_len])
    if not pool:
        pool.append(b"")
    output_dir = dirs[0] if dirs else None
    mutator = Mutator(rng, max_len, tokens, structured)

    start = time.monotonic()
    runs = added = 0
    next_pulse = start + 5

    def summary() -> None:
        elapsed = time.monotonic() - start
        print(f"Done {runs} runs in {int(elapsed)} second(s)", file=sys.stderr)
        print(f"stat::number_of_executed_units: {runs}", file=sys.stderr)
        print(f"stat::average_exec_per_sec:     {int(runs / max(elapsed, 1e-9))}", file=sys.stderr)
        print(f"stat::new_units_added:          {added}", file=sys.stderr)

    def execute(data: bytes) -> bool:
        nonlocal runs
        runs += 1
        try:
            test_one_input(data)
        except Exception:
            _report(data, prefix)
            summary()
            return False
        return True

    # The seeds first, as libFuzzer does, so a broken seed is reported as itself.
    for data in list(pool):
        if not execute(data):
            return FINDING_EXIT
    print(f"#{runs}\tINITED corp: {len(pool)} features: {len(features)}", file=sys.stderr)

    while True:
        now = time.monotonic()
        if (max_time and now - start >= max_time) or (0 <= max_runs <= runs):
            break
        if now >= next_pulse:
            rate = runs / max(now - start, 1e-9)
            print(
                f"#{runs}\tpulse corp: {len(pool)} features: {len(features)} exec/s: {rate:.0f}",
                file=sys.stderr,
            )
            next_pulse = now + 5
        before = len(features)
        data = mutator.mutate(rng.choice(pool), pool)
        if not execute(data):
            return FINDING_EXIT
        if len(features) > before:
            pool.append(data)
            added += 1
            if output_dir is not None:
                name = hashlib.sha1(data, usedforsecurity=False).hexdigest()
                with open(os.path.join(output_dir, name), "wb") as out:
                    out.write(data)

    summary()
    return 0
