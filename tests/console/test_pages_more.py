"""知识库, 数据分析 and 管理 through the console, in a real browser, as the people who use them.

`hotline run` in a process of its own with the sample knowledge of people's services
imported first; Debian's chromium driven by Playwright (tests/console/browser.py):

an editor searches (highlighted hits), reads an article, drafts two articles and submits
them; a supervisor approves one and returns the other; the editor sees the returned one
with its reason. An analyst reads the KPIs, the tiers and the hotspots, makes a monthly
report, sees its charts (SVG through the console) and downloads its PDF, makes again a
report that could not be made and withdraws another; an auditor reads
the reports and may make none. An admin opens an account (the one-time password shown
once), deactivates it, resets a password, issues a key and revokes it. A unit handler is
refused the analysts' and the admin's pages.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser

from tests.analytics.conftest import ACCEPT_FILES, REFUSE_FILES
from tests.console.browser import Person, open_person, submit
from tests.console.platform import Platform, running, until


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with running(tmp_path_factory.mktemp("console-more"), "people-services.jsonl") as platform:
        yield platform


def main_text(person: Person) -> str:
    return person.page.inner_text("main")


def draft(person: Person, title: str, body: str) -> str:
    """A new article drafted and submitted from the form; its id."""
    person.go("/knowledge/new")
    page = person.page
    page.fill("input[name=title]", title)
    page.select_option("select[name=kind]", "faq")
    page.select_option("select[name=category]", "housing-provident-fund/hpf-withdrawal")
    page.select_option("select[name=owning_unit]", "city-hpf")
    page.fill("textarea[name=body]", body)
    page.fill("input[name=keywords]", "公积金, 测试")
    assert submit(person, "form[action='/knowledge/articles']") == "草稿已保存并提交审核"
    return page.url.split("/knowledge/articles/")[1].split("?")[0]


@contextmanager
def reports_blocked(platform: Platform) -> Iterator[None]:
    """The platform's database refuses reports' files meanwhile (as a full disk would): a
    trigger in the real database file, dropped after."""
    db = sqlite3.connect(platform.data / "projections.db", timeout=30)
    try:
        with db:
            db.execute(REFUSE_FILES)
        yield
    finally:
        with db:
            db.execute(ACCEPT_FILES)
        db.close()


def test_knowledge_search_review_and_drafts(platform: Platform, browser: Browser) -> None:
    pw, base = platform.password, platform.console
    editor = open_person(browser, base, "editor", "dev.editor", pw)
    assert editor.page.url.endswith("/knowledge")  # the editor's home
    editor.page.fill("input[name=q]", "公积金提取")
    editor.page.click("form[role=search] button")
    editor.page.wait_for_load_state()
    hits = editor.page.locator("#hits .kb-hit")
    assert hits.count() > 0 and editor.page.locator("#hits mark").count() > 0
    assert "住房公积金" in editor.page.inner_text("#hits")
    editor.shot("knowledge-search")

    hits.first.locator("a").first.click()
    editor.page.wait_for_load_state()
    article = main_text(editor)
    assert "现行版本" in article and "主管单位" in article and "处理记录" in article
    assert "市住房公积金管理中心" in article  # the unit's name, not its code
    editor.shot("knowledge-article")

    approved = draft(editor, "测试: 离职提取住房公积金", "**条件**: 离职满半年。\n<b>不是标签</b>")
    shown = editor.page.inner_text(".kb-body")
    assert "<b>不是标签</b>" in shown  # the body is text, escaped; only **bold** is bold
    assert editor.page.locator(".kb-body strong").inner_text() == "条件"
    editor.shot("knowledge-draft-submitted")
    returned = draft(editor, "测试: 公积金提取到账时间", "审核通过后1个工作日内到账。")

    # the drafter may not approve their own submission: the service says so
    flash = submit(editor, f"form[action='/knowledge/articles/{returned}/approve']")
    assert "不能审核自己起草或提交的知识" in flash, flash

    supervisor = open_person(browser, base, "supervisor", "dev.supervisor", pw)
    supervisor.go("/knowledge")
    queue = supervisor.page.inner_text("#queue")
    assert "测试: 离职提取住房公积金" in queue and "测试: 公积金提取到账时间" in queue
    supervisor.shot("knowledge-queue")
    assert submit(supervisor, f"#queue form[action='/knowledge/articles/{approved}/approve']") \
        == "已审核通过并发布"
    assert "测试: 离职提取住房公积金" not in supervisor.page.inner_text("#queue")
    supervisor.page.click(f"#queue form[action='/knowledge/articles/{returned}/return'] "
                          ">> xpath=.. >> summary")
    supervisor.page.fill(f"form[action='/knowledge/articles/{returned}/return'] "
                         "textarea[name=reason]", "请注明依据文件")
    assert submit(supervisor, f"form[action='/knowledge/articles/{returned}/return']") \
        == "已退回起草人"
    supervisor.shot("knowledge-reviewed")

    editor.go("/knowledge")
    drafts = editor.page.inner_text("#drafts")
    assert "测试: 公积金提取到账时间" in drafts and "请注明依据文件" in drafts
    editor.go(f"/knowledge/articles/{approved}")
    assert "现行第 1 版" in editor.page.inner_text("h1")
    assert "审核通过" in editor.page.inner_text(".timeline")
    editor.shot("knowledge-published")

    operator = open_person(browser, base, "operator", "dev.operator", pw)
    operator.go("/knowledge?q=公积金")
    assert operator.page.locator("#hits .kb-hit").count() > 0
    assert not operator.page.locator("#queue").count()  # operators search, and review nothing
    operator.shot("knowledge-operator")

    for person in (editor, supervisor, operator):
        person.check()


def test_analytics_pages_reports_and_charts(platform: Platform, browser: Browser) -> None:
    pw, base = platform.password, platform.console
    # three answered calls (two within 15 s), one abandoned: 接通率 75 %, under its norm
    platform.calls([("answered", 5), ("answered", 12), ("answered", 40), ("abandoned", 30)])
    analyst = open_person(browser, base, "analyst", "dev.analyst", pw)
    assert analyst.page.url.endswith("/analytics")  # the analyst's home
    until(lambda: (analyst.page.reload(), "75.00%" in analyst.page.inner_text("#calls"))[1],
          "the calls in the figures")
    calls = analyst.page.inner_text("#calls")
    assert "接通率" in calls and "未达标" in calls and "66.67%" in calls  # 15秒接通率: 2 of 3
    cards = analyst.page.inner_text("#kpis")
    assert "工单量" in cards and "满意率(三率)" in cards and "按时办结率" in cards
    analyst.page.click("summary:has-text('指标定义')")
    assert "分子" in analyst.page.inner_text("table.an-defs")
    analyst.shot("analytics-kpis")

    analyst.page.select_option("select[name=period]", "month")
    analyst.page.select_option("select[name=by]", "channel")
    analyst.page.click("form[action='/analytics'] button[type=submit]")
    analyst.page.wait_for_load_state()
    assert "period=month" in analyst.page.url
    analyst.shot("analytics-grouped")

    analyst.go("/analytics/tiers")
    tiers = main_text(analyst)
    assert "市直部门" in tiers and "区政府" in tiers and "按时办结率" in tiers
    analyst.shot("analytics-tiers")
    analyst.go("/analytics/hotspots")
    assert "热点与周期性诉求预警" in main_text(analyst)
    assert analyst.page.locator("img[alt='热点分布图']").evaluate("i => i.naturalWidth") > 0
    analyst.shot("analytics-hotspots")

    analyst.go("/analytics/reports")
    analyst.page.select_option("#make-report select[name=kind]", "monthly")
    flash = submit(analyst, "#make-report")
    assert flash.startswith(("已提交: ", "已生成: ")) and "月报" in flash, flash
    if "报告正在后台生成" in main_text(analyst):  # it refreshes itself until made
        analyst.shot("analytics-report-making")
    report = analyst.page.url.split("/analytics/reports/")[1].split("?")[0]
    analyst.page.wait_for_selector(".an-charts img", timeout=120_000)
    images = analyst.page.locator(".an-charts img")
    assert images.count() >= 1
    for i in range(images.count()):  # each chart came through the console, and drew
        images.nth(i).scroll_into_view_if_needed()
        images.nth(i).evaluate("img => img.decode()")
        assert images.nth(i).evaluate("img => img.naturalWidth") > 0
    assert "工单量" in main_text(analyst)
    analyst.shot("analytics-report")
    pdf = analyst.page.request.get(f"{base}/analytics/reports/{report}/download/pdf")
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
    assert pdf.headers["content-disposition"].startswith("attachment")

    # a report that cannot be made (the database refuses its files) is made again from its
    # page once the fault is mended, or taken off the list
    def failed(kind: str) -> None:
        with reports_blocked(platform):
            analyst.go("/analytics/reports")
            analyst.page.select_option("#make-report select[name=kind]", kind)
            submit(analyst, "#make-report")
            until(lambda: (analyst.page.reload(), "生成失败" in main_text(analyst))[1],
                  "the report failed", 120)

    failed("daily")
    analyst.shot("analytics-report-failed")
    assert submit(analyst, "#report-status", "重新生成").startswith("已重新提交: ")
    analyst.page.wait_for_selector(".an-charts img", timeout=120_000)
    failed("weekly")
    analyst.go("/analytics/reports")
    assert "生成失败" in analyst.page.inner_text("#pending-reports")
    analyst.shot("analytics-reports-failed")
    assert submit(analyst, "#pending-reports", "移除") == "已移除生成失败的报告"
    assert not analyst.page.locator("#pending-reports").count()

    auditor = open_person(browser, base, "auditor", "dev.auditor", pw)
    auditor.go("/analytics/reports")
    assert report in auditor.page.inner_html("#reports")
    assert not auditor.page.locator("#make-report").count()  # auditors check, make none
    auditor.shot("analytics-reports")

    unit = open_person(browser, base, "unit", "dev.unit.city-urban-mgmt", pw)
    for path in ("/analytics", "/analytics/reports", f"/analytics/reports/{report}/download/pdf",
                 "/admin"):
        unit.go(path)
        assert "无权访问该页面" in unit.page.inner_text("main"), path
    unit.shot("refused")
    # the browser logs each refused page's 403: expected here, and nothing else may be
    unit.problems = [p for p in unit.problems if "status of 403 (Forbidden)" not in p]

    for person in (analyst, auditor, unit):
        person.check()


def test_admin_accounts_and_keys(platform: Platform, browser: Browser) -> None:
    pw, base = platform.password, platform.console
    admin = open_person(browser, base, "admin", "dev.admin", pw)
    assert admin.page.url.endswith("/admin")  # the admin's home
    accounts = admin.page.inner_text("#accounts")
    assert "dev.operator" in accounts and "话务员" in accounts and "市城市管理局" in accounts
    admin.shot("admin-accounts")

    form = admin.page.locator("#new-account")
    form.locator("input[name=login]").fill("wang.li")
    form.locator("input[name=display_name]").fill("王丽")
    form.locator("input[name=roles][value=operator]").check()
    form.locator("button[type=submit]").click()
    admin.page.wait_for_load_state()
    secret = admin.page.inner_text("#secret").strip()
    assert "账号已开通" in main_text(admin) and len(secret) >= 12
    admin.shot("admin-account-created")

    # the one-time password works, once the admin hands it over
    wang = open_person(browser, base, "wang", "wang.li", secret)
    assert wang.page.url.endswith("/desk")
    admin.go("/admin")
    assert secret not in admin.page.content()  # shown once, never again
    assert submit(admin, "form[action='/admin/accounts/wang.li/active']") == "wang.li: 已停用"
    assert "已停用" in admin.page.inner_text("#accounts tr:has(a:text-is('wang.li'))")
    admin.page.click("tr:has(a:text-is('wang.li')) summary:has-text('重置密码')")
    submit(admin, "form[action='/admin/accounts/wang.li/password-reset']")
    assert "密码已重置" in main_text(admin)
    assert admin.page.inner_text("#secret").strip() not in ("", secret)
    admin.go("/admin/accounts/wang.li")
    history = admin.page.inner_text(".timeline")
    assert "开户" in history and "停用" in history and "管理员重置" in history
    admin.shot("admin-account-history")

    admin.go("/admin/keys")
    keys = admin.page.inner_text("#keys")
    assert "dev-wechat" in keys and "渠道接入" in keys
    form = admin.page.locator("#new-key")
    form.locator("input[name=holder]").fill("wechat-gateway-2")
    form.locator("select[name=role]").select_option("channel")
    form.locator("select[name=channel]").select_option("wechat")
    form.locator("button[type=submit]").click()
    admin.page.wait_for_load_state()
    key = admin.page.inner_text("#secret").strip()
    assert "密钥已发放" in main_text(admin) and len(key) >= 20
    admin.shot("admin-key-issued")
    admin.go("/admin/keys")
    assert key not in admin.page.content()
    admin.page.click("tr:has(td:text-is('wechat-gateway-2')) summary")
    assert "已吊销 1 个密钥" in submit(admin, "form[action='/admin/keys/wechat-gateway-2/revoke']")
    assert "wechat-gateway-2" not in admin.page.inner_text("#keys")
    admin.shot("admin-keys")

    for person in (admin, wang):
        person.check()
