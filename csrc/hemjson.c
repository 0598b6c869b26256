/*
 * hemjson: the verdict of hemjson.h in at most three linear passes: UTF-8, then a parse that
 * stops at the first event, then (only when the parse stopped early) the bracket count over
 * the whole text, which must win over anything the parse found. Member names are kept on a
 * stack in the work area while their object is open, and compared when it closes. The parse
 * also counts values and notes where the top-level members are, for the outline.
 */
#include "hemjson.h"

#include <stdint.h>
#include <string.h>

/* One member name of an open object. Its canonical bytes are its code points as UTF-8 (a
 * lone surrogate as its three-byte form): the raw text when it has no escape, else a
 * decoded copy in the work area. Equal names have equal canonical bytes, and only they. */
typedef struct {
    uint64_t key;   /* the first 8 canonical bytes, big-endian, zero-padded: a fast order */
    uint32_t quote; /* offset of the opening quote in the text */
    uint32_t len;   /* canonical length */
    uint32_t at;    /* offset of the canonical bytes: in the text, or | IN_COPY in the copies */
    uint32_t spare;
} name_rec;

#define IN_COPY 0x80000000u
/* Objects with up to this many members are compared pair by pair, in member order. */
#define FEW_MEMBERS 8u

typedef struct {
    const unsigned char *t;
    size_t n;
    name_rec *names;  /* the names of every open object, innermost last */
    name_rec *spare;  /* as many again, for sorting */
    size_t names_cap, names_top;
    unsigned char *copies; /* decoded names with escapes, innermost last; n bytes */
    size_t copies_top;
    unsigned flags;
    size_t values;             /* values begun so far */
    hem_json_outline *outline; /* where the top-level members go, or NULL */
    int context;               /* where the parse is, for a syntax error (HEM_JSON_IN_*) */
    size_t resume;
} scanner;

/* The result of a parse step that did not simply go on. */
typedef struct {
    int kind;
    size_t offset;
} event;

/* 2**1024 - 2**970, halfway between DBL_MAX and 2**1024: round-half-even takes it and every
 * larger magnitude to infinity, and every smaller one to a finite double. */
static const char overflow_digits[] =
    "179769313486231580793728971405303415079934132710037826936173778980444968"
    "292764750946649017977587207096330286416692887910946555547851940402630657"
    "488671505820681908902000708383676273854845817711531764475730270069855571"
    "366959622842914819860834936475292719074168444365510704342711559699508093"
    "042880177904174497792";
#define OVERFLOW_EXPONENT 309 /* the value is 0.<overflow_digits> * 10**309 */

static const char max_safe_digits[] = "9007199254740991"; /* 2**53 - 1 */

/* Bytes that end a run of plain string content: '"', '\\' and the control characters. */
static const unsigned char string_stop[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
};

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

