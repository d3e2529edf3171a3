/*
 * report_html.h - renders a job's history as one self-contained HTML file.
 *
 * The input is the job history JSON the coordinator keeps for each job:
 *
 *   {"job": {...job spec...}, "status": "completed",
 *    "rounds": [{"round": 1, "duration_s": 12.5, "outcome": "completed",
 *                "sites": [{"site": "hospital-a", "participated": true,
 *                           "val_loss": 2.31, "train_loss": 2.05,
 *                           "examples": 120}]}]}
 *
 * The page has three inline SVG plots (validation loss per site and round,
 * sites taking part per round, round durations) and the job's settings. It
 * loads nothing from the network.
 */
#ifndef REPORT_HTML_H
#define REPORT_HTML_H

#include <jansson.h>
#include <stdio.h>

#include "fl_error.h"

/* Writes the page for history to out. where names the history in messages. */
int report_html_write(FILE *out, const json_t *history, const char *where,
                      fl_error *err) FL_WARN_UNUSED;

#endif
