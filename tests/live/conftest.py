from live_support import cloud, suite

__all__ = ["cloud", "suite"]
