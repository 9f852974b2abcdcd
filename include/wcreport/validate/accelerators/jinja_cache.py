"""One compiled-template cache for GX's Data Docs views (a guarded monkeypatch of GX).

GX builds a new Jinja environment per page view and so recompiles every template for
every page: most of a Data Docs build's time (docs/benchmarks.md). Giving those
environments one in-memory bytecode cache changes no output. Guarded: if GX's view class
changes, ``install`` does nothing and Data Docs are just slower.
"""
from __future__ import annotations


def installed() -> bool:
    """Whether GX's view class carries the cache (in this process)."""
    try:
        from great_expectations.render.view.view import DefaultJinjaView
    except ImportError:
        return False
    return getattr(DefaultJinjaView, "_wcreport_cache", None) is not None


def install() -> None:
    """Give every ``DefaultJinjaView`` environment created from now on the shared cache (once per process)."""
    try:
        import jinja2
        from great_expectations.render.view.view import DefaultJinjaView
    except ImportError:
        return
    if getattr(DefaultJinjaView, "_wcreport_cache", None) is not None:
        return

    class MemoryBytecodeCache(jinja2.BytecodeCache):
        def __init__(self) -> None:
            self.store: dict[str, bytes] = {}

        def load_bytecode(self, bucket) -> None:
            if bucket.key in self.store:
                bucket.bytecode_from_string(self.store[bucket.key])

        def dump_bytecode(self, bucket) -> None:
            self.store[bucket.key] = bucket.bytecode_to_string()

    cache = MemoryBytecodeCache()
    original = DefaultJinjaView.__init__

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        env = getattr(self, "env", None)
        if isinstance(env, jinja2.Environment) and env.bytecode_cache is None:
            env.bytecode_cache = cache

    DefaultJinjaView.__init__ = __init__
    DefaultJinjaView._wcreport_cache = cache
