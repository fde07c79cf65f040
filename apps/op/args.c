/* vkn-op: the option table, command-line parsing (every value checked against its type before
 * anything runs: a bad value is a usage error, exit 2) and the typed getters the runners use. */
#include "op.h"

#include <errno.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const opt_spec specs[] = {
    {"alpha", OPT_FLOAT, NULL, "leaky_relu slope (default 0.01); scale factor (1); gemm alpha (1)"},
    {"axes", OPT_INTS, NULL, "reduce: axes, comma-separated, negative counts from the end (default all)"},
    {"keepdims", OPT_BOOL, NULL, "reduce: keep reduced axes as size 1 (default 0)"},
    {"trans-a", OPT_BOOL, NULL, "gemm: A is stored [K,M] (default 0)"},
    {"trans-b", OPT_BOOL, NULL, "gemm: B is stored [N,K] (default 0)"},
    {"beta", OPT_FLOAT, NULL, "gemm: C = ... + beta * c, c read from the file (default 0)"},
    {"bias", OPT_ENUM, "none|col|row", "gemm: bias per column (N) or per row (M) (default col if 'bias' is in the file)"},
    {"act", OPT_ENUM, "none|relu|leaky_relu|tanh|sigmoid", "gemm: fused activation (default none)"},
    {"act-alpha", OPT_FLOAT, NULL, "gemm: leaky_relu slope of --act (default 0.01)"},
    {"kernel", OPT_INTS, NULL, "pooling: window k or kh,kw (conv: checked against w's shape)"},
    {"stride", OPT_INTS, NULL, "s or sh,sw (default 1; pooling: the kernel)"},
    {"pad", OPT_INTS, NULL, "zero padding p or ph,pw (default 0)"},
    {"output-padding", OPT_INTS, NULL, "conv_transpose2d: extra output rows/cols op or oph,opw (default 0)"},
    {"classes", OPT_INT, NULL, "one_hot: number of classes K (default max id + 1)", 1, 1ll << 24},
    {"smoothing", OPT_FLOAT, NULL, "softmax_ce: label smoothing in [0,1] (default 0)"},
    {"scale", OPT_FLOAT, NULL, "losses: multiplies the loss and its gradient (default 1)"},
    {"target", OPT_FLOAT, NULL, "bce, mse: constant target when the file has no 't' (default 1 for bce, 0 for mse)"},
    {"kind", OPT_KIND, NULL, "norm: the method (none bn ln in gn cbn cn cnx acn mn bcn ubn afn)"},
    {"train", OPT_BOOL, NULL, "norm: 1 batch statistics + running-statistics update, 0 inference (default 1)"},
    {"affine", OPT_BOOL, NULL, "norm: learned gamma/beta (default: the method's)"},
    {"eps", OPT_FLOAT, NULL, "norm: epsilon (default: the method's, see docs/NORMS.md)"},
    {"momentum", OPT_FLOAT, NULL, "norm: running statistics momentum, PyTorch convention (default 0.1)"},
    {"infer", OPT_ENUM, "running|batch|learned", "norm: statistics of --train 0 (default running)"},
    {"groups", OPT_INT, NULL, "gn: groups (default: largest divisor of C <= 32)", 1, INT32_MAX},
    {"contexts", OPT_INT, NULL, "cbn: classes; cn, cnx: contexts (default 1, or max ctx + 1)", 1, INT32_MAX},
    {"components", OPT_INT, NULL, "acn, mn: mixture components (default 3)", 1, INT32_MAX},
    {"prior-scale", OPT_BOOL, NULL, "cn: divide the output by sqrt(prior) (default 1)"},
    {"embedder", OPT_BOOL, NULL, "cnx: CN-emb embedder instead of the per-context table (default 0)"},
    {"var-floor", OPT_FLOAT, NULL, "mn: floor of the EM variances (default 1e-4)"},
    {"threshold", OPT_FLOAT, NULL, "ubn: similarity threshold (default 0.9)"},
    {"batch-stats-above", OPT_BOOL, NULL, "ubn: above the threshold keep batch statistics (default 0)"},
    {"dropout", OPT_FLOAT, NULL, "afn: dropout p on the batch statistics, train only (default 0.3)"},
    {"hidden-std", OPT_INT, NULL, "afn: hidden width of the standardization encoder (default max(1,C/2))", 0, INT32_MAX},
    {"hidden-rescale", OPT_INT, NULL, "afn: hidden width of the rescaling encoder (default max(1,C/16))", 0, INT32_MAX},
    {"seed", OPT_INT, NULL, "norm: seed of the default parameter init (default 1)", 0, INT64_MAX},
};
#define NSPECS ((int)(sizeof specs / sizeof specs[0]))

const opt_spec *opt_find(const char *name)
{
    for (int i = 0; i < NSPECS; i++)
        if (strcmp(specs[i].name, name) == 0) return &specs[i];
    return NULL;
}

