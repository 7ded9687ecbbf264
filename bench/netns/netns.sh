#!/usr/bin/env bash
# Simulated hosts for the multi-host benchmark: network namespaces are hosts, veth pairs are
# cables, tbf shapes each host's download link. Everything lives inside namespaces named ddm-*,
# so nothing in the root namespace changes and teardown can find every piece by its prefix.
#
#   netns.sh setup CLIENT_MBIT HELPER_MBIT...   hosts ddm-h0 (client) and ddm-h1..N (helpers)
#   netns.sh origin DIR                         nginx in ddm-inet serving DIR at http://10.200.0.1/
#   netns.sh rate HOST MBIT                     change host HOST's download rate (0 = client)
#   netns.sh exec HOST|NS CMD...                run CMD inside a host (exec: the PID is CMD's)
#   netns.sh teardown                           stop everything in ddm-inet, ddm-lan, ddm-hN and delete them
#   netns.sh status                             namespaces, addresses and qdiscs
#
# Addresses: origin 10.200.0.1 on a bridge in ddm-inet; host i has uplink 10.200.0.(10+i) (shaped
# on the ddm-inet side, i.e. in the download direction) and LAN address 10.201.0.(10+i) on an
# unshaped bridge in ddm-lan. The two subnets are separate and no namespace forwards, so each
# host reaches the origin only through its own uplink.
set -euo pipefail

readonly PREFIX=ddm-
readonly INET_NS=ddm-inet
readonly LAN_NS=ddm-lan
readonly INET_NET=10.200.0
readonly LAN_NET=10.201.0
readonly ORIGIN_IP=${INET_NET}.1
readonly HOST_OFFSET=10
readonly MAX_HOSTS=64
# tbf: the queue may hold this much delay before dropping, like a real access link's buffer.
readonly TBF_LATENCY=50ms
readonly STOP_WAIT_TENTHS=30

die() {
  echo "netns.sh: $*" >&2
  exit 1
}

host_ns() { echo "${PREFIX}h$1"; }

require_root() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces and tc)"
  command -v ip >/dev/null || die "ip not found: apt-get install -y iproute2"
  command -v tc >/dev/null || die "tc not found: apt-get install -y iproute2"
}

our_namespaces() {
  # Only the harness's own hosts: tests use other ddm-* names (ddm-t-*) that must survive a teardown.
  ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${PREFIX}(inet|lan|h[0-9]+)$" || true
}

# tbf needs a bucket that holds at least one GSO burst (64 KiB) or it splits every super-packet;
# beyond that, about 10 ms of traffic at the rate keeps the shaper from starving fast links.
tbf_burst_bytes() {
  local mbit=$1
  local ten_ms=$((mbit * 1000000 / 8 / 100))
  local floor=$((64 * 1024 + 1514))
  echo $((ten_ms > floor ? ten_ms : floor))
}

shape() {
  local verb=$1 dev=$2 mbit=$3
  [[ $mbit =~ ^[0-9]+$ && $mbit -ge 1 ]] || die "rate must be a whole number of Mbit/s >= 1, got '$mbit'"
  ip netns exec "$INET_NS" tc qdisc "$verb" dev "$dev" root tbf \
    rate "${mbit}mbit" burst "$(tbf_burst_bytes "$mbit")" latency "$TBF_LATENCY"
}

stop_processes() {
  local ns=$1 pids tries
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  [[ -z $pids ]] && return 0
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  for ((tries = 0; tries < STOP_WAIT_TENTHS; tries++)); do
    [[ -z $(ip netns pids "$ns" 2>/dev/null || true) ]] && return 0
    sleep 0.1
  done
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  # shellcheck disable=SC2086
  [[ -n $pids ]] && kill -KILL $pids 2>/dev/null || true
}

teardown() {
  local ns
  for ns in $(our_namespaces); do
    stop_processes "$ns"
  done
  for ns in $(our_namespaces); do
    ip netns del "$ns" 2>/dev/null || true
  done
  # Deleting a namespace is asynchronous for its devices; wait until the names are free again.
  local tries
  for ((tries = 0; tries < STOP_WAIT_TENTHS; tries++)); do
    [[ -z $(our_namespaces) ]] && return 0
    sleep 0.1
  done
  [[ -z $(our_namespaces) ]] || die "could not delete: $(our_namespaces | tr '\n' ' ')"
}

make_namespace() {
  local ns=$1
  ip netns add "$ns"
  ip -n "$ns" link set lo up
}

make_bridge() {
  local ns=$1 name=$2
  ip -n "$ns" link add "$name" type bridge
  ip -n "$ns" link set "$name" up
}

