/*
 * live.h - the harness of the tests that run the real system: the `bourse`
 * binary started as broker and agents (processes, ZeroMQ over an ipc
 * socket in a fresh directory), and the SQLite file the broker writes, read
 * back. Shared by test_live.c and the other tests over real processes.
 *
 * The cluster of live_start_cluster(): host-a is small and carries four
 * busy VMs, host-b is large and carries two quiet ones, so the market
 * resizes VMs on host-a and wants to migrate some of them to host-b.
 *
 * live_setup()/live_teardown() are cmocka fixtures: a struct live in a
 * fresh directory, everything killed and removed afterwards.
 */
#ifndef BOURSE_TESTS_LIVE_H
#define BOURSE_TESTS_LIVE_H

#include <stdint.h>
#include <sys/types.h>

#include <sqlite3.h>

#include "market.h" /* the signal kinds the store keeps */
#include "store.h"  /* the numbers of its states and kinds, in SQL too */

/* The broker's round and heartbeat: 200 and 100 ms, three times that
 * under valgrind (live_pace), where a process runs ten times slower or
 * more and a 300 ms liveness timeout would mark hosts lost that are only
 * slow; the agents take the heartbeat from the broker's Welcome. */
#define ROUND_MS (200 * live_pace)
#define HB_MS (100 * live_pace)
#define LIVENESS 3
#define MAX_AGENTS 4
#define WAIT_MS (15000 * live_slow) /* generous: ASan, or valgrind */

struct live {
	char dir[64];
	char db[128], ep[128], trace[128], blog[128];
	pid_t broker;
	pid_t agents[MAX_AGENTS];
	sqlite3 *sql;
	const char *dry_delay_ms; /* the agents' --dry-run-delay-ms */
};

/* What runs as broker and agents (default: this build's bourse), whether
 * under valgrind, and how much slower than plain the processes run
 * (timeouts scale with it). */
extern const char *live_bin;
extern int live_valgrind;
extern int live_slow;
extern int live_pace; /* 1, or 3 under valgrind: ROUND_MS, HB_MS */

/* Processes: started with live_bin (under valgrind when asked), their
 * output appended to a log in the test's directory; stopped by signal. */
void live_sleep_ms(int ms);
/* With BOURSE_LIVE_TIMES in the environment: "[time] N ms what: detail"
 * on stderr, N the milliseconds since since_ms (where a test's time goes). */
void live_note_time(const char *what, int64_t since_ms, const char *detail);
pid_t live_spawn(const struct live *l, const char *log,
		   const char *const *args);
void live_start_broker_with(struct live *l, const char *const *extra);
void live_start_broker(struct live *l);
/* After starting a broker on "tcp://127.0.0.1:*" (a port the kernel picks
 * as it binds: no race with other tests for a port): l->ep becomes the
 * endpoint it bound, read from its "listening on" line (the log's last:
 * after a restart, call it only once the new broker has logged its own). */
void live_learn_endpoint(struct live *l);
void live_start_agent(struct live *l, int i, const char *host,
			const char *cap, const char *vms);
int live_stop_proc(pid_t *pid, int sig, int timeout_ms);
int live_alive(pid_t pid);
void live_stop_cleanly(pid_t *pid);
void live_stop_broker_cleanly(struct live *l);
void live_stop_all_cleanly(struct live *l);
/* Reading the broker's database: one integer, or -1 (no schema yet). */
int64_t live_q_int(struct live *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void live_db_close(struct live *l);
int64_t live_wait_at_least(struct live *l, int64_t min, int timeout_ms,
			     const char *sql);
int64_t live_last_round(struct live *l);
int64_t live_host_id(struct live *l, const char *name);
void live_wait_rounds_after(struct live *l, int64_t r, int n);
void live_wait_online(struct live *l, int n);
void live_start_cluster_with(struct live *l, const char *const *extra);
void live_start_cluster(struct live *l);
/* A shell command; its exit status. */
int live_run_cli(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A shell command's standard output, all of it, NUL-terminated (the
 * caller frees it); *wstatus is its wait status (pclose()). */
char *live_capture(const char *cmd, int *wstatus);
int live_count_starting(const char *path, const char *prefix);
int live_count_in_file(const char *path, const char *needle);
/* How many times the agents of host-a and host-b carried out action
 * rec-<id> (their logs): an action carried out twice gives two; an answer
 * from memory to a repeated id ("not done again") is not counted. */
int live_times_acted(struct live *l, int64_t id);

/* First thing in main(): SIGPIPE ignored, and with BOURSE_LIVE_VALGRIND=1
 * the processes run under valgrind from BOURSE_LIVE_BIN (a build without
 * sanitizers). -1 (a message printed) when that cannot be done: the test
 * then exits 77, skipped. */
int live_env(void);

/* cmocka fixtures. */
int live_setup(void **state);
int live_teardown(void **state);

#endif
