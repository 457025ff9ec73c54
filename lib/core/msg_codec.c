/*
 * msg_codec.c: the JSON envelope of the rtctl wire protocol <-> rt_msg.
 *
 * Spec: /work/shared/PROTOCOL.md sections 3 (messages), 4 (resume) and 5
 * (error codes); JSON is RFC 8259, UTF-8 is Unicode Table 3-7.
 *
 * Parsing runs in three steps:
 *  1. A length check against max_bytes (too_large).
 *  2. rt__json_scan() (json_scan.c): one linear pass with an explicit,
 *     bounded stack that checks the whole JSON grammar, the nesting depth,
 *     UTF-8, escapes and number lengths.  It is at least as strict as
 *     cJSON on every point (raw control characters, a BOM, lone
 *     surrogates, leading zeros and the like are refused there), so that
 *     once it passes, a NULL from cJSON can only mean that an allocation
 *     failed: this is how RT_ENOMEM is told apart from bad_json without
 *     peeking at cJSON's globals.  The same pass notes where the value of
 *     the top-level "data" member lies, so its raw text is the sender's
 *     and not cJSON's reprint.
 *  3. cJSON builds the tree (its recursion is bounded by step 2), build()
 *     checks the protocol and pack() copies every string the message keeps
 *     into the same allocation as the struct.
 *
 * Invariants:
 *  - A parsed rt_msg is one block: the struct, then the online[] pointer
 *    array, then the strings.  rt_msg_free() is one rt__free(); rt_msg_dup()
 *    is pack() again.  No partially built message is ever visible.
 *  - No string of a parsed message holds a NUL byte (\u0000 is refused), so
 *    strlen() of each is its length.
 *  - data is the sender's bytes of the data object with the whitespace
 *    between tokens removed (or "{}"), and encoding writes it back
 *    verbatim, so parse(encode(parse(x))) gives the same message as
 *    parse(x), and encode is then a fixed point.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core_int.h"
#include "rt/msg.h"

/* 2^53 - 1: the largest integer every double between 0 and it can hold. */
#define MAX_SAFE_INT 9007199254740991.0
#define MAX_SAFE_U64 UINT64_C(9007199254740991)
/* Timestamps: milliseconds below 10^14 keep 3 decimals exact in a double. */
#define TS_LIMIT_MS 100000000000000.0
#define MAX_NAME_BYTES 64
#define MAX_EPOCH_BYTES 32
#define MAX_PING_INTERVAL 2147483647.0

/* The scan's stack must hold the deepest message the limits allow. */
_Static_assert(RT_MSG_MAX_DEPTH <= RT__JSON_MAX_DEPTH,
               "RT_MSG_MAX_DEPTH exceeds the JSON scanner's stack");

static const char *const type_names[] = {
    "text", "presence", "typing", "system", "error", "ack",
};

#define N_TYPES (sizeof(type_names) / sizeof(type_names[0]))

/* ------------------------------------------------------------------ */
/* Names */

const char *rt_msg_type_name(rt_msg_type type)
{
    if ((unsigned)type >= N_TYPES)
        return "unknown";
    return type_names[type];
}

const char *rt_msg_code_name(rt_msg_code code)
{
    switch (code) {
#define RT_MSG_XX_(name, str) \
    case RT_MSG_CODE_##name:  \
        return str;
        RT_MSG_CODE_MAP(RT_MSG_XX_)
#undef RT_MSG_XX_
    default:
        return "unknown";
    }
}

rt_msg_code rt_msg_code_from_name(const char *name)
{
    if (name == NULL)
        return RT_MSG_CODE_NONE;
#define RT_MSG_XX_(id, str)     \
    if (strcmp(name, str) == 0) \
        return RT_MSG_CODE_##id;
    RT_MSG_CODE_MAP(RT_MSG_XX_)
#undef RT_MSG_XX_
    return RT_MSG_CODE_NONE;
}

/* ------------------------------------------------------------------ */
/* Defaults */

void rt_msg_limits_init(rt_msg_limits *lim)
{
    lim->max_bytes = 65536;
    lim->max_depth = 32;
    lim->max_id_bytes = 128;
}

void rt_msg_init(rt_msg *m, rt_msg_type type)
{
    memset(m, 0, sizeof(*m));
    m->type = type;
}

static void resolve_limits(rt_msg_limits *l, const rt_msg_limits *user)
{
    rt_msg_limits_init(l);
    if (user == NULL)
        return;
    if (user->max_bytes)
        l->max_bytes = user->max_bytes;
    if (user->max_depth)
        l->max_depth = user->max_depth;
    if (user->max_id_bytes)
        l->max_id_bytes = user->max_id_bytes;
    if (l->max_depth > RT_MSG_MAX_DEPTH)
        l->max_depth = RT_MSG_MAX_DEPTH;
}

/* ------------------------------------------------------------------ */
/* Errors */

static int fail(rt_msg_error *err, rt_msg_code code, int rc, const char *fmt,
                ...) RT__PRINTF(4, 5);

