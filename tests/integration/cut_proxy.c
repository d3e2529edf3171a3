/*
 * cut_proxy: a TCP proxy on loopback that cuts connections mid-stream, for
 * the lost-connection integration test.
 *
 * It accepts connections on 127.0.0.1:LISTEN, opens one connection to
 * 127.0.0.1:TARGET for each and copies bytes both ways. Bytes from the
 * client to the target go "up" and bytes from the target to the client go
 * "down". With a site's agent as the client and the coordinator as the
 * target, down is the adapter download and up is the masked upload.
 *
 * Once a connection has carried --cut-after-bytes bytes in --direction, the
 * proxy closes both of its sockets without forwarding anything more. It does
 * this to the first --cuts connections that reach the count, then forwards
 * every connection in full. Each connection, cut and close is logged to
 * stderr, so a test can check where the cut fell.
 *
 * With --cut-on-signal-read N instead, the proxy forwards everything until it
 * receives SIGUSR1. From then on, the first single read in --direction that
 * returns N bytes or more cuts its connection, and those bytes are dropped.
 * A test sends the signal when only heartbeats flow, so the cut takes the next
 * larger message (a round control message) with it. With --signal-read-action
 * forward, the proxy forwards that read and cuts right after it instead.
 * --accept-pause-ms MS makes the proxy accept no connection for MS ms after
 * each cut, so the client stays disconnected for that long.
 *
 * Usage: cut_proxy --listen PORT --target PORT --direction down|up
 *                  (--cut-after-bytes N | --cut-on-signal-read N)
 *                  [--signal-read-action drop|forward] [--accept-pause-ms MS] [--cuts K]
 * Runs until killed. Exit status 2 on a usage or socket set-up error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNECTIONS 32
#define BUFFER_BYTES 65536

enum { UP = 0, DOWN = 1 };
static const char *const direction_names[] = {"up (client to target)",
                                              "down (target to client)"};

/* Bytes read from one socket and not yet written to the other. */
typedef struct stream {
    uint8_t buffer[BUFFER_BYTES];
    size_t length;  /* bytes in buffer */
    size_t written; /* of those, already written */
    uint64_t total; /* bytes written over the connection's life */
    bool cut_read;  /* a read that must cut the connection was dropped or forwarded */
    bool cut_after_write; /* cut once the buffered read has been forwarded */
} stream;

typedef struct connection {
    bool open;
    int number; /* 1 for the first accepted connection */
    int fds[2]; /* the client's socket and the target's */
    stream streams[2]; /* UP reads fds[0] and writes fds[1], DOWN the reverse */
} connection;

typedef struct proxy_options {
    uint16_t listen_port, target_port;
    uint64_t cut_after;     /* 0 in signal mode */
    uint64_t signal_read;   /* --cut-on-signal-read; 0 when not in signal mode */
    bool forward_trigger;   /* --signal-read-action forward */
    uint64_t accept_pause_ms;
    int direction;
    int cuts;
} proxy_options;

/* Set by SIGUSR1 in signal mode. */
static volatile sig_atomic_t signal_armed;

static void on_signal(int signal_number)
{
    (void)signal_number;
    signal_armed = 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: cut_proxy --listen PORT --target PORT --direction down|up\n"
                    "                 (--cut-after-bytes N | --cut-on-signal-read N) [--cuts K]\n"
                    "  --listen PORT           port to accept clients on, on 127.0.0.1\n"
                    "  --target PORT           port on 127.0.0.1 to forward each client to\n"
                    "  --cut-after-bytes N     cut a connection once N bytes passed in "
                    "--direction\n"
                    "  --cut-on-signal-read N  after SIGUSR1, cut a connection at the first "
                    "read of\n"
                    "                          N bytes or more in --direction, dropping them\n"
                    "  --signal-read-action A  drop (default) or forward the read that "
                    "cuts\n"
                    "  --accept-pause-ms MS    accept no connection for MS ms after a cut, "
                    "default 0\n"
                    "  --direction down|up     down: target to client; up: client to target\n"
                    "  --cuts K                connections to cut, default 1\n");
}

static bool parse_number(const char *text, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || value > max)
        return false;
    *out = value;
    return true;
}

