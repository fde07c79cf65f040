/* Metric logs: one record per call, as a CSV row and a JSONL line side by side, each flushed at once
 * so a crash loses no finished record. */
#include "io/io_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vkn_io_metrics {
    FILE *csv, *jsonl;
    char *csv_path, *jsonl_path;
    char **cols;   /* the CSV's columns, fixed by the first record (or the existing header) */
    int ncols;
};

static void free_metrics(vkn_io_metrics *m)
{
    if (m->csv) fclose(m->csv);
    if (m->jsonl) fclose(m->jsonl);
    for (int i = 0; i < m->ncols; i++) free(m->cols[i]);
    free(m->cols), free(m->csv_path), free(m->jsonl_path), free(m);
}

/* Split a CSV header line (RFC 4180 quoting) into m->cols. */
static vkn_status parse_header_line(vkn_io_metrics *m, const char *line)
{
    io_buf cell = { 0 };
    const char *p = line;
    for (;;) {
        cell.n = 0;
        io_buf_add(&cell, "", 0);
        if (*p == '"') {
            for (p++; *p; p++) {
                if (*p == '"' && p[1] == '"') io_buf_add(&cell, p++, 1);
                else if (*p == '"') { p++; break; }
                else io_buf_add(&cell, p, 1);
            }
        } else {
            const char *e = p + strcspn(p, ",\r\n");
            io_buf_add(&cell, p, (size_t)(e - p));
            p = e;
        }
        char **c = realloc(m->cols, (size_t)(m->ncols + 1) * sizeof *c);
        if (!c || cell.oom || !(c[m->ncols] = strdup(cell.p ? cell.p : ""))) {
            if (c) m->cols = c;
            free(cell.p);
            return vkn_status_set(VKN_ERR_HOST_OOM, "metrics: %s: out of memory", m->csv_path);
        }
        m->cols = c;
        m->ncols++;
        if (*p != ',') break;
        p++;
    }
    free(cell.p);
    return VKN_OK;
}

/* Open one file for writing or appending; in append mode, end a torn last line so new records start on
 * their own line. header (CSV only): receives the first line, malloc'ed, or NULL when empty. */
static vkn_status open_log(const char *path, int append, FILE **out, char **header)
{
    if (header) *header = NULL;
    FILE *f = fopen(path, append ? "a+" : "w");
    if (!f)
        return vkn_status_set(VKN_ERR_IO, "metrics: %s: cannot open for writing (%s)", path, strerror(errno));
    *out = f;
    if (!append) return VKN_OK;
    if (fseek(f, 0, SEEK_END) != 0) return VKN_OK;
    long size = ftell(f);
    if (size <= 0) return VKN_OK;
    if (header) {
        rewind(f);
        io_buf line = { 0 };
        int c;
        while ((c = fgetc(f)) != EOF && c != '\n') {
            char ch = (char)c;
            io_buf_add(&line, &ch, 1);
        }
        if (line.oom) {
            free(line.p);
            return vkn_status_set(VKN_ERR_HOST_OOM, "metrics: %s: out of memory", path);
        }
        *header = line.p;
    }
    if (fseek(f, -1, SEEK_END) == 0 && fgetc(f) != '\n') {
        fseek(f, 0, SEEK_END);
        fputc('\n', f);
        fflush(f);
    }
    return VKN_OK;
}

vkn_status vkn_io_metrics_open(const char *dir, const char *name, int append, vkn_io_metrics **out)
{
    *out = NULL;
    if (!dir || !name || !name[0] || strchr(name, '/'))
        return vkn_status_set(VKN_ERR_ARG, "metrics: needs a folder and a plain file name (got \"%s\")",
                              name ? name : "(null)");
    VKN_TRY(io_mkdirs(dir, "metrics"));
    vkn_io_metrics *m = calloc(1, sizeof *m);
    if (!m) return vkn_status_set(VKN_ERR_HOST_OOM, "metrics: out of memory");
    size_t len = strlen(dir) + strlen(name) + 16;
    m->csv_path = malloc(len);
    m->jsonl_path = malloc(len);
    if (!m->csv_path || !m->jsonl_path) {
        free_metrics(m);
        return vkn_status_set(VKN_ERR_HOST_OOM, "metrics: out of memory");
    }
    snprintf(m->csv_path, len, "%s/%s.csv", dir, name);
    snprintf(m->jsonl_path, len, "%s/%s.jsonl", dir, name);
    char *header = NULL;
    vkn_status s = open_log(m->csv_path, append, &m->csv, &header);
    if (s == VKN_OK) s = open_log(m->jsonl_path, append, &m->jsonl, NULL);
    if (s == VKN_OK && header && header[0]) s = parse_header_line(m, header);
    free(header);
    if (s != VKN_OK) {
        free_metrics(m);
        return s;
    }
    *out = m;
    return VKN_OK;
}

