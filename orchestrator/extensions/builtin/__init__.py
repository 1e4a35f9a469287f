"""Extensions shipped with the orchestrator, each registered as an entry point.

``system`` (facts about the host), ``http`` (one HTTP call with a timeout) and
``demo`` (echo, sleep, fail, and a command whose revert undoes its side effect).
``BUILTIN_EXTENSIONS`` is what the ``orchestrator.extensions`` group must name.
"""

BUILTIN_EXTENSIONS = {
    "demo": "orchestrator.extensions.builtin.demo:DemoExtension",
    "http": "orchestrator.extensions.builtin.http:HttpExtension",
    "system": "orchestrator.extensions.builtin.system:SystemExtension",
}

__all__ = ["BUILTIN_EXTENSIONS"]
