#!/usr/bin/env bash
# Goodput under random loss: usctp, usrsctp (our C peer on Debian's
# libusrsctp) and kernel TCP (iperf3) over the same link, in one run.
# Two network namespaces joined by a veth pair; nftables drops packets at
# random on their way into the receiver (`numgen random mod 1000 < N`).
# Each figure is measured RUNS times, the stacks interleaved; the table
# shows medians, with usctp's loss-recovery counters (chunks marked lost
# before T3, retransmissions lost again, loss probes, T3 expiries) beside
# its figure (the default: RACK-TLP and path MTU discovery, which finds
# 1472-byte packets on the 1500-byte veth), usctp with fixed 1200-byte
# packets (--pmtu-limit 0: the default before path MTU discovery, each
# 1200-byte message in two), and usctp with RFC 9260's loss detection alone
# and 1200-byte packets (--loss-detection rfc9260 --pmtu-limit 0: before
# the loss-recovery work).
#
#   sudo bash bench/loss.sh          # LOSS="0 1 10 30" (per mille) RUNS=3 BYTES=50000000 SIZE=1200
#
# Needs root, ip, nft, gcc, libusrsctp-dev, iperf3, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
LOSS=${LOSS:-"0 1 10 30"}
RUNS=${RUNS:-3}
BYTES=${BYTES:-50000000}
SIZE=${SIZE:-1200}

cargo build --release -q --bin usctp
gcc -O2 -o target/usrsctp_peer interop/usrsctp_peer.c -lusrsctp -lpthread
U=$PWD/target/release/usctp
P=$PWD/target/usrsctp_peer
A=usctp-loss-a; B=usctp-loss-b
RESULTS=$(mktemp)

cleanup() { ip netns del "$A" 2>/dev/null || true; ip netns del "$B" 2>/dev/null || true; rm -f "$RESULTS"; }
trap cleanup EXIT
cleanup
ip netns add "$A"; ip netns add "$B"
ip link add veth-a netns "$A" type veth peer name veth-b netns "$B"
ip -n "$A" addr add 10.77.0.1/24 dev veth-a; ip -n "$B" addr add 10.77.0.2/24 dev veth-b
ip -n "$A" link set veth-a up; ip -n "$B" link set veth-b up
ip -n "$A" link set lo up; ip -n "$B" link set lo up
ip netns exec "$B" nft add table inet loss
ip netns exec "$B" nft add chain inet loss input '{ type filter hook input priority 0; }'

loss() { # per mille, on B's input
    ip netns exec "$B" nft flush chain inet loss input
    if [ "$1" -gt 0 ]; then
        ip netns exec "$B" nft add rule inet loss input iifname veth-b numgen random mod 1000 '<' "$1" drop
    fi
}
field() { python3 -c "import json, sys; print(json.loads([l for l in sys.stdin.read().splitlines() if l.startswith('{')][-1])['$1'])"; }
record() { echo "$1 $2" >>"$RESULTS"; }

usctp_bulk() { # loss, loss detection, path MTU limit (0: fixed 1200-byte packets)
    local out k=usctp
    [ "$2" = rack ] || k=usctp_$2
    [ "$3" = 1500 ] || k=${k}_$3
    ip netns exec "$B" $U discard-server --listen 10.77.0.2:9899 --max-assocs 1 >/dev/null 2>&1 &
    local server=$!
    sleep 0.3
    out=$(ip netns exec "$A" timeout 600 $U bench 10.77.0.2:9899 --bytes "$BYTES" --msg-size "$SIZE" \
        --loss-detection "$2" --pmtu-limit "$3" --json 2>/dev/null || true)
    # A SHUTDOWN COMPLETE lost on the way in leaves the server resending
    # its SHUTDOWN ACK to a peer that is gone, for minutes (RFC 9260 §9.2).
    sleep 0.2; kill "$server" 2>/dev/null || true
    wait || true
    if [ -n "$out" ]; then
        record "${k}_$1" "$(echo "$out" | field MBps)"
        for c in fast_retransmits lost_retransmissions loss_probes t3_expiries path_mtu; do
            record "${k}_${c}_$1" "$(echo "$out" | field $c)"
        done
    fi
}

usrsctp_bulk() { # loss
    local out
    ip netns exec "$B" $P server --service discard --udp-port 9900 --bind 10.77.0.2 --once >/dev/null 2>&1 &
    local server=$!
    sleep 0.3
    out=$(ip netns exec "$A" $P client --service bench --connect 10.77.0.2:9900 --bind 10.77.0.1 \
        --bytes "$BYTES" --msg-size "$SIZE" --timeout 600 2>/dev/null || true)
    sleep 0.2; kill "$server" 2>/dev/null || true
    wait || true
    [ -n "$out" ] && record "usrsctp_$1" "$(echo "$out" | field MBps)"
}

tcp_bulk() { # loss
    local out
    ip netns exec "$B" iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
    sleep 0.3
    out=$(ip netns exec "$A" iperf3 -c 10.77.0.2 -p 5201 -l "$SIZE" -n "$BYTES" -J 2>/dev/null || true)
    wait || true
    [ -n "$out" ] && record "tcp_$1" "$(echo "$out" | python3 -c '
import json, sys
s = json.load(sys.stdin)["end"]["sum_received"]
print(s["bytes"] / s["seconds"] / 1e6)')"
}

for l in $LOSS; do
    loss "$l"
    for r in $(seq "$RUNS"); do
        usctp_bulk "$l" rack 1500; usrsctp_bulk "$l"; tcp_bulk "$l"
        usctp_bulk "$l" rfc9260 0; usctp_bulk "$l" rack 0
    done
done

python3 - "$RESULTS" "$LOSS" "$SIZE" "$BYTES" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    rows.setdefault(k, []).append(float(v))
med = lambda k: statistics.median(rows[k]) if k in rows else float("nan")
print(f"{int(sys.argv[4]) // 1000000} MB of {sys.argv[3]}-byte messages, medians of each stack's runs (MB/s)\n")
print("| loss | usctp | packet | lost / lost again / probes / T3 | usrsctp | kernel TCP | usctp, 1200-byte packets | T3 | usctp, RFC 9260 detection, 1200 | lost / T3 |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for l in sys.argv[2].split():
    counts = lambda k, cs: " / ".join(f"{med(k + '_' + c + '_' + l):.0f}" for c in cs)
    rack = counts("usctp", ["fast_retransmits", "lost_retransmissions", "loss_probes", "t3_expiries"])
    rfc = counts("usctp_rfc9260_0", ["fast_retransmits", "t3_expiries"])
    small = f"{med('usctp_0_' + l):.1f} | {med('usctp_0_t3_expiries_' + l):.0f}"
    mtu = f"{med('usctp_path_mtu_' + l):.0f}"
    print(f"| {int(l) / 10:g}% | {med('usctp_' + l):.1f} | {mtu} | {rack} | {med('usrsctp_' + l):.1f} | {med('tcp_' + l):.1f} | {small} | {med('usctp_rfc9260_0_' + l):.1f} | {rfc} |")
PY
