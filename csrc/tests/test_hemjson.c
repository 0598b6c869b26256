/*
 * Self-test for hemjson: hem_json_scan against the verdicts stated in hemjson.h.
 *
 * Table-driven cases name a text and the kind, offset and flags it must get: every kind,
 * the boundaries of the number rules (2**53 - 1, and the smallest magnitude that rounds to
 * an infinite double), the order of events, duplicate names spelled with and without
 * escapes, in small objects (compared pair by pair) and large ones (sorted). Properties
 * over generated texts: a proper prefix of a clean text is refused only for ending early;
 * the work area's contents and alignment never change a verdict; a repeat hidden among
 * many names is always the one reported.
 *
 * The outline: hem_json_scan_outline gives every text hem_json_scan's verdict (each scan
 * below runs both), counts and locates by hand-checked tables, and on generated clean texts
 * finds the values and top-level members the generator wrote.
 *
 * Every text is copied into an exactly sized heap block, so that a run under valgrind or
 * AddressSanitizer also catches any read past text_len.
 */
#include "hemjson.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

/* A mistake in this file, not in the library: stop at once. */
static void fatal(const char *what)
{
    fprintf(stderr, "test error: %s\n", what);
    exit(2);
}

/* The verdict and outline of text[0, len), scanned from an exact copy with a fresh work
 * area whose bytes are `fill` and whose start is `shift` bytes past an aligned block. Both
 * functions scan it: hem_json_scan_outline must give hem_json_scan's verdict, and with any
 * verdict but a clean one an outline of nothing. */
static hem_json_verdict outline_with(const char *text, size_t len, unsigned char fill,
                                     size_t shift, hem_json_outline *outline)
{
    hem_json_verdict v = {-1, 99u, 12345u, 99, 12345u}, plain = {-1, 99u, 12345u, 99, 12345u};
    size_t size = hem_json_work_size(len);
    char *copy = dup_exact(text, len);
    unsigned char *block = xmalloc(size + shift);
    int r;

    memset(block, fill, size + shift);
    memset(outline, fill, sizeof *outline);
    r = hem_json_scan_outline(len ? copy : NULL, len, block + shift, size, &v, outline);
    if (r != 0)
        fatal("hem_json_scan_outline refused a work area of hem_json_work_size bytes");
    memset(block, fill, size + shift);
    if (hem_json_scan(len ? copy : NULL, len, block + shift, size, &plain) != 0)
        fatal("hem_json_scan refused a work area of hem_json_work_size bytes");
    CHECKF(v.kind == plain.kind && v.flags == plain.flags && v.offset == plain.offset &&
               v.context == plain.context && v.resume == plain.resume,
           "the outline's verdict differs from the scan's on \"%.60s\"", text);
    CHECKF(v.kind == HEM_JSON_SYNTAX || (v.context == 0 && v.resume == 0),
           "a context with a verdict other than a syntax error, on \"%.60s\"", text);
    if (v.kind != HEM_JSON_CLEAN)
        CHECKF(outline->values == 0 && outline->members == 0,
               "an outline of %zu values and %zu members with a refusal, on \"%.60s\"",
               outline->values, outline->members, text);
    free(block);
    free(copy);
    return v;
}

static hem_json_verdict scan_with(const char *text, size_t len, unsigned char fill, size_t shift)
{
    hem_json_outline outline;
    return outline_with(text, len, fill, shift, &outline);
}

static hem_json_verdict scan_n(const char *text, size_t len)
{
    hem_json_verdict v = scan_with(text, len, 0x00u, 0);
    hem_json_verdict again = scan_with(text, len, 0xA5u, 3);

    CHECKF(v.kind == again.kind && v.flags == again.flags && v.offset == again.offset &&
               v.context == again.context && v.resume == again.resume,
           "work area contents or alignment changed the verdict on \"%.60s\"", text);
    return v;
}

static const char *const kind_names[] = {"CLEAN",   "UTF8",   "DEPTH",    "SYNTAX",
                                         "INTEGER", "NUMBER", "CONSTANT", "DUPLICATE"};

static const char *kind_name(int kind)
{
    return kind >= 0 && kind <= 7 ? kind_names[kind] : "?";
}

/* What stands for the innermost unfinished thing before resume, by context (hemjson.h). */
static const char *const resume_prefix[] = {"", "null", "[", "[null,", "[null", "{", "{\"\":null,",
                                            "{\"\":null"};

/* A syntax error's context must be one whose short text fails where the whole one does:
 * the prefix, then the text from resume, gets the same error at the same place (and the
 * same context, at the prefix's end). */
static void check_resume(const char *file, int line, const char *text, size_t len,
                         hem_json_verdict v)
{
    char *short_text;
    const char *prefix;
    size_t plen;
    hem_json_verdict again;

    if (v.kind != HEM_JSON_SYNTAX)
        return;
    if (v.context < HEM_JSON_IN_TOP || v.context > HEM_JSON_AFTER_MEMBER || v.resume > v.offset ||
        (v.context == HEM_JSON_IN_TOP && v.resume != 0)) {
        check_at(0, file, line, "context", "\"%.60s\": context %d, resume %zu, error at %zu",
                 text, v.context, v.resume, v.offset);
        return;
    }
    prefix = resume_prefix[v.context];
    plen = strlen(prefix);
    short_text = xmalloc(plen + len - v.resume);
    memcpy(short_text, prefix, plen);
    memcpy(short_text + plen, text + v.resume, len - v.resume);
    again = scan_with(short_text, plen + len - v.resume, 0, 0);
    check_at(again.kind == HEM_JSON_SYNTAX && again.offset == v.offset - v.resume + plen &&
                 again.context == v.context && again.resume == (v.resume ? plen : 0),
             file, line, "resume",
             "\"%.60s\" (context %d, resume %zu, error at %zu): the short text gets %s at %zu, "
             "context %d, resume %zu",
             text, v.context, v.resume, v.offset, kind_name(again.kind), again.offset,
             again.context, again.resume);
    free(short_text);
}