void opt_print_help(FILE *f, const char *names)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", names);
    for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        const opt_spec *s = opt_find(t);
        if (!s) continue;
        const char *arg = s->type == OPT_INT ? "N" : s->type == OPT_FLOAT ? "X" : s->type == OPT_BOOL ? "[0|1]"
                          : s->type == OPT_INTS ? "A[,B..]" : s->type == OPT_KIND ? "KIND" : s->choices;
        char head[64];
        snprintf(head, sizeof head, "--%s %s", s->name, arg ? arg : "V");
        fprintf(f, "    %-30s %s\n", head, s->help);
    }
}

static int parse_bool(const char *v, int *out)
{
    if (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on")) { *out = 1; return 1; }
    if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off")) { *out = 0; return 1; }
    return 0;
}

static int parse_ll(const char *v, long long *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (*v == 0 || *end != 0 || errno) return 0;
    *out = x;
    return 1;
}

static int parse_double(const char *v, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (*v == 0 || *end != 0 || errno || !isfinite(x)) return 0;
    *out = x;
    return 1;
}

static int enum_index(const char *choices, const char *v)
{
    int i = 0;
    for (const char *p = choices; *p; i++) {
        const char *e = strchr(p, '|');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (strlen(v) == n && strncasecmp(p, v, n) == 0) return i;
        if (!e) break;
        p = e + 1;
    }
    return -1;
}

static int parse_ints(const char *v, int *out, int max)
{
    int n = 0;
    const char *p = v;
    for (;;) {
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < -OP_INTS_MAX || x > OP_INTS_MAX || n >= max) return -1;
        if (out) out[n] = (int)x;
        n++;
        if (*end == 0) return n;
        if (*end != ',') return -1;
        p = end + 1;
    }
}

static void print_range(FILE *f, long long v)
{
    if (v == INT64_MAX) fputs("2^63-1", f);
    else if (v == INT32_MAX) fputs("2^31-1", f);
    else if (v > 0 && (v & (v - 1)) == 0 && v >= 1024) fprintf(f, "2^%d", __builtin_ctzll((unsigned long long)v));
    else fprintf(f, "%lld", v);
}

/* A value of the option's type? Prints the problem. */
static int check_value(const opt_spec *s, const char *v)
{
    long long ll;
    double d;
    int b;
    switch (s->type) {
    case OPT_STR: return 1;
    case OPT_INT:
        if (parse_ll(v, &ll) && ll >= s->lo && ll <= s->hi) return 1;
        fprintf(stderr, "vkn-op: --%s needs an integer in ", s->name);
        print_range(stderr, s->lo);
        fputs(" .. ", stderr);
        print_range(stderr, s->hi);
        fprintf(stderr, ", got '%s'\n", v);
        return 0;
    case OPT_FLOAT:
        if (parse_double(v, &d)) return 1;
        fprintf(stderr, "vkn-op: --%s needs a finite number, got '%s'\n", s->name, v);
        return 0;
    case OPT_BOOL:
        if (parse_bool(v, &b)) return 1;
        fprintf(stderr, "vkn-op: --%s needs 0 or 1, got '%s'\n", s->name, v);
        return 0;
    case OPT_INTS:
        if (parse_ints(v, NULL, 8) > 0) return 1;
        fprintf(stderr, "vkn-op: --%s needs at most 8 integers in -2^30 .. 2^30 separated by commas (e.g. 0,2), "
                        "got '%s'\n", s->name, v);
        return 0;
    case OPT_ENUM:
        if (enum_index(s->choices, v) >= 0) return 1;
        fprintf(stderr, "vkn-op: --%s: unknown value '%s' (valid: %s)\n", s->name, v, s->choices);
        return 0;
    case OPT_KIND: {
        vkn_norm_kind k;
        if (vkn_norm_kind_from_name(v, &k) == VKN_OK) return 1;
        fprintf(stderr, "vkn-op: --%s: unknown normalization '%s' (valid: %s)\n", s->name, v, vkn_norm_kind_list());
        return 0;
    }
    }
    return 0;
}

/* a boolean option's optional value */
static int looks_bool(const char *v)
{
    int b;
    return v && parse_bool(v, &b);
}

