/* The nghttp2 server session of one connection: streams, the gRPC layer over them (paths,
 * content-type, message reassembly, Trailers-Only statuses) and response bodies through data
 * providers. Loop thread only. nghttp2 calls back from grpc_conn.c's mem_recv / mem_send; a
 * callback never closes the connection itself (it sets c->closing). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn_log.h"
#include "grpc.h"

#define UNARY_PATH "/Request/request"
#define BIDI_PATH "/BiRequestStream/requestBiStream"
#define GRPC_CT "application/grpc"

/* gRPC status codes used here (doc/statuscodes.md). */
enum { GRPC_OK = 0, GRPC_UNIMPLEMENTED = 12, GRPC_RESOURCE_EXHAUSTED = 8, GRPC_INTERNAL = 13 };

#define NV(n, v)                                                                                 \
    {                                                                                            \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NO_COPY_NAME   \
    }

grpc_stream *grpc_stream_find(grpc_conn *c, int32_t id)
{
    return c->h2 ? nghttp2_session_get_stream_user_data(c->h2, id) : NULL;
}

size_t grpc_stream_backlog(const grpc_stream *st)
{
    return st->out_len - st->out_off;
}

static void stream_free(grpc_stream *st)
{
    grpc_conn *c = st->conn;
    if (st->prev)
        st->prev->next = st->next;
    else
        c->stream_list = st->next;
    if (st->next)
        st->next->prev = st->prev;
    grpc_reader_free(&st->rd);
    free(st->out);
    free(st);
}

/* All of the body went to nghttp2: an idle bi-stream keeps no buffer between a probe or push and
 * the next (grpc_stream_send allocates again). */
static void release_out(grpc_stream *st)
{
    free(st->out);
    st->out = NULL;
    st->out_off = st->out_len = st->out_cap = 0;
}

/* The data provider of every response body: the stream's framed messages, then trailers. */
static ssize_t read_body(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *user)
{
    grpc_stream *st = src->ptr;
    size_t n = st->out_len - st->out_off;
    if (n > length)
        n = length;
    if (n > 0)
        memcpy(buf, st->out + st->out_off, n);
    st->out_off += n;
    if (st->out_off == st->out_len) {
        release_out(st);
        if (st->finish) {
            *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
            char status[16];
            snprintf(status, sizeof status, "%d", st->status);
            nghttp2_nv trailers[] = {NV("grpc-status", status)};
            nghttp2_submit_trailer(h2, id, trailers, 1);
        } else if (n == 0) {
            st->deferred = true;
            return NGHTTP2_ERR_DEFERRED;
        }
    }
    return (ssize_t)n;
}

/* Response HEADERS with the body provider (once per stream). */
static void respond(grpc_stream *st)
{
    if (st->responded)
        return;
    st->responded = true;
    nghttp2_nv hdrs[] = {NV(":status", "200"), NV("content-type", GRPC_CT)};
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = read_body};
    if (nghttp2_submit_response(st->conn->h2, st->id, hdrs, 2, &prd) != 0)
        st->conn->closing = true;
}

int grpc_stream_send(grpc_stream *st, uint8_t *framed, size_t len)
{
    if (st->out_len + len > st->out_cap) {
        size_t cap = st->out_cap ? st->out_cap : 4096;
        while (cap < st->out_len + len)
            cap *= 2;
        uint8_t *grown = realloc(st->out, cap);
        if (!grown) {
            free(framed);
            return -1;
        }
        st->out = grown;
        st->out_cap = cap;
    }
    memcpy(st->out + st->out_len, framed, len);
    st->out_len += len;
    free(framed);
    respond(st);
    if (st->deferred) {
        st->deferred = false;
        nghttp2_session_resume_data(st->conn->h2, st->id);
    }
    return 0;
}

void grpc_stream_reply(grpc_stream *st, const char *type, const char *json)
{
    uint8_t *framed;
    size_t len;
    if (!json || grpc_payload_encode_framed(type, json, strlen(json), &framed, &len) != 0) {
        grpc_stream_status(st, GRPC_INTERNAL, "out of memory");
        return;
    }
    st->finish = true;
    st->status = GRPC_OK;
    grpc_stream_send(st, framed, len);
}

