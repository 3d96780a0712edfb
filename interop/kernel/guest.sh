#!/usr/bin/env bash
# Linux kernel SCTP as a peer: a QEMU guest running Debian's kernel with
# RFC 6951 encapsulation (net.sctp.udp_port), booted from a small initramfs
# built here from the host's packages (busybox-static, linux-image-amd64,
# libsctp-dev) and the tutorial's programs (interop/seed/), linked
# statically. TCG emulation, no KVM needed.
#
#   interop/kernel/guest.sh build               # the initramfs (cached)
#   interop/kernel/guest.sh run [NAME=VALUE...] JOB [ARG...]
#                                               # boot, run JOB, print the console
#
# `build` also builds kpeer for the host ($out/kpeer, against libsctp.so),
# to run under `usctp run`. NAME=VALUE words before the job are exported
# to it (kpeer's KPEER_* settings).
#
# Jobs (run by the guest's /init, then it powers off):
#   daytime-server            the tutorial's server on kernel SCTP, port 19000
#   daytime-client PORT [TRIES]  the tutorial's client, to the host
#                             (10.0.2.2) at SCTP port 19000 over UDP port
#                             PORT; again until the association's status
#                             shows, up to TRIES times (1)
#   sctp_test UDPPORT SECONDS ARG...
#                             lksctp-tools' sctp_test ARG... for SECONDS at
#                             most; UDPPORT as for the clients (0: none)
#   echo-server SCTPPORT [N]  kpeer.c: N associations (1), every message back
#   discard-server SCTPPORT [N]  kpeer.c: N associations (1), counted
#   send UDPPORT SCTPPORT BYTES SIZE STREAMS
#                             kpeer.c: BYTES in SIZE-byte messages to the
#                             host, then a graceful close
#   abort-server SCTPPORT     kpeer.c: one message, then ABORT
#   ping UDPPORT SCTPPORT COUNT SIZE[+SIZE...] STREAMS
#                             kpeer.c: COUNT echoes from the host, compared
#   restart UDPPORT SCTPPORT COUNT SIZE
#                             kpeer.c: COUNT echoes, the association lost
#                             silently, COUNT more from the same port
#   exchange UDPPORT SCTPPORT COUNT SIZE
#                             kpeer.c: connect (from KPEER_PORT), send and
#                             receive COUNT messages
# Environment for `run`: HOSTFWD=HOSTPORT forwards the host's UDP
# 127.0.0.1:HOSTPORT to the guest's encapsulation port (9899), so that a
# host program can reach a server in the guest. TAP=IF[,IF2] gives the
# guest one e1000 NIC on each of these tap devices instead of the user
# network (they must exist, in this network namespace): the guest has
# 10.202.N.2/24 on its Nth NIC and the host is 10.202.1.1; PCAP=FILE
# records the first NIC's traffic there. TIMEOUT (seconds, default
# 60, 0 for none) bounds the guest's life. The console (the jobs' output
# and the guest's "guest: ..." lines) goes to standard output.
#
# Needs: qemu-system-x86 linux-image-amd64 busybox-static libsctp-dev
# lksctp-tools gcc cpio (apt-get install -y --no-install-recommends ...).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${USCTP_KERNEL_DIR:-$root/target/kernel-peer}
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1 || true)
kver=${kernel#/boot/vmlinuz-}

die() { echo "guest.sh: $*" >&2; exit 2; }

build() {
    [ -n "$kernel" ] || die "no kernel in /boot (apt-get install linux-image-amd64)"
    command -v qemu-system-x86_64 >/dev/null || die "no qemu-system-x86_64 (apt-get install qemu-system-x86)"
    [ -x /bin/busybox ] || die "no /bin/busybox (apt-get install busybox-static)"
    [ -f /usr/lib/x86_64-linux-gnu/libsctp.a ] || die "no libsctp.a (apt-get install libsctp-dev)"
    [ -x /usr/bin/sctp_test ] || die "no sctp_test (apt-get install lksctp-tools)"
    local initrd=$out/initrd-$kver.gz stamp inputs
    mkdir -p "$out"
    # kpeer for the host, to run under `usctp run`.
    if [ ! -x "$out/kpeer" ] || [ "$here/kpeer.c" -nt "$out/kpeer" ]; then
        gcc -O2 -o "$out/kpeer.tmp" "$here/kpeer.c" -lsctp
        mv "$out/kpeer.tmp" "$out/kpeer"
    fi
    inputs="$0 /usr/bin/sctp_test $here/kpeer.c $root/interop/seed/sctpsrvr.c $root/interop/seed/sctpclnt.c $root/interop/seed/common.h"
    # Cached: rebuilt only when an input is newer than the image.
    if [ -f "$initrd" ]; then
        stamp=$(find $inputs -newer "$initrd" | head -1)
        [ -z "$stamp" ] && { echo "$initrd"; return; }
    fi
    local tree
    tree=$(mktemp -d)
    mkdir -p "$tree"/{bin,proc,sys,dev,tmp,modules}
    cp /bin/busybox "$tree/bin/busybox"
    # The modules SCTP over UDP needs, in load order (modules.dep), and the
    # NIC QEMU's user network gives the guest (e1000).
    local m=/lib/modules/$kver/kernel
    for mod in crypto/crc32c_generic lib/libcrc32c net/ipv4/udp_tunnel net/ipv6/ip6_udp_tunnel \
        net/sctp/sctp drivers/net/ethernet/intel/e1000/e1000; do
        local f=$m/$mod.ko
        if [ -f "$f.xz" ]; then xz -dc "$f.xz" >"$tree/modules/$(basename "$f")"; else cp "$f" "$tree/modules/"; fi
    done
    # The tutorial's programs. The client connects to 127.0.0.1 in the
    # tutorial; in the guest the host is 10.0.2.2, the only change made.
    gcc -O2 -static -o "$tree/bin/sctpsrvr" "$root/interop/seed/sctpsrvr.c" -I"$root/interop/seed" -l:libsctp.a
    sed 's/inet_addr( *"127.0.0.1" *)/inet_addr("10.0.2.2")/' "$root/interop/seed/sctpclnt.c" >"$tree/sctpclnt.c"
    grep -q '10.0.2.2' "$tree/sctpclnt.c" || die "the client's address was not found to change"
    gcc -O2 -static -o "$tree/bin/sctpclnt" "$tree/sctpclnt.c" -I"$root/interop/seed" -l:libsctp.a
    rm "$tree/sctpclnt.c"
    gcc -O2 -static -o "$tree/bin/kpeer" "$here/kpeer.c" -l:libsctp.a
    # lksctp-tools' sctp_test as Debian builds it, with the shared
    # libraries it loads.
    cp /usr/bin/sctp_test "$tree/bin/"
    local lib
    for lib in $(ldd /usr/bin/sctp_test | grep -o '/[^ ]*'); do
        mkdir -p "$tree$(dirname "$lib")"
        cp -L "$lib" "$tree$lib"
    done
    cat >"$tree/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in crc32c_generic libcrc32c udp_tunnel ip6_udp_tunnel sctp e1000; do
    insmod /modules/$m.ko || echo "guest: insmod $m failed"
done
ip link set lo up
cmdline=$(cat /proc/cmdline)
nics=$(echo "$cmdline" | sed -n 's/.*usctp\.taps=\([0-9]*\).*/\1/p')
if [ -n "$nics" ]; then
    # Tap devices: 10.202.N.2 on the Nth NIC, the host at 10.202.1.1.
    host=10.202.1.1
    n=1
    while [ "$n" -le "$nics" ]; do
        ip link set eth$((n - 1)) up
        ip addr add 10.202.$n.2/24 dev eth$((n - 1))
        n=$((n + 1))
    done
else
    # QEMU's user network: the guest is 10.0.2.15, the host 10.0.2.2.
    host=10.0.2.2
    ip link set eth0 up
    ip addr add 10.0.2.15/24 dev eth0
    ip route add default via 10.0.2.2
fi
# A NIC is set up before its link is: what is sent until then is lost.
# Wait (up to 10 s) for every NIC's carrier.
for nic in /sys/class/net/eth*; do
    tries=0
    while [ "$(cat "$nic/carrier" 2>/dev/null)" != 1 ] && [ "$tries" -lt 100 ]; do
        sleep 0.1
        tries=$((tries + 1))
    done
done
job=$(echo "$cmdline" | sed -n 's/.*usctp\.job=\([^ ]*\).*/\1/p' | tr , ' ')
# RFC 6951: SCTP over UDP, received on port 9899. New associations send
# to net.sctp.encap_port (the client job: the host's usctp); answers go
# to the UDP port the peer's packets came from.
set -- $job
while [ $# -gt 0 ] && [ "${1#*=}" != "$1" ]; do export "$1"; shift; done
export KPEER_IN_GUEST=1
echo 9899 >/proc/sys/net/sctp/udp_port
echo "guest: up, job: $job"
case "$1" in
    daytime-server) timeout "${2:-30}" sctpsrvr ;;
    daytime-client)
        # The client asks for the association's status after connect; a
        # server that sends and closes at once may have ended it by then
        # (the client prints zeroes). Up to TRIES attempts.
        echo "$2" >/proc/sys/net/sctp/encap_port
        n=0
        while [ "$n" -lt "${3:-1}" ]; do
            sctpclnt >/tmp/out
            status=$?
            cat /tmp/out
            grep -q "instrms   = 5" /tmp/out && break
            n=$((n + 1))
        done
        (exit $status) ;;
    sctp_test)
        # lksctp-tools' sctp_test ARGS (commas for spaces on the command
        # line), for SECONDS at most, sending to the host at UDPPORT
        # (0: the port each peer's packets come from).
        [ "$2" != 0 ] && echo "$2" >/proc/sys/net/sctp/encap_port
        seconds=$3
        shift 3
        timeout "$seconds" sctp_test "$@"
        status=$?
        # Its close returns at once; the kernel goes on delivering and
        # shutting down. Wait (up to 20 s) until every association that
        # was set up has ended (the SNMP counters: /proc/net/sctp/assocs
        # no longer lists those of a closed socket).
        n=0
        while [ "$(awk '/SctpActiveEstabs|SctpPassiveEstabs/ { up += $2 }
                        /SctpAborteds|SctpShutdowns/ { up -= $2 }
                        END { print up }' /proc/net/sctp/snmp)" -gt 0 ] && [ "$n" -lt 200 ]; do
            sleep 0.1
            n=$((n + 1))
        done
        (exit $status) ;;
    echo-server) kpeer echo "$2" "${3:-1}" ;;
    discard-server) kpeer discard "$2" "${3:-1}" ;;
    abort-server) kpeer abort "$2" ;;
    send) echo "$2" >/proc/sys/net/sctp/encap_port; kpeer send $host "$3" "$4" "$5" "$6" ;;
    ping) echo "$2" >/proc/sys/net/sctp/encap_port; kpeer ping $host "$3" "$4" "$5" "$6" ;;
    restart) echo "$2" >/proc/sys/net/sctp/encap_port; kpeer restart $host "$3" "$4" "$5" ;;
    exchange) echo "$2" >/proc/sys/net/sctp/encap_port; kpeer exchange $host "$3" "$4" "$5" ;;
    *) echo "guest: unknown job $1" ;;
