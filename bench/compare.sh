#!/usr/bin/env bash
# usctp side by side with usrsctp (our C peer, interop/usrsctp_peer.c, on
# Debian's libusrsctp) and raw UDP (iperf3), on loopback, in one run on one
# machine. Each figure is measured RUNS times (default 5), the stacks
# interleaved run by run; the table shows medians and ratios.
#
#   bash bench/compare.sh            # RUNS=5 BYTES=100000000 PINGS=2000 HANDSHAKES=500 PARALLEL=16
#
# Handshakes are measured one client at a time and with PARALLEL clients at
# once (usctp: tasks on one thread, every association on one endpoint and
# UDP socket; usrsctp: threads). Aggregate throughput
# with 1, 10 and 100 concurrent associations is measured for usctp only.
#
# The batched-UDP ceiling (bench/udp_ceiling.c) is what the kernel moves
# over loopback in datagrams of the size usctp's 1200-byte messages take
# (1228 bytes of UDP payload), batched as usctp's driver batches them
# (UDP_SEGMENT sends, UDP_GRO receives); CEILING_BYTES of them per run.
#
# Needs: gcc, libusrsctp-dev, iperf3, python3 (apt-get install -y gcc
# libusrsctp-dev iperf3).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
BYTES=${BYTES:-100000000}
PINGS=${PINGS:-2000}
HANDSHAKES=${HANDSHAKES:-500}
PARALLEL=${PARALLEL:-16}
CEILING_BYTES=${CEILING_BYTES:-2000000000}

cargo build --release -q --bin usctp
gcc -O2 -o target/usrsctp_peer interop/usrsctp_peer.c -lusrsctp -lpthread
gcc -O2 -o target/udp_ceiling bench/udp_ceiling.c
U=target/release/usctp
P=target/usrsctp_peer
RESULTS=$(mktemp)
trap 'rm -f "$RESULTS"' EXIT

port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# The value of key $1 in the last JSON line on stdin.
field() { python3 -c "import json, sys; print(json.loads([l for l in sys.stdin.read().splitlines() if l.startswith('{')][-1])['$1'])"; }
record() { echo "$1 $2" >>"$RESULTS"; }
# CPU seconds (user + system) of a finished command, from /usr/bin/time -f '%U %S'.
cpu() { awk '{ s += $1 + $2 } END { print s }' "$@"; }

usctp_bulk() { # size streams
    local p t1 t2 out
    p=$(port); t1=$(mktemp); t2=$(mktemp)
    /usr/bin/time -o "$t1" -f '%U %S' $U discard-server --listen 127.0.0.1:$p --max-assocs 1 >/dev/null 2>&1 &
    sleep 0.2
    out=$(/usr/bin/time -o "$t2" -f '%U %S' $U bench 127.0.0.1:$p --bytes "$BYTES" --msg-size "$1" --streams "$2" --json 2>/dev/null)
    wait
    record "usctp_bulk_$1_$2" "$(echo "$out" | field MBps)"
    record "usctp_cpu_per_gb_$1_$2" "$(python3 -c "print($(cpu "$t1" "$t2") / ($BYTES / 1e9))")"
    rm -f "$t1" "$t2"
}

usrsctp_bulk() { # size streams
    local p t1 t2 out
    p=$(port); t1=$(mktemp); t2=$(mktemp)
    /usr/bin/time -o "$t1" -f '%U %S' $P server --service discard --udp-port "$p" --bind 127.0.0.1 --once >/dev/null 2>&1 &
    sleep 0.3
    out=$(/usr/bin/time -o "$t2" -f '%U %S' $P client --service bench --connect 127.0.0.1:$p --bind 127.0.0.1 \
        --bytes "$BYTES" --msg-size "$1" --streams "$2" --timeout 120 2>/dev/null)
    wait
    record "usrsctp_bulk_$1_$2" "$(echo "$out" | field MBps)"
    record "usrsctp_cpu_per_gb_$1_$2" "$(python3 -c "print($(cpu "$t1" "$t2") / ($BYTES / 1e9))")"
    rm -f "$t1" "$t2"
}

