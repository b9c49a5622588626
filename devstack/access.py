"""IAM enforced in the emulator: every local function calls AWS as its own role.

On AWS each function calls with its execution role's credentials and is refused whatever the
role's policy (:mod:`infra.iam`) lacks; moto enforces nothing unless told, so a missing or excess
permission used to pass every test and fail the first deployment (gift card generation's
``BatchWriteItem``). Here, as :meth:`devstack.stack.LocalStack.start` sets it up:

1. one IAM user per function kind (``api``, ``stream``, ``jobs``, ``webhooks``) holds that kind's policy from
   :func:`infra.iam.statements`, the template's references (``Fn::GetAtt``, ``Fn::Sub``) resolved
   to the emulator's ARNs; an operator user, whose access key is ``local`` (what the stack itself,
   migrations, snapshots and the tests' direct reads sign with), may do anything;
2. moto checks every request's signature and its caller's policy (its "IAM-like access control",
   ``INITIAL_NO_AUTH_ACTION_COUNT`` 0). DynamoDB is checked as IAM checks it on AWS: on the table's
   or index's ARN, and a transaction per item action (a ``Put`` of ``TransactWriteItems`` needs
   ``dynamodb:PutItem``), where moto would check the operation's name against ``*``. SQS is
   checked on the queue's ARN (moto does), a batch action as its single one (IAM has no
   ``sqs:SendMessageBatch``: ``sqs:SendMessage`` allows it), where moto wants the batch's name;
3. the app's clients sign with :class:`FunctionCredentials`: the keys of the role whose function
   runs in this context (:func:`acting_as`, entered by the local API server, the stream pumps and
   the scheduler for each invocation), else the operator's.

Not modelled: resource-based policies, conditions (moto ignores every condition operator but
``StringEquals``: the webhooks role's ``dynamodb:LeadingKeys`` condition, which holds it to the
items whose partition key contains ``WEBHOOK``, is allowed everything its actions name here),
Secrets Manager's resources (the local stage reads no secret), and threads a function starts
itself (they sign as the operator).
"""

from __future__ import annotations

import contextvars
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.credentials import Credentials, EnvProvider, ReadOnlyCredentials

OPERATOR_KEY = ("local", "local")             # the access key the stack and the tests sign with
KINDS = ("api", "stream", "jobs", "webhooks")

_ACTING: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("acting_as", default=None)
_KEYS: dict[str, tuple[str, str]] = {}
_SAVED: dict[str, Any] = {}
_DECISIONS: dict[tuple[str, str, str], str] = {}      # (access key, action, resource) -> "" or why refused


class FunctionCredentials(Credentials):
    """Credentials that are the running function's role's, or the operator's outside any function
    (botocore asks for them again for every request it signs)."""

    def __init__(self) -> None:
        super().__init__(*OPERATOR_KEY, method="devstack-function-role")

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        """The keys this request is signed with."""
        access, secret = _ACTING.get() or OPERATOR_KEY
        return ReadOnlyCredentials(access, secret, None)


@contextmanager
def acting_as(kind: str) -> Iterator[None]:
    """Run the block as the function kind ``kind``: the app's AWS calls sign with its role's keys
    (with enforcement off, nothing changes)."""
    token = _ACTING.set(_KEYS.get(kind))
    try:
        yield
    finally:
        _ACTING.reset(token)


def keys_of(kind: str) -> tuple[str, str]:
    """The access key of a function kind's user (the operator's with enforcement off)."""
    return _KEYS.get(kind, OPERATOR_KEY)


