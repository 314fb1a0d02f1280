/*
 * http.c - the broker's HTTP server: libmicrohttpd on its own polling
 * thread, serving /metrics and the JSON API (api.c) when --http is given.
 *
 * The thread has its own store connection (SQLite in WAL mode serves it
 * beside the loop's), used only by that thread: MHD's internal polling
 * thread answers one request at a time. What lives only in the loop's
 * memory reaches it through the snapshot, copied under a mutex once per
 * round (broker__http_publish()).
 *
 * Who may do what (docs/operations.md, "Metrics and the HTTP API"): writes
 * need a token of --http-token-file (Authorization: Bearer TOKEN), and are
 * refused when there is no such file; reads are open on loopback and need
 * a token elsewhere, where TLS is required (broker_config_validate()).
 * Resources are bounded: connections (in all, per client address), each
 * one's idle time and memory, the request body.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "broker_int.h"
#include "banned.h"

#define HTTP_MAX_CONNS 64            /* connections at once */
#define HTTP_MAX_PER_IP 16           /* ... from one address */
#define HTTP_TIMEOUT_S 10            /* an idle connection is closed */
#define HTTP_CONN_MEMORY (64 * 1024) /* headers and buffers, per connection */
#define HTTP_BUSY_MS 2000            /* the store's lock: then 503 */
#define HTTP_TOKEN_MAX 256           /* a token's bytes, at most */
#define HTTP_TOKEN_MIN 16
#define HTTP_NAME_MAX 64
#define HTTP_PEM_MAX (1 << 20) /* a certificate or key file */

typedef struct http_token {
	char name[HTTP_NAME_MAX + 1];
	unsigned char token[HTTP_TOKEN_MAX]; /* zero-padded */
	size_t len;
} http_token;

struct broker_http {
	struct MHD_Daemon *d;
	store *st;          /* the HTTP thread's connection */
	pthread_mutex_t mu; /* guards snap */
	broker_snapshot snap;
	http_token *tokens;
	size_t n_tokens, cap_tokens;
	int loopback; /* bound to loopback: reads are open */
	int no_vm_metrics;
	char *cert, *key;   /* PEM, held for the daemon's life */
	char last_log[256]; /* MHD's last message (why it did not start) */
};

/* One request's state across MHD's calls: its body. */
struct http_call {
	char body[BROKER_HTTP_BODY_MAX];
	size_t len;
	int too_big;
};

/* ---- the address --------------------------------------------------------- */

static int parse_port(const char *s, unsigned *port)
{
	char *end;
	long v;

	if (!*s || *s == '+' || *s == '-')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

int broker__http_addr_parse(const char *s, broker_http_addr *out, char *err,
			    size_t errlen)
{
	const char *given = s;
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(s, ':');
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!colon || colon == s)
		return util_err(err, errlen,
				"--http '%s': not ADDR:PORT "
				"(e.g. 127.0.0.1:9411, [::1]:9411)",
				s);
	n = (size_t)(colon - s);
	if (s[0] == '[') {
		if (n < 3 || s[n - 1] != ']')
			return util_err(err, errlen,
					"--http '%s': an IPv6 "
					"address goes in brackets: [::1]:PORT",
					s);
		s++;
		n -= 2;
		out->v6 = 1;
	}
	if (n >= sizeof(host) || parse_port(colon + 1, &out->port))
		return util_err(err, errlen,
				"--http '%s': not ADDR:PORT "
				"with a port 0 .. 65535",
				given);
	memcpy(host, s, n);
	host[n] = '\0';
	if (out->v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&out->sa;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)out->port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return util_err(err, errlen,
					"--http: '%s' is not a "
					"numeric IPv6 address",
					host);
		out->loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&out->sa;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)out->port);
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return util_err(err, errlen,
					"--http: '%s' is not a "
					"numeric IPv4 address (IPv6 goes in "
					"brackets)",
					host);
		out->loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	}
	return 0;
}

/* ---- files: tokens, certificate, key ------------------------------------ */

/* Read a secret file whole (NUL-terminated, malloc'd), refusing one that
 * group or others may open: like ssh with its keys. */
