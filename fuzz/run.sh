#!/usr/bin/env bash
# Fuzz hemproto's decoders, token parser, check scanner, MAC and JSON scan for SECONDS per
# target, then say what was found.
#
#   fuzz/run.sh [SECONDS_PER_TARGET]        default 8: eight targets, about a minute in all
#
# The default is chosen for CI: eight targets of 8 s each, plus the build (a few seconds),
# keep the whole run near one minute. Longer runs give more per target (docs/fuzzing.md,
# "Running for hours").
#
# Targets: the libFuzzer ones in fuzz/c, under ASan and UBSan, each built with the whole C
# library (csrc/hemcodec.c, csrc/hemcheck.c, csrc/hemmac.c, csrc/hemjson.c, csrc/hemreply.c):
# b64url, b64, token (the codec), check (hem_check_scan), mac (SHA-256, HMAC-SHA256 on both
# block functions), json (hem_json_scan against a reference parser) and reply (the reply
# token written whole, against a reference); then
# fuzz/py/fuzz_python.py (both codecs, decode_ejwt, from_cbor, scan_check against the
# general path, hs256, the strict JSON decoder) under atheris when the interpreter has it,
# else under the stdlib driver fuzz/py/minifuzz.py.
# The Python target imports the hemproto that the interpreter has installed (run inside the
# virtual environment that has it); it runs from a scratch directory so that the source
# tree is not what gets imported, and it prints the path it did import.
#
# Nothing is written into the repository: the build, the working copy of the seed corpus
# and any finding go to a scratch directory. Exit status: 0 when nothing was found, 1 on a
# finding (the failing input is printed and kept; see the last lines), 2 on a setup error.
#
# Environment (all optional):
#   HEMFUZZ_TARGETS      which targets, in order (default "b64url b64 token check mac json
#                        reply python")
#   HEMFUZZ_CORPUS_DIR   a corpus directory to keep between runs (one subdirectory per
#                        target, seeded from fuzz/corpus); default: a scratch copy
#   HEMFUZZ_BUILD_DIR    where the C targets are built (default: scratch); kept if given
#   HEMFUZZ_FORK         run each C target with libFuzzer's -fork=N (N processes)
#   HEMFUZZ_PYTHON       the interpreter for the Python target (default: python, python3)
#   HEMFUZZ_DRIVER       stdlib: force the stdlib driver even where atheris is installed
#   CC                   the clang to build with (default: clang)
set -euo pipefail

seconds="${1:-8}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    # 0 would mean "no limit" to libFuzzer; a run of this script always ends by itself.
    echo "usage: fuzz/run.sh [SECONDS_PER_TARGET >= 1]" >&2
    exit 2
fi

fuzz="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$fuzz")"
targets="${HEMFUZZ_TARGETS:-b64url b64 token check mac json reply python}"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/hemfuzz.XXXXXX")"
keep_scratch=0
cleanup() {
    if [ "$keep_scratch" = 1 ]; then
        echo "hemfuzz: logs and findings kept in $scratch" >&2
    else
        rm -rf "$scratch"
    fi
}
trap cleanup EXIT

build="${HEMFUZZ_BUILD_DIR:-$scratch/build}"
corpus_root="${HEMFUZZ_CORPUS_DIR:-$scratch/corpus}"
artifacts="$scratch/findings"
logs="$scratch/logs"
mkdir -p "$build" "$corpus_root" "$artifacts" "$logs"
# Absolute, because the targets run from the scratch directory.
build="$(cd "$build" && pwd)"
corpus_root="$(cd "$corpus_root" && pwd)"

# Per-input limits: a hang or a blow-up is a finding too, not a stuck CI job.
common_flags=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
# ASan's leak check stays on (every target frees what it allocates); UBSan stops at once.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

c_targets=()
python_target=0
for t in $targets; do
    case "$t" in
        b64url | b64 | token | check | mac | json | reply) c_targets+=("$t") ;;
        python) python_target=1 ;;
        *) echo "hemfuzz: unknown target '$t'" >&2; exit 2 ;;
    esac
done

# --- toolchain ------------------------------------------------------------------------------

