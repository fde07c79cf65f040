/* Data-parallel training on MPI (docs/DIST.md): one process (rank) per device, on one machine or
 * many; gradients are exchanged through the host, so the devices may be of any vendor.
 *
 *   vkn_dist_init       MPI up (or joins an MPI the program started), rank, size, local rank, the
 *                       device this rank should use, the watchdog
 *   vkn_dist_check      every rank checks that all ranks run the same build and configuration
 *   vkn_dist_broadcast_params  rank 0's parameters and buffers to every rank
 *   vkn_dist_attach     a training graph averages its gradients over the ranks before its optimizer:
 *                       the recorded step is split at bucket boundaries (gradients in reverse layer
 *                       order, bucket_bytes each) and the host all-reduces each bucket while the device
 *                       goes on with the next segment; the optimizer segment waits for all of them
 *
 * MPI is optional at build time: without it vkn_dist_available() is 0 and vkn_dist_init returns
 * VKN_ERR_UNSUPPORTED ("built without MPI"); every other function then only sees a NULL vkn_dist. */
#ifndef VKN_DIST_H
#define VKN_DIST_H

#include <stddef.h>
#include <stdint.h>
#include "vkn/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vkn_dist vkn_dist;

/* 1 when the library was built with MPI. */
int vkn_dist_available(void);

/* Initialise MPI (unless the program did) and the rank's facts. argc/argv may be NULL.
 * Watchdog: a step that makes no progress for VKN_DIST_TIMEOUT seconds (default 60; 0 turns it
 * off) ends the whole job with a message naming the rank and the step. */
vkn_status vkn_dist_init(int *argc, char ***argv, vkn_dist **out);
/* Ends MPI when vkn_dist_init started it. NULL is fine. Attached graphs must not run afterwards
 * (destroy them first). */
void vkn_dist_finalize(vkn_dist *d);

int vkn_dist_rank(const vkn_dist *d);         /* 0 for NULL */
int vkn_dist_size(const vkn_dist *d);         /* 1 for NULL */
int vkn_dist_local_rank(const vkn_dist *d);   /* rank among the ranks of this machine */
/* The device this rank should open (vkn_context_opts.device): VKN_DEVICE when set, else the local
 * rank modulo the number of non-CPU devices (all devices when there are only CPU ones). NULL when
 * there is nothing to choose (one device, or d NULL). */
const char *vkn_dist_device(vkn_dist *d);

/* All ranks gather a 64-bit hash of (library version, build commit, build type, what[0..n)) and
 * compare it with rank 0's. Returns VKN_ERR_ARG on every rank when any rank differs, naming the
 * first such rank and `label`. Collective. */
vkn_status vkn_dist_check(vkn_dist *d, const char *label, const void *what, size_t n);

/* Rank 0's values of every tensor of the store (parameters and buffers; not gradients) on every
 * rank. First checks that every rank's store has the same names and shapes. Collective. */
vkn_status vkn_dist_broadcast_params(vkn_dist *d, vkn_params *p);

typedef struct vkn_dist_graph_opts {
    uint64_t bucket_bytes;   /* gradient bytes per bucket (0: 4 MiB) */
    int blocking;            /* 1: one bucket of everything, exchanged after the whole backward */
} vkn_dist_graph_opts;

/* Before vkn_graph_compile: every run of g averages the gradients of the parameters it trains over
 * all ranks before its optimizer ops (and any op after the last gradient write). vkn_graph_submit
 * of such a graph returns once the optimizer segment is submitted (it waits for the exchange).
 * Not combinable with VKN_CHECK. opts NULL: defaults. */
vkn_status vkn_dist_attach(vkn_dist *d, vkn_graph *g, const vkn_dist_graph_opts *opts);

typedef struct vkn_dist_stats {
    uint64_t steps;          /* exchanges done */
    int buckets;             /* over the attached graphs that have run */
    double exchange_ms;      /* host time in MPI calls and copies, summed over steps */
    double exposed_ms;       /* time the host waited for the exchange after the last segment ended */
} vkn_dist_stats;
vkn_dist_stats vkn_dist_get_stats(const vkn_dist *d);

/* The watchdog's notion of the step: call at the start of each training step (numbers messages)
 * and vkn_dist_step_end after it; a step open longer than the timeout ends the job. */
void vkn_dist_step_begin(vkn_dist *d, int64_t step);
void vkn_dist_step_end(vkn_dist *d);

/* Element-wise sum of n floats over all ranks, in place (host memory). Collective. */
vkn_status vkn_dist_allreduce_sum(vkn_dist *d, float *x, int64_t n);
/* 1 when buf[0..n) is bitwise the same on every rank (0 otherwise; also 0 on error). Collective. */
int vkn_dist_same(vkn_dist *d, const void *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
