/*
 * tool.h: what the commands of callsync(8) share.  callsync.c parses the
 * global options into a struct tool and dispatches; each cmd_*.c file
 * holds one group of commands, each entry point taking the command's own
 * argv (argv[0] is the command name) and returning the exit status:
 * 0 success, 1 failure, 2 usage.
 *
 * tool.c opens the database (--db, else the config's [worker] database),
 * loads the config on demand, formats times, and draws progress on a
 * terminal only, so scripts and logs never see carriage returns.
 */
#ifndef CALLSYNC_TOOL_H
#define CALLSYNC_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "conf.h"
#include "db.h"
#include "ops.h"
#include "store.h"

#define TOOL_EXIT_OK	0
#define TOOL_EXIT_FAIL	1
#define TOOL_EXIT_USAGE	2

#define TOOL_DEFAULT_DB		"/var/lib/callsync/outbox.db"
#define TOOL_PAYLOAD_MAX	(1024 * 1024)
/* Without lock files, a workspace_state row this recent (s): served. */
#define TOOL_SERVED_FRESH	300
/* A worker whose heartbeat (workers table) is older than this (s): stale. */
#define TOOL_HEARTBEAT_STALE	OPS_HEARTBEAT_STALE_S

struct tool {
	const char	*conf_path;	/* --config, or NULL */
	const char	*db_path;	/* --db, or NULL */
	struct conf	*conf;		/* loaded on demand; owned */
	struct db	 db;
	bool		 db_ok;		/* db is open */
	int		 verbose;
};

/* One command of the dispatch table. */
struct tool_cmd {
	const char	*name;
	int		(*fn)(struct tool *, int, char **);
	const char	*synopsis;	/* after "callsync " */
	const char	*help;		/* one paragraph */
};

/* An HTTP answer collected by libcurl (tool_buf_write_cb), NUL-ended. */
struct tool_buf {
	char	*p;		/* owned; NULL until the first byte */
	size_t	 len;
	size_t	 max;		/* more fails the transfer (CURLE_WRITE_ERROR) */
};

/* Progress on stderr, drawn only when stderr is a terminal. */
struct tool_progress {
	const char	*what;
	size_t		 total;		/* 0: unknown */
	size_t		 done;
	int64_t		 last_ms;
	bool		 tty;
	bool		 drawn;
};

/* tool.c */
void	 tool_err(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 tool_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
int	 tool_usage(const struct tool_cmd *, bool to_stdout);
int	 tool_badopt(const struct tool_cmd *, char **, int);
int	 tool_conf(struct tool *, bool need);
int	 tool_conf_lenient(struct tool *, const char *);
int	 tool_open(struct tool *, int flags);
void	 tool_close(struct tool *);
const char *tool_db_path(struct tool *);
struct conf_ws *tool_ws_conf(struct tool *, const char *);
const char *tool_default_ws(struct tool *);
const char *tool_operator(char *, size_t);
char	*tool_fmt_time(int64_t, char *, size_t);
char	*tool_fmt_time_ms(int64_t, char *, size_t);
char	*tool_fmt_age(int64_t, char *, size_t);
long long tool_parse_duration(const char *);
int	 tool_parse_when(const char *, int64_t *);
int	 tool_parse_count(const char *, long long *);
char	*tool_read_all(const char *, size_t *, char *, size_t);
int	 tool_print_json(FILE *, json_t *);
size_t	 tool_buf_write_cb(char *, size_t, size_t, void *);
json_t	*tool_col_json(struct sqlite3_stmt *, int);
json_t	*tool_col_str(struct sqlite3_stmt *, int);
json_t	*tool_col_int(struct sqlite3_stmt *, int);
json_t	*tool_col_time(struct sqlite3_stmt *, int);
json_t	*tool_str_json(const char *);
json_t	*tool_time_json(int64_t);
const char *tool_json_s(const json_t *, const char *);
int	 tool_operator_audit(struct tool *, const char *, const char *,
	    json_t *);
int	 tool_ws_served(struct tool *, const char *, int64_t, char *,
	    size_t);
int	 tool_owner_alive(struct tool *, const char *, char *, size_t);
json_t	*tool_workers(struct tool *, int64_t);
void	 tool_progress_init(struct tool_progress *, const char *, size_t);
void	 tool_progress_step(struct tool_progress *, size_t);
void	 tool_progress_end(struct tool_progress *);

/* cmd_records.c */
int	 cmd_init(struct tool *, int, char **);
int	 cmd_migrate(struct tool *, int, char **);
int	 cmd_enqueue(struct tool *, int, char **);
int	 cmd_status(struct tool *, int, char **);
int	 cmd_ls(struct tool *, int, char **);
int	 cmd_show(struct tool *, int, char **);
int	 cmd_show_record(struct tool *, const char *, const char *, bool,
	    bool);
json_t	*recs_status_all(struct tool *, int64_t);
/* cmd_top.c */
int	 cmd_top(struct tool *, int, char **);
/* cmd_dlq.c */
int	 cmd_dlq(struct tool *, int, char **);
/* dlq_plan.c */
int	 dlq_plan_print(struct tool *, int64_t, const char *, const char *);
json_t	*dlq_plan_json(struct tool *, int64_t, const char *, const char *);
int	 dlq_plan_invalidate(struct tool *, int64_t, const char *,
	    const char *, const char *, const char *, bool, json_t *, FILE *);
/* cmd_audit.c */
int	 cmd_audit(struct tool *, int, char **);
/* cmd_xfer.c */
int	 cmd_export(struct tool *, int, char **);
int	 cmd_import(struct tool *, int, char **);
/* cmd_prune.c */
int	 cmd_prune(struct tool *, int, char **);
/* cmd_contacts.c */
int	 cmd_contacts(struct tool *, int, char **);
/* cmd_doctor.c */
int	 cmd_doctor(struct tool *, int, char **);
/* cmd_sandbox.c */
int	 cmd_sandbox(struct tool *, int, char **);
/* cmd_context.c */
int	 cmd_context(struct tool *, int, char **);
/* cmd_recmove.c */
int	 cmd_records(struct tool *, int, char **);
/* cmd_workers.c */
int	 cmd_forget_worker(struct tool *, int, char **);
/* cmd_tasks.c */
int	 cmd_tasks(struct tool *, int, char **);

#endif
