"""gunicorn settings for Tandem's web processes: ``gunicorn -c gunicorn.conf.py app:app``.

Everything comes from the environment, so one file serves systemd, the Procfile and the container:

- ``PORT`` (default 8000) and ``BIND``, the address to listen on (default 127.0.0.1, behind a reverse proxy on
  the same host; the Dockerfile sets 0.0.0.0);
- ``WEB_CONCURRENCY``: worker processes (default 2 × cores + 1, at most 8);
- ``FORWARDED_ALLOW_IPS``: the peers whose X-Forwarded-* headers gunicorn itself believes (default 127.0.0.1,::1).
  Tandem reads those headers through TRUSTED_PROXIES (werkzeug's ProxyFix), whatever this says.

Web processes only serve requests and defer jobs; ``flask worker`` runs them. Each worker process opens its own
database pools after the fork (``preload_app`` off). Command-line options override this file.
"""

from __future__ import annotations

import os


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this process may use (a container's limit)
    except AttributeError:
        return os.cpu_count() or 1


bind = f"{os.environ.get('BIND', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or min(2 * _cores() + 1, 8))
timeout = 30  # a worker silent this long (a request stuck) is killed and replaced; background work is not a request
graceful_timeout = 20  # on SIGTERM, requests under way get this long to finish
preload_app = False  # each worker imports the app itself and opens its own pools: nothing shared across a fork
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = "-"  # stdout: journald or the container log collects it
errorlog = "-"
# No gunicornc control socket: restarts go through systemd or the container runtime, and two servers of the same
# user on one host would otherwise share one socket path.
control_socket_disable = True
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"  # heartbeat files in memory: a container's disk can stall them