void grpc_stream_status(grpc_stream *st, int status, const char *message)
{
    st->failed = true;
    if (st->responded) {
        /* HEADERS went already (a bi-stream): end the body with this status */
        st->finish = true;
        st->status = status;
        if (st->deferred) {
            st->deferred = false;
            nghttp2_session_resume_data(st->conn->h2, st->id);
        }
        return;
    }
    st->responded = true;
    char code[16];
    snprintf(code, sizeof code, "%d", status);
    nghttp2_nv hdrs[] = {NV(":status", "200"), NV("content-type", GRPC_CT),
                         NV("grpc-status", code), NV("grpc-message", message)};
    if (nghttp2_submit_response(st->conn->h2, st->id, hdrs, 4, NULL) != 0)
        st->conn->closing = true;
}

/* A request that is no gRPC at all: an HTTP status and nothing else. */
static void http_status(grpc_stream *st, const char *status)
{
    st->failed = st->responded = true;
    nghttp2_nv hdrs[] = {NV(":status", status)};
    if (nghttp2_submit_response(st->conn->h2, st->id, hdrs, 1, NULL) != 0)
        st->conn->closing = true;
}

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *frame, void *user)
{
    grpc_conn *c = user;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    if (c->streams >= c->srv->cfg.max_streams) {
        nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                  NGHTTP2_REFUSED_STREAM);
        return 0;
    }
    grpc_stream *st = calloc(1, sizeof *st);
    if (!st)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    st->conn = c;
    st->id = frame->hd.stream_id;
    grpc_reader_init(&st->rd, c->srv->cfg.max_message_bytes);
    nghttp2_session_set_stream_user_data(h2, st->id, st);
    st->next = c->stream_list;
    if (st->next)
        st->next->prev = st;
    c->stream_list = st;
    c->streams++;
    return 0;
}

static void copy_value(char *dst, size_t cap, const uint8_t *v, size_t n)
{
    if (n >= cap)
        n = cap - 1; /* longer than any value that matters: it will not match */
    memcpy(dst, v, n);
    dst[n] = 0;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
    grpc_stream *st = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
    if (!st || frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    if (namelen == 5 && memcmp(name, ":path", 5) == 0)
        copy_value(st->path, sizeof st->path, value, valuelen);
    else if (namelen == 12 && memcmp(name, "content-type", 12) == 0)
        copy_value(st->content_type, sizeof st->content_type, value, valuelen);
    return 0;
}

/* The request HEADERS are complete: what kind of stream this is. */
static void classify(grpc_stream *st)
{
    grpc_metrics *gm = &st->conn->srv->metrics;
    size_t ct = strlen(GRPC_CT);
    if (strncmp(st->content_type, GRPC_CT, ct) != 0 ||
        (st->content_type[ct] != 0 && st->content_type[ct] != '+' &&
         st->content_type[ct] != ';')) {
        cairn_counter_inc(gm->bad_content_type);
        http_status(st, "415");
        return;
    }
    if (strcmp(st->path, UNARY_PATH) == 0) {
        st->kind = GRPC_UNARY;
    } else if (strcmp(st->path, BIDI_PATH) == 0) {
        st->kind = GRPC_BIDI;
        st->conn->bidi = st; /* pushes go on the newest bi-stream */
        respond(st);         /* at once: tonic waits for them before it hands the stream over */
    } else {
        st->kind = GRPC_REFUSED;
        cairn_counter_inc(gm->bad_path);
        grpc_stream_status(st, GRPC_UNIMPLEMENTED, "unknown path");
    }
}

/* The client ended its side of the stream. */
static void remote_end(grpc_stream *st)
{
    if (st->failed)
        return;
    if (st->kind == GRPC_BIDI) {
        st->finish = true; /* finish ours: trailers once the queue is sent */
        st->status = GRPC_OK;
        respond(st);
        if (st->deferred) {
            st->deferred = false;
            nghttp2_session_resume_data(st->conn->h2, st->id);
        }
        return;
    }
    const uint8_t *msg;
    size_t len;
    if (!st->got_message || grpc_reader_next(&st->rd, &msg, &len) != GRPC_READ_MESSAGE) {
        cairn_counter_inc(st->conn->srv->metrics.bad_frame);
        grpc_stream_status(st, GRPC_INTERNAL, "a unary call carries exactly one message");
        return;
    }
    grpc_naming_unary(st, msg, len);
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *frame, void *user)
{
    grpc_conn *c = user;
    grpc_liveness_touch(&c->live, grpc_now_ms());
    grpc_stream *st = frame->hd.stream_id
                          ? nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id)
                          : NULL;
    if (!st)
        return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
        classify(st);
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        remote_end(st);
    return 0;
}

