"""The directory target passes the engine's plugin contract, which runs one of its jobs."""

from __future__ import annotations

from pathlib import Path

from directory_jobs import job

from qengine.testing.plugin_contract import PluginContract


class TestDirectoryPluginContract(PluginContract):
    plugin_name = "directory"
    sdk_modules = ("qengine_directory.engine",)  # built by the factory, when a job needs it
    job_secrets = {"db-password": "not-a-real-password"}  # noqa: RUF012 -- read only

    def job_document(self, tmp_path: Path) -> dict[str, object]:
        return job(tmp_path / "environments")
