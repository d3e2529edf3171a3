/*
 * bench_secagg - time and upload size of secure aggregation per phase.
 *
 * For n in {3, 10, 30} sites and d in {1e5, 1e6, 1e7} elements, runs a whole
 * round with no dropouts: the sites in this process, the server in a child
 * process forked before any vector is allocated, so the child's peak RSS is
 * the server's own. Messages cross a socketpair as encoded bytes. Reference
 * figures from the same run: raw crypto_stream_chacha20 throughput and a
 * plain (unmasked) float sum of n vectors. Ends with one JSON line for
 * n = 10, d = 1e7. With arguments SITES VALUES it runs that configuration
 * only and prints one JSON line with a site's total computing time.
 */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fc_keys.h"
#include "fc_mask.h"
#include "fc_msg.h"
#include "fc_secagg_client.h"
#include "fc_secagg_server.h"
#include "fl_mem.h"

enum { PHASES = 5 };
static const char *s_phase_names[PHASES] = {"advertise", "share", "relay", "input", "unmask"};

/* Figures of one configuration. Times in seconds; bytes per site. */
typedef struct bench_result {
    uint32_t n_sites;
    uint64_t dim;
    double site_seconds[PHASES];   /* mean over sites */
    double server_seconds[PHASES];
    uint64_t site_bytes;           /* encoded bytes one site sends */
    double server_peak_rss_mb;
    double plain_sum_seconds;
} bench_result;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *operation, fl_error *err)
{
    fprintf(stderr, "bench_secagg: %s failed: %s\n", operation, err ? err->msg : strerror(errno));
    exit(1);
}

/* Frames on the socketpair: a 32-bit length, then the bytes. */
static void write_all(int fd, const void *data, size_t size)
{
    const uint8_t *bytes = data;
    while (size > 0) {
        ssize_t written = write(fd, bytes, size);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0)
            die("write", NULL);
        bytes += written;
        size -= (size_t)written;
    }
}

static void read_all(int fd, void *data, size_t size)
{
    uint8_t *bytes = data;
    while (size > 0) {
        ssize_t got = read(fd, bytes, size);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            die("read", NULL);
        bytes += got;
        size -= (size_t)got;
    }
}

static void send_frame(int fd, const uint8_t *bytes, size_t size)
{
    uint32_t length = (uint32_t)size;
    write_all(fd, &length, sizeof(length));
    write_all(fd, bytes, size);
}

/* Reads one frame into *buffer (grown as needed); returns its size. */
static size_t receive_frame(int fd, uint8_t **buffer, size_t *capacity)
{
    uint32_t length = 0;
    read_all(fd, &length, sizeof(length));
    if (length > *capacity) {
        *buffer = fl_xrealloc(*buffer, length);
        *capacity = length;
    }
    read_all(fd, *buffer, length);
    return length;
}

static fc_secagg_params bench_params(uint32_t n, uint64_t dim)
{
    fc_secagg_params params = {
        .round = 1,
        .n_sites = n,
        .threshold = n / 2 + 1,
        .expected_survivors = n / 2 + 1,
        .dim = dim,
        .chunk_elements = 65536,
        .bits = 16,
        .clip_bound = 1.0,
        .weight_max = 1000,
    };
    return params;
}

