"""The binding: cffi in ABI mode over the installed libvknorm.so.

The declarations below are copied from the public headers (include/vkn/*.h): only what the package
calls. cffi lays the structs out from these declarations as a C compiler would, and
tests/test_abi.py checks sizeof/offsetof of every struct here against the real headers with the C
compiler, so a header change that is not mirrored here fails the tests instead of corrupting memory.
"""
import os

import cffi

CDEF = r"""
typedef enum vkn_status {
    VKN_OK = 0, VKN_ERR_NO_LOADER, VKN_ERR_NO_DEVICE, VKN_ERR_BAD_DEVICE, VKN_ERR_DEVICE_OOM,
    VKN_ERR_HOST_OOM, VKN_ERR_DEVICE_LOST, VKN_ERR_SHAPE, VKN_ERR_ARG, VKN_ERR_IO, VKN_ERR_FORMAT,
    VKN_ERR_UNSUPPORTED, VKN_ERR_VULKAN, VKN_ERR_NOT_FINITE, VKN_ERR_MISMATCH, VKN_ERR_COUNT_
} vkn_status;
const char *vkn_status_string(vkn_status s);
const char *vkn_status_detail(void);
void vkn_status_clear(void);
const char *vkn_version(void);

typedef struct vkn_context vkn_context;
typedef enum vkn_path { VKN_PATH_AUTO = 0, VKN_PATH_CPU, VKN_PATH_GPU } vkn_path;
typedef struct vkn_context_opts {
    const char *device; int validate; int quiet; vkn_path path;
} vkn_context_opts;
typedef struct vkn_device_info {
    char name[256];
    char driver[512];
    char type[16];
    uint32_t vendor_id, device_id, api_version;
    uint32_t subgroup_size;
    uint32_t max_shared_bytes;
    uint32_t max_workgroup_invocations;
    uint32_t max_workgroup_count[3];
    uint64_t max_storage_range;
    uint64_t device_local_bytes;
    int host_visible_device_memory;
    int fp16;
    int push_descriptors;
    int subgroup_arith;
    int timestamps;
    float timestamp_period_ns;
    vkn_path path;
} vkn_device_info;
vkn_status vkn_context_create(const vkn_context_opts *opts, vkn_context **out);
void vkn_context_destroy(vkn_context *ctx);
const vkn_device_info *vkn_context_info(const vkn_context *ctx);
const char *vkn_context_describe(const vkn_context *ctx);
uint32_t vkn_context_validation_count(const vkn_context *ctx);
int vkn_context_list_devices(char *buf, int buf_len);

typedef struct vkn_arena vkn_arena;
typedef enum vkn_dtype { VKN_F32 = 0, VKN_I32 = 1 } vkn_dtype;
typedef struct vkn_tensor {
    vkn_dtype dtype;
    int ndim;
    int64_t shape[4];
    int64_t numel;
    uint64_t buffer;
    uint64_t offset;
    uint64_t bytes;
    void *host;
    vkn_context *ctx;
} vkn_tensor;
vkn_status vkn_arena_create(vkn_context *ctx, uint64_t chunk_bytes, vkn_arena **out);
void vkn_arena_destroy(vkn_arena *a);
void vkn_arena_reset(vkn_arena *a);
vkn_status vkn_tensor_alloc(vkn_arena *a, vkn_dtype dtype, int ndim, const int64_t *shape, vkn_tensor *out);
vkn_status vkn_tensor_upload(const vkn_tensor *t, const void *src);
vkn_status vkn_tensor_download(const vkn_tensor *t, void *dst);

typedef struct vkn_cmd vkn_cmd;
vkn_status vkn_cmd_create(vkn_context *ctx, vkn_cmd **out);
void vkn_cmd_destroy(vkn_cmd *c);
vkn_status vkn_cmd_begin(vkn_cmd *c);
vkn_status vkn_cmd_end(vkn_cmd *c);
vkn_status vkn_cmd_run(vkn_cmd *c);

typedef enum vkn_norm_kind {
    VKN_NORM_NONE = 0, VKN_NORM_BN, VKN_NORM_LN, VKN_NORM_IN, VKN_NORM_GN, VKN_NORM_CBN,
    VKN_NORM_CN, VKN_NORM_CNX, VKN_NORM_ACN, VKN_NORM_MN, VKN_NORM_BCN, VKN_NORM_UBN,
    VKN_NORM_AFN, VKN_NORM_KIND_COUNT_
} vkn_norm_kind;
const char *vkn_norm_kind_name(vkn_norm_kind kind);
vkn_status vkn_norm_kind_from_name(const char *name, vkn_norm_kind *kind);
typedef enum vkn_norm_infer {
    VKN_NORM_INFER_RUNNING = 0, VKN_NORM_INFER_BATCH, VKN_NORM_INFER_LEARNED
} vkn_norm_infer;
typedef struct vkn_norm_opts {
    vkn_norm_kind kind;
    int channels;
    int affine;
    double eps;
    double momentum;
    vkn_norm_infer infer;
    int groups;
    int contexts;
    const double *cn_priors;
    int cn_prior_scale;
    int cnx_embedder;
    int components;
    double mn_var_floor;
    double ubn_threshold;
    int ubn_batch_stats_above;
    double afn_dropout;
    int afn_hidden_std;
    int afn_hidden_rescale;
} vkn_norm_opts;
vkn_norm_opts vkn_norm_opts_default(vkn_norm_kind kind, int channels);
vkn_status vkn_norm_opts_check(const vkn_norm_opts *o);
double vkn_norm_eps(const vkn_norm_opts *o);
int vkn_norm_needs_ctx(vkn_norm_kind kind);
typedef enum vkn_norm_init_rule {
    VKN_NORM_INIT_CONST, VKN_NORM_INIT_UNIFORM, VKN_NORM_INIT_PRIORS,
    VKN_NORM_INIT_NORMALIZED_UNIFORM, VKN_NORM_INIT_LINSPACE
} vkn_norm_init_rule;
typedef struct vkn_norm_slot {
    const char *name;
    int learned;
    int rank;
    int shape[2];
    int count;
    vkn_norm_init_rule init;
    double a, b;
} vkn_norm_slot;
vkn_status vkn_norm_slots(const vkn_norm_opts *o, vkn_norm_slot slots[24], int *count);

typedef struct vkn_norm vkn_norm;
vkn_status vkn_norm_create(vkn_context *ctx, vkn_arena *arena, const vkn_norm_opts *o, uint64_t seed,
                           vkn_norm **out);
void vkn_norm_destroy(vkn_norm *nm);
int vkn_norm_slot_count(const vkn_norm *nm);
const vkn_tensor *vkn_norm_slot_tensor(const vkn_norm *nm, int i);
const vkn_tensor *vkn_norm_grad_tensor(const vkn_norm *nm, int i);
vkn_status vkn_norm_forward(vkn_cmd *c, vkn_norm *nm, const vkn_tensor *x, const vkn_tensor *ctx,
                            const vkn_tensor *y, int train);
vkn_status vkn_norm_backward(vkn_cmd *c, vkn_norm *nm, const vkn_tensor *x, const vkn_tensor *ctx,
                             const vkn_tensor *dy, const vkn_tensor *dx);
vkn_status vkn_norm_check_ids(vkn_norm *nm);
const vkn_tensor *vkn_norm_debug_tensor(const vkn_norm *nm, const char *name);

typedef struct vkn_norm_ref_cache {
    vkn_norm_kind kind;
    int N, C, P;
    int train;
    int batch_stats;
    int nseg;
    double *mean, *var, *rstd, *wsum;
    unsigned char *fixed;
    int nseg2;
    double *mean2, *var2, *rstd2;
    double *tau;
    double *lam;
    double *aux;
    double similarity;
    int above;
} vkn_norm_ref_cache;
void vkn_norm_ref_cache_free(vkn_norm_ref_cache *cache);
vkn_status vkn_norm_ref_slots_alloc(const vkn_norm_opts *o, double ***slots);
void vkn_norm_ref_slots_free(const vkn_norm_opts *o, double **slots);
vkn_status vkn_norm_ref_init(const vkn_norm_opts *o, uint64_t seed, double *const *slots);
vkn_status vkn_norm_ref_forward(const vkn_norm_opts *o, int N, int P, const double *x,
                                const int32_t *ctx, const double *afn_mask, double *const *slots,
                                int train, double *y, vkn_norm_ref_cache *cache);
vkn_status vkn_norm_ref_backward(const vkn_norm_opts *o, const vkn_norm_ref_cache *cache,
                                 const double *x, const int32_t *ctx, double *const *slots,
                                 const double *g, double *dx, double *const *dslots);

typedef enum vkn_io_dtype {
    VKN_IO_BOOL = 0, VKN_IO_U8, VKN_IO_I8, VKN_IO_F8_E5M2, VKN_IO_F8_E4M3, VKN_IO_I16, VKN_IO_U16,
    VKN_IO_F16, VKN_IO_BF16, VKN_IO_I32, VKN_IO_U32, VKN_IO_F32, VKN_IO_C64, VKN_IO_F64, VKN_IO_I64,
    VKN_IO_U64, VKN_IO_DTYPE_COUNT_
} vkn_io_dtype;
typedef struct vkn_io_st_builder vkn_io_st_builder;
vkn_status vkn_io_safetensors_builder_create(vkn_io_st_builder **out);
void vkn_io_safetensors_builder_destroy(vkn_io_st_builder *b);
vkn_status vkn_io_safetensors_add(vkn_io_st_builder *b, const char *name, vkn_io_dtype dtype, int ndim,
                                  const int64_t *shape, const void *data);
vkn_status vkn_io_safetensors_add_meta(vkn_io_st_builder *b, const char *key, const char *value);
vkn_status vkn_io_safetensors_write(const vkn_io_st_builder *b, const char *path);
typedef struct vkn_io_safetensors vkn_io_safetensors;
typedef struct vkn_io_tensor_info {
    const char *name;
    vkn_io_dtype dtype;
    int ndim;
    const int64_t *shape;
    int64_t numel;
    uint64_t offset;
    uint64_t nbytes;
} vkn_io_tensor_info;
vkn_status vkn_io_safetensors_open(const char *path, vkn_io_safetensors **out);
void vkn_io_safetensors_close(vkn_io_safetensors *f);
int vkn_io_safetensors_count(const vkn_io_safetensors *f);
const vkn_io_tensor_info *vkn_io_safetensors_at(const vkn_io_safetensors *f, int i);
vkn_status vkn_io_safetensors_read(const vkn_io_safetensors *f, const char *name, vkn_io_dtype dtype,
                                   int ndim, const int64_t *shape, void *dst);
int vkn_io_safetensors_meta_count(const vkn_io_safetensors *f);
void vkn_io_safetensors_meta_at(const vkn_io_safetensors *f, int i, const char **key, const char **value);

typedef enum vkn_gan_loss { VKN_GAN_LOSS_BCE = 0, VKN_GAN_LOSS_HINGE } vkn_gan_loss;
typedef struct vkn_cgan_config {
    int base;
    int batch;
    int zdim;
    int classes;
    int channels;
    vkn_norm_kind norm_g;
    vkn_norm_kind norm_d;
    int components;
    vkn_gan_loss loss;
    float lr_g, lr_d, beta1, beta2;
    int samples;
    uint64_t seed;
    struct vkn_dist *dist;     /* data-parallel (include/vkn/dist.h); NULL from Python */
} vkn_cgan_config;
typedef struct vkn_cgan vkn_cgan;
typedef struct vkn_cgan_stats { float loss_d, loss_g; float d_real, d_fake; } vkn_cgan_stats;
vkn_cgan_config vkn_cgan_defaults(void);
vkn_status vkn_cgan_create(vkn_context *ctx, const vkn_cgan_config *c, vkn_cgan **out);
void vkn_cgan_destroy(vkn_cgan *m);
float *vkn_cgan_real_images(vkn_cgan *m);
int32_t *vkn_cgan_real_labels(vkn_cgan *m);
vkn_status vkn_cgan_step(vkn_cgan *m, int64_t step, vkn_cgan_stats *out);
vkn_status vkn_cgan_generate(vkn_cgan *m, const float *z, const int32_t *labels, float *images);
vkn_status vkn_cgan_save(vkn_cgan *m, const char *path, int64_t step);
vkn_status vkn_cgan_load(vkn_cgan *m, const char *path, int64_t *step);

typedef enum vkn_unary {
    VKN_UNARY_RELU = 0, VKN_UNARY_LEAKY_RELU, VKN_UNARY_TANH, VKN_UNARY_SIGMOID, VKN_UNARY_EXP,
    VKN_UNARY_LOG, VKN_UNARY_SCALE, VKN_UNARY_COUNT_
} vkn_unary;
typedef enum vkn_binary { VKN_BINARY_ADD = 0, VKN_BINARY_SUB, VKN_BINARY_MUL, VKN_BINARY_DIV, VKN_BINARY_COUNT_ } vkn_binary;
typedef enum vkn_reduce { VKN_REDUCE_SUM = 0, VKN_REDUCE_MEAN, VKN_REDUCE_MAX, VKN_REDUCE_COUNT_ } vkn_reduce;
typedef enum vkn_act { VKN_ACT_NONE = 0, VKN_ACT_RELU, VKN_ACT_LEAKY_RELU, VKN_ACT_TANH, VKN_ACT_SIGMOID, VKN_ACT_COUNT_ } vkn_act;
typedef enum vkn_bias { VKN_BIAS_NONE = 0, VKN_BIAS_COL, VKN_BIAS_ROW } vkn_bias;
vkn_status vkn_op_unary(vkn_cmd *c, vkn_unary op, float alpha, const vkn_tensor *x, const vkn_tensor *y);
vkn_status vkn_op_binary(vkn_cmd *c, vkn_binary op, const vkn_tensor *a, const vkn_tensor *b, const vkn_tensor *y);
vkn_status vkn_op_reduce(vkn_cmd *c, vkn_reduce op, const vkn_tensor *x, uint32_t axes_mask, const vkn_tensor *y);
typedef struct vkn_gemm_opts {
    int trans_a, trans_b;
    float alpha, beta;
    vkn_bias bias_kind;
    const vkn_tensor *bias;
    vkn_act act;
    float act_alpha;
} vkn_gemm_opts;
vkn_status vkn_op_gemm(vkn_cmd *c, const vkn_tensor *a, const vkn_tensor *b, const vkn_tensor *out,
                       const vkn_gemm_opts *opts);
typedef struct vkn_window2d { int kh, kw; int sh, sw; int ph, pw; } vkn_window2d;
int vkn_window2d_out(const vkn_window2d *win, int H, int W, int *Ho, int *Wo);
int64_t vkn_conv2d_workspace_size(int N, int Cin, int H, int W, int Cout, const vkn_window2d *win);
vkn_status vkn_op_conv2d(vkn_cmd *c, const vkn_tensor *x, const vkn_tensor *w, const vkn_tensor *bias,
                         const vkn_window2d *win, const vkn_tensor *y, const vkn_tensor *workspace);
int64_t vkn_conv_transpose2d_workspace_size(int N, int Cin, int H, int W, int Cout, const vkn_window2d *win);
vkn_status vkn_op_conv_transpose2d(vkn_cmd *c, const vkn_tensor *x, const vkn_tensor *w, const vkn_tensor *bias,
                                   const vkn_window2d *win, const vkn_tensor *y, const vkn_tensor *workspace);
vkn_status vkn_op_maxpool2d(vkn_cmd *c, const vkn_tensor *x, const vkn_window2d *win, const vkn_tensor *y,
                            const vkn_tensor *idx);
vkn_status vkn_op_avgpool2d(vkn_cmd *c, const vkn_tensor *x, const vkn_window2d *win, const vkn_tensor *y);

typedef struct vkn_params vkn_params;
typedef struct vkn_graph vkn_graph;
typedef int32_t vkn_val;
typedef enum vkn_init {
    VKN_INIT_ZEROS = 0, VKN_INIT_ONES, VKN_INIT_CONST, VKN_INIT_NORMAL, VKN_INIT_HE, VKN_INIT_XAVIER,
    VKN_INIT_UNIFORM
} vkn_init;
vkn_status vkn_params_create(vkn_context *ctx, uint64_t seed, vkn_params **out);
void vkn_params_destroy(vkn_params *p);
int vkn_params_count(const vkn_params *p);
int vkn_params_find(const vkn_params *p, const char *name);
const char *vkn_params_name(const vkn_params *p, int i);
const vkn_tensor *vkn_params_value(const vkn_params *p, int i);
const vkn_tensor *vkn_params_grad(const vkn_params *p, int i);
int64_t vkn_params_numel(const vkn_params *p, int learned_only);
vkn_status vkn_params_save(const vkn_params *p, const char *path, const char *model, int64_t step,
                           const char *const *extra_meta);
vkn_status vkn_params_load(vkn_params *p, const char *path, const char *model, int64_t *step);
vkn_status vkn_params_status(const vkn_params *p);
vkn_status vkn_graph_create(vkn_params *params, const char *name, vkn_graph **out);
void vkn_graph_destroy(vkn_graph *g);
vkn_status vkn_graph_status(const vkn_graph *g);
vkn_val vkn_graph_input(vkn_graph *g, const char *name, vkn_dtype dtype, int ndim, const int64_t *shape);
int vkn_graph_ndim(const vkn_graph *g, vkn_val v);
int64_t vkn_graph_dim(const vkn_graph *g, vkn_val v, int axis);
void vkn_graph_keep(vkn_graph *g, vkn_val v);
vkn_val vkn_graph_unary(vkn_graph *g, vkn_unary op, float alpha, vkn_val x);
vkn_val vkn_graph_binary(vkn_graph *g, vkn_binary op, vkn_val a, vkn_val b);
vkn_val vkn_graph_reduce(vkn_graph *g, vkn_reduce op, vkn_val x, uint32_t axes);
vkn_val vkn_graph_reshape(vkn_graph *g, vkn_val x, int ndim, const int64_t *shape);
const vkn_tensor *vkn_graph_tensor(const vkn_graph *g, vkn_val v);
vkn_status vkn_graph_backward(vkn_graph *g, vkn_val loss);
vkn_status vkn_graph_compile(vkn_graph *g);
void *vkn_graph_input_ptr(vkn_graph *g, vkn_val v);
void vkn_graph_set_step(vkn_graph *g, int slot, float value);
vkn_status vkn_graph_submit(vkn_graph *g);
vkn_status vkn_graph_wait(vkn_graph *g);
vkn_status vkn_graph_run(vkn_graph *g);
vkn_status vkn_graph_read(vkn_graph *g, vkn_val v, float *dst);
typedef struct vkn_graph_report {
    uint32_t ops, dispatches, barriers;
    uint64_t activation_bytes;
    uint64_t activation_naive;
    uint64_t param_bytes;
    uint32_t checked_ops;
    uint32_t unchecked_ops;
} vkn_graph_report;
vkn_graph_report vkn_graph_get_report(const vkn_graph *g);
typedef enum vkn_loss_kind {
    VKN_LOSS_BCE_LOGITS = 0, VKN_LOSS_HINGE_REAL, VKN_LOSS_HINGE_FAKE, VKN_LOSS_HINGE_GEN, VKN_LOSS_MSE,
    VKN_LOSS_COUNT_
} vkn_loss_kind;
typedef enum vkn_optim_kind { VKN_OPTIM_SGD = 0, VKN_OPTIM_ADAM, VKN_OPTIM_ADAMW, VKN_OPTIM_COUNT_ } vkn_optim_kind;
typedef struct vkn_optim_opts {
    vkn_optim_kind kind;
    uint32_t lr_slot;
    float beta1, beta2, eps;
    float momentum;
    int nesterov;
    float weight_decay;
    float grad_scale;
    const vkn_tensor *clip_norm;
    float max_norm;
} vkn_optim_opts;
typedef struct vkn_nn {
    vkn_graph *g;
    vkn_params *params;
    int train;
    int trainable;
    vkn_init init;
    float init_scale;
    uint64_t seed;
} vkn_nn;
vkn_val vkn_nn_linear(vkn_nn *m, const char *name, vkn_val x, int out_features, int bias);
vkn_val vkn_nn_conv2d(vkn_nn *m, const char *name, vkn_val x, int out_ch, int k, int stride, int pad, int bias);
vkn_val vkn_nn_conv_transpose2d(vkn_nn *m, const char *name, vkn_val x, int out_ch, int k, int stride, int pad, int bias);
vkn_val vkn_nn_act(vkn_nn *m, vkn_act act, float alpha, vkn_val x);
vkn_val vkn_nn_maxpool2d(vkn_nn *m, vkn_val x, int k, int stride);
vkn_val vkn_nn_avgpool2d(vkn_nn *m, vkn_val x, int k, int stride);
vkn_val vkn_nn_embedding(vkn_nn *m, const char *name, vkn_val ids, int num, int dim);
vkn_val vkn_nn_one_hot(vkn_nn *m, vkn_val ids, int k);
vkn_val vkn_nn_concat(vkn_nn *m, vkn_val a, vkn_val b);
vkn_val vkn_nn_flatten(vkn_nn *m, vkn_val x);
vkn_val vkn_nn_dropout(vkn_nn *m, vkn_val x, float p, uint32_t stream);
vkn_val vkn_nn_norm(vkn_nn *m, const char *name, vkn_val x, vkn_val ctx, const vkn_norm_opts *o);
vkn_val vkn_nn_loss(vkn_nn *m, vkn_loss_kind kind, vkn_val x, float target_value);
vkn_val vkn_nn_softmax_ce(vkn_nn *m, vkn_val logits, vkn_val labels, float smoothing);
vkn_val vkn_nn_argmax(vkn_nn *m, vkn_val x);
vkn_status vkn_nn_optimizer(vkn_nn *m, const vkn_optim_opts *o, const char *prefix);

typedef struct vkn_dataset {
    char     name[64];
    int32_t  n, c, h, w;
    int32_t  num_classes;
    uint8_t *images;
    uint8_t *labels;
    int32_t *ctx;
} vkn_dataset;
typedef enum vkn_split { VKN_SPLIT_TRAIN = 0, VKN_SPLIT_TEST = 1 } vkn_split;
void vkn_data_free(vkn_dataset *ds);
vkn_status vkn_data_fashion_load(vkn_dataset *ds, const char *dir, vkn_split split);
typedef enum vkn_batch_mode { VKN_BATCH_SEQUENTIAL = 0, VKN_BATCH_SHUFFLE, VKN_BATCH_BALANCED } vkn_batch_mode;
typedef enum vkn_ctx_mode { VKN_CTX_DATASET = 0, VKN_CTX_LABEL } vkn_ctx_mode;
typedef struct vkn_loader_opts {
    int32_t        batch;
    vkn_batch_mode mode;
    uint64_t       seed;
    int32_t        channels;
    vkn_ctx_mode   ctx_mode;
} vkn_loader_opts;
typedef struct vkn_data_loader vkn_data_loader;
vkn_status vkn_data_loader_create(vkn_data_loader **out, const vkn_dataset *ds, const vkn_loader_opts *opts);
void vkn_data_loader_destroy(vkn_data_loader *ld);
vkn_status vkn_data_batch_fill(vkn_data_loader *ld, float *images_dst, int32_t *labels_dst, int32_t *ctx_dst);
"""