#define EXPECT(text, kind, offset, flags)                                                          \
    expect_at(__FILE__, __LINE__, text, strlen(text), kind, offset, flags)
#define EXPECT_N(text, len, kind, offset, flags)                                                   \
    expect_at(__FILE__, __LINE__, text, len, kind, offset, flags)

static void expect_at(const char *file, int line, const char *text, size_t len, int kind,
                      size_t offset, unsigned flags)
{
    hem_json_verdict v = scan_n(text, len);

    check_at(v.kind == kind && v.offset == offset && v.flags == flags, file, line,
             "verdict", "\"%.70s\": got %s at %zu flags %u, expected %s at %zu flags %u", text,
             kind_name(v.kind), v.offset, v.flags, kind_name(kind), offset, flags);
    check_resume(file, line, text, len, v);
}

/* ---- the cases ------------------------------------------------------------------------------ */

static void test_clean(void)
{
    EXPECT("{}", HEM_JSON_CLEAN, 0, 0);
    EXPECT(" \t\r\n[]\n", HEM_JSON_CLEAN, 4, 0);
    EXPECT("{\"a\":[1,-2.5e-3,true,false,null,\"x\",{}],\"b\":{\"a\":0}}", HEM_JSON_CLEAN, 0, 0);
    EXPECT("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\"", HEM_JSON_CLEAN, 0, 0);
    EXPECT("  -0", HEM_JSON_CLEAN, 2, 0);
    EXPECT("0.0e-99999999999999999999999", HEM_JSON_CLEAN, 0, 0);
    EXPECT("\"\x7f\xc3\xa9\xf0\x9f\x98\x80\"", HEM_JSON_CLEAN, 0, 0); /* DEL, e-acute, emoji */
    /* Sixteen deep is the cap, not over it. */
    EXPECT("[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]", HEM_JSON_CLEAN, 0, 0);
    EXPECT("{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":[[[[[[[[]]]]]]]]}}}}}}}}",
           HEM_JSON_CLEAN, 0, 0);
}

static void test_utf8(void)
{
    EXPECT("\"\xff\"", HEM_JSON_UTF8, 1, 0);
    EXPECT("[\"ok\", \"\xc0\x80\"]", HEM_JSON_UTF8, 8, 0);  /* overlong NUL */
    EXPECT("\"\xe0\x80\xaf\"", HEM_JSON_UTF8, 1, 0);      /* overlong '/' */
    EXPECT("\"\xed\xa0\x80\"", HEM_JSON_UTF8, 1, 0);      /* a surrogate */
    EXPECT("\"\xf4\x90\x80\x80\"", HEM_JSON_UTF8, 1, 0);  /* above U+10FFFF */
    EXPECT("\"ab\xe2\x82", HEM_JSON_UTF8, 3, 0);          /* cut short */
    EXPECT("\"ab\xe2\x28\xa1\"", HEM_JSON_UTF8, 3, 0);    /* bad continuation */
    EXPECT("\x80", HEM_JSON_UTF8, 0, 0);
    /* UTF-8 is checked over the whole text, before the depth and anything else. */
    EXPECT("[[[[[[[[[[[[[[[[[[[[ \xff", HEM_JSON_UTF8, 21, 0);
    EXPECT("{\"a\":1,\"a\":2} \xf5", HEM_JSON_UTF8, 14, 0);
}

static void test_depth(void)
{
    EXPECT("[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]", HEM_JSON_DEPTH, 16, 0);
    EXPECT("{\"a\":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}", HEM_JSON_DEPTH, 20, 0);
    /* Brackets in strings do not count, escaped quotes do not end a string. */
    EXPECT("[\"[[[[[[[[[[[[[[[[[[[[\\\"[[[[\"]", HEM_JSON_CLEAN, 0, 0);
    /* The count runs over the whole text whatever its syntax... */
    EXPECT("x [[[[[[[[[[[[[[[[[", HEM_JSON_DEPTH, 18, 0);
    EXPECT("[1,] [[[[[[[[[[[[[[[[[", HEM_JSON_DEPTH, 21, 0);
    /* ...and whatever a parse would refuse first. */
    EXPECT("[99999999999999999999, [[[[[[[[[[[[[[[[[", HEM_JSON_DEPTH, 38, 0);
    EXPECT("{\"a\":1,\"a\":2,\"b\":[[[[[[[[[[[[[[[[[", HEM_JSON_DEPTH, 32, 0);
    /* Closing brackets lower the count, also below zero. */
    EXPECT("]]]][[[[[[[[[[[[[[[[[[[[", HEM_JSON_SYNTAX, 0, 0);
    EXPECT("]]]][[[[[[[[[[[[[[[[[[[[[", HEM_JSON_DEPTH, 24, 0);
    /* An unterminated string hides every bracket after it. */
    EXPECT("\"[[[[[[[[[[[[[[[[[[[[", HEM_JSON_SYNTAX, 21, 0);
    EXPECT("[\"\\\"[[[[[[[[[[[[[[[[[[[[", HEM_JSON_SYNTAX, 24, 0);
    /* A backslash at the very end takes nothing. */
    EXPECT("\"\\", HEM_JSON_SYNTAX, 2, 0);
}

