/* SPDX-License-Identifier: MIT */
/*
 * The four functions a freestanding compiler may call on its own (GCC's
 * manual: memcpy, memmove, memset, memcmp), for struct copies and
 * zeroing.  Written with string instructions so the compiler cannot turn a
 * loop in them back into a call to themselves, and with 8-byte stores
 * where the range allows: a store to a page the library protects exits
 * once per store, so a page cleared with stosq costs 512 exits, not 4096.
 * start.S clears DF, and nothing sets it except memmove (briefly).
 */
#include <stddef.h>
#include <stdint.h>

void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);

void *memset(void *dst, int c, size_t n)
{
	void *d = dst;

	if (!(((uintptr_t)dst | n) & 7)) {
		uint64_t v = (uint8_t)c * 0x0101010101010101ull;
		size_t q = n / 8;

		__asm__ volatile("rep stosq"
				 : "+D"(d), "+c"(q) : "a"(v) : "memory");
	} else {
		__asm__ volatile("rep stosb"
				 : "+D"(d), "+c"(n) : "a"(c) : "memory");
	}
	return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;
	const void *s = src;

	if (!(((uintptr_t)dst | (uintptr_t)src | n) & 7)) {
		size_t q = n / 8;

		__asm__ volatile("rep movsq"
				 : "+D"(d), "+S"(s), "+c"(q) : : "memory");
	} else {
		__asm__ volatile("rep movsb"
				 : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	}
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	uint8_t *d;
	const uint8_t *s;

	if ((uintptr_t)dst - (uintptr_t)src >= n)
		return memcpy(dst, src, n); /* no overlap from below */
	/* dst overlaps the tail of src: copy backwards. */
	d = (uint8_t *)dst + n - 1;
	s = (const uint8_t *)src + n - 1;
	__asm__ volatile("std\n\trep movsb\n\tcld"
			 : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a, *y = b;
	size_t i;

	for (i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}
