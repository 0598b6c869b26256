/*
 * hemreply: the backend's reply to a check (the "checked" token) written whole in one call,
 * and, in a second form, only once the check's own MAC has been found to match the same
 * key. C99, no allocation, no global state, thread safe.
 *
 * The token is  HEADER "." base64url(PAYLOAD) "." base64url(HMAC-SHA256(key, HEADER "."
 * base64url(PAYLOAD))), base64url without padding (hemcodec.h), where HEADER is the given
 * header segment and PAYLOAD is exactly this compact JSON, members in this order:
 *
 *   {"jti":"J","iss":"I","aud":"A","iat":N,"act":"X"}
 *   {"jti":"J","iss":"I","aud":"A","iat":N,"act":"X","crt":"C","newfws":"F","newuis":"U"}
 *
 * with "crt", "newfws" and "newuis" each present or absent on its own (absent when its
 * pointer is NULL). J, I, A and U are the '='-padded standard base64 of 32 bytes, F of 64
 * bytes, C of crt_len bytes; N is iat in decimal without leading zeros; X is the action.
 * These are the bytes a general JSON encoder writes for the same claims (no spaces, no
 * escapes: no value holds a character that needs one).
 *
 * Every field is checked before anything is written (HEM_REPLY_E_FIELD):
 *   iss != aud                       a reply addressed to its own issuer is a reflection
 *   iat <= HEM_REPLY_MAX_IAT         2**53 - 1: every JSON reader holds it exactly
 *   act is OK, L, W, R, B or U       act_len bytes, no terminator needed (the schema's
 *                                    ACTIONS)
 *   crt is NULL with crt_len 0, or 1 <= crt_len <= HEM_REPLY_MAX_CRT
 *   the header segment is canonical base64url (hemcodec.h) of 1 to HEM_REPLY_MAX_HEADER
 *   characters
 * then the room: out_cap at least hem_checked_len(...) of the same fields (HEM_E_SPACE).
 * The fixed-size arrays are read in full; key, jti, iss and aud are never NULL.
 */
#ifndef HEMREPLY_H
#define HEMREPLY_H

#include <stddef.h>

/* HEM_REPLY_MAX_IAT (2**53 - 1) and HEM_REPLY_MAX_CRT (bytes of DER certificate), the
 * actions and the claims' names and sizes: generated from hemproto/schema.py. */
#include "hemshape.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HEM_REPLY_MAX_HEADER 256u /* characters of the header segment */

/* Return codes beside hemcodec.h's HEM_E_SPACE (checked after the fields). */
#define HEM_REPLY_E_FIELD (-7) /* a field outside the rules above: nothing written */
#define HEM_REPLY_E_MAC (-8)   /* hem_check_answer: the check's MAC does not match */

/* The longest token valid fields make (every claim, the largest iat, certificate and
 * header): an out_cap of this many characters is always enough. */
#define HEM_REPLY_MAX_LEN                                                                   \
    (HEM_REPLY_MAX_HEADER + 1u + (HEM_SHAPE_REPLY_MAX_PAYLOAD * 4u + 2u) / 3u + 1u +         \
     HEM_SHAPE_SIGNATURE_CHARS)

/* The exact length of the token for these fields (which need not be valid: the result
 * then means nothing). crt_len 0 means no "crt"; has_newfws / has_newuis say whether
 * those claims are present. */
size_t hem_checked_len(size_t header_len, unsigned long long iat, size_t act_len, size_t crt_len,
                       int has_newfws, int has_newuis);

/* Write the token into out (not NUL-terminated). Returns the number of characters written,
 * HEM_REPLY_E_FIELD, or HEM_E_SPACE; on a refusal out is untouched. */
ptrdiff_t hem_checked_sign(const unsigned char key[32], const unsigned char jti[32],
                           const unsigned char iss[32], const unsigned char aud[32],
                           unsigned long long iat, const char *act, size_t act_len,
                           const unsigned char *crt, size_t crt_len,
                           const unsigned char *newfws /* 64 bytes or NULL */,
                           const unsigned char *newuis /* 32 bytes or NULL */,
                           const char *header, size_t header_len, char *out, size_t out_cap);

/* hem_checked_sign behind a MAC check: the fields and room are checked first (as there),
 * then HMAC-SHA256(key, check_signed) is compared with check_mac in constant time
 * (hem_hs256_verify); on a mismatch it returns HEM_REPLY_E_MAC and out is untouched, else
 * it writes the reply as hem_checked_sign does. check_signed is the text the check's MAC
 * covers ("header.payload"); it may be NULL when check_signed_len is 0. */
ptrdiff_t hem_check_answer(const unsigned char key[32], const char *check_signed,
                           size_t check_signed_len, const unsigned char check_mac[32],
                           const unsigned char jti[32], const unsigned char iss[32],
                           const unsigned char aud[32], unsigned long long iat, const char *act,
                           size_t act_len, const unsigned char *crt, size_t crt_len,
                           const unsigned char *newfws, const unsigned char *newuis,
                           const char *header, size_t header_len, char *out, size_t out_cap);

#ifdef __cplusplus
}
#endif

#endif /* HEMREPLY_H */
