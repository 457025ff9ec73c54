/*
 * error.c: names and messages for the RT_ERRNO_MAP table, and the errbuf
 * formatter the modules share.
 */
#include <stdarg.h>
#include <stdio.h>

#include "core_int.h"

void rt__seterr(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (errbuf == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

const char *rt_strerror(int err)
{
    switch (err) {
    case RT_OK:
        return "success";
#define RT_XX_(name, msg) \
    case RT_E##name:      \
        return msg;
        RT_ERRNO_MAP(RT_XX_)
#undef RT_XX_
    default:
        return "unknown error";
    }
}

const char *rt_err_name(int err)
{
    switch (err) {
    case RT_OK:
        return "OK";
#define RT_XX_(name, msg) \
    case RT_E##name:      \
        return #name;
        RT_ERRNO_MAP(RT_XX_)
#undef RT_XX_
    default:
        return "UNKNOWN";
    }
}

int rt_err_is_retryable(int err)
{
    switch (err) {
    case RT_EDNS:
    case RT_ECONNREFUSED:
    case RT_ECLOSED:
    case RT_ETIMEDOUT:
    case RT_EGAP:
        return 1;
    default:
        return 0;
    }
}
