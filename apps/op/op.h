/* vkn-op: run one vknorm op or normalization layer on tensors read from a safetensors file and write
 * its outputs (and, given upstream gradients, its gradients) to another (docs/OP.md).
 *
 * Files of this program, one concern each:
 *   vkn-op.c     main: arguments -> device -> record -> run -> write, help texts, exit codes
 *   args.c       the option table, command-line parsing and typed getters
 *   tensors.c    named inputs from the file onto the device, outputs back into the output file
 *   ops_basic.c  unary, binary, reduce, gemm
 *   ops_layer.c  conv2d, conv_transpose2d, pooling, embedding, one_hot, concat
 *   ops_loss.c   softmax_ce and the element-wise losses
 *   norm_run.c   norm --kind KIND (every normalization layer)
 *   ops_table.c  the ops: names, options, tensor names, runners */
#ifndef VKN_OP_H
#define VKN_OP_H

#include <stdint.h>
#include <stdio.h>

#include "vkn/vkn.h"
#include "vkn/io.h"

#define OP_EXIT_RUNTIME 1
#define OP_EXIT_USAGE 2
#define OP_INTS_MAX (1l << 30)   /* each value of an OPT_INTS list (kernel, stride, pad, axes) */

/* ---- options (args.c) ---- */
typedef enum opt_type { OPT_STR, OPT_INT, OPT_FLOAT, OPT_BOOL, OPT_INTS, OPT_ENUM, OPT_KIND } opt_type;

typedef struct opt_spec {
    const char *name;     /* without the leading "--" */
    opt_type type;
    const char *choices;  /* OPT_ENUM: "a|b|c" */
    const char *help;
    long long lo, hi;     /* OPT_INT: the valid range (the value is refused outside it, never clamped) */
} opt_spec;

#define OP_MAX_KV 64
typedef struct op_args {
    const char *op;                  /* the OP word (NULL: none given) */
    const char *in, *out, *device;
    int help, list, quiet;
    int n;
    const char *key[OP_MAX_KV];      /* op options as given, in order */
    const char *val[OP_MAX_KV];
} op_args;

struct op_def;

const opt_spec *opt_find(const char *name);
/* Parse argv. Returns 0 on success; else prints the problem to stderr and returns OP_EXIT_USAGE. */
int args_parse(int argc, char **argv, op_args *a);
/* Check every given option against what the op accepts (prints the valid ones on a mismatch). */
int args_check_op(const op_args *a, const struct op_def *d);
/* "--alpha 0.2 --axes 0,2" (the options as given, canonical spacing) */
void args_canonical(const op_args *a, char *buf, size_t len);
void opt_print_help(FILE *f, const char *names /* space-separated */);

int arg_given(const op_args *a, const char *name);
const char *arg_str(const op_args *a, const char *name, const char *def);
long long arg_int(const op_args *a, const char *name, long long def);
double arg_f(const op_args *a, const char *name, double def);
int arg_bool(const op_args *a, const char *name, int def);
/* up to max integers of a list option ("0,2"); returns the count, 0 when absent */
int arg_ints(const op_args *a, const char *name, int *out, int max);
/* the index of the value in the option's choices ("none|col|row"), def when absent */
int arg_enum(const op_args *a, const char *name, int def);

/* ---- one run (tensors.c) ---- */
#define OP_MAX_OUT 64
typedef struct op_out {
    char name[96];
    vkn_tensor t;                    /* device tensor to download */
    int fndim;                       /* shape written to the file (0: scalar) */
    int64_t fshape[VKN_MAX_DIMS];
    void *host;
} op_out;

typedef struct op_ctx {
    const struct op_def *def;
    const op_args *args;
    vkn_context *ctx;
    vkn_arena *arena;
    vkn_cmd *cmd;
    vkn_io_safetensors *in;
    const char *in_path;
    int usage;                       /* the failing status is a usage error (exit 2) */
    int backward;                    /* a backward was recorded */
    op_out out[OP_MAX_OUT];
    int nout;
    char notes[1024];                /* remarks printed after the run (e.g. a skipped backward) */
    /* called after the stream ran, before the outputs are downloaded (e.g. norm id checks) */
    vkn_status (*after)(struct op_ctx *oc);
    void *after_data;
    void (*cleanup)(struct op_ctx *oc);
} op_ctx;

