/* Data-parallel training on MPI (include/vkn/dist.h, docs/DIST.md).
 *
 * Gradient exchange: vkn_dist_attach gives the graph an exchange (graph_internal.h); the graph
 * records its step as bucket segments plus the rest. As segment b ends on the device, ready(b)
 * copies bucket b's gradients into one host buffer (a memcpy where the memory is mapped, the staging
 * ring where it is not) and starts MPI_Iallreduce(SUM) on it; finish() waits for every bucket,
 * multiplies by 1/size and writes the averages back before the optimizer segment is submitted.
 * While a segment runs, progress() polls the started all-reduces (MPI moves non-blocking
 * collectives only inside MPI calls).
 *
 * Watchdog: a thread that ends the job (MPI_Abort, or _exit where MPI gives no thread support)
 * when a step stays open longer than the timeout. A step is open between vkn_dist_step_begin/end,
 * and during every exchange. */
#include "vkn/dist.h"

#include <mpi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "graph/graph_internal.h"
#include "vkn/version.h"

typedef struct dist_graph {
    vkn_dist *d;
    float *buf;              /* every bucket's gradients, packed */
    int64_t *off;            /* [nbuckets + 1] float offsets into buf */
    MPI_Request *req;        /* [nbuckets] */
    int nbuckets;
    int started;             /* buckets whose all-reduce was started this step */
    double t_ready;          /* host ms spent in this step's ready() calls */
    int armed;               /* this exchange opened the watchdog's step */
    struct dist_graph *next;
} dist_graph;

struct vkn_dist {
    MPI_Comm comm;
    int rank, size, local_rank;
    int started_mpi;         /* vkn_dist_init called MPI_Init */
    int thread_multiple;
    char device[32];
    dist_graph *graphs;
    vkn_dist_stats stats;
    /* watchdog */
    pthread_t dog;
    int dog_running;
    double timeout_s;
    _Atomic int64_t open_since_ns;   /* 0: no step open */
    _Atomic int64_t step;
    _Atomic int stop;
};

#define START_STEP INT64_MIN   /* the watchdog's step during the start's collectives */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double ms_since(int64_t t0) { return (double)(now_ns() - t0) / 1e6; }

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ull;
    return h;
}
static uint64_t fnv1a_str(uint64_t h, const char *s) { return fnv1a(h, s, strlen(s) + 1); }

int vkn_dist_available(void) { return 1; }

static void *watchdog(void *arg)
{
    vkn_dist *d = arg;
    while (!atomic_load(&d->stop)) {
        struct timespec nap = {0, 100 * 1000 * 1000};
        nanosleep(&nap, NULL);
        int64_t since = atomic_load(&d->open_since_ns);
        if (!since || (double)(now_ns() - since) / 1e9 < d->timeout_s) continue;
        int64_t step = atomic_load(&d->step);
        char where[64];
        if (step == START_STEP) snprintf(where, sizeof where, "the start (checks, broadcast)");
        else snprintf(where, sizeof where, "step %lld", (long long)step);
        fprintf(stderr,
                "vknorm dist: rank %d of %d: %s made no progress for %.0f s (this rank or another crashed "
                "or hangs; VKN_DIST_TIMEOUT sets the limit): ending the job\n",
                d->rank, d->size, where, d->timeout_s);
        fflush(stderr);
        if (d->thread_multiple) MPI_Abort(d->comm, 70);
        _exit(70);   /* no thread support in MPI: a rank gone without MPI_Finalize ends the job as well */
    }
    return NULL;
}

/* The local rank from Open MPI's environment, else from the ranks sharing this node's memory. */
static int find_local_rank(MPI_Comm comm)
{
    const char *e = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
    if (e && *e) return atoi(e);
    MPI_Comm node;
    int r = 0;
    if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_rank(node, &r);
        MPI_Comm_free(&node);
    }
    return r;
}

vkn_status vkn_dist_init(int *argc, char ***argv, vkn_dist **out)
{
    *out = NULL;
    vkn_dist *d = calloc(1, sizeof *d);
    if (!d) return vkn_status_set(VKN_ERR_HOST_OOM, "vkn_dist_init");
    int inited = 0, provided = MPI_THREAD_SINGLE;
    MPI_Initialized(&inited);
    if (!inited) {
        if (MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS) {
            free(d);
            return vkn_status_set(VKN_ERR_UNSUPPORTED, "vkn_dist_init: MPI_Init_thread failed");
        }
        d->started_mpi = 1;
    } else {
        MPI_Query_thread(&provided);
    }
    d->thread_multiple = provided == MPI_THREAD_MULTIPLE;
    MPI_Comm_dup(MPI_COMM_WORLD, &d->comm);
    MPI_Comm_rank(d->comm, &d->rank);
    MPI_Comm_size(d->comm, &d->size);
    d->local_rank = find_local_rank(d->comm);

    const char *t = getenv("VKN_DIST_TIMEOUT");
    d->timeout_s = 60;
    if (t && *t) {
        char *end;
        double v = strtod(t, &end);
        if (*end || v < 0) {
            vkn_dist_finalize(d);
            return vkn_status_set(VKN_ERR_ARG, "VKN_DIST_TIMEOUT='%s': expected seconds >= 0 (0: no watchdog)", t);
        }
        d->timeout_s = v;
    }
    if (d->timeout_s > 0) {
        if (pthread_create(&d->dog, NULL, watchdog, d) != 0) {
            vkn_dist_finalize(d);
            return vkn_status_set(VKN_ERR_HOST_OOM, "vkn_dist_init: watchdog thread");
        }
        d->dog_running = 1;
    }
    *out = d;
    return VKN_OK;
}

