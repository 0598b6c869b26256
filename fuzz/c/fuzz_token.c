/*
 * libFuzzer target: hem_token_decode, the compact-token splitter.
 *
 * The acceptance rule is restated independently: a token is accepted exactly when it has
 * two '.', three non-empty segments, and hem_b64url_decode (and the slow reference)
 * accepts each one; the output is then the three decodes back to back and *parts gives
 * the '.' offsets and the three sizes. A refusal carries HEM_E_SEGMENTS or the first
 * failing segment's own code, at a token offset that the model below predicts from the
 * rules in hemcodec.h (segments are examined in token order; a '.' that a segment's decoder
 * would refuse as a character is a third '.', reported as HEM_E_SEGMENTS). Any violation
 * abort()s.
 */
#include "fuzz_common.h"

/* The refusal the rules predict for a token that is not accepted, or HEM_OK. */
static ref_result model_refusal(const unsigned char *s, size_t n, unsigned char *scratch)
{
    const unsigned char *dot1 = n ? memchr(s, '.', n) : NULL;
    const unsigned char *dot2 = dot1 ? memchr(dot1 + 1, '.', n - (size_t)(dot1 + 1 - s)) : NULL;
    size_t start[3], len[3], k;

    if (!dot2)
        return ref_refuse(HEM_E_SEGMENTS, n);
    start[0] = 0;
    start[1] = (size_t)(dot1 - s) + 1;
    start[2] = (size_t)(dot2 - s) + 1;
    len[0] = start[1] - 1;
    len[1] = start[2] - start[1] - 1;
    len[2] = n - start[2];
    for (k = 0; k < 3; k++)
        if (len[k] == 0)
            return ref_refuse(HEM_E_SEGMENTS, start[k]);
    for (k = 0; k < 3; k++) {
        ref_result r = ref_url_decode(s + start[k], len[k], scratch);
        if (r.code != HEM_OK) {
            int code = r.code == HEM_E_CHAR && s[start[k] + r.offset] == '.' ? HEM_E_SEGMENTS
                                                                             : r.code;
            return ref_refuse(code, start[k] + r.offset);
        }
    }
    return ref_refuse(HEM_OK, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    size_t cap = hem_b64_decoded_max(n);
    unsigned char *in = exact_copy(data, n);
    unsigned char *out = exact_alloc(cap);
    unsigned char *expect = exact_alloc(n);
    unsigned char *scratch = exact_alloc(n);
    size_t dots[2], ndots = 0, i, start, expect_len = 0, seg_len[3], off = UNTOUCHED;
    int accept = 1;
    hem_token_parts parts;
    ptrdiff_t got;
    ref_result model;

    /* Where the rule says "accepted", and what the output must then be. */
    for (i = 0; i < n; i++)
        if (in[i] == '.') {
            if (ndots < 2)
                dots[ndots] = i;
            ndots++;
        }
    if (ndots != 2)
        accept = 0;
    for (i = 0, start = 0; accept && i < 3; i++) {
        size_t end = i < 2 ? dots[i] : n, room = hem_b64_decoded_max(end - start);
        unsigned char *seg_out = exact_alloc(room);
        ptrdiff_t w = hem_b64url_decode((const char *)in + start, end - start, seg_out, room, NULL);
        ref_result r = ref_url_decode(in + start, end - start, scratch);

        REQUIRE((w >= 0) == (r.code == HEM_OK));
        if (end == start || w < 0) {
            accept = 0;
        } else {
            REQUIRE(r.len == (size_t)w && memcmp(seg_out, scratch, r.len) == 0);
            memcpy(expect + expect_len, seg_out, (size_t)w);
            expect_len += (size_t)w;
            seg_len[i] = (size_t)w;
        }
        free(seg_out);
        start = end + 1;
    }

    memset(&parts, 0xA5, sizeof parts);
    got = hem_token_decode((const char *)in, n, out, cap, &parts, &off);
    model = model_refusal(in, n, scratch);

    /* NULL parts and NULL err_offset are allowed and change nothing. */
    {
        unsigned char *out2 = exact_alloc(cap);
        ptrdiff_t again = hem_token_decode((const char *)in, n, out2, cap, NULL, NULL);
        REQUIRE(again == got);
        if (got > 0)
            REQUIRE(memcmp(out, out2, (size_t)got) == 0);
        free(out2);
    }

    if (accept) {
        REQUIRE(got >= 0);
        REQUIRE(model.code == HEM_OK);
        REQUIRE((size_t)got == expect_len);
        REQUIRE(expect_len == 0 || memcmp(out, expect, expect_len) == 0);
        REQUIRE(parts.dot1 == dots[0] && parts.dot2 == dots[1]);
        REQUIRE(parts.header_len == seg_len[0] && parts.payload_len == seg_len[1] &&
                parts.signature_len == seg_len[2]);
        REQUIRE(off == UNTOUCHED);
        /* Canonical: the three decodes re-encode to the three segments. */
        {
            size_t at = 0, k, seg_start = 0;
            for (k = 0; k < 3; k++) {
                size_t seg_end = k < 2 ? dots[k] : n;
                size_t tlen = hem_b64url_encoded_len(seg_len[k]);
                char *text = (char *)exact_alloc(tlen);
                REQUIRE(tlen == seg_end - seg_start);
                REQUIRE(hem_b64url_encode(out + at, seg_len[k], text, tlen) == (ptrdiff_t)tlen);
                REQUIRE(memcmp(text, in + seg_start, tlen) == 0);
                free(text);
                at += seg_len[k];
                seg_start = seg_end + 1;
            }
        }
    } else {
        REQUIRE(got == HEM_E_SEGMENTS || got == HEM_E_CHAR || got == HEM_E_LENGTH ||
                got == HEM_E_TRAILING);
        REQUIRE(off != UNTOUCHED && off <= n);
        REQUIRE(model.code == (int)got);
        REQUIRE(model.offset == off);
        /* What each code's offset points at, whichever segment it is in. */
        switch (got) {
        case HEM_E_SEGMENTS:
            REQUIRE(off == n || in[off] == '.');
            break;
        case HEM_E_CHAR:
            REQUIRE(off < n && in[off] != '.' && ref_value(REF_URL, in[off]) < 0);
            break;
        case HEM_E_LENGTH:
            REQUIRE(off == n || in[off] == '.');
            break;
        default: /* HEM_E_TRAILING: the last character of its segment */
            REQUIRE(off < n && ref_value(REF_URL, in[off]) >= 0);
            REQUIRE(off + 1 == n || in[off + 1] == '.');
        }
    }

    /* One byte of room short is a caller error, reported first, with nothing written. */
    if (cap > 0) {
        size_t off2 = UNTOUCHED;
        REQUIRE(hem_token_decode((const char *)in, n, out, cap - 1, NULL, &off2) == HEM_E_SPACE);
        REQUIRE(off2 == UNTOUCHED);
    }
    if (n == 0)
        REQUIRE(hem_token_decode(NULL, 0, NULL, 0, NULL, NULL) == HEM_E_SEGMENTS);

    free(scratch);
    free(expect);
    free(out);
    free(in);
    return 0;
}
