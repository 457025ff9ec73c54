/*
 * lines.c: standard input, line by line, on the event loop (see lines.h).
 *
 * One pump hands over every complete line held, until the caller pauses,
 * and then asks for more bytes: from the poll handle when the descriptor
 * can be polled (one read() per readiness, which never blocks), else by
 * reading directly, which never blocks either for a regular file.  The
 * pump yields to the loop every BURST lines through the idle handle, so a
 * large file cannot starve the network.
 *
 * Invariant: after a callback returns, the pump touches nothing before it
 * has checked that the reader was not closed inside it.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "lines.h"
#include "rt/error.h"

#define CHUNK 65536
#define BURST 64

static void on_poll(uv_poll_t *h, int status, int events);
static void on_idle(uv_idle_t *h);

static void quiet(struct cli_lines *l)
{
    if (l->polled)
        uv_poll_stop(&l->poll);
    uv_idle_stop(&l->idle);
}

static void end(struct cli_lines *l, int err)
{
    quiet(l);
    l->ended = 1;
    l->on_end(l, err, l->ud);
}

/* Read once into the buffer: 0 (maybe nothing, maybe end of file), or errno. */
static int read_more(struct cli_lines *l)
{
    ssize_t n;

    if (l->pos > 0) {
        memmove(l->buf.data, l->buf.data + l->pos, l->buf.len - l->pos);
        l->buf.len -= l->pos;
        l->buf.data[l->buf.len] = '\0';
        l->pos = 0;
    }
    if (rt__buf_reserve(&l->buf, CHUNK) != 0)
        return ENOMEM;
    do
        n = read(l->fd, l->buf.data + l->buf.len, CHUNK);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : errno;
    if (n == 0)
        l->eof = 1;
    l->buf.len += (size_t)n;
    l->buf.data[l->buf.len] = '\0';
    return 0;
}

/* Hand over one line that ends at |end| (exclusive of the newline). */
static void give(struct cli_lines *l, char *start, size_t len)
{
    if (len > 0 && start[len - 1] == '\r')
        len--;
    start[len] = '\0';
    l->on_line(l, start, len, l->ud);
}

static void pump(struct cli_lines *l)
{
    int burst = 0, err;
    char *start, *nl;
    size_t len;

    for (;;) {
        if (l->closed || l->ended)
            return;
        if (l->paused) {
            quiet(l);
            return;
        }
        /* An empty buffer may hold no allocation yet. */
        len = l->buf.len - l->pos;
        start = len > 0 ? l->buf.data + l->pos : NULL;
        nl = len > 0 ? memchr(start, '\n', len) : NULL;
        if (nl != NULL && (size_t)(nl - start) <= l->max_line) {
            l->pos += (size_t)(nl - start) + 1;
            give(l, start, (size_t)(nl - start));
            if (++burst >= BURST && !l->closed && !l->paused) {
                if (l->polled)
                    uv_poll_stop(&l->poll);
                uv_idle_start(&l->idle, on_idle);
                return;
            }
            continue;
        }
        if (nl != NULL || len > l->max_line) {
            end(l, RT_ETOOBIG);
            return;
        }
        if (l->eof) {
            if (len > 0) {
                l->pos = l->buf.len;
                give(l, start, len);
                if (l->closed)
                    return;
            }
            end(l, 0);
            return;
        }
        if (l->polled) {
            uv_idle_stop(&l->idle);
            uv_poll_start(&l->poll, UV_READABLE, on_poll);
            return;
        }
        if ((err = read_more(l)) != 0) {
            end(l, err);
            return;
        }
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct cli_lines *l = h->data;
    int err;

    (void)events;
    if (status < 0) {
        end(l, -status);
        return;
    }
    if ((err = read_more(l)) != 0) {
        end(l, err);
        return;
    }
    pump(l);
}

static void on_idle(uv_idle_t *h)
{
    pump(h->data);
}

int cli_lines_start(struct cli_lines *l, uv_loop_t *loop, int fd,
                    size_t max_line, cli_lines_line_cb on_line,
                    cli_lines_end_cb on_end, void *ud)
{
    int rc;

    memset(l, 0, sizeof(*l));
    l->fd = fd;
    l->max_line = max_line;
    l->on_line = on_line;
    l->on_end = on_end;
    l->ud = ud;
    rt__buf_init(&l->buf);
    l->saved_flags = fcntl(fd, F_GETFL);
    /* Regular files and /dev/null cannot be polled (EPERM): read them. */
    l->polled = uv_poll_init(loop, &l->poll, fd) == 0;
    if (!l->polled)
        l->saved_flags = -1;
    rc = uv_idle_init(loop, &l->idle);
    if (rc != 0) {
        if (l->polled)
            uv_close((uv_handle_t *)&l->poll, NULL);
        rt__buf_cleanup(&l->buf);
        return rc;
    }
    l->poll.data = l->idle.data = l;
    l->started = 1;
    uv_idle_start(&l->idle, on_idle);
    return 0;
}

void cli_lines_pause(struct cli_lines *l)
{
    if (!l->started || l->closed)
        return;
    l->paused = 1;
    quiet(l);
}

void cli_lines_resume(struct cli_lines *l)
{
    if (!l->started || l->closed || l->ended || !l->paused)
        return;
    l->paused = 0;
    uv_idle_start(&l->idle, on_idle);
}

void cli_lines_close(struct cli_lines *l)
{
    if (!l->started || l->closed)
        return;
    l->closed = 1;
    if (l->polled)
        uv_close((uv_handle_t *)&l->poll, NULL);
    uv_close((uv_handle_t *)&l->idle, NULL);
    if (l->saved_flags >= 0)
        (void)fcntl(l->fd, F_SETFL, l->saved_flags);
    rt__buf_cleanup(&l->buf);
}
