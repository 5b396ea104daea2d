"""The EC2 Query protocol (API version 2016-11-15), driven by botocore's copy of the AWS API model.

Every parameter name, response element name and list wrapping comes from the model
(botocore/data/ec2/2016-11-15/service-2.json), not from our client: a request the real EC2 would
not understand is refused here with UnknownParameter, and a response is shaped exactly as the
model's output shape says, so a client that works against this fake works against EC2.

  parse_request(operation, params)  flat "Filter.1.Name=..." params -> nested dict by member name
  serialize_response(operation, value, request_id) -> XML bytes
  error_response(code, message, request_id) -> XML bytes
  SignatureChecker: recomputes the SigV4 signature with botocore.auth and compares.
"""
import datetime
import hmac
from xml.sax.saxutils import escape

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.session

NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/"
API_VERSION = "2016-11-15"

_model = botocore.session.get_session().get_service_model("ec2", api_version=API_VERSION)


class ApiError(Exception):
    """An EC2 error answer: <Response><Errors><Error><Code>...; http_status as EC2 sends it."""

    def __init__(self, code, message, http_status=400):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status


def operation_names():
    return set(_model.operation_names)


def _query_name(member_shape, member_name):
    # The inverse of botocore.serialize.EC2Serializer._get_serialized_name.
    ser = member_shape.serialization
    if "queryName" in ser:
        return ser["queryName"]
    if "name" in ser:
        return ser["name"][0].upper() + ser["name"][1:]
    return member_name


def _parse_scalar(shape, key, raw):
    if shape.type_name in ("integer", "long"):
        try:
            return int(raw)
        except ValueError:
            raise ApiError("InvalidParameterValue", f"Value ({raw}) for parameter {key} is invalid. "
                           "Expected an integer.") from None
    if shape.type_name == "boolean":
        if raw.lower() not in ("true", "false"):
            raise ApiError("InvalidParameterValue", f"Value ({raw}) for parameter {key} is invalid. "
                           "Expected a boolean.")
        return raw.lower() == "true"
    if shape.type_name == "double":
        return float(raw)
    return raw


def _parse(shape, prefix, params, used):
    if shape.type_name == "structure":
        out = {}
        for name, member in shape.members.items():
            key = _query_name(member, name)
            full = f"{prefix}.{key}" if prefix else key
            value = _parse(member, full, params, used)
            if value is not None:
                out[name] = value
        return out if out or not prefix else None
    if shape.type_name == "list":
        items = []
        i = 1
        while True:
            element = f"{prefix}.{i}"
            if not any(k == element or k.startswith(element + ".") for k in params):
                break
            value = _parse(shape.member, element, params, used)
            items.append(value)
            i += 1
        return items or None
    if prefix in params:
        used.add(prefix)
        return _parse_scalar(shape, prefix, params[prefix])
    return None


def max_results_range(operation):
    """(min, max) of the operation's MaxResults as the model bounds it, or None."""
    shape = _model.operation_model(operation).input_shape.members.get("MaxResults")
    if shape is None:
        return None
    return shape.metadata.get("min", 1), shape.metadata.get("max", 1000)


def parse_request(operation, params):
    """params: {"Action", "Version", "Filter.1.Name", ...} -> {"Filters": [{"Name": ...}], ...}."""
    op = _model.operation_model(operation)
    used = {"Action", "Version"}
    value = _parse(op.input_shape, "", params, used) if op.input_shape else {}
    unknown = sorted(set(params) - used)
    if unknown:
        raise ApiError("UnknownParameter", f"The parameter {unknown[0]} is not recognized")
    for name in (op.input_shape.required_members if op.input_shape else []):
        if name not in value:
            key = _query_name(op.input_shape.members[name], name)
            raise ApiError("MissingParameter", f"The request must contain the parameter {key}")
    return value


def _xml_scalar(shape, value):
    if shape.type_name == "boolean":
        return "true" if value else "false"
    if shape.type_name == "timestamp":
        if isinstance(value, (int, float)):
            value = datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
        return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return escape(str(value))


def _xml(shape, value, out):
    if shape.type_name == "structure":
        unknown = set(value) - set(shape.members)
        if unknown:
            raise AssertionError(f"shape {shape.name} has no member {sorted(unknown)}")
        for name, member in shape.members.items():
            if name not in value or value[name] is None:
                continue
            tag = member.serialization.get("name", name)
            out.append(f"<{tag}>")
            _xml(member, value[name], out)
            out.append(f"</{tag}>")
    elif shape.type_name == "list":
        tag = shape.member.serialization.get("name", "item")
        for element in value:
            out.append(f"<{tag}>")
            _xml(shape.member, element, out)
            out.append(f"</{tag}>")
    else:
        out.append(_xml_scalar(shape, value))


