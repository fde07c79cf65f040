/* vkn-bench output: terminal table, Markdown, CSV (stable columns), JSON (docs/bench-schema.json),
 * comparison against a saved JSON report, and an SVG roofline. */
#include "bench.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

/* The CSV columns, in order: part of the report format (tests check them). */
static const char *csv_columns = "device,suite,test,shape,median_us,min_us,max_us,runs,value,unit,ratio,ratio_what,timing";

static void csv_field(FILE *f, const char *s)
{
    /* quote when needed, doubling quotes */
    if (!strpbrk(s, ",\"\n")) { fputs(s, f); return; }
    fputc('"', f);
    for (; *s; s++) { if (*s == '"') fputc('"', f); fputc(*s, f); }
    fputc('"', f);
}

static cJSON *device_json(const vkn_device_info *in)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "name", in->name);
    cJSON_AddStringToObject(d, "type", in->type);
    cJSON_AddStringToObject(d, "driver", in->driver);
    char api[32];
    snprintf(api, sizeof api, "%u.%u.%u", in->api_version >> 22, (in->api_version >> 12) & 0x3ff, in->api_version & 0xfff);
    cJSON_AddStringToObject(d, "api", api);
    cJSON_AddNumberToObject(d, "vendor_id", in->vendor_id);
    cJSON_AddNumberToObject(d, "device_id", in->device_id);
    cJSON_AddNumberToObject(d, "subgroup_size", in->subgroup_size);
    cJSON_AddNumberToObject(d, "shared_memory_bytes", in->max_shared_bytes);
    cJSON_AddBoolToObject(d, "fp16", in->fp16);
    cJSON_AddStringToObject(d, "kernels", in->path == VKN_PATH_CPU ? "cpu-class" : "gpu-class");
    return d;
}

void bench_print(FILE *f, const bench_ctx *b, bench_format fmt, const char *commit, int first, int last)
{
    const vkn_device_info *in = vkn_context_info(b->ctx);
    const char *timing = b->device_timing ? "device" : "host";
    if (fmt == BENCH_CSV) {
        if (first) fprintf(f, "%s\n", csv_columns);
        for (int i = 0; i < b->nresults; i++) {
            const bench_result *r = &b->results[i];
            csv_field(f, in->name); fputc(',', f);
            csv_field(f, r->suite); fputc(',', f);
            csv_field(f, r->name); fputc(',', f);
            csv_field(f, r->shape);
            fprintf(f, ",%.3f,%.3f,%.3f,%d,%.4f,", r->median_us, r->min_us, r->max_us, r->runs, r->value);
            csv_field(f, r->unit);
            fprintf(f, ",%.4f,", r->ratio);
            csv_field(f, r->ratio_what);
            fprintf(f, ",%s\n", timing);
        }
        return;
    }
    if (fmt == BENCH_JSON) {
        /* one JSON document for all devices: the caller prints the head with the first device and the
         * tail with the last */
        cJSON *run = cJSON_CreateObject();
        cJSON_AddItemToObject(run, "device", device_json(in));
        cJSON_AddStringToObject(run, "device_line", vkn_context_describe(b->ctx));
        cJSON_AddStringToObject(run, "timing", timing);
        cJSON *res = cJSON_AddArrayToObject(run, "results");
        for (int i = 0; i < b->nresults; i++) {
            const bench_result *r = &b->results[i];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "suite", r->suite);
            cJSON_AddStringToObject(o, "test", r->name);
            cJSON_AddStringToObject(o, "shape", r->shape);
            cJSON_AddNumberToObject(o, "median_us", r->median_us);
            cJSON_AddNumberToObject(o, "min_us", r->min_us);
            cJSON_AddNumberToObject(o, "max_us", r->max_us);
            cJSON_AddNumberToObject(o, "runs", r->runs);
            cJSON_AddNumberToObject(o, "value", r->value);
            cJSON_AddStringToObject(o, "unit", r->unit);
            cJSON_AddNumberToObject(o, "ratio", r->ratio);
            cJSON_AddStringToObject(o, "ratio_what", r->ratio_what);
            cJSON_AddNumberToObject(o, "flops", r->flops);
            cJSON_AddNumberToObject(o, "bytes", r->bytes);
            cJSON_AddItemToArray(res, o);
        }
        char *txt = cJSON_Print(run);
        if (first) {
            char date[32];
            time_t now = time(NULL);
            strftime(date, sizeof date, "%Y-%m-%d", gmtime(&now));
            fprintf(f, "{\n\"schema\": \"vknorm-bench/1\",\n\"commit\": \"%s\",\n\"date\": \"%s\",\n\"runs\": [\n", commit, date);
        } else {
            fputs(",\n", f);
        }
        fputs(txt ? txt : "{}", f);
        if (last) fputs("\n]\n}\n", f);
        free(txt);
        cJSON_Delete(run);
        return;
    }
    int md = fmt == BENCH_MD;
    if (md) fprintf(f, "\n**%s**  \ncommit %s, timing: %s\n", vkn_context_describe(b->ctx), commit, timing);
    fprintf(f, "\n| %-6s | %-40s | %-22s | %10s | %10s | %10s | %5s | %16s | %-20s |\n", "suite", "test", "shape",
            "median us", "min us", "max us", "runs", "value", "ratio");
    fprintf(f, "|--------|------------------------------------------|------------------------|-----------:|-----------:|"
               "-----------:|------:|-----------------:|----------------------|\n");
    for (int i = 0; i < b->nresults; i++) {
        const bench_result *r = &b->results[i];
        char ratio[48] = "";
        if (r->ratio > 0) snprintf(ratio, sizeof ratio, "%.2f %s", r->ratio, r->ratio_what);
        fprintf(f, "| %-6s | %-40s | %-22s | %10.1f | %10.1f | %10.1f | %5d | %8.2f %-7s | %-20s |\n", r->suite, r->name,
                r->shape, r->median_us, r->min_us, r->max_us, r->runs, r->value, r->unit, ratio);
    }
}

