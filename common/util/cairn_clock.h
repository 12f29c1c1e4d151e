/* Clock helpers shared by the roles' threads. Any thread. */
#ifndef CAIRN_CLOCK_H
#define CAIRN_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* The CLOCK_MONOTONIC time ms milliseconds from now, as pthread_cond_timedwait takes it for a
 * condition variable made by cairn_cond_init_monotonic. */
struct timespec cairn_monotonic_after_ms(int64_t ms);

/* Initialises a condition variable whose timed waits run on CLOCK_MONOTONIC (a wall-clock step
 * never stretches or cuts a wait). Returns pthread_cond_init's result. */
int cairn_cond_init_monotonic(pthread_cond_t *cond);

/* The wall clock (CLOCK_REALTIME) in milliseconds since the epoch: the time stored with records
 * and shown to people. Intervals are measured on CLOCK_MONOTONIC instead. */
int64_t cairn_wall_ms(void);

#endif