raw_udp() { # size
    local p out
    p=$(port)
    iperf3 -s -1 -p "$p" >/dev/null 2>&1 &
    sleep 0.3
    out=$(iperf3 -c 127.0.0.1 -p "$p" -u -b 0 -l "$1" -n "$BYTES" -J 2>/dev/null)
    wait
    # What arrived: bytes sent less the receiver's reported loss.
    record "raw_udp_$1" "$(echo "$out" | python3 -c '
import json, sys
s = json.load(sys.stdin)["end"]["sum"]
print(s["bytes"] * (1 - s["lost_percent"] / 100) / s["seconds"] / 1e6)')"
}

ceiling() { # datagram size
    local p t1 t2 out
    p=$(port); t1=$(mktemp); t2=$(mktemp)
    out=$(mktemp)
    /usr/bin/time -o "$t1" -f '%U %S' target/udp_ceiling recv "$p" >"$out" &
    sleep 0.2
    /usr/bin/time -o "$t2" -f '%U %S' target/udp_ceiling send "$p" "$CEILING_BYTES" "$1"
    wait
    record "ceiling_$1" "$(field MBps <"$out")"
    record "ceiling_cpu_per_gb_$1" "$(python3 -c "print($(cpu "$t1" "$t2") / ($CEILING_BYTES / 1e9))")"
    rm -f "$t1" "$t2" "$out"
}

usctp_ping() {
    local p out
    p=$(port)
    $U echo-server --listen 127.0.0.1:$p --max-assocs 1 >/dev/null 2>&1 &
    sleep 0.2
    out=$($U ping 127.0.0.1:$p --count "$PINGS" --msg-size 64 --json 2>/dev/null)
    wait
    record usctp_rtt_p50 "$(echo "$out" | field rtt_us_p50)"
    record usctp_rtt_p99 "$(echo "$out" | field rtt_us_p99)"
}

usrsctp_ping() {
    local p out
    p=$(port)
    $P server --service echo --udp-port "$p" --bind 127.0.0.1 --once >/dev/null 2>&1 &
    sleep 0.3
    out=$($P client --service ping --connect 127.0.0.1:$p --bind 127.0.0.1 --count "$PINGS" --msg-size 64 2>/dev/null)
    wait
    record usrsctp_rtt_p50 "$(echo "$out" | field p50_us)"
    record usrsctp_rtt_p99 "$(echo "$out" | field p99_us)"
}

usctp_handshakes() { # parallel
    local p out
    p=$(port)
    $U discard-server --listen 127.0.0.1:$p --max-assocs "$HANDSHAKES" >/dev/null 2>&1 &
    sleep 0.2
    out=$($U handshakes 127.0.0.1:$p --count "$HANDSHAKES" --port 9 --parallel "$1" --json)
    wait
    record "usctp_handshakes_$1" "$(echo "$out" | field per_second)"
}

usrsctp_handshakes() { # parallel
    local p out pid
    p=$(port)
    $P server --service discard --udp-port "$p" --bind 127.0.0.1 >/dev/null 2>&1 &
    pid=$!
    sleep 0.3
    out=$($P client --service handshake --connect 127.0.0.1:$p --bind 127.0.0.1 --count "$HANDSHAKES" \
        --parallel "$1" --timeout 120 2>/dev/null)
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
    record "usrsctp_handshakes_$1" "$(echo "$out" | field per_second)"
}

usctp_aggregate() { # associations name [protocol options for both ends]
    local p out n=$1 name=$2
    shift 2
    p=$(port)
    $U discard-server "$@" --listen 127.0.0.1:$p --max-assocs "$n" >/dev/null 2>&1 &
    sleep 0.2
    out=$($U bench "$@" 127.0.0.1:$p --bytes "$BYTES" --msg-size 1200 --associations "$n" --json 2>/dev/null)
    wait
    record "usctp_${name}_$n" "$(echo "$out" | field MBps)"
}

