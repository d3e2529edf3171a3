#include "report_html.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PLOT_WIDTH 720
#define PLOT_HEIGHT 300
#define MARGIN_LEFT 60
#define MARGIN_RIGHT 150
#define MARGIN_TOP 20
#define MARGIN_BOTTOM 40
#define MAX_SITES 64

static const char *const s_colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                       "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                       "#bcbd22", "#17becf"};
#define COLOR_COUNT (sizeof(s_colors) / sizeof(s_colors[0]))

/* Writes text with the five HTML special characters escaped. */
static void write_escaped(FILE *out, const char *text)
{
    for (const char *p = text; *p != '\0'; p++) {
        switch (*p) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default: fputc(*p, out);
        }
    }
}

/* Axis scale of one plot: maps data coordinates to SVG pixels. */
typedef struct plot_scale {
    double x_min, x_max, y_min, y_max;
} plot_scale;

static double pixel_x(const plot_scale *scale, double x)
{
    double span = scale->x_max > scale->x_min ? scale->x_max - scale->x_min : 1.0;
    double width = PLOT_WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
    return MARGIN_LEFT + (x - scale->x_min) / span * width;
}

static double pixel_y(const plot_scale *scale, double y)
{
    double span = scale->y_max > scale->y_min ? scale->y_max - scale->y_min : 1.0;
    double height = PLOT_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM;
    return PLOT_HEIGHT - MARGIN_BOTTOM - (y - scale->y_min) / span * height;
}

static void write_axes(FILE *out, const plot_scale *scale, const char *x_label,
                       const char *y_label)
{
    double left = MARGIN_LEFT, right = PLOT_WIDTH - MARGIN_RIGHT;
    double top = MARGIN_TOP, bottom = PLOT_HEIGHT - MARGIN_BOTTOM;
    fprintf(out, "<line x1='%g' y1='%g' x2='%g' y2='%g' stroke='#333'/>\n", left, bottom, right,
            bottom);
    fprintf(out, "<line x1='%g' y1='%g' x2='%g' y2='%g' stroke='#333'/>\n", left, top, left,
            bottom);
    for (int tick = 0; tick <= 4; tick++) {
        double value = scale->y_min + (scale->y_max - scale->y_min) * tick / 4.0;
        double y = pixel_y(scale, value);
        fprintf(out,
                "<text x='%g' y='%g' font-size='11' text-anchor='end'>%.3g</text>"
                "<line x1='%g' y1='%g' x2='%g' y2='%g' stroke='#ddd'/>\n",
                left - 6, y + 4, value, left, y, right, y);
    }
    int first = (int)ceil(scale->x_min), last = (int)floor(scale->x_max);
    int step = last - first > 20 ? (last - first) / 10 : 1;
    for (int x = first; x <= last; x += step)
        fprintf(out, "<text x='%g' y='%g' font-size='11' text-anchor='middle'>%d</text>\n",
                pixel_x(scale, x), bottom + 16, x);
    fprintf(out, "<text x='%g' y='%d' font-size='12' text-anchor='middle'>%s</text>\n",
            (left + right) / 2, PLOT_HEIGHT - 6, x_label);
    fprintf(out,
            "<text x='14' y='%g' font-size='12' text-anchor='middle' "
            "transform='rotate(-90 14 %g)'>%s</text>\n",
            (top + bottom) / 2, (top + bottom) / 2, y_label);
}

/* Collects the distinct site names of every round, in order of first appearance. */
static size_t collect_sites(const json_t *rounds, const char *names[MAX_SITES])
{
    size_t count = 0;
    size_t r;
    const json_t *round;
    json_array_foreach(rounds, r, round) {
        size_t s;
        const json_t *site;
        json_array_foreach(json_object_get(round, "sites"), s, site) {
            const char *name = json_string_value(json_object_get(site, "site"));
            if (name == NULL)
                continue;
            size_t known = 0;
            while (known < count && strcmp(names[known], name) != 0)
                known++;
            if (known == count && count < MAX_SITES)
                names[count++] = name;
        }
    }
    return count;
}

/* Returns the site entry named name in round, or NULL. */
static const json_t *site_entry(const json_t *round, const char *name)
{
    size_t s;
    const json_t *site;
    json_array_foreach(json_object_get(round, "sites"), s, site) {
        const char *entry_name = json_string_value(json_object_get(site, "site"));
        if (entry_name != NULL && strcmp(entry_name, name) == 0)
            return site;
    }
    return NULL;
}

