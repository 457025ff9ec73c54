/*
 * failover.h: the servers a client moves between, and when it waits.
 *
 * The one place the three clients (ws, sse, poll) keep their URL list and
 * their backoff, so that they move between servers alike:
 * - the first attempt goes to the first URL;
 * - a failed attempt or a dropped connection moves to the next URL, round
 *   robin; while a round (every URL once) is not over, the next attempt
 *   goes at once, as libpq tries its hosts and NATS its server pool;
 * - a round that failed everywhere costs one backoff delay (rt/backoff.h):
 *   the delays, their growth and max_attempts count rounds, so one URL
 *   behaves exactly as before the list existed;
 * - what resets the backoff (a connection up for stable_ms, a message
 *   delivered) starts a new round too: a server that accepts and drops at
 *   once still costs a delay per round, never a tight loop.
 * The resume position is not kept here: it belongs to the client and is
 * sent to whichever URL comes next.
 *
 * Also the parsing of a comma-separated URL list, for the CLI's --url and
 * $RTCTL_URL.  Sans-I/O: no clock, no randomness of its own.
 */
#ifndef RT_FAILOVER_H
#define RT_FAILOVER_H

#include <stddef.h>
#include <stdint.h>

#include "rt/backoff.h"
#include "rt/url.h"

typedef struct rt__failover {
    rt_backoff backoff;
    rt_url **urls; /* parsed, in the order given */
    char **strs;   /* the same, formatted */
    size_t n;
    size_t cur;    /* the URL of the attempt in flight, or of the next */
    size_t failed; /* URLs failed since the round started */
    int ever_up;   /* a connection was up, or a message delivered */
} rt__failover;

/* Does a client take this URL (the right schemes)?  1 yes, 0 no. */
typedef int (*rt__failover_accept)(const rt_url *u);
/* The two kinds there are: http:// or https://; ws:// or wss://. */
int rt__failover_http(const rt_url *u);
int rt__failover_ws(const rt_url *u);

/*
 * Set up |f| with |first| and the NULL-terminated |more| (NULL: none),
 * each parsed and checked by |accept|, copied.  |p| the backoff policy.
 *
 * Returns 0, RT_EINVAL (a bad policy), RT_EURL (a URL that does not parse
 * or that |accept| refuses; *|bad| its index, 0 being |first|), RT_ETOOBIG
 * or RT_ENOMEM.  On error |f| holds nothing to clean up.
 */
int rt__failover_init(rt__failover *f, const rt_backoff_policy *p,
                      const char *first, const char *const *more,
                      rt__failover_accept accept, size_t *bad);
void rt__failover_cleanup(rt__failover *f);

/* The URL of the attempt in flight, or of the next one. */
const rt_url *rt__failover_url(const rt__failover *f);
const char *rt__failover_str(const rt__failover *f);

/* A connection that was up |up_ms| ended (rt_backoff_connected()). */
void rt__failover_connected(rt__failover *f, uint64_t up_ms);

/* A message was delivered (rt_backoff_delivered()). */
void rt__failover_delivered(rt__failover *f);

/*
 * 1 while no connection was ever up and some URL of the first round is
 * untried: a client told not to reconnect still tries it, as libpq tries
 * each of its hosts once to connect.
 */
int rt__failover_untried(const rt__failover *f);

/*
 * The attempt in flight failed, or its connection dropped: move to the
 * next URL and say how long to wait first, 0 within a round.
 *
 * Returns 0 with *|delay_ms| set, or RT_EEXHAUSTED when the rounds
 * allowed are spent (the URL does not move then).
 */
int rt__failover_next(rt__failover *f, uint32_t rand32, uint64_t *delay_ms);

/*
 * Split the comma-separated lists |given| (|n| strings: each --url) into
 * one NULL-terminated array of URLs, in order; spaces and tabs around
 * an item are dropped.  A comma inside a URL is written %2C.
 *
 * Returns 0 with *|out| (free it with rt__url_list_free()) and *|count|,
 * RT_EURL when an item is empty (|err| says which: "item 2 of 'a,,b' is
 * empty") or RT_ENOMEM.
 */
int rt__url_list_split(const char *const *given, size_t n, char ***out,
                       size_t *count, char *err, size_t errlen);
void rt__url_list_free(char **v);

/*
 * Drop from the NULL-terminated |v| the strings equal to an earlier one
 * (freeing them) and close the gaps; *|count| is updated.
 */
void rt__url_list_dedupe(char **v, size_t *count);

#endif /* RT_FAILOVER_H */
