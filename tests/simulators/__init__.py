"""Wire-level simulators of the ITSM services opsgate.itsm talks to (test infrastructure only)."""