static int round_number(const json_t *round, size_t index)
{
    const json_t *number = json_object_get(round, "round");
    return json_is_integer(number) ? (int)json_integer_value(number) : (int)index + 1;
}

static void write_loss_plot(FILE *out, const json_t *rounds, const char *names[], size_t sites)
{
    plot_scale scale = {INFINITY, -INFINITY, INFINITY, -INFINITY};
    size_t r;
    const json_t *round;
    json_array_foreach(rounds, r, round) {
        for (size_t s = 0; s < sites; s++) {
            const json_t *loss = json_object_get(site_entry(round, names[s]), "val_loss");
            if (!json_is_number(loss))
                continue;
            double x = round_number(round, r), y = json_number_value(loss);
            scale.x_min = fmin(scale.x_min, x);
            scale.x_max = fmax(scale.x_max, x);
            scale.y_min = fmin(scale.y_min, y);
            scale.y_max = fmax(scale.y_max, y);
        }
    }
    fprintf(out, "<h2>Validation loss per site</h2>\n<svg id='plot-loss' width='%d' "
                 "height='%d' xmlns='http://www.w3.org/2000/svg'>\n",
            PLOT_WIDTH, PLOT_HEIGHT);
    if (!isfinite(scale.x_min)) {
        fprintf(out, "<text x='20' y='40'>No validation loss recorded yet.</text></svg>\n");
        return;
    }
    double pad = (scale.y_max - scale.y_min) * 0.05 + 1e-6;
    scale.y_min -= pad;
    scale.y_max += pad;
    write_axes(out, &scale, "round", "validation loss");

    for (size_t s = 0; s < sites; s++) {
        const char *color = s_colors[s % COLOR_COUNT];
        fprintf(out, "<polyline class='series' data-site='");
        write_escaped(out, names[s]);
        fprintf(out, "' fill='none' stroke='%s' stroke-width='2' points='", color);
        json_array_foreach(rounds, r, round) {
            const json_t *loss = json_object_get(site_entry(round, names[s]), "val_loss");
            if (json_is_number(loss))
                fprintf(out, "%.1f,%.1f ", pixel_x(&scale, round_number(round, r)),
                        pixel_y(&scale, json_number_value(loss)));
        }
        fprintf(out, "'/>\n<text x='%d' y='%zu' font-size='12' fill='%s'>",
                PLOT_WIDTH - MARGIN_RIGHT + 10, MARGIN_TOP + 14 + 16 * s, color);
        write_escaped(out, names[s]);
        fprintf(out, "</text>\n");
    }
    fprintf(out, "</svg>\n");
}

static void write_participation_plot(FILE *out, const json_t *rounds, const char *names[],
                                     size_t sites)
{
    size_t count = json_array_size(rounds);
    int row = 22;
    int height = MARGIN_TOP + row * (int)sites + MARGIN_BOTTOM;
    double cell = count ? (double)(PLOT_WIDTH - MARGIN_RIGHT - 40) / (double)count : 1.0;
    fprintf(out, "<h2>Participation per round</h2>\n<svg id='plot-participation' width='%d' "
                 "height='%d' xmlns='http://www.w3.org/2000/svg'>\n",
            PLOT_WIDTH, height);
    fprintf(out, "<text x='%d' y='%d' font-size='12'>green: took part; grey: did not; "
                 "columns are rounds 1 to %zu</text>\n",
            MARGIN_RIGHT, height - 12, count);
    for (size_t s = 0; s < sites; s++) {
        int y = MARGIN_TOP + row * (int)s;
        fprintf(out, "<text x='%d' y='%d' font-size='12' text-anchor='end'>",
                MARGIN_RIGHT - 10, y + 15);
        write_escaped(out, names[s]);
        fprintf(out, "</text>\n");
        size_t r;
        const json_t *round;
        json_array_foreach(rounds, r, round) {
            const json_t *site = site_entry(round, names[s]);
            int took_part = json_is_true(json_object_get(site, "participated"));
            fprintf(out,
                    "<rect class='participation' x='%.1f' y='%d' width='%.1f' height='%d' "
                    "fill='%s'><title>round %d: %s</title></rect>\n",
                    MARGIN_RIGHT + cell * (double)r, y, cell - 2, row - 4,
                    took_part ? "#2ca02c" : "#e0e0e0", round_number(round, r),
                    took_part ? "took part" : "did not take part");
        }
    }
    fprintf(out, "</svg>\n");
}

