"""The OpenFlow controller: the pure core, the southbound shim, the northbound API, the store
(docs/architecture.md)."""