void vkn_dist_finalize(vkn_dist *d)
{
    if (!d) return;
    if (d->dog_running) {
        atomic_store(&d->stop, 1);
        pthread_join(d->dog, NULL);
    }
    for (dist_graph *x = d->graphs, *next; x; x = next) {
        next = x->next;
        free(x->buf);
        free(x->off);
        free(x->req);
        free(x);
    }
    if (d->comm != MPI_COMM_NULL && d->comm) MPI_Comm_free(&d->comm);
    if (d->started_mpi) MPI_Finalize();
    free(d);
}

int vkn_dist_rank(const vkn_dist *d) { return d ? d->rank : 0; }
int vkn_dist_size(const vkn_dist *d) { return d ? d->size : 1; }
int vkn_dist_local_rank(const vkn_dist *d) { return d ? d->local_rank : 0; }

const char *vkn_dist_device(vkn_dist *d)
{
    if (!d) return NULL;
    const char *e = getenv("VKN_DEVICE");
    if (e && *e) return e;
    char list[4096];
    int n = vkn_context_list_devices(list, sizeof list);
    if (n <= 1) return NULL;
    /* lines "i: name [type]": the non-CPU devices, else all */
    int idx[16], ngpu = 0;
    for (char *line = strtok(list, "\n"); line && ngpu < 16; line = strtok(NULL, "\n"))
        if (!strstr(line, "[cpu]")) idx[ngpu++] = atoi(line);
    int pick = ngpu ? idx[d->local_rank % ngpu] : d->local_rank % n;
    snprintf(d->device, sizeof d->device, "%d", pick);
    return d->device;
}

/* The start's collectives (check, broadcast) wait for every rank: under the watchdog too, unless a
 * step is already open. Returns whether it opened one. */
static int open_start(vkn_dist *d)
{
    if (d->timeout_s <= 0 || atomic_load(&d->open_since_ns)) return 0;
    atomic_store(&d->step, START_STEP);
    atomic_store(&d->open_since_ns, now_ns());
    return 1;
}
static void close_start(vkn_dist *d, int opened)
{
    if (opened) atomic_store(&d->open_since_ns, 0);
}

static vkn_status check(vkn_dist *d, const char *label, const void *what, size_t n);

vkn_status vkn_dist_check(vkn_dist *d, const char *label, const void *what, size_t n)
{
    if (!d) return vkn_status_set(VKN_ERR_ARG, "vkn_dist_check: no vkn_dist");
    int opened = open_start(d);
    vkn_status s = check(d, label, what, n);
    close_start(d, opened);
    return s;
}

static vkn_status check(vkn_dist *d, const char *label, const void *what, size_t n)
{
    if (!d) return vkn_status_set(VKN_ERR_ARG, "vkn_dist_check: no vkn_dist");
    uint64_t mine[2];
    mine[0] = fnv1a_str(fnv1a_str(fnv1a_str(1469598103934665603ull, vkn_version()), vkn_version_commit()),
                        vkn_version_build_type());
    mine[1] = fnv1a(fnv1a_str(1469598103934665603ull, label ? label : ""), what, what ? n : 0);
    uint64_t *all = malloc((size_t)d->size * sizeof mine);
    if (!all) return vkn_status_set(VKN_ERR_HOST_OOM, "vkn_dist_check");
    MPI_Allgather(mine, 2, MPI_UINT64_T, all, 2, MPI_UINT64_T, d->comm);
    vkn_status s = VKN_OK;
    for (int r = 1; r < d->size; r++) {
        if (all[2 * r] != all[0]) {
            s = vkn_status_set(VKN_ERR_ARG, "dist check: rank %d runs a different build of vknorm than rank 0 "
                               "(version, commit or build type; rank 0 has %s %s %s)",
                               r, vkn_version(), vkn_version_commit(), vkn_version_build_type());
            break;
        }
        if (all[2 * r + 1] != all[1]) {
            s = vkn_status_set(VKN_ERR_ARG, "dist check: rank %d differs from rank 0 in its %s (hash %016llx, "
                               "rank 0 %016llx): start every rank with the same options",
                               r, label ? label : "configuration", (unsigned long long)all[2 * r + 1],
                               (unsigned long long)all[1]);
            break;
        }
    }
    free(all);
    return s;
}

