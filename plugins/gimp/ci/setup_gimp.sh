#!/usr/bin/env bash
# Set up a real GIMP 3 with Python plug-ins for tests/test_gimp_real.py.
#
#   bash plugins/gimp/ci/setup_gimp.sh            # idempotent; prints the root at the end
#
# Debian 13 (trixie) or newer: apt-installs gimp, python3-gi, gir1.2-gimp-3.0 on the machine
# itself. Debian 12 packages GIMP 2.10 without Python, so there it builds a Debian 13 chroot
# with debootstrap and installs the same packages inside. Either way it then makes a venv with
# the Python that GIMP runs plug-ins with (so the core can be imported in-process) and installs
# this checkout of srcnn into it.
#
# Where: $SRCNN_GIMP_ROOT (default /var/tmp/srcnn-gimp3), described by $ROOT/env.sh, which the
# tests read. The slow part (debootstrap + apt + wheels) is skipped when $ROOT/.base-ready
# carries the current stamp; the project itself is reinstalled on every call (a few seconds).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../../.." && pwd)
ROOT=${SRCNN_GIMP_ROOT:-/var/tmp/srcnn-gimp3}
# The chroot's package source: $SRCNN_DEBIAN_MIRROR, else the Debian archive this machine's apt
# is configured with (the first URI of its sources that is not a security archive), else
# debootstrap's own default. No mirror is named here: a machine behind a proxy or a local mirror
# keeps using it.
host_mirror() {
    { grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | cut -d: -f2- | tr ' ' '\n'
      grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | sed -E 's/\[[^]]*\] *//' | awk '{print $2}'
    } | grep -v -e '^$' -e 'security' | head -n 1 || true   # none: debootstrap's default
}
MIRROR=${SRCNN_DEBIAN_MIRROR:-$(host_mirror)}
# xvfb + xdotool: the undo test drives GIMP's own Edit > Undo (Ctrl+Z) in the GUI on a virtual
# screen, since the PDB has no undo procedure.
PKGS="gimp python3-gi gir1.2-gimp-3.0 python3-venv ca-certificates xvfb xauth xdotool"
STAMP="v2 $PKGS"
NICE="nice -n 19"
export DEBIAN_FRONTEND=noninteractive
t0=$(date +%s)
log() { echo "setup_gimp: [$(( $(date +%s) - t0 ))s] $*" >&2; }

[ "$(id -u)" = 0 ] || { echo "setup_gimp: needs root (apt-get, debootstrap, chroot)" >&2; exit 1; }
host_major=$(cut -d. -f1 /etc/debian_version 2>/dev/null || echo 0)
case "$host_major" in ''|*[!0-9]*) host_major=0 ;; esac   # e.g. "trixie/sid" on testing

if [ "$host_major" -ge 13 ] || { [ "$host_major" = 0 ] && grep -qs 'trixie\|forky' /etc/os-release; }; then
    MODE=native
else
    MODE=chroot
fi

mkdir -p "$ROOT"
if [ "$MODE" = chroot ]; then
    RUN=(chroot "$ROOT" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
         LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive)
    VENV=/opt/srcnn-venv            # as seen inside the chroot
    SRC=/opt/srcnn-src
else
    RUN=()
    VENV=$ROOT/venv
    SRC=$REPO
fi

if [ "$(cat "$ROOT/.base-ready" 2>/dev/null)" != "$STAMP" ]; then
    if [ "$MODE" = chroot ]; then
        if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
            command -v debootstrap >/dev/null || { log "apt-get install debootstrap";
                $NICE apt-get update -qq && $NICE apt-get install -y -qq debootstrap >/dev/null; }
            log "debootstrap trixie into $ROOT from ${MIRROR:-the default mirror of debootstrap}"
            # a half-made root from an interrupted run: start over (never while something is mounted in it)
            if [ -e "$ROOT/debootstrap" ]; then
                if grep -qs " $ROOT/" /proc/mounts; then log "mounts under $ROOT: refusing to delete"; exit 1; fi
                rm -rf --one-file-system "$ROOT"; mkdir -p "$ROOT"
            fi
            $NICE debootstrap --variant=minbase trixie "$ROOT" ${MIRROR:+"$MIRROR"} >"$ROOT.debootstrap.log" 2>&1 \
                || { tail -20 "$ROOT.debootstrap.log" >&2; exit 1; }
        fi
        # pip inside the chroot verifies HTTPS against the host's bundle (FACTS 6)
        mkdir -p "$ROOT/etc/ssl/certs"
        cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
        cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
    fi
    log "apt-get install $PKGS"
    { $NICE "${RUN[@]}" apt-get update -qq && \
      $NICE "${RUN[@]}" apt-get install -y -qq --no-install-recommends $PKGS; } >"$ROOT.apt.log" 2>&1 \
        || { tail -20 "$ROOT.apt.log" >&2; exit 1; }
    if [ "$MODE" = chroot ]; then   # ca-certificates may have rebuilt the bundle: keep the host's
        cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
    fi
    log "venv $VENV with the plug-in Python ($("${RUN[@]}" /usr/bin/python3 --version))"
    $NICE "${RUN[@]}" /usr/bin/python3 -m venv "$VENV"  # GIMP's Python, not one first on PATH
    $NICE "${RUN[@]}" "$VENV/bin/pip" install -q --upgrade pip setuptools wheel
    echo "$STAMP" >"$ROOT/.base-ready"
fi

if [ "$MODE" = chroot ]; then
    log "copy the checkout to $SRC"
    rm -rf "$ROOT$SRC"; mkdir -p "$ROOT$SRC"
    (cd "$REPO" && git ls-files -co --exclude-standard -z | tar --null -T - -cf - 2>/dev/null) | tar -C "$ROOT$SRC" -xf -
fi
log "pip install srcnn into $VENV"
$NICE "${RUN[@]}" "$VENV/bin/pip" install -q --no-build-isolation "$SRC" >"$ROOT.pip.log" 2>&1 || { tail -20 "$ROOT.pip.log" >&2; exit 1; }

# A GIMP profile for the tests, warmed once: a fresh profile makes GIMP query all ~120 bundled
# plug-ins, which takes minutes on a busy 2-core machine; afterwards only changed ones are.
if [ "$MODE" = chroot ]; then GHOME=/opt/srcnn-gimp-home; host_ghome=$ROOT$GHOME
else GHOME=$ROOT/gimp-home; host_ghome=$GHOME; fi
if [ ! -s "$host_ghome/.config/GIMP/3.0/pluginrc" ]; then
    log "warm the GIMP profile $GHOME (the first start queries every plug-in)"
    mkdir -p "$host_ghome"
    $NICE "${RUN[@]}" env HOME="$GHOME" PATH=/usr/bin:/bin gimp-console -i --quit >"$ROOT.warm.log" 2>&1 \
        || { tail -20 "$ROOT.warm.log" >&2; exit 1; }
fi

cat >"$ROOT/env.sh" <<EOF
# written by plugins/gimp/ci/setup_gimp.sh
SRCNN_GIMP_MODE=$MODE
SRCNN_GIMP_VENV=$VENV
SRCNN_GIMP_HOME=$GHOME
EOF
log "ready: $MODE GIMP 3 at $ROOT ($("${RUN[@]}" gimp-console --version 2>/dev/null | head -1))"
echo "$ROOT"
