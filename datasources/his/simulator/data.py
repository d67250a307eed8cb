"""Synthetic patients for the embedded HIS, as FHIR R4 resources: several years of outpatient,
emergency and inpatient visits, Chinese lab panels with LOINC codes and SI units, exam reports
with conclusions, PDF attachments, and today's visit with its workflow tasks.

The patients are the demo profiles of `devLogin` (same HIS ids, names, ID and mobile numbers), so a
demo patient sees their own record and their parent's. Everything is derived from the patient id
and the instant the data is built, so the same inputs give the same data.

Some details exist to exercise the client: hemoglobin was reported in g/dL by the old laboratory
system (a different unit of the same code, not to be compared), the ALT reference range changed
when the laboratory changed analysers, the urinalysis is a panel whose members come through
`hasMember`, and today's reports only appear once they are ready.
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from datasources.his.fhir.parse import QUEUE_NUMBER_SYSTEM, V2_0203, VISIT_STEP_SYSTEM, WAITING_AHEAD
from datasources.identity.demo_patients import DEMO_PATIENTS, demo_profiles
from domain.enums import ProfileRelation, VisitStep
from domain.health_records import LOINC, UCUM, V2_0074, V3_ACT_CODE, V3_INTERPRETATION
from domain.identity import Gender, validate_resident_id

Resource = dict[str, Any]
HISTORY_YEARS = 4
RANGE_CHANGE_DAYS = 2 * 365  # the laboratory changed analysers this long ago
UNIT_CHANGE_DAYS = 3 * 365  # before this, hemoglobin came in g/dL
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
SNOMED = "http://snomed.info/sct"


@dataclass(frozen=True)
class Analyte:
    key: str
    code: str
    display: str  # the LOINC long name
    name: str  # as printed on a Chinese report
    unit: str  # UCUM
    normal: dict[Gender, tuple[float, float]]
    decimals: int = 1
    critical: tuple[float | None, float | None] = (None, None)
    noise: float = 0.04  # relative

    def typical(self, gender: Gender) -> float:
        low, high = self.normal[gender]
        return (low + high) / 2


def _both(low: float, high: float) -> dict[Gender, tuple[float, float]]:
    return {Gender.MALE: (low, high), Gender.FEMALE: (low, high)}


def _sexed(male: tuple[float, float], female: tuple[float, float]) -> dict[Gender, tuple[float, float]]:
    return {Gender.MALE: male, Gender.FEMALE: female}


A = {
    a.key: a
    for a in (
        Analyte(
            "WBC",
            "6690-2",
            "Leukocytes [#/volume] in Blood by Automated count",
            "白细胞计数",
            "10*9/L",
            _both(3.5, 9.5),
            2,
        ),
        Analyte(
            "RBC",
            "789-8",
            "Erythrocytes [#/volume] in Blood by Automated count",
            "红细胞计数",
            "10*12/L",
            _sexed((4.3, 5.8), (3.8, 5.1)),
            2,
        ),
        Analyte(
            "HB",
            "718-7",
            "Hemoglobin [Mass/volume] in Blood",
            "血红蛋白",
            "g/L",
            _sexed((130, 175), (115, 150)),
            0,
            (60, None),
        ),
        Analyte(
            "HCT",
            "4544-3",
            "Hematocrit [Volume Fraction] of Blood by Automated count",
            "红细胞压积",
            "%",
            _sexed((40, 50), (35, 45)),
            1,
        ),
        Analyte(
            "PLT",
            "777-3",
            "Platelets [#/volume] in Blood by Automated count",
            "血小板计数",
            "10*9/L",
            _both(125, 350),
            0,
            (30, None),
            0.08,
        ),
        Analyte(
            "NEUT",
            "770-8",
            "Neutrophils/100 leukocytes in Blood by Automated count",
            "中性粒细胞百分比",
            "%",
            _both(40, 75),
            1,
        ),
        Analyte(
            "LYMPH",
            "736-9",
            "Lymphocytes/100 leukocytes in Blood by Automated count",
            "淋巴细胞百分比",
            "%",
            _both(20, 50),
            1,
        ),
        Analyte(
            "ALT",
            "1742-6",
            "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
            "丙氨酸氨基转移酶",
            "U/L",
            _sexed((9, 50), (7, 40)),
            0,
            noise=0.12,
        ),
        Analyte(
            "AST",
            "1920-8",
            "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
            "天门冬氨酸氨基转移酶",
            "U/L",
            _sexed((15, 40), (13, 35)),
            0,
            noise=0.1,
        ),
        Analyte(
            "TBIL",
            "14631-6",
            "Bilirubin.total [Moles/volume] in Serum or Plasma",
            "总胆红素",
            "umol/L",
            _both(0, 21),
            1,
            noise=0.15,
        ),
        Analyte("ALB", "1751-7", "Albumin [Mass/volume] in Serum or Plasma", "白蛋白", "g/L", _both(40, 55), 1),
        Analyte(
            "GGT",
            "2324-2",
            "Gamma glutamyl transferase [Enzymatic activity/volume] in Serum or Plasma",
            "γ-谷氨酰转移酶",
            "U/L",
            _sexed((10, 60), (7, 45)),
            0,
            noise=0.12,
        ),
        Analyte(
            "CREA",
            "14682-9",
            "Creatinine [Moles/volume] in Serum or Plasma",
            "肌酐",
            "umol/L",
            _sexed((57, 111), (41, 81)),
            0,
        ),
        Analyte(
            "BUN", "14937-7", "Urea nitrogen [Moles/volume] in Serum or Plasma", "尿素", "mmol/L", _both(3.1, 8.0), 1
        ),
        Analyte(
            "UA",
            "14933-6",
            "Urate [Moles/volume] in Serum or Plasma",
            "尿酸",
            "umol/L",
            _sexed((208, 428), (155, 357)),
            0,
        ),
        Analyte(
            "K",
            "2823-3",
            "Potassium [Moles/volume] in Serum or Plasma",
            "钾",
            "mmol/L",
            _both(3.5, 5.3),
            2,
            (2.8, 6.2),
            0.05,
        ),
        Analyte(
            "TC", "14647-2", "Cholesterol [Moles/volume] in Serum or Plasma", "总胆固醇", "mmol/L", _both(0, 5.2), 2
        ),
        Analyte(
            "TG",
            "14927-8",
            "Triglyceride [Moles/volume] in Serum or Plasma",
            "甘油三酯",
            "mmol/L",
            _both(0, 1.7),
            2,
            noise=0.12,
        ),
        Analyte(
            "HDL",
            "14646-4",
            "Cholesterol in HDL [Moles/volume] in Serum or Plasma",
            "高密度脂蛋白胆固醇",
            "mmol/L",
            _both(1.0, 9.9),
            2,
        ),
        Analyte(
            "LDL",
            "22748-8",
            "Cholesterol in LDL [Moles/volume] in Serum or Plasma",
            "低密度脂蛋白胆固醇",
            "mmol/L",
            _both(0, 3.4),
            2,
        ),
        Analyte(
            "GLU",
            "14749-6",
            "Glucose [Moles/volume] in Serum or Plasma",
            "空腹血糖",
            "mmol/L",
            _both(3.9, 6.1),
            2,
            (2.8, 16.7),
            0.06,
        ),
        Analyte(
            "HBA1C",
            "4548-4",
            "Hemoglobin A1c/Hemoglobin.total in Blood",
            "糖化血红蛋白",
            "%",
            _both(4.0, 6.0),
            1,
            noise=0.03,
        ),
        Analyte("UPH", "5803-2", "pH of Urine by Test strip", "尿酸碱度", "[pH]", _both(5.0, 8.0), 1),
        Analyte(
            "USG",
            "5811-5",
            "Specific gravity of Urine by Test strip",
            "尿比重",
            "1",
            _both(1.003, 1.030),
            3,
            noise=0.004,
        ),
    )
}
# HDL has only a lower bound; the high bound above is there for the generator, not the report.
_ONLY_LOW = {"HDL"}
_ONLY_HIGH = {"TC", "TG", "LDL", "TBIL"}


@dataclass(frozen=True)
class Panel:
    code: str
    code_system: str
    display: str
    name: str
    section: str
    analytes: tuple[str, ...]


PANELS = {
    "CBC": Panel(
        "58410-2",
        LOINC,
        "CBC panel - Blood by Automated count",
        "血常规",
        "HM",
        ("WBC", "RBC", "HB", "HCT", "PLT", "NEUT", "LYMPH"),
    ),
    "LFT": Panel(
        "24325-3",
        LOINC,
        "Hepatic function 2000 panel - Serum or Plasma",
        "肝功能",
        "CH",
        ("ALT", "AST", "TBIL", "ALB", "GGT"),
    ),
    "RFT": Panel(
        "24362-6", LOINC, "Renal function 2000 panel - Serum or Plasma", "肾功能", "CH", ("CREA", "BUN", "UA", "K")
    ),
    "LIPID": Panel(
        "57698-3", LOINC, "Lipid panel with direct LDL - Serum or Plasma", "血脂", "CH", ("TC", "TG", "HDL", "LDL")
    ),
    "GLU": Panel(
        "GLU", "https://hospital-bff.example/fhir/CodeSystem/lab-panel", "Glucose panel", "血糖", "CH", ("GLU", "HBA1C")
    ),
    "UA": Panel("24356-8", LOINC, "Urinalysis complete panel - Urine", "尿常规", "LAB", ("UPH", "USG")),
}
# Urine strip results reported as present/absent (阴性/阳性).
URINE_QUALITATIVE = (
    ("UPRO", "20454-5", "Protein [Presence] in Urine by Test strip", "尿蛋白"),
    ("UGLU", "25428-4", "Glucose [Presence] in Urine by Test strip", "尿糖"),
    ("UBLD", "5794-3", "Hemoglobin [Presence] in Urine by Test strip", "尿潜血"),
)


@dataclass(frozen=True)
class Exam:
    code: str
    display: str
    name: str
    sections: tuple[str, ...]
    department: str


EXAMS = {
    "CT": Exam("24627-2", "CT Chest", "胸部CT平扫", ("RAD", "CT"), "放射科"),
    "US": Exam("24558-9", "US Abdomen", "腹部彩色超声", ("RAD", "RUS"), "超声科"),
    "XR": Exam("36643-5", "XR Chest 2 Views", "胸部正侧位X线片", ("RAD", "RX"), "放射科"),
    "ECG": Exam("11524-6", "EKG study", "十二导联心电图", ("EC",), "心电图室"),
}


@dataclass
class Course:
    """How one synthetic patient's values move over the years: analyte → (then, now)."""

    drift: dict[str, tuple[float, float]] = field(default_factory=dict)
    urine_glucose_until_days: int | None = None  # positive (+) before this many days ago
    outpatient_every: tuple[int, int] = (100, 200)  # days between visits
    departments: tuple[str, ...] = ("全科医学科",)
    reason: str = "健康体检复查"
    exams: tuple[tuple[int, str, str], ...] = ()  # (days ago, exam, conclusion)
    emergencies: tuple[tuple[int, str, dict[str, float]], ...] = ()  # (days ago, reason, values)
    admission: tuple[int, int, str, str] | None = None  # (days ago, days, department, reason), via the ED
    today: int | None = None  # minutes since today's visit started (at build time)


