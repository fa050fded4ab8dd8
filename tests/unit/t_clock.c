/*
 * t_clock: worker/core/clock.c, the one owner of time (issue 21): the three
 * clocks agree with the OS, the floor, and no other file of worker/ or
 * tools/ reads an OS clock itself.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "clock.h"

/* The wall clock in ms and s agree with each other and with time(2). */
static void
t_wall(void **state)
{
	int64_t	 before, ms, s, after;

	(void)state;
	before = (int64_t)time(NULL);
	ms = clock_wall_ms();
	s = clock_wall_s();
	after = (int64_t)time(NULL);
	assert_true(ms / 1000 >= before && ms / 1000 <= after);
	assert_true(s >= before && s <= after);
	assert_true(s >= ms / 1000);
}

/* Monotonic ms: never goes back, and tracks CLOCK_MONOTONIC. */
static void
t_mono(void **state)
{
	struct timespec	 ts;
	int64_t		 a, b, os;
	int		 i;

	(void)state;
	a = clock_mono_ms();
	for (i = 0; i < 100000; i++) {
		b = clock_mono_ms();
		assert_true(b >= a);
		a = b;
	}
	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	os = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	assert_true(os >= a && os - a < 1000);
	assert_true(a > 0);
}

/* The clock floor: 1970 and 2000 are unknown, now and last month known. */
static void
t_clock_floor(void **state)
{
	int64_t	 now = clock_wall_s();

	(void)state;
	assert_false(clock_known(0));
	assert_false(clock_known(600));			/* a 1970 boot */
	assert_false(clock_known(946684800));		/* 2000-01-01 */
	assert_true(clock_known(now));
	assert_true(clock_known(now - 30 * 86400));	/* a backlog */
	assert_true(clock_floor() < now - 300 * 86400);
	assert_false(clock_known(clock_floor() - 1));
	assert_true(clock_known(clock_floor()));
}

/* Lines of file path that read an OS clock: printed, counted. */
static int
os_clock_calls(const char *path)
{
	static const char *const calls[] = { "clock_gettime(",
	    "gettimeofday(", "time(NULL)", "time(0)", "time(&", NULL };
	FILE	*f;
	char	 line[4096];
	int	 n = 0, no = 0, i;

	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		no++;
		for (i = 0; calls[i] != NULL; i++)
			if (strstr(line, calls[i]) != NULL) {
				print_message("%s:%d: %s", path, no, line);
				n++;
				break;
			}
	}
	fclose(f);
	return n;
}

/* Clock calls in the .c and .h files of dir and the folders in it. */
static int
dir_clock_calls(const char *dir, int *files)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 sb;
	char		 path[512];
	size_t		 len;
	int		 n = 0;

	assert_non_null(d = opendir(dir));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		assert_int_equal(stat(path, &sb), 0);
		if (S_ISDIR(sb.st_mode)) {
			n += dir_clock_calls(path, files);
			continue;
		}
		len = strlen(de->d_name);
		if (len < 3 || (strcmp(de->d_name + len - 2, ".c") != 0 &&
		    strcmp(de->d_name + len - 2, ".h") != 0) ||
		    strncmp(de->d_name, "clock.", 6) == 0)
			continue;
		n += os_clock_calls(path);
		(*files)++;
	}
	closedir(d);
	return n;
}

/*
 * One owner: outside clock.c, no .c or .h of worker/ (its layer folders)
 * or tools/ calls clock_gettime, gettimeofday or time(): a new copy of a
 * clock helper fails here (the tests run from the top of the tree).
 */
static void
t_one_owner(void **state)
{
	int	 n, files = 0;

	(void)state;
	n = dir_clock_calls("worker", &files) + dir_clock_calls("tools",
	    &files);
	assert_true(files > 40);
	assert_int_equal(n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_wall),
		cmocka_unit_test(t_mono),
		cmocka_unit_test(t_clock_floor),
		cmocka_unit_test(t_one_owner),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
