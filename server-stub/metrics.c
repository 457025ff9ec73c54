/*
 * metrics.c: GET /metrics in the Prometheus text format, version 0.0.4.
 *
 * Labels are bounded (transport, type, code, reason): never a room or a
 * user, so a busy server cannot grow the scrape without bound.
 */
#include <string.h>

#include "core.h"

static const char *const transports[RT_TR_N] = {"ws", "sse", "poll", "echo"};
static const char *const close_classes[] = {"1000", "1001", "1008",  "1009",
                                            "1011", "1013", "other", "none"};

void rt__metrics_close(rt_server *s, uint16_t code)
{
    size_t i;

    switch (code) {
    case 1000:
        i = 0;
        break;
    case 1001:
        i = 1;
        break;
    case 1008:
        i = 2;
        break;
    case 1009:
        i = 3;
        break;
    case 1011:
        i = 4;
        break;
    case 1013:
        i = 5;
        break;
    case 0:
        i = 7;
        break;
    default:
        i = 6;
        break;
    }
    s->m.closes[i]++;
}

static int head(rt_buf *b, const char *name, const char *type,
                const char *help)
{
    return rt__buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                          type);
}

static int per_transport(rt_buf *b, const char *name, const char *type,
                         const char *help, const uint64_t *v)
{
    int rc = head(b, name, type, help), i;

    for (i = 0; i < RT_TR_N; i++)
        rc |= rt__buf_printf(b, "%s{transport=\"%s\"} %llu\n", name,
                             transports[i], (unsigned long long)v[i]);
    return rc;
}

