"""Health-record rules with no I/O: how reports are classified, what makes a value abnormal, how a
reference range is read and shown, and the plain-language names of common lab indicators.

The HIS speaks FHIR R4 codes; these tables turn them into what a patient (often elderly) reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class ReportKind(StrEnum):
    LAB = "LAB"  # 检验: blood, urine, chemistry, microbiology...
    EXAM = "EXAM"  # 检查: imaging, ultrasound, ECG, endoscopy, pathology...


class VisitKind(StrEnum):
    OUTPATIENT = "OUTPATIENT"  # 门诊
    EMERGENCY = "EMERGENCY"  # 急诊
    INPATIENT = "INPATIENT"  # 住院
    OTHER = "OTHER"  # 其他: home visits, virtual encounters...


class ResultFlag(StrEnum):
    NORMAL = "NORMAL"
    HIGH = "HIGH"
    LOW = "LOW"
    CRITICAL_HIGH = "CRITICAL_HIGH"
    CRITICAL_LOW = "CRITICAL_LOW"
    ABNORMAL = "ABNORMAL"
    CRITICAL = "CRITICAL"


class FlagSource(StrEnum):
    REPORTED = "REPORTED"  # the laboratory's own interpretation (Observation.interpretation)
    REFERENCE_RANGE = "REFERENCE_RANGE"  # derived here by comparing the value with its range


REPORT_KIND_LABELS = {ReportKind.LAB: "检验", ReportKind.EXAM: "检查"}
VISIT_KIND_LABELS = {
    VisitKind.OUTPATIENT: "门诊",
    VisitKind.EMERGENCY: "急诊",
    VisitKind.INPATIENT: "住院",
    VisitKind.OTHER: "其他",
}

# ---- DiagnosticReport.category: HL7 v2 table 0074 (Diagnostic Service Section ID) ----------------

V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"

# Laboratory sections: specimens analysed in a lab (检验).
LAB_SECTIONS: dict[str, str] = {
    "LAB": "检验",
    "HM": "血液学检验",
    "CH": "生化检验",
    "MB": "微生物检验",
    "MCB": "分枝杆菌检验",
    "MYC": "真菌检验",
    "BG": "血气分析",
    "BLB": "输血检验",
    "CG": "细胞遗传学检验",
    "GE": "基因检测",
    "IMM": "免疫检验",
    "SR": "血清学检验",
    "TX": "毒理检验",
    "VR": "病毒检验",
    "OSL": "外送检验",
    "HLA": "组织配型",
}
# Examinations of the body itself, and pathology, which hospitals file with them (检查).
EXAM_SECTIONS: dict[str, str] = {
    "RAD": "放射检查",
    "CT": "CT检查",
    "NMR": "磁共振检查",
    "NMS": "核医学检查",
    "RX": "X线检查",
    "XRC": "X线造影",
    "RUS": "超声检查",
    "US": "超声检查",
    "CUS": "心脏超声",
    "OUS": "产科超声",
    "VUS": "血管超声",
    "EC": "心电检查",
    "EN": "神经电生理检查",
    "CTH": "心导管检查",
    "PF": "肺功能检查",
    "AU": "听力检查",
    "PAT": "病理检查",
    "SP": "病理检查",
    "CP": "细胞病理检查",
    "OTH": "其他检查",
}


@dataclass(frozen=True)
class Classification:
    kind: ReportKind
    section: str | None  # the v2-0074 code that decided it, if one did
    section_label: str | None


def classify_report(section_codes: Iterable[str], *, has_results: bool) -> Classification:
    """检验 or 检查 from the report's v2-0074 categories; without a known one, a report that carries
    result values is a lab report and one that does not (a conclusion, images) an examination."""
    codes = [code.strip().upper() for code in section_codes if code and code.strip()]
    # An explicit laboratory section wins over a generic one (e.g. HM with OTH).
    for code in codes:
        if code in LAB_SECTIONS:
            return Classification(ReportKind.LAB, code, LAB_SECTIONS[code])
    for code in codes:
        if code in EXAM_SECTIONS:
            return Classification(ReportKind.EXAM, code, EXAM_SECTIONS[code])
    return Classification(ReportKind.LAB if has_results else ReportKind.EXAM, None, None)


# ---- Encounter.class: HL7 v3 ActCode ----------------------------------------------------------

V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"

_VISIT_KINDS = {
    "AMB": VisitKind.OUTPATIENT,
    "EMER": VisitKind.EMERGENCY,
    "IMP": VisitKind.INPATIENT,
    "ACUTE": VisitKind.INPATIENT,
    "NONAC": VisitKind.INPATIENT,
    "SS": VisitKind.INPATIENT,  # short stay: admitted, if briefly
}


def visit_kind(class_code: str | None) -> VisitKind:
    return _VISIT_KINDS.get((class_code or "").strip().upper(), VisitKind.OTHER)


# ---- Observation.interpretation: HL7 v3 ObservationInterpretation ------------------------------

V3_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"

_INTERPRETATIONS = {
    "N": ResultFlag.NORMAL,
    "H": ResultFlag.HIGH,
    "HU": ResultFlag.HIGH,
    ">": ResultFlag.HIGH,
    "L": ResultFlag.LOW,
    "LU": ResultFlag.LOW,
    "<": ResultFlag.LOW,
    "HH": ResultFlag.CRITICAL_HIGH,
    "LL": ResultFlag.CRITICAL_LOW,
    "A": ResultFlag.ABNORMAL,
    "AA": ResultFlag.CRITICAL,
}
# When a result carries several interpretations, the most serious one is shown.
_SEVERITY = {
    ResultFlag.NORMAL: 0,
    ResultFlag.ABNORMAL: 1,
    ResultFlag.HIGH: 2,
    ResultFlag.LOW: 2,
    ResultFlag.CRITICAL: 3,
    ResultFlag.CRITICAL_HIGH: 3,
    ResultFlag.CRITICAL_LOW: 3,
}


def flag_from_interpretation(codes: Iterable[str]) -> ResultFlag | None:
    flags = [_INTERPRETATIONS[code.strip().upper()] for code in codes if code.strip().upper() in _INTERPRETATIONS]
    return max(flags, key=lambda flag: _SEVERITY[flag]) if flags else None


def flag_from_range(value: float, low: float | None, high: float | None) -> ResultFlag | None:
    """Both bounds are inclusive (FHIR referenceRange); no bound at all gives no flag."""
    if low is None and high is None:
        return None
    if high is not None and value > high:
        return ResultFlag.HIGH
    if low is not None and value < low:
        return ResultFlag.LOW
    return ResultFlag.NORMAL


def is_abnormal(flag: ResultFlag | None) -> bool:
    return flag is not None and flag is not ResultFlag.NORMAL


@dataclass(frozen=True)
class FlagText:
    symbol: str  # shown next to the value, so the flag never depends on colour alone
    label: str  # plain words, also read aloud


FLAG_TEXT = {
    ResultFlag.NORMAL: FlagText("", "正常"),
    ResultFlag.HIGH: FlagText("↑", "偏高"),
    ResultFlag.LOW: FlagText("↓", "偏低"),
    ResultFlag.CRITICAL_HIGH: FlagText("↑↑", "明显偏高，请尽快联系医生"),
    ResultFlag.CRITICAL_LOW: FlagText("↓↓", "明显偏低，请尽快联系医生"),
    ResultFlag.ABNORMAL: FlagText("*", "异常"),
    ResultFlag.CRITICAL: FlagText("**", "明显异常，请尽快联系医生"),
}


# ---- reference ranges --------------------------------------------------------------------------


@dataclass(frozen=True)
class RangeBounds:
    low: float | None
    high: float | None
    unit: str | None
    text: str | None


def _number(value: float) -> str:
    return f"{value:g}"


def describe_range(bounds: RangeBounds) -> str | None:
    """ "3.9–6.1 mmol/L", "≤ 4.5 mmol/L", "≥ 1.5 mmol/L", or the laboratory's own text."""
    unit = f" {bounds.unit}" if bounds.unit else ""
    if bounds.low is not None and bounds.high is not None:
        return f"{_number(bounds.low)}–{_number(bounds.high)}{unit}"
    if bounds.high is not None:
        return f"≤ {_number(bounds.high)}{unit}"
    if bounds.low is not None:
        return f"≥ {_number(bounds.low)}{unit}"
    text = (bounds.text or "").strip()
    return " ".join(text.split()) or None


