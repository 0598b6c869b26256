/*
 * libFuzzer target: hem_sha256, hem_hmac_sha256 and hem_hs256_verify, on both SHA-256
 * block functions.
 *
 * The input is split as: one byte giving the key length (0-255, so that keys longer than
 * the 64-byte block, which RFC 2104 hashes first, are reached), the key (shorter when the
 * input ends first), then the message. For every input:
 *   - with the portable block function (hem_sha256_select(1)) and with the best one
 *     (hem_sha256_select(0): the SHA extensions where the CPU has them), SHA-256 of the
 *     message and of the whole input, and HMAC-SHA256 of the message under the key, are
 *     the same bytes, and the same as a reference written here from FIPS 180-4 and
 *     RFC 2104 (the whole message padded in one buffer, then hashed block by block, with
 *     the round constants and the initial hash value computed from the primes, as the
 *     standard defines them, instead of copied);
 *   - hem_hs256_verify accepts the MAC it computed and refuses it with one bit flipped
 *     (which bit depends on the input), and refuses it for the message one byte shorter.
 * One of the two passes reads the message at an odd address. Any violation abort()s.
 */
#include "fuzz_common.h"
#include "hemmac.h"

/* --- reference SHA-256 -------------------------------------------------------------------- */

static uint32_t ref_k[64], ref_h0[8];

