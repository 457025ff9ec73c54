/*
 * exit.c: the only place where library error codes become exit statuses.
 */
#include "rt/error.h"

#include "exit.h"

enum rtctl_exit rtctl_exit_from_err(int err)
{
    switch (err) {
    case RT_OK:
        return RTCTL_EXIT_OK;
    case RT_EINVAL:
    case RT_EURL:
        return RTCTL_EXIT_USAGE;
    case RT_EDNS:
    case RT_ECONNREFUSED:
    case RT_ETLS:
    case RT_EHANDSHAKE:
    case RT_EEXHAUSTED:
        return RTCTL_EXIT_CONNECT;
    case RT_EPROTO:
    case RT_ETOOBIG:
        return RTCTL_EXIT_PROTOCOL;
    case RT_ETIMEDOUT:
        return RTCTL_EXIT_TIMEOUT;
    case RT_ECANCELED:
        return RTCTL_EXIT_INTERRUPTED;
    default:
        return RTCTL_EXIT_RUNTIME;
    }
}
