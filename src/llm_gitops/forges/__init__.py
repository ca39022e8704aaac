"""Forges (GitHub, GitLab) behind one interface: sticky comments, statuses, branches, PRs.

See ``base.Forge`` for the operations, ``registry.FORGES`` for the implementations and
``publish.publish_gate_report`` for the gate's use of them.
"""
