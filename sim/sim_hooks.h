/*
 * sim_hooks: the simulator's webhooks (see sim_hooks.c and sim/README.md
 * for what is Intercom's and what is invented).
 */
#ifndef SIM_HOOKS_H
#define SIM_HOOKS_H

#include <jansson.h>

struct event_base;
struct sim_store;
struct sim_conv;
struct sim_part;
struct sim_contact;

void	 sim_hooks_init(struct event_base *, struct sim_store *);
/* Control paths /_sim/webhooks, /_sim/callback, /_sim/webhook_burst:
 * the answer (new reference) and *status, or NULL when not ours. */
json_t	*sim_hooks_ctl(const char *path, const char *method, json_t *body,
	    int *status);
/* State changes the API made: a notification of topic when configured. */
void	 sim_hooks_conv(const struct sim_conv *, const char *topic);
/* An admin's part (note, reply, assignment, close...): the item carries
 * that part in conversation_parts. */
void	 sim_hooks_conv_part(const struct sim_conv *, const struct sim_part *,
	    const char *topic);
void	 sim_hooks_contact(const struct sim_contact *, const char *topic);

#endif
