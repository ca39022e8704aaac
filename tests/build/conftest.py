"""The engine fixtures (a private Podman Docker-API service, a local registry, the base
image and the wheelhouse) live in tests/support/engine.py, loaded for the whole suite by
tests/conftest.py, so that the build and the deploy tests share one engine per session."""
