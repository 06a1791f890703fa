"""The web pages' message catalogue (zh-CN default, English) and language selection.

Every user-facing string of the pages is a key here; templates call ``t("key", **values)``.
The language comes from ``?lang=zh|en`` (remembered in a cookie), else the cookie, else zh.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from starlette.requests import Request

from healthbridge.charts.labels import Lang

LANG_COOKIE: Final = "hb_lang"

MESSAGES: Final[Mapping[str, tuple[str, str]]] = {
    # (zh-CN, English)
    "app.title": ("医育融合儿童健康档案", "HealthBridge child health record"),
    "nav.home": ("首页", "Home"),
    "nav.logout": ("退出", "Log out"),
    "nav.lang": ("English", "中文"),
    "login.title": ("登录", "Log in"),
    "login.token": ("访问令牌", "Access token"),
    "login.token_help": (
        "请粘贴机构为您签发的访问令牌。",
        "Paste the access token issued to you by your organisation.",
    ),
    "login.submit": ("登录", "Log in"),
    "login.demo": ("演示账号（仅限演示环境）", "Demo accounts (demo setting only)"),
    "login.as": ("以此身份登录", "Log in as"),
    "login.bad_token": ("令牌无效或已过期。", "The token is invalid or has expired."),
    "login.no_secret": (
        "服务器未配置令牌验证，无法登录。",
        "The server has no token verification configured; logging in is not possible.",
    ),
    "role.parent": ("家长", "Parent"),
    "role.health-manager": ("托育机构保健员", "Centre health manager"),
    "role.paediatrician": ("儿科医生", "Paediatrician"),
    "role.district-official": ("区卫生健康管理人员", "District official"),
    "error.forbidden": ("您无权查看此页面。", "You may not see this page."),
    "error.not_found": ("未找到。", "Not found."),
    "parent.title": ("我的孩子", "My children"),
    "parent.none": ("没有与您关联的儿童。", "No child is linked to you."),
    "child.born": ("出生日期", "Born"),
    "child.age": ("月龄", "Age (months)"),
    "child.centre": ("托育机构", "Childcare centre"),
    "child.growth": ("生长发育", "Growth"),
    "child.latest": ("最近测量", "Latest measurements"),
    "child.no_measurements": ("还没有测量记录。", "No measurements yet."),
    "child.vaccines": ("预防接种", "Vaccinations"),
    "child.vaccines_due": ("待接种", "Due"),
    "child.vaccines_given": ("已接种", "Given"),
    "child.none_due": ("目前没有待接种的疫苗。", "No vaccination is due now."),
    "child.next_checkup": ("下次体检", "Next checkup"),
    "child.no_checkup": ("暂无待安排的体检。", "No checkup is scheduled."),
    "child.alerts": ("需要关注的情况", "Things to look at"),
    "child.no_alerts": ("目前没有需要关注的情况。", "Nothing needs attention now."),
    "child.alert_kind_note": (
        "保健医生会与您联系。如有疑问，请咨询儿童保健医生。",
        "The health team will contact you. Please ask your child-health doctor any question.",
    ),
    "child.report": ("下载生长报告 (PDF)", "Download the growth report (PDF)"),
    "child.consents": ("数据共享授权", "Data-sharing consents"),
    "child.consent_active": ("已授权", "Shared"),
    "child.consent_inactive": ("已撤回", "Withdrawn"),
    "child.consent_withdraw": ("撤回授权", "Withdraw"),
    "child.consent_grant": ("恢复授权", "Share again"),
    "child.consent_with": ("共享给", "Shared with"),
    "child.no_consents": ("没有数据共享授权。", "No data-sharing consent."),
    "child.implausible": (
        "该数值可能测量有误，请下次复测。",
        "This value may be a measuring error; it will be re-measured.",
    ),
    "child.history": ("就诊与测量记录", "Visits and measurements"),
    "chart.indicator": ("指标", "Indicator"),
    "status.given": ("已接种", "given"),
    "status.due": ("应接种", "due"),
    "status.overdue": ("已逾期，请尽快补种", "overdue, please catch up soon"),
    "status.not-yet-due": ("未到接种时间", "not yet due"),
    "manager.title": ("预警工作清单", "Alert worklist"),
    "manager.children": ("本园儿童", "Children at the centre"),
    "manager.filter": ("筛选", "Filter"),
    "manager.filter_all": ("全部", "All"),
    "manager.filter_open": ("待处理", "Open"),
    "manager.filter_kind": ("预警类型", "Alert kind"),
    "manager.empty": ("没有待处理的预警。", "No alert to review."),
    "manager.child": ("儿童", "Child"),
    "manager.kind": ("预警", "Alert"),
    "manager.since": ("日期", "Since"),
    "manager.severity": ("级别", "Severity"),
    "manager.task": ("处理状态", "Review status"),
    "manager.actions": ("操作", "Actions"),
    "manager.acknowledge": ("确认", "Acknowledge"),
    "manager.note": ("备注", "Note"),
    "manager.resolve": ("已处理", "Resolve"),
    "manager.refer": ("转诊", "Refer"),
    "manager.text": ("说明", "Text"),
    "manager.refer_to": ("转诊至", "Refer to"),
    "manager.done": ("已保存。", "Saved."),
    "manager.bad_action": (
        "操作未完成：备注需要填写说明，转诊需要选择接收机构。",
        "Not done: a note needs a text and a referral a receiving hospital.",
    ),
    "manager.daily": ("晨午检登记", "Daily health check"),
    "manager.admission": ("入托预防接种查验", "Admission vaccination check"),
    "task.requested": ("待处理", "to do"),
    "task.accepted": ("已确认", "acknowledged"),
    "task.in-progress": ("处理中", "in progress"),
    "task.completed": ("已完成", "done"),
    "task.none": ("待处理", "to do"),
    "severity.low": ("低", "low"),
    "severity.moderate": ("中", "moderate"),
    "severity.high": ("高", "high"),
    "daily.class": ("班级", "Class"),
    "daily.date": ("日期", "Date"),
    "daily.temperature": ("体温 (℃)", "Temperature (°C)"),
    "daily.symptoms": ("症状", "Symptoms"),
    "daily.save": ("保存晨检", "Save the check"),
    "daily.saved": ("已保存 {n} 名儿童的晨检。", "Saved the check of {n} children."),
    "daily.bad_temperature": (
        "{child} 的体温 {value} 不在 34–43 ℃ 之间。",
        "{child}: temperature {value} is not between 34 and 43 °C.",
    ),
    "symptom.cough": ("咳嗽", "cough"),
    "symptom.runny-nose": ("流涕", "runny nose"),
    "symptom.sore-throat": ("咽痛", "sore throat"),
    "symptom.diarrhoea": ("腹泻", "diarrhoea"),
    "symptom.vomiting": ("呕吐", "vomiting"),
    "symptom.rash": ("皮疹", "rash"),
    "admission.entry": ("入托日期", "Entry date"),
    "admission.deadline": ("查验期限", "Check by"),
    "admission.missing": ("需补种", "Doses to catch up"),
    "admission.complete": ("接种完整", "Complete"),
    "doctor.title": ("儿科医生工作台", "Paediatrician desk"),
    "doctor.patients": ("已授权共享的儿童", "Children shared with your hospital"),
    "doctor.referrals": ("收到的转诊", "Referrals received"),
    "doctor.no_referrals": ("没有转诊。", "No referral."),
    "doctor.new_visit": ("记录体检", "Record a visit"),
    "visit.title": ("儿童健康检查", "Child health check"),
    "visit.date": ("检查日期", "Visit date"),
    "visit.type": ("检查类型", "Visit"),
    "visit.weight": ("体重 (kg)", "Weight (kg)"),
    "visit.length": ("身长/身高 (cm)", "Length/height (cm)"),
    "visit.measure": ("测量方式", "Measured"),
    "visit.lying": ("卧位（身长）", "lying (length)"),
    "visit.standing": ("立位（身高）", "standing (height)"),
    "visit.headc": ("头围 (cm)", "Head circumference (cm)"),
    "visit.temperature": ("体温 (℃)", "Temperature (°C)"),
    "visit.hb": ("血红蛋白 (g/L)", "Haemoglobin (g/L)"),
    "visit.vaccines": ("本次接种", "Vaccinations given"),
    "visit.lot": ("批号", "Lot"),
    "visit.warning": ("心理行为发育预警征象", "Developmental warning signs"),
    "visit.warning_none": ("未发现预警征象", "No warning sign"),
    "visit.warning_positive": ("发现预警征象", "Warning sign present"),
    "visit.findings": ("检查结论", "Findings"),
    "visit.referral": ("转诊（可选）", "Referral (optional)"),
    "visit.referral_reason": ("转诊原因", "Reason for referral"),
    "visit.save": ("保存本次检查", "Save the visit"),
    "visit.saved": ("已保存本次检查。", "The visit was saved."),
    "visit.err_date": ("检查日期无效或晚于今天。", "The visit date is invalid or in the future."),
    "visit.err_number": ("{field} 应为数字。", "{field} must be a number."),
    "visit.err_range": (
        "{field} 的数值 {value} 超出可能范围（{low}–{high}）。",
        "{field}: {value} is outside the possible range ({low}–{high}).",
    ),
    "visit.err_empty": ("请至少填写一项测量值。", "Enter at least one measurement."),
    "visit.err_before_birth": ("检查日期早于出生日期。", "The visit date is before birth."),
    "visit.err_vaccine": ("未知疫苗：{value}。", "Unknown vaccine: {value}."),
    "visit.err_server": ("服务器拒绝保存：{detail}", "The server refused to save: {detail}"),
    "visit.saved_note": ("本次检查已保存。", "The visit was saved."),
    "visit.err_referral": ("转诊需要填写原因。", "A referral needs a reason."),
    "district.title": ("区级报表", "District reports"),
    "district.pending": (
        "覆盖率与患病率页面将在报表接口合并后提供。",
        "Coverage and prevalence pages arrive with the reports API.",
    ),
    "footer": (
        "生长评价依据 WHO 儿童生长标准；仅供参考。",
        "Growth assessed with the WHO Child Growth Standards; for information only.",
    ),
}


def pick_lang(request: Request) -> Lang:
    """``?lang=`` first, then the cookie, else Chinese."""
    for raw in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if raw in ("zh", "en"):
            return Lang(raw)
    return Lang.ZH


class Translator:
    """``t(key, **values)`` in one language; unknown keys raise (a missing catalogue entry is
    a bug, caught by the tests that render every page)."""

    def __init__(self, lang: Lang) -> None:
        self.lang = lang

    def __call__(self, key: str, **values: object) -> str:
        zh, en = MESSAGES[key]
        text = zh if self.lang is Lang.ZH else en
        return text.format(**values) if values else text