def serialize_response(operation, value, request_id):
    op = _model.operation_model(operation)
    out = [f'<?xml version="1.0" encoding="UTF-8"?>\n<{operation}Response xmlns="{NAMESPACE}">',
           f"<requestId>{request_id}</requestId>"]
    if op.output_shape is not None:
        _xml(op.output_shape, value, out)
    else:
        out.append("<return>true</return>")  # what EC2 answers to calls without an output shape
    out.append(f"</{operation}Response>")
    return "".join(out).encode()


def error_response(code, message, request_id):
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>").encode()


class _SignedHeadersOnly(botocore.auth.SigV4Auth):
    """SigV4 over exactly the headers the client says it signed, with the client's timestamp."""

    def __init__(self, credentials, service, region, signed_headers):
        super().__init__(credentials, service, region)
        self._signed = signed_headers

    def headers_to_sign(self, request):
        headers = botocore.awsrequest.HTTPHeaders()
        for name in self._signed:
            if name in request.headers:
                headers[name] = request.headers[name]
        return headers

    def _should_sha256_sign_payload(self, request):
        return True  # unless the client sent X-Amz-Content-SHA256, the body's hash is in the signature


class SignatureChecker:
    """Verifies "Authorization: AWS4-HMAC-SHA256 Credential=AKID/date/region/ec2/aws4_request,
    SignedHeaders=..., Signature=..." against known key pairs (access key -> (secret, session token))."""

    def __init__(self, region, keys, service="ec2", max_skew=datetime.timedelta(minutes=15)):
        self.region = region
        self.keys = keys
        self.service = service
        self.max_skew = max_skew

    def check(self, method, url, headers, body):
        auth = headers.get("Authorization", "")
        if not auth:
            raise ApiError("AuthFailure", "AWS was not able to validate the provided access credentials", 401)
        algorithm, _, rest = auth.partition(" ")
        if algorithm != "AWS4-HMAC-SHA256":
            raise ApiError("IncompleteSignature", f"Unsupported signature algorithm {algorithm}", 400)
        fields = {}
        for part in rest.split(","):
            key, _, value = part.strip().partition("=")
            fields[key] = value
        try:
            access_key, date, region, service, terminator = fields["Credential"].split("/")
            signed_headers = fields["SignedHeaders"].split(";")
            signature = fields["Signature"]
        except (KeyError, ValueError):
            raise ApiError("IncompleteSignature", "Authorization header requires Credential, "
                           "SignedHeaders and Signature", 400) from None
        if access_key not in self.keys:
            raise ApiError("AuthFailure", "AWS was not able to validate the provided access credentials", 401)
        secret, token = self.keys[access_key]
        if token is not None and headers.get("X-Amz-Security-Token") != token:
            raise ApiError("AuthFailure", "The security token included in the request is invalid", 401)
        if region != self.region or service != self.service or terminator != "aws4_request":
            raise ApiError("SignatureDoesNotMatch", f"Credential should be scoped to a valid region "
                           f"({self.region}) and service ({self.service})", 403)
        if "host" not in signed_headers:
            raise ApiError("SignatureDoesNotMatch", "Host must be a signed header", 403)
        timestamp = headers.get("X-Amz-Date", "")
        try:
            when = datetime.datetime.strptime(timestamp, "%Y%m%dT%H%M%SZ")
        except ValueError:
            raise ApiError("AuthFailure", "X-Amz-Date is missing or malformed", 401) from None
        if abs(datetime.datetime.utcnow() - when) > self.max_skew or timestamp[:8] != date:
            raise ApiError("AuthFailure", "Signature expired or not yet valid (X-Amz-Date too far from now)", 401)
        request = botocore.awsrequest.AWSRequest(method=method, url=url, data=body)
        for name, value in headers.items():
            request.headers[name] = value
        request.context["timestamp"] = timestamp
        signer = _SignedHeadersOnly(botocore.credentials.Credentials(access_key, secret, token),
                                    service, region, signed_headers)
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if not hmac.compare_digest(expected, signature):
            raise ApiError("SignatureDoesNotMatch", "The request signature we calculated does not match "
                           "the signature you provided. Check your AWS Secret Access Key and signing method.",
                           403)
