"""Bad options and ini values are usage errors at start-up, before any test runs (issue 16 item 9); ``--vbs-port``
under pytest-xdist gives each worker its own port (issue 15 item 13)."""

from __future__ import annotations

import socket

import pytest

ONE_TEST = "def test_one(vbs):\n    pass\n"


@pytest.mark.parametrize(("args", "message"), [
    (["--vbs-transitions=slow"], "*argument --vbs-transitions: 'slow' is not one of immediate, reads, manual, timed*"),
    (["--vbs-port=abc"], "*argument --vbs-port: 'abc' is not an integer from 0 to 65535*"),
    (["--vbs-port=70000"], "*argument --vbs-port: '70000' is not an integer from 0 to 65535*"),
    (["--vbs-reads=-1"], "*argument --vbs-reads: '-1' is not an integer from 1 to 1000000*"),
    (["--vbs-reads=0"], "*argument --vbs-reads: '0' is not an integer from 1 to 1000000*"),
])
def test_a_bad_option_is_a_usage_error(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    pytester.makepyfile(ONE_TEST)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*usage:*", message])
    assert "test_one" not in result.stdout.str()


@pytest.mark.parametrize(("ini", "message"), [
    ("vbs_transitions = slow", "ERROR: ini vbs_transitions: 'slow' is not one of immediate, reads, manual, timed"),
    ("vbs_port = abc", "ERROR: ini vbs_port: 'abc' is not an integer from 0 to 65535"),
    ("vbs_reads = -1", "ERROR: ini vbs_reads: '-1' is not an integer from 1 to 1000000"),
    ("vbs_strict = maybe", "ERROR: ini vbs_strict: *(true or false)"),
    ("vbs_auth = 2", "ERROR: ini vbs_auth: *(true or false)"),
])
def test_a_bad_ini_value_is_a_usage_error(pytester: pytest.Pytester, ini: str, message: str) -> None:
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(ONE_TEST)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_good_values_still_work(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nvbs_transitions = reads\nvbs_reads = 3\nvbs_strict = true\n")
    pytester.makepyfile("def test_one(vbs):\n    assert (vbs.state.transitions.value, vbs.state.reads) == "
                        "('manual', 3)\n")

    pytester.runpytest("-p", "no:cacheprovider", "--vbs-transitions", "manual").assert_outcomes(passed=1)


def two_free_ports() -> int:
    """A port N such that N and N + 1 are both free now."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            if port >= 65535:
                continue
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return int(port)
    pytest.skip("no two adjacent free ports")


def test_each_xdist_worker_binds_the_port_plus_its_index(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    port = two_free_ports()
    pytester.makepyfile("""
        import os, requests

        def test_port(vbs, worker_id):
            assert requests.get(f"{vbs.endpoint}/backups").status_code == 200
            with open(f"port-{worker_id}", "w") as out:
                out.write(str(vbs.url.rsplit(":", 1)[1]))
        """)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--dist", "each",
                                           f"--vbs-port={port}")

    result.assert_outcomes(passed=2)
    ports = {(pytester.path / f"port-gw{index}").read_text() for index in (0, 1)}
    assert ports == {str(port), str(port + 1)}
