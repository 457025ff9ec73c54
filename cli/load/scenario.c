/*
 * scenario.c: read, schedule and report the phases of `rtctl load -f`.
 *
 * The file is JSON (rtctl-load(1), SCENARIOS):
 *
 *   {"phases": [
 *     {"name": "ramp", "duration": "30s", "connections": 5000, "rate": 0},
 *     {"name": "hold", "duration": "60s", "rate": "2000/s"},
 *     {"name": "drop", "duration": "20s", "drop": "all"}]}
 *
 * Every key is checked: an unknown one or a bad value is refused with
 * the file, the phase and the key named, before anything connects.  The
 * number of subscribers only grows (a ramp down would need connections
 * that come back, which a drop phase already gives).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "load/load.h"
#include "load/scenario.h"
#include "opts.h"

/* "2000/s", "2000", "120/m": messages per second. */
int cli_load_parse_rate(const char *s, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (end == s || errno != 0 || !isfinite(v) || v < 0 || v > 1e8)
        return -1;
    if (*end == '\0' || strcmp(end, "/s") == 0)
        *out = v;
    else if (strcmp(end, "/m") == 0)
        *out = v / 60;
    else
        return -1;
    return 0;
}

#define SCENARIO_MAX_BYTES (1 << 20)

static char *slurp(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    if (f == NULL) {
        snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
        return NULL;
    }
    buf = malloc(SCENARIO_MAX_BYTES + 1);
    n = buf ? fread(buf, 1, SCENARIO_MAX_BYTES + 1, f) : 0;
    if (buf == NULL || ferror(f) || n > SCENARIO_MAX_BYTES) {
        snprintf(err, errlen, "'%s': %s", path,
                 buf == NULL ? "out of memory"
                 : ferror(f) ? strerror(errno)
                             : "over 1 MiB");
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* "30s", "500ms", or a number of seconds. */
static int get_duration(const cJSON *v, uint64_t *ms)
{
    if (cJSON_IsNumber(v)) {
        if (!(v->valuedouble > 0) || v->valuedouble > 1e7)
            return -1;
        *ms = (uint64_t)(v->valuedouble * 1000 + 0.5);
        return 0;
    }
    return cJSON_IsString(v) ? cli_parse_duration(v->valuestring, ms) : -1;
}

static int get_rate(const cJSON *v, double *rate)
{
    if (cJSON_IsNumber(v)) {
        if (!(v->valuedouble >= 0) || v->valuedouble > 1e8)
            return -1;
        *rate = v->valuedouble;
        return 0;
    }
    return cJSON_IsString(v) ? cli_load_parse_rate(v->valuestring, rate) : -1;
}

/* "all", "N%" (0 < N <= 100), or a share 0 < x <= 1. */
static int get_drop(const cJSON *v, double *share)
{
    char *end;
    double x;

    if (cJSON_IsNumber(v)) {
        x = v->valuedouble;
    } else if (cJSON_IsString(v) && strcmp(v->valuestring, "all") == 0) {
        x = 1;
    } else if (cJSON_IsString(v)) {
        errno = 0;
        x = strtod(v->valuestring, &end) / 100;
        if (end == v->valuestring || errno != 0 || strcmp(end, "%") != 0)
            return -1;
    } else {
        return -1;
    }
    if (!(x > 0) || x > 1)
        return -1;
    *share = x;
    return 0;
}

static int phase_parse(struct cli_phase *p, const cJSON *o, size_t i,
                       unsigned max_conns, char *what, size_t wlen)
{
    const cJSON *v;

    snprintf(p->name, sizeof(p->name), "phase-%zu", i + 1);
    if (!cJSON_IsObject(o)) {
        snprintf(what, wlen, "not an object");
        return -1;
    }
    cJSON_ArrayForEach(v, o)
    {
        const char *k = v->string;
        int bad = 0;

        if (strcmp(k, "name") == 0) {
            bad = !cJSON_IsString(v) || v->valuestring[0] == '\0' ||
                  strlen(v->valuestring) >= sizeof(p->name);
            if (!bad)
                snprintf(p->name, sizeof(p->name), "%s", v->valuestring);
        } else if (strcmp(k, "duration") == 0) {
            bad = get_duration(v, &p->dur_ms) != 0 || p->dur_ms == 0;
        } else if (strcmp(k, "connections") == 0) {
            bad = !cJSON_IsNumber(v) || v->valuedouble < 0 ||
                  v->valuedouble > max_conns ||
                  v->valuedouble != floor(v->valuedouble);
            if (!bad)
                p->conns = (unsigned)v->valuedouble;
        } else if (strcmp(k, "rate") == 0) {
            bad = get_rate(v, &p->rate) != 0;
        } else if (strcmp(k, "drop") == 0) {
            bad = get_drop(v, &p->drop) != 0;
        } else {
            snprintf(what, wlen,
                     "unknown key '%s' (name, duration, connections, "
                     "rate, drop)",
                     k);
            return -1;
        }
        if (bad) {
            static const char *const hint[][2] = {
                {"name", "a name of 1 to 31 characters"},
                {"duration", "a duration like 30s or 500ms"},
                {"connections", "a whole number of subscribers"},
                {"rate", "a rate like 2000/s, or 0"},
                {"drop", "\"all\" or a share like \"50%\""},
            };
            size_t h;

            for (h = 0; strcmp(hint[h][0], k) != 0; h++)
                ;
            snprintf(what, wlen, "'%s' must be %s", k, hint[h][1]);
            return -1;
        }
    }
    if (p->dur_ms == 0) {
        snprintf(what, wlen, "no 'duration'");
        return -1;
    }
    return 0;
}

int cli_scenario_load(struct cli_scenario *sc, const char *path,
                      unsigned conns0, double rate0, unsigned max_conns,
                      char *err, size_t errlen)
{
    char *text = slurp(path, err, errlen), what[200] = "";
    cJSON *root = NULL, *phases = NULL, *v;
    unsigned conns = conns0;
    double rate = rate0;
    size_t i = 0;

    memset(sc, 0, sizeof(*sc));
    sc->path = path;
    if (text == NULL)
        return -1;
    root = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "scenario '%s': not a JSON object", path);
        cJSON_Delete(root);
        return -1;
    }
    cJSON_ArrayForEach(v, root)
    {
        if (strcmp(v->string, "phases") == 0)
            phases = v;
        else if (strcmp(v->string, "description") != 0) {
            snprintf(err, errlen,
                     "scenario '%s': unknown key '%s' (phases, description)",
                     path, v->string);
            cJSON_Delete(root);
            return -1;
        }
    }
    if (!cJSON_IsArray(phases) || cJSON_GetArraySize(phases) < 1 ||
        cJSON_GetArraySize(phases) > CLI_SCENARIO_MAX_PHASES) {
        snprintf(err, errlen,
                 "scenario '%s': 'phases' must be a list of 1 to "
                 "%d phases",
                 path, CLI_SCENARIO_MAX_PHASES);
        cJSON_Delete(root);
        return -1;
    }
    sc->n = (size_t)cJSON_GetArraySize(phases);
    sc->ph = calloc(sc->n, sizeof(*sc->ph));
    if (sc->ph == NULL) {
        snprintf(err, errlen, "out of memory");
        cJSON_Delete(root);
        return -1;
    }
    sc->max_conns = conns0;
    cJSON_ArrayForEach(v, phases)
    {
        struct cli_phase *p = &sc->ph[i];

        p->conns = conns;
        p->rate = rate;
        if (phase_parse(p, v, i, max_conns, what, sizeof(what)) != 0 ||
            (p->conns < conns &&
             snprintf(what, sizeof(what),
                      "'connections' goes down from %u to %u: subscribers "
                      "only ramp up (a 'drop' phase cuts them)",
                      conns, p->conns) > 0)) {
            snprintf(err, errlen, "scenario '%s': phase %zu (%s): %s", path,
                     i + 1, p->name, what);
            cJSON_Delete(root);
            cli_scenario_free(sc);
            return -1;
        }
        p->conns_from = conns;
        p->start_ms = sc->total_ms;
        sc->total_ms += p->dur_ms;
        conns = p->conns;
        rate = p->rate;
        if (conns > sc->max_conns)
            sc->max_conns = conns;
        if (rt_hist_new_default(&p->lat) != 0 ||
            rt_hist_new_default(&p->reconnect) != 0) {
            snprintf(err, errlen, "out of memory");
            cJSON_Delete(root);
            cli_scenario_free(sc);
            return -1;
        }
        i++;
    }
    cJSON_Delete(root);
    return 0;
}