static int fail(rt_msg_error *err, rt_msg_code code, int rc, const char *fmt,
                ...)
{
    va_list ap;

    if (err != NULL) {
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int nomem(rt_msg_error *err)
{
    return fail(err, RT_MSG_CODE_NONE, RT_ENOMEM, "out of memory");
}

/* bad_message about member |name| of the envelope (|where| "") or data. */
static int bad_field(rt_msg_error *err, const char *where, const char *name,
                     const char *what)
{
    return fail(err, RT_MSG_CODE_BAD_MESSAGE, RT_EPROTO, "%s%s: %s", where,
                name, what);
}

/* ------------------------------------------------------------------ */
/* Field checks shared by parse and encode */

/* [A-Za-z0-9._-]{1,max} when |punct|, else [A-Za-z0-9]{1,max}. */
static int valid_name(const char *s, size_t max, int punct)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++) {
        char c = s[i];

        if (i >= max)
            return 0;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
            (c >= '0' && c <= '9'))
            continue;
        if (punct && (c == '.' || c == '_' || c == '-'))
            continue;
        return 0;
    }
    return i > 0;
}

static int valid_user(const char *s)
{
    return valid_name(s, MAX_NAME_BYTES, 1);
}

/* Round |ts| to milliseconds; 0 when it is out of range. */
static int ts_to_ms(double ts, uint64_t *ms)
{
    double x;

    if (!(ts >= 0.0))
        return 0;
    x = ts * 1000.0 + 0.5;
    if (!(x < TS_LIMIT_MS))
        return 0;
    *ms = (uint64_t)x;
    return 1;
}

/* ------------------------------------------------------------------ */
/* Step 3: member access on the cJSON tree */

/*
 * Find member |name| of |obj| (which may be NULL: no members).  A member
 * we read must not be duplicated, or two readers could disagree on it.
 */
static int member(const cJSON *obj, const char *where, const char *name,
                  const cJSON **out, rt_msg_error *err)
{
    const cJSON *c, *found = NULL;

    *out = NULL;
    if (obj == NULL)
        return 0;
    for (c = obj->child; c != NULL; c = c->next) {
        if (c->string == NULL || strcmp(c->string, name) != 0)
            continue;
        if (found != NULL)
            return bad_field(err, where, name, "duplicate member");
        found = c;
    }
    *out = found;
    return 0;
}

static int get_str(const cJSON *obj, const char *where, const char *name,
                   int required, const char **out, rt_msg_error *err)
{
    const cJSON *it;
    int rc;

    *out = NULL;
    if ((rc = member(obj, where, name, &it, err)) != 0)
        return rc;
    if (it == NULL)
        return required ? bad_field(err, where, name, "missing") : 0;
    if (!cJSON_IsString(it) || it->valuestring == NULL)
        return bad_field(err, where, name, "not a string");
    *out = it->valuestring;
    return 0;
}

static int get_user(const cJSON *obj, const char *where, const char *name,
                    int required, const char **out, rt_msg_error *err)
{
    int rc = get_str(obj, where, name, required, out, err);

    if (rc == 0 && *out != NULL && !valid_user(*out))
        return bad_field(err, where, name,
                         "not a user name ([A-Za-z0-9._-]{1,64})");
    return rc;
}

/* An integer 0..|max| (at most 2^53 - 1). */
static int get_uint(const cJSON *obj, const char *where, const char *name,
                    int required, double max, int *has, uint64_t *out,
                    rt_msg_error *err)
{
    const cJSON *it;
    double d;
    int rc;

    if (has != NULL)
        *has = 0;
    *out = 0;
    if ((rc = member(obj, where, name, &it, err)) != 0)
        return rc;
    if (it == NULL)
        return required ? bad_field(err, where, name, "missing") : 0;
    if (!cJSON_IsNumber(it))
        return bad_field(err, where, name, "not a number");
    d = it->valuedouble;
    if (!(d >= 0.0 && d <= max) || (double)(uint64_t)d != d)
        return max == MAX_SAFE_INT
                   ? bad_field(err, where, name,
                               "not an integer from 0 to 2^53-1")
                   : bad_field(err, where, name, "out of range");
    *out = (uint64_t)d;
    if (has != NULL)
        *has = 1;
    return 0;
}

static int get_bool(const cJSON *obj, const char *where, const char *name,
                    int *out, rt_msg_error *err)
{
    const cJSON *it;
    int rc;

    *out = 0;
    if ((rc = member(obj, where, name, &it, err)) != 0)
        return rc;
    if (it == NULL)
        return bad_field(err, where, name, "missing");
    if (!cJSON_IsBool(it))
        return bad_field(err, where, name, "not a boolean");
    *out = cJSON_IsTrue(it) ? 1 : 0;
    return 0;
}

/*
 * An array of user names.  *names (borrowed strings, pointer array from
 * rt__malloc) is freed by the caller even on failure.
 */