static void test_syntax(void)
{
    EXPECT("", HEM_JSON_SYNTAX, 0, 0);
    EXPECT("   ", HEM_JSON_SYNTAX, 3, 0);
    EXPECT("\xef\xbb\xbf{}", HEM_JSON_SYNTAX, 0, 0); /* a byte order mark */
    EXPECT("[1,]", HEM_JSON_SYNTAX, 3, 0);
    EXPECT("{\"a\":1,}", HEM_JSON_SYNTAX, 7, 0);
    EXPECT("{\"a\" 1}", HEM_JSON_SYNTAX, 5, 0);
    EXPECT("{1:1}", HEM_JSON_SYNTAX, 1, 0);
    EXPECT("[1 2]", HEM_JSON_SYNTAX, 3, 0);
    EXPECT("[1}", HEM_JSON_SYNTAX, 2, 0);
    EXPECT("{\"a\":1]", HEM_JSON_SYNTAX, 6, 0);
    EXPECT("{} x", HEM_JSON_SYNTAX, 3, 0);
    EXPECT("{}{}", HEM_JSON_SYNTAX, 2, 0);
    EXPECT("[tru]", HEM_JSON_SYNTAX, 4, 0);
    EXPECT("[nul", HEM_JSON_SYNTAX, 4, 0);
    EXPECT("[Na]", HEM_JSON_SYNTAX, 1, 0);
    EXPECT("[Infinit]", HEM_JSON_SYNTAX, 1, 0);
    EXPECT("[-Inf]", HEM_JSON_SYNTAX, 2, 0);
    EXPECT("[-]", HEM_JSON_SYNTAX, 2, 0);
    EXPECT("-", HEM_JSON_SYNTAX, 1, 0);
    EXPECT("[+1]", HEM_JSON_SYNTAX, 1, 0);
    EXPECT("[.5]", HEM_JSON_SYNTAX, 1, 0);
    EXPECT("01", HEM_JSON_SYNTAX, 1, 0);
    EXPECT("-01", HEM_JSON_SYNTAX, 2, 0);
    EXPECT("[1.]", HEM_JSON_SYNTAX, 3, 0);
    EXPECT("1.e5", HEM_JSON_SYNTAX, 2, 0);
    EXPECT("1e", HEM_JSON_SYNTAX, 2, 0);
    EXPECT("1e+", HEM_JSON_SYNTAX, 3, 0);
    EXPECT("[1ex]", HEM_JSON_SYNTAX, 3, 0);
    EXPECT("[1.5E-x]", HEM_JSON_SYNTAX, 6, 0);
    EXPECT("\"abc", HEM_JSON_SYNTAX, 4, 0);
    EXPECT("\"a\tb\"", HEM_JSON_SYNTAX, 2, 0);
    EXPECT_N("\"a\0b\"", 5, HEM_JSON_SYNTAX, 2, 0);
    EXPECT("\"\\x\"", HEM_JSON_SYNTAX, 2, 0);
    EXPECT("\"\\u12G4\"", HEM_JSON_SYNTAX, 5, 0);
    EXPECT("\"\\u12", HEM_JSON_SYNTAX, 5, 0);
    EXPECT("\"\\ud800\\uZZZZ\"", HEM_JSON_SYNTAX, 9, 0);
    EXPECT("[1,2", HEM_JSON_SYNTAX, 4, 0);
    EXPECT("{\"a\":", HEM_JSON_SYNTAX, 5, 0);
    EXPECT("{\"a\"", HEM_JSON_SYNTAX, 4, 0);
    EXPECT("{", HEM_JSON_SYNTAX, 1, 0);
}

#define CONTEXT(text, offset, context, resume)                                                     \
    expect_context(__LINE__, text, offset, context, resume)

static void expect_context(int line, const char *text, size_t offset, int context, size_t resume)
{
    hem_json_verdict v = scan_n(text, strlen(text));

    check_at(v.kind == HEM_JSON_SYNTAX && v.offset == offset && v.context == context &&
                 v.resume == resume,
             __FILE__, line, "context",
             "\"%.60s\": %s at %zu, context %d, resume %zu; expected a syntax error at %zu, "
             "context %d, resume %zu",
             text, kind_name(v.kind), v.offset, v.context, v.resume, offset, context, resume);
    check_resume(__FILE__, line, text, strlen(text), v);
}