static char *read_secret(const char *path, const char *flag, int secret,
			 size_t *len, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		util_err(err, errlen, "%s %s: %s%s", flag, path,
			 strerror(errno),
			 errno == EACCES ? " (permission)" : "");
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		util_err(err, errlen, "%s %s: not a regular file", flag, path);
		goto fail;
	}
	if (secret && (st.st_mode & 077)) {
		util_err(err, errlen,
			 "%s %s: permission %04o lets group or "
			 "others read it; chmod 600 it",
			 flag, path, (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	if (st.st_size > HTTP_PEM_MAX) {
		util_err(err, errlen, "%s %s: larger than 1 MiB", flag, path);
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		util_err(err, errlen, "%s %s: out of memory", flag, path);
		goto fail;
	}
	got = read(fd, buf, (size_t)st.st_size);
	if (got != (ssize_t)st.st_size) {
		util_err(err, errlen, "%s %s: short read", flag, path);
		free(buf);
		buf = NULL;
		goto fail;
	}
	buf[got] = '\0';
	*len = (size_t)got;
fail:
	close(fd);
	return buf;
}

static int name_ok(const char *s, size_t n)
{
	if (n == 0 || n > HTTP_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789._-",
			    s[i]))
			return 0;
	return 1;
}

/* One "NAME TOKEN" line into the table. */
static int token_line(struct broker_http *h, const char *path, int lineno,
		      char *line, char *err, size_t errlen)
{
	char *save = NULL, *name = strtok_r(line, " \t", &save);
	char *tok = name ? strtok_r(NULL, " \t", &save) : NULL;
	http_token *t;

	if (!name || name[0] == '#')
		return 0;
	if (!tok || strtok_r(NULL, " \t", &save))
		return util_err(err, errlen,
				"--http-token-file %s:%d: not "
				"'NAME TOKEN'",
				path, lineno);
	if (!name_ok(name, strlen(name)))
		return util_err(err, errlen,
				"--http-token-file %s:%d: the "
				"name '%s' is not 1-64 of A-Z a-z 0-9 . _ -",
				path, lineno, name);
	if (strlen(tok) < HTTP_TOKEN_MIN || strlen(tok) >= HTTP_TOKEN_MAX)
		return util_err(err, errlen,
				"--http-token-file %s:%d: the "
				"token of '%s' must be %d to %d characters",
				path, lineno, name, HTTP_TOKEN_MIN,
				HTTP_TOKEN_MAX - 1);
	for (size_t i = 0; i < h->n_tokens; i++)
		if (!strcmp(h->tokens[i].name, name))
			return util_err(err, errlen,
					"--http-token-file %s:%d: "
					"'%s' twice",
					path, lineno, name);
	if (UTIL_GROW(h->tokens, h->n_tokens + 1, h->cap_tokens))
		return util_err(err, errlen, "out of memory");
	t = &h->tokens[h->n_tokens++];
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->len = strlen(tok);
	memcpy(t->token, tok, t->len);
	return 0;
}

static int load_tokens(struct broker_http *h, const char *path, char *err,
		       size_t errlen)
{
	size_t len;
	char *buf = read_secret(path, "--http-token-file", 1, &len, err,
				errlen);
	int lineno = 0, rc = 0;

	if (!buf)
		return -1;
	/* lines one by one, keeping empty ones counted */
	for (char *p = buf, *nl; rc == 0 && p && *p; p = nl) {
		nl = strchr(p, '\n');
		if (nl)
			*nl++ = '\0';
		lineno++;
		rc = token_line(h, path, lineno, p, err, errlen);
	}
	memset(buf, 0, len);
	free(buf);
	if (rc == 0 && h->n_tokens == 0)
		rc = util_err(err, errlen,
			      "--http-token-file %s: no token "
			      "(lines 'NAME TOKEN')",
			      path);
	return rc;
}

/* Which token the Authorization header carries. Every token is compared
 * over its whole buffer, whatever matched: the time taken does not say
 * how much of a guess was right. */
static broker_api_auth authenticate(const struct broker_http *h,
				    const char *header, const char **name)
{
	unsigned char given[HTTP_TOKEN_MAX] = { 0 };
	size_t len;
	const char *found = NULL;

	if (!header)
		return BROKER_AUTH_NONE;
	if (strncasecmp(header, "Bearer ", 7) != 0)
		return BROKER_AUTH_BAD;
	header += 7;
	len = strlen(header);
	if (len == 0 || len >= HTTP_TOKEN_MAX)
		return BROKER_AUTH_BAD;
	memcpy(given, header, len);
	for (size_t i = 0; i < h->n_tokens; i++) {
		unsigned diff = (unsigned)(h->tokens[i].len ^ len);

		for (size_t j = 0; j < HTTP_TOKEN_MAX; j++)
			diff |= (unsigned)(h->tokens[i].token[j] ^ given[j]);
		if (diff == 0)
			found = h->tokens[i].name;
	}
	if (!found)
		return BROKER_AUTH_BAD;
	*name = found;
	return BROKER_AUTH_OK;
}

/* ---- requests ------------------------------------------------------------ */

static const char *query_arg(void *ctx, const char *key)
{
	return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, key);
}

