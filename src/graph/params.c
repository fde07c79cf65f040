/* The parameter store: persistent tensors shared by graphs (parameters with their gradients,
 * buffers such as running statistics), initialised on the host from a seed and each name. */
#include "graph/graph_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

vkn_status vkn_params_create(vkn_context *ctx, uint64_t seed, vkn_params **out)
{
    vkn_params *p = calloc(1, sizeof *p);
    if (!p) return vkn_status_set(VKN_ERR_HOST_OOM, "vkn_params_create");
    p->ctx = ctx;
    p->seed = seed;
    vkn_status s = vkn_arena_create(ctx, 16ull << 20, &p->arena);
    if (s != VKN_OK) { free(p); return s; }
    *out = p;
    return VKN_OK;
}

void vkn_params_destroy(vkn_params *p)
{
    if (!p) return;
    vkn_arena_destroy(p->arena);
    free(p->items);
    free(p);
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static double uniform01(uint64_t *s) { return ((double)(splitmix64(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

/* Host initialisation of n values by rule. */
static void init_values(float *v, int64_t n, vkn_init init, float scale, int64_t fan_in, int64_t fan_out, uint64_t seed)
{
    uint64_t s = seed;
    double std = 0, a = 0;
    if (init == VKN_INIT_NORMAL) std = scale;
    if (init == VKN_INIT_HE) std = sqrt(2.0 / (double)(fan_in > 0 ? fan_in : 1));
    if (init == VKN_INIT_XAVIER) a = sqrt(6.0 / (double)((fan_in + fan_out) > 0 ? fan_in + fan_out : 1));
    if (init == VKN_INIT_UNIFORM) a = scale;
    for (int64_t i = 0; i < n; i++) {
        switch (init) {
        case VKN_INIT_ZEROS: v[i] = 0; break;
        case VKN_INIT_ONES: v[i] = 1; break;
        case VKN_INIT_CONST: v[i] = scale; break;
        case VKN_INIT_NORMAL:
        case VKN_INIT_HE: {
            double u1 = uniform01(&s), u2 = uniform01(&s);
            v[i] = (float)(std * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
            break;
        }
        default: v[i] = (float)(a * (2.0 * uniform01(&s) - 1.0)); break;
        }
    }
}

/* A new zeroed item named name at the end (NULL with the status set when it cannot be). */
static vkn_param_item *new_item(vkn_params *p, const char *name)
{
    if (p->status != VKN_OK) return NULL;
    if (vkn_params_find(p, name) >= 0) {
        p->status = vkn_status_set(VKN_ERR_ARG, "params: '%s' added twice", name);
        return NULL;
    }
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 32;
        vkn_param_item *it = realloc(p->items, (size_t)cap * sizeof *it);
        if (!it) { p->status = vkn_status_set(VKN_ERR_HOST_OOM, "params"); return NULL; }
        p->items = it;
        p->cap = cap;
    }
    vkn_param_item *it = &p->items[p->n];
    memset(it, 0, sizeof *it);
    snprintf(it->name, sizeof it->name, "%s", name);
    return it;
}

static int add_item(vkn_params *p, const char *name, int ndim, const int64_t *shape, int learned, vkn_init init,
                    float scale, int64_t fan_in, int64_t fan_out)
{
    vkn_param_item *it = new_item(p, name);
    if (!it) return -1;
    it->learned = learned;
    vkn_status s = vkn_tensor_alloc(p->arena, VKN_F32, ndim, shape, &it->value);
    if (s == VKN_OK && learned) s = vkn_tensor_alloc(p->arena, VKN_F32, ndim, shape, &it->grad);
    if (s != VKN_OK) { p->status = s; return -1; }
    float *host = malloc((size_t)it->value.numel * sizeof *host);
    if (!host) { p->status = vkn_status_set(VKN_ERR_HOST_OOM, "params: %s", name); return -1; }
    init_values(host, it->value.numel, init, scale, fan_in, fan_out, p->seed ^ hash_name(name));
    s = vkn_tensor_upload(&it->value, host);
    if (s == VKN_OK && learned) {
        memset(host, 0, (size_t)it->value.numel * sizeof *host);
        s = vkn_tensor_upload(&it->grad, host);
    }
    free(host);
    if (s != VKN_OK) { p->status = s; return -1; }
    return p->n++;
}

int vkn_params_add(vkn_params *p, const char *name, int ndim, const int64_t *shape, vkn_init init, float scale,
                   int64_t fan_in, int64_t fan_out)
{
    return add_item(p, name, ndim, shape, 1, init, scale, fan_in, fan_out);
}

int vkn_params_add_buffer(vkn_params *p, const char *name, int ndim, const int64_t *shape, vkn_init init, float scale)
{
    return add_item(p, name, ndim, shape, 0, init, scale, 0, 0);
}

int vkn_params_adopt(vkn_params *p, const char *name, const vkn_tensor *value, const vkn_tensor *grad)
{
    vkn_param_item *it = new_item(p, name);
    if (!it) return -1;
    it->value = *value;
    it->learned = grad != NULL;
    if (grad) it->grad = *grad;
    it->adopted = 1;
    return p->n++;
}

int vkn_params_count(const vkn_params *p) { return p->n; }
int vkn_params_find(const vkn_params *p, const char *name)
{
    for (int i = 0; i < p->n; i++) if (!strcmp(p->items[i].name, name)) return i;
    return -1;
}
const char *vkn_params_name(const vkn_params *p, int i) { return p->items[i].name; }
const vkn_tensor *vkn_params_value(const vkn_params *p, int i) { return &p->items[i].value; }
const vkn_tensor *vkn_params_grad(const vkn_params *p, int i) { return p->items[i].learned ? &p->items[i].grad : NULL; }
vkn_arena *vkn_params_arena(vkn_params *p) { return p->arena; }
vkn_context *vkn_params_context(const vkn_params *p) { return p->ctx; }
vkn_status vkn_params_status(const vkn_params *p) { return p->status; }

int64_t vkn_params_numel(const vkn_params *p, int learned_only)
{
    int64_t n = 0;
    for (int i = 0; i < p->n; i++)
        if (!learned_only || p->items[i].learned) n += p->items[i].value.numel;
    return n;
}