/* The server side of one round, in the child process; sends its timings back. */
static void run_server(int fd, const fc_secagg_params *params, const fc_public_identity *roster)
{
    fl_error err = {0};
    fc_secagg_server *server = NULL;
    if (fc_secagg_server_new(&server, params, roster, &err) != FL_OK)
        die("server_new", &err);
    const uint32_t n = params->n_sites;
    uint8_t *frame = NULL;
    size_t capacity = 0;
    uint8_t *bytes = NULL;
    size_t size = 0;
    double seconds[PHASES] = {0};
    fc_msg_key_list *keys = fl_xmalloc(sizeof(*keys));
    fc_msg_shares *shares = fl_xmalloc(sizeof(*shares));
    fc_msg_unmask_request *request = fl_xmalloc(sizeof(*request));
    fc_msg_unmask_response *response = fl_xmalloc(sizeof(*response));
    uint32_t *words = fl_xmalloc(params->chunk_elements * sizeof(uint32_t));

    // AdvertiseKeys -> KeyList
    for (uint32_t u = 0; u < n; u++) {
        size_t length = receive_frame(fd, &frame, &capacity);
        double start = now_seconds();
        fc_msg_advertise advertise;
        if (fc_msg_advertise_decode(&advertise, frame, length, &err) != FL_OK ||
            fc_secagg_server_add_advertise(server, &advertise, &err) != FL_OK)
            die("add_advertise", &err);
        seconds[0] += now_seconds() - start;
    }
    double start = now_seconds();
    if (fc_secagg_server_key_list(server, keys, &err) != FL_OK ||
        fc_msg_key_list_encode(keys, &bytes, &size) != FL_OK)
        die("key_list", &err);
    seconds[0] += now_seconds() - start;
    send_frame(fd, bytes, size);
    free(bytes);

    // ShareKeys -> ShareRelay
    for (uint32_t u = 0; u < n; u++) {
        size_t length = receive_frame(fd, &frame, &capacity);
        start = now_seconds();
        if (fc_msg_shares_decode(shares, FC_MSG_SHARE_KEYS, frame, length, &err) != FL_OK ||
            fc_secagg_server_add_shares(server, shares, &err) != FL_OK)
            die("add_shares", &err);
        seconds[1] += now_seconds() - start;
    }
    start = now_seconds();
    if (fc_secagg_server_close_shares(server, &err) != FL_OK)
        die("close_shares", &err);
    seconds[1] += now_seconds() - start;
    for (uint16_t u = 0; u < n; u++) {
        start = now_seconds();
        if (fc_secagg_server_relay(server, u, shares, &err) != FL_OK ||
            fc_msg_shares_encode(shares, FC_MSG_SHARE_RELAY, &bytes, &size) != FL_OK)
            die("relay", &err);
        seconds[2] += now_seconds() - start;
        send_frame(fd, bytes, size);
        free(bytes);
    }

    // MaskedChunk ... -> UnmaskRequest
    uint64_t chunks = fc_secagg_chunks(params) * n;
    for (uint64_t c = 0; c < chunks; c++) {
        size_t length = receive_frame(fd, &frame, &capacity);
        start = now_seconds();
        fc_msg_masked_chunk chunk;
        if (fc_msg_masked_chunk_decode(&chunk, words, params->chunk_elements, frame, length,
                                       &err) != FL_OK ||
            fc_secagg_server_add_chunk(server, &chunk, &err) != FL_OK)
            die("add_chunk", &err);
        seconds[3] += now_seconds() - start;
    }
    start = now_seconds();
    if (fc_secagg_server_close_inputs(server, request, &err) != FL_OK ||
        fc_msg_unmask_request_encode(request, &bytes, &size) != FL_OK)
        die("close_inputs", &err);
    seconds[3] += now_seconds() - start;
    send_frame(fd, bytes, size);
    free(bytes);

    // UnmaskResponse ... -> sum
    for (uint32_t u = 0; u < n; u++) {
        size_t length = receive_frame(fd, &frame, &capacity);
        start = now_seconds();
        if (fc_msg_unmask_response_decode(response, frame, length, &err) != FL_OK ||
            fc_secagg_server_add_unmask(server, response, &err) != FL_OK)
            die("add_unmask", &err);
        seconds[4] += now_seconds() - start;
    }
    start = now_seconds();
    if (fc_secagg_server_finish(server, &err) != FL_OK)
        die("finish", &err);
    seconds[4] += now_seconds() - start;

    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double peak_mb = (double)usage.ru_maxrss / 1024.0;
    write_all(fd, seconds, sizeof(seconds));
    write_all(fd, &peak_mb, sizeof(peak_mb));

    fc_secagg_server_destroy(&server);
    free(frame);
    free(keys);
    free(shares);
    free(request);
    free(response);
    free(words);
}

/* Sends bytes as a frame and counts them against site when it is site 0. */
static void send_counted(int fd, uint8_t *bytes, size_t size, uint16_t site,
                         bench_result *result)
{
    send_frame(fd, bytes, size);
    if (site == 0)
        result->site_bytes += size;
    free(bytes);
}

