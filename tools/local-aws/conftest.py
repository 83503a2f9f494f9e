"""The local AWS tests' shared fixtures: dummy credentials in the environment, one
local AWS per test module (`endpoint`, `aws`), and the real template deployed as a
stack of the test's own (`deployed`). Helpers are in `harness.py`."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from harness import (
    ARTIFACT_BUCKET,
    ARTIFACT_KEY,
    REGION,
    TEMPLATE_PATH,
    TEST_ENV,
    clients,
    deploy,
    start_local_aws,
    stop,
    template_parameters,
    unique,
)


@pytest.fixture(scope="session", autouse=True)
def aws_env() -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(TEST_ENV)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A local AWS of the module's own (a module needing other flags overrides this)."""
    process, url, _ = start_local_aws()
    yield url
    stop(process)


@pytest.fixture(scope="module")
def aws(endpoint: str) -> Any:
    return clients(endpoint)


@pytest.fixture(scope="module")
def real_template() -> str:
    return TEMPLATE_PATH.read_text()


@pytest.fixture(scope="module")
def artifact(aws: Any) -> None:
    """The Lambda artifact the real template's functions point at (read-only to every test)."""
    s3 = aws("s3")
    s3.create_bucket(Bucket=ARTIFACT_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bootstrap", "#!/bin/sh\n")
    s3.put_object(Bucket=ARTIFACT_BUCKET, Key=ARTIFACT_KEY, Body=buffer.getvalue())


@pytest.fixture
def deployed(aws: Any, artifact: None, real_template: str) -> dict[str, Any]:
    """The real template deployed as a stack of this test's own, which it may change or delete."""
    stack = unique("pixel-prompt")
    params = template_parameters(real_template)
    described = deploy(aws("cloudformation"), stack, real_template, params, "CREATE")
    assert described["StackStatus"] == "CREATE_COMPLETE", described.get("StackStatusReason")
    return {"stack": stack, "params": params, "described": described}
