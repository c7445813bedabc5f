"""A run's own log: every line goes to `train.log`, and to the terminal when asked."""

import datetime
import sys


class RunLog:
    def __init__(self, path=None, echo=True):
        self.path = path
        self.echo = echo
        self._file = None

    def open(self, path):
        self.path = path
        self._file = open(path, "a", encoding="utf-8")

    def info(self, message):
        if self.echo:
            print(message, file=sys.stdout, flush=True)
        self.write(message)

    def warning(self, message):
        if self.echo:
            print(f"warning: {message}", file=sys.stderr, flush=True)
        self.write(f"warning: {message}")

    def write(self, message):
        """Only to train.log."""
        if self._file is not None:
            stamp = datetime.datetime.now().isoformat(timespec="seconds")
            for line in str(message).splitlines() or [""]:
                self._file.write(f"{stamp} {line}\n")
            self._file.flush()

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None
