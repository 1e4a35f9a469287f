"""Flows shipped with the product, registered in the ``orchestrator.flows`` group.

They mirror the documents the product grew from (Cinder's volume creation and
the phone-call example of TaskFlow's documentation) and give the demo and the
tests flows that succeed, fail and revert, run in parallel, and run slowly.
Atom names and ``provides`` keys are persisted and so are public API: renaming
one breaks resumption of jobs already posted.
"""
