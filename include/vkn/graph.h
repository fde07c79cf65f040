/* The static training graph: built once, differentiated in reverse, planned in memory, recorded
 * into one command stream and replayed every step with a single submit (DESIGN.md section 3).
 *
 *   vkn_params  persistent tensors shared by graphs: parameters, their gradients, optimizer state,
 *               normalization buffers. A GAN's discriminator step and generator step share one.
 *   vkn_graph   values (tensors by shape) and op nodes in creation order. vkn_graph_backward()
 *               appends gradient ops from a scalar loss; an optimizer appends update ops;
 *               vkn_graph_compile() plans memory (activations reuse memory by liveness) and records
 *               the step; vkn_graph_run() submits it.
 *
 * Building functions do not return a status: the first error is remembered and returned by
 * vkn_graph_compile() (and vkn_graph_status()), so model code reads like the math. */
#ifndef VKN_GRAPH_H
#define VKN_GRAPH_H

#include <stdint.h>
#include "vkn/cmd.h"
#include "vkn/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vkn_params vkn_params;
typedef struct vkn_graph vkn_graph;
typedef int32_t vkn_val;                 /* a value of a graph; VKN_NONE for none */
#define VKN_NONE (-1)

/* ---- parameter store ---- */
typedef enum vkn_init {
    VKN_INIT_ZEROS = 0, VKN_INIT_ONES, VKN_INIT_CONST,
    VKN_INIT_NORMAL,      /* N(0, scale^2), e.g. scale 0.02 (DCGAN) */
    VKN_INIT_HE,          /* N(0, 2/fan_in) */
    VKN_INIT_XAVIER,      /* U(-a, a), a = sqrt(6/(fan_in+fan_out)) */
    VKN_INIT_UNIFORM,     /* U(-scale, scale) */
} vkn_init;

vkn_status vkn_params_create(vkn_context *ctx, uint64_t seed, vkn_params **out);
void vkn_params_destroy(vkn_params *p);
/* A learned parameter (with a gradient tensor), initialised on the host from the store's seed and
 * the parameter's name (so adding a parameter does not change the others). fan_in/fan_out feed
 * the He / Xavier rules. Returns the parameter's index. */
int vkn_params_add(vkn_params *p, const char *name, int ndim, const int64_t *shape, vkn_init init, float scale,
                   int64_t fan_in, int64_t fan_out);
/* A buffer (running statistics, EM state: saved and loaded, never optimized). */
int vkn_params_add_buffer(vkn_params *p, const char *name, int ndim, const int64_t *shape, vkn_init init, float scale);
/* Adopt tensors made elsewhere (a normalization layer's slots); grad may be NULL for buffers. */
int vkn_params_adopt(vkn_params *p, const char *name, const vkn_tensor *value, const vkn_tensor *grad);
int vkn_params_count(const vkn_params *p);
int vkn_params_find(const vkn_params *p, const char *name);
const char *vkn_params_name(const vkn_params *p, int i);
const vkn_tensor *vkn_params_value(const vkn_params *p, int i);
const vkn_tensor *vkn_params_grad(const vkn_params *p, int i);   /* NULL for buffers */
vkn_arena *vkn_params_arena(vkn_params *p);
vkn_context *vkn_params_context(const vkn_params *p);
int64_t vkn_params_numel(const vkn_params *p, int learned_only);
/* Checkpoints: every tensor of the store (parameters, optimizer state, buffers) in a safetensors
 * file written atomically, with metadata model, step and extra "key", "value" pairs (NULL-ended).
 * Load checks every name and shape and changes nothing unless all fit. */
vkn_status vkn_params_save(const vkn_params *p, const char *path, const char *model, int64_t step,
                           const char *const *extra_meta);
vkn_status vkn_params_load(vkn_params *p, const char *path, const char *model, int64_t *step);
/* The first error of vkn_params_add* (they return -1 on error). */
vkn_status vkn_params_status(const vkn_params *p);

/* ---- graph building ---- */
vkn_status vkn_graph_create(vkn_params *params, const char *name, vkn_graph **out);
void vkn_graph_destroy(vkn_graph *g);
vkn_status vkn_graph_status(const vkn_graph *g);

