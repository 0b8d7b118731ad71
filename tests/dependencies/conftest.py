from tests.e2e.conftest import stack, target  # noqa: F401 - real worker/scheduler processes and an HTTP target