static void test_contexts(void)
{
    CONTEXT("", 0, HEM_JSON_IN_TOP, 0);
    CONTEXT("  tru", 5, HEM_JSON_IN_TOP, 0);
    CONTEXT("\"abc", 4, HEM_JSON_IN_TOP, 0);
    CONTEXT("-x", 1, HEM_JSON_IN_TOP, 0);
    CONTEXT("[] x", 3, HEM_JSON_AFTER_TOP, 2);
    CONTEXT("01", 1, HEM_JSON_AFTER_TOP, 1);
    CONTEXT("1.e5", 2, HEM_JSON_IN_TOP, 0);
    CONTEXT(" [ ", 3, HEM_JSON_FIRST_ITEM, 2);
    CONTEXT("[,1]", 1, HEM_JSON_FIRST_ITEM, 1);
    CONTEXT("[1,]", 3, HEM_JSON_NEXT_ITEM, 3);
    CONTEXT("[1,  nul]", 8, HEM_JSON_NEXT_ITEM, 3);
    CONTEXT("[1 2]", 3, HEM_JSON_AFTER_ITEM, 2);
    CONTEXT("[1.5e]", 5, HEM_JSON_FIRST_ITEM, 1);
    CONTEXT("{\"a\":0,\"b\": 1.}", 14, HEM_JSON_NEXT_MEMBER, 7);
    CONTEXT("[[1,2],[3,x]]", 10, HEM_JSON_NEXT_ITEM, 10);
    CONTEXT("[[1,2] 3]", 7, HEM_JSON_AFTER_ITEM, 6);
    CONTEXT("{ \"a\" 1}", 6, HEM_JSON_FIRST_MEMBER, 1);
    CONTEXT("{\"a\":1,}", 7, HEM_JSON_NEXT_MEMBER, 7);
    CONTEXT("{\"a\":1 x}", 7, HEM_JSON_AFTER_MEMBER, 6);
    CONTEXT("{\"a\":[1,2],\"b\":tru}", 18, HEM_JSON_NEXT_MEMBER, 11);
    CONTEXT("{\"a\":{\"b\":\"c\\x\"}}", 13, HEM_JSON_FIRST_MEMBER, 6);
    CONTEXT("{\"a\":{}]", 7, HEM_JSON_AFTER_MEMBER, 7);
    CONTEXT("[{\"a\":1}, {\"b\":2}, 3", 20, HEM_JSON_AFTER_ITEM, 20);
}

static void test_numbers(void)
{
    EXPECT("[9007199254740991,-9007199254740991]", HEM_JSON_CLEAN, 0, 0);
    EXPECT("[9007199254740992]", HEM_JSON_INTEGER, 1, 0);
    EXPECT("[1, -9007199254740992]", HEM_JSON_INTEGER, 4, 0);
    EXPECT("[12345678901234567]", HEM_JSON_INTEGER, 1, 0);
    EXPECT("[1000000000000000]", HEM_JSON_CLEAN, 0, 0); /* 16 digits, in range */
    EXPECT("9999999999999999999999999999999999999999", HEM_JSON_INTEGER, 0, 0);
    /* An integer is read whole before whatever follows it is looked at. */
    EXPECT("[12345678901234567.]", HEM_JSON_INTEGER, 1, 0);
    EXPECT("[12345678901234567x", HEM_JSON_INTEGER, 1, 0);
    EXPECT("12345678901234567", HEM_JSON_INTEGER, 0, 0);
    /* A fraction or exponent makes a double: no integer rule. */
    EXPECT("[12345678901234567.0, 1e30]", HEM_JSON_CLEAN, 0, 0);

    /* DBL_MAX is 1.7976931348623157e308; 2**1024 - 2**970 starts 1.797693134862315807937. */
    EXPECT("[1.7976931348623157e308]", HEM_JSON_CLEAN, 0, 0);
    EXPECT("[1.7976931348623158e308]", HEM_JSON_CLEAN, 0, 0);
    EXPECT("[1.797693134862315807937e308]", HEM_JSON_CLEAN, 0, 0);
    EXPECT("[1.797693134862315807938e308]", HEM_JSON_NUMBER, 1, 0);
    EXPECT("[1.7976931348623158079372897e308]", HEM_JSON_CLEAN, 0, 0);
    EXPECT("[1.7976931348623158079372898e308]", HEM_JSON_NUMBER, 1, 0);
    EXPECT("[0.17976931348623158079372897e309]", HEM_JSON_CLEAN, 0, 0);
    EXPECT("[-1.797693134862315807937290e308]", HEM_JSON_NUMBER, 1, 0);
    EXPECT("[1.7976931348623159e308]", HEM_JSON_NUMBER, 1, 0);
    EXPECT("[-1.7976931348623159e308]", HEM_JSON_NUMBER, 1, 0);
    EXPECT("[1e308, 1e309]", HEM_JSON_NUMBER, 8, 0);
    EXPECT("[1E+309]", HEM_JSON_NUMBER, 1, 0);
    EXPECT("[1e400]", HEM_JSON_NUMBER, 1, 0);
    EXPECT("[1e99999999999999999999999999]", HEM_JSON_NUMBER, 1, 0);
    EXPECT("[1e-99999999999999999999999999]", HEM_JSON_CLEAN, 0, 0);
    EXPECT("[1000e305, 10000e305]", HEM_JSON_NUMBER, 11, 0);
    EXPECT("[0.000001e314, 0.000001e315]", HEM_JSON_NUMBER, 15, 0);
    EXPECT("[0e999999, 0.000e400, -0.0E+1000]", HEM_JSON_CLEAN, 0, 0);
    EXPECT("[0.1e310]", HEM_JSON_NUMBER, 1, 0);
    EXPECT("[0.01e310]", HEM_JSON_CLEAN, 0, 0);
    EXPECT("1.5e309", HEM_JSON_NUMBER, 0, 0);
    /* Longer than HEM_JSON_MAX_FLOAT_LEN (32 bytes, sign included): refused whatever its
     * value, but an integer (no fraction, no exponent) is not a double. */
    EXPECT("[-0.00000000000000000000000000001]", HEM_JSON_CLEAN, 0, 0);
    EXPECT("[-0.000000000000000000000000000001]", HEM_JSON_NUMBER, 1, 0);
    EXPECT("[1.2345678901234567890123456789e-5]", HEM_JSON_NUMBER, 1, 0);
    EXPECT("[1.234567890123456789012345678e-5, 1]", HEM_JSON_CLEAN, 0, 0);
    EXPECT("[1e-00000000000000000000000000000005]", HEM_JSON_NUMBER, 1, 0);
    EXPECT("[1, 0.5, 0.00000000000000000000000000000000005x", HEM_JSON_NUMBER, 9, 0);
    EXPECT("[1.000000000000000000000000000000000.]", HEM_JSON_NUMBER, 1, 0);
    EXPECT("[100000000000000000000000000000000000]", HEM_JSON_INTEGER, 1, 0);
    /* The exact threshold, written out in full (309 digits, then ".0"), and one below:
     * both far over the length. */
    {
        static const char threshold[] =
            "179769313486231580793728971405303415079934132710037826936173778980444968"
            "292764750946649017977587207096330286416692887910946555547851940402630657"
            "488671505820681908902000708383676273854845817711531764475730270069855571"
            "366959622842914819860834936475292719074168444365510704342711559699508093"
            "042880177904174497792";
        char text[400];
        size_t n = strlen(threshold);
        memcpy(text, threshold, n);
        memcpy(text + n, ".0", 3);
        EXPECT(text, HEM_JSON_NUMBER, 0, 0);
        text[n - 1] = '1';
        EXPECT(text, HEM_JSON_NUMBER, 0, 0);
        /* As an integer it is refused by the integer rule instead. */
        text[n] = '\0';
        EXPECT(text, HEM_JSON_INTEGER, 0, 0);
    }
}