COURSES: dict[str, Course] = {
    # 张明: fatty liver, lipids a little high.
    "P100010": Course(
        drift={"ALT": (62, 48), "TG": (2.3, 1.9), "GGT": (55, 48), "UA": (440, 410)},
        departments=("消化内科", "全科医学科"),
        reason="脂肪肝复查",
        exams=((900, "US", "脂肪肝（中度）。胆囊、胰腺、脾脏、双肾未见明显异常。"), (200, "US", "脂肪肝（轻度）。")),
    ),
    # 张建国: type 2 diabetes, high cholesterol, kidneys slowly declining; admitted via the ED once.
    "P100011": Course(
        drift={
            "GLU": (8.4, 6.7),
            "HBA1C": (8.6, 6.9),
            "LDL": (4.5, 2.6),
            "TC": (6.7, 4.8),
            "TG": (2.6, 1.8),
            "HDL": (0.95, 1.05),
            "CREA": (92, 116),
            "ALT": (28, 44),
            "UA": (420, 455),
            "HB": (142, 131),
        },
        urine_glucose_until_days=700,
        outpatient_every=(55, 85),
        departments=("内分泌科", "心血管内科"),
        reason="2型糖尿病、高脂血症复诊",
        exams=(
            (1300, "ECG", "窦性心律，正常心电图。"),
            (950, "US", "脂肪肝（轻度），胆囊结石。"),
            (620, "CT", "右肺下叶见一约5mm磨玻璃结节，建议12个月后复查。"),
            (400, "ECG", "窦性心律，ST-T改变。"),
            (250, "CT", "右肺下叶磨玻璃结节，大小约5mm，较前无明显变化。"),
            (60, "ECG", "窦性心律，偶发房性早搏。"),
        ),
        emergencies=((1100, "低血糖反应", {"GLU": 2.6}), (30, "血糖明显升高伴口渴乏力", {"GLU": 18.6, "K": 5.6})),
        admission=(420, 6, "心血管内科", "胸痛待查"),
        today=20,
    ),
    # 李华: healthy.
    "P100020": Course(
        exams=((700, "XR", "双肺纹理清晰，心影大小正常。"),),
    ),
    # 李秀英: hypertension and mild anaemia.
    "P100021": Course(
        drift={"HB": (108, 116), "RBC": (3.6, 3.9), "HCT": (33, 36), "LDL": (3.6, 3.1), "TC": (5.6, 5.1)},
        outpatient_every=(60, 100),
        departments=("心血管内科", "血液科"),
        reason="高血压、贫血复诊",
        exams=((800, "ECG", "窦性心律，左心室高电压。"), (300, "US", "肝、胆、胰、脾未见明显异常。")),
        emergencies=((500, "头晕、血压升高", {}),),
    ),
    # 王芳: kidney stones once; otherwise well.
    "P100030": Course(
        departments=("泌尿外科", "全科医学科"),
        reason="体检复查",
        exams=((365, "US", "右肾结石（约4mm）。"),),
        emergencies=((370, "右侧腰腹部绞痛", {"WBC": 11.2, "NEUT": 82.0}),),
        today=70,
    ),
    # 王德胜: chronic kidney disease, gout.
    "P100031": Course(
        drift={"CREA": (128, 156), "UA": (520, 480), "BUN": (8.6, 10.2), "HB": (126, 119), "K": (5.0, 5.5)},
        outpatient_every=(50, 90),
        departments=("肾内科",),
        reason="慢性肾脏病、痛风复诊",
        exams=((600, "US", "双肾体积缩小，皮质回声增强。"), (150, "ECG", "窦性心律，正常心电图。")),
        admission=(700, 8, "肾内科", "肾功能不全加重"),
    ),
}