static int get_users(const cJSON *obj, const char *where, const char *name,
                     int required, const char ***names, size_t *count,
                     rt_msg_error *err)
{
    const cJSON *it, *c;
    size_t n = 0, i = 0;
    int rc;

    *count = 0;
    if ((rc = member(obj, where, name, &it, err)) != 0)
        return rc;
    if (it == NULL)
        return required ? bad_field(err, where, name, "missing") : 0;
    if (!cJSON_IsArray(it))
        return bad_field(err, where, name, "not an array");
    for (c = it->child; c != NULL; c = c->next)
        n++;
    *names = rt__reallocarray(NULL, n, sizeof(**names));
    if (*names == NULL)
        return nomem(err);
    for (c = it->child; c != NULL; c = c->next) {
        if (!cJSON_IsString(c) || !valid_user(c->valuestring))
            return bad_field(err, where, name,
                             "holds something other than a user name");
        (*names)[i++] = c->valuestring;
    }
    *count = n;
    return 0;
}

/* ------------------------------------------------------------------ */
/* One-block messages */

/* The string members |m| uses, by type; returns their count (<= 6). */
static size_t string_slots(rt_msg *m, const char **slots[6])
{
    size_t n = 0;

    slots[n++] = &m->id;
    slots[n++] = &m->room;
    switch (m->type) {
    case RT_MSG_TEXT:
        slots[n++] = &m->u.text.content;
        break;
    case RT_MSG_ACK:
        slots[n++] = &m->u.ack.status;
        break;
    case RT_MSG_TYPING:
        slots[n++] = &m->u.typing.user;
        break;
    case RT_MSG_PRESENCE:
        slots[n++] = &m->u.presence.user;
        slots[n++] = &m->u.presence.reason;
        break;
    case RT_MSG_SYSTEM:
        if (m->u.system.event == RT_MSG_SYSTEM_WELCOME) {
            slots[n++] = &m->u.system.welcome.user;
            slots[n++] = &m->u.system.welcome.epoch;
        }
        break;
    case RT_MSG_ERROR:
        slots[n++] = &m->u.error.message;
        break;
    }
    return n;
}

/* The online list |m| uses, if any. */
static int online_slot(rt_msg *m, const char *const ***list, size_t **count)
{
    if (m->type == RT_MSG_PRESENCE &&
        m->u.presence.event == RT_MSG_PRESENCE_SNAPSHOT) {
        *list = &m->u.presence.online;
        *count = &m->u.presence.n_online;
        return 1;
    }
    if (m->type == RT_MSG_SYSTEM &&
        m->u.system.event == RT_MSG_SYSTEM_WELCOME) {
        *list = &m->u.system.welcome.online;
        *count = &m->u.system.welcome.n_online;
        return 1;
    }
    return 0;
}

static int add_size(size_t *total, size_t more)
{
    if (more > SIZE_MAX - *total)
        return 0;
    *total += more;
    return 1;
}

static char *put(char **p, const char *s, size_t len)
{
    char *d = *p;

    memcpy(d, s, len);
    d[len] = '\0';
    *p += len + 1;
    return d;
}

/*
 * Copy |src| and every string it points at into one allocation.  Only the
 * strings its type and event use are copied; the others are cleared.
 */
static int pack(const rt_msg *src, rt_msg **out)
{
    rt_msg tmp = *src, *m;
    const char **slots[6];
    const char *const *list = NULL;
    const char *const **lslot = NULL;
    size_t *cslot = NULL, count = 0, nslots, total = sizeof(rt_msg), i;
    char *p;
    const char **arr;

    nslots = string_slots(&tmp, slots);
    if ((unsigned)tmp.type >= N_TYPES)
        return RT_EINVAL;
    if (online_slot(&tmp, &lslot, &cslot)) {
        list = *lslot;
        count = list != NULL ? *cslot : 0;
    }
    if (count > (SIZE_MAX - total) / sizeof(char *))
        return RT_ENOMEM;
    total += count * sizeof(char *);
    for (i = 0; i < count; i++)
        if (list[i] == NULL || !add_size(&total, strlen(list[i]) + 1))
            return list[i] == NULL ? RT_EINVAL : RT_ENOMEM;
    for (i = 0; i < nslots; i++)
        if (*slots[i] != NULL && !add_size(&total, strlen(*slots[i]) + 1))
            return RT_ENOMEM;
    if (tmp.data != NULL &&
        (tmp.data_len == SIZE_MAX || !add_size(&total, tmp.data_len + 1)))
        return RT_ENOMEM;

    m = rt__malloc(total);
    if (m == NULL)
        return RT_ENOMEM;
    *m = tmp;
    p = (char *)(m + 1);
    if (lslot != NULL) {
        arr = NULL;
        if (count > 0) {
            arr = (const char **)(void *)p;
            p += count * sizeof(char *);
            for (i = 0; i < count; i++)
                arr[i] = put(&p, list[i], strlen(list[i]));
        }
        online_slot(m, &lslot, &cslot);
        *lslot = arr;
        *cslot = count;
    }
    nslots = string_slots(m, slots);
    for (i = 0; i < nslots; i++)
        if (*slots[i] != NULL)
            *slots[i] = put(&p, *slots[i], strlen(*slots[i]));
    if (m->data != NULL)
        m->data = put(&p, m->data, m->data_len);
    *out = m;
    return 0;
}

int rt_msg_dup(rt_msg **out, const rt_msg *m)
{
    if (out == NULL || m == NULL)
        return RT_EINVAL;
    return pack(m, out);
}