static uint64_t load8(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/* Non-zero when some byte of w is zero (exact: the borrow trick with the byte's own high
 * bit masked out). */
static uint64_t has_zero(uint64_t w)
{
    return (w - ONES) & ~w & HIGHS;
}

/* Skip plain string content from i: 8 bytes at a time while none is '"', '\\' or below
 * 0x20, then byte by byte. */
static size_t skip_plain(const unsigned char *t, size_t n, size_t i)
{
    while (n - i >= 8) {
        uint64_t w = load8(t + i);
        /* A byte below 0x20 has none of the bits 0x20, 0x40, 0x80 set. */
        uint64_t low = has_zero(w & (ONES * 0xE0u));
        if (has_zero(w ^ (ONES * '"')) | has_zero(w ^ (ONES * '\\')) | low)
            break;
        i += 8;
    }
    while (i < n && !string_stop[t[i]])
        i++;
    return i;
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static size_t skip_space(const unsigned char *t, size_t n, size_t i)
{
    while (i < n && is_space(t[i]))
        i++;
    return i;
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int forbidden(uint32_t cp)
{
    return (cp >= 0xD800u && cp <= 0xDFFFu) || (cp >= 0xFDD0u && cp <= 0xFDEFu) ||
           (cp & 0xFFFEu) == 0xFFFEu;
}

/* --- UTF-8 ----------------------------------------------------------------------------------- */

/* 0 when t is UTF-8 (flagging raw noncharacters), else 1 with *bad at the first sequence
 * that is not a character, where a strict decoder reports it. */
static int check_utf8(const unsigned char *t, size_t n, size_t *bad, unsigned *flags)
{
    size_t i = 0;

    while (i < n) {
        unsigned c = t[i], lo = 0x80u, hi = 0xBFu;
        size_t len, k;
        uint32_t cp;

        if (c < 0x80u) {
            if (n - i >= 8 && (load8(t + i) & HIGHS) == 0)
                i += 8;
            else
                i++;
            continue;
        }
        if (c >= 0xC2u && c <= 0xDFu) {
            len = 2;
            cp = c & 0x1Fu;
        } else if (c >= 0xE0u && c <= 0xEFu) {
            len = 3;
            cp = c & 0x0Fu;
            if (c == 0xE0u)
                lo = 0xA0u; /* no overlong form */
            else if (c == 0xEDu)
                hi = 0x9Fu; /* no surrogate */
        } else if (c >= 0xF0u && c <= 0xF4u) {
            len = 4;
            cp = c & 0x07u;
            if (c == 0xF0u)
                lo = 0x90u; /* no overlong form */
            else if (c == 0xF4u)
                hi = 0x8Fu; /* nothing above U+10FFFF */
        } else {
            *bad = i;
            return 1;
        }
        for (k = 1; k < len; k++) {
            unsigned b;
            if (i + k >= n) {
                *bad = i;
                return 1;
            }
            b = t[i + k];
            if (b < (k == 1 ? lo : 0x80u) || b > (k == 1 ? hi : 0xBFu)) {
                *bad = i;
                return 1;
            }
            cp = cp << 6 | (b & 0x3Fu);
        }
        if (forbidden(cp))
            *flags |= HEM_JSON_RAW_NONCHARACTER;
        i += len;
    }
    return 0;
}

/* --- the bracket count ------------------------------------------------------------------------ */

/* 1 with *where at the first bracket past the cap, counted outside strings over the whole
 * text whatever its syntax; else 0. */
static int check_depth(const unsigned char *t, size_t n, size_t *where)
{
    long depth = 0;
    size_t i = 0;

    while (i < n) {
        unsigned char c = t[i];
        if (c == '"') {
            i++;
            for (;;) {
                while (n - i >= 8) {
                    uint64_t w = load8(t + i);
                    if (has_zero(w ^ (ONES * '"')) | has_zero(w ^ (ONES * '\\')))
                        break;
                    i += 8;
                }
                while (i < n && t[i] != '"' && t[i] != '\\')
                    i++;
                if (i >= n)
                    return 0; /* the string runs to the end */
                if (t[i] == '"')
                    break;
                i += 2; /* a backslash takes the next byte, whatever it is */
                if (i >= n)
                    return 0;
            }
        } else if (c == '[' || c == '{') {
            if (++depth > HEM_JSON_MAX_DEPTH) {
                *where = i;
                return 1;
            }
        } else if (c == ']' || c == '}') {
            depth--;
        }
        i++;
    }
    return 0;
}

/* --- numbers ---------------------------------------------------------------------------------- */

/* Whether the digits of [int_at, int_end) then [frac_at, frac_end), times 10**exponent
 * (saturated), reach the overflow threshold in magnitude. */
static int overflows(const unsigned char *t, size_t int_at, size_t int_end, size_t frac_at,
                     size_t frac_end, long long exponent)
{
    size_t int_len = int_end - int_at, total = int_len + (frac_end - frac_at), k, lead = 0;
    long long position;

    /* k indexes the digits as one string: the integer part, then the fraction. */
#define DIGIT_AT(k) (t[(k) < int_len ? int_at + (k) : frac_at + ((k)-int_len)])
    while (lead < total && DIGIT_AT(lead) == '0')
        lead++;
    if (lead == total)
        return 0; /* zero, whatever the exponent */
    /* The value is 0.<digits from lead> * 10**position. */
    position = (long long)int_len - (long long)lead + exponent;
    if (position != OVERFLOW_EXPONENT)
        return position > OVERFLOW_EXPONENT;
    for (k = 0; k < sizeof overflow_digits - 1; k++) {
        unsigned char d;
        if (lead + k >= total)
            return 0; /* a prefix of the threshold, whose last digit is not zero: below it */
        d = DIGIT_AT(lead + k);
        if (d != (unsigned char)overflow_digits[k])
            return d > (unsigned char)overflow_digits[k];
    }
    return 1; /* the threshold, possibly with more digits: at or above it */
#undef DIGIT_AT
}

/* Read the number at i, as RFC 8259's grammar reads it; a '.' or an exponent marker not
 * followed by digits is not part of it. Returns its end, or (size_t)-1 when no number
 * starts at i, with *ev the syntax error. Otherwise *ev->kind is HEM_JSON_CLEAN, or
 * HEM_JSON_INTEGER / HEM_JSON_NUMBER for a number the strict rules refuse; and *stop is
 * where the text stops being a JSON prefix if the number is followed by a '.' or an
 * exponent marker that the grammar does not take (else the end). */
static size_t read_number(const unsigned char *t, size_t n, size_t i, event *ev, size_t *stop)
{
    size_t start = i, int_at, int_end, frac_at = 0, frac_end = 0, end;
    long long exponent = 0;
    int is_float = 0;

    ev->kind = HEM_JSON_CLEAN;
    ev->offset = start;
    if (t[i] == '-')
        i++;
    if (i >= n || !is_digit(t[i])) {
        ev->kind = HEM_JSON_SYNTAX;
        ev->offset = i;
        return (size_t)-1;
    }
    int_at = i;
    if (t[i] == '0')
        i++;
    else
        while (i < n && is_digit(t[i]))
            i++;
    int_end = i;
    *stop = i;
    if (i < n && t[i] == '.') {
        if (i + 1 < n && is_digit(t[i + 1])) {
            is_float = 1;
            frac_at = i + 1;
            i += 2;
            while (i < n && is_digit(t[i]))
                i++;
            frac_end = i;
            *stop = i;
        } else {
            *stop = i + 1;
        }
    }
    if (i < n && (t[i] == 'e' || t[i] == 'E')) {
        size_t mark = i + 1, digits;
        int negative = 0;
        if (mark < n && (t[mark] == '+' || t[mark] == '-')) {
            negative = t[mark] == '-';
            mark++;
        }
        digits = mark;
        while (digits < n && is_digit(t[digits])) {
            if (exponent < 1000000000000000LL) /* saturated: far past any decision */
                exponent = exponent * 10 + (t[digits] - '0');
            digits++;
        }
        if (digits > mark) {
            is_float = 1;
            i = digits;
            if (negative)
                exponent = -exponent;
            *stop = i;
        } else {
            exponent = 0;
            *stop = mark;
        }
    }
    end = i;
    if (!is_float) {
        size_t len = int_end - int_at;
        if (len > 16 || (len == 16 && memcmp(t + int_at, max_safe_digits, 16) > 0)) {
            ev->kind = HEM_JSON_INTEGER;
            ev->offset = start;
        }
    } else if (end - start > HEM_JSON_MAX_FLOAT_LEN ||
               overflows(t, int_at, int_end, frac_at, frac_end, exponent)) {
        ev->kind = HEM_JSON_NUMBER;
        ev->offset = start;
    }
    return end;
}

/* --- strings and names ------------------------------------------------------------------------ */

/* Four hex digits at i into *value; 0 with *bad at the first byte that is not one. */
static int read_hex4(const unsigned char *t, size_t n, size_t i, uint32_t *value, size_t *bad)
{
    size_t k;
    uint32_t v = 0;

    for (k = 0; k < 4; k++) {
        unsigned char c;
        if (i + k >= n) {
            *bad = n;
            return 0;
        }
        c = t[i + k];
        if (c >= '0' && c <= '9')
            v = v << 4 | (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v << 4 | (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v = v << 4 | (uint32_t)(c - 'A' + 10);
        else {
            *bad = i + k;
            return 0;
        }
    }
    *value = v;
    return 1;
}

static void put_code_point(scanner *s, uint32_t cp)
{
    unsigned char *out = s->copies + s->copies_top;

    if (cp < 0x80u) {
        out[0] = (unsigned char)cp;
        s->copies_top += 1;
    } else if (cp < 0x800u) {
        out[0] = (unsigned char)(0xC0u | cp >> 6);
        out[1] = (unsigned char)(0x80u | (cp & 0x3Fu));
        s->copies_top += 2;
    } else if (cp < 0x10000u) {
        out[0] = (unsigned char)(0xE0u | cp >> 12);
        out[1] = (unsigned char)(0x80u | (cp >> 6 & 0x3Fu));
        out[2] = (unsigned char)(0x80u | (cp & 0x3Fu));
        s->copies_top += 3;
    } else {
        out[0] = (unsigned char)(0xF0u | cp >> 18);
        out[1] = (unsigned char)(0x80u | (cp >> 12 & 0x3Fu));
        out[2] = (unsigned char)(0x80u | (cp >> 6 & 0x3Fu));
        out[3] = (unsigned char)(0x80u | (cp & 0x3Fu));
        s->copies_top += 4;
    }
}

static void put_bytes(scanner *s, size_t from, size_t to)
{
    memcpy(s->copies + s->copies_top, s->t + from, to - from);
    s->copies_top += to - from;
}

static const unsigned char *name_bytes(const scanner *s, const name_rec *r)
{
    return r->at & IN_COPY ? s->copies + (r->at & ~IN_COPY) : s->t + r->at;
}

/* Read the string whose opening quote is at q; on success return 1 with *end past its
 * closing quote, and when it is a member name, push it on the name stack. On a syntax
 * error return 0 with *end at the offending byte. A name's escapes are decoded into the
 * copies (the decoded form is never longer than the escaped one, so n bytes hold all). */
static int read_string(scanner *s, size_t q, int is_name, size_t *end)
{
    const unsigned char *t = s->t;
    size_t n = s->n, i = q + 1, run = i, copy_at = s->copies_top;
    int escaped = 0;

    for (;;) {
        unsigned char c, e;
        i = skip_plain(t, n, i);
        if (i >= n) {
            *end = n;
            return 0;
        }
        c = t[i];
        if (c == '"')
            break;
        if (c != '\\') { /* a control character */
            *end = i;
            return 0;
        }
        if (is_name) {
            if (!escaped)
                copy_at = s->copies_top;
            escaped = 1;
            put_bytes(s, run, i);
        }
        if (i + 1 >= n) {
            *end = n;
            return 0;
        }
        e = t[i + 1];
        if (e == 'u') {
            uint32_t cp, low;
            if (!read_hex4(t, n, i + 2, &cp, end))
                return 0;
            i += 6;
            /* A high surrogate pairs with a low one escaped right after it; Python's
             * decoder tries this only when at least 7 bytes follow (the escape and a
             * closing quote), which any string that ends well has. */
            if (cp >= 0xD800u && cp <= 0xDBFFu && i + 6 < n && t[i] == '\\' && t[i + 1] == 'u') {
                if (!read_hex4(t, n, i + 2, &low, end))
                    return 0;
                if (low >= 0xDC00u && low <= 0xDFFFu) {
                    cp = 0x10000u + ((cp - 0xD800u) << 10) + (low - 0xDC00u);
                    i += 6;
                }
            }
            if (forbidden(cp))
                s->flags |= HEM_JSON_ESCAPED_FORBIDDEN;
            if (is_name)
                put_code_point(s, cp);
        } else {
            unsigned char decoded;
            switch (e) {
            case '"': decoded = '"'; break;
            case '\\': decoded = '\\'; break;
            case '/': decoded = '/'; break;
            case 'b': decoded = '\b'; break;
            case 'f': decoded = '\f'; break;
            case 'n': decoded = '\n'; break;
            case 'r': decoded = '\r'; break;
            case 't': decoded = '\t'; break;
            default:
                *end = i + 1;
                return 0;
            }
            if (is_name)
                s->copies[s->copies_top++] = decoded;
            i += 2;
        }
        run = i;
    }
    *end = i + 1;
    if (is_name) {
        name_rec *r = &s->names[s->names_top++];
        const unsigned char *bytes;
        size_t k, len;
        uint64_t key = 0;
        if (escaped) {
            put_bytes(s, run, i);
            r->at = (uint32_t)copy_at | IN_COPY;
            r->len = (uint32_t)(s->copies_top - copy_at);
        } else {
            r->at = (uint32_t)(q + 1);
            r->len = (uint32_t)(i - q - 1);
        }
        r->quote = (uint32_t)q;
        bytes = name_bytes(s, r);
        len = r->len < 8u ? r->len : 8u;
        for (k = 0; k < len; k++)
            key = key << 8 | bytes[k];
        r->key = len ? key << (8u * (8u - len)) : 0u;
        r->spare = 0;
    }
    return 1;
}

/* Names in canonical byte order (shorter first on a common prefix); 0 when equal. */
static int name_cmp(const scanner *s, const name_rec *a, const name_rec *b)
{
    size_t common;
    int r;

    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    /* Equal keys hold both names whole when both fit: the shorter is then a prefix. */
    if (a->len > 8 || b->len > 8) {
        common = a->len < b->len ? a->len : b->len;
        r = memcmp(name_bytes(s, a), name_bytes(s, b), common);
        if (r != 0)
            return r;
    }
    return (a->len > b->len) - (a->len < b->len);
}

/* Stable bottom-up merge sort of m names, using spare (m entries); returns where the
 * sorted sequence ended up (names or spare). */
static name_rec *sort_names(const scanner *s, name_rec *names, name_rec *spare, size_t m)
{
    size_t width;

    for (width = 1; width < m; width *= 2) {
        size_t lo;
        name_rec *swap;
        for (lo = 0; lo < m; lo += 2 * width) {
            size_t mid = lo + width < m ? lo + width : m;
            size_t hi = lo + 2 * width < m ? lo + 2 * width : m;
            size_t p = lo, q = mid, k = lo;
            while (p < mid && q < hi)
                spare[k++] = name_cmp(s, &names[q], &names[p]) < 0 ? names[q++] : names[p++];
            while (p < mid)
                spare[k++] = names[p++];
            while (q < hi)
                spare[k++] = names[q++];
        }
        swap = names;
        names = spare;
        spare = swap;
    }
    return names;
}

/* Stable LSD radix sort of m names by key alone, a byte per pass, skipping the bytes that
 * every key shares (short names leave most of theirs zero); returns where the result is. */
static name_rec *sort_keys(name_rec *names, name_rec *spare, size_t m)
{
    uint32_t count[256];
    uint64_t varying = 0;
    size_t i, b;

    for (i = 1; i < m; i++)
        varying |= names[i].key ^ names[0].key;
    for (b = 0; b < 64; b += 8) {
        uint32_t sum = 0;
        name_rec *swap;
        size_t v;
        if ((varying >> b & 0xFFu) == 0)
            continue;
        memset(count, 0, sizeof count);
        for (i = 0; i < m; i++)
            count[names[i].key >> b & 0xFFu]++;
        for (v = 0; v < 256; v++) {
            uint32_t here = count[v];
            count[v] = sum;
            sum += here;
        }
        for (i = 0; i < m; i++)
            spare[count[names[i].key >> b & 0xFFu]++] = names[i];
        swap = names;
        names = spare;
        spare = swap;
    }
    return names;
}

/* The quote offset of the first repeat in a run of names in member order (what a decoder
 * that collects members in order meets first), or (size_t)-1. spare has r entries. */
static size_t run_repeat(const scanner *s, name_rec *run, name_rec *spare, size_t r)
{
    size_t j, k, found = (size_t)-1;
    name_rec *sorted;

    if (r <= FEW_MEMBERS) {
        for (j = 1; j < r; j++)
            for (k = 0; k < j; k++)
                if (name_cmp(s, &run[k], &run[j]) == 0)
                    return run[j].quote;
        return found;
    }
    /* Sorted stably, equal names sit together in member order: the second of each group is
     * that name's first repeat, and the earliest of those is the one met first. */
    sorted = sort_names(s, run, spare, r);
    for (j = 1; j < r; j++)
        if (name_cmp(s, &sorted[j - 1], &sorted[j]) == 0 &&
            (j == 1 || name_cmp(s, &sorted[j - 2], &sorted[j - 1]) != 0) &&
            sorted[j].quote < found)
            found = sorted[j].quote;
    return found;
}

/* The quote offset of the first member of names[lo, hi) whose name an earlier member of
 * the same object has, or (size_t)-1 when all differ. Names with different keys differ, so
 * the keys are sorted first (in linear time) and only runs of equal keys are compared. */
static size_t first_repeat(scanner *s, size_t lo, size_t hi)
{
    size_t m = hi - lo, j, k, found = (size_t)-1;
    name_rec *sorted, *other;

    if (m <= FEW_MEMBERS)
        return m < 2 ? found : run_repeat(s, s->names + lo, s->spare, m);
    sorted = sort_keys(s->names + lo, s->spare, m);
    other = sorted == s->spare ? s->names + lo : s->spare;
    for (j = 0; j < m; j = k) {
        for (k = j + 1; k < m && sorted[k].key == sorted[j].key; k++)
            ;
        if (k - j >= 2) {
            size_t repeat = run_repeat(s, sorted + j, other + j, k - j);
            if (repeat < found)
                found = repeat;
        }
    }
    return found;
}

/* --- the parse -------------------------------------------------------------------------------- */

/* Where the literal word at i stops matching (i + its length when it matches whole). */
static size_t match_word(const unsigned char *t, size_t n, size_t i, const char *word)
{
    while (*word && i < n && t[i] == (unsigned char)*word) {
        i++;
        word++;
    }
    return i;
}

/* Parse the whole text; the first event, or HEM_JSON_CLEAN. Returns 0, or -1 when the work
 * area or the stack runs out, which the bracket count and the size check rule out. */
static int parse(scanner *s, event *ev)
{
    const unsigned char *t = s->t;
    size_t n = s->n, i, depth = 0, end, stop = 0, top, name_at;
    unsigned char open[HEM_JSON_MAX_DEPTH];
    size_t names_at[HEM_JSON_MAX_DEPTH], copies_at[HEM_JSON_MAX_DEPTH];

    s->context = HEM_JSON_IN_TOP;
    s->resume = 0;
    i = skip_space(t, n, 0);
    top = i;
value:
    if (i >= n) {
        ev->kind = HEM_JSON_SYNTAX;
        ev->offset = n;
        return 0;
    }
    /* Counted where it begins: in a clean text every value begun is a value. */
    s->values++;
    switch (t[i]) {
    case '{':
    case '[':
        if (depth == HEM_JSON_MAX_DEPTH) {
            /* The structure so far is JSON, so its depth is the bracket count's. */
            ev->kind = HEM_JSON_DEPTH;
            ev->offset = i;
            return 0;
        }
        open[depth] = t[i];
        names_at[depth] = s->names_top;
        copies_at[depth] = s->copies_top;
        depth++;
        s->context = t[i] == '{' ? HEM_JSON_FIRST_MEMBER : HEM_JSON_FIRST_ITEM;
        s->resume = i + 1;
        i = skip_space(t, n, i + 1);
        if (open[depth - 1] == '{') {
            if (i < n && t[i] == '}') {
                depth--;
                i++;
                goto after_value;
            }
            goto member;
        }
        if (i < n && t[i] == ']') {
            depth--;
            i++;
            goto after_value;
        }
        goto value;
    case '"':
        if (!read_string(s, i, 0, &end)) {
            ev->kind = HEM_JSON_SYNTAX;
            ev->offset = end;
            return 0;
        }
        i = end;
        goto after_value;
    case 't':
    case 'f':
    case 'n': {
        const char *word = t[i] == 't' ? "true" : t[i] == 'f' ? "false" : "null";
        size_t len = strlen(word);
        end = match_word(t, n, i, word);
        if (end != i + len) {
            ev->kind = HEM_JSON_SYNTAX;
            ev->offset = end;
            return 0;
        }
        i = end;
        goto after_value;
    }
    case 'N':
    case 'I':
        if (match_word(t, n, i, t[i] == 'N' ? "NaN" : "Infinity") == i + (t[i] == 'N' ? 3 : 8)) {
            ev->kind = HEM_JSON_CONSTANT;
            ev->offset = i;
        } else {
            ev->kind = HEM_JSON_SYNTAX;
            ev->offset = i;
        }
        return 0;
    default:
        if (t[i] == '-' && match_word(t, n, i, "-Infinity") == i + 9) {
            ev->kind = HEM_JSON_CONSTANT;
            ev->offset = i;
            return 0;
        }
        end = read_number(t, n, i, ev, &stop);
        if (end == (size_t)-1 || ev->kind != HEM_JSON_CLEAN)
            return 0;
        i = end;
        goto after_value;
    }

member:
    if (i >= n || t[i] != '"') {
        ev->kind = HEM_JSON_SYNTAX;
        ev->offset = i;
        return 0;
    }
    if (s->names_top == s->names_cap)
        return -1;
    name_at = i;
    if (!read_string(s, i, 1, &end)) {
        ev->kind = HEM_JSON_SYNTAX;
        ev->offset = end;
        return 0;
    }
    i = skip_space(t, n, end);
    if (i >= n || t[i] != ':') {
        ev->kind = HEM_JSON_SYNTAX;
        ev->offset = i;
        return 0;
    }
    i = skip_space(t, n, i + 1);
    /* Only the top-level object's members are at depth 1. */
    if (depth == 1 && s->outline != NULL) {
        hem_json_outline *o = s->outline;
        if (o->members < HEM_JSON_OUTLINE_MEMBERS) {
            o->name_at[o->members] = name_at;
            o->value_at[o->members] = i;
        }
        o->members++;
    }
    goto value;

after_value:
    /* A number followed by a '.' or an exponent marker the grammar did not take: the text
     * stops being JSON inside what looks like the number's tail (still in the value's
     * context: the tail reads as part of it). */
    if (stop > i) {
        ev->kind = HEM_JSON_SYNTAX;
        ev->offset = stop;
        return 0;
    }
    s->context = depth == 0                 ? HEM_JSON_AFTER_TOP
                 : open[depth - 1] == '['   ? HEM_JSON_AFTER_ITEM
                                            : HEM_JSON_AFTER_MEMBER;
    s->resume = i;
    i = skip_space(t, n, i);
    if (depth == 0) {
        ev->kind = i == n ? HEM_JSON_CLEAN : HEM_JSON_SYNTAX;
        ev->offset = i == n ? top : i;
        return 0;
    }
    if (i >= n) {
        ev->kind = HEM_JSON_SYNTAX;
        ev->offset = n;
        return 0;
    }
    if (t[i] == ',') {
        s->context = open[depth - 1] == '{' ? HEM_JSON_NEXT_MEMBER : HEM_JSON_NEXT_ITEM;
        s->resume = i + 1;
        i = skip_space(t, n, i + 1);
        if (open[depth - 1] == '{')
            goto member;
        goto value;
    }
    if (open[depth - 1] == '[' && t[i] == ']') {
        depth--;
        i++;
        goto after_value;
    }
    if (open[depth - 1] == '{' && t[i] == '}') {
        size_t repeat;
        depth--;
        repeat = first_repeat(s, names_at[depth], s->names_top);
        if (repeat != (size_t)-1) {
            ev->kind = HEM_JSON_DUPLICATE;
            ev->offset = repeat;
            return 0;
        }
        s->names_top = names_at[depth];
        s->copies_top = copies_at[depth];
        i++;
        goto after_value;
    }
    ev->kind = HEM_JSON_SYNTAX;
    ev->offset = i;
    return 0;
}

/* --- the scan --------------------------------------------------------------------------------- */

/* Every member takes at least 4 bytes ("":0), so a text holds at most n / 4 + 1 names. */
static size_t names_cap(size_t n)
{
    return n / 4u + 2u;
}

size_t hem_json_work_size(size_t text_len)
{
    /* (size_t)-1 is more than any work area: the scan then refuses, and nothing overflows,
     * also where size_t has 32 bits. */
    if (text_len > HEM_JSON_MAX_LEN || text_len > (SIZE_MAX - 64u) / (1u + 3u * sizeof(name_rec)))
        return (size_t)-1;
    return 2u * names_cap(text_len) * sizeof(name_rec) + text_len + sizeof(uint64_t);
}

int hem_json_scan(const char *text, size_t text_len, void *work, size_t work_size,
                  hem_json_verdict *verdict)
{
    return hem_json_scan_outline(text, text_len, work, work_size, verdict, NULL);
}

int hem_json_scan_outline(const char *text, size_t text_len, void *work, size_t work_size,
                          hem_json_verdict *verdict, hem_json_outline *outline)
{
    scanner s;
    hem_json_outline counted;
    event ev;
    size_t cap, where, misalign;
    unsigned char *area = work;

    if (text_len > HEM_JSON_MAX_LEN || work_size < hem_json_work_size(text_len))
        return -1;
    cap = names_cap(text_len);
    /* The records need uint64_t alignment; the work area need not have it. */
    misalign = (size_t)((uintptr_t)area % sizeof(uint64_t));
    area += misalign ? sizeof(uint64_t) - misalign : 0;
    s.t = (const unsigned char *)text;
    s.n = text_len;
    s.names = (name_rec *)(void *)area;
    s.spare = s.names + cap;
    s.names_cap = cap;
    s.names_top = 0;
    s.copies = area + 2u * cap * sizeof(name_rec);
    s.copies_top = 0;
    s.flags = 0;
    s.values = 0;
    /* Filled in a copy, so that a -1 leaves the caller's as it was. */
    counted.members = 0;
    s.outline = outline != NULL ? &counted : NULL;

    ev.kind = HEM_JSON_CLEAN;
    ev.offset = 0;
    if (check_utf8(s.t, s.n, &where, &s.flags)) {
        verdict->kind = HEM_JSON_UTF8;
        verdict->flags = 0;
        verdict->offset = where;
        verdict->context = 0;
        verdict->resume = 0;
        if (outline != NULL) {
            outline->values = 0;
            outline->members = 0;
        }
        return 0;
    }
    if (parse(&s, &ev) != 0)
        return -1;
    /* A parse that read everything as JSON met every bracket, and would have stopped at the
     * first one past the cap; otherwise the count over the rest of the text still wins. */
    if (ev.kind != HEM_JSON_CLEAN && ev.kind != HEM_JSON_DEPTH && check_depth(s.t, s.n, &where)) {
        ev.kind = HEM_JSON_DEPTH;
        ev.offset = where;
    }
    verdict->kind = ev.kind;
    verdict->flags = ev.kind == HEM_JSON_CLEAN ? s.flags : 0u;
    verdict->offset = ev.offset;
    verdict->context = ev.kind == HEM_JSON_SYNTAX ? s.context : 0;
    verdict->resume = ev.kind == HEM_JSON_SYNTAX ? s.resume : 0u;
    if (outline != NULL) {
        size_t k, located = counted.members < HEM_JSON_OUTLINE_MEMBERS ? counted.members
                                                                       : HEM_JSON_OUTLINE_MEMBERS;
        int clean = ev.kind == HEM_JSON_CLEAN;
        outline->values = clean ? s.values : 0;
        outline->members = clean ? counted.members : 0;
        for (k = 0; clean && k < located; k++) {
            outline->name_at[k] = counted.name_at[k];
            outline->value_at[k] = counted.value_at[k];
        }
    }
    return 0;
}