/* A usage error (exit 2): records the message as VKN_ERR_ARG. */
vkn_status oc_usage(op_ctx *oc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void oc_note(op_ctx *oc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Whether the input file holds a tensor of this name. */
int oc_has(const op_ctx *oc, const char *name);
/* Read tensor `name` (dtype dt, min_nd..max_nd dimensions; a 0-D file scalar counts as [1]) onto
 * the device. Absent: VKN_ERR_FORMAT naming the tensor, the file and the tensors it has. */
vkn_status oc_input(op_ctx *oc, const char *name, vkn_dtype dt, int min_nd, int max_nd, vkn_tensor *t);
/* VKN_ERR_SHAPE naming the tensor, its shape and the expected one (why: what the expectation follows from) */
vkn_status oc_expect_shape(op_ctx *oc, const char *name, const vkn_tensor *t, int ndim, const int64_t *shape,
                           const char *why);
/* An element count check, for tensors any shape of that count fits. */
vkn_status oc_expect_numel(op_ctx *oc, const char *name, const vkn_tensor *t, int64_t numel, const char *why);
/* Every element of the I32 tensor `name` (read from the file) in 0..limit-1, else VKN_ERR_ARG (exit 1)
 * naming the tensor, the first bad element, its value, the range and what the range follows from. The
 * kernels would give zero rows or NaN there, so vkn-op refuses before anything runs. */
vkn_status oc_check_ids(op_ctx *oc, const char *name, int64_t limit, const char *why);
/* A device tensor that becomes output `name` (written with the device tensor's shape). */
vkn_status oc_output(op_ctx *oc, const char *name, vkn_dtype dt, int ndim, const int64_t *shape, vkn_tensor *t);
/* Register an existing device tensor as output `name`, written with the given file shape. */
vkn_status oc_output_tensor(op_ctx *oc, const char *name, const vkn_tensor *t, int fndim, const int64_t *fshape);
/* Change the file shape of an output already registered (e.g. a squeezed reduction, a scalar loss). */
void oc_output_fshape(op_ctx *oc, const vkn_tensor *t, int fndim, const int64_t *fshape);
/* A scratch device tensor (not written). */
vkn_status oc_temp(op_ctx *oc, vkn_dtype dt, int ndim, const int64_t *shape, vkn_tensor *t);
/* "[2, 3]" */
const char *oc_shape(const vkn_tensor *t, char *buf, size_t len);
/* Download every output into host memory (after the run). */
vkn_status oc_download(op_ctx *oc);
void oc_free(op_ctx *oc);

/* ---- the ops (ops_table.c) ---- */
typedef vkn_status (*op_fn)(op_ctx *oc);

typedef struct op_def {
    const char *name;
    const char *family;
    int code;              /* the vkn_unary / vkn_binary / vkn_reduce / vkn_loss_kind of the op */
    const char *options;   /* space-separated option names it accepts */
    const char *inputs;    /* help: the tensors it reads */
    const char *outputs;   /* help: the tensors it writes */
    op_fn run;
} op_def;

const op_def *op_find(const char *name);
int op_count(void);
const op_def *op_at(int i);

/* runners */
vkn_status run_unary(op_ctx *oc);
vkn_status run_binary(op_ctx *oc);
vkn_status run_reduce(op_ctx *oc);
vkn_status run_gemm(op_ctx *oc);
vkn_status run_conv2d(op_ctx *oc);
vkn_status run_conv_transpose2d(op_ctx *oc);
vkn_status run_maxpool2d(op_ctx *oc);
vkn_status run_avgpool2d(op_ctx *oc);
vkn_status run_embedding(op_ctx *oc);
vkn_status run_one_hot(op_ctx *oc);
vkn_status run_concat(op_ctx *oc);
vkn_status run_softmax_ce(op_ctx *oc);
vkn_status run_loss(op_ctx *oc);
vkn_status run_norm(op_ctx *oc);

#endif
