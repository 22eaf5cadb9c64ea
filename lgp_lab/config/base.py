"""What every configuration section shares: a strict base model, and the names of
the environments whose defaults differ."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["BUILTIN_ENVIRONMENTS", "DEFAULT_ENV", "KEY_REQUIRED", "Section"]

DEFAULT_ENV = "experiment"
# The environments that exist without a config file; config/<env>.yaml overrides one.
BUILTIN_ENVIRONMENTS = ("experiment", "hosted", "production")
# The environments whose API refuses to start without a key (unless the config says).
KEY_REQUIRED = ("hosted", "production")


class Section(BaseModel):
    """A config section: unknown keys are errors (a typo must not be silently ignored),
    and assignments are validated as the file is."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
