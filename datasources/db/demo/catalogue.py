"""Fixed catalogues the demo generator draws from: departments, names, titles, texts."""

from __future__ import annotations

from domain.enums import ArticleCategory, ConsultService, EntryKind, HomepageModule, StaffRole

# (code, name, location, specialties offered by its doctors)
DEPARTMENTS: list[tuple[str, str, str, list[str]]] = [
    ("CARD", "心血管内科", "门诊楼3层A区", ["高血压", "冠心病", "心律失常", "心力衰竭"]),
    ("RESP", "呼吸与危重症医学科", "门诊楼3层B区", ["慢阻肺", "哮喘", "肺结节", "肺部感染"]),
    ("GAST", "消化内科", "门诊楼3层C区", ["胃炎", "消化性溃疡", "炎症性肠病", "消化内镜"]),
    ("NEUR", "神经内科", "门诊楼4层A区", ["脑卒中", "头痛", "帕金森病", "癫痫"]),
    ("ENDO", "内分泌科", "门诊楼4层B区", ["糖尿病", "甲状腺疾病", "骨质疏松", "肥胖"]),
    ("NEPH", "肾内科", "门诊楼4层C区", ["慢性肾病", "肾炎", "透析管理"]),
    ("HEMA", "血液科", "门诊楼5层A区", ["贫血", "白血病", "淋巴瘤"]),
    ("RHEU", "风湿免疫科", "门诊楼5层B区", ["类风湿关节炎", "系统性红斑狼疮", "痛风"]),
    ("GERI", "老年医学科", "门诊楼1层C区", ["老年综合评估", "多病共存", "认知障碍"]),
    ("GP", "全科医学科", "门诊楼1层A区", ["常见病", "慢病管理", "健康咨询"]),
    ("GSUR", "普通外科", "门诊楼6层A区", ["甲状腺结节", "疝", "胆囊结石"]),
    ("ORTH", "骨科", "门诊楼6层B区", ["关节置换", "脊柱外科", "运动损伤"]),
    ("NSUR", "神经外科", "门诊楼6层C区", ["脑肿瘤", "脑血管病", "颅脑外伤"]),
    ("CSUR", "心脏大血管外科", "门诊楼7层A区", ["冠脉搭桥", "瓣膜病", "主动脉疾病"]),
    ("THOR", "胸外科", "门诊楼7层B区", ["肺癌", "食管癌", "纵隔肿瘤"]),
    ("UROL", "泌尿外科", "门诊楼7层C区", ["前列腺疾病", "泌尿系结石", "泌尿系肿瘤"]),
    ("HEPA", "肝胆外科", "门诊楼8层A区", ["肝癌", "胆道疾病", "胰腺疾病"]),
    ("GYNE", "妇科", "门诊楼2层A区", ["子宫肌瘤", "妇科肿瘤", "更年期"]),
    ("OBST", "产科", "门诊楼2层B区", ["产前检查", "高危妊娠", "产后康复"]),
    ("PEDI", "儿科", "门诊楼2层C区", ["儿童呼吸", "儿童生长发育", "新生儿"]),
    ("OPHT", "眼科", "门诊楼9层A区", ["白内障", "青光眼", "眼底病"]),
    ("ENT", "耳鼻咽喉头颈外科", "门诊楼9层B区", ["鼻炎", "中耳炎", "咽喉疾病"]),
    ("STOM", "口腔科", "门诊楼9层C区", ["牙周病", "口腔修复", "正畸"]),
    ("DERM", "皮肤科", "门诊楼8层B区", ["湿疹", "银屑病", "痤疮"]),
    ("PSYC", "精神心理科", "门诊楼8层C区", ["抑郁", "焦虑", "睡眠障碍"]),
    ("TCM", "中医科", "门诊楼1层B区", ["中医调理", "针灸", "慢病中医治疗"]),
    ("REHA", "康复医学科", "康复楼1层", ["卒中康复", "骨科康复", "疼痛康复"]),
    ("ONCO", "肿瘤科", "门诊楼10层A区", ["化疗", "靶向治疗", "肿瘤随访"]),
    ("EMER", "急诊科", "急诊楼1层", ["急危重症", "中毒", "创伤"]),
    ("PHAR", "药学部", "门诊楼1层药房", ["用药咨询", "药物相互作用", "慢病用药管理"]),
]
PHARMACY_CODE = "PHAR"
GP_CODE = "GP"

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉宁晨晓雪琳颖婷博思远志宏")

