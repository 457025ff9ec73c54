/*
 * load.h: the parts of `rtctl load` (cli/cmd_load.c drives the
 * connections; track.c counts what each subscriber receives; report.c
 * turns the counters into the summary, the JSON report and the threshold
 * verdicts).
 */
#ifndef RTCTL_LOAD_H
#define RTCTL_LOAD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rt/hist.h"

enum { TR_WS, TR_SSE, TR_POLL, TR_N };

extern const char *const cli_load_tr_names[TR_N];

/*
 * What one subscriber has received, by room seq: every seq below |next|
 * was received or given up as lost, and bit i of |bits| says whether
 * next + 1 + i was received.  Sixteen bytes per subscriber.
 */
struct cli_track {
    uint64_t next; /* 0: no position yet */
    uint64_t bits;
};

struct cli_track_counts {
    uint64_t unique, dup, reordered, lost;
};

/* Start at position |seq| (the next expected is seq + 1). */
void cli_track_start(struct cli_track *t, uint64_t seq);
/* One received seq; updates |n|.  Returns 1 when it was new. */
int cli_track_seen(struct cli_track *t, uint64_t seq,
                   struct cli_track_counts *n);
/*
 * The server said it could not resume, and |seq| is the first message
 * after that: every seq below it not received is lost for good.
 */
void cli_track_give_up(struct cli_track *t, uint64_t seq,
                       struct cli_track_counts *n);
/* At the end: every seq up to |last| not received is lost. */
void cli_track_finish(struct cli_track *t, uint64_t last,
                      struct cli_track_counts *n);
/* The highest seq received in order (for since and Last-Event-ID). */
uint64_t cli_track_pos(const struct cli_track *t);

/* Per transport figures. */
struct cli_tr_stats {
    unsigned conns;  /* subscribers of this transport */
    unsigned open;   /* open now */
    uint64_t opened; /* successful handshakes */
    uint64_t connect_failed;
    uint64_t drops;      /* open connections that ended unasked */
    uint64_t reconnects; /* handshakes after the first */
    uint64_t frames;     /* frames (publishers' included), SSE events
                             and retry fields, poll messages received */
    uint64_t delivered;  /* our test messages received (dups included) */
    uint64_t measured;   /* of those, sent after the warm-up */
    uint64_t bytes;
    uint64_t not_recovered; /* resumes the server could not complete */
    struct cli_track_counts c;
    rt_hist *lat;       /* us, fan-out latency after the warm-up */
    rt_hist *reconnect; /* us, from a drop to the next open */
};

/* A threshold: METRIC OP VALUE. */
struct cli_threshold {
    const char *expr;
    char metric[16];
    int op;       /* '<', 'l' (<=), '>', 'g' (>=), '=', '!' */
    double value; /* us for latencies, a count, or a share */
    int percent;  /* value is a share in % */
    int latency;
    double seen;
    int ok;
};

int cli_threshold_parse(struct cli_threshold *t, const char *expr, char *err,
                        size_t errlen);

/*
 * scan.c: in the broadcast |p| (|len| bytes, not NUL-terminated), the
 * top-level "seq" (the first "seq": key, before any "data":) and the due
 * time of our marker (the first "content":"rtl1 PUB:SEQ:DUE).  Returns 0,
 * or -1 when either is missing or a number has more than 19 digits.
 */
int cli_load_scan(const char *p, size_t len, uint64_t *seq, uint64_t *due_us);

/* "2000/s", "2000", "120/m": messages per second (scenario.c). */
int cli_load_parse_rate(const char *s, double *out);

struct sockaddr_storage;

/*
 * --source SPEC...: each an IPv4 address, an IPv4 range A-B, or an IPv6
 * address, each address checked by binding it.  *out is malloc'd.
 * Returns 0, or -1 with |err| naming the bad one.
 */
int cli_load_sources(const char *const *specs, size_t nspecs,
                     struct sockaddr_storage **out, size_t *n, char *err,
                     size_t errlen);

struct cli_scenario;

/*
 * One interval of the time series (cli/load/series.c): what happened
 * between t_ms - interval and t_ms after the start.  The interval's
 * latency histogram is kept only in its JSON form (a few hundred bytes
 * where the histogram itself is hundreds of KiB), so hours of intervals
 * stay cheap and still merge exactly.
 */
struct cli_point {
    uint64_t t_ms;
    uint64_t conns; /* open at the end of the interval */
    uint64_t sent, delivered, errors;
    uint64_t count, p50, p90, p99, max; /* latency, us */
    char *hist;                         /* rt_hist_to_json() */
};

