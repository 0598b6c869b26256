/*
 * hemmac: SHA-256 and HMAC-SHA256 (see hemmac.h). The constants are those of FIPS 180-4
 * sections 4.2.2 (K) and 5.3.3 (initial hash value).
 */
#include "hemmac.h"

#include <stdint.h>
#include <string.h>

#include "hemcodec.h"

static const uint32_t K[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u,
    0xab1c5ed5u, 0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu,
    0x9bdc06a7u, 0xc19bf174u, 0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu,
    0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau, 0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u,
    0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u, 0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu,
    0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u, 0xa2bfe8a1u, 0xa81a664bu,
    0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u, 0x19a4c116u,
    0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u,
    0xc67178f2u,
};

static const uint32_t H0[8] = {
    0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
    0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u,
};

/* Zero n bytes in a way the compiler may not drop as a dead store. With GCC and Clang:
 * memset, then an empty asm that is given p and clobbers memory, so the compiler must
 * assume the zeros are read and keep them; a byte loop through a volatile pointer does the
 * same a byte at a time, a tenth of a short HMAC's time. Other compilers get that loop. */
static void wipe(void *p, size_t n)
{
#if defined(__GNUC__) || defined(__clang__)
    memset(p, 0, n);
    __asm__ __volatile__("" : : "r"(p) : "memory");
#else
    volatile unsigned char *v = (volatile unsigned char *)p;
    while (n--)
        *v++ = 0;
#endif
}

static uint32_t load_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void store_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

#define ROTR(x, n) ((x) >> (n) | (x) << (32 - (n)))

/* The block function in portable C: FIPS 180-4 section 6.2.2, over `count` 64-byte blocks. */
static void blocks_portable(uint32_t h[8], const unsigned char *p, size_t count)
{
    uint32_t w[64], a, b, c, d, e, f, g, hh;
    int i;

    for (; count; count--, p += HEM_SHA256_BLOCK) {
        for (i = 0; i < 16; i++)
            w[i] = load_be32(p + 4 * i);
        for (i = 16; i < 64; i++) {
            uint32_t s0 = ROTR(w[i - 15], 7) ^ ROTR(w[i - 15], 18) ^ w[i - 15] >> 3;
            uint32_t s1 = ROTR(w[i - 2], 17) ^ ROTR(w[i - 2], 19) ^ w[i - 2] >> 10;
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
        for (i = 0; i < 64; i++) {
            uint32_t t1 = hh + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g)) +
                          K[i] + w[i];
            uint32_t t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
    }
    wipe(w, sizeof w); /* the schedule of a key block is key material */
}

typedef void (*blocks_fn)(uint32_t h[8], const unsigned char *p, size_t count);
static blocks_fn blocks = blocks_portable;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HEM_HAVE_SHA_NI 1
#include <cpuid.h>
#include <immintrin.h>

/*
 * The block function on the SHA extensions. The eight state words live in two registers
 * as (A, B, E, F) and (C, D, G, H); each sha256rnds2 does two rounds, so a group of four
 * rounds is two of them, the second on the upper half of the same message+constant sum.
 * m[] holds four groups of the message schedule: groups 0-3 come from the block, each
 * later group g+1 is finished (msg2) while group g is hashed, from a partial sum started
 * (msg1) three groups earlier.
 */
__attribute__((target("sha,sse4.1,ssse3"))) static void
blocks_sha_ni(uint32_t h[8], const unsigned char *p, size_t count)
{
    const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i abef, cdgh, abef_saved, cdgh_saved, tmp, sum, m[4];
    int g;

    tmp = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)&h[0]), 0xB1);
    cdgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)&h[4]), 0x1B);
    abef = _mm_alignr_epi8(tmp, cdgh, 8);
    cdgh = _mm_blend_epi16(cdgh, tmp, 0xF0);

    for (; count; count--, p += HEM_SHA256_BLOCK) {
        abef_saved = abef;
        cdgh_saved = cdgh;
        for (g = 0; g < 4; g++)
            m[g] = _mm_shuffle_epi8(
                _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * g)), byte_swap);
        for (g = 0; g < 16; g++) {
            sum = _mm_add_epi32(m[g & 3], _mm_loadu_si128((const __m128i *)(const void *)&K[4 * g]));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, sum);
            if (g >= 3 && g <= 14) {
                tmp = _mm_alignr_epi8(m[g & 3], m[(g - 1) & 3], 4);
                m[(g + 1) & 3] =
                    _mm_sha256msg2_epu32(_mm_add_epi32(m[(g + 1) & 3], tmp), m[g & 3]);
            }
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(sum, 0x0E));
            if (g >= 1 && g <= 12)
                m[(g - 1) & 3] = _mm_sha256msg1_epu32(m[(g - 1) & 3], m[g & 3]);
        }
        abef = _mm_add_epi32(abef, abef_saved);
        cdgh = _mm_add_epi32(cdgh, cdgh_saved);
    }

    tmp = _mm_shuffle_epi32(abef, 0x1B);
    cdgh = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)(void *)&h[0], _mm_blend_epi16(tmp, cdgh, 0xF0));
    _mm_storeu_si128((__m128i *)(void *)&h[4], _mm_alignr_epi8(cdgh, tmp, 8));
}