TITLES: dict[StaffRole, list[tuple[str, int]]] = {
    # (title, relative weight)
    StaffRole.DOCTOR: [("主任医师", 2), ("副主任医师", 3), ("主治医师", 4), ("住院医师", 2)],
    StaffRole.NURSE: [("主任护师", 1), ("副主任护师", 2), ("主管护师", 4), ("护师", 3)],
    StaffRole.PHARMACIST: [("主任药师", 1), ("副主任药师", 2), ("主管药师", 3), ("药师", 2)],
}
NURSE_SPECIALTIES = ["伤口造口护理", "糖尿病护理", "母婴护理", "PICC维护", "老年护理"]

SERVICE_ENTRIES: list[tuple[ConsultService, str, str, str, list[str]]] = [
    (
        ConsultService.FOLLOW_UP,
        "复诊续方",
        "在本院就诊过的复诊患者在线续方",
        "近期在本院线下就诊过的患者，可向医生、护士、药师在线复诊、续开处方。",
        ["选择就诊人", "近期在本院同科室线下就诊记录", "在线支付"],
    ),
    (
        ConsultService.VIDEO,
        "视频问诊",
        "与医生面对面视频交流",
        "通过第三方视频服务与医生视频问诊，进入前请阅读并同意知情同意书。",
        ["选择就诊人", "阅读并同意知情同意书", "在线支付"],
    ),
    (
        ConsultService.RAPID,
        "极速咨询",
        "互联网全科医生快速回复",
        "由互联网专职办公室全科医生团队接诊，通常几分钟内回复。",
        ["选择就诊人", "描述病情", "在线支付"],
    ),
    (
        ConsultService.TEAM,
        "团队咨询",
        "专家团队联合出具意见",
        "选择医生团队并提交预约信息，协调员联系您并组织团队专家，线上出具团队意见书。",
        ["选择就诊人", "选择医生团队", "填写病情与预约时间", "在线支付"],
    ),
    (
        ConsultService.MDT,
        "MDT多学科诊疗",
        "多学科专家视频会诊",
        "提交预约信息并支付后，协调员联系您安排多学科专家视频会诊，会后在线查看MDT意见书。",
        ["选择就诊人", "选择需要的学科", "填写病情与预约时间", "在线支付"],
    ),
]

ENTRIES: list[tuple[EntryKind, str, str]] = [
    (EntryKind.POINTS_MALL, "积分商城", "/pages/points/index"),
    (EntryKind.BUSINESS_EXPANSION, "业务拓展", "/pages/business/index"),
    (EntryKind.MY_BENEFITS, "我的权益", "/pages/benefits/index"),
]

THEME_TOKENS: list[tuple[str, str, str, str]] = [
    # (name, standard, elder, description)
    ("primary", "#0B6E4F", "#075E43", "主色：按钮、选中状态"),
    ("onPrimary", "#FFFFFF", "#FFFFFF", "主色上的文字"),
    ("background", "#F5F7F6", "#FFFFFF", "页面背景"),
    ("surface", "#FFFFFF", "#FFFFFF", "卡片背景"),
    ("text", "#1F2933", "#000000", "正文文字"),
    ("textSecondary", "#52606D", "#323F4B", "次要文字"),
    ("accent", "#C8102E", "#A50E26", "强调色：榜单、提醒"),
]