static vkn_status broadcast_params(vkn_dist *d, vkn_params *p);

vkn_status vkn_dist_broadcast_params(vkn_dist *d, vkn_params *p)
{
    if (!d) return vkn_status_set(VKN_ERR_ARG, "vkn_dist_broadcast_params: no vkn_dist");
    int opened = open_start(d);
    vkn_status s = broadcast_params(d, p);
    close_start(d, opened);
    return s;
}

static vkn_status broadcast_params(vkn_dist *d, vkn_params *p)
{
    /* the same store everywhere: names and shapes */
    int np = vkn_params_count(p);
    uint64_t h = fnv1a(1469598103934665603ull, &np, sizeof np);
    int64_t most = 1;
    for (int i = 0; i < np; i++) {
        const vkn_tensor *t = vkn_params_value(p, i);
        h = fnv1a_str(h, vkn_params_name(p, i));
        h = fnv1a(h, &t->ndim, sizeof t->ndim);
        h = fnv1a(h, t->shape, (size_t)t->ndim * sizeof t->shape[0]);
        if (t->numel > most) most = t->numel;
    }
    VKN_TRY(check(d, "parameter store (names and shapes)", &h, sizeof h));
    float *buf = malloc((size_t)most * sizeof *buf);
    if (!buf) return vkn_status_set(VKN_ERR_HOST_OOM, "vkn_dist_broadcast_params");
    vkn_status s = VKN_OK;
    for (int i = 0; i < np && s == VKN_OK; i++) {
        const vkn_tensor *t = vkn_params_value(p, i);
        if (d->rank == 0) s = vkn_tensor_download(t, buf);
        /* every rank takes part in the broadcast even after a local error, or the others hang */
        int ok = s == VKN_OK, all_ok = 0;
        MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, d->comm);
        if (!all_ok) {
            if (s == VKN_OK) s = vkn_status_set(VKN_ERR_ARG, "broadcast of parameters: rank 0 could not read %s",
                                                vkn_params_name(p, i));
            break;
        }
        for (int64_t o = 0; o < t->numel; o += 1 << 28) {
            int64_t n = t->numel - o < (1 << 28) ? t->numel - o : (1 << 28);
            MPI_Bcast(buf + o, (int)n, MPI_FLOAT, 0, d->comm);
        }
        if (d->rank != 0) s = vkn_tensor_upload(t, buf);
    }
    free(buf);
    return s;
}

/* ---- the gradient exchange ---- */

static void arm(vkn_dist *d) { atomic_store(&d->open_since_ns, now_ns()); }

static vkn_status bucket_ready(void *user, vkn_graph *g, int b)
{
    dist_graph *x = user;
    vkn_dist *d = x->d;
    int64_t t0 = now_ns();
    if (b == 0) {
        x->t_ready = 0;
        x->started = 0;
        x->armed = atomic_load(&d->open_since_ns) == 0;
        if (x->armed) { atomic_store(&d->step, (int64_t)d->stats.steps + 1); arm(d); }
    }
    if (!x->buf) {   /* first step: the buckets are known now (after compile) */
        x->nbuckets = g->nbuckets;
        x->off = calloc((size_t)g->nbuckets + 1, sizeof *x->off);
        x->req = calloc((size_t)g->nbuckets, sizeof *x->req);
        if (!x->off || !x->req) return vkn_status_set(VKN_ERR_HOST_OOM, "dist: buckets of graph %s", g->name);
        for (int k = 0, i = 0; k < g->nbuckets; k++) {
            x->off[k + 1] = x->off[k];
            for (; i < g->bucket_end[k]; i++) x->off[k + 1] += vkn_params_grad(g->params, g->bucket_params[i])->numel;
        }
        x->buf = malloc((size_t)(x->off[g->nbuckets] ? x->off[g->nbuckets] : 1) * sizeof *x->buf);
        if (!x->buf) return vkn_status_set(VKN_ERR_HOST_OOM, "dist: gradient buffer of graph %s", g->name);
        d->stats.buckets += g->nbuckets;
    }
    int64_t o = x->off[b];
    for (int i = b ? g->bucket_end[b - 1] : 0; i < g->bucket_end[b]; i++) {
        const vkn_tensor *gt = vkn_params_grad(g->params, g->bucket_params[i]);
        VKN_TRY(vkn_tensor_download(gt, x->buf + o));
        o += gt->numel;
    }
    int64_t n = x->off[b + 1] - x->off[b];
    if (n > 0x7fffffff) return vkn_status_set(VKN_ERR_ARG, "dist: bucket %d of graph %s holds %lld floats (> 2^31)", b, g->name, (long long)n);
    MPI_Iallreduce(MPI_IN_PLACE, x->buf + x->off[b], (int)n, MPI_FLOAT, MPI_SUM, d->comm, &x->req[b]);
    x->started = b + 1;
    x->t_ready += ms_since(t0);
    return VKN_OK;
}

