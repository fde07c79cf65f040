/* Internal to src/graph: the structures behind vkn_params and vkn_graph. */
#ifndef VKN_GRAPH_INTERNAL_H
#define VKN_GRAPH_INTERNAL_H

#include <stdio.h>
#include "vkn/graph.h"
#include "vkn/step.h"

typedef struct vkn_param_item {
    char name[96];
    int learned;
    int adopted;           /* tensors made elsewhere (not initialised here) */
    vkn_tensor value, grad;
} vkn_param_item;

struct vkn_params {
    vkn_context *ctx;
    uint64_t seed;
    vkn_arena *arena;
    vkn_param_item *items;
    int n, cap;
    vkn_status status;
};

typedef enum val_kind {
    VAL_ACT = 0,       /* intermediate: memory planned by liveness */
    VAL_INPUT,         /* written by the host each step (host arena) */
    VAL_PARAM,         /* a store parameter's value */
    VAL_PARAM_GRAD,    /* bound to a store parameter's gradient */
} val_kind;

typedef struct gval {
    char name[64];
    vkn_dtype dtype;
    int ndim;
    int64_t shape[VKN_MAX_DIMS];
    int64_t numel;
    val_kind kind;
    int param;            /* store index for PARAM / PARAM_GRAD */
    int requires_grad;    /* a gradient flows to it */
    int train_param;      /* PARAM whose gradient this graph computes */
    vkn_val alias;        /* shares the memory of another value (reshape), or VKN_NONE */
    vkn_val grad;         /* after backward */
    int keep;
    int def;              /* index of the op that defines it, or -1 (inputs, parameters) */
    int first, last;      /* liveness: op indices of definition and last use */
    uint64_t offset;      /* planned offset in the activation block */
    vkn_tensor t;         /* bound at compile */
    float *host;          /* reference execution */
    int64_t id_limit;     /* I32 values made by an op: it writes ids in 0..id_limit-1 (0: not declared; ids.c) */
} gval;

/* An op's ids that a host-written input supplies: checked before every submit (ids.c) */
typedef struct graph_id_check {
    vkn_val input;
    int64_t limit;
    char op[48];
} graph_id_check;
/* A gradient exchange between the segments of a recorded step (src/dist sets it before compile).
 * compile groups the gradients this graph trains into buckets in the order the backward finishes
 * them (reverse layer order), bucket_bytes each (0: all in one), and records one command stream per
 * bucket (the ops up to the bucket's last gradient write) plus the rest (the optimizer). submit
 * chains the bucket segments on the device, calls ready(b) as each one ends (host wait, with
 * progress() polled meanwhile), then finish(), then submits the rest. */
typedef struct vkn_graph_exchange {
    void *user;
    uint64_t bucket_bytes;
    vkn_status (*ready)(void *user, vkn_graph *g, int bucket);
    vkn_status (*finish)(void *user, vkn_graph *g);
    /* optional: called again and again while a bucket segment runs on the device, to move the
     * started exchanges on; returns 0 when it has nothing to move (then the host just waits) */
    int (*progress)(void *user);
} vkn_graph_exchange;

struct vkn_graph {
    char name[64];
    vkn_params *params;
    vkn_context *ctx;
    gval *vals;
    int nvals, cap_vals;
    vkn_gop *ops;
    int nops, cap_ops;
    int nforward;          /* ops before backward */
    vkn_status status;
    int compiled;
    vkn_arena *act_arena, *host_arena;
    vkn_tensor act_block;  /* one allocation carved into activations */
    vkn_tensor step;       /* per-step scalars (host arena) */
    vkn_cmd *cmd;
    vkn_graph_report report;
    float **ref_params;    /* reference execution: host copies of parameters */
    int nan_guard;
    vkn_tensor guard_flags; /* 4 floats per op (16-byte aligned views): [0] = 1 when an output was not finite */
    int check;              /* VKN_CHECK level (0 off, 1 on, 2 verbose), final after compile */
    int check_pending;      /* a submitted step awaits its check */
    float check_atol, check_rtol;
    struct graph_check *chk;  /* check.c: snapshots and buffers, NULL when off */
    graph_id_check *id_checks;
    int nid_checks, cap_id_checks;
    vkn_graph_exchange xchg;  /* ready == NULL: none */
    int nbuckets;             /* after compile, with an exchange: bucket segments before cmd */
    vkn_cmd **segs;           /* [nbuckets] streams; cmd records the ops after the last gradient write */
    int *bucket_params;       /* store indices of the trained parameters, in bucket order */
    int *bucket_end;          /* [nbuckets]: bucket b holds bucket_params[bucket_end[b-1] .. bucket_end[b]) */
};

/* Set an exchange before compile (VKN_ERR_ARG after it, or with VKN_CHECK on). */
vkn_status vkn_graph_set_exchange(vkn_graph *g, const vkn_graph_exchange *x);

/* op types of ops_basic.c used by the autodiff itself */
extern const vkn_gop_type vkn_gop_fill;     /* out = attr value (seed of the backward) */
extern const vkn_gop_type vkn_gop_add;      /* out = a + b (same shape) */
extern const vkn_gop_type vkn_gop_copy;     /* out = in */

/* dx = dy * act'(.) from x or y (whichever the activation's derivative needs; ops_act.c) */
vkn_status vkn_graph_act_backward(vkn_graph *g, vkn_act act, float alpha, vkn_val x, vkn_val y, vkn_val dy, vkn_val *dx);

/* VKN_CHECK (check.c). prepare: at compile, before planning (fixes the level, reads the
 * environment); before_submit: snapshot what the step reads and may change in place; after_wait:
 * compare every op with its reference (once per submit); result: the last step's outcome again. */
vkn_status vkn_graph_check_prepare(vkn_graph *g);
vkn_status vkn_graph_check_before_submit(vkn_graph *g);
vkn_status vkn_graph_check_after_wait(vkn_graph *g);
vkn_status vkn_graph_check_result(const vkn_graph *g);
void vkn_graph_check_destroy(vkn_graph *g);

/* Every host-written id input in its readers' ranges (ids.c): VKN_ERR_ARG naming the first bad element. */
vkn_status vkn_graph_check_input_ids(const vkn_graph *g);

static inline gval *G(const vkn_graph *g, vkn_val v) { return &g->vals[v]; }

#endif
