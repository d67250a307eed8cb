"""visit guide steps (电子伴诊), admin-editable, with the first content

Revision ID: 0200
Revises: 0100
Create Date: 2026-11-27 20:26:31.081005
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0200"
down_revision: str | None = "0100"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (step, title, summary, large print, read aloud, tips): plain language, for elderly patients.
GUIDE = [
    (
        "BOOK",
        "预约挂号",
        "在小程序“预约挂号”里选好科室、医生和时间。不会操作可以请家人代约，或打电话预约。",
        "先预约，再来医院",
        "第一步，预约挂号。在手机上选好科室、医生和时间就可以了，家人也可以帮您预约。",
        ["记得带身份证或医保卡", "预约后来不了，请提前取消"],
    ),
    (
        "CHECK_IN",
        "签到",
        "到医院后，在门诊大厅的自助机上刷身份证或医保卡签到，也可以在小程序里点“签到”。签到后才会排队叫号。",
        "到了先签到",
        "第二步，签到。到医院后请先签到，可以在大厅自助机上刷身份证，也可以在手机上点签到。签到以后才会给您排号。",
        ["需要帮忙可以找穿红马甲的志愿者"],
    ),
    (
        "WAIT",
        "候诊",
        "到诊室所在楼层的候诊区坐下等候，留意叫号屏和广播，叫到您的号再进诊室。",
        "坐下等叫号",
        "第三步，候诊。请到候诊区坐下等候，听到叫您的号码再进诊室。",
        ["过号了请告诉护士站重新排队"],
    ),
    (
        "CONSULT",
        "就诊",
        "进诊室后，把哪里不舒服、平时吃什么药告诉医生。医生开的检查和药会显示在手机上。",
        "看医生",
        "第四步，看医生。请把哪里不舒服、平时吃什么药告诉医生。听不清可以请医生再说一遍。",
        ["带上以前的病历和药盒", "可以请家人陪同"],
    ),
    (
        "PAY",
        "缴费",
        "在小程序“门诊缴费”里付款，也可以到收费处或自助机缴费。缴费后再去检查或取药。",
        "先缴费",
        "第五步，缴费。可以在手机上付款，也可以到一楼收费处。付完钱再去检查或者取药。",
        ["用医保卡结算请到收费窗口"],
    ),
    (
        "TESTS",
        "检查/检验",
        "按提示到检验科抽血、留尿，或到放射科、超声科做检查。有的检查要空腹，请看清提示。",
        "做检查",
        "第六步，做检查。请按手机上的提示，到对应的地方抽血或者做检查。要空腹的检查，做完之前不要吃东西。",
        ["抽血后按压5分钟", "做CT前取下身上的金属物品"],
    ),
    (
        "PHARMACY",
        "取药",
        "到药房窗口取药，药师会告诉您每种药怎么吃。回家后按时按量服用。",
        "去取药",
        "第七步，取药。到药房窗口取药，药师会告诉您每种药怎么吃，不明白的地方当场问清楚。",
        ["核对药品名称和数量"],
    ),
    (
        "REPORTS",
        "查报告",
        "报告出来后，在小程序“健康档案”里查看，也可以在自助机打印。看不懂的地方，复诊时请问医生。",
        "查报告",
        "第八步，查看报告。报告出来后，在手机上的健康档案里就能看到。有箭头标记的是偏高或者偏低的结果，复诊时请问医生。",
        ["结果旁有↑或↓的，是偏高或偏低，请复诊时咨询医生"],
    ),
]


def upgrade() -> None:
    table = op.create_table(
        "visit_guide_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "step",
            sa.Enum(
                "BOOK",
                "CHECK_IN",
                "WAIT",
                "CONSULT",
                "PAY",
                "TESTS",
                "PHARMACY",
                "REPORTS",
                name="visitstep",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("title", sa.String(length=32), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("large_print_text", sa.String(length=64), nullable=False),
        sa.Column("read_aloud_text", sa.Text(), nullable=False),
        sa.Column("tips", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["staff_accounts.id"], name=op.f("fk_visit_guide_steps_updated_by_staff_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_guide_steps")),
        sa.UniqueConstraint("step", name=op.f("uq_visit_guide_steps_step")),
    )
    written = datetime(2026, 11, 1, tzinfo=UTC)
    op.bulk_insert(
        table,
        [
            {
                "step": step,
                "position": position,
                "title": title,
                "summary": summary,
                "large_print_text": large,
                "read_aloud_text": aloud,
                "tips": tips,
                "updated_at": written,
                "updated_by": None,
            }
            for position, (step, title, summary, large, aloud, tips) in enumerate(GUIDE, 1)
        ],
    )


def downgrade() -> None:
    op.drop_table("visit_guide_steps")