int rt__metrics_render(const rt_server *s, rt_buf *b)
{
    const struct rt_metrics *m = &s->m;
    int rc = 0, i;

    rc |= per_transport(b, "rtctl_connections", "gauge",
                        "Open connections by transport.", m->conns);
    rc |= per_transport(b, "rtctl_connections_accepted_total", "counter",
                        "Connections accepted by transport.", m->accepted);
    rc |= head(b, "rtctl_rooms", "gauge", "Rooms held in memory.");
    rc |= rt__buf_printf(b, "rtctl_rooms %zu\n", s->nrooms);
    rc |= head(b, "rtctl_messages_received_total", "counter",
               "Messages received from clients, by type.");
    for (i = 0; i < 6; i++)
        rc |= rt__buf_printf(b,
                             "rtctl_messages_received_total{type=\"%s\"} "
                             "%llu\n",
                             rt_msg_type_name((rt_msg_type)i),
                             (unsigned long long)m->received[i]);
    rc |= per_transport(b, "rtctl_messages_delivered_total", "counter",
                        "Messages queued to clients, by transport.",
                        m->delivered);
    rc |=
        per_transport(b, "rtctl_bytes_sent_total", "counter",
                      "Bytes written to clients, by transport.", m->bytes_out);
    rc |= head(b, "rtctl_bytes_received_total", "counter",
               "WebSocket payload bytes received.");
    rc |= rt__buf_printf(b, "rtctl_bytes_received_total %llu\n",
                         (unsigned long long)m->bytes_in);
    rc |= head(b, "rtctl_errors_sent_total", "counter",
               "Error replies sent, by protocol error code.");
    for (i = 1; i < RT_MSG_CODE_COUNT_; i++)
        rc |= rt__buf_printf(b, "rtctl_errors_sent_total{code=\"%s\"} %llu\n",
                             rt_msg_code_name((rt_msg_code)i),
                             (unsigned long long)m->errors[i]);
    rc |= head(b, "rtctl_slow_consumer_disconnects_total", "counter",
               "Connections dropped because their send queue was full.");
    rc |= rt__buf_printf(b, "rtctl_slow_consumer_disconnects_total %llu\n",
                         (unsigned long long)m->slow_consumer);
    rc |= head(b, "rtctl_queue_dropped_messages_total", "counter",
               "Queued messages dropped with slow consumers.");
    rc |= rt__buf_printf(b, "rtctl_queue_dropped_messages_total %llu\n",
                         (unsigned long long)m->queue_drops);
    rc |= head(b, "rtctl_auth_failures_total", "counter",
               "Requests refused for a missing, bad or expired token or a "
               "room not allowed.");
    rc |= rt__buf_printf(b, "rtctl_auth_failures_total %llu\n",
                         (unsigned long long)m->auth_failures);
    rc |= head(b, "rtctl_resume_total", "counter", "Resumes by result.");
    rc |= rt__buf_printf(b,
                         "rtctl_resume_total{result=\"recovered\"} %llu\n"
                         "rtctl_resume_total{result=\"not_recovered\"} "
                         "%llu\n",
                         (unsigned long long)m->resumes_recovered,
                         (unsigned long long)m->resumes_lost);
    rc |= head(b, "rtctl_published_http_total", "counter",
               "Messages published with POST /publish.");
    rc |= rt__buf_printf(b, "rtctl_published_http_total %llu\n",
                         (unsigned long long)m->published_http);
    rc |= head(b, "rtctl_server_closes_total", "counter",
               "WebSocket closes the server initiated, by close code.");
    for (i = 0; i < 7; i++)
        rc |=
            rt__buf_printf(b,
                           "rtctl_server_closes_total{code=\"%s\"} "
                           "%llu\n",
                           close_classes[i], (unsigned long long)m->closes[i]);
    rc |= head(b, "rtctl_connections_refused_total", "counter",
               "Connections refused at accept, by reason.");
    rc |= rt__buf_printf(b,
                         "rtctl_connections_refused_total{reason="
                         "\"address_limit\"} %llu\n",
                         (unsigned long long)m->refused_address);
    rc |= head(b, "rtctl_request_heads_refused_total", "counter",
               "Request heads refused before parsing: 431 over "
               "--max-header-bytes or the header field limit, 414 for the "
               "request line or the query argument limit.");
    rc |= rt__buf_printf(b,
                         "rtctl_request_heads_refused_total{status=\"431\"} "
                         "%llu\n"
                         "rtctl_request_heads_refused_total{status=\"414\"} "
                         "%llu\n",
                         (unsigned long long)m->heads_refused[0],
                         (unsigned long long)m->heads_refused[1]);
    rc |= head(b, "rtctl_request_timeouts_total", "counter",
               "HTTP requests whose body missed --request-timeout.");
    rc |= rt__buf_printf(b, "rtctl_request_timeouts_total %llu\n",
                         (unsigned long long)m->request_timeouts);
    rc |= head(b, "rtctl_accept_paused_total", "counter",
               "Times accept() failed (out of file descriptors) and "
               "accepting paused for a moment.");
    rc |= rt__buf_printf(b, "rtctl_accept_paused_total %llu\n",
                         (unsigned long long)m->accept_paused);
    rc |= head(b, "rtctl_ephemeral_dropped_total", "counter",
               "Typing and presence events not queued to a congested "
               "connection.");
    rc |= rt__buf_printf(b, "rtctl_ephemeral_dropped_total %llu\n",
                         (unsigned long long)m->ephemeral_drops);
    rc |= head(b, "rtctl_typing_coalesced_total", "counter",
               "Typing events folded into a later one by --typing-rate.");
    rc |= rt__buf_printf(b, "rtctl_typing_coalesced_total %llu\n",
                         (unsigned long long)m->typing_coalesced);
    rc |= head(b, "rtctl_rooms_expired_total", "counter",
               "Idle rooms dropped after --room-ttl.");
    rc |= rt__buf_printf(b, "rtctl_rooms_expired_total %llu\n",
                         (unsigned long long)m->rooms_expired);
    rc |= head(b, "rtctl_presence_batches_total", "counter",
               "Coalesced presence messages, one per room and tick with "
               "changes.");
    rc |= rt__buf_printf(b, "rtctl_presence_batches_total %llu\n",
                         (unsigned long long)m->presence_batches);
    rc |= head(b, "rtctl_presence_unannounced_total", "counter",
               "Joins and leaves not announced: rooms past "
               "--presence-max-members.");
    rc |= rt__buf_printf(b, "rtctl_presence_unannounced_total %llu\n",
                         (unsigned long long)m->presence_quiet);
    rc |= head(b, "rtctl_engine_up", "gauge",
               "1 while the storage engine's store can be reached.");
    rc |= rt__buf_printf(
        b, "rtctl_engine_up{engine=\"%s\"} %d\n", s->eng->ops->name,
        s->eng->ops->healthy == NULL || s->eng->ops->healthy(s->eng));
    if (s->eng->ops->metrics != NULL)
        rc |= s->eng->ops->metrics(s->eng, b);
    return rc ? RT_ENOMEM : 0;
}