CC="${CC:-clang}"
probe_fuzzer() {
    printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' \
        > "$scratch/probe.c"
    "$CC" -fsanitize=fuzzer,address,undefined "$scratch/probe.c" -o "$scratch/probe" \
        > "$scratch/probe.log" 2>&1
}
if [ "${#c_targets[@]}" -gt 0 ]; then
    if ! command -v "$CC" > /dev/null 2>&1; then
        if [ "$CC" = clang ] && [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null 2>&1; then
            echo "hemfuzz: clang is missing; installing it with apt-get"
            apt-get update -qq > "$logs/apt.log" 2>&1
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >> "$logs/apt.log" 2>&1 ||
                { cat "$logs/apt.log" >&2; exit 2; }
        else
            echo "hemfuzz: $CC not found; install clang (libFuzzer ships with it)" >&2
            exit 2
        fi
    fi
    if ! probe_fuzzer; then
        # Some distributions ship libFuzzer's runtime apart from clang itself.
        major="$("$CC" -dumpversion | cut -d. -f1)"
        if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null 2>&1; then
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "libclang-rt-$major-dev" \
                > "$logs/apt-rt.log" 2>&1 || true
        fi
        if ! probe_fuzzer; then
            cat "$scratch/probe.log" >&2
            echo "hemfuzz: $CC cannot link -fsanitize=fuzzer (install libclang-rt-$major-dev)" >&2
            exit 2
        fi
    fi
fi

# --- build ----------------------------------------------------------------------------------

# shellcheck disable=SC2054  # the commas are clang's list of sanitizers, not array syntax
cflags=(-g -O1 -std=c99 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
    -fno-sanitize-recover=all -I"$repo/csrc")
# Every target is linked with the whole library, as the extension is: whatever target runs,
# all five sources are built, and with the same flags.
library=("$repo/csrc/hemcodec.c" "$repo/csrc/hemcheck.c" "$repo/csrc/hemmac.c"
    "$repo/csrc/hemjson.c" "$repo/csrc/hemreply.c")
for t in "${c_targets[@]}"; do
    # -Wno-constant-conversion: clang flags the out-of-range arm of a ternary that the
    # library's lookup-table macros never take; the library's own warning policy is
    # csrc/Makefile's business, not this build's.
    if ! "$CC" "${cflags[@]}" -Wall -Wextra -Wno-unused-function -Wno-constant-conversion \
        "$fuzz/c/fuzz_$t.c" "${library[@]}" -o "$build/fuzz_$t" > "$logs/build_$t.log" 2>&1
    then
        cat "$logs/build_$t.log" >&2
        echo "hemfuzz: building fuzz_$t failed" >&2
        exit 2
    fi
done

# --- running --------------------------------------------------------------------------------

found=0
summaries=()

# The number of inputs a run executed, from libFuzzer's (or minifuzz's) closing lines.
executions() {
    local n
    n="$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$1" | tail -n 1)"
    if [ -z "$n" ]; then
        # Fork mode prints no final stats; its last status line starts "#N:".
        n="$(sed -n 's/^#\([0-9]*\):.*/\1/p' "$1" | tail -n 1)"
    fi
    echo "${n:-?}"
}

prepare_corpus() {
    local t="$1" dir="$corpus_root/$1"
    mkdir -p "$dir"
    # Seeds are copied in (never overwriting): the repository's copy is only ever read.
    cp -n "$fuzz/corpus/$t/"* "$dir/" 2> /dev/null || true
    echo "$dir"
}

report() {
    local t="$1" status="$2" log="$3" started="$4" before="$5" dir="$6"
    local elapsed=$(($(date +%s) - started)) runs after rate
    runs="$(executions "$log")"
    after="$(find "$dir" -type f | wc -l)"
    rate="?"
    if [ "$runs" != "?" ] && [ "$elapsed" -gt 0 ]; then rate=$((runs / elapsed)); fi
    if [ "$status" = 0 ]; then
        summaries+=("$(printf 'hemfuzz %-7s ok       %10s execs in %4ss (%s/s), corpus %s -> %s' \
            "$t" "$runs" "$elapsed" "$rate" "$before" "$after")")
        return
    fi
    found=1
    keep_scratch=1
    summaries+=("$(printf 'hemfuzz %-7s FINDING  %10s execs in %4ss, exit status %s, log %s' \
        "$t" "$runs" "$elapsed" "$status" "$log")")
    echo "---- $t: last lines of $log" >&2
    tail -n 40 "$log" >&2
    echo "---- $t: what broke" >&2
    grep -m 5 -E 'invariant broken|Finding|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' \
        "$log" >&2 || echo "(no message: exit status $status)" >&2
    for f in "$artifacts/$t"-*; do
        [ -f "$f" ] || continue
        echo "---- $t: failing input $f ($(wc -c < "$f") bytes), base64:" >&2
        base64 -w 0 "$f" >&2
        echo >&2
    done
}