void rt_msg_free(rt_msg *m)
{
    rt__free(m);
}

/* ------------------------------------------------------------------ */
/* Parse */

static int lookup_type(const char *s, rt_msg_type *t)
{
    size_t i;

    for (i = 0; i < N_TYPES; i++)
        if (strcmp(s, type_names[i]) == 0) {
            *t = (rt_msg_type)i;
            return 1;
        }
    return 0;
}

static int view_presence(rt_msg *m, const cJSON *d, rt_msg_dir dir,
                         const char ***names, rt_msg_error *err)
{
    const char *ev;
    int rc;

    /* A client's presence frame is a request; its data is not read. */
    m->u.presence.event = RT_MSG_PRESENCE_REQUEST;
    if (dir == RT_MSG_FROM_CLIENT)
        return 0;
    if ((rc = get_str(d, "data.", "event", 1, &ev, err)) != 0)
        return rc;
    if (strcmp(ev, "join") == 0 || strcmp(ev, "leave") == 0) {
        m->u.presence.event =
            ev[0] == 'j' ? RT_MSG_PRESENCE_JOIN : RT_MSG_PRESENCE_LEAVE;
        if ((rc = get_user(d, "data.", "user", 1, &m->u.presence.user, err)) !=
            0)
            return rc;
        if (ev[0] == 'l')
            return get_str(d, "data.", "reason", 0, &m->u.presence.reason,
                           err);
        return 0;
    }
    if (strcmp(ev, "snapshot") == 0) {
        m->u.presence.event = RT_MSG_PRESENCE_SNAPSHOT;
        rc = get_users(d, "data.", "online", 1, names, &m->u.presence.n_online,
                       err);
        m->u.presence.online = *names;
        return rc;
    }
    return bad_field(err, "data.", "event", "unknown presence event");
}

static int view_system(rt_msg *m, const cJSON *d, const char ***names,
                       rt_msg_error *err)
{
    const char *ev;
    uint64_t ping;
    int rc;

    if ((rc = get_str(d, "data.", "event", 1, &ev, err)) != 0)
        return rc;
    if (strcmp(ev, "welcome") == 0) {
        m->u.system.event = RT_MSG_SYSTEM_WELCOME;
        if ((rc = get_user(d, "data.", "user", 1, &m->u.system.welcome.user,
                           err)) != 0 ||
            (rc = get_str(d, "data.", "epoch", 1, &m->u.system.welcome.epoch,
                          err)) != 0)
            return rc;
        if (!valid_name(m->u.system.welcome.epoch, MAX_EPOCH_BYTES, 0))
            return bad_field(err, "data.", "epoch",
                             "not an epoch ([A-Za-z0-9]{1,32})");
        if ((rc = get_uint(d, "data.", "seq", 1, MAX_SAFE_INT, NULL,
                           &m->u.system.welcome.seq, err)) != 0 ||
            (rc = get_uint(d, "data.", "ping_interval", 0, MAX_PING_INTERVAL,
                           NULL, &ping, err)) != 0 ||
            (rc = get_users(d, "data.", "online", 0, names,
                            &m->u.system.welcome.n_online, err)) != 0 ||
            (rc = get_uint(d, "data.", "online_count", 0, MAX_SAFE_INT,
                           &m->u.system.welcome.has_online_count,
                           &m->u.system.welcome.online_count, err)) != 0)
            return rc;
        m->u.system.welcome.ping_interval = (unsigned)ping;
        m->u.system.welcome.online = *names;
        return 0;
    }
    if (strcmp(ev, "resumed") == 0) {
        m->u.system.event = RT_MSG_SYSTEM_RESUMED;
        if ((rc = get_uint(d, "data.", "from", 1, MAX_SAFE_INT, NULL,
                           &m->u.system.resumed.from, err)) != 0 ||
            (rc = get_uint(d, "data.", "to", 1, MAX_SAFE_INT, NULL,
                           &m->u.system.resumed.to, err)) != 0)
            return rc;
        return get_bool(d, "data.", "recovered",
                        &m->u.system.resumed.recovered, err);
    }
    /* Other system events are the protocol's extension point. */
    m->u.system.event = RT_MSG_SYSTEM_OTHER;
    return 0;
}

/* Fill the typed view of |m| from data object |d| (NULL when absent). */
static int view(rt_msg *m, const cJSON *d, rt_msg_dir dir, const char ***names,
                rt_msg_error *err)
{
    const char *code;
    int rc;

    switch (m->type) {
    case RT_MSG_TEXT:
        return get_str(d, "data.", "content", 1, &m->u.text.content, err);
    case RT_MSG_TYPING:
        if ((rc = get_bool(d, "data.", "state", &m->u.typing.state, err)) != 0)
            return rc;
        if (dir == RT_MSG_FROM_SERVER)
            return get_user(d, "data.", "user", 0, &m->u.typing.user, err);
        return get_str(d, "data.", "user", 0, &m->u.typing.user, err);
    case RT_MSG_PRESENCE:
        return view_presence(m, d, dir, names, err);
    case RT_MSG_SYSTEM:
        return view_system(m, d, names, err);
    case RT_MSG_ERROR:
        if ((rc = get_str(d, "data.", "code", 1, &code, err)) != 0)
            return rc;
        m->u.error.code = rt_msg_code_from_name(code);
        return get_str(d, "data.", "message", 0, &m->u.error.message, err);
    case RT_MSG_ACK:
        if ((rc = get_str(d, "data.", "status", 1, &m->u.ack.status, err)) !=
            0)
            return rc;
        return get_uint(d, "data.", "seq", 0, MAX_SAFE_INT, &m->u.ack.has_seq,
                        &m->u.ack.seq, err);
    }
    return RT_EINVAL;
}

