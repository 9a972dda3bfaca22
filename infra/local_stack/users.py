"""The demo users of a local stack, created in its Cognito user pool, and their tokens.

Fixed, published credentials: they exist only in an emulator on 127.0.0.1 that is thrown away
at the end of the run. They are the ones docs/deploy.md uses, and they meet the pool's password
policy (12+ characters, upper and lower case, a digit, a symbol).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.constructs.auth import ADMIN_GROUP


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    groups: tuple[str, ...] = ()
    role: str = "customer"


CUSTOMER = DemoUser("alice", "Correct-Horse-42")
STAFF = DemoUser("bob", "Battery-Staple-43", groups=(ADMIN_GROUP,), role="staff")
DEMO_USERS = (CUSTOMER, STAFF)


def create_user(idp: Any, pool_id: str, user: DemoUser) -> None:
    """A confirmed user with a permanent password (no invitation), in ``user.groups``."""
    idp.admin_create_user(
        UserPoolId=pool_id,
        Username=user.username,
        UserAttributes=[
            {"Name": "email", "Value": f"{user.username}@example.com"},
            {"Name": "email_verified", "Value": "true"},
        ],
        MessageAction="SUPPRESS",
    )
    idp.admin_set_user_password(
        UserPoolId=pool_id, Username=user.username, Password=user.password, Permanent=True
    )
    for group in user.groups:
        idp.admin_add_user_to_group(UserPoolId=pool_id, Username=user.username, GroupName=group)


def access_token(idp: Any, client_id: str, username: str, password: str) -> str:
    """An access token from the app client's USER_PASSWORD_AUTH flow, as docs/deploy.md gets one."""
    result = idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    token: str = result["AuthenticationResult"]["AccessToken"]
    return token