/* The sites' side of one round, in the parent process. */
static void run_sites(int fd, const fc_secagg_params *params, fc_identity **identities,
                      const fc_public_identity *roster, const float *values,
                      bench_result *result)
{
    const uint32_t n = params->n_sites;
    fl_error err = {0};
    fc_secagg_client **clients = fl_xcalloc(n, sizeof(*clients));
    for (uint16_t u = 0; u < n; u++) {
        if (fc_secagg_client_new(&clients[u], params, u, identities[u], roster, &err) != FL_OK)
            die("client_new", &err);
    }
    uint8_t *frame = NULL;
    size_t capacity = 0;
    uint8_t *bytes = NULL;
    size_t size = 0;
    double seconds[PHASES] = {0};
    fc_msg_key_list *keys = fl_xmalloc(sizeof(*keys));
    fc_msg_shares *shares = fl_xmalloc(sizeof(*shares));
    fc_msg_unmask_request *request = fl_xmalloc(sizeof(*request));
    fc_msg_unmask_response *response = fl_xmalloc(sizeof(*response));

    // AdvertiseKeys
    for (uint16_t u = 0; u < n; u++) {
        double start = now_seconds();
        fc_msg_advertise advertise;
        if (fc_secagg_client_advertise(clients[u], &advertise, &err) != FL_OK ||
            fc_msg_advertise_encode(&advertise, &bytes, &size) != FL_OK)
            die("advertise", &err);
        seconds[0] += now_seconds() - start;
        send_counted(fd, bytes, size, u, result);
    }

    // KeyList -> ShareKeys
    size_t length = receive_frame(fd, &frame, &capacity);
    for (uint16_t u = 0; u < n; u++) {
        double start = now_seconds();
        if (fc_msg_key_list_decode(keys, frame, length, &err) != FL_OK ||
            fc_secagg_client_share_keys(clients[u], keys, shares, &err) != FL_OK ||
            fc_msg_shares_encode(shares, FC_MSG_SHARE_KEYS, &bytes, &size) != FL_OK)
            die("share_keys", &err);
        seconds[1] += now_seconds() - start;
        send_counted(fd, bytes, size, u, result);
    }

    // ShareRelay
    for (uint16_t u = 0; u < n; u++) {
        length = receive_frame(fd, &frame, &capacity);
        double start = now_seconds();
        if (fc_msg_shares_decode(shares, FC_MSG_SHARE_RELAY, frame, length, &err) != FL_OK ||
            fc_secagg_client_receive_shares(clients[u], shares, &err) != FL_OK ||
            fc_secagg_client_set_input(clients[u], values, 1 + u, NULL, &err) != FL_OK)
            die("receive_shares", &err);
        seconds[2] += now_seconds() - start;
    }

    // MaskedChunk, one chunk per site in turn
    for (uint64_t c = 0; c < fc_secagg_chunks(params); c++) {
        for (uint16_t u = 0; u < n; u++) {
            double start = now_seconds();
            fc_msg_masked_chunk chunk;
            if (fc_secagg_client_next_chunk(clients[u], &chunk, &err) != 1 ||
                fc_msg_masked_chunk_encode(&chunk, &bytes, &size) != FL_OK)
                die("next_chunk", &err);
            seconds[3] += now_seconds() - start;
            send_counted(fd, bytes, size, u, result);
        }
    }

    // UnmaskRequest -> UnmaskResponse
    length = receive_frame(fd, &frame, &capacity);
    for (uint16_t u = 0; u < n; u++) {
        double start = now_seconds();
        if (fc_msg_unmask_request_decode(request, frame, length, &err) != FL_OK ||
            fc_secagg_client_unmask(clients[u], request, response, &err) != FL_OK ||
            fc_msg_unmask_response_encode(response, &bytes, &size) != FL_OK)
            die("unmask", &err);
        seconds[4] += now_seconds() - start;
        send_counted(fd, bytes, size, u, result);
    }

    for (int p = 0; p < PHASES; p++)
        result->site_seconds[p] = seconds[p] / n;
    for (uint16_t u = 0; u < n; u++)
        fc_secagg_client_destroy(&clients[u]);
    free(clients);
    free(frame);
    free(keys);
    free(shares);
    free(request);
    free(response);
}

/* Times a plain float sum of n copies of values, what a server without masking does. */
static double plain_sum_seconds(const float *values, uint64_t dim, uint32_t n)
{
    float *total = fl_xcalloc(dim, sizeof(float));
    double start = now_seconds();
    for (uint32_t u = 0; u < n; u++) {
        for (uint64_t i = 0; i < dim; i++)
            total[i] += values[i];
    }
    double seconds = now_seconds() - start;
    volatile float sink = total[dim / 2];
    (void)sink;
    free(total);
    return seconds;
}