def minimal_pdf(lines: list[str]) -> bytes:
    """A small, valid one-page PDF (ASCII text, Helvetica) with a correct cross-reference table."""
    text = "\n".join(f"({line.replace('(', '[').replace(')', ']')}) Tj 0 -16 Td" for line in lines)
    stream = f"BT /F1 12 Tf 56 780 Td {text} ET".encode("ascii", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


@dataclass
class PatientData:
    """One synthetic patient's resources; `available` says from when each may be returned."""

    patient: Resource
    encounters: list[Resource] = field(default_factory=list)
    reports: list[Resource] = field(default_factory=list)
    observations: dict[str, Resource] = field(default_factory=dict)
    binaries: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    available: dict[str, datetime] = field(default_factory=dict)
    visit_today: TodayVisit | None = None


@dataclass(frozen=True)
class StepPlan:
    step: VisitStep
    start: int  # minutes after the visit started
    end: int
    building_floor: str | None
    room: str | None
    directions: str | None
    doing: str  # businessStatus while in progress


@dataclass
class TodayVisit:
    """Today's visit: the encounter, and the plan its steps follow in time."""

    encounter_id: str
    started: datetime
    department: str
    doctor: str
    queue_number: str
    plan: tuple[StepPlan, ...]


def _iso(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat(timespec="seconds")


def _quantity(value: float, unit: str) -> dict[str, Any]:
    # Dimensionless values (pH, specific gravity) carry a UCUM code but no unit to print.
    if unit in ("1", "[pH]"):
        return {"value": value, "system": UCUM, "code": unit}
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


class Builder:
    def __init__(self, now: datetime, zone: ZoneInfo) -> None:
        self.now = now
        self.zone = zone

    def patients(self) -> dict[str, PatientData]:
        built = {}
        for number in range(1, DEMO_PATIENTS + 1):
            for profile in demo_profiles(number):
                assert profile.his_patient_id is not None
                built[profile.his_patient_id] = self.patient(
                    profile.his_patient_id, profile.name, profile.id_number, profile.mobile, profile.relation
                )
        return built

    def patient(self, pid: str, name: str, id_number: str, mobile: str, relation: ProfileRelation) -> PatientData:
        resident = validate_resident_id(id_number, today=self.now.astimezone(self.zone).date())
        gender = resident.gender
        resource: Resource = {
            "resourceType": "Patient",
            "id": pid,
            "identifier": [
                {
                    "use": "official",
                    "type": {"coding": [{"system": V2_0203, "code": "NNCHN"}], "text": "居民身份证"},
                    "value": resident.number,
                },
                {
                    "use": "usual",
                    "type": {"coding": [{"system": V2_0203, "code": "MR"}], "text": "病案号"},
                    "value": "MR" + pid[1:],
                },
            ],
            "active": True,
            "name": [{"use": "official", "text": name, "family": name[0], "given": [name[1:]]}],
            "telecom": [{"system": "phone", "value": mobile, "use": "mobile"}],
            "gender": "male" if gender is Gender.MALE else "female",
            "birthDate": resident.birth_date.isoformat(),
        }
        data = PatientData(patient=resource)
        _Generator(self, pid, gender, COURSES.get(pid, Course()), data).run()
        return data


class _Generator:
    """Builds one patient's history, deterministically from the patient id."""

    def __init__(self, builder: Builder, pid: str, gender: Gender, course: Course, data: PatientData) -> None:
        self.b = builder
        self.pid = pid
        self.gender = gender
        self.course = course
        self.data = data
        self.rnd = random.Random(f"his-simulator:{pid}")
        self.visits = 0
        self.reports = 0
        self.ref = {"reference": f"Patient/{pid}"}
        # Resource ids are opaque, as a real HIS's are: they do not spell out whose they are.
        self.slug = hashlib.sha256(f"his-simulator:{pid}".encode()).hexdigest()[:8]

    def run(self) -> None:
        now = self.b.now
        start = now - timedelta(days=HISTORY_YEARS * 365)
        planned: list[tuple[datetime, Callable[[datetime], None]]] = []
        lo, hi = self.course.outpatient_every
        day = start + timedelta(days=self.rnd.randint(5, lo))
        while day < now - timedelta(days=3):
            planned.append((day, self.outpatient))
            day += timedelta(days=self.rnd.randint(lo, hi))
        for days_ago, reason, values in self.course.emergencies:
            planned.append((now - timedelta(days=days_ago), partial(self.emergency, reason=reason, values=values)))
        if self.course.admission:
            days_ago, length, department, reason = self.course.admission
            planned.append(
                (
                    now - timedelta(days=days_ago),
                    partial(self.admission, days=length, department=department, reason=reason),
                )
            )
        planned.sort(key=lambda item: item[0])
        for at, make in planned:
            make(self._morning(at))
        for days_ago, exam, conclusion in self.course.exams:
            at = self._morning(now - timedelta(days=days_ago)) + timedelta(hours=1, minutes=30)
            encounter = self._encounter("AMB", at, at + timedelta(hours=2), self._department(), "检查")
            self.exam(encounter, at, exam, conclusion)
        if self.course.today is not None:
            self.today(self.course.today)

    # ---- helpers -------------------------------------------------------------------------

    def _morning(self, moment: datetime) -> datetime:
        local = moment.astimezone(self.b.zone).replace(hour=8, minute=self.rnd.randint(0, 50), second=0, microsecond=0)
        return local

    def _department(self) -> str:
        return self.rnd.choice(self.course.departments)

    def _value(self, key: str, at: datetime) -> float:
        analyte = A[key]
        then, now = self.course.drift.get(key, (None, None))
        if then is None or now is None:
            level = analyte.typical(self.gender)
            if key in _ONLY_HIGH:
                level = analyte.normal[self.gender][1] * 0.75
            if key == "HDL":
                level = 1.35
        else:
            elapsed = 1 - (self.b.now - at).total_seconds() / (HISTORY_YEARS * 365 * 86400)
            level = then + (now - then) * min(1.0, max(0.0, elapsed))
        value = self.rnd.gauss(level, abs(level) * analyte.noise)
        return round(max(value, 0.0), analyte.decimals)

    def _encounter(
        self, klass: str, start: datetime, end: datetime | None, department: str, reason: str, **extra: Any
    ) -> Resource:
        self.visits += 1
        display = {"AMB": "ambulatory", "EMER": "emergency", "IMP": "inpatient encounter"}[klass]
        period = {"start": _iso(start, self.b.zone)}
        if end is not None:
            period["end"] = _iso(end, self.b.zone)
        encounter: Resource = {
            "resourceType": "Encounter",
            "id": f"enc-{self.slug}-{self.visits:03d}",
            "status": "finished" if end is not None else "in-progress",
            "class": {"system": V3_ACT_CODE, "code": klass, "display": display},
            "serviceType": {"text": department},
            "subject": self.ref,
            "period": period,
            "reasonCode": [{"text": reason}],
            **extra,
        }
        self.data.encounters.append(encounter)
        self.data.available[encounter["id"]] = start
        return encounter

    def _report_id(self) -> str:
        self.reports += 1
        return f"rpt-{self.slug}-{self.reports:03d}"

    # ---- visits ----------------------------------------------------------------------------

    def outpatient(self, at: datetime) -> None:
        department = self._department()
        encounter = self._encounter(
            "AMB", at, at + timedelta(minutes=self.rnd.randint(20, 90)), department, self.course.reason
        )
        n = self.visits
        panels = ["LIPID", "GLU"] if self.course.drift else ["CBC"]
        if n % 3 == 0:
            panels += ["LFT", "RFT"]
        if n % 4 == 0:
            panels.append("CBC")
        if n % 6 == 1:
            panels.append("UA")
        for panel in dict.fromkeys(panels):
            self.lab(encounter, at + timedelta(minutes=20), panel)

    def emergency(self, at: datetime, reason: str, values: dict[str, float]) -> None:
        at = at.replace(hour=self.rnd.choice((1, 3, 19, 22)))
        encounter = self._encounter("EMER", at, at + timedelta(hours=4), "急诊科", reason)
        self.lab(encounter, at + timedelta(minutes=15), "CBC", values)
        self.lab(encounter, at + timedelta(minutes=15), "GLU", values)
        if "K" in values:
            self.lab(encounter, at + timedelta(minutes=15), "RFT", values)
        self.exam(encounter, at + timedelta(minutes=25), "ECG", "窦性心动过速。")

    def admission(self, at: datetime, days: int, department: str, reason: str) -> None:
        arrived = at.replace(hour=22, minute=10)
        admitted = arrived + timedelta(hours=5)
        left = admitted + timedelta(days=days)
        history = [
            {
                "class": {"system": V3_ACT_CODE, "code": "EMER"},
                "period": {"start": _iso(arrived, self.b.zone), "end": _iso(admitted, self.b.zone)},
            },
            {
                "class": {"system": V3_ACT_CODE, "code": "IMP"},
                "period": {"start": _iso(admitted, self.b.zone), "end": _iso(left, self.b.zone)},
            },
        ]
        encounter = self._encounter("IMP", arrived, left, department, reason, classHistory=history)
        # In the emergency department, before the admission.
        self.lab(encounter, arrived + timedelta(minutes=20), "CBC")
        self.exam(encounter, arrived + timedelta(minutes=30), "ECG", "窦性心律，ST段压低。")
        # On the ward.
        first_day = admitted.replace(hour=7, minute=0) + timedelta(days=1)
        for panel in ("CBC", "LFT", "RFT", "LIPID", "GLU", "UA"):
            self.lab(encounter, first_day, panel)
        self.exam(encounter, first_day + timedelta(hours=3), "CT", "双肺未见明显实质性病变。")
        self.lab(encounter, first_day + timedelta(days=2), "CBC")
        self.lab(encounter, first_day + timedelta(days=2), "RFT")
        self.lab(encounter, first_day + timedelta(days=days - 2), "CBC")

    # ---- reports -----------------------------------------------------------------------------

    def lab(
        self, encounter: Resource, at: datetime, panel_key: str, values: dict[str, float] | None = None
    ) -> Resource:
        panel = PANELS[panel_key]
        report_id = self._report_id()
        issued = at + timedelta(hours=2)
        results = []
        for n, key in enumerate(panel.analytes, 1):
            value = (values or {}).get(key, self._value(key, at))
            results.append(self.observation(f"{report_id}-{n}", encounter, at, issued, key, value))
        if panel_key == "UA":
            for n, (key, code, display, name) in enumerate(URINE_QUALITATIVE, len(results) + 1):
                positive = (
                    key == "UGLU"
                    and self.course.urine_glucose_until_days is not None
                    and (self.b.now - at).days > self.course.urine_glucose_until_days
                )
                results.append(
                    self.qualitative(f"{report_id}-{n}", encounter, at, issued, code, display, name, positive)
                )
            # The urinalysis is a panel: one grouping Observation whose members are the results.
            grouper = self._observation_base(
                f"{report_id}-0", encounter, at, issued, panel.code, panel.display, panel.name
            )
            grouper["hasMember"] = [{"reference": f"Observation/{r['id']}"} for r in results]
            self._add_observation(grouper, issued)
            references = [{"reference": f"Observation/{grouper['id']}"}]
        else:
            references = [{"reference": f"Observation/{r['id']}"} for r in results]
        abnormal = [
            r for r in results if r.get("interpretation", [{}])[0].get("coding", [{}])[0].get("code") not in ("N", None)
        ]
        report: Resource = {
            "resourceType": "DiagnosticReport",
            "id": report_id,
            "status": "final",
            "category": [{"coding": [{"system": V2_0074, "code": panel.section}]}],
            "code": {
                "coding": [{"system": panel.code_system, "code": panel.code, "display": panel.display}],
                "text": panel.name,
            },
            "subject": self.ref,
            "encounter": {"reference": f"Encounter/{encounter['id']}"},
            "effectiveDateTime": _iso(at, self.b.zone),
            "issued": _iso(issued, self.b.zone),
            "performer": [{"display": "检验科"}],
            "result": references,
        }
        if abnormal:
            report["conclusion"] = f"{len(abnormal)}项结果异常，请结合临床。"
        self.data.reports.append(report)
        self.data.available[report_id] = issued
        return report

    def _observation_base(
        self, oid: str, encounter: Resource, at: datetime, issued: datetime, code: str, display: str, name: str
    ) -> Resource:
        return {
            "resourceType": "Observation",
            "id": oid,
            "status": "final",
            "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory"}]}],
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}], "text": name},
            "subject": self.ref,
            "encounter": {"reference": f"Encounter/{encounter['id']}"},
            "effectiveDateTime": _iso(at, self.b.zone),
            "issued": _iso(issued, self.b.zone),
        }

    def _add_observation(self, observation: Resource, issued: datetime) -> None:
        self.data.observations[observation["id"]] = observation
        self.data.available[observation["id"]] = issued

    def observation(
        self, oid: str, encounter: Resource, at: datetime, issued: datetime, key: str, value: float
    ) -> Resource:
        analyte = A[key]
        low, high = analyte.normal[self.gender]
        unit = analyte.unit
        age_days = (self.b.now - at).days
        if key == "ALT" and age_days > RANGE_CHANGE_DAYS:
            low, high = (low, high + 10)  # the old analyser's range was wider
        if key == "HB" and age_days > UNIT_CHANGE_DAYS:
            value, low, high, unit = round(value / 10, 1), low / 10, high / 10, "g/dL"
        observation = self._observation_base(oid, encounter, at, issued, analyte.code, analyte.display, analyte.name)
        observation["valueQuantity"] = _quantity(value, unit)
        bounds: dict[str, Any] = {}
        if key not in _ONLY_HIGH:
            bounds["low"] = _quantity(low, unit)
        if key not in _ONLY_LOW:
            bounds["high"] = _quantity(high, unit)
        observation["referenceRange"] = [bounds]
        critical_low, critical_high = analyte.critical
        factor = 0.1 if unit == "g/dL" else 1.0
        if critical_high is not None and value >= critical_high * factor:
            code = "HH"
        elif critical_low is not None and value <= critical_low * factor:
            code = "LL"
        elif key not in _ONLY_LOW and value > high:
            code = "H"
        elif key not in _ONLY_HIGH and value < low:
            code = "L"
        else:
            code = "N"
        observation["interpretation"] = [{"coding": [{"system": V3_INTERPRETATION, "code": code}]}]
        self._add_observation(observation, issued)
        return observation

    def qualitative(
        self,
        oid: str,
        encounter: Resource,
        at: datetime,
        issued: datetime,
        code: str,
        display: str,
        name: str,
        positive: bool,
    ) -> Resource:
        observation = self._observation_base(oid, encounter, at, issued, code, display, name)
        observation["valueCodeableConcept"] = {
            "coding": [
                {
                    "system": SNOMED,
                    "code": "10828004" if positive else "260385009",
                    "display": "Positive" if positive else "Negative",
                }
            ],
            "text": "阳性(+)" if positive else "阴性(-)",
        }
        observation["referenceRange"] = [{"text": "阴性(-)"}]
        observation["interpretation"] = [{"coding": [{"system": V3_INTERPRETATION, "code": "A" if positive else "N"}]}]
        self._add_observation(observation, issued)
        return observation

    def exam(self, encounter: Resource, at: datetime, key: str, conclusion: str) -> Resource:
        exam = EXAMS[key]
        report_id = self._report_id()
        issued = at + timedelta(hours=3)
        report: Resource = {
            "resourceType": "DiagnosticReport",
            "id": report_id,
            "status": "final",
            "category": [{"coding": [{"system": V2_0074, "code": code}]} for code in exam.sections],
            "code": {"coding": [{"system": LOINC, "code": exam.code, "display": exam.display}], "text": exam.name},
            "subject": self.ref,
            "encounter": {"reference": f"Encounter/{encounter['id']}"},
            "effectiveDateTime": _iso(at, self.b.zone),
            "issued": _iso(issued, self.b.zone),
            "performer": [{"display": exam.department}],
            "conclusion": conclusion,
        }
        pdf = minimal_pdf(
            [
                "hospital-bff HIS simulator - synthetic report, not a real patient",
                f"Report {report_id}  Patient {self.pid}",
                f"{exam.display}  {at.astimezone(self.b.zone):%Y-%m-%d %H:%M}",
            ]
        )
        title = f"{exam.name}报告"
        if key == "CT":
            # Served by the HIS at its own address.
            self.data.binaries[f"pdf-{report_id}"] = ("application/pdf", pdf)
            report["presentedForm"] = [
                {"contentType": "application/pdf", "url": f"Binary/pdf-{report_id}", "title": title, "size": len(pdf)}
            ]
        elif key == "ECG":
            # Carried inline, as the HL7 pathology example does.
            report["presentedForm"] = [
                {"contentType": "application/pdf", "data": base64.b64encode(pdf).decode(), "title": title}
            ]
        self.data.reports.append(report)
        self.data.available[report_id] = issued
        return report

    # ---- today's visit -------------------------------------------------------------------------

    def today(self, minutes_in: int) -> None:
        started = (self.b.now - timedelta(minutes=minutes_in)).replace(second=0, microsecond=0)
        department = self.course.departments[0]
        doctor = {"P100011": "王建华 主任医师", "P100030": "陈立 副主任医师"}.get(self.pid, "值班医生")
        encounter = self._encounter("AMB", started, None, department, self.course.reason)
        encounter["status"] = "in-progress"
        floor = {"内分泌科": "门诊楼3层 内分泌科诊区", "泌尿外科": "门诊楼4层 泌尿外科诊区"}.get(
            department, "门诊楼2层"
        )
        plan = (
            StepPlan(VisitStep.BOOK, -2 * 24 * 60, -2 * 24 * 60 + 1, None, None, None, "已预约"),
            StepPlan(VisitStep.CHECK_IN, 0, 3, "门诊楼1层 大厅", "自助签到机", "进门后右手边，蓝色机器", "签到中"),
            StepPlan(VisitStep.WAIT, 3, 25, floor, "候诊区", "出电梯右转，坐下后留意叫号屏", "候诊中"),
            StepPlan(VisitStep.CONSULT, 25, 40, floor, "7诊室", "听到叫号后进入7诊室", "就诊中"),
            StepPlan(VisitStep.PAY, 40, 45, "门诊楼1层 收费处", "3号窗口", "也可在小程序“门诊缴费”中支付", "待缴费"),
            StepPlan(VisitStep.TESTS, 45, 75, "门诊楼2层 检验科", "采血窗口", "空腹采血，抽血后按压5分钟", "检查中"),
            StepPlan(VisitStep.PHARMACY, 75, 85, "门诊楼1层 西药房", "2号取药窗口", "凭缴费凭条取药", "待取药"),
            StepPlan(VisitStep.REPORTS, 85, 130, None, "手机查看", "报告出来后在“健康档案”中查看", "报告未出"),
        )
        self.data.visit_today = TodayVisit(
            encounter_id=encounter["id"],
            started=started,
            department=department,
            doctor=doctor,
            queue_number=f"A{self.rnd.randint(10, 60):03d}",
            plan=plan,
        )
        # Ordered at the consultation; ready (and returned by searches) when the tests are done.
        tests_done = started + timedelta(minutes=130)
        report = self.lab(encounter, started + timedelta(minutes=50), "GLU")
        report["issued"] = _iso(tests_done, self.b.zone)
        self.data.available[report["id"]] = tests_done
        for ref in report["result"]:
            self.data.available[ref["reference"].split("/", 1)[1]] = tests_done


