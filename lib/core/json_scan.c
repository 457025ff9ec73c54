/*
 * json_scan.c: the strict JSON recogniser that runs before cJSON.
 *
 * Spec: RFC 8259 (JSON); UTF-8 as Unicode Table 3-7 defines it; cJSON 1.7
 * (cJSON.c, parse_value() and friends) as the parser it must be at least
 * as strict as.  Users: jwt.c (header and payload) and msg_codec.c (the
 * message envelope); core_int.h documents the interface.
 *
 * Why it exists: cJSON returns NULL both for bad JSON and for a failed
 * allocation.  A text this scanner accepted cannot make cJSON fail for
 * any reason but memory, so callers map a NULL from cJSON to RT_ENOMEM
 * without peeking at cJSON's globals.  Each point where cJSON would refuse
 * (raw control characters in strings, bad escapes, lone surrogates, a
 * BOM, leading zeros, numbers over 63 characters, trailing data) is
 * refused here too; the scan is stricter on UTF-8 unless told not to be.
 *
 * Invariants:
 * - One linear pass; no allocation; no recursion.  The open containers
 *   live in a stack of at most RT__JSON_MAX_DEPTH bytes, and the depth a
 *   caller asks for is clamped to that, so cJSON's own recursion (one
 *   frame per level) is bounded by the scan that ran first.
 * - On an error res->pos is the offset of the byte that made the text
 *   invalid (for an escape: its backslash; for a number: its end).
 * - The |find| member is located by its decoded name, so "d\u0061ta" is
 *   "data" here as it is to cJSON.  With duplicates, the last one is
 *   reported (callers that care refuse duplicates on the tree).
 */
#include <string.h>

#include "core_int.h"

typedef struct scanner {
    const unsigned char *s;
    size_t n;
    size_t pos;
    unsigned flags;
    const char *find;
    rt__json_scan_res *r;
    int find_next; /* the value being started is the |find| member's */
    int find_open; /* inside that value */
} scanner;

/* Bytes a string may hold as they are: ASCII from 0x20 but '"' and '\\'. */
static const unsigned char plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x80 and up: UTF-8, checked apart */
};

static void skip_ws(scanner *sc)
{
    size_t start = sc->pos;

    while (sc->pos < sc->n) {
        unsigned char c = sc->s[sc->pos];

        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        sc->pos++;
    }
    if (sc->pos != start && sc->find_open)
        sc->r->found_ws = 1;
}

/* Read the 4 hex digits at s[at] (of |n|); 0 when they are not there. */
static int hex4(const unsigned char *s, size_t n, size_t at, unsigned *out)
{
    unsigned v = 0;
    size_t i;
    int d;

    if (at > n || n - at < 4)
        return 0;
    for (i = 0; i < 4; i++) {
        d = rt__hexval(s[at + i]);
        if (d < 0)
            return 0;
        v = v << 4 | (unsigned)d;
    }
    *out = v;
    return 1;
}