/* Runs one configuration: forks the server first, then builds the sites' inputs. */
static void run_config(uint32_t n, uint64_t dim, bench_result *result)
{
    memset(result, 0, sizeof(*result));
    result->n_sites = n;
    result->dim = dim;
    fc_secagg_params params = bench_params(n, dim);
    fc_identity **identities = fl_xcalloc(n, sizeof(*identities));
    fc_public_identity *roster = fl_xcalloc(n, sizeof(*roster));
    for (uint32_t u = 0; u < n; u++) {
        if (fc_identity_generate(&identities[u]) != FL_OK)
            die("identity_generate", NULL);
        fc_identity_public(identities[u], &roster[u]);
    }

    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
        die("socketpair", NULL);
    fflush(stdout);
    pid_t child = fork();
    if (child < 0)
        die("fork", NULL);
    if (child == 0) {
        close(fds[0]);
        run_server(fds[1], &params, roster);
        close(fds[1]);
        _exit(0);
    }
    close(fds[1]);

    float *values = fl_xmalloc(dim * sizeof(float));
    for (uint64_t i = 0; i < dim; i++)
        values[i] = (float)((double)(i % 2001) / 1000.0 - 1.0) * 0.9f;
    run_sites(fds[0], &params, identities, roster, values, result);
    read_all(fds[0], result->server_seconds, sizeof(result->server_seconds));
    read_all(fds[0], &result->server_peak_rss_mb, sizeof(result->server_peak_rss_mb));
    close(fds[0]);
    int wstatus = 0;
    waitpid(child, &wstatus, 0);
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
        fprintf(stderr, "bench_secagg: server process failed\n");
        exit(1);
    }

    result->plain_sum_seconds = plain_sum_seconds(values, dim, n);
    free(values);
    for (uint32_t u = 0; u < n; u++)
        fc_identity_destroy(&identities[u]);
    free(identities);
    free(roster);
}

/*
 * Returns raw crypto_stream_chacha20 throughput in GB/s (1e9 bytes), writing
 * buffer_size bytes per call and 256 MiB per try. It keeps the best of 2
 * tries, so that other load on the machine lowers the reference least.
 */
static double chacha20_gb_per_s(size_t buffer_size)
{
    const size_t total = (size_t)256 << 20;
    uint8_t *buffer = fl_xmalloc(buffer_size);
    uint8_t key[crypto_stream_chacha20_KEYBYTES] = {1};
    uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {2};
    double best = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        double start = now_seconds();
        for (size_t done = 0; done < total; done += buffer_size) {
            nonce[0]++;
            crypto_stream_chacha20(buffer, buffer_size, nonce, key);
        }
        double rate = (double)total / (now_seconds() - start) / 1e9;
        best = rate > best ? rate : best;
    }
    free(buffer);
    return best;
}

/*
 * Returns how fast a site expands and adds masks, in GB/s of keystream: the
 * self mask and n - 1 pairwise masks over d + 1 words, applied chunk by
 * chunk with fc_mask_apply exactly as fc_secagg_client_next_chunk does, but
 * without the quantisation that the client's input phase also includes.
 */
static double mask_expansion_gb_per_s(uint32_t n, uint64_t dim, uint32_t chunk_elements)
{
    uint32_t *chunk = fl_xcalloc(chunk_elements, sizeof(uint32_t));
    uint32_t scratch[FC_MASK_SCRATCH_WORDS];
    uint8_t (*keys)[FC_MASK_KEY_BYTES] = fl_xmalloc(n * sizeof(*keys));
    randombytes_buf(keys, n * sizeof(*keys));

    double start = now_seconds();
    for (uint64_t first = 0; first < dim + 1; first += chunk_elements) {
        uint64_t count = dim + 1 - first < chunk_elements ? dim + 1 - first : chunk_elements;
        for (uint32_t k = 0; k < n; k++)
            fc_mask_apply(chunk, count, first, keys[k], k % 2 ? -1 : +1, scratch);
    }
    double seconds = now_seconds() - start;
    free(keys);
    free(chunk);
    return (double)n * (double)(dim + 1) * 4.0 / seconds / 1e9;
}

/* Keystream bytes per second of a site's whole input phase, quantisation included. */
static double input_gb_per_s(const bench_result *result)
{
    double bytes = (double)result->n_sites * (double)(result->dim + 1) * 4.0;
    return bytes / result->site_seconds[3] / 1e9;
}

static double upload_expansion(const bench_result *result)
{
    return (double)result->site_bytes / ((double)result->dim * 4.0);
}

