"""runtime_c/stpc_keystr.h, compiled in user space: array keys' strings
hashed and compared a word at a time give what the byte loops gave (two
keys are equal exactly when strncmp() over MAXSTRINGLEN - 1 bytes says
so), the hash of a string does not depend on where it lies, and no word
is read past the one holding the NUL (nor past the last byte a key
counts): strings end right before an unreadable page, at every
alignment, and the test would crash if a read went past it."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from stpc.compiler.build import runtime_dir

#: a C compiler for user space: kbuild's (Debian 12's headers need gcc-12)
CC = shutil.which("gcc-12") or shutil.which("gcc")

# The kernel types and macros the header uses, for x86-64 user space.
PRELUDE = r"""
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
typedef uint64_t u64;
typedef uint64_t __le64;
typedef uint32_t __le32;
#define __force
#define BITS_PER_LONG 64
#undef __always_inline
#define __always_inline inline __attribute__((always_inline))
#define min_t(type, a, b) ((type)(a) < (type)(b) ? (type)(a) : (type)(b))
#define REPEAT_BYTE(x) ((~0ul / 0xff) * (x))
#define __ffs(x) ((unsigned long)__builtin_ctzl(x))
#define le64_to_cpu(x) (x)
#define le32_to_cpu(x) (x)
#define read_word_at_a_time(p) (*(const volatile unsigned long *)(p))
"""

HARNESS = r"""
#include "stpc_keystr.h"
#define PAGE 4096
#define KEY_MAX (MAXSTRINGLEN - 1)

static char *guarded;	/* a page, then an unreadable one */

/* @len bytes of pattern @seed at the end of the page, less @back bytes
 * (NUL-terminated when @nul, which then ends right before the guard
 * when @back is 0) */
static const char *place(char *page, size_t len, unsigned int seed,
			 size_t back, int nul)
{
	char *s = page + PAGE - len - (nul ? 1 : 0) - back;
	size_t i;

	for (i = 0; i < len; i++)
		s[i] = 'A' + (i * 7 + seed) % 50;
	if (nul)
		s[len] = '\0';
	return s;
}

static int reference_equal(const char *a, const char *b)
{
	return strncmp(a, b, KEY_MAX) == 0;
}

int main(void)
{
	static char other[2 * MAXSTRINGLEN + 64] __attribute__((aligned(8)));
	size_t len, back, shift, checks = 0, failures = 0;

	guarded = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (guarded == MAP_FAILED || mprotect(guarded + PAGE, PAGE, PROT_NONE))
		return 2;
	for (len = 0; len < MAXSTRINGLEN + 20; len++) {
		for (back = 0; back < 9; back++) {
			/* past KEY_MAX bytes, a key need not end */
			int nul = len < KEY_MAX || back > 0;
			const char *s;

			memset(guarded, 'z', PAGE);
			s = place(guarded, len < PAGE / 2 ? len : PAGE / 2,
				  1, back, nul);
			for (shift = 0; shift < 16; shift++) {
				char *t = other + shift;
				size_t n = strnlen(s, KEY_MAX);
				int want, got;

				/* the same bytes, elsewhere: equal, same hash */
				memcpy(t, s, n);
				t[n] = '\0';
				checks++;
				if (!stpc_key_string_equal(s, t) ||
				    !stpc_key_string_equal(t, s) ||
				    stpc_key_hash_string(7, s) !=
				    stpc_key_hash_string(7, t)) {
					printf("len %zu back %zu shift %zu: "
					       "same bytes differ\n",
					       len, back, shift);
					failures++;
				}
				/* one byte changed, or one byte less */
				if (n) {
					t[(len * 3 + shift) % n] ^= 1;
					want = reference_equal(s, t);
					got = stpc_key_string_equal(s, t);
					checks++;
					failures += want != got;
					t[(len * 3 + shift) % n] ^= 1;
					t[n - 1] = '\0';
					want = reference_equal(s, t);
					got = stpc_key_string_equal(t, s);
					checks++;
					failures += want != got;
				}
			}
		}
	}
	/* different strings spread over the hash's low bits */
	{
		unsigned int seen[64] = { 0 }, used = 0, i;
		char key[16];

		for (i = 0; i < 4096; i++) {
			snprintf(key, sizeof(key), "k%u", i);
			seen[(unsigned int)stpc_key_hash_string(0, key) & 63]++;
		}
		for (i = 0; i < 64; i++)
			used += seen[i] != 0;
		checks++;
		failures += used < 60;
	}
	printf("%zu checks, %zu failures\n", checks, failures);
	return failures != 0;
}
"""


@pytest.mark.skipif(CC is None, reason="needs gcc-12 or gcc")
@pytest.mark.parametrize("maxstringlen", [512, 24])
def test_word_keys_match_byte_keys(tmp_path, maxstringlen):
    source = tmp_path / "keystr.c"
    source.write_text(f"#define MAXSTRINGLEN {maxstringlen}\n" + PRELUDE +
                      HARNESS)
    binary = tmp_path / "keystr"
    subprocess.run([CC, "-O2", "-Wall", "-Werror", f"-I{runtime_dir()}",
                    "-o", str(binary), str(source)], check=True)
    run = subprocess.run([str(binary)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:]
    assert run.stdout.endswith(" 0 failures\n")