/* Everything the report shows. */
struct cli_report {
    const char *url;
    const char *transport_spec;
    unsigned subscribers, publishers, rooms;
    double rate; /* messages per second in all */
    uint64_t size;
    uint64_t duration_ms, warmup_ms;
    int interrupted;
    double ramp_s;     /* connecting before the first publish */
    double run_s;      /* publishing time, warm-up included */
    double measured_s; /* publishing time after the warm-up */
    uint64_t sent, acked, not_sent, send_errors;
    uint64_t measured_sent;
    uint64_t errors; /* failed connects, drops, refusals, protocol */
    uint64_t err_connect, err_drop, err_http, err_protocol, err_server;
    uint64_t fd_exhausted, ports_exhausted;
    uint64_t pub_reconnects;
    uint64_t frames_total; /* every frame/event received, ws and sse */
    double cpu_user_s, cpu_sys_s, cpu_pct;
    int cpu_saturated;
    long rss_kb, rss_idle_kb, rss_base_kb;
    rt_hist *connect; /* us */
    struct cli_tr_stats tr[TR_N];
    struct cli_threshold *th;
    size_t nth;
    const struct cli_scenario *scenario; /* -f, or NULL */
    /* added for --raw, --in-flight, the series and merges */
    int raw;            /* echo round trips, not fan-out */
    uint64_t in_flight; /* closed model: window per publisher; 0 open */
    unsigned workers;   /* processes (or merged reports) behind it */
    uint64_t interval_ms;
    struct cli_point *series;
    size_t nseries, series_cap;
    rt_hist *ilat; /* the current interval's latency */
};

/* Evaluate the thresholds; returns how many failed. */
size_t cli_report_check(struct cli_report *r);
void cli_report_summary(const struct cli_report *r, FILE *f);
int cli_report_json(const struct cli_report *r, const char *path, char *err,
                    size_t errlen);

/* Whole-run figures that thresholds and the summary share. */
uint64_t cli_report_total(const struct cli_report *r, int what);
enum {
    TOT_DELIVERED,
    TOT_LOST,
    TOT_DUP,
    TOT_REORDERED,
    TOT_RECONNECTS,
    TOT_EXPECTED
};

/* Allocate the histograms of an empty report; 0 or -1 (out of memory). */
int cli_report_init(struct cli_report *r);
/* Free what cli_report_init, _point and _from_json allocated. */
void cli_report_cleanup(struct cli_report *r);
/* Close the current interval at |t_ms| with these counters. */
int cli_report_point(struct cli_report *r, uint64_t t_ms, uint64_t conns,
                     uint64_t sent, uint64_t delivered, uint64_t errors);
/* The report as a cJSON tree (the --report-json document). */
struct cJSON *cli_report_to_json(const struct cli_report *r);
/*
 * Read a --report-json document into |r| (cli_report_init'd; strings
 * point into |doc|, which must outlive |r|).  0, or -1 with |err|.
 */
int cli_report_from_json(struct cli_report *r, const struct cJSON *doc,
                         char *err, size_t errlen);
/*
 * Add |src| to |dst|: counters summed, histograms merged exactly, time
 * series merged interval by interval.  0, or -1 with |err|.
 */
int cli_report_add(struct cli_report *dst, const struct cli_report *src,
                   char *err, size_t errlen);
/* The self-contained HTML page (html.c).  0, or -1 with |err|. */
int cli_report_html(const struct cli_report *r, const char *path, char *err,
                    size_t errlen);
/* Write |text| to |path|, "-" for stdout.  0, or -1 with |err|. */
int cli_write_file(const char *path, const char *text, char *err,
                   size_t errlen);

/* --raw messages (raw.c).  1 when |tpl| holds the {marker}. */
int cli_raw_template_ok(const char *tpl);
/* Bytes cli_raw_fill() may need for |tpl|, its NUL included. */
size_t cli_raw_size(const char *tpl, size_t pad_to);
/* Expand |tpl| into |out|, padded with 'x' to |pad_to|; its length, or 0
   when |cap| is short. */
size_t cli_raw_fill(char *out, size_t cap, const char *tpl, size_t pad_to,
                    unsigned conn, uint64_t seq, uint64_t due_us);
/* Find a marker in an echo; 0, or -1 when there is none. */
int cli_raw_parse(const char *p, size_t len, unsigned *conn, uint64_t *seq,
                  uint64_t *due_us);

/* "1.23ms" for |us| microseconds into |buf|. */
const char *cli_fmt_us(char *buf, size_t len, double us);

#endif /* RTCTL_LOAD_H */
