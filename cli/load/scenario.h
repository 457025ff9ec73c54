/*
 * scenario.h: multi-phase runs of `rtctl load -f FILE` (load/scenario.c).
 *
 * A scenario is a list of phases played one after the other from the
 * start of the run: each lasts its duration, moves the number of
 * subscribers linearly to its "connections" by its end (a ramp), publishes
 * at its "rate", and may begin by dropping a share of the open
 * subscribers ("drop"), who then come back with the backoff and resume.
 * Each phase records what happened in it: messages due in it, their
 * latency, the subscribers it dropped and how long they took to return.
 */
#ifndef RTCTL_LOAD_SCENARIO_H
#define RTCTL_LOAD_SCENARIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rt/hist.h"

struct cJSON;

#define CLI_SCENARIO_MAX_PHASES 100

struct cli_phase {
    char name[32];
    uint64_t start_ms, dur_ms;  /* from the start of the run */
    unsigned conns_from, conns; /* subscribers at its start, at its end */
    double rate;                /* messages per second in all */
    double drop;                /* share dropped at its start, 0..1 */
    /* what happened */
    uint64_t sent, delivered, dropped, reconnected;
    rt_hist *lat;       /* us, of the messages due in it */
    rt_hist *reconnect; /* us, from its drop to the reopen */
};

struct cli_scenario {
    const char *path;
    struct cli_phase *ph;
    size_t n;
    uint64_t total_ms;
    unsigned max_conns;
};

/*
 * Read the scenario in |path|: the subscribers start at |conns0| and the
 * rate at |rate0| (the command line's), each phase changing what it
 * names.  Returns 0, or -1 with |err| naming the file, phase and field.
 */
int cli_scenario_load(struct cli_scenario *sc, const char *path,
                      unsigned conns0, double rate0, unsigned max_conns,
                      char *err, size_t errlen);
void cli_scenario_free(struct cli_scenario *sc);

/* The phase at |t_ms| from the start of the run (the last one after it). */
size_t cli_scenario_at(const struct cli_scenario *sc, uint64_t t_ms);

/*
 * When subscriber |j| (0-based, in connection order) opens, in ms from the
 * start of the run: 0 for the first conns0, UINT64_MAX for none.
 */
uint64_t cli_scenario_conn_at(const struct cli_scenario *sc, unsigned j);

/* The mean rate over the whole scenario. */
double cli_scenario_mean_rate(const struct cli_scenario *sc);

void cli_scenario_summary(const struct cli_scenario *sc, FILE *f);
struct cJSON *cli_scenario_json(const struct cli_scenario *sc);

#endif /* RTCTL_LOAD_SCENARIO_H */
