/*
 * fuzz_conf: libFuzzer target for the configuration parser.  The input is
 * written to an anonymous memfd and parsed through /proc/self/fd/N with
 * conf_load(), exactly as a file on disk would be; tokens are not loaded
 * (that would read whatever paths the input names).  The result, if any,
 * is freed.  Build (see tests/fuzz/run.sh):
 *
 *	clang -fsanitize=fuzzer,address,undefined -Iworker \
 *	    tests/fuzz/fuzz_conf.c worker/core/conf.c worker/core/log.c
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	 fd = -1;
	struct conf	*c;
	char		 path[64], err[1024];
	size_t		 off = 0;
	ssize_t		 n;

	if (fd == -1 && (fd = memfd_create("fuzz_conf.conf", MFD_CLOEXEC)) ==
	    -1)
		return 0;
	if (ftruncate(fd, 0) == -1 || lseek(fd, 0, SEEK_SET) == -1)
		return 0;
	while (off < size) {
		if ((n = write(fd, data + off, size - off)) <= 0)
			return 0;
		off += n;
	}
	/* memfds are 0777 by default: clear group/other like a real config. */
	if (fchmod(fd, 0600) == -1)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	c = conf_load(path, false, err, sizeof(err));
	if (c == NULL && strncmp(err, path, strlen(path)) != 0)
		__builtin_trap();	/* every error names the file */
	conf_free(c);
	return 0;
}
