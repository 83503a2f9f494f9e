/* A stub Lambda `bootstrap`: a Lambda Runtime API loop answering every
 * invocation, API Gateway requests included, with
 * 200 {"status":"ok","stub":STUB_CODE}, so a deploy's health check passes at
 * once. Built with gcc in milliseconds, it needs only GLIBC_2.34, passes the
 * glibc check like the real Lambda, and the local AWS runs it like the real one.
 * The tests (tests/common/mod.rs) and the benchmarks (bench/) build it;
 * -DSTUB_CODE=N makes each variant's bytes (and sha256) differ. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef STUB_CODE
#define STUB_CODE 0
#endif
#define TEXT(x) #x
#define NUMBER(x) TEXT(x)

static char response[1 << 20];

/* One HTTP/1.1 exchange with the runtime API; the whole answer lands in `response`. */
static int exchange(const char *api, const char *method, const char *path, const char *body) {
    char host[256];
    snprintf(host, sizeof host, "%s", api);
    char *colon = strchr(host, ':');
    if (!colon) return -1;
    *colon = 0;
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_port = htons((unsigned short)atoi(colon + 1));
    inet_pton(AF_INET, host, &address.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof address) < 0) return -1;
    char request[4096];
    int n = snprintf(request, sizeof request,
        "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
        method, path, api, strlen(body), body);
    if (write(fd, request, (size_t)n) != n) return -1;
    size_t used = 0;
    ssize_t got;
    while (used < sizeof response - 1 && (got = read(fd, response + used, sizeof response - 1 - used)) > 0) used += (size_t)got;
    response[used] = 0;
    close(fd);
    return 0;
}

int main(void) {
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    if (!api) return STUB_CODE;
    for (;;) {
        if (exchange(api, "GET", "/2018-06-01/runtime/invocation/next", "") < 0) return 1;
        char *header = strcasestr(response, "Lambda-Runtime-Aws-Request-Id:");
        if (!header) return 1;
        header += strlen("Lambda-Runtime-Aws-Request-Id:");
        while (*header == ' ') header++;
        char id[128];
        size_t len = strcspn(header, "\r\n");
        if (len >= sizeof id) return 1;
        memcpy(id, header, len);
        id[len] = 0;
        char path[256];
        snprintf(path, sizeof path, "/2018-06-01/runtime/invocation/%s/response", id);
        exchange(api, "POST", path,
            "{\"statusCode\":200,\"headers\":{\"content-type\":\"application/json\"},\"body\":\"{\\\"status\\\":\\\"ok\\\",\\\"stub\\\":" NUMBER(STUB_CODE) "}\"}");
    }
}
