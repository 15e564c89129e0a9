"""Private implementation of cfut.fakes; import from cfut.fakes instead."""
