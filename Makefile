# stpc: quick start is `make demo` then `make test` (as root, Debian 12).

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
# Every program `make demo`/`make test` runs comes from these packages,
# their dependencies or Debian's base system (tests/test_setup_deps.py
# checks it; docs/setup.md): e.g. virtme-ng builds the VM's initramfs with
# busybox, which it checks with `file`.
APT_PACKAGES := qemu-system-x86 busybox-static file linux-image-amd64 \
	linux-headers-amd64 make gcc libelf-dev python3-venv kmod \
	systemtap-sdt-dev
# The second test kernel, from bookworm-backports, pinned to exact package
# names so that CI is reproducible (and so that the linux-image-amd64 meta
# package, hence the default kernel, stays Debian 12's own 6.1).  Backports
# keeps only its newest kernel: when this one is gone, `make apt` installs
# the newest 6.12 it offers instead (update the pin to match).
KERNEL2 := 6.12.95+deb12-amd64
KERNEL2_PACKAGES := linux-image-$(KERNEL2) linux-headers-$(KERNEL2)
BACKPORTS := /etc/apt/sources.list.d/bookworm-backports.sources
# Installed into the venv besides stpc and its test extras.
PIP_PACKAGES := virtme-ng
# The Debian kernel the VM boots and modules are built for (Debian 12's 6.1;
# tests/vm.py --series 6.12 picks the second one).
KVER = $(shell $(VPY) tests/vm.py --print-kver)
export STPC_CACHE_DIR := $(CURDIR)/.cache/stpc
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup apt backports-source newest-kernel2 print-packages demo test test-stress \
	unit-test vm-test fresh-check fixture debuginfo clean bench-overhead \
	bench-many-probes bench-uprobe-overhead bench-syscall-dispatch

setup: apt $(VENV)/.installed

apt:
	@dpkg -s $(APT_PACKAGES) >/dev/null 2>&1 || { \
		apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y \
			--no-install-recommends $(APT_PACKAGES); }
	@dpkg -s $(KERNEL2_PACKAGES) >/dev/null 2>&1 || { \
		$(MAKE) --no-print-directory backports-source && \
		apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y \
			--no-install-recommends $(KERNEL2_PACKAGES) || \
		$(MAKE) --no-print-directory newest-kernel2; }

# When backports no longer carries the pinned release: its newest 6.12
# (tests/vm.py boots the newest 6.12 installed).
newest-kernel2:
	@release=$$(apt-cache search --names-only \
		'^linux-image-6\.12\.[0-9.]+\+deb12-amd64$$' | \
		sed 's/^linux-image-\([^ ]*\) .*/\1/' | sort -V | tail -n 1); \
	test -n "$$release" || { echo "no 6.12 kernel in bookworm-backports" >&2; exit 1; }; \
	echo "pinned $(KERNEL2) is gone from backports; installing $$release"; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y \
		--no-install-recommends linux-image-$$release linux-headers-$$release

# No -t bookworm-backports: the pinned packages exist only there, and -t
# would also upgrade the meta packages (the default kernel) to 6.12.
backports-source:
	@grep -rqs '^[^#]*bookworm-backports' /etc/apt/sources.list \
		/etc/apt/sources.list.d/ || printf '%s\n' 'Types: deb' \
		'URIs: http://deb.debian.org/debian' \
		'Suites: bookworm-backports' 'Components: main' \
		'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' \
		> $(BACKPORTS)

# The packages `make setup` installs, one a line (tests/test_setup_deps.py).
print-packages:
	@printf 'apt %s\n' $(APT_PACKAGES) $(KERNEL2_PACKAGES)
	@printf 'pip %s\n' $(PIP_PACKAGES)

# The editable install's path finder is then replaced by links: it costs
# every stpc process in the test VM a noticeable start (tests/devinstall.py).
$(VENV)/.installed: pyproject.toml tests/devinstall.py
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e '.[test]' $(PIP_PACKAGES)
	$(VPY) tests/devinstall.py
	touch $@

demo: setup
	$(VPY) tests/demo.py examples/hello.stp

# the host tests and the VM tests side by side (tests/run_suites.py)
test: setup
	$(VPY) tests/run_suites.py

unit-test: setup
	$(VPY) -m pytest -q tests -m 'not vm'

vm-test: setup
	$(VPY) -m pytest -q tests -m vm

# The soak (tests/test_stress.py): STPC_STRESS_SECONDS of probes on hot
# functions under load in one boot, 600 by default.
STPC_STRESS_SECONDS ?= 600
test-stress: setup
	STPC_STRESS=1 STPC_STRESS_SECONDS=$(STPC_STRESS_SECONDS) \
		$(VPY) -m pytest -q -s tests/test_stress.py

# The README's `make demo` on a fresh Debian 12 root (debootstrap, chroot)
# from a clean clone of the current commit: run it before landing a change
# to the set-up (5-20 minutes; not part of CI).
fresh-check:
	@command -v debootstrap >/dev/null || { apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y \
			--no-install-recommends debootstrap; }
	tests/fresh_check.sh

# Debian's vmlinux with DWARF for KVER (from linux-image-KVER-dbg, ~860 MB
# download, once) into $(STPC_CACHE_DIR)/debuginfo/KVER/: kernel.function
# probes and tests/test_kernel_dwarf.py read it.
debuginfo: setup
	$(VPY) -m stpc.compiler.debuginfo $(KVER)

# Benchmarks that boot the VM once (docs/performance.md); BENCH_ARGS adds
# options, e.g. `make bench-overhead BENCH_ARGS="--rounds 9"`.
bench-overhead: setup
	$(VPY) bench/overhead.py -r $(KVER) $(BENCH_ARGS)

bench-many-probes: setup
	$(VPY) bench/many_probes.py -r $(KVER) $(BENCH_ARGS)

bench-uprobe-overhead: setup
	$(VPY) bench/uprobe_overhead.py -r $(KVER) $(BENCH_ARGS)

bench-syscall-dispatch: setup
	$(VPY) bench/syscall_dispatch.py -r $(KVER) $(BENCH_ARGS)

fixture: setup
	$(MAKE) -C tests/fixture_module KVER=$(KVER)

clean:
	rm -rf .cache build *.egg-info .pytest_cache
	$(MAKE) -C tests/fixture_module clean
