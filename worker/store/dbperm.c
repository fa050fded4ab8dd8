/*
 * dbperm: see dbperm.h.  Nothing here opens the database: stat(2) and
 * access(2) on the file, its -wal and -shm, and its directory.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dbperm.h"

/* "owner NAME (uid N) mode 0MMM" of sb into buf. */
static const char *
dbperm_owner(const struct stat *sb, char *buf, size_t sz)
{
	struct passwd	*pw = getpwuid(sb->st_uid);

	snprintf(buf, sz, "owner %s (uid %lu) mode %04o",
	    pw != NULL ? pw->pw_name : "?", (unsigned long)sb->st_uid,
	    (unsigned)(sb->st_mode & 07777));
	return buf;
}

/* "running as uid N (NAME)" into buf. */
static const char *
dbperm_self(char *buf, size_t sz)
{
	struct passwd	*pw = getpwuid(getuid());

	snprintf(buf, sz, "running as uid %lu (%s)", (unsigned long)getuid(),
	    pw != NULL ? pw->pw_name : "?");
	return buf;
}

/* The directory of path into buf ("." for a bare name). */
static void
dbperm_dir(const char *path, char *buf, size_t sz)
{
	char	 tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(buf, sz, "%s", dirname(tmp));
}

/*
 * "cannot DOING: [directory DIR: ]owner ... mode ...; running as ..." for
 * an access(2) failure errnum on file, or on dir when it is not NULL.
 */
static void
dbperm_say(const char *doing, const char *file, const char *dir, int errnum,
    char *err, size_t errsz)
{
	struct stat	 sb;
	char		 own[128], self[96];

	dbperm_self(self, sizeof(self));
	if (errnum == EROFS)
		snprintf(err, errsz, "cannot %s: read-only file system", doing);
	else if (stat(dir != NULL ? dir : file, &sb) == -1)
		snprintf(err, errsz, "cannot %s: %s; %s", doing,
		    strerror(errnum), self);
	else if (dir != NULL)
		snprintf(err, errsz, "cannot %s: directory %s: %s; %s", doing,
		    dir, dbperm_owner(&sb, own, sizeof(own)), self);
	else
		snprintf(err, errsz, "cannot %s: %s; %s", doing,
		    dbperm_owner(&sb, own, sizeof(own)), self);
}

/* errno values that are about permission, not about the path. */
static int
dbperm_denied(int errnum)
{
	return errnum == EACCES || errnum == EPERM || errnum == EROFS;
}

void
dbperm_create_err(const char *path, int errnum, char *err, size_t errsz)
{
	char	 dir[PATH_MAX], doing[PATH_MAX + 32];

	if (errnum == ENOENT && dbperm_dir_missing(path, err, errsz))
		return;
	if (!dbperm_denied(errnum)) {
		snprintf(err, errsz, "%s: %s", path, strerror(errnum));
		return;
	}
	dbperm_dir(path, dir, sizeof(dir));
	snprintf(doing, sizeof(doing), "create %s", path);
	dbperm_say(doing, path, dir, errnum, err, errsz);
}

int
dbperm_dir_missing(const char *path, char *err, size_t errsz)
{
	struct stat	 sb;
	char		 dir[PATH_MAX];

	dbperm_dir(path, dir, sizeof(dir));
	if (stat(dir, &sb) == 0 || errno != ENOENT)
		return 0;
	snprintf(err, errsz, "%s: the directory of the database, %s, does "
	    "not exist; create it for the user that runs callsyncd, e.g. install "
	    "-d -o callsync -g callsync -m 0750 %s, then run callsync init",
	    path, dir, dir);
	return 1;
}

int
dbperm_check_read(const char *path, char *err, size_t errsz)
{
	char	 doing[PATH_MAX + 32];

	if (access(path, R_OK) == 0 || !dbperm_denied(errno))
		return 0;	/* other errors: SQLite says them */
	snprintf(doing, sizeof(doing), "open %s for reading", path);
	dbperm_say(doing, path, NULL, errno, err, errsz);
	return -1;
}

int
dbperm_check_write(const char *path, char *err, size_t errsz)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	struct stat	 sb;
	char		 f[PATH_MAX], dir[PATH_MAX], doing[PATH_MAX + 32];
	size_t		 i;

	dbperm_dir(path, dir, sizeof(dir));
	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		if (snprintf(f, sizeof(f), "%s%s", path, sfx[i]) >=
		    (int)sizeof(f))
			return 0;
		if (stat(f, &sb) == -1) {
			if (errno != ENOENT || i == 0)
				continue;	/* SQLite says it */
			/* Missing: SQLite must create it in dir. */
			if (access(dir, W_OK | X_OK) == 0 ||
			    !dbperm_denied(errno))
				continue;
			snprintf(doing, sizeof(doing), "create %s", f);
			dbperm_say(doing, f, dir, errno, err, errsz);
			return -1;
		}
		if (access(f, R_OK | W_OK) == 0 || !dbperm_denied(errno))
			continue;
		snprintf(doing, sizeof(doing), "open %s for writing", f);
		dbperm_say(doing, f, NULL, errno, err, errsz);
		return -1;
	}
	return 0;
}

int
dbperm_uri_ro(const char *path, int immutable, char *buf, size_t sz)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*p;
	size_t			 n = 0;
	int			 k;

	/* RFC 3986: keep unreserved characters and '/', escape the rest,
	 * so '?', '#' and '%' in a path are not read as URI syntax. */
	if (sz < 6)
		return -1;
	memcpy(buf, "file:", 5);
	n = 5;
	for (p = (const unsigned char *)path; *p != '\0'; p++) {
		if (n + 4 >= sz)
			return -1;
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~/", *p) != NULL)
			buf[n++] = (char)*p;
		else {
			buf[n++] = '%';
			buf[n++] = hex[*p >> 4];
			buf[n++] = hex[*p & 15];
		}
	}
	k = snprintf(buf + n, sz - n, "?mode=ro%s",
	    immutable ? "&immutable=1" : "");
	return k < 0 || (size_t)k >= sz - n ? -1 : 0;
}
