"""Kernel features the runtime adapts to, found by building small probe
modules with kbuild against the build tree, never by version number.

Each feature is a module that compiles (with -Werror) and links (modpost
refuses an unexported symbol) only where the kernel has what the runtime's
header for it needs.  Each is built alone, since a modpost error stops
every module of its run; the answers are cached per build tree, so only
the first build for a tree pays for them.
The runtime picks its headers from the ``-D`` flags returned here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, Tuple

from .inputcache import cache_dir
from .kerneltree import tree_identity

# What x86-64's ftrace_caller saves without SAVE_REGS is only defined
# with DYNAMIC_FTRACE_WITH_ARGS; %s is how the pt_regs inside the
# ftrace_regs is reached.
_FTRACE_ARGS = r"""
#include <linux/module.h>
#include <linux/ftrace.h>

#if !defined(CONFIG_HAVE_DYNAMIC_FTRACE_WITH_ARGS) || !defined(CONFIG_X86_64)
#error "no argument registers in ftrace_regs"
#endif

struct pt_regs *feature_arguments(struct ftrace_regs *fregs);
struct pt_regs *feature_arguments(struct ftrace_regs *fregs)
{
	return %s;
}
EXPORT_SYMBOL_GPL(feature_arguments);
MODULE_LICENSE("GPL");
"""

# name: (the -D it turns on, the probe module's source)
_FEATURES: Dict[str, Tuple[str, str]] = {
    "ftrace_ops": ("STPC_HAVE_FTRACE_OPS", r"""
#include <linux/module.h>
#include <linux/ftrace.h>
#include <linux/trace_recursion.h>
#include <asm/ibt.h>

static void notrace hit(unsigned long ip, unsigned long parent_ip,
			struct ftrace_ops *ops, struct ftrace_regs *fregs)
{
	int bit = ftrace_test_recursion_trylock(ip, parent_ip);

	if (bit < 0)
		return;
	(void)ftrace_get_regs(fregs);
	ftrace_test_recursion_unlock(bit);
}

static struct ftrace_ops ops = {
	.func = hit,
	.flags = FTRACE_OPS_FL_SAVE_REGS,
};

static int __init feature_init(void)
{
	unsigned long ip = ENDBR_INSN_SIZE;

	if (ftrace_set_filter_ips(&ops, &ip, 1, 0, 1) ||
	    ftrace_set_filter_ip(&ops, ip, 0, 0) ||
	    register_ftrace_function(&ops))
		return -EINVAL;
	unregister_ftrace_function(&ops);
	ftrace_free_filter(&ops);
	return 0;
}
module_init(feature_init);
MODULE_LICENSE("GPL");
"""),
    # an ftrace_ops without SAVE_REGS still hands its callback the
    # argument registers: inside an opaque struct ftrace_regs
    # (runtime_c/ftrace_args_arch.h), or as its pt_regs member
    # (ftrace_args_member.h); neither: ftrace_args_none.h
    "ftrace_args_arch": ("STPC_HAVE_FTRACE_ARGS_ARCH",
                         _FTRACE_ARGS % "&arch_ftrace_regs(fregs)->regs"),
    "ftrace_args_member": ("STPC_HAVE_FTRACE_ARGS_MEMBER",
                           _FTRACE_ARGS % "&fregs->regs"),
    # uprobe_register() returns the struct uprobe, and unregistering is
    # split in two (runtime_c/uprobe_api_handle.h; else uprobe_api_inode.h)
    "uprobe_nosync": ("STPC_HAVE_UPROBE_NOSYNC", r"""
#include <linux/module.h>
#include <linux/err.h>
#include <linux/uprobes.h>

static struct uprobe_consumer consumer;

static int __init feature_init(void)
{
	struct uprobe *uprobe = uprobe_register(NULL, 0, 0, &consumer);

	if (IS_ERR(uprobe))
		return PTR_ERR(uprobe);
	uprobe_unregister_nosync(uprobe, &consumer);
	uprobe_unregister_sync();
	return 0;
}
module_init(feature_init);
MODULE_LICENSE("GPL");
"""),
}

_CACHE_FORMAT = 1


def feature_defines(build_tree: Path) -> Tuple[str, ...]:
    """The ``-D`` names of the features ``build_tree``'s kernel has."""
    cached = cache_dir() / "features" / f"{tree_identity(build_tree)}.json"
    try:
        found = json.loads(cached.read_text())
        if found.get("format") == _CACHE_FORMAT and \
                set(found["features"]) == set(_FEATURES):
            return _defines(found["features"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    features = _probe(build_tree)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps({"format": _CACHE_FORMAT,
                                       "features": features}))
        os.replace(partial, cached)
    except OSError:
        pass    # probed again next time
    return _defines(features)


def _defines(features: Dict[str, bool]) -> Tuple[str, ...]:
    return tuple(_FEATURES[name][0] for name in sorted(features)
                 if features[name] and name in _FEATURES)


def _probe(build_tree: Path) -> Dict[str, bool]:
    return {name: _builds(build_tree, name, source)
            for name, (_, source) in _FEATURES.items()}


def _builds(build_tree: Path, name: str, source: str) -> bool:
    workdir = Path(tempfile.mkdtemp(prefix="stpc-feature-"))
    try:
        (workdir / f"feature_{name}.c").write_text(source)
        (workdir / "Kbuild").write_text(f"obj-m := feature_{name}.o\n"
                                        "ccflags-y := -Werror\n")
        subprocess.run(["make", "-C", str(build_tree), f"M={workdir}",
                        "modules"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return (workdir / f"feature_{name}.ko").exists()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