for run in $(seq "$RUNS"); do
    echo "run $run of $RUNS" >&2
    for shape in "1200 1" "65536 1" "65536 8"; do
        # shellcheck disable=SC2086
        usctp_bulk $shape
        # shellcheck disable=SC2086
        usrsctp_bulk $shape
    done
    raw_udp 1200
    ceiling 1228
    usctp_ping
    usrsctp_ping
    for parallel in 1 "$PARALLEL"; do
        usctp_handshakes "$parallel"
        usrsctp_handshakes "$parallel"
    done
    for n in 1 10 100; do
        usctp_aggregate "$n" aggregate
        # Many senders overflow the receiver's socket buffer; a lost tail
        # then waits for RTO.Min (1 s by default).
        usctp_aggregate "$n" aggregate_rto20 --rto-min 20
    done
done

python3 - "$RESULTS" "$RUNS" "$PARALLEL" <<'EOF'
import statistics, sys
values = {}
for line in open(sys.argv[1]):
    key, value = line.split()
    values.setdefault(key, []).append(float(value))
m = {k: statistics.median(v) for k, v in values.items()}
def row(figure, ours, theirs, unit, target=None, absolute=False):
    """A table row; `target` is (">=" or "<=", value), judged on the ratio,
    or on usctp's own figure when `absolute`."""
    ratio = ours / theirs if theirs else float("nan")
    verdict = ""
    if target:
        op, value = target
        judged = ours if absolute else ratio
        met = judged >= value if op == ">=" else judged <= value
        shown = f"{value:g} {unit}" if absolute else f"{value:g}×"
        verdict = f"{'≥' if op == '>=' else '≤'} {shown} ({'met' if met else 'not met'})"
    print(f"| {figure} | {ours:.1f} {unit} | {theirs:.1f} {unit} | {ratio:.2f}× | {verdict} |")
print(f"Medians of {sys.argv[2]} runs each, interleaved; ratio = usctp / other.\n")
print("| figure | usctp | other | ratio | target |")
print("| --- | --- | --- | --- | --- |")
for size, streams in [(1200, 1), (65536, 1), (65536, 8)]:
    row(f"bulk {size} B × {streams} stream(s) vs usrsctp", m[f"usctp_bulk_{size}_{streams}"],
        m[f"usrsctp_bulk_{size}_{streams}"], "MB/s", (">=", 2) if size == 1200 else None)
row("bulk 1200 B vs raw UDP (iperf3, 1200-byte datagrams)", m["usctp_bulk_1200_1"], m["raw_udp_1200"],
    "MB/s", (">=", 0.6))
row("bulk 1200 B vs the batched-UDP ceiling (1228-byte datagrams)", m["usctp_bulk_1200_1"],
    m["ceiling_1228"], "MB/s", (">=", 0.25))
row("echo round trip p50 vs usrsctp (lower is better)", m["usctp_rtt_p50"], m["usrsctp_rtt_p50"], "µs",
    ("<=", 1))
row("echo round trip p99 vs usrsctp (lower is better)", m["usctp_rtt_p99"], m["usrsctp_rtt_p99"], "µs")
for parallel, target in [("1", 3), (sys.argv[3], 5)]:
    row(f"handshakes per second, {parallel} client(s) at once, vs usrsctp", m[f"usctp_handshakes_{parallel}"],
        m[f"usrsctp_handshakes_{parallel}"], "/s", (">=", target))
row("CPU seconds per GB, 1200 B, both ends, vs usrsctp (lower is better)", m["usctp_cpu_per_gb_1200_1"],
    m["usrsctp_cpu_per_gb_1200_1"], "s", ("<=", 1.0), absolute=True)
row("CPU seconds per GB, 1200 B, both ends, vs the ceiling (lower is better)", m["usctp_cpu_per_gb_1200_1"],
    m["ceiling_cpu_per_gb_1228"], "s")
print("\n| concurrent associations (usctp, 1200 B, one process each end) | aggregate | with --rto-min 20 |")
print("| --- | --- | --- |")
for n in [1, 10, 100]:
    print(f"| {n} | {m[f'usctp_aggregate_{n}']:.1f} MB/s | {m[f'usctp_aggregate_rto20_{n}']:.1f} MB/s |")
EOF
