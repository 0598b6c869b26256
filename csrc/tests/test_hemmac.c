/*
 * Self-test for hemmac: SHA-256, HMAC-SHA256 and hem_hs256_verify.
 *
 * Every known answer runs under both block functions: portable C (hem_sha256_select(1))
 * and the best one available (hem_sha256_select(0): the SHA extensions when the CPU
 * reports them, else portable C again; the run prints which). The two must also agree on
 * every message length from 0 to 1100 bytes, alone and under HMAC with keys of every
 * interesting length, and a digest over all those results is compared with a value
 * computed independently, which also checks the padding and key handling the two block
 * functions share.
 *
 * Inputs and outputs are copied into exactly sized heap blocks around each call, so a run
 * under valgrind or AddressSanitizer also catches any read or write out of bounds. Under
 * valgrind the CPU it emulates may not report the SHA extensions: the portable path then
 * runs in both modes, and everything must pass all the same.
 */
#include "hemmac.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* Deterministic bytes so that failures reproduce: xorshift64, one byte (the top one) per
 * step. The known answers of test_agreement depend on this exact sequence. */
#define RNG_SEED 0x9E3779B97F4A7C15u
static uint64_t rng_state = RNG_SEED;

static unsigned char next_byte(void)
{
    return xorshift_byte(&rng_state);
}

/* n fresh random bytes in a block of exactly n bytes. */
static unsigned char *random_block(size_t n)
{
    unsigned char *p = xmalloc(n);
    size_t i;

    for (i = 0; i < n; i++)
        p[i] = next_byte();
    return p;
}

static const char *to_hex(const unsigned char *p, size_t n)
{
    static char buf[2 * HEM_SHA256_SIZE + 1];
    size_t i;

    if (n > HEM_SHA256_SIZE)
        n = HEM_SHA256_SIZE;
    for (i = 0; i < n; i++)
        sprintf(buf + 2 * i, "%02x", p[i]);
    buf[2 * n] = '\0';
    return buf;
}

/* hem_sha256 on an exact copy of the input, into an exactly sized output block. */
static void sha256_exact(const unsigned char *data, size_t len, unsigned char dst[HEM_SHA256_SIZE])
{
    unsigned char *in = dup_exact(data, len), *out = xmalloc(HEM_SHA256_SIZE);

    hem_sha256(in, len, out);
    memcpy(dst, out, HEM_SHA256_SIZE);
    free(out);
    free(in);
}

/* hem_hmac_sha256 the same way. */
static void hmac_exact(const unsigned char *key, size_t key_len, const unsigned char *msg,
                       size_t msg_len, unsigned char dst[HEM_SHA256_SIZE])
{
    unsigned char *k = dup_exact(key, key_len), *m = dup_exact(msg, msg_len);
    unsigned char *out = xmalloc(HEM_SHA256_SIZE);

    hem_hmac_sha256(k, key_len, m, msg_len, out);
    memcpy(dst, out, HEM_SHA256_SIZE);
    free(out);
    free(m);
    free(k);
}

/* hem_hs256_verify the same way, the MAC too in a block of exactly 32 bytes. */
static int verify_exact(const unsigned char *key, size_t key_len, const unsigned char *msg,
                        size_t msg_len, const unsigned char mac[HEM_SHA256_SIZE])
{
    unsigned char *k = dup_exact(key, key_len), *m = dup_exact(msg, msg_len);
    unsigned char *c = dup_exact(mac, HEM_SHA256_SIZE);
    int r = hem_hs256_verify(k, key_len, m, msg_len, c);

    free(c);
    free(m);
    free(k);
    return r;
}

/* The block function hem_sha256_select(0) picks: recorded at start-up, before any test
 * changes it, so it is the choice made when the library was loaded. */
static int best_accelerated;

static const char *mode_name(int accelerated)
{
    return accelerated ? "SHA extensions" : "portable C";
}

/* ---- SHA-256 known answers ----------------------------------------------------------------- */

/*
 * Known answers from NIST's SHA-256 examples: "abc" and the 448-bit message are FIPS 180-2
 * appendix B.1 and B.2 (also NIST's "Examples with Intermediate Values" for FIPS 180-4,
 * SHA256.pdf); one million 'a', appendix B.3, is in test_sha256_million. The empty message
 * and the 896-bit message (the two-block message of the SHA-384 / SHA-512 examples,
 * appendix C.2 and D.2) hashed with SHA-256 complete the usual set. All five digests were
 * also checked against Python's hashlib.
 */
static const struct {
    const char *msg, *digest;
} sha256_vectors[] = {
    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqr"
     "lmnopqrsmnopqrstnopqrstu",
     "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
};

