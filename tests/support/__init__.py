"""Test harness shared by the integration and end-to-end tests (owned by the platform)."""
