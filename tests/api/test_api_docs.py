"""docs/openapi.yaml and docs/api-collection.json: valid, and true of a live server.

The Postman collection's requests are replayed in order against `python -m kasir serve`; each must get
the status its test script expects, and a body that matches the OpenAPI response schema.
"""
import json
import re
import uuid

import jsonschema
import pytest
import requests
import yaml
from openapi_spec_validator import validate

from support.config import PROJECT_ROOT

DOCS = PROJECT_ROOT / "docs"
SPEC = yaml.safe_load((DOCS / "openapi.yaml").read_text())
COLLECTION = json.loads((DOCS / "api-collection.json").read_text())
EXPECTED_STATUS = re.compile(r"pm\.response\.to\.have\.status\((\d+)\)")
SAVED_VARIABLE = re.compile(r'pm\.collectionVariables\.set\("(\w+)", pm\.response\.json\(\)\.(\w+)\)')


def resolve(node):
    """The schema with every local $ref inlined (the spec has no recursive references)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = SPEC
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return resolve(target)
        return {key: resolve(value) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(value) for value in node]
    return node


def response_schema(method: str, path: str, status: int) -> dict:
    for template, operations in SPEC["paths"].items():
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path) and method.lower() in operations:
            response = resolve(operations[method.lower()]["responses"][str(status)])
            return response["content"]["application/json"]["schema"]
    raise AssertionError(f"{method} {path} is not in docs/openapi.yaml")


def collection_requests(items=COLLECTION["item"]):
    for item in items:
        yield from collection_requests(item["item"]) if "item" in item else [item]


def test_openapi_document_is_valid_openapi_3_1():
    assert SPEC["openapi"].startswith("3.1")
    validate(SPEC)


def test_collection_is_postman_v2_1_and_covers_every_documented_operation():
    assert COLLECTION["info"]["schema"].endswith("/v2.1.0/collection.json")
    sent = {(item["request"]["method"], re.sub(r"\{\{\w+\}\}|[0-9a-f-]{36}", "{id}",
                                               "/" + "/".join(item["request"]["url"]["path"])))
            for item in collection_requests()}
    documented = {(method.upper(), re.sub(r"\{[^}]+\}", "{id}", path))
                  for path, operations in SPEC["paths"].items() for method in operations}
    assert documented <= sent


def test_collection_covers_every_documented_status():
    expected = {int(EXPECTED_STATUS.search("".join(item["event"][0]["script"]["exec"])).group(1))
                for item in collection_requests()}
    examples = {example["code"] for item in collection_requests() for example in item["response"]}
    documented = {int(status) for operations in SPEC["paths"].values() for operation in operations.values()
                  for status in operation["responses"]}
    assert documented - {202} <= expected | examples  # 202 needs a webhook signed with the server's secret


@pytest.mark.live
def test_collection_replays_against_a_live_server(live_server):
    token = live_server.kasir("api-key", "create", "Postman").stdout.strip().splitlines()[-1]
    variables = {item["key"]: item["value"] for item in COLLECTION["variable"]}
    order_id = f"WEB-{uuid.uuid4().hex[:10]}"
    variables.update(baseUrl=live_server.url, token=token, order_id=order_id, idempotencyKey=f"key-{order_id}")

    def fill(text: str) -> str:
        return re.sub(r"\{\{(\w+)\}\}", lambda match: str(variables[match.group(1)]), text)

    for item in collection_requests():
        request = item["request"]
        headers = {header["key"]: fill(header["value"]) for header in request["header"]}
        if request.get("auth", {}).get("type") != "noauth":
            headers["Authorization"] = f"Bearer {token}"
        body = fill(request["body"]["raw"]).encode() if "body" in request else None
        response = requests.request(request["method"], fill(request["url"]["raw"]), data=body, headers=headers,
                                    timeout=15)
        script = "".join(item["event"][0]["script"]["exec"])
        expected = int(EXPECTED_STATUS.search(script).group(1))
        assert response.status_code == expected, f"{item['name']}: {response.status_code} {response.text[:300]}"
        path = "/" + "/".join(fill(part) for part in request["url"]["path"])
        if response.status_code != 405:  # a method the document does not list has no schema to check
            jsonschema.validate(response.json(), response_schema(request["method"], path, expected))
        for name, field in SAVED_VARIABLE.findall(script):
            variables[name] = response.json()[field]