def task_resources(pid: str, visit: TodayVisit, now: datetime, zone: ZoneInfo) -> list[Resource]:
    """The visit's Tasks as they stand at `now`: done, in progress, or still to come."""
    minutes = (now - visit.started).total_seconds() / 60
    tasks = []
    for plan in visit.plan:
        if minutes >= plan.end:
            status = "completed"
        elif minutes >= plan.start:
            status = "in-progress"
        else:
            status = "requested"
        task: Resource = {
            "resourceType": "Task",
            "id": f"task-{visit.encounter_id}-{plan.step.value.lower().replace('_', '-')}",
            "status": status,
            "intent": "order",
            "code": {"coding": [{"system": VISIT_STEP_SYSTEM, "code": plan.step.value}]},
            "for": {"reference": f"Patient/{pid}"},
            "encounter": {"reference": f"Encounter/{visit.encounter_id}"},
            "authoredOn": _iso(visit.started, zone),
        }
        period: dict[str, str] = {}
        if status != "requested":
            period["start"] = _iso(visit.started + timedelta(minutes=plan.start), zone)
        if status == "completed":
            period["end"] = _iso(visit.started + timedelta(minutes=plan.end), zone)
        if period:
            task["executionPeriod"] = period
        if status == "in-progress":
            task["businessStatus"] = {"text": plan.doing}
        if plan.room:
            location: Resource = {"resourceType": "Location", "id": "where", "name": plan.room}
            if plan.directions:
                location["description"] = plan.directions
            if plan.building_floor:
                location["partOf"] = {"display": plan.building_floor}
            task["contained"] = [location]
            task["location"] = {"reference": "#where"}
        if plan.step in (VisitStep.WAIT, VisitStep.CONSULT):
            task["identifier"] = [{"system": QUEUE_NUMBER_SYSTEM, "value": visit.queue_number}]
        if plan.step is VisitStep.WAIT and status == "in-progress":
            ahead = max(0, round((plan.end - minutes) / 3))
            task["output"] = [
                {"type": {"coding": [{"system": VISIT_STEP_SYSTEM, "code": WAITING_AHEAD}]}, "valueInteger": ahead}
            ]
        if plan.step is VisitStep.CONSULT:
            task["owner"] = {"display": visit.doctor}
        tasks.append(task)
    return tasks


def visit_status(visit: TodayVisit, now: datetime) -> str:
    minutes = (now - visit.started).total_seconds() / 60
    if minutes >= visit.plan[-1].end:
        return "finished"
    if minutes >= visit.plan[3].start:
        return "in-progress"
    return "arrived"


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()