/* Take a body chunk; past the limit the rest is dropped and the request
 * answered 413. */
static void take_body(struct http_call *call, const char *data, size_t n)
{
	if (call->too_big || n > sizeof(call->body) - call->len) {
		call->too_big = 1;
		return;
	}
	memcpy(call->body + call->len, data, n);
	call->len += n;
}

static enum MHD_Result respond(struct MHD_Connection *c, broker_api_resp *out)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	if (!out->body)
		return MHD_NO; /* out of memory: MHD closes the connection */
	r = MHD_create_response_from_buffer(out->len, out->body,
					    MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(out->body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, out->type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (out->allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, out->allow);
	if (out->status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"bourse\"");
	rc = MHD_queue_response(c, out->status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct broker_http *h = cls;
	struct http_call *call = *con_cls;
	broker_snapshot snap;
	broker_api_req req;
	broker_api_resp out;

	(void)version;
	if (!call) { /* the headers: wait for the body */
		call = calloc(1, sizeof(*call));
		*con_cls = call;
		return call ? MHD_YES : MHD_NO;
	}
	if (*upload_size) {
		take_body(call, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&h->mu);
	snap = h->snap;
	pthread_mutex_unlock(&h->mu);
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.path = url;
	req.arg = query_arg;
	req.arg_ctx = c;
	req.body = call->body;
	req.body_len = call->len;
	req.body_too_big = call->too_big;
	req.auth = authenticate(
		h,
		MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					    MHD_HTTP_HEADER_AUTHORIZATION),
		&req.token_name);
	req.tokens = h->n_tokens > 0;
	req.open_reads = h->loopback;
	req.no_vm_metrics = h->no_vm_metrics;
	req.st = h->st;
	req.snap = &snap;
	req.now_ms = util_wall_ms();
	store_retry(
		h->st); /* a fault of an earlier request is not this one's */
	broker__api_handle(&req, &out);
	return respond(c, &out);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode why)
{
	(void)cls;
	(void)c;
	(void)why;
	free(*con_cls);
	*con_cls = NULL;
}

/* MHD's own format: printf-checked like util_verr() (clang's -Wformat-nonliteral) */
static void on_log(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void on_log(void *cls, const char *fmt, va_list ap)
{
	struct broker_http *h = cls;
	size_t n;

	vsnprintf(h->last_log, sizeof(h->last_log), fmt, ap);
	n = strlen(h->last_log);
	while (n && h->last_log[n - 1] == '\n')
		h->last_log[--n] = '\0';
	log_at(LOG_WARNING, NULL, "broker: http: %s\n", h->last_log);
}

/* ---- open, publish, close ------------------------------------------------ */

static int load_tls(struct broker_http *h, const broker_config *c, char *err,
		    size_t errlen)
{
	size_t len;

	if (!c->http_tls_cert)
		return 0;
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		return util_err(err, errlen,
				"--http-tls-cert: this "
				"libmicrohttpd has no TLS");
	h->cert = read_secret(c->http_tls_cert, "--http-tls-cert", 0, &len, err,
			      errlen);
	if (!h->cert)
		return -1;
	h->key = read_secret(c->http_tls_key, "--http-tls-key", 1, &len, err,
			     errlen);
	return h->key ? 0 : -1;
}

static int start_daemon(struct broker_http *h, const broker_config *c,
			const broker_http_addr *a, char *err, size_t errlen)
{
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
			 (a->v6 ? MHD_USE_IPv6 : 0) |
			 (h->cert ? MHD_USE_TLS : 0);
	const union MHD_DaemonInfo *info;
	char host[INET6_ADDRSTRLEN];

	h->d = MHD_start_daemon(flags, (uint16_t)a->port, NULL, NULL,
				on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
				on_log, h, MHD_OPTION_SOCK_ADDR,
				(const struct sockaddr *)&a->sa,
				MHD_OPTION_CONNECTION_LIMIT,
				(unsigned)HTTP_MAX_CONNS,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT,
				(unsigned)HTTP_MAX_PER_IP,
				MHD_OPTION_CONNECTION_TIMEOUT,
				(unsigned)HTTP_TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT,
				(size_t)HTTP_CONN_MEMORY,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
				h->cert ? MHD_OPTION_HTTPS_MEM_CERT
					: MHD_OPTION_END,
				h->cert, MHD_OPTION_HTTPS_MEM_KEY, h->key,
				MHD_OPTION_END);
	if (!h->d)
		return util_err(err, errlen, "--http %s: cannot serve%s%s",
				c->http, h->last_log[0] ? ": " : "",
				h->last_log);
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	if (a->v6)
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)&a->sa)->sin6_addr,
			  host, sizeof(host));
	else
		inet_ntop(AF_INET,
			  &((const struct sockaddr_in *)&a->sa)->sin_addr, host,
			  sizeof(host));
	/* tests and scripts read the port from this line (port 0) */
	log_at(LOG_NOTICE, NULL,
	       "broker: http on %s%s%s:%u (%s), reads %s, writes "
		"%s\n",
		a->v6 ? "[" : "", host, a->v6 ? "]" : "",
		info ? info->port : a->port, h->cert ? "https" : "http",
		h->loopback ? "open (loopback)" : "need a token",
		h->n_tokens ? "need a token" : "off (no --http-token-file)");
	return 0;
}

