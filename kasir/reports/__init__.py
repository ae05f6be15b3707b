"""Reports: reconciliation of gateway settlements against payments."""