static bool parse_options(int argc, char **argv, proxy_options *o)
{
    memset(o, 0, sizeof(*o));
    o->direction = -1;
    o->cuts = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *name = argv[i], *value = argv[i + 1];
        uint64_t number = 0;
        bool ok = true;
        if (strcmp(name, "--listen") == 0 || strcmp(name, "--target") == 0) {
            ok = parse_number(value, 65535, &number) && number > 0;
            *(name[2] == 'l' ? &o->listen_port : &o->target_port) = (uint16_t)number;
        } else if (strcmp(name, "--cut-after-bytes") == 0) {
            ok = parse_number(value, UINT64_MAX, &o->cut_after) && o->cut_after > 0;
        } else if (strcmp(name, "--cut-on-signal-read") == 0) {
            ok = parse_number(value, BUFFER_BYTES, &o->signal_read) && o->signal_read > 0;
        } else if (strcmp(name, "--signal-read-action") == 0) {
            ok = strcmp(value, "drop") == 0 || strcmp(value, "forward") == 0;
            o->forward_trigger = strcmp(value, "forward") == 0;
        } else if (strcmp(name, "--accept-pause-ms") == 0) {
            ok = parse_number(value, 600000, &o->accept_pause_ms);
        } else if (strcmp(name, "--cuts") == 0) {
            ok = parse_number(value, 1000, &number);
            o->cuts = (int)number;
        } else if (strcmp(name, "--direction") == 0) {
            o->direction = strcmp(value, "up") == 0 ? UP : strcmp(value, "down") == 0 ? DOWN : -1;
            ok = o->direction >= 0;
        } else {
            fprintf(stderr, "cut_proxy: unknown option %s\n", name);
            return false;
        }
        if (!ok) {
            fprintf(stderr, "cut_proxy: invalid value '%s' for %s\n", value, name);
            return false;
        }
    }
    if (argc % 2 == 0 || o->listen_port == 0 || o->target_port == 0 || o->direction < 0 ||
        (o->cut_after == 0) == (o->signal_read == 0)) {
        fprintf(stderr, "cut_proxy: --listen, --target, --direction and one of "
                        "--cut-after-bytes and --cut-on-signal-read are required, each with a "
                        "value\n");
        return false;
    }
    return true;
}

