"""The worker's entry point: ``celery -A qengine_celery.worker worker``.

Configured from the environment (:meth:`~qengine_celery.WorkerSettings.from_environ`).
"""

from __future__ import annotations

from qengine_celery.app import make_app

app = make_app()
