/* vkn-op: run one vknorm op or normalization layer on named tensors from a safetensors file, forward
 * and (when the file holds the upstream gradient dy) backward, and write every output and gradient
 * to a safetensors file, atomically, with metadata naming the op, its options, the vknorm commit and
 * the device. For checking vknorm against any other framework (docs/OP.md).
 *
 *   vkn-op OP --in inputs.safetensors --out outputs.safetensors [--OPTION VALUE ...] [--device D]
 *
 * Exit status: 0 done, 1 runtime error (files, tensors, shapes, device), 2 usage error. */
#include "op.h"

#include <stdlib.h>
#include <string.h>

#include "vkn_commit.h"
#include "vkn_app_version.h"

static void list_ops(FILE *f, const char *sep)
{
    for (int i = 0; i < op_count(); i++) fprintf(f, "%s%s", i ? sep : "", op_at(i)->name);
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: vkn-op OP --in INPUTS.safetensors --out OUTPUTS.safetensors [--OPTION VALUE ...]\n"
        "       vkn-op OP --help     the tensors and options of OP\n"
        "       vkn-op --list        the ops, one per line\n"
        "\n"
        "Runs one vknorm op or normalization layer on the named tensors of INPUTS (F32, ids and labels I32):\n"
        "the forward, and the backward too when INPUTS holds the upstream gradient 'dy'. Writes every output\n"
        "and gradient to OUTPUTS (atomically; a gradient is named 'd' + its tensor: dx, dw, dgamma, ...),\n"
        "with metadata: op, options, vknorm commit, device. docs/OP.md shows how to compare with PyTorch.\n"
        "\n"
        "options of every op:\n"
        "    --in FILE                      the input tensors (safetensors)\n"
        "    --out FILE                     where the outputs go (replaced atomically)\n"
        "    --device D                     device index or name substring (default: VKN_DEVICE, else the best)\n"
        "    --quiet [0|1]                  do not print the device line (default: VKN_QUIET)\n"
        "\n"
        "ops (family: op [options]):\n");
    const char *fam = "";
    for (int i = 0; i < op_count(); i++) {
        const op_def *d = op_at(i);
        if (strcmp(d->family, fam)) fprintf(f, "  %s:\n", d->family);
        fam = d->family;
        fprintf(f, "    %-18s", d->name);
        char buf[512];
        snprintf(buf, sizeof buf, "%s", d->options);
        int col = 0;
        for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
            if (col > 70) { fprintf(f, "\n    %-18s", ""); col = 0; }
            col += fprintf(f, " --%s", t);
        }
        fprintf(f, "\n");
    }
    fprintf(f, "\nExit status: 0 done, 1 runtime error (file, tensor, shape, device), 2 usage error.\n");
}

static void op_help(FILE *f, const op_def *d, const op_args *a)
{
    fprintf(f, "usage: vkn-op %s --in INPUTS.safetensors --out OUTPUTS.safetensors%s\n\n", d->name,
            d->options[0] ? " [options]" : "");
    fprintf(f, "  reads:  %s\n", d->inputs);
    fprintf(f, "  writes: %s\n", d->outputs);
    if (d->options[0]) {
        fprintf(f, "\noptions:\n");
        opt_print_help(f, d->options);
    }
    if (d->run == run_norm) {
        fprintf(f, "\nslots per kind (tensor names to load parameters / buffers; learned ones get a d<name> gradient):\n");
        int C = 8;
        for (int k = 0; k < VKN_NORM_KIND_COUNT_; k++) {
            vkn_norm_kind kind = (vkn_norm_kind)k;
            if (arg_given(a, "kind")) {
                vkn_norm_kind want;
                if (vkn_norm_kind_from_name(arg_str(a, "kind", ""), &want) == VKN_OK && want != kind) continue;
            }
            vkn_norm_opts o = vkn_norm_opts_default(kind, C);
            if (vkn_norm_needs_ctx(kind)) o.contexts = 2;
            vkn_norm_slot sl[VKN_NORM_MAX_SLOTS];
            int ns = 0;
            if (vkn_norm_slots(&o, sl, &ns) != VKN_OK) continue;
            fprintf(f, "  %-4s", vkn_norm_kind_name(kind));
            if (!ns) fprintf(f, " (none)");
            for (int i = 0; i < ns; i++) {
                char sh[64];
                int64_t s2[2] = {sl[i].shape[0], sl[i].shape[1]};
                vkn_io_shape_str(sl[i].rank, s2, sh, sizeof sh);
                fprintf(f, " %s%s%s", sl[i].name, sh, sl[i].learned ? "*" : "");
            }
            fprintf(f, "\n");
        }
        fprintf(f, "  (shapes shown for C = 8 and 2 contexts; * = learned)\n");
    }
}

static int fail(const char *op, vkn_status s, int code)
{
    const char *d = vkn_status_detail();
    /* the detail names what failed; the short status text only when there is none */
    size_t n = op ? strlen(op) : 0;
    if (op && !strncmp(d, op, n) && (d[n] == ':' || d[n] == ' ')) fprintf(stderr, "vkn-op %s\n", d);
    else fprintf(stderr, "vkn-op%s%s: %s\n", op ? " " : "", op ? op : "", d[0] ? d : vkn_status_string(s));
    return code;
}

