"""Ground floor: the job configs and the user-error type, imported by every other layer."""
