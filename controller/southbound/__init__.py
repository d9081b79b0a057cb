"""The os-ken shim: OpenFlow events in, core calls; what core returns goes out through one funnel."""
