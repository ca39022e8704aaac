"""Deploy targets: where colours run and how traffic moves between them.

A target is a Protocol (``deploy/base.py``), a registry entry (``TARGETS``, this module) and, for the core's
tests, a fake (``deploy/fake.py``). The blue/green flow (``deploy/bluegreen.py``) knows
nothing of containers or Kubernetes: it asks the target what runs, starts the preview
colour, waits for it, switches and removes, and reads everything back from the target
itself (never from a local state file), so that a deploy killed half-way is understood
by the next run.
"""

from __future__ import annotations

from typing import Callable

from llm_gitops.deploy.base import ColourState, DeployTarget, Progress

__all__ = ["TARGETS", "ColourState", "DeployTarget", "Progress", "TargetFactory"]

TargetFactory = Callable[..., DeployTarget]


def _docker(**kwargs) -> DeployTarget:
    from llm_gitops.deploy.docker_target import DockerTarget

    return DockerTarget(**kwargs)


def _kubernetes(**kwargs) -> DeployTarget:
    from llm_gitops.deploy.kubernetes_target import ArgoRolloutsTarget, KubernetesTarget

    strategy = kwargs["spec"].kubernetes.strategy
    return (ArgoRolloutsTarget if strategy == "argo-rollouts" else KubernetesTarget)(**kwargs)


# name -> factory; adding a target is one module and one entry here.
TARGETS: dict[str, TargetFactory] = {"docker": _docker, "kubernetes": _kubernetes}