# the references of the template's policies -------------------------------------------------------
def resolve(value: Any, refs: dict[str, str], pseudo: dict[str, str]) -> Any:
    """``value`` with ``Fn::GetAtt`` and ``Fn::Sub`` replaced: ``refs`` maps ``Logical.Attribute``
    to a value, ``pseudo`` maps ``AWS::Partition`` and the like."""
    if isinstance(value, list):
        return [resolve(v, refs, pseudo) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Fn::GetAtt"}:
        logical, attribute = value["Fn::GetAtt"]
        return refs[f"{logical}.{attribute}"]
    if set(value) == {"Fn::Sub"}:
        return re.sub(r"\$\{([^}]+)\}", lambda m: {**pseudo, **refs}[m.group(1)], value["Fn::Sub"])
    return {k: resolve(v, refs, pseudo) for k, v in value.items()}


def policies(stage: str, refs: dict[str, str], pseudo: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Each function kind's policy document as the template has it, resolved for the emulator."""
    from infra import iam
    return {kind: {"Version": "2012-10-17", "Statement": resolve(iam.statements(kind, stage), refs, pseudo)}
            for kind in KINDS}


# switching it on ---------------------------------------------------------------------------------
def enforce(stage: str, region: str, refs: dict[str, str], stack_name: str) -> dict[str, tuple[str, str]]:
    """Create the users (operator and one per function kind) in the in-process emulator and turn
    IAM enforcement on; returns each kind's access key."""
    from moto import settings
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.models import iam_backends
    from moto.utilities.utils import get_partition

    partition = get_partition(region)
    iam = iam_backends[DEFAULT_ACCOUNT_ID][partition]
    pseudo = {"AWS::Partition": partition, "AWS::Region": region, "AWS::AccountId": DEFAULT_ACCOUNT_ID,
              "AWS::StackName": stack_name}
    operator = _user(iam, region, f"{stack_name}-operator")
    if not operator.access_keys:
        key = iam.create_access_key(operator.name)
        key.access_key_id, key.secret_access_key = OPERATOR_KEY      # moto draws keys; this one is fixed
    iam.put_user_policy(operator.name, "everything", json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    for kind, document in policies(stage, refs, pseudo).items():
        user = _user(iam, region, f"{stack_name}-{kind}")
        made = user.access_keys[0] if user.access_keys else iam.create_access_key(user.name)
        _KEYS[kind] = (made.access_key_id, made.secret_access_key)
        iam.put_user_policy(user.name, f"loyalty-{kind}", json.dumps(document))
    _install_checks()
    _DECISIONS.clear()
    _SAVED.setdefault("count", settings.INITIAL_NO_AUTH_ACTION_COUNT)
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0
    return dict(_KEYS)


def _user(iam: Any, region: str, name: str) -> Any:
    """The emulator's IAM user ``name`` (made if missing: a second stack in a process finds it)."""
    if name not in {u.name for u in iam.list_users("/", None, None)}:
        iam.create_user(region, name)
    return iam.get_user(name)


def relax() -> None:
    """Turn enforcement off again (the stack stops; other tests in the process run without it)."""
    from moto import settings
    if "count" in _SAVED:
        settings.INITIAL_NO_AUTH_ACTION_COUNT = _SAVED.pop("count")
    _KEYS.clear()
    _DECISIONS.clear()


def sign_as_the_running_function() -> None:
    """Make every client the app creates from the environment's credentials sign with
    :class:`FunctionCredentials` (its botocore session and boto3's default one, made afresh)."""
    if "env_load" not in _SAVED:
        original = EnvProvider.load
        _SAVED["env_load"] = original

        def load(self: EnvProvider) -> Credentials | None:
            found = original(self)
            if found is not None and (found.access_key, found.secret_key) == OPERATOR_KEY:
                return FunctionCredentials()
            return found
        EnvProvider.load = load  # type: ignore[method-assign]
    import boto3

    from chalicelib.shared import aws, storage
    aws._SESSION.clear()
    boto3.DEFAULT_SESSION = None
    storage._s3.cache_clear()


# DynamoDB as IAM sees it -------------------------------------------------------------------------
_TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem",
             "Get": "GetItem"}


def dynamodb_needs(action: str, params: dict[str, Any], table_arn: Any) -> list[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs a DynamoDB request needs, as AWS evaluates them:
    ``table_arn(name)`` is a table's ARN."""
    if action in ("TransactWriteItems", "TransactGetItems"):
        return [(f"dynamodb:{_TRANSACT[kind]}", table_arn(op["TableName"]))
                for entry in params.get("TransactItems", []) for kind, op in entry.items()]
    if action in ("BatchWriteItem", "BatchGetItem"):
        return [(f"dynamodb:{action}", table_arn(name)) for name in params.get("RequestItems", {})]
    if "TableName" not in params:
        return [(f"dynamodb:{action}", "*")]
    arn = table_arn(params["TableName"])
    if params.get("IndexName"):
        arn = f"{arn}/index/{params['IndexName']}"
    return [(f"dynamodb:{action}", arn)]


def streams_needs(action: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """The (IAM action, stream ARN) pairs a DynamoDB Streams request needs."""
    arn = params.get("StreamArn") or str(params.get("ShardIterator", "*")).split("|", 1)[0]
    return [(f"dynamodb:{action}", arn)]


# SQS as IAM sees it: a batch action is allowed by its single action's permission.
_SQS_BATCHES = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
                "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}


def sqs_action(action: str) -> str:
    """The IAM action an SQS request needs (``sqs:SendMessage`` for ``SendMessageBatch``)."""
    return f"sqs:{_SQS_BATCHES.get(action, action)}"


def _install_checks() -> None:
    if "checks" in _SAVED:
        return
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
    from moto.sqs.responses import SQSResponse
    _SAVED["checks"] = True

    def dynamodb(handler: Any, resource: str = "*") -> None:
        account, region = handler.current_account, handler.region
        from moto.utilities.utils import get_partition
        prefix = f"arn:{get_partition(region)}:dynamodb:{region}:{account}:table/"
        _check(handler, dynamodb_needs(handler._get_action(), _params(handler), lambda name: prefix + name))

    def streams(handler: Any, resource: str = "*") -> None:
        _check(handler, streams_needs(handler._get_action(), _params(handler)))

    def sqs(handler: Any, resource: str = "*") -> None:      # moto's own check, with IAM's action
        from moto import settings
        from moto.core.authorization import ActionAuthenticatorMixin
        from moto.iam.access_control import IAMRequest
        if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
            ActionAuthenticatorMixin.request_count += 1
            return
        request = IAMRequest(account_id=handler.current_account, method=handler.method, path=_path(handler),
                             data=handler.data, body=handler.raw_body, headers=handler.headers,
                             action=handler._get_action())
        request._action = sqs_action(handler._get_action())
        request.check_signature()
        request.check_action_permitted(resource)

    DynamoHandler._authenticate_and_authorize_normal_action = dynamodb  # type: ignore[method-assign]
    DynamoDBStreamsHandler._authenticate_and_authorize_normal_action = streams  # type: ignore[method-assign]
    SQSResponse._authenticate_and_authorize_normal_action = sqs  # type: ignore[method-assign]
    _missing_objects_as_s3_answers_them()


def _missing_objects_as_s3_answers_them() -> None:
    """S3 answers a GetObject of a missing key with 404 NoSuchKey only to a caller that may also
    ``s3:ListBucket`` on the bucket; anyone else gets 403 AccessDenied (so that a caller cannot
    learn which keys exist). moto always answers 404, which hid that our roles could not read a
    missing export as missing: every first generation of a chunk would have failed on AWS."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import S3IAMRequest
    from moto.s3.exceptions import MissingKey
    from moto.s3.responses import S3Response
    from moto.utilities.utils import get_partition
    original = S3Response.get_object

    def get_object(self: Any) -> Any:
        try:
            return original(self)
        except MissingKey:
            if ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT:
                request = S3IAMRequest(account_id=self.current_account, method=self.method, path=_path(self),
                                       data=self.data, body=self.raw_body, headers=self.headers, action="ListBucket")
                request.check_action_permitted(f"arn:{get_partition(self.region)}:s3:::{self.bucket_name}")
            raise
    S3Response.get_object = get_object  # type: ignore[method-assign]


def _params(handler: Any) -> dict[str, Any]:
    body = handler.body
    if isinstance(body, dict):
        return body
    try:
        found = json.loads(body) if body else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _check(handler: Any, needs: list[tuple[str, str]]) -> None:
    """moto's authentication (signature, access key) and policy evaluation, once per caller, action
    and resource: the decision is kept (the policies do not change while the stack runs), so a
    request costs a lookup, not a signature and a policy walk (about half a millisecond each)."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.core.exceptions import JsonRESTError
    from moto.iam.access_control import IAMRequest
    if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
        ActionAuthenticatorMixin.request_count += 1
        return
    caller = handler.headers.get("Authorization", "").partition("Credential=")[2].partition("/")[0]
    request = None
    for action, resource in needs:
        known = _DECISIONS.get((caller, action, resource))
        if known is None:
            if request is None:
                request = IAMRequest(account_id=handler.current_account, method=handler.method,
                                     path=_path(handler), data=handler.data, body=handler.raw_body,
                                     headers=handler.headers, action=handler._get_action())
                request.check_signature()
            request._action = action
            try:
                request.check_action_permitted(resource)
                known = ""
            except Exception:             # as DynamoDB answers it, not as moto's XML
                known = (f"User: {request._access_key.arn} is not authorized to perform: {action} "
                         f"on resource: {resource}")
            _DECISIONS[(caller, action, resource)] = known
        if known:
            raise JsonRESTError("AccessDeniedException", known)


def _path(handler: Any) -> str:
    from urllib.parse import urlparse
    query = urlparse(handler.uri).query
    return str(handler.raw_path) + (f"?{query}" if query else "")
