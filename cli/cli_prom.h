/* Reading values out of Prometheus text (what the roles' /metrics serve), for `cairn status`. */
#ifndef CLI_PROM_H
#define CLI_PROM_H

#include <stdbool.h>
#include <stddef.h>

/* Sums the values of every sample named exactly `sample` (any labels). False if there is none. */
bool cli_prom_sum(const char *text, size_t len, const char *sample, double *sum);

#endif
