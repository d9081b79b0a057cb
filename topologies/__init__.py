"""The emulated world: fabric files, Mininet builder, span emulation, measurement."""
