"""The lab's world, in three layers that only import downward:

- model/      the floor: fabric files, addressing, the topohub importer, and the other files
              people write (policy, auth, orders), each read by one validator;
- emulation/  the fabric emulated on one machine (Mininet, Open vSwitch, span emulators, probes);
- lab/        the lab harness on top: a running lab, scenarios, the pytest plugin, naas-lab.
              It drives the controller only as a process and over gRPC.
"""
