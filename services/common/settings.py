"""How a service is wired: its settings and its per-process state.

Every service follows one shape (see ARCHITECTURE.md "Wiring a service"):

- a frozen dataclass of typed settings, `<Service>Settings.from_config(config)`,
  built once per container by `Settings(...)`; the defaults are written once,
  in deploy/config.yaml (a key missing there fails the container's start with
  its name); only keys config.yaml does not list have a default in code;
- state a process keeps between workers (a backoff, a cache) lives in an
  object built by `PerProcess(...)`, never in a module-level global;
- one `_use_cases()` method builds the plain-Python use-case object of a
  worker from those, with `now` the worker's one instant (a datetime).
"""

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from nameko.extensions import DependencyProvider

T = TypeVar("T")

Config = Mapping[str, Any]


class MissingSetting(KeyError):
    pass


def required(config: Config, key: str) -> Any:
    """A key deploy/config.yaml defines (a test config built from it has it too)."""
    try:
        return config[key]
    except KeyError:
        raise MissingSetting(f"{key} is missing from the nameko config (see deploy/config.yaml)") from None


def optional(config: Config, key: str) -> Any:
    """A test-only knob whose config.yaml default is empty: None when unset or empty."""
    value = config.get(key)
    return None if value in (None, "") else value


class Settings(DependencyProvider, Generic[T]):
    """`settings = Settings(FooSettings.from_config)`: built in `setup`, shared by every worker."""

    def __init__(self, build: Callable[[Config], T]) -> None:
        self.build = build
        self.value: T | None = None

    def setup(self) -> None:
        self.value = self.build(self.container.config)

    def get_dependency(self, worker_ctx: Any) -> T:
        if self.value is None:
            raise RuntimeError("Settings used before its setup")
        return self.value


class PerProcess(DependencyProvider, Generic[T]):
    """`state = PerProcess(factory)`: one `factory(config)` per container, shared by its workers."""

    def __init__(self, factory: Callable[[Config], T]) -> None:
        self.factory = factory
        self.value: T | None = None

    def setup(self) -> None:
        self.value = self.factory(self.container.config)

    def get_dependency(self, worker_ctx: Any) -> T:
        if self.value is None:
            raise RuntimeError("PerProcess used before its setup")
        return self.value
