/*
 * hemcheck: recognise a HEM device's check token in the exact shape devices send, and
 * decode every field of it in one pass. C99, no allocation, no global state, thread safe.
 *
 * This is an accelerator, not a second parser: it either matches the one shape below
 * completely or answers HEM_CHECK_OTHER, and the caller then takes its general path
 * (which accepts every valid token and explains every refusal). A token it matches is one
 * the general path accepts with the same fields, so using it never changes a result.
 *
 * The shape, every part checked:
 *   header     the base64url of one of the two headers of the token family, exactly:
 *                0  {"ecdh":"x25519","typ":"JWT","alg":"HS256"}   (the check's)
 *                1  {"ecdh":"x25519","alg":"HS256","typ":"JWT"}   (the login token's)
 *   payload    the base64url of compact JSON with the claims in device order and nothing
 *              else: no whitespace, no escapes, no other member:
 *                {"jti":"A","iss":"A","qid":"A","aud":"A","fws":"B","bls":"B",
 *                 "uis":"A","csn":"C"}          ("uis" may be absent)
 *              A, B, C: canonical '='-padded standard base64 of 32, 64 and 16 bytes
 *   signature  base64url of 32 bytes
 *   and iss != aud.
 * Every base64 and base64url text must be canonical, by the rules of hemcodec.h.
 */
#ifndef HEMCHECK_H
#define HEMCHECK_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The decoded fields, back to back in out, in this order and at these offsets. A check
 * without "uis" leaves its 32 bytes zero. */
#define HEM_CHECK_JTI 0
#define HEM_CHECK_ISS 32
#define HEM_CHECK_QID 64
#define HEM_CHECK_AUD 96
#define HEM_CHECK_FWS 128
#define HEM_CHECK_BLS 192
#define HEM_CHECK_UIS 256
#define HEM_CHECK_CSN 288
#define HEM_CHECK_SIG 304
#define HEM_CHECK_OUT 336

#define HEM_CHECK_OTHER (-1)      /* not the device shape: use the general path */
#define HEM_CHECK_HEADER_MASK 1   /* result bit: which header (0 or 1, above) */
#define HEM_CHECK_HAS_UIS 2       /* result bit: the "uis" claim is present */
#define HEM_CHECK_SIGNED_SHIFT 2  /* result >> this: length of "header.payload" */

/* Match token_len bytes at token against the shape. On a match, fill out (HEM_CHECK_OUT
 * bytes) and return flags | signed_len << HEM_CHECK_SIGNED_SHIFT, where signed_len is the
 * length of the text the MAC covers; otherwise return HEM_CHECK_OTHER, with out
 * unspecified. It checks no MAC. token may be NULL when token_len is 0. */
long hem_check_scan(const char *token, size_t token_len, unsigned char out[HEM_CHECK_OUT]);

#ifdef __cplusplus
}
#endif

#endif /* HEMCHECK_H */
