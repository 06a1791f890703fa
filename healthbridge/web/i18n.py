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
    "login.username": ("用户名", "Username"),
    "login.password": ("密码", "Password"),
    "login.oidc": ("通过单位统一身份认证登录", "Sign in with your organisation's account"),
    "login.invited_help": (
        "家长：请使用托育机构发给您的邀请链接设置密码。",
        "Parents: set your password with the invitation link your childcare centre sent you.",
    ),
    "login.bad_password": ("用户名或密码不正确。", "The username or password is wrong."),
    "login.locked": (
        "密码错误次数过多，账号已暂时锁定，请15分钟后再试。",
        "Too many wrong passwords: the account is locked for 15 minutes.",
    ),
    "login.throttled": (
        "此设备登录失败次数过多，请15分钟后再试。",
        "Too many failed sign-ins from this device: try again in 15 minutes.",
    ),
    "login.no_identity": (
        "档案中已找不到与此账号对应的人员，请联系管理员。",
        "The record no longer holds the person of this account; contact your administrator.",
    ),
    "login.oidc_failed": (
        "统一身份认证登录未成功，请重试。",
        "Signing in with your organisation's account did not succeed; try again.",
    ),
    "login.oidc_unknown": (
        "此统一身份认证账号未在本系统开通，请联系管理员。",
        "This organisation account has no access here; contact your administrator.",
    ),
    "login.unknown_person": ("档案中没有此人员。", "The record holds no such person."),
    "login.demo_password": (
        "点击下方人员直接进入；也可用其用户名和密码 {password} 登录。",
        "Tap a person below to enter, or sign in with their username and the password {password}.",
    ),
    "login.demo_username": ("用户名 {username}", "username {username}"),
    "invite.title": ("设置密码", "Set your password"),
    "invite.for": ("账号：{name}（用户名 {username}）", "Account: {name} (username {username})"),
    "invite.password": ("新密码（至少8位）", "New password (at least 8 characters)"),
    "invite.confirm": ("再次输入新密码", "New password again"),
    "invite.submit": ("设置密码并登录", "Set password and sign in"),
    "invite.invalid": (
        "邀请链接无效、已使用或已过期，请联系托育机构重新邀请。",
        "The invitation is invalid, used or expired; ask your centre for a new one.",
    ),
    "invite.parent_title": ("邀请家长", "Invite a parent"),
    "invite.related_person": ("家长（监护人）档案编号", "Guardian's record (RelatedPerson)"),
    "invite.username": ("用户名（可留空：使用档案编号）", "Username (blank: the record id)"),
    "invite.create": ("生成邀请链接", "Create invitation link"),
    "invite.link_for": (
        "请将此一次性链接发给 {name}（用户名 {username}），7天内有效：",
        "Send this one-time link to {name} (username {username}); valid for 7 days:",
    ),
    "invite.link_help": (
        "链接只显示这一次；家长打开后自行设置密码。",
        "The link is shown only this once; the parent opens it and sets a password.",
    ),
    "smart.apps": ("在应用中打开", "Open in an app"),
    "smart.title": ("授权应用访问", "Allow an app access"),
    "smart.asks": (
        "应用“{app}”请求以您的身份访问以下数据：",
        "The app “{app}” asks to access the following as you:",
    ),
    "smart.launch_patient": ("当前儿童：{patient}", "For the child: {patient}"),
    "smart.pick": ("选择要在应用中打开的儿童", "Choose the child to open in the app"),
    "smart.allow": ("允许", "Allow"),
    "smart.deny": ("拒绝", "Deny"),
    "smart.bad_client": (
        "应用未登记或回调地址不符，已拒绝。",
        "The app is not registered or its redirect address does not match; refused.",
    ),
    "admin.title": ("账号管理", "Accounts"),
    "admin.create": ("新建工作人员账号", "Create a staff account"),
    "admin.display_name": ("姓名", "Name"),
    "admin.practitioner_role": ("岗位（PractitionerRole 编号）", "Post (PractitionerRole id)"),
    "admin.initial_password": ("初始密码（至少8位）", "Initial password (at least 8 characters)"),
    "admin.oidc_subject": (
        "统一身份认证账号（可选，与身份提供方的 sub 或邮箱一致）",
        "Identity-provider account (optional: its sub or email claim)",
    ),
    "admin.accounts": ("全部账号", "All accounts"),
    "admin.role": ("角色", "Role"),
    "admin.person": ("档案人员 / 机构", "Person / organisation"),
    "admin.inactive": ("已停用", "deactivated"),
    "admin.new_password": ("新密码", "New password"),
    "admin.reset": ("重置密码", "Reset password"),
    "admin.deactivate": ("停用", "Deactivate"),
    "admin.activate": ("启用", "Reactivate"),
    "invite.already_active": (
        "该家长已设置密码；如忘记密码，请联系系统管理员重置。",
        "This parent has already set a password; to reset it, ask the administrator.",
    ),
    "invite.mismatch": ("两次输入的密码不一致。", "The two passwords differ."),
    "account.short_password": ("密码至少需要8位。", "The password needs at least 8 characters."),
    "account.bad_username": ("用户名不能为空或包含空格。", "The username must be one word."),
    "account.taken": ("此用户名已被使用。", "This username is taken."),
    "account.no_identity": (
        "档案中没有可登录的此人员（需在职的保健员、儿科医生或家长）。",
        "The record holds no such person who may sign in (an active staff role or a parent).",
    ),
    "account.unknown": ("没有此账号。", "No such account."),
    "role.admin": ("系统管理员", "Administrator"),
    "role.centre-staff": ("托育机构工作人员", "Centre staff"),
    "role.system": ("系统", "System"),
    "error.csrf": (
        "请求来源无法验证，请返回页面刷新后重试。",
        "The request could not be verified; go back, reload the page and try again.",
    ),
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
    "district.title": ("区级儿童健康报表", "District child-health reports"),
    "district.filters": ("报表条件", "Report settings"),
    "district.as_of": ("统计截止日期", "As of"),
    "district.period_start": ("统计期开始", "Period from"),
    "district.convention": ("营养评价标准", "Nutrition cut-offs"),
    "district.grouping": ("分组", "Grouping"),
    "district.grouping_all": ("全区合计", "Whole district"),
    "district.grouping_centre": ("按托育机构", "By centre"),
    "district.grouping_sex": ("按性别", "By sex"),
    "district.grouping_age_group": ("按月龄组", "By age group"),
    "district.grouping_age_group+sex": ("按月龄组和性别", "By age group and sex"),
    "district.grace_days": ("宽限天数", "Grace days"),
    "district.apply": ("更新报表", "Update"),
    "district.summary": (
        "统计期 {start} 至 {end}；纳入分析 {n} 名儿童（每名儿童取统计期内最近一次测量）。",
        "Period {start} to {end}; {n} children analysed (each child's latest measurement in the"
        " period).",
    ),
    "district.prevalence": ("营养状况患病率", "Nutrition prevalence"),
    "district.prevalence_note": (
        "百分比及其 95% 置信区间（WHO anthro 方法），下方为病例数/有效人数。标准版本 {version}。",
        "Per cent with its 95% confidence interval (WHO anthro method); cases / children below."
        " Conventions version {version}.",
    ),
    "district.group": ("分组", "Group"),
    "district.whole": ("全区", "District"),
    "district.not_enrolled": ("未入托", "Not enrolled"),
    "district.sex_male": ("男童", "Boys"),
    "district.sex_female": ("女童", "Girls"),
    "district.age_group": ("{months} 月龄", "{months} months"),
    "district.indicator": ("指标", "Indicator"),
    "district.figure": ("指标", "Figure"),
    "district.chart": ("图表", "Chart"),
    "district.chart_alt": (
        "所选指标的柱状图（含 95% 置信区间）",
        "Bar chart of the chosen figure with 95% CIs",
    ),
    "district.zscores": ("Z 评分均值", "Mean z-scores"),
    "district.zscores_note": (
        "均值及其 95% 置信区间，下方为有效人数。",
        "Mean with its 95% confidence interval; children below.",
    ),
    "district.zwei": ("年龄别体重", "Weight-for-age"),
    "district.zlen": ("年龄别身长/身高", "Length/height-for-age"),
    "district.zwfl": ("身长/身高别体重", "Weight-for-length/height"),
    "district.zbmi": ("年龄别BMI", "BMI-for-age"),
    "district.zhc": ("年龄别头围", "Head circumference-for-age"),
    "district.checkups": (
        "健康检查覆盖率与系统管理率",
        "Checkup coverage and systematic management",
    ),
    "district.checkups_note": (
        "3岁以下儿童系统管理率按 4:2:2 计算（第1年 3、6、8、12 月龄，第2年 18、24 月龄，"
        "第3年 30、36 月龄）。比例及其 95% 置信区间（Wilson），下方为分子/分母。",
        "The under-3 systematic-management rate counts 4:2:2 visits (year 1: 3, 6, 8, 12"
        " months; year 2: 18, 24; year 3: 30, 36). Rate with its 95% (Wilson) interval;"
        " numerator / denominator below.",
    ),
    "district.vaccination": ("免疫规划疫苗接种率", "Vaccination coverage (NIP)"),
    "district.vaccination_note": (
        "按疫苗和剂次统计已到接种月龄儿童的接种比例。",
        "Children past the due age of each vaccine dose who received it.",
    ),
    "district.admission": ("入托预防接种证查验", "Vaccination checks at admission"),
    "district.admission_note": (
        "统计期内入托儿童完成查验的比例，以及查验发现漏种者完成补种的比例。",
        "Children admitted in the period whose vaccination record was checked, and of those"
        " found incomplete, the share whose catch-up is recorded.",
    ),
    "district.centres": ("托育机构", "Childcare centres"),
    "district.centres_note": (
        "医育结合签约比例；每千人口托位数需配置常住人口数（{population}）。",
        "Share of centres with a signed medical-childcare agreement; places per 1,000 need"
        " the resident population setting ({population}).",
    ),
    "district.no_population": ("未配置", "not set"),
    "district.no_data": ("统计期内没有数据。", "No data in this period."),
    "district.csv": ("下载 CSV", "Download CSV"),
    "district.csv_prevalence": ("患病率 CSV", "Prevalence CSV"),
    "district.csv_zscores": ("Z 评分 CSV", "z-score CSV"),
    "district.csv_coverage": ("覆盖率 CSV", "Coverage CSV"),
    "district.aggregate_only": (
        "本页仅显示汇总数字，不含可识别儿童身份的信息。",
        "Aggregate figures only; no child can be identified on this page.",
    ),
    "district.suppressed_note": (
        "“<3”：该组仅 1–2 名儿童，为保护隐私不显示人数及据此计算的比例和置信区间"
        "（CSV 与接口同样处理）。",
        "“<3”: a group of only 1–2 children; its counts and the figures computed from them are "
        "not shown, to protect privacy (the same in the CSV files and the API).",
    ),
    "footer": (
        "生长评价依据 WHO 儿童生长标准；仅供参考。",
        "Growth assessed with the WHO Child Growth Standards; for information only.",
    ),
    # --- d17b: the paediatrician's clinical view, visit warnings, referrals both ways ---
    "clinical.title": ("临床视图（Z 评分）", "Clinical view (z-scores)"),
    "clinical.target": ("遗传靶身高", "Mid-parental (target) height"),
    "clinical.target_text": (
        "靶身高 {target} cm（范围 {low}–{high} cm；父亲 {father} cm，母亲 {mother} cm；"
        "Tanner 法 ±8.5 cm）",
        "Target height {target} cm (range {low}–{high} cm; father {father} cm, mother "
        "{mother} cm; Tanner's method ±8.5 cm)",
    ),
    "clinical.no_target": (
        "未记录父母身高（可在记录体检时填写）。",
        "The parents' heights are not recorded (enter them with a visit).",
    ),
    "clinical.table": ("全部测量记录", "All measurements"),
    "clinical.date": ("日期", "Date"),
    "clinical.gain": ("距上次增长", "Growth since previous"),
    "clinical.gain_text": (
        "{days} 天：体重 {weight} kg，身长/身高 {length} cm",
        "{days} days: weight {weight} kg, length/height {length} cm",
    ),
    "clinical.per_month": (
        "折合每 30 天 {weight} g、{length} cm",
        "per 30 days {weight} g, {length} cm",
    ),
    "clinical.flagged": ("WHO 标记为不可信", "flagged by WHO"),
    "clinical.note": (
        "Z 评分依据 WHO 儿童生长标准（早产儿 24 月龄前用矫正月龄）；分级按本系统规则集的营养"
        "评价界值（WS/T 423-2022）。",
        "WHO Child Growth Standards z-scores (corrected age for preterm children before 24 "
        "months); grades from the rule set's nutrition cut-offs (WS/T 423-2022).",
    ),
    "visit.parents": ("父母身高（用于靶身高，可选）", "Parents' heights (for the target height)"),
    "visit.father_height": ("父亲身高 (cm)", "Father's height (cm)"),
    "visit.mother_height": ("母亲身高 (cm)", "Mother's height (cm)"),
    "visit.warn_title": (
        "保存前请核对（尚未保存）：",
        "Please check before saving (nothing was saved yet):",
    ),
    "visit.warn_confirm": ("我已核对，确认保存", "I have checked; save anyway"),
    "visit.warn_duplicate_dose": (
        "{vaccine} 第 {dose} 剂已有接种记录，可能重复录入。",
        "{vaccine} dose {dose} is already recorded: possibly a duplicate.",
    ),
    "visit.warn_far": (
        "{field} {value} 与上次（{date}）的 {previous} 相差很大，请复测或核对单位。",
        "{field} {value} is far from the previous value {previous} ({date}): re-measure or "
        "check the unit.",
    ),
    "referral.status_draft": ("草稿", "draft"),
    "referral.status_active": ("待处理", "open"),
    "referral.status_on-hold": ("暂停", "on hold"),
    "referral.status_completed": ("已完成", "completed"),
    "referral.status_revoked": ("已撤销", "revoked"),
    "referral.status_entered-in-error": ("录入错误", "entered in error"),
    "referral.status_unknown": ("未知", "unknown"),
    "referral.title": ("转诊", "Referral"),
    "referral.section": ("转诊与医院的处理计划", "Referrals and the hospital's plan"),
    "referral.to": ("转至", "to"),
    "referral.stage_sent": ("已转出，等待医院接收", "Sent; waiting for the hospital"),
    "referral.stage_accepted": ("医院已接收，正在处理", "Accepted by the hospital"),
    "referral.stage_rejected": (
        "医院未接收，保健医生会另行安排",
        "Declined by the hospital; the health manager will arrange another",
    ),
    "referral.stage_answered": ("医院已答复并结束转诊", "Answered and closed by the hospital"),
    "referral.stage_revoked": ("转诊已撤销", "Referral withdrawn"),
    "referral.findings": ("医院检查结果", "Hospital findings"),
    "referral.plan": ("处理计划", "Plan"),
    "referral.follow_up": ("复诊日期", "Follow-up date"),
    "referral.accept": ("接收转诊", "Accept the referral"),
    "referral.answer": ("答复并结束转诊", "Answer and close"),
    "referral.answer_close": ("保存答复并结束转诊", "Save the answer and close"),
    "referral.decline": ("不接收", "Decline"),
    "referral.decline_reason": ("不接收的原因", "Reason for declining"),
    "referral.answered_note": (
        "已答复并结束转诊；托育机构和家长可以看到处理计划。",
        "Answered and closed; the centre and the parents see the plan.",
    ),
    "referral.err_answer": (
        "请填写检查结果和处理计划。",
        "Enter the findings and the plan.",
    ),
    "referral.err_long": ("内容过长（最多 2000 字）。", "Too long (2,000 characters at most)."),
    "referral.err_date": ("复诊日期无效或早于今天。", "The follow-up date is invalid or past."),
    "referral.err_closed": ("此转诊已结束。", "This referral is closed."),
    "referral.err_action": ("未知操作。", "Unknown action."),
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
