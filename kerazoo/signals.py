"""SIGTERM and SIGINT stop training at the next step boundary, after a backup.

The first signal only raises a flag that the backup callback checks after
each training step; a second Ctrl-C stops at once (the last backup stands).
"""

import contextlib
import signal
import threading


class StopRequest:
    def __init__(self):
        self.signal_name = None

    @property
    def requested(self):
        return self.signal_name is not None


@contextlib.contextmanager
def graceful_stop():
    """Yield a `StopRequest` that SIGTERM/SIGINT set, for the duration."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request  # signals reach only the main thread; nothing to install
        return

    def on_signal(number, frame):
        if request.requested and number == signal.SIGINT:
            raise KeyboardInterrupt
        request.signal_name = signal.Signals(number).name

    previous = {number: signal.signal(number, on_signal) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield request
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