void cli_scenario_free(struct cli_scenario *sc)
{
    size_t i;

    for (i = 0; sc->ph != NULL && i < sc->n; i++) {
        rt_hist_free(sc->ph[i].lat);
        rt_hist_free(sc->ph[i].reconnect);
    }
    free(sc->ph);
    sc->ph = NULL;
    sc->n = 0;
}

size_t cli_scenario_at(const struct cli_scenario *sc, uint64_t t_ms)
{
    size_t i;

    for (i = 0; i + 1 < sc->n; i++)
        if (t_ms < sc->ph[i].start_ms + sc->ph[i].dur_ms)
            return i;
    return sc->n - 1;
}

uint64_t cli_scenario_conn_at(const struct cli_scenario *sc, unsigned j)
{
    size_t i;

    if (sc->n == 0 || j < sc->ph[0].conns_from)
        return 0;
    for (i = 0; i < sc->n; i++) {
        const struct cli_phase *p = &sc->ph[i];

        /* subscriber j is number j + 1: it is in once the ramp reaches
           j + 1, evenly over the phase */
        if (j < p->conns)
            return p->start_ms +
                   (uint64_t)((double)p->dur_ms * (j - p->conns_from) /
                              (p->conns - p->conns_from));
    }
    return UINT64_MAX;
}