static int cpu_has_sha_ni(void)
{
    unsigned int a, b, c, d;

    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 19)) || !(c & (1u << 9)))
        return 0; /* SSE4.1, SSSE3 */
    if (__get_cpuid_max(0, NULL) < 7)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b & (1u << 29)) != 0; /* SHA */
}

/* Decided once, before any caller can hash: no thread ever sees the choice change. */
__attribute__((constructor)) static void choose_blocks(void)
{
    if (cpu_has_sha_ni())
        blocks = blocks_sha_ni;
}
#endif

int hem_sha256_accelerated(void)
{
    return blocks != blocks_portable;
}

int hem_sha256_select(int force_portable)
{
    blocks = blocks_portable;
#ifdef HEM_HAVE_SHA_NI
    if (!force_portable && cpu_has_sha_ni())
        blocks = blocks_sha_ni;
#else
    (void)force_portable;
#endif
    return hem_sha256_accelerated();
}

typedef struct {
    uint32_t h[8];
    unsigned char buf[HEM_SHA256_BLOCK];
    size_t fill;
    uint64_t total;
} sha256_ctx;

static void ctx_init(sha256_ctx *c)
{
    memcpy(c->h, H0, sizeof H0);
    c->fill = 0;
    c->total = 0;
}

static void ctx_update(sha256_ctx *c, const unsigned char *p, size_t n)
{
    if (n == 0)
        return;
    c->total += n;
    if (c->fill) {
        size_t take = HEM_SHA256_BLOCK - c->fill;
        if (take > n)
            take = n;
        memcpy(c->buf + c->fill, p, take);
        c->fill += take;
        p += take;
        n -= take;
        if (c->fill < HEM_SHA256_BLOCK)
            return;
        blocks(c->h, c->buf, 1);
        c->fill = 0;
    }
    if (n >= HEM_SHA256_BLOCK) {
        blocks(c->h, p, n / HEM_SHA256_BLOCK);
        p += n / HEM_SHA256_BLOCK * HEM_SHA256_BLOCK;
        n %= HEM_SHA256_BLOCK;
    }
    if (n) {
        memcpy(c->buf, p, n);
        c->fill = n;
    }
}

static void ctx_final(sha256_ctx *c, unsigned char out[HEM_SHA256_SIZE])
{
    uint64_t bits = c->total * 8u;
    int i;

    c->buf[c->fill++] = 0x80;
    if (c->fill > HEM_SHA256_BLOCK - 8u) {
        memset(c->buf + c->fill, 0, HEM_SHA256_BLOCK - c->fill);
        blocks(c->h, c->buf, 1);
        c->fill = 0;
    }
    memset(c->buf + c->fill, 0, HEM_SHA256_BLOCK - 8u - c->fill);
    store_be32(c->buf + 56, (uint32_t)(bits >> 32));
    store_be32(c->buf + 60, (uint32_t)bits);
    blocks(c->h, c->buf, 1);
    for (i = 0; i < 8; i++)
        store_be32(out + 4 * i, c->h[i]);
}

void hem_sha256(const void *data, size_t len, unsigned char out[HEM_SHA256_SIZE])
{
    sha256_ctx c;

    ctx_init(&c);
    ctx_update(&c, (const unsigned char *)data, len);
    ctx_final(&c, out);
    wipe(&c, sizeof c);
}

void hem_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                     unsigned char out[HEM_SHA256_SIZE])
{
    unsigned char k0[HEM_SHA256_BLOCK], pad[HEM_SHA256_BLOCK], inner[HEM_SHA256_SIZE];
    sha256_ctx c;
    size_t i;

    memset(k0, 0, sizeof k0);
    if (key_len > HEM_SHA256_BLOCK)
        hem_sha256(key, key_len, k0);
    else if (key_len)
        memcpy(k0, key, key_len);

    for (i = 0; i < HEM_SHA256_BLOCK; i++)
        pad[i] = (unsigned char)(k0[i] ^ 0x36u);
    ctx_init(&c);
    ctx_update(&c, pad, sizeof pad);
    ctx_update(&c, (const unsigned char *)msg, msg_len);
    ctx_final(&c, inner);

    for (i = 0; i < HEM_SHA256_BLOCK; i++)
        pad[i] = (unsigned char)(k0[i] ^ 0x5cu);
    ctx_init(&c);
    ctx_update(&c, pad, sizeof pad);
    ctx_update(&c, inner, sizeof inner);
    ctx_final(&c, out);

    wipe(k0, sizeof k0);
    wipe(pad, sizeof pad);
    wipe(inner, sizeof inner);
    wipe(&c, sizeof c);
}

int hem_hs256_verify(const void *key, size_t key_len, const void *msg, size_t msg_len,
                     const unsigned char mac[HEM_SHA256_SIZE])
{
    unsigned char expected[HEM_SHA256_SIZE];
    int equal;

    hem_hmac_sha256(key, key_len, msg, msg_len, expected);
    equal = hem_ct_equal(expected, mac, sizeof expected);
    wipe(expected, sizeof expected);
    return equal;
}
