/* The HTTP side of the push benchmark, as a Nacos 1.x Java client does it: subscribe through
 * `GET instance/list` with udpPort/clientIP, and change the service with `POST instance`. One
 * keep-alive connection (libcurl). */
#ifndef PUSH_HTTP_H
#define PUSH_HTTP_H

#include <stddef.h>
#include <stdint.h>

typedef struct push_http push_http;

/* gateway is "host:port". NULL on failure. */
push_http *push_http_open(const char *gateway);
void push_http_close(push_http *h);

/* Subscribes 127.0.0.1:udp_port to the service. 0 on HTTP 200, else -1 with a message in err. */
int push_http_subscribe(push_http *h, const char *service, uint16_t udp_port, char *err,
                        size_t err_len);

/* Registers an ephemeral instance ip:port in the service. 0 when the reply is "ok". */
int push_http_register(push_http *h, const char *service, const char *ip, int port, char *err,
                       size_t err_len);

#endif
