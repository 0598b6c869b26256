"""cffi build script for hemproto._hemcodec (out-of-line API mode).

Used by setup.py through ``cffi_modules``. The compiled module is optional: without a
working C compiler the install goes on and hemproto runs on its Python fallback, unless
HEMPROTO_REQUIRE_C=1 is set, which makes a failed compile fail the install.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
REQUIRE_C = os.environ.get("HEMPROTO_REQUIRE_C") == "1"
# The C library's sources, as csrc/Makefile's LIB_NAMES lists them.
LIBRARY = ("hemcodec", "hemcheck", "hemmac", "hemjson", "hemreply")
# The public values of the generated shape header (every HEM_CHECK_* offset, the reply's
# limits), readable from lib so that tests/test_c_shape.py can hold them to the schema;
# taken from the header itself, so a new claim needs no line here.
SHAPE_VALUES = re.findall(
    r"^#define (HEM_(?:CHECK|REPLY)_[A-Z0-9_]+) ",
    (HERE / "hemshape.h").read_text(encoding="ascii"),
    re.MULTILINE,
)

# The library's functions return a status and fill structs (hem_token_parts,
# hem_check_found, hem_json_verdict, hem_json_outline). The static shims below are the
# Python boundary: they pass bytes objects straight through (cffi allows them for `char *`
# parameters; the library takes unsigned char), and, since every cffi out-parameter is an
# allocation, they return each multi-value result packed into one integer by one rule:
# -1 when there is no result (the Python side explains a refusal its own way), else the
# struct's values in the order it lists them from the least significant bit up, each at a
# fixed shift, then the call's own total, if it has one. Each shim's comment states its
# shifts; the check's are also readable from lib (HEM_CHECK_HEADER_MASK,
# HEM_CHECK_HAS_UIS, HEM_CHECK_SIGNED_SHIFT).
CDEF = """
#define HEM_E_CHAR ...
#define HEM_E_LENGTH ...
#define HEM_E_PADDING ...
#define HEM_E_TRAILING ...
#define HEM_E_SPACE ...
#define HEM_E_SEGMENTS ...
#define HEM_CHECK_OTHER ...
#define HEM_CHECK_HEADER_MASK ...
#define HEM_CHECK_HAS_UIS ...
#define HEM_CHECK_SIGNED_SHIFT ...
#define HEM_REPLY_MAX_HEADER ...
#define HEM_REPLY_MAX_LEN ...
#define HEM_REPLY_E_FIELD ...
ptrdiff_t hemx_b64url_encode(const char *in, size_t in_len, char *out, size_t out_cap);
ptrdiff_t hemx_b64_encode(const char *in, size_t in_len, char *out, size_t out_cap);
ptrdiff_t hemx_b64url_decode(const char *in, size_t in_len, char *out, size_t out_cap,
                             size_t *err_offset);
ptrdiff_t hemx_b64_decode(const char *in, size_t in_len, char *out, size_t out_cap,
                          size_t *err_offset);
int hemx_ct_equal(const char *a, const char *b, size_t n);
long long hemx_token_decode(const char *token, size_t n, char *out, size_t out_cap);
long hemx_check_scan(const char *token, size_t n, char *out);
void hemx_sha256(const char *data, size_t n, char *out);
void hemx_hmac_sha256(const char *key, size_t key_len, const char *msg, size_t n, char *out);
int hemx_hs256_verify(const char *key, size_t key_len, const char *msg, size_t n,
                      const char *mac);
int hem_sha256_accelerated(void);
int hem_sha256_select(int force_portable);
size_t hem_json_work_size(size_t text_len);
#define HEM_JSON_OUTLINE_MEMBERS ...
int hemx_json_scan(const char *text, size_t n, char *work, size_t work_size, long long *out);
#define HEM_REPLY_E_MAC ...
long hemx_checked_sign(const char *key, const char *jti, const char *iss, const char *aud,
                       unsigned long long iat, const char *act, size_t act_len, const char *crt,
                       size_t crt_len, const char *newfws, const char *newuis,
                       const char *header, size_t header_len, char *out, size_t out_cap);
long hemx_check_answer(const char *key, const char *check_signed, size_t check_signed_len,
                       const char *check_mac, const char *jti, const char *iss, const char *aud,
                       unsigned long long iat, const char *act, size_t act_len, const char *crt,
                       size_t crt_len, const char *newfws, const char *newuis,
                       const char *header, size_t header_len, char *out, size_t out_cap);