static void csv_field(io_buf *b, const char *s)
{
    if (!strpbrk(s, ",\"")) {
        io_buf_str(b, s);
        return;
    }
    io_buf_str(b, "\"");
    for (; *s; s++) {
        if (*s == '"') io_buf_str(b, "\"\"");
        else io_buf_add(b, s, 1);
    }
    io_buf_str(b, "\"");
}

vkn_status vkn_io_metrics_write(vkn_io_metrics *m, const vkn_io_metric *kv, int n)
{
    if (!m || n <= 0 || !kv) return vkn_status_set(VKN_ERR_ARG, "metrics: a record needs at least one key");
    for (int i = 0; i < n; i++) {
        const char *k = kv[i].key;
        size_t bad;
        if (!k || !k[0] || !io_utf8_valid(k, strlen(k), &bad))
            return vkn_status_set(VKN_ERR_ARG, "metrics: %s: key %d is empty or not UTF-8", m->csv_path, i);
        for (const char *c = k; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                return vkn_status_set(VKN_ERR_ARG, "metrics: %s: key \"%s\" holds a control character", m->csv_path, k);
        for (int j = 0; j < i; j++)
            if (strcmp(kv[j].key, k) == 0)
                return vkn_status_set(VKN_ERR_ARG, "metrics: %s: key \"%s\" given twice in one record", m->csv_path, k);
        if (m->ncols) {
            int known = 0;
            for (int c = 0; c < m->ncols && !known; c++) known = strcmp(m->cols[c], k) == 0;
            if (!known)
                return vkn_status_set(VKN_ERR_ARG, "metrics: %s: key \"%s\" is not a column (the first record fixes "
                                      "the columns: include every key there, with NaN when there is no value yet)",
                                      m->csv_path, k);
        }
    }
    io_buf csv = { 0 }, js = { 0 };
    if (!m->ncols) {
        m->cols = calloc((size_t)n, sizeof *m->cols);
        for (int i = 0; m->cols && i < n; i++)
            if ((m->cols[i] = strdup(kv[i].key))) m->ncols++;
        if (m->ncols != n) {
            for (int i = 0; i < m->ncols; i++) free(m->cols[i]);
            free(m->cols), m->cols = NULL, m->ncols = 0;
            return vkn_status_set(VKN_ERR_HOST_OOM, "metrics: out of memory");
        }
        for (int c = 0; c < m->ncols; c++) {
            if (c) io_buf_str(&csv, ",");
            csv_field(&csv, m->cols[c]);
        }
        io_buf_str(&csv, "\n");
    }
    char num[40];
    for (int c = 0; c < m->ncols; c++) {
        if (c) io_buf_str(&csv, ",");
        for (int i = 0; i < n; i++)
            if (strcmp(kv[i].key, m->cols[c]) == 0) {
                io_fmt_double(num, sizeof num, kv[i].value);
                io_buf_str(&csv, num);
                break;
            }
    }
    io_buf_str(&csv, "\n");
    io_buf_str(&js, "{");
    for (int i = 0; i < n; i++) {
        if (i) io_buf_str(&js, ",");
        io_buf_json_str(&js, kv[i].key);
        io_buf_str(&js, ":");
        if (isfinite(kv[i].value)) io_fmt_double(num, sizeof num, kv[i].value);
        else snprintf(num, sizeof num, "null");
        io_buf_str(&js, num);
    }
    io_buf_str(&js, "}\n");
    vkn_status s = VKN_OK;
    if (csv.oom || js.oom) s = vkn_status_set(VKN_ERR_HOST_OOM, "metrics: out of memory");
    else if (fwrite(csv.p, 1, csv.n, m->csv) != csv.n || fflush(m->csv) != 0)
        s = vkn_status_set(VKN_ERR_IO, "metrics: %s: write failed (%s) (check free disk space)", m->csv_path, strerror(errno));
    else if (fwrite(js.p, 1, js.n, m->jsonl) != js.n || fflush(m->jsonl) != 0)
        s = vkn_status_set(VKN_ERR_IO, "metrics: %s: write failed (%s) (check free disk space)", m->jsonl_path, strerror(errno));
    free(csv.p), free(js.p);
    return s;
}

vkn_status vkn_io_metrics_close(vkn_io_metrics *m)
{
    if (!m) return VKN_OK;
    vkn_status s = VKN_OK;
    if (m->csv && fclose(m->csv) != 0)
        s = vkn_status_set(VKN_ERR_IO, "metrics: %s: close failed (%s)", m->csv_path, strerror(errno));
    m->csv = NULL;
    if (m->jsonl && fclose(m->jsonl) != 0 && s == VKN_OK)
        s = vkn_status_set(VKN_ERR_IO, "metrics: %s: close failed (%s)", m->jsonl_path, strerror(errno));
    m->jsonl = NULL;
    free_metrics(m);
    return s;
}
