#include "fl_time.h"

#include <stdio.h>
#include <time.h>

void fl_time_iso8601(char out[FL_TIME_ISO_SIZE])
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm utc;
    gmtime_r(&now.tv_sec, &utc);
    char seconds[32];
    strftime(seconds, sizeof(seconds), "%Y-%m-%dT%H:%M:%S", &utc);
    snprintf(out, FL_TIME_ISO_SIZE, "%s.%03dZ", seconds, (int)(now.tv_nsec / 1000000L));
}

double fl_time_monotonic(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}