static struct sockaddr_in loopback(uint16_t port)
{
    struct sockaddr_in address;
    memset(&address, 0, sizeof(address));
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

static int open_listener(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int reuse = 1;
    struct sockaddr_in address = loopback(port);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof(reuse)) != 0 ||
        bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0 || listen(fd, 16) != 0) {
        fprintf(stderr, "cut_proxy: cannot listen on 127.0.0.1:%u: %s\n", port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void close_connection(connection *c, const char *reason)
{
    fprintf(stderr, "cut_proxy: connection %d closed (%s) after %llu bytes up, %llu bytes down\n",
            c->number, reason, (unsigned long long)c->streams[UP].total,
            (unsigned long long)c->streams[DOWN].total);
    close(c->fds[0]);
    close(c->fds[1]);
    c->open = false;
}

/* Accepts one client and connects it to the target. A client whose connect fails is closed. */
static void accept_client(int listener, const proxy_options *o, connection *table, int *accepted)
{
    int client = accept(listener, NULL, NULL);
    if (client < 0)
        return;
    connection *c = NULL;
    for (int i = 0; i < MAX_CONNECTIONS && c == NULL; i++)
        c = table[i].open ? NULL : &table[i];

    int target = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = loopback(o->target_port);
    if (c == NULL || target < 0 ||
        connect(target, (struct sockaddr *)&address, sizeof(address)) != 0) {
        fprintf(stderr, "cut_proxy: closed a new client, because forwarding it failed: %s\n",
                c == NULL ? "too many connections" : strerror(errno));
        close(client);
        if (target >= 0)
            close(target);
        return;
    }
    memset(c, 0, sizeof(*c));
    c->open = true;
    c->number = ++*accepted;
    c->fds[0] = client;
    c->fds[1] = target;
    fprintf(stderr, "cut_proxy: connection %d accepted, forwarding to 127.0.0.1:%u\n", c->number,
            o->target_port);
}

/*
 * Moves bytes of one direction: reads when the buffer is empty and writes what
 * the buffer contains. A stream that may still be cut never reads past the cut point.
 * A read of at least cut_read bytes (0: none) sets s->cut_read: at once when
 * it is dropped, or once written when forward is true.
 * Returns false when a socket closed or failed.
 */
static bool pump(connection *c, int direction, short read_events, short write_events,
                 uint64_t limit, uint64_t cut_read, bool forward)
{
    stream *s = &c->streams[direction];
    int from = c->fds[direction == UP ? 0 : 1], to = c->fds[direction == UP ? 1 : 0];
    if (s->length == 0 && (read_events & (POLLIN | POLLHUP | POLLERR))) {
        size_t room = sizeof(s->buffer);
        if (limit - s->total < room)
            room = (size_t)(limit - s->total);
        ssize_t got = room > 0 ? recv(from, s->buffer, room, MSG_DONTWAIT) : 0;
        if (room > 0 && got <= 0 && !(got < 0 && (errno == EINTR || errno == EAGAIN)))
            return false;
        s->length = got > 0 ? (size_t)got : 0;
        s->written = 0;
        if (cut_read > 0 && got > 0 && (uint64_t)got < cut_read)
            fprintf(stderr, "cut_proxy: connection %d: forwarded a read of %zd bytes %s\n",
                    c->number, got, direction_names[direction]);
        if (cut_read > 0 && got > 0 && (uint64_t)got >= cut_read && forward) {
            s->cut_after_write = true;
            fprintf(stderr, "cut_proxy: connection %d: forwarding a read of %zd bytes %s, then "
                            "cutting\n", c->number, got, direction_names[direction]);
        } else if (cut_read > 0 && got > 0 && (uint64_t)got >= cut_read) {
            s->cut_read = true;
            fprintf(stderr, "cut_proxy: connection %d: dropped a read of %zd bytes %s\n",
                    c->number, got, direction_names[direction]);
            s->length = 0;
            return true;
        }
    }
    if (s->length > s->written && (write_events & POLLOUT)) {
        ssize_t put = send(to, s->buffer + s->written, s->length - s->written,
                           MSG_NOSIGNAL | MSG_DONTWAIT);
        if (put < 0 && errno != EINTR && errno != EAGAIN)
            return false;
        if (put > 0) {
            s->written += (size_t)put;
            s->total += (uint64_t)put;
        }
        if (s->written == s->length)
            s->length = s->written = 0;
        s->cut_read = s->cut_read || (s->cut_after_write && s->length == 0);
    }
    return true;
}

static int64_t monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void serve(int listener, const proxy_options *o)
{
    /* The table contains 4 MiB of buffers, too much for the stack. */
    connection *table = calloc(MAX_CONNECTIONS, sizeof(connection));
    if (table == NULL) {
        fprintf(stderr, "cut_proxy: out of memory\n");
        return;
    }
    int accepted = 0, cuts_done = 0;
    bool armed_logged = false;
    int64_t accept_from_ms = 0; /* no accepting before this time, after a cut */
    for (;;) {
        if (signal_armed && !armed_logged) {
            fprintf(stderr, "cut_proxy: SIGUSR1 received; cutting at the next read of %llu bytes "
                            "or more\n", (unsigned long long)o->signal_read);
            armed_logged = true;
        }
        struct pollfd fds[1 + 2 * MAX_CONNECTIONS];
        int64_t pause_left = accept_from_ms - monotonic_ms();
        fds[0] = (struct pollfd){.fd = pause_left > 0 ? -1 : listener, .events = POLLIN};
        for (int i = 0; i < MAX_CONNECTIONS; i++) {
            for (int side = 0; side < 2; side++) {
                const connection *c = &table[i];
                /* Side 0 reads the UP stream and writes the DOWN one, side 1 the reverse. */
                short events = 0;
                if (c->open && c->streams[side].length == 0)
                    events |= POLLIN;
                if (c->open && c->streams[!side].length > c->streams[!side].written)
                    events |= POLLOUT;
                fds[1 + 2 * i + side] = (struct pollfd){
                    .fd = c->open ? c->fds[side] : -1, .events = events};
            }
        }
        if (poll(fds, 1 + 2 * MAX_CONNECTIONS, pause_left > 0 ? (int)pause_left : -1) < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "cut_proxy: poll failed: %s\n", strerror(errno));
            free(table);
            return;
        }
        if (fds[0].revents & POLLIN)
            accept_client(listener, o, table, &accepted);

        for (int i = 0; i < MAX_CONNECTIONS; i++) {
            connection *c = &table[i];
            if (!c->open)
                continue;
            bool armed = cuts_done < o->cuts;
            uint64_t limit = armed && o->cut_after > 0 ? o->cut_after : UINT64_MAX;
            uint64_t cut_read = armed && signal_armed ? o->signal_read : 0;
            short client = fds[1 + 2 * i].revents, target = fds[2 + 2 * i].revents;
            bool up_ok = pump(c, UP, client, target, o->direction == UP ? limit : UINT64_MAX,
                              o->direction == UP ? cut_read : 0, o->forward_trigger);
            bool down_ok = pump(c, DOWN, target, client,
                                o->direction == DOWN ? limit : UINT64_MAX,
                                o->direction == DOWN ? cut_read : 0, o->forward_trigger);
            if (armed && (c->streams[o->direction].total >= limit ||
                          c->streams[o->direction].cut_read)) {
                cuts_done++;
                fprintf(stderr, "cut_proxy: cut connection %d after %llu bytes %s (cut %d of %d)\n",
                        c->number, (unsigned long long)c->streams[o->direction].total,
                        direction_names[o->direction], cuts_done, o->cuts);
                close_connection(c, "cut");
                accept_from_ms = monotonic_ms() + (int64_t)o->accept_pause_ms;
            } else if (!up_ok || !down_ok) {
                close_connection(c, !up_ok ? "the client's side ended" : "the target's side ended");
            }
        }
    }
}

int main(int argc, char **argv)
{
    proxy_options options;
    if (!parse_options(argc, argv, &options)) {
        usage();
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = on_signal;
    sigaction(SIGUSR1, &action, NULL);
    int listener = open_listener(options.listen_port);
    if (listener < 0)
        return 2;
    if (options.signal_read > 0)
        fprintf(stderr, "cut_proxy: listening on 127.0.0.1:%u, forwarding to 127.0.0.1:%u; after "
                        "SIGUSR1 cutting %d connection(s) at a read of %llu bytes or more %s\n",
                options.listen_port, options.target_port, options.cuts,
                (unsigned long long)options.signal_read, direction_names[options.direction]);
    else
        fprintf(stderr, "cut_proxy: listening on 127.0.0.1:%u, forwarding to 127.0.0.1:%u; "
                        "cutting %d connection(s) after %llu bytes %s\n",
                options.listen_port, options.target_port, options.cuts,
                (unsigned long long)options.cut_after, direction_names[options.direction]);
    serve(listener, &options);
    close(listener);
    return 2;
}
