"""No cache keeps an answer that carries a token or a person's data; the JWKS is public."""

import httpx

from .support import PASSWORD, Account


async def test_answers_with_tokens_are_never_stored(
    client: httpx.AsyncClient, account: Account
) -> None:
    answers = {
        "register": await client.post(
            "/api/user", json={"email": "bob@example.com", "password": PASSWORD}
        ),
        "log in": await client.post(
            "/api/session", json={"email": account.email, "password": PASSWORD}
        ),
        "refresh": await client.post("/api/session/refresh"),
        "the user": await client.get("/api/user"),
        "an error": await client.post("/api/session", json={}),
    }

    for name, answer in answers.items():
        assert answer.headers["Cache-Control"] == "no-store", name


async def test_the_public_keys_may_be_cached(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/jwks.json")

    assert response.headers["Cache-Control"] == "public, max-age=300"
