"""The kbuild feature probes (compiler/features.py): what the installed
kernels export is found by building, cached per tree, and a feature the
kernel lacks is reported absent; the runtime builds both ways."""

from __future__ import annotations

import subprocess

import pytest

from stpc.compiler import features
from stpc.compiler.inputcache import cache_dir
from stpc.compiler.kerneltree import default_build_tree, tree_identity
from stpc.compiler.driver import Compilation, CompileOptions

pytestmark = pytest.mark.kbuild

_UNEXPORTED = r"""
#include <linux/module.h>
extern int stpc_no_such_export(void);
static int __init feature_init(void) { return stpc_no_such_export(); }
module_init(feature_init);
MODULE_LICENSE("GPL");
"""


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STPC_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


# 6.1's struct ftrace_regs is a pt_regs named regs
_ON_6_1 = ("STPC_HAVE_FTRACE_ARGS_MEMBER", "STPC_HAVE_FTRACE_OPS")


def test_the_kernel_exports_what_entry_ftrace_needs(kver, cache):
    assert features.feature_defines(default_build_tree(kver)) == _ON_6_1


def test_ftrace_regs_argument_access_is_found_by_building(kver, second_kver,
                                                          cache):
    """Where the ftrace_ops without SAVE_REGS keeps the argument
    registers: 6.1's struct ftrace_regs has them as its member regs,
    6.12's is opaque, reached with arch_ftrace_regs()
    (runtime_c/ftrace_args_*.h)."""
    first = features.feature_defines(default_build_tree(kver))
    second = features.feature_defines(default_build_tree(second_kver))
    assert "STPC_HAVE_FTRACE_ARGS_MEMBER" in first
    assert "STPC_HAVE_FTRACE_ARGS_ARCH" not in first
    assert "STPC_HAVE_FTRACE_ARGS_ARCH" in second
    assert "STPC_HAVE_FTRACE_ARGS_MEMBER" not in second


def test_a_symbol_the_kernel_does_not_export_is_no_feature(kver, cache,
                                                            monkeypatch):
    monkeypatch.setattr(features, "_FEATURES", {
        "ftrace_ops": features._FEATURES["ftrace_ops"],
        "nothing": ("STPC_HAVE_NOTHING", _UNEXPORTED)})
    assert features.feature_defines(default_build_tree(kver)) == \
        ("STPC_HAVE_FTRACE_OPS",)


def test_the_answer_is_cached_per_tree(kver, cache, monkeypatch):
    tree = default_build_tree(kver)
    first = features.feature_defines(tree)

    def no_make(*args, **kwargs):
        raise AssertionError("a feature was probed again")
    monkeypatch.setattr(subprocess, "run", no_make)
    assert features.feature_defines(tree) == first


def test_a_corrupt_cache_entry_is_probed_again(kver, cache):
    tree = default_build_tree(kver)
    entry = cache_dir() / "features" / f"{tree_identity(tree)}.json"
    entry.parent.mkdir(parents=True)
    entry.write_text("{not json")
    assert features.feature_defines(tree) == _ON_6_1


@pytest.mark.parametrize("defines", [(), (("STPC_NO_FTRACE", ""),)])
def test_entry_probes_build_through_ftrace_and_kprobes(kver, defines):
    script = ('global n probe kernel.function("vfs_read") { n++ } '
              'probe kernel.function("vfs_read").return { n++ } '
              'probe end { println(n) }')
    options = CompileOptions(kernel_release=kver, defines=defines,
                             kernel_types="btf")
    assert Compilation(script, "t.stp", options).module().exists()


def test_uprobe_api_is_found_by_building(kver, second_kver, cache):
    """6.1 registers and unregisters uprobes by (inode, offset); 6.12
    returns a struct uprobe and unregisters in two steps: the runtime's
    header for each is chosen by this feature, never by version."""
    assert "STPC_HAVE_UPROBE_NOSYNC" not in \
        features.feature_defines(default_build_tree(kver))
    assert "STPC_HAVE_UPROBE_NOSYNC" in \
        features.feature_defines(default_build_tree(second_kver))