static void test_sha256_vectors(const char *mode)
{
    size_t v;

    for (v = 0; v < sizeof sha256_vectors / sizeof sha256_vectors[0]; v++) {
        const char *msg = sha256_vectors[v].msg;
        unsigned char want[HEM_SHA256_SIZE], got[HEM_SHA256_SIZE];

        from_hex(sha256_vectors[v].digest, want, sizeof want);
        sha256_exact((const unsigned char *)msg, strlen(msg), got);
        CHECKF(memcmp(got, want, sizeof want) == 0, "%s, %lu-byte message: got %s", mode,
               (unsigned long)strlen(msg), to_hex(got, sizeof got));
    }
}

/* FIPS 180-2 appendix B.3: one million repetitions of 'a'. */
static void test_sha256_million(const char *mode)
{
    const size_t n = 1000000;
    unsigned char *msg = xmalloc(n), want[HEM_SHA256_SIZE], *out = xmalloc(HEM_SHA256_SIZE);

    memset(msg, 'a', n);
    from_hex("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", want,
             sizeof want);
    hem_sha256(msg, n, out);
    CHECKF(memcmp(out, want, sizeof want) == 0, "%s, a million 'a': got %s", mode,
           to_hex(out, HEM_SHA256_SIZE));
    free(out);
    free(msg);
}

/* ---- HMAC-SHA256 known answers: RFC 4231 section 4, test cases 1 to 7 ---------------------- */

/* A key or message is either hex (when hex is not NULL) or `count` copies of `fill`; a
 * message may also be plain text. */
struct hmac_case {
    int number;
    const char *key_hex;
    unsigned char key_fill;
    size_t key_count;
    const char *text;
    unsigned char msg_fill;
    size_t msg_count;
    const char *mac_hex; /* case 5 gives only the first 128 bits */
};

