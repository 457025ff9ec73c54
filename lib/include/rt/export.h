/*
 * rt/export.h: symbol visibility.  librtctl is built with hidden visibility;
 * only declarations marked RT_EXTERN are part of its ABI.
 */
#ifndef RT_EXPORT_H
#define RT_EXPORT_H

#if defined(__GNUC__) && defined(RT_BUILDING_LIB)
#define RT_EXTERN __attribute__((visibility("default")))
#else
#define RT_EXTERN
#endif

#endif /* RT_EXPORT_H */