static void test_constants(void)
{
    EXPECT("NaN", HEM_JSON_CONSTANT, 0, 0);
    EXPECT("[1, Infinity]", HEM_JSON_CONSTANT, 4, 0);
    EXPECT("{\"a\": -Infinity}", HEM_JSON_CONSTANT, 6, 0);
    /* Read whole, like a number, before what follows. */
    EXPECT("[NaNx", HEM_JSON_CONSTANT, 1, 0);
    /* Only where a value starts. */
    EXPECT("{NaN:1}", HEM_JSON_SYNTAX, 1, 0);
    EXPECT("[1 NaN]", HEM_JSON_SYNTAX, 3, 0);
    EXPECT("[\"NaN\", \"Infinity\"]", HEM_JSON_CLEAN, 0, 0);
}

static void test_duplicates(void)
{
    EXPECT("{\"a\":1,\"a\":2}", HEM_JSON_DUPLICATE, 7, 0);
    EXPECT("{\"a\":1,\"b\":2,\"\\u0061\":3}", HEM_JSON_DUPLICATE, 13, 0);
    EXPECT("{\"\\n\":1,\"\\u000a\":2}", HEM_JSON_DUPLICATE, 8, 0);
    EXPECT("{\"\\/\":1,\"/\":2}", HEM_JSON_DUPLICATE, 8, 0);
    /* A pair of escapes is one code point, the same as its UTF-8. */
    EXPECT("{\"\xf0\x9f\x98\x80\":1,\"\\ud83d\\ude00\":2}", HEM_JSON_DUPLICATE, 10, 0);
    /* Lone surrogates compare as themselves (and are flagged). */
    EXPECT("{\"\\ud800\":1,\"\\ud800\":2}", HEM_JSON_DUPLICATE, 12, 0);
    EXPECT("{\"\\ud800\":1,\"\\udc00\":2}", HEM_JSON_CLEAN, 0, HEM_JSON_ESCAPED_FORBIDDEN);
    /* Names differing only in a trailing NUL, or in case, differ. */
    EXPECT("{\"a\":1,\"a\\u0000\":2,\"A\":3}", HEM_JSON_CLEAN, 0, 0);
    /* Objects are separate; the first to close with a repeat is the event. */
    EXPECT("{\"a\":{\"a\":1},\"b\":{\"a\":1}}", HEM_JSON_CLEAN, 0, 0);
    EXPECT("{\"x\":{\"b\":1,\"b\":2},\"x\":1}", HEM_JSON_DUPLICATE, 12, 0);
    EXPECT("[{\"b\":1,\"b\":2,], {\"c\":1,\"c\":2}]", HEM_JSON_SYNTAX, 14, 0);
    /* The repeat reported is the first met in member order: y (third), not x (fourth). */
    EXPECT("{\"x\":1,\"y\":1,\"y\":1,\"x\":1}", HEM_JSON_DUPLICATE, 13, 0);
    /* An object that never closes has no duplicate event; a number before it does. */
    EXPECT("{\"a\":1,\"a\":2", HEM_JSON_SYNTAX, 12, 0);
    EXPECT("{\"a\":1,\"a\":2,\"b\":1e999}", HEM_JSON_NUMBER, 17, 0);
    EXPECT("[{\"a\":1,\"a\":2},1e999]", HEM_JSON_DUPLICATE, 8, 0);
    /* Long names, equal past their first 8 bytes or not. */
    EXPECT("{\"abcdefghij\":1,\"abcdefghik\":2,\"abcdefghij\":3}", HEM_JSON_DUPLICATE, 31, 0);
    EXPECT("{\"abcdefgh\":1,\"abcdefghi\":2,\"abcdefg\":3}", HEM_JSON_CLEAN, 0, 0);
}

