#!/usr/bin/env bash
# `make fresh-check`: does the README's first command work on a fresh
# Debian 12 machine?  Builds a minimal bookworm root with debootstrap in a
# temporary directory, clones the current commit into it (a clean clone:
# only committed changes are checked), and runs `make demo` there as root
# in a chroot, then checks the demo printed examples/hello.out.  The VM the
# demo boots runs under TCG, so no KVM is needed.  Takes 5-20 minutes
# (docs/setup.md); run it before landing a change to the set-up.
#
# The root is debootstrap's minbase variant (Essential and required
# packages only) plus `make`, the one thing the README asks for up front;
# everything else must come from `make demo` itself.  Needs root, network
# access and about 3 GB in /var/tmp.
set -euo pipefail

repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
commit=$(git -C "$repo" rev-parse HEAD)
expected="$repo/examples/hello.out"

# The Debian mirror this host's apt uses, so a local mirror or proxy is
# honoured; deb.debian.org when none is configured.
host_mirror() {
	local uri
	uri=$(grep -hsE '^[^#]*deb(822)?.*bookworm' /etc/apt/sources.list |
		awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }')
	if [ -z "$uri" ]; then
		uri=$(awk '/^URIs:/ { uri = $2 }
			/^Suites:/ && / bookworm( |$)/ { print uri; exit }' \
			/etc/apt/sources.list.d/*.sources 2>/dev/null)
	fi
	echo "${uri:-http://deb.debian.org/debian}"
}

[ "$(id -u)" = 0 ] || { echo "fresh-check: needs root (debootstrap, chroot, mount)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "fresh-check: debootstrap not installed" >&2; exit 1; }

start=$SECONDS
mirror=$(host_mirror)
root=$(mktemp -d /var/tmp/stpc-fresh.XXXXXX)
log="$root.log"
mounts=()

cleanup() {
	local i
	for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
		umount -l "${mounts[i]}" || echo "fresh-check: could not unmount ${mounts[i]}" >&2
	done
	# --one-file-system: never follow a mount that failed to go away.
	rm -rf --one-file-system "$root"
}
trap cleanup EXIT

bind() {
	mkdir -p "$root$1"
	mount --bind "$1" "$root$1"
	mounts+=("$root$1")
}

echo "== fresh-check: commit $commit, mirror $mirror, root $root, log $log"
echo "== debootstrap bookworm (minbase)"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$log" 2>&1 ||
	{ tail -n 20 "$log" >&2; exit 1; }

# A fresh Debian 12 install also has the updates and security suites.
security=${mirror%/debian}/debian-security
[ "$security" != "$mirror/debian-security" ] || security=http://deb.debian.org/debian-security
cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
cp /etc/resolv.conf "$root/etc/resolv.conf"
# This host's network, not its set-up: its CA bundle (which trusts a
# TLS-intercepting proxy, if the network has one) for pip, and its proxy
# variables.  Everything else the demo needs, `make demo` must install.
network_env=()
if [ -r /etc/ssl/certs/ca-certificates.crt ]; then
	cp /etc/ssl/certs/ca-certificates.crt "$root/etc/fresh-check-ca.crt"
	network_env+=(PIP_CERT=/etc/fresh-check-ca.crt)
fi
for var in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
	[ -z "${!var:-}" ] || network_env+=("$var=${!var}")
done

echo "== clean clone of $commit"
git clone --quiet --no-checkout "$repo" "$root/root/stpc"
git -C "$root/root/stpc" checkout --quiet --detach "$commit"

bind /proc
bind /sys
bind /dev
bind /dev/pts

echo "== apt-get install make; make demo (as root, in the chroot)"
status=0
chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	"${network_env[@]}" \
	/bin/sh -c 'set -e
		apt-get update -q
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q make
		cd /root/stpc && make demo' >>"$log" 2>&1 || status=$?
tail -n 15 "$log"
elapsed=$((SECONDS - start))

if [ "$status" != 0 ]; then
	echo "fresh-check: FAILED: make demo exited $status after ${elapsed} s (log: $log)" >&2
	exit 1
fi
# The demo prints the guest's output between "== output:" and "== exit".
output=$(sed -n '/^== output:$/,/^== exit status/{//!p}' "$log")
if [ "$output" != "$(cat "$expected")" ]; then
	echo "fresh-check: FAILED: demo output differs from $expected (log: $log)" >&2
	diff <(echo "$output") "$expected" >&2 || true
	exit 1
fi
rm -f "$log"
echo "fresh-check: OK: make demo passed on a fresh Debian 12 root in ${elapsed} s"
