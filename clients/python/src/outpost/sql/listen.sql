-- outpost_inbound: woken by a new e-mail or provider event.
LISTEN outpost_inbound;
LISTEN outpost_events
