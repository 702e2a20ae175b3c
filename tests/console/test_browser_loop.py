"""The whole loop through the console, in a real browser, as the people who do it.

`hotline run` on the embedded defaults in a process of its own; Debian's chromium driven
by Playwright. An operator, two unit handlers, a supervisor, a callback agent, the
citizen (through the survey link the platform sent) and an auditor:

contact in the queue (appears live) → registered → dispatched with an assisting unit →
returned → reassigned → acknowledged → extension requested and approved → replied →
survey answered dissatisfied through the citizen's link → redo accepted → replied →
satisfied (recorded by the callback agent) → closed; then the auditor opens the
timeline with its integrity check and the ticket as it stood at a chosen moment.
On the way: masked personal data for a unit handler and an analyst, CSRF refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Browser
from pypdf import PdfReader

from services.console.labels import BEIJING
from tests.console.browser import Person, open_person, submit
from tests.console.platform import MASKED, PHONE, Platform, running, until


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with running(tmp_path_factory.mktemp("console")) as platform:
        yield platform


def shown_after_reload(person: Person, text: str, what: str) -> None:
    """Reload until the page shows `text` (a board that catches up within moments)."""
    def there() -> bool:
        person.page.reload()
        return text in person.page.inner_text("main")
    until(there, what)


def test_the_whole_loop_through_the_console(platform: Platform, browser: Browser) -> None:
    pw, base = platform.password, platform.console
    operator = open_person(browser, base, "operator", "dev.operator", pw)
    assert operator.page.url.endswith("/desk")
    operator.shot("desk-empty")

    # the contact arrives while the desk is open: the live queue shows it without a reload
    contact_id = platform.contact("wx-console-1",
                                  f"小区门口的路灯坏了一个多月, 晚上很黑。我的电话{PHONE}")
    row = operator.page.locator(f"form[action='/desk/contacts/{contact_id}/claim']")
    row.wait_for(timeout=15_000)
    operator.shot("desk-live-queue")
    assert submit(operator, f"form[action='/desk/contacts/{contact_id}/claim']") == "已认领"
    main = operator.page.inner_text("main")
    assert PHONE in main and "张三" in main  # clear for the operator who must act on it
    operator.shot("contact")

    operator.page.select_option("select[name=ticket_type]", "complaint")
    operator.page.select_option("select[name=category]", "urban-management/street-lights")
    operator.page.fill("textarea[name=summary]", "小区门口路灯损坏一个多月")
    flash = submit(operator, "form[action$='/register']")
    assert flash.startswith("已登记 12345-"), flash
    ticket_id = operator.page.url.split("/desk/tickets/")[1].split("?")[0]
    operator.shot("dispatch")
    operator.page.select_option("select[name=lead_unit]", "city-urban-mgmt")
    operator.page.select_option("select[name=assisting_units]", ["d01-street-1"])
    assert submit(operator, "form[action$='/dispatch']") == "已派单"
    assert "待签收" in operator.page.inner_text("h1")
    operator.shot("ticket-dispatched")

    # the first unit sees it in its inbox and sends it back: not theirs
    first = open_person(browser, base, "unit-city", "dev.unit.city-urban-mgmt", pw)
    assert first.page.url.endswith("/inbox")
    shown_after_reload(first, "小区门口路灯损坏一个多月", "the ticket in the unit's inbox")
    first.shot("inbox")
    first.go(f"/tickets/{ticket_id}")
    masked = first.page.inner_text("main")
    assert PHONE not in masked and MASKED in masked  # a unit never sees the number
    first.shot("ticket")
    first.page.fill("form[action$='/act/return'] textarea[name=reason]", "属街道管辖, 非本局职责")
    assert submit(first, "form[action$='/act/return']") == "已退回热线"
    first.shot("returned")

    # the operator reassigns it from the desk's list of returned tickets
    operator.go("/desk")
    shown_after_reload(operator, "已退回待改派 (1)", "the returned ticket on the desk")
    operator.page.click(f"a[href='/desk/tickets/{ticket_id}']")
    operator.page.select_option("select[name=lead_unit]", "d01-urban-squad")
    assert submit(operator, "form[action$='/dispatch']") == "已改派"
    operator.shot("reassigned")

    # the second unit acknowledges and asks for more time
    second = open_person(browser, base, "unit-squad", "dev.unit.d01-urban-squad", pw)
    shown_after_reload(second, "小区门口路灯损坏一个多月", "the reassigned ticket in the inbox")
    second.go(f"/tickets/{ticket_id}")
    assert submit(second, "form[action$='/act/acknowledge']") == "已签收"
    later = (datetime.now(BEIJING) + timedelta(days=30)).date().isoformat()
    second.page.fill("form[action$='/act/extension'] input[name=requested_due_on]", later)
    second.page.fill("form[action$='/act/extension'] textarea[name=reason]", "需更换线缆, 等待材料")
    assert submit(second, "form[action$='/act/extension']") == "已申请延期"
    second.shot("extension-requested")

    supervisor = open_person(browser, base, "supervisor", "dev.supervisor", pw)
    assert supervisor.page.url.endswith("/supervision")
    shown_after_reload(supervisor, "待审批延期 (1)", "the extension request on the board")
    supervisor.shot("board")
    supervisor.go("/supervision/units/d01-urban-squad")
    assert "东湖区城管执法中队" in supervisor.page.inner_text("h1")
    supervisor.shot("unit")
    supervisor.go(f"/tickets/{ticket_id}")
    assert PHONE in supervisor.page.inner_text("main")  # supervisors see the caller
    assert submit(supervisor, "form[action$='/act/approve-extension']") == "已批准延期"
    supervisor.shot("extension-approved")

    second.go(f"/tickets/{ticket_id}")
    second.page.fill("form[action$='/act/reply'] textarea[name=text]", "已安排维修, 更换灯泡。")
    assert submit(second, "form[action$='/act/reply']") == "已反馈办理结果"
    second.shot("replied")

    # the citizen answers the survey the platform sent, through its link: dissatisfied
    link = until(platform.survey_links, "the first survey message")[0]
    citizen = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    citizen.goto(link)
    citizen.check("input[name=hotline_service][value=satisfied]")
    citizen.check("input[name=handling][value=dissatisfied_with_result]")
    citizen.check("input[name=solved][value=false]")
    citizen.fill("textarea[name=comment]", "路灯还是不亮")
    citizen.click("button[type=submit]")
    assert "重新办理" in citizen.inner_text("body")
    citizen.context.close()

    supervisor.go(f"/tickets/{ticket_id}")
    shown_after_reload(supervisor, "同意重办", "the redo request for review")
    supervisor.shot("redo-review")
    supervisor.page.fill("form[action$='/act/accept-redo'] textarea[name=reason]", "市民反映属实")
    assert submit(supervisor, "form[action$='/act/accept-redo']") == "已同意重办"

    second.go(f"/tickets/{ticket_id}")
    assert "重办" in second.page.inner_text("h1")
    shown_after_reload(second, "签收", "the redo back with the unit")
    if second.page.locator("form[action$='/act/acknowledge']").count():
        assert submit(second, "form[action$='/act/acknowledge']") == "已签收"
    second.page.fill("form[action$='/act/reply'] textarea[name=text]", "已更换线缆, 路灯恢复照明。")
    assert submit(second, "form[action$='/act/reply']") == "已反馈办理结果"

    # the callback agent calls the citizen (the number is theirs to see) and records it
    agent = open_person(browser, base, "callback", "dev.callback", pw)
    assert agent.page.url.endswith("/callback")
    shown_after_reload(agent, "小区门口路灯损坏一个多月", "the ticket on the callback work list")
    agent.shot("work-list")
    agent.go(f"/tickets/{ticket_id}")
    shown_after_reload(agent, "记录回访结果", "the second survey open")
    assert PHONE in agent.page.inner_text(".phone")
    agent.shot("callback")
    agent.page.select_option("select[name=hotline_service]", "satisfied")
    agent.page.select_option("select[name=handling]", "satisfied")
    agent.page.select_option("select[name=solved]", "yes")
    assert submit(agent, "form[action$='/act/survey-answer']") == "已记录回访结果"
    shown_after_reload(agent, "已办结", "the ticket closed after the satisfied answer")
    agent.shot("closed")

    # an analyst reads the ticket masked
    analyst = open_person(browser, base, "analyst", "dev.analyst", pw)
    analyst.go("/tickets?status=closed&district=990101")
    listed = analyst.page.inner_text("main")
    assert "小区门口路灯损坏一个多月" in listed and "已办结" in listed
    analyst.shot("tickets-closed")
    analyst.page.click("main table a")
    analyst.page.wait_for_load_state()
    assert f"/tickets/{ticket_id}" in analyst.page.url
    shown = analyst.page.inner_text("main")
    assert PHONE not in shown and "张三" not in shown
    analyst.shot("ticket-masked")

    # the auditor: the timeline from the log, its check, and the ticket at a past moment
    auditor = open_person(browser, base, "auditor", "dev.auditor", pw)
    auditor.go(f"/tickets/{ticket_id}/audit")
    audit = auditor.page.inner_text("main")
    assert "哈希链完整: 共 19 个事件" in audit and "退单" in audit and "结案/归档" in audit
    assert PHONE not in audit
    auditor.shot("audit")
    # the ticket right after the first unit sent it back, folded from the log
    auditor.page.locator("tr:has(td[data-event=TicketReturned]) a:text-is('此刻')").click()
    auditor.page.wait_for_load_state()
    assert auditor.page.locator(".as-of .status").get_attribute("data-status") == "returned"
    auditor.shot("as-of")

    # the dispute report, as a page and as the PDF an auditor hands over
    auditor.go(f"/tickets/{ticket_id}/dispute")
    report = auditor.page.inner_text("body")
    assert "核验通过" in report and "共 19 个事件" in report and PHONE not in report
    head = re.search(r"链头哈希 \(SHA-256\) ([0-9a-f]{64})", report).group(1)  # type: ignore[union-attr]
    assert head in report.split("本事件哈希")[-1]  # the last event's own hash is the head
    auditor.shot("dispute")
    with auditor.page.expect_download() as download:
        auditor.go(f"/tickets/{ticket_id}/audit")
        auditor.page.click("a:text-is('PDF 下载')")
    pdf = PdfReader(download.value.path())
    text = "".join(page.extract_text() for page in pdf.pages)
    assert "核验通过" in text and head[:16] in text.replace("\n", "") and PHONE not in text

    for person in (operator, first, second, supervisor, agent, analyst, auditor):
        person.check()


def test_a_form_without_its_csrf_token_changes_nothing(platform: Platform,
                                                       browser: Browser) -> None:
    """A page of another site can make the browser post with the cookie, never with the
    token: the console refuses it, and the contact stays unclaimed."""
    contact_id = platform.contact("wx-console-csrf", "路面有坑, 请修补")
    operator = open_person(browser, platform.console, "operator-csrf", "dev.operator",
                           platform.password)
    answer = operator.page.request.post(
        f"{platform.console}/desk/contacts/{contact_id}/claim",
        form={"csrf": "forged"}, max_redirects=0)
    assert answer.status == 403 and "CSRF" in answer.text()
    operator.go("/desk")
    claim = operator.page.locator(f"form[action='/desk/contacts/{contact_id}/claim']")
    until(lambda: (operator.page.reload(), claim.count())[1], "the contact still unclaimed")
    operator.check()


def test_a_refusal_is_shown_in_the_services_chinese_words(platform: Platform,
                                                          browser: Browser) -> None:
    """Two people claim the same contact: the second reads why, as intake put it."""
    contact_id = platform.contact("wx-console-race", "楼道灯不亮")
    form = f"form[action='/desk/contacts/{contact_id}/claim']"
    people = [open_person(browser, platform.console, name, login, platform.password)
              for name, login in (("operator-race", "dev.operator"),
                                  ("supervisor-race", "dev.supervisor"))]
    for person in people:
        person.go("/desk")
        until(lambda p=person: (p.page.reload(), p.page.locator(form).count())[1],  # type: ignore[misc]
              "the contact in the queue")
    assert submit(people[0], form) == "已认领"
    assert submit(people[1], form).startswith("该来件已被其他话务员认领")
    people[1].shot("claimed-by-another")
    for person in people:
        person.check()


def test_a_wrong_address_is_a_page_for_a_browser_and_json_for_a_program(
        platform: Platform, browser: Browser) -> None:
    operator = open_person(browser, platform.console, "operator-404", "dev.operator",
                           platform.password)
    operator.go("/no-such-page")
    assert "页面不存在" in operator.page.inner_text("main")
    operator.shot("not-found")
    operator.problems.clear()  # the 404 itself is what this test asked for
    operator.check()
    answer = httpx.get(platform.console + "/v1/no-such-route")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
