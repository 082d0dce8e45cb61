"""What the project's management commands share at the command line: one-line errors and a quiet
end when the reader of their output goes away (``generate_report | head``)."""

from __future__ import annotations

import os
import signal
import sys
from typing import NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser

# A shell reports a tool that SIGPIPE ended as 128 + 13; we end with the same status.
BROKEN_PIPE_EXIT_STATUS = 128 + signal.SIGPIPE


def positive_int(text: str) -> int:
    """An argparse ``type`` for counts of 1 or more; argparse words the refusal as
    "invalid positive_int value: '0'", in one line like every other argument error."""
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


class OneLineErrorParser(CommandParser):
    """Django's parser, but a command-line mistake is one line (exit status 2, as argparse's):
    the usage Django prints first is eight lines of its own options, and hides the error."""

    def error(self, message: str) -> NoReturn:
        if self.called_from_command_line:
            self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")
        raise CommandError(f"Error: {message}")


class ProjectCommand(BaseCommand):
    """A management command whose mistakes and closed output end it in one line, never a traceback:
    argument errors exit 2, errors the command itself raises (``CommandError``) exit 1, and a closed
    standard output ends it quietly with the status a shell gives a tool ended by SIGPIPE."""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # Django builds the parser itself and has no hook for its class; the subclass adds no
        # state, only the error method.
        parser.__class__ = OneLineErrorParser
        return parser

    def run_from_argv(self, argv: list[str]) -> None:
        try:
            super().run_from_argv(argv)
            # What is still buffered is written here, not at interpreter exit, where a closed pipe
            # would print "Exception ignored ... BrokenPipeError".
            sys.stdout.flush()
        except BrokenPipeError:
            end_quietly_on_closed_stdout()


def end_quietly_on_closed_stdout() -> NoReturn:
    """Exit as a Unix tool does when its reader has gone: no message, status 141. Standard output
    is pointed at /dev/null first so that flushing what is left of it at exit cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    sys.exit(BROKEN_PIPE_EXIT_STATUS)