/* At the opening quote; returns NULL or why the string is refused. */
static const char *scan_string(scanner *sc)
{
    const unsigned char *s = sc->s;
    unsigned u, lo;
    size_t l;

    sc->pos++;
    for (;;) {
        size_t pos = sc->pos, n = sc->n;
        unsigned char c;

        /* The common case first: a run of plain bytes. */
        while (pos < n && plain[s[pos]])
            pos++;
        sc->pos = pos;
        if (sc->pos >= sc->n)
            return "unterminated string";
        c = s[sc->pos];
        if (c == '"') {
            sc->pos++;
            return NULL;
        }
        if (c < 0x20)
            return "control character in a string";
        if (c >= 0x80) {
            if (sc->flags & RT__JSON_RAW_BYTES)
                l = 1;
            else if ((l = rt__utf8_len(s + sc->pos, sc->n - sc->pos, NULL)) ==
                     0)
                return "ill-formed UTF-8 in a string";
            sc->pos += l;
            continue;
        }
        /* c is the backslash: plain[] took every other ASCII byte. */
        if (sc->pos + 1 >= sc->n)
            return "unterminated string";
        c = s[sc->pos + 1];
        if (c != 'u') {
            if (c != '"' && c != '\\' && c != '/' && c != 'b' && c != 'f' &&
                c != 'n' && c != 'r' && c != 't')
                return "bad escape in a string";
            sc->pos += 2;
            continue;
        }
        if (!hex4(s, sc->n, sc->pos + 2, &u))
            return "bad \\u escape in a string";
        if (u == 0) {
            if (sc->flags & RT__JSON_NO_NUL)
                return "\\u0000 in a string";
            sc->r->has_nul = 1;
        }
        sc->pos += 6;
        if (u >= 0xDC00 && u <= 0xDFFF)
            return "lone surrogate in a string";
        if (u >= 0xD800 && u <= 0xDBFF) {
            /* cJSON needs the low half right after, as RFC 8259 intends. */
            if (sc->pos + 1 >= sc->n || s[sc->pos] != '\\' ||
                s[sc->pos + 1] != 'u' || !hex4(s, sc->n, sc->pos + 2, &lo) ||
                lo < 0xDC00 || lo > 0xDFFF)
                return "lone surrogate in a string";
            sc->pos += 6;
        }
    }
}

static int is_digit(const scanner *sc)
{
    return sc->pos < sc->n && sc->s[sc->pos] >= '0' && sc->s[sc->pos] <= '9';
}

static const char *scan_number(scanner *sc)
{
    size_t start = sc->pos;

    if (sc->s[sc->pos] == '-')
        sc->pos++;
    if (!is_digit(sc))
        return "bad number";
    if (sc->s[sc->pos] == '0')
        sc->pos++;
    else
        while (is_digit(sc))
            sc->pos++;
    if (sc->pos < sc->n && sc->s[sc->pos] == '.') {
        sc->pos++;
        if (!is_digit(sc))
            return "bad number";
        while (is_digit(sc))
            sc->pos++;
    }
    if (sc->pos < sc->n && (sc->s[sc->pos] == 'e' || sc->s[sc->pos] == 'E')) {
        sc->pos++;
        if (sc->pos < sc->n &&
            (sc->s[sc->pos] == '+' || sc->s[sc->pos] == '-'))
            sc->pos++;
        if (!is_digit(sc))
            return "bad number";
        while (is_digit(sc))
            sc->pos++;
    }
    /* cJSON copies at most 63 characters of a number before strtod. */
    if (sc->pos - start > 63)
        return "number longer than 63 characters";
    return NULL;
}

static const char *scan_literal(scanner *sc)
{
    static const char *const lits[] = {"true", "false", "null"};
    size_t i, l;

    for (i = 0; i < 3; i++) {
        l = strlen(lits[i]);
        if (sc->n - sc->pos >= l && memcmp(sc->s + sc->pos, lits[i], l) == 0) {
            sc->pos += l;
            return NULL;
        }
    }
    return "unexpected character";
}

/*
 * Whether the string token s[0..len) (quotes included, already checked)
 * decodes to the ASCII text |want|, escapes and all, as cJSON decodes it.
 */