esac
echo "guest: job exit $?"
poweroff -f
INIT
    chmod +x "$tree/init"
    mkdir -p "$out"
    (cd "$tree" && find . | cpio -o -H newc --quiet | gzip -1) >"$initrd.tmp"
    mv "$initrd.tmp" "$initrd"
    rm -rf "$tree"
    echo "$initrd"
}

run() {
    local initrd job net
    initrd=$(build)
    job=$(IFS=,; echo "$*")
    local nics=() append="console=ttyS0 quiet panic=-1 usctp.job=$job"
    if [ -n "${TAP:-}" ]; then
        local tap i=0
        for tap in ${TAP//,/ }; do
            nics+=(-netdev "tap,id=n$i,ifname=$tap,script=no,downscript=no"
                -device "e1000,netdev=n$i,mac=52:54:00:12:34:$((56 + i))")
            # PCAP: everything the first NIC sends and receives, as the
            # guest sees it.
            [ "$i" = 0 ] && [ -n "${PCAP:-}" ] && nics+=(-object "filter-dump,id=d0,netdev=n0,file=$PCAP")
            i=$((i + 1))
        done
        append="$append usctp.taps=$i"
    else
        net="user,model=e1000"
        [ -n "${HOSTFWD:-}" ] && net="$net,hostfwd=udp:127.0.0.1:$HOSTFWD-10.0.2.15:9899"
        nics=(-nic "$net")
    fi
    local qemu=(qemu-system-x86_64 -m 256 -smp 1 -nographic -no-reboot
        -kernel "$kernel" -initrd "$initrd" "${nics[@]}" -append "$append")
    # TIMEOUT=0: no limit here (a caller that kills this process kills
    # QEMU itself).
    if [ "${TIMEOUT:-60}" = 0 ]; then exec "${qemu[@]}"; fi
    exec timeout "${TIMEOUT:-60}" "${qemu[@]}"
}

case "${1:-}" in
    build) build ;;
    run) shift; run "$@" ;;
    *) die "usage: guest.sh build | run JOB [ARG...]" ;;
esac
