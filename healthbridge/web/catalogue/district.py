"""Messages (zh-CN, English) of the official's report pages (district, city, province)."""

from __future__ import annotations

from typing import Final

MESSAGES: Final[dict[str, tuple[str, str]]] = {
    "district.title": ("辖区儿童健康报表", "Child-health reports of the area"),
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
    "district.absence_link": ("因病缺勤（按班级与原因）", "Sick absence by class and cause"),
    # jurisdictions: province > city > district > centre (issue 19 item 4)
    "area.jurisdiction": ("辖区：", "Area: "),
    "area.everything": ("全部辖区", "All areas"),
    "area.level_province": ("省", "province"),
    "area.level_city": ("市", "city"),
    "area.level_district": ("县/区", "county/district"),
    "area.level_all": ("全部", "all"),
    "area.up": ("上一级", "Up"),
    "area.compare": ("各下级辖区比较", "Sub-areas side by side"),
    "area.compare_note": (
        "每一行均按该辖区的儿童计算（非下级比例的平均）；本辖区一行为全部儿童合计。患病率取统计期内"
        "每名儿童最近一次测量；系统管理率为 4:2:2；MMR 第1剂为 8 月龄接种。"
        "点击辖区名称查看该辖区。",
        "Each row is computed from that area's children (not an average of rates); the first "
        "row is all children of the area. Prevalence: each child's latest measurement in the "
        "period; management rate: 4:2:2; MMR dose 1 due at 8 months. Open an area by its name.",
    ),
    "area.area": ("辖区", "Area"),
    "area.compare_chart": ("比较图 · 指标", "Comparison chart · figure"),
    "area.trend": ("近四个季度趋势", "Trend over the last four quarters"),
    "area.trend_note": (
        "患病率取每季度内每名儿童最近一次测量；覆盖率为季度末前 365 天。",
        "Prevalence: each child's latest measurement in the quarter; coverage: the 365 days "
        "ending at the quarter's end.",
    ),
    "area.quarter": ("{year}年第{q}季度", "{year} Q{q}"),
    "area.period": ("季度", "Quarter"),
    "area.csv_areas": ("辖区比较 CSV", "Areas CSV"),
    "area.csv_trend": ("趋势 CSV", "Trend CSV"),
    "area.chart_alt": ("各辖区比较图", "Chart of the areas compared"),
    "area.trend_alt": ("季度趋势折线图", "Line chart of the quarterly trend"),
    # population per area (issue 19 item 4)
    "area.no_population": ("未配置人口数", "population not configured"),
    "area.population_note": (
        "每千人口托位数 = 辖区内托育机构托位数 ÷（常住人口 / 1000）；常住人口取该辖区组织的"
        "人口扩展，未填写时为各下级辖区之和（须每个下级都已填写），否则显示“未配置人口数”。",
        "Places per 1,000 = the area's childcare places ÷ (resident population / 1,000); the "
        "population is the area organisation's own figure, else the sum of its sub-areas' (only "
        'when every one has one), else "population not configured".',
    ),
}
