// SPDX-License-Identifier: GPL-2.0
/*
 * The section resolver: turns the addresses the loader read from
 * /sys/module/NAME/sections/ (and _stext from /proc/kallsyms) into probe
 * addresses, after checking each of them against the kernel's own view
 * (kallsyms names, the module's own symbol table and build-id note), and
 * pins every probed module so it cannot be removed while probes may sit
 * in it.
 *
 * Nothing here trusts the loader: a wrong address is refused with a
 * message, never dereferenced blindly.
 */
#include <linux/kallsyms.h>
#include <linux/module.h>
#include <linux/elf.h>

/* the ELF note type of a GNU build-id (not in the kernel headers) */
#define STPC_NT_GNU_BUILD_ID	3


static struct module *stpc_pinned[STPC_MAX_PROBED];
static bool stpc_probed_present[STPC_MAX_PROBED];
static bool stpc_resolve_failed;

static bool stpc_symbol_is(unsigned long addr, const char *symbol,
			   unsigned long offset, const char *module)
{
	char want[KSYM_NAME_LEN + 32];
	char got[KSYM_SYMBOL_LEN];
	size_t len;

	sprint_symbol(got, addr);
	len = scnprintf(want, sizeof(want), "%s+%#lx/", symbol, offset);
	if (strncmp(got, want, len))
		return false;
	if (!module)
		return true;
	scnprintf(want, sizeof(want), " [%s]", module);
	len = strlen(want);
	return strlen(got) > len && !strcmp(got + strlen(got) - len, want);
}

/*
 * The address of the symbol @symbol of @size in @mod's symbol table, or
 * 0.  Several may have that name (static functions of different files):
 * then the one at @hint, else the first.
 */
static unsigned long stpc_module_symbol(struct module *mod, const char *symbol,
				       unsigned long size, unsigned long hint)
{
	struct mod_kallsyms *ks;
	unsigned long addr = 0;
	unsigned int i;

	preempt_disable();
	ks = rcu_dereference_sched(mod->kallsyms);
	for (i = 0; ks && i < ks->num_symtab; i++) {
		const Elf_Sym *sym = &ks->symtab[i];

		if (sym->st_size != size ||
		    strcmp(ks->strtab + sym->st_name, symbol))
			continue;
		if (!addr)
			addr = sym->st_value;
		if (sym->st_value == hint) {
			addr = hint;
			break;
		}
	}
	preempt_enable();
	return addr;
}

static void stpc_resolve_error(const char *msg)
{
	stpc_warn("ERROR: %s\n", msg);
	stpc_resolve_failed = true;
}

/* The GNU build-id note at @addr, inside @mod; 0 on success. */
static int stpc_read_build_id(unsigned long addr, u8 *out, unsigned int *len)
{
	struct elf_note hdr;

	if (copy_from_kernel_nofault(&hdr, (void *)addr, sizeof(hdr)))
		return -EFAULT;
	if (hdr.n_type != STPC_NT_GNU_BUILD_ID || hdr.n_namesz != 4 ||
	    hdr.n_descsz > STPC_MAX_BUILD_ID)
		return -EINVAL;
	*len = hdr.n_descsz;
	return copy_from_kernel_nofault(out, (void *)(addr + sizeof(hdr) + 4),
					hdr.n_descsz) ? -EFAULT : 0;
}

static void stpc_check_build_id(const struct stpc_probed_desc *t,
				unsigned long note)
{
	u8 found[STPC_MAX_BUILD_ID];
	unsigned int len = 0;
	char msg[128 + 4 * STPC_MAX_BUILD_ID];

	if (stpc_read_build_id(note, found, &len)) {
		scnprintf(msg, sizeof(msg), "cannot read the build-id of %s",
			  t->name);
		stpc_resolve_error(msg);
		return;
	}
	if (len == t->build_id_len && !memcmp(found, t->build_id, len))
		return;
	scnprintf(msg, sizeof(msg),
		  "build-id mismatch for %s: expected %*phN, found %*phN",
		  t->name, (int)t->build_id_len, t->build_id, (int)len, found);
	stpc_resolve_error(msg);
}

/*
 * A probed module: the first slot is its struct module, which kallsyms
 * must name __this_module of that module; pinned before preemption is
 * enabled again, so it cannot go away between the check and the get.
 */