/* The baseline report at path, parsed and checked (schema, runs), or NULL with the reason printed. */
static cJSON *load_baseline(const char *path)
{
    FILE *in = fopen(path, "rb");
    if (!in) {
        fprintf(stderr, "vkn-bench: --compare: cannot open baseline '%s': %s (write one with --output json > FILE)\n",
                path, strerror(errno));
        return NULL;
    }
    fseek(in, 0, SEEK_END);
    long len = ftell(in);
    fseek(in, 0, SEEK_SET);
    char *txt = len > 0 && len < (64 << 20) ? malloc((size_t)len + 1) : NULL;
    size_t got = txt ? fread(txt, 1, (size_t)len, in) : 0;
    fclose(in);
    if (!txt || got != (size_t)len) {
        free(txt);
        fprintf(stderr, "vkn-bench: --compare: baseline '%s' is empty, a folder, over 64 MiB or unreadable\n", path);
        return NULL;
    }
    txt[len] = 0;
    cJSON *root = cJSON_Parse(txt);
    free(txt);
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(root, "schema");
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive(root, "runs");
    if (!root || !cJSON_IsString(schema) || strcmp(schema->valuestring, "vknorm-bench/1") || !cJSON_IsArray(runs) ||
        cJSON_GetArraySize(runs) < 1) {
        fprintf(stderr, "vkn-bench: --compare: baseline '%s' is not a vkn-bench JSON report (schema vknorm-bench/1)\n", path);
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

int bench_compare_check(const char *path)
{
    cJSON *root = load_baseline(path);
    cJSON_Delete(root);
    return root ? 0 : -1;
}

int bench_output_check(const char *opt, const char *path)
{
    struct stat st;
    if (!path[0]) {
        fprintf(stderr, "vkn-bench: %s: the file name is empty\n", opt);
        return -1;
    }
    if (stat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode)) {
            fprintf(stderr, "vkn-bench: %s %s: not a regular file (a folder?)\n", opt, path);
            return -1;
        }
        if (access(path, W_OK) != 0) {
            fprintf(stderr, "vkn-bench: %s %s: cannot write it: %s\n", opt, path, strerror(errno));
            return -1;
        }
        return 0;
    }
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "vkn-bench: %s %s: the folder %s does not exist\n", opt, path, dir);
        return -1;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        fprintf(stderr, "vkn-bench: %s %s: cannot create a file in %s: %s\n", opt, path, dir, strerror(errno));
        return -1;
    }
    return 0;
}

int bench_compare(FILE *f, const bench_ctx *b, const char *path)
{
    cJSON *root = load_baseline(path);
    if (!root) return -1;
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive(root, "runs");
    /* compare against the baseline run of the same device name, else its first run */
    const cJSON *run = cJSON_GetArrayItem(runs, 0), *it;
    cJSON_ArrayForEach(it, runs) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(it, "device");
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(d, "name");
        if (cJSON_IsString(n) && !strcmp(n->valuestring, vkn_context_info(b->ctx)->name)) run = it;
    }
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(run, "results");
    const cJSON *bname = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(run, "device"), "name");
    fprintf(f, "\ncompared with %s (%s): ratio = this run's median time / baseline's (< 1 is faster)\n", path,
            cJSON_IsString(bname) ? bname->valuestring : "?");
    fprintf(f, "| %-6s | %-40s | %-22s | %12s | %12s | %7s |\n", "suite", "test", "shape", "baseline us", "this us", "ratio");
    fprintf(f, "|--------|------------------------------------------|------------------------|-------------:|-------------:|--------:|\n");
    int matched = 0;
    for (int i = 0; i < b->nresults; i++) {
        const bench_result *r = &b->results[i];
        const cJSON *o;
        cJSON_ArrayForEach(o, results) {
            const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "suite"), *t = cJSON_GetObjectItemCaseSensitive(o, "test");
            const cJSON *sh = cJSON_GetObjectItemCaseSensitive(o, "shape"), *m = cJSON_GetObjectItemCaseSensitive(o, "median_us");
            if (!cJSON_IsString(s) || !cJSON_IsString(t) || !cJSON_IsString(sh) || !cJSON_IsNumber(m)) continue;
            if (strcmp(s->valuestring, r->suite) || strcmp(t->valuestring, r->name) || strcmp(sh->valuestring, r->shape)) continue;
            double ratio = m->valuedouble > 0 ? r->median_us / m->valuedouble : 0;
            fprintf(f, "| %-6s | %-40s | %-22s | %12.1f | %12.1f | %7.3f |\n", r->suite, r->name, r->shape,
                    m->valuedouble, r->median_us, ratio);
            matched++;
            break;
        }
    }
    cJSON_Delete(root);
    if (!matched) fprintf(f, "(no test of this run appears in the baseline)\n");
    return matched;
}

