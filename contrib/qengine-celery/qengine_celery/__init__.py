"""qengine-celery: qengine jobs on a pool of Celery workers sharing a PostgreSQL state store.

Workers run ``celery -A qengine_celery.worker worker --concurrency 1``; a host queues jobs
with :func:`submit_job` on a :func:`client_app` and reads results from the result backend.
See docs/scale-out.md.
"""

from qengine_celery.app import TASK_NAME, cancel_job, client_app, make_app, submit_job
from qengine_celery.settings import WorkerSettings
from qengine_celery.task import JobWorker

__all__ = [
    "TASK_NAME",
    "JobWorker",
    "WorkerSettings",
    "cancel_job",
    "client_app",
    "make_app",
    "submit_job",
]