static const struct hmac_case rfc4231[] = {
    {1, NULL, 0x0b, 20, "Hi There", 0, 0,
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
    {2, "4a656665", 0, 0, "what do ya want for nothing?", 0, 0,
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    {3, NULL, 0xaa, 20, NULL, 0xdd, 50,
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
    {4, "0102030405060708090a0b0c0d0e0f10111213141516171819", 0, 0, NULL, 0xcd, 50,
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
    {5, NULL, 0x0c, 20, "Test With Truncation", 0, 0, "a3b6167473100ee06e0c796c2955552b"},
    {6, NULL, 0xaa, 131, "Test Using Larger Than Block-Size Key - Hash Key First", 0, 0,
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
    {7, NULL, 0xaa, 131,
     "This is a test using a larger than block-size key and a larger than block-size data. "
     "The key needs to be hashed before being used by the HMAC algorithm.",
     0, 0, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
};

static void test_hmac_vectors(const char *mode)
{
    size_t v;

    for (v = 0; v < sizeof rfc4231 / sizeof rfc4231[0]; v++) {
        const struct hmac_case *c = &rfc4231[v];
        unsigned char key[200], msg[200], want[HEM_SHA256_SIZE], got[HEM_SHA256_SIZE];
        size_t key_len, msg_len, mac_len;

        if (c->key_hex) {
            key_len = from_hex(c->key_hex, key, sizeof key);
        } else {
            key_len = c->key_count;
            memset(key, c->key_fill, key_len);
        }
        if (c->text) {
            msg_len = strlen(c->text);
            memcpy(msg, c->text, msg_len);
        } else {
            msg_len = c->msg_count;
            memset(msg, c->msg_fill, msg_len);
        }
        mac_len = from_hex(c->mac_hex, want, sizeof want);
        hmac_exact(key, key_len, msg, msg_len, got);
        CHECKF(memcmp(got, want, mac_len) == 0, "%s, RFC 4231 case %d: got %s", mode, c->number,
               to_hex(got, sizeof got));
        /* The untruncated MACs verify as they are. */
        if (mac_len == HEM_SHA256_SIZE)
            CHECKF(verify_exact(key, key_len, msg, msg_len, want) == 1, "%s, RFC 4231 case %d",
                   mode, c->number);
    }
}

/* ---- both block functions agree, and both agree with an independent implementation -------- */

#define MAX_LEN 1100u
#define LENGTHS (MAX_LEN + 1u)

static const size_t key_lengths[] = {0, 1, 31, 32, 33, 63, 64, 65, 200};
#define KEY_LENGTHS (sizeof key_lengths / sizeof key_lengths[0])

/*
 * The SHA-256 of the concatenated results below, computed with Python's hashlib and hmac
 * modules over the same byte sequence (xorshift64 from RNG_SEED, top byte of each step):
 *
 *   messages: for n in 0..1100: n bytes               -> SHA-256 of each, concatenated
 *   MACs:     for each key length k above, for n in 0..1100: k key bytes, then n message
 *             bytes                                    -> HMAC-SHA256, concatenated
 *
 * Lengths 55/56 and 119/120 (where the length field spills into another block), 63/64,
 * 127/128 and every other block boundary up to 1100 are all among them; key lengths 64
 * and 65 are either side of the point where RFC 2104 hashes the key first.
 */
static const char all_digests_sha256[] =
    "7151a08a0504088ac12e6fd6df0acb16e00cd6aaa563069ef6a9606728aeb004";
static const char all_macs_sha256[] =
    "4286d0434f2a77ddf22d29ca484be00d6ed44151c9b8ce51eb4a75d4ac1914fb";

static void test_agreement(void)
{
    unsigned char *digests = xmalloc(LENGTHS * HEM_SHA256_SIZE);
    unsigned char *macs = xmalloc(KEY_LENGTHS * LENGTHS * HEM_SHA256_SIZE);
    unsigned char portable[HEM_SHA256_SIZE], best[HEM_SHA256_SIZE], want[HEM_SHA256_SIZE];
    unsigned char got[HEM_SHA256_SIZE];
    size_t n, k;

    rng_state = RNG_SEED;
    for (n = 0; n < LENGTHS; n++) {
        unsigned char *msg = random_block(n);

        hem_sha256_select(1);
        sha256_exact(msg, n, portable);
        hem_sha256_select(0);
        sha256_exact(msg, n, best);
        CHECKF(memcmp(portable, best, HEM_SHA256_SIZE) == 0, "SHA-256 of %lu bytes",
               (unsigned long)n);
        memcpy(digests + n * HEM_SHA256_SIZE, portable, HEM_SHA256_SIZE);
        free(msg);
    }
    for (k = 0; k < KEY_LENGTHS; k++) {
        for (n = 0; n < LENGTHS; n++) {
            unsigned char *key = random_block(key_lengths[k]);
            unsigned char *msg = random_block(n);

            hem_sha256_select(1);
            hmac_exact(key, key_lengths[k], msg, n, portable);
            hem_sha256_select(0);
            hmac_exact(key, key_lengths[k], msg, n, best);
            CHECKF(memcmp(portable, best, HEM_SHA256_SIZE) == 0,
                   "HMAC with a %lu-byte key over %lu bytes", (unsigned long)key_lengths[k],
                   (unsigned long)n);
            memcpy(macs + (k * LENGTHS + n) * HEM_SHA256_SIZE, portable, HEM_SHA256_SIZE);
            free(msg);
            free(key);
        }
    }

    from_hex(all_digests_sha256, want, sizeof want);
    sha256_exact(digests, LENGTHS * HEM_SHA256_SIZE, got);
    CHECKF(memcmp(got, want, sizeof want) == 0, "SHA-256 of every length 0..1100: got %s",
           to_hex(got, sizeof got));
    from_hex(all_macs_sha256, want, sizeof want);
    sha256_exact(macs, KEY_LENGTHS * LENGTHS * HEM_SHA256_SIZE, got);
    CHECKF(memcmp(got, want, sizeof want) == 0, "HMAC of every length 0..1100: got %s",
           to_hex(got, sizeof got));
    free(macs);
    free(digests);
}

/* ---- hem_hs256_verify ------------------------------------------------------------------------ */

static void test_verify(const char *mode)
{
    enum { KEY = 32, MSG = 717 }; /* an HS256 key; the signed part of a device check */
    unsigned char *key = random_block(KEY), *msg = random_block(MSG);
    unsigned char mac[HEM_SHA256_SIZE], probe[HEM_SHA256_SIZE], other[HEM_SHA256_SIZE];
    size_t bit, i;

    hmac_exact(key, KEY, msg, MSG, mac);
    CHECKF(verify_exact(key, KEY, msg, MSG, mac) == 1, "%s", mode);

    /* Every single-bit change of the MAC is refused. */
    for (bit = 0; bit < 8u * HEM_SHA256_SIZE; bit++) {
        memcpy(probe, mac, sizeof probe);
        probe[bit / 8u] ^= (unsigned char)(1u << bit % 8u);
        CHECKF(verify_exact(key, KEY, msg, MSG, probe) == 0, "%s, MAC bit %lu flipped", mode,
               (unsigned long)bit);
    }

    /* A wrong key: one bit off anywhere, one byte short, one non-zero byte longer. (A zero
     * byte more is the same HMAC key: RFC 2104 pads keys shorter than a block with zeros.) */
    for (i = 0; i < KEY; i++) {
        key[i] ^= 0x01;
        CHECKF(verify_exact(key, KEY, msg, MSG, mac) == 0, "%s, key byte %lu changed", mode,
               (unsigned long)i);
        key[i] ^= 0x01;
    }
    CHECKF(verify_exact(key, KEY - 1, msg, MSG, mac) == 0, "%s, key one byte short", mode);
    {
        unsigned char longer[KEY + 1];
        memcpy(longer, key, KEY);
        longer[KEY] = 0;
        CHECKF(verify_exact(longer, KEY + 1, msg, MSG, mac) == 1, "%s, key with a zero byte added",
               mode);
        longer[KEY] = 1;
        CHECKF(verify_exact(longer, KEY + 1, msg, MSG, mac) == 0, "%s, key with a byte added",
               mode);
    }

    /* A wrong message: a changed first or last byte, one byte short. */
    msg[0] ^= 0x80;
    CHECKF(verify_exact(key, KEY, msg, MSG, mac) == 0, "%s, first message byte changed", mode);
    msg[0] ^= 0x80;
    msg[MSG - 1] ^= 0x01;
    CHECKF(verify_exact(key, KEY, msg, MSG, mac) == 0, "%s, last message byte changed", mode);
    msg[MSG - 1] ^= 0x01;
    CHECKF(verify_exact(key, KEY, msg, MSG - 1, mac) == 0, "%s, message one byte short", mode);
    CHECKF(verify_exact(key, KEY, msg, MSG, mac) == 1, "%s, restored", mode);

    /* The MAC of another message under the same key. */
    hmac_exact(key, KEY, msg, MSG - 1, other);
    CHECKF(verify_exact(key, KEY, msg, MSG, other) == 0, "%s, another message's MAC", mode);
    CHECKF(verify_exact(key, KEY, msg, MSG - 1, other) == 1, "%s, that message", mode);

    free(msg);
    free(key);
}

/* ---- NULL with zero lengths ----------------------------------------------------------------- */

static void test_null_pointers(const char *mode)
{
    unsigned char *out = xmalloc(HEM_SHA256_SIZE), want[HEM_SHA256_SIZE];
    unsigned char key[32], with_empty[HEM_SHA256_SIZE];
    size_t i;

    hem_sha256(NULL, 0, out);
    from_hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want,
             sizeof want);
    CHECKF(memcmp(out, want, sizeof want) == 0, "%s, SHA-256(NULL, 0)", mode);

    /* HMAC-SHA256 with an empty key over an empty message (Python's hmac module). */
    hem_hmac_sha256(NULL, 0, NULL, 0, out);
    from_hex("b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad", want,
             sizeof want);
    CHECKF(memcmp(out, want, sizeof want) == 0, "%s, HMAC(NULL, 0, NULL, 0)", mode);
    CHECKF(hem_hs256_verify(NULL, 0, NULL, 0, want) == 1, "%s, verify(NULL, 0, NULL, 0)", mode);
    want[31] ^= 1;
    CHECKF(hem_hs256_verify(NULL, 0, NULL, 0, want) == 0, "%s, verify(NULL, 0, NULL, 0)", mode);

    /* A NULL message with a real key is the empty message. */
    for (i = 0; i < sizeof key; i++)
        key[i] = (unsigned char)i;
    hmac_exact(key, sizeof key, key, 0, with_empty);
    hem_hmac_sha256(key, sizeof key, NULL, 0, out);
    CHECKF(memcmp(out, with_empty, sizeof with_empty) == 0, "%s, HMAC(key, NULL, 0)", mode);
    CHECKF(hem_hs256_verify(key, sizeof key, NULL, 0, with_empty) == 1, "%s", mode);
    free(out);
}

static void run_all_vectors(void)
{
    const char *mode = mode_name(hem_sha256_accelerated());

    printf("known answers with the %s block function\n", mode);
    test_sha256_vectors(mode);
    test_sha256_million(mode);
    test_hmac_vectors(mode);
    test_verify(mode);
    test_null_pointers(mode);
}

int main(void)
{
    best_accelerated = hem_sha256_accelerated();
    printf("block function chosen at load: %s%s\n", mode_name(best_accelerated),
           best_accelerated ? "" : " (the CPU reports no SHA extensions: both modes are "
                                   "portable C)");

    CHECK(hem_sha256_select(1) == 0);
    CHECK(hem_sha256_accelerated() == 0);
    run_all_vectors();

    CHECK(hem_sha256_select(0) == best_accelerated);
    CHECK(hem_sha256_accelerated() == best_accelerated);
    run_all_vectors();

    test_agreement();

    /* Leave the library as it was loaded. */
    CHECK(hem_sha256_select(0) == best_accelerated);
    CHECK(hem_sha256_accelerated() == best_accelerated);

    printf("%lu passed, %lu failed\n", n_passed, n_failed);
    return n_failed ? 1 : 0;
}
