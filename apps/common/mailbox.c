/* Hand-off between a training thread and the UI thread.
 *
 * vkn_mailbox is a triple buffer: slot `back` belongs to the worker, slot `front` to the UI, slot
 * `ready` holds the newest posted snapshot. post swaps back and ready; take swaps front and ready when
 * something new was posted. Both are a few pointer swaps under a mutex, so the worker never waits for
 * the UI to finish drawing and the UI always shows the newest data.
 *
 * vkn_queue is a bounded FIFO of fixed-size items for data where every item matters (metric rows)
 * and for commands (pause, step, save, quit). */
#include "viewer.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct vkn_mailbox {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void *slot[3];
    int back, ready, front;
    bool fresh;       /* ready holds a post the UI has not taken */
    bool posted;      /* at least one post */
    bool front_valid; /* front holds a posted snapshot */
};

vkn_status vkn_mailbox_create(vkn_mailbox **out, size_t slot_bytes)
{
    *out = NULL;
    vkn_mailbox *mb = calloc(1, sizeof *mb);
    if (!mb) return vkn_status_set(VKN_ERR_HOST_OOM, "mailbox: out of memory");
    for (int i = 0; i < 3; i++) {
        mb->slot[i] = calloc(1, slot_bytes ? slot_bytes : 1);
        if (!mb->slot[i]) {
            for (int j = 0; j < i; j++) free(mb->slot[j]);
            free(mb);
            return vkn_status_set(VKN_ERR_HOST_OOM, "mailbox: out of memory for 3 x %zu bytes", slot_bytes);
        }
    }
    mb->back = 0, mb->ready = 1, mb->front = 2;
    pthread_mutex_init(&mb->mu, NULL);
    pthread_cond_init(&mb->cv, NULL);
    *out = mb;
    return VKN_OK;
}

void vkn_mailbox_destroy(vkn_mailbox *mb)
{
    if (!mb) return;
    pthread_mutex_destroy(&mb->mu);
    pthread_cond_destroy(&mb->cv);
    for (int i = 0; i < 3; i++) free(mb->slot[i]);
    free(mb);
}

void *vkn_mailbox_back(vkn_mailbox *mb) { return mb->slot[mb->back]; /* only the worker changes back */ }

void vkn_mailbox_post(vkn_mailbox *mb)
{
    pthread_mutex_lock(&mb->mu);
    int t = mb->back;
    mb->back = mb->ready;
    mb->ready = t;
    mb->fresh = mb->posted = true;
    pthread_cond_broadcast(&mb->cv);
    pthread_mutex_unlock(&mb->mu);
}

const void *vkn_mailbox_take(vkn_mailbox *mb, bool *fresh)
{
    pthread_mutex_lock(&mb->mu);
    bool f = mb->fresh;
    if (f) {
        int t = mb->front;
        mb->front = mb->ready;
        mb->ready = t;
        mb->fresh = false;
        mb->front_valid = true;
    }
    const void *p = mb->front_valid ? mb->slot[mb->front] : NULL;
    pthread_mutex_unlock(&mb->mu);
    if (fresh) *fresh = f;
    return p;
}

static struct timespec deadline(int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    return ts;
}

bool vkn_mailbox_wait(vkn_mailbox *mb, int timeout_ms)
{
    struct timespec ts = deadline(timeout_ms);
    pthread_mutex_lock(&mb->mu);
    while (!mb->fresh)
        if (pthread_cond_timedwait(&mb->cv, &mb->mu, &ts) == ETIMEDOUT) break;
    bool f = mb->fresh;
    pthread_mutex_unlock(&mb->mu);
    return f;
}

/* ---- queue ---- */

struct vkn_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint8_t *items;
    size_t item_bytes;
    int cap, head, count;
    int64_t dropped;
    bool closed;
};

vkn_status vkn_queue_create(vkn_queue **out, size_t item_bytes, int capacity)
{
    *out = NULL;
    if (item_bytes == 0 || capacity <= 0)
        return vkn_status_set(VKN_ERR_ARG, "queue: item size %zu and capacity %d must be positive", item_bytes, capacity);
    vkn_queue *q = calloc(1, sizeof *q);
    if (q) q->items = malloc(item_bytes * (size_t)capacity);
    if (!q || !q->items) {
        free(q);
        return vkn_status_set(VKN_ERR_HOST_OOM, "queue: out of memory");
    }
    q->item_bytes = item_bytes;
    q->cap = capacity;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    *out = q;
    return VKN_OK;
}

void vkn_queue_destroy(vkn_queue *q)
{
    if (!q) return;
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q->items);
    free(q);
}

void vkn_queue_push(vkn_queue *q, const void *item)
{
    pthread_mutex_lock(&q->mu);
    if (q->count == q->cap) { /* full: drop the oldest */
        q->head = (q->head + 1) % q->cap;
        q->count--;
        q->dropped++;
    }
    memcpy(q->items + (size_t)((q->head + q->count) % q->cap) * q->item_bytes, item, q->item_bytes);
    q->count++;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

bool vkn_queue_pop(vkn_queue *q, void *item, int timeout_ms)
{
    pthread_mutex_lock(&q->mu);
    if (timeout_ms < 0)
        while (q->count == 0 && !q->closed) pthread_cond_wait(&q->cv, &q->mu);
    else if (timeout_ms > 0) {
        struct timespec ts = deadline(timeout_ms);
        while (q->count == 0 && !q->closed)
            if (pthread_cond_timedwait(&q->cv, &q->mu, &ts) == ETIMEDOUT) break;
    }
    bool got = q->count > 0;
    if (got) {
        memcpy(item, q->items + (size_t)q->head * q->item_bytes, q->item_bytes);
        q->head = (q->head + 1) % q->cap;
        q->count--;
    }
    pthread_mutex_unlock(&q->mu);
    return got;
}

int vkn_queue_count(vkn_queue *q)
{
    pthread_mutex_lock(&q->mu);
    int n = q->count;
    pthread_mutex_unlock(&q->mu);
    return n;
}

int64_t vkn_queue_dropped(vkn_queue *q)
{
    pthread_mutex_lock(&q->mu);
    int64_t n = q->dropped;
    pthread_mutex_unlock(&q->mu);
    return n;
}

void vkn_queue_close(vkn_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

bool vkn_queue_closed(vkn_queue *q)
{
    pthread_mutex_lock(&q->mu);
    bool c = q->closed;
    pthread_mutex_unlock(&q->mu);
    return c;
}
