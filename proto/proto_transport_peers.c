/* Peer table, hellos, heartbeats and liveness of a link. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "fl_log.h"
#include "fl_mem.h"
#include "proto_transport_internal.h"

#ifndef FEDLORA_VERSION
#define FEDLORA_VERSION "0.1.0"
#endif

int64_t proto_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static int64_t wall_clock_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

proto_peer *proto_link_find_peer(const proto_link *link, const char *name)
{
    for (size_t i = 0; i < link->peer_count; i++) {
        if (strcmp(link->peers[i].name, name) == 0)
            return &link->peers[i];
    }
    return NULL;
}

proto_peer *proto_link_add_peer(proto_link *link, const char *name)
{
    proto_peer *peer = proto_link_find_peer(link, name);
    if (peer != NULL)
        return peer;

    if (link->peer_count == link->peer_capacity) {
        link->peer_capacity = link->peer_capacity ? 2 * link->peer_capacity : 8;
        link->peers = fl_xrealloc(link->peers, link->peer_capacity * sizeof(proto_peer));
    }
    peer = &link->peers[link->peer_count++];
    memset(peer, 0, sizeof(*peer));
    snprintf(peer->name, sizeof(peer->name), "%s", name);
    peer->last_heartbeat_sent_ms = proto_now_ms();
    return peer;
}

int proto_link_send_hello(proto_link *link, const char *peer, fl_error *err)
{
    Fedlora__Hello hello = FEDLORA__HELLO__INIT;
    hello.role = link->is_server ? FEDLORA__ROLE__ROLE_COORDINATOR : FEDLORA__ROLE__ROLE_AGENT;
    hello.min_version = PROTO_VERSION;
    hello.max_version = PROTO_VERSION;
    hello.software = link->is_server ? "fedlora-coordinator " FEDLORA_VERSION
                                     : "fedlora-agent " FEDLORA_VERSION;

    Fedlora__Envelope envelope = FEDLORA__ENVELOPE__INIT;
    envelope.body_case = FEDLORA__ENVELOPE__BODY_HELLO;
    envelope.hello = &hello;
    return proto_link_send(link, peer, &envelope, err);
}

static int send_heartbeat(proto_link *link, const char *peer, fl_error *err)
{
    Fedlora__Heartbeat heartbeat = FEDLORA__HEARTBEAT__INIT;
    heartbeat.sent_unix_ms = (uint64_t)wall_clock_ms();
    heartbeat.state = link->is_server ? FEDLORA__AGENT_STATE__AGENT_STATE_UNSPECIFIED
                                      : link->state;
    Fedlora__RoundProgress progress = FEDLORA__ROUND_PROGRESS__INIT;
    progress.attempt = link->progress.attempt;
    progress.control_received = link->progress.control_received;
    progress.control_replied = link->progress.control_replied;
    if (!link->is_server)
        heartbeat.progress = &progress;

    Fedlora__Envelope envelope = FEDLORA__ENVELOPE__INIT;
    envelope.body_case = FEDLORA__ENVELOPE__BODY_HEARTBEAT;
    envelope.heartbeat = &heartbeat;
    /* A heartbeat never waits for queue space: a full queue shows the link is busy anyway. */
    return proto_link_send_flags(link, peer, &envelope, ZMQ_DONTWAIT, err);
}

/* Declares peer dead when it has been silent longer than the peer timeout. */
static void check_peer(proto_link *link, proto_peer *peer, int64_t now, proto_dead_peer_fn on_dead,
                       void *context)
{
    if (peer->dead || now - peer->last_seen_ms <= link->options.peer_timeout_ms)
        return;
    peer->dead = true;
    fl_warn("peer %s declared dead: silent for %lld ms (limit %d ms)", peer->name,
            (long long)(now - peer->last_seen_ms), link->options.peer_timeout_ms);
    if (on_dead != NULL)
        on_dead(peer->name, context);
}

/*
 * Moves every peer's last-seen time forward by the part of a gap between
 * ticks beyond PROTO_TICK_STALL_MS. While this process was not serving its
 * link (a slow disk, no free CPU), the peers' heartbeats waited in its queue,
 * so that time is not their silence.
 */
static void forgive_stall(proto_link *link, int64_t now)
{
    int64_t gap = link->last_tick_ms > 0 ? now - link->last_tick_ms : 0;
    if (gap <= PROTO_TICK_STALL_MS)
        return;

    fl_warn("this process did not serve its link for %lld ms (no free CPU or a slow disk?); "
            "peers' silence in that time does not count against them", (long long)gap);
    for (size_t i = 0; i < link->peer_count; i++) {
        proto_peer *peer = &link->peers[i];
        peer->last_seen_ms += gap - PROTO_TICK_STALL_MS;
        if (peer->last_seen_ms > now)
            peer->last_seen_ms = now;
    }
}

int proto_link_tick(proto_link *link, proto_dead_peer_fn on_dead, void *context, fl_error *err)
{
    int64_t now = proto_now_ms();
    int interval = link->options.heartbeat_interval_ms;
    forgive_stall(link, now);
    link->last_tick_ms = now;

    /* A client always heartbeats its server, which it may not have heard from yet. */
    if (!link->is_server && now - link->last_heartbeat_sent_ms >= interval) {
        int status = send_heartbeat(link, NULL, err);
        if (status == FL_ENET)
            return status;
        link->last_heartbeat_sent_ms = now;
    }

    for (size_t i = 0; i < link->peer_count; i++) {
        proto_peer *peer = &link->peers[i];
        check_peer(link, peer, now, on_dead, context);
        if (!link->is_server || peer->dead || now - peer->last_heartbeat_sent_ms < interval)
            continue;

        /* A peer that disconnected is noticed by its silence, not by this send. */
        fl_error ignored = {0};
        if (send_heartbeat(link, peer->name, &ignored) != FL_OK)
            fl_debug("heartbeat to %s not sent: %s", peer->name, ignored.msg);
        peer->last_heartbeat_sent_ms = now;
    }
    return FL_OK;
}

bool proto_link_peer_alive(const proto_link *link, const char *peer)
{
    const proto_peer *entry = proto_link_find_peer(link, peer);
    return entry != NULL && !entry->dead;
}

uint64_t proto_link_heartbeats_from(const proto_link *link, const char *peer)
{
    const proto_peer *entry = proto_link_find_peer(link, peer);
    return entry != NULL ? entry->heartbeats_received : 0;
}

int64_t proto_link_peer_last_seen_ms(const proto_link *link, const char *peer)
{
    const proto_peer *entry = proto_link_find_peer(link, peer);
    return entry != NULL ? entry->last_seen_ms : -1;
}
