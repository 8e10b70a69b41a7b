"""Wiring: one place that builds the adapters chosen by settings (database, store, runner, models)."""

from __future__ import annotations

import logging
import threading
from functools import cached_property

from db.database import Database
from db.objects import BlobStore, make_store
from settings import Settings, get_settings

log = logging.getLogger(__name__)


class App:
    """The running application's adapters, built lazily and once."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self._lock = threading.Lock()

    @cached_property
    def db(self) -> Database:
        return Database(self.settings)

    @cached_property
    def store(self) -> BlobStore:
        return make_store(self.settings)

    @cached_property
    def runner(self):
        from gpu_jobs.runners import make_runner

        return make_runner(self)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.close()


_app: App | None = None
_app_lock = threading.Lock()


def get_app() -> App:
    """The process-wide App."""
    global _app
    with _app_lock:
        if _app is None:
            _app = App()
        return _app


def reset_app() -> None:
    """Forget the process-wide App (tests, after changing settings)."""
    global _app
    with _app_lock:
        if _app is not None:
            _app.close()
        _app = None
    get_settings.cache_clear()
