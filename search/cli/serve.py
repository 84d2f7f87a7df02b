"""`shelf serve`: the HTTP API on uvicorn, with the server limits that matter under load."""

from __future__ import annotations

import argparse

from search.settings import Settings


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run the HTTP API with uvicorn (JSON log lines on stderr, each with its request id)."""
    import uvicorn

    from search.api.middleware.logging import configure_logging

    configure_logging(args.loglevel)
    common = {
        "host": args.host,
        "port": args.port,
        "log_config": None,  # keep the JSON handler configured above
        "access_log": False,  # the API logs each request itself, with its request id
        # The app reads X-Forwarded-For from SHELF_TRUSTED_PROXIES only
        # (search/api/middleware/proxies.py); uvicorn's own would trust 127.0.0.1 by default.
        "proxy_headers": False,
        # The limits that matter under load (search/api/middleware/admission.py does the per-search
        # part).
        "limit_concurrency": args.limit_concurrency or settings.serve_limit_concurrency,
        "timeout_keep_alive": args.timeout_keep_alive or settings.serve_timeout_keep_alive_s,
        "timeout_graceful_shutdown": args.timeout_graceful or settings.serve_timeout_graceful_s,
    }
    if args.workers > 1:
        # Each worker process builds its own app (and loads its own model) from the environment.
        uvicorn.run("search.api.app:create_app", factory=True, workers=args.workers, **common)
    else:
        from search.api.app import create_app

        uvicorn.run(create_app(settings), **common)
    return 0
