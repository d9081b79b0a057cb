"""Python modules generated from the .proto files beside them (`make proto`); do not edit.
Installed as the package `naas`, so `from naas.v1 import intent_service_pb2` works."""