static void stpc_resolve_module(unsigned int index)
{
	const struct stpc_probed_desc *t = &stpc_program.probed[index];
	unsigned long mod_addr = stpc_addrs[t->first_slot];
	struct module *mod = (struct module *)mod_addr;
	char msg[128];
	unsigned int i;
	bool named;

	if (!mod_addr) {
		if (t->optional)
			return;
		scnprintf(msg, sizeof(msg), "module %s is not loaded", t->name);
		stpc_resolve_error(msg);
		return;
	}
	preempt_disable();
	named = stpc_symbol_is(mod_addr, "__this_module", 0, t->name);
	if (named && !try_module_get(mod))
		named = false;
	preempt_enable();
	if (!named) {
		scnprintf(msg, sizeof(msg), "address %#lx passed for module %s "
			  "is not its struct module", mod_addr, t->name);
		stpc_resolve_error(msg);
		return;
	}
	stpc_pinned[index] = mod;
	for (i = 1; i < t->nslots; i++) {
		unsigned long addr = stpc_addrs[t->first_slot + i];

		if (!within_module(addr, mod)) {
			scnprintf(msg, sizeof(msg), "section %s of %s is not "
				  "inside the module", t->slots[i], t->name);
			stpc_resolve_error(msg);
			return;
		}
	}
	stpc_check_build_id(t, stpc_addrs[t->first_slot + 1]);
	stpc_probed_present[index] = true;
}

/*
 * _stext shares its address with _text and startup_64, and kallsyms may
 * name it by either: it must start a kernel symbol.  (Each probe address
 * is then checked by name, which a wrong base could not pass.)
 */
static bool stpc_is_kernel_symbol_start(unsigned long addr)
{
	char got[KSYM_SYMBOL_LEN];

	sprint_symbol(got, addr);
	return strstr(got, "+0x0/") && !strchr(got, '[');
}

static void stpc_resolve_kernel(unsigned int index)
{
	const struct stpc_probed_desc *t = &stpc_program.probed[index];

	if (!stpc_is_kernel_symbol_start(stpc_addrs[t->first_slot])) {
		stpc_resolve_error("the _stext address passed for the kernel is "
				   "wrong");
		return;
	}
	stpc_probed_present[index] = true;
}

/*
 * Whether @kp's address is its symbol plus offset.  In a module the
 * symbol's own address, from the module's symbol table, is compared: the
 * name kallsyms prints may be another one at that address (an __exit
 * function and its alias cleanup_module).  The kernel exports no lookup
 * by name, so there kallsyms must print the symbol's name.
 */
static bool stpc_kprobe_placed(const struct stpc_kprobe *kp,
			       const struct stpc_probed_desc *t,
			       struct module *mod)
{
	unsigned long start = kp->addr - kp->symbol_offset;

	if (t->is_kernel)
		return stpc_symbol_is(kp->addr, kp->symbol, kp->symbol_offset,
				      NULL);
	return stpc_module_symbol(mod, kp->symbol, kp->symbol_size, start) ==
	       start;
}

/* Every kprobe's address, checked against the symbol it must be in. */
static void stpc_resolve_kprobes(void)
{
	char msg[KSYM_NAME_LEN + 128];
	unsigned int i;

	for (i = 0; i < stpc_program.nkprobes; i++) {
		struct stpc_kprobe *kp = &stpc_program.kprobes[i];
		const struct stpc_probed_desc *t =
			&stpc_program.probed[kp->module];

		if (!stpc_probed_present[kp->module])
			continue;
		kp->addr = stpc_addrs[kp->slot] + kp->offset;
		if (!stpc_kprobe_placed(kp, t, stpc_pinned[kp->module])) {
			scnprintf(msg, sizeof(msg), "probe %s: %#lx is not "
				  "%s+%#lx", kp->probe.point, kp->addr,
				  kp->symbol, kp->symbol_offset);
			stpc_resolve_error(msg);
			continue;
		}
		kp->usable = true;
	}
}

static void stpc_resolve_probed(void)
{
	unsigned int i;

	if (stpc_program.nprobed && stpc_naddrs != stpc_program.nslots) {
		stpc_resolve_error("the loader passed no target addresses; run "
				   "this module with stpc");
		return;
	}
	for (i = 0; i < stpc_program.nprobed; i++) {
		if (stpc_program.probed[i].is_kernel)
			stpc_resolve_kernel(i);
		else
			stpc_resolve_module(i);
	}
	if (!stpc_resolve_failed)
		stpc_resolve_kprobes();
}

static bool stpc_probed_resolved(void)
{
	return !stpc_resolve_failed;
}

static void stpc_unpin_probed(void)
{
	unsigned int i;

	for (i = 0; i < stpc_program.nprobed; i++) {
		if (stpc_pinned[i])
			module_put(stpc_pinned[i]);
		stpc_pinned[i] = NULL;
	}
}
