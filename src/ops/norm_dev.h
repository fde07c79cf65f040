/* Private to the device normalization files (src/ops/norm*.c): the layer object, its workspace,
 * the push constants shared with shaders/common/norm.glsl, and the launch helpers. */
#ifndef VKN_NORM_DEV_H
#define VKN_NORM_DEV_H

#include "vkn/norm.h"
#include "vkn/ops.h"
#include "ops/launch.h"

enum { F_AFFINE = 1, F_PRIOR_SCALE = 2, F_EMBEDDER = 4, F_UBN_BATCH_ABOVE = 8 };

typedef struct norm_pc {
    uint32_t N, C, P, total;
    uint32_t nchunk, clen, G, cw;
    uint32_t K, nseg, NK, train;
    uint32_t use_batch, flags, naff, step;
    float eps, momentum, invP, invC;
    float ubn_thr, pdrop, f2, f3;
    uint32_t nq, qlen, nitem, ncb;
} norm_pc;

typedef struct norm_ws {
    int N, P;                  /* shape of this workspace (N = 0: none yet) */
    int nchunk, clen;
    vkn_tensor part;           /* vec4 per (row, chunk) (not when P = 1) */
    vkn_tensor seg, bseg;      /* vec4 per segment */
    vkn_tensor ftab, btab;     /* vec4 per table entry */
    vkn_tensor kmap, bad;      /* per sample */
    vkn_tensor kord;           /* cbn, cn, cnx: samples sorted by context, then each context's start (prep.comp) */
    int gnchunk, gclen;        /* dense ln, gn: chunks per segment run, elements per chunk (norm_dense.c) */
    vkn_tensor dtmp;           /* cn-emb: d(k,c) of mu and log-std */
    vkn_tensor ubn;            /* ubn: per-sample norms and similarity state */
    int nq, qlen, ncb;         /* dense stage 1: sample chunks, samples per chunk, channel blocks of 4 */
    vkn_tensor ptab, mt;       /* acn, mn: E-step table (K*C vec4), backward tables (2*K*C vec4) */
    vkn_tensor afn;            /* afn: keep flags, step counter, statistics, MLP activations and gradients */
    vkn_tensor afn_prm, afn_gpk; /* afn: the learned slots packed, their gradients packed (norm_afn.c) */
    vkn_tensor afn_mask;       /* afn: view of the 2*C keep flags at the start of afn */
} norm_ws;

struct vkn_norm {
    vkn_context *ctx;
    vkn_arena *arena;
    vkn_norm_opts o;
    double *priors;            /* owned copy of o.cn_priors */
    vkn_norm_slot sl[VKN_NORM_MAX_SLOTS];
    int ns;
    vkn_tensor st[VKN_NORM_MAX_SLOTS], gt[VKN_NORM_MAX_SLOTS];
    vkn_tensor dummy;
    norm_ws ws;
    int fwd_done;              /* a forward was recorded for ws's shape */
    int fwd_batch;             /* its statistics were batch ones */
    int gi, bi, rm, rv, aux;   /* slot indices (-1: none) */
    uint64_t seed;             /* the create seed (afn: dropout stream) */
};

typedef struct shape { int N, C, P; } shape;

const char *nm_kname(const vkn_norm *nm);
vkn_status nm_alloc1(vkn_norm *nm, int64_t n, vkn_dtype dt, vkn_tensor *t);
int nm_gpu_path(const vkn_norm *nm);
const vkn_tensor *nm_slot_or(const vkn_norm *nm, int i);
const vkn_tensor *nm_grad_or(const vkn_norm *nm, int i);
const vkn_tensor *nm_ws_or(const vkn_norm *nm, const vkn_tensor *t);
void nm_set_grid(vkn_dispatch *d, uint64_t outputs, int workgroup_each);
void nm_set_spec(vkn_dispatch *d, const vkn_norm *nm, const norm_pc *pc, uint32_t extra);

/* mixture methods (acn, mn): src/ops/norm_mix.c */
#define NM_KMAX 8
vkn_status nm_mix_alloc(vkn_norm *nm, shape sh);
vkn_status nm_mix_forward(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc, const vkn_tensor *x, const vkn_tensor *y);
vkn_status nm_mix_backward(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc, const vkn_tensor *x, const vkn_tensor *g,
                           const vkn_tensor *dx);

/* dense inputs (P = 1) of bn, ubn, cbn, cn, ln, in, gn on CPU devices: src/ops/norm_dense.c */
int nm_dense_path(const vkn_norm *nm, int P);
vkn_status nm_dense_alloc(vkn_norm *nm, shape sh);
vkn_status nm_dense_forward(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc, const vkn_tensor *x, const vkn_tensor *y);
vkn_status nm_dense_backward(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc, const vkn_tensor *x, const vkn_tensor *g,
                             const vkn_tensor *dx);

/* afn: src/ops/norm_afn.c */
vkn_status nm_afn_alloc(vkn_norm *nm, shape sh);
vkn_status nm_afn_forward_mlp(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc);
vkn_status nm_afn_backward_mlp(vkn_cmd *c, vkn_norm *nm, const norm_pc *pc, const vkn_tensor *x, const vkn_tensor *g);
vkn_status nm_afn_unpack_grads(vkn_cmd *c, vkn_norm *nm);

#endif
