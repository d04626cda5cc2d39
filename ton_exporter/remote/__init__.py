"""Remote validators followed over SSH (issue 13; docs/fleet.md)."""