static void write_duration_plot(FILE *out, const json_t *rounds)
{
    plot_scale scale = {0.5, (double)json_array_size(rounds) + 0.5, 0.0, 0.0};
    size_t r;
    const json_t *round;
    json_array_foreach(rounds, r, round) {
        double seconds = json_number_value(json_object_get(round, "duration_s"));
        scale.y_max = fmax(scale.y_max, seconds);
    }
    fprintf(out, "<h2>Round durations</h2>\n<svg id='plot-duration' width='%d' height='%d' "
                 "xmlns='http://www.w3.org/2000/svg'>\n",
            PLOT_WIDTH, PLOT_HEIGHT);
    write_axes(out, &scale, "round", "seconds");
    double width = (pixel_x(&scale, 1.5) - pixel_x(&scale, 0.5)) * 0.7;
    json_array_foreach(rounds, r, round) {
        double seconds = json_number_value(json_object_get(round, "duration_s"));
        double x = pixel_x(&scale, (double)r + 1) - width / 2;
        double y = pixel_y(&scale, seconds);
        const char *outcome = json_string_value(json_object_get(round, "outcome"));
        int failed = outcome != NULL && strcmp(outcome, "completed") != 0;
        fprintf(out,
                "<rect class='duration' x='%.1f' y='%.1f' width='%.1f' height='%.1f' "
                "fill='%s'><title>round %d: %.1f s</title></rect>\n",
                x, y, width, PLOT_HEIGHT - MARGIN_BOTTOM - y, failed ? "#d62728" : "#1f77b4",
                round_number(round, r), seconds);
    }
    fprintf(out, "</svg>\n");
}

/* Writes the job's settings as a two-column table, flattening nested objects. */
static void write_settings(FILE *out, const json_t *object, const char *prefix)
{
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)object, key, value) {
        char path[256];
        snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", key);
        if (json_is_object(value)) {
            write_settings(out, value, path);
            continue;
        }
        char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
        fprintf(out, "<tr><td>");
        write_escaped(out, path);
        fprintf(out, "</td><td>");
        write_escaped(out, text ? text : "");
        fprintf(out, "</td></tr>\n");
        free(text);
    }
}

int report_html_write(FILE *out, const json_t *history, const char *where, fl_error *err)
{
    const json_t *job = json_object_get(history, "job");
    const json_t *rounds = json_object_get(history, "rounds");
    if (!json_is_object(job) || !json_is_array(rounds))
        return fl_error_set(err, FL_EFORMAT,
                            "%s: not a job history: expected fields 'job' (object) and "
                            "'rounds' (list)",
                            where);

    const char *names[MAX_SITES];
    size_t sites = collect_sites(rounds, names);
    const char *id = json_string_value(json_object_get(job, "id"));
    const char *status = json_string_value(json_object_get(history, "status"));

    fprintf(out, "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n<title>"
                 "fedlora job ");
    write_escaped(out, id ? id : "");
    fprintf(out, "</title>\n<style>body{font-family:sans-serif;margin:2em;max-width:60em}"
                 "table{border-collapse:collapse}td{border:1px solid #ccc;padding:2px 8px}"
                 "</style>\n</head>\n<body>\n<h1>Job ");
    write_escaped(out, id ? id : "");
    fprintf(out, "</h1>\n<p>Status: ");
    write_escaped(out, status ? status : "unknown");
    fprintf(out, "; %zu rounds; %zu sites.</p>\n", json_array_size(rounds), sites);

    write_loss_plot(out, rounds, names, sites);
    write_participation_plot(out, rounds, names, sites);
    write_duration_plot(out, rounds);

    fprintf(out, "<h2>Settings</h2>\n<table>\n");
    write_settings(out, job, "");
    fprintf(out, "</table>\n</body>\n</html>\n");
    if (ferror(out))
        return fl_error_set(err, FL_EIO, "%s: writing the report failed", where);
    return FL_OK;
}
