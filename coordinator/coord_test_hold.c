#include "coord_test_hold.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fl_log.h"

void coord_test_hold(const char *point, uint64_t round)
{
    static bool held_once;
    const char *text = getenv("FEDLORA_TEST_HOLD_AT");
    if (held_once || text == NULL || text[0] == '\0')
        return;

    char name[16];
    unsigned long long hold_round = 0;
    long milliseconds = 0;
    if (sscanf(text, "%15[a-z]:%llu:%ld", name, &hold_round, &milliseconds) != 3 ||
        milliseconds <= 0) {
        fl_warn("FEDLORA_TEST_HOLD_AT='%s' is invalid, so no hold takes place; expected "
                "POINT:ROUND:MS, for example share:2:60000",
                text);
        held_once = true;
        return;
    }
    if (strcmp(name, point) != 0 || hold_round != round)
        return;

    held_once = true;
    fl_info("test-only hold at %s of round %llu for %ld ms", point, hold_round, milliseconds);
    struct timespec pause = {milliseconds / 1000, (milliseconds % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}