/* While the next bucket segment runs: let MPI move the started all-reduces (non-blocking
 * collectives advance only inside MPI calls), napping 50 us between tries so a CPU device keeps
 * its cores. 0 once every started bucket is done. */
static int bucket_progress(void *user)
{
    dist_graph *x = user;
    if (!x->started) return 0;
    int done = 0;
    MPI_Testall(x->started, x->req, &done, MPI_STATUSES_IGNORE);
    if (done) return 0;
    struct timespec nap = {0, 50 * 1000};
    nanosleep(&nap, NULL);
    return 1;
}

static vkn_status bucket_finish(void *user, vkn_graph *g)
{
    dist_graph *x = user;
    vkn_dist *d = x->d;
    int64_t t0 = now_ns();
    MPI_Waitall(x->nbuckets, x->req, MPI_STATUSES_IGNORE);
    float inv = 1.0f / (float)d->size;
    int64_t total = x->off[x->nbuckets];
    for (int64_t i = 0; i < total; i++) x->buf[i] *= inv;
    int64_t o = 0;
    for (int i = 0; i < g->bucket_end[x->nbuckets - 1]; i++) {
        const vkn_tensor *gt = vkn_params_grad(g->params, g->bucket_params[i]);
        VKN_TRY(vkn_tensor_upload(gt, x->buf + o));
        o += gt->numel;
    }
    double exposed = ms_since(t0);
    d->stats.exposed_ms += exposed;
    d->stats.exchange_ms += exposed + x->t_ready;
    d->stats.steps++;
    if (x->armed) atomic_store(&d->open_since_ns, 0);
    return VKN_OK;
}

vkn_status vkn_dist_attach(vkn_dist *d, vkn_graph *g, const vkn_dist_graph_opts *opts)
{
    if (!d) return vkn_status_set(VKN_ERR_ARG, "vkn_dist_attach: no vkn_dist");
    dist_graph *x = calloc(1, sizeof *x);
    if (!x) return vkn_status_set(VKN_ERR_HOST_OOM, "vkn_dist_attach");
    x->d = d;
    vkn_graph_exchange e = {.user = x, .ready = bucket_ready, .finish = bucket_finish, .progress = bucket_progress};
    e.bucket_bytes = opts && opts->bucket_bytes ? opts->bucket_bytes : 4ull << 20;
    if (opts && opts->blocking) e.bucket_bytes = 0;
    vkn_status s = vkn_graph_set_exchange(g, &e);
    if (s != VKN_OK) { free(x); return s; }
    x->next = d->graphs;
    d->graphs = x;
    return VKN_OK;
}

vkn_dist_stats vkn_dist_get_stats(const vkn_dist *d)
{
    vkn_dist_stats s;
    memset(&s, 0, sizeof s);
    return d ? d->stats : s;
}

void vkn_dist_step_begin(vkn_dist *d, int64_t step)
{
    if (!d) return;
    atomic_store(&d->step, step);
    arm(d);
}

void vkn_dist_step_end(vkn_dist *d)
{
    if (d) atomic_store(&d->open_since_ns, 0);
}

vkn_status vkn_dist_allreduce_sum(vkn_dist *d, float *x, int64_t n)
{
    if (!d) return vkn_status_set(VKN_ERR_ARG, "vkn_dist_allreduce_sum: no vkn_dist");
    for (int64_t o = 0; o < n; o += 1 << 28) {
        int64_t k = n - o < (1 << 28) ? n - o : (1 << 28);
        MPI_Allreduce(MPI_IN_PLACE, x + o, (int)k, MPI_FLOAT, MPI_SUM, d->comm);
    }
    return VKN_OK;
}

int vkn_dist_same(vkn_dist *d, const void *buf, size_t n)
{
    if (!d) return 0;
    unsigned char *root = malloc(n ? n : 1);
    int ok = root != NULL, all = 0;
    MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, d->comm);
    if (!ok) { free(root); return 0; }
    if (d->rank == 0) memcpy(root, buf, n);
    for (size_t o = 0; o < n; o += 1u << 30) {
        size_t k = n - o < (1u << 30) ? n - o : (1u << 30);
        MPI_Bcast(root + o, (int)k, MPI_BYTE, 0, d->comm);
    }
    int same = memcmp(root, buf, n) == 0;
    free(root);
    MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_MIN, d->comm);
    return all;
}