int broker__http_open(broker *b, char *err, size_t errlen)
{
	const broker_config *c = b->cfg;
	struct broker_http *h;
	broker_http_addr a;

	if (!c->http)
		return 0;
	if (broker__http_addr_parse(c->http, &a, err, errlen))
		return -1;
	/* a client gone mid-answer must not kill the broker (MHD sends with
	 * MSG_NOSIGNAL where it can; GnuTLS's writes are the belt's braces) */
	signal(SIGPIPE, SIG_IGN);
	h = calloc(1, sizeof(*h));
	if (!h)
		return util_err(err, errlen, "out of memory");
	b->http = h;
	pthread_mutex_init(&h->mu, NULL);
	h->loopback = a.loopback;
	h->no_vm_metrics = c->http_no_vm_metrics;
	if ((c->http_token_file &&
	     load_tokens(h, c->http_token_file, err, errlen)) ||
	    load_tls(h, c, err, errlen))
		return -1;
	if (store_open(c->db_path, 0, &h->st, err, errlen))
		return -1;
	store_busy_ms(h->st, HTTP_BUSY_MS);
	broker__http_publish(b);
	return start_daemon(h, c, &a, err, errlen);
}

void broker__http_publish(broker *b)
{
	struct broker_http *h = b->http;
	const broker_rounds *rd = &b->rounds;
	broker_snapshot s;

	if (!h)
		return;
	memset(&s, 0, sizeof(s));
	s.started_ms = h->snap.started_ms ? h->snap.started_ms : util_wall_ms();
	s.round = rd->last_round;
	s.round_wall_ms = rd->last_wall_ms;
	memcpy(s.split_us, rd->last_split_us, sizeof(s.split_us));
	s.rounds = rd->count;
	s.store_errors = b->outage.errors;
	s.msgs_in = b->net.msgs_in;
	s.dropped = b->net.dropped;
	memcpy(s.drops, b->net.drops, sizeof(s.drops));
	s.keys_refused = b->auth.keys_refused;
	memcpy(s.cuts, b->net.cuts, sizeof(s.cuts));
	s.accept_failed = b->net.accept_failed;
	for (size_t i = 0; i < b->reg.n_conns; i++) {
		const bconn *cn = &b->reg.conns[i];

		s.conns += cn->live != 0;
		s.conns_bound += cn->live && cn->host != BROKER_NO_SLOT;
	}
	pthread_mutex_lock(&h->mu);
	h->snap = s;
	pthread_mutex_unlock(&h->mu);
}

void broker__http_close(broker *b)
{
	struct broker_http *h = b->http;

	if (!h)
		return;
	if (h->d)
		MHD_stop_daemon(h->d); /* joins its thread */
	store_close(h->st);
	pthread_mutex_destroy(&h->mu);
	if (h->key)
		memset(h->key, 0, strlen(h->key));
	free(h->key);
	free(h->cert);
	if (h->tokens)
		memset(h->tokens, 0, h->cap_tokens * sizeof(*h->tokens));
	free(h->tokens);
	free(h);
	b->http = NULL;
}