# ---- units -------------------------------------------------------------------------------------

UCUM = "http://unitsofmeasure.org"


def unit_key(unit: str | None, *, system: str | None = None, code: str | None = None) -> str | None:
    """What makes two values comparable: the UCUM code when given, else the unit as written."""
    if system == UCUM and code and code.strip():
        return code.strip()
    return unit.strip() if unit and unit.strip() else None


# ---- plain-language names of common indicators (LOINC) -------------------------------------------

LOINC = "http://loinc.org"


@dataclass(frozen=True)
class Indicator:
    name: str  # the name a Chinese patient knows from the printed report
    explanation: str  # one sentence in plain language


_CBC_WBC = Indicator("白细胞计数", "白细胞是身体抵抗感染的“卫士”，偏高常见于感染或炎症，偏低时抵抗力可能下降。")
_HB = Indicator("血红蛋白", "血红蛋白帮助血液携带氧气，偏低说明可能有贫血。")
_TC = Indicator("总胆固醇", "血液中胆固醇的总量，长期偏高会增加心脑血管疾病的风险。")
_TG = Indicator("甘油三酯", "血液中的一种脂肪，和饮食、饮酒、体重关系密切。")
_HDL = Indicator("高密度脂蛋白胆固醇", "常说的“好”胆固醇，偏低不利于血管健康。")
_LDL = Indicator("低密度脂蛋白胆固醇", "常说的“坏”胆固醇，偏高会沉积在血管壁上，增加心梗、脑梗的风险。")
_GLU = Indicator("血糖", "血液中葡萄糖的含量，用来筛查和监测糖尿病。")
_EGFR = Indicator("估算肾小球滤过率", "根据肌酐估算的肾脏过滤能力，数值越低说明肾功能越差。")

