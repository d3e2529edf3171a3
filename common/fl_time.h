/*
 * fl_time.h - wall-clock stamps and monotonic time.
 */
#ifndef FL_TIME_H
#define FL_TIME_H

#define FL_TIME_ISO_SIZE 40

/* Writes the current UTC time as 2026-12-04T20:01:02.123Z into out. */
void fl_time_iso8601(char out[FL_TIME_ISO_SIZE]);

/* Returns seconds on the monotonic clock, for durations and deadlines. */
double fl_time_monotonic(void);

#endif