static void print_result(const bench_result *r)
{
    printf("%3" PRIu32 " %9" PRIu64 " |", r->n_sites, r->dim);
    for (int p = 0; p < PHASES; p++)
        printf(" %8.1f", r->site_seconds[p] * 1e3);
    printf(" |");
    for (int p = 0; p < PHASES; p++)
        printf(" %8.1f", r->server_seconds[p] * 1e3);
    printf(" | %11" PRIu64 " %6.4f %6.2f %8.1f %8.1f\n", r->site_bytes, upload_expansion(r),
           input_gb_per_s(r), r->plain_sum_seconds * 1e3, r->server_peak_rss_mb);
    fflush(stdout);
}

/*
 * Runs one configuration and prints one JSON line with a site's whole
 * secure-aggregation computing time (the sum of its phases) and its upload
 * size; ./scripts/bench.sh round calls it so.
 */
static int run_one(const char *sites_text, const char *dim_text)
{
    char *end_sites = NULL, *end_dim = NULL;
    unsigned long n = strtoul(sites_text, &end_sites, 10);
    unsigned long long dim = strtoull(dim_text, &end_dim, 10);
    if (*end_sites != '\0' || *end_dim != '\0' || n < 2 || n > 1000 || dim < 1) {
        fprintf(stderr, "usage: bench_secagg [SITES VALUES]  (2..1000 sites, 1 or more values; "
                        "'%s %s' is invalid)\n", sites_text, dim_text);
        return 2;
    }
    bench_result result;
    run_config((uint32_t)n, (uint64_t)dim, &result);
    double site_s = 0;
    for (int p = 0; p < PHASES; p++)
        site_s += result.site_seconds[p];
    printf("{\"bench\":\"secagg\",\"sites\":%lu,\"values\":%llu,\"site_s\":%.4f,"
           "\"site_bytes\":%" PRIu64 ",\"server_peak_rss_mb\":%.1f}\n", n, dim, site_s,
           result.site_bytes, result.server_peak_rss_mb);
    return 0;
}

int main(int argc, char **argv)
{
    if (fc_init() != FL_OK) {
        fprintf(stderr, "bench_secagg: sodium_init failed\n");
        return 1;
    }
    if (argc == 3)
        return run_one(argv[1], argv[2]);
    if (argc != 1) {
        fprintf(stderr, "usage: bench_secagg [SITES VALUES]\n");
        return 2;
    }
    printf("times in ms; site times are the mean per site; bytes are what site 0 sends;\n"
           "expansion = bytes / (4 d), the size of a plain float32 upload; input GB/s = n x "
           "(d+1) x 4 bytes / site input time\n\n");
    printf("  n         d |");
    for (int p = 0; p < PHASES; p++)
        printf(" %8s", s_phase_names[p]);
    printf(" |");
    for (int p = 0; p < PHASES; p++)
        printf(" %8s", s_phase_names[p]);
    printf(" | %11s %6s %6s %8s %8s\n", "site bytes", "expand", "input", "plain ms", "srv MB");
    printf("              | %-44s | %-44s |\n", "site", "server");

    static const uint32_t site_counts[] = {3, 10, 30};
    static const uint64_t dims[] = {100000, 1000000, 10000000};
    bench_result headline = {0};
    for (size_t i = 0; i < 3; i++) {
        for (size_t j = 0; j < 3; j++) {
            bench_result result;
            run_config(site_counts[i], dims[j], &result);
            print_result(&result);
            if (site_counts[i] == 10 && dims[j] == 10000000)
                headline = result;
        }
    }

    // Mask expansion and raw ChaCha20 alternate, best of 5 each, so that load from other
    // processes affects both alike. The stricter (faster) raw buffer size is the reference.
    double mask = 0;
    double chacha20 = 0;
    for (int attempt = 0; attempt < 5; attempt++) {
        double rate = mask_expansion_gb_per_s(10, 10000000, 65536);
        mask = rate > mask ? rate : mask;
        double small = chacha20_gb_per_s(4096);
        double large = chacha20_gb_per_s(1 << 20);
        rate = small > large ? small : large;
        chacha20 = rate > chacha20 ? rate : chacha20;
    }
    printf("\nmask expansion (n=10, d=1e7, quantisation excluded): %.2f GB/s; raw "
           "crypto_stream_chacha20: %.2f GB/s (best of 4 KiB and 1 MiB buffers)\n",
           mask, chacha20);
    printf("\n{\"bench\":\"secagg\",\"mask_gb_per_s\":%.3f,\"chacha20_gb_per_s\":%.3f,"
           "\"mask_efficiency\":%.3f,\"upload_expansion\":%.4f,\"server_peak_rss_mb\":%.1f}\n",
           mask, chacha20, mask / chacha20, upload_expansion(&headline),
           headline.server_peak_rss_mb);
    return 0;
}