static int envelope(rt_msg *m, const cJSON *root, rt_msg_dir dir,
                    const rt_msg_limits *lim, const cJSON **data,
                    rt_msg_error *err)
{
    const char *type;
    const cJSON *it;
    uint64_t ms;
    int rc;

    if ((rc = get_str(root, "", "type", 1, &type, err)) != 0)
        return rc;
    if (!lookup_type(type, &m->type))
        return fail(err, RT_MSG_CODE_BAD_MESSAGE, RT_EPROTO,
                    "type: unknown type \"%.40s\"", type);
    if (dir == RT_MSG_FROM_CLIENT && m->type != RT_MSG_TEXT &&
        m->type != RT_MSG_TYPING && m->type != RT_MSG_PRESENCE)
        return fail(err, RT_MSG_CODE_BAD_MESSAGE, RT_EPROTO,
                    "type: \"%s\" is not sent by clients", type);
    if ((rc = get_str(root, "", "id", 0, &m->id, err)) != 0)
        return rc;
    if (m->id != NULL && strlen(m->id) > lim->max_id_bytes)
        return fail(err, RT_MSG_CODE_BAD_MESSAGE, RT_EPROTO,
                    "id: longer than %zu bytes", lim->max_id_bytes);
    if ((rc = get_str(root, "", "room", 0, &m->room, err)) != 0)
        return rc;
    if (m->room != NULL && !valid_user(m->room))
        return bad_field(err, "", "room",
                         "not a room name ([A-Za-z0-9._-]{1,64})");
    if ((rc = get_uint(root, "", "seq", 0, MAX_SAFE_INT, &m->has_seq, &m->seq,
                       err)) != 0)
        return rc;
    if ((rc = member(root, "", "timestamp", &it, err)) != 0)
        return rc;
    if (it != NULL) {
        if (!cJSON_IsNumber(it) || !ts_to_ms(it->valuedouble, &ms))
            return bad_field(err, "", "timestamp",
                             "not a number of seconds from 0 to 1e11");
        m->has_timestamp = 1;
        m->timestamp = it->valuedouble;
    }
    if ((rc = member(root, "", "data", data, err)) != 0)
        return rc;
    if (*data != NULL && !cJSON_IsObject(*data))
        return bad_field(err, "", "data", "not an object");
    return 0;
}

