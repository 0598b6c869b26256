/*
 * hemmac: SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), the MAC of the HEM token family
 * (HS256, RFC 7518 section 3.2). C99, no allocation.
 *
 * Two implementations of the SHA-256 block function give identical bytes: portable C, and
 * on x86-64 the CPU's SHA extensions (SHA-NI), used when the CPU reports them. The choice
 * is made once when the library is loaded (GCC and Clang); other compilers build the
 * portable one only. Nothing here branches or indexes memory on secret data. The padded
 * key blocks, hash states and (portable) message schedule derived from a key are wiped
 * before a function returns; the SHA-NI block function keeps its schedule in vector
 * registers, which C cannot wipe.
 */
#ifndef HEMMAC_H
#define HEMMAC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HEM_SHA256_SIZE 32
#define HEM_SHA256_BLOCK 64

/* out = SHA-256(data). data may be NULL when len is 0. */
void hem_sha256(const void *data, size_t len, unsigned char out[HEM_SHA256_SIZE]);

/* out = HMAC-SHA256(key, msg), for any key length (a key longer than 64 bytes is hashed
 * first, as RFC 2104 says). key / msg may be NULL when their length is 0. */
void hem_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                     unsigned char out[HEM_SHA256_SIZE]);

/* 1 when mac equals HMAC-SHA256(key, msg), else 0. The comparison takes the same time
 * wherever the two differ (hem_ct_equal), and the computed MAC is wiped. */
int hem_hs256_verify(const void *key, size_t key_len, const void *msg, size_t msg_len,
                     const unsigned char mac[HEM_SHA256_SIZE]);

/* Which block function is in use: 1 for the SHA extensions, 0 for portable C. */
int hem_sha256_accelerated(void);

/* For tests and benchmarks: use portable C (force_portable != 0) or the best available
 * (0). Returns hem_sha256_accelerated() after the change. Not thread safe: call it only
 * while no other thread hashes. */
int hem_sha256_select(int force_portable);

#ifdef __cplusplus
}
#endif

#endif /* HEMMAC_H */