""" + "".join(f"#define {name} ...\n" for name in SHAPE_VALUES)

SHIMS = """
#include "hemcodec.h"
#include "hemcheck.h"
#include "hemmac.h"
#include "hemjson.h"
#include "hemreply.h"
static ptrdiff_t hemx_b64url_encode(const char *in, size_t n, char *out, size_t cap)
{ return hem_b64url_encode((const unsigned char *)in, n, out, cap); }
static ptrdiff_t hemx_b64_encode(const char *in, size_t n, char *out, size_t cap)
{ return hem_b64_encode((const unsigned char *)in, n, out, cap); }
static ptrdiff_t hemx_b64url_decode(const char *in, size_t n, char *out, size_t cap, size_t *e)
{ return hem_b64url_decode(in, n, (unsigned char *)out, cap, e); }
static ptrdiff_t hemx_b64_decode(const char *in, size_t n, char *out, size_t cap, size_t *e)
{ return hem_b64_decode(in, n, (unsigned char *)out, cap, e); }
static int hemx_ct_equal(const char *a, const char *b, size_t n)
{ return hem_ct_equal(a, b, n); }
/* dot1 | dot2 << 21 | total << 42; -1 from 2**21 characters on (callers stay far below). */
static long long hemx_token_decode(const char *t, size_t n, char *out, size_t cap)
{
    hem_token_parts parts;
    ptrdiff_t total;
    if (n >= ((size_t)1 << 21))
        return -1;
    total = hem_token_decode(t, n, (unsigned char *)out, cap, &parts, NULL);
    if (total < 0)
        return -1;
    return (long long)parts.dot1 | (long long)parts.dot2 << 21 | (long long)total << 42;
}
/* header | has_uis << 1 | signed_len << 2; HEM_CHECK_OTHER (-1) for another shape. */
#define HEM_CHECK_HEADER_MASK 1
#define HEM_CHECK_HAS_UIS 2
#define HEM_CHECK_SIGNED_SHIFT 2
static long hemx_check_scan(const char *t, size_t n, char *out)
{
    hem_check_found found;
    if (hem_check_scan(t, n, (unsigned char *)out, &found) != 0)
        return HEM_CHECK_OTHER;
    return (long)found.header | (found.has_uis ? HEM_CHECK_HAS_UIS : 0) |
           (long)found.signed_len << HEM_CHECK_SIGNED_SHIFT;
}
static void hemx_sha256(const char *d, size_t n, char *out)
{ hem_sha256(d, n, (unsigned char *)out); }
static void hemx_hmac_sha256(const char *k, size_t kn, const char *m, size_t n, char *out)
{ hem_hmac_sha256(k, kn, m, n, (unsigned char *)out); }
static int hemx_hs256_verify(const char *k, size_t kn, const char *m, size_t n, const char *mac)
{ return hem_hs256_verify(k, kn, m, n, (const unsigned char *)mac); }
/* One array for the verdict and the outline: out[0] the verdict packed as kind | flags << 4 |
 * offset << 8 (offsets stay below 2**31), out[1] values, out[2] members, out[3] a syntax
 * error's context, out[4] its resume offset, then each member's name and value offsets
 * when all are located. Returns how many entries it wrote, or -1 when the work area is too
 * small or the text too long. */
static int hemx_json_scan(const char *t, size_t n, char *work, size_t size, long long *out)
{
    hem_json_verdict v;
    hem_json_outline o;
    size_t k, located;
    if (hem_json_scan_outline(t, n, work, size, &v, &o) != 0)
        return -1;
    out[0] = (long long)v.kind | (long long)v.flags << 4 | (long long)v.offset << 8;
    out[1] = (long long)o.values;
    out[2] = (long long)o.members;
    out[3] = (long long)v.context;
    out[4] = (long long)v.resume;
    located = o.members <= HEM_JSON_OUTLINE_MEMBERS ? o.members : 0;
    for (k = 0; k < located; k++) {
        out[5 + 2 * k] = (long long)o.name_at[k];
        out[6 + 2 * k] = (long long)o.value_at[k];
    }
    return (int)(5 + 2 * located);
}
static long hemx_checked_sign(const char *k, const char *jti, const char *iss, const char *aud,
                              unsigned long long iat, const char *act, size_t act_len,
                              const char *crt, size_t crt_len, const char *newfws,
                              const char *newuis, const char *h, size_t h_len, char *out,
                              size_t cap)
{
    return (long)hem_checked_sign((const unsigned char *)k, (const unsigned char *)jti,
                                  (const unsigned char *)iss, (const unsigned char *)aud, iat,
                                  act, act_len, (const unsigned char *)crt, crt_len,
                                  (const unsigned char *)newfws, (const unsigned char *)newuis,
                                  h, h_len, out, cap);
}
static long hemx_check_answer(const char *k, const char *cs, size_t cs_len, const char *cmac,
                              const char *jti, const char *iss, const char *aud,
                              unsigned long long iat, const char *act, size_t act_len,
                              const char *crt, size_t crt_len, const char *newfws,
                              const char *newuis, const char *h, size_t h_len, char *out,
                              size_t cap)
{
    return (long)hem_check_answer((const unsigned char *)k, cs, cs_len,
                                  (const unsigned char *)cmac, (const unsigned char *)jti,
                                  (const unsigned char *)iss, (const unsigned char *)aud, iat,
                                  act, act_len, (const unsigned char *)crt, crt_len,
                                  (const unsigned char *)newfws, (const unsigned char *)newuis,
                                  h, h_len, out, cap);
}
"""

ffi = FFI()
ffi.cdef(CDEF)
ffi.set_source(
    "hemproto._hemcodec",
    SHIMS,
    sources=[os.path.relpath(HERE / f"{name}.c") for name in LIBRARY],
    include_dirs=[os.path.relpath(HERE)],
    extra_compile_args=["-std=c99"] if os.name != "nt" else [],
    optional=not REQUIRE_C,
)

if __name__ == "__main__":
    ffi.compile(tmpdir=str(HERE / "build"), verbose=True)