static void test_code_points(void)
{
    EXPECT("\"\xef\xb7\x90\"", HEM_JSON_CLEAN, 0, HEM_JSON_RAW_NONCHARACTER);     /* U+FDD0 */
    EXPECT("\"\xef\xbf\xbe\"", HEM_JSON_CLEAN, 0, HEM_JSON_RAW_NONCHARACTER);     /* U+FFFE */
    EXPECT("\"\xf4\x8f\xbf\xbf\"", HEM_JSON_CLEAN, 0, HEM_JSON_RAW_NONCHARACTER); /* U+10FFFF */
    EXPECT("\"\xef\xb7\xb0\"", HEM_JSON_CLEAN, 0, 0);                             /* U+FDF0 */
    EXPECT("[\"\\ud800\"]", HEM_JSON_CLEAN, 0, HEM_JSON_ESCAPED_FORBIDDEN);
    EXPECT("[\"\\udc00\\ud800\"]", HEM_JSON_CLEAN, 0, HEM_JSON_ESCAPED_FORBIDDEN);
    EXPECT("[\"\\ufdd0\"]", HEM_JSON_CLEAN, 0, HEM_JSON_ESCAPED_FORBIDDEN);
    EXPECT("[\"\\uFFFF\"]", HEM_JSON_CLEAN, 0, HEM_JSON_ESCAPED_FORBIDDEN);
    EXPECT("[\"\\ud83f\\udffe\"]", HEM_JSON_CLEAN, 0, HEM_JSON_ESCAPED_FORBIDDEN); /* U+1FFFE */
    EXPECT("[\"\\ud83d\\ude00\", \"\\ufdef\\u0041\"]", HEM_JSON_CLEAN, 0,
           HEM_JSON_ESCAPED_FORBIDDEN);
    EXPECT("[\"\\ud83d\\ude00\", \"\\ufdf0\"]", HEM_JSON_CLEAN, 0, 0);
    /* A high surrogate then a plain character, or the end of the string: lone. */
    EXPECT("[\"\\ud83dx\"]", HEM_JSON_CLEAN, 0, HEM_JSON_ESCAPED_FORBIDDEN);
    EXPECT("{\"\\ud83d\": 1, \"a\": \"\xef\xbf\xbf\"}", HEM_JSON_CLEAN, 0,
           HEM_JSON_RAW_NONCHARACTER | HEM_JSON_ESCAPED_FORBIDDEN);
    /* Flags go only with a clean verdict. */
    EXPECT("[\"\\ud800\", 1e999]", HEM_JSON_NUMBER, 11, 0);
}

static void test_work_area(void)
{
    hem_json_verdict v = {-1, 0, 0, 0, 0};
    static const char text[] = "{\"a\":1}";
    size_t size = hem_json_work_size(sizeof text - 1);
    unsigned char *work = xmalloc(size);

    CHECK(hem_json_scan(text, sizeof text - 1, work, size - 1, &v) == -1 && v.kind == -1);
    CHECK(hem_json_scan(text, sizeof text - 1, work, size, &v) == 0 && v.kind == HEM_JSON_CLEAN);
    CHECK(hem_json_work_size((size_t)HEM_JSON_MAX_LEN + 1u) == (size_t)-1);
    v.kind = -1;
    CHECK(hem_json_scan(text, (size_t)HEM_JSON_MAX_LEN + 1u, work, size, &v) == -1 &&
          v.kind == -1);
    CHECK(hem_json_scan(NULL, 0, work, size, &v) == 0 && v.kind == HEM_JSON_SYNTAX &&
          v.offset == 0);
    free(work);
}

/* ---- the outline ---------------------------------------------------------------------------- */

#define OUTLINE(text, values, members, ...)                                                        \
    do {                                                                                           \
        static const size_t located_[] = {__VA_ARGS__};                                            \
        expect_outline(__LINE__, text, values, members, located_,                                  \
                       sizeof located_ / sizeof *located_ - 1);                                    \
    } while (0)

/* `located` holds name_at, value_at of each member in turn, then a spare 0 (so that a
 * table may be empty). */
static void expect_outline(int line, const char *text, size_t values, size_t members,
                           const size_t *located, size_t located_len)
{
    hem_json_outline o;
    hem_json_verdict v = outline_with(text, strlen(text), 0x5Au, 1, &o);
    size_t k;

    check_at(v.kind == HEM_JSON_CLEAN && o.values == values && o.members == members, __FILE__,
             line, "outline", "\"%.60s\": %s, %zu values, %zu members; expected %zu, %zu",
             text, kind_name(v.kind), o.values, o.members, values, members);
    if (located_len != 2 * (members < HEM_JSON_OUTLINE_MEMBERS ? members : 0))
        fatal("an outline table locates the wrong number of members");
    for (k = 0; k < members && k < HEM_JSON_OUTLINE_MEMBERS; k++)
        check_at(o.name_at[k] == located[2 * k] && o.value_at[k] == located[2 * k + 1], __FILE__,
                 line, "located", "\"%.60s\" member %zu: name at %zu, value at %zu", text, k,
                 o.name_at[k], o.value_at[k]);
}