MODULE_ORDER: dict[str, list[HomepageModule]] = {
    "STANDARD": [
        HomepageModule.CONSULT_ZONE,
        HomepageModule.FEATURED_DEPARTMENTS,
        HomepageModule.RANKINGS,
        HomepageModule.PATIENT_SERVICES,
        HomepageModule.ENTRIES,
        HomepageModule.ARTICLES,
    ],
    # 长辈版: fewer modules, the services an elderly patient needs first.
    "ELDER": [HomepageModule.CONSULT_ZONE, HomepageModule.PATIENT_SERVICES, HomepageModule.FEATURED_DEPARTMENTS],
}

ARTICLE_TOPICS: dict[ArticleCategory, list[str]] = {
    ArticleCategory.SCIENCE: [
        "高血压患者冬季如何平稳控压",
        "糖尿病饮食的五个误区",
        "体检发现肺结节，一定是肺癌吗",
        "老年人跌倒的预防与居家改造",
        "儿童反复咳嗽，家长该注意什么",
        "胃镜检查前后的注意事项",
        "骨质疏松：从年轻时开始预防",
        "失眠了怎么办？睡眠科医生的建议",
        "甲状腺结节需要手术吗",
        "痛风发作期的饮食与用药",
        "脑卒中的早期识别：BE FAST",
        "正确测量家庭血压的方法",
        "慢阻肺患者的呼吸训练",
        "孕期营养与体重管理",
        "白内障手术的最佳时机",
        "抗生素不是消炎药",
        "幽门螺杆菌感染要不要治",
        "心脏支架术后的自我管理",
        "带状疱疹后神经痛的防治",
        "冬季儿童流感的家庭护理",
    ],
    ArticleCategory.NEWS: [
        "互联网医院新增夜间极速咨询时段",
        "我院上线电子伴诊服务",
        "医保线上支付开通说明",
        "门诊检验报告可在线查询",
        "春节期间门诊安排",
        "MDT多学科诊疗线上预约开放",
        "药学门诊在线用药咨询上线",
        "长辈版界面上线，字更大更清楚",
        "线上复诊续方配送范围扩大",
        "健康档案新增检验指标趋势图",
        "互联网医院服务时间调整公告",
        "慢病长处方政策解读",
        "医生团队咨询服务介绍",
        "预约挂号新规则说明",
        "线上问诊隐私保护说明",
    ],
    ArticleCategory.HOSPITAL_NEWS: [
        "我院心血管内科获评国家临床重点专科",
        "我院成功完成首例机器人辅助关节置换手术",
        "医院开展世界糖尿病日义诊活动",
        "我院与社区卫生服务中心签约医联体",
        "护理团队获省级优质护理服务示范病房",
        "我院举办互联网医院建设研讨会",
        "援疆医疗队圆满完成任务归来",
        "医院新门诊大楼正式启用",
        "我院获评改善医疗服务示范医院",
        "急诊科开展应急演练",
        "医院开展适老化就医环境改造",
        "我院多学科团队成功救治危重患者",
        "医院志愿者服务队获表彰",
        "我院开展全民健康生活方式宣传周活动",
        "药学部开展合理用药宣传活动",
    ],
}

# Keywords that become an article's tags when its title contains them.
ARTICLE_TAGS = [
    "高血压", "血压", "糖尿病", "儿童", "老年", "长辈", "睡眠", "饮食", "用药", "心脏", "心血管", "肺",
    "骨", "孕期", "流感", "结节", "互联网医院", "MDT", "复诊", "医保", "健康档案", "护理", "急诊",
]  # fmt: skip
PINNED_ARTICLES = {"高血压患者冬季如何平稳控压", "互联网医院新增夜间极速咨询时段"}

REVIEWS_GOOD = [
    "医生很耐心，讲解清楚",
    "回复及时，非常专业",
    "态度很好，谢谢医生",
    "续方很方便，省了跑医院",
    "解答详细，放心了",
]
REVIEWS_BAD = ["回复有点慢", "没有完全解决我的问题", "等待时间较长"]
