#include "fl_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fl_time.h"

#define LOG_ID_MAX 64

typedef struct log_context {
    char job[LOG_ID_MAX];
    char site[LOG_ID_MAX];
    int64_t round;
} log_context;

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static char s_role[32] = "fedlora";
static int s_level = -1;
static FILE *s_stream;
static _Thread_local log_context s_context = {.round = -1};

static const char *const s_level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

int fl_log_level_parse(const char *text, fl_log_level *out)
{
    static const char *const names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i <= FL_LOG_OFF; i++) {
        if (strcasecmp(text, names[i]) == 0) {
            *out = (fl_log_level)i;
            return FL_OK;
        }
    }
    return FL_EINVAL;
}

static int current_level(void)
{
    if (s_level >= 0)
        return s_level;

    fl_log_level level = FL_LOG_INFO;
    const char *env = getenv("FEDLORA_LOG_LEVEL");
    if (env != NULL && fl_log_level_parse(env, &level) != FL_OK)
        level = FL_LOG_INFO;
    s_level = (int)level;
    return s_level;
}

void fl_log_set_role(const char *role)
{
    pthread_mutex_lock(&s_lock);
    snprintf(s_role, sizeof(s_role), "%s", role);
    pthread_mutex_unlock(&s_lock);
}

void fl_log_set_level(fl_log_level level)
{
    pthread_mutex_lock(&s_lock);
    s_level = (int)level;
    pthread_mutex_unlock(&s_lock);
}

void fl_log_set_stream(FILE *stream)
{
    pthread_mutex_lock(&s_lock);
    s_stream = stream;
    pthread_mutex_unlock(&s_lock);
}

void fl_log_set_context(const char *job, int64_t round, const char *site)
{
    snprintf(s_context.job, sizeof(s_context.job), "%s", job ? job : "");
    snprintf(s_context.site, sizeof(s_context.site), "%s", site ? site : "");
    s_context.round = round;
}

int fl_log_enabled(fl_log_level level)
{
    pthread_mutex_lock(&s_lock);
    int enabled = (int)level >= current_level() && level < FL_LOG_OFF;
    pthread_mutex_unlock(&s_lock);
    return enabled;
}

static void format_context(char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    if (s_context.job[0] != '\0')
        used += (size_t)snprintf(out + used, size - used, " job=%s", s_context.job);
    if (s_context.round >= 0 && used < size)
        used += (size_t)snprintf(out + used, size - used, " round=%lld",
                                 (long long)s_context.round);
    if (s_context.site[0] != '\0' && used < size)
        snprintf(out + used, size - used, " site=%s", s_context.site);
}

void fl_log_write(fl_log_level level, const char *fmt, ...)
{
    if (!fl_log_enabled(level))
        return;

    char stamp[FL_TIME_ISO_SIZE];
    fl_time_iso8601(stamp);

    char context[3 * LOG_ID_MAX + 32];
    format_context(context, sizeof(context));

    char message[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);

    pthread_mutex_lock(&s_lock);
    FILE *out = s_stream ? s_stream : stderr;
    fprintf(out, "%s %s %s%s: %s\n", stamp, s_role,
            s_level_names[level], context, message);
    fflush(out);
    pthread_mutex_unlock(&s_lock);
}