/* The largest x with x^power <= target (power 2 or 3), by bisection in 128-bit integers. */
static uint64_t int_root(unsigned __int128 target, int power)
{
    uint64_t lo = 0, hi = (uint64_t)1 << 40;

    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        unsigned __int128 p = (unsigned __int128)mid * mid;
        if (power == 3)
            p *= mid;
        if (p <= target)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* FIPS 180-4 4.2.2 and 5.3.3: the first 32 bits of the fractional parts of the cube roots
 * of the first 64 primes, and of the square roots of the first 8. */
static void ref_constants(void)
{
    uint64_t p = 1;
    int found = 0;

    while (found < 64) {
        uint64_t d;
        int prime = 1;
        p++;
        for (d = 2; d * d <= p; d++)
            if (p % d == 0)
                prime = 0;
        if (!prime)
            continue;
        ref_k[found] = (uint32_t)int_root((unsigned __int128)p << 96, 3);
        if (found < 8)
            ref_h0[found] = (uint32_t)int_root((unsigned __int128)p << 64, 2);
        found++;
    }
}

static uint32_t rotr(uint32_t x, int n)
{
    return x >> n | x << (32 - n);
}

/* SHA-256 of the concatenation a || b (either may be empty), padded whole and hashed. */
static void ref_sha256(const unsigned char *a, size_t a_len, const unsigned char *b,
                       size_t b_len, unsigned char out[32])
{
    size_t len = a_len + b_len, padded = (len + 8u) / 64u * 64u + 64u, blk;
    unsigned char *m = exact_alloc(padded);
    uint32_t h[8], w[64];
    uint64_t bits = (uint64_t)len * 8u;
    int i;

    memset(m, 0, padded);
    if (a_len)
        memcpy(m, a, a_len);
    if (b_len)
        memcpy(m + a_len, b, b_len);
    m[len] = 0x80;
    for (i = 0; i < 8; i++)
        m[padded - 1 - (size_t)i] = (unsigned char)(bits >> (8 * i));
    memcpy(h, ref_h0, sizeof h);
    for (blk = 0; blk < padded; blk += 64) {
        uint32_t v[8], t1, t2;
        for (i = 0; i < 64; i++) {
            if (i < 16) {
                const unsigned char *q = m + blk + 4 * (size_t)i;
                w[i] = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
            } else {
                uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
                uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
                w[i] = w[i - 16] + s0 + w[i - 7] + s1;
            }
        }
        memcpy(v, h, sizeof v);
        for (i = 0; i < 64; i++) {
            t1 = v[7] + (rotr(v[4], 6) ^ rotr(v[4], 11) ^ rotr(v[4], 25)) +
                 ((v[4] & v[5]) ^ (~v[4] & v[6])) + ref_k[i] + w[i];
            t2 = (rotr(v[0], 2) ^ rotr(v[0], 13) ^ rotr(v[0], 22)) +
                 ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
            memmove(v + 1, v, 7 * sizeof v[0]);
            v[4] += t1;
            v[0] = t1 + t2;
        }
        for (i = 0; i < 8; i++)
            h[i] += v[i];
    }
    for (i = 0; i < 32; i++)
        out[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
    free(m);
}

/* RFC 2104 with B = 64: H(K0 ^ opad || H(K0 ^ ipad || msg)), K0 the key (hashed when
 * longer than B) padded with zeros to B. */
static void ref_hmac(const unsigned char *key, size_t key_len, const unsigned char *msg,
                     size_t msg_len, unsigned char out[32])
{
    unsigned char k0[64], pad[64], inner[32];
    int i;

    memset(k0, 0, sizeof k0);
    if (key_len > 64)
        ref_sha256(key, key_len, NULL, 0, k0);
    else if (key_len)
        memcpy(k0, key, key_len);
    for (i = 0; i < 64; i++)
        pad[i] = k0[i] ^ 0x36;
    ref_sha256(pad, 64, msg, msg_len, inner);
    for (i = 0; i < 64; i++)
        pad[i] = k0[i] ^ 0x5c;
    ref_sha256(pad, 64, inner, 32, out);
}

/* --- the target --------------------------------------------------------------------------- */

typedef struct {
    unsigned char sha_msg[32], sha_all[32], mac[32];
} results;

/* Everything one block function gives for this input, with its own checks of verify. */
static void run_pass(const unsigned char *data, size_t n, const unsigned char *key,
                     size_t key_len, const unsigned char *msg, size_t msg_len, results *r)
{
    unsigned char flipped[32];
    size_t bit;

    hem_sha256(msg_len ? msg : NULL, msg_len, r->sha_msg);
    hem_sha256(n ? data : NULL, n, r->sha_all);
    hem_hmac_sha256(key_len ? key : NULL, key_len, msg_len ? msg : NULL, msg_len, r->mac);
    REQUIRE_MSG(hem_hs256_verify(key, key_len, msg, msg_len, r->mac) == 1,
                "hem_hs256_verify refuses the MAC hem_hmac_sha256 computed");
    bit = (n ? data[n - 1] : 0u) + 7u * n;
    memcpy(flipped, r->mac, 32);
    flipped[bit / 8 % 32] ^= (unsigned char)(1u << (bit % 8));
    REQUIRE_MSG(hem_hs256_verify(key, key_len, msg, msg_len, flipped) == 0,
                "hem_hs256_verify accepts a MAC with one bit flipped");
    if (msg_len)
        REQUIRE_MSG(hem_hs256_verify(key, key_len, msg, msg_len - 1, r->mac) == 0,
                    "hem_hs256_verify accepts the MAC for the message one byte shorter");
}

/* Which block function is selected: switching costs a CPUID (slow in a virtual machine),
 * so each input starts with the one the last input ended with, and switches once. */
static int portable_selected;

static void select_block_function(int portable)
{
    int accelerated = hem_sha256_select(portable);
    REQUIRE(!portable || accelerated == 0);
    portable_selected = portable;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    static int ready;
    unsigned char *in = exact_copy(data, n);
    size_t key_len = n ? data[0] : 0, msg_len;
    const unsigned char *key = in + (n ? 1 : 0);
    unsigned char *odd, want_msg[32], want_all[32], want_mac[32];
    results portable, best;

    if (!ready) {
        ref_constants();
        fprintf(stderr, "fuzz_mac: comparing the portable block function with %s\n",
                hem_sha256_select(0) ? "the SHA extensions"
                                     : "itself (this CPU has no SHA extensions: only the "
                                       "reference comparison means anything)");
        select_block_function(0);
        ready = 1;
    }
    if (n && key_len > n - 1)
        key_len = n - 1;
    msg_len = n ? n - 1 - key_len : 0;

    /* The second pass reads the message at an odd address: a block function must not
     * assume alignment. */
    odd = exact_alloc(msg_len + 1);
    if (msg_len)
        memcpy(odd + 1, key + key_len, msg_len);
    run_pass(in, n, key, key_len, key + key_len, msg_len, portable_selected ? &portable : &best);
    select_block_function(!portable_selected);
    run_pass(in, n, key, key_len, odd + 1, msg_len, portable_selected ? &portable : &best);

    REQUIRE_MSG(memcmp(portable.sha_msg, best.sha_msg, 32) == 0 &&
                    memcmp(portable.sha_all, best.sha_all, 32) == 0,
                "hem_sha256 differs between the two block functions");
    REQUIRE_MSG(memcmp(portable.mac, best.mac, 32) == 0,
                "hem_hmac_sha256 differs between the two block functions");

    ref_sha256(key + key_len, msg_len, NULL, 0, want_msg);
    ref_sha256(in, n, NULL, 0, want_all);
    ref_hmac(key, key_len, key + key_len, msg_len, want_mac);
    REQUIRE_MSG(memcmp(portable.sha_msg, want_msg, 32) == 0 &&
                    memcmp(portable.sha_all, want_all, 32) == 0,
                "hem_sha256 differs from the reference");
    REQUIRE_MSG(memcmp(portable.mac, want_mac, 32) == 0,
                "hem_hmac_sha256 differs from the reference");

    free(odd);
    free(in);
    return 0;
}
