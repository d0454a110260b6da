"""runtime_c/stpc_strcopy.h, compiled in user space: the word-at-a-time
string copy gives what a byte-at-a-time copy gives (the bytes, the
truncation, and a fault exactly when a byte before the terminator is
unreadable) at every alignment, length limit and distance to an
unreadable page, and never writes past its MAXSTRINGLEN buffer."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from stpc.compiler.build import runtime_dir

#: a C compiler for user space: kbuild's (Debian 12's headers need gcc-12)
CC = shutil.which("gcc-12") or shutil.which("gcc")

# The kernel types and macros the header uses, for x86-64 user space.
PRELUDE = r"""
#include <stdint.h>
#include <stdio.h>
#include <string.h>
typedef uint64_t u64;
typedef uint64_t __le64;
#undef __always_inline
#define __always_inline inline __attribute__((always_inline))
#define unlikely(x) __builtin_expect(!!(x), 0)
#define min_t(type, a, b) ((type)(a) < (type)(b) ? (type)(a) : (type)(b))
#define REPEAT_BYTE(x) ((~0ull / 0xff) * (x))
#define __ffs(x) ((unsigned long)__builtin_ctzll(x))
#define cpu_to_le64(x) (x)
#define EFAULT 14
"""

# Memory of three pages, the middle one unreadable; strings are placed
# ending just before it, starting just after it, and in between.
HARNESS = r"""
#include "stpc_strcopy.h"
#define PAGE 4096
static unsigned char mem[3 * PAGE];

static int readable(u64 addr)
{
	return addr < sizeof(mem) && addr / PAGE != 1;
}

static long read_word(u64 *word, u64 addr)
{
	if (addr & 7) {
		printf("unaligned read at %llu\n", (unsigned long long)addr);
		return -1;
	}
	if (!readable(addr))
		return -EFAULT;
	memcpy(word, mem + addr, 8);
	return 0;
}

/* what the old byte-at-a-time copy gave */
static long reference(char *buf, u64 addr, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++) {
		if (!readable(addr + i)) {
			buf[i] = '\0';
			return -EFAULT;
		}
		buf[i] = mem[addr + i];
		if (!buf[i])
			return 0;
	}
	buf[i] = '\0';
	return 0;
}

static int check(u64 addr, size_t len)
{
	char got[MAXSTRINGLEN + 16], want[MAXSTRINGLEN];
	long got_err, want_err;

	memset(got, 0x5a, sizeof(got));
	got_err = stpc_copy_string(read_word, got, addr, len);
	want_err = reference(want, addr, len);
	if (got_err != want_err ||
	    (!got_err && strcmp(got, want)) || got[0] == 0x5a ||
	    memcmp(got + MAXSTRINGLEN, "ZZZZZZZZZZZZZZZZ", 16)) {
		printf("addr %llu len %zu: error %ld, want %ld\n",
		       (unsigned long long)addr, len, got_err, want_err);
		return 1;
	}
	return 0;
}

int main(void)
{
	static const size_t lengths[] = { 0, 1, 2, 7, 8, 9, 15, 16, 17,
					  MAXSTRINGLEN - 9, MAXSTRINGLEN - 1 };
	size_t start, slen, l, checks = 0, failures = 0;
	u64 addr;

	for (slen = 0; slen < MAXSTRINGLEN + 20; slen++) {
		for (start = 0; start < 16; start++) {
			u64 places[] = { PAGE - slen - 1 - start,
					 PAGE - slen + start, 2 * PAGE + start,
					 2 * PAGE - 3 + start };
			size_t p;

			for (p = 0; p < 4; p++) {
				addr = places[p];
				if (addr >= sizeof(mem))
					continue;
				memset(mem, 'a', sizeof(mem));
				for (l = 0; l < slen && addr + l < sizeof(mem);
				     l++)
					mem[addr + l] = 'A' + (l * 7 + start) % 50;
				if (addr + slen < sizeof(mem))
					mem[addr + slen] = '\0';
				for (l = 0; l < sizeof(lengths) /
					     sizeof(lengths[0]); l++) {
					size_t len = lengths[l] ? lengths[l] :
						     MAXSTRINGLEN;

					checks++;
					failures += check(addr, len);
				}
			}
		}
	}
	printf("%zu checks, %zu failures\n", checks, failures);
	return failures != 0;
}
"""


@pytest.mark.skipif(CC is None, reason="needs gcc-12 or gcc")
@pytest.mark.parametrize("maxstringlen", [512, 24])
def test_word_copy_matches_a_byte_copy(tmp_path, maxstringlen):
    source = tmp_path / "strcopy.c"
    source.write_text(f"#define MAXSTRINGLEN {maxstringlen}\n" + PRELUDE +
                      HARNESS)
    binary = tmp_path / "strcopy"
    subprocess.run([CC, "-O2", "-Wall", "-Werror", f"-I{runtime_dir()}",
                    "-o", str(binary), str(source)], check=True)
    run = subprocess.run([str(binary)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:]
    assert run.stdout.endswith(" 0 failures\n")


@pytest.mark.parametrize("reader", ["kernel_string_n", "user_string_n"])
def test_n_readers_copy_at_most_n_bytes(reader):
    """kernel_string_n(addr, n) is at most n bytes, as in SystemTap: the
    copy gets a buffer of n + 1 (tests/corpus/fixture/ptr.stp runs it)."""
    from stpc.compiler.driver import Compilation, CompileOptions
    source = f"probe begin {{ println({reader}(0, 3)) }}\n"
    c_source = Compilation(source, "t.stp", CompileOptions(
        kernel_release="any", module_name="t_n")).c_source()
    space = reader.split("_")[0]
    assert f"stpc_{space}_string(c, l->t0, a0, " \
        "(s64)((u64)((s64)3LL) + 1), " in c_source
