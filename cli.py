"""Command line: `python -m cli serve | migrate | seed`.

serve     migrate, fill an empty database with demo data (dev), then run uvicorn
migrate   bring the database to the newest schema
refresh-rankings
          compute the ranking boards now (all, or --board ...); --month YYYY-MM recomputes the gold
          boards of a past month, --backfill-months N those of the last N complete months
serve         migrate, fill an empty database with demo data (dev), then run uvicorn
migrate       bring the database to the newest schema
consult-jobs  once: close unpaid orders past their window, refund orders nobody took on in time,
              finish refunds WeChat Pay has not answered (the server also runs this periodically)
seed      fill an empty database with the demo data set; --scale 10 gives 1,000,000 consults;
          --force replaces existing demo data (refused when ENV=prod)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from datasources import rankings
from datasources.cache import create_cache, holding_lock
from datasources.db import audit
from datasources.db.audit import AuditEvent
from datasources.db.demo import SeedOutcome, SeedReport, seed_demo_data
from datasources.db.demo.seed import consult_count
from datasources.db.engine import create_engine, session_factory
from datasources.db.migrate import upgrade_to_head
from datasources.db.rankings import StoredBoard
from datasources.db.tables import Department, Staff, Team
from datasources.response_cache import ResponseCache
from domain.audit import ActorKind, AuditResult
from domain.enums import AdminRole
from domain.rankings import (
    ALL_BOARDS,
    GOLD_BOARDS,
    SUBJECTS,
    TITLES,
    RankingBoard,
    SubjectKind,
    last_complete_month,
    parse_month,
    period_label,
    previous_month,
    reason,
)
from schema.cache_control import RANKING_REFRESH_TAGS
from settings import ConfigurationError, Settings, get_settings

logger = logging.getLogger("hospital_bff.cli")


async def migrate(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()


async def seed(settings: Settings, *, scale: float, force: bool, anchor: datetime | None) -> bool:
    """Migrate, then seed; says what happened. False when the database holds other data and was left alone."""
    engine = create_engine(settings.database_url)
    try:
        await upgrade_to_head(engine)
        report = await seed_demo_data(engine, scale=scale, force=force, anchor=anchor)
    finally:
        await engine.dispose()
    print(describe_seeding(report, scale=scale))
    return report.outcome not in (SeedOutcome.OTHER_DEMO_DATA, SeedOutcome.NOT_DEMO_DATA)


def _data_set(scale: object) -> str:
    if not isinstance(scale, int | float):
        return "an unknown scale"
    return f"scale {scale:g} ({consult_count(scale):,} consults)"


def describe_seeding(report: SeedReport, *, scale: float) -> str:
    """One plain sentence on what seeding did, and what to do when it did nothing."""
    done = (
        f"seeded {report.departments} departments, {report.staff} staff, {report.teams} teams, "
        f"{report.articles} articles and {report.consults:,} consults in {report.seconds:.1f} s"
    )
    found = (report.present or {}).get("scale")
    if report.outcome is SeedOutcome.SEEDED:
        return done
    if report.outcome is SeedOutcome.REPLACED:
        return f"replaced the demo data of {_data_set(found)}: {done}"
    if report.outcome is SeedOutcome.ALREADY_PRESENT:
        return f"demo data of {_data_set(scale)} already present; nothing to do (--force rebuilds it)"
    if report.outcome is SeedOutcome.OTHER_DEMO_DATA:
        if found == scale:
            holds = f"demo data of {_data_set(found)} from another version of the generator"
        else:
            holds = f"demo data of {_data_set(found)}, not the {_data_set(scale)} asked for"
        return (
            f"NOT SEEDED: the database holds {holds}. Nothing was changed. To delete the demo data and "
            f"build it anew, run `python -m cli seed --scale {scale:g} --force` "
            f'(or `make seed SEED_ARGS="--scale {scale:g} --force"`).'
        )
    return (
        "NOT SEEDED: the database holds data that is not the demo data set. Nothing was changed; "
        "demo data only goes into an empty database."
    )


async def prepare(settings: Settings) -> None:
    """Before serving: migrate, and fill an empty database with demo data when configured (dev default)."""
    if settings.seeds_demo_data:
        await seed(settings, scale=settings.demo_scale, force=False, anchor=None)
    else:
        await migrate(settings)


def serve(settings: Settings) -> None:
    import uvicorn

    asyncio.run(prepare(settings))
    print(f"hospital-bff: GraphiQL at http://{settings.host}:{settings.port}/graphql")
    uvicorn.run("app:create_app", factory=True, host=settings.host, port=settings.port, proxy_headers=True)


async def purge_audit(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            removed = await audit.purge(conn, now=datetime.now(UTC), retention_days=settings.audit_retention_days)
    finally:
        await engine.dispose()
    print(f"removed {removed} audit rows older than {settings.audit_retention_days} days")


async def create_staff_account(
    settings: Settings, *, username: str, password: str, roles: list[str], display_name: str, staff_id: int | None
) -> str:
    from datasources.identity.field_crypto import FieldCipher
    from datasources.identity.staff_accounts import create_staff_account as create

    engine = create_engine(settings.database_url)
    try:
        await upgrade_to_head(engine)
        async with session_factory(engine)() as db, db.begin():
            created = await create(
                db,
                username=username,
                password=password,
                roles=[AdminRole(role) for role in roles],
                cipher=FieldCipher(settings.data_encryption_key.get_secret_value()),
                now=datetime.now(UTC),
                display_name=display_name,
                staff_id=staff_id,
            )
            await audit.record(
                db,
                event=AuditEvent(
                    ActorKind.SYSTEM,
                    "cli",
                    "staff_account.create",
                    AuditResult.OK,
                    "StaffAccount",
                    str(created.account.id),
                ),
                at=datetime.now(UTC),
            )
    finally:
        await engine.dispose()
    return created.totp_uri


async def refresh_rankings(
    settings: Settings,
    *,
    boards: Sequence[RankingBoard],
    months: Sequence[tuple[int, int]] = (),
    now: datetime | None = None,
) -> int:
    """Compute the boards under the refresh lock, print each one and audit the run. With `months`,
    the gold boards of those months instead. 1 when another instance holds the lock (with Redis
    configured, only one instance computes at a time)."""
    now = now or datetime.now(UTC)
    rules = settings.ranking_rules
    engine = create_engine(settings.database_url)
    cache = create_cache(settings.redis_url, settings.redis_key_prefix)
    stored: list[StoredBoard] = []
    try:
        await upgrade_to_head(engine)
        async with holding_lock(cache, rankings.LOCK_NAME, ttl_seconds=settings.ranking_lock_seconds) as held:
            if not held:
                print("another instance is refreshing the rankings now; nothing done", file=sys.stderr)
                return 1
            async with session_factory(engine)() as db, db.begin():
                if months:
                    gold = [b for b in boards if b in GOLD_BOARDS]
                    for month in months:
                        stored += await rankings.refresh_rankings(db, now=now, rules=rules, boards=gold, month=month)
                else:
                    stored += await rankings.refresh_rankings(db, now=now, rules=rules, boards=boards)
                for which in dict.fromkeys(s.snapshot.board for s in stored):
                    event = AuditEvent(ActorKind.SYSTEM, "cli", "rankings.refresh", AuditResult.OK, "Ranking", which)
                    await audit.record(db, event=event, at=now)
                names = await _subject_names(db, stored)
    finally:
        await cache.close()
        await engine.dispose()
    if stored:
        await _drop_cached_boards(settings)
    for board in stored:
        print(_describe_board(board, names))
    return 0


async def _drop_cached_boards(settings: Settings) -> None:
    """Servers sharing this REDIS_URL drop their cached boards and homepages at once, as after the
    in-server refresh. (Without Redis each server's in-process cache is out of reach: it expires.)"""
    responses = ResponseCache(
        redis_url=settings.redis_url, prefix=settings.redis_key_prefix, enabled=settings.response_cache_enabled
    )
    try:
        await responses.invalidate(RANKING_REFRESH_TAGS)
    finally:
        await responses.close()


async def _subject_names(db: AsyncSession, stored: Sequence[StoredBoard]) -> dict[tuple[SubjectKind, int], str]:
    wanted: dict[SubjectKind, set[int]] = {kind: set() for kind in SubjectKind}
    for board in stored:
        wanted[SUBJECTS[board.snapshot.board]] |= {e.subject_id for e in board.entries}
    names: dict[tuple[SubjectKind, int], str] = {}
    models: list[tuple[SubjectKind, type[Department | Staff | Team]]] = [
        (SubjectKind.DEPARTMENT, Department),
        (SubjectKind.STAFF, Staff),
        (SubjectKind.TEAM, Team),
    ]
    for kind, model in models:
        if wanted[kind]:
            rows = await db.execute(select(model.id, model.name).where(model.id.in_(wanted[kind])))
            names.update({(kind, i): name for i, name in rows})
    return names


def _describe_board(board: StoredBoard, names: dict[tuple[SubjectKind, int], str]) -> str:
    """The board as a few lines for the terminal: title, period, and each entry with its reason."""
    which, window, rules = board.snapshot.board, board.window, board.rules
    kind = SUBJECTS[which]
    lines = [f"{TITLES[which]} {which} {window.key} ({period_label(window, rules.zone)}): {len(board.entries)} entries"]
    lines += [
        f"  {e.rank}. {names.get((kind, e.subject_id), f'#{e.subject_id}')}: "
        f"{reason(which, e.inputs, window, rules)} (score {e.score:g})"
        for e in board.entries
    ]
    return "\n".join(lines)


async def consult_jobs(settings: Settings, *, now: datetime | None = None) -> str:
    """One run of the consult jobs, with the application's own resources (WeChat Pay, the HIS...)."""
    from app import create_app

    application = create_app(settings.model_copy(update={"consult_jobs_enabled": False}))
    async with application.router.lifespan_context(application):
        report = await application.state.resources.consults.run_jobs(now=now or datetime.now(UTC))
    return (
        f"consult jobs: {report.expired} unpaid orders closed, {report.payments_found} payments found, "
        f"{report.missed_deadlines} orders refunded after their deadline, {report.refunds_retried} refunds "
        f"sent again or settled, {report.deferred} deferred (WeChat Pay unavailable)"
    )


def _read_password() -> str:
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise SystemExit("the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def export_schema() -> None:
    from strawberry.printer import print_schema

    from schema import dev_schema
    from settings import ROOT

    (ROOT / "schema.graphql").write_text(print_schema(dev_schema) + "\n", encoding="utf-8")
    print("wrote schema.graphql")


def write_trusted_documents() -> None:
    """operations/manifest.json: {sha256: document} of every operations/*.graphql (TRUSTED_DOCUMENTS)."""
    import json

    from server.persisted_queries import build_manifest
    from settings import ROOT

    manifest = build_manifest(ROOT / "operations")
    text = json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    (ROOT / "operations" / "manifest.json").write_text(text, encoding="utf-8")
    print(f"wrote operations/manifest.json ({len(manifest)} documents)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cli", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="migrate, seed an empty database (dev) and serve")
    commands.add_parser("migrate", help="apply database migrations")
    commands.add_parser("schema", help="export the GraphQL SDL to schema.graphql")
    commands.add_parser("trusted-documents", help="write operations/manifest.json from operations/*.graphql")
    commands.add_parser("purge-audit", help="delete audit rows past their retention period")
    commands.add_parser("consult-jobs", help="run the consult jobs once (expiry, deadlines, refunds)")
    account_parser = commands.add_parser("create-staff-account", help="create an admin-side account")
    account_parser.add_argument("--username", required=True)
    account_parser.add_argument(
        "--role", action="append", required=True, choices=[r.value for r in AdminRole], help="repeat for several"
    )
    account_parser.add_argument("--display-name", default="")
    account_parser.add_argument("--staff-id", type=int, default=None, help="the staff member behind a DOCTOR account")
    refresh_parser = commands.add_parser("refresh-rankings", help="compute the ranking boards now")
    refresh_parser.add_argument(
        "--board", action="append", choices=[b.value for b in ALL_BOARDS], help="repeat for several (default: all)"
    )
    refresh_parser.add_argument("--month", type=parse_month, help="the gold boards of this past month (YYYY-MM)")
    refresh_parser.add_argument(
        "--backfill-months", type=int, default=0, help="the gold boards of each of the last N complete months"
    )
    seed_parser = commands.add_parser("seed", help="generate demo data")
    seed_parser.add_argument("--scale", type=float, default=None, help="1 = 100,000 consults (default: DEMO_SCALE)")
    seed_parser.add_argument(
        "--force", action="store_true", help="delete existing demo data and build it anew (refused when ENV=prod)"
    )
    seed_parser.add_argument(
        "--anchor", type=datetime.fromisoformat, default=None, help="end of the history (ISO 8601 with offset)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = get_settings()
    except ConfigurationError as exc:
        print(exc.code, file=sys.stderr)
        return 2
    if args.command == "serve":
        serve(settings)
    elif args.command == "schema":
        export_schema()
    elif args.command == "trusted-documents":
        write_trusted_documents()
    elif args.command == "purge-audit":
        asyncio.run(purge_audit(settings))
    elif args.command == "consult-jobs":
        print(asyncio.run(consult_jobs(settings)))
    elif args.command == "create-staff-account":
        from datasources.identity.staff_accounts import UsernameTaken, WeakPassword

        try:
            uri = asyncio.run(
                create_staff_account(
                    settings,
                    username=args.username,
                    password=_read_password(),
                    roles=args.role,
                    display_name=args.display_name,
                    staff_id=args.staff_id,
                )
            )
        except (WeakPassword, UsernameTaken) as problem:
            print(f"not created: {problem}", file=sys.stderr)
            return 1
        # Shown once, for the new user's authenticator app; it is stored only encrypted.
        print(f"created {args.username}; enrol this in an authenticator app now (shown once):\n{uri}")
    elif args.command == "migrate":
        asyncio.run(migrate(settings))
    elif args.command == "refresh-rankings":
        return _refresh_rankings_command(settings, args)
    else:
        if args.force and not settings.is_dev:
            print("seed --force is refused when ENV=prod: it deletes data", file=sys.stderr)
            return 2
        scale = settings.demo_scale if args.scale is None else args.scale
        if not asyncio.run(seed(settings, scale=scale, force=args.force, anchor=args.anchor)):
            return 1
    return 0


def _refresh_rankings_command(settings: Settings, args: argparse.Namespace) -> int:
    boards = [RankingBoard(b) for b in args.board] if args.board else list(ALL_BOARDS)
    months: list[tuple[int, int]] = []
    if args.month:
        months.append(args.month)
    if args.backfill_months:
        month = last_complete_month(datetime.now(UTC), settings.zone)
        for _ in range(args.backfill_months):
            months.append(month)
            month = previous_month(*month)
    if months and not any(b in GOLD_BOARDS for b in boards):
        print("--month and --backfill-months apply to the gold boards only", file=sys.stderr)
        return 2
    try:
        return asyncio.run(refresh_rankings(settings, boards=boards, months=months))
    except rankings.MonthNotComplete as problem:
        print(f"not refreshed: {problem}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
