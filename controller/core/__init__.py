"""The controller's pure core: no os-ken, no sockets, no clock. It takes events and the
time (`now`) and returns decisions; everything here is unit-tested without root."""