static vkn_status write_outputs(op_ctx *oc, const char *path, const char *device)
{
    vkn_io_st_builder *b;
    VKN_TRY(vkn_io_safetensors_builder_create(&b));
    char opts[2048];
    args_canonical(oc->args, opts, sizeof opts);
    vkn_status s = VKN_OK;
    for (int i = 0; s == VKN_OK && i < oc->nout; i++) {
        op_out *o = &oc->out[i];
        s = vkn_io_safetensors_add(b, o->name, vkn_io_dtype_of(o->t.dtype), o->fndim, o->fshape, o->host);
    }
    const char *meta[][2] = {
        {"format", "vkn-op"}, {"op", oc->def->name}, {"options", opts}, {"input", oc->in_path},
        {"backward", oc->backward ? "1" : "0"}, {"vknorm_commit", VKN_COMMIT}, {"device", device},
    };
    for (size_t i = 0; s == VKN_OK && i < sizeof meta / sizeof meta[0]; i++) s = vkn_io_safetensors_add_meta(b, meta[i][0], meta[i][1]);
    for (int i = 0; s == VKN_OK && i < oc->args->n; i++) {
        char key[96];
        snprintf(key, sizeof key, "option.%s", oc->args->key[i]);
        s = vkn_io_safetensors_add_meta(b, key, oc->args->val[i]);
    }
    if (s == VKN_OK) s = vkn_io_safetensors_write(b, path);
    vkn_io_safetensors_builder_destroy(b);
    return s;
}

int main(int argc, char **argv)
{
    if (vkn_app_version(argc, argv, "vkn-op")) return 0;
    op_args a;
    int rc = args_parse(argc, argv, &a);
    if (rc) return rc;
    if (a.list) {
        list_ops(stdout, "\n");
        printf("\n");
        return 0;
    }
    const op_def *d = a.op ? op_find(a.op) : NULL;
    if (a.op && !d) {
        fprintf(stderr, "vkn-op: unknown op '%s'. Valid ops: ", a.op);
        list_ops(stderr, ", ");
        fprintf(stderr, "\n");
        return OP_EXIT_USAGE;
    }
    if (a.help) {
        if (d) op_help(stdout, d, &a);
        else usage(stdout);
        return 0;
    }
    if (!d) {
        usage(stderr);
        fprintf(stderr, "\nvkn-op: give an op\n");
        return OP_EXIT_USAGE;
    }
    if ((rc = args_check_op(&a, d))) return rc;
    if (!a.in || !a.out) {
        fprintf(stderr, "vkn-op %s: give %s (vkn-op %s --help lists the tensors it reads and writes)\n", d->name,
                !a.in && !a.out ? "--in FILE and --out FILE" : !a.in ? "--in FILE" : "--out FILE", d->name);
        return OP_EXIT_USAGE;
    }

    vkn_io_safetensors *in = NULL;
    vkn_status s = vkn_io_safetensors_open(a.in, &in);
    if (s != VKN_OK) return fail(d->name, s, OP_EXIT_RUNTIME);

    vkn_context *ctx = NULL;
    vkn_arena *arena = NULL;
    vkn_cmd *cmd = NULL;
    vkn_context_opts co = {.device = a.device, .validate = -1, .quiet = a.quiet, .path = VKN_PATH_AUTO};
    s = vkn_context_create(&co, &ctx);
    if (s != VKN_OK) {
        vkn_io_safetensors_close(in);
        return fail(d->name, s, s == VKN_ERR_BAD_DEVICE ? OP_EXIT_USAGE : OP_EXIT_RUNTIME);
    }
    op_ctx oc = {.def = d, .args = &a, .ctx = ctx, .in = in, .in_path = a.in};
    s = vkn_arena_create(ctx, 0, &arena);
    if (s == VKN_OK) s = vkn_cmd_create(ctx, &cmd);
    oc.arena = arena;
    oc.cmd = cmd;
    if (s == VKN_OK) s = vkn_cmd_begin(cmd);
    if (s == VKN_OK) s = d->run(&oc);
    if (s == VKN_OK) s = vkn_cmd_end(cmd);
    if (s == VKN_OK) s = vkn_cmd_run(cmd);
    if (s == VKN_OK && oc.after) s = oc.after(&oc);
    if (s == VKN_OK) s = oc_download(&oc);
    if (s == VKN_OK) {
        const char *dev = vkn_context_describe(ctx);
        if (!strncmp(dev, "vknorm device: ", 15)) dev += 15;
        s = write_outputs(&oc, a.out, dev);
    }
    if (s != VKN_OK) {
        rc = fail(d->name, s, oc.usage ? OP_EXIT_USAGE : OP_EXIT_RUNTIME);
    } else {
        if (oc.notes[0]) fprintf(stderr, "%s", oc.notes);
        printf("vkn-op %s: wrote %s:", d->name, a.out);
        for (int i = 0; i < oc.nout; i++) {
            char sh[128];
            vkn_io_shape_str(oc.out[i].fndim, oc.out[i].fshape, sh, sizeof sh);
            printf("%s %s %s", i ? "," : "", oc.out[i].name, sh);
        }
        printf("\n");
    }
    oc_free(&oc);
    vkn_cmd_destroy(cmd);
    vkn_arena_destroy(arena);
    uint32_t msgs = vkn_context_validation_count(ctx);
    vkn_context_destroy(ctx);
    vkn_io_safetensors_close(in);
    if (msgs && rc == 0) {
        fprintf(stderr, "vkn-op %s: %u Vulkan validation message(s) (VKN_VALIDATE is on)\n", d->name, msgs);
        rc = OP_EXIT_RUNTIME;
    }
    return rc;
}