double cli_scenario_mean_rate(const struct cli_scenario *sc)
{
    double msgs = 0;
    size_t i;

    for (i = 0; i < sc->n; i++)
        msgs += sc->ph[i].rate * (double)sc->ph[i].dur_ms / 1000;
    return sc->total_ms > 0 ? msgs * 1000 / (double)sc->total_ms : 0;
}

static const char *pct(char *buf, size_t len, const rt_hist *h, double p)
{
    if (rt_hist_count(h) == 0)
        return "-";
    return cli_fmt_us(buf, len,
                      p > 100 ? (double)rt_hist_max(h)
                              : (double)rt_hist_percentile(h, p));
}

void cli_scenario_summary(const struct cli_scenario *sc, FILE *f)
{
    size_t i;

    fprintf(f, "\n  %-12s %7s %6s %8s %9s %9s %9s %7s %7s %9s\n", "phase",
            "start", "subs", "rate", "delivered", "p50", "p99", "dropped",
            "back", "back p99");
    for (i = 0; i < sc->n; i++) {
        const struct cli_phase *p = &sc->ph[i];
        char a[24], b[24], c[24];

        fprintf(f,
                "  %-12s %6.1fs %6u %6.0f/s %9llu %9s %9s %7llu %7llu "
                "%9s\n",
                p->name, (double)p->start_ms / 1000, p->conns, p->rate,
                (unsigned long long)p->delivered,
                pct(a, sizeof(a), p->lat, 50), pct(b, sizeof(b), p->lat, 99),
                (unsigned long long)p->dropped,
                (unsigned long long)p->reconnected,
                pct(c, sizeof(c), p->reconnect, 99));
    }
}

static cJSON *hist_brief(const rt_hist *h)
{
    cJSON *o = cJSON_CreateObject();
    static const double ps[] = {50, 90, 99, 99.9};
    char key[16];
    size_t i;

    if (o == NULL)
        return NULL;
    cJSON_AddNumberToObject(o, "count", (double)rt_hist_count(h));
    if (rt_hist_count(h) == 0)
        return o;
    for (i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
        snprintf(key, sizeof(key), "p%g", ps[i]);
        cJSON_AddNumberToObject(o, key, (double)rt_hist_percentile(h, ps[i]));
    }
    cJSON_AddNumberToObject(o, "max", (double)rt_hist_max(h));
    return o;
}

cJSON *cli_scenario_json(const struct cli_scenario *sc)
{
    cJSON *o = cJSON_CreateObject(), *arr;
    size_t i;

    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "file", sc->path);
    arr = cJSON_AddArrayToObject(o, "phases");
    for (i = 0; i < sc->n; i++) {
        const struct cli_phase *p = &sc->ph[i];
        cJSON *q = cJSON_CreateObject();

        cJSON_AddStringToObject(q, "name", p->name);
        cJSON_AddNumberToObject(q, "start_ms", (double)p->start_ms);
        cJSON_AddNumberToObject(q, "duration_ms", (double)p->dur_ms);
        cJSON_AddNumberToObject(q, "connections_from", p->conns_from);
        cJSON_AddNumberToObject(q, "connections", p->conns);
        cJSON_AddNumberToObject(q, "rate", p->rate);
        cJSON_AddNumberToObject(q, "drop", p->drop);
        cJSON_AddNumberToObject(q, "sent", (double)p->sent);
        cJSON_AddNumberToObject(q, "delivered", (double)p->delivered);
        cJSON_AddNumberToObject(q, "dropped", (double)p->dropped);
        cJSON_AddNumberToObject(q, "reconnected", (double)p->reconnected);
        cJSON_AddItemToObject(q, "latency_us", hist_brief(p->lat));
        cJSON_AddItemToObject(q, "reconnect_time_us",
                              hist_brief(p->reconnect));
        cJSON_AddItemToArray(arr, q);
    }
    return o;
}
