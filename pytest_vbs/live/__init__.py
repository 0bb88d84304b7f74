"""Live mode: the same tests against a real VBS cloud, through a local recording proxy (docs/live.md).

``config`` reads and authenticates the cloud (openstacksdk's loader, keystoneauth), ``mounts`` maps the cloud's
endpoints to the proxy's URLs and back, ``proxy`` is the forwarding application (the fake's pipeline: journal,
faults, hooks), ``cleanup`` deletes what was created, ``shapes`` records and compares the answers' shapes.
The handle a test holds is :class:`pytest_vbs.live_handle.LiveVBS`.
"""
