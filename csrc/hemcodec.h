/*
 * hemcodec: strict base64 / base64url codecs and a constant-time compare for the
 * HEM token family. C99, no dependencies, no allocation, no global state: every
 * function works only on the buffers it is given and is safe to call from any thread.
 *
 * Canonical form. The decoders accept exactly the text their encoder produces and
 * refuse everything else, checking in this order and reporting the first failure:
 *
 *   base64url (RFC 4648 section 5, no padding):
 *     1. every character is in A-Z a-z 0-9 '-' '_'    ('=' included, refused)  HEM_E_CHAR
 *     2. the length mod 4 is not 1                                             HEM_E_LENGTH
 *     3. the unused low bits of the last character are zero                    HEM_E_TRAILING
 *
 *   base64 (RFC 4648 section 4, '=' padded): let p be the number of trailing '='.
 *     1. every other character is in A-Z a-z 0-9 '+' '/'                       HEM_E_CHAR
 *     2. p <= 2                                                                HEM_E_PADDING
 *     3. the total length is a multiple of 4                                   HEM_E_LENGTH
 *     4. the unused low bits of the last data character are zero               HEM_E_TRAILING
 *
 * Error offsets (written to *err_offset when that pointer is not NULL):
 *   HEM_E_CHAR      index of the first bad character (a byte >= 0x80 is bad)
 *   HEM_E_LENGTH    the input length: the input ends where more was needed
 *   HEM_E_PADDING   index of the third '='
 *   HEM_E_TRAILING  index of the last data character
 *   HEM_E_SEGMENTS  see hem_token_decode
 *
 * Bounds. Lengths are size_t; results are ptrdiff_t, so inputs may be at most
 * PTRDIFF_MAX / 4 bytes long (longer inputs get HEM_E_SPACE, decided from the length
 * alone; the size helpers below are only meaningful within that bound). Work is linear in
 * the input. Outputs are not NUL-terminated. Input and output buffers must not overlap.
 * With a zero length the matching pointer may be NULL. *err_offset is written on input
 * errors only: never on success, never with HEM_E_SPACE.
 *
 * Return codes: the functions returning ptrdiff_t give a count >= 0 of bytes or characters
 * written, or one of the negative HEM_E_* codes below.
 */
#ifndef HEMCODEC_H
#define HEMCODEC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HEM_OK          0
#define HEM_E_CHAR     (-1) /* a character outside the alphabet, or misplaced '=' */
#define HEM_E_LENGTH   (-2) /* no canonical encoding has this length */
#define HEM_E_PADDING  (-3) /* more than two '=' */
#define HEM_E_TRAILING (-4) /* unused low bits of the last character are not zero */
#define HEM_E_SPACE    (-5) /* output buffer too small (a caller error, checked first) */
#define HEM_E_SEGMENTS (-6) /* a compact token without exactly three non-empty segments */

/* Output sizes. The encoded sizes are exact; the decoded size is an upper bound that
 * is exact for every canonical input without padding. */
size_t hem_b64url_encoded_len(size_t in_len);
size_t hem_b64_encoded_len(size_t in_len);
size_t hem_b64_decoded_max(size_t in_len);

/* Encode in_len bytes. Returns the number of characters written to out, or HEM_E_SPACE
 * when out_cap is smaller than the matching *_encoded_len(in_len). */
ptrdiff_t hem_b64url_encode(const unsigned char *in, size_t in_len, char *out, size_t out_cap);
ptrdiff_t hem_b64_encode(const unsigned char *in, size_t in_len, char *out, size_t out_cap);

/* Decode in_len characters. Returns the number of bytes written to out (>= 0), or a
 * negative HEM_E_* code; on an input error the offset is stored in *err_offset when it is
 * not NULL. out_cap must be at least hem_b64_decoded_max(in_len), even where padding
 * makes the result shorter (else HEM_E_SPACE, before the input is examined). On error
 * the contents of out are unspecified. */
ptrdiff_t hem_b64url_decode(const char *in, size_t in_len, unsigned char *out, size_t out_cap,
                            size_t *err_offset);
ptrdiff_t hem_b64_decode(const char *in, size_t in_len, unsigned char *out, size_t out_cap,
                         size_t *err_offset);

/* A compact token split into its segments: the offsets of its two '.' and the decoded
 * sizes of header, payload and signature, which lie back to back in the output. The
 * text a MAC covers, "header.payload", is the token's first dot2 characters. */
typedef struct hem_token_parts {
    size_t dot1, dot2;
    size_t header_len, payload_len, signature_len;
} hem_token_parts;

/* Split a compact token "header.payload.signature" and decode its three base64url
 * segments (each by the rules of hem_b64url_decode) into out, back to back: the header at
 * out[0], the payload at out[header_len], the signature at out[header_len + payload_len].
 * Returns the total bytes written and fills *parts (when parts is not NULL; its contents
 * are meaningful on success only), or a negative code, decided in this order:
 *
 *   HEM_E_SPACE     token_len > PTRDIFF_MAX / 4, or out_cap < hem_b64_decoded_max(token_len)
 *                   (a caller error, found before the token is read)
 *   HEM_E_SEGMENTS  fewer than two '.'                          offset: token_len
 *   HEM_E_SEGMENTS  an empty header, payload or signature       offset: where it starts
 *   then the three segments are decoded in order and the first refusal is returned, its
 *   offset counted from the start of the token:
 *   HEM_E_CHAR, HEM_E_LENGTH, HEM_E_TRAILING   as hem_b64url_decode on that segment (for
 *                   HEM_E_LENGTH the offset is where the segment ends)
 *   HEM_E_SEGMENTS  a third '.', i.e. more than three segments  offset: that '.'
 *
 * The third '.' is met as the signature's first character outside the alphabet: a refusal
 * in the header or payload, or a bad character in the signature before that '.', is
 * reported instead, and the signature's length and trailing bits are not examined.
 * out_cap = hem_b64_decoded_max(token_len) is always enough. With token_len 0, token and
 * out may be NULL (the result is HEM_E_SEGMENTS at offset 0). It checks no JSON and no
 * MAC: that is the caller's. */
ptrdiff_t hem_token_decode(const char *token, size_t token_len, unsigned char *out,
                           size_t out_cap, hem_token_parts *parts, size_t *err_offset);

/* Returns 1 when the n bytes at a and b are equal, else 0, in time that depends on n
 * only (never on the contents, nor on where they differ). n == 0 gives 1. n itself is not
 * hidden: compare lengths first (they are public for a MAC) and call this on equal-length
 * data. a and b may be the same or overlap; both are only read. Checked statistically by
 * csrc/tests/timing_ct_equal.c (`make -C csrc timing`, see docs/c-core.md). */
int hem_ct_equal(const void *a, const void *b, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* HEMCODEC_H */
