/*
 * wscheck: does a workspace's configuration agree with its Intercom, and
 * does a custom attribute value fit the attribute's type?  Pure: it
 * judges what GET /admins, GET /teams and GET /data_attributes answered,
 * so the worker (engine.c at start and on SIGHUP, job_update.c before a
 * record's first write) and its unit test share one set of rules.
 *
 * A setting Intercom contradicts (an admin_id, or a routed team or admin,
 * that does not exist) pauses the workspace: its records would otherwise
 * be written halfway and then fail.  A record's own assign to a team or
 * admin Intercom does not have is the record's mistake, not the
 * workspace's: that assignment is dropped (the workspace's routing
 * decides instead) with a warning in the record's journal.  A record attribute that Intercom
 * does not have, or whose value does not fit its data_type, is dropped
 * from the record with a warning in its journal: the call itself still
 * reaches Intercom.  So an allowed_attributes entry Intercom lacks costs
 * only that attribute: it is a warning at start, not a pause.
 */
#ifndef CALLSYNC_WSCHECK_H
#define CALLSYNC_WSCHECK_H

#include <stddef.h>
#include <jansson.h>

#include "conf.h"

/*
 * The ids of the list under key ("admins", "teams") of answer o
 * (borrowed), as a new array of strings (ids may be numbers); NULL when
 * o has no such list.
 */
json_t		*wscheck_ids(const json_t *o, const char *key);

/*
 * The settings of cw that Intercom contradicts, as one line in out:
 * "admin_id = 999: GET /admins has no admin 999; route = ...".  admins
 * and teams are arrays of id strings; NULL means "not known", and the
 * settings it would judge are not judged.  Returns the number of
 * problems (0: out is "").
 */
int		 wscheck_config(const struct conf_ws *cw, const json_t *admins,
		    const json_t *teams, char *out, size_t outsz);

/*
 * A record's own assignment (assign.team_id when kind is 't',
 * assign.admin_id when 'a') judged against the ids GET /teams or GET
 * /admins answered (arrays of id strings; NULL: not known, nothing is
 * judged): 0 when it can be sent, -1 when Intercom has no such team or
 * admin, with why ("assign.team_id 2999: GET /teams has no team 2999").
 */
int		 wscheck_assign(char kind, const char *id, const json_t *admins,
		    const json_t *teams, char *why, size_t whysz);

/*
 * The allowed_attributes entries of cw that attrs (name -> data_type;
 * NULL: not known) lacks, as one line in out ("allowed_attributes =
 * budget_code: GET /data_attributes?model=contact has no attribute
 * budget_code; ..."); returns how many.
 */
int		 wscheck_allowed(const struct conf_ws *cw, const json_t *attrs,
		    char *out, size_t outsz);

/*
 * NULL when v fits data_type (string, integer, float, boolean, date:
 * Unix seconds; null clears any attribute), else what it should be
 * ("a boolean").  A type callsync does not know is left to Intercom.
 */
const char	*wscheck_value(const char *data_type, const json_t *v);

/*
 * Why the custom attribute name = v cannot be sent, judged against attrs
 * (name -> data_type; NULL: not known, nothing is judged), into why;
 * 0 when it can be sent, -1 when it must be dropped.
 */
int		 wscheck_attr(const json_t *attrs, const char *name,
		    const json_t *v, char *why, size_t whysz);

/*
 * The Intercom region an api_base names: "US" (api.intercom.io), "EU"
 * (api.eu.intercom.io), "AU" (api.au.intercom.io), or NULL for any other
 * host.  NAME.localhost, a simulator standing in for NAME on loopback,
 * is judged as NAME.  The host is copied into host (for messages).
 */
const char	*wscheck_api_region(const char *api_base, char *host,
		    size_t hostsz);

#endif