INDICATORS: dict[str, Indicator] = {
    # 血常规
    "58410-2": Indicator("血常规", "检查血液中各种细胞的数量和比例。"),
    "6690-2": _CBC_WBC,
    "26464-8": _CBC_WBC,
    "789-8": Indicator("红细胞计数", "红细胞负责把氧气运到全身，偏低可能是贫血。"),
    "718-7": _HB,
    "4544-3": Indicator("红细胞压积", "血液中红细胞所占的比例，和贫血、脱水有关。"),
    "787-2": Indicator("平均红细胞体积", "红细胞的平均大小，帮助医生判断贫血的类型。"),
    "785-6": Indicator("平均红细胞血红蛋白量", "每个红细胞平均含有的血红蛋白，帮助判断贫血的类型。"),
    "777-3": Indicator("血小板计数", "血小板帮助止血，偏低时容易出血或出现淤青。"),
    "770-8": Indicator("中性粒细胞百分比", "一类白细胞所占的比例，细菌感染时常常升高。"),
    "751-8": Indicator("中性粒细胞计数", "一类白细胞的数量，细菌感染时常常升高。"),
    "736-9": Indicator("淋巴细胞百分比", "一类白细胞所占的比例，病毒感染时常有变化。"),
    "731-0": Indicator("淋巴细胞计数", "一类白细胞的数量，和免疫力有关。"),
    "5905-5": Indicator("单核细胞百分比", "一类白细胞所占的比例。"),
    "742-7": Indicator("单核细胞计数", "一类白细胞的数量。"),
    "713-8": Indicator("嗜酸性粒细胞百分比", "一类白细胞所占的比例，过敏或寄生虫感染时可能升高。"),
    "711-2": Indicator("嗜酸性粒细胞计数", "一类白细胞的数量，过敏或寄生虫感染时可能升高。"),
    "706-2": Indicator("嗜碱性粒细胞百分比", "一类白细胞所占的比例。"),
    "704-7": Indicator("嗜碱性粒细胞计数", "一类白细胞的数量。"),
    # 肝功能
    "24325-3": Indicator("肝功能", "检查肝脏是否受损、工作是否正常。"),
    "1742-6": Indicator("谷丙转氨酶（ALT）", "反映肝细胞是否受损，偏高可能和肝脏炎症、饮酒或药物有关。"),
    "1920-8": Indicator("谷草转氨酶（AST）", "反映肝脏和心肌细胞是否受损。"),
    "1975-2": Indicator("总胆红素", "偏高时皮肤、眼白可能发黄，和肝脏、胆道有关。"),
    "14631-6": Indicator("总胆红素", "偏高时皮肤、眼白可能发黄，和肝脏、胆道有关。"),
    "1751-7": Indicator("白蛋白", "反映营养状况和肝脏的合成能力，偏低可能是营养不足。"),
    "2885-2": Indicator("总蛋白", "血液中蛋白质的总量，反映营养和肝脏功能。"),
    "2324-2": Indicator("谷氨酰转移酶（GGT）", "和肝胆疾病、饮酒有关。"),
    "6768-6": Indicator("碱性磷酸酶", "和肝胆、骨骼的健康有关。"),
    # 肾功能
    "24362-6": Indicator("肾功能", "检查肾脏排出废物的能力。"),
    "14682-9": Indicator("肌酐", "反映肾脏排出废物的能力，偏高提示肾功能可能下降。"),
    "2160-0": Indicator("肌酐", "反映肾脏排出废物的能力，偏高提示肾功能可能下降。"),
    "14937-7": Indicator("尿素氮", "蛋白质代谢后的废物，由肾脏排出，偏高可能和肾功能有关。"),
    "14933-6": Indicator("尿酸", "偏高可能引起痛风，和饮食、肾脏排泄有关。"),
    "62238-1": _EGFR,
    "33914-3": _EGFR,
    "2951-2": Indicator("钠", "血液中的一种电解质，和身体的水分平衡有关。"),
    "2823-3": Indicator("钾", "血液中的一种电解质，对心跳和肌肉很重要。"),
    "2075-0": Indicator("氯", "血液中的一种电解质。"),
    "2000-8": Indicator("钙", "和骨骼、神经、肌肉有关。"),
    # 血脂
    "57698-3": Indicator("血脂", "检查血液中胆固醇和甘油三酯的含量。"),
    "24331-1": Indicator("血脂", "检查血液中胆固醇和甘油三酯的含量。"),
    "14647-2": _TC,
    "2093-3": _TC,
    "35200-5": _TC,
    "14927-8": _TG,
    "35217-9": _TG,
    "2571-8": _TG,
    "14646-4": _HDL,
    "2085-9": _HDL,
    "22748-8": _LDL,
    "13457-7": _LDL,
    "18262-6": _LDL,
    # 血糖
    "14749-6": Indicator("空腹血糖", "空腹时血液中葡萄糖的含量，用来筛查和监测糖尿病。"),
    "15074-8": _GLU,
    "2345-7": _GLU,
    "4548-4": Indicator("糖化血红蛋白", "反映最近2到3个月的平均血糖水平。"),
    # 尿常规
    "24356-8": Indicator("尿常规", "检查尿液的颜色、酸碱度和其中的成分。"),
    "5803-2": Indicator("尿酸碱度", "尿液的酸碱程度，和饮食、肾脏有关。"),
    "2756-5": Indicator("尿酸碱度", "尿液的酸碱程度，和饮食、肾脏有关。"),
    "5811-5": Indicator("尿比重", "反映尿液的浓缩程度，和喝水多少有关。"),
    "2965-2": Indicator("尿比重", "反映尿液的浓缩程度，和喝水多少有关。"),
    "20454-5": Indicator("尿蛋白", "正常应为阴性，阳性可能提示肾脏有问题。"),
    "2887-8": Indicator("尿蛋白", "正常应为阴性，阳性可能提示肾脏有问题。"),
    "25428-4": Indicator("尿糖", "正常应为阴性，阳性可能和血糖过高有关。"),
    "2349-9": Indicator("尿糖", "正常应为阴性，阳性可能和血糖过高有关。"),
    "5794-3": Indicator("尿潜血", "正常应为阴性，阳性提示尿中可能有红细胞。"),
    "5799-2": Indicator("尿白细胞酯酶", "正常应为阴性，阳性提示可能有尿路感染。"),
    # 检查
    "24627-2": Indicator("胸部CT", "用X线断层扫描查看肺部和胸腔。"),
    "24725-4": Indicator("头颅CT", "用X线断层扫描查看头部。"),
    "24558-9": Indicator("腹部超声", "用超声波查看肝、胆、胰、脾、肾等器官。"),
    "36643-5": Indicator("胸部X线", "拍摄胸部的X线片，查看肺部和心脏轮廓。"),
    "11524-6": Indicator("心电图", "记录心脏的电活动，查看心跳的节律。"),
}


def indicator(system: str | None, code: str | None) -> Indicator | None:
    """The plain-language name of a LOINC code; other code systems are left as the HIS names them."""
    if code is None or (system not in (None, LOINC)):
        return None
    return INDICATORS.get(code.strip())


def clean_text(text: str | None) -> str | None:
    """Display text as received, minus invisible characters (the HL7 examples carry zero-width spaces)."""
    if text is None:
        return None
    if text.isprintable() and "  " not in text and text.strip() == text:
        return text or None  # nothing to clean: the common case
    cleaned = "".join(ch for ch in text if ch not in "\u200b\u200c\u200d\u2060\ufeff")
    cleaned = " ".join(cleaned.split())
    return cleaned or None


def first_text(*candidates: str | None) -> str | None:
    for candidate in candidates:
        cleaned = clean_text(candidate)
        if cleaned:
            return cleaned
    return None


def severity(flag: ResultFlag | None) -> int:
    """0 for normal or unflagged, up to 3 for critical values: lists show the most serious first."""
    return 0 if flag is None else _SEVERITY[flag]
