/*
 * exit.h: the exit statuses of every rtctl subcommand.  This enum is the
 * one source; rtctl(1) EXIT STATUS documents each value and the docs-sync
 * test (t0020) checks that the two agree.
 */
#ifndef RTCTL_EXIT_H
#define RTCTL_EXIT_H

#define RTCTL_EXIT_MAP(XX)                                                \
    XX(OK, 0, "success: the goal was reached")                            \
    XX(RUNTIME, 1, "runtime failure: the remote said no, a write error")  \
    XX(USAGE, 2, "usage: unknown command or option, bad value")           \
    XX(CONNECT, 3, "could not connect after the retries allowed")         \
    XX(PROTOCOL, 4, "protocol error: malformed frame, stream or message") \
    XX(TIMEOUT, 5, "--timeout passed before the goal")                    \
    XX(CHECK, 6, "a check or threshold failed")                           \
    XX(INTERRUPTED, 130, "interrupted by Ctrl-C")

enum rtctl_exit {
#define RTCTL_XX_(name, code, text) RTCTL_EXIT_##name = code,
    RTCTL_EXIT_MAP(RTCTL_XX_)
#undef RTCTL_XX_
};

/* Map a library error (RT_E*) to the exit status a user should see. */
enum rtctl_exit rtctl_exit_from_err(int err);

#endif /* RTCTL_EXIT_H */
