"""``python -m ganlab``, and the ``ganlab`` command: the CLI of :mod:`ganlab.cli`.

A Ctrl-C while the command is still starting (importing torch takes a second or two) ends it with a
one-line message instead of a traceback; from then on the commands handle it themselves.
"""
import signal
import sys


def _interrupted_while_starting(signum, frame):
    sys.stderr.write(f"\n{signal.Signals(signum).name} while ganlab was starting: nothing was done.\n")
    sys.exit(128 + signum)


signal.signal(signal.SIGINT, _interrupted_while_starting)
signal.signal(signal.SIGTERM, _interrupted_while_starting)

from ganlab.cli import main  # noqa: E402  imported once a Ctrl-C can no longer print a traceback

if __name__ == "__main__":
    main()
