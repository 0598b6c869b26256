/*
 * hemcheck: recognise a HEM device's check token in the exact shape devices send, and
 * decode every field of it in one pass. C99, no allocation, no global state, thread safe.
 *
 * This is an accelerator, not a second parser: it either matches the one shape below
 * completely or answers HEM_CHECK_OTHER, and the caller then takes its general path
 * (which accepts every valid token and explains every refusal). A token it matches is one
 * the general path accepts with the same fields, so using it never changes a result.
 *
 * The shape, every part checked. Its claims (names, sizes, order, the optional one) and
 * header texts are those of hemproto/schema.py, which csrc/gen_shape.py writes into
 * hemshape.h together with a table of them:
 *   header     the base64url of one of the header texts, exactly, numbered from 0:
 *                0  {"ecdh":"x25519","typ":"JWT","alg":"HS256"}   (the check's)
 *                1  {"ecdh":"x25519","alg":"HS256","typ":"JWT"}   (the login token's)
 *   payload    the base64url of compact JSON with the table's claims in its order and
 *              nothing else (no whitespace, no escapes, no other member), each as
 *              "name":"value", the value the '='-padded standard base64 of exactly the
 *              claim's size in bytes; only the optional claim, "uis", may be absent:
 *                {"jti":"A","iss":"A","qid":"A","aud":"A","fws":"B","bls":"B",
 *                 "uis":"A","csn":"C"}      (A, B, C: of 32, 64 and 16 bytes)
 *   signature  base64url of 32 bytes
 *   and iss != aud.
 * Every base64 and base64url text must be canonical, by the rules of hemcodec.h.
 */
#ifndef HEMCHECK_H
#define HEMCHECK_H

#include <stddef.h>

/* HEM_CHECK_JTI .. HEM_CHECK_CSN, HEM_CHECK_SIG: where each decoded field lies in out,
 * back to back in the order above, the signature last (a check without "uis" leaves its
 * bytes zero); HEM_CHECK_OUT: the size of out; HEM_CHECK_MAX_LEN: the longest token in
 * the shape. All generated from the schema, with the table of sizes and offsets. */
#include "hemshape.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HEM_CHECK_OTHER (-1) /* not the device shape: use the general path */

/* What a match found besides the fields. */
typedef struct hem_check_found {
    int header;        /* which header: 0 or 1, as numbered above */
    int has_uis;       /* 1 when the "uis" claim is present, else 0 */
    size_t signed_len; /* length of "header.payload", the text the MAC covers */
} hem_check_found;

/* Match token_len bytes at token against the shape. On a match, fill out (HEM_CHECK_OUT
 * bytes) and *found, and return 0; otherwise return HEM_CHECK_OTHER, with out and *found
 * unspecified. It checks no MAC. token may be NULL when token_len is 0; out and found are
 * never NULL. */
int hem_check_scan(const char *token, size_t token_len, unsigned char out[HEM_CHECK_OUT],
                   hem_check_found *found);

#ifdef __cplusplus
}
#endif

#endif /* HEMCHECK_H */
