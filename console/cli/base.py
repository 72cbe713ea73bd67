"""The program's name, its exit codes and the usage error every command may raise."""

PROG = "klaviyo-console"
OK, FAILED, USAGE = 0, 1, 2


class UsageError(Exception):
    """A command-line mistake: one line, exit code 2."""
