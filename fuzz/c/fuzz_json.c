/*
 * libFuzzer target: hem_json_scan, the one-pass verdict on a JSON text.
 *
 * Every input gets two verdicts that must agree in kind, offset and flags:
 *   - hem_json_scan's, from an exactly sized copy, with a work area at an odd address
 *     filled with bytes from the input (so that leftovers would show);
 *   - a reference written from csrc/hemjson.h alone: a UTF-8 decoder that checks each
 *     code point's range, a bracket count, then a recursive-descent parser of RFC 8259
 *     that decodes every string to code points, compares each object's names pair by
 *     pair, and leaves numbers to the C library (strtod decides whether a fraction or
 *     exponent overflows a double, once its length is within HEM_JSON_MAX_FLOAT_LEN; the
 *     program never calls setlocale, so it reads them as JSON writes them). It shares no
 *     code or tables with csrc/hemjson.c.
 * Also: a second scan with another work area gives the same verdict, and the scan refuses
 * a work area one byte too small. hem_json_scan_outline must give the same verdict, and
 * for a clean text the outline the reference finds as it parses (every value it enters,
 * the top-level object's members and where their names and values start); for any other
 * verdict an outline of nothing. A syntax error's context and resume must be the
 * reference's (set as it enters and leaves each array, object and member), and the short
 * text they describe (what stands for the context, then the text from resume) must fail
 * at the same place in the same context. Any violation abort()s.
 *
 * A custom mutator makes half of the mutations structural: it wraps the input in an array
 * or an object, duplicates a member, or splices in a token that reaches a rule (a long
 * number, NaN, an escaped surrogate, sixteen brackets), so that short runs reach every
 * verdict instead of only syntax errors. At exit the target says how many inputs got each
 * kind.
 */
#include "fuzz_common.h"
#include "hemjson.h"

#include <math.h>

static unsigned long verdicts[8], clean_objects, past_the_outline;
static int said_at_exit;

static void say_verdicts(void)
{
    fprintf(stderr,
            "fuzz_json: clean %lu (objects %lu, %lu of them over %d members), utf8 %lu, depth "
            "%lu, syntax %lu, integer %lu, number %lu, constant %lu, duplicate %lu\n",
            verdicts[0], clean_objects, past_the_outline, HEM_JSON_OUTLINE_MEMBERS, verdicts[1],
            verdicts[2], verdicts[3], verdicts[4], verdicts[5], verdicts[6], verdicts[7]);
}

/* --- the reference ---------------------------------------------------------------------- */

typedef struct {
    const unsigned char *t;
    size_t n;
    int kind; /* -1 while nothing has happened */
    size_t offset;
    unsigned flags;
    /* The outline, as the parse goes: values entered, containers open, and the top-level
     * object's members (the first HEM_JSON_OUTLINE_MEMBERS located). */
    size_t values, open, members;
    size_t name_at[HEM_JSON_OUTLINE_MEMBERS], value_at[HEM_JSON_OUTLINE_MEMBERS];
    int context; /* where the parse is, for a syntax error */
    size_t resume;
} ref_state;

static void ref_at(ref_state *r, int context, size_t resume)
{
    r->context = context;
    r->resume = resume;
}

static int ref_is_noncharacter(uint32_t cp)
{
    return (cp >= 0xFDD0u && cp <= 0xFDEFu) || cp % 0x10000u == 0xFFFEu ||
           cp % 0x10000u == 0xFFFFu;
}

/* Decode every character; a sequence is valid when its lead byte gives a length, the
 * continuation bytes are 10xxxxxx, and the decoded value needs exactly that length, is
 * not a surrogate and is at most U+10FFFF. */
static int ref_utf8(ref_state *r)
{
    size_t i = 0;

    while (i < r->n) {
        unsigned c = r->t[i];
        size_t len, k;
        uint32_t cp;
        if (c < 0x80u) {
            i++;
            continue;
        }
        if (c >> 5 == 6u) {
            len = 2;
            cp = c & 31u;
        } else if (c >> 4 == 14u) {
            len = 3;
            cp = c & 15u;
        } else if (c >> 3 == 30u) {
            len = 4;
            cp = c & 7u;
        } else {
            r->kind = HEM_JSON_UTF8;
            r->offset = i;
            return 0;
        }
        for (k = 1; k < len; k++) {
            if (i + k >= r->n || (r->t[i + k] >> 6) != 2u) {
                r->kind = HEM_JSON_UTF8;
                r->offset = i;
                return 0;
            }
            cp = cp << 6 | (r->t[i + k] & 63u);
        }
        if ((len == 2 && cp < 0x80u) || (len == 3 && cp < 0x800u) ||
            (len == 4 && cp < 0x10000u) || cp > 0x10FFFFu || (cp >= 0xD800u && cp <= 0xDFFFu)) {
            r->kind = HEM_JSON_UTF8;
            r->offset = i;
            return 0;
        }
        if (ref_is_noncharacter(cp))
            r->flags |= HEM_JSON_RAW_NONCHARACTER;
        i += len;
    }
    return 1;
}

