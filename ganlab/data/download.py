"""Fetch a file over HTTP(S): timeout, retries with backoff, progress on stderr, optional sha256 check.

Only the standard library is used (``urllib``). What is retried and what is not:

* a host name that does not resolve fails at once: a retry would not help, and on machines without
  internet access the next source should be tried without waiting;
* HTTP 408/429/5xx, refused or reset connections, timeouts and short reads are retried ``retries``
  times, waiting ``backoff``, ``2*backoff``, ``4*backoff``... seconds in between;
* any other HTTP error (404, 403...) fails at once.
"""
from __future__ import annotations

import hashlib
import http.client
import socket
import sys
import time
import urllib.error
import urllib.request

from ganlab.errors import DataError

TIMEOUT_S = 30.0  # per connection attempt and per read
RETRIES = 3  # extra attempts after the first
BACKOFF_S = 1.0  # wait before the first retry; doubles each time
PROGRESS_MIN_BYTES = 1 << 20  # report progress only for files larger than this
_CHUNK = 1 << 16
_RETRY_STATUS = {408, 429, 500, 502, 503, 504}


class FetchError(DataError):
    """A download failed: the host is unreachable, the server said no, or the checksum is wrong."""

    def __init__(self, url: str, reason: str, checksum: bool = False):
        super().__init__(f"Could not download {url}: {reason}.")
        self.url, self.reason, self.checksum = url, reason, checksum


class _Retry(Exception):
    """An attempt failed in a way that may succeed if tried again."""


def fetch(url: str, sha256: str | None = None, *, timeout: float | None = None,
          retries: int | None = None, backoff: float | None = None) -> bytes:
    """Download ``url`` into memory and return its bytes.

    :param sha256: when given, the hex digest the bytes must have; a mismatch raises
        :class:`FetchError` with ``checksum=True``.
    :raises FetchError: when every attempt failed (the message says why).
    """
    timeout = TIMEOUT_S if timeout is None else timeout
    retries = RETRIES if retries is None else retries
    backoff = BACKOFF_S if backoff is None else backoff
    for attempt in range(retries + 1):
        try:
            data = _attempt(url, timeout)
            break
        except _Retry as e:
            if attempt == retries:
                raise FetchError(url, f"{e} (gave up after {retries + 1} attempts)") from None
            wait = backoff * 2**attempt
            print(f"ganlab: {url}: {e}; retrying in {wait:g} s", file=sys.stderr)
            time.sleep(wait)
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise FetchError(url, f"checksum mismatch (sha256 {hashlib.sha256(data).hexdigest()}, "
                              f"expected {sha256}); the file is corrupt or has been changed",
                         checksum=True)
    return data


def _attempt(url: str, timeout: float) -> bytes:
    """One download attempt; raises :class:`_Retry` for transient failures."""
    request = urllib.request.Request(url, headers={"User-Agent": "ganlab"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return _read_body(url, response)
    except urllib.error.HTTPError as e:
        if e.code in _RETRY_STATUS:
            raise _Retry(f"HTTP {e.code} {e.reason}") from None
        raise FetchError(url, f"HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        if isinstance(e.reason, socket.gaierror):
            raise FetchError(url, f"host not found ({e.reason.strerror or e.reason})") from None
        raise _Retry(str(e.reason)) from None
    except (TimeoutError, ConnectionError, http.client.HTTPException) as e:
        raise _Retry(f"{type(e).__name__}: {e}") from None


def _read_body(url: str, response) -> bytes:
    """Read the response in chunks, reporting progress for large files, and check its length."""
    total = int(response.headers.get("Content-Length") or 0)
    show = total >= PROGRESS_MIN_BYTES
    chunks, got, last_report = [], 0, 0.0
    while chunk := response.read(_CHUNK):
        chunks.append(chunk)
        got += len(chunk)
        if show and time.monotonic() - last_report > 1.0:
            last_report = time.monotonic()
            print(f"ganlab: downloading {url}: {got / total:4.0%} of {total / 1e6:.1f} MB",
                  file=sys.stderr)
    if total and got != total:
        raise _Retry(f"connection closed after {got} of {total} bytes")
    if show:
        print(f"ganlab: downloaded {url} ({got / 1e6:.1f} MB)", file=sys.stderr)
    return b"".join(chunks)
