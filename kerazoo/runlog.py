"""A run's own log: every line goes to `train.log`, and to the terminal when asked.

Lines logged before the run directory exists (the data scan, say) are kept
and written when `train.log` opens.
"""

import datetime
import sys


class RunLog:
    def __init__(self, path=None, echo=True):
        self.path = path
        self.echo = echo
        self._file = None
        self._pending = []

    def open(self, path):
        self.path = path
        self._file = open(path, "a", encoding="utf-8")
        for line in self._pending:
            self._file.write(line)
        self._pending = []
        self._file.flush()

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
        stamp = datetime.datetime.now().isoformat(timespec="seconds")
        lines = [f"{stamp} {line}\n" for line in str(message).splitlines() or [""]]
        if self._file is None:
            self._pending.extend(lines)
            return
        self._file.writelines(lines)
        self._file.flush()

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None