static int ref_depth(ref_state *r)
{
    long depth = 0;
    size_t i = 0;
    int in_string = 0;

    for (i = 0; i < r->n; i++) {
        unsigned char c = r->t[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '[' || c == '{') {
            depth++;
            if (depth > HEM_JSON_MAX_DEPTH) {
                r->kind = HEM_JSON_DEPTH;
                r->offset = i;
                return 0;
            }
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return 1;
}

static int ref_fail(ref_state *r, int kind, size_t offset)
{
    r->kind = kind;
    r->offset = offset;
    return 0;
}

static void ref_space(const ref_state *r, size_t *i)
{
    while (*i < r->n && (r->t[*i] == ' ' || r->t[*i] == '\t' || r->t[*i] == '\n' ||
                         r->t[*i] == '\r'))
        (*i)++;
}

static int ref_hex(const ref_state *r, size_t at, uint32_t *value)
{
    size_t k;
    *value = 0;
    for (k = 0; k < 4; k++) {
        unsigned char c = at + k < r->n ? r->t[at + k] : 0;
        const char *digits = "0123456789abcdef", *p;
        if (c >= 'A' && c <= 'F')
            c = (unsigned char)(c - 'A' + 'a');
        p = c ? strchr(digits, c) : NULL;
        if (p == NULL)
            return 0;
        *value = *value * 16u + (uint32_t)(p - digits);
    }
    return 1;
}

/* A string whose quote is at *i, decoded into name (when not NULL, room for n code
 * points) with its length in *len. */
static int ref_string(ref_state *r, size_t *i, uint32_t *name, size_t *len)
{
    size_t at = *i + 1, count = 0;

    for (;;) {
        unsigned char c;
        uint32_t cp;
        if (at >= r->n)
            return ref_fail(r, HEM_JSON_SYNTAX, r->n);
        c = r->t[at];
        if (c == '"')
            break;
        if (c < 0x20u)
            return ref_fail(r, HEM_JSON_SYNTAX, at);
        if (c == '\\') {
            unsigned char e = at + 1 < r->n ? r->t[at + 1] : 0;
            if (at + 1 >= r->n)
                return ref_fail(r, HEM_JSON_SYNTAX, r->n);
            if (e == 'u') {
                size_t k;
                for (k = 0; k < 4; k++) {
                    if (at + 2 + k >= r->n)
                        return ref_fail(r, HEM_JSON_SYNTAX, r->n);
                    if (!r->t[at + 2 + k] || !strchr("0123456789abcdefABCDEF", r->t[at + 2 + k]))
                        return ref_fail(r, HEM_JSON_SYNTAX, at + 2 + k);
                }
                ref_hex(r, at + 2, &cp);
                at += 6;
                if (cp >= 0xD800u && cp < 0xDC00u && at + 1 < r->n && r->t[at] == '\\' &&
                    r->t[at + 1] == 'u') {
                    uint32_t low;
                    if (ref_hex(r, at + 2, &low) && low >= 0xDC00u && low < 0xE000u) {
                        cp = 0x10000u + (cp - 0xD800u) * 0x400u + (low - 0xDC00u);
                        at += 6;
                    }
                }
                if ((cp >= 0xD800u && cp < 0xE000u) || ref_is_noncharacter(cp))
                    r->flags |= HEM_JSON_ESCAPED_FORBIDDEN;
            } else {
                const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
                const char *p = e ? strchr(from, e) : NULL;
                if (p == NULL)
                    return ref_fail(r, HEM_JSON_SYNTAX, at + 1);
                cp = (unsigned char)to[p - from];
                at += 2;
            }
        } else {
            /* Raw UTF-8, already known valid: decode it. */
            size_t len_here = c < 0x80u ? 1 : c < 0xE0u ? 2 : c < 0xF0u ? 3 : 4, k;
            cp = len_here == 1 ? c : c & (0x7Fu >> len_here);
            for (k = 1; k < len_here; k++)
                cp = cp << 6 | (r->t[at + k] & 63u);
            at += len_here;
        }
        if (name != NULL)
            name[count] = cp;
        count++;
    }
    if (len != NULL)
        *len = count;
    *i = at + 1;
    return 1;
}

static int ref_json_value(ref_state *r, size_t *i);

/* A number at *i, as the grammar reads it; its tail ('.' or exponent without digits) is
 * not part of it, and is a syntax error after it. */
static int ref_number(ref_state *r, size_t *i)
{
    size_t start = *i, at = start, digits_at, int_digits, stop;
    int has_fraction = 0, has_exponent = 0;
    char *literal;

    if (at < r->n && r->t[at] == '-')
        at++;
    if (at >= r->n || r->t[at] < '0' || r->t[at] > '9')
        return ref_fail(r, HEM_JSON_SYNTAX, at);
    digits_at = at;
    if (r->t[at] == '0')
        at++;
    else
        while (at < r->n && r->t[at] >= '0' && r->t[at] <= '9')
            at++;
    int_digits = at - digits_at;
    stop = at;
    if (at < r->n && r->t[at] == '.') {
        if (at + 1 < r->n && r->t[at + 1] >= '0' && r->t[at + 1] <= '9') {
            has_fraction = 1;
            at++;
            while (at < r->n && r->t[at] >= '0' && r->t[at] <= '9')
                at++;
            stop = at;
        } else {
            stop = at + 1;
        }
    }
    if (at < r->n && (r->t[at] == 'e' || r->t[at] == 'E')) {
        size_t e = at + 1;
        if (e < r->n && (r->t[e] == '+' || r->t[e] == '-'))
            e++;
        if (e < r->n && r->t[e] >= '0' && r->t[e] <= '9') {
            has_exponent = 1;
            while (e < r->n && r->t[e] >= '0' && r->t[e] <= '9')
                e++;
            at = e;
            stop = at;
        } else {
            stop = e;
        }
    }
    literal = (char *)exact_alloc(at - start + 1);
    memcpy(literal, r->t + start, at - start);
    literal[at - start] = '\0';
    if (!has_fraction && !has_exponent) {
        if (int_digits > 16 ||
            (int_digits == 16 && memcmp(r->t + digits_at, "9007199254740991", 16) > 0)) {
            free(literal);
            return ref_fail(r, HEM_JSON_INTEGER, start);
        }
    } else if (at - start > HEM_JSON_MAX_FLOAT_LEN || isinf(strtod(literal, NULL))) {
        free(literal);
        return ref_fail(r, HEM_JSON_NUMBER, start);
    }
    free(literal);
    if (stop > at)
        return ref_fail(r, HEM_JSON_SYNTAX, stop);
    *i = at;
    return 1;
}

static int ref_word(ref_state *r, size_t *i, const char *word)
{
    size_t k;
    for (k = 0; word[k]; k++)
        if (*i + k >= r->n || r->t[*i + k] != (unsigned char)word[k])
            return ref_fail(r, HEM_JSON_SYNTAX, *i + k);
    *i += k;
    return 1;
}

static int ref_starts(const ref_state *r, size_t i, const char *word)
{
    size_t k = strlen(word);
    return r->n - i >= k && memcmp(r->t + i, word, k) == 0;
}

/* An object: its names go back to back into one buffer of code points (they hold no more
 * than the text has bytes), with where each starts, its length and its quote. */
static int ref_object(ref_state *r, size_t *i)
{
    size_t most = r->n / 4 + 1; /* every member takes at least 4 bytes: "":0 */
    uint32_t *points = (uint32_t *)malloc((r->n + 1) * sizeof(uint32_t));
    size_t *starts = (size_t *)malloc(most * sizeof(size_t));
    size_t *lengths = (size_t *)malloc(most * sizeof(size_t));
    size_t *quotes = (size_t *)malloc(most * sizeof(size_t));
    size_t count = 0, used = 0, j, k;
    int ok = 0;

    REQUIRE(points && starts && lengths && quotes);
    r->open++;
    (*i)++;
    ref_at(r, HEM_JSON_FIRST_MEMBER, *i);
    ref_space(r, i);
    if (*i < r->n && r->t[*i] == '}') {
        (*i)++;
        ok = 1;
        goto done;
    }
    for (;;) {
        if (*i >= r->n || r->t[*i] != '"') {
            ref_fail(r, HEM_JSON_SYNTAX, *i);
            goto done;
        }
        REQUIRE(count < most);
        quotes[count] = *i;
        starts[count] = used;
        if (!ref_string(r, i, points + used, &lengths[count]))
            goto done;
        used += lengths[count];
        count++;
        ref_space(r, i);
        if (*i >= r->n || r->t[*i] != ':') {
            ref_fail(r, HEM_JSON_SYNTAX, *i);
            goto done;
        }
        (*i)++;
        ref_space(r, i);
        if (r->open == 1) {
            if (r->members < HEM_JSON_OUTLINE_MEMBERS) {
                r->name_at[r->members] = quotes[count - 1];
                r->value_at[r->members] = *i;
            }
            r->members++;
        }
        if (!ref_json_value(r, i))
            goto done;
        ref_at(r, HEM_JSON_AFTER_MEMBER, *i);
        ref_space(r, i);
        if (*i < r->n && r->t[*i] == ',') {
            (*i)++;
            ref_at(r, HEM_JSON_NEXT_MEMBER, *i);
            ref_space(r, i);
            continue;
        }
        if (*i < r->n && r->t[*i] == '}') {
            (*i)++;
            break;
        }
        ref_fail(r, HEM_JSON_SYNTAX, *i);
        goto done;
    }
    /* The object closed: the first member whose name an earlier one has. */
    for (j = 1; j < count; j++)
        for (k = 0; k < j; k++)
            if (lengths[j] == lengths[k] &&
                memcmp(points + starts[j], points + starts[k], lengths[j] * sizeof(uint32_t)) == 0) {
                ref_fail(r, HEM_JSON_DUPLICATE, quotes[j]);
                goto done;
            }
    ok = 1;
done:
    r->open--;
    free(points);
    free(starts);
    free(lengths);
    free(quotes);
    return ok;
}

static int ref_array_items(ref_state *r, size_t *i)
{
    (*i)++;
    ref_at(r, HEM_JSON_FIRST_ITEM, *i);
    ref_space(r, i);
    if (*i < r->n && r->t[*i] == ']') {
        (*i)++;
        return 1;
    }
    for (;;) {
        if (!ref_json_value(r, i))
            return 0;
        ref_at(r, HEM_JSON_AFTER_ITEM, *i);
        ref_space(r, i);
        if (*i < r->n && r->t[*i] == ',') {
            (*i)++;
            ref_at(r, HEM_JSON_NEXT_ITEM, *i);
            ref_space(r, i);
            continue;
        }
        if (*i < r->n && r->t[*i] == ']') {
            (*i)++;
            return 1;
        }
        return ref_fail(r, HEM_JSON_SYNTAX, *i);
    }
}

static int ref_array(ref_state *r, size_t *i)
{
    int ok;
    r->open++;
    ok = ref_array_items(r, i);
    r->open--;
    return ok;
}

static int ref_json_value(ref_state *r, size_t *i)
{
    unsigned char c;

    if (*i >= r->n)
        return ref_fail(r, HEM_JSON_SYNTAX, r->n);
    r->values++;
    c = r->t[*i];
    if (ref_starts(r, *i, "NaN") || ref_starts(r, *i, "Infinity") || ref_starts(r, *i, "-Infinity"))
        return ref_fail(r, HEM_JSON_CONSTANT, *i);
    switch (c) {
    case '{':
        return ref_object(r, i);
    case '[':
        return ref_array(r, i);
    case '"':
        return ref_string(r, i, NULL, NULL);
    case 't':
        return ref_word(r, i, "true");
    case 'f':
        return ref_word(r, i, "false");
    case 'n':
        return ref_word(r, i, "null");
    default:
        return ref_number(r, i);
    }
}

static hem_json_verdict ref_scan(const unsigned char *t, size_t n, hem_json_outline *outline)
{
    ref_state r;
    hem_json_verdict v;
    size_t i = 0, top, k;

    r.t = t;
    r.n = n;
    r.kind = -1;
    r.offset = 0;
    r.flags = 0;
    r.values = r.open = r.members = 0;
    ref_at(&r, HEM_JSON_IN_TOP, 0);
    if (ref_utf8(&r) && ref_depth(&r)) {
        ref_space(&r, &i);
        top = i;
        if (ref_json_value(&r, &i)) {
            ref_at(&r, HEM_JSON_AFTER_TOP, i);
            ref_space(&r, &i);
            if (i != n)
                ref_fail(&r, HEM_JSON_SYNTAX, i);
            else
                ref_fail(&r, HEM_JSON_CLEAN, top);
        }
    }
    v.kind = r.kind;
    v.flags = r.kind == HEM_JSON_CLEAN ? r.flags : 0u;
    v.offset = r.offset;
    v.context = r.kind == HEM_JSON_SYNTAX ? r.context : 0;
    v.resume = r.kind == HEM_JSON_SYNTAX ? r.resume : 0u;
    outline->values = r.kind == HEM_JSON_CLEAN ? r.values : 0;
    outline->members = r.kind == HEM_JSON_CLEAN ? r.members : 0;
    for (k = 0; k < outline->members && k < HEM_JSON_OUTLINE_MEMBERS; k++) {
        outline->name_at[k] = r.name_at[k];
        outline->value_at[k] = r.value_at[k];
    }
    return v;
}

/* --- the short text of a syntax error --------------------------------------------------------- */

static const char *const context_prefix[] = {"", "null", "[", "[null,", "[null", "{", "{\"\":null,",
                                             "{\"\":null"};

/* What stands for the context, then the text from resume: it must fail where the whole text
 * does, in the same context, with resume at the end of what stands for it. */
static void check_short_text(const unsigned char *in, size_t n, hem_json_verdict v)
{
    const char *prefix;
    size_t plen, len, size;
    unsigned char *text, *work;
    hem_json_verdict again = {-1, 0, 0, 0, 0};

    REQUIRE_MSG(v.context >= HEM_JSON_IN_TOP && v.context <= HEM_JSON_AFTER_MEMBER,
                "an unknown context");
    REQUIRE_MSG(v.resume <= v.offset && (v.context != HEM_JSON_IN_TOP || v.resume == 0),
                "a resume offset past the error");
    prefix = context_prefix[v.context];
    plen = strlen(prefix);
    len = plen + n - v.resume;
    text = exact_alloc(len);
    memcpy(text, prefix, plen);
    memcpy(text + plen, in + v.resume, n - v.resume);
    size = hem_json_work_size(len);
    work = exact_alloc(size);
    REQUIRE(hem_json_scan((const char *)text, len, work, size, &again) == 0);
    if (again.kind != HEM_JSON_SYNTAX || again.offset != v.offset - v.resume + plen ||
        again.context != v.context || again.resume != (v.resume ? plen : 0))
        fprintf(stderr, "hemfuzz: short text: %d at %zu, context %d, resume %zu\n", again.kind,
                again.offset, again.context, again.resume);
    REQUIRE_MSG(again.kind == HEM_JSON_SYNTAX && again.offset == v.offset - v.resume + plen,
                "the short text of a syntax error fails elsewhere");
    REQUIRE_MSG(again.context == v.context && again.resume == (v.resume ? plen : 0),
                "the short text of a syntax error fails in another context");
    free(work);
    free(text);
}

/* --- the target --------------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    unsigned char *in = exact_copy(data, n);
    size_t size = hem_json_work_size(n);
    unsigned char *work = exact_alloc(size + 1), *other = exact_alloc(size);
    hem_json_verdict got = {-1, 0, 0, 0, 0}, again = {-1, 0, 0, 0, 0}, outlined = {-1, 0, 0, 0, 0};
    hem_json_verdict want;
    hem_json_outline outline, expected;
    size_t k;

    if (!said_at_exit) {
        said_at_exit = 1;
        atexit(say_verdicts);
    }
    for (k = 0; k <= size; k++)
        work[k] = n ? in[k % n] : 0x5Au;
    memset(other, 0, size);
    REQUIRE(hem_json_scan((const char *)in, n, work + 1, size - 1, &got) == -1 && got.kind == -1);
    REQUIRE(hem_json_scan((const char *)in, n, work + 1, size, &got) == 0);
    REQUIRE(hem_json_scan((const char *)in, n, other, size, &again) == 0);
    REQUIRE_MSG(got.kind == again.kind && got.flags == again.flags &&
                    got.offset == again.offset && got.context == again.context &&
                    got.resume == again.resume,
                "the verdict depends on the work area");
    REQUIRE_MSG(got.kind >= HEM_JSON_CLEAN && got.kind <= HEM_JSON_DUPLICATE, "an unknown kind");
    REQUIRE_MSG(got.offset <= n, "an offset past the text");
    verdicts[got.kind]++;

    /* The outline's own work area is the first one again, its leftovers and all. */
    memset(&outline, n ? in[0] : 0x5A, sizeof outline);
    REQUIRE(hem_json_scan_outline((const char *)in, n, work + 1, size, &outlined, &outline) == 0);
    REQUIRE_MSG(outlined.kind == got.kind && outlined.flags == got.flags &&
                    outlined.offset == got.offset && outlined.context == got.context &&
                    outlined.resume == got.resume,
                "the outline's verdict differs from the scan's");

    want = ref_scan(in, n, &expected);
    if (got.kind != want.kind || got.offset != want.offset || got.flags != want.flags)
        fprintf(stderr, "hemfuzz: hem_json_scan: kind %d offset %zu flags %u; reference: kind %d "
                        "offset %zu flags %u\n",
                got.kind, got.offset, got.flags, want.kind, want.offset, want.flags);
    REQUIRE_MSG(got.kind == want.kind, "the kind differs from the reference's");
    REQUIRE_MSG(got.offset == want.offset, "the offset differs from the reference's");
    REQUIRE_MSG(got.flags == want.flags, "the flags differ from the reference's");
    if (got.context != want.context || got.resume != want.resume)
        fprintf(stderr, "hemfuzz: syntax error context %d resume %zu; reference: %d, %zu\n",
                got.context, got.resume, want.context, want.resume);
    REQUIRE_MSG(got.context == want.context, "the context differs from the reference's");
    REQUIRE_MSG(got.resume == want.resume, "the resume offset differs from the reference's");
    if (got.kind == HEM_JSON_SYNTAX)
        check_short_text(in, n, got);
    if (outline.values != expected.values || outline.members != expected.members)
        fprintf(stderr, "hemfuzz: outline: %zu values, %zu members; reference: %zu, %zu\n",
                outline.values, outline.members, expected.values, expected.members);
    REQUIRE_MSG(outline.values == expected.values, "the values differ from the reference's");
    REQUIRE_MSG(outline.members == expected.members, "the members differ from the reference's");
    if (got.kind == HEM_JSON_CLEAN && in[got.offset] == '{') {
        clean_objects++;
        past_the_outline += outline.members > HEM_JSON_OUTLINE_MEMBERS;
    }
    for (k = 0; k < outline.members && k < HEM_JSON_OUTLINE_MEMBERS; k++)
        REQUIRE_MSG(outline.name_at[k] == expected.name_at[k] &&
                        outline.value_at[k] == expected.value_at[k],
                    "a member is located elsewhere than the reference's");

    free(other);
    free(work);
    free(in);
    return 0;
}

/* --- the mutator -------------------------------------------------------------------------- */

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

static const char *const splices[] = {
    "12345678901234567", "9007199254740992", "-9007199254740991", "1e309", "1.7976931348623159e308",
    "0.1e310", "NaN", "-Infinity", "\"\\ud800\"", "\"\\ud83d\\ude00\"", "\"\\ufdd0\"",
    "\"\xef\xbf\xbe\"", "[[[[[[[[[[[[[[[[", "]]]]]]]]]]]]]]]]", "{\"a\":1,\"\\u0061\":2}",
    "\"\\u0000\"", ",", ":", "\"", "\\", "{}", "[]",
};

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    unsigned choice = seed % 8, pick = (seed / 8) % 64;
    size_t at = size ? (seed / 512) % (size + 1) : 0;

    if (choice == 0 && size + 2 <= max_size) { /* wrap in an array */
        memmove(data + 1, data, size);
        data[0] = '[';
        data[size + 1] = ']';
        return size + 2;
    }
    if (choice == 1 && size + 6 <= max_size) { /* wrap as a member's value */
        memmove(data + 5, data, size);
        memcpy(data, "{\"a\":", 5);
        data[size + 5] = '}';
        return size + 6;
    }
    if (choice == 2 && size > 2 && size * 2 - 1 <= max_size && data[0] == '{' &&
        data[size - 1] == '}') { /* {m} becomes {m,m}: every name twice */
        data[size - 1] = ',';
        memcpy(data + size, data + 1, size - 2);
        data[2 * size - 2] = '}';
        return size * 2 - 1;
    }
    if (choice == 3) { /* splice a token that reaches a rule */
        const char *s = splices[pick % (sizeof splices / sizeof *splices)];
        size_t k = strlen(s);
        if (size + k <= max_size) {
            memmove(data + at + k, data + at, size - at);
            memcpy(data + at, s, k);
            return size + k;
        }
    }
    return LLVMFuzzerMutate(data, size, max_size);
}
