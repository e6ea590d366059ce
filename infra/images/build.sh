#!/usr/bin/env bash
# Builds local `duckhook/prometheus:local` and `duckhook/alertmanager:local` images without a
# registry: a root filesystem holding Debian's binaries (apt packages `prometheus` and
# `prometheus-alertmanager`) plus the shared libraries `ldd` lists, fed to `docker import`.
# The layout follows the official prom/* images (/bin/prometheus, /bin/alertmanager as the
# entrypoint, /prometheus and /alertmanager as data folders), so the test fixture starts either
# image with the same flags.
#
#   infra/images/build.sh            # needs a reachable Docker engine (DOCKER_HOST) and the binaries
#   PROMETHEUS_BIN=... ALERTMANAGER_BIN=... IMAGE_TAG=local infra/images/build.sh
set -euo pipefail

PROMETHEUS_BIN=${PROMETHEUS_BIN:-/usr/bin/prometheus}
ALERTMANAGER_BIN=${ALERTMANAGER_BIN:-/usr/bin/prometheus-alertmanager}
IMAGE_TAG=${IMAGE_TAG:-local}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Copies a binary and every shared library it loads (Debian's Go binaries link libc
# dynamically; a static binary yields no libraries and that is fine too).
add_binary() {
  local root=$1 src=$2 dest=$3
  install -D -m 0755 "$src" "$root$dest"
  # ldd prints "name => /path (addr)" or "/path (addr)"; "statically linked" or vdso have no path.
  { ldd "$src" 2>/dev/null || true; } | grep -oE '/[^ ]+' | while read -r lib; do
    [ -e "$lib" ] || continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

make_rootfs() {
  local root=$1 data=$2
  mkdir -p "$root"/{etc,tmp,"$data"}
  chmod 1777 "$root/tmp"
  # The official images run as nobody; keep a passwd/group so user lookups behave the same.
  printf 'root:x:0:0:root:/root:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
  # Resolve "localhost" inside the container as the host does (host networking).
  printf '127.0.0.1 localhost\n::1 localhost\n' > "$root/etc/hosts"
  printf 'hosts: files dns\n' > "$root/etc/nsswitch.conf"
  chown 65534:65534 "$root/$data"
}

build() {
  local name=$1 src=$2 dest=$3 data=$4 port=$5 share=$6
  shift 6
  [ -x "$src" ] || { echo "build.sh: $src not found (apt-get install prometheus prometheus-alertmanager)" >&2; exit 1; }
  local root="$work/$name"
  make_rootfs "$root" "$data"
  add_binary "$root" "$src" "$dest"
  # Debian's alertmanager reads its notification templates from disk, not from the binary.
  if [ -n "$share" ] && [ -d "$share" ]; then
    mkdir -p "$root$(dirname "$share")"
    cp -a "$share" "$root$share"
  fi
  local cmd
  cmd=$(printf '"%s",' "$@")
  tar -C "$root" -c . | docker import \
    --change "ENTRYPOINT [\"$dest\"]" \
    --change "CMD [${cmd%,}]" \
    --change "WORKDIR /$data" \
    --change "EXPOSE $port" \
    --change "USER 65534" \
    - "duckhook/$name:$IMAGE_TAG" >/dev/null
  echo "built duckhook/$name:$IMAGE_TAG from $src ($("$src" --version 2>&1 | head -1))"
}

build prometheus "$PROMETHEUS_BIN" /bin/prometheus prometheus 9090 '' \
  --config.file=/etc/prometheus/prometheus.yml --storage.tsdb.path=/prometheus
build alertmanager "$ALERTMANAGER_BIN" /bin/alertmanager alertmanager 9093 /usr/share/prometheus/alertmanager \
  --config.file=/etc/alertmanager/alertmanager.yml --storage.path=/alertmanager
