/* version: the release of callsyncd and callsync (--version, logs). */
#ifndef CALLSYNC_VERSION_H
#define CALLSYNC_VERSION_H

#ifndef CALLSYNC_VERSION
#define CALLSYNC_VERSION	"0.2.0"
#endif

#endif
