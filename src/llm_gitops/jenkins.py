"""Trigger a parameterised Jenkins job and follow it to its result (through jenkinsapi).

``trigger_job`` is the one entry point: ``llm-gitops jenkins trigger`` calls it, and so
will deploy and rollback for teams whose deploy pipelines live in Jenkins. It queues a
build with parameters, waits for the queue item to become a build, then for the build
to finish, and returns a frozen :class:`JenkinsBuild`. Connection trouble and 5xx are
retried like every other service (``forges.retry``); bad credentials and unknown jobs
are ExternalServiceErrors that say what to fix.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TypeVar

from llm_gitops.errors import ConfigError, ExternalServiceError
from llm_gitops.forges.retry import DEFAULT_POLICY, RetryPolicy, Transient, retry_after_from_headers, with_retries
from llm_gitops.logsafe import redact, register_secret

T = TypeVar("T")
SUCCESS = "SUCCESS"
# Build results that mean "it ran and did not succeed"; the CLI exits 1 for these.
FAILED_RESULTS = ("FAILURE", "UNSTABLE", "ABORTED", "NOT_BUILT")


@dataclass(frozen=True)
class JenkinsBuild:
    job: str
    queue_url: str
    number: int | None = None  # None when not waited for (or still queued)
    url: str | None = None
    result: str | None = None  # SUCCESS, FAILURE, UNSTABLE, ABORTED, NOT_BUILT; None if not finished

    @property
    def succeeded(self) -> bool:
        return self.result == SUCCESS


def trigger_job(
    *,
    url: str,
    job: str,
    params: Mapping[str, str],
    username: str,
    api_token: str,
    wait: bool = True,
    timeout: float = 1800.0,
    poll_interval: float = 2.0,
    policy: RetryPolicy = DEFAULT_POLICY,
    progress: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> JenkinsBuild:
    """Queue ``job`` with ``params`` on the Jenkins at ``url``; with ``wait``, follow it to its result."""
    from jenkinsapi.custom_exceptions import NotBuiltYet
    from jenkinsapi.jenkins import Jenkins
    from jenkinsapi.queue import QueueItem

    register_secret(api_token)
    url = url.rstrip("/")
    say = progress or (lambda _msg: None)

    def call(what: str, fn: Callable[[], T]) -> T:
        return with_retries(lambda: _translate(url, what, fn), describe=f"{what} on Jenkins at {url}", policy=policy)

    server = call("connecting", lambda: Jenkins(url, username=username, password=api_token, timeout=30))
    if not call(f"looking up job {job}", lambda: server.has_job(job)):
        raise ExternalServiceError(f"Jenkins job {job!r} not found at {url}",
                                   hint="check the job name (and that the user may see it)")
    job_obj = call(f"reading job {job}", lambda: server.get_job(job))
    if params and not job_obj.has_params():
        raise ConfigError(f"Jenkins job {job!r} takes no parameters but {', '.join(sorted(params))} were given",
                          hint="drop the -p options or make the job parameterised")
    # The trigger is sent once and never retried: a lost answer may still have queued a
    # build, and a second POST would deploy twice. Only the reads after it are retried.
    form = {"json": job_obj.mk_json_from_build_parameters(dict(params)), **params}
    response = with_retries(
        lambda: _translate(url, f"triggering {job}", lambda: server.requester.post_and_confirm_status(
            job_obj.get_build_triggerurl(), data=form, valid=[200, 201, 303], allow_redirects=False)),
        describe=f"triggering {job} on Jenkins at {url}", policy=replace(policy, attempts=1),
    )
    location = response.headers.get("location", "").rstrip("/")
    if "/queue/item/" not in location:
        raise ExternalServiceError(f"Jenkins at {url} queued {job} but gave no queue item (Location: {location!r})")
    queue_item = call("reading the queue", lambda: QueueItem(location, server))
    queued = JenkinsBuild(job=job, queue_url=queue_item.baseurl)
    say(f"queued {job}: {queue_item.baseurl}")
    if not wait:
        return queued

    deadline = clock() + timeout

    def wait_or_fail(stage: str) -> None:
        if clock() >= deadline:
            raise ExternalServiceError(f"Jenkins job {job!r} did not finish within {timeout:g}s ({stage})",
                                       hint=f"raise --timeout or look at {queued.url or queued.queue_url}")
        sleep(poll_interval)

    while True:
        call("reading the queue", queue_item.poll)
        try:
            number = queue_item.get_build_number()
            break
        except NotBuiltYet:
            if queue_item._data.get("cancelled"):
                return JenkinsBuild(job, queued.queue_url, None, None, "ABORTED")
            wait_or_fail("still queued")
    build = call(f"reading build #{number}", queue_item.get_build)
    say(f"started {build.baseurl}")
    while True:
        data = call(f"reading build #{number}", build.poll)
        if not data.get("building") and data.get("result"):
            return JenkinsBuild(job, queued.queue_url, number, build.baseurl, data["result"])
        wait_or_fail(f"build #{number} still running")


def _translate(url: str, what: str, fn: Callable[[], T]) -> T:
    import requests
    from jenkinsapi.custom_exceptions import JenkinsAPIException

    try:
        return fn()
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        if status in (401, 403):
            raise ExternalServiceError(f"Jenkins at {url} rejected the credentials ({status}) while {what}",
                                       hint="set JENKINS_USER and JENKINS_API_TOKEN (a user's API token)") from None
        if status == 429:
            raise Transient("rate limited", retry_after_from_headers(exc.response.headers), rate_limited=True) from None
        if status >= 500:
            raise Transient(f"{status} server error") from None
        raise ExternalServiceError(f"Jenkins at {url} answered {status} while {what}") from None
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise Transient(f"cannot connect ({type(exc).__name__})") from None
    except JenkinsAPIException as exc:
        if "Cannot parse" in str(exc):
            raise Transient("the answer was not valid JSON") from None
        raise ExternalServiceError(f"Jenkins at {url}: {redact(str(exc))} while {what}") from None
