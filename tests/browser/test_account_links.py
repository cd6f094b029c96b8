"""The links in mails, followed in the browser: confirming the address from the welcome mail
(and a new link from the banner), and a new password from "Forgot your password?".

Each link is read out of the mail the stack's mail catcher caught, as a person would click it.
"""

from playwright.async_api import expect

from devsupport.accounts import PASSWORD, new_email
from tests.browser.conftest import OpenApp, mail_links
from tests.conftest import Stack

NEW_PASSWORD = "a brand new passphrase"


async def test_the_welcome_mail_s_link_confirms_the_address(
    open_app: OpenApp, stack: Stack
) -> None:
    app = await open_app()
    email = await app.register()
    banner = app.page.locator("#verify-banner")
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text(email)
    await app.shoot("unconfirmed")
    assert (await (await app.api("GET", "/api/user")).json())["email_verified"] is False

    [link] = await mail_links(stack, email, "verify-email")
    await app.page.goto(link)
    await app.expect_loaded()

    await expect(app.notice).to_contain_text(f"your address {email} is confirmed")
    await expect(banner).to_be_hidden()
    assert "#" not in app.page.url, "the token leaves the address bar"
    assert (await (await app.api("GET", "/api/user")).json())["email_verified"] is True
    await app.shoot("confirmed")

    await app.page.goto(link)  # a second time: the token is used up
    await app.expect_loaded()
    await expect(app.notice).to_contain_text("could not be confirmed")
    await expect(banner).to_be_hidden()


async def test_a_link_opened_in_another_browser_confirms_the_address_too(
    open_app: OpenApp, stack: Stack
) -> None:
    app = await open_app()
    email = await app.register()
    [link] = await mail_links(stack, email, "verify-email")

    phone = await open_app(load=False)
    await phone.page.goto(link)
    await phone.expect_loaded()

    await expect(phone.notice).to_contain_text("is confirmed")
    await phone.expect_visitor()
    await app.reload()
    await expect(app.page.locator("#verify-banner")).to_be_hidden()


async def test_the_banner_sends_a_new_link_and_says_when_to_ask_again(
    open_app: OpenApp, stack: Stack
) -> None:
    app = await open_app()
    email = await app.register()
    await mail_links(stack, email, "verify-email")
    status = app.page.locator("#verify-status")
    resend = app.page.get_by_role("button", name="Send a new link")

    await resend.click()
    await expect(status).to_have_text(f"A new link is on its way to {email}.")
    links = await mail_links(stack, email, "verify-email", count=2)

    for _ in range(20):  # until the per-account limit answers
        async with app.page.expect_response("**/api/user/verification-mail") as answer:
            await resend.click()
        if (await answer.value).status == 429:
            break
    else:
        raise AssertionError("asking for new links was never limited")
    await expect(status).to_contain_text("We sent you a link a short while ago")
    await expect(status).to_contain_text("You can ask for another in")
    await app.shoot("resend-limited")

    await app.page.goto(links[-1])
    await app.expect_loaded()
    await expect(app.notice).to_contain_text("is confirmed")
    await expect(app.page.locator("#verify-banner")).to_be_hidden()


async def test_forgot_password_mails_a_link_to_a_new_password(
    open_app: OpenApp, stack: Stack
) -> None:
    app = await open_app()
    email = await app.register()
    await app.log_out()

    login = await app.form("Log in")
    await login.get_by_label("Email").fill(email)
    await login.get_by_role("button", name="Forgot your password?").click()
    forgot = app.dialog("Forgot your password?")
    await expect(forgot.get_by_label("Email")).to_have_value(email)
    await forgot.get_by_role("button", name="Send the link").click()
    await expect(forgot.get_by_role("status")).to_contain_text(
        f"If {email} has an account, a mail with a link"
    )
    await app.shoot("forgot-sent")
    await forgot.get_by_role("button", name="Close").first.click()
    await expect(forgot).to_be_hidden()

    [link] = await mail_links(stack, email, "reset-password")
    await app.page.goto(link)
    await app.expect_loaded()
    reset = app.dialog("Choose a new password")
    await expect(reset.get_by_label("New password", exact=True)).to_be_focused()
    assert "#" not in app.page.url, "the token leaves the address bar"
    await reset.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    await reset.get_by_label("Repeat the new password").fill("something else")
    await reset.get_by_role("button", name="Change the password").click()
    await expect(reset.get_by_label("Repeat the new password")).to_have_attribute(
        "aria-invalid", "true"
    )
    await reset.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    await reset.get_by_role("button", name="Change the password").click()
    await expect(reset).to_be_hidden()
    await expect(app.notice).to_contain_text("Log in with your new password")
    await app.shoot("password-reset")

    form = await app.log_in(email, PASSWORD)
    await expect(form.get_by_role("alert")).to_have_text("Wrong email or password")
    await app.log_in(email, NEW_PASSWORD)
    await expect(form).to_be_hidden()
    await app.expect_logged_in(email)

    await app.page.goto(link)  # used: the form says so
    await app.expect_loaded()
    await reset.get_by_label("New password", exact=True).fill("yet another passphrase")
    await reset.get_by_label("Repeat the new password").fill("yet another passphrase")
    await reset.get_by_role("button", name="Change the password").click()
    await expect(reset.get_by_role("alert")).to_contain_text("Forgot your password?")


async def test_forgot_password_says_the_same_for_an_unknown_address(open_app: OpenApp) -> None:
    app = await open_app()
    stranger = new_email("browser")

    login = await app.form("Log in")
    await login.get_by_label("Email").fill(stranger)
    await login.get_by_role("button", name="Forgot your password?").click()
    forgot = app.dialog("Forgot your password?")
    await forgot.get_by_role("button", name="Send the link").click()

    await expect(forgot.get_by_role("status")).to_contain_text(
        f"If {stranger} has an account, a mail with a link"
    )