int args_parse(int argc, char **argv, op_args *a)
{
    memset(a, 0, sizeof *a);
    a->quiet = -1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) { a->help = 1; continue; }
        if (!strcmp(arg, "--list")) { a->list = 1; continue; }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == 0) {
            if (a->op) {
                fprintf(stderr, "vkn-op: more than one op given ('%s', '%s'); options start with --\n", a->op, arg);
                return OP_EXIT_USAGE;
            }
            a->op = arg;
            continue;
        }
        /* --key value or --key=value */
        char key[64];
        const char *val = NULL;
        const char *eq = strchr(arg + 2, '=');
        size_t klen = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (klen >= sizeof key) klen = sizeof key - 1;
        memcpy(key, arg + 2, klen);
        key[klen] = 0;
        if (eq) val = eq + 1;
        int is_global = !strcmp(key, "in") || !strcmp(key, "out") || !strcmp(key, "device") || !strcmp(key, "quiet");
        const opt_spec *s = is_global ? NULL : opt_find(key);
        if (!is_global && !s) {
            fprintf(stderr, "vkn-op: unknown option --%s. Options of every op: --in FILE --out FILE --device D "
                            "--quiet; the op's own options: vkn-op %s --help\n",
                    key, a->op ? a->op : "OP");
            return OP_EXIT_USAGE;
        }
        int boolean = !strcmp(key, "quiet") || (s && s->type == OPT_BOOL);
        if (!val) {
            const char *next = i + 1 < argc ? argv[i + 1] : NULL;
            if (boolean) {
                if (looks_bool(next)) val = argv[++i];
                else val = "1";
            } else {
                if (!next) {
                    fprintf(stderr, "vkn-op: --%s needs a value\n", key);
                    return OP_EXIT_USAGE;
                }
                val = argv[++i];
            }
        }
        if (!strcmp(key, "in")) a->in = val;
        else if (!strcmp(key, "out")) a->out = val;
        else if (!strcmp(key, "device")) a->device = val;
        else if (!strcmp(key, "quiet")) {
            if (!parse_bool(val, &a->quiet)) {
                fprintf(stderr, "vkn-op: --quiet needs 0 or 1, got '%s'\n", val);
                return OP_EXIT_USAGE;
            }
        } else {
            if (!check_value(s, val)) return OP_EXIT_USAGE;
            int slot = a->n;
            for (int k = 0; k < a->n; k++)
                if (!strcmp(a->key[k], s->name)) slot = k;   /* given twice: the last wins */
            if (slot == a->n) {
                if (a->n >= OP_MAX_KV) {
                    fprintf(stderr, "vkn-op: too many options\n");
                    return OP_EXIT_USAGE;
                }
                a->n++;
            }
            a->key[slot] = s->name;
            a->val[slot] = val;
        }
    }
    return 0;
}

static int accepts(const op_def *d, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = d->options; (p = strstr(p, name)) != NULL; p += n)
        if ((p == d->options || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ')) return 1;
    return 0;
}

int args_check_op(const op_args *a, const op_def *d)
{
    for (int i = 0; i < a->n; i++) {
        if (accepts(d, a->key[i])) continue;
        fprintf(stderr, "vkn-op %s: unknown option --%s for this op. ", d->name, a->key[i]);
        if (!d->options[0]) {
            fprintf(stderr, "%s takes no options besides --in, --out, --device, --quiet\n", d->name);
        } else {
            fprintf(stderr, "Valid options of %s:", d->name);
            char buf[512];
            snprintf(buf, sizeof buf, "%s", d->options);
            for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
                fprintf(stderr, " --%s", t);
            fprintf(stderr, " (and --in, --out, --device, --quiet)\n");
        }
        return OP_EXIT_USAGE;
    }
    return 0;
}

void args_canonical(const op_args *a, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < a->n && at < len; i++) {
        int w = snprintf(buf + at, len - at, "%s--%s %s", i ? " " : "", a->key[i], a->val[i]);
        if (w < 0) break;
        at += (size_t)w;
    }
}

static const char *find(const op_args *a, const char *name)
{
    for (int i = 0; i < a->n; i++)
        if (!strcmp(a->key[i], name)) return a->val[i];
    return NULL;
}

int arg_given(const op_args *a, const char *name) { return find(a, name) != NULL; }

const char *arg_str(const op_args *a, const char *name, const char *def)
{
    const char *v = find(a, name);
    return v ? v : def;
}

long long arg_int(const op_args *a, const char *name, long long def)
{
    const char *v = find(a, name);
    long long x;
    return v && parse_ll(v, &x) ? x : def;
}

double arg_f(const op_args *a, const char *name, double def)
{
    const char *v = find(a, name);
    double x;
    return v && parse_double(v, &x) ? x : def;
}

int arg_bool(const op_args *a, const char *name, int def)
{
    const char *v = find(a, name);
    int x;
    return v && parse_bool(v, &x) ? x : def;
}

int arg_ints(const op_args *a, const char *name, int *out, int max)
{
    const char *v = find(a, name);
    if (!v) return 0;
    int n = parse_ints(v, out, max);
    return n < 0 ? 0 : n;
}

int arg_enum(const op_args *a, const char *name, int def)
{
    const char *v = find(a, name);
    const opt_spec *s = opt_find(name);
    if (!v || !s || s->type != OPT_ENUM) return def;
    int i = enum_index(s->choices, v);
    return i < 0 ? def : i;
}
