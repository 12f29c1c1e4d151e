/* What cairn-grpc reads from a Nacos 2.x client once nghttp2 has taken the HTTP/2 frames apart:
 * the DATA bytes of a stream, cut into gRPC messages (grpc_reader), each message's Payload
 * envelope with its headers and token (grpc_payload_decode), and the JSON body of the naming
 * requests (the service, the request id, one instance or a batch of them: grpc_json.h).
 * The first input byte sets the DATA chunk size, so that messages split across chunks too. */
#include <jansson.h>

#include "cairn_model.h"
#include "fuzz_util.h"
#include "grpc_codec.h"
#include "grpc_json.h"

#define MAX_MESSAGE 65536 /* a smaller grpc.max_message_bytes than the default: reached too */

static void read_instance(const json_t *obj)
{
    cairn_instance in;
    cairn_status st;
    if (grpc_json_instance(obj, &in, &st) == CAIRN_OK) {
        FUZZ_CHECK(in.ip != NULL && in.cluster != NULL);
        cairn_instance copy;
        if (cairn_instance_copy(&copy, &in) == CAIRN_OK)
            cairn_instance_free(&copy);
    } else {
        FUZZ_CHECK(st.message[0] != '\0');
    }
    cairn_instance_free(&in);
}

/* The body as grpc_naming reads it: a JSON object, or nothing. */
static void read_body(const grpc_payload *p)
{
    json_error_t err;
    json_t *body = json_loadb(p->body, p->body_len, 0, &err);
    if (!body)
        return;
    if (json_is_object(body)) {
        (void)grpc_json_request_id(body);
        (void)grpc_json_str(body, "type");
        (void)grpc_json_bool(body, "healthyOnly", false);
        grpc_service_ref ref;
        cairn_status st;
        if (grpc_json_service_ref(body, &ref, &st) == CAIRN_OK)
            FUZZ_CHECK(ref.ns[0] != '\0' && ref.group[0] != '\0' && ref.name[0] != '\0');
        else
            FUZZ_CHECK(st.message[0] != '\0');
        read_instance(json_object_get(body, "instance"));
        const json_t *list = json_object_get(body, "instances");
        for (size_t i = 0; json_is_array(list) && i < json_array_size(list) && i < 64; i++)
            read_instance(json_array_get(list, i));
    }
    json_decref(body);
}

/* One message: decoded, its body read, and its type and body encoded again decode the same. */
static void read_message(const uint8_t *msg, size_t len)
{
    grpc_payload p;
    if (grpc_payload_decode(msg, len, &p) != 0)
        return;
    FUZZ_CHECK(p.type != NULL && p.body != NULL && p.body[p.body_len] == '\0');
    read_body(&p);
    uint8_t *again = NULL;
    size_t again_len = 0;
    if (grpc_payload_encode_framed(p.type, p.body, p.body_len, &again, &again_len) == 0) {
        FUZZ_CHECK(again_len >= GRPC_PREFIX_BYTES);
        grpc_payload q;
        FUZZ_CHECK(grpc_payload_decode(again + GRPC_PREFIX_BYTES, again_len - GRPC_PREFIX_BYTES,
                                       &q) == 0);
        FUZZ_CHECK(strcmp(q.type, p.type) == 0 &&
                   fuzz_same_bytes(q.body, q.body_len, p.body, p.body_len));
        grpc_payload_free(&q);
        free(again);
    }
    grpc_payload_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t chunk = (size_t)data[0] + 1;
    data++, size--;
    grpc_reader r;
    grpc_reader_init(&r, MAX_MESSAGE);
    bool done = false;
    for (size_t off = 0; off < size && !done;) {
        size_t n = size - off < chunk ? size - off : chunk;
        if (grpc_reader_feed(&r, data + off, n) != 0)
            break;
        off += n;
        for (;;) {
            const uint8_t *msg;
            size_t len;
            grpc_read_result res = grpc_reader_next(&r, &msg, &len);
            if (res == GRPC_READ_MESSAGE) {
                FUZZ_CHECK(len <= MAX_MESSAGE);
                read_message(msg, len);
                grpc_reader_consume(&r);
                continue;
            }
            /* a message too big or compressed ends the stream, as the role resets it */
            done = res != GRPC_READ_MORE;
            break;
        }
    }
    FUZZ_CHECK(done || grpc_reader_pending(&r) <= GRPC_PREFIX_BYTES + MAX_MESSAGE);
    grpc_reader_free(&r);
    return 0;
}
