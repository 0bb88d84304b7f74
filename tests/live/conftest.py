from live_support import cloud

__all__ = ["cloud"]