/* A byte a JSON string holds as it is: ASCII from 0x20 but '"' and '\\'. */
static int is_plain(char ch)
{
    unsigned char c = (unsigned char)ch;

    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/*
 * Copy the JSON text s[0..len) to |dst| without the whitespace between
 * tokens; returns the new length.  The text was checked by rt__json_scan().
 */
static size_t compact(const char *s, size_t len, char *dst)
{
    size_t i, n = 0;
    int in_str = 0;

    for (i = 0; i < len; i++) {
        char c = s[i];

        if (in_str && is_plain(c)) {
            size_t j = i + 1;

            while (j < len && is_plain(s[j]))
                j++;
            memcpy(dst + n, s + i, j - i);
            n += j - i;
            i = j - 1;
            continue;
        }
        if (in_str) {
            if (c == '\\')
                dst[n++] = s[i++];
            else if (c == '"')
                in_str = 0;
        } else if (c == '"')
            in_str = 1;
        else if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            continue;
        dst[n++] = s[i];
    }
    return n;
}

/*
 * Check the protocol on the tree and pack the message.  The raw data is
 * the sender's own bytes of the data value (found by the scan), compacted:
 * numbers and escapes stay exactly as written, which cJSON's printer would
 * not guarantee (1.7.15 prints 9007199254740991 as 9.00719925474099e+15).
 */
static int build(const cJSON *root, const char *json,
                 const rt__json_scan_res *sc, rt_msg_dir dir,
                 const rt_msg_limits *lim, rt_msg **out, rt_msg_error *err)
{
    const char **names = NULL;
    const cJSON *data = NULL;
    char *text = NULL;
    rt_msg m;
    int rc;

    memset(&m, 0, sizeof(m));
    rc = envelope(&m, root, dir, lim, &data, err);
    if (rc == 0)
        rc = view(&m, data, dir, &names, err);
    if (rc == 0 && data != NULL) {
        size_t n = sc->found_end - sc->found_start;

        if (!sc->found) /* cJSON and the scan disagree */
            return fail(err, RT_MSG_CODE_BAD_JSON, RT_EPROTO,
                        "data: not found by the scan");
        text = rt__malloc(n);
        if (text == NULL)
            rc = nomem(err);
        else {
            m.data = text;
            if (sc->found_ws)
                m.data_len = compact(json + sc->found_start, n, text);
            else {
                memcpy(text, json + sc->found_start, n);
                m.data_len = n;
            }
        }
    } else if (rc == 0) {
        m.data = "{}";
        m.data_len = 2;
    }
    if (rc == 0) {
        rc = pack(&m, out);
        if (rc == RT_ENOMEM)
            nomem(err);
    }
    rt__free(text);
    rt__free(names);
    return rc;
}

int rt_msg_parse(rt_msg **out, const char *json, size_t len, rt_msg_dir dir,
                 const rt_msg_limits *lim, rt_msg_error *err)
{
    rt_msg_limits l;
    rt__json_scan_opts so;
    rt__json_scan_res sc;
    const char *why, *end = NULL;
    size_t vend = 0;
    cJSON *root;
    int rc;

    if (err != NULL) {
        err->code = RT_MSG_CODE_NONE;
        err->message[0] = '\0';
    }
    if (out == NULL || (json == NULL && len > 0) ||
        (dir != RT_MSG_FROM_CLIENT && dir != RT_MSG_FROM_SERVER))
        return fail(err, RT_MSG_CODE_NONE, RT_EINVAL, "invalid argument");
    resolve_limits(&l, lim);
    if (len > l.max_bytes)
        return fail(err, RT_MSG_CODE_TOO_LARGE, RT_ETOOBIG,
                    "frame of %zu bytes is over the limit of %zu", len,
                    l.max_bytes);

    so.flags = RT__JSON_OBJECT;
    so.max_depth = l.max_depth;
    so.find = "data";
    if (len == 0)
        return fail(err, RT_MSG_CODE_BAD_JSON, RT_EPROTO,
                    "empty frame at byte 0");
    if (rt__json_scan(json, len, &so, &sc, &why) != 0)
        return fail(err, RT_MSG_CODE_BAD_JSON, RT_EPROTO, "%s at byte %zu",
                    why, sc.pos);
    if (sc.has_nul)
        return fail(err, RT_MSG_CODE_BAD_MESSAGE, RT_EPROTO,
                    "\\u0000 in a string is not supported");
    vend = sc.end;

    root = cJSON_ParseWithLengthOpts(json, vend, &end, 0);
    if (root == NULL)
        return nomem(err); /* the scan vouched for the syntax */
    if (end != json + vend) {
        /* Unreachable unless cJSON and rt__json_scan() disagree. */
        cJSON_Delete(root);
        return fail(err, RT_MSG_CODE_BAD_JSON, RT_EPROTO,
                    "JSON parser stopped at byte %zu", (size_t)(end - json));
    }
    rc = build(root, json, &sc, dir, &l, out, err);
    cJSON_Delete(root);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Encode */

static int put_str(rt_buf *b, const char *s)
{
    return rt__buf_json_str(b, s, strlen(s));
}

/* ,"name": then a JSON string */
static int put_member_str(rt_buf *b, const char *name, const char *s)
{
    int rc = rt__buf_printf(b, ",\"%s\":", name);

    return rc != 0 ? rc : put_str(b, s);
}

static int put_users(rt_buf *b, const char *const *list, size_t n)
{
    size_t i;
    int rc = rt__buf_append(b, ",\"online\":[", 11);

    if (n > 0 && list == NULL)
        return RT_EINVAL;
    for (i = 0; rc == 0 && i < n; i++) {
        if (list[i] == NULL || !valid_user(list[i]))
            return RT_EINVAL;
        if (i > 0)
            rc = rt__buf_putc(b, ',');
        if (rc == 0)
            rc = put_str(b, list[i]);
    }
    return rc != 0 ? rc : rt__buf_putc(b, ']');
}

static int put_view_presence(rt_buf *b, const rt_msg *m)
{
    const char *ev;
    int rc;

    switch (m->u.presence.event) {
    case RT_MSG_PRESENCE_REQUEST:
        return rt__buf_append(b, "{}", 2);
    case RT_MSG_PRESENCE_JOIN:
        ev = "join";
        break;
    case RT_MSG_PRESENCE_LEAVE:
        ev = "leave";
        break;
    case RT_MSG_PRESENCE_SNAPSHOT:
        rc = rt__buf_append(b, "{\"event\":\"snapshot\"", 19);
        if (rc == 0)
            rc = put_users(b, m->u.presence.online, m->u.presence.n_online);
        return rc != 0 ? rc : rt__buf_putc(b, '}');
    default:
        return RT_EINVAL;
    }
    if (m->u.presence.user == NULL || !valid_user(m->u.presence.user))
        return RT_EINVAL;
    rc = rt__buf_printf(b, "{\"event\":\"%s\"", ev);
    if (rc == 0)
        rc = put_member_str(b, "user", m->u.presence.user);
    if (rc == 0 && m->u.presence.event == RT_MSG_PRESENCE_LEAVE &&
        m->u.presence.reason != NULL)
        rc = put_member_str(b, "reason", m->u.presence.reason);
    return rc != 0 ? rc : rt__buf_putc(b, '}');
}

static int put_view_system(rt_buf *b, const rt_msg *m)
{
    const char *user, *epoch;
    unsigned ping;
    int rc;

    if (m->u.system.event == RT_MSG_SYSTEM_RESUMED) {
        if (m->u.system.resumed.from > MAX_SAFE_U64 ||
            m->u.system.resumed.to > MAX_SAFE_U64)
            return RT_EINVAL;
        return rt__buf_printf(b,
                              "{\"event\":\"resumed\",\"from\":%" PRIu64
                              ",\"to\":%" PRIu64 ",\"recovered\":%s}",
                              m->u.system.resumed.from, m->u.system.resumed.to,
                              m->u.system.resumed.recovered ? "true"
                                                            : "false");
    }
    if (m->u.system.event != RT_MSG_SYSTEM_WELCOME)
        return RT_EINVAL;
    user = m->u.system.welcome.user;
    epoch = m->u.system.welcome.epoch;
    ping = m->u.system.welcome.ping_interval;
    if (user == NULL || !valid_user(user) || epoch == NULL ||
        !valid_name(epoch, MAX_EPOCH_BYTES, 0) ||
        m->u.system.welcome.seq > MAX_SAFE_U64 ||
        (double)ping > MAX_PING_INTERVAL ||
        (m->u.system.welcome.has_online_count &&
         m->u.system.welcome.online_count > MAX_SAFE_U64))
        return RT_EINVAL;
    rc = rt__buf_append(b, "{\"event\":\"welcome\"", 18);
    if (rc == 0)
        rc = put_member_str(b, "user", user);
    if (rc == 0)
        rc = put_member_str(b, "epoch", epoch);
    if (rc == 0)
        rc = rt__buf_printf(b, ",\"seq\":%" PRIu64, m->u.system.welcome.seq);
    if (rc == 0)
        rc = put_users(b, m->u.system.welcome.online,
                       m->u.system.welcome.n_online);
    if (rc == 0 && m->u.system.welcome.has_online_count)
        rc = rt__buf_printf(b, ",\"online_count\":%" PRIu64,
                            m->u.system.welcome.online_count);
    if (rc == 0 && ping > 0)
        rc = rt__buf_printf(b, ",\"ping_interval\":%u", ping);
    return rc != 0 ? rc : rt__buf_putc(b, '}');
}

/* Build the data object from the typed view. */
static int put_view(rt_buf *b, const rt_msg *m)
{
    int rc;

    switch (m->type) {
    case RT_MSG_TEXT:
        if (m->u.text.content == NULL)
            return RT_EINVAL;
        rc = rt__buf_append(b, "{\"content\":", 11);
        if (rc == 0)
            rc = put_str(b, m->u.text.content);
        break;
    case RT_MSG_ACK:
        if (m->u.ack.status == NULL ||
            (m->u.ack.has_seq && m->u.ack.seq > MAX_SAFE_U64))
            return RT_EINVAL;
        rc = rt__buf_append(b, "{\"status\":", 10);
        if (rc == 0)
            rc = put_str(b, m->u.ack.status);
        if (rc == 0 && m->u.ack.has_seq)
            rc = rt__buf_printf(b, ",\"seq\":%" PRIu64, m->u.ack.seq);
        break;
    case RT_MSG_TYPING:
        if (m->u.typing.user != NULL && !valid_user(m->u.typing.user))
            return RT_EINVAL;
        rc = rt__buf_putc(b, '{');
        if (rc == 0 && m->u.typing.user != NULL) {
            rc = rt__buf_append(b, "\"user\":", 7);
            if (rc == 0)
                rc = put_str(b, m->u.typing.user);
            if (rc == 0)
                rc = rt__buf_putc(b, ',');
        }
        if (rc == 0)
            rc = rt__buf_printf(b, "\"state\":%s",
                                m->u.typing.state ? "true" : "false");
        break;
    case RT_MSG_PRESENCE:
        return put_view_presence(b, m);
    case RT_MSG_SYSTEM:
        return put_view_system(b, m);
    case RT_MSG_ERROR:
        if (m->u.error.code <= RT_MSG_CODE_NONE ||
            m->u.error.code >= RT_MSG_CODE_COUNT_)
            return RT_EINVAL;
        rc = rt__buf_printf(b, "{\"code\":\"%s\"",
                            rt_msg_code_name(m->u.error.code));
        if (rc == 0 && m->u.error.message != NULL)
            rc = put_member_str(b, "message", m->u.error.message);
        break;
    default:
        return RT_EINVAL;
    }
    return rc != 0 ? rc : rt__buf_putc(b, '}');
}

/* Raw data must at least be bracketed as an object. */
static int looks_like_object(const char *s, size_t len)
{
    size_t i = 0, j = len;

    while (i < j &&
           (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    while (j > i && (s[j - 1] == ' ' || s[j - 1] == '\t' || s[j - 1] == '\n' ||
                     s[j - 1] == '\r'))
        j--;
    return j - i >= 2 && s[i] == '{' && s[j - 1] == '}';
}

int rt_msg_encode(const rt_msg *m, char **out, size_t *len)
{
    uint64_t ms = 0;
    rt_buf b;
    int rc;

    if (m == NULL || out == NULL || len == NULL ||
        (unsigned)m->type >= N_TYPES ||
        (m->room != NULL && !valid_user(m->room)) ||
        (m->has_seq && m->seq > MAX_SAFE_U64) ||
        (m->has_timestamp && !ts_to_ms(m->timestamp, &ms)) ||
        (m->data != NULL && !looks_like_object(m->data, m->data_len)))
        return RT_EINVAL;

    rt__buf_init(&b);
    rc = rt__buf_printf(&b, "{\"type\":\"%s\"", type_names[m->type]);
    if (rc == 0 && m->id != NULL)
        rc = put_member_str(&b, "id", m->id);
    if (rc == 0 && m->room != NULL)
        rc = put_member_str(&b, "room", m->room);
    if (rc == 0 && m->has_seq)
        rc = rt__buf_printf(&b, ",\"seq\":%" PRIu64, m->seq);
    if (rc == 0)
        rc = rt__buf_append(&b, ",\"data\":", 8);
    if (rc == 0)
        rc = m->data != NULL ? rt__buf_append(&b, m->data, m->data_len)
                             : put_view(&b, m);
    if (rc == 0 && m->has_timestamp)
        rc = rt__buf_printf(&b, ",\"timestamp\":%" PRIu64 ".%03u", ms / 1000,
                            (unsigned)(ms % 1000));
    if (rc == 0)
        rc = rt__buf_putc(&b, '}');
    if (rc == 0) {
        *out = rt__buf_detach(&b, len);
        if (*out == NULL)
            rc = RT_ENOMEM;
    }
    rt__buf_cleanup(&b);
    return rc;
}

int rt_msg_encode_error(rt_msg_code code, const char *id, const char *message,
                        char **out, size_t *len)
{
    rt_msg m;

    rt_msg_init(&m, RT_MSG_ERROR);
    m.id = id;
    m.u.error.code = code;
    m.u.error.message = message != NULL ? message : "";
    return rt_msg_encode(&m, out, len);
}

int rt_msg_encode_ack(const char *id, uint64_t seq, char **out, size_t *len)
{
    rt_msg m;

    rt_msg_init(&m, RT_MSG_ACK);
    m.id = id;
    m.u.ack.status = "delivered";
    m.u.ack.has_seq = 1;
    m.u.ack.seq = seq;
    return rt_msg_encode(&m, out, len);
}

int rt_msg_encode_text(const char *id, const char *content, char **out,
                       size_t *len)
{
    rt_msg m;

    if (content == NULL)
        return RT_EINVAL;
    rt_msg_init(&m, RT_MSG_TEXT);
    m.id = id;
    m.u.text.content = content;
    return rt_msg_encode(&m, out, len);
}

int rt_msg_encode_typing(const char *room, const char *user, int state,
                         char **out, size_t *len)
{
    rt_msg m;

    rt_msg_init(&m, RT_MSG_TYPING);
    m.room = room;
    m.u.typing.user = user;
    m.u.typing.state = state != 0;
    return rt_msg_encode(&m, out, len);
}

/* ------------------------------------------------------ HTTP answers */

int rt__msg_poll_open(rt_buf *b, const char *epoch)
{
    int rc = rt__buf_append(b, "{\"epoch\":", 9);

    rc |= rt__buf_json_str(b, epoch, strlen(epoch));
    rc |= rt__buf_append(b, ",\"messages\":[", 13);
    return rc ? RT_ENOMEM : 0;
}

int rt__msg_poll_close(rt_buf *b, uint64_t next, int recovered)
{
    return rt__buf_printf(b, "],\"next\":%" PRIu64 ",\"recovered\":%s}", next,
                          recovered ? "true" : "false")
               ? RT_ENOMEM
               : 0;
}

int rt__msg_published(rt_buf *b, uint64_t seq)
{
    return rt__buf_printf(b, "{\"seq\":%" PRIu64 "}", seq) ? RT_ENOMEM : 0;
}

int rt__msg_rooms_open(rt_buf *b)
{
    return rt__buf_append(b, "{\"rooms\":[", 10) ? RT_ENOMEM : 0;
}

int rt__msg_rooms_item(rt_buf *b, int first, const char *room, unsigned online,
                       uint64_t seq)
{
    int rc = first ? 0 : rt__buf_putc(b, ',');

    rc |= rt__buf_append(b, "{\"room\":", 8);
    rc |= rt__buf_json_str(b, room, strlen(room));
    rc |=
        rt__buf_printf(b, ",\"online\":%u,\"seq\":%" PRIu64 "}", online, seq);
    return rc ? RT_ENOMEM : 0;
}

int rt__msg_rooms_close(rt_buf *b)
{
    return rt__buf_append(b, "]}", 2) ? RT_ENOMEM : 0;
}

int rt__msg_presence_open(rt_buf *b, const char *room)
{
    int rc = rt__buf_append(b, "{\"room\":", 8);

    rc |= rt__buf_json_str(b, room, strlen(room));
    rc |= rt__buf_append(b, ",\"online\":", 10);
    return rc ? RT_ENOMEM : 0;
}

int rt__msg_presence_close(rt_buf *b)
{
    return rt__buf_putc(b, '}') ? RT_ENOMEM : 0;
}
