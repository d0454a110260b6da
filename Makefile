# stpc: quick start is `make demo` then `make test` (as root, Debian 12).

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
APT_PACKAGES := qemu-system-x86 linux-image-amd64 linux-headers-amd64 \
	make gcc libelf-dev python3-venv kmod
# The Debian kernel the VM boots and modules are built for (newest installed).
KVER = $(shell $(VPY) tests/vm.py --print-kver)
export STPC_CACHE_DIR := $(CURDIR)/.cache/stpc
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup apt demo test unit-test vm-test fixture debuginfo clean

setup: apt $(VENV)/.installed

apt:
	@dpkg -s $(APT_PACKAGES) >/dev/null 2>&1 || { \
		apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y \
			--no-install-recommends $(APT_PACKAGES); }

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e '.[test]' virtme-ng
	touch $@

demo: setup
	$(VPY) tests/demo.py examples/hello.stp

test: setup
	$(VPY) -m pytest -q tests

unit-test: setup
	$(VPY) -m pytest -q tests -m 'not vm'

vm-test: setup
	$(VPY) -m pytest -q tests -m vm

# Debian's vmlinux with DWARF for KVER (from linux-image-KVER-dbg, ~860 MB
# download, once) into $(STPC_CACHE_DIR)/debuginfo/KVER/: kernel.function
# probes and tests/test_kernel_dwarf.py read it.
debuginfo: setup
	$(VPY) -m stpc.compiler.debuginfo $(KVER)

fixture: setup
	$(MAKE) -C tests/fixture_module KVER=$(KVER)

clean:
	rm -rf .cache build *.egg-info .pytest_cache
	$(MAKE) -C tests/fixture_module clean
