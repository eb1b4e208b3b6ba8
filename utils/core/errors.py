"""Errors the user can fix; the CLI prints them as one line and exits with `exit_code`."""


class UserError(Exception):
    """Bad input from the user: printed as one line on stderr, never as a traceback."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


class UsageError(UserError):
    """An invalid option value, caught before anything is written (exit code 2, like argparse)."""

    def __init__(self, message: str):
        super().__init__(message, exit_code=2)
