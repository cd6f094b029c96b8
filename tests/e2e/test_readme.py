"""The README's quick start, run as written.

The shell blocks of the "Quick start" section run one after another with bash in the fresh
clone where the stack's `make dev` runs (the first block is `make dev` itself: the stack
fixture ran it), with only the gateway's port put in place of 8080. After each block the
test checks what a person would see. When the README changes, this test runs the new text.
"""

import re
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, Stack

README = ROOT / "README.md"
WAIT_SECONDS = 30.0


def quick_start_blocks(readme: Path = README) -> list[str]:
    text = readme.read_text()
    section = text.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```sh\n(.*?)^```$", section, flags=re.DOTALL | re.MULTILINE)


def mail_files_to(stack: Stack, address: str, subject: str) -> list[Path]:
    return [
        path
        for path in sorted(stack.mail.glob("*.eml"))
        if f"To: {address}" in (text := path.read_text(errors="replace")) and subject in text
    ]


def wait_for_mails(stack: Stack, address: str, subject: str, count: int) -> list[Path]:
    """The mails once ``count`` arrived (or the wait ran out), after a second of room for
    one too many to show up."""
    deadline = time.monotonic() + WAIT_SECONDS
    while len(mail_files_to(stack, address, subject)) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    return mail_files_to(stack, address, subject)


def test_the_quick_start_works_as_written(stack: Stack) -> None:
    blocks = quick_start_blocks()
    assert blocks[0].strip() == "make dev", "the quick start begins with `make dev`"
    port = stack.environment["GATEWAY_PORT"]
    email = re.search(r'"email": "([^"]+)"', "".join(blocks))
    assert email is not None, "the quick start registers someone"
    person = email.group(1)
    digests_seen = False

    for block in blocks[1:]:
        command = block.replace("localhost:8080", f"localhost:{port}")
        result = stack.shell(command)
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"{block}\nfailed ({result.returncode}):\n{output}"

        if "/api/user\n" in block and '"password"' in block:  # registers, adds a task
            assert re.search(r"^HTTP/1\.1 200", result.stdout, re.MULTILINE), output
            assert '"title":"Water the plants"' in result.stdout, output
            assert len(wait_for_mails(stack, person, "Welcome", 1)) == 1
        if block.lstrip().startswith("grep"):
            [welcome] = mail_files_to(stack, person, "Welcome")
            assert welcome.name in result.stdout
        if "email-verification" in block:
            assert '"email_verified":true' in result.stdout, output
        if "make digest" in block:
            runs = re.findall(r"^digest at .*$", result.stdout, re.MULTILINE)
            assert len(runs) == 2, output
            assert " 0 mails queued" not in runs[0], "the first run sends the day's digests"
            assert re.search(r": 0 users in \d+ day\(s\), 0 mails queued", runs[1]), runs[1]
            assert len(wait_for_mails(stack, person, "Your day", 1)) == 1
            digests_seen = True
        if "PATCH" in block:
            assert '"timezone":"Europe/Berlin"' in result.stdout, output

    assert digests_seen, "the quick start shows the digest"


@pytest.mark.parametrize("block", quick_start_blocks()[1:])
def test_every_quick_start_block_uses_the_gateway_of_make_dev(block: str) -> None:
    """Only the port is substituted: every address in a block must be the gateway's."""
    addresses = set(re.findall(r"\blocalhost:\d+", block))
    assert addresses <= {"localhost:8080"}, addresses