/* A value the host writes before each run (a batch, labels, context ids): host-mapped. */
vkn_val vkn_graph_input(vkn_graph *g, const char *name, vkn_dtype dtype, int ndim, const int64_t *shape);
/* A parameter of the store as a value; requires_grad: this graph computes its gradient. */
vkn_val vkn_graph_param(vkn_graph *g, int param_index, int requires_grad);
/* Shape queries. */
int vkn_graph_ndim(const vkn_graph *g, vkn_val v);
int64_t vkn_graph_dim(const vkn_graph *g, vkn_val v, int axis);
int64_t vkn_graph_numel(const vkn_graph *g, vkn_val v);
/* Keep a value's memory alive after the step (to read it back, or to use it as the next step's
 * input); kept values are never reused by the planner. */
void vkn_graph_keep(vkn_graph *g, vkn_val v);

/* Ops (each appends a node; backward rules are built in). */
vkn_val vkn_graph_unary(vkn_graph *g, vkn_unary op, float alpha, vkn_val x);
vkn_val vkn_graph_binary(vkn_graph *g, vkn_binary op, vkn_val a, vkn_val b);        /* broadcasting */
vkn_val vkn_graph_reduce(vkn_graph *g, vkn_reduce op, vkn_val x, uint32_t axes);     /* sum or mean */
vkn_val vkn_graph_reshape(vkn_graph *g, vkn_val x, int ndim, const int64_t *shape);  /* no copy */
/* y = act(x W^T + b): x [N, in], W [out, in] (PyTorch layout), b [out] or VKN_NONE */
vkn_val vkn_graph_linear(vkn_graph *g, vkn_val x, vkn_val w, vkn_val b, vkn_act act, float act_alpha);
/* y = act(alpha op(A) op(B) + bias) as vkn_op_gemm (bias per column) */
vkn_val vkn_graph_matmul(vkn_graph *g, vkn_val a, vkn_val b, int trans_a, int trans_b);
/* Mean squared error of x against target (same shape): a [1] value. */
vkn_val vkn_graph_mse(vkn_graph *g, vkn_val x, vkn_val target);

/* ---- extension: op types defined elsewhere (nn layers, norms, losses) ---- */
typedef struct vkn_gop vkn_gop;
typedef struct vkn_gop_type {
    const char *name;
    /* record the forward of op into c (tensors via vkn_graph_tensor) */
    vkn_status (*record)(vkn_graph *g, const vkn_gop *op, vkn_cmd *c);
    /* append the backward: dout[i] is the gradient value of output i (or VKN_NONE); set din[i] to a
     * NEW value holding the gradient contribution for input i (or VKN_NONE) */
    vkn_status (*backward)(vkn_graph *g, const vkn_gop *op, const vkn_val *dout, vkn_val *din);
    /* reference forward on host float arrays (double accumulation inside): in[i], out[i] */
    vkn_status (*reference)(vkn_graph *g, const vkn_gop *op, float *const *in, float *const *out);
    void (*destroy)(void *state);   /* frees op->state, or NULL */
} vkn_gop_type;

#define VKN_GOP_MAX_IN 24
#define VKN_GOP_MAX_OUT 24
#define VKN_GOP_ATTR_BYTES 96
struct vkn_gop {
    const vkn_gop_type *type;
    vkn_val in[VKN_GOP_MAX_IN];
    int nin;
    vkn_val out[VKN_GOP_MAX_OUT];
    int nout;
    uint8_t attr[VKN_GOP_ATTR_BYTES];   /* op-specific attributes (plain data) */
    void *state;                        /* op-specific object (e.g. a vkn_norm), owned if destroy set */
    char label[48];
};

/* A new intermediate value of the given shape (for op implementations). */
vkn_val vkn_graph_value(vkn_graph *g, const char *name, vkn_dtype dtype, int ndim, const int64_t *shape);
/* Append an op; outputs must be new values. Returns the op index, or -1 (error remembered). */
int vkn_graph_add_op(vkn_graph *g, const vkn_gop_type *type, const vkn_val *in, int nin, const vkn_val *out,
                     int nout, const void *attr, size_t attr_bytes, void *state, const char *label);
/* The tensor bound to a value once compiled (for record functions). */
const vkn_tensor *vkn_graph_tensor(const vkn_graph *g, vkn_val v);
/* The per-step scalar tensor of the graph (see step.h). */
const vkn_tensor *vkn_graph_step_tensor(const vkn_graph *g);
/* Ids and labels (src/graph/ids.c). An op that indexes with the I32 value ids (embedding rows,
 * classes, contexts) requires every element in 0..limit-1. Where ids is a host-written input, each
 * vkn_graph_submit/run scans the batch first and refuses the step (VKN_ERR_ARG naming the input,
 * the element, its value, the range and op; nothing runs). Where an op of the graph makes ids, that
 * op must have declared the range it writes (vkn_graph_set_id_range: device RNG labels, argmax are
 * in range by construction), compared here at build time; an undeclared producer is an error. */
