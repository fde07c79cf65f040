/* Ids and labels in training graphs: every op that indexes with an I32 value (embedding rows,
 * one-hot and cross-entropy classes, normalization contexts) declares the range it needs, and the
 * graph proves each such value in range before a step runs.
 *
 * Where the ids come from decides how:
 *   - a host-written input (vkn_graph_input): the host writes a new batch before every submit, so
 *     vkn_graph_submit scans it on the host (N values, no device work) and refuses the step with
 *     VKN_ERR_ARG naming the input, the element, its value, the valid range and the op. Nothing is
 *     submitted, so no parameter or optimizer state sees the bad batch.
 *   - an op of the graph (device RNG labels, argmax): the producer declares the range it writes
 *     (vkn_graph_set_id_range); the draws are in range by construction, so a static comparison at
 *     build time suffices and costs nothing per step. A producer that declares no range is refused
 *     at build time rather than trusted.
 * Checking on the host rather than with a device-side flag keeps the exact element and value in the
 * message and stops the step before it runs, where a flag read after the wait would arrive after
 * the optimizer had already applied the damage. */
#include "graph/graph_internal.h"

#include <stdlib.h>

static vkn_val ids_root(const vkn_graph *g, vkn_val v)
{
    while (G(g, v)->alias != VKN_NONE) v = G(g, v)->alias;
    return v;
}

void vkn_graph_set_id_range(vkn_graph *g, vkn_val v, int64_t limit)
{
    if (g->status != VKN_OK || v < 0 || v >= g->nvals) return;
    G(g, v)->id_limit = limit;
}

void vkn_graph_require_ids(vkn_graph *g, vkn_val ids, int64_t limit, const char *op)
{
    if (g->status != VKN_OK) return;
    if (ids < 0 || ids >= g->nvals || G(g, ids)->dtype != VKN_I32) {
        vkn_graph_fail(g, vkn_status_set(VKN_ERR_ARG, "graph %s: op %s: its ids must be an I32 value", g->name, op));
        return;
    }
    if (limit < 1) {
        vkn_graph_fail(g, vkn_status_set(VKN_ERR_ARG, "graph %s: op %s: an id range of %lld values", g->name, op,
                                         (long long)limit));
        return;
    }
    vkn_val r = ids_root(g, ids);
    gval *v = G(g, r);
    if (v->kind != VAL_INPUT) {
        const char *maker = v->def >= 0 ? g->ops[v->def].label : "(none)";
        if (v->id_limit <= 0)
            vkn_graph_fail(g, vkn_status_set(VKN_ERR_ARG, "graph %s: op %s reads ids '%s' made by op %s, which declares "
                                             "no range (vkn_graph_set_id_range); they must lie in 0..%lld", g->name, op,
                                             v->name, maker, (long long)limit - 1));
        else if (v->id_limit > limit)
            vkn_graph_fail(g, vkn_status_set(VKN_ERR_ARG, "graph %s: op %s needs ids in 0..%lld, but '%s' comes from op "
                                             "%s, which writes 0..%lld", g->name, op, (long long)limit - 1, v->name,
                                             maker, (long long)v->id_limit - 1));
        return;
    }
    if (g->nid_checks == g->cap_id_checks) {
        int cap = g->cap_id_checks ? 2 * g->cap_id_checks : 8;
        graph_id_check *c = realloc(g->id_checks, (size_t)cap * sizeof *c);
        if (!c) { vkn_graph_fail(g, vkn_status_set(VKN_ERR_HOST_OOM, "graph id checks")); return; }
        g->id_checks = c;
        g->cap_id_checks = cap;
    }
    graph_id_check *c = &g->id_checks[g->nid_checks++];
    c->input = r;
    c->limit = limit;
    snprintf(c->op, sizeof c->op, "%s", op ? op : "?");
}

vkn_status vkn_graph_check_input_ids(const vkn_graph *g)
{
    for (int k = 0; k < g->nid_checks; k++) {
        const graph_id_check *c = &g->id_checks[k];
        const gval *v = G(g, c->input);
        const int32_t *id = v->t.host;
        if (!id) continue;
        int64_t bad = 0, first = -1;
        for (int64_t i = 0; i < v->numel; i++)
            if (id[i] < 0 || id[i] >= c->limit) {
                if (first < 0) first = i;
                bad++;
            }
        if (bad)
            return vkn_status_set(VKN_ERR_ARG, "graph %s: input '%s' element %lld is %d, outside 0..%lld (read by op %s; "
                                  "%lld of %lld out of range); the step was not run", g->name, v->name,
                                  (long long)first, id[first], (long long)c->limit - 1, c->op, (long long)bad,
                                  (long long)v->numel);
    }
    return VKN_OK;
}
