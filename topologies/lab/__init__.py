"""The lab harness: a running lab (emulation + the controller process + API clients),
scenarios, the pytest plugin, the map and naas-lab. Drives the controller only as a process
and over gRPC: nothing here imports `controller`."""