static void test_outline(void)
{
    hem_json_outline o, before;
    hem_json_verdict v = {-1, 0, 0, 0, 0};
    static const char text[] = "{\"a\":1}";
    size_t size = hem_json_work_size(sizeof text - 1), k;
    unsigned char *work = xmalloc(size);
    char many[2048];
    int used = 0;
    static const char *const refused[] = {
        "{\"a\":1,\"b\":[1,2,3],}",
        "{\"a\":1,\"a\":2}",
        "{\"a\":1} \xff",
        "{\"a\":[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]}",
        "{\"a\":[1,2,1e999]}",
    };

    /* Values at every depth, names not counted; members of the top-level object only. */
    OUTLINE("{}", 1, 0, 0);
    OUTLINE("[]", 1, 0, 0);
    OUTLINE(" 0 ", 1, 0, 0);
    OUTLINE("\"{\\\"a\\\":1}\"", 1, 0, 0);
    OUTLINE("[1,[2,{}],{\"a\":null}]", 7, 0, 0);
    OUTLINE("{\"a\":[1,2]}", 4, 1, 1, 5, 0);
    OUTLINE(" { \"a\" : 1 , \"b\":{\"c\":2,\"d\":[]} } ", 5, 2, 3, 9, 13, 17, 0);
    OUTLINE("{\"\\u0061\":true,\"b\\\"\":\"x\"}", 3, 2, 1, 10, 15, 21, 0);
    OUTLINE("{\"check\":\"a.b.c\"}", 2, 1, 1, 9, 0);
    OUTLINE("{\"\xc3\xa9\":false,\"x\":{\"y\":{\"z\":1}}}", 5, 2, 1, 6, 12, 16, 0);
    /* Past the members it locates, it still counts. */
    used += snprintf(many + used, sizeof many - (size_t)used, "{");
    for (k = 0; k < 100; k++)
        used += snprintf(many + used, sizeof many - (size_t)used, "%s\"m%03zu\":%zu",
                         k ? "," : "", k, k);
    snprintf(many + used, sizeof many - (size_t)used, "}");
    v = outline_with(many, strlen(many), 0, 0, &o);
    CHECK(v.kind == HEM_JSON_CLEAN && o.values == 101 && o.members == 100);
    for (k = 0; k < HEM_JSON_OUTLINE_MEMBERS; k++)
        CHECKF(o.name_at[k] == 1 + 9 * k + (k > 10 ? k - 10 : 0) && many[o.name_at[k]] == '"' &&
                   o.value_at[k] == o.name_at[k] + 7,
               "member %zu of 100: name at %zu, value at %zu", k, o.name_at[k], o.value_at[k]);
    /* A refused text has an outline of nothing, whatever it held before its refusal. */
    for (k = 0; k < sizeof refused / sizeof *refused; k++)
        (void)outline_with(refused[k], strlen(refused[k]), 0, 0, &o);
    /* -1 leaves both as they were. */
    memset(&o, 0xA5, sizeof o);
    before = o;
    v.kind = -1;
    CHECK(hem_json_scan_outline(text, sizeof text - 1, work, size - 1, &v, &o) == -1 &&
          v.kind == -1 && memcmp(&o, &before, sizeof o) == 0);
    CHECK(hem_json_scan_outline(text, sizeof text - 1, work, size, &v, &o) == 0 &&
          v.kind == HEM_JSON_CLEAN && o.values == 2 && o.members == 1 && o.name_at[0] == 1 &&
          o.value_at[0] == 5);
    free(work);
}

/* ---- generated texts ------------------------------------------------------------------------ */

#define GEN_CAP 4096

typedef struct {
    char s[GEN_CAP];
    size_t n;
    /* What gen_value wrote, as an outline would say it. */
    size_t values, members, name_at[HEM_JSON_OUTLINE_MEMBERS], value_at[HEM_JSON_OUTLINE_MEMBERS];
} gen_text;

static void put(gen_text *t, const char *p)
{
    size_t k = strlen(p);
    if (k > GEN_CAP - 1 - t->n)
        fatal("generated text too long");
    memcpy(t->s + t->n, p, k);
    t->n += k;
    t->s[t->n] = '\0';
}

static unsigned next(unsigned bound)
{
    return xorshift_byte(&rng_state) % bound;
}

static const char *const scalars[] = {
    "0", "-1", "2.5", "1e308", "-0.0e-5", "9007199254740991", "true", "false", "null", "\"\"",
    "\"a\\u00e9\\ud83d\\ude00\"", "\"\xc3\xa9\"", "\"[{\"",
};
static const char *const member_names[] = {"a", "b", "\\u0061b", "ab", "\xc3\xa9", "\\u00e9",
                                           "abcdefghi", "abcdefghj", "", "\\/"};

/* A clean JSON value: no repeated name (each object takes each name at most once, after
 * decoding: "ab" and "\u0061b", "\xc3\xa9" and "\u00e9" are not used together). */
