"""User-facing errors: printed as one line by the CLI, exit status 2, no traceback."""


class UserError(Exception):
    """Bad flags, missing files, a wrong vocab dir: anything the user must fix."""
