"""Log lines cannot be forged (issue 21 #11): control characters in logged values are escaped, in the text
and the JSON format alike; a traceback still spans its lines."""
import io
import json
import logging
import sys

import pytest

from kasir.logging_setup import JsonFormatter, RedactingFormatter, RequestIdFilter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
FORGED = "/pos%0a2026-12-04 10:00:00,000 INFO kasir.request [x] POST /admin/users 200"


@pytest.fixture
def request_log():
    """What kasir.request writes, in a given format."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("kasir.request")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)

    def lines(formatter):
        handler.setFormatter(formatter)
        return stream

    yield lines
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.mark.parametrize("formatter", [RedactingFormatter(TEXT_FORMAT), JsonFormatter()], ids=["text", "json"])
def test_a_newline_in_a_request_path_does_not_forge_a_log_line(client, request_log, formatter):
    stream = request_log(formatter)
    client.get(FORGED)
    [line] = stream.getvalue().splitlines()
    assert "/pos\\n2026-12-04" in (json.loads(line)["path"] if line.startswith("{") else line)


@pytest.mark.parametrize("formatter", [RedactingFormatter(TEXT_FORMAT), JsonFormatter()], ids=["text", "json"])
def test_every_control_character_of_a_message_is_escaped(formatter):
    record = logging.makeLogRecord({"msg": "a\rb\tc\x1b[31md\x85e\u2028f\x00g", "request_id": "-"})
    line = formatter.format(record)
    assert line.splitlines() == [line]
    message = json.loads(line)["message"] if line.startswith("{") else line
    assert message.endswith("a\\rb\\tc\\x1b[31md\\x85e\\u2028f\\x00g")


def test_a_traceback_keeps_its_lines_in_the_text_format():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.makeLogRecord({"msg": "failed\nhere", "request_id": "-", "exc_info": sys.exc_info()})
    text = RedactingFormatter(TEXT_FORMAT).format(record)
    assert text.splitlines()[0].endswith("failed\\nhere") and "Traceback" in text.splitlines()[1]
