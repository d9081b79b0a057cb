"""The OpenFlow controller: southbound shim, pure core, northbound API, store (issue 3 on)."""