for t in "${c_targets[@]}"; do
    dir="$(prepare_corpus "$t")"
    before="$(find "$dir" -type f | wc -l)"
    # Room for the longest input that matters: a check token is 761 characters, the MAC
    # target's message should span many 64-byte blocks, JSON objects should reach the
    # sorted comparison of many names, and a reply's certificate should pass its cap.
    case "$t" in
        token | check) max_len=2048 ;;
        mac | json | reply) max_len=4096 ;;
        *) max_len=1024 ;;
    esac
    extra=()
    case "$t" in
        check) extra+=("-dict=$fuzz/dict/check.dict") ;;
        json) extra+=("-dict=$fuzz/dict/json.dict") ;;
        mac | reply) ;; # bytes with no grammar: a dictionary would not help
        *) extra+=("-dict=$fuzz/dict/codec.dict") ;;
    esac
    if [ -n "${HEMFUZZ_FORK:-}" ]; then extra+=("-fork=$HEMFUZZ_FORK"); fi
    log="$logs/$t.log"
    started="$(date +%s)"
    status=0
    (cd "$scratch" && "$build/fuzz_$t" "${common_flags[@]}" "${extra[@]}" \
        -max_total_time="$seconds" -max_len="$max_len" \
        -artifact_prefix="$artifacts/$t-" "$dir") > "$log" 2>&1 || status=$?
    # What the target itself says at exit (fuzz_check: how many inputs matched the shape;
    # fuzz_mac: which block functions it compared; fuzz_json: how many got each verdict).
    sed -n "s/^fuzz_$t: /hemfuzz $t: /p" "$log" | tail -n 1
    report "$t" "$status" "$log" "$started" "$before" "$dir"
done

if [ "$python_target" = 1 ]; then
    py="${HEMFUZZ_PYTHON:-}"
    if [ -z "$py" ]; then
        py="$(command -v python || command -v python3 || true)"
    fi
    if [ -z "$py" ]; then
        echo "hemfuzz: no python interpreter found" >&2
        exit 2
    fi
    # From the scratch directory, so that `import hemproto` finds the installed package.
    if ! (cd "$scratch" && "$py" -c "import hemproto" > "$logs/import.log" 2>&1); then
        cat "$logs/import.log" >&2
        echo "hemfuzz: $py cannot import hemproto: install it first (pip install .)" >&2
        exit 2
    fi
    dir="$(prepare_corpus python)"
    before="$(find "$dir" -type f | wc -l)"
    log="$logs/python.log"
    started="$(date +%s)"
    status=0
    # The stdlib driver has no per-input timeout, so the whole run has one.
    (cd "$scratch" && timeout $((seconds + 120)) "$py" "$fuzz/py/fuzz_python.py" \
        "${common_flags[@]}" -max_total_time="$seconds" -max_len=4096 \
        -dict="$fuzz/dict/python.dict" -artifact_prefix="$artifacts/python-" "$dir") \
        > "$log" 2>&1 || status=$?
    # The hemproto it imported, and the last count of check tokens that matched the shape.
    sed -n 's/^fuzz_python: hemproto /hemfuzz python: hemproto /p' "$log"
    sed -n 's/^fuzz_python: \(.* matched .*\)/hemfuzz python: \1/p' "$log" | tail -n 1
    report python "$status" "$log" "$started" "$before" "$dir"
fi

printf '%s\n' "${summaries[@]}"
if [ "$found" = 1 ]; then
    echo "hemfuzz: FINDINGS: see above; reproduce with the failing input as the only argument" \
        "to the target (docs/fuzzing.md)" >&2
    exit 1
fi
echo "hemfuzz: no findings"
