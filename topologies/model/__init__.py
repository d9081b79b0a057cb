"""The floor every other part stands on: fabric files, addressing, importer, and the
validated files people write (policy, auth, orders)."""