/* Takes the complete messages out of the stream's reader. */
static void take_messages(grpc_stream *st)
{
    grpc_metrics *gm = &st->conn->srv->metrics;
    for (;;) {
        const uint8_t *msg;
        size_t len;
        grpc_read_result r = grpc_reader_next(&st->rd, &msg, &len);
        if (r == GRPC_READ_MORE)
            return;
        if (r == GRPC_READ_TOO_BIG || r == GRPC_READ_COMPRESSED) {
            cairn_counter_inc(r == GRPC_READ_TOO_BIG ? gm->bad_size : gm->bad_compressed);
            grpc_stream_status(st, r == GRPC_READ_TOO_BIG ? GRPC_RESOURCE_EXHAUSTED
                                                          : GRPC_UNIMPLEMENTED,
                               r == GRPC_READ_TOO_BIG ? "message larger than the limit"
                                                      : "compression is not supported");
            /* the rest of the stream is dropped as it comes (nothing is buffered) */
            return;
        }
        if (st->kind == GRPC_UNARY) {
            /* kept in the reader until the client ends the stream; anything after it is a
             * second message */
            st->got_message = true;
            if (grpc_reader_pending(&st->rd) > GRPC_PREFIX_BYTES + len) {
                cairn_counter_inc(gm->bad_frame);
                grpc_stream_status(st, GRPC_INTERNAL, "a unary call carries exactly one message");
            }
            return;
        }
        grpc_naming_stream(st, msg, len);
        grpc_reader_consume(&st->rd);
        if (st->conn->closing)
            return;
    }
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *user)
{
    grpc_stream *st = nghttp2_session_get_stream_user_data(h2, id);
    if (!st || st->failed || st->kind == GRPC_REFUSED)
        return 0;
    if (grpc_reader_feed(&st->rd, data, len) != 0) {
        grpc_stream_status(st, GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return 0;
    }
    take_messages(st);
    return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t error_code, void *user)
{
    grpc_conn *c = user;
    grpc_stream *st = nghttp2_session_get_stream_user_data(h2, id);
    if (!st)
        return 0;
    if (c->bidi == st)
        c->bidi = NULL;
    c->streams--;
    nghttp2_session_set_stream_user_data(h2, id, NULL);
    stream_free(st);
    return 0;
}

void grpc_h2_close(grpc_conn *c)
{
    while (c->stream_list)
        stream_free(c->stream_list);
    c->streams = 0;
    c->bidi = NULL;
    nghttp2_session_del(c->h2);
    c->h2 = NULL;
}

int grpc_h2_open(grpc_conn *c)
{
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb) != 0)
        return -1;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_option *opt;
    int rc = nghttp2_option_new(&opt);
    if (rc == 0) {
        /* Streams over the limit are refused by on_begin_headers from the first frame on, not
         * only once the client has acknowledged our SETTINGS. */
        nghttp2_option_set_max_outbound_ack(opt, 1000);
        /* No priority tree is kept (gRPC clients send none), so closed streams need not be
         * remembered: a connection's memory is its open streams only. */
        nghttp2_option_set_no_closed_streams(opt, 1);
        rc = nghttp2_session_server_new2(&c->h2, cb, c, opt);
        nghttp2_option_del(opt);
    }
    nghttp2_session_callbacks_del(cb);
    if (rc != 0)
        return -1;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, c->srv->cfg.max_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
    };
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 2) != 0 ||
        nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, 16 << 20) != 0)
        return -1;
    return 0;
}
