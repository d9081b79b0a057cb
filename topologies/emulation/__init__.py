"""The emulated fabric: one Open vSwitch per site, span emulators, measurement, the lab CLI.
Stands on topologies.model only."""