static int key_is(const unsigned char *s, size_t len, const char *want)
{
    static const char simple[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
    const unsigned char *w = (const unsigned char *)want;
    size_t i = 1, k;
    unsigned u;

    while (i < len - 1) {
        unsigned c = s[i++];

        if (*w == '\0')
            return 0;
        if (c == '\\') {
            c = s[i++];
            if (c == 'u') {
                /* Past 0x7F (a surrogate pair too) it is no ASCII byte. */
                if (!hex4(s, len, i, &u) || u > 0x7F)
                    return 0;
                c = u;
                i += 4;
            } else {
                for (k = 0; simple[k] != '\0'; k += 2)
                    if ((unsigned char)simple[k] == c)
                        break;
                if (simple[k] == '\0')
                    return 0;
                c = (unsigned char)simple[k + 1];
            }
        }
        if (c != *w++)
            return 0;
    }
    return *w == '\0';
}

/*
 * The scan proper: exactly one value plus whitespace, at most |max_depth|
 * containers deep.  Returns NULL or why the input is refused.
 */
static const char *scan(scanner *sc, unsigned max_depth)
{
    enum { S_VALUE, S_KEY, S_AFTER } st = S_VALUE;
    unsigned char stack[RT__JSON_MAX_DEPTH];
    rt__json_scan_res *r = sc->r;
    unsigned depth = 0;
    const char *why;
    unsigned char c;
    size_t start;

    skip_ws(sc);
    r->start = sc->pos;
    if ((sc->flags & RT__JSON_OBJECT) &&
        (sc->pos >= sc->n || sc->s[sc->pos] != '{'))
        return "not a JSON object";
    for (;;) {
        if (st == S_AFTER && depth == 1 && sc->find_open) {
            sc->find_open = 0;
            r->found = 1;
            r->found_end = sc->pos;
        }
        if (st == S_AFTER && depth == 0)
            break;
        skip_ws(sc);
        if (sc->pos >= sc->n)
            return "truncated input";
        c = sc->s[sc->pos];
        why = NULL;
        switch (st) {
        case S_VALUE:
            if (sc->find_next) {
                sc->find_next = 0;
                sc->find_open = 1;
                r->found_ws = 0;
                r->found_start = sc->pos;
            }
            if (c == '{' || c == '[') {
                if (depth >= max_depth)
                    return "nested too deeply";
                stack[depth++] = c;
                sc->pos++;
                skip_ws(sc);
                if (sc->pos < sc->n &&
                    sc->s[sc->pos] == (c == '{' ? '}' : ']')) {
                    sc->pos++;
                    depth--;
                    st = S_AFTER;
                } else
                    st = c == '{' ? S_KEY : S_VALUE;
                continue;
            }
            if (c == '"')
                why = scan_string(sc);
            else if (c == '-' || (c >= '0' && c <= '9'))
                why = scan_number(sc);
            else
                why = scan_literal(sc);
            st = S_AFTER;
            break;
        case S_KEY:
            if (c != '"')
                return "expected a member name";
            start = sc->pos;
            why = scan_string(sc);
            if (why != NULL)
                return why;
            sc->find_next = sc->find != NULL && depth == 1 &&
                            key_is(sc->s + start, sc->pos - start, sc->find);
            skip_ws(sc);
            if (sc->pos >= sc->n)
                return "truncated input";
            if (sc->s[sc->pos] != ':')
                return "expected ':'";
            sc->pos++;
            st = S_VALUE;
            break;
        case S_AFTER:
            if (c == ',') {
                sc->pos++;
                st = stack[depth - 1] == '{' ? S_KEY : S_VALUE;
            } else if ((c == '}' && stack[depth - 1] == '{') ||
                       (c == ']' && stack[depth - 1] == '[')) {
                sc->pos++;
                depth--;
            } else
                return "expected ',' or a closing bracket";
            break;
        }
        if (why != NULL)
            return why;
    }
    r->end = sc->pos;
    skip_ws(sc);
    if (sc->pos != sc->n)
        return sc->flags & RT__JSON_OBJECT ? "trailing data after the object"
                                           : "trailing data after the value";
    return NULL;
}

int rt__json_scan(const char *text, size_t len, const rt__json_scan_opts *o,
                  rt__json_scan_res *res, const char **why)
{
    rt__json_scan_res dummy;
    const char *w;
    unsigned max_depth = RT__JSON_MAX_DEPTH;
    scanner sc;

    if (res == NULL)
        res = &dummy;
    memset(res, 0, sizeof(*res));
    memset(&sc, 0, sizeof(sc));
    sc.s = (const unsigned char *)text;
    sc.n = text != NULL ? len : 0;
    sc.r = res;
    if (o != NULL) {
        sc.flags = o->flags;
        sc.find = o->find;
        if (o->max_depth > 0 && o->max_depth < RT__JSON_MAX_DEPTH)
            max_depth = o->max_depth;
    }
    w = scan(&sc, max_depth);
    res->pos = sc.pos;
    if (why != NULL)
        *why = w;
    if (w != NULL) {
        res->found = 0;
        return RT_EPROTO;
    }
    return 0;
}