# One cable: end $2 in namespace $1 joins bridge $3; end $5 appears in namespace $4.
make_cable() {
  local bridge_ns=$1 bridge_end=$2 bridge=$3 host_ns=$4 host_end=$5
  ip -n "$bridge_ns" link add "$bridge_end" type veth peer name "$host_end" netns "$host_ns"
  ip -n "$bridge_ns" link set "$bridge_end" master "$bridge" up
  ip -n "$host_ns" link set "$host_end" up
}

add_host() {
  local index=$1 mbit=$2 ns address
  ns=$(host_ns "$index")
  address=$((HOST_OFFSET + index))
  make_namespace "$ns"
  make_cable "$INET_NS" "${PREFIX}u${index}" "${PREFIX}br-inet" "$ns" "${PREFIX}up"
  ip -n "$ns" addr add "${INET_NET}.${address}/24" dev "${PREFIX}up"
  make_cable "$LAN_NS" "${PREFIX}l${index}" "${PREFIX}br-lan" "$ns" "${PREFIX}lan"
  ip -n "$ns" addr add "${LAN_NET}.${address}/24" dev "${PREFIX}lan"
  shape add "${PREFIX}u${index}" "$mbit"
}

setup() {
  (($# >= 1)) || die "usage: setup CLIENT_MBIT [HELPER_MBIT...]"
  (($# <= MAX_HOSTS)) || die "at most $MAX_HOSTS hosts"
  teardown
  # A half-built topology is worse than none: undo it if any step below fails (set -e or die).
  trap 'teardown' EXIT
  make_namespace "$INET_NS"
  make_bridge "$INET_NS" "${PREFIX}br-inet"
  ip -n "$INET_NS" addr add "${ORIGIN_IP}/24" dev "${PREFIX}br-inet"
  make_namespace "$LAN_NS"
  make_bridge "$LAN_NS" "${PREFIX}br-lan"
  local index=0 mbit
  for mbit in "$@"; do
    add_host "$index" "$mbit"
    index=$((index + 1))
  done
  trap - EXIT
}

origin() {
  (($# == 1)) || die "usage: origin DIR"
  local root conf
  root=$(cd "$1" && pwd) || die "no such directory: $1"
  our_namespaces | grep -qx "$INET_NS" || die "run setup first"
  conf="$root/.nginx"
  mkdir -p "$conf"
  cat >"$conf/nginx.conf" <<EOF
user root;
worker_processes 2;
pid $conf/nginx.pid;
error_log $conf/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path $conf/body;
  proxy_temp_path $conf/proxy;
  fastcgi_temp_path $conf/fastcgi;
  uwsgi_temp_path $conf/uwsgi;
  scgi_temp_path $conf/scgi;
  types { application/octet-stream bin; }
  default_type application/octet-stream;
  server {
    listen ${ORIGIN_IP}:80;
    root $root;
    location ~ /\. { deny all; }
  }
}
EOF
  ip netns exec "$INET_NS" nginx -c "$conf/nginx.conf"
  local tries
  for ((tries = 0; tries < STOP_WAIT_TENTHS; tries++)); do
    [[ -s $conf/nginx.pid ]] && return 0
    sleep 0.1
  done
  die "nginx did not start; see $conf/error.log"
}

rate() {
  (($# == 2)) || die "usage: rate HOST MBIT"
  [[ $1 =~ ^[0-9]+$ ]] || die "host must be an index, got '$1'"
  shape change "${PREFIX}u$1" "$2"
}

exec_in() {
  (($# >= 2)) || die "usage: exec HOST|NS CMD..."
  local ns=$1
  [[ $ns =~ ^[0-9]+$ ]] && ns=$(host_ns "$ns")
  [[ $ns == "${PREFIX}"* ]] || die "refusing to run outside a ${PREFIX}* namespace: $ns"
  shift
  exec ip netns exec "$ns" "$@"
}

status() {
  local ns
  for ns in $(our_namespaces); do
    echo "== $ns"
    ip -n "$ns" -brief addr
    ip netns exec "$ns" tc qdisc show | grep tbf || true
  done
}

main() {
  (($# >= 1)) || die "usage: netns.sh setup|origin|rate|exec|teardown|status ..."
  local command=$1
  shift
  require_root
  case $command in
    setup) setup "$@" ;;
    origin) origin "$@" ;;
    rate) rate "$@" ;;
    exec) exec_in "$@" ;;
    teardown) teardown ;;
    status) status ;;
    *) die "unknown command: $command" ;;
  esac
}

main "$@"
