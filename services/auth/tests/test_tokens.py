"""Access tokens that must be refused, each for its own reason."""

import uuid

import httpx
import jwt
import pytest

from devsupport.accounts import Account, bearer
from tests.support.forged_tokens import FORGED, Forge, assert_refused, claims_of, with_claims
from tracker_auth.context import AuthContext

CASES: dict[str, Forge] = {
    **FORGED,
    # Signed by auth's key but naming no live session: only auth can know that.
    "sid of another session": with_claims(sid=str(uuid.uuid4())),
}


@pytest.mark.parametrize("forge", CASES.values(), ids=CASES.keys())
async def test_a_defective_token_is_refused(
    client: httpx.AsyncClient, context: AuthContext, account: Account, forge: Forge
) -> None:
    await assert_refused(client, "/api/user", forge(context.signing_key, account.access_token))


async def test_a_refresh_token_is_no_access_token(
    client: httpx.AsyncClient, account: Account
) -> None:
    await assert_refused(client, "/api/user", client.cookies["tt_refresh"])


async def test_the_genuine_token_is_accepted(
    client: httpx.AsyncClient, context: AuthContext, account: Account
) -> None:
    """The control for the matrix above: the same path accepts a correct token."""
    client.cookies.clear()
    resigned = with_claims()(context.signing_key, account.access_token)
    for token in (account.access_token, resigned):
        response = await client.get("/api/user", headers=bearer(token))
        assert response.status_code == 200


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "Token abc"])
async def test_other_authorization_schemes_are_refused(
    client: httpx.AsyncClient, account: Account, header: str
) -> None:
    response = await client.get("/api/user", headers={"Authorization": header})

    assert response.status_code == 401


async def test_the_token_carries_the_pinned_claims(context: AuthContext, account: Account) -> None:
    header = jwt.get_unverified_header(account.access_token)
    claims = claims_of(account.access_token)

    assert header["alg"] == "EdDSA"
    assert header["kid"] == context.signing_key.kid
    assert set(claims) == {"iss", "aud", "sub", "sid", "jti", "typ", "iat", "exp"}
    assert claims["sub"] == account.id
    assert claims["typ"] == "access"
    assert 14 * 60 <= claims["exp"] - claims["iat"] <= 15 * 60


async def test_the_jwks_verifies_issued_tokens(client: httpx.AsyncClient, account: Account) -> None:
    response = await client.get("/.well-known/jwks.json")

    assert response.status_code == 200
    [key] = response.json()["keys"]
    assert key["kty"] == "OKP"
    assert "d" not in key  # never the private part
    verified = jwt.decode(
        account.access_token,
        jwt.PyJWK(key),
        algorithms=["EdDSA"],
        audience="task-tracker",
        issuer="task-tracker-auth",
    )
    assert verified["sub"] == account.id