void vkn_graph_require_ids(vkn_graph *g, vkn_val ids, int64_t limit, const char *op);
void vkn_graph_set_id_range(vkn_graph *g, vkn_val v, int64_t limit);
/* Remember an error (returns it). */
vkn_status vkn_graph_fail(vkn_graph *g, vkn_status s);
/* Accumulate: dst_grad += contribution, as a new value (used by backward rules). */
vkn_val vkn_graph_add(vkn_graph *g, vkn_val a, vkn_val b);

/* ---- differentiation, compilation, running ---- */
/* Append gradient ops from a scalar loss ([1] value). Gradients of parameters added with
 * requires_grad land in the store's gradient tensors (overwritten each run). */
vkn_status vkn_graph_backward(vkn_graph *g, vkn_val loss);
/* The gradient value of v after backward (VKN_NONE if v gets none). */
vkn_val vkn_graph_grad(const vkn_graph *g, vkn_val v);
/* Plan memory and record the step. */
vkn_status vkn_graph_compile(vkn_graph *g);
/* Host pointer of an input value (write the batch here before vkn_graph_run). */
void *vkn_graph_input_ptr(vkn_graph *g, vkn_val v);
/* Set a per-step scalar (step.h slot). */
void vkn_graph_set_step(vkn_graph *g, int slot, float value);
void vkn_graph_set_step_u32(vkn_graph *g, int slot, uint32_t value);
/* NaN/Inf guard (call before compile): after every op, a check of its outputs; vkn_graph_check()
 * after a run names the first op whose output was not finite. Costs about two small dispatches per op. */
void vkn_graph_set_nan_guard(vkn_graph *g, int on);
vkn_status vkn_graph_check(vkn_graph *g);
/* Reference check (VKN_CHECK, DESIGN.md section 2; call before compile, or set VKN_CHECK=1 in the
 * environment: the higher level wins): level 1 compares, after every step, each op that has a C
 * reference with that reference run on the device's own inputs of that op, and the step's
 * vkn_graph_wait / vkn_graph_run / vkn_graph_check returns VKN_ERR_MISMATCH naming the first op
 * that diverges (op, output, element, device and reference values, how many elements are off);
 * level 2 also prints a one-line summary per step to stderr. Every value then gets its own memory
 * (no reuse) and parameters are copied to the host before each submit, so it is slow: a debugging
 * mode. Tolerance |dev - ref| <= atol + rtol*|ref|, default 1e-4 and 1e-3; VKN_CHECK_ATOL and
 * VKN_CHECK_RTOL override. With the check on, vkn_graph_submit_after waits for prev first. */
void vkn_graph_set_check(vkn_graph *g, int level);
void vkn_graph_set_check_tolerance(vkn_graph *g, float atol, float rtol);
vkn_status vkn_graph_submit(vkn_graph *g);
/* Submit g to start on the device when prev's last submit has finished (no host wait between).
 * prev is not const: with VKN_CHECK on, prev is waited for and checked first. */
vkn_status vkn_graph_submit_after(vkn_graph *g, vkn_graph *prev);
vkn_status vkn_graph_wait(vkn_graph *g);
vkn_status vkn_graph_run(vkn_graph *g);               /* submit + wait */
/* Read a value (kept, an input, or a parameter) after a run. */
vkn_status vkn_graph_read(vkn_graph *g, vkn_val v, float *dst);

typedef struct vkn_graph_report {
    uint32_t ops, dispatches, barriers;
    uint64_t activation_bytes;    /* planned (after reuse) */
    uint64_t activation_naive;    /* without reuse */
    uint64_t param_bytes;         /* parameters, gradients, optimizer state, buffers of the store */
    uint32_t checked_ops;         /* VKN_CHECK, last checked step: ops compared with their reference */
    uint32_t unchecked_ops;       /* ... and ops skipped (no reference, or no dispatch to compare) */
} vkn_graph_report;
vkn_graph_report vkn_graph_get_report(const vkn_graph *g);

/* ---- reference execution (tests, VKN_CHECK) ---- */
/* Run the graph's forward ops on the host with the reference of each op, from the current input
 * and parameter contents; out receives value v. Ops after v are skipped. */
vkn_status vkn_graph_reference(vkn_graph *g, vkn_val v, float *out);
/* Override a parameter's host copy used by vkn_graph_reference (for finite differences). */
vkn_status vkn_graph_reference_set_param(vkn_graph *g, int param_index, const float *data);

#ifdef __cplusplus
}
#endif
#endif