static void gen_value(gen_text *t, int depth)
{
    unsigned k = next(8);
    t->values++;
    if (depth >= 6 || k < 4) {
        put(t, scalars[next(sizeof scalars / sizeof *scalars)]);
    } else if (k < 6) {
        unsigned i, count = next(4);
        put(t, "[");
        for (i = 0; i < count; i++) {
            if (i)
                put(t, ",");
            gen_value(t, depth + 1);
        }
        put(t, "]");
    } else {
        /* Names 0, 1, 3 or 2, 4 or 5, then 6..9: never two spellings of one name. */
        static const unsigned pick[2][8] = {{0, 1, 3, 4, 6, 7, 8, 9}, {0, 1, 2, 5, 6, 7, 8, 9}};
        unsigned i, count = next(5), set = next(2);
        put(t, "{");
        for (i = 0; i < count; i++) {
            if (i)
                put(t, ", ");
            if (depth == 0)
                t->name_at[t->members] = t->n;
            put(t, "\"");
            put(t, member_names[pick[set][i]]);
            put(t, "\":");
            if (depth == 0)
                t->value_at[t->members++] = t->n;
            gen_value(t, depth + 1);
        }
        put(t, "}");
    }
}

/* Every proper prefix of a clean text is refused only for ending early (inside a UTF-8
 * sequence: for that), or is itself clean (a number cut short is still a number). */
static void test_prefixes(void)
{
    int round;
    for (round = 0; round < 300; round++) {
        gen_text t;
        size_t k;
        hem_json_verdict v;
        hem_json_outline o;
        t.n = 0;
        t.s[0] = '\0';
        t.values = t.members = 0;
        gen_value(&t, 0);
        v = scan_n(t.s, t.n);
        CHECKF(v.kind == HEM_JSON_CLEAN, "generated text \"%.80s\" is %s", t.s, kind_name(v.kind));
        (void)outline_with(t.s, t.n, 0, 0, &o);
        CHECKF(o.values == t.values && o.members == t.members,
               "generated text \"%.80s\": %zu values, %zu members; written %zu, %zu", t.s,
               o.values, o.members, t.values, t.members);
        for (k = 0; k < t.members; k++)
            CHECKF(o.name_at[k] == t.name_at[k] && o.value_at[k] == t.value_at[k],
                   "generated text \"%.80s\" member %zu located at %zu, %zu", t.s, k,
                   o.name_at[k], o.value_at[k]);
        for (k = 0; k < t.n; k++) {
            size_t start = k;
            while (start > 0 && ((unsigned char)t.s[start] & 0xC0u) == 0x80u)
                start--;
            v = scan_with(t.s, k, 0, 0);
            check_resume(__FILE__, __LINE__, t.s, k, v);
            if (start < k)
                CHECKF(v.kind == HEM_JSON_UTF8 && v.offset == start,
                       "prefix %zu of \"%.80s\": %s at %zu", k, t.s, kind_name(v.kind), v.offset);
            else
                CHECKF((v.kind == HEM_JSON_SYNTAX && v.offset == k) || v.kind == HEM_JSON_CLEAN,
                       "prefix %zu of \"%.80s\": %s at %zu", k, t.s, kind_name(v.kind), v.offset);
        }
    }
}

/* One repeat hidden among many distinct names (the sorted path), at every distance, then
 * later repeats: the scan must report exactly the hidden one, the first met in order. */
static void test_many_names(void)
{
    int round;
    for (round = 0; round < 300; round++) {
        gen_text t;
        unsigned count = 9 + next(120), first = next(count), second, i, spell = next(3);
        size_t expected = 0;
        hem_json_verdict v;
        char name[40];

        /* Members 0..count, all named by their number except `second`, which repeats
         * `first`: with the same spelling, with its first letter escaped, or as long
         * names that share their first ten bytes. */
        second = first + 1 + next(count - first);
        t.n = 0;
        put(&t, "{");
        for (i = 0; i <= count; i++) {
            unsigned id = i == second ? first : i;
            if (i)
                put(&t, ",");
            if (i == second)
                expected = t.n;
            if (spell == 0)
                snprintf(name, sizeof name, "\"n%u\":0", id);
            else if (spell == 1)
                snprintf(name, sizeof name, i == second ? "\"\\u006e%u\":0" : "\"n%u\":0", id);
            else
                snprintf(name, sizeof name, "\"prefix-of-%u-name\":[]", id);
            put(&t, name);
        }
        put(&t, ",\"n0\":1,\"prefix-of-0-name\":2,\"n0\":1,\"prefix-of-0-name\":2}");
        v = scan_n(t.s, t.n);
        CHECKF(v.kind == HEM_JSON_DUPLICATE && v.offset == expected,
               "round %d (%u names, %u repeated at %u, spelling %u): %s at %zu, expected %zu",
               round, count + 1, first, second, spell, kind_name(v.kind), v.offset, expected);
    }
}

int main(void)
{
    test_clean();
    test_utf8();
    test_depth();
    test_syntax();
    test_numbers();
    test_constants();
    test_duplicates();
    test_code_points();
    test_work_area();
    test_contexts();
    test_outline();
    test_prefixes();
    test_many_names();

    printf("%lu passed, %lu failed\n", n_passed, n_failed);
    return n_failed ? 1 : 0;
}
