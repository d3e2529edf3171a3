/*
 * coord_test_hold.h - a test-only pause at named points of a round.
 *
 * FEDLORA_TEST_HOLD_AT=POINT:ROUND:MS makes the coordinator log "test-only
 * hold at POINT of round ROUND for MS ms" and then sleep MS milliseconds when
 * round ROUND reaches POINT, so an integration test can SIGKILL it exactly
 * there. The points are:
 *   send        adapter chunks are in flight to a site, which has not yet
 *               confirmed the whole adapter (phase SEND)
 *   share       the KeyList went out, and ShareKeys are arriving (phase SHARE)
 *   unmask      the UnmaskRequest went out, and UnmaskShares are arriving
 *               (phase UNMASK)
 *   checkpoint  the round's checkpoint files and history entry are written,
 *               but state.json does not count the round yet
 * The pause happens at most once per process and blocks the event loop,
 * heartbeats included. Nothing else reads the variable, and normal runs
 * leave it unset.
 */
#ifndef COORD_TEST_HOLD_H
#define COORD_TEST_HOLD_H

#include <stdint.h>

/* Sleeps when FEDLORA_TEST_HOLD_AT names point and round; otherwise returns at once. */
void coord_test_hold(const char *point, uint64_t round);

#endif