# Structs whose layout tests/test_abi.py checks against the C headers.
STRUCTS = ["vkn_context_opts", "vkn_device_info", "vkn_tensor", "vkn_norm_opts", "vkn_norm_slot", "vkn_norm_ref_cache", "vkn_io_tensor_info", "vkn_cgan_config", "vkn_gemm_opts", "vkn_window2d", "vkn_graph_report",
           "vkn_optim_opts", "vkn_nn", "vkn_dataset", "vkn_loader_opts"]

ffi = cffi.FFI()
ffi.cdef(CDEF)


def _candidates():
    """Where libvknorm is looked for, in order: VKN_LIB (a file), the libdir recorded at install
    (pkg-config's, by meson-python), then the dynamic loader's search (LD_LIBRARY_PATH, ldconfig)."""
    env = os.environ.get("VKN_LIB")
    if env:
        return [env]
    out = []
    try:
        from . import _config  # written by python/meson.build at install
        out.append(os.path.join(_config.LIBDIR, "libvknorm.so." + _config.SOVERSION))
        out.append(os.path.join(_config.LIBDIR, "libvknorm.so"))
    except ImportError:
        pass
    out += ["libvknorm.so.0.1", "libvknorm.so"]
    return out


def _load():
    errors = []
    for path in _candidates():
        try:
            return ffi.dlopen(path), path
        except OSError as e:
            errors.append(f"{path}: {e}")
    raise ImportError("vknorm: libvknorm not found; install the library (meson install -C build) or set "
                      "VKN_LIB=/path/to/libvknorm.so (from a build tree: VKN_LIB=build/src/libvknorm.so). "
                      "Tried: " + "; ".join(errors))


lib, lib_path = _load()