vkn_status bench_roofline_svg(const bench_ctx *b, const char *path)
{
    vkn_io_atomic *a;
    VKN_TRY(vkn_io_atomic_open(path, "vkn-bench: roofline", &a));
    FILE *f = vkn_io_atomic_file(a);
    const double W = 760, H = 480, L = 70, R = 20, T = 40, B = 60;
    const double xmin = -2, xmax = 3, ymin = -1, ymax = 4;     /* log10 ranges: flop/byte, GFLOP/s */
#define PX(ai) (L + ((log10(ai) - xmin) / (xmax - xmin)) * (W - L - R))
#define PY(gf) (H - B - ((log10(gf) - ymin) / (ymax - ymin)) * (H - T - B))
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%.0f' height='%.0f' font-family='DejaVu Sans, sans-serif' font-size='11'>\n", W, H);
    fprintf(f, "<rect width='100%%' height='100%%' fill='#14161a'/>\n<text x='%.0f' y='22' fill='#e8e8e8' font-size='13'>vkn-bench roofline: %s</text>\n",
            L, vkn_context_info(b->ctx)->name);
    for (int e = (int)xmin; e <= (int)xmax; e++)
        fprintf(f, "<line x1='%.1f' y1='%.0f' x2='%.1f' y2='%.0f' stroke='#333'/><text x='%.1f' y='%.0f' fill='#aaa' text-anchor='middle'>1e%d</text>\n",
                PX(pow(10, e)), T, PX(pow(10, e)), H - B, PX(pow(10, e)), H - B + 16, e);
    for (int e = (int)ymin; e <= (int)ymax; e++)
        fprintf(f, "<line x1='%.0f' y1='%.1f' x2='%.0f' y2='%.1f' stroke='#333'/><text x='%.0f' y='%.1f' fill='#aaa' text-anchor='end'>1e%d</text>\n",
                L, PY(pow(10, e)), W - R, PY(pow(10, e)), L - 6, PY(pow(10, e)) + 4, e);
    fprintf(f, "<text x='%.0f' y='%.0f' fill='#ccc' text-anchor='middle'>arithmetic intensity (FLOP/byte)</text>\n", (L + W - R) / 2, H - 18);
    fprintf(f, "<text x='16' y='%.0f' fill='#ccc' transform='rotate(-90 16 %.0f)' text-anchor='middle'>GFLOP/s</text>\n", (T + H - B) / 2, (T + H - B) / 2);
    if (b->copy_gbs > 0 && b->fma_gflops > 0) {
        double knee = b->fma_gflops / b->copy_gbs;
        fprintf(f, "<polyline fill='none' stroke='#f0a030' stroke-width='2' points='%.1f,%.1f %.1f,%.1f %.1f,%.1f'/>\n",
                PX(pow(10, xmin)), PY(b->copy_gbs * pow(10, xmin)), PX(knee), PY(b->fma_gflops), PX(pow(10, xmax)), PY(b->fma_gflops));
        fprintf(f, "<text x='%.1f' y='%.1f' fill='#f0a030'>copy %.1f GB/s, FMA %.0f GFLOP/s</text>\n", PX(knee) + 6,
                PY(b->fma_gflops) - 6, b->copy_gbs, b->fma_gflops);
    }
    for (int i = 0; i < b->nresults; i++) {
        const bench_result *r = &b->results[i];
        if (r->flops <= 0 || r->bytes <= 0 || r->median_us <= 0) continue;
        double ai = r->flops / r->bytes, gf = r->flops / (r->median_us * 1e3);
        if (ai < pow(10, xmin) || ai > pow(10, xmax) || gf < pow(10, ymin) || gf > pow(10, ymax)) continue;
        fprintf(f, "<circle cx='%.1f' cy='%.1f' r='4' fill='#4fa3ff'><title>%s %s: %.2f GFLOP/s</title></circle>\n",
                PX(ai), PY(gf), r->name, r->shape, gf);
        fprintf(f, "<text x='%.1f' y='%.1f' fill='#9cc9ff' font-size='9'>%s</text>\n", PX(ai) + 6, PY(gf) + 3, r->shape);
    }
    fputs("</svg>\n", f);
#undef PX
#undef PY
    return vkn_io_atomic_commit(a);
}
